/* SPDX-License-Identifier: MIT */
/*
 * Sign-in: device authorization grant, password grant, pasted token;
 * the identity check and the store of the new record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"
#include "nss_update.h"
#include "qr.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_time.h"

/* The sign-in methods: the configurable ones (ts_login_method, for PAM and
 * the CLI) and two the CLI asks for by name: a refresh token read from its
 * standard input (headless provisioning; bound like a pasted token) and the
 * client credentials grant (a service account; root callers only, checked
 * by the boundary). */
enum eng_method {
	EM_DEVICE,
	EM_PASSWORD,
	EM_TOKEN,
	EM_REFRESH_TOKEN,
	EM_CLIENT_CREDENTIALS,
};

static const char *em_name(enum eng_method m)
{
	switch (m) {
	case EM_DEVICE:
		return ts_login_method_name(TS_LOGIN_DEVICE);
	case EM_PASSWORD:
		return ts_login_method_name(TS_LOGIN_PASSWORD);
	case EM_TOKEN:
		return ts_login_method_name(TS_LOGIN_TOKEN);
	case EM_REFRESH_TOKEN:
		return TS_METHOD_REFRESH_TOKEN;
	case EM_CLIENT_CREDENTIALS:
	default:
		return TS_METHOD_CLIENT_CREDENTIALS;
	}
}

static enum eng_method em_of(enum ts_login_method m)
{
	return m == TS_LOGIN_PASSWORD ? EM_PASSWORD : m == TS_LOGIN_TOKEN ? EM_TOKEN : EM_DEVICE;
}

static bool method_allowed(const struct ts_config *cfg, enum ts_login_method m)
{
	for (size_t i = 0; i < cfg->n_login_methods; i++)
		if (cfg->login_methods[i] == m)
			return true;
	return false;
}

static int conv_info(struct ts_engine *e, const struct ts_request *req, const char *text)
{
	if (!e->conv || !e->conv->info || (req->flags & TS_FLAG_SILENT))
		return 0;
	return e->conv->info(e->conv->ctx, text);
}

static int ask(struct ts_engine *e, const char *text, bool echo, char **ret)
{
	if (!e->conv || !e->conv->prompt)
		return TS_E_INTERACTION;
	if (e->conv->prompt(e->conv->ctx, text, echo, ret) < 0 || !*ret)
		return TS_E_INTERACTION;
	return 0;
}

/* A pasted token (access or refresh) often carries a trailing newline or
 * blanks from the copy; a token never ends in one. Only tokens are
 * trimmed: a password keeps every byte (a trailing space is part of it). */
static void trim_pasted(char *s)
{
	for (size_t n = strlen(s);
	     n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t');
	     n--)
		s[n - 1] = '\0';
}

#define TS_DEVICE_PROMPT_TAIL "Press Enter once you have approved it: "

/* The sign-in text of a device login: URL, code, optional QR code. */
static void device_text(const struct ts_engine *e, const struct oauth_device *dev, char *text,
                        size_t len)
{
	char uri[512], code[64], full[1024];
	size_t n;

	/* What the server sent is shown on the user's terminal: printable
	 * ASCII only, so no escape sequence of the server's reaches it. */
	ts_sanitize_text(uri, sizeof(uri), dev->verification_uri, strlen(dev->verification_uri));
	ts_sanitize_text(code, sizeof(code), dev->user_code, strlen(dev->user_code));
	ts_sanitize_text(full, sizeof(full), dev->verification_uri_complete,
	                 strlen(dev->verification_uri_complete));
	snprintf(text, len, "To sign in to %.500s, open %s and enter the code %s", e->cfg->issuer,
	         uri, code);
	if (full[0]) {
		n = strlen(text);
		snprintf(text + n, len - n, "\n(or open %s)", full);
		/* With libqrencode, a QR code of the complete URI follows. */
		n = strlen(text);
		snprintf(text + n, len - n, "\nor scan this code:\n");
		if (ts_qr_render(full, text + strlen(text), len - strlen(text)) < 0)
			text[n] = '\0';
		else
			text[strlen(text) - 1] = '\0'; /* the conversation ends the line */
	}
}

