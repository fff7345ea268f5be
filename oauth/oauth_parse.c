/* SPDX-License-Identifier: MIT */
/*
 * Parsers for what an authorization server sends: token responses (RFC 6749
 * §5), introspection (RFC 7662), device authorization (RFC 8628 §3.2),
 * discovery (RFC 8414 / OIDC Discovery) and id_token claims. Every input is
 * untrusted bytes of a known length; nothing here does I/O or logs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oauth_internal.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"

json_t *oauth_json_load(const char *body, size_t len, struct oauth_error *err)
{
	return oauth_json_load_flags(body, len, 0, err);
}

json_t *oauth_json_load_flags(const char *body, size_t len, size_t flags, struct oauth_error *err)
{
	json_error_t jerr;
	json_t *j;

	if (len == 0) {
		oauth_fail(err, TS_E_BAD_ANSWER,
		           "the server sent an empty body where JSON was expected");
		return NULL;
	}
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES | flags, &jerr);
	if (!j) {
		oauth_fail(err, TS_E_BAD_ANSWER,
		           "the server sent malformed JSON (line %d, column %d)", jerr.line,
		           jerr.column);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		oauth_fail(err, TS_E_BAD_ANSWER, "the server sent JSON that is not an object");
		return NULL;
	}
	return j;
}

/* Load a server answer; an OAuth "error" member in it is the result (err
 * filled). On success *ret holds the object. */
static int load_answer(json_t **ret, const char *body, size_t len, long http_status,
                       struct oauth_error *err)
{
	json_t *j = oauth_json_load(body, len, err);
	int r;

	if (!j)
		return TS_E_BAD_ANSWER;
	r = oauth_json_error(j, http_status, err);
	if (r < 0) {
		json_decref(j);
		return r;
	}
	*ret = j;
	return 0;
}

static bool has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

int oauth_json_str(json_t *obj, const char *key, char *out, size_t outlen, struct oauth_error *err)
{
	json_t *v = json_object_get(obj, key);
	size_t n;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return oauth_fail(err, TS_E_BAD_ANSWER, "the server sent \"%s\" that is not a string",
		                  key);
	n = json_string_length(v);
	if (n >= outlen)
		return oauth_fail(err, TS_E_BAD_ANSWER,
		                  "the server sent a \"%s\" longer than %zu bytes", key,
		                  outlen - 1);
	if (has_control(json_string_value(v), n))
		return oauth_fail(err, TS_E_BAD_ANSWER,
		                  "the server sent a \"%s\" with control characters", key);
	memcpy(out, json_string_value(v), n);
	out[n] = '\0';
	return 1;
}

/* A secret string member (token): required or optional, copied with
 * strndup (length-bounded, no embedded NUL). */
static int json_secret(json_t *obj, const char *key, bool required, char **ret,
                       struct oauth_error *err)
{
	json_t *v = json_object_get(obj, key);
	size_t n;
	char *s;

