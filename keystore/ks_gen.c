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

/* An in-place slot write leaves the inode and size as they were and sets
 * mtime and ctime from the kernel's coarse clock, which lags the real clock
 * by at most a tick (4-10 ms): a second write within the tick of the first
 * can leave the same stat. A two-slot file is therefore cached only when
 * its ctime is older than KS_GEN_SETTLED_MS by a clock read before the
 * stat: any write after that read gets a ctime no earlier than the read
 * minus a tick, so later than the cached one, and the stat differs. A
 * clock stepped back makes files look too new to cache; nothing worse. */
#define KS_GEN_SETTLED_MS 100

static bool gen_settled(const struct timespec *now, const struct stat *st)
{
	int64_t age_ms = ((int64_t)now->tv_sec - (int64_t)st->st_ctim.tv_sec) * 1000 +
	                 ((int64_t)now->tv_nsec - (int64_t)st->st_ctim.tv_nsec) / 1000000;

	return now->tv_sec > 0 && age_ms >= KS_GEN_SETTLED_MS;
}

/* Check one body p (KS_GEN_SIZE bytes) with magic: 0 and *ret_gen (and
 * *ret_key_id), TS_E_KEY_ID when it is MACed under a key id key_file does not
 * hold, TS_E_CORRUPT otherwise. */
static int gen_body_check(struct ks *ks, const uint8_t *p, const char *magic, uid_t uid,
                          uint64_t *ret_gen, uint32_t *ret_key_id)
{
	uint8_t genkey[KS_KEYBYTES], mac[32];
	const struct ks_key *k;

	if (memcmp(p, magic, 8) != 0 || get32(p + 12) != (uint32_t)uid)
		return TS_E_CORRUPT;
	k = ks_key_find(ks, get32(p + 8));
	/* re-MACed by a rotation under a key id added since we loaded the keys */
	if (!k && ks_keys_maybe_reload(ks) == 0)
		k = ks_key_find(ks, get32(p + 8));
	if (!k)
		return TS_E_KEY_ID; /* a key missing from key_file is no tampering */
	if (ks_derive(genkey, k, uid, KS_KDF_GEN) < 0)
		return TS_E_CORRUPT;
	crypto_generichash(mac, sizeof(mac), p, KS_GEN_BODY, genkey, sizeof(genkey));
	sodium_memzero(genkey, sizeof(genkey));
	if (sodium_memcmp(mac, p + KS_GEN_BODY, sizeof(mac)) != 0)
		return TS_E_CORRUPT;
	*ret_gen = get64(p + 16);
	if (ret_key_id)
		*ret_key_id = k->id;
	return 0;
}

/* Check the slot at p (KS_GEN_SLOT bytes): a body, then zeros. */
static int gen_slot_check(struct ks *ks, const uint8_t *p, uid_t uid, uint64_t *ret_gen,
                          uint32_t *ret_key_id)
{
	for (size_t i = KS_GEN_SIZE; i < KS_GEN_SLOT; i++)
		if (p[i])
			return TS_E_CORRUPT;
	return gen_body_check(ks, p, KS_GEN2_MAGIC, uid, ret_gen, ret_key_id);
}

struct gen_slots {
	int r[2]; /* gen_slot_check() of slot A and slot B */
	uint64_t gen[2];
	uint32_t key_id[2];
};

/* Check both slots of a two-slot file in buf. The generation is the highest
 * of the slots that verify; a slot that does not (a torn write, or a key id
 * dropped after a rotation rewrote the other) is ignored. Neither verifies:
 * TS_E_KEY_ID when both name a key id missing from key_file, else
 * TS_E_CORRUPT. */
static int gen_slots_check(struct ks *ks, const uint8_t *buf, uid_t uid, struct gen_slots *s,
                           uint64_t *ret_gen)
{
	for (int i = 0; i < 2; i++)
		s->r[i] = gen_slot_check(ks, buf + i * KS_GEN_SLOT, uid, &s->gen[i], &s->key_id[i]);
	if (s->r[0] == 0 && s->r[1] == 0)
		*ret_gen = s->gen[0] > s->gen[1] ? s->gen[0] : s->gen[1];
	else if (s->r[0] == 0 || s->r[1] == 0)
		*ret_gen = s->r[0] == 0 ? s->gen[0] : s->gen[1];
	else if (s->r[0] == TS_E_KEY_ID && s->r[1] == TS_E_KEY_ID)
		return TS_E_KEY_ID;
	else
		return TS_E_CORRUPT;
	return 0;
}

/* *ret_gen = newest generation seen (0 if none). TS_E_CORRUPT when the state
 * file exists but does not verify. */
