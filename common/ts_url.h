/* SPDX-License-Identifier: MIT */
/*
 * The one URL rule of tokenseal (config validation and every request of the
 * OAuth client): https:// to any host, or http:// to 127.0.0.1 / [::1] only
 * when allow_loopback_http is set. libc only.
 */
#ifndef TS_URL_H
#define TS_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "ts_macros.h"

/* 0 when url follows the rule, else -EINVAL with a reason ("it has no
 * host", ...) in why (NUL-terminated, truncated to whylen; why may be NULL
 * when whylen is 0). The rule:
 *  - the scheme is compared case-insensitively (RFC 3986 §3.1): HTTPS://
 *    is https://;
 *  - https: any host; http: only when allow_loopback_http, and the host is
 *    exactly 127.0.0.1 or [::1] (http://127.0.0.1.evil.example is refused);
 *  - a host is present; no userinfo (user:password@host) in the authority;
 *    a port, when given, is 1..65535;
 *  - no space, control byte or any of "<>\^`{|} in the whole URL. */
int ts_url_check(const char *url, bool allow_loopback_http, char *why, size_t whylen) TS_WUR
	TS_NONNULL(1);

#endif