/*
 * Show the sign-in text. The device code is shown even with PAM_SILENT
 * (the login needs it), but the module suppresses INFO messages then
 * (Debian's sudo always passes PAM_SILENT): with TS_FLAG_SILENT the text
 * goes out as a PROMPT (echo on), which PAM_SILENT does not suppress, and
 * the poll starts after the answer. A remote login (PAM_RHOST set: sshd)
 * gets the prompt too: sshd's keyboard-interactive holds INFO messages
 * back until the next prompt or the end of authentication, so the user
 * would never see the code while it is valid.
 */
static int device_show(struct ts_engine *e, const struct ts_request *req,
                       const struct oauth_device *dev)
{
	char text[12288];
	char *answer = NULL;
	int r;

	device_text(e, dev, text, sizeof(text) - sizeof(TS_DEVICE_PROMPT_TAIL) - 1);
	if (!(req->flags & TS_FLAG_SILENT) && !req->rhost) {
		if (e->conv && e->conv->info)
			return e->conv->info(e->conv->ctx, text);
		return -EINVAL;
	}
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "\n%s", TS_DEVICE_PROMPT_TAIL);
	r = ask(e, text, true, &answer);
	ts_erase_free_str(answer);
	return r;
}

static int login_device(struct ts_engine *e, const struct ts_request *req, struct oauth_tokens *tok,
                        struct oauth_error *err)
{
	struct oauth_device dev = {0};
	unsigned limit =
	    e->cfg->device_timeout ? e->cfg->device_timeout : TS_DEVICE_TIMEOUT_DEFAULT;
	time_t deadline;
	int r;

	r = oauth_device_start(e->oauth, &dev, err);
	if (r < 0)
		goto out;
	/* the overall deadline counts from the start, also while a prompt waits */
	deadline = (time_t)(ts_monotonic_ms() / 1000) + (time_t)limit;
	r = device_show(e, req, &dev);
	if (r < 0) {
		r = TS_E_INTERACTION;
		goto out;
	}
	r = oauth_device_poll(e->oauth, &dev, deadline, NULL, NULL, tok, err);
out:
	oauth_device_clear(&dev);
	return r;
}


/* auth_with_stored_token: try the stored tokens first. 0 / negative: the
 * answer (out filled); 1: go on with an interactive sign-in. */
static int login_try_stored(struct ts_engine *e, const struct ts_request *req,
                            struct ts_outcome *out)
{
	struct ts_outcome probe = {.expires = -1};
	struct ts_record rec = {0};
	char text[TS_URL_MAX + 64];
	int r;

	r = eng_use_tokens(e, req, &rec, &probe);
	ts_record_clear(&rec);
	out->refreshes += probe.refreshes;
	/* TS_E_NOT_SAVED: confirmed with a refreshed token that could not be
	 * stored; a new sign-in could not be stored either */
	/* the access policy refusing is final: a new sign-in would not
	 * change the groups the server gives (an administrator must) */
	if (r == 0 || r == TS_E_NOT_SAVED || r == TS_E_POLICY || req->type == TS_MSG_AUTH_STORED) {
		*out = probe;
		if (r == 0)
			eng_set_msg(out, 0, TS_STATE_VALID,
			            "signed in with the stored tokens, confirmed by %s",
			            e->cfg->issuer);
		return r;
	}
	if (r == TS_E_NEEDS_LOGIN || r == TS_E_REJECTED_TOKEN) {
		snprintf(text, sizeof(text),
		         "your session at %s was ended by the server; signing you in again",
		         e->cfg->issuer);
		if (!(req->flags & TS_FLAG_NONINTERACTIVE) && conv_info(e, req, text) < 0)
			ts_log_debug("broker: conversation refused a message");
	}
	return 1;
}

/* The login method: the one asked for (if enabled), else the first
 * enabled. refresh-token and client-credentials are not login_methods: the
 * CLI names them (the boundary lets only root ask for client-credentials). */
static int login_method(struct ts_engine *e, const struct ts_request *req,
                        enum eng_method *ret, struct ts_outcome *out)
{
	enum ts_login_method m;

