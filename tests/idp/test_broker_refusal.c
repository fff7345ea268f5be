/* SPDX-License-Identifier: MIT */
/*
 * Issue 17, provider profiles, against the real tokenseal-broker (exec mode,
 * through ts_client_call as the PAM module and the CLI use it) and the real
 * test IdP with two imitation switches (tests/fixtures/idp/imitations.mjs):
 *
 *  - refresh-refusal-invalid-request: the server answers every refused
 *    refresh with 400 invalid_request (several OAuth server libraries do
 *    for a refresh token they no longer know). A dead refresh token is then
 *    needs-login, because the same client's introspection is answered; a
 *    public client, which cannot introspect, and a genuinely broken client
 *    (a wrong secret) stay a configuration error
 *    with the record's tokens kept, and the refresh is held back: the
 *    server's request counters prove that uses do not resend it.
 *  - no-revocation-endpoint (Entra ID, Google): logout and revoke_on say that
 *    the server offers no revocation, keep a signed-out record and send no
 *    revocation request.
 *
 * Needs root and the local users alice, bob and carol (scripts/test creates
 * them) and the IdP's node_modules (SKIPPED otherwise).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lifecycle.h"
#include "ts_client.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_mem.h"
#include "ts_test.h"

static struct ts_idp idp;
static char wrapper[700], logfile[700], ks[700];
static char cfg_pw[800], cfg_win[800], cfg_bad[800], cfg_bad_win[800], cfg_pub[800];

/* ---- conversation: answers every prompt with the password ---------------- */

static int c_info(void *ctx, const char *text)
{
	(void)ctx;
	(void)text;
	return 0;
}

static int c_prompt(void *ctx, const char *text, bool echo, char **ret)
{
	(void)text;
	(void)echo;
	*ret = strdup(ctx);
	return *ret ? 0 : -ENOMEM;
}

static int call_pw(const char *config, enum ts_msg_type type, const char *user, uint32_t flags,
                   const char *method, const char *pw, struct ts_client_result *res)
{
	struct ts_client_opts o = {.broker_path = wrapper, .config_path = config};
	struct ts_client_request rq = {
	    .type = type, .user = user, .service = "test", .flags = flags, .method = method};
	struct ts_conv cv = {c_info, c_info, c_prompt, (void *)(uintptr_t)pw};
	int r;

	memset(res, 0, sizeof(*res));
	r = ts_client_call(&o, &rq, pw ? &cv : NULL, res);
	CHECK_MSG(r == 0, "ts_client_call: %s", ts_strerror(r));
	fprintf(stderr, "   [%s] code %d (%s) state %d: %s\n", user, res->code,
	        ts_strerror(res->code), res->state, res->message);
	if (res->token)
		ts_leak_remember(res->token);
	return res->code;
}

static int call(const char *config, enum ts_msg_type type, const char *user, uint32_t flags,
                struct ts_client_result *res)
{
	return call_pw(config, type, user, flags | TS_FLAG_NONINTERACTIVE, NULL, NULL, res);
}

static int simple(const char *config, enum ts_msg_type type, const char *user, uint32_t flags)
{
	struct ts_client_result res;
	int code = call(config, type, user, flags, &res);

	ts_client_result_clear(&res);
	return code;
}

static void password_login(const char *user, const char *pw)
{
	struct ts_client_result res;

	CHECK_INT(call_pw(cfg_pw, TS_MSG_LOGIN, user, 0, "password", pw, &res), 0);
	ts_client_result_clear(&res);
}

static void imitate(const char *name, const char *onoff)
{
	const char *argv[] = {TS_SOURCE_DIR "/tests/fixtures/idp/ctl", "--state-dir", idp.dir,
	                      "imitate", name, onoff, NULL};

	CHECK_MSG(ts_idp_run(argv, NULL, 0) == 0, "ctl imitate %s %s", name, onoff);
}

static long refreshes(void)
{
	return ts_idp_count(&idp, "token:refresh_token");
}

static long revocations(void)
{
	/* the provider's route, and the 404 the imitation answers in its place */
	return ts_idp_count(&idp, "revocation") + ts_idp_count(&idp, "/token/revocation");
}

static enum ts_state status_state(const char *config, const char *user)
{
	struct ts_client_result res;
	enum ts_state st;

	CHECK_INT(call(config, TS_MSG_STATUS, user, 0, &res), 0);
	st = res.state;
	ts_client_result_clear(&res);
	return st;
}

/* ---- the cases ----------------------------------------------------------- */

/* A refresh token the server no longer knows, answered invalid_request:
 * the same client's introspection is answered, so the refresh token is what
 * was refused: needs-login with a message that says so, and later uses ask
 * nothing of the token endpoint. */
