/* SPDX-License-Identifier: MIT */
/*
 * The lifecycle engine's operations: one function per broker request, on
 * top of the keystore (sealed records, per-user locks, compare-and-swap) and
 * the OAuth client. Library code: logs at debug level only; the outcome's
 * message is what the boundary shows and logs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ks.h"
#include "lifecycle.h"
#include "qr.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_time.h"

#define TS_CAS_RETRIES 3

static int64_t local_now(const struct ts_engine *e)
{
	return e->now_local ? e->now_local() : (int64_t)time(NULL);
}

static int64_t server_now(const struct ts_engine *e, int64_t skew)
{
	return local_now(e) + skew;
}

static int64_t current_skew(const struct ts_engine *e, int64_t fallback)
{
	long s = oauth_clock_skew(e->oauth);

	return s != 0 ? (int64_t)s : fallback;
}

static void set_msg(struct ts_outcome *o, int code, enum ts_state st, const char *fmt, ...)
    TS_PRINTF(4, 5);
static void set_msg(struct ts_outcome *o, int code, enum ts_state st, const char *fmt, ...)
{
	va_list ap;

	o->code = code;
	o->state = st;
	va_start(ap, fmt);
	vsnprintf(o->message, sizeof(o->message), fmt, ap);
	va_end(ap);
}

static void ks_id(const struct ts_engine *e, const struct ts_request *req, struct ks_identity *id)
{
	id->uid = req->uid;
	id->user = req->user;
	id->issuer = e->cfg->issuer;
	id->client_id = e->cfg->client_id;
}

/* Read and parse the stored record. TS_E_NO_RECORD when none. l: the
 * user's lock when held (a corrupt record is then quarantined), else NULL. */
static int load(struct ts_engine *e, const struct ts_request *req, struct ks_lock *l,
                struct ts_record *ret, uint64_t *ret_gen)
{
	struct ks_identity id;
	struct ks_blob *b = NULL;
	int r;

	ks_id(e, req, &id);
	r = l ? ks_read_locked(e->ks, l, &id, &b) : ks_read(e->ks, &id, &b);
	if (r < 0)
		return r;
	r = ts_record_from_json(ret, b->payload, b->len);
	if (r >= 0)
		*ret_gen = b->generation;
	ks_blob_free(b);
	return r;
}

/*
 * A read without the lock can race a writer: the new generation is already
 * recorded while this reader still holds the previous file, which the
 * keystore refuses as a rollback. Read again under the lock, where no writer
 * runs, before believing it.
 */
static int load_unlocked(struct ts_engine *e, const struct ts_request *req, struct ts_record *ret,
                         uint64_t *ret_gen)
{
	struct ks_lock *l = NULL;
	int r;

	r = load(e, req, NULL, ret, ret_gen);
	if (r != TS_E_ROLLBACK)
		return r;
	r = ks_lock(e->ks, req->uid, &l);
	if (r < 0)
		return r;
	r = load(e, req, l, ret, ret_gen);
	ks_unlock(l);
	return r;
}

static int store(struct ts_engine *e, const struct ts_request *req, struct ks_lock *l,
                 const struct ts_record *rec, uint64_t expected, uint64_t *ret_gen)
{
	struct ks_identity id;
	char *json = NULL;
	size_t len = 0;
	uint64_t g = 0;
	int r;

	ks_id(e, req, &id);
	r = ts_record_to_json(rec, &json, &len);
	if (r < 0)
		return r;
	r = ks_write(e->ks, l, &id, json, len, expected, &g);
	ts_erase_free(json, len);
	if (r >= 0 && ret_gen)
		*ret_gen = g;
	return r;
}

static const char *state_hint(void)
{
	return "run `tokenseal login` or log in again";
}

/* Mark the record needs-login (under the held lock); keeps it in place. */
static int mark_needs_login(struct ts_engine *e, const struct ts_request *req, struct ks_lock *l,
                            struct ts_record *cur, uint64_t gen, const char *reason)
{
	cur->state = TS_REC_NEEDS_LOGIN;
	snprintf(cur->reason, sizeof(cur->reason), "%s", reason);
	ts_secret_hash_hex(cur->needs_login_rt_hash, cur->refresh_token ? cur->refresh_token : "");
	return store(e, req, l, cur, gen, NULL);
}

static void record_fill_tokens(struct ts_engine *e, struct ts_record *rec, struct oauth_tokens *t)
{
	int64_t skew = current_skew(e, rec->skew);

	ts_erase_free_str(rec->access_token);
	rec->access_token = TS_TAKE_PTR(t->access_token);
	if (t->refresh_token) {
		ts_erase_free_str(rec->refresh_token);
		rec->refresh_token = TS_TAKE_PTR(t->refresh_token);
	}
	if (t->id.present)
		rec->id = t->id;
	rec->skew = skew;
	rec->obtained_at =
	    t->server_date > 0 ? (int64_t)t->server_date : (int64_t)t->obtained_local + skew;
	rec->expires_in = t->expires_in > 0 ? t->expires_in : OAUTH_DEFAULT_EXPIRES_IN;
	rec->state = TS_REC_VALID;
	rec->reason[0] = '\0';
	rec->needs_login_rt_hash[0] = '\0';
}