	if (req->method && strcmp(req->method, TS_METHOD_REFRESH_TOKEN) == 0) {
		*ret = EM_REFRESH_TOKEN;
		return 0;
	}
	if (req->method && strcmp(req->method, TS_METHOD_CLIENT_CREDENTIALS) == 0) {
		*ret = EM_CLIENT_CREDENTIALS;
		return 0;
	}
	if (req->method && req->method[0]) {
		if (ts_login_method_parse(req->method, strlen(req->method), &m) < 0 ||
		    !method_allowed(e->cfg, m)) {
			eng_set_msg(out, TS_E_CONFIG, TS_STATE_NONE,
			            "login method \"%s\" is not enabled (login_methods); ask the "
			            "administrator",
			            req->method);
			return TS_E_CONFIG;
		}
	} else if (e->cfg->n_login_methods > 0) {
		m = e->cfg->login_methods[0];
	} else {
		m = TS_LOGIN_DEVICE;
	}
	*ret = em_of(m);
	return 0;
}

/* Obtain tokens with method m through the conversation. */
static int login_obtain(struct ts_engine *e, const struct ts_request *req, enum eng_method m,
                        struct oauth_tokens *tok, struct oauth_error *err, struct ts_outcome *out)
{
	char text[TS_URL_MAX + 64];
	char *answer = NULL;
	int r;

	switch (m) {
	case EM_DEVICE:
		r = login_device(e, req, tok, err);
		break;
	case EM_PASSWORD:
		out->legacy_grant = true;
		snprintf(text, sizeof(text), "Password for %s: ", e->cfg->issuer);
		r = ask(e, text, false, &answer);
		if (r == 0)
			r = oauth_password_grant(e->oauth, req->user, answer, tok, err);
		break;
	case EM_REFRESH_TOKEN:
		/* redeemed with this host's client: a refresh token issued to
		 * another client is refused by the server (RFC 6749 §6) */
		r = ask(e, "Refresh token: ", false, &answer);
		if (r == 0)
			trim_pasted(answer);
		if (r == 0)
			r = oauth_refresh(e->oauth, answer, NULL, tok, err);
		break;
	case EM_CLIENT_CREDENTIALS:
		r = oauth_client_credentials(e->oauth, tok, err);
		break;
	case EM_TOKEN:
	default:
		r = ask(e, "Access token: ", false, &answer);
		if (r == 0) {
			trim_pasted(answer);
			tok->access_token = TS_TAKE_PTR(answer);
			tok->expires_in = OAUTH_DEFAULT_EXPIRES_IN;
			tok->obtained_local = (time_t)eng_local_now(e);
		}
		break;
	}
	ts_erase_free_str(answer);
	return r;
}

static void login_fail_msg(struct ts_engine *e, int r, const struct oauth_error *err,
                           struct ts_outcome *out)
{
	switch (r) {
	case TS_E_DENIED:
		eng_set_msg(out, r, TS_STATE_NONE, "the sign-in was denied at %s", e->cfg->issuer);
		break;
	case TS_E_EXPIRED:
		/* the code's own lifetime, the server's expired_token, or the
		 * device_timeout deadline: oauth's sentence says which */
		eng_set_msg(out, r, TS_STATE_NONE, "%s; try again",
		            err->message[0] ? err->message : "the sign-in was not completed in time");
		break;
	case TS_E_NEEDS_LOGIN:
		eng_set_msg(out, r, TS_STATE_NONE, "%s refused the credentials", e->cfg->issuer);
		break;
	case TS_E_INTERACTION:
		eng_set_msg(out, r, TS_STATE_NONE,
		            "no answer from the conversation; sign-in aborted");
		break;
	case TS_E_SERVER_CONFIG:
		if (strcmp(err->error, "invalid_scope") == 0) {
			/* Google refuses offline_access (and grants refresh
			 * tokens without it): say which scope and what to do */
			char msg[TS_MESSAGE_MAX];

			ts_scope_refusal_msg(msg, sizeof(msg), e->cfg, err->description,
			                     oauth_offline_access_listed(e->oauth));
			eng_set_msg(out, r, TS_STATE_NONE,
			            "configuration error talking to %s: %s; ask the administrator",
			            e->cfg->issuer, msg);
			break;
		}
		eng_server_error_msg(out, e, r, err);
		out->state = TS_STATE_NONE;
		break;
	default:
		eng_server_error_msg(out, e, r, err);
		out->state = TS_STATE_NONE;
		break;
	}
}

