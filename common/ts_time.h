/* SPDX-License-Identifier: MIT */
/* The one monotonic clock every deadline in tokenseal is measured on. libc only. */
#ifndef TS_TIME_H
#define TS_TIME_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC (never jumps with the wall clock). */
int64_t ts_monotonic_ms(void);

#endif
