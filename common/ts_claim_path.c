/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "ts_claim_path.h"
#include "ts_config.h"

int ts_claim_path_next(const char **pos, char out[TS_CLAIM_SEGMENT_MAX + 1])
{
	const char *p = *pos;
	size_t n = 0;

	while (*p && *p != '.') {
		char ch = *p++;

		if (ch == '\\') {
			if (*p != '.' && *p != '\\')
				return -EINVAL;
			ch = *p++;
		}
		if ((unsigned char)ch < 0x20 || ch == 0x7f || n >= TS_CLAIM_SEGMENT_MAX)
			return -EINVAL;
		out[n++] = ch;
	}
	if (n == 0)
		return -EINVAL; /* "", ".a", "a..b", "a." */
	out[n] = '\0';
	if (*p == '.') {
		p++;
		if (!*p)
			return -EINVAL;
	}
	*pos = p;
	return 0;
}

int ts_claim_path_check(const char *path)
{
	char seg[TS_CLAIM_SEGMENT_MAX + 1];
	const char *p = path;
	unsigned n = 0;

	if (strlen(path) >= TS_NAME_MAX)
		return -EINVAL;
	while (*p) {
		if (++n > TS_CLAIM_PATH_SEGMENTS || ts_claim_path_next(&p, seg) < 0)
			return -EINVAL;
	}
	return n ? 0 : -EINVAL;
}
