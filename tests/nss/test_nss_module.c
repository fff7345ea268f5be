/* SPDX-License-Identifier: MIT */
/*
 * libnss_tokenseal.so.2, the real module:
 *  - dlopen(RTLD_NOW): the _nss_tokenseal_* entry points exist, nothing else
 *    is exported; called directly, the exact glibc contract: ERANGE with
 *    NSS_STATUS_TRYAGAIN at every buffer size below the need, errno
 *    preserved, invalid names and the recursion guard NOTFOUND, damaged
 *    caches NOTFOUND, enumeration keeps the mapping it started on; a
 *    group of 298 listed members through glibc's ERANGE retries is the
 *    same group as from one large buffer;
 *  - through libc's getpwnam_r & co. under nss_wrapper (LD_PRELOAD, set by
 *    CTest; SKIPPED without it): tiny buffers give ERANGE, and 8 threads
 *    looking up users while a writer process rewrites the cache in a loop
 *    never see a torn entry, a missing user or a crash; a group of the
 *    cache whose name a local group has is refused.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ts_error.h"
#include "ts_nsscache.h"
#include "ts_test.h"

#ifndef TS_NSS_MODULE_PATH
#error "TS_NSS_MODULE_PATH must name the built module"
#endif

typedef enum nss_status (*pwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*pwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*grnam_fn)(const char *, struct group *, char *, size_t, int *);
typedef enum nss_status (*grgid_fn)(gid_t, struct group *, char *, size_t, int *);
typedef enum nss_status (*setent_fn)(int);
typedef enum nss_status (*endent_fn)(void);
typedef enum nss_status (*pwent_fn)(struct passwd *, char *, size_t, int *);
typedef enum nss_status (*grent_fn)(struct group *, char *, size_t, int *);
typedef enum nss_status (*initgroups_fn)(const char *, gid_t, long *, long *, gid_t **, long,
                                         int *);

static struct {
	pwnam_fn getpwnam_r;
	pwuid_fn getpwuid_r;
	grnam_fn getgrnam_r;
	grgid_fn getgrgid_r;
	setent_fn setpwent, setgrent;
	endent_fn endpwent, endgrent;
	pwent_fn getpwent_r;
	grent_fn getgrent_r;
	initgroups_fn initgroups_dyn;
} m;

static char cache[512];

/* The module's log lines land here: this executable exports __syslog_chk
 * (ENABLE_EXPORTS), which the module, built with _FORTIFY_SOURCE, calls. */
static unsigned log_lines;
static int log_pri;
static char log_text[1024];

void __syslog_chk(int pri, int flag, const char *fmt, ...) TS_PRINTF(3, 4);
void __syslog_chk(int pri, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	vsnprintf(log_text, sizeof(log_text), fmt, ap);
	va_end(ap);
	log_pri = pri;
	log_lines++;
}

static const struct ts_nsscache_settings base = {.issuer = "https://idp.example",
                                                 .uid_min = 1000000,
                                                 .uid_max = 1999999,
                                                 .home_template = "/home/%u",
                                                 .shell = "/bin/bash",
                                                 .resolve_unknown = "ext-[a-z]+"};

static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);

	CHECK_MSG(p != NULL, "%s is not exported", name);
	return p;
}

static void load_module(void)
{
	static const char *const hidden[] = {
	    "ts_nsscache_view_open",
	    "ts_nsscache_upsert",
	    "ts_nsscache_name_valid",
	    "ts_sha256",
	    "ts_open_checked",
	    "nss_state",
	    "map_open",
	    "current",
	    "ts_strerror",
	};
	void *h = dlopen(TS_NSS_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);

	CHECK_MSG(h != NULL, "dlopen: %s", dlerror());
	m.getpwnam_r = (pwnam_fn)sym(h, "_nss_tokenseal_getpwnam_r");
	m.getpwuid_r = (pwuid_fn)sym(h, "_nss_tokenseal_getpwuid_r");
	m.getgrnam_r = (grnam_fn)sym(h, "_nss_tokenseal_getgrnam_r");
	m.getgrgid_r = (grgid_fn)sym(h, "_nss_tokenseal_getgrgid_r");
	m.setpwent = (setent_fn)sym(h, "_nss_tokenseal_setpwent");
	m.setgrent = (setent_fn)sym(h, "_nss_tokenseal_setgrent");
	m.endpwent = (endent_fn)sym(h, "_nss_tokenseal_endpwent");
	m.endgrent = (endent_fn)sym(h, "_nss_tokenseal_endgrent");
	m.getpwent_r = (pwent_fn)sym(h, "_nss_tokenseal_getpwent_r");
	m.getgrent_r = (grent_fn)sym(h, "_nss_tokenseal_getgrent_r");
	m.initgroups_dyn = (initgroups_fn)sym(h, "_nss_tokenseal_initgroups_dyn");
	for (size_t i = 0; i < TS_ARRAY_SIZE(hidden); i++)
		CHECK_MSG(dlsym(h, hidden[i]) == NULL, "%s is exported", hidden[i]);
}