	if (!v || json_is_null(v)) {
		if (required)
			return oauth_fail(err, TS_E_BAD_ANSWER, "the server's answer has no \"%s\"",
			                  key);
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return oauth_fail(err, TS_E_BAD_ANSWER, "the server sent \"%s\" that is not a string",
		                  key);
	n = json_string_length(v);
	if (n == 0 || strlen(json_string_value(v)) != n || has_control(json_string_value(v), n))
		return oauth_fail(err, TS_E_BAD_ANSWER, "the server sent an empty or invalid \"%s\"",
		                  key);
	s = strndup(json_string_value(v), n);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* An integer member in [min, max]; absent -> def. */
static int json_int_range(json_t *obj, const char *key, long long min, long long max, long long def,
                          long long *ret, struct oauth_error *err)
{
	json_t *v = json_object_get(obj, key);
	long long x;

	if (!v) {
		*ret = def;
		return 0;
	}
	if (!json_is_integer(v))
		return oauth_fail(err, TS_E_BAD_ANSWER,
		                  "the server sent \"%s\" that is not an integer", key);
	x = (long long)json_integer_value(v);
	if (x < min || x > max)
		return oauth_fail(err, TS_E_BAD_ANSWER,
		                  "the server sent \"%s\" = %lld, outside %lld..%lld", key, x, min,
		                  max);
	*ret = x;
	return 0;
}

void oauth_tokens_clear(struct oauth_tokens *t)
{
	if (!t)
		return;
	t->access_token = ts_erase_free_str(t->access_token);
	t->refresh_token = ts_erase_free_str(t->refresh_token);
	t->id_token = ts_erase_free_str(t->id_token);
	free(t->scope);
	memset(t, 0, sizeof(*t));
}

/* Append one note to t->warnings ("; "-separated, truncated when full). */
static void warn(struct oauth_tokens *t, const char *fmt, ...) TS_PRINTF(2, 3);
static void warn(struct oauth_tokens *t, const char *fmt, ...)
{
	size_t n = strlen(t->warnings);
	va_list ap;

	if (n && n + 2 < sizeof(t->warnings)) {
		memcpy(t->warnings + n, "; ", 3);
		n += 2;
	}
	if (n + 1 >= sizeof(t->warnings))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(t->warnings + n, sizeof(t->warnings) - n, fmt, ap);
	va_end(ap);
}

/* An optional secret member that fails its checks is dropped with a note. */
static int lenient_secret(json_t *j, const char *key, struct oauth_tokens *t, char **ret)
{
	struct oauth_error ignored;
	int r = json_secret(j, key, false, ret, &ignored);

	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		*ret = NULL;
		warn(t, "\"%s\" is not a usable string; ignored", key);
	}
	return 0;
}

static void lenient_token_type(json_t *j, struct oauth_tokens *t)
{
	json_t *tt = json_object_get(j, "token_type");
	char shown[32];

	if (!json_is_string(tt)) {
		warn(t, "no \"token_type\"; taken as Bearer");
		return;
	}
	if (strcasecmp(json_string_value(tt), "Bearer") == 0 &&
	    json_string_length(tt) == strlen("Bearer"))
		return;
	ts_sanitize_text(shown, sizeof(shown), json_string_value(tt), json_string_length(tt));
	warn(t, "\"token_type\" is \"%s\", not Bearer; used as Bearer", shown);
}

static void lenient_expires_in(json_t *j, struct oauth_tokens *t)
{
	json_t *v = json_object_get(j, "expires_in");
	long long x;

	t->expires_in = OAUTH_DEFAULT_EXPIRES_IN;
	if (!v) {
		warn(t, "no \"expires_in\"; assumed %d s", OAUTH_DEFAULT_EXPIRES_IN);
		return;
	}
	if (!json_is_integer(v)) {
		warn(t, "\"expires_in\" is not an integer; assumed %d s", OAUTH_DEFAULT_EXPIRES_IN);
		return;
	}
	x = (long long)json_integer_value(v);
	if (x < 1 || x > OAUTH_MAX_EXPIRES_IN) {
		warn(t, "\"expires_in\" = %lld is outside 1..%lld; assumed %d s", x,
		     OAUTH_MAX_EXPIRES_IN, OAUTH_DEFAULT_EXPIRES_IN);
		return;
	}
	t->expires_in = x;
}

static int lenient_scope(json_t *j, struct oauth_tokens *t)
{
	json_t *s = json_object_get(j, "scope");

	if (!s || json_is_null(s))
		return 0;
	if (!json_is_string(s)) {
		warn(t, "\"scope\" is not a string; ignored");
		return 0;
	}
	if (json_string_length(s) > OAUTH_SCOPE_MAX) {
		warn(t, "\"scope\" is longer than %d bytes; ignored", OAUTH_SCOPE_MAX);
		return 0;
	}
	t->scope = strndup(json_string_value(s), json_string_length(s));
	return t->scope ? 0 : -ENOMEM;
}

/* A 2xx token answer is taken apart leniently: the server has already acted
 * on the request (a refresh token may have rotated), so the new tokens come
 * out first and every other field that fails its checks is defaulted with a
 * note in ret->warnings. Only a missing or unusable access_token (or a body
 * that is not a JSON object) makes the answer malformed. */
int oauth_parse_token_response(struct oauth_tokens *ret, long http_status, const char *body,
                               size_t len, struct oauth_error *err)
{
	struct oauth_tokens t = {0};
	json_t *j = NULL;
	int r;

	r = load_answer(&j, body, len, http_status, err);
	if (r == TS_E_BAD_ANSWER && (http_status == 0 || (http_status >= 200 && http_status <= 299))) {
		/* an integer too big for jansson (expires_in 2^63) fails the whole
		 * load; read such a body with integers as reals (then defaulted) */
		j = oauth_json_load_flags(body, len, JSON_DECODE_INT_AS_REAL, NULL);
		if (j && json_object_get(j, "error")) {
			json_decref(j);
			j = NULL;
		}
		if (j) {
			if (err) {
				err->code = 0;
				err->message[0] = '\0';
			}
			r = 0;
		}
	}
	if (r < 0)
		return r;
	if (http_status != 0 && (http_status < 200 || http_status > 299)) {
		r = oauth_fail(err, TS_E_BAD_ANSWER,
		               "the server answered HTTP %ld without an OAuth error", http_status);
		goto out;
	}
	r = json_secret(j, "access_token", true, &t.access_token, err);
	if (r < 0)
		goto out;
	if ((r = lenient_secret(j, "refresh_token", &t, &t.refresh_token)) < 0 ||
	    (r = lenient_secret(j, "id_token", &t, &t.id_token)) < 0)
		goto out;
	if (t.id_token && (r = oauth_id_claims_parse(&t.id, t.id_token)) < 0) {
		if (r == -ENOMEM)
			goto out;
		t.id_token = ts_erase_free_str(t.id_token);
		warn(&t, "\"id_token\" is malformed or has a claim longer than %d bytes; ignored",
		     OAUTH_CLAIM_MAX - 1);
	}
	lenient_token_type(j, &t);
	lenient_expires_in(j, &t);
	r = lenient_scope(j, &t);
	if (r < 0)
		goto out;
	*ret = t;
	memset(&t, 0, sizeof(t));
	r = 0;
out:
	oauth_tokens_clear(&t);
	json_decref(j);
	return r;
}

#define AUD_MAX_VALUES 64

/* "aud" is a string or an array of strings (RFC 7519 §4.1.3); anything
 * else, or a value past the first AUD_MAX_VALUES, names nobody. */
static bool aud_names(json_t *aud, const char *client_id)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), client_id) == 0;
	if (!json_is_array(aud))
		return false;
	json_array_foreach(aud, i, v) {
		if (i >= AUD_MAX_VALUES)
			break;
		if (json_is_string(v) && strcmp(json_string_value(v), client_id) == 0)
			return true;
	}
	return false;
}

