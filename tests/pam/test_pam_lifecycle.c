/* SPDX-License-Identifier: MIT */
/*
 * The token lifecycle of issue 4 through libpam: the real pam_tokenseal.so
 * (under pam_wrapper) runs the real tokenseal-broker (exec mode, --debug)
 * against the real test IdP (tests/fixtures/idp). Each case names the item
 * of issue 4 ("Tests (label pam)") it proves and fails without it:
 *
 *  2  access token revoked at the server, local expiry an hour away: the next
 *     account phase refreshes exactly once and replaces the record atomically
 *  3  grant revoked: PAM_PERM_DENIED with the invalid_grant sign-in message,
 *     the record kept; a device login heals it
 *  6  50 concurrent account phases after the revocation: all succeed, one
 *     refresh at the server
 *  7  server down: PAM_AUTHINFO_UNAVAIL within http_timeout, record byte for
 *     byte unchanged; offline_grace both ways
 *  8  account disabled at the server: account refused
 *  9  device login denied (PAM_MAXTRIES), deadline reached and device code
 *     expired (PAM_AUTH_ERR); slow_down and expired_token through the fault
 *     injector (the real server sends neither to a client that keeps time)
 *  10 password grant through the conversation; device-only never prompts;
 *     a pasted token accepted, a revoked one refused
 *  10b bob with alice's password or token: refused, both names shown,
 *     nothing stored for bob
 *  12 no token in any conversation text, PAM log or broker log
 *
 *
 * Every PAM transaction runs in a forked child with its own handle, its
 * stderr (pam_wrapper's log, PAM_WRAPPER_DEBUGLEVEL) captured to a file and
 * its conversation text returned through shared memory, so the parent can
 * scan both for token text (pam_harness.c).
 *
 * argv[1] = tokenseal-broker. Environment (CTest, tests/pam/lifecycle.cmake):
 * pam_wrapper with the services tsl-main, tsl-deadline, tsl-password,
 * tsl-token (config TS_PAM_LIFE_CONF, written here), tsl-grace (config
 * TS_PAM_LIFE_GRACE_CONF), tsl-slowdown and tsl-expired (configs
 * TS_PAM_LIFE_SLOWDOWN_CONF and TS_PAM_LIFE_EXPIRED_CONF, fault injector).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "pam_harness.h"
#include "ts_daemon.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_test.h"

#define N_CONCURRENT 50

#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

static const char *conf_main, *conf_grace, *conf_slowdown, *conf_expired;
static struct ts_faults faults;

/* ---- one PAM transaction in a child (pam_harness) ----------------------- */

/* Run one phase on the last slot; *ret (may be NULL) gets a copy of it. */
static int pam_op(const char *service, const char *user, enum ph_op op,
                  const struct ph_conv_spec *spec, struct ph_slot *ret)
{
	const struct ph_step step[] = {{op, 0}};
	struct ph_slot *slot = ph_slot(N_CONCURRENT);
	int rv = ph_steps(service, user, step, 1, spec, slot);

	if (ret)
		*ret = *slot;
	return rv;
}

static int account(const char *service, const char *user)
{
	return pam_op(service, user, PH_ACCOUNT, NULL, NULL);
}

/* ---- helpers ------------------------------------------------------------ */

static void gen_path(char *out, size_t len, const char *user)
{
	snprintf(out, len, "%s/state/%u.gen", ph_ksdir, (unsigned)ph_uid_of(user));
}

static long refreshes(void)
{
	return ts_idp_count(&ph_idp, "token:refresh_token");
}

static void device_login(const char *user, const char *as, const char *pw)
{
	struct ph_conv_spec spec = {.approve_login = as, .approve_pw = pw};
	struct ph_slot s;

	CHECK_INT(pam_op("tsl-main", user, PH_AUTH, &spec, &s), PAM_SUCCESS);
	CHECK_MSG(s.code[0], "the device code reached the PAM conversation");
	CHECK_INT(s.prompts, 0);
}

