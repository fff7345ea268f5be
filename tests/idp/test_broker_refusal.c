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

#include "broker_call.h"
#include "lifecycle.h"
#include "ts_client.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_mem.h"
#include "ts_test.h"

static struct ts_idp idp;
static char ks[700];
static char cfg_pw[800], cfg_win[800], cfg_bad[800], cfg_bad_win[800], cfg_pub[800];

/* ---- the cases ----------------------------------------------------------- */

/* A refresh token the server no longer knows, answered invalid_request:
 * the same client's introspection is answered, so the refresh token is what
 * was refused: needs-login with a message that says so, and later uses ask
 * nothing of the token endpoint. */
static void test_dead_refresh_invalid_request(void)
{
	struct ts_client_result res;
	long rf, in;

	bc_password_login(cfg_pw, "alice", "alice-pw");
	CHECK_INT(bc_simple(cfg_pw, TS_MSG_REVALIDATE, "alice", 0), 0);
	bc_imitate("refresh-refusal-invalid-request", "on");
	CHECK_INT(ts_idp_ctl(&idp, "revoke-grant", "alice"), 0);
	rf = bc_refreshes();
	in = ts_idp_count(&idp, "introspection");
	CHECK_INT(bc_call(cfg_pw, TS_MSG_REVALIDATE, "alice", 0, &res), TS_E_NEEDS_LOGIN);
	CHECK_STR(res.message, "sign-in required: the server refused the refresh token "
	                       "(invalid_request, while this client's other requests succeed); "
	                       "run `tokenseal login` or log in again");
	CHECK_INT(res.state, TS_STATE_NEEDS_LOGIN);
	ts_client_result_clear(&res);
	CHECK_MSG(bc_refreshes() == rf + 1, "one refresh was sent (%ld)", bc_refreshes() - rf);
	/* the use's own revalidation, then the probe */
	CHECK_INT(ts_idp_count(&idp, "introspection"), in + 2);
	CHECK_INT(bc_status_state(cfg_pw, "alice"), TS_STATE_NEEDS_LOGIN);
	for (int i = 0; i < 5; i++)
		CHECK_INT(bc_simple(cfg_win, TS_MSG_REVALIDATE, "alice", 0), TS_E_NEEDS_LOGIN);
	CHECK_MSG(bc_refreshes() == rf + 1, "no refresh after the record was marked (%ld)",
	          bc_refreshes() - rf);
	bc_imitate("refresh-refusal-invalid-request", "off");
	/* a new sign-in heals it */
	bc_password_login(cfg_pw, "alice", "alice-pw");
	CHECK_INT(bc_simple(cfg_pw, TS_MSG_REVALIDATE, "alice", 0), 0);
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

	bc_password_login(cfg_pw, "bob", "bob-pw");
	bc_imitate("refresh-refusal-invalid-request", "on");
	rf = bc_refreshes();
	in = ts_idp_count(&idp, "introspection");
	CHECK_INT(bc_call(cfg_bad, TS_MSG_REFRESH, "bob", 0, &res), TS_E_SERVER_CONFIG);
	CHECK_MSG(strstr(res.message, "configuration error talking to ") &&
	              strstr(res.message, "the server answered the refresh with invalid_request") &&
	              strstr(res.message, "this client could not show that its own "
	                                  "configuration is good") &&
	              strstr(res.message, "invalid_client") &&
	              strstr(res.message, "not refreshing again for 60 s") &&
	              strstr(res.message, "ask the administrator"),
	          "message: %s", res.message);
	ts_client_result_clear(&res);
	CHECK_INT(bc_refreshes(), rf + 1);
	CHECK_INT(ts_idp_count(&idp, "introspection"), in + 1); /* the probe, refused */
	CHECK_INT(bc_call(cfg_pw, TS_MSG_STATUS, "bob", 0, &res), 0);
	CHECK_INT(res.state, TS_STATE_VALID);
	CHECK_MSG(res.status_json && strstr(res.status_json, "\"refresh_held_for\":") &&
	              strstr(res.status_json, "\"has_refresh_token\":true"),
	          "status: %s", res.status_json ? res.status_json : "(none)");
	ts_client_result_clear(&res);

	/* held back: neither `tokenseal refresh` nor any use resends it */
	CHECK_INT(bc_call(cfg_bad, TS_MSG_REFRESH, "bob", 0, &res), TS_E_SERVER_CONFIG);
	CHECK_MSG(strstr(res.message, "answered the last refresh of bob with invalid_request") &&
	              strstr(res.message, "`tokenseal refresh --force` tries now"),
	          "message: %s", res.message);
	ts_client_result_clear(&res);
	for (int i = 0; i < 5; i++) {
		/* inside the refresh window: a use would refresh first */
		CHECK_INT(bc_simple(cfg_win, TS_MSG_REVALIDATE, "bob", 0), 0);
		CHECK_INT(bc_simple(cfg_bad_win, TS_MSG_REVALIDATE, "bob", 0), TS_E_SERVER_CONFIG);
	}
	CHECK_MSG(bc_refreshes() == rf + 1, "no retry storm: %ld refreshes sent while held",
	          bc_refreshes() - rf - 1);
	/* an access token the server rejects while held: the held message */
	CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "bob"), 0);
	CHECK_INT(bc_call(cfg_pw, TS_MSG_REVALIDATE, "bob", 0, &res), TS_E_SERVER_CONFIG);
	CHECK_MSG(strstr(res.message, "answered the last refresh of bob with invalid_request") &&
	              strstr(res.message, "sign in again (`tokenseal login`) if the "
	                                  "configuration is right"),
	          "message: %s", res.message);
	ts_client_result_clear(&res);
	CHECK_INT(bc_refreshes(), rf + 1);
	CHECK_INT(bc_status_state(cfg_pw, "bob"), TS_STATE_VALID);

	/* the configuration fixed: the stored refresh token still works */
	CHECK_INT(bc_simple(cfg_pw, TS_MSG_REFRESH, "bob", TS_FLAG_FORCE), 0);
	CHECK_INT(bc_refreshes(), rf + 2);
	/* the good refresh lifted the hold: a plain `tokenseal refresh` goes out */
	CHECK_INT(bc_simple(cfg_pw, TS_MSG_REFRESH, "bob", 0), 0);
	CHECK_INT(bc_refreshes(), rf + 3);
	bc_imitate("refresh-refusal-invalid-request", "off");
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

	CHECK_INT(bc_call_pw(cfg_pub, TS_MSG_LOGIN, "alice", 0, "password", "alice-pw", &res), 0);
	ts_client_result_clear(&res);
	bc_imitate("refresh-refusal-invalid-request", "on");
	CHECK_INT(ts_idp_ctl(&idp, "revoke-grant", "alice"), 0);
	rf = bc_refreshes();
	CHECK_INT(bc_call(cfg_pub, TS_MSG_REVALIDATE, "alice", 0, &res), TS_E_SERVER_CONFIG);
	CHECK_MSG(strstr(res.message, "the server answered the refresh with invalid_request") &&
	              strstr(res.message, "a public client cannot introspect, so there is nothing "
	                                  "to check it with") &&
	              strstr(res.message, "if the configuration is right, the refresh token is "
	                                  "dead: sign in again"),
	          "message: %s", res.message);
	ts_client_result_clear(&res);
	CHECK_INT(bc_refreshes(), rf + 1);
	for (int i = 0; i < 4; i++) {
		CHECK_INT(bc_call(cfg_pub, TS_MSG_REVALIDATE, "alice", 0, &res), TS_E_SERVER_CONFIG);
		CHECK_MSG(strstr(res.message, "sign in again (`tokenseal login`) if the "
		                              "configuration is right"),
		          "message: %s", res.message);
		ts_client_result_clear(&res);
	}
	CHECK_MSG(bc_refreshes() == rf + 1, "no retry storm: %ld refreshes sent while held",
	          bc_refreshes() - rf - 1);
	CHECK_INT(bc_status_state(cfg_pub, "alice"), TS_STATE_VALID);
	bc_imitate("refresh-refusal-invalid-request", "off");
	CHECK_INT(bc_call_pw(cfg_pub, TS_MSG_LOGIN, "alice", 0, "password", "alice-pw", &res), 0);
	ts_client_result_clear(&res);
	CHECK_INT(bc_simple(cfg_pub, TS_MSG_REVALIDATE, "alice", 0), 0);
}

