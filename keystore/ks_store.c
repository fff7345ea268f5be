/* SPDX-License-Identifier: MIT */
/*
 * The store: read, compare-and-swap write, delete, quarantine.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ks_internal.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "ts_test_hook.h"

/* ---- reading records from disk --------------------------------------- */

/* Under the user's lock: move users/<name> into quarantine/ if the entry is
 * still the very inode that was read (read_st, the fstat of the fd read).
 * -ESTALE when it was replaced meanwhile (the caller reads again), 0 when
 * it moved it or it is gone. */
int ks_quarantine(struct ks *ks, const char *name, const struct stat *read_st)
{
	char qname[NAME_MAX + 1];
	struct stat st;
	int n;

	if (ks->before_quarantine)
		ks->before_quarantine(ks->before_quarantine_ctx);
	if (fstatat(ks->users_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (st.st_ino != read_st->st_ino || st.st_dev != read_st->st_dev)
		return -ESTALE; /* a writer replaced it: not ours to move */
	n = snprintf(qname, sizeof(qname), "%s.%lld.%08x", name, (long long)time(NULL),
	             (unsigned)randombytes_random());
	if (n < 0 || (size_t)n >= sizeof(qname))
		return -ENAMETOOLONG;
	if (renameat(ks->users_fd, name, ks->quar_fd, qname) < 0)
		return -errno;
	(void)fsync(ks->quar_fd);
	(void)fsync(ks->users_fd);
	return 0;
}

/* Read users/<uid>.seal into memory: TS_E_NO_RECORD, owner/mode/type errors,
 * TS_E_TOO_BIG (oversize file). *ret_st is the fstat of the fd read and is
 * set whenever the file was opened and checked, TS_E_TOO_BIG included. */
int ks_record_load(struct ks *ks, const char *name, uint8_t **ret_buf, size_t *ret_len,
                   struct stat *ret_st)
{
	struct ts_file_policy pol = ts_file_policy_private(0);
	_cleanup_close_ int fd = -1;
	int r;

	r = ts_openat_checked(ks->users_fd, name, O_RDONLY, &pol, &fd, ret_st);
	if (r < 0)
		return r == -ENOENT ? TS_E_NO_RECORD : r;
	if ((uintmax_t)ret_st->st_size > KS_RECORD_MAX)
		return TS_E_TOO_BIG;
	return ts_read_all(fd, KS_RECORD_MAX, ret_buf, ret_len);
}

/* Bounded re-reads when a writer keeps replacing a corrupt record. */
#define KS_REREAD_MAX 8

/* Load and open a record. A corrupt (or over-size) one is TS_E_CORRUPT
 * (TS_E_TOO_BIG) and stays, unless held: then it is quarantined if it is
 * still the inode read (TS_E_QUARANTINED), else read again. One sealed
 * under a key id we do not hold (after a key file reload) is TS_E_KEY_ID,
 * one for another identity TS_E_MISMATCH: configuration, left in place. */
static int record_read(struct ks *ks, const struct ks_identity *id, struct ks_lock *held,
                       struct ks_blob **ret)
{
	char name[32];
	int r;

	if (ks->users_fd < 0)
		return -EBADF;
	r = uid_name(name, sizeof(name), id->uid, ".seal");
	if (r < 0)
		return r;
	for (unsigned i = 0; i < KS_REREAD_MAX; i++) {
		_cleanup_free_ uint8_t *buf = NULL;
		struct stat st;
		size_t len = 0;

		r = ks_record_load(ks, name, &buf, &len, &st);
		if (r == 0) {
			r = ks_record_open(ks, id, buf, len, ret);
			if (r == TS_E_KEY_ID && ks_keys_maybe_reload(ks) == 0)
				r = ks_record_open(ks, id, buf, len, ret);
		}
		if ((r != TS_E_CORRUPT && r != TS_E_TOO_BIG) || !held)
			return r;
		r = ks_quarantine(ks, name, &st);
		if (r != -ESTALE)
			return r < 0 ? r : TS_E_QUARANTINED;
	}
	return TS_E_CONFLICT;
}

static int read_checked(struct ks *ks, struct ks_lock *held, const struct ks_identity *id,
                        struct ks_blob **ret)
{
	struct ks_blob *b = NULL;
	uint64_t seen = 0;
	int r, rs;

	/* The state first, then the record: writers put the record before the
	 * state, so a reader without the lock never pairs an older record
	 * with a newer state (a false rollback) this way round. */
	rs = ks_state_load(ks, id->uid, &seen);
	r = record_read(ks, id, held, &b);
	if (r < 0)
		return r;
	if (rs == TS_E_CORRUPT || (rs == 0 && b->generation < seen)) {
		ks_blob_free(b);
		return TS_E_ROLLBACK;
	}
	if (rs < 0) {
		ks_blob_free(b);
		return rs;
	}
	*ret = b;
	return 0;
}

int ks_read(struct ks *ks, const struct ks_identity *id, struct ks_blob **ret)
{
	return read_checked(ks, NULL, id, ret);
}

int ks_read_locked(struct ks *ks, struct ks_lock *held, const struct ks_identity *id,
                   struct ks_blob **ret)
{
	int r = ks_check_held(ks, held, id->uid);

	return r < 0 ? r : read_checked(ks, held, id, ret);
}

/* ks_read_header: the header of users/<uid>.seal, parsed, not decrypted. */
int ks_read_header(struct ks *ks, uid_t uid, struct ks_header_info *ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct ks_header h;
	char name[32];
	struct stat st;
	size_t len = 0;
	int r;

	if (ks->users_fd < 0)
		return -EBADF;
	r = uid_name(name, sizeof(name), uid, ".seal");
	if (r < 0)
		return r;
	r = ks_record_load(ks, name, &buf, &len, &st);
	if (r == TS_E_TOO_BIG)
		return TS_E_CORRUPT;
	if (r < 0)
		return r;
	if (ks_header_parse(buf, len, &h) < 0 || (uint64_t)h.uid != (uint64_t)uid)
		return TS_E_CORRUPT;
	ret->generation = h.generation;
	ret->key_id = h.key_id;
	memcpy(ret->user, h.user, h.user_len);
	ret->user[h.user_len] = '\0';
	memcpy(ret->issuer, h.issuer, h.issuer_len);
	ret->issuer[h.issuer_len] = '\0';
	memcpy(ret->client_id, h.client_id, h.client_len);
	ret->client_id[h.client_len] = '\0';
	return 0;
}

/* ---- writes ----------------------------------------------------------- */

/* Under the lock: generation of the record on disk (0 = none). Corrupt
 * ones are quarantined and count as none; a mismatch (another identity at
 * this uid) counts with its header's generation, so only a caller that saw
 * it (ks_read_header) replaces it; key id, owner/mode/type problems are
 * errors. */
static int current_generation(struct ks *ks, struct ks_lock *held, const struct ks_identity *id,
                              uint64_t *ret_gen)
{
	struct ks_blob *b = NULL;
	int r;

	r = record_read(ks, id, held, &b);
	if (r == TS_E_NO_RECORD || r == TS_E_QUARANTINED) {
		*ret_gen = 0;
		return 0;
	}
	if (r == TS_E_MISMATCH) {
		struct ks_header_info hi;

		r = ks_read_header(ks, id->uid, &hi);
		if (r < 0)
			return r;
		*ret_gen = hi.generation;
		return 0;
	}
	if (r < 0)
		return r;
	*ret_gen = b->generation;
	ks_blob_free(b);
	return 0;
}

int ks_write_record(struct ks *ks, const struct ks_key *k, const struct ks_identity *id,
                    const void *payload, size_t len, uint64_t gen)
{
	struct ts_atomic_opts ao = {.mode = 0600,
	                            .uid = (uid_t)-1,
	                            .gid = (gid_t)-1,
	                            .before_rename = ks->before_rename,
	                            .ctx = ks->before_rename_ctx};
	_cleanup_free_ uint8_t *file = NULL;
	size_t flen = 0;
	char name[32];
	int r;

	r = uid_name(name, sizeof(name), id->uid, ".seal");
	if (r < 0)
		return r;
	r = ks_record_seal_with(ks, k, id, gen, payload, len, &file, &flen);
	if (r < 0)
		return r;
	if (!ao.before_rename) {
		ao.before_rename = TS_TEST_HOOK_CB; /* NULL outside test builds */
		ao.ctx = (void *)(uintptr_t) "keystore-before-rename";
	}
	return ts_atomic_write_at(ks->users_fd, name, file, flen, &ao);
}

int ks_write(struct ks *ks, struct ks_lock *held, const struct ks_identity *id, const void *payload,
             size_t len, uint64_t expected_generation, uint64_t *ret_generation)
{
	const struct ks_key *k;
	uint64_t cur = 0, seen = 0, gen;
	int r;

	r = ks_check_held(ks, held, id->uid);
	if (r < 0)
		return r;
	if (!ks_identity_valid(id))
		return -EINVAL;
	if (len > KS_PAYLOAD_MAX)
		return TS_E_TOO_BIG;
	/* A rotation may have added a key id since we loaded the key file: new
	 * records must be sealed under it, or dropping the old id loses them. */
	r = ks_keys_maybe_reload(ks);
	if (r < 0)
		return r;
	r = current_generation(ks, held, id, &cur);
	if (r < 0)
		return r;
	if (cur != expected_generation)
		return TS_E_CONFLICT;
	r = ks_state_load(ks, id->uid, &seen);
	if (r == TS_E_CORRUPT)
		seen = 0; /* tampered state: replaced below */
	else if (r < 0)
		return r;
	gen = (cur > seen ? cur : seen) + 1;
	k = ks_key_find(ks, ks->current);
	if (!k)
		return TS_E_NO_KEY;
	/* Record first, then state: a crash in between leaves record gen >
	 * state gen, which reads fine; never the reverse. */
	r = ks_write_record(ks, k, id, payload, len, gen);
	if (r < 0)
		return r;
	r = ks_state_save(ks, id->uid, gen);
	if (r < 0)
		return r;
	if (ret_generation)
		*ret_generation = gen;
	return 0;
}

int ks_delete(struct ks *ks, struct ks_lock *held, const struct ks_identity *id,
              uint64_t expected_generation)
{
	uint64_t cur = 0, seen = 0;
	char name[32];
	int r;

	r = ks_check_held(ks, held, id->uid);
	if (r < 0)
		return r;
	r = current_generation(ks, held, id, &cur);
	if (r < 0)
		return r;
	if (expected_generation != 0 && cur != expected_generation)
		return TS_E_CONFLICT;
	r = uid_name(name, sizeof(name), id->uid, ".seal");
	if (r < 0)
		return r;
	r = ks_state_load(ks, id->uid, &seen);
	if (r < 0)
		seen = 0;
	/* Counter first, past the record being deleted, then the unlink: a
	 * crash in between leaves a record the keystore refuses as a rollback
	 * (the next login replaces it), never a window in which a saved copy
	 * of the deleted record would read as current. */
	r = ks_state_save(ks, id->uid, (cur > seen ? cur : seen) + 1);
	if (r < 0)
		return r;
	if (unlinkat(ks->users_fd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	if (fsync(ks->users_fd) < 0)
		return -errno;
	return 0;
}

int ks_quarantine_rollback(struct ks *ks, struct ks_lock *held, const struct ks_identity *id)
{
	struct stat st;
	char name[32];
	int r;

	r = ks_check_held(ks, held, id->uid);
	if (r < 0)
		return r;
	r = uid_name(name, sizeof(name), id->uid, ".seal");
	if (r < 0)
		return r;
	/* Under the lock no writer runs, so a rollback seen here is real and
	 * not the race an unlocked reader can meet. The inode is noted first:
	 * only the file judged is moved. */
	if (fstatat(ks->users_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? TS_E_NO_RECORD : -errno;
	{
		struct ks_blob *b = NULL;

		r = ks_read(ks, id, &b);
		ks_blob_free(b);
	}
	if (r == 0)
		return -EAGAIN;
	if (r != TS_E_ROLLBACK)
		return r;
	r = ks_quarantine(ks, name, &st);
	return r == -ESTALE ? -EAGAIN : r;
}

int ks_open_by_header(struct ks *ks, struct ks_lock *held, uid_t uid, struct hdr_identity *hi,
                      struct ks_blob **ret_b)
{
	struct ks_header_info info;
	int r;

	r = ks_read_header(ks, uid, &info);
	if (r == TS_E_CORRUPT && held) {
		/* hand the unparsable record to the locked read, which quarantines
		 * it (after its inode check) */
		struct ks_identity none = {.uid = uid, .user = "-", .issuer = "", .client_id = ""};
		return ks_read_locked(ks, held, &none, ret_b);
	}
	if (r < 0)
		return r;
	memcpy(hi->user, info.user, sizeof(hi->user));
	memcpy(hi->issuer, info.issuer, sizeof(hi->issuer));
	memcpy(hi->client_id, info.client_id, sizeof(hi->client_id));
	hi->id.uid = uid;
	hi->id.user = hi->user;
	hi->id.issuer = hi->issuer;
	hi->id.client_id = hi->client_id;
	return held ? ks_read_locked(ks, held, &hi->id, ret_b) : ks_read(ks, &hi->id, ret_b);
}
