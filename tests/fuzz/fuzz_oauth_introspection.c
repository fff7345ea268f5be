/* SPDX-License-Identifier: MIT */
/* libFuzzer target: oauth_parse_introspection on untrusted bytes. */
#include <stdint.h>
#include <string.h>

#include "oauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oauth_identity id;
	struct oauth_error e;

	memset(&id, 0, sizeof(id));
	memset(&e, 0, sizeof(e));
	if (oauth_parse_introspection(&id, "preferred_username", "tokenseal-conf", (const char *)data, size, &e) ==
	    0) {
		if (!id.active || strlen(id.sub) >= sizeof(id.sub) ||
		    strlen(id.username) >= sizeof(id.username))
			__builtin_trap();
	}
	return 0;
}
