/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the oauth/ sources (not an API: nothing outside oauth/
 * includes this).
 */
#ifndef TS_OAUTH_INTERNAL_H
#define TS_OAUTH_INTERNAL_H

#include <jansson.h>
#include <stdarg.h>

#include "oauth.h"

#define OAUTH_MAX_EXPIRES_IN 315360000LL /* 10 years */
#define OAUTH_MAX_INTERVAL 3600
#define OAUTH_ID_TOKEN_MAX (64 * 1024)

/* Set err (if not NULL): code, and a message built from fmt. Returns code. */
int oauth_fail(struct oauth_error *err, int code, const char *fmt, ...) TS_PRINTF(3, 4);

/* Reset err to "no error". */
void oauth_error_reset(struct oauth_error *err);

/* The taxonomy class of an OAuth "error" code (RFC 6749 §5.2, RFC 8628
 * §3.5, RFC 6750 §3.1). */
int oauth_classify_error(const char *error);

/* Parse a bounded JSON object; NULL on failure (err filled, TS_E_BAD_ANSWER). */
json_t *oauth_json_load(const char *body, size_t len, struct oauth_error *err);

/* When obj has an "error" member: copy error/error_description (sanitised)
 * into err and return the class (< 0). Else return 0. A non-string "error" is
 * TS_E_BAD_ANSWER. http_status 0 leaves err->http_status as it was. */
int oauth_json_error(json_t *obj, long http_status, struct oauth_error *err);

/* Copy a string member (optional: 0 when absent, 1 when copied) into out,
 * refusing one that does not fit or has control bytes (TS_E_BAD_ANSWER). */
int oauth_json_str(json_t *obj, const char *key, char *out, size_t outlen,
                   struct oauth_error *err) TS_WUR;

/* Pretty text for a taxonomy class, used to start messages. */
const char *oauth_class_text(int code);

#endif
