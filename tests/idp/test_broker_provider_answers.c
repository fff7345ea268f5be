/* SPDX-License-Identifier: MIT */
/*
 * Issue 17, provider profiles: what the broker does for real providers'
 * answers, against the real tokenseal-broker (exec mode, through
 * ts_client_call) and the real test IdP, whose per-account extra claims
 * (ctl set-claims) make its answers look like the provider's:
 *
 *  - Entra ID: userinfo carries no user name (username_claim is a claim
 *    only the ID token has here: the test IdP passes only its access-policy
 *    claims through, so the test borrows "roles", a string here). The name comes from the ID token of the
 *    sign-in, bound to the issuer, the client and the subject userinfo
 *    vouched for; a later userinfo answer is bound by the pinned subject
 *    (one userinfo request per use, also after a refresh); another subject
 *    is an identity change; an ID token without the claim, or whose subject
 *    differs, gives no name.
 *  - Keycloak without an audience mapper: introspection answers every
 *    token {"active": false} (here: the extra claim "active": false), while
 *    userinfo accepts it. Sign-in is a configuration error naming the
 *    audience, and a use refreshes once, then holds refreshes back with the
 *    same message instead of refreshing in a loop; the record is kept.
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
static char cfg_pw[800], cfg_entra[800], cfg_entra_win[800];

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

static int password_login(const char *config, const char *user, const char *pw,
                          struct ts_client_result *res)
{
	return call_pw(config, TS_MSG_LOGIN, user, 0, "password", pw, res);
}

static long refreshes(void)
{
	return ts_idp_count(&idp, "token:refresh_token");
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

static void claims(const char *user, const char *json, const char *where)
{
	CHECK_MSG(ts_idp_set_claims(&idp, user, json, where) == 0, "set-claims %s %s", user, json);
}

/* Entra: the name from the ID token, pinned by subject afterwards */
static void test_entra_name_from_id_token(void)
{
	struct ts_client_result res;
	long ui, rf;

	claims("alice", "{\"roles\":\"alice\"}", "id_token");
	CHECK_INT(password_login(cfg_entra, "alice", "alice-pw", &res), 0);
	CHECK(strstr(res.message, "as alice") != NULL);
	ts_client_result_clear(&res);
	/* a use: userinfo names no user; bound by the stored subject */
	ui = ts_idp_count(&idp, "userinfo");
	CHECK_INT(simple(cfg_entra, TS_MSG_REVALIDATE, "alice", 0), 0);
	CHECK_INT(ts_idp_count(&idp, "userinfo"), ui + 1);
	/* inside the refresh window: refreshed, then one userinfo request */
	rf = refreshes();
	ui = ts_idp_count(&idp, "userinfo");
	CHECK_INT(call(cfg_entra_win, TS_MSG_REVALIDATE, "alice", 0, &res), 0);
	CHECK(strstr(res.message, "refreshed the tokens") != NULL);
	ts_client_result_clear(&res);
	CHECK_INT(refreshes(), rf + 1);
	CHECK_MSG(ts_idp_count(&idp, "userinfo") == ui + 1, "userinfo asked %ld times",
	          ts_idp_count(&idp, "userinfo") - ui);
	CHECK_INT(call(cfg_entra, TS_MSG_STATUS, "alice", 0, &res), 0);
	CHECK_MSG(res.status_json && strstr(res.status_json, "\"username\":\"alice\""),
	          "status: %s", res.status_json ? res.status_json : "(none)");
	ts_client_result_clear(&res);

	/* userinfo now names another subject: an identity change */
	claims("alice", "{\"sub\":\"someone-else\"}", "userinfo");
	CHECK_INT(call(cfg_entra, TS_MSG_REVALIDATE, "alice", 0, &res), TS_E_IDENTITY_CHANGED);
	CHECK_STR(res.message, "the server now names another subject for alice than the one "
	                       "stored; refusing; run `tokenseal login` or log in again");
	ts_client_result_clear(&res);
	claims("alice", "{}", NULL);
}

/* Entra: no name in userinfo nor in the ID token, or an ID token bound to
 * another subject: no name, nothing stored */
static void test_entra_no_name(void)
{
	struct ts_client_result res;

	claims("bob", "{}", NULL);
	CHECK_INT(password_login(cfg_entra, "bob", "bob-pw", &res), TS_E_IDENTITY_MISMATCH);
	CHECK_STR(res.message, "the server did not say who this is (no \"roles\" claim in "
	                       "its answer nor in the ID token); refusing to sign in bob");
	ts_client_result_clear(&res);
	CHECK_INT(simple(cfg_entra, TS_MSG_REVALIDATE, "bob", 0), TS_E_NO_RECORD);

	/* the ID token's subject differs from the one userinfo vouched for */
	claims("carol", "{\"roles\":\"carol\",\"sub\":\"forged-subject\"}", "id_token");
	CHECK_INT(password_login(cfg_entra, "carol", "carol-pw", &res), TS_E_IDENTITY_MISMATCH);
	CHECK(strstr(res.message, "nor in the ID token") != NULL);
	ts_client_result_clear(&res);
	/* the same claim with the right subject: signed in (the subject was
	 * what kept the name out) */
	claims("carol", "{\"roles\":\"carol\"}", "id_token");
	CHECK_INT(password_login(cfg_entra, "carol", "carol-pw", &res), 0);
	ts_client_result_clear(&res);
	claims("carol", "{}", NULL);
}

