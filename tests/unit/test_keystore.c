/* SPDX-License-Identifier: MIT */
/*
 * keystore/: format, authentication of every header field, bit flips,
 * truncation, rollback, symlinks, modes, compare-and-swap, quarantine,
 * verify, key rotation and the master key file checks (single process).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ks.h"
#include "ks_testing.h"
#include "ts_error.h"
#include "ts_test.h"

static const struct ks_identity alice = {
    .uid = 1000, .user = "alice", .issuer = "https://idp.example", .client_id = "tokenseal"};

static char dir[600], keyfile[600];
static unsigned case_no;

static struct ks *fresh(void)
{
	struct ks *ks = NULL;

	case_no++;
	snprintf(dir, sizeof(dir), "%s/ks%u", ts_test_tmpdir(), case_no);
	snprintf(keyfile, sizeof(keyfile), "%s/key%u", ts_test_tmpdir(), case_no);
	CHECK_INT(ks_init(dir, keyfile, NULL), 0);
	CHECK_INT(ks_open(&ks, dir, keyfile, NULL), 0);
	return ks;
}

static uint64_t put(struct ks *ks, const struct ks_identity *id, const char *s, uint64_t expect)
{
	struct ks_lock *l = NULL;
	uint64_t gen = 0;

	CHECK_INT(ks_lock(ks, id->uid, &l), 0);
	CHECK_INT(ks_write(ks, l, id, s, strlen(s), expect, &gen), 0);
	ks_unlock(l);
	return gen;
}

static void expect_payload(struct ks *ks, const struct ks_identity *id, const char *s)
{
	struct ks_blob *b = NULL;

	CHECK_INT(ks_read(ks, id, &b), 0);
	CHECK_INT(b->len, strlen(s));
	CHECK(memcmp(b->payload, s, b->len) == 0);
	ks_blob_free(b);
}

/* A read under the user's lock (the only kind that quarantines). */
static int read_locked(struct ks *ks, const struct ks_identity *id, struct ks_blob **b)
{
	struct ks_lock *l = NULL;
	int r;

	CHECK_INT(ks_lock(ks, id->uid, &l), 0);
	r = ks_read_locked(ks, l, id, b);
	ks_unlock(l);
	return r;
}

static void record_path(char *buf, size_t len, uid_t uid)
{
	snprintf(buf, len, "%s/users/%u.seal", dir, (unsigned)uid);
}

static unsigned count_dir(const char *sub)
{
	char p[700];
	DIR *d;
	struct dirent *de;
	unsigned n = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	d = opendir(p);
	CHECK(d != NULL);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

/* ---- state/<uid>.gen: two slots of 512 bytes, written in place -------- */

static void gen_file_path(char *buf, size_t len, uid_t uid)
{
	snprintf(buf, len, "%s/state/%u.gen", dir, (unsigned)uid);
}

static ino_t ino_of(const char *p)
{
	struct stat st;

	CHECK_INT(stat(p, &st), 0);
	return st.st_ino;
}

static off_t size_of(const char *p)
{
	struct stat st;

	CHECK_INT(stat(p, &st), 0);
	return st.st_size;
}

/* Overwrite slot i in place with what a torn write might leave. */
static void slot_garble(const char *p, int i)
{
	uint8_t junk[100];
	int fd = open(p, O_WRONLY);

	memset(junk, 0xa5, sizeof(junk));
	CHECK(fd >= 0);
	CHECK_INT(pwrite(fd, junk, sizeof(junk), (off_t)i * 512), (ssize_t)sizeof(junk));
	close(fd);
}

static uint32_t slot_u32(const char *p, int i, size_t off)
{
	size_t n = 0;
	uint8_t *s = (uint8_t *)ts_test_read_file(p, &n);
	const uint8_t *q = s + (size_t)i * 512 + off;
	uint32_t v;

	CHECK_INT(n, 1024);
	v = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
	free(s);
	return v;
}

/* A generation from the slot's own bytes (low 32 bits are plenty here). */
static uint32_t slot_gen(const char *p, int i)
{
	return slot_u32(p, i, 16);
}

static void expect_gen(struct ks *ks, const struct ks_identity *id, uint64_t gen)
{
	struct ks_blob *b = NULL;

	CHECK_INT(ks_read(ks, id, &b), 0);
	CHECK_INT(b->generation, gen);
	ks_blob_free(b);
}

/* A write after the first updates the counter in place (no second rename),
 * and the counter still refuses an older record. */
static void test_gen_in_place(void)
{
	struct ks *ks = fresh();
	struct ks_blob *b = NULL;
	char g[700], p[700], *rec1;
	size_t n1 = 0;
	ino_t ino;

	gen_file_path(g, sizeof(g), alice.uid);
	record_path(p, sizeof(p), alice.uid);
	CHECK_INT(put(ks, &alice, "one", 0), 1);
	CHECK_INT(size_of(g), 1024);
	CHECK_INT(slot_gen(g, 0), 1);
	CHECK_INT(slot_gen(g, 1), 1);
	rec1 = ts_test_read_file(p, &n1);
	ino = ino_of(g);
	for (uint64_t gen = 2; gen <= 5; gen++) {
		CHECK_INT(put(ks, &alice, "more", gen - 1), gen);
		CHECK_MSG(ino_of(g) == ino, "state file replaced at generation %u",
		          (unsigned)gen);
		CHECK_INT(size_of(g), 1024);
		/* the newest in one slot, the one before in the other */
		CHECK_INT(slot_gen(g, 0) + slot_gen(g, 1), 2 * gen - 1);
		expect_gen(ks, &alice, gen);
	}
	ts_test_write_file(p, rec1, n1, 0600);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK);
	free(rec1);
	ks_close(ks);
}

/* A torn slot write: the other slot stands, the record loads, and a copy of
 * an older record is still refused. */