int oauth_parse_introspection(struct oauth_identity *ret, const char *username_claim,
                              const char *client_id, const char *body, size_t len,
                              struct oauth_error *err)
{
	struct oauth_identity id = {0};
	json_t *j, *a;
	int r;

	r = load_answer(&j, body, len, 0, err);
	if (r < 0)
		return r;
	a = json_object_get(j, "active");
	if (!json_is_boolean(a)) {
		r = oauth_fail(err, TS_E_BAD_ANSWER,
		               "the introspection answer has no boolean \"active\"");
		goto out;
	}
	if (!json_is_true(a)) {
		ret->active = false;
		ret->sub[0] = ret->username[0] = ret->name[0] = '\0';
		ret->exp = 0;
		ret->client_id[0] = '\0';
		ret->aud_has_client = false;
		r = oauth_fail(
		    err, TS_E_REJECTED_TOKEN,
		    "the server says the token is no longer active (revoked or expired)");
		goto out;
	}
	id.active = true;
	r = oauth_json_str(j, "sub", id.sub, sizeof(id.sub), err);
	if (r < 0)
		goto out;
	if (username_claim[0]) {
		r = oauth_json_str(j, username_claim, id.username, sizeof(id.username), err);
		if (r < 0)
			goto out;
	}
	/* only the NSS cache's GECOS: a bad one is dropped, never fatal */
	if (oauth_json_str(j, "name", id.name, sizeof(id.name), NULL) < 0)
		id.name[0] = '\0';
	r = json_int_range(j, "exp", 0, (long long)1 << 50, 0, &id.exp, err);
	if (r < 0)
		goto out;
	r = oauth_json_str(j, "client_id", id.client_id, sizeof(id.client_id), err);
	if (r < 0)
		goto out;
	id.aud_has_client = client_id[0] && aud_names(json_object_get(j, "aud"), client_id);
	*ret = id;
	r = 0;
out:
	json_decref(j);
	return r;
}

int oauth_parse_device_response(struct oauth_device *ret, const char *body, size_t len,
                                struct oauth_error *err)
{
	struct oauth_device d = {0};
	long long iv = 5;
	json_t *j;
	int r;

