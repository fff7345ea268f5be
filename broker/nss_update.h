/* SPDX-License-Identifier: MIT */
/*
 * The broker's side of the NSS user cache (docs/nss.md): the writes after a
 * sign-in and after `tokenseal keystore forget`, and the read behind
 * `tokenseal status` / `doctor`. Settings come from tokenseal.conf
 * (issuer, nss_cache, nss_uid_min, nss_uid_max, nss_gid, nss_home,
 * nss_shell, nss_resolve_unknown); nss_cache = none turns all of it off.
 *
 * Broker code, run as root: it logs its own warnings (a cache problem is
 * never the sign-in's problem), naming the cache path and the reason.
 */
#ifndef TS_NSS_UPDATE_H
#define TS_NSS_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ts_config.h"
#include "ts_macros.h"

/* How long a writer waits for the cache's lock (another broker's write). */
#define TS_NSS_LOCK_TIMEOUT_MS 5000

/*
 * Record user (the local name the sign-in was for) as the identity
 * provider's subject sub after a successful sign-in: under the cache's
 * lock, load it with the settings of cfg, reserve the uids of /etc/passwd
 * and the gids of /etc/group inside the range (never handed out), upsert,
 * save, unlock. A name another NSS source knows (a local account signing
 * in) or a reserved name is not published: nothing is added, and an active
 * entry of that name becomes a tombstone. New uids are checked against the
 * other sources and the subordinate id ranges (ts_nss_uid_clash). Creates the cache folder (root:root 0755) and the file
 * (root 0644) when absent. gecos: the server's "name" claim, NULL or "" to
 * keep the stored one. A damaged cache (TS_E_CORRUPT, TS_E_TOO_BIG) is
 * moved aside to "<nss_cache>.corrupt-<unix time>" and rebuilt.
 *
 * Returns 0 (also when nss_cache = none: nothing done), or the negative
 * error after logging one LOG_WARNING line ("broker: NSS user cache PATH
 * not updated for USER: WHY; the sign-in itself succeeded"). Callers ignore
 * the result: a cache problem never fails a sign-in.
 */
int ts_nss_record_login(const struct ts_config *cfg, const char *user, const char *sub,
                        const char *gecos) TS_NONNULL(1, 2, 3);

/*
 * `tokenseal keystore forget USER`: turn the user's active entry into a
 * tombstone (the name stops resolving, the uid is never handed out again;
 * the same subject signing in again gets it back). 0, 0 when nss_cache =
 * none, -ENOENT when the cache has no active entry of that name (nothing
 * logged), else the negative error after one LOG_WARNING line.
 */
int ts_nss_forget(const struct ts_config *cfg, const char *user) TS_NONNULL(1, 2);

enum ts_nss_user_state {
	TS_NSS_USER_OFF = 0,   /* nss_cache = none */
	TS_NSS_USER_ABSENT,    /* no entry of that name (or no cache file yet) */
	TS_NSS_USER_ACTIVE,    /* resolves */
	TS_NSS_USER_TOMBSTONE, /* removed: does not resolve, uid kept taken */
};

struct ts_nss_user {
	enum ts_nss_user_state state;
	uint32_t uid, gid;   /* ACTIVE and TOMBSTONE only */
	bool pinned_by_name; /* the uid came from nss_resolve_unknown's name hash */
};

/*
 * What the cache says about user, read without the lock (for `tokenseal
 * status` and `doctor`). 0 with *ret filled (OFF, ABSENT, ACTIVE or
 * TOMBSTONE), or a negative error (damaged or unreadable cache: TS_E_CORRUPT,
 * TS_E_BAD_OWNER, ...; *ret untouched). Logs nothing.
 */
int ts_nss_describe(const struct ts_config *cfg, const char *user, struct ts_nss_user *ret)
    TS_WUR TS_NONNULL(1, 2, 3);

/*
 * The uid the module shows for user, read from the cache (without the
 * lock): its active entry's, else, when user matches the file's
 * nss_resolve_unknown, the uid its first sign-in will record
 * (ts_nsscache_view_unknown_uid). For a broker that must authorise a user
 * who exists only at the identity provider (its own getpwnam, with
 * _TOKENSEAL_NSS_LOOP set, never asks the cache). 0, -ENOENT (not in the
 * cache and no match, a tombstone, or the cache off or absent), or a
 * negative error (damaged or unsafe file). Logs nothing.
 */
int ts_nss_lookup_uid(const struct ts_config *cfg, const char *user, uint32_t *ret_uid)
    TS_WUR TS_NONNULL(1, 2, 3);

/* One line for humans: "uid 1234567, gid 1234567", "uid 1234567, gid
 * 1234567, pinned by name (nss_resolve_unknown)", "tombstone (uid 1234567
 * stays taken)", "not in the NSS user cache", "NSS user cache off
 * (nss_cache = none)". Always NUL-terminates (len > 0). */
void ts_nss_user_text(const struct ts_nss_user *u, char *buf, size_t len) TS_NONNULL(1, 2);

/* The NSS cache's short state names for `tokenseal status --json`: "off",
 * "absent", "active", "tombstone". */
