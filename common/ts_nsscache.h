/* SPDX-License-Identifier: MIT */
/*
 * The NSS user cache: the file libnss_tokenseal.so.2 answers passwd and group
 * lookups from, and the broker rewrites after each login. libc only, no
 * global state: the module links the reader, the broker the writer.
 *
 * The file holds nothing /etc/passwd would not (world-readable, no secrets)
 * and everything the module needs, so the module never reads tokenseal.conf.
 * Format v2 (the reader also takes v1), every integer little-endian, every
 * offset from the file start (see docs/nss.md for the table):
 *   header (128 bytes): magic, version, header size, total size, generation,
 *     uid_min, uid_max, gid (0 = a per-user group with gid = uid), counts,
 *     table offsets, and string refs for the issuer, home template, shell,
 *     the nss_resolve_unknown regex ("" = off) and (v2) nss_reserved_names
 *   entries:    n_entries fixed records (80 bytes in v1, 96 in v2: uid, gid,
 *               state, flags, subject hash, string refs for name, gecos, home,
 *               shell; v2: the slice of user links holding its groups)
 *   name index: n_active u32 entry numbers, active and member entries sorted
 *               by name
 *   uid index:  n_entries u32 entry numbers, all entries sorted by uid
 *   reserved:   n_reserved sorted u32 uids never to hand out (local accounts)
 *   (v2) groups: n_groups 24-byte records (gid, flags, name ref, the slice of
 *               group links holding its members), a name index and a gid
 *               index (n_groups u32 group numbers each), user links (u32
 *               group numbers) and group links (u32 entry numbers), n_links
 *               each
 *   strings:    NUL-terminated strings; a ref is (offset into strings, length)
 * The reader checks the header once and every offset, index and string at
 * each step, so a damaged file gives TS_E_CORRUPT, never an out-of-bounds read.
 *
 * UIDs: SHA-256("tokenseal-nss-uid" NUL issuer NUL key), its first 8 bytes as
 * a big-endian integer modulo the range size, plus uid_min; key is the
 * subject, or "name:" + name for a name nss_resolve_unknown matches. A name
 * nss_resolve_unknown matches has exactly that uid or none (v2: no probing,
 * so the uid shown before a sign-in cannot move to someone else meanwhile;
 * a taken slot makes the name unresolvable and its sign-in refused). For
 * other names a taken uid (any entry, active or tombstone, a reserved uid,
 * 65534, 65535, 4294967295, or what the writer's taken hook says) moves to
 * the next one, wrapping from uid_max to uid_min. The assignment is
 * remembered in the file.
 *
 * Names: a name on the built-in list of system and privileged names or in
 * the file's nss_reserved_names is never published (ts_nsscache_name_reserved);
 * whether another NSS source knows a name is the broker's check at each
 * write and the module's at each lookup (docs/nss.md).
 */
#ifndef TS_NSSCACHE_H
#define TS_NSSCACHE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ts_macros.h"

/* The cache the module reads, outside the root-only keystore folder. The
 * folder is root 0755, the file root 0644. */
#define TS_NSSCACHE_DIR "/var/lib/tokenseal-nss"
#define TS_NSSCACHE_PATH TS_NSSCACHE_DIR "/users.cache"
/* Read with secure_getenv() by the module only (never in AT_SECURE processes). */
#define TS_NSSCACHE_ENV "TOKENSEAL_NSS_CACHE"
/* Set by the broker: the module then answers NOTFOUND at once. */
#define TS_NSS_LOOP_ENV "_TOKENSEAL_NSS_LOOP"

