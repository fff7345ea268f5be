/* SPDX-License-Identifier: MIT */
/*
 * The store: read, compare-and-swap write, delete, quarantine.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* ---- reading records from disk --------------------------------------- */

/* Move users/<name> into quarantine/, unless it was replaced since we read it. */
int ks_quarantine(struct ks *ks, const char *name, const struct stat *read_st)
{
	char qname[NAME_MAX + 1];
	struct stat st;
	int n;

	if (fstatat(ks->users_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (read_st && (st.st_ino != read_st->st_ino || st.st_dev != read_st->st_dev))
		return 0; /* a writer replaced it meanwhile: not ours to move */
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
 * TS_E_TOO_BIG (oversize file). */
int ks_record_load(struct ks *ks, const char *name, uint8_t **ret_buf, size_t *ret_len,
                   struct stat *ret_st)
{
	struct ts_file_policy pol = ts_file_policy_private(KS_RECORD_MAX);
	_cleanup_close_ int fd = -1;
	int r;

	r = ts_openat_checked(ks->users_fd, name, O_RDONLY, &pol, &fd, ret_st);
	if (r < 0)
		return r == -ENOENT ? TS_E_NO_RECORD : r;
	return ts_read_all(fd, KS_RECORD_MAX, ret_buf, ret_len);
}

/* Load and open a record. Corrupt ones are quarantined: TS_E_QUARANTINED.
 * One sealed under a key id we do not hold (after a key file reload) is a
 * configuration problem, not corruption: TS_E_KEY_ID, left where it is. */
static int record_read(struct ks *ks, const struct ks_identity *id, struct ks_blob **ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct ks_blob *b = NULL;
	char name[32];
	struct stat st;
	size_t len = 0;
	int r, q;

	if (ks->users_fd < 0)
		return -EBADF;
	r = uid_name(name, sizeof(name), id->uid, ".seal");
	if (r < 0)
		return r;
	r = ks_record_load(ks, name, &buf, &len, &st);
	if (r == TS_E_TOO_BIG) {
		q = ks_quarantine(ks, name, NULL);
		return q < 0 ? q : TS_E_QUARANTINED;
	}
	if (r < 0)
		return r;
	r = ks_record_open(ks, id, buf, len, &b);
	if (r == TS_E_KEY_ID && ks_keys_maybe_reload(ks) == 0)
		r = ks_record_open(ks, id, buf, len, &b);
	if (r == TS_E_CORRUPT)
		goto bad;
	if (r < 0)
		return r;
	*ret = b;
	return 0;
bad:
	q = ks_quarantine(ks, name, &st);
	return q < 0 ? q : TS_E_QUARANTINED;
}

int ks_read(struct ks *ks, const struct ks_identity *id, struct ks_blob **ret)
{
	struct ks_blob *b = NULL;
	uint64_t seen = 0;
	int r, rs;

	/* The state first, then the record: writers put the record before the
	 * state, so a reader without the lock never pairs an older record
	 * with a newer state (a false rollback) this way round. */
	rs = ks_state_load(ks, id->uid, &seen);
	r = record_read(ks, id, &b);
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

/* ---- writes ----------------------------------------------------------- */

/* Generation of the record on disk (0 = none). Corrupt ones are quarantined
 * and count as none; owner/mode/type problems are errors. */
static int current_generation(struct ks *ks, const struct ks_identity *id, uint64_t *ret_gen)
{
	struct ks_blob *b = NULL;
	int r;

	r = record_read(ks, id, &b);
	if (r == TS_E_NO_RECORD || r == TS_E_QUARANTINED) {
		*ret_gen = 0;
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
	r = current_generation(ks, id, &cur);
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
	r = current_generation(ks, id, &cur);
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
	char name[32];
	int r;

	r = ks_check_held(ks, held, id->uid);
	if (r < 0)
		return r;
	r = uid_name(name, sizeof(name), id->uid, ".seal");
	if (r < 0)
		return r;
	/* Under the lock no writer runs, so a rollback seen here is real and
	 * not the race an unlocked reader can meet. */
	{
		struct ks_blob *b = NULL;

		r = ks_read(ks, id, &b);
		ks_blob_free(b);
	}
	if (r == 0)
		return -EAGAIN;
	if (r != TS_E_ROLLBACK)
		return r;
	return ks_quarantine(ks, name, NULL);
}

int ks_open_by_header(struct ks *ks, uid_t uid, struct hdr_identity *hi, struct ks_blob **ret_b)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct ks_header h;
	char name[32];
	struct stat st;
	size_t len = 0;
	int r;

	r = uid_name(name, sizeof(name), uid, ".seal");
	if (r < 0)
		return r;
	r = ks_record_load(ks, name, &buf, &len, &st);
	if (r == TS_E_TOO_BIG) {
		r = ks_quarantine(ks, name, NULL);
		return r < 0 ? r : TS_E_QUARANTINED;
	}
	if (r < 0)
		return r;
	if (ks_header_parse(buf, len, &h) < 0 || (uint64_t)h.uid != (uint64_t)uid)
		goto bad;
	memcpy(hi->user, h.user, h.user_len);
	hi->user[h.user_len] = '\0';
	memcpy(hi->issuer, h.issuer, h.issuer_len);
	hi->issuer[h.issuer_len] = '\0';
	memcpy(hi->client_id, h.client_id, h.client_len);
	hi->client_id[h.client_len] = '\0';
	hi->id.uid = uid;
	hi->id.user = hi->user;
	hi->id.issuer = hi->issuer;
	hi->id.client_id = hi->client_id;
	return ks_read(ks, &hi->id, ret_b);
bad:
	r = ks_quarantine(ks, name, &st);
	return r < 0 ? r : TS_E_QUARANTINED;
}
