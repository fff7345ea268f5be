/* SPDX-License-Identifier: MIT */
/*
 * The oauth/ parsers on hand-made server answers: token responses (every
 * expires_in / token_type rule, errors with HTTP 200), introspection, device
 * authorization, discovery, id_token claims. No server needed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "oauth.h"
#include "oauth_testing.h"
#include "ts_config.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "ts_test.h"
#include "ts_url.h"

#define TOK(body, status, t, e) oauth_parse_token_response(t, status, body, strlen(body), e)

static void test_token_ok(void)
{
	struct oauth_tokens t = {0};
	struct oauth_error e = {0};
	const char *b = "{\"access_token\":\"AT-1\",\"token_type\":\"bearer\",\"expires_in\":60,"
	                "\"refresh_token\":\"RT-1\",\"scope\":\"openid\"}";

	CHECK_INT(TOK(b, 200, &t, &e), 0);
	CHECK_STR(t.access_token, "AT-1");
	CHECK_STR(t.refresh_token, "RT-1");
	CHECK_STR(t.scope, "openid");
	CHECK_INT(t.expires_in, 60);
	CHECK(t.id_token == NULL);
	CHECK(!t.id.present);
	oauth_tokens_clear(&t);
	CHECK(t.access_token == NULL);

	/* expires_in missing: the default; no refresh token: NULL */
	b = "{\"access_token\":\"AT-2\",\"token_type\":\"Bearer\"}";
	CHECK_INT(TOK(b, 200, &t, &e), 0);
	CHECK_INT(t.expires_in, OAUTH_DEFAULT_EXPIRES_IN);
	CHECK(t.refresh_token == NULL);
	oauth_tokens_clear(&t);

	/* the longest lifetime allowed */
	b = "{\"access_token\":\"A\",\"token_type\":\"Bearer\",\"expires_in\":315360000}";
	CHECK_INT(TOK(b, 200, &t, &e), 0);
	CHECK_INT(t.expires_in, 315360000);
	oauth_tokens_clear(&t);

	/* the body is not NUL-terminated: only len bytes count */
	b = "{\"access_token\":\"A\",\"token_type\":\"Bearer\"}GARBAGE";
	CHECK_INT(oauth_parse_token_response(&t, 200, b, strlen(b) - 7, &e), 0);
	oauth_tokens_clear(&t);
}

/* header.payload.sig with payload base64url-encoded */
static void make_jwt(char *out, size_t outlen, const char *payload)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(payload), o;

	o = (size_t)snprintf(out, outlen, "eyJhbGciOiJSUzI1NiJ9.");
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)(unsigned char)payload[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)(unsigned char)payload[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)payload[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = tab[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = tab[v & 63];
	}
	(void)snprintf(out + o, outlen - o, ".c2ln");
}

static void expect_protocol(const char *b, const char *what)
{
	struct oauth_tokens t = {0};
	struct oauth_error e = {0};
	int r = TOK(b, 200, &t, &e);

	CHECK_MSG(r == TS_E_BAD_ANSWER, "%s: got %d, expected TS_E_BAD_ANSWER", what, r);
	CHECK_MSG(e.message[0] != '\0', "%s: empty message", what);
	CHECK_MSG(t.access_token == NULL, "%s: output touched on failure", what);
	CHECK_MSG(strstr(e.message, "SECRET") == NULL, "%s: token in message: %s", what, e.message);
}

/* Only a 2xx without a usable access_token (or not a JSON object) is
 * malformed: the server may already have rotated the refresh token. */
static void test_token_bad(void)
{
	expect_protocol("{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\"", "truncated");
	expect_protocol("{\"token_type\":\"Bearer\",\"refresh_token\":\"SECRET\"}",
	                "no access_token");
	expect_protocol("{\"access_token\":42,\"token_type\":\"Bearer\"}", "numeric token");
	expect_protocol("{\"access_token\":\"\",\"token_type\":\"Bearer\"}", "empty token");
	expect_protocol("[\"SECRET\"]", "array");
	expect_protocol("", "empty");
	expect_protocol("{\"access_token\":\"SECRET\",\"access_token\":\"SECRET\","
	                "\"token_type\":\"Bearer\"}",
	                "duplicate keys");
	expect_protocol("{\"access_token\":\"SE\\u0000CRET\",\"token_type\":\"Bearer\"}",
	                "embedded NUL");
	expect_protocol("{\"error\":42}", "error not a string");
	expect_protocol("{\"access_token\":\"A\",\"token_type\":\"Bearer\",\"expires_in\":"
	                "9223372036854775808,\"error\":42}",
	                "big integer and an error");
}

/* A 2xx answer: the tokens come out, a field that fails its checks is
 * defaulted and noted in warnings (exact text), never fatal. */
static void lenient(const char *fields, long long expires, const char *warnings)
{
	struct oauth_tokens t = {0};
	struct oauth_error e = {0};
	char b[8192];
	int n = snprintf(b, sizeof(b), "{\"access_token\":\"AT-new\",\"refresh_token\":\"RT-new\"%s}",
	                 fields);

	CHECK(n > 0 && (size_t)n < sizeof(b));
	CHECK_MSG(TOK(b, 200, &t, &e) == 0, "%s: refused: %s", fields, e.message);
	CHECK_STR(t.access_token, "AT-new");
	CHECK_STR(t.refresh_token, "RT-new");
	CHECK_INT(t.expires_in, expires);
	CHECK_MSG(strcmp(t.warnings, warnings) == 0, "%.60s: warnings \"%s\", expected \"%s\"",
	          fields, t.warnings, warnings);
	oauth_tokens_clear(&t);
}

