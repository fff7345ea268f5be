/* SPDX-License-Identifier: MIT */
/*
 * Administration: init, open, close, verify, key rotation.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ks_internal.h"
#include "ts_error.h"
#include "ts_mem.h"

static int ks_sodium_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

static void closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- open / init ------------------------------------------------------ */

static const char *const subdirs[] = {"users", "state", "locks", "quarantine"};

/* Create dirfd/name as a root-only folder (0700); an existing one is left
 * as it is (ks_open checks it). */
static int mkdir_private(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* 1 when the folder dirfd/name holds any entry, 0 when it is empty or does
 * not exist. */
static int folder_has_entries(int dirfd, const char *name)
{
	DIR *d;
	int fd, r = 0;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		struct dirent *de;

		errno = 0;
		de = readdir(d);
		if (!de) {
			r = errno ? -errno : 0;
			break;
		}
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			r = 1;
			break;
		}
	}
	closedir(d);
	return r;
}

/* A new master key only for a keystore that holds nothing a key could have
 * sealed: no record, counter or quarantined file (DESIGN §5). */
static int keystore_empty(const char *dir)
{
	static const char *const held[] = {"users", "state", "quarantine"};
	_cleanup_close_ int dfd = -1;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT                      ? 0
		       : errno == ELOOP || errno == ENOTDIR ? TS_E_NOT_REGULAR
		                                            : -errno;
	for (size_t i = 0; i < TS_ARRAY_SIZE(held); i++) {
		int r = folder_has_entries(dfd, held[i]);

		if (r != 0)
			return r > 0 ? TS_E_NO_KEY : r;
	}
	return 0;
}

