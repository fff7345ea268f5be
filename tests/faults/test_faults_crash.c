/* SPDX-License-Identifier: MIT */
/*
 * Crash consistency (issue 18, "Faults"): the broker is killed (SIGKILL, as
 * kill -9) at every step of a refresh with a rotating refresh token, in exec
 * mode and as the daemon, through the test builds' fault hook
 * (common/ts_test_hook.h; cmake -DTOKENSEAL_TEST_HOOKS=ON, which
 * scripts/test sets; SKIPPED without it):
 *
 *   refresh-before-request  nothing sent: the record is byte for byte the
 *                           old one, the next refresh works
 *   refresh-after-answer    the server rotated, nothing stored: the record
 *                           is the old one; the next use works on the
 *                           still-valid access token; the next refresh is
 *                           refused (the stored refresh token is superseded)
 *                           and reported as the lost-answer case, needs-login,
 *                           once: no loop
 *   keystore-before-rename  the same, with the new record's temporary file
 *                           written and never renamed; that file stays while
 *                           it is young (it may be a write in progress), and
 *                           once an hour old `keystore verify` (exec mode) or
 *                           the next daemon start removes it
 *   nss-before-rename       a use whose access token was revoked refreshes,
 *                           stores, revalidates and writes the changed groups
 *                           to the NSS user cache's temporary file: the cache
 *                           stays the old one and readable, the record is the
 *                           refreshed one, the next use works without another
 *                           refresh and writes the cache; its temporary
 *                           file is swept like the record's
 *   (no hook)               old leftovers planted beside the key file and
 *                           the discovery cache are swept too, and only
 *                           theirs in the key file's shared folder
 *
 * After each kill: the record loads (sealed, authentic, parses) and every
 * later use is counted at the server (refreshes), so a loop fails the test.
 * argv[1] = tokenseal-broker, argv[2] = "exec" or "daemon".
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faults_lib.h"
#include "ts_error.h"
#include "ts_leak.h"
#include "ts_nsscache.h"
#include "ts_test.h"

static bool daemon_mode;
static char cfg[700], ksdir[700], cache[700], sock[700], dlog[700];
static struct ts_daemon dmn = {.pid = -1};
static uid_t alice;

/* exec mode: the hook in the broker's environment; daemon: a daemon
 * started with it (and a plain one otherwise) */
static void broker_up(const char *hook)
{
	if (!daemon_mode)
		return;
	if (hook)
		CHECK(setenv("TOKENSEAL_TEST_HOOK", hook, 1) == 0);
	CHECK_INT(ts_daemon_start(&dmn, fl.broker, cfg, sock, dlog), 0);
	(void)unsetenv("TOKENSEAL_TEST_HOOK");
}

static void broker_down(void)
{
	if (daemon_mode && dmn.pid > 0)
		(void)ts_daemon_stop(&dmn);
}

static const char *socket_or_null(void)
{
	return daemon_mode ? sock : NULL;
}

/* One call that must die at the hook: no RESULT */
static void call_killed(const char *hook, enum ts_msg_type type, uint32_t flags)
{
	char envv[128];
	char *env[] = {envv, NULL};
	struct ts_client_result res;
	int transport = 0, st = 0;

	snprintf(envv, sizeof(envv), "TOKENSEAL_TEST_HOOK=%s", hook);
	(void)fl_call(cfg, socket_or_null(), type, "alice", flags, NULL, daemon_mode ? NULL : env,
	              &res, &transport);
	fprintf(stderr, "   killed at %s: transport %s, code %s: %s\n", hook,
	        ts_strerror(transport), ts_strerror(res.code), res.message);
	CHECK_MSG(transport < 0 || res.code == TS_E_IPC || res.code == TS_E_NO_SERVICE,
	          "%s: the broker answered (%s) instead of dying at the hook", hook,
	          ts_strerror(res.code));
	ts_client_result_clear(&res);
	if (daemon_mode) {
		CHECK_MSG(waitpid(dmn.pid, &st, 0) == dmn.pid && WIFSIGNALED(st) &&
		              WTERMSIG(st) == SIGKILL,
		          "%s: the daemon died of SIGKILL", hook);
		dmn.pid = -1;
	}
}

static bool same(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	return a && b && al == bl && memcmp(a, b, al) == 0;
}

