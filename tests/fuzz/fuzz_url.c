/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the one URL rule (common/ts_url.c), applied to the
 * configured issuer and to every endpoint a discovery document names. The
 * first byte picks the why-buffer size (0..63); the rest, cut at the first
 * NUL and at 4 KiB, is the URL. Whatever it is: no crash, the why text is
 * NUL-terminated inside its buffer, and an accepted URL
 *  - starts with https:// (any case), or http:// only when loopback http is
 *    allowed and the host is exactly 127.0.0.1 or [::1];
 *  - has no space, control byte or "<>\^`{|}, and no '@' in its authority;
 *    a host that opens an IPv6 literal ("[") closes it and has one;
 *  - is also accepted when loopback http is allowed (the switch only adds).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ts_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ok(const char *url, bool loopback)
{
	const char *auth;
	size_t n;

	if (strncasecmp(url, "https://", 8) == 0) {
		auth = url + 8;
	} else if (loopback && strncasecmp(url, "http://", 7) == 0) {
		auth = url + 7;
		if (strncmp(auth, "127.0.0.1", 9) != 0 && strncmp(auth, "[::1]", 5) != 0)
			__builtin_trap();
		if (strncmp(auth, "127.0.0.1", 9) == 0 && !strchr(":/?#", auth[9] ? auth[9] : '/'))
			__builtin_trap();
	} else {
		__builtin_trap();
	}
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || strchr("\"<>\\^`{|}", *p))
			__builtin_trap();
	n = strcspn(auth, "/?#");
	if (n == 0 || memchr(auth, '@', n))
		__builtin_trap();
	/* an IPv6 literal is closed and not empty */
	if (auth[0] == '[' && (!memchr(auth, ']', n) || auth[1] == ']'))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[64], *url;
	size_t whylen, ulen;
	int a, b;

	if (size < 1 || size > 4097)
		return 0;
	whylen = data[0] % sizeof(why);
	url = malloc(size);
	if (!url)
		return 0;
	memcpy(url, data + 1, size - 1);
	url[size - 1] = '\0';
	ulen = strlen(url);
	memset(why, 'W', sizeof(why));
	a = ts_url_check(url, false, whylen ? why : NULL, whylen);
	if (a != 0 && whylen && memchr(why, '\0', whylen) == NULL)
		__builtin_trap(); /* a refusal's reason, cut to whylen */
	for (size_t i = whylen; i < sizeof(why); i++)
		if (why[i] != 'W')
			__builtin_trap(); /* wrote past whylen */
	b = ts_url_check(url, true, why, sizeof(why));
	if ((a != 0 && a != -22) || (b != 0 && b != -22) || (a == 0 && b != 0))
		__builtin_trap();
	if (a == 0)
		check_ok(url, false);
	if (b == 0)
		check_ok(url, true);
	if (strlen(url) != ulen)
		__builtin_trap(); /* the check never writes to the URL */
	free(url);
	return 0;
}
