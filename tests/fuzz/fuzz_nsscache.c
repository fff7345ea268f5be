/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the NSS user cache reader (common/ts_nsscache.c), the
 * code libnss_tokenseal.so.2 runs over a world-readable file inside every
 * process of the host: the header check, every lookup (binary searches over
 * both indexes, string refs), enumeration, the nss_resolve_unknown uid, the
 * reserved-name lists (v2: nss_reserved_names from the file), the groups
 * (v2: records, both indexes, user and group links; the name-only member
 * walk of a group answer) and the writer's parse
 * (v1 and v2 files). An accepted parse must serialize to an image the reader
 * accepts again, with the same entries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ts_nsscache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch(const struct ts_nsscache_entry *e)
{
	volatile size_t sum = e->name_len + e->gecos_len + e->home_len + e->shell_len;

	/* every string must be NUL-terminated where its length says */
	if (e->name[e->name_len] || e->gecos[e->gecos_len] || e->home[e->home_len] ||
	    e->shell[e->shell_len] || strlen(e->name) != e->name_len)
		abort();
	(void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"alice", "bob", "user5", "ext-dave", "zz", "a"};
	struct ts_nsscache_view v;
	struct ts_nsscache_entry e;
	struct ts_nsscache *c = NULL;
	uint32_t uid;

	if (ts_nsscache_view_open(&v, data, size) == 0) {
		regex_t re;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (ts_nsscache_view_by_name(&v, names[i], &e) == 0) {
				touch(&e);
				if (strcmp(e.name, names[i]) != 0 ||
				    (e.state != TS_NSSCACHE_ACTIVE && e.state != TS_NSSCACHE_MEMBER))
					abort();
			}
			if (ts_nsscache_view_unknown_uid(&v, names[i], &uid) == 0 &&
			    (uid < v.uid_min || uid > v.uid_max))
				abort();
		}
		for (uint32_t i = 0; i < v.n_entries && i < 4096; i++) {
			if (ts_nsscache_view_at(&v, i, &e) == 0) {
				struct ts_nsscache_entry f;
				struct ts_nsscache_group g;
				touch(&e);
				if (ts_nsscache_view_by_uid(&v, e.uid, &f) == 0)
					touch(&f);
				/* a user's groups (initgroups) */
				for (uint32_t j = 0; j < e.n_groups && j < 64; j++)
					if (ts_nsscache_view_user_group(&v, &e, j, &g) == 0 &&
					    g.name[g.name_len])
						abort();
			}
		}
		/* groups by number, name, gid, and their members */
		for (uint32_t i = 0; i < v.n_groups && i < 1024; i++) {
			struct ts_nsscache_group g, h;
			if (ts_nsscache_view_group_at(&v, i, &g) != 0)
				continue;
			if (g.name[g.name_len] || strlen(g.name) != g.name_len)
				abort();
			if (ts_nsscache_view_group_by_name(&v, g.name, &h) == 0 && strcmp(h.name, g.name))
				abort();
			if (ts_nsscache_view_group_by_gid(&v, g.gid, &h) == 0 && h.gid != g.gid)
				abort();
			for (uint32_t j = 0; j < g.n_members && j < 64; j++) {
				enum ts_nsscache_state st;
				const char *name;
				size_t len;
				int r = ts_nsscache_view_group_member(&v, &g, j, &e);

				if (r == 0)
					touch(&e);
				/* the name-only walk getgrnam uses: never looser about
				 * the name, the same member when both succeed */
				if (ts_nsscache_view_group_member_name(&v, &g, j, &st, &name,
				                                       &len) == 0) {
					if (name[len] || strlen(name) != len)
						abort();
					if (r == 0 && (name != e.name || st != e.state))
						abort();
				} else if (r == 0) {
					abort();
				}
			}
		}
		(void)ts_nsscache_view_uid_taken(&v, 1000000);
		if (!v.reserved_names)
			abort();
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			(void)ts_nsscache_name_reserved(names[i], v.reserved_names);
		(void)ts_nsscache_reserved_list_valid(v.reserved_names);
		if (v.resolve_unknown[0] && ts_nsscache_regex_compile(&re, v.resolve_unknown) == 0)
			regfree(&re);
	}
	if (ts_nsscache_parse(&c, data, size, NULL) == 0) {
		uint8_t *img = NULL;
		size_t len = 0;
		if (ts_nsscache_serialize(c, &img, &len) == 0) {
			struct ts_nsscache_view w;
			if (ts_nsscache_view_open(&w, img, len) != 0 ||
			    w.n_entries != ts_nsscache_count(c, TS_NSSCACHE_ACTIVE) +
			                       ts_nsscache_count(c, TS_NSSCACHE_TOMBSTONE) +
			                       ts_nsscache_count(c, TS_NSSCACHE_MEMBER))
				abort();
			free(img);
		}
		ts_nsscache_free(c);
	}
	return 0;
}
