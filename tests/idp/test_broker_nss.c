/* SPDX-License-Identifier: MIT */
/*
 * The broker writes the NSS user cache (issue 9), against the real test IdP
 * and the real tokenseal-broker in exec mode, read back through the real
 * libnss_tokenseal.so.2 under nss_wrapper (`getent passwd`):
 *   - a password sign-in of alice writes the cache (folder root 0755, file
 *     root 0644): `getent passwd alice` shows the uid hashed from (issuer,
 *     sub) inside nss_uid_min..nss_uid_max, the server's name claim as
 *     GECOS, nss_home expanded, nss_shell;
 *   - the uid is stable on a second sign-in and after the cache file is
 *     deleted and rebuilt by a new sign-in;
 *   - a cache that cannot be written (the cache file a folder; the cache
 *     folder a regular file) fails nothing: the sign-in succeeds, the
 *     broker logs the warning naming the path and the reason;
 *   - nss_cache = none: no cache is written;
 *   - nss_resolve_unknown: after one sign-in wrote the cache (which carries
 *     the pattern), a name the identity provider knows but this host does
 *     not (ext-zed) resolves, with the name-hash uid its first login would
 *     keep. The test IdP's accounts (alice, bob, carol) all have local
 *     accounts, and the broker authorises only users its own getpwnam finds
 *     (which, with _TOKENSEAL_NSS_LOOP set, never asks the cache): so a
 *     sign-in of an IdP-only name is refused today ("no local user named"),
 *     which the last case pins down.
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
	char *envp[7];
	int p[2], st = 0;
	ssize_t n, got = 0;
	pid_t pid;

	snprintf(envs[0], sizeof(envs[0]), "LD_PRELOAD=%s", wrapper_so);
	snprintf(envs[1], sizeof(envs[1]), "NSS_WRAPPER_PASSWD=%s", wpasswd);
	snprintf(envs[2], sizeof(envs[2]), "NSS_WRAPPER_GROUP=%s", wgroup);
	snprintf(envs[3], sizeof(envs[3]), "NSS_WRAPPER_MODULE_SO_PATH=%s", module_so);
	snprintf(envs[4], sizeof(envs[4]), "NSS_WRAPPER_MODULE_FN_PREFIX=tokenseal");
	snprintf(envs[5], sizeof(envs[5]), "TOKENSEAL_NSS_CACHE=%s", cache);
	for (int i = 0; i < 6; i++)
		envp[i] = envs[i];
	envp[6] = NULL;
	CHECK(pipe(p) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		execle("/usr/bin/getent", "getent", "passwd", key, (char *)NULL, envp);
		_exit(127);
	}
	close(p[1]);
	while (got < (ssize_t)outlen - 1 &&
	       (n = read(p[0], out + got, outlen - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	if (got > 0 && out[got - 1] == '\n')
		out[got - 1] = '\0';
	close(p[0]);
	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint32_t expected_uid(const char *sub)
{
	return ts_nsscache_hash_uid(idp.issuer, sub, UID_MIN, UID_MAX);
}

static void expect_alice(uint32_t uid)
{
	char line[1024], want[1024];

	snprintf(want, sizeof(want), "alice:*:%u:%u:Alice Liddell:/srv/home/alice-%u:/bin/sh",
	         (unsigned)uid, (unsigned)uid, (unsigned)uid);
	CHECK_INT(getent("alice", line, sizeof(line)), 0);
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

/* One sign-in writes the cache; getent shows alice as the cache has her. */
static void test_login_writes_cache(void)
{
	uint32_t uid = expected_uid("sub-alice");
	struct stat st;

	CHECK_MSG(stat(cache, &st) != 0, "no cache before the first sign-in");
	CHECK_INT(login(cfg, "alice", "alice-pw", NULL, 0), 0);
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
	expect_alice(uid);
	{
		char line[1024], want[64];

		snprintf(want, sizeof(want), "%u", (unsigned)uid);
		CHECK_INT(getent(want, line, sizeof(line)), 0);
		CHECK_MSG(strncmp(line, "alice:", 6) == 0, "by uid: %s", line);
	}
}

/* The same person keeps the uid: a second sign-in, and a rebuild after the
 * file is gone. */