	r = load_answer(&j, body, len, 0, err);
	if (r < 0)
		return r;
	r = json_secret(j, "device_code", true, &d.device_code, err);
	if (r < 0)
		goto out;
	r = oauth_json_str(j, "user_code", d.user_code, sizeof(d.user_code), err);
	if (r < 0)
		goto out;
	if (r == 0 || !d.user_code[0]) {
		r = oauth_fail(err, TS_E_BAD_ANSWER, "the device answer has no \"user_code\"");
		goto out;
	}
	r = oauth_json_str(j, "verification_uri", d.verification_uri, sizeof(d.verification_uri),
	                   err);
	/* The RFC 8628 name wins; the pre-RFC name Google still sends
	 * ("verification_url") stands in when it is absent or empty. Other
	 * members are not read: Entra's "message" (a prompt of its own, in
	 * the server's words) is ignored, whatever it holds; tokenseal shows
	 * its own prompt from these fields. */
	if (r == 0 || (r > 0 && !d.verification_uri[0]))
		r = oauth_json_str(j, "verification_url", d.verification_uri,
		                   sizeof(d.verification_uri), err);
	if (r < 0)
		goto out;
	if (r == 0 || !d.verification_uri[0]) {
		r = oauth_fail(err, TS_E_BAD_ANSWER, "the device answer has no \"verification_uri\"");
		goto out;
	}
	r = oauth_json_str(j, "verification_uri_complete", d.verification_uri_complete,
	                   sizeof(d.verification_uri_complete), err);
	if (r < 0)
		goto out;
	if (!json_object_get(j, "expires_in")) {
		r = oauth_fail(err, TS_E_BAD_ANSWER, "the device answer has no \"expires_in\"");
		goto out;
	}
	r = json_int_range(j, "expires_in", 1, OAUTH_MAX_EXPIRES_IN, 0, &d.expires_in, err);
	if (r < 0)
		goto out;
	r = json_int_range(j, "interval", 1, OAUTH_MAX_INTERVAL, 5, &iv, err);
	if (r < 0)
		goto out;
	d.interval = (unsigned)iv;
	*ret = d;
	memset(&d, 0, sizeof(d));
	r = 0;
out:
	oauth_device_clear(&d);
	json_decref(j);
	return r;
}

void oauth_device_clear(struct oauth_device *dev)
{
	if (!dev)
		return;
	dev->device_code = ts_erase_free_str(dev->device_code);
	memset(dev, 0, sizeof(*dev));
}

int oauth_parse_discovery(struct ts_config *cfg, const char *expected_issuer, const char *body,
                          size_t len, struct oauth_error *err)
{
	static const struct {
		const char *key;
		size_t off;
	} eps[] = {
	    {"token_endpoint", offsetof(struct ts_config, token_endpoint)},
	    {"device_authorization_endpoint",
	     offsetof(struct ts_config, device_authorization_endpoint)},
	    {"userinfo_endpoint", offsetof(struct ts_config, userinfo_endpoint)},
	    {"introspection_endpoint", offsetof(struct ts_config, introspection_endpoint)},
	    {"revocation_endpoint", offsetof(struct ts_config, revocation_endpoint)},
	};
	char issuer[TS_URL_MAX];
	json_t *j;
	int r;

	j = oauth_json_load(body, len, err);
	if (!j)
		return TS_E_BAD_ANSWER;
	r = oauth_json_str(j, "issuer", issuer, sizeof(issuer), err);
	if (r < 0)
		goto out;
	if (r == 0) {
		r = oauth_fail(err, TS_E_BAD_ANSWER, "the discovery document has no \"issuer\"");
		goto out;
	}
	if (strcmp(issuer, expected_issuer) != 0) {
		r = oauth_fail(err, TS_E_SERVER_CONFIG,
		               "the discovery document names the issuer \"%s\", not the configured "
		               "\"%s\"; refusing it",
		               issuer, expected_issuer);
		goto out;
	}
	/* Check everything first, then fill: cfg is untouched on failure. */
	{
		char vals[TS_ARRAY_SIZE(eps)][TS_URL_MAX];
		int found[TS_ARRAY_SIZE(eps)];

		for (size_t i = 0; i < TS_ARRAY_SIZE(eps); i++) {
			vals[i][0] = '\0';
			found[i] = oauth_json_str(j, eps[i].key, vals[i], TS_URL_MAX, err);
			if (found[i] < 0) {
				r = found[i];
				goto out;
			}
		}
		if (!((char *)cfg + eps[0].off)[0] && !vals[0][0]) {
			r = oauth_fail(err, TS_E_BAD_ANSWER,
			               "the discovery document has no \"token_endpoint\"");
			goto out;
		}
		for (size_t i = 0; i < TS_ARRAY_SIZE(eps); i++) {
			char *dst = (char *)cfg + eps[i].off;
			if (!dst[0] && vals[i][0])
				memcpy(dst, vals[i], TS_URL_MAX);
		}
	}
	r = 0;
out:
	json_decref(j);
	return r;
}

