/* SPDX-License-Identifier: MIT */
/*
 * Revalidation of an access token at the server: introspection (RFC 7662),
 * userinfo (OIDC Core §5.3), and the choice between them.
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

/* ---- revalidation ---------------------------------------------------------- */

int oauth_introspect(struct oauth_client *c, const char *token, struct oauth_identity *ret,
                     struct oauth_error *err)
{
	struct sbuf form = {0};
	struct http_resp resp;
	const char *secrets[] = {token};
	int r;

	oauth_error_reset(err);
	if (!c->secret) {
		r = oauth_fail(err, TS_E_SERVER_CONFIG,
		               "introspection needs a client secret (client_secret_file); use "
		               "revalidate = userinfo for a public client");
		goto out;
	}
	r = oauth_endpoint(c, "introspection endpoint", c->cfg.introspection_endpoint, err);
	if (r < 0)
		goto out;
	if ((r = oauth_form_add(c->curl, &form, "token", token)) < 0 ||
	    (r = oauth_form_add(c->curl, &form, "token_type_hint", "access_token")) < 0 ||
	    (r = oauth_add_client_auth(c, &form, err)) < 0)
		goto out;
	r = oauth_post_json(c, "introspection endpoint", c->cfg.introspection_endpoint, &form,
	                    OAUTH_RETRY_ANY, &resp, err);
	if (r < 0)
		goto out;
	if (resp.status != 200) {
		r = oauth_error_answer("introspection endpoint", &resp, err);
		/* our client was refused, not the token */
		if (r == TS_E_REJECTED_TOKEN || r == TS_E_NEEDS_LOGIN)
			r = TS_E_SERVER_CONFIG;
	} else {
		r = oauth_parse_introspection(ret, c->cfg.username_claim, c->cfg.client_id, resp.body.p,
		                              resp.body.len, err);
		if (r >= 0 || r == TS_E_REJECTED_TOKEN)
			ret->server_date = resp.date;
		/* the groups of the same answer (parsed once more: bounded) */
		if (r >= 0 && oauth_groups_parse(&ret->groups, c->cfg.groups_claim, resp.body.p,
		                                 resp.body.len) < 0)
			oauth_groups_reset(&ret->groups);
		else if (r < 0)
			oauth_groups_reset(&ret->groups);
		/* an OAuth error here is about our client, never the user's grant */
		if (r == TS_E_NEEDS_LOGIN || (r == TS_E_REJECTED_TOKEN && err && err->error[0])) {
			r = TS_E_SERVER_CONFIG;
			if (err)
				(void)snprintf(err->message, sizeof(err->message),
				               "the introspection endpoint refused the client's "
				               "request: %s%s%.256s%s",
				               err->error, err->description[0] ? " (" : "",
				               err->description, err->description[0] ? ")" : "");
		}
	}
	oauth_resp_done(&resp);
	oauth_auth_note(c, r, err);
out:
	oauth_buf_done(&form);
	return oauth_finish(c, err, r, secrets, 1);
}

/* value of param="..." (or param=token) in a WWW-Authenticate header */
static void auth_param(char *out, size_t outlen, const char *hdr, const char *param)
{
	size_t pn = strlen(param);
	const char *p = hdr;

	out[0] = '\0';
	while ((p = strcasestr(p, param))) {
		bool start = p == hdr || p[-1] == ' ' || p[-1] == ',';
		p += pn;
		if (!start || *p != '=')
			continue;
		p++;
		if (*p == '"') {
			p++;
			ts_sanitize_text(out, outlen, p, strcspn(p, "\""));
		} else {
			ts_sanitize_text(out, outlen, p, strcspn(p, " ,"));
		}
		return;
	}
}

int oauth_userinfo(struct oauth_client *c, const char *token, struct oauth_identity *ret,
                   struct oauth_error *err)
{
	struct http_resp resp;
	struct oauth_identity id = {0};
	const char *secrets[] = {token};
	struct http_req q = {.what = "userinfo endpoint", .bearer = token};
	json_t *j = NULL;
	int r;

