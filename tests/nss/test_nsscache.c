/* SPDX-License-Identifier: MIT */
/*
 * The user cache writer and reader (common/ts_nsscache.c) directly: uid
 * stability across rebuilds, collisions, tombstones, the nss_resolve_unknown
 * rule shared by reader and writer, settings validation, and damaged images
 * (every truncation, bad magic, bad offsets, oversized) that must be refused
 * with TS_E_CORRUPT / TS_E_TOO_BIG and never read out of bounds.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts_error.h"
#include "ts_nsscache.h"
#include "ts_test.h"

static const struct ts_nsscache_settings base = {.issuer = "https://idp.example",
                                                 .uid_min = 1000000,
                                                 .uid_max = 1999999,
                                                 .home_template = "/home/%u",
                                                 .shell = "/bin/bash",
                                                 .resolve_unknown = ""};

static struct ts_nsscache *mk(const struct ts_nsscache_settings *s)
{
	struct ts_nsscache *c = NULL;

	CHECK_INT(ts_nsscache_new(&c, s), 0);
	return c;
}

static uint32_t add(struct ts_nsscache *c, const char *sub, const char *name)
{
	uint32_t uid = 0;

	CHECK_INT(ts_nsscache_upsert(c, sub, name, NULL, &uid), 0);
	return uid;
}

/* serialize c and open a view over the copy (freed by the caller) */
static uint8_t *image(const struct ts_nsscache *c, size_t *len, struct ts_nsscache_view *v)
{
	uint8_t *buf = NULL;

	CHECK_INT(ts_nsscache_serialize(c, &buf, len), 0);
	CHECK_INT(ts_nsscache_view_open(v, buf, *len), 0);
	return buf;
}

static void test_roundtrip(void)
{
	struct ts_nsscache *c = mk(&base);
	struct ts_nsscache_view v;
	struct ts_nsscache_entry e;
	uint32_t ua, ub;
	size_t len;
	uint8_t *img;

	CHECK_INT(ts_nsscache_upsert(c, "sub-a", "alice", "Alice: A\nB", &ua), 0);
	ub = add(c, "sub-b", "bob");
	CHECK(ua >= base.uid_min && ua <= base.uid_max);
	CHECK(ua != ub);
	CHECK_INT(ua, ts_nsscache_hash_uid(base.issuer, "sub-a", base.uid_min, base.uid_max));
	img = image(c, &len, &v);
	CHECK_INT(v.n_entries, 2);
	CHECK_INT(v.n_active, 2);
	CHECK_STR(v.issuer, "https://idp.example");
	CHECK_INT(ts_nsscache_view_by_name(&v, "alice", &e), 0);
	CHECK_INT(e.uid, ua);
	CHECK_INT(e.gid, ua);             /* per-user group */
	CHECK_STR(e.gecos, "Alice  A B"); /* ':' and '\n' made blank */
	CHECK_STR(e.home, "/home/alice");
	CHECK_STR(e.shell, "/bin/bash");
	CHECK_INT(ts_nsscache_view_by_uid(&v, ub, &e), 0);
	CHECK_STR(e.name, "bob");
	CHECK_INT(ts_nsscache_view_by_name(&v, "carol", &e), -ENOENT);
	CHECK_INT(ts_nsscache_view_by_uid(&v, 42, &e), -ENOENT);
	CHECK(ts_nsscache_view_uid_taken(&v, ua));
	CHECK(ts_nsscache_view_uid_taken(&v, 65534));
	CHECK(!ts_nsscache_view_uid_taken(&v, 1234567 == ua ? 1234568 : 1234567));
	free(img);
	ts_nsscache_free(c);
}

/* The same person keeps the same uid: across logins, across a rebuild from
 * the file, and across a rebuild from nothing (the hash). */
