/* SPDX-License-Identifier: MIT */
/*
 * Test-only entry points of the keystore: a keystore built from a fixed key
 * (no files; for the fuzz target and the format tests), and the three steps of
 * key rotation as separate calls, so a test can look between them.
 * Not part of the public API (ks.h); production code calls ks_rotate_key().
 */
#ifndef TS_KS_TESTING_H
#define TS_KS_TESTING_H

#include "ks.h"

/* Format constants, exposed for tests that edit records by hand. */
#define KS_MAGIC "TSEALREC"
#define KS_MAGIC_LEN 8
#define KS_FORMAT_VERSION 1
#define KS_KEYS_MAX 16

/* A keystore without folders holding one master key (key id key_id). Only
 * ks_record_open, ks_record_seal and ks_close work on it. */
int ks_open_from_key(struct ks **ret, uint32_t key_id, const uint8_t key[KS_KEYBYTES]) TS_WUR
    TS_NONNULL(1, 3);

/* Seal payload as a record of id with the given generation under the
 * current key id. *ret_file is malloc'd (free()), *ret_len its size. */
int ks_record_seal(const struct ks *ks, const struct ks_identity *id, uint64_t generation,
                   const void *payload, size_t len, uint8_t **ret_file, size_t *ret_len) TS_WUR
    TS_NONNULL(1, 2, 6, 7);

/* Rotation, step by step (ks_rotate_key = add + reseal every record + drop). */
int ks_rotate_add_key(struct ks *ks, uint32_t *ret_new_key_id) TS_WUR TS_NONNULL(1);
/* Re-seal users/<uid>.seal under the current key id (under the user's lock).
 * *ret_done is 1 when it was re-sealed, 0 when it already was current. */
int ks_rotate_reseal(struct ks *ks, uid_t uid, unsigned *ret_done) TS_WUR TS_NONNULL(1);
int ks_rotate_drop_old(struct ks *ks) TS_WUR TS_NONNULL(1);

/* Test seam: fn(ctx) runs when a locked read has judged a record corrupt,
 * just before the inode re-check and the move to quarantine/ (a test
 * renames a fresh record into place there). NULL (the default) in
 * production. */
void ks_testing_before_quarantine(struct ks *ks, ts_before_rename_fn fn, void *ctx) TS_NONNULL(1);

/* Write state/<uid>.gen in the old one-body form (56 bytes, by a rename),
 * as a keystore from before the two-slot form left it. */
int ks_testing_state_save_v1(struct ks *ks, uid_t uid, uint64_t gen) TS_WUR TS_NONNULL(1);

/* Number of master keys currently loaded. */
size_t ks_key_count(const struct ks *ks) TS_NONNULL(1);

#endif
