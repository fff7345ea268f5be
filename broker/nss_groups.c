/* SPDX-License-Identifier: MIT */
/*
 * The identity provider's groups as Linux groups (issue 16; see
 * nss_update.h, ts_nss_record_groups, and docs/nss.md "Groups"). The
 * membership is the server's: every answer that vouches for a user sets
 * its groups again, so a group removed at the provider is gone from the
 * user's next login, and a user who must sign in again has none.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nss_update.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_nsscache.h"

TS_PRINTF(4, 5)
static int gwarn(const struct ts_config *cfg, const char *user, int r, const char *fmt, ...)
{
	char why[600], who[TS_NAME_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ts_sanitize_text(who, sizeof(who), user, strlen(user));
	ts_log(LOG_WARNING, "broker: NSS user cache %s: groups of %s not updated: %s",
	       cfg->nss_cache, who, why);
	return r;
}

/* The set the user should have, in refs (names point into names, one
 * TS_NSSCACHE_NAME_MAX + 1 slot per ref). Values that give no group are
 * skipped (logged at debug: a provider may send many groups the host
 * ignores). */
static size_t wanted(const struct ts_config *cfg, const char *const *groups, size_t n,
                     struct ts_nsscache_group_ref *refs, char (*names)[TS_NSSCACHE_NAME_MAX + 1])
{
	size_t k = 0;

	if (cfg->nss_groups == TS_NSS_GROUPS_NONE)
		return 0;
	for (size_t i = 0; i < n && k < TS_NSSCACHE_MAX_USER_GROUPS + 1; i++) {
		char *name = names[k], why[600];
		bool mapped, dup = false;
		uint32_t gid = 0;
		int r;

		if (!groups[i] || !groups[i][0])
			continue;
		mapped = ts_nsscache_group_map_lookup(cfg->group_map, groups[i], name,
		                                      TS_NSSCACHE_NAME_MAX + 1);
		if (!mapped) {
			if (cfg->nss_groups != TS_NSS_GROUPS_ALL ||
			    strlen(groups[i]) > TS_NSSCACHE_NAME_MAX ||
			    !ts_nsscache_name_valid(groups[i]))
				continue;
			(void)snprintf(name, TS_NSSCACHE_NAME_MAX + 1, "%s", groups[i]);
		}
		refs[k] = (struct ts_nsscache_group_ref){.name = name};
		if (mapped) {
			/* the administrator's choice: a local group gets the member
			 * (through initgroups only), whatever its name */
			r = ts_nss_other_gid(name, &gid);
			if (r < 0) {
				ts_log(LOG_WARNING,
				       "broker: NSS user cache %s: group_map names %s, but the NSS "
				       "sources cannot say whether it exists (%s); not given",
				       cfg->nss_cache, name, strerror(-r));
				continue;
			}
			if (r > 0) {
				refs[k].local = true;
				refs[k].gid = gid;
			}
		}
		if (!refs[k].local && ts_nss_name_clash(cfg, name, why, sizeof(why)) < 0) {
			/* never published under a name another source knows or
			 * a reserved one */
			ts_log_debug("broker: NSS user cache: group %s not published: %s", name, why);
			continue;
		}
		for (size_t j = 0; j < k && !dup; j++)
			dup = strcmp(refs[j].name, name) == 0 && refs[j].local == refs[k].local;
		if (!dup)
			k++;
	}
	return k;
}

int ts_nss_record_groups(const struct ts_config *cfg, const char *user, const char *const *groups,
                         size_t n)
{
	_cleanup_(ts_nsscache_freep) struct ts_nsscache *c = NULL;
	_cleanup_close_ int lock = -1;
	struct ts_nsscache_group_ref *refs = NULL;
	char(*names)[TS_NSSCACHE_NAME_MAX + 1] = NULL;
	struct ts_nsscache_info info;
	size_t k, cap = (n < TS_NSSCACHE_MAX_USER_GROUPS ? n : TS_NSSCACHE_MAX_USER_GROUPS) + 1;
	uint32_t uid = 0;
	int r;

	if (!ts_config_nss_cache_on(cfg) || !ts_nsscache_name_valid(user))
		return 0;
	if (!groups)
		n = 0;
	refs = calloc(cap, sizeof(*refs));
	names = calloc(cap, sizeof(*names));
	if (!refs || !names) {
		r = gwarn(cfg, user, -ENOMEM, "out of memory");
		goto out;
	}
	k = wanted(cfg, groups, n, refs, names);
	if (k > TS_NSSCACHE_MAX_USER_GROUPS) {
		r = gwarn(cfg, user, -E2BIG, "more than %u groups would reach Linux; none changed",
		          TS_NSSCACHE_MAX_USER_GROUPS);
		goto out;
	}
	r = 0;
	if (ts_nss_view_groups_same(cfg, user, refs, k))
		goto out; /* the usual case: nothing to write, no lock taken */
	r = ts_nss_open_locked(cfg, user, &lock, &c);
	if (r < 0)
		goto out;
	ts_nsscache_set_taken_hook(c, ts_nss_uid_taken_elsewhere, NULL);
	if (ts_nsscache_find(c, user, &info) < 0 || info.state == TS_NSSCACHE_TOMBSTONE) {
		/* not the cache's user: a local account gets a member entry;
		 * an identity-provider-only user before its first recorded
		 * sign-in gets its groups at the next answer */
		r = ts_nss_other_uid(user, &uid);
		if (r <= 0) {
			r = r < 0 ? gwarn(cfg, user, r, "cannot look the user up: %s", strerror(-r))
			          : 0;
			goto out;
		}
		if (k == 0) {
			r = 0; /* nothing stored, nothing to store */
			goto out;
		}
		r = ts_nsscache_set_member(c, user, uid);
		if (r < 0) {
			r = gwarn(cfg, user, r, "cannot record the local account: %s",
			          r == -EEXIST ? "another cache entry holds its name or uid"
			                       : ts_strerror(r));
			goto out;
		}
	}
	/* a published group's name must not be a cache user's name either */
	for (size_t i = 0; i < k;)
		if (!refs[i].local && ts_nsscache_find(c, refs[i].name, &info) == 0)
			refs[i] = refs[--k];
		else
			i++;
	r = ts_nsscache_set_groups(c, user, refs, k);
	if (r == 0)
		goto out;
	if (r < 0) {
		r = gwarn(cfg, user, r, "%s",
		          r == -E2BIG    ? "the cache's bounds for groups are reached"
		          : r == -ENOSPC ? "no gid is free in nss_uid_min..nss_uid_max"
		                         : ts_strerror(r));
		goto out;
	}
	r = ts_nsscache_save(c, cfg->nss_cache);
	if (r < 0)
		r = gwarn(cfg, user, r, "cannot write it: %s", ts_strerror(r));
out:
	free(refs);
	free(names);
	return r;
}
