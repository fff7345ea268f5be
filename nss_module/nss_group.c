/* SPDX-License-Identifier: MIT */
/*
 * libnss_tokenseal.so.2, the group side: the per-user groups (gid = uid,
 * where the broker published them), the identity provider groups the cache
 * publishes under their own names (group_map to a name no other source has,
 * or nss_groups = all) with their members, and initgroups: every group of a
 * user, including local groups group_map maps to (those reach processes
 * only here: /etc/group is never edited, and glibc merges what each source
 * of `group:` in nsswitch.conf adds).
 */
#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nss_check.h"
#include "nss_internal.h"
#include "ts_error.h"
#include "ts_nsscache.h"

static enum nss_status too_small(int *errnop)
{
	*errnop = ERANGE;
	return NSS_STATUS_TRYAGAIN;
}

/* A per-user group: the entry's name and gid, no members. */
static enum nss_status fill_user_group(struct group *gr, char *buf, size_t buflen, int *errnop,
                                       const struct ts_nsscache_entry *e)
{
	size_t align = (sizeof(char *) - ((uintptr_t)buf % sizeof(char *))) % sizeof(char *);
	size_t need = align + sizeof(char *) + e->name_len + 1 + 2;
	struct out o;

	if (buflen < need)
		return too_small(errnop);
	gr->gr_mem = (char **)(void *)(buf + align);
	gr->gr_mem[0] = NULL; /* a per-user group has no supplementary members */
	o = (struct out){buf + align + sizeof(char *), buflen - align - sizeof(char *)};
	gr->gr_name = nss_put(&o, e->name, e->name_len);
	gr->gr_passwd = nss_put(&o, "*", 1);
	gr->gr_gid = (gid_t)e->gid;
	return NSS_STATUS_SUCCESS;
}

/* Whether a member is listed (active users and local accounts the cache
 * carries groups for; never a reserved name). */
static bool member_shown(const struct map *m, enum ts_nsscache_state state, const char *name)
{
	return (state == TS_NSSCACHE_ACTIVE || state == TS_NSSCACHE_MEMBER) &&
	       !nss_reserved(m, name);
}

/* Copy s (n bytes and a NUL) just below *end (the caller checked the room). */
static char *put_below(char **end, const char *s, size_t n)
{
	*end -= n + 1;
	memcpy(*end, s, n);
	(*end)[n] = '\0';
	return *end;
}

/*
 * A group the cache publishes: its name, gid and members, in one walk of
 * the members. The member pointers fill the buffer from its start, the
 * strings from its end, so a buffer too small is known at the first member
 * that does not fit: each of glibc's ERANGE retries (1 KiB, then doubled)
 * costs no more than the buffer it had, and a large group is walked once,
 * not counted first and copied after (row 8 of docs/performance.md).
 */
static enum nss_status fill_cache_group(struct map *m, struct group *gr, char *buf, size_t buflen,
                                        int *errnop, const struct ts_nsscache_group *g)
{
	size_t align = (sizeof(char *) - ((uintptr_t)buf % sizeof(char *))) % sizeof(char *);
	size_t room, n = 0;
	char **mem, *end = buf + buflen, *name_copy, *passwd;

	/* the NULL ending the member list, the group's name and "*" */
	if (buflen < align + sizeof(char *) + g->name_len + 1 + 2)
		return too_small(errnop);
	room = buflen - align - sizeof(char *) - (g->name_len + 1) - 2;
	mem = (char **)(void *)(buf + align);
	name_copy = put_below(&end, g->name, g->name_len);
	passwd = put_below(&end, "*", 1);
	for (uint32_t i = 0; i < g->n_members; i++) {
		enum ts_nsscache_state state;
		const char *name;
		size_t len;
		int r = ts_nsscache_view_group_member_name(&m->view, g, i, &state, &name, &len);

		if (r < 0) {
			nss_log_entry_damage(m, r);
			return NSS_STATUS_NOTFOUND;
		}
		if (!member_shown(m, state, name))
			continue;
		if (room < sizeof(char *) + len + 1)
			return too_small(errnop);
		room -= sizeof(char *) + len + 1;
		mem[n++] = put_below(&end, name, len);
	}
	mem[n] = NULL;
	gr->gr_name = name_copy;
	gr->gr_passwd = passwd;
	gr->gr_mem = mem;
	gr->gr_gid = (gid_t)g->gid;
	return NSS_STATUS_SUCCESS;
}

