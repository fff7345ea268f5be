/* SPDX-License-Identifier: MIT */
/*
 * Grants at the token endpoint (RFC 6749): refresh (§6), resource-owner
 * password (§4.3, legacy) and client credentials (§4.4).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "oauth_internal.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"

/* ---- requests at the token endpoint --------------------------------------- */

static int token_request(struct oauth_client *c, struct sbuf *form, const char *refused,
                         enum oauth_retry mode, struct oauth_tokens *ret, struct oauth_error *err)
{
	struct http_resp resp;
	struct oauth_tokens t = {0};
	time_t sent = time(NULL);
	int r;

	r = oauth_endpoint(c, "token endpoint", c->cfg.token_endpoint, err);
	if (r < 0)
		return r;
	r = oauth_post(c, "token endpoint", c->cfg.token_endpoint, form, mode, &resp, err);
	if (r < 0)
		return r;
	if (refused && resp.status == 401 && !oauth_has_oauth_error(&resp)) {
		/* RFC 6749 §5.2: 401 is the answer to a failed client
		 * authentication. A bare one is most likely this host's
		 * client_id or secret: a configuration error, which must never
		 * mark anyone's credential as refused */
		r = oauth_fail(err, TS_E_SERVER_CONFIG,
		               "the server refused this client's authentication (HTTP 401, no "
		               "error given); check client_id and client_secret_file");
		if (err)
			err->http_status = resp.status;
		oauth_resp_done(&resp);
		return r;
	}
	if (refused && (resp.status == 400 || resp.status == 403) &&
	    !oauth_has_oauth_error(&resp)) {
		/* glewlwyd 2.7.5: a dead refresh token is 400 with an empty body,
		 * a wrong password 403 with an empty body */
		r = oauth_fail(err, TS_E_NEEDS_LOGIN, "the server refused %s (HTTP %ld, no error given)",
		               refused, resp.status);
		if (err)
			err->http_status = resp.status;
		oauth_resp_done(&resp);
		return r;
	}
	r = oauth_check_json("token endpoint", c->cfg.token_endpoint, &resp, err);
	if (r < 0)
		return r;
	r = oauth_parse_token_response(&t, resp.status, resp.body.p, resp.body.len, err);
	if (r >= 0) {
		t.obtained_local = sent;
		t.server_date = resp.date;
		*ret = t;
	} else if (err) {
		err->http_status = resp.status;
	}
	oauth_resp_done(&resp);
	return r;
}

int oauth_token_request(struct oauth_client *c, struct sbuf *form, const char *refused,
                        enum oauth_retry mode, struct oauth_tokens *ret, struct oauth_error *err)
{
	int r = token_request(c, form, refused, mode, ret, err);

	oauth_auth_note(c, r, err);
	return r;
}

int oauth_password_grant(struct oauth_client *c, const char *user, const char *password,
                         struct oauth_tokens *ret, struct oauth_error *err)
{
	struct sbuf form = {0};
	const char *secrets[] = {password};
	int r;

	oauth_error_reset(err);
	if ((r = oauth_form_add(c->curl, &form, "grant_type", "password")) < 0 ||
	    (r = oauth_form_add(c->curl, &form, "username", user)) < 0 ||
	    (r = oauth_form_add(c->curl, &form, "password", password)) < 0 ||
	    (c->cfg.scopes[0] && (r = oauth_form_add(c->curl, &form, "scope", c->cfg.scopes)) < 0) ||
	    (r = oauth_add_client_auth(c, &form, err)) < 0)
		goto out;
	r = oauth_token_request(c, &form, "the user name or password", OAUTH_RETRY_NONE, ret, err);
out:
	oauth_buf_done(&form);
	return oauth_finish(c, err, r, secrets, 1);
}

static bool claims_equal(const struct oauth_id_claims *a, const struct oauth_id_claims *b)
{
	return strcmp(a->iss, b->iss) == 0 && strcmp(a->sub, b->sub) == 0 &&
	       strcmp(a->aud, b->aud) == 0;
}

