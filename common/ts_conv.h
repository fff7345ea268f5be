/* SPDX-License-Identifier: MIT */
/*
 * How tokenseal talks to the person: the one conversation type, used by the
 * protocol client (relaying to pam_conv or a terminal) and by the broker's
 * engine (relaying over the protocol). libc only.
 */
#ifndef TS_CONV_H
#define TS_CONV_H

#include <stdbool.h>

struct ts_conv {
	/* Show text; return 0, or <0 to abort the request. */
	int (*info)(void *ctx, const char *text);
	int (*error)(void *ctx, const char *text);
	/* Ask; on success *ret_answer is a malloc'd string the receiver wipes
	 * and frees. Return <0 when no answer can be had. NULL prompt =
	 * non-interactive. */
	int (*prompt)(void *ctx, const char *text, bool echo, char **ret_answer);
	void *ctx;
};

#endif
