/* SPDX-License-Identifier: MIT */
/*
 * oauth/ against the real authorization server (oidc-provider 8.8.1 on
 * loopback, tests/fixtures/idp): discovery, password grant, refresh with
 * rotation and reuse detection, identity change, client credentials,
 * introspection and userinfo before and after revocation at the server,
 * revocation, the device grant (approved, denied, deadline), TLS trust.
 * Every error message and every log line is checked for credentials.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "oauth.h"
#include "oauth_testing.h"
#include "test_oauth_util.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_test.h"

static struct ts_idp idp;

static struct oauth_client *client(const char *which, struct ts_config *cfg)
{
	struct oauth_client *c = NULL;
	struct oauth_error e;
	bool conf = strcmp(which, "conf") == 0;

	tu_config(cfg, idp.issuer, conf ? idp.conf_client : idp.public_client,
	          conf ? idp.secret_file : NULL, idp.ca);
	CHECK_INT(oauth_client_new(&c, cfg, &e), 0);
	return c;
}

static void remember(const struct oauth_tokens *t)
{
	tu_secret(t->access_token);
	tu_secret(t->refresh_token);
	tu_secret(t->id_token);
}

static void login(struct oauth_client *c, const char *user, const char *pw, struct oauth_tokens *t)
{
	struct oauth_error e;

	CHECK_INT(oauth_password_grant(c, user, pw, t, &e), 0);
	remember(t);
	CHECK(t->access_token && t->refresh_token);
}

static void test_discovery(void)
{
	struct ts_config cfg;
	struct oauth_client *c = client("conf", &cfg);
	struct oauth_error e;

	long n = ts_idp_count(&idp, "discovery");

	CHECK_INT(oauth_discover(c, &e), 0);
	CHECK_INT(oauth_discover(c, &e), 0); /* cached */
	CHECK_INT(ts_idp_count(&idp, "discovery"), n + 1);
	oauth_client_free(c);
}

static void test_password(void)
{
	struct ts_config cfg;
	struct oauth_client *c = client("conf", &cfg);
	struct oauth_tokens t = {0};
	struct oauth_error e;

	login(c, "alice", "alice-pw", &t);
	CHECK(t.expires_in > 0);
	CHECK(t.id.present);
	CHECK_STR(t.id.sub, "sub-alice");
	CHECK_STR(t.id.iss, idp.issuer);
	CHECK(t.server_date > 0);
	CHECK(labs(oauth_clock_skew(c)) < 120);
	oauth_tokens_clear(&t);

	tu_secret("wrong-password-123");
	CHECK_INT(oauth_password_grant(c, "alice", "wrong-password-123", &t, &e), TS_E_NEEDS_LOGIN);
	CHECK_STR(e.error, "invalid_grant");
	CHECK(strncmp(e.message, idp.issuer, strlen(idp.issuer)) == 0);
	CHECK(t.access_token == NULL);
	tu_check_clean(&e);
	fprintf(stderr, "   message: %s\n", e.message);
	oauth_client_free(c);
}

static void test_refresh_rotation_and_reuse(void)
{
	struct ts_config cfg;
	struct oauth_client *c = client("conf", &cfg);
	struct oauth_tokens t1 = {0}, t2 = {0}, t3 = {0};
	struct oauth_error e;
	long before;

	login(c, "bob", "bob-pw", &t1);
	before = ts_idp_count(&idp, "token:refresh_token");
	CHECK_INT(oauth_refresh(c, t1.refresh_token, &t1.id, &t2, &e), 0);
	remember(&t2);
	CHECK_INT(ts_idp_count(&idp, "token:refresh_token"), before + 1);
	CHECK(t2.refresh_token && strcmp(t2.refresh_token, t1.refresh_token) != 0);
	CHECK(strcmp(t2.access_token, t1.access_token) != 0);
	CHECK(t2.id.present);
	CHECK_STR(t2.id.sub, "sub-bob");

	/* the superseded refresh token: invalid_grant ... */
	CHECK_INT(oauth_refresh(c, t1.refresh_token, NULL, &t3, &e), TS_E_NEEDS_LOGIN);
	CHECK_STR(e.error, "invalid_grant");
	tu_check_clean(&e);
	/* ... and the server's reuse detection killed the whole grant */
	CHECK_INT(oauth_refresh(c, t2.refresh_token, NULL, &t3, &e), TS_E_NEEDS_LOGIN);
	tu_check_clean(&e);
	CHECK(t3.access_token == NULL);
	oauth_tokens_clear(&t1);
	oauth_tokens_clear(&t2);
	oauth_client_free(c);
}