/* A server without a revocation endpoint (Entra ID, Google): logout and the
 * close of the last session (revoke_on) say so, keep a signed-out record,
 * and send no revocation request. */
static void test_no_revocation_endpoint(void)
{
	struct ts_client_result res;
	char path[900], want[700];
	long rv;

	bc_imitate("no-revocation-endpoint", "on");
	snprintf(path, sizeof(path), "%s/discovery.json", ks);
	(void)unlink(path); /* the broker's cached copy still names the endpoint */
	snprintf(want, sizeof(want),
	         "signed out locally; this server offers no revocation; the grant lives on until "
	         "it expires or an administrator ends it (%s)",
	         idp.issuer);
	bc_password_login(cfg_pw, "carol", "carol-pw");
	rv = bc_revocations();
	CHECK_INT(bc_call(cfg_pw, TS_MSG_LOGOUT, "carol", 0, &res), 0);
	CHECK_STR(res.message, want);
	CHECK_INT(res.state, TS_STATE_SIGNED_OUT);
	ts_client_result_clear(&res);
	CHECK_INT(bc_revocations(), rv);
	snprintf(path, sizeof(path), "%s/users/%u.seal", ks, (unsigned)getpwnam("carol")->pw_uid);
	CHECK_MSG(access(path, F_OK) == 0, "a signed-out record is kept");
	CHECK_INT(bc_simple(cfg_pw, TS_MSG_REVALIDATE, "carol", 0), TS_E_SIGNED_OUT);
	CHECK_INT(bc_status_state(cfg_pw, "carol"), TS_STATE_SIGNED_OUT);

	/* revoke_on = last-session (the default): the last session closes */
	bc_password_login(cfg_pw, "carol", "carol-pw");
	CHECK_INT(bc_simple(cfg_pw, TS_MSG_OPEN_SESSION, "carol", 0), 0);
	CHECK_INT(bc_call(cfg_pw, TS_MSG_CLOSE_SESSION, "carol", 0, &res), 0);
	CHECK_STR(res.message, want);
	CHECK_INT(res.state, TS_STATE_SIGNED_OUT);
	ts_client_result_clear(&res);
	CHECK_INT(bc_revocations(), rv);
	CHECK_INT(bc_simple(cfg_pw, TS_MSG_REVALIDATE, "carol", 0), TS_E_SIGNED_OUT);

	/* the endpoint back: revoked as before (the imitation was what differed) */
	bc_imitate("no-revocation-endpoint", "off");
	snprintf(path, sizeof(path), "%s/discovery.json", ks);
	(void)unlink(path);
	bc_password_login(cfg_pw, "carol", "carol-pw");
	CHECK_INT(bc_call(cfg_pw, TS_MSG_LOGOUT, "carol", 0, &res), 0);
	snprintf(want, sizeof(want), "signed out; the grant was revoked at %s", idp.issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
	CHECK_INT(bc_revocations(), rv + 2);
}

int main(int argc, char **argv)
{
	char extra[1600], bad_secret[700];
	if (argc < 2)
		TS_SKIP("usage: test_broker_refusal PATH-TO-tokenseal-broker");
	if (!getpwnam("alice") || !getpwnam("bob") || !getpwnam("carol"))
		TS_SKIP("local users alice/bob/carol missing: scripts/test creates them");
	if (getuid() != 0)
		TS_SKIP("needs root (the broker acts for alice, bob and carol)");
	CHECK(ts_idp_start(&idp, 3600) == 0);

	bc_init(&idp, argv[1]);

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
	ts_leak_scan_file("the broker's log", bc_logfile());
	return ts_test_done();
}
