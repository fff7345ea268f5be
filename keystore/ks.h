/* SPDX-License-Identifier: MIT */
/*
 * The sealed per-user keystore (DESIGN.md §5).
 *
 *   <dir>/users/<uid>.seal   one record per user
 *   <dir>/locks/<uid>.lock   per-user lock files (flock, bounded wait)
 *   <dir>/state/<uid>.gen    newest generation seen per user (anti-rollback):
 *                            two MACed slots, written in place (ks_internal.h)
 *   <dir>/quarantine/        records that failed to open, moved aside
 *   <key_file>               32-byte master keys, one per key id
 *
 * A record's payload is opaque bytes to the keystore (the broker stores its
 * serialised token set). Each record is sealed with XChaCha20-Poly1305 under
 * a per-user key crypto_kdf_derive_from_key(uid, "tsealusr", master[key id]),
 * and the associated data binds format version, key id, generation, uid, user
 * name, issuer and client id, so a file copied to another user, issuer or
 * host does not open.
 *
 * Every function returns 0 or a negative ts_err / errno value. Nothing here
 * logs above debug level.
 */
#ifndef TS_KS_H
#define TS_KS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ts_file.h"
#include "ts_macros.h"

#define KS_KEYBYTES 32
#define KS_RECORD_MAX (64 * 1024)  /* whole sealed file */
#define KS_PAYLOAD_MAX (48 * 1024) /* plaintext payload */
#define KS_LOCK_TIMEOUT_MS 10000
#define KS_USER_MAX 256   /* bytes of a user name in a record header */
#define KS_ISSUER_MAX 1024
#define KS_CLIENT_MAX 256

struct ks;
struct ks_lock;

/* Who a record belongs to; all four are bound into the associated data. */
struct ks_identity {
	uid_t uid;
	const char *user;
	const char *issuer;
	const char *client_id;
};

/* An opened record. payload lives in sodium_malloc memory; ks_blob_free wipes it. */
struct ks_blob {
	uint8_t *payload;
	size_t len;
	uint64_t generation; /* the version to pass back to ks_write for compare-and-swap */
	uint32_t key_id;
};

struct ks_open_opts {
	unsigned lock_timeout_ms; /* 0 = KS_LOCK_TIMEOUT_MS */
	/* Test seam: called after a record's temp file is written and synced,
	 * before the rename (see ts_atomic_opts). NULL in production. */
	ts_before_rename_fn before_rename;
	void *before_rename_ctx;
};

/* Create the folder layout and, if key_file does not exist, a new master key
 * (key id 1). Root-only: folders 0700, files 0600, no group. Idempotent.
 * A key is created only for an empty keystore: while users/, state/ or
 * quarantine/ holds any entry, a missing key_file gives TS_E_NO_KEY and
 * nothing on disk changes. An existing key_file (even a malformed, unsafe
 * or unreadable one) is never replaced. */
int ks_init(const char *dir, const char *key_file, const struct ks_open_opts *opts) TS_WUR
	TS_NONNULL(1, 2);

/* Open an initialised keystore: checks the folders, loads the master keys into
 * guarded memory. */
int ks_open(struct ks **ret, const char *dir, const char *key_file,
	    const struct ks_open_opts *opts) TS_WUR TS_NONNULL(1, 2, 3);
struct ks *ks_close(struct ks *ks);

/* Take / release the per-user lock (exclusive, bounded wait: TS_E_LOCK_TIMEOUT). */
int ks_lock(struct ks *ks, uid_t uid, struct ks_lock **ret) TS_WUR TS_NONNULL(1, 3);
struct ks_lock *ks_unlock(struct ks_lock *l);

/* Read and open the record of id. Never moves or changes a file. Errors:
 * TS_E_NO_RECORD (none stored),
 * TS_E_CORRUPT (fails to parse or authenticate) / TS_E_TOO_BIG (over
 *   KS_RECORD_MAX): left in place; ks_read_locked quarantines it,
 * TS_E_MISMATCH (same uid, sealed for another user name, issuer or client
 *   id: the configuration changed; opens again once it matches; see
 *   ks_read_header),
 * TS_E_KEY_ID (sealed under a key id key_file does not hold),
 * TS_E_ROLLBACK (older than the newest generation seen),
 * TS_E_BAD_OWNER/TS_E_BAD_MODE/TS_E_NOT_REGULAR (refused).
 * May be called with or without the lock. */
int ks_read(struct ks *ks, const struct ks_identity *id, struct ks_blob **ret) TS_WUR
	TS_NONNULL(1, 2, 3);

/* ks_read under the user's held lock. The one difference: a corrupt or
 * over-size record is moved to quarantine/ (TS_E_QUARANTINED), after a
 * re-check that the folder entry is still the very inode read; if a writer
 * replaced it meanwhile, the new file is read instead. A mismatch, an
 * unknown key id or a rollback is never moved. -EINVAL when held is not
 * ks's lock for id->uid. */
