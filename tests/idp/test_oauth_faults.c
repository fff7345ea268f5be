/* SPDX-License-Identifier: MIT */
/*
 * oauth/ against the fault injector (tests/fixtures/faults): every broken
 * answer maps to the right taxonomy class, within http_timeout (+2 s), with
 * a non-empty message that carries no token text; the device poll honours
 * slow_down (+5 s for this and every later poll, measured at the server);
 * a refresh answered without a refresh_token keeps the old one.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "oauth.h"
#include "oauth_testing.h"
#include "test_oauth_util.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_test.h"

#define TIMEOUT 2
#define SCALE 0.1 /* device waits: 1 s interval = 100 ms, slow_down +500 ms */

static struct ts_faults f;
static char secret_path[600];

enum op { DISCOVER, TOKEN, REFRESH, USERINFO, INTROSPECT, REVOKE, DEVICE };
static const char *const op_name[] = {"discover",   "password", "refresh", "userinfo",
                                      "introspect", "revoke",   "device"};

struct fcase {
	const char *name;
	enum op op;
	int expect;
};

static const struct fcase cases[] = {
    {"ok", DISCOVER, 0},
    {"ok", TOKEN, 0},
    {"ok", REFRESH, 0},
    {"ok", USERINFO, 0},
    {"ok", INTROSPECT, 0},
    {"ok", REVOKE, 0},
    {"ok", DEVICE, 0},
    {"malformed-json", TOKEN, TS_E_BAD_ANSWER},
    {"malformed-json", USERINFO, TS_E_BAD_ANSWER},
    {"malformed-json", INTROSPECT, TS_E_BAD_ANSWER},
    {"malformed-json", DEVICE, TS_E_BAD_ANSWER},
    {"wrong-shape", TOKEN, TS_E_BAD_ANSWER},
    {"wrong-shape", USERINFO, TS_E_BAD_ANSWER},
    {"wrong-shape", INTROSPECT, TS_E_BAD_ANSWER},
    {"wrong-shape", DEVICE, TS_E_BAD_ANSWER},
    {"wrong-shape", REVOKE, 0}, /* 200 = revoked, whatever the body */
    {"wrong-shape-array", TOKEN, TS_E_BAD_ANSWER},
    {"huge", TOKEN, TS_E_BAD_ANSWER},
    {"huge", USERINFO, TS_E_BAD_ANSWER},
    {"stall", TOKEN, TS_E_UNAVAILABLE},
    {"stall", INTROSPECT, TS_E_UNAVAILABLE},
    {"reset", TOKEN, TS_E_UNAVAILABLE},
    {"reset", USERINFO, TS_E_UNAVAILABLE},
    {"wrong-content-type", TOKEN, TS_E_BAD_ANSWER},
    {"wrong-content-type", USERINFO, TS_E_BAD_ANSWER},
    {"wrong-content-type", INTROSPECT, TS_E_BAD_ANSWER},
    {"expires-negative", TOKEN, 0},
    {"expires-zero", TOKEN, 0},
    {"expires-string", TOKEN, 0},
    {"expires-huge", TOKEN, 0},
    {"expires-huge", REFRESH, 0},
    {"token-type-mac", TOKEN, 0},
    {"token-type-mac", REFRESH, 0},
    {"refresh-odd-fields", REFRESH, 0},
    {"refused-empty-body", REFRESH, TS_E_NEEDS_LOGIN},
    {"refused-empty-body", TOKEN, TS_E_NEEDS_LOGIN},
    {"refused-json-no-error", REFRESH, TS_E_SERVER_CONFIG},
    {"unknown-error-code", REFRESH, TS_E_UNAVAILABLE},
    {"login-required", REFRESH, TS_E_NEEDS_LOGIN},
    {"discovery-other-issuer", DISCOVER, TS_E_SERVER_CONFIG},
    {"discovery-other-issuer", TOKEN, TS_E_SERVER_CONFIG},
    {"redirect-other-host", TOKEN, TS_E_BAD_ANSWER},
    {"redirect-other-host", USERINFO, TS_E_BAD_ANSWER},
    {"error-200", TOKEN, TS_E_NEEDS_LOGIN},
    {"error-200", REFRESH, TS_E_NEEDS_LOGIN},
    {"error-200", INTROSPECT, TS_E_SERVER_CONFIG}, /* about our client, not the grant */
    {"http-500", TOKEN, TS_E_UNAVAILABLE},
    {"http-500", REFRESH, TS_E_UNAVAILABLE},
    {"http-503-retry-after", TOKEN, TS_E_UNAVAILABLE},
    {"http-429", REFRESH, TS_E_UNAVAILABLE},
    {"http-429", USERINFO, TS_E_UNAVAILABLE},
    {"userinfo-401-bare", USERINFO, TS_E_REJECTED_TOKEN},
    {"userinfo-401-invalid-token", USERINFO, TS_E_REJECTED_TOKEN},
    {"userinfo-403-insufficient-scope", USERINFO, TS_E_SERVER_CONFIG},
    {"revoke-503", REVOKE, TS_E_UNAVAILABLE},
    {"device-expired", DEVICE, TS_E_EXPIRED},
    {"device-denied", DEVICE, TS_E_DENIED},
    {"device-pending-forever", DEVICE, TS_E_EXPIRED},
    {"introspect-inactive", INTROSPECT, TS_E_REJECTED_TOKEN},
};

