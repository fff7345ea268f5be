/* SPDX-License-Identifier: MIT */
/*
 * Client authentication (RFC 6749 §2.3): which method this client uses at
 * every endpoint that authenticates it (token, introspection, revocation,
 * device authorization), chosen once per client from client_auth and the
 * server's token_endpoint_auth_methods_supported; the form encoding of
 * RFC 6749 App. B (also what client_secret_basic encodes the id and secret
 * with, §2.3.1); the Basic header; the method named when the server refuses
 * the client.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth_internal.h"
#include "oauth_testing.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"

/* ---- application/x-www-form-urlencoded -------------------------------------- */

/* The WHATWG serializer, which RFC 6749 App. B refers to through HTML: ALPHA,
 * DIGIT and "*-._" as they are, space as '+', every other byte %XX. */
int oauth_form_encode(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char e[3];
		size_t n = 1;
		unsigned char ch = *p;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '*' || ch == '-' || ch == '.' || ch == '_') {
			e[0] = (char)ch;
		} else if (ch == ' ') {
			e[0] = '+';
		} else {
			e[0] = '%';
			e[1] = hex[ch >> 4];
			e[2] = hex[ch & 15];
			n = 3;
		}
		if (oauth_buf_add(b, e, n) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- the method ------------------------------------------------------------- */

static const char *method_name(enum oauth_auth_method m)
{
	switch (m) {
	case OAUTH_AUTH_BASIC:
		return "client_secret_basic";
	case OAUTH_AUTH_POST:
		return "client_secret_post";
	case OAUTH_AUTH_NONE:
		return "none";
	case OAUTH_AUTH_UNSET:
	default:
		return "(not chosen)";
	}
}

static const char *const client_auth_key[] = {"auto", "basic", "post", "none"};

static const char *key_name(enum ts_client_auth a)
{
	return (unsigned)a < TS_ARRAY_SIZE(client_auth_key) ? client_auth_key[a] : "?";
}

void oauth_read_auth_methods(struct oauth_client *c, const char *doc, size_t len)
{
	json_t *j = json_loadb(doc, len, JSON_REJECT_DUPLICATES, NULL), *a, *v;
	size_t i;

	c->auth_listed = false;
	c->auth_basic = c->auth_post = false;
	c->auth_methods[0] = '\0';
	c->offline_listed = 0;
	if (!j)
		return;
	a = json_object_get(j, "scopes_supported");
	if (json_is_array(a)) {
		c->offline_listed = 1;
		json_array_foreach(a, i, v)
		{
			const char *s = json_string_value(v);

			if (s && strcmp(s, "offline_access") == 0)
				c->offline_listed = 2;
		}
	}
	a = json_object_get(j, "token_endpoint_auth_methods_supported");
	if (json_is_array(a) && json_array_size(a) > 0) {
		c->auth_listed = true;
		json_array_foreach(a, i, v)
		{
			const char *s = json_string_value(v);
			size_t o = strlen(c->auth_methods);
			if (!s)
				continue;
			c->auth_basic = c->auth_basic || strcmp(s, "client_secret_basic") == 0;
			c->auth_post = c->auth_post || strcmp(s, "client_secret_post") == 0;
			if (o + 3 < sizeof(c->auth_methods)) {
				if (o)
					(void)snprintf(c->auth_methods + o,
					               sizeof(c->auth_methods) - o, ", ");
				o = strlen(c->auth_methods);
				ts_sanitize_text(c->auth_methods + o, sizeof(c->auth_methods) - o,
				                 s, strlen(s));
			}
		}
	}
	json_decref(j);
}

static bool endpoints_all_set(const struct ts_config *cfg)
{
	return cfg->token_endpoint[0] && cfg->device_authorization_endpoint[0] &&
	       cfg->userinfo_endpoint[0] && cfg->introspection_endpoint[0] &&
	       cfg->revocation_endpoint[0];
}

/* client_auth = auto with a secret: client_secret_basic when the server lists
 * it or lists nothing (RFC 8414 §2: the default), else client_secret_post. */
static int choose_auto(struct oauth_client *c, struct oauth_error *err)
{
	int r;

	if (!c->discovered && !endpoints_all_set(&c->cfg)) {
		r = oauth_discover_once(c, err);
		if (r < 0)
			return r;
	}
	if (!c->discovered || !c->auth_listed || c->auth_basic) {
		c->auth = OAUTH_AUTH_BASIC;
	} else if (c->auth_post) {
		c->auth = OAUTH_AUTH_POST;
	} else {
		return oauth_fail(err, TS_E_SERVER_CONFIG,
		                  "the server accepts no client authentication tokenseal has "
		                  "(client_secret_basic, client_secret_post): its "
		                  "token_endpoint_auth_methods_supported lists %s",
		                  c->auth_methods);
	}
	return 0;
}

int oauth_auth_method(struct oauth_client *c, enum oauth_auth_method *ret, struct oauth_error *err)
{
	int r;

	if (c->auth == OAUTH_AUTH_UNSET) {
		switch (c->cfg.client_auth) {
		case TS_CLIENT_AUTH_BASIC:
		case TS_CLIENT_AUTH_POST:
			if (!c->secret)
				return oauth_fail(err, TS_E_SERVER_CONFIG,
				                  "client_auth = %s needs a client secret "
				                  "(client_secret_file)",
				                  key_name(c->cfg.client_auth));
			c->auth = c->cfg.client_auth == TS_CLIENT_AUTH_BASIC ? OAUTH_AUTH_BASIC
			                                                     : OAUTH_AUTH_POST;
			break;
		case TS_CLIENT_AUTH_NONE:
			c->auth = OAUTH_AUTH_NONE;
			break;
		case TS_CLIENT_AUTH_AUTO:
		default:
			if (!c->secret) {
				c->auth = OAUTH_AUTH_NONE;
				break;
			}
			r = choose_auto(c, err);
			if (r < 0)
				return r;
			break;
		}
		ts_log_debug("oauth: client authentication %s (client_auth = %s)",
		             method_name(c->auth), key_name(c->cfg.client_auth));
	}
	*ret = c->auth;
	return 0;
}

int oauth_add_client_auth(struct oauth_client *c, struct sbuf *form, struct oauth_error *err)
{
	enum oauth_auth_method m;
	int r = oauth_auth_method(c, &m, err);

	if (r < 0)
		return r;
	switch (m) {
	case OAUTH_AUTH_POST:
		if ((r = oauth_form_add(c->curl, form, "client_id", c->cfg.client_id)) < 0 ||
		    (r = oauth_form_add(c->curl, form, "client_secret", c->secret)) < 0)
			return r;
		return 0;
	case OAUTH_AUTH_NONE:
		return oauth_form_add(c->curl, form, "client_id", c->cfg.client_id);
	case OAUTH_AUTH_BASIC:
	case OAUTH_AUTH_UNSET:
	default:
		return 0; /* the header (oauth_basic_header) */
	}
}

/* base64 (standard, padded) of in into a new string. */
static char *b64(const char *in, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)(unsigned char)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)(unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		*o++ = tab[(v >> 18) & 63];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

int oauth_basic_credentials(const char *id, const char *secret, char **ret)
{
	struct sbuf b = {0};
	char *enc;

	if (oauth_form_encode(&b, id) < 0 || oauth_buf_str(&b, ":") < 0 ||
	    oauth_form_encode(&b, secret) < 0) {
		oauth_buf_done(&b);
		return -ENOMEM;
	}
	enc = b64(b.p, b.len);
	oauth_buf_done(&b);
	if (!enc)
		return -ENOMEM;
	*ret = enc;
	return 0;
}

/* "Authorization: Basic base64(formenc(id):formenc(secret))" (§2.3.1) */
int oauth_basic_header(struct oauth_client *c, char **ret)
{
	struct sbuf h = {0};
	char *enc = NULL;
	int r = -ENOMEM;

	if (oauth_basic_credentials(c->cfg.client_id, c->secret, &enc) < 0)
		goto out;
	if (oauth_buf_str(&h, "Authorization: Basic ") < 0 || oauth_buf_str(&h, enc) < 0)
		goto out;
	*ret = TS_TAKE_PTR(h.p);
	r = 0;
out:
	ts_erase_free_str(enc);
	oauth_buf_done(&h);
	return r;
}

bool oauth_sends_basic(const struct oauth_client *c)
{
	return c->secret && c->auth == OAUTH_AUTH_BASIC;
}

/* ---- a refused client --------------------------------------------------------- */

void oauth_auth_note(struct oauth_client *c, int r, struct oauth_error *err)
{
	size_t o;

	if (r >= 0 || !err || c->auth == OAUTH_AUTH_UNSET)
		return;
	if (strcmp(err->error, "invalid_client") != 0 && err->http_status != 401)
		return;
	o = strlen(err->message);
	if (o + 1 >= sizeof(err->message))
		return;
	(void)snprintf(err->message + o, sizeof(err->message) - o,
	               " [client authentication %s (client_auth = %s); the server lists %s: "
	               "check client_id, client_secret_file and client_auth]",
	               method_name(c->auth), key_name(c->cfg.client_auth),
	               c->auth_listed ? c->auth_methods : "no methods");
}

const char *oauth_client_auth_method_name(const struct oauth_client *c)
{
	return method_name(c->auth);
}

int oauth_form_encoded(const char *s, char **ret)
{
	struct sbuf b = {0};

	if (oauth_form_encode(&b, s) < 0 || oauth_buf_str(&b, "") < 0) {
		oauth_buf_done(&b);
		return -ENOMEM;
	}
	*ret = strdup(b.p);
	oauth_buf_done(&b);
	return *ret ? 0 : -ENOMEM;
}

int oauth_offline_access_listed(const struct oauth_client *c)
{
	return c->offline_listed == 2 ? 1 : c->offline_listed == 1 ? 0 : -1;
}
