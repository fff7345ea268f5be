/* SPDX-License-Identifier: MIT */
/*
 * The broker's reads of the NSS user cache on the request path (see
 * nss_update.h): which uid a name the local sources do not know has, and
 * whether the file still carries the configuration's settings. A request
 * for an unknown name must not make the daemon read the whole cache (up to
 * 64 MiB) each time: the parsed file is kept, and read again only when its
 * (device, inode, mtime, size) changed, like the module's mapping.
 */
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nss_update.h"
#include "ts_error.h"
#include "ts_file.h"
#include "ts_log.h"
#include "ts_nsscache.h"

static struct {
	pthread_mutex_t lock;
	char path[TS_PATH_MAX];
	struct stat st; /* the file buf was read from (by lstat before reading) */
	uint8_t *buf;
	size_t len;
	int err; /* 0: view valid; else why not (the last read's error) */
	struct ts_nsscache_view view;
	bool have_regex;
	regex_t regex;
	unsigned long reads;
} vc = {.lock = PTHREAD_MUTEX_INITIALIZER, .err = -ENOENT};

unsigned long ts_nss_view_reads(void)
{
	unsigned long n;

	pthread_mutex_lock(&vc.lock);
	n = vc.reads;
	pthread_mutex_unlock(&vc.lock);
	return n;
}

static void drop(int err)
{
	free(vc.buf);
	vc.buf = NULL;
	vc.len = 0;
	if (vc.have_regex)
		regfree(&vc.regex);
	vc.have_regex = false;
	vc.path[0] = '\0';
	vc.err = err;
}

static bool same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The view of path, read again only when the file changed. Under vc.lock:
 * 0 or the error (-ENOENT, TS_E_CORRUPT, ...). */
static int refresh(const char *path)
{
	struct ts_file_policy pol = ts_file_policy_public(TS_NSSCACHE_MAX_SIZE);
	struct stat st;
	int r;

	if (lstat(path, &st) < 0) {
		drop(-errno);
		return vc.err;
	}
	if (strcmp(vc.path, path) == 0 && same(&vc.st, &st))
		return vc.err;
	drop(-ENOENT);
	vc.reads++;
	r = ts_read_file(path, &pol, &vc.buf, &vc.len);
	if (r >= 0)
		r = ts_nsscache_view_open(&vc.view, vc.buf, vc.len);
	if (r >= 0 && vc.view.resolve_unknown[0]) {
		r = ts_nsscache_regex_compile(&vc.regex, vc.view.resolve_unknown);
		if (r < 0)
			r = TS_E_CORRUPT; /* the writer only stores patterns that compile */
		vc.have_regex = r >= 0;
	}
	if (r < 0) {
		free(vc.buf);
		vc.buf = NULL;
	}
	/* remembered whatever the result: a damaged file is not read again
	 * until it changes */
	(void)snprintf(vc.path, sizeof(vc.path), "%s", path);
	vc.st = st;
	vc.err = r < 0 ? r : 0;
	return vc.err;
}

/* Whether the view was written by this version with cfg's settings. */
static bool settings_match(const struct ts_nsscache_view *v, const struct ts_config *cfg)
{
	return v->version == TS_NSSCACHE_VERSION && v->uid_min == cfg->nss_uid_min &&
	       v->uid_max == cfg->nss_uid_max && v->gid == cfg->nss_gid &&
	       strcmp(v->issuer, cfg->issuer) == 0 && strcmp(v->home_template, cfg->nss_home) == 0 &&
	       strcmp(v->shell, cfg->nss_shell) == 0 &&
	       strcmp(v->resolve_unknown, cfg->nss_resolve_unknown) == 0 &&
	       strcmp(v->reserved_names, cfg->nss_reserved_names) == 0;
}

int ts_nss_prepare_if_stale(const struct ts_config *cfg)
{
	bool fresh;

	if (!ts_config_nss_cache_on(cfg))
		return 0;
	pthread_mutex_lock(&vc.lock);
	fresh = refresh(cfg->nss_cache) == 0 && settings_match(&vc.view, cfg);
	pthread_mutex_unlock(&vc.lock);
	return fresh ? 0 : ts_nss_prepare(cfg);
}

/* Under vc.lock, the view fresh: what the cache shows for user. 0 with the
 * uid (*ret_pinned: from nss_resolve_unknown, no entry yet; with
 * own_tombstone also the uid of the name's own tombstone), -ENOENT, or -EEXIST with *ret_holder (the
 * name's hash uid is taken: it resolves to nothing; holder "" when a
 * reserved or special uid). */