/* An access token for login from the IdP's password grant (curl, client
 * tokenseal-conf), as a user would obtain one elsewhere. Also remembers the
 * refresh token of that answer for the leak scan. */
static char *password_grant_token(const char *login, const char *pw)
{
	char user_arg[400], form_user[128], form_pw[128], url[400];
	char out[16384];
	char *at = NULL;

	ph_client_auth(user_arg, sizeof(user_arg));
	snprintf(form_user, sizeof(form_user), "username=%s", login);
	snprintf(form_pw, sizeof(form_pw), "password=%s", pw);
	snprintf(url, sizeof(url), "%s/token", ph_idp.issuer);
	const char *argv[] = {"/usr/bin/curl",
	                      "-sS",
	                      "--cacert",
	                      ph_idp.ca,
	                      "-u",
	                      user_arg,
	                      "-d",
	                      "grant_type=password",
	                      "-d",
	                      form_user,
	                      "-d",
	                      form_pw,
	                      "-d",
	                      "scope=openid profile email offline_access",
	                      url,
	                      NULL};
	CHECK_INT(ts_idp_run(argv, out, sizeof(out)), 0);
	/* {"access_token":"...","refresh_token":"...",...}: pick both out */
	for (int k = 0; k < 3; k++) {
		static const char *const keys[] = {"\"access_token\":\"", "\"refresh_token\":\"",
		                                   "\"id_token\":\""};
		const char *p = strstr(out, keys[k]);
		size_t n;

		if (!p)
			continue;
		p += strlen(keys[k]);
		n = strcspn(p, "\"");
		char *t = strndup(p, n);
		CHECK(t);
		ts_leak_remember(t);
		if (k == 0)
			at = t;
		else
			free(t);
	}
	CHECK_MSG(at && at[0], "the IdP issued an access token for %s", login);
	return at;
}

/* ---- the cases -------------------------------------------------------- */

/* Setup: alice signs in with a device login through PAM (device only: no
 * prompt), then her account phase succeeds. */
static void test_device_login(void)
{
	char path[900];

	CHECK_INT(account("tsl-main", "alice"), PAM_AUTH_ERR); /* no record: ignored -> pam_deny */
	device_login("alice", "alice", "alice-pw");
	ph_record_path(path, sizeof(path), "alice");
	CHECK_MSG(access(path, F_OK) == 0, "record %s stored", path);
	CHECK_INT(account("tsl-main", "alice"), PAM_SUCCESS);
}

/* 2: the access token is revoked at the server while its local expiry is an
 * hour away: the next account phase succeeds after exactly one refresh, and
 * the record was replaced atomically (new inode, new bytes, new generation). */
static void test_revoked_access_token(void)
{
	char path[900], gpath[900];
	struct stat a, b;
	char *rec_before, *rec_after, *gen_before, *gen_after;
	size_t lrb = 0, lra = 0, lgb = 0, lga = 0;

	ph_record_path(path, sizeof(path), "alice");
	gen_path(gpath, sizeof(gpath), "alice");
	CHECK(stat(path, &a) == 0);
	rec_before = ts_test_read_file(path, &lrb);
	gen_before = ts_test_read_file(gpath, &lgb);
	CHECK_INT(ts_idp_ctl(&ph_idp, "reset-counters", NULL), 0);
	CHECK_INT(ts_idp_ctl(&ph_idp, "revoke-access-tokens", "alice"), 0);

	CHECK_INT(account("tsl-main", "alice"), PAM_SUCCESS);
	CHECK_INT(refreshes(), 1);
	CHECK(stat(path, &b) == 0);
	rec_after = ts_test_read_file(path, &lra);
	gen_after = ts_test_read_file(gpath, &lga);
	CHECK_MSG(a.st_ino != b.st_ino,
	          "the record was replaced by rename, not rewritten in place");
	CHECK_MSG(lra != lrb || memcmp(rec_before, rec_after, lra) != 0, "the record changed");
	CHECK_MSG(lga != lgb || memcmp(gen_before, gen_after, lga) != 0,
	          "the generation counter moved");
	free(rec_before);
	free(rec_after);
	free(gen_before);
	free(gen_after);
	/* no temp file left next to it */
	{
		char dir[900], *names = NULL;
		char out[4096];
		const char *argv[] = {"/bin/ls", "-a", dir, NULL};

		snprintf(dir, sizeof(dir), "%s/users", ph_ksdir);
		CHECK_INT(ts_idp_run(argv, out, sizeof(out)), 0);
		names = out;
		for (char *line = names; *line;) {
			size_t n = strcspn(line, "\n");

			CHECK_MSG(n == 0 || (n >= 5 && memcmp(line + n - 5, ".seal", 5) == 0) ||
			              (n == 1 && line[0] == '.') ||
			              (n == 2 && line[0] == '.' && line[1] == '.'),
			          "only records in %s: %.*s", dir, (int)n, line);
			line += n;
			if (*line)
				line++;
		}
	}
	/* the new token stands: another use refreshes nothing */
	CHECK_INT(account("tsl-main", "alice"), PAM_SUCCESS);
	CHECK_INT(refreshes(), 1);
}