static void test_identity_changed(void)
{
	struct ts_config cfg;
	struct oauth_client *c = client("conf", &cfg);
	struct oauth_tokens t1 = {0}, t2 = {0};
	struct oauth_id_claims other;
	struct oauth_error e;

	login(c, "carol", "carol-pw", &t1);
	CHECK(t1.id.present);
	other = t1.id;
	(void)snprintf(other.sub, sizeof(other.sub), "sub-mallory");
	CHECK_INT(oauth_refresh(c, t1.refresh_token, &other, &t2, &e), TS_E_IDENTITY_CHANGED);
	CHECK(t2.access_token == NULL);
	CHECK(strstr(e.message, "sub-mallory") != NULL);
	tu_check_clean(&e);

	/* same identity: fine (a fresh grant, the one above was rotated) */
	oauth_tokens_clear(&t1);
	login(c, "carol", "carol-pw", &t1);
	CHECK_INT(oauth_refresh(c, t1.refresh_token, &t1.id, &t2, &e), 0);
	remember(&t2);
	other = t1.id;
	(void)snprintf(other.aud, sizeof(other.aud), "another-client");
	oauth_tokens_clear(&t1);
	CHECK_INT(oauth_refresh(c, t2.refresh_token, &other, &t1, &e), TS_E_IDENTITY_CHANGED);
	oauth_tokens_clear(&t2);
	oauth_client_free(c);
}

static void test_client_credentials(void)
{
	struct ts_config cfg;
	struct oauth_client *c = client("conf", &cfg), *p;
	struct oauth_tokens t = {0};
	struct oauth_error e;

	CHECK_INT(oauth_client_credentials(c, &t, &e), 0);
	remember(&t);
	CHECK(t.access_token && t.access_token[0]);
	CHECK(t.refresh_token == NULL);
	oauth_tokens_clear(&t);
	oauth_client_free(c);

	p = client("public", &cfg);
	CHECK_INT(oauth_client_credentials(p, &t, &e), TS_E_SERVER_CONFIG);
	{
		char expect[512];
		(void)snprintf(expect, sizeof(expect),
		               "%s: client credentials need a client secret (client_secret_file)",
		               idp.issuer);
		CHECK_STR(e.message, expect);
	}
	oauth_client_free(p);
}