static void test_uid_stable(void)
{
	uint32_t uid = expected_uid("sub-alice");
	struct stat a, b;

	CHECK_INT(stat(cache, &a), 0);
	CHECK_INT(login(cfg, "alice", "alice-pw", NULL, 0), 0);
	CHECK_INT(stat(cache, &b), 0);
	CHECK_MSG(a.st_ino != b.st_ino, "the second sign-in rewrote the cache");
	expect_alice(uid);

	CHECK_INT(unlink(cache), 0);
	CHECK_INT(login(cfg, "alice", "alice-pw", NULL, 0), 0);
	expect_alice(uid);
	/* bob, signed in too, gets his own hashed uid beside her */
	CHECK_INT(login(cfg, "bob", "bob-pw", NULL, 0), 0);
	{
		char line[1024], want[1024];
		unsigned ub = (unsigned)expected_uid("sub-bob");

		snprintf(want, sizeof(want), "bob:*:%u:%u:Bob Builder:/srv/home/bob-%u:/bin/sh", ub,
		         ub, ub);
		CHECK_INT(getent("bob", line, sizeof(line)), 0);
		CHECK_STR(line, want);
	}
	expect_alice(uid);
}

/* A cache that cannot be written never fails the sign-in. */
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
	         "broker: NSS user cache %s not updated for alice: refused: %s: not a folder", cache,
	         nssdir);
	CHECK(log_has(want));
	/* the configuration check says so too, as a warning only */
	snprintf(want, sizeof(want), "nss_cache %s refused: %s: not a folder; the broker will not "
	                             "write the NSS user cache",
	         cache, nssdir);
	CHECK(log_has(want));
	CHECK_INT(unlink(nssdir), 0);
	CHECK_INT(rename(aside, nssdir), 0);

	/* and the next good sign-in writes it again */
	CHECK_INT(login(cfg, "alice", "alice-pw", NULL, 0), 0);
	expect_alice(expected_uid("sub-alice"));
}

/* nss_cache = none: the broker writes nothing. */
static void test_cache_off(void)
{
	struct stat st;

	CHECK_INT(unlink(cache), 0);
	CHECK_INT(login(cfg_off, "alice", "alice-pw", NULL, 0), 0);
	CHECK_MSG(stat(cache, &st) != 0, "nss_cache = none wrote no cache");
	CHECK_INT(login(cfg, "alice", "alice-pw", NULL, 0), 0);
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
	uint32_t uid = expected_uid("sub-alice");
	struct ts_nss_user u = {.state = TS_NSS_USER_ABSENT};
	struct ts_config c;
	char line[1024], text[200];

	load_cfg(cfg, &c);
	CHECK_INT(ts_nss_describe(&c, "alice", &u), 0);
	CHECK_INT(u.state, TS_NSS_USER_ACTIVE);
	CHECK_INT(u.uid, uid);
	CHECK_INT(u.gid, uid);
	CHECK(!u.pinned_by_name);
	ts_nss_user_text(&u, text, sizeof(text));
	snprintf(line, sizeof(line), "uid %u, gid %u", (unsigned)uid, (unsigned)uid);
	CHECK_STR(text, line);

	CHECK_INT(ts_nss_forget(&c, "alice"), 0);
	CHECK_INT(getent("alice", line, sizeof(line)), 2);
	snprintf(text, sizeof(text), "%u", (unsigned)uid);
	CHECK_INT(getent(text, line, sizeof(line)), 2); /* a tombstone resolves no more */
	CHECK_INT(ts_nss_describe(&c, "alice", &u), 0);
	CHECK_INT(u.state, TS_NSS_USER_TOMBSTONE);
	CHECK_INT(u.uid, uid);
	ts_nss_user_text(&u, text, sizeof(text));
	snprintf(line, sizeof(line), "tombstone (uid %u stays taken)", (unsigned)uid);
	CHECK_STR(text, line);
	CHECK_INT(ts_nss_forget(&c, "alice"), -ENOENT);

	/* the same subject signs in again: her old uid */
	CHECK_INT(login(cfg, "alice", "alice-pw", NULL, 0), 0);
	expect_alice(uid);
	CHECK_INT(ts_nss_describe(&c, "alice", &u), 0);
	CHECK_INT(u.state, TS_NSS_USER_ACTIVE);

	CHECK_INT(ts_nss_describe(&c, "carol", &u), 0);
	CHECK_INT(u.state, TS_NSS_USER_ABSENT);
	ts_nss_user_text(&u, text, sizeof(text));
	CHECK_STR(text, "not in the NSS user cache");
	load_cfg(cfg_off, &c);
	CHECK_INT(ts_nss_describe(&c, "alice", &u), 0);
	CHECK_INT(u.state, TS_NSS_USER_OFF);
	ts_nss_user_text(&u, text, sizeof(text));
	CHECK_STR(text, "NSS user cache off (nss_cache = none)");
	CHECK_INT(ts_nss_forget(&c, "alice"), 0);
}

/* A damaged cache is moved aside and rebuilt by the next sign-in: the
 * sign-in succeeds, the hash gives alice her uid again. */