	oauth_error_reset(err);
	r = oauth_endpoint(c, "userinfo endpoint", c->cfg.userinfo_endpoint, err);
	if (r < 0)
		goto out;
	q.url = c->cfg.userinfo_endpoint;
	r = oauth_http_retry(c, &q, OAUTH_RETRY_ANY, &resp, err);
	if (r < 0)
		goto out;
	if (resp.status == 401 || resp.status == 403) {
		char e[OAUTH_ERROR_MAX], d[OAUTH_DESC_MAX];
		auth_param(e, sizeof(e), resp.www_auth, "error");
		auth_param(d, sizeof(d), resp.www_auth, "error_description");
		if (err) {
			memcpy(err->error, e, sizeof(e));
			memcpy(err->description, d, sizeof(d));
		}
		if (resp.status == 401)
			r = oauth_fail(
			    err, TS_E_REJECTED_TOKEN,
			    "the server rejected the token at the userinfo endpoint (HTTP "
			    "401%s%s%s%s)",
			    e[0] ? ", " : "", e, d[0] ? ": " : "", d);
		else
			r = oauth_fail(
			    err, TS_E_SERVER_CONFIG,
			    "the userinfo endpoint refused access (HTTP 403 %s%s%s): the "
			    "configured scopes do not include what it needs (add openid "
			    "to scopes)",
			    e[0] ? e : "forbidden", d[0] ? ": " : "", d);
		if (err)
			err->http_status = resp.status;
		goto done;
	}
	if (resp.status != 200 || !oauth_is_json_type(resp.content_type)) {
		r = oauth_fail(err, TS_E_BAD_ANSWER,
		               "the userinfo endpoint answered HTTP %ld with content type \"%s\"",
		               resp.status, resp.content_type[0] ? resp.content_type : "(none)");
		goto done;
	}
	j = oauth_json_load(resp.body.p, resp.body.len, err);
	if (!j) {
		r = TS_E_BAD_ANSWER;
		goto done;
	}
	r = oauth_json_str(j, "sub", id.sub, sizeof(id.sub), err);
	if (r == 0 || (r > 0 && !id.sub[0]))
		r = oauth_fail(err, TS_E_BAD_ANSWER, "the userinfo answer has no \"sub\"");
	if (r < 0)
		goto done;
	if (c->cfg.username_claim[0]) {
		r = oauth_json_str(j, c->cfg.username_claim, id.username, sizeof(id.username), err);
		if (r < 0)
			goto done;
	}
	/* only the NSS cache's GECOS: a bad one is dropped, never fatal */
	if (oauth_json_str(j, "name", id.name, sizeof(id.name), NULL) < 0)
		id.name[0] = '\0';
	oauth_groups_read(&id.groups, j, c->cfg.groups_claim);
	id.active = true;
	id.by_userinfo = true;
	id.server_date = resp.date;
	*ret = id;
	r = 0;
done:
	json_decref(j);
	oauth_resp_done(&resp);
out:
	return oauth_finish(c, err, r, secrets, 1);
}

bool oauth_uses_introspection(const struct oauth_client *c)
{
	switch (c->cfg.revalidate) {
	case TS_REVALIDATE_INTROSPECTION:
		return true;
	case TS_REVALIDATE_USERINFO:
		return false;
	case TS_REVALIDATE_AUTO:
	default:
		return c->secret && c->cfg.introspection_endpoint[0] != '\0';
	}
}

int oauth_revalidate(struct oauth_client *c, const char *token, struct oauth_identity *ret,
                     struct oauth_error *err)
{
	bool intro;

	switch (c->cfg.revalidate) {
	case TS_REVALIDATE_INTROSPECTION:
		intro = true;
		break;
	case TS_REVALIDATE_USERINFO:
		intro = false;
		break;
	case TS_REVALIDATE_AUTO:
	default:
		if (!c->secret) {
			intro = false;
			break;
		}
		oauth_error_reset(err);
		if (!c->cfg.introspection_endpoint[0]) {
			int r = oauth_discover_once(c, err);
			if (r < 0)
				return oauth_finish(c, err, r, NULL, 0);
		}
		intro = c->cfg.introspection_endpoint[0] != '\0';
		break;
	}
	return intro ? oauth_introspect(c, token, ret, err) : oauth_userinfo(c, token, ret, err);
}

bool oauth_identity_for_client(const struct oauth_client *c, const struct oauth_identity *id)
{
	if (!id->active || !c->cfg.client_id[0])
		return false;
	return strcmp(id->client_id, c->cfg.client_id) == 0 || id->aud_has_client;
}