#define BEARER ",\"token_type\":\"Bearer\""
#define DEF_EXP "assumed 3600 s"

static void test_token_lenient(void)
{
	char big[6000], jwt[1024], claim[400], f[7000];

	/* clean: no warning; Bearer in any case */
	lenient(BEARER ",\"expires_in\":60", 60, "");
	lenient(",\"token_type\":\"bEaReR\",\"expires_in\":60", 60, "");
	/* token_type */
	lenient(",\"token_type\":\"mac\",\"expires_in\":60", 60,
	        "\"token_type\" is \"mac\", not Bearer; used as Bearer");
	lenient(",\"token_type\":\"Bearerx\",\"expires_in\":60", 60,
	        "\"token_type\" is \"Bearerx\", not Bearer; used as Bearer");
	lenient(",\"expires_in\":60", 60, "no \"token_type\"; taken as Bearer");
	lenient(",\"token_type\":7,\"expires_in\":60", 60, "no \"token_type\"; taken as Bearer");
	/* expires_in: missing, negative, zero, absurd, non-integer */
	lenient(BEARER, 3600, "no \"expires_in\"; " DEF_EXP);
	lenient(BEARER ",\"expires_in\":-5", 3600,
	        "\"expires_in\" = -5 is outside 1..315360000; " DEF_EXP);
	lenient(BEARER ",\"expires_in\":0", 3600,
	        "\"expires_in\" = 0 is outside 1..315360000; " DEF_EXP);
	lenient(BEARER ",\"expires_in\":315360001", 3600,
	        "\"expires_in\" = 315360001 is outside 1..315360000; " DEF_EXP);
	lenient(BEARER ",\"expires_in\":315360000", 315360000, "");
	lenient(BEARER ",\"expires_in\":\"3600\"", 3600,
	        "\"expires_in\" is not an integer; " DEF_EXP);
	lenient(BEARER ",\"expires_in\":3600.5", 3600, "\"expires_in\" is not an integer; " DEF_EXP);
	/* 2^63 does not fit jansson's integer: the body is still read */
	lenient(BEARER ",\"expires_in\":9223372036854775808", 3600,
	        "\"expires_in\" is not an integer; " DEF_EXP);
	/* scope: over-long or not a string */
	memset(big, 's', 4097);
	big[4097] = '\0';
	(void)snprintf(f, sizeof(f), BEARER ",\"expires_in\":60,\"scope\":\"%s\"", big);
	lenient(f, 60, "\"scope\" is longer than 4096 bytes; ignored");
	lenient(BEARER ",\"expires_in\":60,\"scope\":[\"openid\"]", 60,
	        "\"scope\" is not a string; ignored");
	/* id_token: a claim over 255 bytes, or not a JWT */
	memset(claim, 'x', 300);
	claim[300] = '\0';
	(void)snprintf(f, sizeof(f), "{\"iss\":\"i\",\"sub\":\"%s\",\"aud\":\"a\"}", claim);
	make_jwt(jwt, sizeof(jwt), f);
	(void)snprintf(f, sizeof(f), BEARER ",\"expires_in\":60,\"id_token\":\"%s\"", jwt);
	lenient(f, 60, "\"id_token\" is malformed or has a claim longer than 255 bytes; ignored");
	lenient(BEARER ",\"expires_in\":60,\"id_token\":\"not-a-jwt\"", 60,
	        "\"id_token\" is malformed or has a claim longer than 255 bytes; ignored");
	lenient(BEARER ",\"expires_in\":60,\"id_token\":5", 60,
	        "\"id_token\" is not a usable string; ignored");
	/* everything at once, in a fixed order */
	lenient(",\"token_type\":\"mac\",\"expires_in\":-1,\"scope\":5,\"id_token\":\"x\"", 3600,
	        "\"id_token\" is malformed or has a claim longer than 255 bytes; ignored; "
	        "\"token_type\" is \"mac\", not Bearer; used as Bearer; \"expires_in\" = -1 is "
	        "outside 1..315360000; assumed 3600 s; \"scope\" is not a string; ignored");

	/* an unusable refresh_token is dropped with a note, the access token kept */
	{
		struct oauth_tokens t = {0};
		struct oauth_error e = {0};
		const char *b = "{\"access_token\":\"AT\",\"token_type\":\"Bearer\",\"expires_in\":9,"
		                "\"refresh_token\":[1]}";
		CHECK_INT(TOK(b, 200, &t, &e), 0);
		CHECK_STR(t.access_token, "AT");
		CHECK(t.refresh_token == NULL);
		CHECK_STR(t.warnings, "\"refresh_token\" is not a usable string; ignored");
		oauth_tokens_clear(&t);
		CHECK_STR(t.warnings, "");
	}
}