#define AUDIENCE "the server says a token it issued a moment ago is not active, while its " \
                 "userinfo endpoint accepts it: the client tokenseal-conf is probably not in the "   \
                 "token's audience (at Keycloak add an audience mapper naming it)"

/* Keycloak without the audience mapper: no sign-in, no refresh loop */
static void test_keycloak_audience(void)
{
	struct ts_client_result res;
	char want[1024];
	long rf;

	claims("bob", "{\"active\":false}", "introspection");
	CHECK_INT(password_login(cfg_pw, "bob", "bob-pw", &res), TS_E_SERVER_CONFIG);
	snprintf(want, sizeof(want),
	         "configuration error talking to %s: " AUDIENCE
	         "; nothing was stored; ask the administrator",
	         idp.issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
	CHECK_INT(simple(cfg_pw, TS_MSG_REVALIDATE, "bob", 0), TS_E_NO_RECORD);

	/* a stored sign-in when introspection turns (a Keycloak upgrade) */
	claims("bob", "{}", NULL);
	CHECK_INT(password_login(cfg_pw, "bob", "bob-pw", &res), 0);
	ts_client_result_clear(&res);
	claims("bob", "{\"active\":false}", "introspection");
	rf = refreshes();
	CHECK_INT(call(cfg_pw, TS_MSG_REVALIDATE, "bob", 0, &res), TS_E_SERVER_CONFIG);
	snprintf(want, sizeof(want),
	         "configuration error talking to %s: " AUDIENCE
	         "; not refreshing again for 60 s; ask the administrator, or sign in again "
	         "(`tokenseal login`) once the configuration is fixed",
	         idp.issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
	CHECK_INT(refreshes(), rf + 1);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(call(cfg_pw, TS_MSG_REVALIDATE, "bob", 0, &res), TS_E_SERVER_CONFIG);
		CHECK_MSG(strstr(res.message, AUDIENCE) &&
		              strstr(res.message, "sign in again (`tokenseal login`) if the "
		                                  "configuration is right"),
		          "message: %s", res.message);
		ts_client_result_clear(&res);
	}
	CHECK_INT(call(cfg_pw, TS_MSG_REFRESH, "bob", 0, &res), TS_E_SERVER_CONFIG);
	CHECK_MSG(strstr(res.message, AUDIENCE) &&
	              strstr(res.message, "`tokenseal refresh --force` tries now"),
	          "message: %s", res.message);
	ts_client_result_clear(&res);
	CHECK_MSG(refreshes() == rf + 1, "no refresh loop: %ld refreshes", refreshes() - rf);
	CHECK_INT(status_state(cfg_pw, "bob"), TS_STATE_VALID);

	/* the mapper added: a forced refresh lifts the hold, uses work */
	claims("bob", "{}", NULL);
	CHECK_INT(simple(cfg_pw, TS_MSG_REFRESH, "bob", TS_FLAG_FORCE), 0);
	CHECK_INT(simple(cfg_pw, TS_MSG_REVALIDATE, "bob", 0), 0);
}

int main(int argc, char **argv)
{
	char extra[1600];
	FILE *f;

	if (argc < 2)
		TS_SKIP("usage: test_broker_provider_answers PATH-TO-tokenseal-broker");
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
	/* Entra: revalidation by userinfo, a user name only the ID token has */
	snprintf(cfg_entra, sizeof(cfg_entra), "%s/entra.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "login_methods = password\nrevalidate = userinfo\nusername_claim = roles\n"
	         "keystore_dir = %s/ks-entra\n",
	         idp.dir);
	CHECK(ts_idp_write_config(&idp, cfg_entra, "conf", extra) == 0);
	snprintf(cfg_entra_win, sizeof(cfg_entra_win), "%s/entra-win.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "login_methods = password\nrevalidate = userinfo\nusername_claim = roles\n"
	         "keystore_dir = %s/ks-entra\nrefresh_window = 3599\n",
	         idp.dir);
	CHECK(ts_idp_write_config(&idp, cfg_entra_win, "conf", extra) == 0);

	RUN(test_entra_name_from_id_token);
	RUN(test_entra_no_name);
	RUN(test_keycloak_audience);
	ts_leak_scan_file("the broker's log", logfile);
	return ts_test_done();
}