/* Best effort: the refused tokens die at the server too. */
static void revoke_obtained(struct ts_engine *e, const struct oauth_tokens *tok)
{
	struct oauth_error err = {0};

	if (tok->refresh_token && oauth_revoke(e->oauth, tok->refresh_token, "refresh_token",
	                                       &err) < 0)
		ts_log_debug("broker: could not revoke a refused sign-in's refresh token");
	memset(&err, 0, sizeof(err));
	if (tok->access_token &&
	    oauth_revoke(e->oauth, tok->access_token, "access_token", &err) < 0)
		ts_log_debug("broker: could not revoke a refused sign-in's access token");
}

/*
 * The groups of a sign-in: the revalidation answer's; when that answer has
 * no such claim, the id_token's of the same sign-in, once it is bound to
 * this issuer, this client and the subject the server just vouched for.
 */
static bool id_token_bound(const struct ts_engine *e, const struct oauth_tokens *tok,
                           const struct oauth_identity *ident)
{
	return tok->id_token && tok->id.present && strcmp(tok->id.iss, e->cfg->issuer) == 0 &&
	       strcmp(tok->id.aud, e->cfg->client_id) == 0 && ident->sub[0] &&
	       strcmp(tok->id.sub, ident->sub) == 0;
}

static void login_groups(struct ts_engine *e, const struct oauth_tokens *tok,
                         const struct oauth_identity *ident, struct oauth_groups *ret)
{
	*ret = ident->groups;
	if (ret->state != OAUTH_GROUPS_ABSENT || !id_token_bound(e, tok, ident))
		return;
	if (oauth_groups_from_id_token(ret, e->cfg->groups_claim, tok->id_token) < 0)
		*ret = ident->groups;
}

/*
 * The user name of a sign-in whose revalidation answer has no
 * username_claim (Entra's userinfo has no preferred_username or upn): the
 * id_token's of the same sign-in, once it is bound to this issuer, this
 * client and the subject the server just vouched for -- never a name from
 * an unbound source. The record keeps it with the subject; later answers
 * without a name are bound by that subject (eng_check_identity).
 */
static void login_name(const struct ts_engine *e, const struct ts_request *req,
                       const struct oauth_tokens *tok, struct oauth_identity *ident)
{
	if (ident->username[0] || !e->cfg->username_claim[0] || !id_token_bound(e, tok, ident))
		return;
	if (oauth_id_token_str(ident->username, sizeof(ident->username), e->cfg->username_claim,
	                       tok->id_token) == 1)
		ts_log_debug("broker: %s: the server's answer has no \"%s\"; the user name comes "
		             "from the ID token of this sign-in",
		             eng_log_user(req), e->cfg->username_claim);
	if (!ident->name[0] &&
	    oauth_id_token_str(ident->name, sizeof(ident->name), "name", tok->id_token) != 1)
		ident->name[0] = '\0';
}

/* The server vouched for tok: bind the identity (the user name, and the
 * subject pinned by an earlier record), check the access policy and store
 * the record. */
static int login_store(struct ts_engine *e, const struct ts_request *req, enum eng_method m,
                       struct oauth_tokens *tok, const struct oauth_identity *ident,
                       struct ts_outcome *out)
{
	struct ts_record rec = {0}, old = {0};
	struct oauth_groups groups;
	uint64_t oldgen = 0;
	bool have_old;
	int r;