static void test_gen_torn_slot(void)
{
	struct ks *ks = fresh(), *other = NULL;
	struct ks_blob *b = NULL;
	char g[700], p[700], *rec1, *rec3;
	size_t n1 = 0, n3 = 0;
	int newest;

	gen_file_path(g, sizeof(g), alice.uid);
	record_path(p, sizeof(p), alice.uid);
	CHECK_INT(put(ks, &alice, "one", 0), 1);
	rec1 = ts_test_read_file(p, &n1);
	CHECK_INT(put(ks, &alice, "two", 1), 2);
	CHECK_INT(put(ks, &alice, "three", 2), 3);
	rec3 = ts_test_read_file(p, &n3);
	CHECK_INT(ks_open(&other, dir, keyfile, NULL), 0);
	expect_gen(other, &alice, 3); /* another view, with its cache */
	newest = slot_gen(g, 0) == 3 ? 0 : 1;
	CHECK_INT(slot_gen(g, newest), 3);
	CHECK_INT(slot_gen(g, 1 - newest), 2);

	/* the write of generation 3 torn: the counter is 2, record 3 reads */
	slot_garble(g, newest);
	expect_gen(ks, &alice, 3);
	expect_gen(other, &alice, 3);
	ts_test_write_file(p, rec1, n1, 0600);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK);
	CHECK_INT(ks_read(other, &alice, &b), TS_E_ROLLBACK);
	ts_test_write_file(p, rec3, n3, 0600);
	/* the next write goes into the torn slot, in place */
	CHECK_INT(put(ks, &alice, "four", 3), 4);
	CHECK_INT(slot_gen(g, newest), 4);
	CHECK_INT(slot_gen(g, 1 - newest), 2);
	/* now the slot holding 2 torn: 4 stands, record 3 is refused */
	slot_garble(g, 1 - newest);
	expect_gen(ks, &alice, 4);
	ts_test_write_file(p, rec3, n3, 0600);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK);
	CHECK_INT(ks_read(other, &alice, &b), TS_E_ROLLBACK);
	free(rec1);
	free(rec3);
	ks_close(other);
	ks_close(ks);
}

/* Both slots bad is no torn write: refused, as a tampered state always was,
 * and the next login's write replaces it. */
static void test_gen_both_slots_bad(void)
{
	struct ks *ks = fresh();
	struct ks_blob *b = NULL;
	char g[700];

	gen_file_path(g, sizeof(g), alice.uid);
	CHECK_INT(put(ks, &alice, "one", 0), 1);
	CHECK_INT(put(ks, &alice, "two", 1), 2);
	slot_garble(g, 0);
	slot_garble(g, 1);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK);
	CHECK(b == NULL);
	/* a slot's zero padding is part of it: a stray byte there is no slot */
	CHECK_INT(put(ks, &alice, "three", 2), 3);
	expect_gen(ks, &alice, 3);
	{
		int fd = open(g, O_WRONLY);
		CHECK(fd >= 0);
		CHECK_INT(pwrite(fd, "x", 1, 100), 1);
		CHECK_INT(pwrite(fd, "x", 1, 512 + 511), 1);
		close(fd);
	}
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK);
	/* the wrong size is no state file either */
	CHECK_INT(truncate(g, 1023), 0);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK);
	ks_close(ks);
}

/* A state file of the old form (56 bytes, one body) reads as before and is
 * replaced by the two-slot form at the next write. */
static void test_gen_old_form(void)
{
	struct ks *ks = fresh();
	struct ks_blob *b = NULL;
	char g[700], p[700], *rec1, *rec2, *old;
	size_t n1 = 0, n2 = 0, no = 0;
	ino_t ino;

	gen_file_path(g, sizeof(g), alice.uid);
	record_path(p, sizeof(p), alice.uid);
	CHECK_INT(put(ks, &alice, "one", 0), 1);
	rec1 = ts_test_read_file(p, &n1);
	CHECK_INT(put(ks, &alice, "two", 1), 2);
	rec2 = ts_test_read_file(p, &n2);
	CHECK_INT(ks_testing_state_save_v1(ks, alice.uid, 2), 0);
	CHECK_INT(size_of(g), 56);
	expect_gen(ks, &alice, 2);
	ts_test_write_file(p, rec1, n1, 0600);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK);
	ts_test_write_file(p, rec2, n2, 0600);
	/* a tampered old form is refused as before */
	old = ts_test_read_file(g, &no);
	old[16] ^= 1;
	ts_test_write_file(g, old, no, 0600);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK);
	old[16] ^= 1;
	ts_test_write_file(g, old, no, 0600);
	expect_gen(ks, &alice, 2);
	/* migrated by the next write (a rename, once), then written in place */
	CHECK_INT(put(ks, &alice, "three", 2), 3);
	CHECK_INT(size_of(g), 1024);
	CHECK_INT(slot_gen(g, 0), 3);
	CHECK_INT(slot_gen(g, 1), 3);
	ino = ino_of(g);
	CHECK_INT(put(ks, &alice, "four", 3), 4);
	CHECK(ino_of(g) == ino);
	expect_gen(ks, &alice, 4);
	ts_test_write_file(p, rec2, n2, 0600);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK);
	free(old);
	free(rec1);
	free(rec2);
	ks_close(ks);
}

/* rotate-key leaves both slots under the new key: with the old key id gone
 * from key_file either slot alone still verifies. */
static void test_gen_rotation_both_slots(void)
{
	struct ks *ks = fresh();
	struct ks_identity gone = alice;
	struct ks_blob *b = NULL;
	char g[700], gg[700], p[700], *rec3, *save;
	size_t n3 = 0, ns = 0;
	uint32_t newid = 0;
	unsigned resealed = 0;

	gone.uid = 1001; /* a deleted record: only its counter is left */
	gen_file_path(g, sizeof(g), alice.uid);
	gen_file_path(gg, sizeof(gg), gone.uid);
	record_path(p, sizeof(p), alice.uid);
	CHECK_INT(put(ks, &alice, "one", 0), 1);
	CHECK_INT(put(ks, &alice, "two", 1), 2);
	CHECK_INT(put(ks, &alice, "three", 2), 3);
	CHECK_INT(put(ks, &gone, "x", 0), 1);
	CHECK_INT(put(ks, &gone, "y", 1), 2);
	{
		struct ks_lock *l = NULL;
		CHECK_INT(ks_lock(ks, gone.uid, &l), 0);
		CHECK_INT(ks_delete(ks, l, &gone, 2), 0);
		ks_unlock(l);
	}
	CHECK_INT(ks_rotate_key(ks, &newid, &resealed), 0);
	CHECK_INT(newid, 2);
	CHECK_INT(ks_key_count(ks), 1); /* key id 1 dropped from key_file */
	for (int i = 0; i < 2; i++) {
		CHECK_MSG(slot_u32(g, i, 8) == 2, "slot %d of a record's counter", i);
		CHECK_MSG(slot_u32(gg, i, 8) == 2, "slot %d of a deleted one's counter", i);
	}
	expect_gen(ks, &alice, 3);
	for (int i = 0; i < 2; i++) {
		save = ts_test_read_file(g, &ns);
		slot_garble(g, i);
		expect_gen(ks, &alice, 3);
		ts_test_write_file(g, save, ns, 0600);
		free(save);
	}
	/* a new view, keys as they are now on disk */
	ks_close(ks);
	CHECK_INT(ks_open(&ks, dir, keyfile, NULL), 0);
	expect_gen(ks, &alice, 3);
	/* record 3, re-sealed under key 2, copied away: refused after 4 */
	rec3 = ts_test_read_file(p, &n3);
	CHECK_INT(put(ks, &alice, "four", 3), 4);
	ts_test_write_file(p, rec3, n3, 0600);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK);
	/* the deleted user's counter survived: a new record starts above it */
	CHECK_INT(put(ks, &gone, "z", 0), 4);
	free(rec3);
	ks_close(ks);
}