static void test_damaged_rebuilt(void)
{
	char want[1200];
	bool aside = false;
	struct dirent *de;
	DIR *d;

	ts_test_write_file(cache, "not a cache at all", 18, 0644);
	CHECK_INT(login(cfg, "alice", "alice-pw", NULL, 0), 0);
	expect_alice(expected_uid("sub-alice"));
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

/* The uids of /etc/passwd inside the range are never handed out: with a
 * range where carol's hashed uid is alice's local uid, carol gets the next
 * free one. */
static void test_local_uid_reserved(void)
{
	uid_t ua = getpwnam("alice")->pw_uid;
	char rcfg[800], extra[1200], line[1024], want[1024];
	uint32_t lo = 0, hi = 0;
	struct passwd *pw;

	for (uint32_t span = 10000; span < 2000000 && !lo; span++) {
		uint32_t h = ts_nsscache_hash_uid(idp.issuer, "sub-carol", 1, span) - 1;

		if (h < ua) {
			lo = (uint32_t)ua - h;
			hi = lo + span - 1;
		}
	}
	CHECK_MSG(lo > 0, "a range that hashes carol onto uid %u", (unsigned)ua);
	CHECK_INT(ts_nsscache_hash_uid(idp.issuer, "sub-carol", lo, hi), ua);
	snprintf(rcfg, sizeof(rcfg), "%s/nss-reserve.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "login_methods = password\nmin_uid = 1\nnss_uid_min = %u\nnss_uid_max = %u\n"
	         "nss_cache = %s/nss-reserve/users.cache\n",
	         lo, hi, idp.dir);
	CHECK(ts_idp_write_config(&idp, rcfg, "conf", extra) == 0);
	CHECK_INT(login(rcfg, "carol", "carol-pw", NULL, 0), 0);
	snprintf(cache, sizeof(cache), "%s/nss-reserve/users.cache", idp.dir);
	CHECK_INT(getent("carol", line, sizeof(line)), 0);
	/* the next uid up, unless that one is a local account too */
	{
		uint32_t next = (uint32_t)ua + 1;

		while ((pw = getpwuid(next)) != NULL)
			next++;
		snprintf(want, sizeof(want), "carol:*:%u:%u:Carol Danvers:/home/carol:/bin/bash",
		         (unsigned)next, (unsigned)next);
	}
	CHECK_STR(line, want);
	snprintf(cache, sizeof(cache), "%s/users.cache", nssdir);
}

/* An IdP-only name: resolves through nss_resolve_unknown once a sign-in
 * wrote the cache; its own sign-in is refused while the broker authorises
 * local accounts only. */
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
	CHECK(uid >= UID_MIN && uid <= UID_MAX);
	snprintf(want, sizeof(want), "ext-zed:*:%u:%u::/srv/home/ext-zed-%u:/bin/sh", (unsigned)uid,
	         (unsigned)uid, (unsigned)uid);
	CHECK_INT(getent("ext-zed", line, sizeof(line)), 0);
	CHECK_STR(line, want);
	CHECK_INT(getent("nomatch", line, sizeof(line)), 2);

	/* what a broker authorising IdP-only names would use: the same uids */
	{
		struct ts_config c;
		uint32_t got = 0;

		load_cfg(cfg, &c);
		CHECK_INT(ts_nss_lookup_uid(&c, "ext-zed", &got), 0);
		CHECK_INT(got, uid);
		CHECK_INT(ts_nss_lookup_uid(&c, "alice", &got), 0);
		CHECK_INT(got, expected_uid("sub-alice"));
		CHECK_INT(ts_nss_lookup_uid(&c, "nomatch", &got), -ENOENT);
		CHECK_INT(ts_nss_lookup_uid(&c, "a:b", &got), -ENOENT);
		CHECK_INT(login(cfg, "bob", "bob-pw", NULL, 0), 0);
		CHECK_INT(ts_nss_lookup_uid(&c, "bob", &got), 0);
		CHECK_INT(got, expected_uid("sub-bob"));
		CHECK_INT(ts_nss_forget(&c, "bob"), 0);
		CHECK_INT(ts_nss_lookup_uid(&c, "bob", &got), -ENOENT); /* a tombstone */
		load_cfg(cfg_off, &c);
		CHECK_INT(ts_nss_lookup_uid(&c, "alice", &got), -ENOENT);
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
	if (!getpwnam("alice") || !getpwnam("bob"))
		TS_SKIP("local users alice/bob missing: scripts/test creates them");
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
	RUN(test_local_uid_reserved);
	RUN(test_idp_only_name);
	RUN(test_idp_only_first_on_host);
	ts_leak_scan_file("the broker's log", logfile);
	return ts_test_done();
}
