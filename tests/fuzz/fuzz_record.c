/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the sealed record parser: header parsing, every length
 * field, identity comparison and authentication, with a fixed key (id 1 =
 * bytes 0..31) and identity. The seed corpus holds records sealed with that
 * key, so mutations reach the AEAD as well as the parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ks.h"
#include "ks_testing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ks *ks;
	static const struct ks_identity id = {.uid = 1000,
	                                      .user = "alice",
	                                      .issuer = "https://idp.example",
	                                      .client_id = "tokenseal"};
	struct ks_blob *b = NULL;

	if (!ks) {
		uint8_t key[KS_KEYBYTES];
		for (unsigned i = 0; i < KS_KEYBYTES; i++)
			key[i] = (uint8_t)i;
		if (ks_open_from_key(&ks, 1, key) < 0)
			abort();
	}
	if (ks_record_open(ks, &id, data, size, &b) == 0) {
		/* an accepted record must be well formed */
		if (b->len > KS_PAYLOAD_MAX || b->generation == 0 || b->key_id != 1)
			abort();
		if (b->len)
			(void)memchr(b->payload, 0, b->len); /* touch every byte */
		ks_blob_free(b);
	}
	return 0;
}
