/* SPDX-License-Identifier: MIT */
/*
 * Issue 17, provider profiles: test_providers BROKER PROFILE runs the
 * scenarios sign-in, revalidation, early revocation, needs-login and logout
 * (and, where the provider rotates refresh tokens, a replayed one) against
 * the real tokenseal-broker (exec mode, through ts_client_call) and the real
 * test IdP set to behave like one provider (ctl profile PROFILE, the switches
 * in tests/fixtures/idp/imitations.mjs; the issuer's path is set at start):
 *
 *  entra      no introspection (revalidation by userinfo), no revocation,
 *             userinfo without preferred_username (the name from the ID
 *             token), a device answer with "message", AADSTS refusals;
 *             a public client
 *  google     verification_url, no introspection, offline_access refused as
 *             a scope, refresh answers without a refresh token; the name
 *             from "email"
 *  keycloak   introspection for confidential clients only, and only when the
 *             client is in aud (the Audience mapper: without it, then with
 *             it); "Session not active" / "Token is not active" refusals
 *  okta       the custom authorization server's issuer /oauth2/default;
 *             rotation with reuse detection (a replayed refresh token
 *             revokes the family)
 *  authentik  an issuer ending in "/"; rotation with no grace period; a
 *             refresh sending scope without offline_access is invalid_scope
 *
 * Sign-in is by device code for entra and google, whose device answers
 * differ; keycloak, okta and authentik sign in with the password grant
 * unless TS_TEST_LONG=1 (the device flow's first poll alone waits 5 s; the
 * test prints which one ran). One CTest entry per profile
 * (idp.test_providers_PROFILE). Needs root, the
 * local users alice and carol (scripts/test creates them) and the IdP's
 * node_modules (SKIPPED otherwise).
 */
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_call.h"
#include "lifecycle.h"
#include "ts_client.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_test.h"

struct profile {
	const char *name;
	const char *issuer_path; /* TS_IDP_ISSUER_PATH: NULL for the host alone */
	const char *client;      /* "conf" or "public" */
	const char *extra;       /* tokenseal.conf lines */
	bool introspects;        /* revalidation by introspection (else userinfo) */
	bool revokes;            /* the server has a revocation endpoint */
	bool rotation_reuse;     /* a replayed refresh token is refused */
	bool reuse_revokes_family;
	bool device_in_ci; /* sign in by device (5 s a poll) also without TS_TEST_LONG */
	const char *fired; /* the profile's switches the scenarios must run into */
};

static const struct profile profiles[] = {
    {"entra", NULL, "public", "login_methods = device, password\n", false, false, false, false,
     true,
     "no-introspection-endpoint no-revocation-endpoint userinfo-without-username "
     "device-answer-message aadsts-refresh-refusals"},
    {"google", NULL, "conf",
     "login_methods = device, password\nscopes = openid email profile\n"
     "username_claim = email\nusername_map = strip-suffix:@example.org\n",
     false, true, false, false, true,
     "device-answer-verification-url no-introspection-endpoint userinfo-without-username "
     "offline-access-invalid-scope refresh-answer-without-refresh-token"},
    {"keycloak", NULL, "conf", "login_methods = device, password\n", true, true, false, false,
     false,
     "introspection-requires-audience audience-mapper keycloak-refresh-refusals"},
    {"okta", "/oauth2/default", "conf", "login_methods = device, password\n", true, true, true,
     true, false, ""},
    {"authentik", "/application/o/tokenseal/", "conf", "login_methods = device, password\n",
     true, true, true, false, false, ""},
};

static const struct profile *P;
static bool long_run; /* TS_TEST_LONG=1 */
static struct ts_idp idp;
static char cfg[800], ks[700];

static bool is(const char *name)
{
	return strcmp(P->name, name) == 0;
}

static void contains(const char *text, const char *want)
{
	CHECK_MSG(text && strstr(text, want), "\"%s\" in: %s", want, text ? text : "(none)");
}

static void sh(const char *script)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};

	CHECK_MSG(ts_idp_run(argv, NULL, 0) == 0, "sh -c %s", script);
}

static void admin(const char *route, const char *arg)
{
	char r[300];

	snprintf(r, sizeof(r), "%s%s", route, arg);
	bc_admin(r);
}

/* introspection requests, the provider's and the imitated 404 */
static long introspections(void)
{
	return bc_count("introspection") + bc_count("/token/introspection");
}

/* ---- sign-in ---------------------------------------------------------- */

