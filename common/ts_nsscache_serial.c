/* SPDX-License-Identifier: MIT */
/*
 * The NSS user cache's file image (see ts_nsscache.h): serialise the
 * writer's cache, and parse a file back into it. The broker only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_error.h"
#include "ts_nsscache.h"
#include "ts_nsscache_format.h"
#include "ts_nsscache_writer.h"

struct strbuf {
	uint8_t *p;
	size_t len, cap;
	bool failed;
};

/* Append s (n bytes) plus a NUL, write the ref at out. */
static void sb_add(struct strbuf *b, uint8_t out[8], const char *s, size_t n)
{
	if (b->failed)
		return;
	if (n > TS_NSSCACHE_MAX_SIZE || b->len + n + 1 > TS_NSSCACHE_MAX_SIZE) {
		b->failed = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		uint8_t *np;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->p[b->len + n] = 0;
	put32(out, (uint32_t)b->len);
	put32(out + 4, (uint32_t)n);
	b->len += n + 1;
}

static int cmp_name(const void *a, const void *b, void *ctx)
{
	const struct rec *recs = ctx;
	return strcmp(recs[*(const uint32_t *)a].name, recs[*(const uint32_t *)b].name);
}

static int cmp_group_name(const void *a, const void *b, void *ctx)
{
	const struct grp *g = ctx;
	return strcmp(g[*(const uint32_t *)a].name, g[*(const uint32_t *)b].name);
}

static int cmp_group_gid(const void *a, const void *b, void *ctx)
{
	const struct grp *g = ctx;
	uint32_t x = g[*(const uint32_t *)a].gid, y = g[*(const uint32_t *)b].gid;
	return x < y ? -1 : x > y;
}

static bool indexed(const struct rec *e)
{
	return e->state == TS_NSSCACHE_ACTIVE || e->state == TS_NSSCACHE_MEMBER;
}

int ts_nsscache_serialize(const struct ts_nsscache *c, uint8_t **ret_buf, size_t *ret_len)
{
	size_t n_idx = ts_nsscache_count(c, TS_NSSCACHE_ACTIVE) +
	               ts_nsscache_count(c, TS_NSSCACHE_MEMBER);
	size_t ng = c->n_groups, nl = c->n_links;
	size_t entries_off = TS_NSSCACHE_HEADER_SIZE;
	size_t name_off = entries_off + c->n * TS_NSSCACHE_ENTRY_SIZE;
	size_t uid_off = name_off + n_idx * 4;
	size_t res_off = uid_off + c->n * 4;
	size_t groups_off = res_off + c->n_reserved * 4;
	size_t gname_off = groups_off + ng * TS_NSSCACHE_GROUP_SIZE;
	size_t ggid_off = gname_off + ng * 4;
	size_t ulinks_off = ggid_off + ng * 4;
	size_t glinks_off = ulinks_off + nl * 4;
	size_t str_off = glinks_off + nl * 4;
	uint8_t hdr[TS_NSSCACHE_HEADER_SIZE] = {0};
	uint8_t *ents = NULL, *grecs = NULL, *out = NULL;
	uint32_t *order = NULL, *gorder = NULL, *ggorder = NULL, *ulinks = NULL, *glinks = NULL,
	         *gfirst = NULL, *gcount = NULL;
	struct strbuf sb = {0};
	size_t total, k = 0, u = 0;
	uint8_t shell_ref[8];
	int r = -ENOMEM;

	if (str_off > TS_NSSCACHE_MAX_SIZE || ng > TS_NSSCACHE_MAX_GROUPS ||
	    nl > TS_NSSCACHE_MAX_LINKS)
		return TS_E_TOO_BIG;
	ents = calloc(c->n ? c->n : 1, TS_NSSCACHE_ENTRY_SIZE);
	order = malloc((n_idx ? n_idx : 1) * sizeof(uint32_t));
	grecs = calloc(ng ? ng : 1, TS_NSSCACHE_GROUP_SIZE);
	gorder = malloc((ng ? ng : 1) * sizeof(uint32_t));
	ggorder = malloc((ng ? ng : 1) * sizeof(uint32_t));
	gfirst = calloc(ng ? ng : 1, sizeof(uint32_t));
	gcount = calloc(ng ? ng : 1, sizeof(uint32_t));
	ulinks = malloc((nl ? nl : 1) * sizeof(uint32_t));
	glinks = malloc((nl ? nl : 1) * sizeof(uint32_t));
	if (!ents || !order || !grecs || !gorder || !ggorder || !gfirst || !gcount || !ulinks ||
	    !glinks)
		goto out;
	sb_add(&sb, hdr + H_ISSUER, c->issuer, strlen(c->issuer));
	sb_add(&sb, hdr + H_HOME_TEMPLATE, c->home_template, strlen(c->home_template));
	sb_add(&sb, hdr + H_SHELL, c->shell, strlen(c->shell));
	sb_add(&sb, hdr + H_RESOLVE, c->resolve_unknown, strlen(c->resolve_unknown));
	sb_add(&sb, hdr + H_RESERVED_NAMES, c->reserved_names, strlen(c->reserved_names));
	memcpy(shell_ref, hdr + H_SHELL, 8);
	/* members of each group: counted, then laid out group by group */
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->recs[i].n_groups; j++)
			gcount[c->recs[i].groups[j]]++;
	for (size_t g = 0, at = 0; g < ng; g++) {
		gfirst[g] = (uint32_t)at;
		at += gcount[g];
		gcount[g] = 0;
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct rec *e = &c->recs[i];
		uint8_t *p = ents + i * TS_NSSCACHE_ENTRY_SIZE;
		char home[TS_NSSCACHE_PATH_MAX + 1];

		put32(p + E_UID, e->uid);
		put32(p + E_GID, e->state == TS_NSSCACHE_MEMBER ? 0 : c->gid ? c->gid : e->uid);
		put32(p + E_STATE, (uint32_t)e->state);
		put32(p + E_FLAGS, e->flags);
		memcpy(p + E_SUBJECT, e->subject, TS_NSSCACHE_HASH_BYTES);
		sb_add(&sb, p + E_NAME, e->name, strlen(e->name));
		sb_add(&sb, p + E_GECOS, e->gecos, strlen(e->gecos));
		if (ts_nsscache_expand_home(home, sizeof(home), c->home_template, e->name, e->uid) <
		    0) {
			r = -ENAMETOOLONG;
			goto out;
		}
		sb_add(&sb, p + E_HOME, home, strlen(home));
		memcpy(p + E_SHELL, shell_ref, 8);
		put32(p + E_GROUPS_FIRST, (uint32_t)u);
		put32(p + E_N_GROUPS, (uint32_t)e->n_groups);
		for (size_t j = 0; j < e->n_groups; j++) {
			uint32_t g = e->groups[j];
			ulinks[u++] = g;
			glinks[gfirst[g] + gcount[g]++] = (uint32_t)i;
		}
		if (indexed(e))
			order[k++] = (uint32_t)i;
	}
	for (size_t g = 0; g < ng; g++) {
		uint8_t *p = grecs + g * TS_NSSCACHE_GROUP_SIZE;

		put32(p + G_GID, c->groups[g].gid);
		put32(p + G_FLAGS, c->groups[g].flags);
		sb_add(&sb, p + G_NAME, c->groups[g].name, strlen(c->groups[g].name));
		put32(p + G_FIRST, gfirst[g]);
		put32(p + G_COUNT, gcount[g]);
		gorder[g] = ggorder[g] = (uint32_t)g;
	}
	if (u != nl) {
		r = TS_E_CORRUPT; /* n_links out of step: a writer bug */
		goto out;
	}
	if (sb.failed) {
		r = sb.len + 4096 > TS_NSSCACHE_MAX_SIZE ? TS_E_TOO_BIG : -ENOMEM;
		goto out;
	}
	total = str_off + sb.len;
	if (total > TS_NSSCACHE_MAX_SIZE) {
		r = TS_E_TOO_BIG;
		goto out;
	}
	qsort_r(order, k, sizeof(uint32_t), cmp_name, c->recs);
	qsort_r(gorder, ng, sizeof(uint32_t), cmp_group_name, c->groups);
	qsort_r(ggorder, ng, sizeof(uint32_t), cmp_group_gid, c->groups);
	out = malloc(total);
	if (!out)
		goto out;
	memcpy(hdr + H_MAGIC, ts_nsscache_magic, sizeof(ts_nsscache_magic));
	put32(hdr + H_VERSION, TS_NSSCACHE_VERSION);
	put32(hdr + H_HEADER_SIZE, TS_NSSCACHE_HEADER_SIZE);
	put64(hdr + H_TOTAL_SIZE, total);
	put64(hdr + H_GENERATION, c->generation);
	put32(hdr + H_UID_MIN, c->uid_min);
	put32(hdr + H_UID_MAX, c->uid_max);
	put32(hdr + H_GID, c->gid);
	put32(hdr + H_N_ENTRIES, (uint32_t)c->n);
	put32(hdr + H_N_ACTIVE, (uint32_t)k);
	put32(hdr + H_N_RESERVED, (uint32_t)c->n_reserved);
	put32(hdr + H_ENTRIES_OFF, (uint32_t)entries_off);
	put32(hdr + H_NAME_INDEX_OFF, (uint32_t)name_off);
	put32(hdr + H_UID_INDEX_OFF, (uint32_t)uid_off);
	put32(hdr + H_RESERVED_OFF, (uint32_t)res_off);
	put32(hdr + H_STRINGS_OFF, (uint32_t)str_off);
	put32(hdr + H_STRINGS_SIZE, (uint32_t)sb.len);
	put32(hdr + H_N_GROUPS, (uint32_t)ng);
	put32(hdr + H_GROUPS_OFF, (uint32_t)groups_off);
	put32(hdr + H_GROUP_NAME_INDEX_OFF, (uint32_t)gname_off);
	put32(hdr + H_GROUP_GID_INDEX_OFF, (uint32_t)ggid_off);
	put32(hdr + H_N_LINKS, (uint32_t)nl);
	put32(hdr + H_USER_LINKS_OFF, (uint32_t)ulinks_off);
	put32(hdr + H_GROUP_LINKS_OFF, (uint32_t)glinks_off);
	memcpy(out, hdr, sizeof(hdr));
	memcpy(out + entries_off, ents, c->n * TS_NSSCACHE_ENTRY_SIZE);
	for (size_t i = 0; i < k; i++)
		put32(out + name_off + i * 4, order[i]);
	for (size_t i = 0; i < c->n; i++) /* recs are in uid order already */
		put32(out + uid_off + i * 4, (uint32_t)i);
	for (size_t i = 0; i < c->n_reserved; i++)
		put32(out + res_off + i * 4, c->reserved[i]);
	memcpy(out + groups_off, grecs, ng * TS_NSSCACHE_GROUP_SIZE);
	for (size_t g = 0; g < ng; g++) {
		put32(out + gname_off + g * 4, gorder[g]);
		put32(out + ggid_off + g * 4, ggorder[g]);
	}
	for (size_t i = 0; i < nl; i++) {
		put32(out + ulinks_off + i * 4, ulinks[i]);
		put32(out + glinks_off + i * 4, glinks[i]);
	}
	memcpy(out + str_off, sb.p, sb.len);
	*ret_buf = TS_TAKE_PTR(out);
	*ret_len = total;
	r = 0;
out:
	free(ents);
	free(order);
	free(grecs);
	free(gorder);
	free(ggorder);
	free(gfirst);
	free(gcount);
	free(ulinks);
	free(glinks);
	free(sb.p);
	free(out);
	return r;
}

