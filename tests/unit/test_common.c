/* SPDX-License-Identifier: MIT */
/* common/: SHA-256, redaction, sanitising, bounded copies, checked file I/O. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ts_error.h"
#include "ts_file.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_sha256.h"
#include "ts_test.h"

static void hex(char *out, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

static void test_sha256_vectors(void)
{
	uint8_t h[32];
	char x[65];
	char million[1000];

	ts_sha256(h, "", 0);
	hex(x, h, 32);
	CHECK_STR(x, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ts_sha256(h, "abc", 3);
	hex(x, h, 32);
	CHECK_STR(x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ts_sha256(h, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
	hex(x, h, 32);
	CHECK_STR(x, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(million, 'a', sizeof(million));
	ts_sha256(h, million, sizeof(million));
	hex(x, h, 32);
	CHECK_STR(x, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

static void test_redact(void)
{
	char r[TS_REDACT_LEN];
	const char *tok = "eyJhbGciOiJSUzI1NiJ9.secret-payload.signature";

	ts_redact_str(r, tok);
	CHECK(strncmp(r, "sha256:", 7) == 0);
	CHECK_INT(strlen(r), 19);
	CHECK(strstr(tok, r + 7) == NULL); /* no part of the token in the output */
	ts_redact_str(r, NULL);
	CHECK_STR(r, "(none)");
	ts_redact_str(r, "");
	CHECK_STR(r, "(none)");
}

static void test_sanitize(void)
{
	char out[8];

	ts_sanitize_text(out, sizeof(out), "a\nb\x1b[31mc", 10);
	CHECK_STR(out, "a?b?[31");
	ts_sanitize_text(out, sizeof(out), "\xc3\xa9t\xc3\xa9", 5);
	CHECK_STR(out, "??t??");
}

static void test_strlcpy(void)
{
	char b[4];

	CHECK_INT(ts_strlcpy(b, "abc", sizeof(b)), 0);
	CHECK_STR(b, "abc");
	CHECK_INT(ts_strlcpy(b, "abcd", sizeof(b)), -ENAMETOOLONG);
	CHECK_STR(b, "");
	CHECK(ts_memeq_ct("abc", "abc", 3));
	CHECK(!ts_memeq_ct("abc", "abd", 3));
}

static void test_checked_open(void)
{
	char p[600], l[600];
	const char *d = ts_test_tmpdir();
	struct ts_file_policy pol = {{geteuid(), TS_OWNER_ANY, TS_OWNER_ANY}, 022, 16};
	struct ts_file_policy other = {{geteuid() + 1, TS_OWNER_ANY, TS_OWNER_ANY}, 022, 0};
	uint8_t *buf;
	size_t len;
	int fd = -1;

	snprintf(p, sizeof(p), "%s/f", d);
	snprintf(l, sizeof(l), "%s/link", d);
	ts_test_write_file(p, "hello", 5, 0644);
	CHECK_INT(ts_read_file(p, &pol, &buf, &len), 0);
	CHECK_INT(len, 5);
	CHECK_STR((char *)buf, "hello");
	ts_erase_free(buf, len);
	CHECK_INT(ts_open_checked(p, O_RDONLY, &other, &fd, NULL), TS_E_BAD_OWNER);
	CHECK_INT(chmod(p, 0664), 0);
	CHECK_INT(ts_open_checked(p, O_RDONLY, &pol, &fd, NULL), TS_E_BAD_MODE);
	CHECK_INT(chmod(p, 0600), 0);
	CHECK_INT(symlink(p, l), 0);
	CHECK_INT(ts_open_checked(l, O_RDONLY, &pol, &fd, NULL), TS_E_NOT_REGULAR);
	ts_test_write_file(p, "0123456789abcdefX", 17, 0600);
	CHECK_INT(ts_read_file(p, &pol, &buf, &len), TS_E_TOO_BIG);
	snprintf(l, sizeof(l), "%s/missing", d);
	CHECK_INT(ts_read_file(l, &pol, &buf, &len), -ENOENT);
	snprintf(l, sizeof(l), "%s/fifo", d);
	CHECK_INT(mkfifo(l, 0600), 0);
	CHECK_INT(ts_open_checked(l, O_RDONLY, &pol, &fd, NULL), TS_E_NOT_REGULAR);
}

/* ts_path_check_safe on a temp tree below ts_test_tmpdir() (itself 0700 in
 * the root-owned, sticky /tmp). */
