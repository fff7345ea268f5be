/* SPDX-License-Identifier: MIT */
/*
 * The broker writes the NSS user cache (issue 9), against the real test IdP
 * and the real tokenseal-broker in exec mode, read back through the real
 * libnss_tokenseal.so.2 under nss_wrapper (`getent passwd`):
 *   - a password sign-in of ext-amy (an identity-provider-only user that
 *     nss_resolve_unknown matches) writes the cache (folder root 0755, file
 *     root 0644): `getent passwd ext-amy` shows the uid hashed from
 *     (issuer, "name:ext-amy") inside nss_uid_min..nss_uid_max, the
 *     server's name claim as GECOS, nss_home expanded, nss_shell;
 *   - the uid is stable on a second sign-in and after the cache file is
 *     deleted and rebuilt by a new sign-in;
 *   - a cache that cannot be written (the cache file a folder; the cache
 *     folder a regular file) fails nothing: the sign-in succeeds, the
 *     broker logs the warning naming the path and the reason;
 *   - nss_cache = none: no cache is written;
 *   - nss_resolve_unknown: a name the identity provider knows but this host
 *     does not (ext-zed) resolves, with the name-hash uid its first login
 *     keeps; a name neither local nor matched stays unknown;
 *   - a local account (alice, in /etc/passwd) signs in as itself and gets
 *     no cache entry (issue 15: the cache never publishes a name another
 *     source knows); an entry written for her before is unpublished;
 *   - the broker reads the cache file once per change, not per request
 *     (10 000 users, 2000 requests for unknown names: one read).
 * Needs root (the broker's exec mode) and nss_wrapper; SKIPPED otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lifecycle.h"
#include "nss_update.h"
#include "ts_client.h"
#include "ts_config.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_mem.h"
#include "ts_nsscache.h"
#include "ts_test.h"
#include "ts_test_conv.h"

#define UID_MIN 3000000u
#define UID_MAX 3099999u

static struct ts_idp idp;
static const char *module_so, *wrapper_so;
static char broker_bin[512], cfg[700], cfg_off[700], nssdir[700], cache[800], logfile[700],
    dbg[800], wpasswd[700], wgroup[700];

/* A password sign-in through the broker (the debug wrapper: its log goes
 * to logfile); returns the result code. */
static int login(const char *config, const char *user, const char *password, char *msg,
                 size_t msglen)
{
	struct ts_client_opts o = {.broker_path = dbg, .config_path = config};
	struct ts_client_request rq = {
	    .type = TS_MSG_LOGIN, .user = user, .service = "test", .method = "password"};
	struct ts_conv cv = TS_TEST_PASSWORD_CONV(password);
	struct ts_client_result res = {0};
	int r, code;

	r = ts_client_call(&o, &rq, &cv, &res);
	CHECK_INT(r, 0);
	if (r < 0)
		return r;
	fprintf(stderr, "   [%s] code %d (%s): %s\n", user, res.code, ts_strerror(res.code),
	        res.message);
	if (res.token)
		ts_leak_remember(res.token);
	if (msg)
		snprintf(msg, msglen, "%s", res.message);
	code = res.code;
	ts_client_result_clear(&res);
	return code;
}

/* `getent passwd key` under nss_wrapper with the real module reading
 * cache: its exit status, the line in out (without the newline). */
static int getent(const char *key, char *out, size_t outlen)
{
	char envs[6][900];
	const char *envp[7];
	const char *argv[] = {"/usr/bin/getent", "passwd", key, NULL};

	snprintf(envs[0], sizeof(envs[0]), "LD_PRELOAD=%s", wrapper_so);
	snprintf(envs[1], sizeof(envs[1]), "NSS_WRAPPER_PASSWD=%s", wpasswd);
	snprintf(envs[2], sizeof(envs[2]), "NSS_WRAPPER_GROUP=%s", wgroup);
	snprintf(envs[3], sizeof(envs[3]), "NSS_WRAPPER_MODULE_SO_PATH=%s", module_so);
	snprintf(envs[4], sizeof(envs[4]), "NSS_WRAPPER_MODULE_FN_PREFIX=tokenseal");
	snprintf(envs[5], sizeof(envs[5]), "TOKENSEAL_NSS_CACHE=%s", cache);
	for (int i = 0; i < 6; i++)
		envp[i] = envs[i];
	envp[6] = NULL;
	return ts_test_run_capture(argv, envp, out, outlen);
}