/* The verified-state cache and in-place writes. The stat an in-place write
 * leaves differs from the one before only by mtime and ctime, from a coarse
 * clock: another view must not keep a generation it read within the same
 * tick as a later write (tried many times over: some land in one tick),
 * nor one it cached long before a write. */
static void test_gen_cache(void)
{
	struct ks *ks = fresh(), *other = NULL;
	struct ks_blob *b = NULL;
	char p[700], *old, *cur;
	size_t no = 0, nc = 0;
	uint64_t gen = 1;

	record_path(p, sizeof(p), alice.uid);
	CHECK_INT(put(ks, &alice, "one", 0), 1);
	CHECK_INT(ks_open(&other, dir, keyfile, NULL), 0);
	for (int i = 0; i < 51; i++) {
		if (i == 50)
			sleep(3); /* long enough for the state file to be cached */
		old = ts_test_read_file(p, &no);
		expect_gen(other, &alice, gen);
		CHECK_INT(put(ks, &alice, "next", gen), gen + 1);
		gen++;
		cur = ts_test_read_file(p, &nc);
		ts_test_write_file(p, old, no, 0600);
		CHECK_MSG(ks_read(other, &alice, &b) == TS_E_ROLLBACK,
		          "generation %u read again after %u was saved", (unsigned)gen - 1,
		          (unsigned)gen);
		b = ks_blob_free(b);
		ts_test_write_file(p, cur, nc, 0600);
		free(old);
		free(cur);
	}
	expect_gen(other, &alice, gen);
	ks_close(other);
	ks_close(ks);
}