#define TS_NSSCACHE_VERSION 2
#define TS_NSSCACHE_VERSION_MIN 1 /* the oldest the reader takes */
#define TS_NSSCACHE_HEADER_SIZE 160    /* v2; v1: 128 */
#define TS_NSSCACHE_HEADER_SIZE_V1 128
#define TS_NSSCACHE_ENTRY_SIZE 96      /* v2; v1: 80 */
#define TS_NSSCACHE_ENTRY_SIZE_V1 80
#define TS_NSSCACHE_GROUP_SIZE 24
#define TS_NSSCACHE_MAX_GROUPS 100000u      /* group records in a file */
#define TS_NSSCACHE_MAX_USER_GROUPS 1024u   /* groups of one user */
#define TS_NSSCACHE_MAX_LINKS 4000000u      /* user-group memberships in a file */
#define TS_NSSCACHE_MAX_SIZE (64u * 1024u * 1024u)
#define TS_NSSCACHE_MAX_ENTRIES 500000u
#define TS_NSSCACHE_MAX_RESERVED 100000u
#define TS_NSSCACHE_NAME_MAX 255  /* user name */
#define TS_NSSCACHE_GECOS_MAX 255 /* longer names are cut at a UTF-8 boundary */
#define TS_NSSCACHE_PATH_MAX 1024 /* home, shell, home template */
#define TS_NSSCACHE_ISSUER_MAX 2048
#define TS_NSSCACHE_REGEX_MAX 1024
#define TS_NSSCACHE_RESERVED_NAMES_MAX 4096 /* nss_reserved_names, as stored */
#define TS_NSSCACHE_SUBJECT_MAX 1024
#define TS_NSSCACHE_HASH_BYTES 32

/* Above SSSD's and himmelblau's idmap default (200000..2000200000) and
 * systemd's container range (524288..1879048191), below the foreign range
 * (2147352576..) and 2^31 (docs/nss.md, "Choosing the uid range"). */
#define TS_NSSCACHE_UID_MIN_DEFAULT 2001000000u
#define TS_NSSCACHE_UID_MAX_DEFAULT 2146999999u
#define TS_NSSCACHE_HOME_DEFAULT "/home/%u"
#define TS_NSSCACHE_SHELL_DEFAULT "/bin/bash"

enum ts_nsscache_state {
	TS_NSSCACHE_ACTIVE = 1,
	TS_NSSCACHE_TOMBSTONE = 2, /* removed: the name is gone, the uid stays taken */
	TS_NSSCACHE_MEMBER = 3,    /* (v2) a local account: never published as a user, only
	                            * its groups (initgroups, group members); uid = the local one */
};

/* group flags */
#define TS_NSSCACHE_G_LOCAL 1u /* the name of a group another source has (group_map to a local
                                * group): its gid reaches members through initgroups only; the
                                * module never answers the group itself */

/* entry flags */
#define TS_NSSCACHE_F_BY_NAME 1u /* the uid came from the nss_resolve_unknown name hash */
#define TS_NSSCACHE_F_GROUP 2u   /* its per-user group (gid = uid) is published under its name */

/* What the broker takes from tokenseal.conf. Strings are copied. */
struct ts_nsscache_settings {
	const char *issuer;          /* required */
	uint32_t uid_min, uid_max;   /* 1 <= uid_min <= uid_max */
	uint32_t gid;                /* 0: per-user group, gid = uid; else every user's gid */
	const char *home_template;   /* absolute; %u = user name, %U = uid, %% = % */
	const char *shell;           /* absolute */
	const char *resolve_unknown; /* POSIX ERE matched against the whole name; NULL/"" = off */
	const char *reserved_names;  /* nss_reserved_names: names (a trailing '*' = a prefix)
	                              * separated by ',' or blanks; NULL/"" = none */
};

/* ---- names, hashing, regex (shared by reader and writer) ---- */

/* A user name the cache accepts: 1..TS_NSSCACHE_NAME_MAX bytes of
 * [A-Za-z0-9._@-], not starting with '-' or '.', not all digits. */
bool ts_nsscache_name_valid(const char *name) TS_NONNULL(1);

/*
 * Whether name may never be published: the built-in list of system and
 * privileged names (root, sudo, wheel, admin, adm, staff, shadow, disk,
 * docker, lxd, Debian's and Fedora's base users and groups, ...; see
 * docs/nss.md), any name starting with "systemd-" or "_", or a name in
 * extra (the nss_reserved_names syntax above; NULL = none). Exact match;
 * ASCII letters compare case-insensitively.
 */