int ks_read_locked(struct ks *ks, struct ks_lock *held, const struct ks_identity *id,
		   struct ks_blob **ret) TS_WUR TS_NONNULL(1, 2, 3, 4);

/* What a record's header says, without decrypting it. */
struct ks_header_info {
	uint64_t generation;
	uint32_t key_id;
	char user[KS_USER_MAX + 1];
	char issuer[KS_ISSUER_MAX + 1];
	char client_id[KS_CLIENT_MAX + 1];
};

/* Read and parse the header of uid's record only (no decryption, no key
 * needed, nothing moved), e.g. to say "signed in at <old issuer>, this host
 * now uses <new issuer>" after TS_E_MISMATCH. TS_E_NO_RECORD when none,
 * TS_E_CORRUPT when the header does not parse (or names another uid, or
 * the file is over-size), owner/mode/type errors as ks_read. */
int ks_read_header(struct ks *ks, uid_t uid, struct ks_header_info *ret) TS_WUR TS_NONNULL(1, 3);
struct ks_blob *ks_blob_free(struct ks_blob *b);

/* Compare-and-swap write under a held lock: replaces the record only if the
 * stored generation is still expected_generation (0 = no record must exist),
 * else TS_E_CONFLICT. A corrupt record is quarantined and counts as none; a
 * mismatched one counts with its header's generation (ks_read_header), so
 * it is replaced only deliberately; under an unknown key id: TS_E_KEY_ID. The new record gets generation expected+1 (or the
 * newest seen + 1), written atomically; *ret_generation receives it. */
int ks_write(struct ks *ks, struct ks_lock *held, const struct ks_identity *id,
	     const void *payload, size_t len, uint64_t expected_generation,
	     uint64_t *ret_generation) TS_WUR TS_NONNULL(1, 2, 3, 4);

/* The lost-answer case (ks_pending.c): a marker that a refresh of uid was
 * sent and its outcome is not known yet (set before the request, cleared
 * when an answer came or the new record is stored). No secret in it. */
int ks_pending_set(struct ks *ks, uid_t uid) TS_NONNULL(1);
int ks_pending_clear(struct ks *ks, uid_t uid) TS_NONNULL(1);
bool ks_pending_get(struct ks *ks, uid_t uid) TS_NONNULL(1);

/* Delete the record under a held lock, if still at expected_generation
 * (0 = whatever is there). The generation counter is raised past it first,
 * so an interrupted delete leaves a record refused as TS_E_ROLLBACK. */
int ks_delete(struct ks *ks, struct ks_lock *held, const struct ks_identity *id,
	      uint64_t expected_generation) TS_WUR TS_NONNULL(1, 2, 3);

/* Under a held lock, move a record that ks_read refuses as TS_E_ROLLBACK
 * (an older copy put back, or a delete interrupted by a crash) to the
 * quarantine folder, so that a new login can replace it (expected
 * generation 0). Returns 0 when it moved it, TS_E_NO_RECORD when there is
 * none, -EAGAIN when the record is not a rollback (nothing is moved). */
int ks_quarantine_rollback(struct ks *ks, struct ks_lock *held, const struct ks_identity *id)
	TS_WUR TS_NONNULL(1, 2, 3);

/* Key rotation: add a new master key id to key_file, re-seal every record
 * under it (each under its user's lock), then drop the old key ids. Records
 * sealed under an old id open until rotation finishes. *ret_new_key_id gets
 * the new id; *ret_resealed the number of records re-sealed. */
int ks_rotate_key(struct ks *ks, uint32_t *ret_new_key_id, unsigned *ret_resealed) TS_WUR
	TS_NONNULL(1);

/* The key id new records are sealed under. */
uint32_t ks_current_key_id(const struct ks *ks) TS_NONNULL(1);

/* Remove the temporary files of record and generation writes cut short
 * (a crash between write and rename) that are at least min_age seconds old
 * (ts_sweep_temp_at), in users/ and state/. *ret_n counts them. 0 or -errno. */
int ks_sweep_temp(struct ks *ks, time_t min_age, unsigned *ret_n) TS_WUR TS_NONNULL(1, 3);

/* Check every record opens (authenticates) under the identity its own
 * header names (so a mismatch with the configuration simply opens), without
 * returning payloads. *ret_ok / *ret_bad count them. Holds no lock and so
 * moves nothing: a bad one stays where it is. */
int ks_verify_all(struct ks *ks, unsigned *ret_ok, unsigned *ret_bad) TS_WUR TS_NONNULL(1);

/* Parse a sealed record's header and authenticate it, given the key material;
 * exposed for the fuzz target and the unit tests (no file system). */
int ks_record_open(const struct ks *ks, const struct ks_identity *id, const uint8_t *file,
		   size_t len, struct ks_blob **ret) TS_WUR TS_NONNULL(1, 2, 3, 5);

#endif