static void test_sign_in(void)
{
	struct ts_client_result res;
	char shown[8192], path[1000], extra[600];
	int seen;

	if (is("google")) {
		/* offline_access asked for: refused as a scope; the message says so */
		snprintf(path, sizeof(path), "%s/offline.conf", idp.dir);
		snprintf(extra, sizeof(extra), "%sscopes = openid email profile offline_access\n",
		         P->extra);
		CHECK_INT(ts_idp_write_config(&idp, path, P->client, extra), 0);
		CHECK_INT(bc_device_login(path, "alice", "alice", "alice-pw", shown, sizeof(shown),
		                          &seen, &res),
		          TS_E_SERVER_CONFIG);
		CHECK_MSG(!seen, "no user code without a device answer");
		/* discovery does not list offline_access: the message names the fix */
		contains(res.message, "remove offline_access from scopes");
		ts_client_result_clear(&res);
	}
	if (is("keycloak")) {
		/* no Audience mapper yet: the new token introspects inactive; a
		 * configuration error that names the mapper, nothing stored */
		CHECK_INT(bc_call_pw(cfg, TS_MSG_LOGIN, "alice", 0, "password", "alice-pw", &res),
		          TS_E_SERVER_CONFIG);
		contains(res.message, "add an audience mapper naming it");
		ts_client_result_clear(&res);
		CHECK_MSG(bc_status_state(cfg, "alice") != TS_STATE_VALID, "nothing stored");
		bc_imitate("audience-mapper", "on");
	}
	if (!P->device_in_ci && !long_run) {
		/* the device answer is the standard one here; the device flow's
		 * first poll alone waits 5 s, too long for CI five times over */
		fprintf(stderr, "   short run: password sign-in (TS_TEST_LONG=1: device)\n");
		bc_password_login(cfg, "alice", "alice-pw");
		CHECK_INT(bc_status_state(cfg, "alice"), TS_STATE_VALID);
		return;
	}
	if (!P->device_in_ci)
		fprintf(stderr, "   long run: device sign-in\n");
	CHECK_INT(bc_device_login(cfg, "alice", "alice", "alice-pw", shown, sizeof(shown), &seen,
	                          &res),
	          0);
	ts_client_result_clear(&res);
	CHECK_MSG(seen, "the conversation showed a user code");
	/* no verification_uri_complete (Entra, Google): the page and the code
	 * are shown (Entra's "message" is the server's text: not passed on) */
	snprintf(path, sizeof(path), "%.*s/device",
	         (int)(strlen(idp.issuer) - (idp.issuer[strlen(idp.issuer) - 1] == '/')), idp.issuer);
	contains(shown, path);
	CHECK_INT(bc_status_state(cfg, "alice"), TS_STATE_VALID);
}

/* ---- revalidation ------------------------------------------------------ */

static void test_revalidation(void)
{
	struct ts_client_result res;
	long in, ui, rf;

	if (is("keycloak")) {
		/* the Audience mapper removed: every token introspects inactive, a
		 * fresh one too: a configuration error that names the mapper, no
		 * refresh loop */
		bc_imitate("audience-mapper", "off");
		rf = bc_refreshes();
		CHECK_INT(bc_call(cfg, TS_MSG_REVALIDATE, "alice", 0, &res), TS_E_SERVER_CONFIG);
		contains(res.message, "add an audience mapper naming it");
		ts_client_result_clear(&res);
		CHECK_INT(bc_simple(cfg, TS_MSG_REVALIDATE, "alice", 0), TS_E_SERVER_CONFIG);
		CHECK_MSG(bc_refreshes() <= rf + 1, "no refresh loop: %ld refreshes",
		          bc_refreshes() - rf);
		/* the record is kept, its refreshes held back; the mapper added,
		 * a new sign-in (as the message says) clears the hold */
		CHECK_INT(bc_status_state(cfg, "alice"), TS_STATE_VALID);
		bc_imitate("audience-mapper", "on");
		bc_password_login(cfg, "alice", "alice-pw");
	}
	in = introspections();
	ui = bc_count("userinfo");
	CHECK_INT(bc_call(cfg, TS_MSG_REVALIDATE, "alice", 0, &res), 0);
	contains(res.message, "confirmed by the server");
	ts_client_result_clear(&res);
	if (P->introspects) {
		CHECK_INT(introspections(), in + 1);
		CHECK_INT(bc_count("userinfo"), ui);
	} else {
		CHECK_INT(introspections(), in);
		CHECK_INT(bc_count("userinfo"), ui + 1);
	}

	if (is("keycloak")) {
		/* a public client may not introspect (the server would answer 401
		 * "Client not allowed."): tokenseal refuses revalidate =
		 * introspection for it before asking, and revalidate = auto
		 * (userinfo for a public client) works */
		char path[1000], extra[600];

		snprintf(path, sizeof(path), "%s/pub-intro.conf", idp.dir);
		snprintf(extra, sizeof(extra), "%skeystore_dir = %s/ks-pub\nrevalidate = introspection\n",
		         P->extra, idp.dir);
		CHECK_INT(ts_idp_write_config(&idp, path, "public", extra), 0);
		in = introspections();
		CHECK_INT(bc_call_pw(path, TS_MSG_LOGIN, "alice", 0, "password", "alice-pw", &res),
		          TS_E_SERVER_CONFIG);
		contains(res.message, "introspection needs a client secret");
		contains(res.message, "use revalidate = userinfo for a public client");
		ts_client_result_clear(&res);
		CHECK_INT(introspections(), in);
		snprintf(path, sizeof(path), "%s/pub.conf", idp.dir);
		snprintf(extra, sizeof(extra), "%skeystore_dir = %s/ks-pub\n", P->extra, idp.dir);
		CHECK_INT(ts_idp_write_config(&idp, path, "public", extra), 0);
		bc_password_login(path, "alice", "alice-pw");
		in = introspections();
		CHECK_INT(bc_simple(path, TS_MSG_REVALIDATE, "alice", 0), 0);
		CHECK_INT(introspections(), in);
	}
}