bool ts_nsscache_name_reserved(const char *name, const char *extra) TS_NONNULL(1);

/* Whether list is a valid nss_reserved_names value (every item a name
 * ts_nsscache_name_valid accepts, optionally ending in '*'; at most
 * TS_NSSCACHE_RESERVED_NAMES_MAX bytes). */
bool ts_nsscache_reserved_list_valid(const char *list) TS_NONNULL(1);

/* group_map: "IDP-GROUP = LOCAL-NAME, ..." (commas between items, blanks
 * around each side dropped, the identity provider value matched exactly,
 * each listed once, the local name valid). */
bool ts_nsscache_group_map_valid(const char *map) TS_NONNULL(1);

/* The local name value maps to (copied into out): true, or false when the
 * map has no such value (or the name does not fit). */
bool ts_nsscache_group_map_lookup(const char *map, const char *value, char *out, size_t outlen)
    TS_NONNULL(1, 2, 3);

/* The first uid of the probe sequence for (issuer, key) in [uid_min, uid_max]. */
uint32_t ts_nsscache_hash_uid(const char *issuer, const char *key, uint32_t uid_min,
                              uint32_t uid_max) TS_NONNULL(1, 2);

/* Compile ere anchored at both ends ("^(ere)$", REG_EXTENDED|REG_NOSUB).
 * 0, -EINVAL (does not compile or too long) or -ENOMEM. Free with regfree(). */
int ts_nsscache_regex_compile(regex_t *ret, const char *ere) TS_WUR TS_NONNULL(1, 2);

/* What the writer accepts as settings (and tokenseal.conf's nss_home and
 * nss_shell): absolute, at most TS_NSSCACHE_PATH_MAX bytes, no control
 * character or ':'; '%' in a template only as %u, %U or %%, never in a
 * shell. */
bool ts_nsscache_home_template_valid(const char *tpl) TS_NONNULL(1);
bool ts_nsscache_shell_valid(const char *shell) TS_NONNULL(1);

/* The home folder for name/uid from a template (%u name, %U uid, %% '%').
 * 0 or -ENAMETOOLONG (out is then undefined). */
int ts_nsscache_expand_home(char *out, size_t outlen, const char *tpl, const char *name,
                            uint32_t uid) TS_WUR TS_NONNULL(1, 3, 4);

/* ---- reader: a view over a whole file in memory (an mmap) ---- */

struct ts_nsscache_view {
	const uint8_t *base;
	size_t size;
	uint64_t generation;
	uint32_t uid_min, uid_max, gid;
	uint32_t n_entries, n_active, n_reserved;
	uint32_t entries_off, name_index_off, uid_index_off, reserved_off;
	uint32_t header_size, entry_size;
	uint32_t n_groups, groups_off, group_name_index_off, group_gid_index_off; /* v2 */
	uint32_t n_links, user_links_off, group_links_off;                         /* v2 */
	uint32_t strings_off, strings_size;
	uint32_t version;
	const char *issuer, *home_template, *shell, *resolve_unknown; /* point into base */
	const char *reserved_names; /* "" in a v1 file */
};

struct ts_nsscache_entry {
	uint32_t uid, gid;
	enum ts_nsscache_state state;
	uint32_t flags; /* TS_NSSCACHE_F_*; a v1 entry: F_GROUP unless nss_gid is set */
	const uint8_t *subject_hash; /* TS_NSSCACHE_HASH_BYTES */
	/* NUL-terminated, pointing into the view's memory */
	const char *name, *gecos, *home, *shell;
	size_t name_len, gecos_len, home_len, shell_len;
	uint32_t groups_first, n_groups; /* its slice of the user links (v2) */
};

struct ts_nsscache_group {
	uint32_t number; /* in the file's group table */
	uint32_t gid, flags;
	const char *name;
	size_t name_len;
	uint32_t members_first, n_members; /* its slice of the group links */
};

/* Check the header and the bounds of every table. data must stay mapped for
 * as long as the view is used. 0 or TS_E_CORRUPT / TS_E_TOO_BIG. */