static void mkdir_mode(const char *d, const char *name, mode_t mode, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", d, name);
	CHECK_INT(mkdir(out, 0700), 0);
	CHECK_INT(chmod(out, mode), 0); /* past the umask */
}

static void expect_unsafe(const char *path, bool dir, int code, const char *why_want)
{
	char why[600];

	memcpy(why, "junk", 5);
	CHECK_INT(ts_path_check_safe(path, dir, why, sizeof(why)), code);
	CHECK_STR(why, why_want);
}

static void test_path_safe(void)
{
	const char *d = ts_test_tmpdir();
	char good[256], bin[256], gw[256], ww[256], st[256], f[512], l[512], p[768], w[1024];

	mkdir_mode(d, "good", 0755, good, sizeof(good));
	mkdir_mode(good, "bin", 0755, bin, sizeof(bin));
	snprintf(f, sizeof(f), "%s/broker", bin);
	ts_test_write_file(f, "#!/bin/sh\n", 10, 0755);

	/* a good path: file and folder, "" as the reason */
	expect_unsafe(f, false, 0, "");
	expect_unsafe(bin, true, 0, "");
	expect_unsafe("/", true, 0, "");
	snprintf(p, sizeof(p), "%s/./bin/../bin/broker", good);
	expect_unsafe(p, false, 0, "");
	CHECK_INT(ts_path_check_safe(f, false, NULL, 0), 0);

	/* a group-writable parent */
	mkdir_mode(d, "gw", 0775, gw, sizeof(gw));
	snprintf(p, sizeof(p), "%s/broker", gw);
	ts_test_write_file(p, "x", 1, 0755);
	snprintf(w, sizeof(w), "%s: group- or world-writable (mode 0775)", gw);
	expect_unsafe(p, false, TS_E_BAD_MODE, w);
	expect_unsafe(gw, true, TS_E_BAD_MODE, w);

	/* a world-writable parent without the sticky bit */
	mkdir_mode(d, "ww", 0777, ww, sizeof(ww));
	snprintf(p, sizeof(p), "%s/broker", ww);
	ts_test_write_file(p, "x", 1, 0755);
	snprintf(w, sizeof(w), "%s: group- or world-writable (mode 0777)", ww);
	expect_unsafe(p, false, TS_E_BAD_MODE, w);

	/* ... with the sticky bit (like /tmp): its entries cannot be replaced */
	mkdir_mode(d, "sticky", 01777, st, sizeof(st));
	snprintf(p, sizeof(p), "%s/broker", st);
	ts_test_write_file(p, "x", 1, 0755);
	expect_unsafe(p, false, 0, "");
	/* but the sticky folder itself is not a safe place to name, nor a
	 * writable file in it */
	snprintf(w, sizeof(w), "%s: group- or world-writable (mode 01777)", st);
	expect_unsafe(st, true, TS_E_BAD_MODE, w);
	CHECK_INT(chmod(p, 0757), 0);
	snprintf(w, sizeof(w), "%s/broker: group- or world-writable (mode 0757)", st);
	expect_unsafe(p, false, TS_E_BAD_MODE, w);

	/* the file itself group-writable */
	CHECK_INT(chmod(f, 0775), 0);
	snprintf(w, sizeof(w), "%s: group- or world-writable (mode 0775)", f);
	expect_unsafe(f, false, TS_E_BAD_MODE, w);
	CHECK_INT(chmod(f, 0755), 0);

	/* a symlink to a good place is followed; one into the group-writable
	 * folder is refused at that folder; relative targets and ".." resolve */
	snprintf(l, sizeof(l), "%s/tobin", d);
	CHECK_INT(symlink(bin, l), 0);
	snprintf(p, sizeof(p), "%s/broker", l);
	expect_unsafe(p, false, 0, "");
	snprintf(l, sizeof(l), "%s/togw", d);
	CHECK_INT(symlink("gw", l), 0);
	snprintf(p, sizeof(p), "%s/broker", l);
	snprintf(w, sizeof(w), "%s: group- or world-writable (mode 0775)", gw);
	expect_unsafe(p, false, TS_E_BAD_MODE, w);
	snprintf(l, sizeof(l), "%s/rel", good);
	CHECK_INT(symlink("../good/bin/broker", l), 0);
	expect_unsafe(l, false, 0, "");
	snprintf(l, sizeof(l), "%s/loop", d);
	CHECK_INT(symlink("loop", l), 0);
	snprintf(w, sizeof(w), "%s: too many levels of symbolic links", l);
	expect_unsafe(l, false, -ELOOP, w);

	/* wrong types, missing, relative */
	snprintf(w, sizeof(w), "%s: not a folder", f);
	expect_unsafe(f, true, TS_E_NOT_REGULAR, w);
	snprintf(w, sizeof(w), "%s: not a regular file", bin);
	expect_unsafe(bin, false, TS_E_NOT_REGULAR, w);
	snprintf(p, sizeof(p), "%s/nope/broker", good);
	snprintf(w, sizeof(w), "%s/nope: does not exist", good);
	expect_unsafe(p, false, -ENOENT, w);
	snprintf(p, sizeof(p), "%s/broker/x", bin);
	snprintf(w, sizeof(w), "%s: not a folder", f);
	expect_unsafe(p, false, -ENOTDIR, w);
	expect_unsafe("usr/bin/x", false, -EINVAL, "usr/bin/x: not an absolute path");

	if (geteuid() != 0) {
		fprintf(stderr, "   (not root: the other-owner cases need chown)\n");
		return;
	}
	/* a symlinked component owned by another user, even to a good place */
	snprintf(l, sizeof(l), "%s/foreign", d);
	CHECK_INT(symlink(bin, l), 0);
	CHECK_INT(lchown(l, 12345, 12345), 0);
	snprintf(p, sizeof(p), "%s/broker", l);
	snprintf(w, sizeof(w), "%s: a symbolic link owned by uid 12345, not by root", l);
	expect_unsafe(p, false, TS_E_BAD_OWNER, w);
	/* a folder and a file owned by another user */
	CHECK_INT(chown(bin, 12345, 0), 0);
	snprintf(w, sizeof(w), "%s: owned by uid 12345, not by root", bin);
	expect_unsafe(f, false, TS_E_BAD_OWNER, w);
	CHECK_INT(chown(bin, 0, 0), 0);
	CHECK_INT(chown(f, 12345, 0), 0);
	snprintf(w, sizeof(w), "%s: owned by uid 12345, not by root", f);
	expect_unsafe(f, false, TS_E_BAD_OWNER, w);
	CHECK_INT(chown(f, 0, 0), 0);
	/* a sticky folder owned by another user is no exception */
	CHECK_INT(chown(st, 12345, 0), 0);
	snprintf(p, sizeof(p), "%s/broker", st);
	CHECK_INT(chmod(p, 0755), 0);
	snprintf(w, sizeof(w), "%s: owned by uid 12345, not by root", st);
	expect_unsafe(p, false, TS_E_BAD_OWNER, w);
	CHECK_INT(chown(st, 0, 0), 0);
	expect_unsafe(p, false, 0, "");
}