static void test_stability(void)
{
	char path[512];
	struct ts_nsscache *c = mk(&base), *d = NULL;
	uint32_t ua = add(c, "sub-a", "alice"), ub = add(c, "sub-b", "bob"), again;
	struct ts_nsscache_info info;

	snprintf(path, sizeof(path), "%s/nss/users.cache", ts_test_tmpdir());
	CHECK_INT(add(c, "sub-a", "alice"), ua); /* a second login */
	{
		mode_t old = umask(077); /* the broker's umask: still world-readable */
		CHECK_INT(ts_nsscache_save(c, path), 0);
		umask(old);
	}
	CHECK_INT(ts_nsscache_generation(c), 1);
	{
		struct stat st;
		char dir[512];
		snprintf(dir, sizeof(dir), "%s/nss", ts_test_tmpdir());
		CHECK_INT(stat(path, &st), 0);
		CHECK_INT(st.st_mode & 07777, 0644);
		CHECK_INT(stat(dir, &st), 0);
		CHECK_INT(st.st_mode & 07777, 0755);
	}
	CHECK_INT(ts_nsscache_load(&d, path, &base), 0);
	CHECK_INT(ts_nsscache_generation(d), 1);
	CHECK_INT(ts_nsscache_find(d, "alice", &info), 0);
	CHECK_INT(info.uid, ua);
	CHECK_INT(info.state, TS_NSSCACHE_ACTIVE);
	CHECK_INT(add(d, "sub-b", "bob"), ub);
	CHECK_INT(ts_nsscache_save(d, path), 0);
	CHECK_INT(ts_nsscache_generation(d), 2);
	ts_nsscache_free(d);
	d = mk(&base); /* rebuilt from nothing, in another order */
	CHECK_INT(add(d, "sub-b", "bob"), ub);
	CHECK_INT(add(d, "sub-a", "alice"), ua);
	ts_nsscache_free(d);
	/* a rename at the IdP keeps the uid */
	again = 0;
	CHECK_INT(ts_nsscache_upsert(c, "sub-a", "alice2", "New", &again), 0);
	CHECK_INT(again, ua);
	CHECK_INT(ts_nsscache_find(c, "alice", &info), -ENOENT);
	/* another subject may not take a name in use */
	CHECK_INT(ts_nsscache_upsert(c, "sub-x", "bob", NULL, NULL), TS_E_SUBJECT_PINNED);
	/* the missing file is an empty cache; NULL settings need a file */
	ts_nsscache_free(c);
	c = NULL;
	snprintf(path, sizeof(path), "%s/none.cache", ts_test_tmpdir());
	CHECK_INT(ts_nsscache_load(&c, path, &base), 0);
	CHECK_INT(ts_nsscache_count(c, TS_NSSCACHE_ACTIVE), 0);
	ts_nsscache_free(c);
	c = NULL;
	CHECK_INT(ts_nsscache_load(&c, path, NULL), -ENOENT);
	CHECK(c == NULL);
}

/* Find two subjects that hash onto the same slot of a tiny range. */
static void colliding_pair(const struct ts_nsscache_settings *s, char a[32], char b[32])
{
	uint32_t seen[16];
	char names[16][32];

	for (unsigned i = 0; i < 16; i++) {
		snprintf(names[i], 32, "s%u", i);
		seen[i] = ts_nsscache_hash_uid(s->issuer, names[i], s->uid_min, s->uid_max);
		for (unsigned j = 0; j < i; j++)
			if (seen[j] == seen[i]) {
				memcpy(a, names[j], 32);
				memcpy(b, names[i], 32);
				return;
			}
	}
	TS_SKIP("no collision among 16 subjects in 4 slots (impossible)");
}

