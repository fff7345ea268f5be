/* SPDX-License-Identifier: MIT */
/*
 * The NSS user cache writer's groups (see ts_nsscache.h, "groups"): member
 * entries for local accounts, a user's group set, stored gids for the
 * groups the cache publishes. The broker only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_error.h"
#include "ts_nsscache.h"
#include "ts_nsscache_format.h"
#include "ts_nsscache_writer.h"

bool ts_nsscache_gid_taken(const struct ts_nsscache *c, uint32_t gid)
{
	for (size_t i = 0; i < c->n_groups; i++)
		if (!(c->groups[i].flags & TS_NSSCACHE_G_LOCAL) && c->groups[i].gid == gid)
			return true;
	return false;
}

long ts_nsscache_group_add(struct ts_nsscache *c, char *name, uint32_t gid, uint32_t flags)
{
	if (c->n_groups >= TS_NSSCACHE_MAX_GROUPS)
		return -E2BIG;
	if (c->n_groups == c->cap_groups) {
		size_t ncap = c->cap_groups ? c->cap_groups * 2 : 16;
		struct grp *n = realloc(c->groups, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->groups = n;
		c->cap_groups = ncap;
	}
	c->groups[c->n_groups] = (struct grp){.name = name, .gid = gid, .flags = flags};
	return (long)c->n_groups++;
}

static struct rec *find_member(const struct ts_nsscache *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->recs[i].state == TS_NSSCACHE_MEMBER && strcmp(c->recs[i].name, name) == 0)
			return &c->recs[i];
	return NULL;
}

static void drop_rec(struct ts_nsscache *c, struct rec *e)
{
	size_t i = (size_t)(e - c->recs);

	c->n_links -= e->n_groups;
	free(e->name);
	free(e->gecos);
	free(e->groups);
	memmove(c->recs + i, c->recs + i + 1, (c->n - i - 1) * sizeof(*c->recs));
	c->n--;
}

int ts_nsscache_set_member(struct ts_nsscache *c, const char *name, uint32_t uid)
{
	struct rec *e = find_member(c, name), nr = {0};
	uint32_t *groups = NULL;
	size_t n_groups = 0;
	int r;

	if (!ts_nsscache_name_valid(name))
		return -EINVAL;
	if (ts_nsscache_find_active(c, name))
		return -EEXIST;
	if (e && e->uid == uid)
		return 0;
	if (e) { /* the local account's uid changed: move the entry, keep its groups */
		groups = e->groups, n_groups = e->n_groups;
		e->groups = NULL, e->n_groups = 0;
		drop_rec(c, e);
	}
	nr.uid = uid;
	nr.state = TS_NSSCACHE_MEMBER;
	nr.name = strdup(name);
	nr.gecos = strdup("");
	nr.groups = groups;
	nr.n_groups = n_groups;
	if (!nr.name || !nr.gecos) {
		r = -ENOMEM;
		goto fail;
	}
	r = ts_nsscache_rec_insert(c, &nr); /* a uid another entry holds: TS_E_CORRUPT */
	if (r == TS_E_CORRUPT)
		r = -EEXIST;
	if (r < 0)
		goto fail;
	return 0;
fail:
	c->n_links -= n_groups;
	free(nr.name);
	free(nr.gecos);
	free(groups);
	return r;
}

static long find_group(const struct ts_nsscache *c, const char *name, bool local)
{
	for (size_t i = 0; i < c->n_groups; i++)
		if (strcmp(c->groups[i].name, name) == 0 &&
		    ((c->groups[i].flags & TS_NSSCACHE_G_LOCAL) != 0) == local)
			return (long)i;
	return -1;
}

static bool group_gid_taken(const void *ctx, uint32_t gid)
{
	const struct ts_nsscache *c = ctx;
	size_t i;

	/* an entry's uid is its per-user group's gid */
	for (i = 0; i < c->n; i++)
		if (c->recs[i].uid == gid)
			return true;
	for (i = 0; i < c->n_reserved; i++)
		if (c->reserved[i] == gid)
			return true;
	return ts_nsscache_gid_taken(c, gid) ||
	       (c->taken_hook && c->taken_hook(c->taken_ctx, gid));
}

/* The index of the group ref g, added (with a new stored gid for a
 * published one) when the cache does not have it yet. */
static long group_index(struct ts_nsscache *c, const struct ts_nsscache_group_ref *g)
{
	char key[TS_NSSCACHE_NAME_MAX + 8], *name;
	long k = find_group(c, g->name, g->local);
	uint32_t gid = g->gid;
	int r;

	if (k >= 0) {
		if (g->local && c->groups[k].gid != g->gid)
			c->groups[k].gid = g->gid; /* the local group's gid is the other source's */
		return k;
	}
	if (!ts_nsscache_name_valid(g->name))
		return -EINVAL;
	if (!g->local) {
		(void)snprintf(key, sizeof(key), "group:%s", g->name);
		r = ts_nsscache_probe(ts_nsscache_hash_uid(c->issuer, key, c->uid_min, c->uid_max),
		                      c->uid_min, c->uid_max, c->n + c->n_reserved + c->n_groups,
		                      group_gid_taken, c, &gid);
		if (r < 0)
			return r;
	}
	name = strdup(g->name);
	if (!name)
		return -ENOMEM;
	k = ts_nsscache_group_add(c, name, gid, g->local ? TS_NSSCACHE_G_LOCAL : 0);
	if (k < 0)
		free(name);
	return k;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int ts_nsscache_set_groups(struct ts_nsscache *c, const char *name,
                           const struct ts_nsscache_group_ref *groups, size_t n)
{
	struct rec *e = ts_nsscache_find_active(c, name);
	uint32_t *set = NULL;
	size_t k = 0;

	if (!e)
		e = find_member(c, name);
	if (!e)
		return -ENOENT;
	if (n > TS_NSSCACHE_MAX_USER_GROUPS)
		return -E2BIG;
	if (n) {
		set = malloc(n * sizeof(*set));
		if (!set)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		long g = group_index(c, &groups[i]);

		if (g < 0) {
			free(set);
			return (int)g;
		}
		set[k++] = (uint32_t)g;
	}
	qsort(set, k, sizeof(*set), cmp_u32);
	{ /* the same group twice counts once */
		size_t w = 0;
		for (size_t i = 0; i < k; i++)
			if (w == 0 || set[w - 1] != set[i])
				set[w++] = set[i];
		k = w;
	}
	if (k == e->n_groups && (k == 0 || memcmp(set, e->groups, k * sizeof(*set)) == 0)) {
		free(set);
		return 0;
	}
	if (c->n_links - e->n_groups + k > TS_NSSCACHE_MAX_LINKS) {
		free(set);
		return -E2BIG;
	}
	c->n_links = c->n_links - e->n_groups + k;
	free(e->groups);
	e->groups = k ? set : NULL;
	e->n_groups = k;
	if (!k)
		free(set);
	return 1;
}

bool ts_nsscache_group_known(const struct ts_nsscache *c, const char *name)
{
	return find_group(c, name, false) >= 0;
}

int ts_nsscache_drop_member(struct ts_nsscache *c, const char *name)
{
	struct rec *e = find_member(c, name);

	if (!e)
		return -ENOENT;
	drop_rec(c, e);
	return 0;
}
