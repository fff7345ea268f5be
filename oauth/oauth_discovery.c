/* SPDX-License-Identifier: MIT */
/*
 * Discovery (RFC 8414 / OIDC Discovery 1.0): fetched once per client, or
 * supplied from the broker's cache and checked the same way; endpoints set
 * in the config win.
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

/* ---- discovery ------------------------------------------------------------ */

static bool all_overridden(const struct ts_config *cfg)
{
	return cfg->token_endpoint[0] && cfg->device_authorization_endpoint[0] &&
	       cfg->userinfo_endpoint[0] && cfg->introspection_endpoint[0] &&
	       cfg->revocation_endpoint[0];
}

int oauth_discover_once(struct oauth_client *c, struct oauth_error *err)
{
	struct http_resp resp;
	struct ts_config tmp;
	char url[TS_URL_MAX + 64], shown[TS_URL_MAX + 64];
	size_t n = strlen(c->cfg.issuer);
	struct http_req q = {.what = "discovery document"};
	int r;

	if (c->discovered || all_overridden(&c->cfg))
		return 0;
	if (!n)
		return oauth_fail(err, TS_E_SERVER_CONFIG,
		                  "no issuer is configured and not every endpoint is set");
	while (n > 0 && c->cfg.issuer[n - 1] == '/')
		n--;
	(void)snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration", (int)n,
	               c->cfg.issuer);
	q.url = url;
	oauth_url_shown(shown, sizeof(shown), url);
	r = oauth_http_do(c, &q, &resp, err);
	if (r < 0)
		return r;
	if (resp.status == 404) {
		r = oauth_fail(err, TS_E_SERVER_CONFIG,
		               "no discovery document at %s (HTTP 404): check issuer, or set the "
		               "endpoints in the config",
		               shown);
		goto out;
	}
	if (resp.status != 200) {
		r = oauth_fail(err, TS_E_BAD_ANSWER, "the discovery document %s answered HTTP %ld",
		               shown, resp.status);
		goto out;
	}
	if (!oauth_is_json_type(resp.content_type)) {
		r = oauth_fail(err, TS_E_BAD_ANSWER,
		               "the discovery document %s has content type \"%s\", not JSON",
		               shown, resp.content_type);
		goto out;
	}
	tmp = c->cfg;
	r = oauth_parse_discovery(&tmp, c->cfg.issuer, resp.body.p, resp.body.len, err);
	if (r < 0)
		goto out;
	c->cfg = tmp;
	c->discovered = true;
	oauth_read_auth_methods(c, resp.body.p, resp.body.len);
	/* kept for oauth_fetched_discovery(): metadata, no secret in it */
	c->discovery_doc = malloc(resp.body.len + 1);
	if (c->discovery_doc) {
		memcpy(c->discovery_doc, resp.body.p, resp.body.len);
		c->discovery_doc[resp.body.len] = '\0';
		c->discovery_len = resp.body.len;
	}
out:
	oauth_resp_done(&resp);
	return r;
}

int oauth_discover(struct oauth_client *c, struct oauth_error *err)
{
	oauth_error_reset(err);
	return oauth_finish(c, err, oauth_discover_once(c, err), NULL, 0);
}

int oauth_set_discovery(struct oauth_client *c, const char *doc, size_t len,
                        struct oauth_error *err)
{
	struct ts_config tmp;
	int r;

	oauth_error_reset(err);
	if (c->discovered)
		return 0;
	if (len > c->cfg.max_response_size)
		return oauth_finish(c, err,
		              oauth_fail(err, TS_E_TOO_BIG,
		                         "a discovery document of %zu bytes is larger than %u", len,
		                         c->cfg.max_response_size),
		              NULL, 0);
	tmp = c->cfg;
	r = oauth_parse_discovery(&tmp, c->cfg.issuer, doc, len, err);
	if (r < 0)
		return oauth_finish(c, err, r, NULL, 0);
	c->cfg = tmp;
	c->discovered = true;
	c->discovery_supplied = true;
	oauth_read_auth_methods(c, doc, len);
	return 0;
}

const char *oauth_fetched_discovery(const struct oauth_client *c, size_t *ret_len)
{
	*ret_len = c->discovery_len;
	return c->discovery_doc;
}

bool oauth_discovery_supplied(const struct oauth_client *c)
{
	return c->discovery_supplied;
}

/* The endpoint at offset off of the config, discovering when it is empty. */
int oauth_endpoint(struct oauth_client *c, const char *name, const char *ep,
                    struct oauth_error *err)
{
	int r;

	if (ep[0])
		return 0;
	r = oauth_discover_once(c, err);
	if (r < 0)
		return r;
	if (!ep[0])
		return oauth_fail(err, TS_E_SERVER_CONFIG,
		                  "the server offers no %s (not in its discovery document, not set "
		                  "in the config)",
		                  name);
	return 0;
}