int ts_nsscache_view_open(struct ts_nsscache_view *ret, const void *data, size_t size) TS_WUR
    TS_NONNULL(1);

/* The active (or member: a local account's groups) entry called name; the
 * caller checks the state. 0, -ENOENT or TS_E_CORRUPT. */
int ts_nsscache_view_by_name(const struct ts_nsscache_view *v, const char *name,
                             struct ts_nsscache_entry *ret) TS_WUR TS_NONNULL(1, 2, 3);

/* The entry (active or tombstone) holding uid: 0, -ENOENT or TS_E_CORRUPT. */
int ts_nsscache_view_by_uid(const struct ts_nsscache_view *v, uint32_t uid,
                            struct ts_nsscache_entry *ret) TS_WUR TS_NONNULL(1, 3);

/* Entry number i in uid order (0 <= i < n_entries), any state. */
int ts_nsscache_view_at(const struct ts_nsscache_view *v, uint32_t i,
                        struct ts_nsscache_entry *ret) TS_WUR TS_NONNULL(1, 3);

/* Group number k of the file: 0 or TS_E_CORRUPT (-ENOENT past the end). */
int ts_nsscache_view_group_at(const struct ts_nsscache_view *v, uint32_t k,
                              struct ts_nsscache_group *ret) TS_WUR TS_NONNULL(1, 3);

/* The group called name / holding gid: 0, -ENOENT or TS_E_CORRUPT. */
int ts_nsscache_view_group_by_name(const struct ts_nsscache_view *v, const char *name,
                                   struct ts_nsscache_group *ret) TS_WUR TS_NONNULL(1, 2, 3);
int ts_nsscache_view_group_by_gid(const struct ts_nsscache_view *v, uint32_t gid,
                                  struct ts_nsscache_group *ret) TS_WUR TS_NONNULL(1, 3);

/* Group i (0 <= i < e->n_groups) of entry e, and member i of group g: 0,
 * -ENOENT past the end, TS_E_CORRUPT. */
int ts_nsscache_view_user_group(const struct ts_nsscache_view *v,
                                const struct ts_nsscache_entry *e, uint32_t i,
                                struct ts_nsscache_group *ret) TS_WUR TS_NONNULL(1, 2, 4);
int ts_nsscache_view_group_member(const struct ts_nsscache_view *v,
                                  const struct ts_nsscache_group *g, uint32_t i,
                                  struct ts_nsscache_entry *ret) TS_WUR TS_NONNULL(1, 2, 4);

/* Member i of group g, its state and name only (what a group answer
 * shows; the member's other strings are not looked at, which halves the
 * cost of a large group): 0, -ENOENT past the end, TS_E_CORRUPT. The name
 * is checked as view_group_member checks it, and *ret_state, *ret_name,
 * *ret_len are untouched on failure. */
int ts_nsscache_view_group_member_name(const struct ts_nsscache_view *v,
                                       const struct ts_nsscache_group *g, uint32_t i,
                                       enum ts_nsscache_state *ret_state, const char **ret_name,
                                       size_t *ret_len) TS_WUR TS_NONNULL(1, 2, 4, 5, 6);

/* Whether uid may not be handed out: held by an entry, reserved, or special.
 * A damaged table counts as taken. */
bool ts_nsscache_view_uid_taken(const struct ts_nsscache_view *v, uint32_t uid) TS_NONNULL(1);

/* The uid nss_resolve_unknown shows for a name without an entry:
 * hash(issuer, "name:" + name), no probing. Does not check the regex nor
 * other NSS sources (the caller does). 0, -EINVAL (invalid name), -EEXIST
 * (that uid is taken in the view: the name resolves to nothing). */
int ts_nsscache_view_unknown_uid(const struct ts_nsscache_view *v, const char *name,
                                 uint32_t *ret_uid) TS_WUR TS_NONNULL(1, 2, 3);

/* ---- writer (the broker, as root) ---- */

struct ts_nsscache;

