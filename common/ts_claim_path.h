/* SPDX-License-Identifier: MIT */
/*
 * A claim name or dotted path into a JSON answer (groups_claim:
 * "groups", "realm_access.roles", "resource_access.CLIENT.roles"; "\." is a
 * literal dot inside a name, "\\" a backslash). The syntax alone, libc
 * only: the configuration checks it when it loads, oauth/ walks it.
 */
#ifndef TS_CLAIM_PATH_H
#define TS_CLAIM_PATH_H

#include "ts_macros.h"

#define TS_CLAIM_SEGMENT_MAX 255 /* bytes of one name */
#define TS_CLAIM_PATH_SEGMENTS 8

/* One segment of the path at *pos, unescaped into out; *pos moves past it
 * and its separating dot. 0, or -EINVAL (empty segment, a trailing dot, a
 * bad escape, a control byte, too long). */
int ts_claim_path_next(const char **pos, char out[TS_CLAIM_SEGMENT_MAX + 1]) TS_WUR
	TS_NONNULL(1, 2);

/* 0 when path is a claim name or dotted path of at most
 * TS_CLAIM_PATH_SEGMENTS segments, -EINVAL otherwise (also when empty or
 * 256 bytes or longer). */
int ts_claim_path_check(const char *path) TS_WUR TS_NONNULL(1);

#endif
