/* SPDX-License-Identifier: MIT */
/*
 * The session phase and stored-token auth of issue 4 through libpam: the
 * real pam_tokenseal.so (under pam_wrapper) runs the real tokenseal-broker
 * (exec mode, --debug) against the real test IdP (tests/fixtures/idp). Each
 * case fails without its behaviour:
 *
 *  a  auth_with_stored_token = yes: a user with a valid record authenticates
 *     with no conversation at all and no device authorization at the server;
 *     = no: the same user gets a device login (code shown)
 *  b  open_session inside the refresh window refreshes exactly once (the
 *     stored access token changes); outside it, no refresh
 *  c  after open_session neither the PAM environment nor the process
 *     environment holds the access token, a TOKENSEAL_* variable or
 *     anything token-like
 *  d  close_session, revoke_on = logout: signed-out record, two revocations at
 *     the server, the grant's access token inactive, REVALIDATE says
 *     TS_E_SIGNED_OUT and account refuses the user
 *  e  revoke_on = last-session: two sessions, one close keeps the record
 *     and revokes nothing; the second close signs out and revokes
 *  f  revoke_on = never: close keeps the record, revokes nothing, the next
 *     account phase succeeds
 *  g  the stored token is used only by a caller that already is the user
 *     (real uid == the user's uid, no PAM_RHOST): a root caller, another
 *     uid (setresuid(bob, 0, 0), su's shape) and a remote caller are
 *     prompted; setresuid(alice, 0, 0) (sudo's shape) is not
 *
 * Every PAM transaction runs in a forked child (stderr = pam_wrapper's log,
 * captured to a file; conversation and environment returned through shared
 * memory) and every log and conversation is scanned for token text
 * (pam_harness.c).
 *
 * argv[1] = tokenseal-broker. Environment (CTest, tests/pam/session.cmake):
 * pam_wrapper with the services tss-* whose config TS_PAM_SESSION_CONF is
 * written here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "pam_harness.h"
#include "pam_result.h"
#include "ts_daemon.h"
#include "ts_client.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_test.h"

static const char *conf;
static struct ph_slot *slot; /* the one slot, shared with the child */

/* ---- PAM transactions in a child (pam_harness) -------------------------- */

static void pam_steps(const char *service, const char *user, const struct ph_step *steps, size_t n,
                      const struct ph_conv_spec *spec)
{
	(void)ph_steps(service, user, steps, n, spec, slot);
}

static int pam_one(const char *service, const char *user, enum ph_op op,
                   const struct ph_conv_spec *spec)
{
	const struct ph_step s[] = {{op, 0}};

	return ph_steps(service, user, s, 1, spec, slot);
}

/* ---- helpers ------------------------------------------------------------ */

static long count(const char *key)
{
	long n = ts_idp_count(&ph_idp, key);

	CHECK_MSG(n >= 0, "the IdP's counter %s", key);
	return n;
}

static void reset_counters(void)
{
	CHECK_INT(ts_idp_ctl(&ph_idp, "reset-counters", NULL), 0);
}

/* One broker request from the test itself (root acts for the user). */
static int broker_call(enum ts_msg_type type, const char *user, const char *service,
                       struct ts_client_result *res)
{
	char sock[700];
	struct ts_client_opts opts = {.broker_path = ph_wrapper, .config_path = conf};
	const struct ts_client_request req = {
	    .type = type, .user = user, .service = service, .flags = TS_FLAG_NONINTERACTIVE};

	ph_socket(conf, sock, sizeof(sock));
	opts.socket_path = sock; /* the daemon in daemon mode, else exec mode */
	memset(res, 0, sizeof(*res));
	CHECK_INT(ts_client_call(&opts, &req, NULL, res), 0);
	CHECK_MSG(res->via_daemon == ts_daemon_mode(), "served by %s",
	          res->via_daemon ? "the daemon" : "exec mode");
	return res->code;
}

/* The user's current access token through the broker's GET_TOKEN. */
static char *get_token(const char *user, const char *service)
{
	struct ts_client_result res;
	char *t;

	CHECK_MSG(broker_call(TS_MSG_GET_TOKEN, user, service, &res) == 0, "GET_TOKEN for %s: %s",
	          user, res.message);
	CHECK_MSG(res.token && strlen(res.token) >= 20, "GET_TOKEN returned a token");
	t = strdup(res.token);
	CHECK(t);
	ts_leak_remember(t);
	ts_client_result_clear(&res);
	return t;
}

/* Introspection of a token at the IdP (confidential client, curl): true
 * when the server says {"active":true}. */
