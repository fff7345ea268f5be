/* SPDX-License-Identifier: MIT */
/*
 * Record format: header layout, seal and open (XChaCha20-Poly1305), the
 * payload buffer pool. The layout is described in ks_internal.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ks_internal.h"
#include "ts_error.h"
#include "ts_mem.h"

bool ks_identity_valid(const struct ks_identity *id)
{
	return id->user && id->issuer && id->client_id && id->user[0] &&
	       strlen(id->user) <= KS_USER_MAX && strlen(id->issuer) <= KS_ISSUER_MAX &&
	       strlen(id->client_id) <= KS_CLIENT_MAX;
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

/* ---- record format ---------------------------------------------------- */

int ks_header_parse(const uint8_t *p, size_t len, struct ks_header *h)
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
	r = ks_header_parse(file, len, &h);
	if (r < 0)
		return r;
	if ((uint64_t)h.uid != (uint64_t)id->uid || !id->user || !id->issuer || !id->client_id)
		return TS_E_CORRUPT; /* another uid's file: copied, not configured */
	/* Same uid, sealed for another user name, issuer or client id: the
	 * configuration changed (a typo, a trailing slash, a new client), not
	 * the file. Refused, and healed by fixing the configuration. */
	if (!field_eq(h.user, h.user_len, id->user) ||
	    !field_eq(h.issuer, h.issuer_len, id->issuer) ||
	    !field_eq(h.client_id, h.client_len, id->client_id))
		return TS_E_MISMATCH;
	k = ks_key_find(ks, h.key_id);
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
	r = ks_derive(subkey, k, id->uid, KS_KDF_USER);
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

int ks_record_seal_with(const struct ks *ks, const struct ks_key *k, const struct ks_identity *id,
                        uint64_t generation, const void *payload, size_t len, uint8_t **ret_file,
                        size_t *ret_len)
{
	uint8_t subkey[KS_KEYBYTES];
	size_t ul, il, cl, hlen, total, pos;
	unsigned long long clen = 0;
	uint8_t *f;
	int r;

	(void)ks;
	if (!ks_identity_valid(id) || len > KS_PAYLOAD_MAX || generation == 0)
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
	r = ks_derive(subkey, k, id->uid, KS_KDF_USER);
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
	const struct ks_key *k = ks_key_find(ks, ks->current);

	if (!k)
		return TS_E_NO_KEY;
	if (!payload && len)
		return -EINVAL;
	return ks_record_seal_with(ks, k, id, generation, payload ? payload : "", len, ret_file,
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
