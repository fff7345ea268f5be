/* SPDX-License-Identifier: MIT */
/* The broker's writes and reads of the NSS user cache (see nss_update.h). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nss_update.h"
#include "ts_error.h"
#include "ts_file.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_nsscache.h"

/* Where the local accounts live; fixed, so that the broker's view of them
 * does not depend on any NSS module (tests override nothing here). */
#define TS_NSS_PASSWD_FILE "/etc/passwd"
#define TS_NSS_GROUP_FILE "/etc/group"

static void settings_of(const struct ts_config *cfg, struct ts_nsscache_settings *s)
{
	*s = (struct ts_nsscache_settings){
	    .issuer = cfg->issuer,
	    .uid_min = cfg->nss_uid_min,
	    .uid_max = cfg->nss_uid_max,
	    .gid = cfg->nss_gid,
	    .home_template = cfg->nss_home,
	    .shell = cfg->nss_shell,
	    .resolve_unknown = cfg->nss_resolve_unknown,
	    .reserved_names = cfg->nss_reserved_names,
	};
}

TS_PRINTF(4, 5)
static int warn(const struct ts_config *cfg, const char *user, int r, const char *fmt, ...)
{
	char why[512], who[TS_NAME_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ts_sanitize_text(who, sizeof(who), user, strlen(user));
	ts_log(LOG_WARNING, "broker: NSS user cache %s not updated for %s: %s", cfg->nss_cache, who,
	       why);
	return r;
}

/*
 * The cache's folder must be safe for root to write in (root's, not group-
 * or world-writable, and so every folder above): the same rule
 * ts_config_check_paths applies, checked again here because its verdict
 * on nss_cache is only a warning. A missing folder is checked at its parent
 * (ts_nsscache_lock creates it).
 */
static int folder_safe(const char *path, char *why, size_t whylen)
{
	char dir[TS_PATH_MAX];
	char *slash;
	int r;

	if (ts_strlcpy(dir, path, sizeof(dir)) < 0)
		return -ENAMETOOLONG;
	for (int up = 0; up < 2; up++) {
		slash = strrchr(dir, '/');
		if (!slash)
			return -EINVAL;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		r = ts_path_check_safe(dir, true, why, whylen);
		if (r != -ENOENT)
			return r;
	}
	return r;
}

/* The uids of /etc/passwd and gids of /etc/group inside the range: never
 * handed out (a hashed uid equal to a local one would give two names one
 * owner). Read from the files themselves, not through NSS. Best effort: a
 * file that cannot be read reserves nothing. */
static int reserve_local(struct ts_nsscache *c, const struct ts_config *cfg)
{
	char buf[4096];
	FILE *f;
	int r = 0;

	ts_nsscache_clear_reserved(c);
	f = fopen(TS_NSS_PASSWD_FILE, "re");
	if (f) {
		struct passwd pw, *res;

		while (r >= 0 && fgetpwent_r(f, &pw, buf, sizeof(buf), &res) == 0)
			if (pw.pw_uid >= cfg->nss_uid_min && pw.pw_uid <= cfg->nss_uid_max)
				r = ts_nsscache_reserve_uid(c, pw.pw_uid);
		fclose(f);
	}
	f = fopen(TS_NSS_GROUP_FILE, "re");
	if (f) {
		struct group gr, *res;

		while (r >= 0 && fgetgrent_r(f, &gr, buf, sizeof(buf), &res) == 0)
			if (gr.gr_gid >= cfg->nss_uid_min && gr.gr_gid <= cfg->nss_uid_max)
				r = ts_nsscache_reserve_uid(c, gr.gr_gid);
		fclose(f);
	}
	return r == -ENOSPC ? 0 : r; /* more than the cap: the rest is not reserved */
}

/* Load under the lock; a damaged file is moved aside and the cache rebuilt
 * (the hash gives everyone who had not collided the same uid again). */
static int load_for_write(const struct ts_config *cfg, const char *user,
                          const struct ts_nsscache_settings *s, struct ts_nsscache **ret)
{
	char aside[TS_PATH_MAX + 32];
	int r;

	r = ts_nsscache_load(ret, cfg->nss_cache, s);
	if (r != TS_E_CORRUPT && r != TS_E_TOO_BIG)
		return r;
	(void)snprintf(aside, sizeof(aside), "%s.corrupt-%lld", cfg->nss_cache,
	               (long long)time(NULL));
	if (rename(cfg->nss_cache, aside) < 0)
		return warn(cfg, user, -errno, "the cache is damaged (%s) and could not be moved "
		            "aside: %s", ts_strerror(r), strerror(errno));
	ts_log(LOG_WARNING,
	       "broker: NSS user cache %s was damaged (%s); moved to %s and rebuilt: users "
	       "who had collided or were removed may get other uids",
	       cfg->nss_cache, ts_strerror(r), aside);
	return ts_nsscache_new(ret, s);
}

/*
 * The cache of cfg, locked (its lock fd in *ret_lock) and loaded for a
 * change; for_write: a damaged file is moved aside and rebuilt, and the
 * local accounts' uids are reserved. 0, or -err after the warning.
 */
static int open_locked(const struct ts_config *cfg, const char *user, bool for_write,
                       int *ret_lock, struct ts_nsscache **ret)
{
	_cleanup_(ts_nsscache_freep) struct ts_nsscache *c = NULL;
	struct ts_nsscache_settings s;
	char why[TS_PATH_MAX + 128];
	int r;

	settings_of(cfg, &s);
	r = folder_safe(cfg->nss_cache, why, sizeof(why));
	if (r < 0)
		return warn(cfg, user, r, "refused: %s", why[0] ? why : ts_strerror(r));
	r = ts_nsscache_lock(cfg->nss_cache, TS_NSS_LOCK_TIMEOUT_MS, ret_lock);
	if (r < 0)
		return warn(cfg, user, r, "cannot take its lock %s.lock: %s", cfg->nss_cache,
		            ts_strerror(r));
	/* forget does no rebuild: a damaged file is the next sign-in's to repair */
	r = for_write ? load_for_write(cfg, user, &s, &c) : ts_nsscache_load(&c, cfg->nss_cache, &s);
	if (r < 0)
		return warn(cfg, user, r, "cannot read it: %s", ts_strerror(r));
	if (for_write) {
		r = reserve_local(c, cfg);
		if (r < 0)
			return warn(cfg, user, r, "cannot reserve the local accounts' uids: %s",
			            ts_strerror(r));
	}
	*ret = TS_TAKE_PTR(c);
	return 0;
}

int ts_nss_open_locked(const struct ts_config *cfg, const char *user, int *ret_lock,
                       struct ts_nsscache **ret)
{
	return open_locked(cfg, user, true, ret_lock, ret);
}

/* A name the cache holds that must no longer be published (another source
 * learned it, or it became reserved): its entry becomes a tombstone, so
 * the name stops resolving through the cache and its uid stays taken. */
static bool unpublish(struct ts_nsscache *c, const struct ts_config *cfg, const char *name,
                      const char *why)
{
	char who[TS_NAME_MAX];

	if (ts_nsscache_tombstone(c, name) < 0)
		return false;
	ts_sanitize_text(who, sizeof(who), name, strlen(name));
	ts_log(LOG_WARNING, "broker: NSS user cache %s no longer publishes %s: %s", cfg->nss_cache,
	       who, why);
	return true;
}

int ts_nss_record_login(const struct ts_config *cfg, const char *user, const char *sub,
                        const char *gecos)
{
	_cleanup_(ts_nsscache_freep) struct ts_nsscache *c = NULL;
	_cleanup_close_ int lock = -1;
	char why[600];
	uint32_t uid = 0;
	int clash, r;

	if (!ts_config_nss_cache_on(cfg))
		return 0;
	/* a local account (or any name another source knows, or a reserved
	 * one) signs in as itself: the cache publishes nothing for it */
	clash = ts_nss_name_clash(cfg, user, why, sizeof(why));
	r = open_locked(cfg, user, true, &lock, &c);
	if (r < 0)
		return r;
	if (clash < 0) {
		if (!unpublish(c, cfg, user, why)) {
			ts_log_debug("broker: NSS user cache %s: nothing to publish for this user: %s",
			             cfg->nss_cache, why);
			return 0;
		}
	} else {
		ts_nsscache_set_taken_hook(c, ts_nss_uid_taken_elsewhere, NULL);
		/* a local account of that name is gone: its member entry goes
		 * (the name is the cache's user now; its groups come with the
		 * next answer) */
		(void)ts_nsscache_drop_member(c, user);
		r = ts_nsscache_upsert(c, sub, user, gecos && gecos[0] ? gecos : NULL, &uid);
		if (r == -EINVAL)
			return warn(cfg, user, r,
			            "the name or the subject is not one the cache accepts (names: 1 "
			            "to 255 of A-Z a-z 0-9 . _ - @, not all digits)");
		if (r == TS_E_SUBJECT_PINNED)
			return warn(cfg, user, r,
			            "another subject holds that name in the cache; `tokenseal "
			            "keystore forget` the name first");
		if (r == -EEXIST)
			return warn(cfg, user, r,
			            "the uid nss_resolve_unknown gives the name is taken meanwhile; "
			            "the name resolves to nothing");
		if (r == -ENOSPC)
			return warn(cfg, user, r, "nss_uid_min..nss_uid_max is full; widen the range");
		if (r < 0)
			return warn(cfg, user, r, "%s", ts_strerror(r));
		/* the name is nobody else's, as a group too (name_clash), and
		 * no group the cache publishes has it */
		r = ts_nsscache_set_user_group(c, user,
		                               cfg->nss_gid == 0 && !ts_nsscache_group_known(c, user));
		if (r < 0)
			return warn(cfg, user, r, "%s", ts_strerror(r));
	}
	r = ts_nsscache_save(c, cfg->nss_cache);
	if (r < 0)
		return warn(cfg, user, r, "cannot write it: %s", ts_strerror(r));
	ts_log_debug("broker: NSS user cache %s: uid %u", cfg->nss_cache, (unsigned)uid);
	return 0;
}

/* Every active entry checked again (keystore init, changed settings, a
 * service start): a name another source learned, or that became reserved,
 * is unpublished; the per-user group follows nss_gid. */
static int revet(struct ts_nsscache *c, const struct ts_config *cfg)
{
	struct ts_nsscache_info info;
	const char *name;
	char why[600];
	int r;

	for (size_t i = 0; (name = ts_nsscache_name_at(c, i, &info)) != NULL; i++) {
		char copy[TS_NSSCACHE_NAME_MAX + 1];

		if (info.state != TS_NSSCACHE_ACTIVE)
			continue;
		(void)snprintf(copy, sizeof(copy), "%s", name);
		if (ts_nss_name_clash(cfg, copy, why, sizeof(why)) < 0) {
			(void)unpublish(c, cfg, copy, why);
			continue;
		}
		r = ts_nsscache_set_user_group(c, copy,
		                               cfg->nss_gid == 0 && !ts_nsscache_group_known(c, copy));
		if (r < 0)
			return r;
	}
	return 0;
}

int ts_nss_prepare(const struct ts_config *cfg)
{
	_cleanup_(ts_nsscache_freep) struct ts_nsscache *c = NULL;
	_cleanup_close_ int lock = -1;
	int r;

	if (!ts_config_nss_cache_on(cfg))
		return 0;
	r = open_locked(cfg, "-", true, &lock, &c);
	if (r < 0)
		return r;
	r = revet(c, cfg);
	if (r < 0)
		return warn(cfg, "-", r, "%s", ts_strerror(r));
	r = ts_nsscache_save(c, cfg->nss_cache);
	if (r < 0)
		return warn(cfg, "-", r, "cannot write it: %s", ts_strerror(r));
	return 0;
}

const char *ts_nss_user_state_name(enum ts_nss_user_state s)
{
	switch (s) {
	case TS_NSS_USER_ABSENT:
		return "absent";
	case TS_NSS_USER_ACTIVE:
		return "active";
	case TS_NSS_USER_TOMBSTONE:
		return "tombstone";
	case TS_NSS_USER_OFF:
	default:
		return "off";
	}
}

int ts_nss_forget(const struct ts_config *cfg, const char *user)
{
	_cleanup_(ts_nsscache_freep) struct ts_nsscache *c = NULL;
	_cleanup_close_ int lock = -1;
	int r;

	if (!ts_config_nss_cache_on(cfg))
		return 0;
	r = open_locked(cfg, user, false, &lock, &c);
	if (r < 0)
		return r;
	r = ts_nsscache_tombstone(c, user);
	if (r == -ENOENT)
		return r;
	r = ts_nsscache_save(c, cfg->nss_cache);
	if (r < 0)
		return warn(cfg, user, r, "cannot write it: %s", ts_strerror(r));
	return 0;
}

int ts_nss_describe(const struct ts_config *cfg, const char *user, struct ts_nss_user *ret)
{
	_cleanup_(ts_nsscache_freep) struct ts_nsscache *c = NULL;
	struct ts_nsscache_info info;
	int r;

	if (!ts_config_nss_cache_on(cfg)) {
		*ret = (struct ts_nss_user){.state = TS_NSS_USER_OFF};
		return 0;
	}
	r = ts_nsscache_load(&c, cfg->nss_cache, NULL); /* the file's own settings */
	if (r == -ENOENT) {
		*ret = (struct ts_nss_user){.state = TS_NSS_USER_ABSENT};
		return 0;
	}
	if (r < 0)
		return r;
	r = ts_nsscache_find(c, user, &info);
	if (r == -ENOENT) {
		*ret = (struct ts_nss_user){.state = TS_NSS_USER_ABSENT};
		return 0;
	}
	if (r < 0)
		return r;
	if (info.state == TS_NSSCACHE_MEMBER) { /* a local account's groups only */
		*ret = (struct ts_nss_user){.state = TS_NSS_USER_ABSENT};
		return 0;
	}
	*ret = (struct ts_nss_user){
	    .state = info.state == TS_NSSCACHE_ACTIVE ? TS_NSS_USER_ACTIVE : TS_NSS_USER_TOMBSTONE,
	    .uid = info.uid,
	    .gid = info.gid,
	    .pinned_by_name = info.pinned_by_name,
	};
	return 0;
}

void ts_nss_user_text(const struct ts_nss_user *u, char *buf, size_t len)
{
	switch (u->state) {
	case TS_NSS_USER_ACTIVE:
		(void)snprintf(buf, len, "uid %u, gid %u%s", (unsigned)u->uid, (unsigned)u->gid,
		               u->pinned_by_name ? ", pinned by name (nss_resolve_unknown)" : "");
		break;
	case TS_NSS_USER_TOMBSTONE:
		(void)snprintf(buf, len, "tombstone (uid %u stays taken)", (unsigned)u->uid);
		break;
	case TS_NSS_USER_ABSENT:
		(void)snprintf(buf, len, "not in the NSS user cache");
		break;
	case TS_NSS_USER_OFF:
	default:
		(void)snprintf(buf, len, "NSS user cache off (nss_cache = none)");
		break;
	}
}
