/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the groups_claim path syntax (common/ts_claim_path.c),
 * which the configuration checks when it loads and oauth/ walks over every
 * server answer. The input (cut at the first NUL and at 300 bytes) is the
 * path. Whatever it is: no crash, and
 *  - ts_claim_path_next never writes a segment over TS_CLAIM_SEGMENT_MAX
 *    bytes, never an empty one, never one with a control byte;
 *  - an accepted path has 1..TS_CLAIM_PATH_SEGMENTS segments, and escaping
 *    them again ("." and "\" get a "\") and joining them with dots gives the
 *    input back byte for byte (the walk loses and invents nothing).
 */
#include <stdint.h>
#include <string.h>

#include "ts_claim_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[301], seg[TS_CLAIM_SEGMENT_MAX + 1], back[2 * 301 + 2];
	const char *p;
	size_t plen = size < 300 ? size : 300, o = 0;
	unsigned n = 0;
	int ok;

	memcpy(path, data, plen);
	path[plen] = '\0';
	plen = strlen(path);
	ok = ts_claim_path_check(path) == 0;
	p = path;
	while (*p) {
		const char *before = p;

		memset(seg, 'x', sizeof(seg));
		if (ts_claim_path_next(&p, seg) < 0) {
			if (p != before || ok)
				__builtin_trap(); /* a refusal moves nothing; check agreed */
			break;
		}
		size_t l = strnlen(seg, sizeof(seg));
		if (l == 0 || l > TS_CLAIM_SEGMENT_MAX || p <= before)
			__builtin_trap();
		for (size_t i = 0; i < l; i++)
			if ((unsigned char)seg[i] < 0x20 || seg[i] == 0x7f)
				__builtin_trap();
		if (n++)
			back[o++] = '.';
		for (size_t i = 0; i < l; i++) {
			if (seg[i] == '.' || seg[i] == '\\')
				back[o++] = '\\';
			back[o++] = seg[i];
		}
	}
	back[o] = '\0';
	if (ok && (n == 0 || n > TS_CLAIM_PATH_SEGMENTS || o != plen || strcmp(back, path) != 0))
		__builtin_trap();
	if (!ok && plen > 0 && plen < 256 && n >= 1 && n <= TS_CLAIM_PATH_SEGMENTS && !*p &&
	    strcmp(back, path) == 0)
		__builtin_trap(); /* a walkable, short path the check refused */
	return 0;
}
