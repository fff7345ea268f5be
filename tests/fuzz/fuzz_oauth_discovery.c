/* SPDX-License-Identifier: MIT */
/* libFuzzer target: oauth_parse_discovery on untrusted bytes. */
#include <stdint.h>
#include <string.h>

#include "oauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ts_config cfg;
	struct oauth_error e;

	memset(&cfg, 0, sizeof(cfg));
	memset(&e, 0, sizeof(e));
	if (oauth_parse_discovery(&cfg, "https://idp.example", (const char *)data, size, &e) == 0) {
		if (!cfg.token_endpoint[0] ||
		    strnlen(cfg.token_endpoint, sizeof(cfg.token_endpoint)) >=
		        sizeof(cfg.token_endpoint))
			__builtin_trap();
	} else if (cfg.token_endpoint[0]) {
		__builtin_trap(); /* untouched on failure */
	}
	return 0;
}
