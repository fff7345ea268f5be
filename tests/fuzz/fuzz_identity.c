/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the identity binding of every sign-in (broker/
 * lifecycle.c ts_identity_check, with ts_config_map_username behind it): the
 * server's username claim, after username_map, must be the local user.
 * Input lines: the username_map value (loaded through the real config
 * parser; a value it refuses is skipped), the server's name (any bytes but
 * NUL and newline, up to 300), the local user. Whatever the input: no
 * crash, the message is NUL-terminated in its buffer, and the check passes
 * only when the mapped name is exactly the user (a strip-suffix map never
 * passes a name that lacked the suffix).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lifecycle.h"
#include "ts_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

TS_PRINTF(3, 0)
static void silent(void *ctx, int priority, const char *fmt, va_list ap)
{
	(void)ctx, (void)priority, (void)fmt, (void)ap;
}

static int take(const uint8_t **p, const uint8_t *end, char *out, size_t outlen)
{
	const uint8_t *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
	size_t n = (size_t)((nl ? nl : end) - s);

	*p = nl ? nl + 1 : end;
	if (n >= outlen || memchr(s, '\0', n))
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ts_config_report rep = {.fn = silent};
	static struct ts_config cfg;
	const uint8_t *p = data, *end = data + size;
	char map[300], name[301], user[301], conf[400], mapped[OAUTH_CLAIM_MAX], msg[300];
	int r, m, n;

	if (take(&p, end, map, sizeof(map)) < 0 || take(&p, end, name, sizeof(name)) < 0 ||
	    take(&p, end, user, sizeof(user)) < 0)
		return 0;
	ts_config_defaults(&cfg);
	n = snprintf(conf, sizeof(conf), "username_map = %s\n", map);
	if (n < 0 || (size_t)n >= sizeof(conf) ||
	    ts_config_parse(&cfg, conf, (size_t)n, NULL, "fuzz.conf", &rep) != 0)
		return 0;
	memset(msg, 'M', sizeof(msg));
	r = ts_identity_check(&cfg, user, name, msg, sizeof(msg));
	memset(mapped, 0, sizeof(mapped));
	m = ts_config_map_username(&cfg, name, mapped, sizeof(mapped));
	if (m != 0 && m != -EINVAL && m != -ENAMETOOLONG)
		__builtin_trap();
	if (r == 0) {
		if (!name[0] || m != 0 || strcmp(mapped, user) != 0)
			__builtin_trap();
		if (strncmp(cfg.username_map, "strip-suffix:", 13) == 0) {
			const char *suf = cfg.username_map + 13;
			size_t ln = strlen(name), ls = strlen(suf);
			if (ln <= ls || strcmp(name + ln - ls, suf) != 0)
				__builtin_trap();
		}
	} else if (r != TS_E_IDENTITY_MISMATCH || !memchr(msg, '\0', sizeof(msg))) {
		__builtin_trap();
	}
	return 0;
}