/* Write the cache with users user0..n-1 (gecos "<tag> userI", home
 * "/<tag>/userI") and alice; returns alice's uid. */
static uint32_t write_cache(const char *path, unsigned n, const char *tag)
{
	struct ts_nsscache_settings s = base;
	struct ts_nsscache *c = NULL;
	char tpl[64];
	uint32_t uid = 0;

	snprintf(tpl, sizeof(tpl), "/%s/%%u", tag);
	s.home_template = tpl;
	CHECK_INT(ts_nsscache_new(&c, &s), 0);
	CHECK_INT(ts_nsscache_upsert(c, "sub-alice", "alice", "Alice Example", &uid), 0);
	for (unsigned i = 0; i < n; i++) {
		char sub[32], name[32], gecos[64];
		snprintf(sub, sizeof(sub), "sub-%u", i);
		snprintf(name, sizeof(name), "user%u", i);
		snprintf(gecos, sizeof(gecos), "%s user%u", tag, i);
		CHECK_INT(ts_nsscache_upsert(c, sub, name, gecos, NULL), 0);
	}
	CHECK_INT(ts_nsscache_tombstone(c, "user1"), 0);
	CHECK_INT(ts_nsscache_save(c, path), 0);
	ts_nsscache_free(c);
	return uid;
}