static void test_round_trip(void)
{
	struct ks *ks = fresh();
	struct ks_blob *b = NULL;
	char p[700];
	struct stat st;

	CHECK_INT(ks_read(ks, &alice, &b), TS_E_NO_RECORD);
	CHECK_INT(put(ks, &alice, "hello token", 0), 1);
	expect_payload(ks, &alice, "hello token");
	CHECK_INT(put(ks, &alice, "second", 1), 2);
	CHECK_INT(ks_read(ks, &alice, &b), 0);
	CHECK_INT(b->generation, 2);
	CHECK_INT(b->key_id, 1);
	CHECK(memcmp(b->payload, "second", 6) == 0);
	ks_blob_free(b);
	record_path(p, sizeof(p), alice.uid);
	CHECK_INT(stat(p, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	/* root-only: every folder 0700, every file 0600, no group anywhere */
	CHECK_INT(stat(dir, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0700);
	{
		static const char *const subs[] = {"users", "state", "locks", "quarantine"};
		for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
			snprintf(p, sizeof(p), "%s/%s", dir, subs[i]);
			CHECK_INT(stat(p, &st), 0);
			CHECK_INT(st.st_mode & 07777, 0700);
		}
	}
	snprintf(p, sizeof(p), "%s/state/%u.gen", dir, (unsigned)alice.uid);
	CHECK_INT(stat(p, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	snprintf(p, sizeof(p), "%s/locks/%u.lock", dir, (unsigned)alice.uid);
	CHECK_INT(stat(p, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK_INT(stat(keyfile, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	/* the payload is not in the file in clear */
	{
		size_t n = 0;
		char *f = ts_test_read_file((record_path(p, sizeof(p), alice.uid), p), &n);
		CHECK(memmem(f, n, "second", 6) == NULL);
		free(f);
	}
	/* empty payload round trip */
	CHECK_INT(put(ks, &alice, "", 2), 3);
	expect_payload(ks, &alice, "");
	ks_close(ks);
}

static void test_payload_limits(void)
{
	struct ks *ks = fresh();
	struct ks_lock *l = NULL;
	uint8_t *big = calloc(1, KS_PAYLOAD_MAX + 1);
	struct ks_identity bad = alice;
	uint64_t g = 0;

	CHECK(big != NULL);
	CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
	CHECK_INT(ks_write(ks, l, &alice, big, KS_PAYLOAD_MAX + 1, 0, &g), TS_E_TOO_BIG);
	CHECK_INT(ks_write(ks, l, &alice, big, KS_PAYLOAD_MAX, 0, &g), 0);
	bad.uid = 1001; /* lock held for another user */
	CHECK_INT(ks_write(ks, l, &bad, "x", 1, 0, &g), -EINVAL);
	bad = alice;
	bad.user = "";
	CHECK_INT(ks_write(ks, l, &bad, "x", 1, 1, &g), -EINVAL);
	ks_unlock(l);
	free(big);
	ks_close(ks);
}

/* Each field of the associated data is bound: changing it refuses the record. */
static void test_ad_fields(void)
{
	static const uint8_t key[KS_KEYBYTES] = {1, 2, 3};
	struct ks *ks = NULL, *ks2 = NULL;
	struct ks_blob *b = NULL;
	uint8_t *f = NULL, *g = NULL;
	size_t n = 0, n2 = 0;
	struct ks_identity id;
	uint32_t newid = 0;

	CHECK_INT(ks_open_from_key(&ks, 1, key), 0);
	CHECK_INT(ks_record_seal(ks, &alice, 5, "secret", 6, &f, &n), 0);
	CHECK_INT(ks_record_open(ks, &alice, f, n, &b), 0);
	CHECK_INT(b->generation, 5);
	b = ks_blob_free(b);

	/* the caller's identity differs from the header */
	id = alice, id.uid = 1001;
	CHECK_INT(ks_record_open(ks, &id, f, n, &b), TS_E_CORRUPT);
	/* same uid, another user name, issuer or client id: a mismatch */
	id = alice, id.user = "alicf";
	CHECK_INT(ks_record_open(ks, &id, f, n, &b), TS_E_MISMATCH);
	id = alice, id.issuer = "https://idp.examplf";
	CHECK_INT(ks_record_open(ks, &id, f, n, &b), TS_E_MISMATCH);
	id = alice, id.client_id = "tokenseaL";
	CHECK_INT(ks_record_open(ks, &id, f, n, &b), TS_E_MISMATCH);

	/* the header rewritten consistently with the caller: only the AEAD
	 * (associated data, per-user key) can catch it */
	g = malloc(n);
	CHECK(g != NULL);
	{
		/* uid at offset 22 */
		memcpy(g, f, n);
		g[22] ^= 1;
		id = alice, id.uid = alice.uid ^ 1u;
		CHECK_INT(ks_record_open(ks, &id, g, n, &b), TS_E_CORRUPT);
		/* user name: first byte after its 2-byte length at offset 26 */
		memcpy(g, f, n);
		g[28 + 4] = 'f';
		id = alice, id.user = "alicf";
		CHECK_INT(ks_record_open(ks, &id, g, n, &b), TS_E_CORRUPT);
		/* issuer: last byte */
		memcpy(g, f, n);
		g[28 + 5 + 2 + strlen(alice.issuer) - 1] = 'f';
		id = alice, id.issuer = "https://idp.examplf";
		CHECK_INT(ks_record_open(ks, &id, g, n, &b), TS_E_CORRUPT);
		/* client id: last byte */
		memcpy(g, f, n);
		g[28 + 5 + 2 + strlen(alice.issuer) + 2 + strlen(alice.client_id) - 1] = 'L';
		id = alice, id.client_id = "tokenseaL";
		CHECK_INT(ks_record_open(ks, &id, g, n, &b), TS_E_CORRUPT);
		/* generation at offset 14: a forged higher generation */
		memcpy(g, f, n);
		g[14] = 9;
		CHECK_INT(ks_record_open(ks, &alice, g, n, &b), TS_E_CORRUPT);
		/* format version at offset 8 */
		memcpy(g, f, n);
		g[8] = 2;
		CHECK_INT(ks_record_open(ks, &alice, g, n, &b), TS_E_CORRUPT);
		/* key id at offset 10, unknown id */
		memcpy(g, f, n);
		g[10] = 7;
		CHECK_INT(ks_record_open(ks, &alice, g, n, &b), TS_E_KEY_ID);
	}
	CHECK(b == NULL);

	/* key id changed to another key id we hold: the AEAD refuses it */
	ks2 = fresh();
	CHECK_INT(ks_rotate_add_key(ks2, &newid), 0);
	CHECK_INT(newid, 2);
	free(f);
	f = NULL;
	/* seal under key 2 (current), then claim key 1 */
	CHECK_INT(ks_record_seal(ks2, &alice, 1, "secret", 6, &f, &n2), 0);
	CHECK_INT(ks_record_open(ks2, &alice, f, n2, &b), 0);
	CHECK_INT(b->key_id, 2);
	b = ks_blob_free(b);
	f[10] = 1;
	CHECK_INT(ks_record_open(ks2, &alice, f, n2, &b), TS_E_CORRUPT);

	free(f);
	free(g);
	ks_close(ks);
	ks_close(ks2);
}

static void test_bit_flips(void)
{
	struct ks *ks = fresh();
	struct ks_blob *b = NULL;
	char p[700];
	char *orig;
	uint8_t *mut;
	size_t n = 0;
	unsigned quarantined = 0, key_id_bits = 0, mismatch_bits = 0;
	struct ks_header_info hi;

	CHECK_INT(put(ks, &alice, "payload-16-bytes", 0), 1);
	record_path(p, sizeof(p), alice.uid);
	orig = ts_test_read_file(p, &n);
	mut = malloc(n);
	CHECK(mut != NULL);
	for (size_t bit = 0; bit < n * 8; bit++) {
		memcpy(mut, orig, n);
		mut[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ts_test_write_file(p, mut, n, 0600);
		if (ks_read_header(ks, alice.uid, &hi) == 0 && hi.key_id != 1) {
			/* the key id: names a key that is not loaded, which is
			 * configuration, not corruption: refused, left in place */
			CHECK_MSG(read_locked(ks, &alice, &b) == TS_E_KEY_ID, "bit %zu", bit);
			CHECK_MSG(exists(p), "bit %zu: record moved", bit);
			key_id_bits++;
			continue;
		}
		if (ks_read_header(ks, alice.uid, &hi) == 0 &&
		    (strcmp(hi.user, alice.user) != 0 || strcmp(hi.issuer, alice.issuer) != 0 ||
		     strcmp(hi.client_id, alice.client_id) != 0)) {
			/* a header naming another identity: a mismatch, left */
			CHECK_MSG(read_locked(ks, &alice, &b) == TS_E_MISMATCH, "bit %zu", bit);
			CHECK_MSG(exists(p), "bit %zu: record moved", bit);
			mismatch_bits++;
			continue;
		}
		/* without the lock: refused and left where it is */
		CHECK_MSG(ks_read(ks, &alice, &b) == TS_E_CORRUPT, "bit %zu not refused", bit);
		CHECK_MSG(exists(p), "bit %zu: unlocked reader moved it", bit);
		CHECK_MSG(read_locked(ks, &alice, &b) == TS_E_QUARANTINED, "bit %zu not refused", bit);
		CHECK_MSG(!exists(p), "bit %zu: record left in place", bit);
		quarantined++;
	}
	CHECK_INT(count_dir("quarantine"), quarantined);
	CHECK_INT(key_id_bits, 32);
	/* the identity bytes (5 + 19 + 9), each bit a valid other name */
	CHECK(mismatch_bits >= 33 * 8);
	CHECK(quarantined + key_id_bits + mismatch_bits == n * 8);
	/* the untouched record still opens: the refusals were the flips */
	ts_test_write_file(p, orig, n, 0600);
	expect_payload(ks, &alice, "payload-16-bytes");
	free(mut);
	free(orig);
	ks_close(ks);
}

static void test_truncation(void)
{
	struct ks *ks = fresh();
	struct ks_blob *b = NULL;
	char p[700];
	char *orig;
	size_t n = 0;

	CHECK_INT(put(ks, &alice, "some token bytes", 0), 1);
	record_path(p, sizeof(p), alice.uid);
	orig = ts_test_read_file(p, &n);
	for (size_t len = 0; len < n; len++) {
		ts_test_write_file(p, orig, len, 0600);
		CHECK_MSG(ks_read(ks, &alice, &b) == TS_E_CORRUPT, "length %zu accepted", len);
		CHECK(exists(p));
		CHECK_MSG(read_locked(ks, &alice, &b) == TS_E_QUARANTINED, "length %zu", len);
		CHECK(!exists(p));
	}
	CHECK_INT(count_dir("quarantine"), n);
	/* appended garbage is refused too */
	{
		char *longer = malloc(n + 1);
		memcpy(longer, orig, n);
		longer[n] = 'x';
		ts_test_write_file(p, longer, n + 1, 0600);
		CHECK_INT(ks_read(ks, &alice, &b), TS_E_CORRUPT);
		CHECK_INT(read_locked(ks, &alice, &b), TS_E_QUARANTINED);
		free(longer);
	}
	/* oversize file: refused (left by an unlocked reader), quarantined
	 * under the lock */
	{
		char *huge = calloc(1, KS_RECORD_MAX + 1);
		ts_test_write_file(p, huge, KS_RECORD_MAX + 1, 0600);
		CHECK_INT(ks_read(ks, &alice, &b), TS_E_TOO_BIG);
		CHECK(exists(p));
		CHECK_INT(read_locked(ks, &alice, &b), TS_E_QUARANTINED);
		CHECK(!exists(p));
		free(huge);
	}
	ts_test_write_file(p, orig, n, 0600);
	expect_payload(ks, &alice, "some token bytes");
	free(orig);
	ks_close(ks);
}

static void test_quarantine_distinct(void)
{
	struct ks *ks = fresh();
	struct ks_blob *b = NULL;
	char p[700];

	CHECK_INT(ks_read(ks, &alice, &b), TS_E_NO_RECORD);
	CHECK_INT(count_dir("quarantine"), 0);
	record_path(p, sizeof(p), alice.uid);
	ts_test_write_file(p, "garbage", 7, 0600);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_CORRUPT);
	CHECK_INT(count_dir("quarantine"), 0);
	CHECK_INT(read_locked(ks, &alice, &b), TS_E_QUARANTINED);
	CHECK(TS_E_QUARANTINED != TS_E_NO_RECORD);
	CHECK(strcmp(ts_strerror(TS_E_QUARANTINED), ts_strerror(TS_E_NO_RECORD)) != 0);
	CHECK_INT(count_dir("quarantine"), 1);
	/* after the move the user simply has no record */
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_NO_RECORD);
	/* a record of another identity at this uid is a mismatch, not
	 * corruption: never quarantined, not even under the lock */
	{
		struct ks_identity bob = alice;
		bob.user = "bob";
		CHECK_INT(put(ks, &bob, "bob's", 0), 1);
		CHECK_INT(ks_read(ks, &alice, &b), TS_E_MISMATCH);
		CHECK_INT(read_locked(ks, &alice, &b), TS_E_MISMATCH);
		CHECK(exists(p));
		CHECK_INT(count_dir("quarantine"), 1);
	}
	ks_close(ks);
}

/* The race: a locked reader judged a record corrupt, and before its move a
 * fresh valid record is renamed into place: the fresh one is read, not
 * quarantined. */
struct swap_ctx {
	const char *path, *fresh_path;
	unsigned calls;
};

static void swap_in_fresh(void *ctx)
{
	struct swap_ctx *c = ctx;

	if (c->calls++ == 0)
		CHECK_INT(rename(c->fresh_path, c->path), 0);
}

static void test_quarantine_race(void)
{
	struct ks *ks = fresh();
	struct ks_blob *b = NULL;
	char p[700], fresh_p[700];
	char *good;
	size_t n = 0;
	struct swap_ctx c = {p, fresh_p, 0};

	CHECK_INT(put(ks, &alice, "fresh one", 0), 1);
	record_path(p, sizeof(p), alice.uid);
	good = ts_test_read_file(p, &n);
	snprintf(fresh_p, sizeof(fresh_p), "%s/users/fresh.tmp", dir);
	ks_testing_before_quarantine(ks, swap_in_fresh, &c);
	/* corrupt, then a fresh copy renamed in between read and move */
	ts_test_write_file(p, "garbage", 7, 0600);
	ts_test_write_file(fresh_p, good, n, 0600);
	CHECK_INT(read_locked(ks, &alice, &b), 0);
	CHECK_INT(c.calls, 1);
	CHECK(b && b->len == 9 && memcmp(b->payload, "fresh one", 9) == 0);
	b = ks_blob_free(b);
	CHECK_INT(count_dir("quarantine"), 0);
	CHECK(exists(p));
	/* the same for the size-limit path */
	{
		char *huge = calloc(1, KS_RECORD_MAX + 1);
		c.calls = 0;
		ts_test_write_file(p, huge, KS_RECORD_MAX + 1, 0600);
		ts_test_write_file(fresh_p, good, n, 0600);
		CHECK_INT(read_locked(ks, &alice, &b), 0);
		CHECK_INT(c.calls, 1);
		b = ks_blob_free(b);
		CHECK_INT(count_dir("quarantine"), 0);
		free(huge);
	}
	/* without a swap the corrupt one is moved */
	ks_testing_before_quarantine(ks, NULL, NULL);
	ts_test_write_file(p, "garbage", 7, 0600);
	CHECK_INT(read_locked(ks, &alice, &b), TS_E_QUARANTINED);
	CHECK(!exists(p));
	CHECK_INT(count_dir("quarantine"), 1);
	free(good);
	ks_close(ks);
}

static void test_rollback(void)
{
	struct ks *ks = fresh();
	struct ks_blob *b = NULL;
	char p[700];
	char *gen1, *gen2;
	size_t n1 = 0, n2 = 0;

	CHECK_INT(put(ks, &alice, "generation one", 0), 1);
	record_path(p, sizeof(p), alice.uid);
	gen1 = ts_test_read_file(p, &n1);
	CHECK_INT(put(ks, &alice, "generation two", 1), 2);
	gen2 = ts_test_read_file(p, &n2);
	ts_test_write_file(p, gen1, n1, 0600);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK);
	CHECK(exists(p)); /* left in place, not quarantined */
	CHECK_INT(count_dir("quarantine"), 0);
	/* a writer does not build on the rolled-back copy silently */
	{
		struct ks_lock *l = NULL;
		uint64_t g = 0;
		CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
		CHECK_INT(ks_write(ks, l, &alice, "x", 1, 2, &g), TS_E_CONFLICT);
		ks_unlock(l);
	}
	ts_test_write_file(p, gen2, n2, 0600);
	expect_payload(ks, &alice, "generation two");

	/* deleting keeps the counter: the deleted record cannot come back */
	{
		struct ks_lock *l = NULL;
		CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
		CHECK_INT(ks_delete(ks, l, &alice, 1), TS_E_CONFLICT);
		CHECK_INT(ks_delete(ks, l, &alice, 2), 0);
		ks_unlock(l);
	}
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_NO_RECORD);
	ts_test_write_file(p, gen2, n2, 0600);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK);
	/* a new login clears the refused copy away under the lock: it goes
	 * to quarantine (not deleted), and only a rollback is moved */
	{
		struct ks_lock *l = NULL;
		CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
		CHECK_INT(ks_quarantine_rollback(ks, l, &alice), 0);
		CHECK(!exists(p));
		CHECK_INT(count_dir("quarantine"), 1);
		CHECK_INT(ks_quarantine_rollback(ks, l, &alice), TS_E_NO_RECORD);
		ks_unlock(l);
	}
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_NO_RECORD);
	/* a new record continues above everything seen */
	CHECK(put(ks, &alice, "after delete", 0) > 2);
	expect_payload(ks, &alice, "after delete");
	{
		struct ks_lock *l = NULL;
		CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
		CHECK_INT(ks_quarantine_rollback(ks, l, &alice), -EAGAIN);
		ks_unlock(l);
	}
	expect_payload(ks, &alice, "after delete");
	CHECK_INT(count_dir("quarantine"), 1);

	/* a tampered state file is refused, not trusted (both slots: one
	 * alone reads as a torn write, see test_gen_slots) */
	{
		char sp[700];
		snprintf(sp, sizeof(sp), "%s/state/%u.gen", dir, (unsigned)alice.uid);
		size_t sn = 0;
		char *s = ts_test_read_file(sp, &sn);
		CHECK_INT(sn, 1024);
		s[16] ^= 1;
		s[512 + 16] ^= 1;
		ts_test_write_file(sp, s, sn, 0600);
		CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK);
		free(s);
	}
	free(gen1);
	free(gen2);
	ks_close(ks);
}

static void test_symlink_and_modes(void)
{
	struct ks *ks = fresh();
	struct ks_blob *b = NULL;
	char p[700], other[700];
	char *orig;
	size_t n = 0;

	CHECK_INT(put(ks, &alice, "linked", 0), 1);
	record_path(p, sizeof(p), alice.uid);
	orig = ts_test_read_file(p, &n);
	snprintf(other, sizeof(other), "%s/elsewhere.seal", dir);
	ts_test_write_file(other, orig, n, 0600);
	CHECK_INT(unlink(p), 0);
	CHECK_INT(symlink(other, p), 0);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_NOT_REGULAR);
	CHECK(exists(p)); /* refused, left in place */
	CHECK_INT(count_dir("quarantine"), 0);
	CHECK_INT(unlink(p), 0);

	ts_test_write_file(p, orig, n, 0660); /* group-writable */
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_BAD_MODE);
	CHECK(exists(p));
	ts_test_write_file(p, orig, n, 0640); /* group-readable: private means private */
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_BAD_MODE);
	ts_test_write_file(p, orig, n, 0604); /* world-readable */
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_BAD_MODE);
	CHECK(exists(p));
	ts_test_write_file(p, orig, n, 0644); /* world-readable */
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_BAD_MODE);
	ts_test_write_file(p, orig, n, 0641);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_BAD_MODE);
	CHECK_INT(count_dir("quarantine"), 0);
	/* a fifo is not a record */
	CHECK_INT(unlink(p), 0);
	CHECK_INT(mkfifo(p, 0640), 0);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_NOT_REGULAR);
	CHECK_INT(unlink(p), 0);
	ts_test_write_file(p, orig, n, 0600);
	expect_payload(ks, &alice, "linked");
	/* the counter file and the lock file are private too */
	{
		char sp[700];
		struct ks_lock *l = NULL;

		snprintf(sp, sizeof(sp), "%s/state/%u.gen", dir, (unsigned)alice.uid);
		CHECK_INT(chmod(sp, 0640), 0);
		CHECK_INT(ks_read(ks, &alice, &b), TS_E_BAD_MODE);
		CHECK_INT(chmod(sp, 0600), 0);
		snprintf(sp, sizeof(sp), "%s/locks/%u.lock", dir, (unsigned)alice.uid);
		CHECK_INT(chmod(sp, 0660), 0);
		CHECK_INT(ks_lock(ks, alice.uid, &l), TS_E_BAD_MODE);
		CHECK_INT(chmod(sp, 0600), 0);
		CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
		ks_unlock(l);
	}
	expect_payload(ks, &alice, "linked");
	free(orig);
	ks_close(ks);
}

