/* SPDX-License-Identifier: MIT */
/*
 * A slow introspection (issue 18 "Faults"; found by the long daemon load
 * run): access tokens of the real test IdP live 3 s, and the fault proxy
 * holds the first two introspections 4 s each (mode delay). alice's use
 * finds her token inactive, refreshes, and the new token's introspection
 * comes back after the token ran out: the server says inactive
 * (oidc-provider checks exp strictly there) while its userinfo still takes
 * the token (within its clockTolerance of 15 s). That is the token's age,
 * not Keycloak's audience rule: the use refreshes once more and succeeds,
 * and nothing is held back as a configuration error. When every check is
 * that slow (three introspections held 4 s), the token refreshed once more
 * runs out too: the use fails as unavailable ("took longer to check ...
 * than that token lives"), not as a disabled account held back for 60 s,
 * and the next use at the usual pace works. The same at sign-in:
 * bob's (exec) and carol's (daemon) new token runs out during its 4 s
 * check; the sign-in says so, not "configuration error", and stores
 * nothing. Exec mode and the daemon. Root and the local test users
 * required (SKIPPED otherwise).
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faults_lib.h"
#include "ts_error.h"
#include "ts_test.h"

#define TTL_S 3

static char cfg[700], sock[700], dlog[700], ksdir[700];
static struct ts_daemon dmn = {.pid = -1};

/* The proxy back to pass: alice's next use works (nothing was held back). */
static void next_use_works(const char *socket)
{
	struct ts_client_result res;
	int code;

	fl_proxy_set("mode=pass&reset=1");
	code = fl_call(cfg, socket, TS_MSG_REVALIDATE, "alice", TS_FLAG_NONINTERACTIVE, NULL, NULL,
	               &res, NULL);
	CHECK_MSG(code == 0, "the next use works: %s", res.message);
	ts_client_result_clear(&res);
}

static void slow_use(const char *socket)
{
	struct ts_client_result res;
	long long t0;
	long refreshes;
	int code;

	fl_login(cfg, socket, "alice", NULL);
	CHECK_INT(ts_idp_ctl(&fl.idp, "revoke-access-tokens", "alice"), 0);
	/* past its expiry, so the use asks the server first (and the first
	 * slow check is the old token's): a token still inside its refresh
	 * window would be refreshed first, and both slow checks would fall on
	 * refreshed tokens (on a loaded host that made this flaky) */
	sleep(TTL_S + 2);
	fl_proxy_set("mode=delay&delay_ms=4000&only=/token/introspection&times=2&reset=1");
	t0 = fl_now_ms();
	code = fl_call(cfg, socket, TS_MSG_REVALIDATE, "alice", TS_FLAG_NONINTERACTIVE, NULL, NULL,
	               &res, NULL);
	refreshes = fl_proxy_requests("/token:refresh_token");
	fprintf(stderr, "   %s: %s in %lld ms, %ld refreshes: %s\n", socket ? "daemon" : "exec",
	        ts_strerror(code), fl_now_ms() - t0, refreshes, res.message);
	CHECK_MSG(code == 0, "the use succeeded after the slow check: %s", res.message);
	CHECK_MSG(strstr(res.message, "audience") == NULL, "not taken for the audience rule: %s",
	          res.message);
	CHECK_MSG(refreshes == 2, "refreshed once more for the token that ran out (%ld)",
	          refreshes);
	ts_client_result_clear(&res);
	/* and nothing was held back: the next use is confirmed at once */
	next_use_works(socket);
}

static void very_slow_use(const char *socket)
{
	struct ts_client_result res;
	long refreshes;
	int code;

	CHECK_INT(ts_idp_ctl(&fl.idp, "revoke-access-tokens", "alice"), 0);
	fl_proxy_set("mode=delay&delay_ms=4000&only=/token/introspection&times=3&reset=1");
	code = fl_call(cfg, socket, TS_MSG_REVALIDATE, "alice", TS_FLAG_NONINTERACTIVE, NULL, NULL,
	               &res, NULL);
	refreshes = fl_proxy_requests("/token:refresh_token");
	fprintf(stderr, "   %s: every check slow: %s, %ld refreshes: %s\n",
	        socket ? "daemon" : "exec", ts_strerror(code), refreshes, res.message);
	CHECK_MSG(code == TS_E_UNAVAILABLE, "unavailable, not a disabled account: %s",
	          res.message);
	CHECK_MSG(strstr(res.message, "than that token lives") != NULL, "says why: %s",
	          res.message);
	CHECK_MSG(refreshes == 2, "two refreshes, no loop (%ld)", refreshes);
	ts_client_result_clear(&res);
	/* nothing was held back: at the usual pace the next use works */
	next_use_works(socket);
}

static void slow_login(const char *socket, const char *user)
{
	struct ts_client_result res;
	struct passwd *pw = getpwnam(user);
	char secret[64];
	size_t len;
	uint8_t *rec;
	int code;

	CHECK(pw);
	snprintf(secret, sizeof(secret), "%s-pw", user);
	fl_proxy_set("mode=delay&delay_ms=4000&only=/token/introspection&times=1&reset=1");
	code = fl_call(cfg, socket, TS_MSG_LOGIN, user, 0, secret, NULL, &res, NULL);
	fprintf(stderr, "   %s: sign-in of %s: %s: %s\n", socket ? "daemon" : "exec", user,
	        ts_strerror(code), res.message);
	CHECK_MSG(code == TS_E_REJECTED_TOKEN, "the sign-in failed as a rejected token: %s",
	          ts_strerror(code));
	CHECK_MSG(strstr(res.message, "ran out while waiting") != NULL,
	          "the message says the new token ran out: %s", res.message);
	CHECK_MSG(strstr(res.message, "configuration error") == NULL &&
	              strstr(res.message, "audience") == NULL,
	          "not taken for the audience rule: %s", res.message);
	ts_client_result_clear(&res);
	rec = pw ? fl_record_bytes(ksdir, pw->pw_uid, &len) : NULL;
	CHECK_MSG(rec == NULL, "nothing was stored for %s", user);
	free(rec);
	/* at the server's usual pace the same sign-in works */
	fl_proxy_set("mode=pass&reset=1");
	fl_login(cfg, socket, user, NULL);
}

static void test_exec(void)
{
	slow_use(NULL);
	very_slow_use(NULL);
	slow_login(NULL, "bob");
}

static void test_daemon(void)
{
	CHECK_INT(ts_daemon_start(&dmn, fl.broker, cfg, sock, dlog), 0);
	slow_use(sock);
	very_slow_use(sock);
	slow_login(sock, "carol");
	CHECK_MSG(ts_daemon_stop(&dmn) == 0, "the daemon stopped cleanly");
}

int main(int argc, char **argv)
{
	char extra[1200];

	if (argc < 2)
		TS_SKIP("usage: test_faults_slow PATH-TO-tokenseal-broker");
	fl_start(argv[1], TTL_S);
	snprintf(ksdir, sizeof(ksdir), "%s/keystore", fl.idp.dir);
	ts_daemon_socket_for("slow.conf", sock, sizeof(sock));
	snprintf(dlog, sizeof(dlog), "%s/daemon.log", ts_test_tmpdir());
	snprintf(extra, sizeof(extra),
	         "revalidate = introspection\nhttp_timeout = 10\nrevalidate_cache = 0\n"
	         "socket_path = %s\n",
	         sock);
	fl_config("slow", extra, cfg, sizeof(cfg));
	RUN(test_exec);
	RUN(test_daemon);
	return ts_test_done();
}