struct ts_nsscache_info {
	uint32_t uid, gid;
	enum ts_nsscache_state state;
	bool pinned_by_name; /* the uid came from the nss_resolve_unknown name hash */
	bool user_group;     /* its per-user group is published */
};

/* An empty cache with these settings (validated: -EINVAL). */
int ts_nsscache_new(struct ts_nsscache **ret, const struct ts_nsscache_settings *s) TS_WUR
    TS_NONNULL(1, 2);

/* Load path. A missing file gives an empty cache (generation 0). s replaces
 * the file's settings; s == NULL keeps the file's (then a missing file is
 * -ENOENT). Errors: TS_E_CORRUPT / TS_E_TOO_BIG (the file is left alone; the
 * caller decides, see docs/nss.md), TS_E_BAD_OWNER, TS_E_BAD_MODE,
 * TS_E_NOT_REGULAR, -EINVAL (bad settings), -errno. */
int ts_nsscache_load(struct ts_nsscache **ret, const char *path,
                     const struct ts_nsscache_settings *s) TS_WUR TS_NONNULL(1, 2);

/* Parse a whole file image (what load does after reading). */
int ts_nsscache_parse(struct ts_nsscache **ret, const void *data, size_t size,
                      const struct ts_nsscache_settings *s) TS_WUR TS_NONNULL(1);

struct ts_nsscache *ts_nsscache_free(struct ts_nsscache *c);
void ts_nsscache_freep(struct ts_nsscache **c);

/* Replace the settings (entries keep their uids even outside a new range). */
int ts_nsscache_set_settings(struct ts_nsscache *c, const struct ts_nsscache_settings *s) TS_WUR
    TS_NONNULL(1, 2);

/* uids never to hand out (accounts of /etc/passwd, gids of /etc/group). They
 * are stored in the file, so the module's nss_resolve_unknown skips them too. */
int ts_nsscache_reserve_uid(struct ts_nsscache *c, uint32_t uid) TS_WUR TS_NONNULL(1);
void ts_nsscache_clear_reserved(struct ts_nsscache *c) TS_NONNULL(1);

/* What else makes a uid taken for the writer (the broker: other NSS
 * sources, /etc/subuid and /etc/subgid ranges). NULL = nothing else. */
void ts_nsscache_set_taken_hook(struct ts_nsscache *c, bool (*taken)(void *ctx, uint32_t uid),
                                void *ctx) TS_NONNULL(1);

/* Record (issuer, sub) as name after a login and return its uid.
 *  - sub seen before (active or tombstone): same uid; the name and gecos are
 *    updated, a tombstone comes back to life;
 *  - new sub: if nss_resolve_unknown matches name, exactly the uid the
 *    module shows for the name (hash(issuer, "name:" + name)), -EEXIST when
 *    that uid is taken (by the cache or the taken hook); else the probe of
 *    hash(issuer, sub);
 * gecos NULL keeps the stored one (control characters and ':' become ' ',
 * over TS_NSSCACHE_GECOS_MAX bytes is cut). The entry's per-user group flag
 * is left as it was (a new entry: on when the settings' gid is 0). Errors: -EINVAL (invalid name or
 * subject), TS_E_SUBJECT_PINNED (another subject holds that name), -EEXIST,
 * -ENOSPC (range full), -ENOMEM. *ret_uid may be NULL. */
int ts_nsscache_upsert(struct ts_nsscache *c, const char *sub, const char *name, const char *gecos,
                       uint32_t *ret_uid) TS_WUR TS_NONNULL(1, 2, 3);

/* Publish (or not) the per-user group of the active entry called name: 0
 * or -ENOENT. */
int ts_nsscache_set_user_group(struct ts_nsscache *c, const char *name, bool on) TS_WUR
    TS_NONNULL(1, 2);

/* The name of the i-th entry in uid order (any state) and what it holds;
 * NULL past the end. The string lives as long as the entry. */
const char *ts_nsscache_name_at(const struct ts_nsscache *c, size_t i,
                                struct ts_nsscache_info *ret) TS_NONNULL(1, 3);

/* ---- groups (v2) ---- */

