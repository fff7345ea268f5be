/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the groups claim reader (oauth_groups_parse, the
 * dotted path reader behind groups_claim) on untrusted bytes. Input: the
 * path up to the first newline (at most 300 bytes), then the JSON answer.
 * Whatever the input: no crash, and an OK result keeps every bound (at most
 * OAUTH_GROUPS_MAX values of 1..OAUTH_GROUP_MAX printable bytes, unique).
 */
#include <stdint.h>
#include <string.h>

#include "oauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct oauth_groups g;
	const uint8_t *nl = memchr(data, '\n', size < 301 ? size : 301);
	char path[301];
	size_t plen;
	unsigned n = 0;

	if (!nl)
		return 0;
	plen = (size_t)(nl - data);
	memcpy(path, data, plen);
	path[plen] = '\0';
	if (oauth_groups_parse(&g, path, (const char *)nl + 1, size - plen - 1) < 0)
		return 0;
	if (strlen(path) == plen && path[0] && oauth_claim_path_check(path) < 0 &&
	    g.state != OAUTH_GROUPS_BAD_PATH)
		__builtin_trap();
	if (g.state != OAUTH_GROUPS_OK) {
		if (g.n != 0 || oauth_groups_next(&g, NULL))
			__builtin_trap();
		return 0;
	}
	if (g.n > OAUTH_GROUPS_MAX || g.len > OAUTH_GROUPS_BYTES)
		__builtin_trap();
	for (const char *v = oauth_groups_next(&g, NULL); v; v = oauth_groups_next(&g, v)) {
		size_t l = strlen(v);

		if (l == 0 || l > OAUTH_GROUP_MAX)
			__builtin_trap();
		for (size_t i = 0; i < l; i++)
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
				__builtin_trap();
		for (const char *w = oauth_groups_next(&g, NULL); w != v; w = oauth_groups_next(&g, w))
			if (strcmp(w, v) == 0)
				__builtin_trap();
		n++;
	}
	if (n != g.n)
		__builtin_trap();
	return 0;
}