static void test_collision_tombstone(void)
{
	struct ts_nsscache_settings s = base;
	struct ts_nsscache *c, *d = NULL;
	struct ts_nsscache_view v;
	struct ts_nsscache_entry e;
	struct ts_nsscache_info info;
	char a[32], b[32];
	uint32_t ua, ub, slot;
	uint8_t *img;
	size_t len;

	s.uid_min = 5000, s.uid_max = 5003;
	colliding_pair(&s, a, b);
	slot = ts_nsscache_hash_uid(s.issuer, a, s.uid_min, s.uid_max);
	c = mk(&s);
	ua = add(c, a, "anna");
	ub = add(c, b, "bert");
	CHECK_INT(ua, slot);
	CHECK_INT(ub, slot == 5003 ? 5000 : slot + 1); /* next free, wrapping */
	/* the collision is remembered: a reload keeps bert off his hash slot */
	img = image(c, &len, &v);
	CHECK_INT(ts_nsscache_parse(&d, img, len, &s), 0);
	CHECK_INT(add(d, b, "bert"), ub);
	ts_nsscache_free(d);
	free(img);
	/* a tombstone keeps its uid: nobody else gets it */
	CHECK_INT(ts_nsscache_tombstone(c, "anna"), 0);
	CHECK_INT(ts_nsscache_tombstone(c, "anna"), -ENOENT);
	CHECK_INT(ts_nsscache_find(c, "anna", &info), 0);
	CHECK_INT(info.state, TS_NSSCACHE_TOMBSTONE);
	CHECK_INT(info.uid, ua);
	img = image(c, &len, &v);
	CHECK_INT(v.n_entries, 2);
	CHECK_INT(v.n_active, 1);
	CHECK_INT(ts_nsscache_view_by_name(&v, "anna", &e), -ENOENT);
	CHECK_INT(ts_nsscache_view_by_uid(&v, ua, &e), 0);
	CHECK_INT(e.state, TS_NSSCACHE_TOMBSTONE);
	CHECK(ts_nsscache_view_uid_taken(&v, ua));
	free(img);
	/* a new person called anna gets another uid, never the tombstone's */
	{
		uint32_t u3 = add(c, "someone-else", "anna"), u4;
		CHECK(u3 != ua && u3 != ub);
		u4 = add(c, "fourth", "dora");
		CHECK(u4 != ua && u4 != ub && u4 != u3);
		/* range full: 4 slots, 4 uids held (one by a tombstone) */
		CHECK_INT(ts_nsscache_upsert(c, "fifth", "emil", NULL, NULL), -ENOSPC);
	}
	/* the same subject coming back revives its own uid */
	CHECK_INT(ts_nsscache_tombstone(c, "anna"), 0); /* the second anna */
	CHECK_INT(add(c, a, "anna"), ua);
	ts_nsscache_free(c);
}

static void test_reserved_and_specials(void)
{
	struct ts_nsscache_settings s = base;
	struct ts_nsscache *c;
	struct ts_nsscache_view v;
	char a[32], b[32];
	uint32_t slot;
	uint8_t *img;
	size_t len;

	s.uid_min = 7000, s.uid_max = 7003;
	colliding_pair(&s, a, b);
	slot = ts_nsscache_hash_uid(s.issuer, a, s.uid_min, s.uid_max);
	c = mk(&s);
	CHECK_INT(ts_nsscache_reserve_uid(c, slot), 0); /* a local account holds it */
	CHECK_INT(ts_nsscache_reserve_uid(c, slot), 0);
	CHECK(add(c, a, "anna") != slot);
	img = image(c, &len, &v);
	CHECK_INT(v.n_reserved, 1);
	CHECK(ts_nsscache_view_uid_taken(&v, slot));
	free(img);
	ts_nsscache_free(c);
	/* 65534 (nobody) is never handed out */
	s.uid_min = 65534, s.uid_max = 65536;
	c = mk(&s);
	CHECK_INT(add(c, "x", "xavier"), 65536);
	CHECK_INT(ts_nsscache_upsert(c, "y", "yves", NULL, NULL), -ENOSPC);
	ts_nsscache_free(c);
}

/* nss_resolve_unknown: the module shows a uid for a name before its first
 * login; the first login records the person under that very uid. */