	have_old = eng_load_unlocked(e, req, &old, &oldgen) >= 0;
	if (m == EM_CLIENT_CREDENTIALS) {
		/* no person: the record binds the service account USER to
		 * this client; the token must be this client's */
		if (!oauth_identity_for_client(e->oauth, ident)) {
			r = TS_E_FOREIGN_TOKEN;
			eng_set_msg(out, r, TS_STATE_NONE,
			            "the client credentials token of %s does not name this client; "
			            "nothing was stored; check revalidate = introspection",
			            e->cfg->client_id);
			goto refused;
		}
	} else {
		r = eng_check_identity(e, req, NULL, ident, out);
		if (r < 0)
			goto refused;
	}
	if ((m == EM_TOKEN || m == EM_REFRESH_TOKEN) &&
	    !oauth_identity_for_client(e->oauth, ident)) {
		/* another application's token for the same person must not
		 * open a session here (introspection's client_id / aud) */
		r = TS_E_FOREIGN_TOKEN;
		eng_set_msg(out, r, TS_STATE_NONE,
		            "the %s was issued to another application (%s), not to %s; "
		            "nothing was stored; sign in with a token obtained for this host",
		            m == EM_TOKEN ? "pasted token" : "refresh token",
		            ident->client_id[0] ? ident->client_id : "no client named",
		            e->cfg->client_id);
		goto refused;
	}
	if (have_old && old.sub[0] && ident->sub[0] && strcmp(old.sub, ident->sub) != 0) {
		/* DESIGN §5: the subject outlives logout and needs-login */
		r = TS_E_SUBJECT_PINNED;
		eng_set_msg(out, r, TS_STATE_NONE,
		            "the local account %s is pinned to another identity at %s; nothing was "
		            "stored; an administrator can release it with `tokenseal keystore "
		            "forget %s`",
		            req->user, e->cfg->issuer, req->user);
		goto refused;
	}
	/* the access policy: refused, nothing is stored and the record stays
	 * as it was; the new tokens are not revoked either (at some servers
	 * that would end the user's other sessions): they expire there */
	login_groups(e, tok, ident, &groups);
	r = eng_policy_check(e, req, &groups, TS_STATE_NONE, out);
	if (r < 0)
		goto out;
	if (m == EM_TOKEN && ident->exp > 0) {
		/* a pasted token: its expiry as the server states it */
		tok->server_date = (time_t)(eng_local_now(e) + eng_current_skew(e, 0));
		tok->expires_in = ident->exp - (long long)tok->server_date;
		if (tok->expires_in < 1)
			tok->expires_in = 1;
	}
	snprintf(rec.sub, sizeof(rec.sub), "%s",
	         ident->sub[0] || m != EM_CLIENT_CREDENTIALS ? ident->sub : e->cfg->client_id);
	snprintf(rec.username, sizeof(rec.username), "%s", ident->username);
	snprintf(rec.issuer, sizeof(rec.issuer), "%s", e->cfg->issuer);
	snprintf(rec.client_id, sizeof(rec.client_id), "%s", e->cfg->client_id);
	snprintf(rec.method, sizeof(rec.method), "%s", em_name(m));
	eng_record_fill_tokens(e, &rec, tok, out);
	rec.last_refresh_at = rec.obtained_at;
	rec.last_positive_check = eng_server_now(e, rec.skew);
	eng_record_set_groups(e, &rec, &groups);
	r = eng_store_login(e, req, &rec);
	if (r < 0) {
		eng_set_msg(out, r, TS_STATE_NONE, "could not store the sign-in: %s",
		            ts_strerror(r));
		goto out;
	}
	/* the NSS user cache; a failure there is logged, never the sign-in's */
	(void)ts_nss_record_login(e->cfg, req->user, ident->sub, ident->name);
	eng_publish_groups(e, req, &groups);
	out->expires = rec.expires_in;
	eng_set_msg(out, 0, TS_STATE_VALID, "signed in to %s as %s (%s)", e->cfg->issuer,
	            req->user, em_name(m));
	goto out;
refused:
	/* refused for identity reasons: the tokens this sign-in just got are
	 * revoked (a pasted token is not ours to revoke: it may be another
	 * user's live credential) */
	if (m != EM_TOKEN)
		revoke_obtained(e, tok);
out:
	ts_record_clear(&rec);
	ts_record_clear(&old);
	return r;
}

/*
 * The stored tokens stand in for a sign-in only where the module would let
 * them (defence in depth: a caller that is not pam_tokenseal, or one that
 * got it wrong, is refused here too): the service's auth_with_stored_token,
 * and the same-user proof -- never with a remote host (the caller's real
 * uid is checked by serve.c, a daemon peer's uid by authorize()). 0, or
 * TS_E_PERM with out filled.
 */
