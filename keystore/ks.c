/* SPDX-License-Identifier: MIT */
/*
 * The sealed per-user keystore. See ks.h, docs/keystore.md and DESIGN.md §5.
 *
 * Record file (all integers little-endian; the whole header is the AEAD's
 * associated data):
 *   magic "TSEALREC" (8) | version u16 | key id u32 | generation u64 | uid u32 |
 *   user len u16 + bytes | issuer len u16 + bytes | client id len u16 + bytes |
 *   nonce (24) || ciphertext + tag (XChaCha20-Poly1305 IETF)
 *
 * Generation state file state/<uid>.gen (56 bytes):
 *   magic "TSEALGEN" | key id u32 | uid u32 | generation u64 |
 *   BLAKE2b-256 keyed MAC of the previous 24 bytes, key = kdf(uid, "tsealgen")
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ks.h"
#include "ks_testing.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "ts_time.h"

#define KS_KEYFILE_MAX 4096
#define KS_KDF_USER "tsealusr"
#define KS_KDF_GEN "tsealgen"
#define KS_GEN_MAGIC "TSEALGEN"
#define KS_GEN_BODY 24
#define KS_GEN_SIZE (KS_GEN_BODY + 32)
#define KS_NONCEBYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KS_ABYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KS_FIXED_HDR (KS_MAGIC_LEN + 2 + 4 + 8 + 4)

struct ks_key {
	uint32_t id;
	uint8_t key[KS_KEYBYTES];
};

/* Cache of verified state files: (uid, inode, mtime, size) -> generation.
 * Every rewrite is a rename of a new inode, so an unchanged stat means an
 * unchanged, already verified file. */