/* 6: 50 concurrent account phases (50 processes, 50 handles, 50 brokers)
 * right after the access token was revoked: all succeed, one refresh. */
static void test_fifty_concurrent(void)
{
	pid_t pids[N_CONCURRENT];
	const struct ph_step acct[] = {{PH_ACCOUNT, 0}};
	unsigned ok = 0;

	CHECK_INT(ts_idp_ctl(&ph_idp, "reset-counters", NULL), 0);
	CHECK_INT(ts_idp_ctl(&ph_idp, "revoke-access-tokens", "alice"), 0);
	ph_barrier_reset(N_CONCURRENT);
	for (size_t i = 0; i < N_CONCURRENT; i++)
		pids[i] = ph_spawn("tsl-main", "alice", acct, 1, NULL, ph_slot(i));
	for (size_t i = 0; i < N_CONCURRENT; i++) {
		ph_finish(pids[i], ph_slot(i), "tsl-main", "alice", true);
		if (ph_slot(i)->rv[0] == PAM_SUCCESS)
			ok++;
	}
	CHECK_INT(ok, N_CONCURRENT);
	CHECK_INT(refreshes(), 1);
}

/* 3: the grant (refresh token too) revoked: account refused with the
 * sign-in-required message naming invalid_grant; the record is kept; a new
 * device login heals it. */
static void test_revoked_grant(void)
{
	char path[900];
	struct ph_slot s;

	CHECK_INT(ts_idp_ctl(&ph_idp, "revoke-grant", "alice"), 0);
	CHECK_INT(pam_op("tsl-main", "alice", PH_ACCOUNT, NULL, &s), PAM_PERM_DENIED);
	CHECK_MSG(strstr(s.conv, "error:") && strstr(s.conv, "sign-in required") &&
	              strstr(s.conv, "invalid_grant"),
	          "PAM_ERROR_MSG with the sign-in message: %s", s.conv);
	ph_record_path(path, sizeof(path), "alice");
	CHECK_MSG(access(path, F_OK) == 0, "the record is kept (needs-login), not deleted");
	/* still refused on the next use, without asking the server again */
	CHECK_INT(ts_idp_ctl(&ph_idp, "reset-counters", NULL), 0);
	CHECK_INT(pam_op("tsl-main", "alice", PH_ACCOUNT, NULL, &s), PAM_PERM_DENIED);
	CHECK_MSG(strstr(s.conv, "sign-in required"), "needs-login is remembered: %s", s.conv);
	CHECK_INT(refreshes(), 0);
	/* heal */
	device_login("alice", "alice", "alice-pw");
	CHECK_INT(account("tsl-main", "alice"), PAM_SUCCESS);
}

/* 9: a denied device login -> PAM_MAXTRIES; nobody approves before the
 * deadline (device_timeout = 10 in [service tsl-deadline]) -> PAM_AUTH_ERR
 * within it. Device only: no prompt either time. */
