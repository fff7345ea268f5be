/* SPDX-License-Identifier: MIT */
/*
 * The server's capabilities, as its discovery document states them (the
 * broker fetched it for this run), and what each means for this
 * configuration: the device login, the grant types, client
 * authentication, revalidation (introspection or userinfo), revocation at
 * logout and offline_access. An endpoint set in the configuration wins
 * over discovery, as in the broker.
 */
#include <stdio.h>
#include <string.h>

#include "doctor.h"

#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

struct probe {
	struct doctor *d;
	const struct ts_config *cfg;
	json_t *doc; /* never NULL here */
	bool secret;
	bool uses[TS_LOGIN_METHODS_MAX];     /* by enum ts_login_method */
	char who[TS_LOGIN_METHODS_MAX][256]; /* "the top level, sshd" */
};

static const char *endpoint(const struct probe *p, const char *key, const char *configured)
{
	const char *s;

	if (configured[0])
		return configured;
	s = json_string_value(json_object_get(p->doc, key));
	return s && s[0] ? s : NULL;
}

/* -1: the server publishes no such list; else whether it names value. */
static int listed(const struct probe *p, const char *key, const char *value)
{
	json_t *a = json_object_get(p->doc, key), *v;
	size_t i;

	if (!json_is_array(a))
		return -1;
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);

		if (s && !strcmp(s, value))
			return 1;
	}
	return 0;
}

static void list_text(const struct probe *p, const char *key, char *out, size_t len)
{
	json_t *a = json_object_get(p->doc, key), *v;
	size_t i, o = 0;

	out[0] = '\0';
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);
		int k;

		if (!s)
			continue;
		k = snprintf(out + o, len - o, "%s%s", o ? ", " : "", s);
		if (k < 0 || (size_t)k >= len - o)
			break;
		o += (size_t)k;
	}
}

static void note_methods(struct probe *p, const struct ts_config *cfg, const char *who)
{
	for (size_t i = 0; i < cfg->n_login_methods && i < TS_LOGIN_METHODS_MAX; i++) {
		unsigned m = (unsigned)cfg->login_methods[i];
		size_t o;

		if (m >= TS_LOGIN_METHODS_MAX)
			continue;
		o = strlen(p->who[m]);
		p->uses[m] = true;
		if (!strstr(p->who[m], who))
			snprintf(p->who[m] + o, sizeof(p->who[m]) - o, "%s%s", o ? ", " : "", who);
	}
}

static void probe_device(struct probe *p)
{
	const char *ep =
	    endpoint(p, "device_authorization_endpoint", p->cfg->device_authorization_endpoint);
	int g = listed(p, "grant_types_supported", DEVICE_GRANT);

	if (!p->uses[TS_LOGIN_DEVICE]) {
		cli_doctor_line(p->d, "skip", "device-login", NULL,
		                "no login_methods include device%s",
		                ep ? "" : " (the server offers none)");
		return;
	}
	if (!ep)
		cli_doctor_line(
		    p->d, "fail", "device-login",
		    "enable the device authorization grant at the server (or set "
		    "device_authorization_endpoint), or take device out of login_methods",
		    "login_methods includes device (%s) but the server publishes no "
		    "device_authorization_endpoint: device logins fail",
		    p->who[TS_LOGIN_DEVICE]);
	else if (g == 0)
		cli_doctor_line(
		    p->d, "warn", "device-login",
		    "enable the device authorization grant for this client at the server",
		    "the server has %s but its grant_types_supported does not name %s: it "
		    "may refuse device logins (%s)",
		    ep, DEVICE_GRANT, p->who[TS_LOGIN_DEVICE]);
	else
		cli_doctor_line(p->d, "ok", "device-login", NULL, "device login (%s) at %s",
		                p->who[TS_LOGIN_DEVICE], ep);
}

static void probe_grants(struct probe *p)
{
	char list[512];
	int r = listed(p, "grant_types_supported", "refresh_token");
	int pw = listed(p, "grant_types_supported", "password");

	if (r < 0) {
		cli_doctor_line(p->d, "skip", "grant-types", NULL,
		                "the server publishes no grant_types_supported");
		return;
	}
	list_text(p, "grant_types_supported", list, sizeof(list));
	if (p->uses[TS_LOGIN_PASSWORD] && pw == 0)
		cli_doctor_line(p->d, "fail", "grant-types",
		                "enable the password grant for this client at the server, or take "
		                "password out of login_methods",
		                "login_methods includes password (%s) but the server's "
		                "grant_types_supported (%s) has no password grant",
		                p->who[TS_LOGIN_PASSWORD], list);
	else if (r == 0)
		cli_doctor_line(
		    p->d, "warn", "grant-types",
		    "enable refresh tokens for this client at the server",
		    "the server's grant_types_supported (%s) has no refresh_token: every "
		    "sign-in ends when its access token expires",
		    list);
	else
		cli_doctor_line(p->d, "ok", "grant-types", NULL, "the server supports %s", list);
}