static void test_cas(void)
{
	struct ks *ks = fresh();
	struct ks_lock *l = NULL;
	uint64_t g = 99;

	CHECK_INT(put(ks, &alice, "v1", 0), 1);
	CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
	CHECK_INT(ks_write(ks, l, &alice, "lost", 4, 0, &g), TS_E_CONFLICT);
	CHECK_INT(g, 99); /* untouched on failure */
	CHECK_INT(ks_write(ks, l, &alice, "v2", 2, 1, &g), 0);
	CHECK_INT(g, 2);
	CHECK_INT(ks_write(ks, l, &alice, "stale", 5, 1, &g), TS_E_CONFLICT);
	ks_unlock(l);
	expect_payload(ks, &alice, "v2");
	ks_close(ks);
}

static void test_verify_all(void)
{
	struct ks *ks = fresh();
	struct ks_identity ids[3];
	unsigned ok = 0, bad = 0;
	char p[700];
	char *f;
	size_t n = 0;

	for (unsigned i = 0; i < 3; i++) {
		ids[i] = alice;
		ids[i].uid = 2000 + i;
		CHECK_INT(put(ks, &ids[i], "rec", 0), 1);
	}
	CHECK_INT(ks_verify_all(ks, &ok, &bad), 0);
	CHECK_INT(ok, 3);
	CHECK_INT(bad, 0);
	record_path(p, sizeof(p), 2001);
	f = ts_test_read_file(p, &n);
	f[n - 1] ^= 0x40;
	ts_test_write_file(p, f, n, 0600);
	/* a stray temp file is not a record */
	snprintf(p, sizeof(p), "%s/users/2000.seal.tmp.abcdef", dir);
	ts_test_write_file(p, "junk", 4, 0600);
	CHECK_INT(ks_verify_all(ks, &ok, &bad), 0);
	CHECK_INT(ok, 2);
	CHECK_INT(bad, 1);
	/* verify holds no lock: it reports, it moves nothing */
	CHECK_INT(count_dir("quarantine"), 0);
	record_path(p, sizeof(p), 2001);
	CHECK(exists(p));
	/* a record whose header names another uid than its file */
	{
		char q[700];
		record_path(q, sizeof(q), 2000);
		char *g = ts_test_read_file(q, &n);
		ts_test_write_file(p, g, n, 0600);
		free(g);
	}
	CHECK_INT(ks_verify_all(ks, &ok, &bad), 0);
	CHECK_INT(ok, 2);
	CHECK_INT(bad, 1);
	CHECK_INT(count_dir("quarantine"), 0);
	/* a record of another issuer at its uid (a config change) opens by its
	 * own header: ok, not bad */
	{
		struct ks_identity other = alice;
		struct ks_blob *tb = NULL;
		other.uid = 2002;
		other.issuer = "https://idp.example/";
		CHECK_INT(ks_read(ks, &other, &tb), TS_E_MISMATCH);
	}
	CHECK_INT(ks_verify_all(ks, &ok, &bad), 0);
	CHECK_INT(ok, 2);
	CHECK_INT(bad, 1);
	free(f);
	ks_close(ks);
}

