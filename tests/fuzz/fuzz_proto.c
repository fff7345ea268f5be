/* SPDX-License-Identifier: MIT */
/* libFuzzer target: ts_msg_decode and the accessors on any payload. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ts_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ts_msg m;
	uint8_t *buf;
	char s[128];
	int64_t v;

	/* corpus files are whole frames: skip the 4-byte length when present */
	if (size >= 4 && (size_t)((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
	                          (uint32_t)data[2] << 8 | data[3]) == size - 4) {
		data += 4;
		size -= 4;
	}
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	if (ts_msg_decode(&m, buf, size) != 0)
		return 0;
	for (uint16_t tag = 0; tag < 40; tag++) {
		(void)!ts_msg_get_str(&m, tag, s, sizeof(s));
		(void)!ts_msg_get_int(&m, tag, &v);
	}
	(void)ts_state_name((enum ts_state)m.type);
	ts_msg_clear(&m);
	return 0;
}