/* base64url without padding (RFC 7515 §2) into out; returns the length or -1. */
static ssize_t b64url_decode(unsigned char *out, size_t outlen, const char *in, size_t inlen)
{
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < inlen; i++) {
		int v;
		char ch = in[i];
		if (ch >= 'A' && ch <= 'Z')
			v = ch - 'A';
		else if (ch >= 'a' && ch <= 'z')
			v = ch - 'a' + 26;
		else if (ch >= '0' && ch <= '9')
			v = ch - '0' + 52;
		else if (ch == '-')
			v = 62;
		else if (ch == '_')
			v = 63;
		else if (ch == '=' && i + 2 >= inlen)
			break;
		else
			return -1;
		acc = ((acc << 6) | (unsigned)v) & 0xffffffu;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)((acc >> bits) & 0xff);
		}
	}
	return (ssize_t)o;
}

/* The decoded payload of a JWT (header.payload.signature), as a JSON
 * object: 0, -EINVAL, -ENOMEM. */
static int jwt_payload(const char *jwt, json_t **ret)
{
	const char *p1, *p2;
	unsigned char *buf = NULL;
	size_t n = strnlen(jwt, OAUTH_ID_TOKEN_MAX + 1), blen_max;
	ssize_t blen;
	json_t *j = NULL;
	int r = -EINVAL;

	if (n > OAUTH_ID_TOKEN_MAX)
		return -EINVAL;
	p1 = memchr(jwt, '.', n);
	if (!p1)
		return -EINVAL;
	p1++;
	p2 = memchr(p1, '.', n - (size_t)(p1 - jwt));
	if (!p2 || p2 == p1)
		return -EINVAL;
	blen_max = (size_t)(p2 - p1);
	buf = malloc(blen_max);
	if (!buf)
		return -ENOMEM;
	blen = b64url_decode(buf, blen_max, p1, blen_max);
	if (blen <= 0)
		goto out;
	j = json_loadb((const char *)buf, (size_t)blen, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		goto out;
	}
	*ret = j;
	r = 0;
out:
	ts_erase_free(buf, blen_max);
	return r;
}

int oauth_id_claims_parse(struct oauth_id_claims *ret, const char *id_token)
{
	struct oauth_id_claims c = {0};
	json_t *j = NULL, *aud;
	int r;

	r = jwt_payload(id_token, &j);
	if (r < 0)
		return r;
	r = -EINVAL;
	if (oauth_json_str(j, "iss", c.iss, sizeof(c.iss), NULL) != 1 ||
	    oauth_json_str(j, "sub", c.sub, sizeof(c.sub), NULL) != 1)
		goto out;
	aud = json_object_get(j, "aud");
	if (json_is_array(aud))
		aud = json_array_get(aud, 0);
	if (!json_is_string(aud) || json_string_length(aud) >= sizeof(c.aud) ||
	    has_control(json_string_value(aud), json_string_length(aud)))
		goto out;
	memcpy(c.aud, json_string_value(aud), json_string_length(aud) + 1);
	c.present = true;
	*ret = c;
	r = 0;
out:
	json_decref(j);
	return r;
}

int oauth_groups_from_id_token(struct oauth_groups *ret, const char *path, const char *id_token)
{
	json_t *j = NULL;
	int r = jwt_payload(id_token, &j);

	if (r < 0)
		return r;
	oauth_groups_read(ret, j, path);
	json_decref(j);
	return 0;
}

int oauth_id_token_str(char *out, size_t outlen, const char *claim, const char *id_token)
{
	json_t *j = NULL;
	int r = jwt_payload(id_token, &j);

	out[0] = '\0';
	if (r < 0)
		return r;
	/* the same rules as a claim of userinfo: a string, no control
	 * characters, shorter than outlen; anything else is no name */
	r = oauth_json_str(j, claim, out, outlen, NULL);
	if (r < 0)
		out[0] = '\0';
	json_decref(j);
	return r < 0 ? TS_E_BAD_ANSWER : r;
}
