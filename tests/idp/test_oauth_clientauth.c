/* SPDX-License-Identifier: MIT */
/*
 * Client authentication against the real authorization server (issue 17):
 * two clients registered with a hard secret (`+/=:%20`, a space, `&`), one
 * held to client_secret_basic, one to client_secret_post (the strict block of
 * tests/fixtures/idp/server.mjs refuses the other method with 401
 * invalid_client). With each method: password grant, device authorization,
 * introspection-based revalidation, refresh and revocation succeed; the
 * wrong method forced fails with a configuration error naming it; auto
 * follows token_endpoint_auth_methods_supported. The secret never shows in
 * an error or a log line.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth.h"
#include "oauth_testing.h"
#include "test_oauth_util.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_test.h"

/* the secret of tokenseal-basic and tokenseal-post in server.mjs */
#define HARD_SECRET "hard +/=:%20 &secret~"

static struct ts_idp idp;
static char secret_file[600];

static struct oauth_client *client(const char *id, enum ts_client_auth how, struct ts_config *cfg)
{
	struct oauth_client *c = NULL;
	struct oauth_error e;

	tu_config(cfg, idp.issuer, id, secret_file, idp.ca);
	cfg->client_auth = how;
	CHECK_INT(oauth_client_new(&c, cfg, &e), 0);
	return c;
}

/* Everything that authenticates the client, with one method. */
static void all_endpoints(const char *id, enum ts_client_auth how, const char *method)
{
	struct ts_config cfg;
	struct oauth_client *c = client(id, how, &cfg);
	struct oauth_tokens t = {0}, t2 = {0}, t3 = {0};
	struct oauth_identity ident;
	struct oauth_device dev = {0};
	struct oauth_error e;
	long n;

	printf("# %s with client_auth %d\n", id, (int)how);
	CHECK_INT(oauth_password_grant(c, "alice", "alice-pw", &t, &e), 0);
	tu_check_clean(&e);
	CHECK_STR(oauth_client_auth_method_name(c), method);
	CHECK(t.access_token && t.refresh_token);
	tu_secret(t.access_token);
	tu_secret(t.refresh_token);
	tu_secret(t.id_token);

	n = ts_idp_count(&idp, "introspection");
	CHECK_INT(oauth_revalidate(c, t.access_token, &ident, &e), 0);
	tu_check_clean(&e);
	CHECK_INT(ts_idp_count(&idp, "introspection"), n + 1);
	CHECK(ident.active);
	CHECK_STR(ident.sub, "sub-alice");

	CHECK_INT(oauth_refresh(c, t.refresh_token, NULL, &t2, &e), 0);
	tu_check_clean(&e);
	tu_secret(t2.access_token);
	tu_secret(t2.refresh_token);
	tu_secret(t2.id_token);

	CHECK_INT(oauth_device_start(c, &dev, &e), 0);
	tu_check_clean(&e);
	CHECK(dev.device_code != NULL);
	if (dev.device_code)
		tu_secret(dev.device_code);
	oauth_device_clear(&dev);

	/* revocation: accepted, and the refresh token is dead afterwards */
	n = ts_idp_count(&idp, "revocation");
	CHECK_INT(oauth_revoke(c, t2.refresh_token, "refresh_token", &e), 0);
	tu_check_clean(&e);
	CHECK_INT(ts_idp_count(&idp, "revocation"), n + 1);
	CHECK_INT(oauth_refresh(c, t2.refresh_token, NULL, &t3, &e), TS_E_NEEDS_LOGIN);
	tu_check_clean(&e);
	oauth_tokens_clear(&t);
	oauth_tokens_clear(&t2);
	oauth_client_free(c);
}

static void test_basic(void)
{
	all_endpoints("tokenseal-basic", TS_CLIENT_AUTH_BASIC, "client_secret_basic");
	/* auto: oidc-provider lists client_secret_basic */
	all_endpoints("tokenseal-basic", TS_CLIENT_AUTH_AUTO, "client_secret_basic");
}

static void test_post(void)
{
	all_endpoints("tokenseal-post", TS_CLIENT_AUTH_POST, "client_secret_post");
}