static void test_dead_refresh_invalid_request(void)
{
	struct ts_client_result res;
	long rf, in;

	password_login("alice", "alice-pw");
	CHECK_INT(simple(cfg_pw, TS_MSG_REVALIDATE, "alice", 0), 0);
	imitate("refresh-refusal-invalid-request", "on");
	CHECK_INT(ts_idp_ctl(&idp, "revoke-grant", "alice"), 0);
	rf = refreshes();
	in = ts_idp_count(&idp, "introspection");
	CHECK_INT(call(cfg_pw, TS_MSG_REVALIDATE, "alice", 0, &res), TS_E_NEEDS_LOGIN);
	CHECK_STR(res.message, "sign-in required: the server refused the refresh token "
	                       "(invalid_request, while this client's other requests succeed); "
	                       "run `tokenseal login` or log in again");
	CHECK_INT(res.state, TS_STATE_NEEDS_LOGIN);
	ts_client_result_clear(&res);
	CHECK_MSG(refreshes() == rf + 1, "one refresh was sent (%ld)", refreshes() - rf);
	/* the use's own revalidation, then the probe */
	CHECK_INT(ts_idp_count(&idp, "introspection"), in + 2);
	CHECK_INT(status_state(cfg_pw, "alice"), TS_STATE_NEEDS_LOGIN);
	for (int i = 0; i < 5; i++)
		CHECK_INT(simple(cfg_win, TS_MSG_REVALIDATE, "alice", 0), TS_E_NEEDS_LOGIN);
	CHECK_MSG(refreshes() == rf + 1, "no refresh after the record was marked (%ld)",
	          refreshes() - rf);
	imitate("refresh-refusal-invalid-request", "off");
	/* a new sign-in heals it */
	password_login("alice", "alice-pw");
	CHECK_INT(simple(cfg_pw, TS_MSG_REVALIDATE, "alice", 0), 0);
}

/* A genuinely broken client configuration (a wrong client secret) whose
 * refresh the server answers invalid_request: the probe is refused too, so
 * it stays a configuration error, the tokens are kept (a refresh with the
 * right configuration later succeeds with the stored refresh token), and
 * the refresh is held back: no use resends it. */
static void test_broken_client_invalid_request(void)
{
	struct ts_client_result res;
	long rf, in;

	password_login("bob", "bob-pw");
	imitate("refresh-refusal-invalid-request", "on");
	rf = refreshes();
	in = ts_idp_count(&idp, "introspection");
	CHECK_INT(call(cfg_bad, TS_MSG_REFRESH, "bob", 0, &res), TS_E_SERVER_CONFIG);
	CHECK_MSG(strstr(res.message, "configuration error talking to ") &&
	              strstr(res.message, "the server answered the refresh with invalid_request") &&
	              strstr(res.message, "this client could not show that its own "
	                                  "configuration is good") &&
	              strstr(res.message, "invalid_client") &&
	              strstr(res.message, "not refreshing again for 60 s") &&
	              strstr(res.message, "ask the administrator"),
	          "message: %s", res.message);
	ts_client_result_clear(&res);
	CHECK_INT(refreshes(), rf + 1);
	CHECK_INT(ts_idp_count(&idp, "introspection"), in + 1); /* the probe, refused */
	CHECK_INT(call(cfg_pw, TS_MSG_STATUS, "bob", 0, &res), 0);
	CHECK_INT(res.state, TS_STATE_VALID);
	CHECK_MSG(res.status_json && strstr(res.status_json, "\"refresh_held_for\":") &&
	              strstr(res.status_json, "\"has_refresh_token\":true"),
	          "status: %s", res.status_json ? res.status_json : "(none)");
	ts_client_result_clear(&res);

	/* held back: neither `tokenseal refresh` nor any use resends it */
	CHECK_INT(call(cfg_bad, TS_MSG_REFRESH, "bob", 0, &res), TS_E_SERVER_CONFIG);
	CHECK_MSG(strstr(res.message, "answered the last refresh of bob with invalid_request") &&
	              strstr(res.message, "`tokenseal refresh --force` tries now"),
	          "message: %s", res.message);
	ts_client_result_clear(&res);
	for (int i = 0; i < 5; i++) {
		/* inside the refresh window: a use would refresh first */
		CHECK_INT(simple(cfg_win, TS_MSG_REVALIDATE, "bob", 0), 0);
		CHECK_INT(simple(cfg_bad_win, TS_MSG_REVALIDATE, "bob", 0), TS_E_SERVER_CONFIG);
	}
	CHECK_MSG(refreshes() == rf + 1, "no retry storm: %ld refreshes sent while held",
	          refreshes() - rf - 1);
	/* an access token the server rejects while held: the held message */
	CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "bob"), 0);
	CHECK_INT(call(cfg_pw, TS_MSG_REVALIDATE, "bob", 0, &res), TS_E_SERVER_CONFIG);
	CHECK_MSG(strstr(res.message, "answered the last refresh of bob with invalid_request") &&
	              strstr(res.message, "sign in again (`tokenseal login`) if the "
	                                  "configuration is right"),
	          "message: %s", res.message);
	ts_client_result_clear(&res);
	CHECK_INT(refreshes(), rf + 1);
	CHECK_INT(status_state(cfg_pw, "bob"), TS_STATE_VALID);

	/* the configuration fixed: the stored refresh token still works */
	CHECK_INT(simple(cfg_pw, TS_MSG_REFRESH, "bob", TS_FLAG_FORCE), 0);
	CHECK_INT(refreshes(), rf + 2);
	/* the good refresh lifted the hold: a plain `tokenseal refresh` goes out */
	CHECK_INT(simple(cfg_pw, TS_MSG_REFRESH, "bob", 0), 0);
	CHECK_INT(refreshes(), rf + 3);
	imitate("refresh-refusal-invalid-request", "off");
}