static void test_rotation(void)
{
	struct ks *ks = fresh(), *old = NULL;
	struct ks_identity ids[4];
	struct ks_blob *b = NULL;
	uint32_t newid = 0;
	unsigned done = 0, resealed = 0;
	char *kf;

	for (unsigned i = 0; i < 4; i++) {
		ids[i] = alice;
		ids[i].uid = 3000 + i;
		CHECK_INT(put(ks, &ids[i], "rotate me", 0), 1);
	}
	CHECK_INT(ks_open(&old, dir, keyfile, NULL), 0); /* another process's view */
	CHECK_INT(ks_rotate_add_key(ks, &newid), 0);
	CHECK_INT(newid, 2);
	CHECK_INT(ks_current_key_id(ks), 2);
	CHECK_INT(ks_key_count(ks), 2);
	CHECK_INT(ks_rotate_reseal(ks, ids[0].uid, &done), 0);
	CHECK_INT(done, 1);
	CHECK_INT(ks_rotate_reseal(ks, ids[1].uid, &done), 0);
	CHECK_INT(done, 1);
	CHECK_INT(ks_rotate_reseal(ks, ids[1].uid, &done), 0);
	CHECK_INT(done, 0); /* already current */
	/* half way: records under both key ids open, here and in the old view */
	for (unsigned i = 0; i < 4; i++) {
		CHECK_INT(ks_read(ks, &ids[i], &b), 0);
		CHECK_INT(b->key_id, i < 2 ? 2 : 1);
		CHECK_INT(b->generation, 1);
		CHECK(b->len == 9 && memcmp(b->payload, "rotate me", 9) == 0);
		b = ks_blob_free(b);
		CHECK_INT(ks_read(old, &ids[i], &b), 0);
		b = ks_blob_free(b);
	}
	/* the old view writes under the new key id once it exists */
	{
		struct ks_lock *l = NULL;
		uint64_t g = 0;
		CHECK_INT(ks_lock(old, ids[3].uid, &l), 0);
		CHECK_INT(ks_write(old, l, &ids[3], "from old", 8, 1, &g), 0);
		ks_unlock(l);
		CHECK_INT(ks_read(ks, &ids[3], &b), 0);
		CHECK_INT(b->key_id, 2);
		b = ks_blob_free(b);
	}
	/* finish with a complete rotation (key 3): everything moves, old ids go */
	CHECK_INT(ks_rotate_key(ks, &newid, &resealed), 0);
	CHECK_INT(newid, 3);
	CHECK_INT(resealed, 4);
	CHECK_INT(ks_key_count(ks), 1);
	kf = ts_test_read_file(keyfile, NULL);
	CHECK(strncmp(kf, "3:", 2) == 0);
	CHECK(strchr(kf, '\n') == kf + strlen(kf) - 1); /* one line */
	free(kf);
	for (unsigned i = 0; i < 4; i++) {
		CHECK_INT(ks_read(ks, &ids[i], &b), 0);
		CHECK_INT(b->key_id, 3);
		b = ks_blob_free(b);
		/* the old view reloads the key file */
		CHECK_INT(ks_read(old, &ids[i], &b), 0);
		b = ks_blob_free(b);
	}
	expect_payload(ks, &ids[3], "from old");
	{
		unsigned ok = 0, bad = 0;
		CHECK_INT(ks_verify_all(ks, &ok, &bad), 0);
		CHECK_INT(ok, 4);
		CHECK_INT(bad, 0);
	}
	/* a record sealed under a dropped key no longer opens, and is left
	 * where it is (putting the old key back would open it) */
	{
		static const uint8_t k1[KS_KEYBYTES] = {9};
		struct ks *fk = NULL;
		uint8_t *f = NULL;
		size_t n = 0;
		char p[700];
		CHECK_INT(ks_open_from_key(&fk, 1, k1), 0);
		CHECK_INT(ks_record_seal(fk, &ids[0], 50, "x", 1, &f, &n), 0);
		record_path(p, sizeof(p), ids[0].uid);
		ts_test_write_file(p, f, n, 0600);
		CHECK_INT(ks_read(ks, &ids[0], &b), TS_E_KEY_ID);
		CHECK(exists(p));
		free(f);
		ks_close(fk);
	}
	ks_close(old);
	ks_close(ks);
}

