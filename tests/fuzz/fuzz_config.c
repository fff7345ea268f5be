/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the configuration parser on arbitrary bytes, as the file of
 * the "sudo" service, with problems reported to a callback that formats and
 * drops them (so every format string is exercised too).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ts_config.h"
#include "ts_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

TS_PRINTF(3, 0)
static void silent(void *ctx, int priority, const char *fmt, va_list ap)
{
	char buf[1024];

	(void)ctx, (void)priority;
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ts_config_report rep = {.fn = silent};
	struct ts_config c;
	char out[TS_NAME_MAX];
	int r;

	if (size > TS_CONFIG_MAX_SIZE)
		return 0;
	ts_config_defaults(&c);
	r = ts_config_parse(&c, (const char *)data, size, "sudo", "fuzz.conf", &rep);
	if (r == 0) {
		/* What parsed must be a sane struct. */
		if (c.n_login_methods < 1 || c.n_login_methods > TS_LOGIN_METHODS_MAX)
			__builtin_trap();
		if (strnlen(c.issuer, sizeof(c.issuer)) == sizeof(c.issuer))
			__builtin_trap();
		r = ts_config_validate(&c, "fuzz.conf", &rep);
		if (r != 0 && r != TS_E_CONFIG)
			__builtin_trap();
		/* 0, or -EINVAL when the map requires a suffix the name lacks;
		 * never anything else, and never a name that kept its suffix. */
		r = ts_config_map_username(&c, "alice@example.org", out, sizeof(out));
		if (r != 0 && r != -EINVAL)
			__builtin_trap();
		if (r == 0 && c.username_map[0] && strcmp(out, "alice@example.org") == 0)
			__builtin_trap();
	} else if (r != TS_E_CONFIG) {
		__builtin_trap();
	}
	return 0;
}
