/* SPDX-License-Identifier: MIT */
/* libFuzzer target: oauth_parse_device_response on untrusted bytes. */
#include <stdint.h>
#include <string.h>

#include "oauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oauth_device d;
	struct oauth_error e;

	memset(&d, 0, sizeof(d));
	memset(&e, 0, sizeof(e));
	if (oauth_parse_device_response(&d, (const char *)data, size, &e) == 0) {
		if (!d.device_code || !d.user_code[0] || d.interval < 1)
			__builtin_trap();
		oauth_device_clear(&d);
	} else if (d.device_code) {
		__builtin_trap();
	}
	return 0;
}