static void test_device_edges(void)
{
	struct ph_conv_spec deny = {.approve_login = "carol", .approve_pw = "carol-pw", .deny = 1};
	struct ph_conv_spec nobody = {0};
	struct ph_slot s;
	char path[900];
	time_t t0;
	long polls;

	CHECK_INT(pam_op("tsl-main", "carol", PH_AUTH, &deny, &s), PAM_MAXTRIES);
	CHECK_MSG(s.code[0], "a device code was shown");
	CHECK_INT(s.prompts, 0);
	CHECK_MSG(strstr(s.conv, "denied"), "the user is told it was denied: %s", s.conv);

	t0 = time(NULL);
	CHECK_INT(pam_op("tsl-deadline", "carol", PH_AUTH, &nobody, &s), PAM_AUTH_ERR);
	CHECK_MSG(time(NULL) - t0 <= 10 + 8, "the deadline of 10 s is honoured (%lld s)",
	          (long long)(time(NULL) - t0));
	CHECK_MSG(s.code[0], "a device code was shown");
	CHECK_INT(s.prompts, 0);
	CHECK_MSG(strstr(s.conv, "not completed within the 10 s allowed"),
	          "the user is told the deadline passed: %s", s.conv);
	ph_record_path(path, sizeof(path), "carol");
	CHECK_MSG(access(path, F_OK) != 0, "nothing stored for carol");

	/* the code's own lifetime (8 s at the server; polls every 5 s): the
	 * broker stops when the next poll would come after it, within it. (On
	 * a machine slow enough to delay the first poll by 2 s the server
	 * answers expired_token instead; both end the same way.) */
	CHECK_INT(ts_idp_ctl(&ph_idp, "set-device-ttl", "8"), 0);
	polls = ts_idp_count(&ph_idp, "token:" DEVICE_GRANT);
	t0 = time(NULL);
	CHECK_INT(pam_op("tsl-main", "carol", PH_AUTH, &nobody, &s), PAM_AUTH_ERR);
	CHECK_INT(ts_idp_ctl(&ph_idp, "set-device-ttl", "600"), 0);
	CHECK_MSG(time(NULL) - t0 <= 8 + 8, "stopped at the code's lifetime (%lld s)",
	          (long long)(time(NULL) - t0));
	CHECK_MSG(strstr(s.conv, "code expired") &&
	              (strstr(s.conv, "valid for 8 s") || strstr(s.conv, "(expired_token)")),
	          "the user is told the code expired: %s", s.conv);
	CHECK_MSG(ts_idp_count(&ph_idp, "token:" DEVICE_GRANT) == polls + 1,
	          "one poll inside the lifetime, none after it");
	CHECK_MSG(access(path, F_OK) != 0, "nothing stored for carol");
}

/* 9 through the hand-written fault injector (tests/fixtures/faults), for the
 * answers the real server does not give on demand: oidc-provider 8.8.1 never
 * sends slow_down, and answers expired_token only to a poll that comes
 * after the code's lifetime, which the broker avoids (only a late poll on a
 * loaded machine meets it). tsl-slowdown and tsl-expired use configs whose
 * issuer is the fault case. Every token the injector issues for these
 * cases starts with a known prefix, so the leak scans look for those too. */