NSS_FN(getgrnam_r)(const char *name, struct group *gr, char *buf, size_t buflen, int *errnop);
NSS_FN(getgrnam_r)(const char *name, struct group *gr, char *buf, size_t buflen, int *errnop)
{
	int saved = errno;
	enum nss_status st = NSS_STATUS_NOTFOUND;
	struct ts_nsscache_entry e;
	struct ts_nsscache_group g;
	struct map *m;
	int r;

	if (nss_guard_set() || !name || !ts_nsscache_name_valid(name))
		return nss_finish(st, saved, errnop);
	pthread_mutex_lock(&nss_state.lock);
	m = nss_current();
	if (m && !nss_reserved(m, name)) {
		r = ts_nsscache_view_group_by_name(&m->view, name, &g);
		if (r == 0 && !(g.flags & TS_NSSCACHE_G_LOCAL)) {
			st = fill_cache_group(m, gr, buf, buflen, errnop, &g);
		} else if (r < 0 && r != -ENOENT) {
			nss_log_entry_damage(m, r);
		} else if (m->view.gid == 0) {
			r = ts_nsscache_view_by_name(&m->view, name, &e);
			if (r == 0 && e.state == TS_NSSCACHE_ACTIVE &&
			    (e.flags & TS_NSSCACHE_F_GROUP))
				st = fill_user_group(gr, buf, buflen, errnop, &e);
			else if (r < 0 && r != -ENOENT)
				nss_log_entry_damage(m, r);
		}
	}
	pthread_mutex_unlock(&nss_state.lock);
	st = nss_vet(st, name, false, 0);
	return nss_finish(st, saved, errnop);
}

NSS_FN(getgrgid_r)(gid_t gid, struct group *gr, char *buf, size_t buflen, int *errnop);
NSS_FN(getgrgid_r)(gid_t gid, struct group *gr, char *buf, size_t buflen, int *errnop)
{
	int saved = errno;
	enum nss_status st = NSS_STATUS_NOTFOUND;
	struct ts_nsscache_entry e;
	struct ts_nsscache_group g;
	struct map *m;
	int r;

	if (nss_guard_set())
		return nss_finish(st, saved, errnop);
	pthread_mutex_lock(&nss_state.lock);
	m = nss_current();
	if (m) {
		r = ts_nsscache_view_group_by_gid(&m->view, (uint32_t)gid, &g);
		if (r == 0 && !(g.flags & TS_NSSCACHE_G_LOCAL) && !nss_reserved(m, g.name)) {
			st = fill_cache_group(m, gr, buf, buflen, errnop, &g);
		} else if (r < 0 && r != -ENOENT) {
			nss_log_entry_damage(m, r);
		} else if (m->view.gid == 0) {
			r = ts_nsscache_view_by_uid(&m->view, (uint32_t)gid, &e);
			if (r == 0 && e.state == TS_NSSCACHE_ACTIVE && e.gid == (uint32_t)gid &&
			    (e.flags & TS_NSSCACHE_F_GROUP) && !nss_reserved(m, e.name))
				st = fill_user_group(gr, buf, buflen, errnop, &e);
			else if (r < 0 && r != -ENOENT)
				nss_log_entry_damage(m, r);
		}
	}
	pthread_mutex_unlock(&nss_state.lock);
	st = nss_vet(st, st == NSS_STATUS_SUCCESS ? gr->gr_name : "", false, 0);
	return nss_finish(st, saved, errnop);
}

NSS_FN(setgrent)(int stayopen);
NSS_FN(setgrent)(int stayopen)
{
	(void)stayopen;
	return nss_ent_reset(&nss_state.gr, true);
}

NSS_FN(endgrent)(void);
NSS_FN(endgrent)(void)
{
	return nss_ent_reset(&nss_state.gr, false);
}

/* The group cursor: the per-user groups (positions 0 .. n_entries - 1),
 * then the cache's published groups. */
