/* SPDX-License-Identifier: MIT */
/*
 * Test seams of oauth/ (tests only; no production caller). Everything else
 * runs the same code path as production.
 */
#ifndef TS_OAUTH_TESTING_H
#define TS_OAUTH_TESTING_H

#include <time.h>

#include "oauth.h"

/* Scale every wait of the device poll (interval, slow_down, back-off,
 * expires_in) by scale: 0.01 makes a 5 s interval take 50 ms. Must be
 * > 0 and <= 1; anything else is -EINVAL. */
int oauth_client_set_time_scale(struct oauth_client *c, double scale) TS_WUR TS_NONNULL(1);

/* Take a server Date (what every answer does): the skew estimate becomes
 * date - now when |date - now| <= 24 h, else nothing changes. */
void oauth_note_date(struct oauth_client *c, time_t date, time_t now) TS_NONNULL(1);

/* The first of dirs that is a searchable folder, else NULL (the rule behind
 * the system CA folder when ca_file is empty). */
const char *oauth_capath_pick(const char *const *dirs, size_t n);

/* base64 of formenc(id) ":" formenc(secret), the credentials of
 * client_secret_basic (RFC 6749 §2.3.1); *ret is freed with free(). */
int oauth_basic_credentials(const char *id, const char *secret, char **ret) TS_WUR;
/* s form-encoded (RFC 6749 App. B) into a new string (free()). */
int oauth_form_encoded(const char *s, char **ret) TS_WUR;
/* The method in use: "client_secret_basic", "client_secret_post", "none",
 * or "(not chosen)" before the first request that authenticates. */
const char *oauth_client_auth_method_name(const struct oauth_client *c);

#endif
