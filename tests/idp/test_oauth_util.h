/* SPDX-License-Identifier: MIT */
/* Shared by the oauth/ server tests: configs, log capture, and the check that
 * no credential ever shows up in an error message or a log line. */
#ifndef TEST_OAUTH_UTIL_H
#define TEST_OAUTH_UTIL_H

#include "oauth.h"
#include "ts_config.h"

/* A config for issuer (everything else empty/zero), 5 s timeout, 64 KiB cap,
 * username_claim preferred_username, scopes "openid offline_access profile". */
void tu_config(struct ts_config *cfg, const char *issuer, const char *client_id,
               const char *secret_file, const char *ca);

/* Capture every log line (debug on) from here on. */
void tu_capture_logs(void);

/* Remember a credential; tu_check_clean() fails if any remembered one occurs
 * in err's texts or in a captured log line. */
void tu_secret(const char *s);
void tu_check_clean_at(const struct oauth_error *err, const char *file, int line);
#define tu_check_clean(err) tu_check_clean_at(err, __FILE__, __LINE__)

/* CLOCK_MONOTONIC in milliseconds. */
long long tu_now_ms(void);

#endif