/* ---- early revocation: the server rejects the access token before its
 * expiry; tokenseal refreshes at once and the use succeeds ---------------- */

static void early_revocation_once(void)
{
	struct ts_client_result res;
	long rf = bc_refreshes();

	admin("revoke-access-tokens?account=", "alice");
	CHECK_INT(bc_call(cfg, TS_MSG_REVALIDATE, "alice", 0, &res), 0);
	contains(res.message, "before its local expiry; refreshed");
	ts_client_result_clear(&res);
	CHECK_INT(bc_refreshes(), rf + 1);
}

static void test_early_revocation(void)
{
	struct ts_client_result res;

	early_revocation_once();
	if (is("google")) {
		/* the refresh answer had no refresh token: the old one is kept ... */
		CHECK_INT(bc_call(cfg, TS_MSG_STATUS, "alice", 0, &res), 0);
		contains(res.status_json, "\"has_refresh_token\":true");
		ts_client_result_clear(&res);
		/* ... and still works */
		early_revocation_once();
	}
	/* tokenseal sends no scope on refresh (authentik refuses one without
	 * offline_access) */
	CHECK_INT(bc_count("imitation:refresh-scope-sent"), 0);
	CHECK_INT(bc_status_state(cfg, "alice"), TS_STATE_VALID);
}

/* ---- a replayed refresh token (a restored snapshot of the host) --------- */