static bool introspect_active(const char *token)
{
	char user_arg[400], form[4096], url[400], out[8192];

	ph_client_auth(user_arg, sizeof(user_arg));
	snprintf(form, sizeof(form), "token=%s", token);
	snprintf(url, sizeof(url), "%s/token/introspection", ph_idp.issuer);
	const char *argv[] = {"/usr/bin/curl", "-sS", "--cacert", ph_idp.ca, "-u",
	                      user_arg,        "-d",  form,       url,       NULL};
	CHECK_INT(ts_idp_run(argv, out, sizeof(out)), 0);
	CHECK_MSG(strstr(out, "\"active\":"), "introspection answered: %.200s", out);
	return strstr(out, "\"active\":true") != NULL;
}

/* A fresh password login (tss-pw: login_methods = password). */
static void password_login(const char *user, const char *pw)
{
	struct ph_conv_spec spec = {.answer = pw};

	CHECK_INT(pam_one("tss-pw", user, PH_AUTH, &spec), PAM_SUCCESS);
	CHECK_INT(slot->prompts, 1);
	CHECK_MSG(ph_has_record(user), "%s's record stored", user);
}

/* ---- the cases -------------------------------------------------------- */

/* a: stored-token auth. */
static void test_auth_stored_token(void)
{
	struct ph_conv_spec approve = {.approve_login = "alice", .approve_pw = "alice-pw"};

	/* a device login first (tss-nostored: auth_with_stored_token = no) */
	reset_counters();
	CHECK_INT(pam_one("tss-nostored", "alice", PH_AUTH, &approve), PAM_SUCCESS);
	CHECK_MSG(slot->code[0], "the device code reached the PAM conversation");
	CHECK_INT(slot->prompts, 0);
	CHECK_INT(count("device_authorization"), 1);
	CHECK_MSG(ph_has_record("alice"), "alice's record stored");

	/* yes, asked by alice herself (sudo's shape: real uid alice, no
	 * PAM_RHOST): no conversation at all, no device authorization, but
	 * the server was asked about the stored token */
	const struct ph_conv_spec self = {.ruid_user = "alice", .no_rhost = true};
	reset_counters();
	CHECK_INT(pam_one("tss-stored", "alice", PH_AUTH, &self), PAM_SUCCESS);
	CHECK_INT(slot->messages, 0);
	CHECK_INT(slot->prompts, 0);
	CHECK_MSG(slot->conv[0] == '\0', "no conversation: %s", slot->conv);
	CHECK_INT(count("device_authorization"), 0);
	CHECK_MSG(count("introspection") + count("userinfo") >= 1,
	          "the stored token was confirmed by the server");

	/* no: the same user, same valid record, gets a device login */
	reset_counters();
	CHECK_INT(pam_one("tss-nostored", "alice", PH_AUTH, &approve), PAM_SUCCESS);
	CHECK_MSG(slot->code[0] && strstr(slot->conv, "enter the code"),
	          "a device login with a code was shown: %s", slot->conv);
	CHECK_INT(count("device_authorization"), 1);
}

/* One stored-token auth attempt for alice (valid record) in the given
 * caller shape: true when the device login ran (code shown, one device
 * authorization at the server), false when the stored token sufficed. */
static bool prompted(const char *ruid_user, bool no_rhost)
{
	struct ph_conv_spec spec = {.approve_login = "alice",
	                            .approve_pw = "alice-pw",
	                            .ruid_user = ruid_user,
	                            .no_rhost = no_rhost};
	long devices;

	reset_counters();
	CHECK_INT(pam_one("tss-stored", "alice", PH_AUTH, &spec), PAM_SUCCESS);
	devices = count("device_authorization");
	if (devices == 0) {
		CHECK_MSG(slot->conv[0] == '\0', "no conversation: %s", slot->conv);
		CHECK_INT(slot->messages, 0);
		return false;
	}
	CHECK_INT(devices, 1);
	CHECK_MSG(slot->code[0] && strstr(slot->conv, "enter the code"),
	          "the device code was shown: %s", slot->conv);
	return true;
}

/* g: auth_with_stored_token is honoured only when the host process proves
 * the person asking already is the user: real uid == alice's uid and no
 * PAM_RHOST (the module's TS_FLAG_SAME_USER, honoured by the broker). */
static void test_stored_token_caller_shapes(void)
{
	CHECK_MSG(ph_has_record("alice"), "alice holds a valid record from case a");
	/* sshd, a console login, su run by root: real uid 0 */
	CHECK_MSG(prompted(NULL, true), "a root caller (real uid 0) is prompted");
	/* sudo run by alice: real uid alice, euid 0 */
	CHECK_MSG(!prompted("alice", true), "alice's own caller uses the stored token");
	/* su alice run by bob: real uid bob */
	CHECK_MSG(prompted("bob", true), "a caller with bob's real uid is prompted");
	/* alice's uid, but from another host */
	CHECK_MSG(prompted("alice", false), "a caller with PAM_RHOST set is prompted");
}