#define KS_GEN_CACHE 8
struct ks_gen_cache {
	bool valid;
	uid_t uid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
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
	gid_t group;
	unsigned lock_timeout_ms;
	ts_before_rename_fn before_rename;
	void *before_rename_ctx;
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

/* ---- small helpers ---------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

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

static int uid_name(char *buf, size_t len, uid_t uid, const char *suffix)
{
	int n = snprintf(buf, len, "%u%s", (unsigned)uid, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static const struct ks_key *key_find(const struct ks *ks, uint32_t id)
{
	for (size_t i = 0; i < ks->nkeys; i++)
		if (ks->keys[i].id == id)
			return &ks->keys[i];
	return NULL;
}

static int derive(uint8_t out[KS_KEYBYTES], const struct ks_key *k, uid_t uid, const char *ctx)
{
	return crypto_kdf_derive_from_key(out, KS_KEYBYTES, (uint64_t)uid, ctx, k->key) == 0 ? 0
	                                                                                     : -EIO;
}

static bool identity_valid(const struct ks_identity *id)
{
	return id->user && id->issuer && id->client_id && id->user[0] &&
	       strlen(id->user) <= KS_USER_MAX && strlen(id->issuer) <= KS_ISSUER_MAX &&
	       strlen(id->client_id) <= KS_CLIENT_MAX;
}

static struct ts_file_policy record_policy(uid_t uid)
{
	struct ts_file_policy pol = {
	    .owners = {0, uid, geteuid()},
	    .forbidden = 0027,
	    .max_size = KS_RECORD_MAX,
	};
	return pol;
}

/* ---- payload buffers -------------------------------------------------- */

/* Opened payloads live in sodium_malloc memory (guard pages, mlock). Setting
 * that up costs several system calls, so a few wiped buffers of the maximum
 * payload size are kept for reuse (process-wide; blobs may outlive their ks). */
#define KS_PAYLOAD_BUF (KS_PAYLOAD_MAX + 1)
#define KS_POOL_MAX 4
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *pool[KS_POOL_MAX];
static size_t npool;

static uint8_t *payload_alloc(void)
{
	uint8_t *p = NULL;

	pthread_mutex_lock(&pool_lock);
	if (npool > 0)
		p = pool[--npool];
	pthread_mutex_unlock(&pool_lock);
	return p ? p : sodium_malloc(KS_PAYLOAD_BUF);
}

/* Wipe the used bytes (the rest is still zero from the last wipe), then
 * keep or free the buffer. */
static void payload_release(uint8_t *p, size_t used)
{
	if (!p)
		return;
	sodium_memzero(p, used < KS_PAYLOAD_BUF ? used : KS_PAYLOAD_BUF);
	pthread_mutex_lock(&pool_lock);
	if (npool < KS_POOL_MAX) {
		pool[npool++] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	if (p)
		sodium_free(p);
}

/* ---- master keys ------------------------------------------------------ */

static struct ks_key *keys_free(struct ks_key *keys)
{
	if (keys)
		sodium_free(keys);
	return NULL;
}

static int parse_u32(const char *s, size_t len, uint32_t *ret)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0 || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

/* Key file: lines "<key id>:<64 hex digits>", '#' comments and blank lines
 * ignored, at most KS_KEYS_MAX keys, ids unique. */
static int keys_parse(const uint8_t *buf, size_t len, struct ks_key **ret_keys, size_t *ret_n,
                      uint32_t *ret_current)
{
	struct ks_key *keys;
	size_t n = 0, pos = 0;
	uint32_t current = 0;
	int r = TS_E_NO_KEY;

	keys = sodium_malloc(sizeof(*keys) * KS_KEYS_MAX);
	if (!keys)
		return -ENOMEM;
	while (pos < len) {
		const char *line = (const char *)buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - line) : len - pos;
		const char *colon;
		size_t hexlen, binlen;
		uint32_t id;

		pos += ll + (nl ? 1 : 0);
		while (ll > 0 &&
		       (line[ll - 1] == ' ' || line[ll - 1] == '\t' || line[ll - 1] == '\r'))
			ll--;
		if (ll == 0 || line[0] == '#')
			continue;
		colon = memchr(line, ':', ll);
		if (!colon || n >= KS_KEYS_MAX)
			goto fail;
		if (parse_u32(line, (size_t)(colon - line), &id) < 0)
			goto fail;
		hexlen = ll - (size_t)(colon - line) - 1;
		if (hexlen != 2 * KS_KEYBYTES)
			goto fail;
		for (size_t i = 0; i < n; i++)
			if (keys[i].id == id)
				goto fail;
		if (sodium_hex2bin(keys[n].key, KS_KEYBYTES, colon + 1, hexlen, NULL, &binlen,
		                   NULL) != 0 ||
		    binlen != KS_KEYBYTES)
			goto fail;
		keys[n].id = id;
		if (id > current)
			current = id;
		n++;
	}
	if (n == 0)
		goto fail;
	sodium_mprotect_readonly(keys);
	*ret_keys = keys;
	*ret_n = n;
	*ret_current = current;
	return 0;
fail:
	sodium_free(keys);
	return r;
}

static int keys_load(struct ks *ks)
{
	struct ts_file_policy pol = {
	    .owners = {0, geteuid(), TS_OWNER_ANY},
	    .forbidden = 0027,
	    .max_size = KS_KEYFILE_MAX,
	};
	_cleanup_close_ int fd = -1;
	struct ks_key *keys = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;
	uint32_t current = 0;
	struct stat st;
	int r;

	r = ts_open_checked(ks->key_file, O_RDONLY, &pol, &fd, &st);
	if (r == -ENOENT)
		return TS_E_NO_KEY;
	if (r < 0)
		return r;
	r = ts_read_all(fd, KS_KEYFILE_MAX, &buf, &len);
	if (r < 0)
		return r;
	r = keys_parse(buf, len, &keys, &n, &current);
	ts_erase_free(buf, len + 1);
	if (r < 0)
		return r;
	keys_free(ks->keys);
	ks->keys = keys;
	ks->nkeys = n;
	ks->current = current;
	ks->key_st = st;
	ks->have_key_st = true;
	/* verified generations were verified under the old key set */
	memset(ks->gen_cache, 0, sizeof(ks->gen_cache));
	return 0;
}

/* Reload the key file when it changed on disk since it was loaded. */
static int keys_maybe_reload(struct ks *ks)
{
	struct stat st;

	if (!ks->key_file)
		return 0;
	if (fstatat(AT_FDCWD, ks->key_file, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (ks->have_key_st && st.st_ino == ks->key_st.st_ino && st.st_dev == ks->key_st.st_dev &&
	    st.st_size == ks->key_st.st_size && st.st_mtim.tv_sec == ks->key_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == ks->key_st.st_mtim.tv_nsec)
		return 0;
	return keys_load(ks);
}

static int keys_save(const char *path, const struct ks_key *keys, size_t n, gid_t gid)
{
	const size_t line = 10 + 1 + 2 * KS_KEYBYTES + 1;
	size_t cap = line * n + 1, len = 0;
	char *buf;
	int r;

	buf = sodium_malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + len, cap - len, "%u:", keys[i].id);

		if (w < 0 || (size_t)w >= cap - len) {
			r = -EOVERFLOW;
			goto out;
		}
		len += (size_t)w;
		sodium_bin2hex(buf + len, cap - len, keys[i].key, KS_KEYBYTES);
		len += 2 * KS_KEYBYTES;
		buf[len++] = '\n';
	}
	{
		struct ts_atomic_opts ao = {.mode = 0640, .uid = (uid_t)-1, .gid = gid};
		r = ts_atomic_write(path, buf, len, &ao);
	}
out:
	sodium_free(buf);
	return r;
}

/* ---- record format ---------------------------------------------------- */

static int header_parse(const uint8_t *p, size_t len, struct ks_header *h)
{
	size_t pos;
	size_t *lens[3] = {&h->user_len, &h->issuer_len, &h->client_len};
	const uint8_t **ptrs[3] = {&h->user, &h->issuer, &h->client_id};
	static const size_t maxes[3] = {KS_USER_MAX, KS_ISSUER_MAX, KS_CLIENT_MAX};

	if (len < KS_FIXED_HDR || memcmp(p, KS_MAGIC, KS_MAGIC_LEN) != 0)
		return TS_E_CORRUPT;
	h->version = get16(p + 8);
	if (h->version != KS_FORMAT_VERSION)
		return TS_E_CORRUPT;
	h->key_id = get32(p + 10);
	h->generation = get64(p + 14);
	h->uid = get32(p + 22);
	if (h->generation == 0)
		return TS_E_CORRUPT;
	pos = KS_FIXED_HDR;
	for (int i = 0; i < 3; i++) {
		size_t l;

		if (len - pos < 2)
			return TS_E_CORRUPT;
		l = get16(p + pos);
		pos += 2;
		if (l > maxes[i] || len - pos < l || memchr(p + pos, '\0', l))
			return TS_E_CORRUPT;
		*ptrs[i] = p + pos;
		*lens[i] = l;
		pos += l;
	}
	if (len - pos < KS_NONCEBYTES)
		return TS_E_CORRUPT;
	h->nonce = p + pos;
	pos += KS_NONCEBYTES;
	if (len - pos < KS_ABYTES)
		return TS_E_CORRUPT;
	h->len = pos;
	return 0;
}

static bool field_eq(const uint8_t *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

int ks_record_open(const struct ks *ks, const struct ks_identity *id, const uint8_t *file,
                   size_t len, struct ks_blob **ret)
{
	uint8_t subkey[KS_KEYBYTES];
	struct ks_header h;
	const struct ks_key *k;
	struct ks_blob *b = NULL;
	uint8_t *pt = NULL;
	unsigned long long ptlen = 0;
	size_t clen;
	int r;

	if (len > KS_RECORD_MAX)
		return TS_E_CORRUPT;
	r = header_parse(file, len, &h);
	if (r < 0)
		return r;
	if ((uint64_t)h.uid != (uint64_t)id->uid || !id->user || !id->issuer || !id->client_id ||
	    !field_eq(h.user, h.user_len, id->user) ||
	    !field_eq(h.issuer, h.issuer_len, id->issuer) ||
	    !field_eq(h.client_id, h.client_len, id->client_id))
		return TS_E_CORRUPT;
	k = key_find(ks, h.key_id);
	if (!k)
		return TS_E_KEY_ID;
	clen = len - h.len;
	if (clen - KS_ABYTES > KS_PAYLOAD_MAX)
		return TS_E_CORRUPT;
	pt = payload_alloc();
	b = calloc(1, sizeof(*b));
	if (!pt || !b) {
		r = -ENOMEM;
		goto out;
	}
	r = derive(subkey, k, id->uid, KS_KDF_USER);
	if (r < 0)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &ptlen, NULL, file + h.len, clen, file,
	                                               h.len, h.nonce, subkey) != 0) {
		r = TS_E_CORRUPT;
		goto out;
	}
	b->payload = TS_TAKE_PTR(pt);
	b->len = (size_t)ptlen;
	b->generation = h.generation;
	b->key_id = h.key_id;
	*ret = TS_TAKE_PTR(b);
	r = 0;
out:
	sodium_memzero(subkey, sizeof(subkey));
	payload_release(pt, clen);
	free(b);
	return r;
}