static void test_token_errors(void)
{
	struct oauth_tokens t = {0};
	struct oauth_error e = {0};
	char big[2048];
	int n;

	/* an error with HTTP 200 is still an error */
	CHECK_INT(TOK("{\"error\":\"invalid_grant\",\"error_description\":\"grant revoked\"}", 200,
	              &t, &e),
	          TS_E_NEEDS_LOGIN);
	CHECK_STR(e.error, "invalid_grant");
	CHECK_STR(e.description, "grant revoked");
	CHECK(strstr(e.message, "invalid_grant (grant revoked)") != NULL);
	CHECK(t.access_token == NULL);

	/* the providers' dead refresh tokens: all invalid_grant, all needs-login,
	 * the description kept (sanitised, bounded) for the reason */
	{
		static const char *const dead[] = {
		    "AADSTS700082: The refresh token has expired due to inactivity.\\u000d\\u000aTrace "
		    "ID: 0a1b\\u000d\\u000aCorrelation ID: 2c3d",
		    "AADSTS50173: The provided grant has expired due to it being revoked",
		    "AADSTS70043: The refresh token has expired or is invalid due to sign-in "
		    "frequency checks by conditional access",
		    "Session not active", "Token is not active", "Stale token",
		    "Token has been expired or revoked.",
		};
		char body[512];

		for (size_t i = 0; i < sizeof(dead) / sizeof(dead[0]); i++) {
			n = snprintf(body, sizeof(body),
			             "{\"error\":\"invalid_grant\",\"error_description\":\"%s\"}",
			             dead[i]);
			CHECK_INT(oauth_parse_token_response(&t, 400, body, (size_t)n, &e),
			          TS_E_NEEDS_LOGIN);
			CHECK_STR(e.error, "invalid_grant");
			CHECK(strncmp(e.description, dead[i], 12) == 0);
			CHECK(strchr(e.description, '\r') == NULL && strchr(e.description, '\n') == NULL);
		}
	}

	CHECK_INT(TOK("{\"error\":\"invalid_client\",\"error_description\":\"Client "
	              "authentication failed\"}",
	              401, &t, &e),
	          TS_E_SERVER_CONFIG);
	CHECK_STR(e.message, "the server refused the client configuration: invalid_client "
	                     "(Client authentication failed)");
	CHECK_INT(e.http_status, 401);
	CHECK_INT(TOK("{\"error\":\"unauthorized_client\"}", 400, &t, &e), TS_E_SERVER_CONFIG);
	CHECK_INT(TOK("{\"error\":\"unsupported_grant_type\"}", 400, &t, &e), TS_E_SERVER_CONFIG);
	CHECK_INT(TOK("{\"error\":\"invalid_scope\"}", 400, &t, &e), TS_E_SERVER_CONFIG);
	CHECK_INT(TOK("{\"error\":\"invalid_token\"}", 401, &t, &e), TS_E_REJECTED_TOKEN);
	CHECK_INT(TOK("{\"error\":\"access_denied\"}", 400, &t, &e), TS_E_DENIED);
	CHECK_INT(TOK("{\"error\":\"expired_token\"}", 400, &t, &e), TS_E_EXPIRED);
	CHECK_INT(TOK("{\"error\":\"temporarily_unavailable\"}", 400, &t, &e), TS_E_UNAVAILABLE);
	/* OIDC's "the user must be there" codes: sign in again */
	CHECK_INT(TOK("{\"error\":\"interaction_required\"}", 400, &t, &e), TS_E_NEEDS_LOGIN);
	CHECK_STR(e.message, "the server refused the grant, sign-in required: interaction_required");
	CHECK_INT(TOK("{\"error\":\"login_required\"}", 400, &t, &e), TS_E_NEEDS_LOGIN);
	CHECK_INT(TOK("{\"error\":\"consent_required\"}", 400, &t, &e), TS_E_NEEDS_LOGIN);
	/* an unknown code is temporary (not "configuration error forever") */
	CHECK_INT(TOK("{\"error\":\"something_new\",\"error_description\":\"try later\"}", 400,
	              &t, &e),
	          TS_E_UNAVAILABLE);
	CHECK_STR(e.error, "something_new");
	CHECK_STR(e.message, "the server answered with an error code tokenseal does not know: "
	                     "something_new (try later); treated as temporary");
	CHECK_INT(TOK("{\"error\":\"something_new\"}", 200, &t, &e), TS_E_UNAVAILABLE);
	CHECK_STR(e.message, "the server answered with an error code tokenseal does not know: "
	                     "something_new; treated as temporary");
	/* 4xx without an error member: malformed */
	CHECK_INT(TOK("{\"access_token\":\"A\",\"token_type\":\"Bearer\"}", 400, &t, &e),
	          TS_E_BAD_ANSWER);
	CHECK(t.access_token == NULL);

	/* sanitised (control bytes -> '?') and capped */
	CHECK_INT(TOK("{\"error\":\"invalid_grant\",\"error_description\":\"a\\u001b[31mb\\nc\"}",
	              400, &t, &e),
	          TS_E_NEEDS_LOGIN);
	CHECK_STR(e.description, "a?[31mb?c");
	n = snprintf(big, sizeof(big), "{\"error\":\"%0600d\",\"error_description\":\"%01000d\"}",
	             0, 0);
	CHECK(n > 0 && (size_t)n < sizeof(big));
	CHECK_INT(TOK(big, 400, &t, &e), TS_E_UNAVAILABLE); /* an unknown code */
	CHECK_INT(strlen(e.error), OAUTH_ERROR_MAX - 1);
	CHECK_INT(strlen(e.description), OAUTH_DESC_MAX - 1);
	CHECK(strlen(e.message) < OAUTH_MSG_MAX);
}

