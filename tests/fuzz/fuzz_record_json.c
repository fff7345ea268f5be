/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the stored record's JSON codec (broker/record_json.c),
 * the payload inside a sealed keystore record (fuzz_record reaches it only
 * through the AEAD; here the bytes go to the decoder directly). Whatever
 * the input: no crash, and a record that decodes encodes again into JSON
 * that decodes to the same tokens, identity, state and groups.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"
#include "ts_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ts_record a, b;
	char *json = NULL;
	size_t len = 0;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (ts_record_from_json(&a, data, size) != 0) {
		ts_record_clear(&a);
		return 0;
	}
	if (ts_record_to_json(&a, &json, &len) != 0)
		__builtin_trap(); /* what was read can be written */
	if (ts_record_from_json(&b, (const uint8_t *)json, len) != 0)
		__builtin_trap(); /* what was written can be read */
	if (!same_str(a.access_token, b.access_token) ||
	    !same_str(a.refresh_token, b.refresh_token) || strcmp(a.sub, b.sub) != 0 ||
	    strcmp(a.username, b.username) != 0 || strcmp(a.issuer, b.issuer) != 0 ||
	    strcmp(a.sessions_boot, b.sessions_boot) != 0 || a.sessions != b.sessions ||
	    a.state != b.state || a.obtained_at != b.obtained_at ||
	    a.expires_in != b.expires_in || a.groups.state != b.groups.state ||
	    a.groups.n != b.groups.n || a.groups.len != b.groups.len ||
	    memcmp(a.groups.buf, b.groups.buf, a.groups.len) != 0)
		__builtin_trap();
	ts_erase_free(json, len);
	ts_record_clear(&a);
	ts_record_clear(&b);
	return 0;
}