static int record_seal_with(const struct ks *ks, const struct ks_key *k,
                            const struct ks_identity *id, uint64_t generation, const void *payload,
                            size_t len, uint8_t **ret_file, size_t *ret_len)
{
	uint8_t subkey[KS_KEYBYTES];
	size_t ul, il, cl, hlen, total, pos;
	unsigned long long clen = 0;
	uint8_t *f;
	int r;

	(void)ks;
	if (!identity_valid(id) || len > KS_PAYLOAD_MAX || generation == 0)
		return -EINVAL;
	ul = strlen(id->user);
	il = strlen(id->issuer);
	cl = strlen(id->client_id);
	hlen = KS_FIXED_HDR + 2 + ul + 2 + il + 2 + cl + KS_NONCEBYTES;
	total = hlen + len + KS_ABYTES;
	if (total > KS_RECORD_MAX)
		return TS_E_TOO_BIG;
	f = malloc(total);
	if (!f)
		return -ENOMEM;
	memcpy(f, KS_MAGIC, KS_MAGIC_LEN);
	put16(f + 8, KS_FORMAT_VERSION);
	put32(f + 10, k->id);
	put64(f + 14, generation);
	put32(f + 22, (uint32_t)id->uid);
	pos = KS_FIXED_HDR;
	put16(f + pos, (uint16_t)ul);
	memcpy(f + pos + 2, id->user, ul);
	pos += 2 + ul;
	put16(f + pos, (uint16_t)il);
	memcpy(f + pos + 2, id->issuer, il);
	pos += 2 + il;
	put16(f + pos, (uint16_t)cl);
	memcpy(f + pos + 2, id->client_id, cl);
	pos += 2 + cl;
	randombytes_buf(f + pos, KS_NONCEBYTES);
	pos += KS_NONCEBYTES;
	r = derive(subkey, k, id->uid, KS_KDF_USER);
	if (r < 0) {
		free(f);
		return r;
	}
	crypto_aead_xchacha20poly1305_ietf_encrypt(f + hlen, &clen, payload, len, f, hlen, NULL,
	                                           f + hlen - KS_NONCEBYTES, subkey);
	sodium_memzero(subkey, sizeof(subkey));
	*ret_file = f;
	*ret_len = hlen + (size_t)clen;
	return 0;
}