static void test_id_claims(void)
{
	struct oauth_id_claims c = {0};
	char jwt[1024], body[2048];
	struct oauth_tokens t = {0};
	struct oauth_error e = {0};

	make_jwt(jwt, sizeof(jwt),
	         "{\"iss\":\"https://idp\",\"sub\":\"sub-alice\",\"aud\":\"cli\"}");
	CHECK_INT(oauth_id_claims_parse(&c, jwt), 0);
	CHECK(c.present);
	CHECK_STR(c.iss, "https://idp");
	CHECK_STR(c.sub, "sub-alice");
	CHECK_STR(c.aud, "cli");

	make_jwt(jwt, sizeof(jwt), "{\"iss\":\"i\",\"sub\":\"s\",\"aud\":[\"first\",\"second\"]}");
	CHECK_INT(oauth_id_claims_parse(&c, jwt), 0);
	CHECK_STR(c.aud, "first");

	memset(&c, 0, sizeof(c));
	make_jwt(jwt, sizeof(jwt), "{\"iss\":\"i\",\"aud\":\"a\"}");
	CHECK_INT(oauth_id_claims_parse(&c, jwt), -EINVAL);
	CHECK(!c.present);
	make_jwt(jwt, sizeof(jwt), "[1,2]");
	CHECK_INT(oauth_id_claims_parse(&c, jwt), -EINVAL);
	CHECK_INT(oauth_id_claims_parse(&c, "a.b"), -EINVAL);
	CHECK_INT(oauth_id_claims_parse(&c, "a..b"), -EINVAL);
	CHECK_INT(oauth_id_claims_parse(&c, "a.!!!.b"), -EINVAL);
	CHECK_INT(oauth_id_claims_parse(&c, ""), -EINVAL);

	/* an id_token in a token response is decoded */
	make_jwt(jwt, sizeof(jwt), "{\"iss\":\"i\",\"sub\":\"sub-bob\",\"aud\":\"a\"}");
	(void)snprintf(body, sizeof(body),
	               "{\"access_token\":\"A\",\"token_type\":\"Bearer\",\"id_token\":\"%s\"}",
	               jwt);
	CHECK_INT(TOK(body, 200, &t, &e), 0);
	CHECK(t.id.present);
	CHECK_STR(t.id.sub, "sub-bob");
	CHECK_STR(t.id_token, jwt);
	oauth_tokens_clear(&t);
}

static void test_introspection(void)
{
	static const struct {
		const char *body;
		int expect;
	} bad[] = {
	    {"{\"active\":\"true\"}", TS_E_BAD_ANSWER},
	    {"{\"sub\":\"x\"}", TS_E_BAD_ANSWER},
	    {"{\"active\":true,\"sub\":5}", TS_E_BAD_ANSWER},
	    {"{\"active\":true,\"sub\":\"x\",\"exp\":\"soon\"}", TS_E_BAD_ANSWER},
	    {"{\"error\":\"invalid_client\"}", TS_E_SERVER_CONFIG},
	};
	struct oauth_identity id = {0};
	struct oauth_error e = {0};
	const char *b = "{\"active\":true,\"sub\":\"sub-alice\",\"preferred_username\":\"alice\","
	                "\"exp\":1900000000}";

	CHECK_INT(oauth_parse_introspection(&id, "preferred_username", "tokenseal-conf", b, strlen(b), &e), 0);
	CHECK(id.active);
	CHECK_STR(id.sub, "sub-alice");
	CHECK_STR(id.username, "alice");
	CHECK_INT(id.exp, 1900000000);
	CHECK_STR(id.client_id, "");
	CHECK(!id.aud_has_client);
	CHECK_STR(id.name, "");

	/* "name" (the NSS cache's GECOS): taken when usable, else dropped, never fatal */
	b = "{\"active\":true,\"sub\":\"s\",\"name\":\"Alice Liddell\"}";
	CHECK_INT(oauth_parse_introspection(&id, "sub", "tokenseal-conf", b, strlen(b), &e), 0);
	CHECK_STR(id.name, "Alice Liddell");
	b = "{\"active\":true,\"sub\":\"s\",\"name\":5}";
	CHECK_INT(oauth_parse_introspection(&id, "sub", "tokenseal-conf", b, strlen(b), &e), 0);
	CHECK_STR(id.name, "");
	b = "{\"active\":true,\"sub\":\"s\",\"name\":\"A\\u001b[31m\"}";
	CHECK_INT(oauth_parse_introspection(&id, "sub", "tokenseal-conf", b, strlen(b), &e), 0);
	CHECK_STR(id.name, "");
	b = "{\"active\":true,\"sub\":\"sub-alice\",\"preferred_username\":\"alice\","
	    "\"exp\":1900000000}";

	/* whom the token was issued to: client_id, or aud as a string or an array */
	static const struct {
		const char *body, *client_id;
		bool aud;
	} whom[] = {
	    {"{\"active\":true,\"sub\":\"s\",\"client_id\":\"tokenseal-conf\"}", "tokenseal-conf",
	     false},
	    {"{\"active\":true,\"sub\":\"s\",\"client_id\":\"other\",\"aud\":\"tokenseal-conf\"}",
	     "other", true},
	    {"{\"active\":true,\"sub\":\"s\",\"aud\":[\"api\",5,\"tokenseal-conf\"]}", "", true},
	    {"{\"active\":true,\"sub\":\"s\",\"aud\":[\"api\",\"tokenseal-con\"]}", "", false},
	    {"{\"active\":true,\"sub\":\"s\",\"aud\":{\"tokenseal-conf\":1}}", "", false},
	};
	for (size_t i = 0; i < TS_ARRAY_SIZE(whom); i++) {
		memset(&id, 0, sizeof(id));
		b = whom[i].body;
		CHECK_INT(oauth_parse_introspection(&id, "sub", "tokenseal-conf", b, strlen(b), &e),
		          0);
		CHECK_MSG(strcmp(id.client_id, whom[i].client_id) == 0, "%s: client_id %s", b,
		          id.client_id);
		CHECK_MSG(id.aud_has_client == whom[i].aud, "%s: aud", b);
	}
	b = "{\"active\":true,\"sub\":\"s\",\"client_id\":5}";
	CHECK_INT(oauth_parse_introspection(&id, "sub", "tokenseal-conf", b, strlen(b), &e),
	          TS_E_BAD_ANSWER);

	id.active = true;
	b = "{\"active\":false}";
	CHECK_INT(oauth_parse_introspection(&id, "preferred_username", "tokenseal-conf", b, strlen(b), &e),
	          TS_E_REJECTED_TOKEN);
	CHECK(!id.active);
	CHECK(e.message[0]);

	/* a refused answer leaves ret untouched and keeps the transport's status */
	for (size_t i = 0; i < TS_ARRAY_SIZE(bad); i++) {
		memset(&id, 0, sizeof(id));
		(void)snprintf(id.sub, sizeof(id.sub), "untouched");
		e.http_status = 200;
		b = bad[i].body;
		CHECK_INT(oauth_parse_introspection(&id, "sub", "tokenseal-conf", b, strlen(b), &e), bad[i].expect);
		CHECK_MSG(strcmp(id.sub, "untouched") == 0, "%s: ret touched", b);
		CHECK_INT(e.http_status, 200);
		CHECK(e.message[0]);
	}
	CHECK_STR(e.error, "invalid_client");
}