static void test_device_faults(void)
{
	struct ph_conv_spec nobody = {0};
	struct ph_slot s;
	time_t t0;
	long el;

	ts_leak_remember("fault-at-device-");
	ts_leak_remember("fault-rt-device-");
	ts_leak_remember("fault-dc-device-");

	/* the case answers slow_down, slow_down, authorization_pending, then a
	 * token (for "alice"), with interval 1: polls after 1, 6, 11 and 11 s
	 * when each slow_down adds 5 s for that poll and every later one
	 * (RFC 8628 §3.5); 1+6+6+6 = 19 s if the rule were not cumulative.
	 * The polling is oauth/'s, the same code in both modes: its 29 s run
	 * once, in exec mode (the daemon twin runs the expired_token case,
	 * which crosses the same conversation) */
	if (!ts_daemon_mode()) {
		t0 = time(NULL);
		CHECK_INT(pam_op("tsl-slowdown", "alice", PH_AUTH, &nobody, &s), PAM_SUCCESS);
		el = (long)(time(NULL) - t0);
		CHECK_MSG(s.code[0], "a device code was shown");
		CHECK_INT(ts_faults_polls(&faults, "device-slow-down"), 4);
		CHECK_MSG(el >= 27, "slow_down slowed every later poll too (%ld s, 29 s expected)",
		          el);
		CHECK_MSG(el <= 29 + 15, "no extra waiting (%ld s)", el);
	}

	/* expired_token from the server: stop at once, PAM_AUTH_ERR, say so */
	t0 = time(NULL);
	CHECK_INT(pam_op("tsl-expired", "carol", PH_AUTH, &nobody, &s), PAM_AUTH_ERR);
	CHECK_INT(ts_faults_polls(&faults, "device-expired"), 1);
	CHECK_MSG(time(NULL) - t0 <= 1 + 8, "stopped at the first answer");
	CHECK_MSG(strstr(s.conv, "code expired") && strstr(s.conv, "expired_token"),
	          "the user is told the server expired the code: %s", s.conv);
}

/* 10: password grant ([service tsl-password] login_methods = password);
 * pasted token ([service tsl-token] login_methods = token) accepted, and a
 * revoked one refused. */
static void test_password_and_token(void)
{
	struct ph_conv_spec pw = {.answer = "carol-pw"};
	struct ph_conv_spec bad = {.answer = "not-carols-password"};
	struct ph_conv_spec paste = {0};
	struct ph_slot s;
	char path[900], *tok;

	CHECK_INT(pam_op("tsl-password", "carol", PH_AUTH, &bad, &s), PAM_AUTH_ERR);
	CHECK_INT(s.prompts, 1);
	CHECK_INT(pam_op("tsl-password", "carol", PH_AUTH, &pw, &s), PAM_SUCCESS);
	CHECK_INT(s.prompts, 1);
	CHECK_MSG(strstr(s.conv, "prompt:Password"), "asked for the password: %s", s.conv);
	ph_record_path(path, sizeof(path), "carol");
	CHECK_MSG(access(path, F_OK) == 0, "carol's record stored");
	CHECK_INT(account("tsl-password", "carol"), PAM_SUCCESS);

	tok = password_grant_token("carol", "carol-pw");
	paste.answer = tok;
	CHECK_INT(pam_op("tsl-token", "carol", PH_AUTH, &paste, &s), PAM_SUCCESS);
	CHECK_INT(s.prompts, 1);
	CHECK_INT(account("tsl-token", "carol"), PAM_SUCCESS);
	/* the same token revoked at the server: refused when pasted */
	CHECK_INT(ts_idp_ctl(&ph_idp, "revoke-access-tokens", "carol"), 0);
	CHECK_INT(pam_op("tsl-token", "carol", PH_AUTH, &paste, &s), PAM_AUTH_ERR);
	CHECK_MSG(strstr(s.conv, "error:"), "the user is told why: %s", s.conv);
	free(tok);
}

/* 10b: PAM user bob with alice's password, or with alice's pasted token:
 * refused, the message names both, nothing stored for bob. */
static void test_identity_binding(void)
{
	struct ph_conv_spec pw = {.answer = "alice-pw"};
	struct ph_conv_spec paste = {0};
	struct ph_slot s;
	char path[900], *tok;
	int rv;

	ph_record_path(path, sizeof(path), "bob");
	rv = pam_op("tsl-password", "bob", PH_AUTH, &pw, &s);
	/* the broker sends the PAM user's name with the password, so the
	 * server itself refuses alice's password for bob */
	CHECK_MSG(rv == PAM_AUTH_ERR || rv == PAM_PERM_DENIED, "bob as alice refused: %s",
	          pam_strerror(NULL, rv));
	CHECK_INT(s.prompts, 1);
	CHECK_MSG(strstr(s.conv, "error:"), "the user is told: %s", s.conv);
	CHECK_MSG(access(path, F_OK) != 0, "nothing stored for bob");

	tok = password_grant_token("alice", "alice-pw");
	paste.answer = tok;
	rv = pam_op("tsl-token", "bob", PH_AUTH, &paste, &s);
	CHECK_MSG(rv == PAM_AUTH_ERR || rv == PAM_PERM_DENIED, "bob with alice's token refused: %s",
	          pam_strerror(NULL, rv));
	CHECK_MSG(strstr(s.conv, "alice") && strstr(s.conv, "bob"), "the message names both: %s",
	          s.conv);
	CHECK_MSG(access(path, F_OK) != 0, "nothing stored for bob");
	CHECK_INT(account("tsl-main", "bob"), PAM_AUTH_ERR); /* no record: ignored -> pam_deny */
	free(tok);
}

