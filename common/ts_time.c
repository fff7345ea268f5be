/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "ts_time.h"

int64_t ts_monotonic_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