/* The user name from an id_token (Entra: userinfo has none): a string
 * claim read by the same rules as userinfo's, nothing else. */
static void test_id_token_str(void)
{
	char jwt[2048], out[OAUTH_CLAIM_MAX];

	make_jwt(jwt, sizeof(jwt),
	         "{\"iss\":\"https://login.microsoftonline.com/t/v2.0\",\"sub\":\"S1\","
	         "\"aud\":\"c\",\"preferred_username\":\"alice@contoso.example\","
	         "\"name\":\"Alice A\",\"upn\":42,\"bad\":\"a\\u001bb\",\"nul\":null}");
	CHECK_INT(oauth_id_token_str(out, sizeof(out), "preferred_username", jwt), 1);
	CHECK_STR(out, "alice@contoso.example");
	CHECK_INT(oauth_id_token_str(out, sizeof(out), "name", jwt), 1);
	CHECK_STR(out, "Alice A");
	CHECK_INT(oauth_id_token_str(out, sizeof(out), "email", jwt), 0);
	CHECK_STR(out, "");
	CHECK_INT(oauth_id_token_str(out, sizeof(out), "nul", jwt), 0);
	CHECK_INT(oauth_id_token_str(out, sizeof(out), "upn", jwt), TS_E_BAD_ANSWER);
	CHECK_STR(out, "");
	CHECK_INT(oauth_id_token_str(out, sizeof(out), "bad", jwt), TS_E_BAD_ANSWER);
	CHECK_STR(out, "");
	/* too long for out: no name, never a cut one */
	CHECK_INT(oauth_id_token_str(out, 6, "preferred_username", jwt), TS_E_BAD_ANSWER);
	CHECK_STR(out, "");
	CHECK(oauth_id_token_str(out, sizeof(out), "sub", "not a jwt") < 0);
	CHECK_STR(out, "");
}

