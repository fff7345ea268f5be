/* SPDX-License-Identifier: MIT */
/* broker/qr.c: the half-block rendering reproduces libqrencode's matrix
 * module for module, with a light quiet zone; too small a buffer fails
 * cleanly. Without libqrencode the renderer says so (-ENOTSUP). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qr.h"
#include "ts_test.h"

#ifdef TS_HAVE_QRENCODE
#include <qrencode.h>

static const char *const glyph[4] = {" ", "\xe2\x96\x84", "\xe2\x96\x80", "\xe2\x96\x88"};

/* Decode the rendering back into light/dark modules. */
static void test_matches_libqrencode(void)
{
	const char *uri = "https://127.0.0.1:8443/device?user_code=WXYZ-ABCD";
	static char out[16384];
	QRcode *q = QRcode_encodeString(uri, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	int w, rows = 0, y = 0;
	const char *p = out;

	CHECK(q != NULL);
	w = q->width + 4;
	CHECK_INT(ts_qr_render(uri, out, sizeof(out)), 0);
	while (*p) {
		const char *eol = strchr(p, '\n');
		int x = 0;

		CHECK(eol != NULL);
		while (p < eol) {
			int g = -1;
			for (int i = 3; i >= 0; i--) {
				size_t n = strlen(glyph[i]);
				if (n && strncmp(p, glyph[i], n) == 0) {
					g = i;
					p += n;
					break;
				}
			}
			if (g < 0 && *p == ' ') {
				g = 0;
				p++;
			}
			CHECK_MSG(g >= 0, "unexpected byte 0x%02x in the rendering", (unsigned char)*p);
			for (int half = 0; half < 2; half++) {
				int mx = x - 2, my = y + half - 2;
				int light = (g >> (1 - half)) & 1;
				int want = 1;
				if (mx >= 0 && my >= 0 && mx < q->width && my < q->width)
					want = !(q->data[my * q->width + mx] & 1);
				CHECK_MSG(light == want, "module (%d,%d) differs", mx, my);
			}
			x++;
		}
		CHECK_INT(x, w);
		p = eol + 1;
		y += 2;
		rows++;
	}
	CHECK_INT(rows, (w + 1) / 2);
	QRcode_free(q);
}

static void test_too_small(void)
{
	char small[64];

	CHECK_INT(ts_qr_render("https://example.org/device", small, sizeof(small)), -ENOSPC);
	CHECK_STR(small, "");
}

int main(void)
{
	RUN(test_matches_libqrencode);
	RUN(test_too_small);
	return ts_test_done();
}

#else

int main(void)
{
	char out[16];

	CHECK_INT(ts_qr_render("x", out, sizeof(out)), -ENOTSUP);
	CHECK_STR(out, "");
	return ts_test_done();
}

#endif