static void test_resolve_unknown(void)
{
	struct ts_nsscache_settings s = base;
	struct ts_nsscache *c;
	struct ts_nsscache_view v;
	struct ts_nsscache_info info;
	uint32_t shown = 0, got, other;
	uint8_t *img;
	size_t len;
	regex_t re;

	s.resolve_unknown = "[a-z]+\\.ext";
	c = mk(&s);
	other = add(c, "sub-o", "olga");
	img = image(c, &len, &v);
	CHECK_STR(v.resolve_unknown, "[a-z]+\\.ext");
	CHECK_INT(ts_nsscache_regex_compile(&re, v.resolve_unknown), 0);
	CHECK_INT(regexec(&re, "dave.ext", 0, NULL, 0), 0);
	CHECK(regexec(&re, "xdave.ext1", 0, NULL, 0) != 0); /* whole name only */
	regfree(&re);
	CHECK_INT(ts_nsscache_view_unknown_uid(&v, "dave.ext", &shown), 0);
	CHECK_INT(shown, ts_nsscache_hash_uid(s.issuer, "name:dave.ext", s.uid_min, s.uid_max));
	CHECK_INT(ts_nsscache_view_unknown_uid(&v, "../x", &got), -EINVAL);
	free(img);
	CHECK_INT(ts_nsscache_upsert(c, "sub-dave", "dave.ext", "Dave", &got), 0);
	CHECK_INT(got, shown);
	CHECK_INT(ts_nsscache_find(c, "dave.ext", &info), 0);
	CHECK(info.pinned_by_name);
	CHECK_INT(ts_nsscache_find(c, "olga", &info), 0);
	CHECK(!info.pinned_by_name);
	CHECK_INT(info.uid, other);
	/* the flag survives a reload */
	{
		struct ts_nsscache *d = NULL;
		img = image(c, &len, &v);
		CHECK_INT(ts_nsscache_parse(&d, img, len, NULL), 0);
		CHECK_INT(ts_nsscache_find(d, "dave.ext", &info), 0);
		CHECK(info.pinned_by_name);
		CHECK_INT(info.uid, shown);
		ts_nsscache_free(d);
		free(img);
	}
	ts_nsscache_free(c);
}