static void test_device(void)
{
	struct oauth_device d = {0};
	struct oauth_error e = {0};
	const char *b = "{\"device_code\":\"DC\",\"user_code\":\"ABCD-EFGH\","
	                "\"verification_uri\":\"https://idp/device\","
	                "\"verification_uri_complete\":\"https://idp/device?user_code=ABCD-EFGH\","
	                "\"expires_in\":600,\"interval\":7}";

	CHECK_INT(oauth_parse_device_response(&d, b, strlen(b), &e), 0);
	CHECK_STR(d.device_code, "DC");
	CHECK_STR(d.user_code, "ABCD-EFGH");
	CHECK_STR(d.verification_uri, "https://idp/device");
	CHECK_STR(d.verification_uri_complete, "https://idp/device?user_code=ABCD-EFGH");
	CHECK_INT(d.expires_in, 600);
	CHECK_INT(d.interval, 7);
	oauth_device_clear(&d);
	CHECK(d.device_code == NULL);

	b = "{\"device_code\":\"DC\",\"user_code\":\"U\",\"verification_url\":\"https://x\","
	    "\"expires_in\":600}";
	CHECK_INT(oauth_parse_device_response(&d, b, strlen(b), &e), 0);
	CHECK_INT(d.interval, 5);
	CHECK_STR(d.verification_uri, "https://x");
	oauth_device_clear(&d);

	/* both names: the RFC 8628 one wins; an empty one yields to the other */
	b = "{\"device_code\":\"DC\",\"user_code\":\"U\",\"verification_url\":\"https://old\","
	    "\"verification_uri\":\"https://rfc\",\"expires_in\":600}";
	CHECK_INT(oauth_parse_device_response(&d, b, strlen(b), &e), 0);
	CHECK_STR(d.verification_uri, "https://rfc");
	oauth_device_clear(&d);
	b = "{\"device_code\":\"DC\",\"user_code\":\"U\",\"verification_uri\":\"\","
	    "\"verification_url\":\"https://www.google.com/device\",\"expires_in\":1800}";
	CHECK_INT(oauth_parse_device_response(&d, b, strlen(b), &e), 0);
	CHECK_STR(d.verification_uri, "https://www.google.com/device");
	oauth_device_clear(&d);
	b = "{\"device_code\":\"DC\",\"user_code\":\"U\",\"verification_uri\":\"\","
	    "\"verification_url\":\"\",\"expires_in\":600}";
	CHECK_INT(oauth_parse_device_response(&d, b, strlen(b), &e), TS_E_BAD_ANSWER);
	CHECK(strstr(e.message, "verification_uri") != NULL);

	/* Entra's "message": ignored whatever it holds (escape sequences, a
	 * long text, not a string); the prompt is tokenseal's own */
	{
		char big[9000];
		int n;

		n = snprintf(big, sizeof(big),
		             "{\"device_code\":\"DC\",\"user_code\":\"GH7K2LMNP\","
		             "\"verification_uri\":\"https://microsoft.com/devicelogin\","
		             "\"expires_in\":900,\"interval\":5,\"message\":\"To sign in, use a "
		             "web browser \\u001b]0;pwned\\u0007 and enter the code ");
		memset(big + n, 'A', 8000);
		memcpy(big + n + 8000, ".\"}", 4);
		CHECK_INT(oauth_parse_device_response(&d, big, strlen(big), &e), 0);
		CHECK_STR(d.user_code, "GH7K2LMNP");
		CHECK_STR(d.verification_uri, "https://microsoft.com/devicelogin");
		CHECK_INT(d.interval, 5);
		oauth_device_clear(&d);
	}
	b = "{\"device_code\":\"DC\",\"user_code\":\"U\",\"verification_uri\":\"https://x\","
	    "\"expires_in\":600,\"message\":{\"text\":[1,2]}}";
	CHECK_INT(oauth_parse_device_response(&d, b, strlen(b), &e), 0);
	oauth_device_clear(&d);

	b = "{\"device_code\":\"DC\",\"verification_uri\":\"https://x\",\"expires_in\":600}";
	CHECK_INT(oauth_parse_device_response(&d, b, strlen(b), &e), TS_E_BAD_ANSWER);
	b = "{\"device_code\":\"DC\",\"user_code\":\"U\",\"verification_uri\":\"https://x\"}";
	CHECK_INT(oauth_parse_device_response(&d, b, strlen(b), &e), TS_E_BAD_ANSWER);
	b = "{\"device_code\":\"DC\",\"user_code\":\"U\",\"verification_uri\":\"https://x\","
	    "\"expires_in\":600,\"interval\":0}";
	CHECK_INT(oauth_parse_device_response(&d, b, strlen(b), &e), TS_E_BAD_ANSWER);
	b = "{\"device_code\":\"DC\",\"user_code\":\"U\\u001b]0;x\",\"verification_uri\":"
	    "\"https://x\",\"expires_in\":600}";
	CHECK_INT(oauth_parse_device_response(&d, b, strlen(b), &e), TS_E_BAD_ANSWER);
	CHECK(d.device_code == NULL);
}

static void test_discovery(void)
{
	static const char *const bad[] = {
	    "{\"issuer\":\"https://i\"}",
	    "{\"token_endpoint\":\"https://i/t\"}",
	    "{\"issuer\":\"https://i\",\"token_endpoint\":7}",
	    "{\"issuer\":\"https://i\",\"token_endpoint\":\"https://i/t\","
	    "\"userinfo_endpoint\":\"https://i/\\u0007\"}",
	    "not json",
	};
	struct ts_config cfg;
	struct oauth_error e = {0};
	const char *b = "{\"issuer\":\"https://idp.example\","
	                "\"token_endpoint\":\"https://idp.example/token\","
	                "\"device_authorization_endpoint\":\"https://idp.example/device\","
	                "\"userinfo_endpoint\":\"https://idp.example/me\","
	                "\"introspection_endpoint\":\"https://idp.example/introspect\","
	                "\"revocation_endpoint\":\"https://idp.example/revoke\"}";

	memset(&cfg, 0, sizeof(cfg));
	(void)snprintf(cfg.userinfo_endpoint, sizeof(cfg.userinfo_endpoint), "https://override/me");
	CHECK_INT(oauth_parse_discovery(&cfg, "https://idp.example", b, strlen(b), &e), 0);
	CHECK_STR(cfg.token_endpoint, "https://idp.example/token");
	CHECK_STR(cfg.device_authorization_endpoint, "https://idp.example/device");
	CHECK_STR(cfg.userinfo_endpoint, "https://override/me"); /* config wins */
	CHECK_STR(cfg.introspection_endpoint, "https://idp.example/introspect");
	CHECK_STR(cfg.revocation_endpoint, "https://idp.example/revoke");

	/* issuer must be identical: not even a trailing slash */
	memset(&cfg, 0, sizeof(cfg));
	CHECK_INT(oauth_parse_discovery(&cfg, "https://idp.example/", b, strlen(b), &e),
	          TS_E_SERVER_CONFIG);
	CHECK(strstr(e.message, "https://idp.example/") != NULL);
	CHECK(cfg.token_endpoint[0] == '\0'); /* untouched */
	CHECK_INT(oauth_parse_discovery(&cfg, "https://evil.example", b, strlen(b), &e),
	          TS_E_SERVER_CONFIG);

	/* refused, and nothing filled in (a valid endpoint next to a bad one neither) */
	for (size_t i = 0; i < TS_ARRAY_SIZE(bad); i++) {
		memset(&cfg, 0, sizeof(cfg));
		b = bad[i];
		CHECK_INT(oauth_parse_discovery(&cfg, "https://i", b, strlen(b), &e), TS_E_BAD_ANSWER);
		CHECK_MSG(!cfg.token_endpoint[0] && !cfg.userinfo_endpoint[0], "%s: cfg touched", b);
	}
}

