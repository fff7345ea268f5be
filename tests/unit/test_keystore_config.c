/* SPDX-License-Identifier: MIT */
/*
 * keystore/: configuration never destroys a credential (DESIGN §5).
 *  - ks_init creates a master key only for an empty keystore: with a record,
 *    a counter or a quarantined file present and the key file gone, it
 *    returns TS_E_NO_KEY and changes nothing;
 *  - an existing key file that is malformed, unsafe or not a file is never
 *    replaced;
 *  - a record sealed under a key id that is not loaded is TS_E_KEY_ID on
 *    every read path (ks_read, ks_write, ks_quarantine_rollback, verify,
 *    rotation) and stays where it is, byte for byte.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

static void paths(void)
{
	case_no++;
	snprintf(dir, sizeof(dir), "%s/ks%u", ts_test_tmpdir(), case_no);
	snprintf(keyfile, sizeof(keyfile), "%s/key%u", ts_test_tmpdir(), case_no);
}

static struct ks *fresh(void)
{
	struct ks *ks = NULL;

	paths();
	CHECK_INT(ks_init(dir, keyfile, NULL), 0);
	CHECK_INT(ks_open(&ks, dir, keyfile, NULL), 0);
	return ks;
}

static void put(struct ks *ks, const struct ks_identity *id, const char *s)
{
	struct ks_lock *l = NULL;
	uint64_t gen = 0;

	CHECK_INT(ks_lock(ks, id->uid, &l), 0);
	CHECK_INT(ks_write(ks, l, id, s, strlen(s), 0, &gen), 0);
	ks_unlock(l);
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
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

/* A file as found: inode, mode and bytes. */
struct snap {
	struct stat st;
	char *data;
	size_t len;
};

static void snap_take(struct snap *s, const char *p)
{
	CHECK_INT(lstat(p, &s->st), 0);
	s->data = ts_test_read_file(p, &s->len);
}

static void snap_same(struct snap *s, const char *p)
{
	struct stat st;
	size_t n = 0;
	char *now;

	CHECK_INT(lstat(p, &st), 0);
	CHECK_INT(st.st_ino, s->st.st_ino);
	CHECK_INT(st.st_mode, s->st.st_mode);
	now = ts_test_read_file(p, &n);
	CHECK_INT(n, s->len);
	CHECK(n == s->len && memcmp(now, s->data, n) == 0);
	free(now);
	free(s->data);
	s->data = NULL;
}

static void record_path(char *buf, size_t len, uid_t uid)
{
	snprintf(buf, len, "%s/users/%u.seal", dir, (unsigned)uid);
}

static bool exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

/* The key file removed while records exist: no new key, nothing touched. */
static void test_no_key_with_records(void)
{
	struct ks *ks = fresh();
	struct snap rec, gen;
	char p[700], g[700];

	put(ks, &alice, "precious");
	ks_close(ks);
	record_path(p, sizeof(p), alice.uid);
	snprintf(g, sizeof(g), "%s/state/%u.gen", dir, (unsigned)alice.uid);
	snap_take(&rec, p);
	snap_take(&gen, g);
	CHECK_INT(unlink(keyfile), 0);
	CHECK_INT(ks_open(&ks, dir, keyfile, NULL), TS_E_NO_KEY);
	CHECK_INT(ks_init(dir, keyfile, NULL), TS_E_NO_KEY);
	CHECK(!exists(keyfile)); /* no key file created */
	CHECK_INT(ks_init(dir, keyfile, NULL), TS_E_NO_KEY);
	CHECK(!exists(keyfile));
	snap_same(&rec, p);
	snap_same(&gen, g);
	CHECK_INT(count_dir("users"), 1);
	CHECK_INT(count_dir("quarantine"), 0);
	/* no stray temp file beside the key file either */
	{
		DIR *d = opendir(ts_test_tmpdir());
		struct dirent *de;
		char pre[64];
		snprintf(pre, sizeof(pre), "key%u", case_no);
		while ((de = readdir(d)))
			CHECK_MSG(strncmp(de->d_name, pre, strlen(pre)) != 0, "%s created",
			          de->d_name);
		closedir(d);
	}
}

