/* SPDX-License-Identifier: MIT */
/*
 * Private to the NSS cache writer (ts_nsscache_write.c: the cache in
 * memory, its changes, load, save and lock; ts_nsscache_serial.c: the file
 * image and its parse). The broker only; never linked into the module.
 */
#ifndef TS_NSSCACHE_WRITER_H
#define TS_NSSCACHE_WRITER_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ts_nsscache.h"

struct rec {
	uint32_t uid;
	enum ts_nsscache_state state;
	uint32_t flags; /* TS_NSSCACHE_F_* */
	uint8_t subject[TS_NSSCACHE_HASH_BYTES];
	char *name, *gecos;
	uint32_t *groups; /* indexes into ts_nsscache.groups */
	size_t n_groups;
};

/* A group the cache knows; never removed, so indexes stay valid and a gid
 * once given stays with its name. */
struct grp {
	char *name;
	uint32_t gid, flags; /* TS_NSSCACHE_G_* */
};

struct ts_nsscache {
	char *issuer, *home_template, *shell, *resolve_unknown, *reserved_names;
	uint32_t uid_min, uid_max, gid;
	bool have_regex;
	regex_t regex;
	uint64_t generation;
	struct rec *recs; /* sorted by uid, uids unique */
	size_t n, cap;
	uint32_t *reserved; /* sorted, unique */
	size_t n_reserved, cap_reserved;
	bool (*taken_hook)(void *ctx, uint32_t uid);
	void *taken_ctx;
	struct grp *groups;
	size_t n_groups, cap_groups, n_links;
};

/* Whether a published (not local) group holds gid. */
bool ts_nsscache_gid_taken(const struct ts_nsscache *c, uint32_t gid);

/* Add a group (taking name): its index, or -errno. */
long ts_nsscache_group_add(struct ts_nsscache *c, char *name, uint32_t gid, uint32_t flags);

/* Insert rec (taking its strings) keeping uid order; the uid must be free. */
int ts_nsscache_rec_insert(struct ts_nsscache *c, struct rec *r);

/* The active entry called name, or NULL. */
struct rec *ts_nsscache_find_active(const struct ts_nsscache *c, const char *name);

/* gecos from the IdP's "name": control characters and ':' become ' ', cut
 * at TS_NSSCACHE_GECOS_MAX bytes on a UTF-8 boundary. */
char *ts_nsscache_gecos_clean(const char *in);

#endif