static int cache_uid(const char *user, bool own_tombstone, uint32_t *ret_uid, bool *ret_pinned,
                     char *holder, size_t holderlen)
{
	struct ts_nsscache_entry e;
	char key[TS_NSSCACHE_NAME_MAX + 8];
	uint32_t uid;
	int r;

	*ret_pinned = false;
	r = ts_nsscache_view_by_name(&vc.view, user, &e);
	if (r == 0 && e.state == TS_NSSCACHE_MEMBER)
		r = -ENOENT; /* a local account's groups: not the cache's user */
	if (r == 0) {
		*ret_uid = e.uid;
		return 0;
	}
	if (r != -ENOENT)
		return r;
	if (!vc.have_regex || regexec(&vc.regex, user, 0, NULL, 0) != 0)
		return -ENOENT;
	r = ts_nsscache_view_unknown_uid(&vc.view, user, ret_uid);
	if (r == -EEXIST) {
		(void)snprintf(key, sizeof(key), "name:%s", user);
		uid = ts_nsscache_hash_uid(vc.view.issuer, key, vc.view.uid_min, vc.view.uid_max);
		holder[0] = '\0';
		*ret_uid = uid;
		if (ts_nsscache_view_by_uid(&vc.view, uid, &e) == 0) {
			/* the name's own tombstone (`keystore forget`): the module
			 * shows nothing meanwhile, and the writer gives the uid
			 * back to the same subject only */
			if (own_tombstone && e.state == TS_NSSCACHE_TOMBSTONE &&
			    strcmp(e.name, user) == 0)
				return 0;
			(void)snprintf(holder, holderlen, "%s", e.name);
		}
	}
	*ret_pinned = r == 0;
	return r;
}

int ts_nss_lookup_uid(const struct ts_config *cfg, const char *user, uint32_t *ret_uid)
{
	char holder[TS_NSSCACHE_NAME_MAX + 1];
	bool pinned;
	int r;

	if (!ts_config_nss_cache_on(cfg) || !ts_nsscache_name_valid(user))
		return -ENOENT;
	pthread_mutex_lock(&vc.lock);
	r = refresh(cfg->nss_cache);
	if (r == 0)
		r = cache_uid(user, false, ret_uid, &pinned, holder, sizeof(holder));
	pthread_mutex_unlock(&vc.lock);
	return r == -EEXIST ? -ENOENT : r;
}

int ts_nss_authorize_uid(const struct ts_config *cfg, const char *user, uint32_t *ret_uid,
                         char *why, size_t whylen)
{
	char holder[TS_NSSCACHE_NAME_MAX + 1], who[TS_NSSCACHE_NAME_MAX * 4 + 1],
	    held[TS_NSSCACHE_NAME_MAX * 4 + 1], uwhy[300];
	bool pinned = false;
	uint32_t uid = 0;
	int r;

	why[0] = '\0';
	if (!ts_config_nss_cache_on(cfg) || !ts_nsscache_name_valid(user))
		return -ENOENT;
	pthread_mutex_lock(&vc.lock);
	r = refresh(cfg->nss_cache);
	if (r == 0)
		r = cache_uid(user, true, &uid, &pinned, holder, sizeof(holder));
	pthread_mutex_unlock(&vc.lock);
	if (r == -EEXIST) {
		ts_sanitize_text(who, sizeof(who), user, strlen(user));
		ts_sanitize_text(held, sizeof(held), holder, strlen(holder));
		snprintf(why, whylen,
		         "%s resolves through nss_resolve_unknown to uid %u, which %s%s holds; "
		         "the uid a name shows is the only one it may sign in with, so this "
		         "sign-in is refused (an administrator can widen nss_uid_min..nss_uid_max "
		         "or give %s a local account)",
		         who, (unsigned)uid, held[0] ? "the cache user " : "another account",
		         held[0] ? held : "", who);
		return TS_E_NOT_SERVED;
	}
	if (r < 0)
		return r;
	/* re-checked at every use: a source may have learned the name since */
	r = ts_nss_name_clash(cfg, user, why, whylen);
	if (r < 0)
		return r;
	if (pinned && ts_nss_uid_clash(uid, uwhy, sizeof(uwhy)) < 0) {
		ts_sanitize_text(who, sizeof(who), user, strlen(user));
		snprintf(why, whylen, "%s resolves through nss_resolve_unknown to uid %u, but %s; "
		                      "refused",
		         who, (unsigned)uid, uwhy);
		return TS_E_NOT_SERVED;
	}
	*ret_uid = uid;
	return 0;
}

int ts_nss_view_groups_same(const struct ts_config *cfg, const char *user,
                            const struct ts_nsscache_group_ref *refs, size_t n)
{
	struct ts_nsscache_entry e;
	struct ts_nsscache_group g;
	int r, same = 0;

	pthread_mutex_lock(&vc.lock);
	if (refresh(cfg->nss_cache) < 0)
		goto out;
	r = ts_nsscache_view_by_name(&vc.view, user, &e);
	if (r == -ENOENT) {
		same = n == 0;
		goto out;
	}
	if (r < 0 || e.n_groups != n)
		goto out;
	/* refs hold no duplicates (the caller's set), so equal sizes and each
	 * stored group found among them means the same set */
	for (uint32_t i = 0; i < e.n_groups; i++) {
		bool found = false;

		if (ts_nsscache_view_user_group(&vc.view, &e, i, &g) < 0)
			goto out;
		for (size_t j = 0; j < n && !found; j++)
			found = strcmp(refs[j].name, g.name) == 0 &&
			        refs[j].local == ((g.flags & TS_NSSCACHE_G_LOCAL) != 0) &&
			        (!refs[j].local || refs[j].gid == g.gid);
		if (!found)
			goto out;
	}
	same = 1;
out:
	pthread_mutex_unlock(&vc.lock);
	return same;
}