static void probe_client_auth(struct probe *p)
{
	static const char *const key[] = {"auto", "basic", "post", "none"};
	static const char *const method[] = {NULL, "client_secret_basic", "client_secret_post",
	                                     "none"};
	enum ts_client_auth a = p->cfg->client_auth;
	const char *k = (unsigned)a < 4 ? key[a] : "?";
	char list[256];
	int basic = listed(p, "token_endpoint_auth_methods_supported", "client_secret_basic");
	int post = listed(p, "token_endpoint_auth_methods_supported", "client_secret_post");
	int none = listed(p, "token_endpoint_auth_methods_supported", "none");

	list_text(p, "token_endpoint_auth_methods_supported", list, sizeof(list));
	if (basic < 0) {
		cli_doctor_line(
		    p->d, "ok", "client-auth", NULL,
		    "the server publishes no token_endpoint_auth_methods_supported; "
		    "client_auth = %s, %s",
		    k, p->secret ? "client_secret_basic (RFC 8414's default)" : "public client");
		return;
	}
	if (!p->secret && (a == TS_CLIENT_AUTH_AUTO || a == TS_CLIENT_AUTH_NONE)) {
		if (none == 0)
			cli_doctor_line(
			    p->d, "warn", "client-auth",
			    "register the client as public at the server, or give it a secret "
			    "(client_secret_file)",
			    "a public client (no client_secret_file) but the server's "
			    "token_endpoint_auth_methods_supported (%s) has no none",
			    list);
		else
			cli_doctor_line(p->d, "ok", "client-auth", NULL,
			                "public client; the server accepts none (%s)", list);
		return;
	}
	/* client_auth = none with a secret: the configuration refuses it */
	if (a == TS_CLIENT_AUTH_AUTO) {
		if (basic || post)
			cli_doctor_line(p->d, "ok", "client-auth", NULL,
			                "client_auth = auto uses %s (the server lists %s)",
			                basic ? method[1] : method[2], list);
		else
			cli_doctor_line(
			    p->d, "fail", "client-auth",
			    "allow client_secret_basic or client_secret_post for this client at "
			    "the server",
			    "the server's token_endpoint_auth_methods_supported (%s) has neither "
			    "client_secret_basic nor client_secret_post: it refuses this "
			    "client's secret",
			    list);
		return;
	}
	if ((a == TS_CLIENT_AUTH_BASIC && !basic) || (a == TS_CLIENT_AUTH_POST && !post))
		cli_doctor_line(
		    p->d, "fail", "client-auth", "set client_auth = auto",
		    "client_auth = %s but the server's token_endpoint_auth_methods_supported "
		    "(%s) has no %s",
		    k, list, method[a]);
	else
		cli_doctor_line(p->d, "ok", "client-auth", NULL,
		                "client_auth = %s; the server lists %s", k, list);
}

static void probe_revalidation(struct probe *p)
{
	const char *in = endpoint(p, "introspection_endpoint", p->cfg->introspection_endpoint);
	const char *ui = endpoint(p, "userinfo_endpoint", p->cfg->userinfo_endpoint);
	enum ts_revalidate rv = p->cfg->revalidate;
	bool intro =
	    rv == TS_REVALIDATE_INTROSPECTION || (rv == TS_REVALIDATE_AUTO && p->secret && in);

	if (rv == TS_REVALIDATE_INTROSPECTION && !in) {
		cli_doctor_line(p->d, "fail", "revalidation",
		                "set revalidate = auto (userinfo), or introspection_endpoint",
		                "revalidate = introspection but the server publishes no "
		                "introspection_endpoint: every check of a stored sign-in fails");
		return;
	}
	if (p->uses[TS_LOGIN_TOKEN] && !intro) {
		cli_doctor_line(
		    p->d, "fail", "revalidation",
		    "take token out of login_methods, or use a confidential client at a "
		    "server with introspection",
		    "login_methods includes token (%s) but revalidation uses userinfo (%s): "
		    "only introspection can tell a token was issued to this client",
		    p->who[TS_LOGIN_TOKEN],
		    !in ? "the server has no introspection endpoint" : "public client");
		return;
	}
	if (intro) {
		cli_doctor_line(p->d, "ok", "revalidation", NULL, "introspection at %s", in);
		return;
	}
	if (!ui) {
		cli_doctor_line(
		    p->d, "fail", "revalidation",
		    "set userinfo_endpoint, or use a confidential client at a server with "
		    "introspection",
		    "revalidation would use userinfo, but the server publishes no "
		    "userinfo_endpoint%s",
		    in ? "" : " (nor introspection)");
		return;
	}
	if (rv == TS_REVALIDATE_AUTO && p->secret && !in)
		cli_doctor_line(
		    p->d, "ok", "revalidation", NULL,
		    "no introspection endpoint: revalidate = auto will use userinfo at %s", ui);
	else if (rv == TS_REVALIDATE_AUTO && !p->secret)
		cli_doctor_line(p->d, "ok", "revalidation", NULL,
		                "public client: revalidate = auto uses userinfo at %s", ui);
	else
		cli_doctor_line(p->d, "ok", "revalidation", NULL, "userinfo at %s", ui);
}