/*
 * Single flight. The caller saw seen_access rejected (or due for refresh).
 * Under the user's lock: re-read; if another process stored a newer token,
 * adopt it (no server call); else refresh the stored refresh token. On
 * success *rec holds what is stored now and *ret_adopted says whether it came
 * from another process. Transient errors leave the record untouched.
 */
static int refresh_single_flight(struct ts_engine *e, const struct ts_request *req,
                                 const char *seen_access, struct ts_record *rec, bool *ret_adopted,
                                 struct ts_outcome *out, struct oauth_error *err)
{
	struct ks_lock *l = NULL;
	struct ts_record cur = {0};
	struct oauth_tokens tok = {0};
	uint64_t gen = 0;
	int r;

	r = ks_lock(e->ks, req->uid, &l);
	if (r < 0)
		return r;
	r = load(e, req, l, &cur, &gen);
	if (r < 0)
		goto out;
	switch (ts_single_flight_verdict(&cur, seen_access)) {
	case TS_GRANT_ADOPT:
		ts_log_debug("broker: %s: another process refreshed already; adopting its token",
		             req->user);
		ts_record_clear(rec);
		*rec = cur;
		memset(&cur, 0, sizeof(cur));
		*ret_adopted = true;
		r = 0;
		goto out;
	case TS_GRANT_NEEDS_LOGIN:
		r = TS_E_NEEDS_LOGIN;
		goto out;
	case TS_GRANT_REFRESH:
		break;
	}
	if (!cur.refresh_token) {
		r = mark_needs_login(e, req, l, &cur, gen,
		                     "the access token was rejected and there is no refresh token");
		r = r < 0 ? r : TS_E_NEEDS_LOGIN;
		snprintf(rec->reason, sizeof(rec->reason), "%s", cur.reason);
		goto out;
	}
	out->refreshes++;
	r = oauth_refresh(e->oauth, cur.refresh_token, cur.id.present ? &cur.id : NULL, &tok, err);
	if (r == TS_E_NEEDS_LOGIN) {
		/* we hold the lock and just re-read: the refused token is the stored one */
		if (ts_invalid_grant_verdict(&cur, cur.refresh_token) == TS_GRANT_NEEDS_LOGIN) {
			int w = mark_needs_login(
			    e, req, l, &cur, gen,
			    "the server refused the refresh token (invalid_grant)");
			r = w < 0 ? w : TS_E_NEEDS_LOGIN;
			snprintf(rec->reason, sizeof(rec->reason), "%s", cur.reason);
		}
		goto out;
	}
	if (r == TS_E_IDENTITY_CHANGED) {
		int w = mark_needs_login(e, req, l, &cur, gen,
		                         "the refreshed id_token names another identity");
		r = w < 0 ? w : TS_E_IDENTITY_CHANGED;
		goto out;
	}
	if (r < 0)
		goto out; /* unavailable, configuration, protocol: change nothing */
	record_fill_tokens(e, &cur, &tok);
	r = store(e, req, l, &cur, gen, NULL);
	if (r < 0)
		goto out;
	ts_record_clear(rec);
	*rec = cur;
	memset(&cur, 0, sizeof(cur));
	*ret_adopted = false;
out:
	oauth_tokens_clear(&tok);
	ts_record_clear(&cur);
	ks_unlock(l);
	return r;
}

/* Note a positive server answer (best effort: a lost race is harmless). */
static void note_positive(struct ts_engine *e, const struct ts_request *req,
                          const struct ts_record *seen, int64_t now)
{
	struct ks_lock *l = NULL;
	struct ts_record cur = {0};
	uint64_t gen = 0;

	if (ks_lock(e->ks, req->uid, &l) < 0)
		return;
	if (load(e, req, l, &cur, &gen) >= 0 &&
	    ts_single_flight_verdict(&cur, seen->access_token) == TS_GRANT_REFRESH) {
		cur.last_positive_check = now;
		cur.skew = seen->skew;
		if (store(e, req, l, &cur, gen, NULL) < 0)
			ts_log_debug("broker: %s: could not note the positive check", req->user);
	}
	ts_record_clear(&cur);
	ks_unlock(l);
}

/*
 * Revalidate token; when the answer does not carry the username claim
 * (introspection often does not) and need_name is set (login, after a
 * refresh), ask userinfo for it. A plain use is bound through the stored sub.
 */