/* Only a counter (a deleted record's) or only a quarantined file: same. */
static void test_no_key_with_state_or_quarantine(void)
{
	static const char *const subs[] = {"state", "quarantine"};

	for (size_t i = 0; i < 2; i++) {
		struct ks *ks = fresh();
		char p[700];

		ks_close(ks);
		snprintf(p, sizeof(p), "%s/%s/%s", dir, subs[i],
		         i == 0 ? "1000.gen" : "1000.seal.1.00000000");
		ts_test_write_file(p, "x", 1, 0600);
		CHECK_INT(unlink(keyfile), 0);
		CHECK_MSG(ks_init(dir, keyfile, NULL) == TS_E_NO_KEY, "%s/ entry", subs[i]);
		CHECK(!exists(keyfile));
		CHECK(exists(p));
		/* emptied: now a key may be made */
		CHECK_INT(unlink(p), 0);
		CHECK_INT(ks_init(dir, keyfile, NULL), 0);
		CHECK(exists(keyfile));
	}
	/* an empty keystore (folders only) gets a key; a missing one too */
	paths();
	CHECK_INT(ks_init(dir, keyfile, NULL), 0);
	CHECK_INT(unlink(keyfile), 0);
	CHECK_INT(ks_init(dir, keyfile, NULL), 0);
	CHECK(exists(keyfile));
}

/* An existing key file that cannot be used is never replaced. */
static void test_bad_key_file_kept(void)
{
	struct ks *ks = fresh();
	struct snap k, rec;
	char p[700];

	put(ks, &alice, "keep me");
	ks_close(ks);
	record_path(p, sizeof(p), alice.uid);
	snap_take(&rec, p);
	/* malformed */
	ts_test_write_file(keyfile, "not a key\n", 10, 0600);
	snap_take(&k, keyfile);
	CHECK_INT(ks_init(dir, keyfile, NULL), 0);
	CHECK_INT(ks_open(&ks, dir, keyfile, NULL), TS_E_NO_KEY);
	snap_same(&k, keyfile);
	/* unsafe mode */
	CHECK_INT(chmod(keyfile, 0644), 0);
	snap_take(&k, keyfile);
	CHECK_INT(ks_init(dir, keyfile, NULL), 0);
	CHECK_INT(ks_open(&ks, dir, keyfile, NULL), TS_E_BAD_MODE);
	snap_same(&k, keyfile);
	/* not a regular file: a dangling symlink */
	CHECK_INT(unlink(keyfile), 0);
	CHECK_INT(symlink("/nonexistent/key", keyfile), 0);
	CHECK_INT(ks_init(dir, keyfile, NULL), 0);
	CHECK_INT(ks_open(&ks, dir, keyfile, NULL), TS_E_NOT_REGULAR);
	{
		char t[700];
		CHECK_INT(readlink(keyfile, t, sizeof(t)), 16);
	}
	snap_same(&rec, p);
	CHECK_INT(count_dir("quarantine"), 0);
}

static void write_key(const char *path, uint32_t id, uint8_t fill)
{
	uint8_t key[KS_KEYBYTES];
	char line[128];
	int n;

	memset(key, fill, sizeof(key));
	n = snprintf(line, sizeof(line), "%u:", id);
	sodium_bin2hex(line + n, sizeof(line) - (size_t)n, key, sizeof(key));
	n += 2 * KS_KEYBYTES;
	line[n++] = '\n';
	ts_test_write_file(path, line, (size_t)n, 0600);
}

/* A record under a key id key_file does not hold: TS_E_KEY_ID, untouched,
 * and readable again once the right key file is back. */