int ks_init(const char *dir, const char *key_file, const struct ks_open_opts *opts)
{
	_cleanup_close_ int dfd = -1;
	struct stat st;
	int r;

	(void)opts;
	r = ks_sodium_init();
	if (r < 0)
		return r;
	/* An existing key file, readable or not, is never replaced; a missing
	 * one is created only for an empty keystore. Either refusal changes
	 * nothing on disk. */
	if (fstatat(AT_FDCWD, key_file, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return -errno;
		r = keystore_empty(dir);
		if (r < 0)
			return r;
	}
	r = mkdir_private(AT_FDCWD, dir);
	if (r < 0)
		return r;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ELOOP || errno == ENOTDIR ? TS_E_NOT_REGULAR : -errno;
	for (size_t i = 0; i < TS_ARRAY_SIZE(subdirs); i++) {
		r = mkdir_private(dfd, subdirs[i]);
		if (r < 0)
			return r;
	}
	if (fstatat(AT_FDCWD, key_file, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	return ks_keys_create(key_file);
}

/* A keystore handle with no folders open and no keys loaded. */
static int ks_alloc(struct ks **ret)
{
	struct ks *ks;
	int r;

	r = ks_sodium_init();
	if (r < 0)
		return r;
	ks = calloc(1, sizeof(*ks));
	if (!ks)
		return -ENOMEM;
	ks->dir_fd = ks->users_fd = ks->state_fd = ks->locks_fd = ks->quar_fd = -1;
	*ret = ks;
	return 0;
}

int ks_open(struct ks **ret, const char *dir, const char *key_file, const struct ks_open_opts *opts)
{
	struct ts_file_policy dpol = ts_file_policy_private(0);
	int *fds[4];
	struct ks *ks;
	int r;

	r = ks_alloc(&ks);
	if (r < 0)
		return r;
	ks->lock_timeout_ms =
	    opts && opts->lock_timeout_ms ? opts->lock_timeout_ms : KS_LOCK_TIMEOUT_MS;
	ks->before_rename = opts ? opts->before_rename : NULL;
	ks->before_rename_ctx = opts ? opts->before_rename_ctx : NULL;
	ks->key_file = strdup(key_file);
	if (!ks->key_file) {
		r = -ENOMEM;
		goto fail;
	}
	r = ts_open_dir_checked(dir, &dpol, &ks->dir_fd);
	if (r < 0)
		goto fail;
	fds[0] = &ks->users_fd;
	fds[1] = &ks->state_fd;
	fds[2] = &ks->locks_fd;
	fds[3] = &ks->quar_fd;
	for (size_t i = 0; i < TS_ARRAY_SIZE(subdirs); i++) {
		struct stat st;

		*fds[i] =
		    openat(ks->dir_fd, subdirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (*fds[i] < 0) {
			r = errno == ELOOP || errno == ENOTDIR ? TS_E_NOT_REGULAR : -errno;
			goto fail;
		}
		r = ts_check_fd(*fds[i], &dpol, &st);
		if (r < 0)
			goto fail;
	}
	r = ks_keys_load(ks);
	if (r < 0)
		goto fail;
	*ret = ks;
	return 0;
fail:
	ks_close(ks);
	return r;
}

int ks_open_from_key(struct ks **ret, uint32_t key_id, const uint8_t key[KS_KEYBYTES])
{
	struct ks *ks;
	int r;

	if (key_id == 0)
		return -EINVAL;
	r = ks_alloc(&ks);
	if (r < 0)
		return r;
	ks->keys = sodium_malloc(sizeof(*ks->keys) * KS_KEYS_MAX);
	if (!ks->keys) {
		free(ks);
		return -ENOMEM;
	}
	ks->keys[0].id = key_id;
	memcpy(ks->keys[0].key, key, KS_KEYBYTES);
	sodium_mprotect_readonly(ks->keys);
	ks->nkeys = 1;
	ks->current = key_id;
	*ret = ks;
	return 0;
}

struct ks *ks_close(struct ks *ks)
{
	if (!ks)
		return NULL;
	closefd(&ks->users_fd);
	closefd(&ks->state_fd);
	closefd(&ks->locks_fd);
	closefd(&ks->quar_fd);
	closefd(&ks->dir_fd);
	ks_keys_free(ks->keys);
	free(ks->key_file);
	free(ks);
	return NULL;
}

uint32_t ks_current_key_id(const struct ks *ks)
{
	return ks->current;
}

void ks_testing_before_quarantine(struct ks *ks, ts_before_rename_fn fn, void *ctx)
{
	ks->before_quarantine = fn;
	ks->before_quarantine_ctx = ctx;
}

size_t ks_key_count(const struct ks *ks)
{
	return ks->nkeys;
}

/* ---- listing, verify, rotation --------------------------------------- */

/* Parse "<uid><suffix>" exactly (".seal", ".gen"); false for temp files and
 * anything else. */
static bool uid_file_name(const char *name, const char *suffix, uid_t *ret_uid)
{
	const char *dot = strchr(name, '.');
	uint64_t v = 0;

	if (!dot || dot == name || strcmp(dot, suffix) != 0 || dot - name > 10)
		return false;
	for (const char *p = name; p < dot; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX || (dot - name > 1 && name[0] == '0'))
		return false;
	*ret_uid = (uid_t)v;
	return true;
}

typedef int (*uid_fn)(struct ks *ks, uid_t uid, void *ctx);

/* Call fn for every "<uid><suffix>" in the folder dirfd. */
static int for_each_uid_file(struct ks *ks, int dirfd, const char *suffix, uid_fn fn, void *ctx)
{
	DIR *d;
	int fd, r = 0;
	uid_t *uids = NULL;
	size_t n = 0, cap = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		struct dirent *de;
		uid_t uid;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				r = -errno;
			break;
		}
		if (!uid_file_name(de->d_name, suffix, &uid))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			uid_t *nu = realloc(uids, ncap * sizeof(*uids));
			if (!nu) {
				r = -ENOMEM;
				break;
			}
			uids = nu;
			cap = ncap;
		}
		uids[n++] = uid;
	}
	closedir(d);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = fn(ks, uids[i], ctx);
	free(uids);
	return r;
}

static int for_each_record(struct ks *ks, uid_fn fn, void *ctx)
{
	return for_each_uid_file(ks, ks->users_fd, ".seal", fn, ctx);
}

struct verify_ctx {
	unsigned ok, bad;
};

static int verify_one(struct ks *ks, uid_t uid, void *ctx)
{
	struct verify_ctx *v = ctx;
	struct hdr_identity hi;
	struct ks_blob *b = NULL;
	int r;

	r = ks_open_by_header(ks, NULL, uid, &hi, &b);
	if (r == TS_E_NO_RECORD)
		return 0; /* removed meanwhile */
	if (r == -ENOMEM || r == -EIO)
		return r;
	if (r < 0)
		v->bad++;
	else
		v->ok++;
	ks_blob_free(b);
	return 0;
}

int ks_sweep_temp(struct ks *ks, time_t min_age, unsigned *ret_n)
{
	const int dirs[] = {ks->users_fd, ks->state_fd};
	int r = 0;

	*ret_n = 0;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		unsigned n = 0;
		int q;

		if (dirs[i] < 0)
			continue;
		q = ts_sweep_temp_at(dirs[i], NULL, min_age, &n);
		*ret_n += n;
		if (q < 0 && r == 0)
			r = q;
	}
	return r;
}

int ks_verify_all(struct ks *ks, unsigned *ret_ok, unsigned *ret_bad)
{
	struct verify_ctx v = {0, 0};
	int r;

	if (ks->users_fd < 0)
		return -EBADF;
	r = ks_keys_maybe_reload(ks);
	if (r < 0)
		return r;
	r = for_each_record(ks, verify_one, &v);
	if (r < 0)
		return r;
	if (ret_ok)
		*ret_ok = v.ok;
	if (ret_bad)
		*ret_bad = v.bad;
	return 0;
}