static int revalidate_identity(struct ts_engine *e, const char *token, bool need_name,
                               struct oauth_identity *ret, struct oauth_error *err)
{
	struct oauth_identity ui = {0};
	int r;

	r = oauth_revalidate(e->oauth, token, ret, err);
	if (r < 0 || ret->username[0] || !need_name)
		return r;
	r = oauth_userinfo(e->oauth, token, &ui, err);
	if (r < 0)
		return r;
	if (ret->sub[0] && ui.sub[0] && strcmp(ret->sub, ui.sub) != 0)
		return TS_E_IDENTITY_CHANGED;
	memcpy(ret->username, ui.username, sizeof(ret->username));
	if (!ret->sub[0])
		memcpy(ret->sub, ui.sub, sizeof(ret->sub));
	return 0;
}

static int check_identity(struct ts_engine *e, const struct ts_request *req,
                          const struct ts_record *rec, const struct oauth_identity *ident,
                          struct ts_outcome *out)
{
	char msg[TS_MESSAGE_MAX];
	int r;

	/* a plain use whose answer names no user is bound by the stored sub */
	if (!ident->username[0] && rec && rec->sub[0] && strcmp(rec->sub, ident->sub) == 0)
		return 0;
	r = ts_identity_check(e->cfg, req->user, ident->username, msg, sizeof(msg));
	if (r < 0) {
		set_msg(out, r, TS_STATE_NEEDS_LOGIN, "%s", msg);
		return r;
	}
	if (rec && rec->sub[0] && ident->sub[0] && strcmp(rec->sub, ident->sub) != 0) {
		set_msg(
		    out, TS_E_IDENTITY_CHANGED, TS_STATE_NEEDS_LOGIN,
		    "the server now names another subject for %s than the one stored; refusing; %s",
		    req->user, state_hint());
		return TS_E_IDENTITY_CHANGED;
	}
	return 0;
}

static void server_error_msg(struct ts_outcome *o, const struct ts_engine *e, int r,
                             const struct oauth_error *err)
{
	switch (r) {
	case TS_E_UNAVAILABLE:
		set_msg(o, r, TS_STATE_UNAVAILABLE,
		        "the identity server %s is unreachable (%s); nothing was changed; try "
		        "again later",
		        e->cfg->issuer, err->message[0] ? err->message : "no answer");
		break;
	case TS_E_SERVER_CONFIG:
		set_msg(o, r, TS_STATE_UNAVAILABLE,
		        "configuration error talking to %s (%s); ask the administrator",
		        e->cfg->issuer, err->message[0] ? err->message : ts_strerror(r));
		break;
	default:
		set_msg(o, r, TS_STATE_UNAVAILABLE, "%s: %s", ts_strerror(r),
		        err->message[0] ? err->message : "no details");
		break;
	}
}

enum use_mode {
	USE_PLAIN,
	USE_FRESH, /* open session: refresh inside the window */
};

/*
 * Every use: revalidate with the server (unless a positive answer is cached),
 * refresh once under the lock when the server rejects the token or it is in
 * the refresh window, revalidate the new token, bind the identity.
 * On success rec holds the usable record.
 */
static int use_tokens(struct ts_engine *e, const struct ts_request *req, enum use_mode mode,
                      struct ts_record *rec, struct ts_outcome *out)
{
	struct ts_decision d;
	struct oauth_error err = {0};
	uint64_t gen = 0;
	bool refreshed = false, adopted = false, rejected_early = false;
	int r;

	r = load_unlocked(e, req, rec, &gen);
	if (r == TS_E_NO_RECORD || r == -ENOENT) {
		set_msg(out, TS_E_NO_RECORD, TS_STATE_NONE,
		        "%s is not signed in at %s; run `tokenseal login` or log in", req->user,
		        e->cfg->issuer);
		return TS_E_NO_RECORD;
	}
	if (r < 0) {
		set_msg(out, r, TS_STATE_CORRUPTED,
		        "the stored sign-in of %s cannot be read (%s); sign in again", req->user,
		        ts_strerror(r));
		return r;
	}
	ts_lifecycle_decide(rec, server_now(e, rec->skew), e->cfg, &d);
	if (d.action == TS_ACT_NEEDS_LOGIN) {
		set_msg(out, TS_E_NEEDS_LOGIN, TS_STATE_NEEDS_LOGIN, "sign-in required: %s; %s",
		        rec->reason[0] ? rec->reason : "the server ended the session",
		        state_hint());
		return TS_E_NEEDS_LOGIN;
	}
	if (d.action == TS_ACT_USE_CACHED && mode == USE_PLAIN) {
		set_msg(out, 0, d.state, "signed in at %s (checked %lld s ago)", e->cfg->issuer,
		        (long long)(server_now(e, rec->skew) - rec->last_positive_check));
		out->expires = d.expires_left;
		return 0;
	}