static void test_introspection_and_userinfo(void)
{
	struct ts_config cfg;
	struct oauth_client *c = client("conf", &cfg);
	struct oauth_tokens t = {0};
	struct oauth_identity id;
	struct oauth_error e;
	long n;

	login(c, "alice", "alice-pw", &t);
	n = ts_idp_count(&idp, "introspection");
	CHECK_INT(oauth_introspect(c, t.access_token, &id, &e), 0);
	CHECK_INT(ts_idp_count(&idp, "introspection"), n + 1);
	CHECK(id.active);
	CHECK_STR(id.sub, "sub-alice");
	CHECK(id.exp > 0);
	/* auto = introspection for a confidential client */
	CHECK_INT(oauth_revalidate(c, t.access_token, &id, &e), 0);
	CHECK_INT(ts_idp_count(&idp, "introspection"), n + 2);

	n = ts_idp_count(&idp, "userinfo");
	CHECK_INT(oauth_userinfo(c, t.access_token, &id, &e), 0);
	CHECK_INT(ts_idp_count(&idp, "userinfo"), n + 1);
	CHECK(id.active);
	CHECK_STR(id.sub, "sub-alice");
	CHECK_STR(id.username, "alice");

	/* the operator revokes alice's access tokens at the server */
	CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "alice"), 0);
	id.active = true;
	CHECK_INT(oauth_introspect(c, t.access_token, &id, &e), TS_E_REJECTED_TOKEN);
	CHECK(!id.active);
	tu_check_clean(&e);
	CHECK_INT(oauth_userinfo(c, t.access_token, &id, &e), TS_E_REJECTED_TOKEN);
	CHECK_INT(e.http_status, 401);
	tu_check_clean(&e);
	fprintf(stderr, "   message: %s\n", e.message);

	/* a token the server never issued */
	tu_secret("made-up-token-0123456789");
	CHECK_INT(oauth_userinfo(c, "made-up-token-0123456789", &id, &e), TS_E_REJECTED_TOKEN);
	tu_check_clean(&e);
	CHECK_INT(oauth_introspect(c, "made-up-token-0123456789", &id, &e), TS_E_REJECTED_TOKEN);
	tu_check_clean(&e);

	/* the refresh token (8.x: the grant survives) heals it */
	{
		struct oauth_tokens t2 = {0};
		CHECK_INT(oauth_refresh(c, t.refresh_token, &t.id, &t2, &e), 0);
		remember(&t2);
		CHECK_INT(oauth_introspect(c, t2.access_token, &id, &e), 0);
		CHECK(id.active);
		CHECK_STR(id.sub, "sub-alice");
		oauth_tokens_clear(&t2);
	}
	oauth_tokens_clear(&t);
	oauth_client_free(c);

	/* the broker's hot path: a fresh client's revalidation costs discovery
	 * plus one introspection, and nothing else */
	c = client("conf", &cfg);
	login(c, "alice", "alice-pw", &t);
	oauth_client_free(c);
	c = client("conf", &cfg);
	{
		long d = ts_idp_count(&idp, "discovery"), i = ts_idp_count(&idp, "introspection");
		long u = ts_idp_count(&idp, "userinfo"), tk = ts_idp_count(&idp, "token");

		CHECK_INT(oauth_revalidate(c, t.access_token, &id, &e), 0);
		CHECK_INT(ts_idp_count(&idp, "discovery"), d + 1);
		CHECK_INT(ts_idp_count(&idp, "introspection"), i + 1);
		CHECK_INT(ts_idp_count(&idp, "userinfo"), u);
		CHECK_INT(ts_idp_count(&idp, "token"), tk);
		CHECK_INT(oauth_revalidate(c, t.access_token, &id, &e), 0);
		CHECK_INT(ts_idp_count(&idp, "discovery"), d + 1);
		CHECK_INT(ts_idp_count(&idp, "introspection"), i + 2);
	}
	oauth_tokens_clear(&t);
	oauth_client_free(c);

	/* a public client revalidates with userinfo */
	c = client("public", &cfg);
	login(c, "bob", "bob-pw", &t);
	n = ts_idp_count(&idp, "userinfo");
	CHECK_INT(oauth_revalidate(c, t.access_token, &id, &e), 0);
	CHECK_INT(ts_idp_count(&idp, "userinfo"), n + 1);
	CHECK_STR(id.username, "bob");
	CHECK_INT(oauth_introspect(c, t.access_token, &id, &e), TS_E_SERVER_CONFIG);
	oauth_tokens_clear(&t);
	oauth_client_free(c);
}

/* Whom a token was issued to, as the real server says in introspection: our
 * own token names this client; a token the other registered client
 * (tokenseal-public) obtained for the same person is active but foreign, so
 * a pasted copy of it must not sign anyone in here. */