/* 8: carol's account disabled at the server while her local expiry is an
 * hour away: the account phase refuses. */
static void test_disabled(void)
{
	struct ph_conv_spec pw = {.answer = "carol-pw"};
	struct ph_slot s;

	/* a fresh password login (her pasted token was revoked in 10) */
	CHECK_INT(pam_op("tsl-password", "carol", PH_AUTH, &pw, &s), PAM_SUCCESS);
	CHECK_INT(account("tsl-password", "carol"), PAM_SUCCESS);
	CHECK_INT(ts_idp_ctl(&ph_idp, "disable", "carol"), 0);
	CHECK_INT(pam_op("tsl-password", "carol", PH_ACCOUNT, NULL, &s), PAM_PERM_DENIED);
	CHECK_MSG(strstr(s.conv, "error:"), "the user is told: %s", s.conv);
	CHECK_INT(ts_idp_ctl(&ph_idp, "enable", "carol"), 0);
}

/* 7: the server down (stopped: port closed) -> PAM_AUTHINFO_UNAVAIL within
 * http_timeout (5 s) + margin, alice's record byte for byte unchanged; with
 * offline_grace = 3600 (tsl-grace) after a recent positive check -> success
 * with the offline message; offline_grace = 0 (tsl-main) -> refused. Last:
 * it stops the IdP. */
static void test_server_down(void)
{
	char path[900];
	struct ph_slot s;
	char *before, *after;
	size_t lb = 0, la = 0;
	time_t t0;

	CHECK_INT(account("tsl-main", "alice"), PAM_SUCCESS); /* a recent positive check */
	ph_record_path(path, sizeof(path), "alice");
	before = ts_test_read_file(path, &lb);
	ts_idp_stop(&ph_idp);

	t0 = time(NULL);
	CHECK_INT(pam_op("tsl-main", "alice", PH_ACCOUNT, NULL, &s), PAM_AUTHINFO_UNAVAIL);
	CHECK_MSG(time(NULL) - t0 <= 5 + 10, "unavailable within http_timeout (%lld s)",
	          (long long)(time(NULL) - t0));
	CHECK_MSG(strstr(s.conv, "unreachable"), "the user is told: %s", s.conv);
	after = ts_test_read_file(path, &la);
	CHECK_MSG(la == lb && memcmp(before, after, la) == 0, "record byte for byte unchanged");
	free(after);

	CHECK_INT(pam_op("tsl-grace", "alice", PH_ACCOUNT, NULL, &s), PAM_SUCCESS);
	CHECK_MSG(ph_log_has(&s, "ok (state unavailable)"),
	          "the success came from offline_grace (the module's debug line names the state)");
	after = ts_test_read_file(path, &la);
	CHECK_MSG(la == lb && memcmp(before, after, la) == 0, "record unchanged under grace");
	free(after);
	CHECK_MSG(strstr(s.conv, "unreachable; using the check from") &&
	              strstr(s.conv, "offline_grace"),
	          "the offline-grace message reaches the user: \"%s\"", s.conv);
	free(before);
}

/* A config for one fault case: its own issuer, CA and keystore (a record
 * is bound to its issuer, so it must not share the main keystore). */