static void test_atomic_write(void)
{
	char p[600];
	const char *d = ts_test_tmpdir();
	struct ts_atomic_opts o = {.mode = 0640, .uid = (uid_t)-1, .gid = (gid_t)-1};
	struct stat st;
	char *s;

	snprintf(p, sizeof(p), "%s/atomic", d);
	CHECK_INT(ts_atomic_write(p, "one", 3, &o), 0);
	CHECK_INT(ts_atomic_write(p, "two!", 4, &o), 0);
	s = ts_test_read_file(p, NULL);
	CHECK_STR(s, "two!");
	free(s);
	CHECK_INT(stat(p, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0640);

	/* a symlink in place of the folder is not followed */
	{
		char real[600], link[600], via[700], target[700];
		snprintf(real, sizeof(real), "%s/atomic-real", d);
		snprintf(link, sizeof(link), "%s/atomic-link", d);
		snprintf(via, sizeof(via), "%s/f", link);
		snprintf(target, sizeof(target), "%s/f", real);
		CHECK_INT(mkdir(real, 0700), 0);
		CHECK_INT(symlink(real, link), 0);
		CHECK_INT(ts_atomic_write(via, "x", 1, &o), TS_E_NOT_REGULAR);
		CHECK(access(target, F_OK) != 0);
	}
}

/* The allocator given to libcurl, jansson and OpenSSL (oauth_global_init):
 * a realloc that keeps the contents (the wipe of what it leaves is checked
 * end to end by the daemon's memory scan, secrets.test_secrets_daemon). */
static void test_realloc_wiped(void)
{
	char *p = ts_realloc_wiped(NULL, 10), *q;

	CHECK(p != NULL);
	memcpy(p, "abcdefghi", 10);
	q = ts_realloc_wiped(p, 5);
	CHECK_MSG(q == p && strcmp(q, "abcdefghi") == 0, "a smaller size keeps the block whole");
	q = ts_realloc_wiped(p, 100000);
	CHECK(q != NULL);
	CHECK_MSG(strcmp(q, "abcdefghi") == 0, "a larger size keeps the contents");
	CHECK_MSG(ts_realloc_wiped(q, 0) == NULL, "size 0 frees, as glibc's realloc");
	ts_free_wiped(NULL);
	p = malloc(64);
	CHECK(p != NULL);
	memset(p, 'S', 64);
	ts_free_wiped(p);
}

/* Only ts_atomic_write's temporary files (of one name, when given), only
 * old ones, only files. */
static void test_sweep_temp(void)
{
	static const struct {
		const char *name;
		bool old, removed;
	} f[] = {
	    {"1000.seal.tmp.ab12yz", true, true},   {"1000.seal.tmp.ab12yx", false, false},
	    {"1000.seal.tmp.ab12y", true, false},   {"1000.seal.tmp.AB12YZ", true, false},
	    {"1000.seal", true, false},             {".tmp.abcdef", true, false},
	    {"state.gen.tmp.000000", true, true},   {"x.tmp.abcdefg", true, false},
	};
	char dir[600], p[700];
	struct timespec old[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
	unsigned n = 99;
	int dfd;

	snprintf(dir, sizeof(dir), "%s/sweep", ts_test_tmpdir());
	CHECK(mkdir(dir, 0700) == 0);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		int fd = openat(dfd, f[i].name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

		CHECK(fd >= 0);
		close(fd);
		if (f[i].old)
			CHECK(utimensat(dfd, f[i].name, old, 0) == 0);
	}
	/* a symlink and a folder by the name of one: not files, kept */
	CHECK(symlinkat("1000.seal", dfd, "1001.seal.tmp.qqqqqq") == 0);
	CHECK(utimensat(dfd, "1001.seal.tmp.qqqqqq", old, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK(mkdirat(dfd, "1002.seal.tmp.rrrrrr", 0700) == 0);
	CHECK(utimensat(dfd, "1002.seal.tmp.rrrrrr", old, 0) == 0);
	CHECK_INT(ts_sweep_temp_at(dfd, NULL, 3600, &n), 0);
	CHECK_INT(n, 2);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		CHECK_MSG((faccessat(dfd, f[i].name, F_OK, 0) != 0) == f[i].removed, "%s %s",
		          f[i].name, f[i].removed ? "removed" : "kept");
	CHECK(faccessat(dfd, "1001.seal.tmp.qqqqqq", F_OK, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK(faccessat(dfd, "1002.seal.tmp.rrrrrr", F_OK, 0) == 0);

	/* with a name, only that file's: a shared folder (/etc/tokenseal) */
	{
		static const struct {
			const char *name;
			bool removed;
		} g[] = {
		    {"keystore.key.tmp.ab12yz", true},  {"other.conf.tmp.ab12yz", false},
		    {"keystore.keyx.tmp.ab12yz", false}, {"xkeystore.key.tmp.ab12yz", false},
		    {"keystore.tmp.ab12yz", false},
		};

		for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
			int fd = openat(dfd, g[i].name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

			CHECK(fd >= 0);
			close(fd);
			CHECK(utimensat(dfd, g[i].name, old, 0) == 0);
		}
		CHECK_INT(ts_sweep_temp_at(dfd, "keystore.key", 3600, &n), 0);
		CHECK_INT(n, 1);
		for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++)
			CHECK_MSG((faccessat(dfd, g[i].name, F_OK, 0) != 0) == g[i].removed, "%s %s",
			          g[i].name, g[i].removed ? "removed" : "kept");
	}
	close(dfd);
	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	CHECK(system(p) == 0);
}

static void test_strerror(void)
{
	CHECK(strstr(ts_strerror(TS_E_CORRUPT), "corrupt") != NULL);
	CHECK_STR(ts_strerror(-ENOENT), strerror(ENOENT));
	CHECK_STR(ts_strerror(-99999), "unknown error");
}

int main(void)
{
	RUN(test_sha256_vectors);
	RUN(test_redact);
	RUN(test_sanitize);
	RUN(test_strlcpy);
	RUN(test_checked_open);
	RUN(test_path_safe);
	RUN(test_atomic_write);
	RUN(test_realloc_wiped);
	RUN(test_sweep_temp);
	RUN(test_strerror);
	return ts_test_done();
}