/* Whether an active or member entry already has name (parse: each indexed
 * name once). */
static bool name_indexed(const struct ts_nsscache *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (indexed(&c->recs[i]) && strcmp(c->recs[i].name, name) == 0)
			return true;
	return false;
}

int ts_nsscache_parse(struct ts_nsscache **ret, const void *data, size_t size,
                      const struct ts_nsscache_settings *s)
{
	struct ts_nsscache_view v;
	struct ts_nsscache_settings fs;
	struct ts_nsscache *c = NULL;
	int r;

	r = ts_nsscache_view_open(&v, data, size);
	if (r < 0)
		return r;
	fs = (struct ts_nsscache_settings){.issuer = v.issuer,
	                                   .uid_min = v.uid_min,
	                                   .uid_max = v.uid_max,
	                                   .gid = v.gid,
	                                   .home_template = v.home_template,
	                                   .shell = v.shell,
	                                   .resolve_unknown = v.resolve_unknown,
	                                   .reserved_names = v.reserved_names};
	r = ts_nsscache_new(&c, s ? s : &fs);
	if (r < 0)
		return s ? r : TS_E_CORRUPT;
	c->generation = v.generation;
	for (uint32_t i = 0; i < v.n_groups; i++) {
		struct ts_nsscache_group g;
		char *name;

		r = ts_nsscache_view_group_at(&v, i, &g);
		if (r < 0 || !ts_nsscache_name_valid(g.name) || (g.flags & ~TS_NSSCACHE_G_LOCAL)) {
			r = TS_E_CORRUPT;
			goto fail;
		}
		name = strdup(g.name);
		if (!name) {
			r = -ENOMEM;
			goto fail;
		}
		if (ts_nsscache_group_add(c, name, g.gid, g.flags) < 0) {
			free(name);
			r = TS_E_CORRUPT;
			goto fail;
		}
	}
	for (uint32_t i = 0; i < v.n_entries; i++) {
		struct ts_nsscache_entry e;
		struct rec nr = {0};

		r = ts_nsscache_entry_at(&v, i, &e);
		if (r < 0)
			goto fail;
		if (!ts_nsscache_name_valid(e.name) || e.gecos_len > TS_NSSCACHE_GECOS_MAX ||
		    (e.state != TS_NSSCACHE_TOMBSTONE && name_indexed(c, e.name)) ||
		    e.n_groups > TS_NSSCACHE_MAX_USER_GROUPS ||
		    (e.n_groups && e.state == TS_NSSCACHE_TOMBSTONE)) {
			r = TS_E_CORRUPT;
			goto fail;
		}
		if (e.n_groups) {
			nr.groups = malloc(e.n_groups * sizeof(uint32_t));
			if (!nr.groups) {
				r = -ENOMEM;
				goto fail;
			}
			for (uint32_t j = 0; j < e.n_groups; j++) {
				uint32_t g = ts_nsscache_index_get(&v, v.user_links_off,
				                                   e.groups_first + j);
				/* strictly increasing group numbers, all in the table */
				if (g >= v.n_groups || (j > 0 && g <= nr.groups[j - 1])) {
					free(nr.groups);
					r = TS_E_CORRUPT;
					goto fail;
				}
				nr.groups[j] = g;
			}
			nr.n_groups = e.n_groups;
			c->n_links += e.n_groups;
		}
		nr.uid = e.uid;
		nr.state = e.state;
		nr.flags = e.flags & (TS_NSSCACHE_F_BY_NAME | TS_NSSCACHE_F_GROUP);
		memcpy(nr.subject, e.subject_hash, TS_NSSCACHE_HASH_BYTES);
		nr.name = strdup(e.name);
		nr.gecos = ts_nsscache_gecos_clean(e.gecos);
		if (!nr.name || !nr.gecos) {
			free(nr.name);
			free(nr.gecos);
			free(nr.groups);
			c->n_links -= nr.n_groups;
			r = -ENOMEM;
			goto fail;
		}
		r = ts_nsscache_rec_insert(c, &nr); /* a duplicate uid: TS_E_CORRUPT */
		if (r < 0) {
			free(nr.name);
			free(nr.gecos);
			free(nr.groups);
			c->n_links -= nr.n_groups;
			goto fail;
		}
	}
	for (uint32_t i = 0; i < v.n_reserved; i++) {
		r = ts_nsscache_reserve_uid(c, ts_nsscache_index_get(&v, v.reserved_off, i));
		if (r < 0)
			goto fail;
	}
	*ret = c;
	return 0;
fail:
	ts_nsscache_free(c);
	return r;
}