static void test_validation(void)
{
	static const char *const bad_names[] = {"",    "-x",   ".x",   "a b", "a:b",
	                                        "a/b", "1234", "a\nb", "ä"};
	struct ts_nsscache_settings s = base;
	struct ts_nsscache *c = NULL;
	char longname[TS_NSSCACHE_NAME_MAX + 2];

	for (size_t i = 0; i < TS_ARRAY_SIZE(bad_names); i++)
		CHECK_MSG(!ts_nsscache_name_valid(bad_names[i]), "%s accepted", bad_names[i]);
	CHECK(ts_nsscache_name_valid("alice"));
	CHECK(ts_nsscache_name_valid("a.b-c_d@example.org"));
	CHECK(ts_nsscache_name_valid("1a"));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK(!ts_nsscache_name_valid(longname));
	longname[TS_NSSCACHE_NAME_MAX] = 0;
	CHECK(ts_nsscache_name_valid(longname));

	s.uid_min = 0;
	CHECK_INT(ts_nsscache_new(&c, &s), -EINVAL);
	s = base, s.uid_max = s.uid_min - 1;
	CHECK_INT(ts_nsscache_new(&c, &s), -EINVAL);
	s = base, s.home_template = "home/%u";
	CHECK_INT(ts_nsscache_new(&c, &s), -EINVAL);
	s = base, s.home_template = "/home/%x";
	CHECK_INT(ts_nsscache_new(&c, &s), -EINVAL);
	s = base, s.shell = "/bin/a:b";
	CHECK_INT(ts_nsscache_new(&c, &s), -EINVAL);
	s = base, s.issuer = "";
	CHECK_INT(ts_nsscache_new(&c, &s), -EINVAL);
	s = base, s.resolve_unknown = "(";
	CHECK_INT(ts_nsscache_new(&c, &s), -EINVAL);
	CHECK(c == NULL);
	s = base, s.home_template = "/srv/%U/%%/%u";
	c = mk(&s);
	CHECK_INT(ts_nsscache_upsert(c, "s", "zed", NULL, NULL), 0);
	CHECK_INT(ts_nsscache_upsert(c, "", "zed", NULL, NULL), -EINVAL);
	CHECK_INT(ts_nsscache_upsert(c, "t", "bad name", NULL, NULL), -EINVAL);
	{
		struct ts_nsscache_view v;
		struct ts_nsscache_entry e;
		char want[64];
		size_t len;
		uint8_t *img = image(c, &len, &v);
		CHECK_INT(ts_nsscache_view_by_name(&v, "zed", &e), 0);
		snprintf(want, sizeof(want), "/srv/%u/%%/zed", e.uid);
		CHECK_STR(e.home, want);
		free(img);
	}
	/* a long gecos is cut on a UTF-8 boundary */
	{
		char g[400];
		struct ts_nsscache_view v;
		struct ts_nsscache_entry e;
		size_t len;
		uint8_t *img;
		for (size_t i = 0; i + 2 < sizeof(g); i += 2)
			g[i] = (char)0xc3, g[i + 1] = (char)0xa9; /* é */
		g[sizeof(g) - 2] = 'x', g[sizeof(g) - 1] = 0;
		CHECK_INT(ts_nsscache_upsert(c, "s", "zed", g, NULL), 0);
		img = image(c, &len, &v);
		CHECK_INT(ts_nsscache_view_by_name(&v, "zed", &e), 0);
		CHECK_INT(e.gecos_len, 254);
		free(img);
	}
	ts_nsscache_free(c);
}

static void expect_bad(const uint8_t *img, size_t len, const char *what)
{
	struct ts_nsscache_view v;
	struct ts_nsscache *c = NULL;
	/* an exact-size copy, so ASan sees a read past the end */
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	CHECK(copy != NULL);
	memcpy(copy, img, len);
	r = ts_nsscache_view_open(&v, copy, len);
	CHECK_MSG(r == TS_E_CORRUPT || r == TS_E_TOO_BIG, "%s: view_open %d", what, r);
	CHECK_MSG(ts_nsscache_parse(&c, copy, len, NULL) < 0, "%s: parsed", what);
	free(copy);
}

static void put32le(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)x, p[1] = (uint8_t)(x >> 8), p[2] = (uint8_t)(x >> 16),
	p[3] = (uint8_t)(x >> 24);
}

/* Lookups over a view whose header checks out but whose tables are damaged:
 * each must end in 0, -ENOENT or TS_E_CORRUPT, inside the buffer. */
static void lookups_survive(const uint8_t *img, size_t len)
{
	struct ts_nsscache_view v;
	struct ts_nsscache_entry e;
	uint8_t *copy = malloc(len);
	uint32_t uid;

	CHECK(copy != NULL);
	memcpy(copy, img, len);
	if (ts_nsscache_view_open(&v, copy, len) == 0) {
		int r = ts_nsscache_view_by_name(&v, "user5", &e);
		CHECK(r == 0 || r == -ENOENT || r == TS_E_CORRUPT);
		r = ts_nsscache_view_by_uid(&v, 1000500, &e);
		CHECK(r == 0 || r == -ENOENT || r == TS_E_CORRUPT);
		for (uint32_t i = 0; i < v.n_entries; i++) {
			r = ts_nsscache_view_at(&v, i, &e);
			CHECK(r == 0 || r == TS_E_CORRUPT);
		}
		r = ts_nsscache_view_unknown_uid(&v, "nobody-here", &uid);
		CHECK(r == 0 || r == -EEXIST);
	}
	free(copy);
}