static struct oauth_client *client_for(const char *name, struct ts_config *cfg)
{
	struct oauth_client *c = NULL;
	struct oauth_error e;
	char issuer[300];

	CHECK_INT(ts_faults_issuer(&f, name, issuer, sizeof(issuer)), 0);
	tu_config(cfg, issuer, "tokenseal-conf", secret_path, f.ca);
	cfg->http_timeout = TIMEOUT;
	CHECK_INT(oauth_client_new(&c, cfg, &e), 0);
	CHECK_INT(oauth_client_set_time_scale(c, SCALE), 0);
	return c;
}

static void check_message(const struct fcase *k, const struct oauth_error *e)
{
	static const char *const leaks[] = {"fault-at",
	                                    "fault-rt",
	                                    "fault-dc",
	                                    "fault-stall",
	                                    "fault-re",
	                                    "not-json",
	                                    "adijq39jdlaska9asud",
	                                    "AAAAAAAAAAAAAAAA"};

	CHECK_MSG(e->message[0], "%s/%s: empty message", k->name, op_name[k->op]);
	for (size_t i = 0; i < TS_ARRAY_SIZE(leaks); i++)
		CHECK_MSG(!strstr(e->message, leaks[i]) && !strstr(e->description, leaks[i]),
		          "%s/%s: token text in the message: %s", k->name, op_name[k->op],
		          e->message);
}

static int run(struct oauth_client *c, enum op op, struct oauth_tokens *t,
               struct oauth_identity *id, struct oauth_error *e)
{
	struct timespec now;

	switch (op) {
	case DISCOVER:
		return oauth_discover(c, e);
	case TOKEN:
		return oauth_password_grant(c, "alice", "alice-pw", t, e);
	case REFRESH:
		return oauth_refresh(c, "my-old-refresh-token", NULL, t, e);
	case USERINFO:
		return oauth_userinfo(c, "my-access-token-xyz", id, e);
	case INTROSPECT:
		return oauth_introspect(c, "my-access-token-xyz", id, e);
	case REVOKE:
		return oauth_revoke(c, "my-old-refresh-token", "refresh_token", e);
	case DEVICE: {
		struct oauth_device dev = {0};
		int r;
		clock_gettime(CLOCK_MONOTONIC, &now);
		r = oauth_device_login(c, &dev, NULL, NULL, NULL, now.tv_sec + 2, t, e);
		oauth_device_clear(&dev);
		return r;
	}
	}
	return -EINVAL;
}