static void check_refusal(const struct oauth_error *e, const char *method, const char *key)
{
	char want[160];

	(void)snprintf(want, sizeof(want),
	               "[client authentication %s (client_auth = %s); the server lists ", method,
	               key);
	CHECK_MSG(strstr(e->message, want) != NULL, "message: %s", e->message);
	CHECK_MSG(strstr(e->message, "invalid_client") != NULL, "message: %s", e->message);
	tu_check_clean(e);
}

/* The wrong method forced: a configuration error that names it, at the
 * token, introspection and revocation endpoints alike. */
static void test_wrong_method(void)
{
	struct ts_config cfg;
	struct oauth_client *c = client("tokenseal-basic", TS_CLIENT_AUTH_POST, &cfg);
	struct oauth_client *ok = client("tokenseal-basic", TS_CLIENT_AUTH_BASIC, &cfg);
	struct oauth_tokens t = {0}, t2 = {0};
	struct oauth_identity ident;
	struct oauth_error e;
	long refused = ts_idp_count(&idp, "client_auth_refused:tokenseal-basic");

	CHECK_INT(oauth_password_grant(c, "alice", "alice-pw", &t, &e), TS_E_SERVER_CONFIG);
	printf("# %s\n", e.message);
	check_refusal(&e, "client_secret_post", "post");
	CHECK_INT(ts_idp_count(&idp, "client_auth_refused:tokenseal-basic"), refused + 1);

	CHECK_INT(oauth_password_grant(ok, "bob", "bob-pw", &t, &e), 0);
	tu_secret(t.access_token);
	tu_secret(t.refresh_token);
	tu_secret(t.id_token);
	CHECK_INT(oauth_introspect(c, t.access_token, &ident, &e), TS_E_SERVER_CONFIG);
	printf("# %s\n", e.message);
	check_refusal(&e, "client_secret_post", "post");
	CHECK_INT(oauth_refresh(c, t.refresh_token, NULL, &t2, &e), TS_E_SERVER_CONFIG);
	check_refusal(&e, "client_secret_post", "post");
	CHECK(oauth_revoke(c, t.refresh_token, "refresh_token", &e) < 0);
	printf("# %s\n", e.message);
	check_refusal(&e, "client_secret_post", "post");
	/* the grant is untouched by the refused requests */
	CHECK_INT(oauth_refresh(ok, t.refresh_token, NULL, &t2, &e), 0);
	tu_secret(t2.access_token);
	tu_secret(t2.refresh_token);
	tu_secret(t2.id_token);
	oauth_tokens_clear(&t);
	oauth_tokens_clear(&t2);
	oauth_client_free(c);

	/* and basic against the post-only client */
	c = client("tokenseal-post", TS_CLIENT_AUTH_BASIC, &cfg);
	CHECK_INT(oauth_password_grant(c, "alice", "alice-pw", &t, &e), TS_E_SERVER_CONFIG);
	check_refusal(&e, "client_secret_basic", "basic");
	oauth_client_free(c);
	oauth_client_free(ok);
}

/* The discovery document with token_endpoint_auth_methods_supported
 * replaced by methods (a JSON array text). */
static char *doc_with_methods(const char *methods)
{
	struct ts_config cfg;
	struct oauth_client *c = client("tokenseal-post", TS_CLIENT_AUTH_AUTO, &cfg);
	struct oauth_error e;
	const char *doc;
	size_t len;
	json_t *j, *m;
	char *out;

	CHECK_INT(oauth_discover(c, &e), 0);
	doc = oauth_fetched_discovery(c, &len);
	j = json_loadb(doc, len, 0, NULL);
	m = json_loads(methods, 0, NULL);
	CHECK(j && m);
	CHECK_INT(json_object_set_new(j, "token_endpoint_auth_methods_supported", m), 0);
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	oauth_client_free(c);
	return out;
}

/* auto follows the list: post when basic is not listed; neither listed is a
 * configuration error naming the list. */