static void test_damaged(void)
{
	struct ts_nsscache *c = mk(&base);
	struct ts_nsscache_view v;
	uint8_t *img, *bad;
	size_t len;
	char sub[16], name[16];

	for (int i = 0; i < 20; i++) {
		snprintf(sub, sizeof(sub), "s%d", i);
		snprintf(name, sizeof(name), "user%d", i);
		(void)add(c, sub, name);
	}
	CHECK_INT(ts_nsscache_tombstone(c, "user3"), 0);
	CHECK_INT(ts_nsscache_reserve_uid(c, 1000001), 0);
	img = image(c, &len, &v);
	bad = malloc(len + 16);
	CHECK(bad != NULL);
	/* every truncation (the total size no longer matches) */
	for (size_t n = 0; n < len; n++)
		expect_bad(img, n, "truncated");
	/* bad magic, version, header size, total size */
	memcpy(bad, img, len);
	bad[1] ^= 1;
	expect_bad(bad, len, "magic");
	memcpy(bad, img, len);
	bad[8] = 3; /* a version this reader does not know */
	expect_bad(bad, len, "version");
	memcpy(bad, img, len);
	bad[12] = 64;
	expect_bad(bad, len, "header size");
	memcpy(bad, img, len);
	memset(bad + len, 0, 16);
	expect_bad(bad, len + 16, "trailing bytes");
	/* every table offset or count pushed past the end */
	for (unsigned off = 44; off < 80; off += 4) {
		memcpy(bad, img, len);
		put32le(bad + off, (uint32_t)len);
		expect_bad(bad, len, "offset/count = size");
		memcpy(bad, img, len);
		put32le(bad + off, 0xfffffff0u);
		expect_bad(bad, len, "offset/count huge");
	}
	/* header string refs out of bounds */
	for (unsigned off = 80; off < 112; off += 4) {
		memcpy(bad, img, len);
		put32le(bad + off, 0x7fffffffu);
		expect_bad(bad, len, "string ref");
	}
	/* uid_min 0 or min > max */
	memcpy(bad, img, len);
	put32le(bad + 32, 0);
	expect_bad(bad, len, "uid_min 0");
	/* oversized */
	{ /* the size is checked before any byte is read */
		struct ts_nsscache_view w;
		CHECK_INT(ts_nsscache_view_open(&w, img, (size_t)TS_NSSCACHE_MAX_SIZE + 1),
		          TS_E_TOO_BIG);
	}
	/* every single byte flipped past the header: lookups stay in bounds */
	for (size_t i = TS_NSSCACHE_HEADER_SIZE; i < len; i++) {
		memcpy(bad, img, len);
		bad[i] ^= 0xff;
		lookups_survive(bad, len);
	}
	/* index entries pointing past the entry table, a bad state */
	memcpy(bad, img, len);
	put32le(bad + v.name_index_off, 9999);
	{
		struct ts_nsscache_view w;
		struct ts_nsscache_entry e;
		CHECK_INT(ts_nsscache_view_open(&w, bad, len), 0);
		CHECK_INT(ts_nsscache_view_at(&w, 0, &e), 0);
		CHECK_INT(ts_nsscache_view_by_name(&w, "user0", &e), TS_E_CORRUPT);
	}
	memcpy(bad, img, len);
	put32le(bad + v.entries_off + 8, 7);
	{
		struct ts_nsscache *d = NULL;
		CHECK_INT(ts_nsscache_parse(&d, bad, len, NULL), TS_E_CORRUPT);
	}
	free(bad);
	free(img);
	ts_nsscache_free(c);
}