static void test_refresh_replay(void)
{
	char cmd[3000];

	if (!P->rotation_reuse) {
		fprintf(stderr, "   (%s: no rotation with reuse detection to test)\n", P->name);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s.1' && cp -a '%s' '%s.1'", ks, ks, ks);
	sh(cmd);
	CHECK_INT(bc_simple(cfg, TS_MSG_REFRESH, "alice", TS_FLAG_FORCE), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s.2' && cp -a '%s' '%s.2'", ks, ks, ks);
	sh(cmd);
	/* the snapshot from before the refresh: its refresh token was rotated
	 * away, and is refused at once (no grace period) */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s.1' '%s'", ks, ks, ks);
	sh(cmd);
	CHECK_INT(bc_simple(cfg, TS_MSG_REFRESH, "alice", TS_FLAG_FORCE), TS_E_NEEDS_LOGIN);
	CHECK_INT(bc_status_state(cfg, "alice"), TS_STATE_NEEDS_LOGIN);
	if (P->reuse_revokes_family) {
		/* the replay revoked the family: the current one fails too */
		snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s.2' '%s'", ks, ks, ks);
		sh(cmd);
		CHECK_INT(bc_status_state(cfg, "alice"), TS_STATE_VALID);
		CHECK_INT(bc_simple(cfg, TS_MSG_REFRESH, "alice", TS_FLAG_FORCE), TS_E_NEEDS_LOGIN);
	}
	bc_password_login(cfg, "alice", "alice-pw");
	CHECK_INT(bc_simple(cfg, TS_MSG_REVALIDATE, "alice", 0), 0);
}

/* ---- needs-login: the refresh itself refused ---------------------------- */

static void needs_login_once(const char *description)
{
	struct ts_client_result res;

	CHECK_INT(bc_call(cfg, TS_MSG_REFRESH, "alice", TS_FLAG_FORCE, &res), TS_E_NEEDS_LOGIN);
	CHECK_INT(res.state, TS_STATE_NEEDS_LOGIN);
	contains(res.message, "sign-in required: ");
	contains(res.message, "log in again");
	if (description)
		contains(res.message, description);
	ts_client_result_clear(&res);
	CHECK_INT(bc_status_state(cfg, "alice"), TS_STATE_NEEDS_LOGIN);
	/* a use says the same without asking the server again */
	CHECK_INT(bc_simple(cfg, TS_MSG_REVALIDATE, "alice", 0), TS_E_NEEDS_LOGIN);
}

static void test_needs_login(void)
{
	long rf;

	admin("revoke-grant?account=", "alice");
	rf = bc_refreshes();
	/* the server's reason in the message (h-provcode) */
	needs_login_once(is("entra")      ? "AADSTS50173"
	                 : is("keycloak") ? "Session not active"
	                                  : NULL);
	CHECK_INT(bc_refreshes(), rf + 1);

	if (is("keycloak") || is("entra")) {
		/* a refresh token expired (Keycloak "Token is not active", Entra
		 * AADSTS70008): needs-login too */
		admin("set-ttl?refresh_token=", "1");
		bc_password_login(cfg, "alice", "alice-pw");
		admin("set-ttl?refresh_token=", "1209600");
		sleep(2);
		needs_login_once(is("entra") ? "AADSTS70008" : "Token is not active");
	}
	/* a new sign-in heals it */
	bc_password_login(cfg, "alice", "alice-pw");
	CHECK_INT(bc_simple(cfg, TS_MSG_REVALIDATE, "alice", 0), 0);
}

/* ---- logout ------------------------------------------------------------ */

static void test_logout(void)
{
	struct ts_client_result res;
	char want[800];
	long rv;

	bc_password_login(cfg, "carol", "carol-pw");
	rv = bc_revocations();
	CHECK_INT(bc_call(cfg, TS_MSG_LOGOUT, "carol", 0, &res), 0);
	if (P->revokes)
		snprintf(want, sizeof(want), "signed out; the grant was revoked at %s", idp.issuer);
	else
		snprintf(want, sizeof(want),
		         "signed out locally; this server offers no revocation; the grant lives on "
		         "until it expires or an administrator ends it (%s)",
		         idp.issuer);
	CHECK_STR(res.message, want);
	CHECK_INT(res.state, TS_STATE_SIGNED_OUT);
	ts_client_result_clear(&res);
	/* the refresh token and the access token */
	CHECK_INT(bc_revocations(), rv + (P->revokes ? 2 : 0));
	CHECK_INT(bc_simple(cfg, TS_MSG_REVALIDATE, "carol", 0), TS_E_SIGNED_OUT);
}

/* ---- the profile's switches were what the scenarios ran into ----------- */

static void test_imitations_fired(void)
{
	char names[600], key[700];

	snprintf(names, sizeof(names), "%s", P->fired);
	for (char *n = names, *end; *n; n = end + (*end != '\0')) {
		end = n + strcspn(n, " ");
		*end = '\0';
		snprintf(key, sizeof(key), "imitation:%s", n);
		CHECK_MSG(bc_count(key) > 0, "the scenarios ran into %s", n);
		if (!end[0])
			break;
	}
}

int main(int argc, char **argv)
{
	if (argc < 3)
		TS_SKIP("usage: test_providers PATH-TO-tokenseal-broker PROFILE");
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(profiles[i].name, argv[2]) == 0)
			P = &profiles[i];
	CHECK_MSG(P, "unknown profile %s", argv[2]);
	long_run = getenv("TS_TEST_LONG") && strcmp(getenv("TS_TEST_LONG"), "1") == 0;
	if (!getpwnam("alice") || !getpwnam("carol"))
		TS_SKIP("local users alice/carol missing: scripts/test creates them");
	if (getuid() != 0)
		TS_SKIP("needs root (the broker acts for alice and carol)");
	if (P->issuer_path)
		CHECK(setenv("TS_IDP_ISSUER_PATH", P->issuer_path, 1) == 0);
	CHECK(ts_idp_start(&idp, 3600) == 0);
	CHECK(unsetenv("TS_IDP_ISSUER_PATH") == 0);
	fprintf(stderr, "profile %s, issuer %s\n", P->name, idp.issuer);
	if (P->issuer_path)
		CHECK_MSG(strstr(idp.issuer, P->issuer_path), "the issuer has the path %s",
		          P->issuer_path);
	bc_init(&idp, argv[1]);
	bc_profile(P->name);
	snprintf(ks, sizeof(ks), "%s/keystore", idp.dir);
	snprintf(cfg, sizeof(cfg), "%s/%s.conf", idp.dir, P->name);
	CHECK_INT(ts_idp_write_config(&idp, cfg, P->client, P->extra), 0);

	RUN(test_sign_in);
	RUN(test_revalidation);
	RUN(test_early_revocation);
	RUN(test_refresh_replay);
	RUN(test_needs_login);
	RUN(test_logout);
	RUN(test_imitations_fired);
	ts_leak_scan_file("the broker's log", bc_logfile());
	return ts_test_done();
}
