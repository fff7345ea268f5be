/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "qr.h"

#ifdef TS_HAVE_QRENCODE
#include <qrencode.h>

#define QUIET 2 /* modules of light border on each side */

/* Light modules are drawn (as qrencode -t UTF8 does), so the code reads on
 * the usual light-on-dark terminal. */
static int light(const QRcode *q, int x, int y)
{
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return 1;
	return !(q->data[(size_t)y * (size_t)q->width + (size_t)x] & 1);
}

int ts_qr_render(const char *text, char *out, size_t outlen)
{
	static const char *const glyph[4] = {" ", "\xe2\x96\x84", "\xe2\x96\x80", "\xe2\x96\x88"};
	QRcode *q;
	size_t o = 0;
	int r = 0;

	q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	if (!q)
		return -EINVAL;
	for (int y = -QUIET; y < q->width + QUIET && r == 0; y += 2) {
		for (int x = -QUIET; x < q->width + QUIET; x++) {
			const char *g = glyph[light(q, x, y) << 1 | light(q, x, y + 1)];
			size_t n = strlen(g);

			if (o + n + 2 > outlen) {
				r = -ENOSPC;
				break;
			}
			memcpy(out + o, g, n);
			o += n;
		}
		if (r == 0)
			out[o++] = '\n';
	}
	QRcode_free(q);
	if (r < 0) {
		if (outlen)
			out[0] = '\0';
		return r;
	}
	out[o] = '\0';
	return 0;
}

#else

int ts_qr_render(const char *text, char *out, size_t outlen)
{
	(void)text;
	if (outlen)
		out[0] = '\0';
	return -ENOTSUP;
}

#endif