	for (unsigned attempt = 0; attempt < 3; attempt++) {
		struct oauth_identity ident = {0};
		int64_t skew;
		bool note;

		memset(&err, 0, sizeof(err));
		r = revalidate_identity(e, rec->access_token, refreshed && !adopted, &ident, &err);
		if (r == 0) {
			r = check_identity(e, req, rec, &ident, out);
			if (r < 0)
				return r;
			skew = current_skew(e, rec->skew);
			note = ts_should_note_positive(rec, server_now(e, skew), skew, e->cfg);
			rec->skew = skew;
			ts_lifecycle_decide(rec, server_now(e, rec->skew), e->cfg, &d);
			if (d.action == TS_ACT_REFRESH && !refreshed &&
			    (mode == USE_FRESH || d.expires_left <= d.window)) {
				/* inside the refresh window (server time): refresh before use */
				r = refresh_single_flight(e, req, rec->access_token, rec, &adopted,
				                          out, &err);
				if (r == 0) {
					refreshed = true;
					continue;
				}
				if (r != TS_E_UNAVAILABLE)
					goto fail;
				/* the token still stands: go on with it */
			}
			if (note)
				note_positive(e, req, rec, server_now(e, rec->skew));
			ts_lifecycle_decide(rec, server_now(e, rec->skew), e->cfg, &d);
			out->expires = d.expires_left;
			if (rejected_early)
				set_msg(out, 0, TS_STATE_VALID,
				        "access token rejected by %s before its local expiry; %s",
				        e->cfg->issuer,
				        adopted ? "another process had refreshed it; using that"
				                : "refreshed");
			else if (refreshed)
				set_msg(out, 0, TS_STATE_VALID, "refreshed the tokens at %s%s",
				        e->cfg->issuer,
				        adopted ? " (adopted from another process)" : "");
			else
				set_msg(out, 0, d.state, "signed in at %s; confirmed by the server",
				        e->cfg->issuer);
			return 0;
		}
		if (r == TS_E_REJECTED_TOKEN && !refreshed) {
			ts_lifecycle_decide(rec, server_now(e, rec->skew), e->cfg, &d);
			rejected_early = d.expires_left > 0;
			r = refresh_single_flight(e, req, rec->access_token, rec, &adopted, out,
			                          &err);
			if (r < 0)
				goto fail;
			refreshed = true;
			continue;
		}
		if (r == TS_E_REJECTED_TOKEN) {
			set_msg(out, r, TS_STATE_NEEDS_LOGIN,
			        "%s rejects even the freshly refreshed token of %s (the account "
			        "may be disabled); ask the administrator or sign in again",
			        e->cfg->issuer, req->user);
			return r;
		}
		if (r == TS_E_UNAVAILABLE) {
			int64_t age = 0;

			if (ts_offline_allowed(rec, server_now(e, rec->skew), e->cfg, &age)) {
				set_msg(out, 0, TS_STATE_UNAVAILABLE,
				        "the identity server is unreachable; using the check from "
				        "%lld minutes ago (offline_grace)",
				        (long long)(age / 60));
				return 0;
			}
		}
		goto fail;
	}
	r = TS_E_REJECTED_TOKEN;
fail:
	if (r == TS_E_NEEDS_LOGIN)
		/* the stored reason says which: a refused refresh token, or none to use */
		set_msg(out, r, TS_STATE_NEEDS_LOGIN, "sign-in required: %s; %s",
		        rec->reason[0] ? rec->reason
		                       : "the server refused the refresh token (invalid_grant)",
		        state_hint());
	else if (r == TS_E_IDENTITY_CHANGED)
		set_msg(out, r, TS_STATE_NEEDS_LOGIN,
		        "sign-in required: the server answered with another identity for %s; %s",
		        req->user, state_hint());
	else if (r == TS_E_NO_RECORD)
		set_msg(out, r, TS_STATE_NONE, "%s is not signed in; run `tokenseal login`",
		        req->user);
	else if (r == TS_E_LOCK_TIMEOUT || (r <= TS_E_CORRUPT && r >= TS_E_QUARANTINED))
		set_msg(out, r, TS_STATE_UNAVAILABLE, "keystore problem: %s", ts_strerror(r));
	else
		server_error_msg(out, e, r, &err);
	return r;
}

/* ---- login ------------------------------------------------------------- */

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