/* ---- the one URL rule (common/ts_url.c), and both of its users ------------ */

static void url_ok(const char *u, bool lo)
{
	char why[160] = "untouched";

	CHECK_MSG(ts_url_check(u, lo, why, sizeof(why)) == 0, "%s (loopback %d) refused: %s", u,
	          lo, why);
}

static void url_bad(const char *u, bool lo, const char *expect_why)
{
	char why[160] = "";

	CHECK_MSG(ts_url_check(u, lo, why, sizeof(why)) == -EINVAL, "%s (loopback %d) accepted",
	          u, lo);
	CHECK_MSG(strcmp(why, expect_why) == 0, "%s: why \"%s\", expected \"%s\"", u, why,
	          expect_why);
}

#define NEED_HTTPS                                                                   \
	"it must start with https:// (http:// only for 127.0.0.1 or [::1] with "   \
	"allow_loopback_http = yes)"
#define NEED_LOOP "it must start with https://, or http://127.0.0.1 or http://[::1]"

static void test_url_rule(void)
{
	url_ok("https://idp.example", false);
	url_ok("https://idp.example:8443/realms/x?y=1#z", false);
	url_ok("HTTPS://idp.example/realm", false); /* RFC 3986 §3.1: case-insensitive */
	url_ok("HtTpS://idp.example", false);
	url_ok("https://[2001:db8::1]:443/x", false);
	url_ok("http://127.0.0.1", true);
	url_ok("http://127.0.0.1:8080/x", true);
	url_ok("HTTP://127.0.0.1:8080", true);
	url_ok("http://[::1]/realm", true);

	url_bad("http://127.0.0.1", false, NEED_HTTPS);
	url_bad("http://[::1]:80", false, NEED_HTTPS);
	url_bad("http://idp.example", true, NEED_LOOP);
	url_bad("http://127.0.0.1.evil.example", true, NEED_LOOP);
	url_bad("http://127.0.0.10", true, NEED_LOOP);
	url_bad("http://localhost", true, NEED_LOOP);
	url_bad("ftp://idp.example", false, NEED_HTTPS);
	url_bad("idp.example", false, NEED_HTTPS);
	url_bad("https://user:pw@idp.example", false,
	        "it contains user information (user@host)");
	url_bad("https://@idp.example", false, "it contains user information (user@host)");
	url_bad("http://127.0.0.1@evil.example", true,
	        "it contains user information (user@host)");
	url_bad("https://", false, "it has no host");
	url_bad("https:///x", false, "it has no host");
	url_bad("https://:443/x", false, "it has no host");
	url_bad("https://idp.example:/x", false, "its port is not a number from 1 to 65535");
	url_bad("https://idp.example:99999", false, "its port is not a number from 1 to 65535");
	url_bad("https://idp.example:80a", false, "its port is not a number from 1 to 65535");
	url_bad("https://a b", false,
	        "it contains a space, a control character or one of \"<>\\^`{|}");
	url_bad("https://a/\x1b[31m", false,
	        "it contains a space, a control character or one of \"<>\\^`{|}");
	/* why may be omitted */
	CHECK_INT(ts_url_check("ftp://x", false, NULL, 0), -EINVAL);
}

static char cfg_report[512];

static void report_cb(void *ctx, int prio, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)prio;
	(void)vsnprintf(cfg_report, sizeof(cfg_report), fmt, ap);
}

static int config_with(const char *text)
{
	const struct ts_config_report rep = {.fn = report_cb};
	struct ts_config c;

	cfg_report[0] = '\0';
	ts_config_defaults(&c);
	CHECK_INT(ts_config_parse(&c, text, strlen(text), NULL, "u.conf", &rep), 0);
	return ts_config_validate(&c, "u.conf", &rep);
}

/* ts_config.c applies the same rule (it compared the scheme case-sensitively
 * and let user information through). */
static void test_url_rule_config(void)
{
	CHECK_INT(config_with("client_id = a\nissuer = HTTPS://idp.example\n"), 0);
	CHECK_INT(config_with("client_id = a\nissuer = HTTP://127.0.0.1:8443\n"
	                      "allow_loopback_http = yes\n"),
	          0);
	CHECK_INT(config_with("client_id = a\nissuer = https://u:p@idp.example\n"), TS_E_CONFIG);
	CHECK_STR(cfg_report, "u.conf: issuer 'https://u:p@idp.example' is not a valid URL: it "
	                      "contains user information (user@host)");
	CHECK_INT(config_with("client_id = a\nissuer = http://127.0.0.1.evil.example\n"
	                      "allow_loopback_http = yes\n"),
	          TS_E_CONFIG);
	CHECK_STR(cfg_report, "u.conf: issuer 'http://127.0.0.1.evil.example' is not a valid URL: "
	                      NEED_LOOP);
	CHECK_INT(config_with("client_id = a\nissuer = http://127.0.0.1\n"), TS_E_CONFIG);
	CHECK_STR(cfg_report, "u.conf: issuer 'http://127.0.0.1' is not a valid URL: " NEED_HTTPS);
}

/* scopes_supported and offline_access (Google lists no offline_access
 * and refuses it): listed, a list without it, no list. */