static void test_cases(void)
{
	for (size_t i = 0; i < TS_ARRAY_SIZE(cases); i++) {
		const struct fcase *k = &cases[i];
		struct ts_config cfg;
		struct oauth_client *c = client_for(k->name, &cfg);
		struct oauth_tokens t = {0};
		struct oauth_identity id = {0};
		struct oauth_error e;
		long long t0 = tu_now_ms(), el;
		int r;

		r = run(c, k->op, &t, &id, &e);
		el = tu_now_ms() - t0;
		fprintf(stderr, "   %-32s %-10s %5d %5lld ms  %s\n", k->name, op_name[k->op], r, el,
		        r < 0 ? e.message : "ok");
		CHECK_MSG(r == k->expect, "%s/%s: got %d (%s), expected %d", k->name,
		          op_name[k->op], r, ts_strerror(r), k->expect);
		CHECK_MSG(el < (TIMEOUT + 2) * 1000 + (k->op == DEVICE ? 1000 : 0),
		          "%s/%s: took %lld ms", k->name, op_name[k->op], el);
		if (r < 0) {
			CHECK_INT(e.code, r);
			check_message(k, &e);
			CHECK(t.access_token == NULL);
		}
		if (r == 0 && (k->op == TOKEN || k->op == REFRESH || k->op == DEVICE)) {
			CHECK(t.access_token != NULL);
			tu_secret(t.access_token);
			tu_secret(t.refresh_token);
		}
		tu_check_clean(&e);
		oauth_tokens_clear(&t);
		oauth_client_free(c);
	}
}

static void test_details(void)
{
	struct ts_config cfg;
	struct oauth_client *c;
	struct oauth_tokens t = {0};
	struct oauth_identity id;
	struct oauth_error e;

	c = client_for("http-503-retry-after", &cfg);
	CHECK_INT(run(c, TOKEN, &t, &id, &e), TS_E_UNAVAILABLE);
	CHECK_INT(e.http_status, 503);
	CHECK_INT(e.retry_after, 7);
	oauth_client_free(c);

	c = client_for("http-429", &cfg);
	CHECK_INT(run(c, TOKEN, &t, &id, &e), TS_E_UNAVAILABLE);
	CHECK_INT(e.http_status, 429);
	CHECK_INT(e.retry_after, 3);
	oauth_client_free(c);

	c = client_for("redirect-other-host", &cfg);
	CHECK_INT(run(c, TOKEN, &t, &id, &e), TS_E_BAD_ANSWER);
	CHECK(strstr(e.message, "https://127.0.0.2:") != NULL);
	CHECK(strstr(e.message, "/case/ok") == NULL); /* only the origin */
	oauth_client_free(c);

	c = client_for("stall", &cfg);
	CHECK_INT(run(c, TOKEN, &t, &id, &e), TS_E_UNAVAILABLE);
	CHECK(strstr(e.message, "timed out after 2 s") != NULL);
	oauth_client_free(c);

	c = client_for("huge", &cfg);
	CHECK_INT(run(c, TOKEN, &t, &id, &e), TS_E_BAD_ANSWER);
	CHECK(strstr(e.message, "larger than 65536 bytes") != NULL);
	oauth_client_free(c);

	/* refused for its Content-Type, before any parsing */
	c = client_for("wrong-content-type", &cfg);
	CHECK_INT(run(c, TOKEN, &t, &id, &e), TS_E_BAD_ANSWER);
	CHECK(strstr(e.message, "content type \"text/html") != NULL);
	oauth_client_free(c);

	c = client_for("discovery-other-issuer", &cfg);
	CHECK_INT(run(c, DISCOVER, &t, &id, &e), TS_E_SERVER_CONFIG);
	CHECK(strstr(e.message, "https://evil.example") != NULL);
	oauth_client_free(c);

	c = client_for("error-200", &cfg);
	CHECK_INT(run(c, REFRESH, &t, &id, &e), TS_E_NEEDS_LOGIN);
	CHECK_STR(e.error, "invalid_grant");
	CHECK_INT(e.http_status, 200);
	oauth_client_free(c);

	c = client_for("userinfo-401-invalid-token", &cfg);
	CHECK_INT(run(c, USERINFO, &t, &id, &e), TS_E_REJECTED_TOKEN);
	CHECK_STR(e.error, "invalid_token");
	CHECK_STR(e.description, "The access token expired");
	oauth_client_free(c);

	c = client_for("userinfo-403-insufficient-scope", &cfg);
	CHECK_INT(run(c, USERINFO, &t, &id, &e), TS_E_SERVER_CONFIG);
	CHECK_STR(e.error, "insufficient_scope");
	oauth_client_free(c);

	c = client_for("introspect-inactive", &cfg);
	id.active = true;
	CHECK_INT(run(c, INTROSPECT, &t, &id, &e), TS_E_REJECTED_TOKEN);
	CHECK(!id.active);
	oauth_client_free(c);

	c = client_for("ok", &cfg);
	CHECK_INT(run(c, USERINFO, &t, &id, &e), 0);
	CHECK_STR(id.sub, "sub-alice");
	CHECK_STR(id.username, "alice");
	CHECK(oauth_clock_skew(c) > -60 && oauth_clock_skew(c) < 60);
	oauth_client_free(c);
}

