/* SPDX-License-Identifier: MIT */
/*
 * Generation counters (anti-rollback): the MACed state files state/<uid>.gen
 * and a cache of verified ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ks_internal.h"
#include "ts_error.h"
#include "ts_mem.h"

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
	       c->mtim.tv_sec == st->st_mtim.tv_sec && c->mtim.tv_nsec == st->st_mtim.tv_nsec &&
	       c->ctim.tv_sec == st->st_ctim.tv_sec && c->ctim.tv_nsec == st->st_ctim.tv_nsec;
}

static void gen_cache_forget(struct ks *ks, uid_t uid)
{
	struct ks_gen_cache *c = gen_cache_find(ks, uid);

	if (c)
		c->valid = false;
}

/* *ret_gen = newest generation seen (0 if none). TS_E_CORRUPT when the state
 * file exists but does not verify. */
int ks_state_load(struct ks *ks, uid_t uid, uint64_t *ret_gen)
{
	struct ts_file_policy pol = ts_file_policy_private(KS_GEN_SIZE);
	_cleanup_close_ int fd = -1;
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
	r = ts_openat_checked(ks->state_fd, name, O_RDONLY, &pol, &fd, &st);
	if (r == -ENOENT) {
		*ret_gen = 0;
		return 0;
	}
	if (r >= 0)
		r = ts_read_all(fd, KS_GEN_SIZE, &buf, &len);
	if (r == TS_E_TOO_BIG)
		return TS_E_CORRUPT;
	if (r < 0)
		return r;
	r = TS_E_CORRUPT;
	if (len != KS_GEN_SIZE || memcmp(buf, KS_GEN_MAGIC, 8) != 0 ||
	    get32(buf + 12) != (uint32_t)uid)
		goto out;
	k = ks_key_find(ks, get32(buf + 8));
	/* re-MACed by a rotation under a key id added since we loaded the keys */
	if (!k && ks_keys_maybe_reload(ks) == 0)
		k = ks_key_find(ks, get32(buf + 8));
	if (!k) {
		r = TS_E_KEY_ID; /* a key missing from key_file is no tampering */
		goto out;
	}
	if (ks_derive(genkey, k, uid, KS_KDF_GEN) < 0)
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
	                           .ctim = st.st_ctim,
	                           .gen = *ret_gen};
	r = 0;
out:
	free(buf);
	return r;
}

int ks_state_save(struct ks *ks, uid_t uid, uint64_t gen)
{
	struct ts_atomic_opts ao = {.mode = 0600, .uid = (uid_t)-1, .gid = (gid_t)-1};
	uint8_t buf[KS_GEN_SIZE], genkey[KS_KEYBYTES];
	const struct ks_key *k = ks_key_find(ks, ks->current);
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
	r = ks_derive(genkey, k, uid, KS_KDF_GEN);
	if (r < 0)
		return r;
	crypto_generichash(buf + KS_GEN_BODY, 32, buf, KS_GEN_BODY, genkey, sizeof(genkey));
	sodium_memzero(genkey, sizeof(genkey));
	gen_cache_forget(ks, uid);
	return ts_atomic_write_at(ks->state_fd, name, buf, sizeof(buf), &ao);
}