/* One group of a user, as the broker decided it: a local group (gid from
 * the other sources, TS_NSSCACHE_G_LOCAL) or one the cache publishes under
 * name (gid 0: the cache's stored gid, or a new one hashed from
 * "group:" + name over the free uids and gids, never rehashed). */
struct ts_nsscache_group_ref {
	const char *name;
	bool local;
	uint32_t gid; /* local only */
};

/* A local account (another source knows it) whose groups the cache carries:
 * create or refresh its member entry (uid = its local uid). Fails with
 * -EEXIST when an active entry has that name (the caller tombstones it
 * first) or another entry holds that uid. */
int ts_nsscache_set_member(struct ts_nsscache *c, const char *name, uint32_t uid) TS_WUR
    TS_NONNULL(1, 2);

/* Replace the groups of the active or member entry called name (n may be
 * 0). 1 when that changed something, 0 when the stored set was the same,
 * -ENOENT (no such entry), -E2BIG (over TS_NSSCACHE_MAX_USER_GROUPS, or the
 * file's group or link bounds), -ENOSPC (no gid free), -EINVAL (a name the
 * cache does not accept), -EEXIST (a published group name whose stored gid
 * another source took: its caller's hook says so). */
int ts_nsscache_set_groups(struct ts_nsscache *c, const char *name,
                           const struct ts_nsscache_group_ref *groups, size_t n) TS_WUR
    TS_NONNULL(1, 2);

/* Drop the member entry called name (the name became the cache's own user,
 * or its local account is gone): 0 or -ENOENT. */
int ts_nsscache_drop_member(struct ts_nsscache *c, const char *name) TS_NONNULL(1, 2);

/* Whether the cache publishes a group called name (not a local one). */
bool ts_nsscache_group_known(const struct ts_nsscache *c, const char *name) TS_NONNULL(1, 2);

/* Turn the active entry called name into a tombstone: 0 or -ENOENT. */
int ts_nsscache_tombstone(struct ts_nsscache *c, const char *name) TS_WUR TS_NONNULL(1, 2);

/* What the cache holds for name (the active entry, else the newest tombstone
 * of that name): 0 or -ENOENT. For `tokenseal status` and `doctor`. */
int ts_nsscache_find(const struct ts_nsscache *c, const char *name,
                     struct ts_nsscache_info *ret) TS_WUR TS_NONNULL(1, 2, 3);

size_t ts_nsscache_count(const struct ts_nsscache *c, enum ts_nsscache_state state) TS_NONNULL(1);
uint64_t ts_nsscache_generation(const struct ts_nsscache *c) TS_NONNULL(1);

/* The file image of the cache (generation as stored). Free with free(). */
int ts_nsscache_serialize(const struct ts_nsscache *c, uint8_t **ret_buf, size_t *ret_len) TS_WUR
    TS_NONNULL(1, 2, 3);

/* Bump the generation and replace path atomically (ts_atomic_write: temp file
 * in the same folder, fsync, rename, fsync the folder), mode 0644, owner
 * unchanged (the broker runs as root). The folder is created 0755 when
 * missing (its parent must exist). Readers keep their old mapping. */
int ts_nsscache_save(struct ts_nsscache *c, const char *path) TS_WUR TS_NONNULL(1, 2);

/* Serialise load, change and save between broker processes (exec mode and
 * daemon mode may both write): an exclusive flock(2) on "<path>.lock"
 * (created root 0600; the folder 0755 when missing). Waits up to timeout_ms
 * (0: try once; < 0: forever). 0 with *ret_fd the lock (release: close it),
 * TS_E_LOCK_TIMEOUT, or -errno. */
int ts_nsscache_lock(const char *path, int timeout_ms, int *ret_fd) TS_WUR TS_NONNULL(1, 3);

/* Whether uid lies in a range of a subordinate id file (/etc/subuid,
 * /etc/subgid: "name:start:count" lines); a file that cannot be read holds
 * no range. For the broker's and the module's uid checks. */
bool ts_nsscache_subid_has(const char *path, uint32_t uid) TS_NONNULL(1);

#endif