static void test_refresh_keeps_old(void)
{
	struct ts_config cfg;
	struct oauth_client *c = client_for("refresh-no-rotation", &cfg);
	struct oauth_tokens t = {0};
	struct oauth_error e;

	CHECK_INT(oauth_refresh(c, "my-old-refresh-token", NULL, &t, &e), 0);
	CHECK(t.access_token != NULL);
	CHECK_STR(t.refresh_token, "my-old-refresh-token");
	oauth_tokens_clear(&t);
	oauth_client_free(c);

	/* and with a new one, the new one */
	c = client_for("ok", &cfg);
	CHECK_INT(oauth_refresh(c, "my-old-refresh-token", NULL, &t, &e), 0);
	CHECK(t.refresh_token && strncmp(t.refresh_token, "fault-rt-", 9) == 0);
	oauth_tokens_clear(&t);
	oauth_client_free(c);
}

/* A refresh the server accepted is never thrown away: the new refresh token
 * out of a 200 whose other fields all fail their checks (defaulted, noted). */
static void test_refresh_odd_fields(void)
{
	struct ts_config cfg;
	struct oauth_client *c = client_for("refresh-odd-fields", &cfg);
	struct oauth_tokens t = {0};
	struct oauth_error e;

	CHECK_INT(oauth_refresh(c, "my-old-refresh-token", NULL, &t, &e), 0);
	CHECK(t.access_token && strncmp(t.access_token, "fault-at-", 9) == 0);
	CHECK(t.refresh_token && strncmp(t.refresh_token, "fault-rt-odd-", 13) == 0);
	CHECK_INT(t.expires_in, OAUTH_DEFAULT_EXPIRES_IN);
	CHECK(t.scope == NULL);
	CHECK(t.id_token == NULL && !t.id.present);
	CHECK_STR(t.warnings,
	          "\"id_token\" is malformed or has a claim longer than 255 bytes; ignored; "
	          "\"token_type\" is \"mac\", not Bearer; used as Bearer; \"expires_in\" is not "
	          "an integer; assumed 3600 s; \"scope\" is longer than 4096 bytes; ignored");
	tu_secret(t.access_token);
	tu_secret(t.refresh_token);
	oauth_tokens_clear(&t);
	oauth_client_free(c);

	/* 2^63 (too big for jansson) in a refresh answer: the new token is kept */
	c = client_for("expires-huge", &cfg);
	CHECK_INT(oauth_refresh(c, "my-old-refresh-token", NULL, &t, &e), 0);
	CHECK(t.refresh_token && strncmp(t.refresh_token, "fault-rt-", 9) == 0);
	CHECK_STR(t.warnings, "\"expires_in\" is not an integer; assumed 3600 s");
	oauth_tokens_clear(&t);
	oauth_client_free(c);
}