static void test_unknown_key_id(void)
{
	struct ks *ks = NULL;
	struct ks_blob *b = NULL;
	struct ks_lock *l = NULL;
	struct snap rec;
	char p[700], saved[700];
	unsigned ok = 9, bad = 9, resealed = 9;
	uint32_t nid = 0;
	uint64_t g = 0;

	paths();
	CHECK_INT(ks_init(dir, keyfile, NULL), 0);
	write_key(keyfile, 1, 0x11);
	CHECK_INT(ks_open(&ks, dir, keyfile, NULL), 0);
	put(ks, &alice, "sealed under 1");
	ks_close(ks);
	snprintf(saved, sizeof(saved), "%s.saved", keyfile);
	CHECK_INT(rename(keyfile, saved), 0);
	write_key(keyfile, 2, 0x22); /* another key file: id 1 is gone */
	record_path(p, sizeof(p), alice.uid);
	snap_take(&rec, p);

	CHECK_INT(ks_open(&ks, dir, keyfile, NULL), 0);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_KEY_ID);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_KEY_ID); /* still there */
	CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
	CHECK_INT(ks_write(ks, l, &alice, "new", 3, 0, &g), TS_E_KEY_ID);
	CHECK_INT(ks_quarantine_rollback(ks, l, &alice), TS_E_KEY_ID);
	ks_unlock(l);
	CHECK_INT(ks_verify_all(ks, &ok, &bad), 0);
	CHECK_INT(ok, 0);
	CHECK_INT(bad, 1);
	snap_same(&rec, p);
	CHECK_INT(count_dir("quarantine"), 0);
	ks_close(ks);

	/* the right key file back: the same record opens */
	CHECK_INT(rename(saved, keyfile), 0);
	CHECK_INT(ks_open(&ks, dir, keyfile, NULL), 0);
	CHECK_INT(ks_read(ks, &alice, &b), 0);
	CHECK_INT(b->len, 14);
	CHECK(memcmp(b->payload, "sealed under 1", 14) == 0);
	b = ks_blob_free(b);
	ks_close(ks);

	/* a rotation under a key file that lacks the id leaves it alone too */
	CHECK_INT(rename(keyfile, saved), 0);
	write_key(keyfile, 2, 0x22);
	snap_take(&rec, p);
	CHECK_INT(ks_open(&ks, dir, keyfile, NULL), 0);
	CHECK_INT(ks_rotate_key(ks, &nid, &resealed), 0);
	CHECK_INT(nid, 3);
	CHECK_INT(resealed, 0);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_KEY_ID);
	snap_same(&rec, p);
	CHECK_INT(count_dir("quarantine"), 0);
	ks_close(ks);
}

/* Issuer with a trailing slash, a changed client id: TS_E_MISMATCH, the
 * file untouched (same inode, same bytes), even under the lock and by a
 * write that did not see it; the original identity reads it fine. */
static void test_mismatch_heals(void)
{
	struct ks *ks = fresh();
	struct ks_identity slash = alice, client = alice;
	struct ks_header_info hi;
	struct ks_blob *b = NULL;
	struct ks_lock *l = NULL;
	struct snap rec;
	char p[700];
	uint64_t g = 0;
	unsigned ok = 0, bad = 9;

	slash.issuer = "https://idp.example/";
	client.client_id = "tokenseal-new";
	put(ks, &alice, "still mine");
	record_path(p, sizeof(p), alice.uid);
	snap_take(&rec, p);
	CHECK_INT(ks_read(ks, &slash, &b), TS_E_MISMATCH);
	CHECK_INT(ks_read(ks, &client, &b), TS_E_MISMATCH);
	CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
	CHECK_INT(ks_read_locked(ks, l, &slash, &b), TS_E_MISMATCH);
	CHECK_INT(ks_read_locked(ks, l, &client, &b), TS_E_MISMATCH);
	/* a write that expects no record does not replace it */
	CHECK_INT(ks_write(ks, l, &client, "x", 1, 0, &g), TS_E_CONFLICT);
	ks_unlock(l);
	CHECK_INT(ks_verify_all(ks, &ok, &bad), 0);
	CHECK_INT(ok, 1);
	CHECK_INT(bad, 0);
	snap_same(&rec, p);
	CHECK_INT(count_dir("quarantine"), 0);
	/* the header says who it was sealed for, without the key */
	CHECK_INT(ks_read_header(ks, alice.uid, &hi), 0);
	CHECK_INT(hi.generation, 1);
	CHECK_INT(hi.key_id, 1);
	CHECK_STR(hi.user, "alice");
	CHECK_STR(hi.issuer, "https://idp.example");
	CHECK_STR(hi.client_id, "tokenseal");
	/* the configuration fixed: the same record opens */
	CHECK_INT(ks_read(ks, &alice, &b), 0);
	CHECK(b->len == 10 && memcmp(b->payload, "still mine", 10) == 0);
	b = ks_blob_free(b);
	/* a deliberate replacement (new issuer for good) names the generation */
	CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
	CHECK_INT(ks_write(ks, l, &client, "new", 3, hi.generation, &g), 0);
	CHECK_INT(g, 2);
	ks_unlock(l);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_MISMATCH);
	/* no record / an unparsable header */
	CHECK_INT(ks_read_header(ks, 4242, &hi), TS_E_NO_RECORD);
	ts_test_write_file(p, "junk", 4, 0600);
	CHECK_INT(ks_read_header(ks, alice.uid, &hi), TS_E_CORRUPT);
	CHECK(exists(p));
	ks_close(ks);
}

int main(void)
{
	RUN(test_no_key_with_records);
	RUN(test_no_key_with_state_or_quarantine);
	RUN(test_bad_key_file_kept);
	RUN(test_unknown_key_id);
	RUN(test_mismatch_heals);
	return ts_test_done();
}