static int device_show(void *ctx, const struct oauth_device *dev)
{
	void **pair = ctx;
	struct ts_engine *e = pair[0];
	char text[12288], uri[512], code[64], full[1024];
	size_t n;

	/* What the server sent is shown on the user's terminal: printable
	 * ASCII only, so no escape sequence of the server's reaches it. */
	ts_sanitize_text(uri, sizeof(uri), dev->verification_uri, strlen(dev->verification_uri));
	ts_sanitize_text(code, sizeof(code), dev->user_code, strlen(dev->user_code));
	ts_sanitize_text(full, sizeof(full), dev->verification_uri_complete,
			 strlen(dev->verification_uri_complete));
	snprintf(text, sizeof(text), "To sign in to %.500s, open %s and enter the code %s",
		 e->cfg->issuer, uri, code);
	if (full[0]) {
		n = strlen(text);
		snprintf(text + n, sizeof(text) - n, "\n(or open %s)", full);
		/* With libqrencode, a QR code of the complete URI follows. */
		n = strlen(text);
		snprintf(text + n, sizeof(text) - n, "\nor scan this code:\n");
		if (ts_qr_render(full, text + strlen(text), sizeof(text) - strlen(text)) < 0)
			text[n] = '\0';
		else
			text[strlen(text) - 1] = '\0'; /* the conversation ends the line */
	}
	/* device codes are shown even with PAM_SILENT: the login needs them */
	if (e->conv && e->conv->info)
		return e->conv->info(e->conv->ctx, text);
	return -EINVAL;
}

static int login_device(struct ts_engine *e, const struct ts_request *req, struct oauth_tokens *tok,
                        struct oauth_error *err)
{
	struct oauth_device dev = {0};
	void *pair[2] = {e, (void *)(uintptr_t)req};
	unsigned limit =
	    e->cfg->device_timeout ? e->cfg->device_timeout : TS_DEVICE_TIMEOUT_DEFAULT;
	int r;

	r = oauth_device_start(e->oauth, &dev, err);
	if (r < 0)
		goto out;
	r = device_show(pair, &dev);
	if (r < 0) {
		r = TS_E_INTERACTION;
		goto out;
	}
	r = oauth_device_poll(e->oauth, &dev, (time_t)(ts_monotonic_ms() / 1000) + (time_t)limit,
	                      NULL, NULL, tok, err);
out:
	oauth_device_clear(&dev);
	return r;
}

static int ask(struct ts_engine *e, const char *text, bool echo, char **ret)
{
	if (!e->conv || !e->conv->prompt)
		return TS_E_INTERACTION;
	if (e->conv->prompt(e->conv->ctx, text, echo, ret) < 0 || !*ret)
		return TS_E_INTERACTION;
	return 0;
}

static int store_login(struct ts_engine *e, const struct ts_request *req, struct ts_record *rec)
{
	struct ks_lock *l = NULL;
	int r;

	r = ks_lock(e->ks, req->uid, &l);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < TS_CAS_RETRIES; i++) {
		struct ts_record cur = {0};
		uint64_t gen = 0;

		r = load(e, req, l, &cur, &gen);
		if (r == TS_E_ROLLBACK) {
			/* Read under the lock, so genuine: an older copy put
			 * back, or a logout interrupted by a crash. The user
			 * has just signed in afresh; that record goes to the
			 * quarantine folder and this login replaces it. */
			struct ks_identity id;

			ks_id(e, req, &id);
			r = ks_quarantine_rollback(e->ks, l, &id);
			if (r < 0 && r != TS_E_NO_RECORD && r != -EAGAIN)
				break;
			ts_log(LOG_WARNING,
			       "broker: %s: the stored record was older than the keystore's "
			       "counter (a restored copy, or an interrupted logout); moved to "
			       "quarantine, replaced by this login",
			       req->user);
			r = TS_E_CONFLICT; /* what is left if no retry remains */
			continue;
		}
		if (r == TS_E_NO_RECORD || r == TS_E_QUARANTINED || r == -ENOENT)
			gen = 0;
		else if (r < 0)
			break;
		else
			rec->sessions = cur.sessions;
		ts_record_clear(&cur);
		r = store(e, req, l, rec, gen, NULL);
		if (r != TS_E_CONFLICT)
			break;
	}
	ks_unlock(l);
	return r;
}