static void test_offline_listed(void)
{
	static const struct {
		const char *scopes; /* the member, or "" for none */
		int want;
	} cases[] = {
	    {",\"scopes_supported\":[\"openid\",\"offline_access\",\"profile\"]", 1},
	    {",\"scopes_supported\":[\"openid\",\"email\",\"profile\"]", 0},
	    {",\"scopes_supported\":[\"openid\",7,\"offline_accessx\"]", 0},
	    {"", -1},
	};
	struct ts_config cfg;
	struct oauth_error e;
	char doc[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct oauth_client *c = NULL;
		int n;

		memset(&cfg, 0, sizeof(cfg));
		(void)snprintf(cfg.issuer, sizeof(cfg.issuer), "https://accounts.google.example");
		(void)snprintf(cfg.client_id, sizeof(cfg.client_id), "c");
		cfg.max_response_size = 65536;
		n = snprintf(doc, sizeof(doc),
		             "{\"issuer\":\"https://accounts.google.example\",\"token_endpoint\":"
		             "\"https://oauth2.google.example/token\"%s}",
		             cases[i].scopes);
		CHECK_INT(oauth_client_new(&c, &cfg, &e), 0);
		CHECK_INT(oauth_offline_access_listed(c), -1); /* nothing read yet */
		CHECK_INT(oauth_set_discovery(c, doc, (size_t)n, &e), 0);
		CHECK_MSG(oauth_offline_access_listed(c) == cases[i].want, "case %zu: %d", i,
		          oauth_offline_access_listed(c));
		oauth_client_free(c);
	}
}

/* Clock skew: 0 s is a measurement, a new one replaces the old, a Date
 * more than 24 h off is ignored. */
static void test_skew(void)
{
	struct ts_config cfg;
	struct oauth_client *c = NULL;
	struct oauth_error e;
	time_t now = 1700000000;
	long s = 99;

	memset(&cfg, 0, sizeof(cfg));
	(void)snprintf(cfg.issuer, sizeof(cfg.issuer), "https://idp.example");
	(void)snprintf(cfg.client_id, sizeof(cfg.client_id), "c");
	CHECK_INT(oauth_client_new(&c, &cfg, &e), 0);
	CHECK(!oauth_clock_skew_known(c, &s));
	CHECK_INT(s, 99); /* untouched */
	CHECK_INT(oauth_clock_skew(c), 0);
	oauth_note_date(c, now, now);
	CHECK(oauth_clock_skew_known(c, &s));
	CHECK_INT(s, 0);
	oauth_note_date(c, now + 300, now);
	CHECK_INT(oauth_clock_skew(c), 300);
	oauth_note_date(c, now + 2, now); /* the clock was fixed: seen at once */
	CHECK_INT(oauth_clock_skew(c), 2);
	oauth_note_date(c, now - 24 * 3600, now); /* the bound itself is believed */
	CHECK_INT(oauth_clock_skew(c), -24 * 3600);
	oauth_note_date(c, now + 24 * 3600 + 1, now); /* beyond: ignored */
	CHECK_INT(oauth_clock_skew(c), -24 * 3600);
	oauth_note_date(c, now - 30 * 24 * 3600, now);
	CHECK_INT(oauth_clock_skew(c), -24 * 3600);
	oauth_note_date(c, now, now);
	CHECK(oauth_clock_skew_known(c, &s));
	CHECK_INT(s, 0);
	oauth_client_free(c);
}

/* The system CA folder: the first that exists, else none (libcurl's default). */
static void test_capath(void)
{
	const char *const none[] = {"/nonexistent/a", "/nonexistent/b"};
	const char *const second[] = {"/nonexistent/directory-hash", "/", "/tmp"};
	const char *const file[] = {"/etc/passwd", "/"};

	CHECK(oauth_capath_pick(none, 2) == NULL);
	CHECK_STR(oauth_capath_pick(second, 3), "/");
	CHECK_STR(oauth_capath_pick(file, 2), "/"); /* a file is not a folder */
}

/* oauth_global_init hands jansson, libcurl and (when it is libcurl's TLS
 * library) OpenSSL the wiping free: the secrets they copy are wiped when
 * given back (end to end: the daemon's memory scan, secrets.test_secrets_daemon).
 * First in main: OpenSSL takes an allocator only before its first allocation. */
static void test_global_wipe(void)
{
	const curl_version_info_data *v;
	json_malloc_t m = NULL;
	json_free_t f = NULL;

	CHECK_INT(oauth_global_init(), 0);
	json_get_alloc_funcs(&m, &f);
	CHECK_MSG(f == ts_free_wiped, "jansson frees through ts_free_wiped");
	v = curl_version_info(CURLVERSION_NOW);
	if (v->ssl_version && strncmp(v->ssl_version, "OpenSSL/", 8) == 0)
		CHECK_MSG(oauth_global_tls_wiped(), "OpenSSL (%s) took the wiping allocator",
		          v->ssl_version);
	else
		fprintf(stderr, "   libcurl's TLS library is %s: no OpenSSL allocator to set\n",
		        v->ssl_version ? v->ssl_version : "none");
}

int main(void)
{
	RUN(test_global_wipe);
	RUN(test_token_ok);
	RUN(test_token_bad);
	RUN(test_token_lenient);
	RUN(test_token_errors);
	RUN(test_id_claims);
	RUN(test_introspection);
	RUN(test_id_token_str);
	RUN(test_device);
	RUN(test_discovery);
	RUN(test_url_rule);
	RUN(test_capath);
	RUN(test_offline_listed);
	RUN(test_skew);
	RUN(test_url_rule_config);
	return ts_test_done();
}
