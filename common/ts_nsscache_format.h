/* SPDX-License-Identifier: MIT */
/*
 * Private to common/ts_nsscache*.c: the file layout (docs/nss.md) and the
 * pieces the reader (ts_nsscache.c, linked into libnss_tokenseal.so.2) and
 * the writer (ts_nsscache_write.c, the broker only) share.
 */
#ifndef TS_NSSCACHE_FORMAT_H
#define TS_NSSCACHE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ts_nsscache.h"

extern const uint8_t ts_nsscache_magic[8];

/* header field offsets */
enum {
	H_MAGIC = 0,
	H_VERSION = 8,
	H_HEADER_SIZE = 12,
	H_TOTAL_SIZE = 16,
	H_GENERATION = 24,
	H_UID_MIN = 32,
	H_UID_MAX = 36,
	H_GID = 40,
	H_N_ENTRIES = 44,
	H_N_ACTIVE = 48,
	H_N_RESERVED = 52,
	H_ENTRIES_OFF = 56,
	H_NAME_INDEX_OFF = 60,
	H_UID_INDEX_OFF = 64,
	H_RESERVED_OFF = 68,
	H_STRINGS_OFF = 72,
	H_STRINGS_SIZE = 76,
	H_ISSUER = 80,
	H_HOME_TEMPLATE = 88,
	H_SHELL = 96,
	H_RESOLVE = 104,
	H_RESERVED_NAMES = 112, /* v2 from here */
	H_N_GROUPS = 120,
	H_GROUPS_OFF = 124,
	H_GROUP_NAME_INDEX_OFF = 128,
	H_GROUP_GID_INDEX_OFF = 132,
	H_N_LINKS = 136,
	H_USER_LINKS_OFF = 140,
	H_GROUP_LINKS_OFF = 144,
};

/* group record field offsets (v2) */
enum {
	G_GID = 0,
	G_FLAGS = 4,
	G_NAME = 8,
	G_FIRST = 16,
	G_COUNT = 20,
};

/* entry field offsets */
enum {
	E_UID = 0,
	E_GID = 4,
	E_STATE = 8,
	E_FLAGS = 12, /* TS_NSSCACHE_F_* */
	E_SUBJECT = 16,
	E_NAME = 48,
	E_GECOS = 56,
	E_HOME = 64,
	E_SHELL = 72,
	E_GROUPS_FIRST = 80, /* v2 */
	E_N_GROUPS = 84,
};

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static inline bool uid_special(uint32_t uid)
{
	return uid == 0 || uid == 65534 || uid == 65535 || uid == UINT32_MAX;
}

typedef bool (*taken_fn)(const void *ctx, uint32_t uid);

/* First free uid from start, wrapping inside [lo, hi]: 0 or -ENOSPC. */
int ts_nsscache_probe(uint32_t start, uint32_t lo, uint32_t hi, size_t n_taken, taken_fn taken,
                      const void *ctx, uint32_t *ret_uid) TS_WUR;

/* Entry number k of the file (bounds and strings checked): 0 or TS_E_CORRUPT. */
int ts_nsscache_entry_at(const struct ts_nsscache_view *v, uint32_t k,
                         struct ts_nsscache_entry *ret) TS_WUR;

/* Value i of the u32 table at offset table (inside the file: view_open checked). */
uint32_t ts_nsscache_index_get(const struct ts_nsscache_view *v, uint32_t table, uint32_t i);

#endif