static void probe_revocation(struct probe *p)
{
	const char *ep = endpoint(p, "revocation_endpoint", p->cfg->revocation_endpoint);

	if (ep)
		cli_doctor_line(p->d, "ok", "revocation", NULL, "logout revokes the grant at %s",
		                ep);
	else if (p->cfg->revoke_on == TS_REVOKE_NEVER)
		cli_doctor_line(
		    p->d, "skip", "revocation", NULL,
		    "the server offers no revocation; revoke_on = never does not use it");
	else
		cli_doctor_line(
		    p->d, "warn", "revocation",
		    "end grants in the server's administration when someone leaves; expect "
		    "logout to say so",
		    "no revocation endpoint: logout cannot end the grant at the server; it "
		    "lives on until it expires or an administrator ends it");
}

static bool has_word(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *s = list; (s = strstr(s, w)); s += n)
		if ((s == list || s[-1] == ' ' || s[-1] == ',') &&
		    (!s[n] || s[n] == ' ' || s[n] == ','))
			return true;
	return false;
}

static void probe_scopes(struct probe *p)
{
	int off = listed(p, "scopes_supported", "offline_access");
	bool asked = has_word(p->cfg->scopes, "offline_access");

	if (asked && off == 0)
		cli_doctor_line(
		    p->d, "warn", "offline-access", "remove offline_access from scopes",
		    "offline_access is in scopes but not in the server's scopes_supported: a "
		    "server like Google answers invalid_scope, and every sign-in fails");
	else if (!asked && off == 1)
		cli_doctor_line(p->d, "warn", "offline-access", "add offline_access to scopes",
		                "the server lists offline_access in scopes_supported but scopes "
		                "(%s) does not ask for it: several such servers (Entra ID, Okta, "
		                "Authentik) then issue no refresh token",
		                p->cfg->scopes);
	else if (asked)
		cli_doctor_line(p->d, "ok", "offline-access", NULL, "offline_access is asked for%s",
		                off < 0 ? " (the server lists no scopes)" : " and supported");
	else
		cli_doctor_line(p->d, "ok", "offline-access", NULL,
		                "offline_access is not asked for%s",
		                off < 0 ? " (the server lists no scopes)" : " nor offered");
}

void doc_probes(struct doctor *d)
{
	struct probe p = {.d = d, .cfg = &d->c->cfg};

	if (!d->c->cfg_ok) {
		cli_doctor_line(d, "skip", "capabilities", NULL,
		                "not checked: the configuration does not load");
		return;
	}
	if (!d->server_answered) {
		cli_doctor_line(d, "skip", "capabilities", NULL,
		                "not checked: the server's discovery document was not read");
		return;
	}
	p.doc = d->discovery ? json_incref(d->discovery) : json_object();
	if (!p.doc)
		return;
	p.secret = p.cfg->client_secret_file[0] != '\0';
	note_methods(&p, p.cfg, "the top level");
	/* a service is named where its login_methods differ from the top level's */
	for (size_t i = 0; i < d->nsvc; i++) {
		const struct ts_config *s = &d->svc[i].cfg;

		if (s->n_login_methods != p.cfg->n_login_methods ||
		    memcmp(s->login_methods, p.cfg->login_methods,
		           s->n_login_methods * sizeof(s->login_methods[0])) != 0)
			note_methods(&p, s, d->svc[i].name);
	}
	probe_device(&p);
	probe_grants(&p);
	probe_client_auth(&p);
	probe_revalidation(&p);
	probe_revocation(&p);
	probe_scopes(&p);
	json_decref(p.doc);
}