/* Refusals without a usable OAuth error (glewlwyd 2.7.5's empty bodies) are
 * refusals, with the HTTP status in the message; 5xx stays temporary. */
static void test_refused_without_error(void)
{
	struct ts_config cfg;
	struct oauth_client *c = client_for("refused-empty-body", &cfg);
	struct oauth_tokens t = {0};
	struct oauth_identity id;
	struct oauth_error e;
	char issuer[300], expect[600];

	CHECK_INT(ts_faults_issuer(&f, "refused-empty-body", issuer, sizeof(issuer)), 0);
	CHECK_INT(run(c, REFRESH, &t, &id, &e), TS_E_NEEDS_LOGIN);
	(void)snprintf(expect, sizeof(expect),
	               "%s: the server refused the refresh token (HTTP 400, no error given)", issuer);
	CHECK_STR(e.message, expect);
	CHECK_INT(e.http_status, 400);
	CHECK_STR(e.error, "");
	CHECK_INT(run(c, TOKEN, &t, &id, &e), TS_E_NEEDS_LOGIN);
	(void)snprintf(expect, sizeof(expect),
	               "%s: the server refused the user name or password (HTTP 403, no error "
	               "given)",
	               issuer);
	CHECK_STR(e.message, expect);
	CHECK_INT(e.http_status, 403);
	/* client credentials: a bare refusal is still about the client */
	CHECK_INT(oauth_client_credentials(c, &t, &e), TS_E_BAD_ANSWER);
	oauth_client_free(c);

	/* a bare 401 is the client's authentication (RFC 6749 §5.2): a
	 * configuration error that marks no credential as refused */
	c = client_for("refused-json-no-error", &cfg);
	CHECK_INT(run(c, REFRESH, &t, &id, &e), TS_E_SERVER_CONFIG);
	CHECK(strstr(e.message, ": the server refused this client's authentication (HTTP 401, no "
	                        "error given); check client_id and client_secret_file"));
	CHECK_INT(e.http_status, 401);
	oauth_client_free(c);

	c = client_for("unknown-error-code", &cfg);
	CHECK_INT(run(c, REFRESH, &t, &id, &e), TS_E_UNAVAILABLE);
	CHECK_STR(e.error, "something_new");
	CHECK(strstr(e.message, ": the server answered with an error code tokenseal does not "
	                        "know: something_new (fault injector: something_new); treated as "
	                        "temporary"));
	oauth_client_free(c);

	c = client_for("http-500", &cfg);
	CHECK_INT(run(c, REFRESH, &t, &id, &e), TS_E_UNAVAILABLE);
	CHECK_INT(e.http_status, 500);
	oauth_client_free(c);
}

static size_t collect(char *p, size_t s, size_t n, void *ud)
{
	char *buf = ud;
	size_t have = strlen(buf);

	if (have + s * n < 8192) {
		memcpy(buf + have, p, s * n);
		buf[have + s * n] = '\0';
	}
	return s * n;
}

static json_t *case_stats(const char *name)
{
	char url[400], body[8192] = "";
	CURL *h = curl_easy_init();
	json_t *j;

	(void)snprintf(url, sizeof(url), "%s/__stats?case=%s", f.base, name);
	CHECK(h != NULL);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, f.ca);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	CHECK_INT(curl_easy_perform(h), CURLE_OK);
	curl_easy_cleanup(h);
	j = json_loads(body, 0, NULL);
	CHECK(j != NULL);
	return j;
}

/* requests of one endpoint of a case so far */
static long requests(const char *name, const char *ep)
{
	json_t *j = case_stats(name);
	long n = (long)json_integer_value(json_object_get(json_object_get(j, "requests"), ep));

	json_decref(j);
	return n;
}