static void test_ten_thousand(void)
{
	struct ts_nsscache *c = mk(&base), *d;
	struct ts_nsscache_view v;
	struct ts_nsscache_entry e;
	uint8_t *img;
	size_t len;
	uint32_t *uids = calloc(10000, sizeof(uint32_t));

	CHECK(uids != NULL);
	for (unsigned i = 0; i < 10000; i++) {
		char sub[32], name[32];
		snprintf(sub, sizeof(sub), "sub-%u", i);
		snprintf(name, sizeof(name), "user%u", i);
		uids[i] = add(c, sub, name);
	}
	img = image(c, &len, &v);
	CHECK_INT(v.n_active, 10000);
	for (unsigned i = 0; i < 10000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "user%u", i);
		CHECK_INT(ts_nsscache_view_by_name(&v, name, &e), 0);
		CHECK_INT(e.uid, uids[i]);
		CHECK_INT(ts_nsscache_view_by_uid(&v, uids[i], &e), 0);
		CHECK_STR(e.name, name);
	}
	/* a rebuild from the image keeps all of them, collisions included */
	d = NULL;
	CHECK_INT(ts_nsscache_parse(&d, img, len, &base), 0);
	for (unsigned i = 0; i < 10000; i += 7) {
		char sub[32], name[32];
		snprintf(sub, sizeof(sub), "sub-%u", i);
		snprintf(name, sizeof(name), "user%u", i);
		CHECK_INT(add(d, sub, name), uids[i]);
	}
	ts_nsscache_free(d);
	free(img);
	free(uids);
	ts_nsscache_free(c);
}

/* Two writers (the broker in exec mode and in daemon mode) doing load,
 * upsert, save under ts_nsscache_lock lose no update; a held lock times out. */
static void test_lock(void)
{
	char path[512];
	struct ts_nsscache *c = NULL;
	pid_t kids[2];
	int fd = -1, fd2 = -1, status;

	snprintf(path, sizeof(path), "%s/locked/users.cache", ts_test_tmpdir());
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		CHECK(kids[k] >= 0);
		if (kids[k] == 0) {
			for (int i = 0; i < 60; i++) {
				struct ts_nsscache *w = NULL;
				char sub[32], name[32];
				int lfd = -1;
				snprintf(sub, sizeof(sub), "k%d-%d", k, i);
				snprintf(name, sizeof(name), "k%du%d", k, i);
				if (ts_nsscache_lock(path, 10000, &lfd) < 0 ||
				    ts_nsscache_load(&w, path, &base) < 0 ||
				    ts_nsscache_upsert(w, sub, name, NULL, NULL) < 0 ||
				    ts_nsscache_save(w, path) < 0)
					_exit(1);
				ts_nsscache_free(w);
				close(lfd);
			}
			_exit(0);
		}
	}
	for (int k = 0; k < 2; k++) {
		CHECK_INT(waitpid(kids[k], &status, 0), kids[k]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_INT(ts_nsscache_load(&c, path, &base), 0);
	CHECK_INT(ts_nsscache_count(c, TS_NSSCACHE_ACTIVE), 120);
	CHECK_INT(ts_nsscache_generation(c), 120);
	ts_nsscache_free(c);
	{
		struct stat st;
		char lock[600];
		snprintf(lock, sizeof(lock), "%s.lock", path);
		CHECK_INT(stat(lock, &st), 0);
		CHECK_INT(st.st_mode & 07777, 0600);
	}
	CHECK_INT(ts_nsscache_lock(path, 0, &fd), 0);
	/* flock locks belong to the open file: a second open conflicts */
	CHECK_INT(ts_nsscache_lock(path, 0, &fd2), TS_E_LOCK_TIMEOUT);
	CHECK_INT(ts_nsscache_lock(path, 50, &fd2), TS_E_LOCK_TIMEOUT);
	close(fd);
	CHECK_INT(ts_nsscache_lock(path, 0, &fd2), 0);
	close(fd2);
}

int main(void)
{
	RUN(test_roundtrip);
	RUN(test_stability);
	RUN(test_collision_tombstone);
	RUN(test_reserved_and_specials);
	RUN(test_resolve_unknown);
	RUN(test_validation);
	RUN(test_damaged);
	RUN(test_ten_thousand);
	RUN(test_lock);
	return ts_test_done();
}