int ks_record_seal(const struct ks *ks, const struct ks_identity *id, uint64_t generation,
                   const void *payload, size_t len, uint8_t **ret_file, size_t *ret_len)
{
	const struct ks_key *k = key_find(ks, ks->current);

	if (!k)
		return TS_E_NO_KEY;
	if (!payload && len)
		return -EINVAL;
	return record_seal_with(ks, k, id, generation, payload ? payload : "", len, ret_file,
	                        ret_len);
}

struct ks_blob *ks_blob_free(struct ks_blob *b)
{
	if (!b)
		return NULL;
	payload_release(b->payload, b->len);
	free(b);
	return NULL;
}

/* Open dirfd/name without following symlinks and check it against pol
 * (ts_openat_checked without the extra fcntl: O_NONBLOCK is harmless on the
 * regular files we accept), then read it whole with one read() sized by
 * fstat. Errors: -ENOENT, TS_E_NOT_REGULAR, TS_E_BAD_OWNER, TS_E_BAD_MODE,
 * TS_E_TOO_BIG. *ret_buf is malloc'd. */
static int load_checked(int dirfd, const char *name, const struct ts_file_policy *pol,
                        uint8_t **ret_buf, size_t *ret_len, struct stat *ret_st)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	uint8_t *buf;
	size_t want, got = 0;
	int r;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ELOOP || errno == ENXIO ? TS_E_NOT_REGULAR : -errno;
	r = ts_check_fd(fd, pol, &st);
	if (r < 0)
		return r;
	if (!S_ISREG(st.st_mode))
		return TS_E_NOT_REGULAR;
	want = (size_t)st.st_size;
	buf = malloc(want + 1);
	if (!buf)
		return -ENOMEM;
	/* one byte more than fstat said, to notice a file that grew */
	while (got < want + 1) {
		ssize_t n = read(fd, buf + got, want + 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(buf);
			return r;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > want || (pol->max_size && got > pol->max_size)) {
		free(buf);
		return TS_E_TOO_BIG;
	}
	if (ret_st)
		*ret_st = st;
	*ret_buf = buf;
	*ret_len = got;
	return 0;
}

