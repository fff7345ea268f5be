/* SPDX-License-Identifier: MIT */
/* libFuzzer target: oauth_id_claims_parse on an untrusted id_token. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oauth_id_claims c;
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&c, 0, sizeof(c));
	if (oauth_id_claims_parse(&c, s) == 0 &&
	    (!c.present || strlen(c.sub) >= sizeof(c.sub) || strlen(c.aud) >= sizeof(c.aud)))
		__builtin_trap();
	free(s);
	return 0;
}