/* A public client cannot introspect, so it cannot show its configuration
 * good: a dead refresh token answered invalid_request stays a configuration
 * error (the documented limit), but the refresh is held back all the same,
 * the message tells the user that signing in again is the way out if the
 * configuration is right, and a new sign-in heals it. */
static void test_public_client_invalid_request(void)
{
	struct ts_client_result res;
	long rf;

	CHECK_INT(call_pw(cfg_pub, TS_MSG_LOGIN, "alice", 0, "password", "alice-pw", &res), 0);
	ts_client_result_clear(&res);
	imitate("refresh-refusal-invalid-request", "on");
	CHECK_INT(ts_idp_ctl(&idp, "revoke-grant", "alice"), 0);
	rf = refreshes();
	CHECK_INT(call(cfg_pub, TS_MSG_REVALIDATE, "alice", 0, &res), TS_E_SERVER_CONFIG);
	CHECK_MSG(strstr(res.message, "the server answered the refresh with invalid_request") &&
	              strstr(res.message, "a public client cannot introspect, so there is nothing "
	                                  "to check it with") &&
	              strstr(res.message, "if the configuration is right, the refresh token is "
	                                  "dead: sign in again"),
	          "message: %s", res.message);
	ts_client_result_clear(&res);
	CHECK_INT(refreshes(), rf + 1);
	for (int i = 0; i < 4; i++) {
		CHECK_INT(call(cfg_pub, TS_MSG_REVALIDATE, "alice", 0, &res), TS_E_SERVER_CONFIG);
		CHECK_MSG(strstr(res.message, "sign in again (`tokenseal login`) if the "
		                              "configuration is right"),
		          "message: %s", res.message);
		ts_client_result_clear(&res);
	}
	CHECK_MSG(refreshes() == rf + 1, "no retry storm: %ld refreshes sent while held",
	          refreshes() - rf - 1);
	CHECK_INT(status_state(cfg_pub, "alice"), TS_STATE_VALID);
	imitate("refresh-refusal-invalid-request", "off");
	CHECK_INT(call_pw(cfg_pub, TS_MSG_LOGIN, "alice", 0, "password", "alice-pw", &res), 0);
	ts_client_result_clear(&res);
	CHECK_INT(simple(cfg_pub, TS_MSG_REVALIDATE, "alice", 0), 0);
}

/* A server without a revocation endpoint (Entra ID, Google): logout and the
 * close of the last session (revoke_on) say so, keep a signed-out record,
 * and send no revocation request. */
