/* SPDX-License-Identifier: MIT */
/*
 * The broker's namespace checks for the NSS user cache (docs/nss.md,
 * "Names and uids nobody else has"): a name the cache would publish must be
 * on no reserved list and unknown to every other NSS source, as a user and
 * as a group; a uid it would hand out must be no other source's uid or gid
 * and outside every /etc/subuid and /etc/subgid range.
 *
 * "Other sources" are the broker's own getpwnam/getgrnam: the broker runs
 * with _TOKENSEAL_NSS_LOOP set (broker/main.c), so libnss_tokenseal answers
 * nothing in here and every other module in nsswitch.conf (files, sss,
 * ldap, systemd, ...) is asked.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nss_update.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_nsscache.h"

#define TS_NSS_SUBUID_FILE "/etc/subuid"
#define TS_NSS_SUBGID_FILE "/etc/subgid"

/* name for a message: control characters made harmless */
static void shown(char *out, size_t len, const char *name)
{
	ts_sanitize_text(out, len, name, strnlen(name, TS_NSSCACHE_NAME_MAX + 1));
}

/* getpwnam_r / getgrnam_r with a buffer that grows on ERANGE: 1 found, 0
 * not found, -errno when the source failed (counted as known by callers:
 * fail closed). */
static int lookup(const char *name, uint32_t id, bool by_id, bool group, uint32_t *ret_id)
{
	size_t len = 4096;

	for (int tries = 0; tries < 6; tries++, len *= 4) {
		char *buf = malloc(len);
		struct passwd pw, *pres = NULL;
		struct group gr, *gres = NULL;
		int e;

		if (!buf)
			return -ENOMEM;
		errno = 0;
		if (group)
			e = by_id ? getgrgid_r((gid_t)id, &gr, buf, len, &gres)
			          : getgrnam_r(name, &gr, buf, len, &gres);
		else
			e = by_id ? getpwuid_r((uid_t)id, &pw, buf, len, &pres)
			          : getpwnam_r(name, &pw, buf, len, &pres);
		if (e == 0 && (pres || gres)) {
			if (ret_id)
				*ret_id = group ? (uint32_t)gres->gr_gid : (uint32_t)pres->pw_uid;
			free(buf);
			return 1;
		}
		free(buf);
		if (e == ERANGE)
			continue;
		/* not found: 0 with no result, or one of the "unknown" errnos */
		if (e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
			return 0;
		return -e;
	}
	return -ERANGE; /* over 4 MiB: an answer that large counts as known */
}

int ts_nss_name_clash(const struct ts_config *cfg, const char *name, char *why, size_t len)
{
	char who[TS_NSSCACHE_NAME_MAX * 4 + 1];
	uint32_t id = 0;
	int r;

	shown(who, sizeof(who), name);
	if (ts_nsscache_name_reserved(name, NULL)) {
		snprintf(why, len,
		         "the name %s is on tokenseal's built-in list of system and privileged "
		         "names; the NSS user cache never publishes it",
		         who);
		return TS_E_NOT_SERVED;
	}
	if (ts_nsscache_name_reserved(name, cfg->nss_reserved_names)) {
		snprintf(why, len, "the name %s is reserved by nss_reserved_names; the NSS user "
		                   "cache never publishes it",
		         who);
		return TS_E_NOT_SERVED;
	}
	for (int group = 0; group < 2; group++) {
		r = lookup(name, 0, false, group, &id);
		if (r > 0) {
			snprintf(why, len,
			         "the name %s is already a %s on this host (%s %u from another NSS "
			         "source); the NSS user cache never publishes a name another source "
			         "knows",
			         who, group ? "group" : "user", group ? "gid" : "uid", (unsigned)id);
			return TS_E_NOT_SERVED;
		}
		if (r < 0) {
			snprintf(why, len,
			         "cannot tell whether another NSS source knows the name %s as a %s "
			         "(%s); refused until it answers",
			         who, group ? "group" : "user", strerror(-r));
			return TS_E_NOT_SERVED;
		}
	}
	return 0;
}

int ts_nss_uid_clash(uint32_t uid, char *why, size_t len)
{
	uint32_t id;

	for (int group = 0; group < 2; group++) {
		int r = lookup(NULL, uid, true, group, &id);

		if (r != 0) {
			snprintf(why, len, "%s %u %s", group ? "gid" : "uid", (unsigned)uid,
			         r > 0 ? "already belongs to another NSS source"
			               : "cannot be checked against the other NSS sources");
			return TS_E_NOT_SERVED;
		}
	}
	if (ts_nsscache_subid_has(TS_NSS_SUBUID_FILE, uid) ||
	    ts_nsscache_subid_has(TS_NSS_SUBGID_FILE, uid)) {
		snprintf(why, len, "uid %u lies in a subordinate id range of %s or %s", (unsigned)uid,
		         TS_NSS_SUBUID_FILE, TS_NSS_SUBGID_FILE);
		return TS_E_NOT_SERVED;
	}
	return 0;
}

bool ts_nss_uid_taken_elsewhere(void *ctx, uint32_t uid)
{
	char why[200];

	(void)ctx;
	return ts_nss_uid_clash(uid, why, sizeof(why)) < 0;
}

int ts_nss_other_gid(const char *name, uint32_t *ret_gid)
{
	return lookup(name, 0, false, true, ret_gid);
}

int ts_nss_other_uid(const char *name, uint32_t *ret_uid)
{
	return lookup(name, 0, false, false, ret_uid);
}