int oauth_refresh(struct oauth_client *c, const char *refresh_token,
                  const struct oauth_id_claims *prev_id, struct oauth_tokens *ret,
                  struct oauth_error *err)
{
	struct sbuf form = {0};
	struct oauth_tokens t = {0};
	const char *secrets[] = {refresh_token};
	int r;

	oauth_error_reset(err);
	if ((r = oauth_form_add(c->curl, &form, "grant_type", "refresh_token")) < 0 ||
	    (r = oauth_form_add(c->curl, &form, "refresh_token", refresh_token)) < 0 ||
	    (r = oauth_add_client_auth(c, &form, err)) < 0)
		goto out;
	r = oauth_token_request(c, &form, "the refresh token", OAUTH_RETRY_UNSENT, &t, err);
	if (r < 0)
		goto out;
	if (prev_id && prev_id->present && t.id.present && !claims_equal(prev_id, &t.id)) {
		char a[64], b[64];
		ts_sanitize_text(a, sizeof(a), prev_id->sub, strlen(prev_id->sub));
		ts_sanitize_text(b, sizeof(b), t.id.sub, strlen(t.id.sub));
		oauth_tokens_clear(&t);
		r = oauth_fail(err, TS_E_IDENTITY_CHANGED,
		               "the refreshed id_token names another identity (iss/sub/aud "
		               "changed: subject \"%s\" became \"%s\"); refusing it, sign-in "
		               "required",
		               a, b);
		goto out;
	}
	if (!t.refresh_token) {
		/* RFC 6749 §6: no new refresh token, the old one stays valid */
		t.refresh_token = ts_strdup_secret(refresh_token);
		if (!t.refresh_token) {
			oauth_tokens_clear(&t);
			r = -ENOMEM;
			goto out;
		}
	}
	*ret = t;
	r = 0;
out:
	oauth_buf_done(&form);
	return oauth_finish(c, err, r, secrets, 1);
}

/* OIDC scopes mean nothing to a client-credentials token: drop them. */
static int cc_scopes(const char *in, struct sbuf *out)
{
	static const char *const oidc[] = {"openid", "offline_access", "profile",
	                                   "email",  "address",        "phone"};
	const char *p = in;

	while (*p) {
		size_t n;
		bool skip = false;
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (!n)
			break;
		for (size_t i = 0; i < TS_ARRAY_SIZE(oidc); i++)
			if (strlen(oidc[i]) == n && strncmp(p, oidc[i], n) == 0)
				skip = true;
		if (!skip) {
			if ((out->len && oauth_buf_str(out, " ") < 0) || oauth_buf_add(out, p, n) < 0)
				return -ENOMEM;
		}
		p += n;
	}
	return 0;
}

int oauth_client_credentials(struct oauth_client *c, struct oauth_tokens *ret,
                             struct oauth_error *err)
{
	struct sbuf form = {0}, sc = {0};
	int r;

	oauth_error_reset(err);
	if (!c->secret) {
		r = oauth_fail(err, TS_E_SERVER_CONFIG,
		               "client credentials need a client secret (client_secret_file)");
		goto out;
	}
	if ((r = cc_scopes(c->cfg.scopes, &sc)) < 0 ||
	    (r = oauth_form_add(c->curl, &form, "grant_type", "client_credentials")) < 0 ||
	    (sc.len && (r = oauth_form_add(c->curl, &form, "scope", sc.p)) < 0) ||
	    (r = oauth_add_client_auth(c, &form, err)) < 0)
		goto out;
	r = oauth_token_request(c, &form, NULL, OAUTH_RETRY_NONE, ret, err);
out:
	oauth_buf_done(&form);
	oauth_buf_done(&sc);
	return oauth_finish(c, err, r, NULL, 0);
}

