/* SPDX-License-Identifier: MIT */
#ifndef TS_SHA256_H
#define TS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define TS_SHA256_BYTES 32

void ts_sha256(uint8_t out[TS_SHA256_BYTES], const void *data, size_t len);

#endif