const char *ts_nss_user_state_name(enum ts_nss_user_state s);

/*
 * Write the cache with the configuration's settings and no new user
 * (`tokenseal keystore init`): nss_resolve_unknown lives in the file, so a
 * host needs one before its first sign-in for unknown names to resolve.
 * Keeps every entry of an existing cache. 0 (also when off), or -err after
 * a warning, like ts_nss_record_login.
 */
int ts_nss_prepare(const struct ts_config *cfg) TS_NONNULL(1);

/* ts_nss_prepare only when the cache is absent, unreadable, or was written
 * by an older version or with other settings than cfg's (an administrator
 * changed nss_*). The file is read only when it changed since the last
 * call in this process (nss_view.c). */
int ts_nss_prepare_if_stale(const struct ts_config *cfg) TS_NONNULL(1);

/*
 * The broker's authorisation of a name no other source knows (serve.c's
 * authorize_cached): the uid the cache shows for user, every check made
 * again now. 0 with *ret_uid; -ENOENT when the cache does not publish the
 * name (no entry, no nss_resolve_unknown match, off); TS_E_NOT_SERVED with
 * why filled (the message for the caller) when tokenseal would publish it
 * but may not: a reserved name, a name another NSS source knows as a user
 * or a group, a nss_resolve_unknown uid taken in the cache (the shown uid is
 * the only one a name signs in with: no second choice), or one another
 * source or a subordinate id range holds. Reads the file only when it
 * changed (like ts_nss_prepare_if_stale). Logs nothing.
 */
int ts_nss_authorize_uid(const struct ts_config *cfg, const char *user, uint32_t *ret_uid,
                         char *why, size_t whylen) TS_WUR TS_NONNULL(1, 2, 3, 4);

/* How many times this process read the cache file for ts_nss_lookup_uid,
 * ts_nss_authorize_uid and ts_nss_prepare_if_stale (tests). */
unsigned long ts_nss_view_reads(void);

/* ---- namespace checks (nss_check.c): other NSS sources, with the
 * broker's own _TOKENSEAL_NSS_LOOP guard keeping libnss_tokenseal out ---- */

/* Whether the cache may publish name (as a user and as its per-user
 * group): 0, or TS_E_NOT_SERVED with why naming the clash (the built-in
 * list, nss_reserved_names, another source's user or group, or a source
 * that failed to answer: fail closed). */
int ts_nss_name_clash(const struct ts_config *cfg, const char *name, char *why, size_t len)
    TS_NONNULL(1, 2, 3);

/* Whether uid is free for the cache: no other source's uid or gid, in no
 * range of /etc/subuid or /etc/subgid. 0 or TS_E_NOT_SERVED with why. */
int ts_nss_uid_clash(uint32_t uid, char *why, size_t len) TS_NONNULL(2);

/* ts_nss_uid_clash as the writer's taken hook (ctx unused). */
bool ts_nss_uid_taken_elsewhere(void *ctx, uint32_t uid);

/* Another source's group / user called name: 1 with its id, 0 when none
 * has it, -errno when a source failed. */
int ts_nss_other_gid(const char *name, uint32_t *ret_gid) TS_NONNULL(1, 2);
int ts_nss_other_uid(const char *name, uint32_t *ret_uid) TS_NONNULL(1, 2);


/* ---- groups (nss_groups.c) ---- */

/*
 * The identity provider groups of user, from a server answer that vouched
 * for user (the engine calls it after every such answer; groups are the raw
 * values of groups_claim, already checked to be strings; n = 0 / groups =
 * NULL publishes none: needs-login, signed-out, refused). Each value that
 * group_map maps to a local group (another NSS source has it) gives the user
 * that group's gid through initgroups; one it maps to a name nobody has, or
 * (nss_groups = all) any other value, is published by the cache under that
 * name with a stored gid, unless the name is reserved or another source
 * knows it. nss_groups = none publishes none. Works for local accounts too
 * (a member entry). Writes only when the stored set differs (compared on
 * the kept view, without the lock). Never fails the use: 0, or -err after
 * one LOG_WARNING ("broker: NSS user cache PATH: groups of USER not updated:
 * WHY").
 */
int ts_nss_record_groups(const struct ts_config *cfg, const char *user, const char *const *groups,
                         size_t n);

/* nss_update.c: the cache locked and loaded for a change (a damaged file
 * rebuilt, the local uids reserved), like the other writes; 0 or -err after
 * the warning. Release: close *ret_lock, free *ret. */
struct ts_nsscache;
int ts_nss_open_locked(const struct ts_config *cfg, const char *user, int *ret_lock,
                       struct ts_nsscache **ret) TS_NONNULL(1, 2, 3, 4);

/* nss_view.c: whether the kept view already holds exactly this set of
 * groups for user (an absent user holds none). 1 same, 0 differs or
 * unknown. */
struct ts_nsscache_group_ref;
int ts_nss_view_groups_same(const struct ts_config *cfg, const char *user,
                            const struct ts_nsscache_group_ref *refs, size_t n) TS_NONNULL(1, 2);

#endif
