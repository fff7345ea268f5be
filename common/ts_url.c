/* SPDX-License-Identifier: MIT */
/* The one URL rule (ts_url.h). libc only. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ts_url.h"

#define RULE_LOOPBACK "https://, or http://127.0.0.1 or http://[::1]"
#define RULE_HTTPS                                                                   \
	"https:// (http:// only for 127.0.0.1 or [::1] with allow_loopback_http = yes)"

static int refuse(char *why, size_t whylen, const char *text)
{
	if (why && whylen)
		(void)snprintf(why, whylen, "%s", text);
	return -EINVAL;
}

static bool bad_chars(const char *u)
{
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || strchr("\"<>\\^`{|}", *p))
			return true;
	return false;
}

/* host[:port] of n bytes: the length of host (a [...] literal included), or
 * 0 when the host is empty; *ret_port_ok false when a port is not 1..65535. */
static size_t host_len(const char *a, size_t n, bool *ret_port_ok)
{
	size_t h;
	unsigned long port = 0;

	if (n > 0 && a[0] == '[') {
		const char *e = memchr(a, ']', n);
		/* "[::1" (never closed) and "[]" are no host */
		if (!e || e == a + 1)
			return 0;
		h = (size_t)(e - a) + 1;
	} else {
		const char *e = memchr(a, ':', n);
		h = e ? (size_t)(e - a) : n;
	}
	*ret_port_ok = true;
	if (h < n) {
		size_t digits = n - h - 1;
		if (a[h] != ':' || digits == 0 || digits > 5)
			*ret_port_ok = false;
		for (size_t i = h + 1; i < n && *ret_port_ok; i++) {
			if (a[i] < '0' || a[i] > '9')
				*ret_port_ok = false;
			else
				port = port * 10 + (unsigned long)(a[i] - '0');
		}
		if (port < 1 || port > 65535)
			*ret_port_ok = false;
	}
	return h;
}

int ts_url_check(const char *url, bool allow_loopback_http, char *why, size_t whylen)
{
	const char *rule = allow_loopback_http ? RULE_LOOPBACK : RULE_HTTPS;
	const char *auth;
	size_t n, h;
	bool http, port_ok;
	char text[160];

	if (strncasecmp(url, "https://", 8) == 0) {
		http = false;
		auth = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0 && allow_loopback_http) {
		http = true;
		auth = url + 7;
	} else {
		(void)snprintf(text, sizeof(text), "it must start with %s", rule);
		return refuse(why, whylen, text);
	}
	if (bad_chars(url))
		return refuse(why, whylen,
		              "it contains a space, a control character or one of \"<>\\^`{|}");
	n = strcspn(auth, "/?#");
	if (memchr(auth, '@', n))
		return refuse(why, whylen, "it contains user information (user@host)");
	h = host_len(auth, n, &port_ok);
	if (h == 0)
		return refuse(why, whylen, "it has no host");
	if (!port_ok)
		return refuse(why, whylen, "its port is not a number from 1 to 65535");
	if (http && !((h == 9 && memcmp(auth, "127.0.0.1", 9) == 0) ||
	              (h == 5 && memcmp(auth, "[::1]", 5) == 0))) {
		(void)snprintf(text, sizeof(text), "it must start with %s", rule);
		return refuse(why, whylen, text);
	}
	return 0;
}
