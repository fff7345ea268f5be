/* SPDX-License-Identifier: MIT */
/*
 * A TLS failure because the server's certificate is outside its validity
 * period on this host's clock (issue 15 §5): said as a clock problem, with
 * both times, not as "check the issuer URL and ca_file". Private to oauth/.
 */
#ifndef TS_OAUTH_CLOCK_H
#define TS_OAUTH_CLOCK_H

#include <curl/curl.h>
#include <stdbool.h>

#include "oauth.h"
#include "ts_macros.h"

/* Whether the failed transfer on h (cc, libcurl's text why) was refused
 * for the certificate's dates: "has expired" / "not yet valid". */
bool oauth_cert_time_problem(CURL *h, CURLcode cc, const char *why) TS_NONNULL(1, 3);

/* Fill err (code) for that failure of the request to shown: "connection to
 * SHOWN: DETAIL: this host's clock may be wrong ..." with this host's time
 * and the server's (the Date header of an unverified, credential-free HEAD
 * of origin, within timeout_s). Returns code. */
int oauth_clock_fail(struct oauth_error *err, int code, const char *origin, const char *shown,
                     const char *detail, unsigned timeout_s) TS_NONNULL(3, 4, 5);

#endif