static void write_faults_config(const char *path, const char *fault_case)
{
	char issuer[400], sock[700];
	FILE *f;

	CHECK_INT(ts_faults_issuer(&faults, fault_case, issuer, sizeof(issuer)), 0);
	ph_socket(path, sock, sizeof(sock));
	f = fopen(path, "w");
	CHECK_MSG(f, "write %s", path);
	if (!f)
		return;
	fprintf(f,
	        "# written by test_pam_lifecycle: the hand-written fault injector, case %s\n"
	        "issuer = %s\nclient_id = tokenseal-conf\nclient_secret_file = %s\n"
	        "ca_file = %s\nkeystore_dir = %s/keystore-%s\nkey_file = %s/keystore-%s.key\n"
	        "broker_path = %s\nlogin_methods = device\nhttp_timeout = 5\n"
	        "offline_grace = 0\nnss_cache = none\nsocket_path = %s\n",
	        fault_case, issuer, ph_idp.secret_file, faults.ca, faults.dir, fault_case,
	        faults.dir, fault_case, ph_wrapper, sock);
	CHECK_INT(fclose(f), 0);
	CHECK_INT(chmod(path, 0644), 0);
	ph_serve(path);
}

int main(int argc, char **argv)
{
	char extra[3200], sock[700];

	conf_main = getenv("TS_PAM_LIFE_CONF");
	conf_grace = getenv("TS_PAM_LIFE_GRACE_CONF");
	conf_slowdown = getenv("TS_PAM_LIFE_SLOWDOWN_CONF");
	conf_expired = getenv("TS_PAM_LIFE_EXPIRED_CONF");
	if (argc < 2)
		TS_SKIP("usage: test_pam_lifecycle PATH-TO-tokenseal-broker");
	if (!getenv("PAM_WRAPPER") || !conf_main || !conf_grace || !conf_slowdown ||
	    !conf_expired)
		TS_SKIP("needs pam_wrapper and TS_PAM_LIFE_*_CONF: run through CTest");
	ph_require("to obtain a token to paste");
	ph_setup(argv[1], N_CONCURRENT + 1);

	ph_socket(conf_main, sock, sizeof(sock));
	snprintf(extra, sizeof(extra),
	         "broker_path = %s\nsocket_path = %s\nlogin_methods = device\nhttp_timeout = 5\n"
	         "offline_grace = 0\n"
	         "\n[service tsl-deadline]\ndevice_timeout = 10\n"
	         "\n[service tsl-password]\nlogin_methods = password\n"
	         "\n[service tsl-token]\nlogin_methods = token\n",
	         ph_wrapper, sock);
	CHECK_MSG(ts_idp_write_config(&ph_idp, conf_main, "conf", extra) == 0, "write %s",
	          conf_main);
	ph_serve(conf_main);
	ph_socket(conf_grace, sock, sizeof(sock));
	snprintf(extra, sizeof(extra),
	         "broker_path = %s\nsocket_path = %s\nlogin_methods = device\nhttp_timeout = 5\n"
	         "offline_grace = 3600\n",
	         ph_wrapper, sock);
	CHECK_MSG(ts_idp_write_config(&ph_idp, conf_grace, "conf", extra) == 0, "write %s",
	          conf_grace);
	ph_serve(conf_grace);
	CHECK_INT(ts_faults_start(&faults), 0);
	write_faults_config(conf_slowdown, "device-slow-down");
	write_faults_config(conf_expired, "device-expired");

	RUN(test_device_login);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_revoked_access_token);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_fifty_concurrent);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_revoked_grant);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_device_edges);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_device_faults);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_password_and_token);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_identity_binding);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_disabled);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_server_down);
	ts_leak_scan_file("the broker's log", ph_logfile);
	/* the known-token part of the scan was not vacuous: the pasted tokens
	 * (carol's and alice's, with their refresh and id tokens) */
	CHECK_MSG(ts_leak_count() >= 4, "only %zu known tokens were scanned for", ts_leak_count());
	fprintf(stderr, "scanned every log and conversation for %zu known tokens\n",
	        ts_leak_count());
	return ts_test_done();
}