static int stored_use_allowed(struct ts_engine *e, const struct ts_request *req,
                              struct ts_outcome *out)
{
	if ((req->flags & TS_FLAG_SAME_USER) && req->rhost) {
		eng_set_msg(out, TS_E_PERM, TS_STATE_NONE,
		            "a request for %s claims the caller is the user but comes from the "
		            "remote host %s: refused (a stored sign-in never stands in for a "
		            "remote login)",
		            req->user_log ? req->user_log : "?", req->rhost);
		return TS_E_PERM;
	}
	if (req->type != TS_MSG_AUTH_STORED)
		return 0;
	if (!e->cfg->auth_with_stored_token) {
		eng_set_msg(out, TS_E_PERM, TS_STATE_NONE,
		            "auth_with_stored_token is not enabled for the service %s: the stored "
		            "sign-in of %s does not authenticate here",
		            req->service ? req->service : "(none)",
		            req->user_log ? req->user_log : "?");
		return TS_E_PERM;
	}
	if (!(req->flags & TS_FLAG_SAME_USER)) {
		eng_set_msg(out, TS_E_PERM, TS_STATE_NONE,
		            "the stored sign-in of %s authenticates only a caller who is that "
		            "user (same real uid, no remote host): refused",
		            req->user_log ? req->user_log : "?");
		return TS_E_PERM;
	}
	return 0;
}

int eng_login(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
{
	struct oauth_tokens tok = {0};
	struct oauth_identity ident = {0};
	struct oauth_error err = {0};
	enum eng_method m;
	int64_t got_ms, took_ms;
	int r;

	r = stored_use_allowed(e, req, out);
	if (r < 0)
		return r;
	if (req->type == TS_MSG_AUTH_STORED ||
	    (e->cfg->auth_with_stored_token && (req->flags & TS_FLAG_SAME_USER) &&
	     req->type == TS_MSG_LOGIN)) {
		r = login_try_stored(e, req, out);
		if (r <= 0)
			return r;
	}
	r = login_method(e, req, &m, out);
	if (r < 0)
		return r;
	/* the client credentials grant needs no person */
	if (m != EM_CLIENT_CREDENTIALS && ((req->flags & TS_FLAG_NONINTERACTIVE) || !e->conv)) {
		eng_set_msg(out, TS_E_INTERACTION, TS_STATE_NONE,
		            "sign-in for %s needs interaction, but this request is "
		            "non-interactive; run `tokenseal login` in a terminal",
		            req->user);
		return TS_E_INTERACTION;
	}
	r = login_obtain(e, req, m, &tok, &err, out);
	if (r < 0)
		goto fail;
	got_ms = ts_monotonic_ms();
	r = eng_revalidate_identity(e, tok.access_token, m != EM_CLIENT_CREDENTIALS, &ident, &err);
	took_ms = ts_monotonic_ms() - got_ms;
	if (r == TS_E_REJECTED_TOKEN && m != EM_TOKEN && tok.expires_in > 0 &&
	    took_ms * 2 >= tok.expires_in * 1000) {
		/* the new token spent half its life or more waiting for its
		 * check: its rejection says nothing about the client or the
		 * account (as eng_token_fresh in a use) */
		eng_set_msg(out, r, TS_STATE_NONE,
		            "%s rejected the new token of %s, which lives %lld s, after its check "
		            "took %lld ms: it ran out while waiting; nothing was stored; try "
		            "again (a server this slow needs longer-lived access tokens)",
		            e->cfg->issuer, req->user, tok.expires_in, (long long)took_ms);
		goto out;
	}
	if (r == TS_E_REJECTED_TOKEN && m != EM_TOKEN &&
	    eng_fresh_inactive_is_config(e, tok.access_token)) {
		r = TS_E_SERVER_CONFIG;
		eng_set_msg(out, r, TS_STATE_NONE,
		            "configuration error talking to %s: " ENG_AUDIENCE_TEXT
		            "; nothing was stored; ask the administrator",
		            e->cfg->issuer, e->cfg->client_id);
		goto out;
	}
	if (r == TS_E_REJECTED_TOKEN) {
		eng_set_msg(out, r, TS_STATE_NONE, "%s rejected the %s token; nothing was stored",
		            e->cfg->issuer, m == EM_TOKEN ? "pasted" : "new");
		goto out;
	}
	if (r < 0)
		goto fail;
	if (m != EM_CLIENT_CREDENTIALS && m != EM_TOKEN)
		login_name(e, req, &tok, &ident);
	r = login_store(e, req, m, &tok, &ident, out);
	goto out;
fail:
	login_fail_msg(e, r, &err, out);
out:
	oauth_tokens_clear(&tok);
	return r;
}