/* b: open_session refreshes inside the refresh window, not outside. */
static void test_open_session_refresh(void)
{
	char *t1, *t2, *t3;

	/* outside: ttl 3600, refresh_window 60 (tss-fresh-out) */
	password_login("alice", "alice-pw");
	t1 = get_token("alice", "tss-fresh-out");
	reset_counters();
	CHECK_INT(pam_one("tss-fresh-out", "alice", PH_OPEN, NULL), PAM_SUCCESS);
	CHECK_INT(count("token:refresh_token"), 0);
	t2 = get_token("alice", "tss-fresh-out");
	CHECK_MSG(strcmp(t1, t2) == 0, "the stored access token is unchanged outside the window");
	free(t2);
	free(t1);

	/* inside: ttl 16 s, refresh_window 0 (25 %, clamped to 60 s, which
	 * the broker caps at half the lifetime: 8 s); 10 s after the login
	 * about 6 s are left */
	CHECK_INT(ts_idp_ctl(&ph_idp, "set-ttl", "16"), 0);
	password_login("alice", "alice-pw");
	t1 = get_token("alice", "tss-fresh");
	sleep(10);
	reset_counters();
	CHECK_INT(pam_one("tss-fresh", "alice", PH_OPEN, NULL), PAM_SUCCESS);
	CHECK_INT(count("token:refresh_token"), 1);
	CHECK_INT(ts_idp_ctl(&ph_idp, "set-ttl", "3600"), 0);
	t3 = get_token("alice", "tss-fresh");
	CHECK_MSG(strcmp(t1, t3) != 0, "open_session stored a new access token");
	CHECK_INT(count("token:refresh_token"), 1); /* GET_TOKEN found it fresh */
	CHECK_MSG(introspect_active(t3), "the stored token is the server's current one");
	free(t1);
	free(t3);
}

static bool env_has_token_var(const char *env)
{
	for (const char *line = env; *line;) {
		size_t n = strcspn(line, "\n");
		const char *name = strchr(line, ':');

		if (name && (size_t)(name - line) < n && strncmp(name + 1, "TOKENSEAL_", 10) == 0)
			return true;
		line += n;
		if (*line)
			line++;
	}
	return false;
}

/* c: no token in the environment after open_session. */
static void test_no_token_in_env(void)
{
	char *t, *t2;

	password_login("alice", "alice-pw"); /* a 3600 s token again */
	t = get_token("alice", "tss-fresh-out");
	CHECK_INT(pam_one("tss-fresh-out", "alice", PH_OPEN, NULL), PAM_SUCCESS);
	CHECK_MSG(strstr(slot->env, "proc:PAM_WRAPPER="),
	          "the environment was captured after open_session");
	CHECK_MSG(!ts_contains(slot->env, strlen(slot->env), t),
	          "the access token is in the environment after open_session");
	CHECK_MSG(!env_has_token_var(slot->env), "a TOKENSEAL_* variable after open_session: %s",
	          slot->env);
	ts_leak_scan("the environment after open_session", slot->env, strlen(slot->env));
	/* the token checked for is the one the session uses */
	t2 = get_token("alice", "tss-fresh-out");
	CHECK_MSG(strcmp(t, t2) == 0, "the session's token is the one looked for");
	free(t);
	free(t2);
}

/* d: revoke_on = logout. */
static void test_close_logout(void)
{
	const struct ph_step oc[] = {{PH_OPEN, 0}, {PH_CLOSE, 0}};
	struct ts_client_result res;
	char *t;

	t = get_token("alice", "tss-logout");
	CHECK_MSG(introspect_active(t), "alice's access token is active before the logout");
	reset_counters();
	pam_steps("tss-logout", "alice", oc, 2, NULL);
	CHECK_INT(slot->rv[0], PAM_SUCCESS);
	CHECK_INT(slot->rv[1], PAM_SUCCESS);
	CHECK_MSG(ph_has_record("alice"), "a signed-out record is kept at close_session");
	CHECK_INT(count("revocation"), 2); /* the refresh and the access token */
	/* revoking the refresh token ends the grant (oidc-provider): its
	 * access token is dead too */
	CHECK_MSG(!introspect_active(t), "the grant was revoked at the server");
	CHECK_INT(broker_call(TS_MSG_REVALIDATE, "alice", "tss-logout", &res), TS_E_SIGNED_OUT);
	ts_client_result_clear(&res);
	/* account: refused (signing out does not turn the account phase off) */
	CHECK_INT(pam_one("tss-logout", "alice", PH_ACCOUNT, NULL),
	          pts_result_to_pam(PTS_ACCOUNT, TS_E_SIGNED_OUT, false));
	free(t);
}