/* Retries of refresh and revalidation: bounded, inside http_timeout, after
 * Retry-After, and never a resent refresh whose outcome is unknown. */
static void test_retries(void)
{
	struct ts_config cfg;
	struct oauth_client *c;
	struct oauth_tokens t = {0};
	struct oauth_identity id;
	struct oauth_error e;
	long long t0, el;
	long n;
	json_t *j, *times;

	/* 503, then 200: success, two requests */
	c = client_for("503-then-ok", &cfg);
	n = requests("503-then-ok", "token");
	CHECK_INT(run(c, REFRESH, &t, &id, &e), 0);
	CHECK(t.refresh_token && strncmp(t.refresh_token, "fault-rt-", 9) == 0);
	oauth_tokens_clear(&t);
	CHECK_INT(requests("503-then-ok", "token"), n + 2);
	n = requests("503-then-ok", "introspect");
	CHECK_INT(run(c, INTROSPECT, &t, &id, &e), 0);
	CHECK_INT(requests("503-then-ok", "introspect"), n + 2);
	n = requests("503-then-ok", "userinfo");
	CHECK_INT(run(c, USERINFO, &t, &id, &e), 0);
	CHECK_INT(requests("503-then-ok", "userinfo"), n + 2);
	/* a password grant is not retried */
	n = requests("503-then-ok", "token");
	CHECK_INT(run(c, TOKEN, &t, &id, &e), TS_E_UNAVAILABLE);
	CHECK_INT(requests("503-then-ok", "token"), n + 1);
	oauth_client_free(c);

	/* 429 with Retry-After: 1: the second request at least 1 s later */
	c = client_for("429-then-ok", &cfg);
	CHECK_INT(run(c, REFRESH, &t, &id, &e), 0);
	oauth_tokens_clear(&t);
	j = case_stats("429-then-ok");
	times = json_object_get(json_object_get(j, "request_times"), "token");
	CHECK_INT(json_array_size(times), 2);
	el = (long long)(json_number_value(json_array_get(times, 1)) -
	                 json_number_value(json_array_get(times, 0)));
	fprintf(stderr, "   429 Retry-After 1: second request after %lld ms\n", el);
	CHECK_MSG(el >= 1000 && el < 1900, "second request after %lld ms", el);
	json_decref(j);
	oauth_client_free(c);

	/* persistent 503: TS_E_UNAVAILABLE within http_timeout, a few tries */
	c = client_for("http-500", &cfg);
	n = requests("http-500", "token");
	t0 = tu_now_ms();
	CHECK_INT(run(c, REFRESH, &t, &id, &e), TS_E_UNAVAILABLE);
	el = tu_now_ms() - t0;
	CHECK_MSG(el < TIMEOUT * 1000 + 300, "persistent 500 took %lld ms", el);
	CHECK(strstr(e.message, "is temporarily unavailable: HTTP 500") != NULL);
	CHECK_INT(requests("http-500", "token"), n + 3); /* at 0, 250, 750 ms; 1750 > 2000-250 */
	oauth_client_free(c);

	/* a Retry-After beyond the time left: no second request, at once */
	c = client_for("http-503-retry-after", &cfg);
	n = requests("http-503-retry-after", "introspect");
	t0 = tu_now_ms();
	CHECK_INT(run(c, INTROSPECT, &t, &id, &e), TS_E_UNAVAILABLE);
	CHECK(tu_now_ms() - t0 < 1000);
	CHECK_INT(e.retry_after, 7);
	CHECK_INT(requests("http-503-retry-after", "introspect"), n + 1);
	oauth_client_free(c);

	/* a connection reset after the refresh was sent: never resent */
	c = client_for("reset", &cfg);
	n = requests("reset", "token");
	CHECK_INT(run(c, REFRESH, &t, &id, &e), TS_E_UNAVAILABLE);
	CHECK_INT(requests("reset", "token"), n + 1);
	/* ... but userinfo (idempotent) is tried again */
	n = requests("reset", "userinfo");
	CHECK_INT(run(c, USERINFO, &t, &id, &e), TS_E_UNAVAILABLE);
	CHECK(requests("reset", "userinfo") >= n + 2);
	oauth_client_free(c);

	/* a timeout after sending: never resent either, and within http_timeout */
	c = client_for("stall", &cfg);
	n = requests("stall", "token");
	t0 = tu_now_ms();
	CHECK_INT(run(c, REFRESH, &t, &id, &e), TS_E_UNAVAILABLE);
	CHECK(tu_now_ms() - t0 < TIMEOUT * 1000 + 300);
	CHECK_INT(requests("stall", "token"), n + 1);
	oauth_client_free(c);
}