static void test_token_for_client(void)
{
	struct ts_config cfg, pcfg;
	struct oauth_client *c = client("conf", &cfg), *p = client("public", &pcfg);
	struct oauth_tokens mine = {0}, theirs = {0};
	struct oauth_identity id;
	struct oauth_error e;

	login(c, "alice", "alice-pw", &mine);
	login(p, "alice", "alice-pw", &theirs);
	memset(&id, 0, sizeof(id));
	CHECK_INT(oauth_introspect(c, mine.access_token, &id, &e), 0);
	CHECK_STR(id.client_id, idp.conf_client);
	CHECK(oauth_identity_for_client(c, &id));
	memset(&id, 0, sizeof(id));
	CHECK_INT(oauth_introspect(c, theirs.access_token, &id, &e), 0);
	CHECK(id.active);
	CHECK_STR(id.sub, "sub-alice");
	CHECK_STR(id.client_id, idp.public_client);
	CHECK(!id.aud_has_client);
	CHECK(!oauth_identity_for_client(c, &id));
	/* userinfo names no client: never for_client */
	memset(&id, 0, sizeof(id));
	CHECK_INT(oauth_userinfo(c, mine.access_token, &id, &e), 0);
	CHECK(!oauth_identity_for_client(c, &id));
	oauth_tokens_clear(&mine);
	oauth_tokens_clear(&theirs);
	oauth_client_free(p);
	oauth_client_free(c);
}

static void test_revocation(void)
{
	struct ts_config cfg;
	struct oauth_client *c = client("conf", &cfg);
	struct oauth_tokens t = {0}, t2 = {0};
	struct oauth_error e;
	long n;

	login(c, "bob", "bob-pw", &t);
	n = ts_idp_count(&idp, "revocation");
	CHECK_INT(oauth_revoke(c, t.refresh_token, "refresh_token", &e), 0);
	CHECK_INT(ts_idp_count(&idp, "revocation"), n + 1);
	CHECK_INT(oauth_refresh(c, t.refresh_token, NULL, &t2, &e), TS_E_NEEDS_LOGIN);
	tu_check_clean(&e);
	/* revoking an unknown token is still 200 = ok */
	CHECK_INT(oauth_revoke(c, t.refresh_token, "refresh_token", &e), 0);
	oauth_tokens_clear(&t);
	oauth_client_free(c);
}

/* ---- device flow --------------------------------------------------------- */

struct approver {
	pthread_t th;
	bool started;
	char code[64];
	const char *login, *password;
	int deny;
	int rc;
	int shown;
};

static void *approve_main(void *arg)
{
	struct approver *a = arg;

	a->rc = ts_idp_approve_device(&idp, a->code, a->login, a->password, a->deny);
	return NULL;
}

static int show(void *ctx, const struct oauth_device *dev)
{
	struct approver *a = ctx;

	a->shown++;
	CHECK(dev->user_code[0]);
	CHECK(strncmp(dev->verification_uri, idp.issuer, strlen(idp.issuer)) == 0);
	CHECK(dev->expires_in > 0);
	tu_secret(dev->device_code);
	if (!a->login)
		return 0;
	(void)snprintf(a->code, sizeof(a->code), "%s", dev->user_code);
	CHECK_INT(pthread_create(&a->th, NULL, approve_main, a), 0);
	a->started = true;
	return 0;
}

static int device(const char *login, const char *pw, int deny, time_t deadline,
                  struct oauth_tokens *t, struct oauth_error *e, struct approver *a)
{
	struct ts_config cfg;
	struct oauth_client *c = client("conf", &cfg);
	struct oauth_device dev = {0};
	int r;

	memset(a, 0, sizeof(*a));
	a->login = login;
	a->password = pw;
	a->deny = deny;
	CHECK_INT(oauth_client_set_time_scale(c, 0.05), 0); /* 5 s interval: 250 ms */
	r = oauth_device_login(c, &dev, show, NULL, a, deadline, t, e);
	if (a->started)
		CHECK_INT(pthread_join(a->th, NULL), 0);
	CHECK_INT(a->shown, 1);
	CHECK(dev.device_code != NULL);
	oauth_device_clear(&dev);
	oauth_client_free(c);
	return r;
}

