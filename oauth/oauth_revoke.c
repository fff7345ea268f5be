/* SPDX-License-Identifier: MIT */
/*
 * Revocation (RFC 7009).
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

/* ---- revocation (RFC 7009) -------------------------------------------------- */

int oauth_revoke(struct oauth_client *c, const char *token, const char *hint,
                 struct oauth_error *err)
{
	struct sbuf form = {0};
	struct http_resp resp;
	struct http_req q = {.what = "revocation endpoint", .client_auth = true};
	const char *secrets[] = {token};
	int r;

	oauth_error_reset(err);
	if (!c->cfg.revocation_endpoint[0]) {
		r = oauth_discover_once(c, err);
		if (r < 0)
			goto out;
	}
	if (!c->cfg.revocation_endpoint[0]) {
		/* Entra ID, Google: no RFC 7009 endpoint (neither discovered nor
		 * configured); not a configuration error, nothing to reach */
		r = oauth_fail(err, -EOPNOTSUPP,
		               "this server offers no revocation; the grant lives on until it "
		               "expires or an administrator ends it");
		goto out;
	}
	if ((r = oauth_form_add(c->curl, &form, "token", token)) < 0 ||
	    (hint && (r = oauth_form_add(c->curl, &form, "token_type_hint", hint)) < 0) ||
	    (r = oauth_add_client_auth(c, &form, err)) < 0)
		goto out;
	q.url = c->cfg.revocation_endpoint;
	q.form = form.p;
	q.form_len = form.len;
	r = oauth_http_do(c, &q, &resp, err);
	if (r < 0)
		goto out;
	if (resp.status == 200) {
		r = 0; /* whatever the body says (RFC 7009 §2.2) */
	} else if (oauth_is_json_type(resp.content_type)) {
		r = oauth_error_answer("revocation endpoint", &resp, err);
	} else if (resp.status == 401) {
		r = oauth_fail(err, TS_E_SERVER_CONFIG,
		               "the revocation endpoint refused the client's authentication (HTTP "
		               "401)");
	} else {
		r = oauth_fail(err, TS_E_BAD_ANSWER, "the revocation endpoint answered HTTP %ld",
		               resp.status);
	}
	oauth_resp_done(&resp);
	if (err && resp.status)
		err->http_status = err->http_status ? err->http_status : resp.status;
	oauth_auth_note(c, r, err);
out:
	oauth_buf_done(&form);
	return oauth_finish(c, err, r, secrets, 1);
}