int ks_rotate_add_key(struct ks *ks, uint32_t *ret_new_key_id)
{
	struct ks_key *keys;
	size_t n;
	uint32_t id;
	int r;

	if (!ks->key_file)
		return -EBADF;
	r = ks_keys_load(ks); /* start from what is on disk */
	if (r < 0)
		return r;
	if (ks->nkeys >= KS_KEYS_MAX || ks->current == UINT32_MAX)
		return -ENOSPC;
	n = ks->nkeys;
	id = ks->current + 1;
	keys = sodium_malloc(sizeof(*keys) * KS_KEYS_MAX);
	if (!keys)
		return -ENOMEM;
	memcpy(keys, ks->keys, sizeof(*keys) * n);
	keys[n].id = id;
	crypto_kdf_keygen(keys[n].key);
	r = ks_keys_save(ks->key_file, keys, n + 1);
	sodium_free(keys);
	if (r < 0)
		return r;
	r = ks_keys_load(ks);
	if (r < 0)
		return r;
	if (ks->current != id)
		return -EIO;
	if (ret_new_key_id)
		*ret_new_key_id = id;
	return 0;
}

int ks_rotate_reseal(struct ks *ks, uid_t uid, unsigned *ret_done)
{
	struct ks_lock *l = NULL;
	struct hdr_identity hi;
	struct ks_blob *b = NULL;
	const struct ks_key *k;
	uint64_t seen = 0;
	unsigned done = 0;
	int r;

	r = ks_lock(ks, uid, &l);
	if (r < 0)
		return r;
	r = ks_open_by_header(ks, l, uid, &hi, &b);
	if (r == TS_E_NO_RECORD || r == TS_E_QUARANTINED || r == TS_E_ROLLBACK ||
	    r == TS_E_KEY_ID) {
		/* nothing (valid) left to carry over; a record under a key id
		 * key_file lacks stays where it is (verify reports it) */
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	k = ks_key_find(ks, ks->current);
	if (!k) {
		r = TS_E_NO_KEY;
		goto out;
	}
	if (b->key_id != ks->current) {
		/* Same generation: the content did not change, so a reader's
		 * compare-and-swap still holds. */
		r = ks_write_record(ks, k, &hi.id, b->payload, b->len, b->generation);
		if (r < 0)
			goto out;
		done = 1;
	}
	/* Re-MAC the state file under the new key before the old one goes. */
	r = ks_state_load(ks, uid, &seen);
	if (r < 0)
		seen = 0;
	r = ks_state_save(ks, uid, seen > b->generation ? seen : b->generation);
	if (r < 0)
		goto out;
	if (ret_done)
		*ret_done = done;
out:
	ks_blob_free(b);
	ks_unlock(l);
	return r;
}

int ks_rotate_drop_old(struct ks *ks)
{
	const struct ks_key *k;
	int r;

	r = ks_keys_load(ks);
	if (r < 0)
		return r;
	k = ks_key_find(ks, ks->current);
	if (!k)
		return TS_E_NO_KEY;
	r = ks_keys_save(ks->key_file, k, 1);
	if (r < 0)
		return r;
	return ks_keys_load(ks);
}

struct reseal_ctx {
	unsigned count;
};

static int reseal_one(struct ks *ks, uid_t uid, void *ctx)
{
	struct reseal_ctx *c = ctx;
	unsigned done = 0;
	int r;

	r = ks_rotate_reseal(ks, uid, &done);
	if (r < 0)
		return r;
	c->count += done;
	return 0;
}

/* Re-MAC state/<uid>.gen under the current key id, under the user's lock.
 * Records are re-sealed with their state by ks_rotate_reseal; this pass
 * carries the counters of users without a (valid) record, e.g. deleted ones,
 * so that dropping the old key id does not reset their anti-rollback counter.
 * A state file that does not verify is left as it is (reads report it). */
static int restate_one(struct ks *ks, uid_t uid, void *ctx)
{
	struct ks_lock *l = NULL;
	uint64_t seen = 0;
	int r;

	(void)ctx;
	r = ks_lock(ks, uid, &l);
	if (r < 0)
		return r;
	r = ks_state_load(ks, uid, &seen);
	if (r == 0 && seen > 0)
		r = ks_state_save(ks, uid, seen);
	else if (r == TS_E_CORRUPT || r == TS_E_KEY_ID)
		r = 0;
	ks_unlock(l);
	return r;
}

int ks_rotate_key(struct ks *ks, uint32_t *ret_new_key_id, unsigned *ret_resealed)
{
	struct reseal_ctx c = {0};
	struct ks_lock *l = NULL;
	uint32_t id = 0;
	int r;

	if (ks->users_fd < 0)
		return -EBADF;
	/* One rotation at a time. */
	r = ks_lock_name(ks, "keyfile.lock", &l, (uid_t)-1);
	if (r < 0)
		return r;
	r = ks_rotate_add_key(ks, &id);
	if (r < 0)
		goto out;
	r = for_each_record(ks, reseal_one, &c);
	if (r < 0)
		goto out; /* old keys stay: every record still opens */
	r = for_each_uid_file(ks, ks->state_fd, ".gen", restate_one, NULL);
	if (r < 0)
		goto out;
	r = ks_rotate_drop_old(ks);
	if (r < 0)
		goto out;
	if (ret_new_key_id)
		*ret_new_key_id = id;
	if (ret_resealed)
		*ret_resealed = c.count;
out:
	ks_unlock(l);
	return r;
}
