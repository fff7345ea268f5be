/* SPDX-License-Identifier: MIT */
/*
 * A terminal QR code for the device login's verification_uri_complete, drawn
 * with Unicode half blocks (two modules per character row) so it fits in an
 * ssh session. Built only with libqrencode; without it ts_qr_render returns
 * -ENOTSUP and the login shows the URL and code alone.
 */
#ifndef TS_QR_H
#define TS_QR_H

#include <stddef.h>

#include "ts_macros.h"

/* Render text as a QR code into out (NUL-terminated lines, each ending in
 * '\n'). Returns 0, -ENOTSUP (no libqrencode), -ENOSPC (out too small) or
 * -EINVAL (text cannot be encoded). */
int ts_qr_render(const char *text, char *out, size_t outlen) TS_WUR TS_NONNULL(1, 2);

#endif