/* no temporary file is left in the folder but at most one of the kill */
static unsigned temp_files(const char *dir)
{
	char cmd[900], out[64] = "";
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -c '\\.tmp\\.' || true", dir);
	CHECK_INT(ts_idp_run(argv, out, sizeof(out)), 0);
	return (unsigned)strtoul(out, NULL, 10);
}

/* Every temporary file under dir is made mtime two hours old. */
static void backdate_temp_files(const char *dir)
{
	char cmd[900], out[64] = "";
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};

	snprintf(cmd, sizeof(cmd), "find '%s' -name '*.tmp.*' -exec touch -d '2 hours ago' {} +",
	         dir);
	CHECK_INT(ts_idp_run(argv, out, sizeof(out)), 0);
}

/* The sweep: KEYSTORE verify (exec mode, as `tokenseal keystore verify`),
 * or a daemon's start (it has swept when it serves a request). */
static void sweep(char *msg, size_t len)
{
	msg[0] = '\0';
	if (daemon_mode) {
		broker_up(NULL);
		CHECK_INT(fl_simple(cfg, sock, TS_MSG_STATUS, "alice", 0), 0);
		broker_down();
	} else {
		struct ts_client_opts o = {.broker_path = fl.wrapper,
		                           .config_path = cfg,
		                           .env = fl.env,
		                           .mode = TS_CLIENT_EXEC_ONLY};
		struct ts_client_request rq = {.type = TS_MSG_KEYSTORE, .user = "root",
		                               .method = "verify"};
		struct ts_client_result res;

		memset(&res, 0, sizeof(res));
		CHECK_INT(ts_client_call(&o, &rq, NULL, &res), 0);
		CHECK_MSG(res.code == 0, "keystore verify: %s", res.message);
		snprintf(msg, len, "%s", res.message);
		ts_client_result_clear(&res);
	}
}

/* The write cut short left its temporary file: kept while young, removed
 * once old. */
static void leftover_swept(const char *users)
{
	unsigned left = temp_files(users);
	char msg[600];

	CHECK_MSG(left >= 1, "the write cut short left its temporary file in %s", users);
	sweep(msg, sizeof(msg));
	CHECK_MSG(temp_files(users) == left, "a young temporary file stays (%s)", msg);
	CHECK_MSG(!strstr(msg, "removed"), "nothing said removed: %s", msg);
	backdate_temp_files(users);
	sweep(msg, sizeof(msg));
	fprintf(stderr, "   an hour later: %u temporary file(s) left; %s\n", temp_files(users),
	        daemon_mode ? "(swept by the daemon's start)" : msg);
	CHECK_MSG(temp_files(users) == 0, "the old temporary file was removed");
	if (!daemon_mode)
		CHECK_MSG(strstr(msg, "removed 1 temporary file(s) left by writes cut short"),
		          "verify says so: %s", msg);
}

static void check_loads(const char *step)
{
	int r = fl_record_loads(cfg, alice, "alice");

	CHECK_MSG(r == 0, "%s: the record does not load: %s", step, ts_strerror(r));
}

/* Killed around the refresh: before the request, or after the server
 * rotated. */