/* Rotation carries the anti-rollback counter of a user whose record was
 * deleted: after the old key id is dropped, putting the deleted file back is
 * still a rollback, and a new record continues above the old counter. */
static void test_rotation_keeps_deleted_counter(void)
{
	struct ks *ks = fresh();
	struct ks_blob *b = NULL;
	struct ks_lock *l = NULL;
	uint32_t newid = 0;
	unsigned resealed = 0;
	char p[700], *gen2;
	size_t n2 = 0;

	CHECK_INT(put(ks, &alice, "one", 0), 1);
	CHECK_INT(put(ks, &alice, "two", 1), 2);
	record_path(p, sizeof(p), alice.uid);
	gen2 = ts_test_read_file(p, &n2);
	CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
	CHECK_INT(ks_delete(ks, l, &alice, 2), 0); /* counter now 3 */
	l = ks_unlock(l);
	CHECK_INT(ks_rotate_key(ks, &newid, &resealed), 0);
	CHECK_INT(newid, 2);
	CHECK_INT(resealed, 0);
	CHECK_INT(ks_key_count(ks), 1);
	/* a new record continues above everything seen before the rotation */
	CHECK(put(ks, &alice, "three", 0) > 3);
	/* the deleted file put back does not open (its key id is gone) */
	ts_test_write_file(p, gen2, n2, 0600);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_KEY_ID);
	CHECK(b == NULL);
	free(gen2);
	ks_close(ks);
}