/* the uid nss_resolve_unknown gives name (no probing: issue 15 §3) */
static uint32_t expected_uid(const char *name)
{
	char key[300];

	snprintf(key, sizeof(key), "name:%s", name);
	return ts_nsscache_hash_uid(idp.issuer, key, UID_MIN, UID_MAX);
}

static void expect_amy(uint32_t uid)
{
	char line[1024], want[1024];

	snprintf(want, sizeof(want), "ext-amy:*:%u:%u:Amy Outsider:/srv/home/ext-amy-%u:/bin/sh",
	         (unsigned)uid, (unsigned)uid, (unsigned)uid);
	CHECK_INT(getent("ext-amy", line, sizeof(line)), 0);
	CHECK_STR(line, want);
}

static bool log_has(const char *needle)
{
	size_t len = 0;
	char *text = ts_test_read_file(logfile, &len);
	bool found = text && strstr(text, needle);

	if (!found)
		fprintf(stderr, "   log has no [%s]:\n%s\n", needle, text ? text : "(none)");
	free(text);
	return found;
}

/* One sign-in writes the cache; getent shows ext-amy as the cache has her. */
static void test_login_writes_cache(void)
{
	uint32_t uid = expected_uid("ext-amy");
	struct stat st;

	CHECK_MSG(stat(cache, &st) != 0, "no cache before the first sign-in");
	CHECK_INT(login(cfg, "ext-amy", "nss-pw", NULL, 0), 0);
	CHECK_INT(stat(nssdir, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0755);
	CHECK_INT(st.st_uid, 0);
	CHECK_INT(st.st_gid, 0);
	CHECK_INT(stat(cache, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0644);
	CHECK_INT(st.st_uid, 0);
	CHECK(uid >= UID_MIN && uid <= UID_MAX);
	expect_amy(uid);
	{
		char line[1024], want[64];

		snprintf(want, sizeof(want), "%u", (unsigned)uid);
		CHECK_INT(getent(want, line, sizeof(line)), 0);
		CHECK_MSG(strncmp(line, "ext-amy:", 8) == 0, "by uid: %s", line);
	}
}

/* The same person keeps the uid: a second sign-in, and a rebuild after the
 * file is gone. */
static void test_uid_stable(void)
{
	uint32_t uid = expected_uid("ext-amy");
	struct stat a, b;

	CHECK_INT(stat(cache, &a), 0);
	CHECK_INT(login(cfg, "ext-amy", "nss-pw", NULL, 0), 0);
	CHECK_INT(stat(cache, &b), 0);
	CHECK_MSG(a.st_ino != b.st_ino, "the second sign-in rewrote the cache");
	expect_amy(uid);

	CHECK_INT(unlink(cache), 0);
	CHECK_INT(login(cfg, "ext-amy", "nss-pw", NULL, 0), 0);
	expect_amy(uid);
	/* ext-ben, signed in too, gets his own uid beside her */
	CHECK_INT(login(cfg, "ext-ben", "nss-pw", NULL, 0), 0);
	{
		char line[1024], want[1024];
		unsigned ub = (unsigned)expected_uid("ext-ben");

		snprintf(want, sizeof(want), "ext-ben:*:%u:%u:Ben Outsider:/srv/home/ext-ben-%u:/bin/sh",
		         ub, ub, ub);
		CHECK_INT(getent("ext-ben", line, sizeof(line)), 0);
		CHECK_STR(line, want);
	}
	expect_amy(uid);
}

/* A cache that cannot be written never fails the sign-in (of a local
 * account: an identity-provider-only user needs the cache to have a uid at
 * all). */
static void test_write_failure_not_fatal(void)
{
	char want[2048], aside[900];

	/* the cache file is a folder: it cannot be read */
	CHECK_INT(unlink(cache), 0);
	CHECK_INT(mkdir(cache, 0755), 0);
	CHECK_INT(login(cfg, "alice", "alice-pw", NULL, 0), 0);
	snprintf(want, sizeof(want),
	         "broker: NSS user cache %s not updated for alice: cannot read it: ", cache);
	CHECK(log_has(want));
	CHECK_INT(rmdir(cache), 0);

	/* the cache folder is a regular file: refused before any write */
	snprintf(aside, sizeof(aside), "%s.aside", nssdir);
	CHECK_INT(rename(nssdir, aside), 0);
	ts_test_write_file(nssdir, "x", 1, 0644);
	CHECK_INT(login(cfg, "alice", "alice-pw", NULL, 0), 0);
	snprintf(want, sizeof(want),
	         "broker: NSS user cache %s not updated for alice: refused: %s: not a folder",
	         cache, nssdir);
	CHECK(log_has(want));
	/* the configuration check says so too, as a warning only */
	snprintf(want, sizeof(want), "nss_cache %s refused: %s: not a folder; the broker will not "
	                             "write the NSS user cache",
	         cache, nssdir);
	CHECK(log_has(want));
	CHECK_INT(unlink(nssdir), 0);
	CHECK_INT(rename(aside, nssdir), 0);

	/* and the next good sign-in writes it again */
	CHECK_INT(login(cfg, "ext-amy", "nss-pw", NULL, 0), 0);
	expect_amy(expected_uid("ext-amy"));
}

/* nss_cache = none: the broker writes nothing (alice: a local account, so
 * the sign-in needs no cache). */
static void test_cache_off(void)
{
	struct stat st;

	CHECK_INT(unlink(cache), 0);
	CHECK_INT(login(cfg_off, "alice", "alice-pw", NULL, 0), 0);
	CHECK_MSG(stat(cache, &st) != 0, "nss_cache = none wrote no cache");
	CHECK_INT(login(cfg, "ext-amy", "nss-pw", NULL, 0), 0);
	CHECK_INT(stat(cache, &st), 0);
}

static void load_cfg(const char *path, struct ts_config *c)
{
	ts_config_defaults(c);
	CHECK_INT(ts_config_load(c, path, NULL, NULL), 0);
}

/* ts_nss_describe and ts_nss_forget (for `tokenseal status` / `doctor` and
 * `tokenseal keystore forget`): active, tombstone (the name gone, the uid
 * kept), the same subject back with its uid, absent, off. */
static void test_describe_forget(void)
{
	uint32_t uid = expected_uid("ext-amy");
	struct ts_nss_user u = {.state = TS_NSS_USER_ABSENT};
	struct ts_config c;
	char line[1024], text[200];

	load_cfg(cfg, &c);
	CHECK_INT(ts_nss_describe(&c, "ext-amy", &u), 0);
	CHECK_INT(u.state, TS_NSS_USER_ACTIVE);
	CHECK_INT(u.uid, uid);
	CHECK_INT(u.gid, uid);
	CHECK(u.pinned_by_name);
	ts_nss_user_text(&u, text, sizeof(text));
	snprintf(line, sizeof(line), "uid %u, gid %u, pinned by name (nss_resolve_unknown)",
	         (unsigned)uid, (unsigned)uid);
	CHECK_STR(text, line);

	CHECK_INT(ts_nss_forget(&c, "ext-amy"), 0);
	snprintf(text, sizeof(text), "%u", (unsigned)uid);
	CHECK_INT(getent(text, line, sizeof(line)), 2); /* a tombstone resolves no more */
	CHECK_INT(ts_nss_describe(&c, "ext-amy", &u), 0);
	CHECK_INT(u.state, TS_NSS_USER_TOMBSTONE);
	CHECK_INT(u.uid, uid);
	ts_nss_user_text(&u, text, sizeof(text));
	snprintf(line, sizeof(line), "tombstone (uid %u stays taken)", (unsigned)uid);
	CHECK_STR(text, line);
	CHECK_INT(ts_nss_forget(&c, "ext-amy"), -ENOENT);
	/* her name-hash uid is a tombstone's: the name resolves to nothing
	 * (never to another uid) until the same person signs in again */
	CHECK_INT(getent("ext-amy", line, sizeof(line)), 2);

	/* the same subject signs in again: her old uid */
	CHECK_INT(login(cfg, "ext-amy", "nss-pw", NULL, 0), 0);
	expect_amy(uid);
	CHECK_INT(ts_nss_describe(&c, "ext-amy", &u), 0);
	CHECK_INT(u.state, TS_NSS_USER_ACTIVE);

	CHECK_INT(ts_nss_describe(&c, "carol", &u), 0);
	CHECK_INT(u.state, TS_NSS_USER_ABSENT);
	ts_nss_user_text(&u, text, sizeof(text));
	CHECK_STR(text, "not in the NSS user cache");
	load_cfg(cfg_off, &c);
	CHECK_INT(ts_nss_describe(&c, "ext-amy", &u), 0);
	CHECK_INT(u.state, TS_NSS_USER_OFF);
	ts_nss_user_text(&u, text, sizeof(text));
	CHECK_STR(text, "NSS user cache off (nss_cache = none)");
	CHECK_INT(ts_nss_forget(&c, "ext-amy"), 0);
}

/* A damaged cache is moved aside and rebuilt by the next sign-in: the
 * sign-in succeeds, the hash gives ext-amy her uid again. */
static void test_damaged_rebuilt(void)
{
	char want[1200];
	bool aside = false;
	struct dirent *de;
	DIR *d;

	ts_test_write_file(cache, "not a cache at all", 18, 0644);
	CHECK_INT(login(cfg, "ext-amy", "nss-pw", NULL, 0), 0);
	expect_amy(expected_uid("ext-amy"));
	snprintf(want, sizeof(want), "broker: NSS user cache %s was damaged (", cache);
	CHECK(log_has(want));
	d = opendir(nssdir);
	CHECK(d);
	while (d && (de = readdir(d)))
		aside = aside || strncmp(de->d_name, "users.cache.corrupt-", 20) == 0;
	if (d)
		closedir(d);
	CHECK_MSG(aside, "the damaged file was kept as users.cache.corrupt-*");
}

/* A local account signs in as itself: the cache publishes nothing for it
 * (its name is another source's), and an entry an older version wrote for
 * it becomes a tombstone, so the cache never shows alice under a second
 * uid. */
static void test_local_account_unpublished(void)
{
	struct ts_nss_user u = {.state = TS_NSS_USER_ACTIVE};
	struct ts_nsscache *c = NULL;
	struct ts_nsscache_settings s = {.issuer = idp.issuer,
	                                 .uid_min = UID_MIN,
	                                 .uid_max = UID_MAX,
	                                 .home_template = "/srv/home/%u-%U",
	                                 .shell = "/bin/sh",
	                                 .resolve_unknown = "ext-[a-z]+"};
	struct ts_config cf;
	char line[1024], want[1200];
	uint32_t old = 0;
	int lock = -1;

	load_cfg(cfg, &cf);
	CHECK_INT(login(cfg, "alice", "alice-pw", NULL, 0), 0);
	CHECK_INT(ts_nss_describe(&cf, "alice", &u), 0);
	CHECK_INT(u.state, TS_NSS_USER_ABSENT);
	/* what the cache of an older version held: alice with a hashed uid */
	CHECK_INT(ts_nsscache_lock(cache, 5000, &lock), 0);
	CHECK_INT(ts_nsscache_load(&c, cache, &s), 0);
	CHECK_INT(ts_nsscache_upsert(c, "sub-alice", "alice", "Alice Liddell", &old), 0);
	CHECK_INT(ts_nsscache_save(c, cache), 0);
	ts_nsscache_free(c);
	close(lock);
	snprintf(want, sizeof(want), "%u", (unsigned)old);
	CHECK_INT(getent(want, line, sizeof(line)), 0); /* (the wrapper's passwd has no alice) */
	CHECK_INT(login(cfg, "alice", "alice-pw", NULL, 0), 0);
	CHECK_INT(ts_nss_describe(&cf, "alice", &u), 0);
	CHECK_INT(u.state, TS_NSS_USER_TOMBSTONE);
	CHECK_INT(getent(want, line, sizeof(line)), 2);
	snprintf(want, sizeof(want), "broker: NSS user cache %s no longer publishes alice: the name "
	                             "alice is already a user on this host (uid ",
	         cache);
	CHECK(log_has(want));
}

/* An IdP-only name resolves through nss_resolve_unknown, signs in under
 * exactly the uid shown, and keeps it. */
static void test_idp_only_name(void)
{
	char line[1024], want[1024], msg[600];
	struct ts_nsscache_view v;
	uint32_t uid = 0;
	size_t len = 0;
	uint8_t *img;

	CHECK_MSG(getpwnam("ext-zed") == NULL, "ext-zed is no local account");
	img = (uint8_t *)ts_test_read_file(cache, &len);
	CHECK(img);
	CHECK_INT(ts_nsscache_view_open(&v, img, len), 0);
	CHECK_STR(v.resolve_unknown, "ext-[a-z]+");
	CHECK_INT(ts_nsscache_view_unknown_uid(&v, "ext-zed", &uid), 0);
	free(img);
	CHECK_INT(uid, expected_uid("ext-zed"));
	snprintf(want, sizeof(want), "ext-zed:*:%u:%u::/srv/home/ext-zed-%u:/bin/sh", (unsigned)uid,
	         (unsigned)uid, (unsigned)uid);
	CHECK_INT(getent("ext-zed", line, sizeof(line)), 0);
	CHECK_STR(line, want);
	CHECK_INT(getent("nomatch", line, sizeof(line)), 2);

	/* what the broker authorises with: the same uids */
	{
		struct ts_config c;
		uint32_t got = 0;

		load_cfg(cfg, &c);
		CHECK_INT(ts_nss_lookup_uid(&c, "ext-zed", &got), 0);
		CHECK_INT(got, uid);
		CHECK_INT(ts_nss_lookup_uid(&c, "ext-amy", &got), 0);
		CHECK_INT(got, expected_uid("ext-amy"));
		CHECK_INT(ts_nss_lookup_uid(&c, "nomatch", &got), -ENOENT);
		CHECK_INT(ts_nss_lookup_uid(&c, "a:b", &got), -ENOENT);
		CHECK_INT(login(cfg, "ext-ben", "nss-pw", NULL, 0), 0);
		CHECK_INT(ts_nss_lookup_uid(&c, "ext-ben", &got), 0);
		CHECK_INT(got, expected_uid("ext-ben"));
		CHECK_INT(ts_nss_forget(&c, "ext-ben"), 0);
		CHECK_INT(ts_nss_lookup_uid(&c, "ext-ben", &got), -ENOENT); /* a tombstone */
		load_cfg(cfg_off, &c);
		CHECK_INT(ts_nss_lookup_uid(&c, "ext-amy", &got), -ENOENT);
	}

	/* a wrong password is the server's refusal, not "no local user" */
	CHECK_INT(login(cfg, "ext-zed", "whatever", msg, sizeof(msg)) != 0, 1);
	CHECK_MSG(!strstr(msg, "no local user"), "authorised by the cache: %s", msg);
	/* the IdP-only user signs in under the pre-resolved uid, and keeps it */
	CHECK_INT(login(cfg, "ext-zed", "ext-zed-pw", msg, sizeof(msg)), 0);
	snprintf(want, sizeof(want), "ext-zed:*:%u:%u:Zed Outsider:/srv/home/ext-zed-%u:/bin/sh",
	         (unsigned)uid, (unsigned)uid, (unsigned)uid);
	CHECK_INT(getent("ext-zed", line, sizeof(line)), 0);
	CHECK_STR(line, want);
	snprintf(line, sizeof(line), "%s/keystore/users/%u.seal", idp.dir, (unsigned)uid);
	CHECK_MSG(access(line, F_OK) == 0, "the record is stored under the cache's uid: %s", line);
	/* a name neither local nor in the cache stays unknown */
	CHECK_INT(login(cfg, "nomatch", "x", msg, sizeof(msg)), -ENOENT);
	CHECK_STR(msg, "uid 0: no local user named nomatch");
}

/* A host whose cache predates its nss_resolve_unknown (the administrator
 * set it after the package wrote the cache, or no cache exists yet): the
 * broker brings the file's settings up to date before it looks the name
 * up, so the first sign-in of an IdP-only name works. */
static void test_idp_only_first_on_host(void)
{
	char c2[800], extra[1400], cache2[900], msg[600];
	struct stat st;

	snprintf(c2, sizeof(c2), "%s/fresh-host.conf", idp.dir);
	snprintf(cache2, sizeof(cache2), "%s/nss-fresh/users.cache", idp.dir);
	snprintf(extra, sizeof(extra),
	         "login_methods = password\nnss_cache = %s\nnss_uid_min = %u\nnss_uid_max = %u\n"
	         "nss_resolve_unknown = ext-z[a-z]+\n",
	         cache2, UID_MIN, UID_MAX);
	CHECK(ts_idp_write_config(&idp, c2, "conf", extra) == 0);
	CHECK_MSG(stat(cache2, &st) != 0, "no cache on this host yet");
	CHECK_INT(login(c2, "ext-zed", "ext-zed-pw", msg, sizeof(msg)), 0);
	CHECK_MSG(stat(cache2, &st) == 0, "the sign-in wrote the cache");
}

/* Issue 15 §1: requests for unknown names do not make the broker read the
 * whole cache each time. 10 000 users; 2000 lookups of names the cache
 * does not hold read the file once; a rewrite makes the next one read it
 * again, once. (Before: one read of the whole file per request.) */
static void test_lookup_reads_once(void)
{
	char c3[800], extra[1400], cache3[900];
	struct ts_nsscache_settings s = {.issuer = idp.issuer,
	                                 .uid_min = UID_MIN,
	                                 .uid_max = UID_MAX,
	                                 .home_template = "/home/%u",
	                                 .shell = "/bin/bash",
	                                 .resolve_unknown = "ext-[a-z]+"};
	struct ts_nsscache *c = NULL;
	struct ts_config cf;
	unsigned long before;
	uint32_t got;
	char why[400];

	snprintf(c3, sizeof(c3), "%s/many.conf", idp.dir);
	snprintf(cache3, sizeof(cache3), "%s/nss-many/users.cache", idp.dir);
	snprintf(extra, sizeof(extra),
	         "login_methods = password\nnss_cache = %s\nnss_uid_min = %u\nnss_uid_max = %u\n"
	         "nss_resolve_unknown = ext-[a-z]+\n",
	         cache3, UID_MIN, UID_MAX);
	CHECK(ts_idp_write_config(&idp, c3, "conf", extra) == 0);
	CHECK_INT(ts_nsscache_new(&c, &s), 0);
	for (unsigned i = 0; i < 10000; i++) {
		char sub[32], name[32];
		snprintf(sub, sizeof(sub), "sub-many-%u", i);
		snprintf(name, sizeof(name), "many%u", i);
		CHECK_INT(ts_nsscache_upsert(c, sub, name, NULL, NULL), 0);
	}
	CHECK_INT(ts_nsscache_save(c, cache3), 0);
	ts_nsscache_free(c);
	load_cfg(c3, &cf);
	CHECK_INT(ts_nss_prepare_if_stale(&cf), 0);
	before = ts_nss_view_reads();
	for (unsigned i = 0; i < 1000; i++) {
		CHECK_INT(ts_nss_prepare_if_stale(&cf), 0);
		CHECK_INT(ts_nss_lookup_uid(&cf, "nobody-known", &got), -ENOENT);
		CHECK_INT(ts_nss_authorize_uid(&cf, "unknown-name", &got, why, sizeof(why)), -ENOENT);
	}
	CHECK_INT(ts_nss_lookup_uid(&cf, "many77", &got), 0);
	fprintf(stderr, "   3000 calls, %lu reads of the cache\n", ts_nss_view_reads() - before);
	CHECK_MSG(ts_nss_view_reads() - before <= 1, "read %lu times",
	          ts_nss_view_reads() - before);
	/* a rewrite is seen by the next request */
	CHECK_INT(ts_nss_forget(&cf, "many77"), 0);
	before = ts_nss_view_reads();
	CHECK_INT(ts_nss_lookup_uid(&cf, "many77", &got), -ENOENT);
	CHECK_INT(ts_nss_lookup_uid(&cf, "many78", &got), 0);
	CHECK_INT(ts_nss_view_reads() - before, 1);
}

int main(int argc, char **argv)
{
	char extra[1200];

	if (argc < 4)
		TS_SKIP("usage: test_broker_nss BROKER NSS-MODULE NSS-WRAPPER-LIB");
#if defined(__SANITIZE_ADDRESS__)
	/* getent is no ASan program: a module built with ASan cannot load into
	 * it (the full, unsanitised pass runs this test) */
	TS_SKIP("the sanitizer build's libnss_tokenseal.so.2 cannot load into getent");
#endif
	if (getuid() != 0)
		TS_SKIP("needs root (the broker's exec mode serves root callers only)");
	if (!argv[3][0] || access(argv[3], R_OK) != 0)
		TS_SKIP("nss_wrapper not installed (libnss-wrapper)");
	if (access("/usr/bin/getent", X_OK) != 0)
		TS_SKIP("/usr/bin/getent missing");
	if (!getpwnam("alice"))
		TS_SKIP("local user alice missing: scripts/test creates her");
	CHECK(ts_strlcpy(broker_bin, argv[1], sizeof(broker_bin)) == 0);
	module_so = argv[2];
	wrapper_so = argv[3];
	CHECK(ts_idp_start(&idp, 3600) == 0);
	snprintf(logfile, sizeof(logfile), "%s/broker.log", ts_test_tmpdir());
	snprintf(nssdir, sizeof(nssdir), "%s/nss", idp.dir);
	snprintf(cache, sizeof(cache), "%s/users.cache", nssdir);
	snprintf(wpasswd, sizeof(wpasswd), "%s/wrapper.passwd", ts_test_tmpdir());
	snprintf(wgroup, sizeof(wgroup), "%s/wrapper.group", ts_test_tmpdir());
	ts_test_write_file(wpasswd, "root:x:0:0:root:/root:/bin/sh\n", 30, 0644);
	ts_test_write_file(wgroup, "root:x:0:\n", 10, 0644);

	/* ts_idp_write_config names the cache DIR/nss/users.cache */
	snprintf(cfg, sizeof(cfg), "%s/nss.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "login_methods = password, device\nnss_uid_min = %u\nnss_uid_max = %u\n"
	         "nss_home = /srv/home/%%u-%%U\nnss_shell = /bin/sh\n"
	         "nss_resolve_unknown = ext-[a-z]+\n",
	         UID_MIN, UID_MAX);
	CHECK(ts_idp_write_config(&idp, cfg, "conf", extra) == 0);
	snprintf(cfg_off, sizeof(cfg_off), "%s/nss-off.conf", idp.dir);
	CHECK(ts_idp_write_config(&idp, cfg_off, "conf",
	                          "login_methods = password\nnss_cache = none\n") == 0);
	snprintf(dbg, sizeof(dbg), "%s/debug-wrapper", ts_test_tmpdir());
	{
		FILE *f = fopen(dbg, "w");

		CHECK(f);
		fprintf(f, "#!/bin/sh\nexec '%s' --debug \"$@\" 2>>'%s'\n", broker_bin, logfile);
		CHECK(fclose(f) == 0);
		CHECK(chmod(dbg, 0755) == 0);
	}

	RUN(test_login_writes_cache);
	RUN(test_uid_stable);
	RUN(test_write_failure_not_fatal);
	RUN(test_cache_off);
	RUN(test_describe_forget);
	RUN(test_damaged_rebuilt);
	RUN(test_local_account_unpublished);
	RUN(test_idp_only_name);
	RUN(test_idp_only_first_on_host);
	RUN(test_lookup_reads_once);
	ts_leak_scan_file("the broker's log", logfile);
	return ts_test_done();
}