static void refresh_step(const char *hook, bool rotated)
{
	uint8_t *before, *after;
	size_t bl, al;
	long n0;
	struct ts_client_result res;
	char users[800];

	broker_up(NULL);
	fl_login(cfg, socket_or_null(), "alice", NULL);
	broker_down();
	before = fl_record_bytes(ksdir, alice, &bl);
	CHECK(before);
	n0 = fl_refreshes();

	broker_up(hook);
	call_killed(hook, TS_MSG_REFRESH, TS_FLAG_FORCE);
	CHECK_INT(fl_refreshes(), n0 + (rotated ? 1 : 0));
	after = fl_record_bytes(ksdir, alice, &al);
	CHECK_MSG(same(before, bl, after, al), "%s: the record changed", hook);
	check_loads(hook);
	snprintf(users, sizeof(users), "%s/users", ksdir);
	fprintf(stderr, "   %s: %u temporary file(s) left in users/\n", hook, temp_files(users));
	free(after);
	if (strcmp(hook, "keystore-before-rename") == 0) {
		broker_down(); /* the daemon killed at the hook: nothing left to stop */
		leftover_swept(users);
	}

	broker_up(NULL);
	/* a use: the stored access token is still valid at the server */
	CHECK_INT(fl_simple(cfg, socket_or_null(), TS_MSG_REVALIDATE, "alice", 0), 0);
	CHECK_INT(fl_refreshes(), n0 + (rotated ? 1 : 0));
	/* the next refresh */
	(void)fl_call(cfg, socket_or_null(), TS_MSG_REFRESH, "alice", TS_FLAG_FORCE, NULL, NULL,
	              &res, NULL);
	fprintf(stderr, "   next refresh after %s: %s: %s\n", hook, ts_strerror(res.code),
	        res.message);
	if (!rotated) {
		CHECK_INT(res.code, 0);
		CHECK_INT(fl_refreshes(), n0 + 1);
	} else {
		CHECK_INT(res.code, TS_E_NEEDS_LOGIN);
		CHECK_MSG(strstr(res.message, "answer to an earlier refresh was lost"),
		          "%s: the lost-answer case is named: %s", hook, res.message);
		CHECK_INT(fl_refreshes(), n0 + 2);
	}
	ts_client_result_clear(&res);
	/* and then: no loop, and the record still loads */
	for (int i = 0; i < 3; i++) {
		int c = fl_simple(cfg, socket_or_null(), TS_MSG_REVALIDATE, "alice", 0);

		CHECK_INT(c, rotated ? TS_E_NEEDS_LOGIN : 0);
	}
	CHECK_INT(fl_refreshes(), n0 + (rotated ? 2 : 1));
	check_loads(hook);
	/* a new sign-in heals it */
	fl_login(cfg, socket_or_null(), "alice", NULL);
	CHECK_INT(fl_simple(cfg, socket_or_null(), TS_MSG_REFRESH, "alice", TS_FLAG_FORCE), 0);
	broker_down();
	free(before);
}

static void test_before_request(void)
{
	refresh_step("refresh-before-request", false);
}

static void test_after_answer(void)
{
	refresh_step("refresh-after-answer", true);
}

static void test_keystore_before_rename(void)
{
	refresh_step("keystore-before-rename", true);
}

/* Killed while writing the NSS user cache: a use whose answer changed the
 * groups writes it (nss_groups = all) after the record. */
static void test_nss_before_rename(void)
{
	uint8_t *c0, *c1, *r0, *r1;
	size_t c0l, c1l, r0l, r1l;
	struct ts_nsscache *c = NULL;
	char groups[80], dir[800];
	long n0;

	broker_up(NULL);
	fl_login(cfg, socket_or_null(), "alice", NULL);
	CHECK_INT(ts_idp_set_claims(&fl.idp, "alice", "{\"groups\":[\"crash-a\"]}", NULL), 0);
	CHECK_INT(fl_simple(cfg, socket_or_null(), TS_MSG_REVALIDATE, "alice", 0), 0);
	broker_down();
	c0 = (uint8_t *)ts_test_read_file(cache, &c0l);
	CHECK_MSG(c0 && ts_contains((char *)c0, c0l, "crash-a"), "the cache holds crash-a");
	r0 = fl_record_bytes(ksdir, alice, &r0l);
	n0 = fl_refreshes();

	snprintf(groups, sizeof(groups), "{\"groups\":[\"crash-b\"]}");
	CHECK_INT(ts_idp_set_claims(&fl.idp, "alice", groups, NULL), 0);
	/* the use finds its access token revoked: it refreshes (rotation),
	 * stores, revalidates the new token and writes the changed groups */
	CHECK_INT(ts_idp_ctl(&fl.idp, "revoke-access-tokens", "alice"), 0);
	broker_up("nss-before-rename");
	call_killed("nss-before-rename", TS_MSG_REVALIDATE, 0);
	CHECK_INT(fl_refreshes(), n0 + 1);
	c1 = (uint8_t *)ts_test_read_file(cache, &c1l);
	CHECK_MSG(same(c0, c0l, c1, c1l), "the NSS cache is the old one, byte for byte");
	CHECK_INT(ts_nsscache_load(&c, cache, NULL), 0);
	ts_nsscache_free(c);
	/* the record: the refreshed one, stored before the cache */
	r1 = fl_record_bytes(ksdir, alice, &r1l);
	CHECK_MSG(r1 && !same(r0, r0l, r1, r1l), "the refreshed record was stored first");
	check_loads("nss-before-rename");
	snprintf(dir, sizeof(dir), "%s", cache);
	*strrchr(dir, '/') = '\0';
	fprintf(stderr, "   nss-before-rename: %u temporary file(s) left beside the cache\n",
	        temp_files(dir));
	leftover_swept(dir);

	broker_up(NULL);
	CHECK_INT(fl_simple(cfg, socket_or_null(), TS_MSG_REVALIDATE, "alice", 0), 0);
	broker_down();
	free(c1);
	c1 = (uint8_t *)ts_test_read_file(cache, &c1l);
	CHECK_MSG(c1 && ts_contains((char *)c1, c1l, "crash-b"), "the next use wrote crash-b");
	CHECK_INT(fl_refreshes(), n0 + 1); /* the stored refresh holds: none more */
	CHECK_INT(ts_idp_set_claims(&fl.idp, "alice", "{}", NULL), 0);
	free(c0);
	free(c1);
	free(r0);
	free(r1);
}