int ks_state_load(struct ks *ks, uid_t uid, uint64_t *ret_gen)
{
	struct ts_file_policy pol = ts_file_policy_private(KS_GEN2_SIZE);
	_cleanup_close_ int fd = -1;
	uint8_t *buf = NULL;
	struct ks_gen_cache *c;
	struct gen_slots slots;
	struct timespec now = {0};
	struct stat st;
	uint64_t gen = 0;
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
	/* before the stat: see gen_settled() */
	if (clock_gettime(CLOCK_REALTIME, &now) < 0)
		now.tv_sec = 0; /* then nothing two-slot is cached */
	r = ts_openat_checked(ks->state_fd, name, O_RDONLY, &pol, &fd, &st);
	if (r == -ENOENT) {
		*ret_gen = 0;
		return 0;
	}
	if (r >= 0)
		r = ts_read_all(fd, KS_GEN2_SIZE, &buf, &len);
	if (r == TS_E_TOO_BIG)
		return TS_E_CORRUPT;
	if (r < 0)
		return r;
	if (len == KS_GEN_SIZE)
		r = gen_body_check(ks, buf, KS_GEN_MAGIC, uid, &gen, NULL);
	else if (len == KS_GEN2_SIZE)
		r = gen_slots_check(ks, buf, uid, &slots, &gen);
	else
		r = TS_E_CORRUPT;
	free(buf);
	if (r < 0)
		return r;
	*ret_gen = gen;
	if (len == KS_GEN2_SIZE && !gen_settled(&now, &st))
		return 0;
	c = &ks->gen_cache[ks->gen_cache_next++ % KS_GEN_CACHE];
	*c = (struct ks_gen_cache){.valid = true,
	                           .uid = uid,
	                           .dev = st.st_dev,
	                           .ino = st.st_ino,
	                           .size = st.st_size,
	                           .mtim = st.st_mtim,
	                           .ctim = st.st_ctim,
	                           .gen = gen};
	return 0;
}

/* Write gen into the slot of the two-slot file name that does not hold the
 * newest verified generation, in place. Only when the slot kept is sound: it
 * verifies under the current key (so that after a rotation both slots end
 * under it) and holds no more than gen (what is saved is what loads). Else,
 * or for any error, 1: the caller replaces the whole file. */
static int gen_save_in_place(struct ks *ks, const char *name, uid_t uid, uint64_t gen,
                             const uint8_t slot[KS_GEN_SLOT])
{
	struct ts_file_policy pol = ts_file_policy_private(KS_GEN2_SIZE);
	_cleanup_close_ int fd = -1;
	uint8_t buf[KS_GEN2_SIZE];
	struct gen_slots s;
	uint64_t newest;
	struct stat st;
	int keep, r;

	r = ts_openat_checked(ks->state_fd, name, O_RDWR, &pol, &fd, &st);
	if (r < 0 || st.st_size != KS_GEN2_SIZE)
		return 1;
	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return 1;
	if (gen_slots_check(ks, buf, uid, &s, &newest) < 0)
		return 1;
	/* keep the slot holding the newest generation, write over the other */
	keep = s.r[0] == 0 && (s.r[1] != 0 || s.gen[0] >= s.gen[1]) ? 0 : 1;
	if (s.key_id[keep] != ks->current || s.gen[keep] > gen)
		return 1;
	if (pwrite(fd, slot, KS_GEN_SLOT, (off_t)(1 - keep) * KS_GEN_SLOT) != KS_GEN_SLOT)
		return 1;
	/* the size and the folder did not change: the data is all there is */
	if (fdatasync(fd) < 0)
		return 1;
	return 0;
}

/* One body for gen under the current key into out (KS_GEN_SIZE bytes). */
static int gen_body_make(struct ks *ks, uid_t uid, uint64_t gen, const char *magic, uint8_t *out)
{
	const struct ks_key *k = ks_key_find(ks, ks->current);
	uint8_t genkey[KS_KEYBYTES];
	int r;

	if (!k)
		return TS_E_NO_KEY;
	memcpy(out, magic, 8);
	put32(out + 8, k->id);
	put32(out + 12, (uint32_t)uid);
	put64(out + 16, gen);
	r = ks_derive(genkey, k, uid, KS_KDF_GEN);
	if (r < 0)
		return r;
	crypto_generichash(out + KS_GEN_BODY, 32, out, KS_GEN_BODY, genkey, sizeof(genkey));
	sodium_memzero(genkey, sizeof(genkey));
	return 0;
}

int ks_testing_state_save_v1(struct ks *ks, uid_t uid, uint64_t gen)
{
	struct ts_atomic_opts ao = {.mode = 0600, .uid = (uid_t)-1, .gid = (gid_t)-1};
	uint8_t buf[KS_GEN_SIZE];
	char name[32];
	int r;

	r = uid_name(name, sizeof(name), uid, ".gen");
	if (r < 0)
		return r;
	r = gen_body_make(ks, uid, gen, KS_GEN_MAGIC, buf);
	if (r < 0)
		return r;
	gen_cache_forget(ks, uid);
	return ts_atomic_write_at(ks->state_fd, name, buf, sizeof(buf), &ao);
}

int ks_state_save(struct ks *ks, uid_t uid, uint64_t gen)
{
	struct ts_atomic_opts ao = {.mode = 0600, .uid = (uid_t)-1, .gid = (gid_t)-1};
	uint8_t buf[KS_GEN2_SIZE] = {0};
	char name[32];
	int r;

	r = uid_name(name, sizeof(name), uid, ".gen");
	if (r < 0)
		return r;
	r = gen_body_make(ks, uid, gen, KS_GEN2_MAGIC, buf);
	if (r < 0)
		return r;
	/* an in-place write keeps the inode and perhaps the stat: forget it */
	gen_cache_forget(ks, uid);
	if (gen_save_in_place(ks, name, uid, gen, buf) == 0)
		return 0;
	/* Absent, the old form, not sound, or the write failed: both slots =
	 * gen, replaced by a rename (once per user, or after a rotation). */
	memcpy(buf + KS_GEN_SLOT, buf, KS_GEN_SIZE);
	return ts_atomic_write_at(ks->state_fd, name, buf, sizeof(buf), &ao);
}