static void test_slow_down(void)
{
	struct ts_config cfg;
	struct oauth_client *c = client_for("device-slow-down", &cfg);
	struct oauth_tokens t = {0};
	struct oauth_device dev = {0};
	struct oauth_error e;
	char url[400], body[8192] = "";
	CURL *h;
	json_t *j, *times;
	long long d[3];

	CHECK_INT(oauth_device_start(c, &dev, &e), 0);
	CHECK_INT(dev.interval, 1);
	CHECK_INT(oauth_device_poll(c, &dev, 0, NULL, NULL, &t, &e), 0);
	CHECK(t.access_token != NULL);
	oauth_tokens_clear(&t);
	oauth_device_clear(&dev);
	oauth_client_free(c);

	(void)snprintf(url, sizeof(url), "%s/__stats?case=device-slow-down", f.base);
	h = curl_easy_init();
	CHECK(h != NULL);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, f.ca);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	CHECK_INT(curl_easy_perform(h), CURLE_OK);
	curl_easy_cleanup(h);
	j = json_loads(body, 0, NULL);
	CHECK(j != NULL);
	CHECK_INT(json_integer_value(json_object_get(j, "polls")), 4);
	times = json_object_get(j, "poll_times");
	CHECK_INT(json_array_size(times), 4);
	for (size_t i = 0; i < 3; i++)
		d[i] = (long long)(json_number_value(json_array_get(times, i + 1)) -
		                   json_number_value(json_array_get(times, i)));
	json_decref(j);
	fprintf(stderr, "   gaps between polls: %lld %lld %lld ms\n", d[0], d[1], d[2]);
	/* interval 1 s; slow_down -> 6 s; slow_down -> 11 s; pending -> 11 s (x SCALE) */
	/* Lower bounds: each slow_down adds 5 s (500 ms here) for this and
	 * every later poll. Upper bounds leave room for a loaded CI machine but
	 * still catch the wrong rules: gap 1 ~1100 (+5 s twice at once), gaps
	 * 2 and 3 ~2100 (the increase doubled instead of added). */
	CHECK_MSG(d[0] >= 580 && d[0] < 1000, "gap 1: %lld ms, expected ~600", d[0]);
	CHECK_MSG(d[1] >= 1080 && d[1] < 1900, "gap 2: %lld ms, expected ~1100", d[1]);
	CHECK_MSG(d[2] >= 1080 && d[2] < 1900, "gap 3: %lld ms, expected ~1100", d[2]);
}

int main(void)
{
	CHECK_INT(oauth_global_init(), 0);
	tu_capture_logs();
	CHECK_INT(ts_faults_start(&f), 0);
	(void)snprintf(secret_path, sizeof(secret_path), "%s/client-secret", ts_test_tmpdir());
	ts_test_write_file(secret_path, "fault-client-secret", 19, 0600);
	tu_secret("fault-client-secret");
	tu_secret("alice-pw");
	tu_secret("my-old-refresh-token");
	tu_secret("my-access-token-xyz");
	RUN(test_cases);
	RUN(test_details);
	RUN(test_refresh_keeps_old);
	RUN(test_refresh_odd_fields);
	RUN(test_refused_without_error);
	RUN(test_retries);
	RUN(test_slow_down);
	ts_faults_stop(&f);
	return ts_test_done();
}