/* Leftovers of the discovery cache's and the key file's writes (a crash in
 * a discovery or `keystore init`/`rotate-key`; planted here): the sweep
 * removes the old ones of those two names only. The key file's folder is
 * shared (/etc/tokenseal): another file's leftover there stays. */
static void test_leftovers_beside(void)
{
	char cmd[2000], msg[600], out[64] = "";
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	const char *dir = fl.idp.dir;

	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && touch keystore.key.tmp.kkkk11 notours.conf.tmp.zzzz11 "
	         "keystore/discovery.json.tmp.dddd11 keystore.key.tmp.young1 && "
	         "touch -d '2 hours ago' keystore.key.tmp.kkkk11 notours.conf.tmp.zzzz11 "
	         "keystore/discovery.json.tmp.dddd11",
	         dir);
	CHECK_INT(ts_idp_run(argv, out, sizeof(out)), 0);
	sweep(msg, sizeof(msg));
	fprintf(stderr, "   leftovers beside the key file and the discovery cache: %s\n",
	        daemon_mode ? "(swept by the daemon's start)" : msg);
	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && for f in keystore.key.tmp.kkkk11 keystore/discovery.json.tmp.dddd11; "
	         "do [ ! -e $f ] || echo \"$f stayed\"; done; "
	         "for f in notours.conf.tmp.zzzz11 keystore.key.tmp.young1; "
	         "do [ -e $f ] || echo \"$f went\"; done",
	         dir);
	CHECK_INT(ts_idp_run(argv, out, sizeof(out)), 0);
	CHECK_MSG(out[0] == '\0', "the old leftovers of these two names only are removed: %s",
	          out);
	if (!daemon_mode)
		CHECK_MSG(strstr(msg, "removed 2 temporary file(s) left by writes cut short"),
		          "verify says so: %s", msg);
	snprintf(cmd, sizeof(cmd), "cd '%s' && rm -f notours.conf.tmp.zzzz11 keystore.key.tmp.young1",
	         dir);
	CHECK_INT(ts_idp_run(argv, out, sizeof(out)), 0);
}

int main(int argc, char **argv)
{
	char extra[1600];

	if (argc < 3)
		TS_SKIP("usage: test_faults_crash PATH-TO-tokenseal-broker exec|daemon");
#ifndef TOKENSEAL_TEST_HOOKS
	TS_SKIP("built without -DTOKENSEAL_TEST_HOOKS=ON (scripts/test sets it): no fault hook");
#endif
	daemon_mode = strcmp(argv[2], "daemon") == 0;
	fl_start(argv[1], 3600);
	alice = getpwnam("alice")->pw_uid;
	snprintf(ksdir, sizeof(ksdir), "%s/keystore", fl.idp.dir);
	snprintf(cache, sizeof(cache), "%s/nss/users.cache", fl.idp.dir);
	ts_daemon_socket_for("crash-daemon.conf", sock, sizeof(sock));
	snprintf(dlog, sizeof(dlog), "%s/daemon.log", ts_test_tmpdir());
	snprintf(extra, sizeof(extra),
	         "revalidate = introspection\nhttp_timeout = 3\nnss_groups = all\n"
	         "groups_claim = groups\n%s%s\n",
	         daemon_mode ? "socket_path = " : "", daemon_mode ? sock : "");
	fl_config(daemon_mode ? "crash-daemon" : "crash-exec", extra, cfg, sizeof(cfg));
	fprintf(stderr, "   mode: %s\n", daemon_mode ? "daemon" : "exec");
	RUN(test_before_request);
	RUN(test_after_answer);
	RUN(test_keystore_before_rename);
	RUN(test_nss_before_rename);
	RUN(test_leftovers_beside);
	ts_leak_scan_file("the broker's log", fl.log);
	if (daemon_mode)
		ts_leak_scan_file("the daemon's log", dlog);
	return ts_test_done();
}