static void test_device_approved(void)
{
	struct oauth_tokens t = {0};
	struct oauth_error e;
	struct approver a;
	long n = ts_idp_count(&idp, "device_authorization");

	CHECK_INT(device("alice", "alice-pw", 0, 0, &t, &e, &a), 0);
	CHECK_INT(a.rc, 0);
	remember(&t);
	CHECK_INT(ts_idp_count(&idp, "device_authorization"), n + 1);
	CHECK(t.access_token && t.refresh_token);
	CHECK(t.id.present);
	CHECK_STR(t.id.sub, "sub-alice");
	tu_check_clean(&e);
	oauth_tokens_clear(&t);
}

static void test_device_denied(void)
{
	struct oauth_tokens t = {0};
	struct oauth_error e;
	struct approver a;

	CHECK_INT(device("alice", "alice-pw", 1, 0, &t, &e, &a), TS_E_DENIED);
	CHECK_STR(e.error, "access_denied");
	CHECK(t.access_token == NULL);
	tu_check_clean(&e);
	fprintf(stderr, "   message: %s\n", e.message);
}

static void test_device_deadline(void)
{
	struct oauth_tokens t = {0};
	struct oauth_error e;
	struct approver a;
	struct timespec now;
	long long t0 = tu_now_ms(), el;

	clock_gettime(CLOCK_MONOTONIC, &now);
	CHECK_INT(device(NULL, NULL, 0, now.tv_sec + 2, &t, &e, &a), TS_E_EXPIRED);
	el = tu_now_ms() - t0;
	CHECK_MSG(el < 4000, "deadline overrun: %lld ms", el);
	CHECK(t.access_token == NULL);
	CHECK(e.message[0]);
	tu_check_clean(&e);
}

/* ---- TLS trust ------------------------------------------------------------ */

static void test_tls(void)
{
	struct ts_config cfg;
	struct oauth_client *c;
	struct oauth_error e;

	/* the system store does not know the test CA: configuration error */
	tu_config(&cfg, idp.issuer, idp.conf_client, idp.secret_file, NULL);
	CHECK_INT(oauth_client_new(&c, &cfg, &e), 0);
	CHECK_INT(oauth_discover(c, &e), TS_E_SERVER_CONFIG);
	CHECK(e.message[0]);
	fprintf(stderr, "   message: %s\n", e.message);
	oauth_client_free(c);

	/* a CA file that is missing */
	tu_config(&cfg, idp.issuer, idp.conf_client, idp.secret_file, "/nonexistent/ca.pem");
	CHECK_INT(oauth_client_new(&c, &cfg, &e), 0);
	CHECK_INT(oauth_discover(c, &e), TS_E_SERVER_CONFIG);
	CHECK(strstr(e.message, "/nonexistent/ca.pem") != NULL);
	oauth_client_free(c);
}

int main(void)
{
	struct oauth_error e;

	CHECK_INT(oauth_global_init(), 0);
	tu_capture_logs();
	CHECK_INT(ts_idp_start(&idp, 0), 0);
	tu_secret("alice-pw");
	tu_secret("bob-pw");
	tu_secret("carol-pw");
	{
		char *s = ts_test_read_file(idp.secret_file, NULL);
		tu_secret(s);
		free(s);
	}
	RUN(test_discovery);
	RUN(test_password);
	RUN(test_refresh_rotation_and_reuse);
	RUN(test_identity_changed);
	RUN(test_client_credentials);
	RUN(test_introspection_and_userinfo);
	RUN(test_token_for_client);
	RUN(test_revocation);
	RUN(test_device_approved);
	RUN(test_device_denied);
	RUN(test_device_deadline);
	RUN(test_tls);
	memset(&e, 0, sizeof(e));
	tu_check_clean(&e);
	ts_idp_stop(&idp);
	return ts_test_done();
}
