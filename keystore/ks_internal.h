/* SPDX-License-Identifier: MIT */
/*
 * Private to keystore/: the handle, the on-disk formats and the helpers the
 * ks_*.c files share. See ks.h for the public API, docs/keystore.md and
 * DESIGN.md §5.
 *
 * Record file (all integers little-endian; the whole header is the AEAD's
 * associated data):
 *   magic "TSEALREC" (8) | version u16 | key id u32 | generation u64 | uid u32 |
 *   user len u16 + bytes | issuer len u16 + bytes | client id len u16 + bytes |
 *   nonce (24) || ciphertext + tag (XChaCha20-Poly1305 IETF)
 *
 * Generation state file state/<uid>.gen, two slots (1024 bytes): slot A at
 * offset 0, slot B at offset 512, each a 56-byte body followed by zeros:
 *   magic "TSEALGN2" | key id u32 | uid u32 | generation u64 |
 *   BLAKE2b-256 keyed MAC of the previous 24 bytes, key = kdf(uid, "tsealgen")
 * The generation is the highest of the slots that verify. A save writes the
 * slot holding the older generation in place (pwrite + fdatasync, no rename):
 * a torn slot fails its MAC and the other one, the previous generation,
 * stands. Each slot has its own 512-byte sector, so one torn write cannot
 * reach both.
 *
 * The older form (56 bytes, one body with magic "TSEALGEN", replaced by an
 * atomic rename at every save) is still read; the next save replaces it
 * with the two-slot form.
 */
#ifndef TS_KS_INTERNAL_H
#define TS_KS_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "ks.h"
#include "ks_testing.h"

#define KS_KEYFILE_MAX 4096
#define KS_KDF_USER "tsealusr"
#define KS_KDF_GEN "tsealgen"
#define KS_GEN_MAGIC "TSEALGEN"
#define KS_GEN_BODY 24
#define KS_GEN_SIZE (KS_GEN_BODY + 32) /* one body; the whole old-form file */
#define KS_GEN2_MAGIC "TSEALGN2"
#define KS_GEN_SLOT 512 /* a sector: a torn write stays inside one slot */
#define KS_GEN2_SIZE (2 * KS_GEN_SLOT)
#define KS_NONCEBYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KS_ABYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KS_FIXED_HDR (KS_MAGIC_LEN + 2 + 4 + 8 + 4)

struct ks_key {
	uint32_t id;
	uint8_t key[KS_KEYBYTES];
};

/* Cache of verified state files: (uid, inode, mtime, size) -> generation.
 * An old-form file is only ever replaced by a rename of a new inode; a
 * two-slot file is rewritten in place, which changes its mtime and ctime,
 * but those come from a coarse clock, so a two-slot file is cached only once
 * its ctime is a few seconds old (ks_gen.c). Then an unchanged stat means an
 * unchanged, already verified file; the change time is part of the key, so
 * a chmod or chown makes the file be checked against the policy again. */
#define KS_GEN_CACHE 8
struct ks_gen_cache {
	bool valid;
	uid_t uid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
	uint64_t gen;
};

struct ks {
	struct ks_gen_cache gen_cache[KS_GEN_CACHE];
	unsigned gen_cache_next;
	int dir_fd, users_fd, state_fd, locks_fd, quar_fd;
	char *key_file;
	struct ks_key *keys; /* sodium_malloc, read-only while not being replaced */
	size_t nkeys;
	uint32_t current;
	struct stat key_st;
	bool have_key_st;
	unsigned lock_timeout_ms;
	ts_before_rename_fn before_rename;
	void *before_rename_ctx;
	ts_before_rename_fn before_quarantine; /* test seam, NULL in production */
	void *before_quarantine_ctx;
};

struct ks_lock {
	struct ks *ks;
	uid_t uid;
	int fd;
};

struct ks_header {
	uint16_t version;
	uint32_t key_id;
	uint64_t generation;
	uint32_t uid;
	const uint8_t *user, *issuer, *client_id;
	size_t user_len, issuer_len, client_len;
	const uint8_t *nonce;
	size_t len; /* header bytes, nonce included (= AD length) */
};

/* A record's identity taken from its own header (verify, rotation). */
struct hdr_identity {
	char user[KS_USER_MAX + 1];
	char issuer[KS_ISSUER_MAX + 1];
	char client_id[KS_CLIENT_MAX + 1];
	struct ks_identity id;
};

/* ---- little-endian fields, file names --------------------------------- */

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* "<uid><suffix>" into buf. */
static inline int uid_name(char *buf, size_t len, uid_t uid, const char *suffix)
{
	int n = snprintf(buf, len, "%u%s", (unsigned)uid, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- ks_format.c ------------------------------------------------------ */

bool ks_identity_valid(const struct ks_identity *id);
/* Parse a record's header (no decryption): 0 or TS_E_CORRUPT. */
int ks_header_parse(const uint8_t *p, size_t len, struct ks_header *h);
int ks_record_seal_with(const struct ks *ks, const struct ks_key *k, const struct ks_identity *id,
                        uint64_t generation, const void *payload, size_t len, uint8_t **ret_file,
                        size_t *ret_len);

/* ---- ks_keys.c -------------------------------------------------------- */

const struct ks_key *ks_key_find(const struct ks *ks, uint32_t id);
int ks_derive(uint8_t out[KS_KEYBYTES], const struct ks_key *k, uid_t uid, const char *ctx);
struct ks_key *ks_keys_free(struct ks_key *keys);
/* Load key_file into ks (replacing the keys held): TS_E_NO_KEY when missing. */
int ks_keys_load(struct ks *ks);
/* Reload the key file when it changed on disk since it was loaded. */
int ks_keys_maybe_reload(struct ks *ks);
int ks_keys_save(const char *path, const struct ks_key *keys, size_t n);
/* Write a new key file holding one fresh key, key id 1. */
int ks_keys_create(const char *key_file);

/* ---- ks_gen.c --------------------------------------------------------- */

/* *ret_gen = newest generation seen (0 if none). TS_E_CORRUPT when the state
 * file exists but does not verify, TS_E_KEY_ID when it is MACed under a key
 * id that key_file does not hold. */
int ks_state_load(struct ks *ks, uid_t uid, uint64_t *ret_gen);
int ks_state_save(struct ks *ks, uid_t uid, uint64_t gen);

/* ---- ks_lock.c -------------------------------------------------------- */

int ks_lock_name(struct ks *ks, const char *name, struct ks_lock **ret, uid_t uid);
/* held must be ks's lock for uid. */
int ks_check_held(struct ks *ks, struct ks_lock *held, uid_t uid);

/* ---- ks_store.c ------------------------------------------------------- */

int ks_quarantine(struct ks *ks, const char *name, const struct stat *read_st);
int ks_record_load(struct ks *ks, const char *name, uint8_t **ret_buf, size_t *ret_len,
                   struct stat *ret_st);
int ks_write_record(struct ks *ks, const struct ks_key *k, const struct ks_identity *id,
                    const void *payload, size_t len, uint64_t gen);
/* Read users/<uid>.seal and take its identity from its header. On success
 * *ret_b is the opened record; the identity strings live in hi. With held
 * (the user's lock) a corrupt record is quarantined; without, it stays. */
int ks_open_by_header(struct ks *ks, struct ks_lock *held, uid_t uid, struct hdr_identity *hi,
                      struct ks_blob **ret_b);

#endif