static void test_auto_from_discovery(void)
{
	struct ts_config cfg;
	struct oauth_client *c;
	struct oauth_tokens t = {0};
	struct oauth_error e;
	char *doc = doc_with_methods("[\"private_key_jwt\", \"client_secret_post\"]");

	c = client("tokenseal-post", TS_CLIENT_AUTH_AUTO, &cfg);
	CHECK_INT(oauth_set_discovery(c, doc, strlen(doc), &e), 0);
	CHECK_INT(oauth_password_grant(c, "carol", "carol-pw", &t, &e), 0);
	CHECK_STR(oauth_client_auth_method_name(c), "client_secret_post");
	tu_secret(t.access_token);
	tu_secret(t.refresh_token);
	tu_secret(t.id_token);
	oauth_tokens_clear(&t);
	oauth_client_free(c);
	free(doc);

	/* an empty list: the RFC 8414 default, client_secret_basic */
	doc = doc_with_methods("[]");
	c = client("tokenseal-basic", TS_CLIENT_AUTH_AUTO, &cfg);
	CHECK_INT(oauth_set_discovery(c, doc, strlen(doc), &e), 0);
	CHECK_INT(oauth_password_grant(c, "carol", "carol-pw", &t, &e), 0);
	CHECK_STR(oauth_client_auth_method_name(c), "client_secret_basic");
	tu_secret(t.access_token);
	tu_secret(t.refresh_token);
	tu_secret(t.id_token);
	oauth_tokens_clear(&t);
	oauth_client_free(c);
	free(doc);

	doc = doc_with_methods("[\"private_key_jwt\", \"tls_client_auth\"]");
	c = client("tokenseal-basic", TS_CLIENT_AUTH_AUTO, &cfg);
	CHECK_INT(oauth_set_discovery(c, doc, strlen(doc), &e), 0);
	CHECK_INT(oauth_password_grant(c, "carol", "carol-pw", &t, &e), TS_E_SERVER_CONFIG);
	CHECK_MSG(strstr(e.message, "the server accepts no client authentication tokenseal has "
	                            "(client_secret_basic, client_secret_post): its "
	                            "token_endpoint_auth_methods_supported lists private_key_jwt, "
	                            "tls_client_auth") != NULL,
	          "message: %s", e.message);
	tu_check_clean(&e);
	oauth_client_free(c);
	free(doc);
}

/* A public client (no secret): client_id in the form, nothing else. */
static void test_public_none(void)
{
	struct ts_config cfg;
	struct oauth_client *c = NULL;
	struct oauth_tokens t = {0}, t2 = {0};
	struct oauth_error e;

	tu_config(&cfg, idp.issuer, idp.public_client, NULL, idp.ca);
	cfg.client_auth = TS_CLIENT_AUTH_NONE;
	CHECK_INT(oauth_client_new(&c, &cfg, &e), 0);
	CHECK_INT(oauth_password_grant(c, "alice", "alice-pw", &t, &e), 0);
	CHECK_STR(oauth_client_auth_method_name(c), "none");
	tu_secret(t.access_token);
	tu_secret(t.refresh_token);
	tu_secret(t.id_token);
	CHECK_INT(oauth_refresh(c, t.refresh_token, NULL, &t2, &e), 0);
	tu_secret(t2.access_token);
	tu_secret(t2.refresh_token);
	tu_secret(t2.id_token);
	CHECK_INT(oauth_revoke(c, t2.refresh_token, "refresh_token", &e), 0);
	oauth_tokens_clear(&t);
	oauth_tokens_clear(&t2);
	oauth_client_free(c);
}

int main(void)
{
	struct oauth_error e;
	char *cmdline;
	size_t len = 0;

	CHECK_INT(oauth_global_init(), 0);
	tu_capture_logs();
	CHECK_INT(ts_idp_start(&idp, 0), 0);
	(void)snprintf(secret_file, sizeof(secret_file), "%s/hard-secret", ts_test_tmpdir());
	ts_test_write_file(secret_file, HARD_SECRET, strlen(HARD_SECRET), 0600);
	tu_secret(HARD_SECRET);
	tu_secret("hard+%2B%2F%3D%3A%2520+%26secret%7E"); /* its encoded form too */
	tu_secret("alice-pw");
	tu_secret("bob-pw");
	tu_secret("carol-pw");
	RUN(test_basic);
	RUN(test_post);
	RUN(test_wrong_method);
	RUN(test_auto_from_discovery);
	RUN(test_public_none);
	memset(&e, 0, sizeof(e));
	tu_check_clean(&e);
	/* never in argv: ours (nothing is spawned with it) */
	cmdline = ts_test_read_file("/proc/self/cmdline", &len);
	CHECK(cmdline && !memmem(cmdline, len, "secret~", 7));
	free(cmdline);
	ts_idp_stop(&idp);
	return ts_test_done();
}