static void test_no_revocation_endpoint(void)
{
	struct ts_client_result res;
	char path[900], want[700];
	long rv;

	imitate("no-revocation-endpoint", "on");
	snprintf(path, sizeof(path), "%s/discovery.json", ks);
	(void)unlink(path); /* the broker's cached copy still names the endpoint */
	snprintf(want, sizeof(want),
	         "signed out locally; this server offers no revocation; the grant lives on until "
	         "it expires or an administrator ends it (%s)",
	         idp.issuer);
	password_login("carol", "carol-pw");
	rv = revocations();
	CHECK_INT(call(cfg_pw, TS_MSG_LOGOUT, "carol", 0, &res), 0);
	CHECK_STR(res.message, want);
	CHECK_INT(res.state, TS_STATE_SIGNED_OUT);
	ts_client_result_clear(&res);
	CHECK_INT(revocations(), rv);
	snprintf(path, sizeof(path), "%s/users/%u.seal", ks, (unsigned)getpwnam("carol")->pw_uid);
	CHECK_MSG(access(path, F_OK) == 0, "a signed-out record is kept");
	CHECK_INT(simple(cfg_pw, TS_MSG_REVALIDATE, "carol", 0), TS_E_SIGNED_OUT);
	CHECK_INT(status_state(cfg_pw, "carol"), TS_STATE_SIGNED_OUT);

	/* revoke_on = last-session (the default): the last session closes */
	password_login("carol", "carol-pw");
	CHECK_INT(simple(cfg_pw, TS_MSG_OPEN_SESSION, "carol", 0), 0);
	CHECK_INT(call(cfg_pw, TS_MSG_CLOSE_SESSION, "carol", 0, &res), 0);
	CHECK_STR(res.message, want);
	CHECK_INT(res.state, TS_STATE_SIGNED_OUT);
	ts_client_result_clear(&res);
	CHECK_INT(revocations(), rv);
	CHECK_INT(simple(cfg_pw, TS_MSG_REVALIDATE, "carol", 0), TS_E_SIGNED_OUT);

	/* the endpoint back: revoked as before (the imitation was what differed) */
	imitate("no-revocation-endpoint", "off");
	snprintf(path, sizeof(path), "%s/discovery.json", ks);
	(void)unlink(path);
	password_login("carol", "carol-pw");
	CHECK_INT(call(cfg_pw, TS_MSG_LOGOUT, "carol", 0, &res), 0);
	snprintf(want, sizeof(want), "signed out; the grant was revoked at %s", idp.issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
	CHECK_INT(revocations(), rv + 2);
}

int main(int argc, char **argv)
{
	char extra[1600], bad_secret[700];
	FILE *f;

	if (argc < 2)
		TS_SKIP("usage: test_broker_refusal PATH-TO-tokenseal-broker");
	if (!getpwnam("alice") || !getpwnam("bob") || !getpwnam("carol"))
		TS_SKIP("local users alice/bob/carol missing: scripts/test creates them");
	if (getuid() != 0)
		TS_SKIP("needs root (the broker acts for alice, bob and carol)");
	CHECK(ts_idp_start(&idp, 3600) == 0);

	snprintf(logfile, sizeof(logfile), "%s/broker.log", ts_test_tmpdir());
	snprintf(wrapper, sizeof(wrapper), "%s/broker-wrapper", ts_test_tmpdir());
	f = fopen(wrapper, "w");
	CHECK(f);
	fprintf(f, "#!/bin/sh\nexec '%s' --debug \"$@\" 2>>'%s'\n", argv[1], logfile);
	CHECK(fclose(f) == 0);
	CHECK(chmod(wrapper, 0755) == 0);

	snprintf(ks, sizeof(ks), "%s/keystore", idp.dir);
	snprintf(cfg_pw, sizeof(cfg_pw), "%s/pw.conf", idp.dir);
	CHECK(ts_idp_write_config(&idp, cfg_pw, "conf", "login_methods = password\n") == 0);
	snprintf(cfg_win, sizeof(cfg_win), "%s/win.conf", idp.dir);
	CHECK(ts_idp_write_config(&idp, cfg_win, "conf",
	                          "login_methods = password\nrefresh_window = 3599\n") == 0);
	/* the same client with a wrong secret (a later line wins) */
	snprintf(bad_secret, sizeof(bad_secret), "%s/wrong-secret", idp.dir);
	ts_test_write_file(bad_secret, "not-the-secret", 14, 0600);
	snprintf(cfg_bad, sizeof(cfg_bad), "%s/bad.conf", idp.dir);
	snprintf(extra, sizeof(extra), "login_methods = password\nclient_secret_file = %s\n",
	         bad_secret);
	CHECK(ts_idp_write_config(&idp, cfg_bad, "conf", extra) == 0);
	snprintf(cfg_bad_win, sizeof(cfg_bad_win), "%s/bad-win.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "login_methods = password\nrefresh_window = 3599\nclient_secret_file = %s\n",
	         bad_secret);
	CHECK(ts_idp_write_config(&idp, cfg_bad_win, "conf", extra) == 0);

	/* the public client keeps its records apart (a record pins its client) */
	snprintf(cfg_pub, sizeof(cfg_pub), "%s/pub.conf", idp.dir);
	snprintf(extra, sizeof(extra), "login_methods = password\nkeystore_dir = %s/ks-pub\n",
	         idp.dir);
	CHECK(ts_idp_write_config(&idp, cfg_pub, "public", extra) == 0);

	RUN(test_dead_refresh_invalid_request);
	RUN(test_broken_client_invalid_request);
	RUN(test_public_client_invalid_request);
	RUN(test_no_revocation_endpoint);
	ts_leak_scan_file("the broker's log", logfile);
	return ts_test_done();
}
