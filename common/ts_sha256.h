/* SPDX-License-Identifier: MIT */
#ifndef TS_SHA256_H
#define TS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define TS_SHA256_BYTES 32

#define TS_SHA256_HEX (TS_SHA256_BYTES * 2 + 1)

void ts_sha256(uint8_t out[TS_SHA256_BYTES], const void *data, size_t len);

/* Lower-case hex of the digest's first nbytes (at most TS_SHA256_BYTES),
 * NUL-terminated: out holds 2 * nbytes + 1 chars. */
void ts_sha256_hex(char *out, size_t nbytes, const void *data, size_t len);

#endif