static int do_login(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
{
	struct ts_record rec = {0}, old = {0};
	struct oauth_tokens tok = {0};
	struct oauth_identity ident = {0};
	struct oauth_error err = {0};
	enum ts_login_method m;
	uint64_t oldgen = 0;
	bool have_old;
	char *answer = NULL;
	char text[TS_URL_MAX + 64];
	int r;

	if (req->type == TS_MSG_AUTH_STORED ||
	    (e->cfg->auth_with_stored_token && (req->flags & TS_FLAG_SAME_USER) &&
	     req->type == TS_MSG_LOGIN)) {
		struct ts_outcome probe = {.expires = -1};

		r = use_tokens(e, req, USE_PLAIN, &rec, &probe);
		ts_record_clear(&rec);
		out->refreshes += probe.refreshes;
		if (r == 0 || req->type == TS_MSG_AUTH_STORED) {
			*out = probe;
			if (r == 0)
				set_msg(out, 0, TS_STATE_VALID,
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
	}
	if ((req->flags & TS_FLAG_NONINTERACTIVE) || !e->conv) {
		set_msg(out, TS_E_INTERACTION, TS_STATE_NONE,
		        "sign-in for %s needs interaction, but this request is non-interactive; "
		        "run `tokenseal login` in a terminal",
		        req->user);
		return TS_E_INTERACTION;
	}
	if (req->method && req->method[0]) {
		if (ts_login_method_parse(req->method, strlen(req->method), &m) < 0 || !method_allowed(e->cfg, m)) {
			set_msg(out, TS_E_CONFIG, TS_STATE_NONE,
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

	switch (m) {
	case TS_LOGIN_DEVICE:
		r = login_device(e, req, &tok, &err);
		break;
	case TS_LOGIN_PASSWORD:
		out->legacy_grant = true;
		snprintf(text, sizeof(text), "Password for %s: ", e->cfg->issuer);
		r = ask(e, text, false, &answer);
		if (r == 0)
			r = oauth_password_grant(e->oauth, req->user, answer, &tok, &err);
		break;
	case TS_LOGIN_TOKEN:
	default:
		r = ask(e, "Access token: ", false, &answer);
		if (r == 0) {
			tok.access_token = TS_TAKE_PTR(answer);
			tok.expires_in = OAUTH_DEFAULT_EXPIRES_IN;
			tok.obtained_local = (time_t)local_now(e);
		}
		break;
	}
	answer = ts_erase_free_str(answer);
	if (r < 0)
		goto fail;

	r = revalidate_identity(e, tok.access_token, true, &ident, &err);
	if (r == TS_E_REJECTED_TOKEN) {
		set_msg(out, r, TS_STATE_NONE, "%s rejected the %s token; nothing was stored",
		        e->cfg->issuer, m == TS_LOGIN_TOKEN ? "pasted" : "new");
		goto out;
	}
	if (r < 0)
		goto fail;
	have_old = load_unlocked(e, req, &old, &oldgen) >= 0;
	r = check_identity(e, req, have_old && old.state == TS_REC_VALID ? &old : NULL, &ident,
	                   out);
	if (r < 0)
		goto out;
	if (m == TS_LOGIN_TOKEN && ident.exp > 0) {
		/* a pasted token: its expiry as the server states it */
		tok.server_date = (time_t)(local_now(e) + current_skew(e, 0));
		tok.expires_in = ident.exp - (long long)tok.server_date;
		if (tok.expires_in < 1)
			tok.expires_in = 1;
	}
	snprintf(rec.sub, sizeof(rec.sub), "%s", ident.sub);
	snprintf(rec.username, sizeof(rec.username), "%s", ident.username);
	snprintf(rec.issuer, sizeof(rec.issuer), "%s", e->cfg->issuer);
	snprintf(rec.client_id, sizeof(rec.client_id), "%s", e->cfg->client_id);
	snprintf(rec.method, sizeof(rec.method), "%s", ts_login_method_name(m));
	record_fill_tokens(e, &rec, &tok);
	rec.last_positive_check = server_now(e, rec.skew);
	r = store_login(e, req, &rec);
	if (r < 0) {
		set_msg(out, r, TS_STATE_NONE, "could not store the sign-in: %s", ts_strerror(r));
		goto out;
	}
	out->expires = rec.expires_in;
	set_msg(out, 0, TS_STATE_VALID, "signed in to %s as %s (%s)", e->cfg->issuer, req->user,
	        ts_login_method_name(m));
	goto out;
fail:
	switch (r) {
	case TS_E_DENIED:
		set_msg(out, r, TS_STATE_NONE, "the sign-in was denied at %s", e->cfg->issuer);
		break;
	case TS_E_EXPIRED:
		/* the code's own lifetime, the server's expired_token, or the
		 * device_timeout deadline: oauth's sentence says which */
		set_msg(out, r, TS_STATE_NONE, "%s; try again",
		        err.message[0] ? err.message : "the sign-in was not completed in time");
		break;
	case TS_E_NEEDS_LOGIN:
		set_msg(out, r, TS_STATE_NONE, "%s refused the credentials", e->cfg->issuer);
		break;
	case TS_E_INTERACTION:
		set_msg(out, r, TS_STATE_NONE, "no answer from the conversation; sign-in aborted");
		break;
	default:
		server_error_msg(out, e, r, &err);
		out->state = TS_STATE_NONE;
		break;
	}
out:
	oauth_tokens_clear(&tok);
	ts_record_clear(&rec);
	ts_record_clear(&old);
	return r;
}

/* ---- sessions, token, status, logout ------------------------------------ */

static int revoke_and_delete(struct ts_engine *e, const struct ts_request *req,
                             struct ts_record *rec, bool revoke, struct ts_outcome *out)
{
	struct ks_identity id;
	struct ks_lock *l = NULL;
	struct oauth_error err = {0};
	int rv = 0, r;

	if (revoke) {
		if (rec->refresh_token)
			rv = oauth_revoke(e->oauth, rec->refresh_token, "refresh_token", &err);
		else
			rv = oauth_revoke(e->oauth, rec->access_token, "access_token", &err);
	}
	ks_id(e, req, &id);
	r = ks_lock(e->ks, req->uid, &l);
	if (r >= 0) {
		r = ks_delete(e->ks, l, &id, 0);
		ks_unlock(l);
	}
	if (r < 0 && r != TS_E_NO_RECORD && r != -ENOENT) {
		set_msg(out, r, TS_STATE_UNAVAILABLE, "could not delete the stored sign-in: %s",
		        ts_strerror(r));
		return r;
	}
	if (!revoke)
		set_msg(out, 0, TS_STATE_NONE,
		        "signed out locally; the grant was not revoked and may live on at %s",
		        e->cfg->issuer);
	else if (rv < 0)
		set_msg(out, 0, TS_STATE_NONE,
		        "signed out locally; %s could not be reached (%s), so the grant may live "
		        "on at the server until it expires",
		        e->cfg->issuer, ts_strerror(rv));
	else
		set_msg(out, 0, TS_STATE_NONE, "signed out; the grant was revoked at %s",
		        e->cfg->issuer);
	return 0;
}

static int do_logout(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
{
	struct ts_record rec = {0};
	uint64_t gen;
	int r;

	r = load_unlocked(e, req, &rec, &gen);
	if (r == TS_E_NO_RECORD || r == -ENOENT) {
		set_msg(out, 0, TS_STATE_NONE, "%s was not signed in; nothing to do", req->user);
		return 0;
	}
	if (r < 0) {
		struct ts_record empty = {0};

		/* unreadable: delete what is there, nothing to revoke */
		return revoke_and_delete(e, req, &empty, false, out);
	}
	r = revoke_and_delete(e, req, &rec, !(req->flags & TS_FLAG_NO_REVOKE), out);
	ts_record_clear(&rec);
	return r;
}

static int adjust_sessions(struct ts_engine *e, const struct ts_request *req, int delta,
                           int *ret_sessions)
{
	struct ks_lock *l = NULL;
	struct ts_record cur = {0};
	uint64_t gen = 0;
	int r;

	r = ks_lock(e->ks, req->uid, &l);
	if (r < 0)
		return r;
	r = load(e, req, l, &cur, &gen);
	if (r >= 0) {
		cur.sessions += delta;
		if (cur.sessions < 0)
			cur.sessions = 0;
		*ret_sessions = cur.sessions;
		r = store(e, req, l, &cur, gen, NULL);
	}
	ts_record_clear(&cur);
	ks_unlock(l);
	return r;
}

static int do_open_session(struct ts_engine *e, const struct ts_request *req,
                           struct ts_outcome *out)
{
	struct ts_record rec = {0};
	int n = 0, r;

	r = use_tokens(e, req, USE_FRESH, &rec, out);
	ts_record_clear(&rec);
	if (r < 0)
		return r;
	r = adjust_sessions(e, req, +1, &n);
	if (r < 0)
		ts_log_debug("broker: %s: session count not updated: %s", req->user,
		             ts_strerror(r));
	return 0;
}

static int do_close_session(struct ts_engine *e, const struct ts_request *req,
                            struct ts_outcome *out)
{
	struct ts_record rec = {0};
	uint64_t gen;
	int n = 0, r;

	r = adjust_sessions(e, req, -1, &n);
	if (r == TS_E_NO_RECORD || r == -ENOENT) {
		set_msg(out, 0, TS_STATE_NONE, "no stored sign-in for %s", req->user);
		return 0;
	}
	if (r < 0) {
		set_msg(out, r, TS_STATE_UNAVAILABLE, "keystore problem: %s", ts_strerror(r));
		return r;
	}
	if (e->cfg->revoke_on == TS_REVOKE_NEVER ||
	    (e->cfg->revoke_on == TS_REVOKE_LAST_SESSION && n > 0)) {
		set_msg(out, 0, TS_STATE_VALID, "session closed (%d still open)", n);
		return 0;
	}
	r = load_unlocked(e, req, &rec, &gen);
	if (r < 0) {
		set_msg(out, 0, TS_STATE_NONE, "session closed");
		return 0;
	}
	r = revoke_and_delete(e, req, &rec, true, out);
	ts_record_clear(&rec);
	return r;
}

static int do_get_token(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
{
	struct ts_record rec = {0};
	int r;

	r = use_tokens(e, req, USE_PLAIN, &rec, out);
	if (r == 0) {
		out->token = ts_strdup_secret(rec.access_token);
		if (!out->token) {
			set_msg(out, -ENOMEM, TS_STATE_UNAVAILABLE, "out of memory");
			r = -ENOMEM;
		}
	}
	ts_record_clear(&rec);
	return r;
}

static int do_status(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
{
	struct ts_record rec = {0};
	struct ts_decision d;
	uint64_t gen = 0;
	json_t *o;
	int r;

	r = load_unlocked(e, req, &rec, &gen);
	o = json_object();
	if (!o) {
		ts_record_clear(&rec);
		return -ENOMEM;
	}
	json_object_set_new(o, "user", json_string(req->user));
	json_object_set_new(o, "issuer", json_string(e->cfg->issuer));
	if (r == TS_E_NO_RECORD || r == -ENOENT) {
		json_object_set_new(o, "state", json_string(ts_state_name(TS_STATE_NONE)));
		set_msg(out, 0, TS_STATE_NONE, "%s is not signed in at %s", req->user,
		        e->cfg->issuer);
	} else if (r < 0) {
		json_object_set_new(o, "state", json_string(ts_state_name(TS_STATE_CORRUPTED)));
		json_object_set_new(o, "error", json_string(ts_strerror(r)));
		set_msg(out, 0, TS_STATE_CORRUPTED, "the stored sign-in of %s cannot be read (%s)",
		        req->user, ts_strerror(r));
	} else {
		ts_lifecycle_decide(&rec, server_now(e, rec.skew), e->cfg, &d);
		json_object_set_new(o, "state", json_string(ts_state_name(d.state)));
		json_object_set_new(o, "sub", json_string(rec.sub));
		json_object_set_new(o, "username", json_string(rec.username));
		json_object_set_new(o, "method", json_string(rec.method));
		json_object_set_new(o, "expires_in", json_integer(d.expires_left));
		json_object_set_new(o, "refresh_window", json_integer(d.window));
		json_object_set_new(o, "obtained_at", json_integer(rec.obtained_at));
		json_object_set_new(o, "last_positive_check",
		                    json_integer(rec.last_positive_check));
		json_object_set_new(o, "has_refresh_token",
		                    json_boolean(rec.refresh_token != NULL));
		json_object_set_new(o, "sessions", json_integer(rec.sessions));
		json_object_set_new(o, "clock_skew", json_integer(rec.skew));
		json_object_set_new(o, "clock_skew_warning",
		                    json_boolean(rec.skew > TS_SKEW_WARN_SECONDS ||
		                                 rec.skew < -TS_SKEW_WARN_SECONDS));
		if (rec.reason[0])
			json_object_set_new(o, "reason", json_string(rec.reason));
		out->expires = d.expires_left;
		if (d.state == TS_STATE_NEEDS_LOGIN)
			set_msg(out, 0, d.state, "sign-in required: %s; %s", rec.reason,
			        state_hint());
		else
			set_msg(
			    out, 0, d.state, "%s: %s at %s, access token expires in %lld s%s",
			    req->user, ts_state_name(d.state), e->cfg->issuer,
			    (long long)d.expires_left,
			    (rec.skew > TS_SKEW_WARN_SECONDS || rec.skew < -TS_SKEW_WARN_SECONDS)
			        ? " (warning: this host's clock is off from the server's)"
			        : "");
	}
	out->status_json = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	ts_record_clear(&rec);
	return 0;
}

int ts_engine_handle(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
{
	int r;

	out->code = 0;
	out->state = TS_STATE_NONE;
	out->message[0] = '\0';
	out->expires = -1;
	switch (req->type) {
	case TS_MSG_LOGIN:
	case TS_MSG_AUTH_STORED:
		r = do_login(e, req, out);
		break;
	case TS_MSG_REVALIDATE: {
		struct ts_record rec = {0};

		r = use_tokens(e, req, USE_PLAIN, &rec, out);
		ts_record_clear(&rec);
		break;
	}
	case TS_MSG_OPEN_SESSION:
		r = do_open_session(e, req, out);
		break;
	case TS_MSG_CLOSE_SESSION:
		r = do_close_session(e, req, out);
		break;
	case TS_MSG_GET_TOKEN:
		r = do_get_token(e, req, out);
		break;
	case TS_MSG_STATUS:
		r = do_status(e, req, out);
		break;
	case TS_MSG_LOGOUT:
		r = do_logout(e, req, out);
		break;
	default:
		set_msg(out, TS_E_IPC, TS_STATE_NONE, "unknown request type %u",
		        (unsigned)req->type);
		r = TS_E_IPC;
		break;
	}
	out->code = r;
	return r;
}