static void test_master_key_file(void)
{
	char kp[700], link[700], d[700];
	struct ks *ks = NULL;
	char line[128];
	uint8_t key[KS_KEYBYTES];

	ks_close(fresh());
	snprintf(d, sizeof(d), "%s", dir);
	snprintf(kp, sizeof(kp), "%s/manual.key", ts_test_tmpdir());
	memset(key, 0x5a, sizeof(key));
	memcpy(line, "7:", 2);
	sodium_bin2hex(line + 2, sizeof(line) - 2, key, sizeof(key));
	line[2 + 2 * KS_KEYBYTES] = '\n';
	line[3 + 2 * KS_KEYBYTES] = '\0';
	ts_test_write_file(kp, line, strlen(line), 0600);
	CHECK_INT(ks_open(&ks, d, kp, NULL), 0);
	CHECK_INT(ks_current_key_id(ks), 7);
	ks = ks_close(ks);

	ts_test_write_file(kp, line, strlen(line), 0644);
	CHECK_INT(ks_open(&ks, d, kp, NULL), TS_E_BAD_MODE);
	ts_test_write_file(kp, line, strlen(line), 0660);
	CHECK_INT(ks_open(&ks, d, kp, NULL), TS_E_BAD_MODE);
	ts_test_write_file(kp, line, strlen(line), 0640); /* group-readable */
	CHECK_INT(ks_open(&ks, d, kp, NULL), TS_E_BAD_MODE);
	ts_test_write_file(kp, line, strlen(line), 0600);
	snprintf(link, sizeof(link), "%s/link.key", ts_test_tmpdir());
	CHECK_INT(symlink(kp, link), 0);
	CHECK_INT(ks_open(&ks, d, link, NULL), TS_E_NOT_REGULAR);
	{
		char *big = malloc(5000);
		memset(big, '#', 5000);
		ts_test_write_file(kp, big, 5000, 0600);
		CHECK_INT(ks_open(&ks, d, kp, NULL), TS_E_TOO_BIG);
		free(big);
	}
	ts_test_write_file(kp, "7:abcd\n", 7, 0600);
	CHECK_INT(ks_open(&ks, d, kp, NULL), TS_E_NO_KEY);
	ts_test_write_file(kp, "", 0, 0600);
	CHECK_INT(ks_open(&ks, d, kp, NULL), TS_E_NO_KEY);
	snprintf(kp, sizeof(kp), "%s/missing.key", ts_test_tmpdir());
	CHECK_INT(ks_open(&ks, d, kp, NULL), TS_E_NO_KEY);
	CHECK(ks == NULL);
	/* a world-accessible keystore folder is refused */
	CHECK_INT(chmod(d, 0777), 0);
	CHECK_INT(ks_open(&ks, d, keyfile, NULL), TS_E_BAD_MODE);
	/* ... and so is a group-accessible one, top folder or subfolder */
	CHECK_INT(chmod(d, 0750), 0);
	CHECK_INT(ks_open(&ks, d, keyfile, NULL), TS_E_BAD_MODE);
	CHECK_INT(chmod(d, 0700), 0);
	{
		char sub[800];
		snprintf(sub, sizeof(sub), "%s/users", d);
		CHECK_INT(chmod(sub, 0710), 0);
		CHECK_INT(ks_open(&ks, d, keyfile, NULL), TS_E_BAD_MODE);
		CHECK_INT(chmod(sub, 0700), 0);
	}
	CHECK_INT(ks_open(&ks, d, keyfile, NULL), 0);
	ks_close(ks);
}

int main(void)
{
	RUN(test_round_trip);
	RUN(test_payload_limits);
	RUN(test_ad_fields);
	RUN(test_bit_flips);
	RUN(test_truncation);
	RUN(test_quarantine_distinct);
	RUN(test_quarantine_race);
	RUN(test_rollback);
	RUN(test_symlink_and_modes);
	RUN(test_cas);
	RUN(test_verify_all);
	RUN(test_rotation);
	RUN(test_rotation_keeps_deleted_counter);
	RUN(test_master_key_file);
	RUN(test_gen_in_place);
	RUN(test_gen_torn_slot);
	RUN(test_gen_both_slots_bad);
	RUN(test_gen_old_form);
	RUN(test_gen_rotation_both_slots);
	RUN(test_gen_cache);
	return ts_test_done();
}