static void test_lookups(void)
{
	char buf[1024];
	struct passwd pw;
	struct group gr;
	int err = 0;
	uint32_t ua = write_cache(cache, 3, "home");

	errno = 4242;
	CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
	CHECK_INT(errno, 4242);
	CHECK_STR(pw.pw_name, "alice");
	CHECK_STR(pw.pw_passwd, "*");
	CHECK_INT(pw.pw_uid, ua);
	CHECK_INT(pw.pw_gid, ua);
	CHECK_STR(pw.pw_gecos, "Alice Example");
	CHECK_STR(pw.pw_dir, "/home/alice");
	CHECK_STR(pw.pw_shell, "/bin/bash");
	CHECK(pw.pw_name >= buf && pw.pw_shell < buf + sizeof(buf)); /* all in the buffer */
	memset(&pw, 0, sizeof(pw));
	CHECK_INT(m.getpwuid_r(ua, &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
	CHECK_STR(pw.pw_name, "alice");
	CHECK_INT(m.getgrnam_r("alice", &gr, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
	CHECK_STR(gr.gr_name, "alice");
	CHECK_INT(gr.gr_gid, ua);
	CHECK(gr.gr_mem != NULL && gr.gr_mem[0] == NULL);
	CHECK_INT(m.getgrgid_r(ua, &gr, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
	CHECK_STR(gr.gr_name, "alice");

	/* NOTFOUND, errno untouched: unknown, tombstone, invalid names */
	errno = 4343;
	CHECK_INT(m.getpwnam_r("nobody-such", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(m.getpwnam_r("user1", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(m.getpwnam_r("../etc", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(m.getpwnam_r("", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(m.getpwnam_r("a:b", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(m.getgrnam_r("ext-new", &gr, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(m.getpwuid_r(0, &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(errno, 4343);
	/* the tombstone's uid does not resolve either */
	{
		struct ts_nsscache *c = NULL;
		struct ts_nsscache_info info;
		CHECK_INT(ts_nsscache_load(&c, cache, &base), 0);
		CHECK_INT(ts_nsscache_find(c, "user1", &info), 0);
		CHECK_INT(info.state, TS_NSSCACHE_TOMBSTONE);
		CHECK_INT(m.getpwuid_r(info.uid, &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
		CHECK_INT(m.getgrgid_r(info.gid, &gr, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
		ts_nsscache_free(c);
	}
	/* nss_resolve_unknown: passwd only, the uid the writer will keep */
	{
		struct ts_nsscache *c = NULL;
		uint32_t kept = 0;
		CHECK_INT(m.getpwnam_r("ext-dave", &pw, buf, sizeof(buf), &err),
		          NSS_STATUS_SUCCESS);
		CHECK_STR(pw.pw_dir, "/home/ext-dave");
		CHECK_STR(pw.pw_gecos, "");
		CHECK_INT(pw.pw_gid, pw.pw_uid);
		CHECK_INT(ts_nsscache_load(&c, cache, &base), 0);
		CHECK_INT(ts_nsscache_upsert(c, "sub-dave", "ext-dave", "Dave", &kept), 0);
		CHECK_INT(kept, pw.pw_uid);
		ts_nsscache_free(c);
		CHECK_INT(m.getpwnam_r("ext-Dave", &pw, buf, sizeof(buf), &err),
		          NSS_STATUS_NOTFOUND); /* no match */
	}
	/* initgroups: ours have no supplementary groups; nothing is added */
	{
		long start = 1, size = 4;
		gid_t *groups = calloc(4, sizeof(gid_t)), *orig = groups;
		groups[0] = ua;
		CHECK_INT(m.initgroups_dyn("alice", ua, &start, &size, &groups, -1, &err),
		          NSS_STATUS_SUCCESS);
		CHECK_INT(start, 1);
		CHECK_INT(size, 4);
		CHECK(groups == orig);
		CHECK_INT(m.initgroups_dyn("nobody-such", 5, &start, &size, &groups, -1, &err),
		          NSS_STATUS_NOTFOUND);
		free(groups);
	}
	/* the recursion guard */
	setenv(TS_NSS_LOOP_ENV, "1", 1);
	CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(m.getpwuid_r(ua, &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(m.getgrnam_r("alice", &gr, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	unsetenv(TS_NSS_LOOP_ENV);
	CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
}

static void test_erange(void)
{
	char *buf;
	struct passwd pw;
	struct group gr;
	size_t need = strlen("alice") + 1 + 2 + strlen("Alice Example") + 1 +
	              strlen("/home/alice") + 1 + strlen("/bin/bash") + 1;
	int err;

	(void)write_cache(cache, 3, "home");
	for (size_t n = 0; n < need; n++) {
		buf = malloc(n ? n : 1);
		err = 0;
		errno = 77;
		CHECK_INT(m.getpwnam_r("alice", &pw, buf, n, &err), NSS_STATUS_TRYAGAIN);
		CHECK_INT(err, ERANGE);
		err = 0;
		CHECK_INT(m.getpwnam_r("ext-zoe", &pw, buf, n < 20 ? n : 20, &err),
		          NSS_STATUS_TRYAGAIN);
		CHECK_INT(err, ERANGE);
		CHECK_INT(errno, 77);
		free(buf);
	}
	buf = malloc(need); /* exactly enough */
	CHECK_INT(m.getpwnam_r("alice", &pw, buf, need, &err), NSS_STATUS_SUCCESS);
	CHECK_STR(pw.pw_shell, "/bin/bash");
	free(buf);
	/* groups: the member array needs a pointer-aligned slot */
	for (size_t n = 0; n < 8 + 6 + 2; n++) {
		buf = malloc(n ? n : 1);
		err = 0;
		CHECK_INT(m.getgrnam_r("alice", &gr, buf, n, &err), NSS_STATUS_TRYAGAIN);
		CHECK_INT(err, ERANGE);
		free(buf);
	}
	{
		char big[64];
		for (size_t off = 0; off < 8; off++) {
			CHECK_INT(m.getgrnam_r("alice", &gr, big + off, sizeof(big) - off, &err),
			          NSS_STATUS_SUCCESS);
			CHECK((uintptr_t)gr.gr_mem % sizeof(char *) == 0);
			CHECK(gr.gr_mem[0] == NULL);
			CHECK_STR(gr.gr_name, "alice");
		}
	}
	/* enumeration does not skip an entry after ERANGE */
	{
		char small[4], ok[512];
		CHECK_INT(m.setpwent(0), NSS_STATUS_SUCCESS);
		CHECK_INT(m.getpwent_r(&pw, small, sizeof(small), &err), NSS_STATUS_TRYAGAIN);
		CHECK_INT(err, ERANGE);
		unsigned count = 0;
		while (m.getpwent_r(&pw, ok, sizeof(ok), &err) == NSS_STATUS_SUCCESS)
			count++;
		CHECK_INT(count, 3); /* alice, user0, user2 (user1 is a tombstone) */
		CHECK_INT(m.endpwent(), NSS_STATUS_SUCCESS);
	}
}

#define BIG_MEMBERS 300

/* A cache whose users user0 .. user299 are all in the published group
 * called group; user7 is on nss_reserved_names and user9 a tombstone, so
 * 298 members are listed. */
static void write_group_cache(const char *path, const char *group)
{
	struct ts_nsscache_settings s = base;
	struct ts_nsscache_group_ref ref = {.name = group};
	struct ts_nsscache *c = NULL;

	s.reserved_names = "user7";
	CHECK_INT(ts_nsscache_new(&c, &s), 0);
	for (unsigned i = 0; i < BIG_MEMBERS; i++) {
		char sub[32], name[32];

		snprintf(sub, sizeof(sub), "sub-%u", i);
		snprintf(name, sizeof(name), "user%u", i);
		CHECK_INT(ts_nsscache_upsert(c, sub, name, NULL, NULL), 0);
		CHECK_INT(ts_nsscache_set_groups(c, name, &ref, 1), 1);
	}
	CHECK_INT(ts_nsscache_tombstone(c, "user9"), 0);
	CHECK_INT(ts_nsscache_save(c, path), 0);
	ts_nsscache_free(c);
}

/* gr lists user0 .. user299 but user7 and user9, each once; the bytes the
 * answer needs (from an aligned buffer). */
static size_t check_big_group(const struct group *gr, const char *group)
{
	bool seen[BIG_MEMBERS] = {false};
	size_t n = 0, need = strlen(group) + 1 + 2 + sizeof(char *);

	CHECK_STR(gr->gr_name, group);
	CHECK_STR(gr->gr_passwd, "*");
	CHECK((uintptr_t)gr->gr_mem % sizeof(char *) == 0);
	for (; gr->gr_mem[n]; n++) {
		char *end;
		unsigned long k;

		CHECK_MSG(strncmp(gr->gr_mem[n], "user", 4) == 0, "member %s", gr->gr_mem[n]);
		k = strtoul(gr->gr_mem[n] + 4, &end, 10);
		CHECK_MSG(*end == '\0' && k < BIG_MEMBERS && k != 7 && k != 9 && !seen[k],
		          "member %s", gr->gr_mem[n]);
		if (k < BIG_MEMBERS)
			seen[k] = true;
		need += sizeof(char *) + strlen(gr->gr_mem[n]) + 1;
	}
	CHECK_INT(n, BIG_MEMBERS - 2);
	return need;
}

/* A group larger than glibc's first buffer: glibc's retries (1 KiB, then
 * doubled) each give ERANGE with errno kept and gr untouched, and the
 * answer after them is the same group, member for member, as from a large
 * buffer; every size below the need, at any alignment, is ERANGE, the need
 * itself is enough. */
static void test_group_erange_retry(void)
{
	static char big[1 << 16];
	struct group ref, gr, untouched;
	size_t len, need, tries = 0;
	char *buf;
	int err;

	write_group_cache(cache, "bigteam");
	CHECK_INT(m.getgrnam_r("bigteam", &ref, big, sizeof(big), &err), NSS_STATUS_SUCCESS);
	need = check_big_group(&ref, "bigteam");
	memset(&untouched, 0x5a, sizeof(untouched));
	for (len = 1024;; len *= 2, tries++) {
		enum nss_status st;

		buf = malloc(len);
		CHECK(buf != NULL);
		gr = untouched;
		err = 0;
		errno = 77;
		st = m.getgrnam_r("bigteam", &gr, buf, len, &err);
		CHECK_INT(errno, 77);
		if (st == NSS_STATUS_SUCCESS)
			break;
		CHECK_INT(st, NSS_STATUS_TRYAGAIN);
		CHECK_INT(err, ERANGE);
		CHECK(memcmp(&gr, &untouched, sizeof(gr)) == 0);
		free(buf);
		CHECK_MSG(len < sizeof(big), "no buffer was enough");
		if (len >= sizeof(big))
			return;
	}
	CHECK_MSG(tries >= 2, "%zu retries: the group must outgrow 1 KiB", tries);
	CHECK(check_big_group(&gr, "bigteam") == need);
	CHECK_INT(gr.gr_gid, ref.gr_gid);
	for (size_t i = 0; ref.gr_mem[i] || gr.gr_mem[i]; i++)
		CHECK_MSG(ref.gr_mem[i] && gr.gr_mem[i] && !strcmp(ref.gr_mem[i], gr.gr_mem[i]),
		          "member %zu differs", i);
	free(buf);
	/* the exact boundary, at each alignment */
	for (size_t off = 0; off < sizeof(char *); off++) {
		char *p = big + off;
		size_t align = (sizeof(char *) - off % sizeof(char *)) % sizeof(char *);

		CHECK_INT(m.getgrnam_r("bigteam", &gr, p, need + align - 1, &err),
		          NSS_STATUS_TRYAGAIN);
		CHECK_INT(err, ERANGE);
		CHECK_INT(m.getgrnam_r("bigteam", &gr, p, need + align, &err), NSS_STATUS_SUCCESS);
		CHECK(check_big_group(&gr, "bigteam") == need);
	}
	for (len = 0; len < need; len += 7)
		CHECK_INT(m.getgrnam_r("bigteam", &gr, big, len, &err), NSS_STATUS_TRYAGAIN);
}

static void test_enumeration_snapshot(void)
{
	char buf[512];
	struct passwd pw;
	struct group gr;
	int err;
	unsigned count = 0, gcount = 0;

	(void)write_cache(cache, 10, "one");
	CHECK_INT(m.setpwent(1), NSS_STATUS_SUCCESS);
	CHECK_INT(m.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
	count++;
	/* a rewrite in the middle: the enumeration goes on over what it began */
	(void)write_cache(cache, 50, "two");
	while (m.getpwent_r(&pw, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS) {
		CHECK(strncmp(pw.pw_dir, "/one/", 5) == 0);
		count++;
	}
	CHECK_INT(count, 10); /* 10 + alice - the tombstone */
	CHECK_INT(m.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(m.endpwent(), NSS_STATUS_SUCCESS);
	/* lookups see the new file at once */
	CHECK_INT(m.getpwnam_r("user40", &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
	CHECK_STR(pw.pw_dir, "/two/user40");
	CHECK_INT(m.setgrent(0), NSS_STATUS_SUCCESS);
	while (m.getgrent_r(&gr, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS) {
		CHECK_INT(gr.gr_gid, gr.gr_gid);
		gcount++;
	}
	CHECK_INT(gcount, 50);
	CHECK_INT(m.endgrent(), NSS_STATUS_SUCCESS);
	/* without setpwent, getpwent_r starts by itself */
	count = 0;
	while (m.getpwent_r(&pw, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS)
		count++;
	CHECK_INT(count, 50);
	CHECK_INT(m.endpwent(), NSS_STATUS_SUCCESS);
}

static void put32le(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)x, p[1] = (uint8_t)(x >> 8), p[2] = (uint8_t)(x >> 16),
	p[3] = (uint8_t)(x >> 24);
}

/* Replace the cache with img (len bytes, mode) and expect NOTFOUND. */
static void expect_notfound(const uint8_t *img, size_t len, unsigned mode, const char *what)
{
	char buf[512], tmp[600];
	struct passwd pw;
	struct group gr;
	int err = 0;

	snprintf(tmp, sizeof(tmp), "%s.new", cache);
	ts_test_write_file(tmp, img, len, mode);
	CHECK_INT(chmod(tmp, mode), 0);
	CHECK_INT(rename(tmp, cache), 0);
	errno = 99;
	CHECK_MSG(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err) == NSS_STATUS_NOTFOUND,
	          "%s: alice found", what);
	CHECK_MSG(m.getpwnam_r("ext-new", &pw, buf, sizeof(buf), &err) == NSS_STATUS_NOTFOUND,
	          "%s: ext-new found", what);
	CHECK_MSG(m.getpwuid_r(1000001, &pw, buf, sizeof(buf), &err) == NSS_STATUS_NOTFOUND,
	          "%s: uid found", what);
	CHECK_MSG(m.getgrnam_r("alice", &gr, buf, sizeof(buf), &err) == NSS_STATUS_NOTFOUND,
	          "%s: group found", what);
	CHECK_MSG(m.setpwent(0) == NSS_STATUS_SUCCESS &&
	              m.getpwent_r(&pw, buf, sizeof(buf), &err) == NSS_STATUS_NOTFOUND,
	          "%s: enumerated", what);
	CHECK_INT(m.endpwent(), NSS_STATUS_SUCCESS);
	CHECK_INT(errno, 99);
}

static void test_damaged(void)
{
	uint8_t *img;
	size_t len;
	char buf[512];
	struct passwd pw;
	int err;

	(void)write_cache(cache, 5, "home");
	img = (uint8_t *)ts_test_read_file(cache, &len);
	expect_notfound(img, len / 2, 0644, "truncated");
	expect_notfound(img, 0, 0644, "empty");
	img[0] ^= 1;
	expect_notfound(img, len, 0644, "bad magic");
	img[0] ^= 1;
	{
		uint8_t saved[4];
		memcpy(saved, img + 60, 4); /* the name index offset */
		put32le(img + 60, (uint32_t)len - 2);
		expect_notfound(img, len, 0644, "bad offset");
		memcpy(img + 60, saved, 4);
	}
	expect_notfound(img, len, 0666, "world-writable");
	expect_notfound(img, len, 0664, "group-writable");
	if (geteuid() == 0) {
		/* owned by someone else (neither root nor the caller) */
		char tmp[600];
		snprintf(tmp, sizeof(tmp), "%s.new", cache);
		ts_test_write_file(tmp, img, len, 0644);
		CHECK_INT(chown(tmp, 4242, 4242), 0);
		CHECK_INT(rename(tmp, cache), 0);
		CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	}
	{
		/* over the cap: a sparse file of 64 MiB + 1 */
		char tmp[600];
		FILE *f;
		snprintf(tmp, sizeof(tmp), "%s.new", cache);
		f = fopen(tmp, "w");
		CHECK(f != NULL);
		CHECK_INT(fwrite(img, 1, len, f), len);
		CHECK_INT(fclose(f), 0);
		CHECK_INT(truncate(tmp, (off_t)TS_NSSCACHE_MAX_SIZE + 1), 0);
		CHECK_INT(rename(tmp, cache), 0);
		CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	}
	CHECK_INT(unlink(cache), 0);
	CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	/* a good file again heals at once */
	(void)write_cache(cache, 5, "home");
	CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
	/* a symlink is not followed */
	{
		char link[600];
		snprintf(link, sizeof(link), "%s.link", cache);
		CHECK_INT(symlink(cache, link), 0);
		setenv(TS_NSSCACHE_ENV, link, 1);
		CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
		setenv(TS_NSSCACHE_ENV, cache, 1);
		CHECK_INT(unlink(link), 0);
	}
	free(img);
}

/* A damaged file is logged once per version of the file, at LOG_ERR, and
 * not re-opened on every call (else every call would log again). */
static void test_log_once(void)
{
	char buf[512], tmp[600];
	struct passwd pw;
	int err;
	uint8_t junk[200];

	memset(junk, 'x', sizeof(junk));
	snprintf(tmp, sizeof(tmp), "%s.new", cache);
	(void)write_cache(cache, 2, "home");
	log_lines = 0;
	CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
	CHECK_INT(log_lines, 0);
	ts_test_write_file(tmp, junk, sizeof(junk), 0644);
	CHECK_INT(rename(tmp, cache), 0);
	for (int i = 0; i < 5; i++)
		CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(m.getpwuid_r(1000001, &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(log_lines, 1);
	CHECK_INT(log_pri, LOG_ERR);
	CHECK_MSG(strstr(log_text, cache) && strstr(log_text, "unusable (damaged)") &&
	              strstr(log_text, "answering NOTFOUND"),
	          "log line: %s", log_text);
	fprintf(stderr, "logged: %s\n", log_text);
	/* another damaged version: one more line, with its reason */
	ts_test_write_file(tmp, junk, sizeof(junk) - 2, 0666);
	CHECK_INT(chmod(tmp, 0666), 0);
	CHECK_INT(rename(tmp, cache), 0);
	CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(log_lines, 2);
	CHECK_MSG(strstr(log_text, "(group or world writable)"), "log line: %s", log_text);
	log_lines = 1;
	ts_test_write_file(tmp, junk, sizeof(junk) - 1, 0644);
	CHECK_INT(rename(tmp, cache), 0);
	for (int i = 0; i < 3; i++)
		CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(log_lines, 2);
	/* a missing file is silent */
	CHECK_INT(unlink(cache), 0);
	CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	CHECK_INT(log_lines, 2);
	(void)write_cache(cache, 2, "home");
	CHECK_INT(m.getpwnam_r("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
	CHECK_INT(log_lines, 2);
}

/* ---- through libc (nss_wrapper) ---- */

static bool under_nss_wrapper(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "nss_wrapper") && getenv("NSS_WRAPPER_MODULE_SO_PATH");
}

static void test_libc_erange(void)
{
	char buf[8], big[1024];
	struct passwd pw, *res = NULL;
	struct group gr, *gres = NULL;

	if (!under_nss_wrapper()) {
		fprintf(stderr, "(not under nss_wrapper: libc cases not run)\n");
		return;
	}
	(void)write_cache(cache, 3, "home");
	CHECK_INT(getpwnam_r("alice", &pw, buf, sizeof(buf), &res), ERANGE);
	CHECK(res == NULL);
	CHECK_INT(getpwnam_r("alice", &pw, big, sizeof(big), &res), 0);
	CHECK(res == &pw);
	CHECK_STR(pw.pw_gecos, "Alice Example");
	CHECK_INT(getpwuid_r(pw.pw_uid, &pw, buf, sizeof(buf), &res), ERANGE);
	CHECK_INT(getgrnam_r("alice", &gr, buf, 4, &gres), ERANGE);
	CHECK_INT(getgrnam_r("alice", &gr, big, sizeof(big), &gres), 0);
	CHECK(gres == &gr);
	/* nss_wrapper reports "not found" as ENOENT where glibc says 0 */
	CHECK_INT(getpwnam_r("nobody-such", &pw, big, sizeof(big), &res), ENOENT);
	CHECK(res == NULL);
}

/* Write path as head + tail, with an mtime `bump` seconds ahead (nss_wrapper
 * reloads a file whose mtime, in seconds, changed). */
static void set_file(const char *path, const char *head, size_t n, const char *tail, int bump)
{
	struct timespec ts[2] = {{time(NULL) + 5 * bump, 0}, {time(NULL) + 5 * bump, 0}};
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fwrite(head, 1, n, f) == n);
	fputs(tail, f);
	CHECK(fclose(f) == 0);
	CHECK_INT(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* A group of the cache whose name a local group also has (a line added to
 * nss_wrapper's group file, as an admin would to /etc/group): refused,
 * however large the buffer; back once the local line is gone. */
static void test_group_local_name(void)
{
	static char big[1 << 16];
	const char *path = getenv("NSS_WRAPPER_GROUP");
	char saved[4096];
	struct group gr;
	size_t n;
	FILE *f;
	int err;

	if (!under_nss_wrapper() || !path) {
		fprintf(stderr, "(not under nss_wrapper: local group case not run)\n");
		return;
	}
	write_group_cache(cache, "localteam");
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	n = fread(saved, 1, sizeof(saved) - 1, f);
	fclose(f);
	CHECK(n < sizeof(saved) - 1);
	saved[n] = '\0';
	{ /* a run killed midway left its line: not part of the original */
		char *l = strstr(saved, "localteam:");

		if (l && (l == saved || l[-1] == '\n'))
			n = (size_t)(l - saved);
	}
	set_file(path, saved, n, "", 1);
	CHECK_INT(m.getgrnam_r("localteam", &gr, big, sizeof(big), &err), NSS_STATUS_SUCCESS);
	set_file(path, saved, n, "localteam:x:4242:\n", 2);
	CHECK_INT(m.getgrnam_r("localteam", &gr, big, sizeof(big), &err), NSS_STATUS_NOTFOUND);
	/* the refusal does not depend on the walk: a small buffer first */
	CHECK_INT(m.getgrnam_r("localteam", &gr, big, 1024, &err), NSS_STATUS_TRYAGAIN);
	CHECK_INT(m.getgrnam_r("localteam", &gr, big, sizeof(big), &err), NSS_STATUS_NOTFOUND);
	set_file(path, saved, n, "", 3);
	CHECK_INT(m.getgrnam_r("localteam", &gr, big, sizeof(big), &err), NSS_STATUS_SUCCESS);
	CHECK_STR(gr.gr_name, "localteam");
}

#define N_USERS 1000
#define N_THREADS 8

static atomic_bool stop;
static atomic_ulong lookups, failures;
static uint32_t uids[N_USERS];

static void *reader(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	char buf[512];

	while (!atomic_load(&stop)) {
		unsigned i = (unsigned)rand_r(&seed) % N_USERS;
		struct passwd pw, *res = NULL;
		char name[32], want_gecos[64];
		int r;

		if (i == 1)
			continue; /* the tombstone */
		snprintf(name, sizeof(name), "user%u", i);
		if (rand_r(&seed) & 1) {
			r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
		} else {
			r = getpwuid_r(uids[i], &pw, buf, sizeof(buf), &res);
		}
		atomic_fetch_add(&lookups, 1);
		if (r != 0 || res == NULL || strcmp(pw.pw_name, name) != 0 ||
		    pw.pw_uid != uids[i]) {
			atomic_fetch_add(&failures, 1);
			continue;
		}
		/* one version per entry: gecos "<tag> name" and home "/<tag>/name" agree */
		snprintf(want_gecos, sizeof(want_gecos), "%.3s %s", pw.pw_dir + 1, name);
		if (strcmp(pw.pw_gecos, want_gecos) != 0 || strlen(pw.pw_dir) != 5 + strlen(name))
			atomic_fetch_add(&failures, 1);
	}
	return NULL;
}

static void test_threads_vs_writer(void)
{
	pthread_t t[N_THREADS];
	pid_t writer;
	int status;

	if (!under_nss_wrapper()) {
		fprintf(stderr, "(not under nss_wrapper: concurrency case not run)\n");
		return;
	}
	(void)write_cache(cache, N_USERS, "aaa");
	{
		struct ts_nsscache *c = NULL;
		for (unsigned i = 0; i < N_USERS; i++) {
			struct ts_nsscache_info info;
			char name[32];
			if (!c)
				CHECK_INT(ts_nsscache_load(&c, cache, NULL), 0);
			snprintf(name, sizeof(name), "user%u", i);
			CHECK_INT(ts_nsscache_find(c, name, &info), 0);
			uids[i] = info.uid;
		}
		ts_nsscache_free(c);
	}
	writer = fork();
	CHECK(writer >= 0);
	if (writer == 0) {
		/* the broker's part: rewrite the cache as fast as it can for 3 s,
		 * alternating between two versions of every entry */
		struct timespec start, now;
		unsigned k = 0;
		clock_gettime(CLOCK_MONOTONIC, &start);
		do {
			(void)write_cache(cache, N_USERS, k++ % 2 ? "aaa" : "bbb");
			clock_gettime(CLOCK_MONOTONIC, &now);
		} while (now.tv_sec - start.tv_sec < 3);
		fprintf(stderr, "writer: %u rewrites\n", k);
		_exit(0);
	}
	for (unsigned i = 0; i < N_THREADS; i++)
		CHECK_INT(pthread_create(&t[i], NULL, reader, (void *)(uintptr_t)(i + 1)), 0);
	CHECK_INT(waitpid(writer, &status, 0), writer);
	atomic_store(&stop, true);
	for (unsigned i = 0; i < N_THREADS; i++)
		CHECK_INT(pthread_join(t[i], NULL), 0);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer failed: %d", status);
	fprintf(stderr, "%lu lookups, %lu failures\n", atomic_load(&lookups),
	        atomic_load(&failures));
	CHECK(atomic_load(&lookups) > 1000);
	CHECK_INT(atomic_load(&failures), 0);
}

int main(void)
{
	snprintf(cache, sizeof(cache), "%s/nss/users.cache", ts_test_tmpdir());
	setenv(TS_NSSCACHE_ENV, cache, 1);
	unsetenv(TS_NSS_LOOP_ENV);
	load_module();
	RUN(test_lookups);
	RUN(test_erange);
	RUN(test_group_erange_retry);
	RUN(test_enumeration_snapshot);
	RUN(test_damaged);
	RUN(test_log_once);
	RUN(test_libc_erange);
	RUN(test_group_local_name);
	RUN(test_threads_vs_writer);
	return ts_test_done();
}
