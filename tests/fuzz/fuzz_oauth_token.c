/* SPDX-License-Identifier: MIT */
/* libFuzzer target: oauth_parse_token_response on untrusted bytes. The first
 * byte picks the HTTP status the body came with. */
#include <stdint.h>
#include <string.h>

#include "oauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long status[] = {200, 400, 401, 500};
	struct oauth_tokens t;
	struct oauth_error e;

	if (size < 1)
		return 0;
	memset(&t, 0, sizeof(t));
	memset(&e, 0, sizeof(e));
	if (oauth_parse_token_response(&t, status[data[0] & 3], (const char *)data + 1, size - 1,
	                               &e) == 0) {
		if (!t.access_token || t.expires_in < 1 || t.expires_in > 315360000)
			__builtin_trap();
		oauth_tokens_clear(&t);
	} else {
		if (t.access_token || strlen(e.message) >= sizeof(e.message) ||
		    strlen(e.error) >= sizeof(e.error))
			__builtin_trap();
	}
	return 0;
}