NSS_FN(getgrent_r)(struct group *gr, char *buf, size_t buflen, int *errnop);
NSS_FN(getgrent_r)(struct group *gr, char *buf, size_t buflen, int *errnop)
{
	int saved = errno;
	enum nss_status st = NSS_STATUS_NOTFOUND;
	struct cursor *c = &nss_state.gr;
	struct ts_nsscache_entry e;
	struct ts_nsscache_group g;

	if (nss_guard_set())
		return nss_finish(st, saved, errnop);
	pthread_mutex_lock(&nss_state.lock);
	if (nss_cursor_peek(c, true, &e) == 0) {
		st = fill_user_group(gr, buf, buflen, errnop, &e);
		if (st == NSS_STATUS_SUCCESS)
			c->pos++;
	} else if (c->map) {
		if (c->pos < c->map->view.n_entries) /* nss_gid set: no per-user groups */
			c->pos = c->map->view.n_entries;
		for (;;) {
			uint32_t k = c->pos - c->map->view.n_entries;
			int r = ts_nsscache_view_group_at(&c->map->view, k, &g);

			if (r < 0 || c->pos < c->map->view.n_entries) {
				if (r != -ENOENT)
					nss_log_entry_damage(c->map, r);
				break;
			}
			if ((g.flags & TS_NSSCACHE_G_LOCAL) || nss_reserved(c->map, g.name)) {
				c->pos++;
				continue;
			}
			st = fill_cache_group(c->map, gr, buf, buflen, errnop, &g);
			if (st == NSS_STATUS_SUCCESS)
				c->pos++;
			break;
		}
	}
	pthread_mutex_unlock(&nss_state.lock);
	return nss_finish(st, saved, errnop);
}

/* Append gid to *groupsp (glibc's initgroups_dyn contract: grow up to
 * limit, <= 0 = none). false when full at limit or out of memory. */
static bool add_gid(gid_t gid, gid_t group, long *start, long *size, gid_t **groupsp, long limit,
                    int *errnop, bool *ret_nomem)
{
	if (gid == group)
		return true;
	for (long i = 0; i < *start; i++)
		if ((*groupsp)[i] == gid)
			return true;
	if (*start == *size) {
		long nsize = *size > 0 ? *size * 2 : 8;
		gid_t *n;

		if (limit > 0 && *size >= limit)
			return false;
		if (limit > 0 && nsize > limit)
			nsize = limit;
		n = realloc(*groupsp, (size_t)nsize * sizeof(**groupsp));
		if (!n) {
			*errnop = ENOMEM;
			*ret_nomem = true;
			return false;
		}
		*groupsp = n;
		*size = nsize;
	}
	(*groupsp)[(*start)++] = gid;
	return true;
}

/* Every group of user the cache carries (published and local ones),
 * besides the primary group, which initgroups adds itself. SUCCESS for a
 * user of the cache (also with no groups: it spares glibc an enumeration),
 * NOTFOUND otherwise. */
NSS_FN(initgroups_dyn)
(const char *user, gid_t group, long *start, long *size, gid_t **groupsp, long limit, int *errnop);
NSS_FN(initgroups_dyn)
(const char *user, gid_t group, long *start, long *size, gid_t **groupsp, long limit, int *errnop)
{
	int saved = errno;
	enum nss_status st = NSS_STATUS_NOTFOUND;
	struct ts_nsscache_entry e;
	struct ts_nsscache_group g;
	gid_t gids[TS_NSSCACHE_MAX_USER_GROUPS];
	bool nomem = false, active = false;
	struct map *m;
	size_t n = 0;

	if (nss_guard_set() || !user || !ts_nsscache_name_valid(user))
		return nss_finish(st, saved, errnop);
	pthread_mutex_lock(&nss_state.lock);
	m = nss_current();
	if (m && !nss_reserved(m, user) && ts_nsscache_view_by_name(&m->view, user, &e) == 0) {
		st = NSS_STATUS_SUCCESS;
		active = e.state == TS_NSSCACHE_ACTIVE;
		for (uint32_t i = 0; i < e.n_groups && n < TS_NSSCACHE_MAX_USER_GROUPS; i++) {
			int r = ts_nsscache_view_user_group(&m->view, &e, i, &g);

			if (r < 0) {
				nss_log_entry_damage(m, r);
				break;
			}
			if (!(g.flags & TS_NSSCACHE_G_LOCAL) && nss_reserved(m, g.name))
				continue;
			gids[n++] = (gid_t)g.gid;
		}
	}
	pthread_mutex_unlock(&nss_state.lock);
	/* a cache user whose name another source knows now (a local account
	 * created since) gets nothing from the cache; a member entry is a
	 * local account by definition */
	if (st == NSS_STATUS_SUCCESS && active && nss_name_elsewhere(user))
		return nss_finish(NSS_STATUS_NOTFOUND, saved, errnop);
	for (size_t i = 0; i < n; i++)
		if (!add_gid(gids[i], group, start, size, groupsp, limit, errnop, &nomem))
			break;
	if (nomem) {
		errno = saved;
		return NSS_STATUS_TRYAGAIN;
	}
	return nss_finish(st, saved, errnop);
}