/* ---- generation state (anti-rollback) -------------------------------- */

static struct ks_gen_cache *gen_cache_find(struct ks *ks, uid_t uid)
{
	for (size_t i = 0; i < KS_GEN_CACHE; i++)
		if (ks->gen_cache[i].valid && ks->gen_cache[i].uid == uid)
			return &ks->gen_cache[i];
	return NULL;
}

static bool gen_cache_matches(const struct ks_gen_cache *c, const struct stat *st)
{
	return c->dev == st->st_dev && c->ino == st->st_ino && c->size == st->st_size &&
	       c->mtim.tv_sec == st->st_mtim.tv_sec && c->mtim.tv_nsec == st->st_mtim.tv_nsec;
}

static void gen_cache_forget(struct ks *ks, uid_t uid)
{
	struct ks_gen_cache *c = gen_cache_find(ks, uid);

	if (c)
		c->valid = false;
}

/* *ret_gen = newest generation seen (0 if none). TS_E_CORRUPT when the state
 * file exists but does not verify. */
static int state_load(struct ks *ks, uid_t uid, uint64_t *ret_gen)
{
	/* written by root or by the user's own broker (exec mode) */
	struct ts_file_policy pol = {
	    .owners = {0, uid, geteuid()}, .forbidden = 0027, .max_size = KS_GEN_SIZE};
	uint8_t *buf = NULL;
	uint8_t genkey[KS_KEYBYTES], mac[32];
	const struct ks_key *k;
	struct ks_gen_cache *c;
	struct stat st;
	char name[32];
	size_t len = 0;
	int r;

	r = uid_name(name, sizeof(name), uid, ".gen");
	if (r < 0)
		return r;
	c = gen_cache_find(ks, uid);
	if (c) {
		/* unchanged since we verified it: no need to read it again */
		if (fstatat(ks->state_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && gen_cache_matches(c, &st)) {
			*ret_gen = c->gen;
			return 0;
		}
		c->valid = false;
	}
	r = load_checked(ks->state_fd, name, &pol, &buf, &len, &st);
	if (r == -ENOENT) {
		*ret_gen = 0;
		return 0;
	}
	if (r == TS_E_TOO_BIG)
		return TS_E_CORRUPT;
	if (r < 0)
		return r;
	r = TS_E_CORRUPT;
	if (len != KS_GEN_SIZE || memcmp(buf, KS_GEN_MAGIC, 8) != 0 ||
	    get32(buf + 12) != (uint32_t)uid)
		goto out;
	k = key_find(ks, get32(buf + 8));
	/* re-MACed by a rotation under a key id added since we loaded the keys */
	if (!k && keys_maybe_reload(ks) == 0)
		k = key_find(ks, get32(buf + 8));
	if (!k)
		goto out;
	if (derive(genkey, k, uid, KS_KDF_GEN) < 0)
		goto out;
	crypto_generichash(mac, sizeof(mac), buf, KS_GEN_BODY, genkey, sizeof(genkey));
	sodium_memzero(genkey, sizeof(genkey));
	if (sodium_memcmp(mac, buf + KS_GEN_BODY, sizeof(mac)) != 0)
		goto out;
	*ret_gen = get64(buf + 16);
	c = &ks->gen_cache[ks->gen_cache_next++ % KS_GEN_CACHE];
	*c = (struct ks_gen_cache){.valid = true,
	                           .uid = uid,
	                           .dev = st.st_dev,
	                           .ino = st.st_ino,
	                           .size = st.st_size,
	                           .mtim = st.st_mtim,
	                           .gen = *ret_gen};
	r = 0;
out:
	free(buf);
	return r;
}

static int state_save(struct ks *ks, uid_t uid, uint64_t gen)
{
	struct ts_atomic_opts ao = {.mode = 0640, .uid = (uid_t)-1, .gid = ks->group};
	uint8_t buf[KS_GEN_SIZE], genkey[KS_KEYBYTES];
	const struct ks_key *k = key_find(ks, ks->current);
	char name[32];
	int r;

	if (!k)
		return TS_E_NO_KEY;
	r = uid_name(name, sizeof(name), uid, ".gen");
	if (r < 0)
		return r;
	memcpy(buf, KS_GEN_MAGIC, 8);
	put32(buf + 8, k->id);
	put32(buf + 12, (uint32_t)uid);
	put64(buf + 16, gen);
	r = derive(genkey, k, uid, KS_KDF_GEN);
	if (r < 0)
		return r;
	crypto_generichash(buf + KS_GEN_BODY, 32, buf, KS_GEN_BODY, genkey, sizeof(genkey));
	sodium_memzero(genkey, sizeof(genkey));
	gen_cache_forget(ks, uid);
	return ts_atomic_write_at(ks->state_fd, name, buf, sizeof(buf), &ao);
}

/* ---- reading records from disk --------------------------------------- */

/* Move users/<name> into quarantine/, unless it was replaced since we read it. */
static int quarantine(struct ks *ks, const char *name, const struct stat *read_st)
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
static int record_load(struct ks *ks, uid_t uid, const char *name, uint8_t **ret_buf,
                       size_t *ret_len, struct stat *ret_st)
{
	struct ts_file_policy pol = record_policy(uid);
	int r;

	r = load_checked(ks->users_fd, name, &pol, ret_buf, ret_len, ret_st);
	return r == -ENOENT ? TS_E_NO_RECORD : r;
}

/* Load and open a record. Corrupt ones (and ones under key ids we do not
 * hold, after a key file reload) are quarantined: TS_E_QUARANTINED. */
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
	r = record_load(ks, id->uid, name, &buf, &len, &st);
	if (r == TS_E_TOO_BIG) {
		q = quarantine(ks, name, NULL);
		return q < 0 ? q : TS_E_QUARANTINED;
	}
	if (r < 0)
		return r;
	r = ks_record_open(ks, id, buf, len, &b);
	if (r == TS_E_KEY_ID && keys_maybe_reload(ks) == 0)
		r = ks_record_open(ks, id, buf, len, &b);
	if (r == TS_E_CORRUPT || r == TS_E_KEY_ID)
		goto bad;
	if (r < 0)
		return r;
	*ret = b;
	return 0;
bad:
	q = quarantine(ks, name, &st);
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
	rs = state_load(ks, id->uid, &seen);
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

/* ---- open / init ------------------------------------------------------ */

static const char *const subdirs[] = {"users", "state", "locks", "quarantine"};

static int mkdir_group(int dirfd, const char *name, gid_t group)
{
	_cleanup_close_ int fd = -1;

	if (mkdirat(dirfd, name, 0770) < 0) {
		if (errno == EEXIST)
			return 0;
		return -errno;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (group != (gid_t)-1 && fchown(fd, (uid_t)-1, group) < 0)
		return -errno;
	if (fchmod(fd, group != (gid_t)-1 ? 02770 : 0770) < 0)
		return -errno;
	return 0;
}

static int write_new_key_file(const char *key_file, gid_t group)
{
	struct ks_key *k;
	int r;

	k = sodium_malloc(sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->id = 1;
	crypto_kdf_keygen(k->key);
	r = keys_save(key_file, k, 1, group);
	sodium_free(k);
	return r;
}

int ks_init(const char *dir, const char *key_file, const struct ks_open_opts *opts)
{
	gid_t group = opts ? opts->group : (gid_t)-1;
	_cleanup_close_ int dfd = -1;
	struct stat st;
	int r;

	r = ks_sodium_init();
	if (r < 0)
		return r;
	if (mkdir(dir, 0770) == 0) {
		if (group != (gid_t)-1 && chown(dir, (uid_t)-1, group) < 0)
			return -errno;
		if (chmod(dir, group != (gid_t)-1 ? 02770 : 0770) < 0)
			return -errno;
	} else if (errno != EEXIST) {
		return -errno;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ELOOP || errno == ENOTDIR ? TS_E_NOT_REGULAR : -errno;
	for (size_t i = 0; i < TS_ARRAY_SIZE(subdirs); i++) {
		r = mkdir_group(dfd, subdirs[i], group);
		if (r < 0)
			return r;
	}
	if (fstatat(AT_FDCWD, key_file, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	return write_new_key_file(key_file, group);
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
	struct ts_file_policy dpol = {.owners = {0, geteuid(), TS_OWNER_ANY}, .forbidden = 0007};
	int *fds[4];
	struct ks *ks;
	int r;

	r = ks_alloc(&ks);
	if (r < 0)
		return r;
	ks->group = opts ? opts->group : (gid_t)-1;
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
	r = keys_load(ks);
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
	ks->group = (gid_t)-1;
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
	keys_free(ks->keys);
	free(ks->key_file);
	free(ks);
	return NULL;
}

uint32_t ks_current_key_id(const struct ks *ks)
{
	return ks->current;
}

size_t ks_key_count(const struct ks *ks)
{
	return ks->nkeys;
}

/* ---- locks ------------------------------------------------------------ */

static int lock_name(struct ks *ks, const char *name, struct ks_lock **ret, uid_t uid)
{
	_cleanup_close_ int fd = -1;
	struct ks_lock *l;
	struct stat st;
	uint64_t deadline;
	long delay_ns = 500000;

	if (ks->locks_fd < 0)
		return -EBADF;
	fd = openat(ks->locks_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0660);
	if (fd < 0)
		return errno == ELOOP ? TS_E_NOT_REGULAR : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return TS_E_NOT_REGULAR;
	if (ks->group != (gid_t)-1 && st.st_gid != ks->group &&
	    fchown(fd, (uid_t)-1, ks->group) < 0)
		return -errno;
	deadline = (uint64_t)ts_monotonic_ms() + ks->lock_timeout_ms;
	for (;;) {
		struct timespec d;

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return -errno;
		if ((uint64_t)ts_monotonic_ms() >= deadline)
			return TS_E_LOCK_TIMEOUT;
		d.tv_sec = 0;
		d.tv_nsec = delay_ns;
		(void)nanosleep(&d, NULL);
		if (delay_ns < 10000000)
			delay_ns *= 2;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->ks = ks;
	l->uid = uid;
	l->fd = TS_TAKE_FD(fd);
	*ret = l;
	return 0;
}

int ks_lock(struct ks *ks, uid_t uid, struct ks_lock **ret)
{
	char name[32];
	int r;

	r = uid_name(name, sizeof(name), uid, ".lock");
	if (r < 0)
		return r;
	return lock_name(ks, name, ret, uid);
}

struct ks_lock *ks_unlock(struct ks_lock *l)
{
	if (!l)
		return NULL;
	if (l->fd >= 0) {
		(void)flock(l->fd, LOCK_UN);
		close(l->fd);
	}
	free(l);
	return NULL;
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

static int write_record(struct ks *ks, const struct ks_key *k, const struct ks_identity *id,
                        const void *payload, size_t len, uint64_t gen)
{
	struct ts_atomic_opts ao = {.mode = 0640,
	                            .uid = (uid_t)-1,
	                            .gid = ks->group,
	                            .before_rename = ks->before_rename,
	                            .ctx = ks->before_rename_ctx};
	_cleanup_free_ uint8_t *file = NULL;
	size_t flen = 0;
	char name[32];
	int r;

	r = uid_name(name, sizeof(name), id->uid, ".seal");
	if (r < 0)
		return r;
	r = record_seal_with(ks, k, id, gen, payload, len, &file, &flen);
	if (r < 0)
		return r;
	return ts_atomic_write_at(ks->users_fd, name, file, flen, &ao);
}

static int check_held(struct ks *ks, struct ks_lock *held, uid_t uid)
{
	if (held->ks != ks || held->uid != uid || held->fd < 0 || ks->users_fd < 0)
		return -EINVAL;
	return 0;
}

int ks_write(struct ks *ks, struct ks_lock *held, const struct ks_identity *id, const void *payload,
             size_t len, uint64_t expected_generation, uint64_t *ret_generation)
{
	const struct ks_key *k;
	uint64_t cur = 0, seen = 0, gen;
	int r;

	r = check_held(ks, held, id->uid);
	if (r < 0)
		return r;
	if (!identity_valid(id))
		return -EINVAL;
	if (len > KS_PAYLOAD_MAX)
		return TS_E_TOO_BIG;
	/* A rotation may have added a key id since we loaded the key file: new
	 * records must be sealed under it, or dropping the old id loses them. */
	r = keys_maybe_reload(ks);
	if (r < 0)
		return r;
	r = current_generation(ks, id, &cur);
	if (r < 0)
		return r;
	if (cur != expected_generation)
		return TS_E_CONFLICT;
	r = state_load(ks, id->uid, &seen);
	if (r == TS_E_CORRUPT)
		seen = 0; /* tampered state: replaced below */
	else if (r < 0)
		return r;
	gen = (cur > seen ? cur : seen) + 1;
	k = key_find(ks, ks->current);
	if (!k)
		return TS_E_NO_KEY;
	/* Record first, then state: a crash in between leaves record gen >
	 * state gen, which reads fine; never the reverse. */
	r = write_record(ks, k, id, payload, len, gen);
	if (r < 0)
		return r;
	r = state_save(ks, id->uid, gen);
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

	r = check_held(ks, held, id->uid);
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
	r = state_load(ks, id->uid, &seen);
	if (r < 0)
		seen = 0;
	/* Counter first, past the record being deleted, then the unlink: a
	 * crash in between leaves a record the keystore refuses as a rollback
	 * (the next login replaces it), never a window in which a saved copy
	 * of the deleted record would read as current. */
	r = state_save(ks, id->uid, (cur > seen ? cur : seen) + 1);
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

	r = check_held(ks, held, id->uid);
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
	return quarantine(ks, name, NULL);
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

/* Read users/<uid>.seal and take its identity from its header. On success
 * *ret_b is the opened record; the identity strings live in ret_bufs. */
struct hdr_identity {
	char user[KS_USER_MAX + 1];
	char issuer[KS_ISSUER_MAX + 1];
	char client_id[KS_CLIENT_MAX + 1];
	struct ks_identity id;
};

static int open_by_header(struct ks *ks, uid_t uid, struct hdr_identity *hi, struct ks_blob **ret_b)
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
	r = record_load(ks, uid, name, &buf, &len, &st);
	if (r == TS_E_TOO_BIG) {
		r = quarantine(ks, name, NULL);
		return r < 0 ? r : TS_E_QUARANTINED;
	}
	if (r < 0)
		return r;
	if (header_parse(buf, len, &h) < 0 || (uint64_t)h.uid != (uint64_t)uid)
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
	r = quarantine(ks, name, &st);
	return r < 0 ? r : TS_E_QUARANTINED;
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

	r = open_by_header(ks, uid, &hi, &b);
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

int ks_verify_all(struct ks *ks, unsigned *ret_ok, unsigned *ret_bad)
{
	struct verify_ctx v = {0, 0};
	int r;

	if (ks->users_fd < 0)
		return -EBADF;
	r = keys_maybe_reload(ks);
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
	r = keys_load(ks); /* start from what is on disk */
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
	r = keys_save(ks->key_file, keys, n + 1,
	              ks->group != (gid_t)-1 ? ks->group : ks->key_st.st_gid);
	sodium_free(keys);
	if (r < 0)
		return r;
	r = keys_load(ks);
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
	r = open_by_header(ks, uid, &hi, &b);
	if (r == TS_E_NO_RECORD || r == TS_E_QUARANTINED || r == TS_E_ROLLBACK) {
		r = 0; /* nothing (valid) left to carry over */
		goto out;
	}
	if (r < 0)
		goto out;
	k = key_find(ks, ks->current);
	if (!k) {
		r = TS_E_NO_KEY;
		goto out;
	}
	if (b->key_id != ks->current) {
		/* Same generation: the content did not change, so a reader's
		 * compare-and-swap still holds. */
		r = write_record(ks, k, &hi.id, b->payload, b->len, b->generation);
		if (r < 0)
			goto out;
		done = 1;
	}
	/* Re-MAC the state file under the new key before the old one goes. */
	r = state_load(ks, uid, &seen);
	if (r < 0)
		seen = 0;
	r = state_save(ks, uid, seen > b->generation ? seen : b->generation);
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

	r = keys_load(ks);
	if (r < 0)
		return r;
	k = key_find(ks, ks->current);
	if (!k)
		return TS_E_NO_KEY;
	r = keys_save(ks->key_file, k, 1, ks->group != (gid_t)-1 ? ks->group : ks->key_st.st_gid);
	if (r < 0)
		return r;
	return keys_load(ks);
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
	r = state_load(ks, uid, &seen);
	if (r == 0 && seen > 0)
		r = state_save(ks, uid, seen);
	else if (r == TS_E_CORRUPT)
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
	r = lock_name(ks, "keyfile.lock", &l, (uid_t)-1);
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