/* e: revoke_on = last-session: two sessions (two handles in one process,
 * as two logins), the first close keeps everything, the last revokes. */
static void test_close_last_session(void)
{
	const struct ph_step steps[] = {
	    {PH_OPEN, 0}, {PH_OPEN, 1}, {PH_CLOSE, 0}, {PH_PAUSE, 0}, {PH_CLOSE, 1}};
	pid_t pid;
	char *t;

	password_login("bob", "bob-pw");
	t = get_token("bob", "tss-last");
	reset_counters();
	pid = ph_spawn("tss-last", "bob", steps, TS_ARRAY_SIZE(steps), NULL, slot);
	CHECK(ph_wait_pause(pid, slot));
	CHECK_INT(slot->rv[0], PAM_SUCCESS);
	CHECK_INT(slot->rv[1], PAM_SUCCESS);
	CHECK_INT(slot->rv[2], PAM_SUCCESS);
	CHECK_MSG(ph_has_record("bob"), "one session still open: the record is kept");
	CHECK_INT(count("revocation"), 0);
	CHECK_MSG(introspect_active(t), "nothing was revoked at the first close");
	ph_resume(slot);
	ph_finish(pid, slot, "tss-last", "bob", false);
	CHECK_INT(slot->rv[4], PAM_SUCCESS);
	CHECK_MSG(ph_has_record("bob"), "the last close kept a signed-out record");
	CHECK_INT(count("revocation"), 2);
	CHECK_MSG(!introspect_active(t), "the last close revoked the grant");
	free(t);
}

/* f: revoke_on = never. */
static void test_close_never(void)
{
	const struct ph_step oc[] = {{PH_OPEN, 0}, {PH_CLOSE, 0}};
	char *t;

	password_login("carol", "carol-pw");
	t = get_token("carol", "tss-never");
	reset_counters();
	pam_steps("tss-never", "carol", oc, 2, NULL);
	CHECK_INT(slot->rv[0], PAM_SUCCESS);
	CHECK_INT(slot->rv[1], PAM_SUCCESS);
	CHECK_MSG(ph_has_record("carol"), "the record is kept");
	CHECK_INT(count("revocation"), 0);
	CHECK_MSG(introspect_active(t), "the grant lives on");
	CHECK_INT(pam_one("tss-never", "carol", PH_ACCOUNT, NULL), PAM_SUCCESS);
	free(t);
}

int main(int argc, char **argv)
{
	char extra[3200], sock[700];

	conf = getenv("TS_PAM_SESSION_CONF");
	if (argc < 2)
		TS_SKIP("usage: test_pam_session PATH-TO-tokenseal-broker");
	if (!getenv("PAM_WRAPPER") || !conf)
		TS_SKIP("needs pam_wrapper and TS_PAM_SESSION_CONF: run through CTest");
	ph_require("to ask the IdP's introspection");
	ph_setup(argv[1], 1);
	slot = ph_slot(0);

	ph_socket(conf, sock, sizeof(sock));
	snprintf(extra, sizeof(extra),
	         "broker_path = %s\nsocket_path = %s\nlogin_methods = device\nhttp_timeout = 5\n"
	         "offline_grace = 0\n"
	         /* the refresh on open_session is under test: the
	          * daemon twin must not refresh in the background */
	         "background_refresh = no\n"
	         "\n[service tss-stored]\nauth_with_stored_token = yes\n"
	         "\n[service tss-nostored]\nauth_with_stored_token = no\n"
	         "\n[service tss-pw]\nlogin_methods = password\n"
	         "\n[service tss-fresh]\nrefresh_window = 0\nrevoke_on = never\n"
	         "\n[service tss-fresh-out]\nrefresh_window = 60\nrevoke_on = never\n"
	         "\n[service tss-logout]\nrevoke_on = logout\n"
	         "\n[service tss-last]\nrevoke_on = last-session\n"
	         "\n[service tss-never]\nrevoke_on = never\n",
	         ph_wrapper, sock);
	CHECK_MSG(ts_idp_write_config(&ph_idp, conf, "conf", extra) == 0, "write %s", conf);
	ph_serve(conf);

	RUN(test_auth_stored_token);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_stored_token_caller_shapes);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_open_session_refresh);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_no_token_in_env);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_close_logout);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_close_last_session);
	ts_leak_scan_file("the broker's log", ph_logfile);
	RUN(test_close_never);
	ts_leak_scan_file("the broker's log", ph_logfile);
	CHECK_MSG(ts_leak_count() >= 6, "only %zu known tokens were scanned for", ts_leak_count());
	fprintf(stderr, "scanned every log, conversation and environment for %zu known tokens\n",
	        ts_leak_count());
	return ts_test_done();
}
