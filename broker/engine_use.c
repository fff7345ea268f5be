/* SPDX-License-Identifier: MIT */
/*
 * A use of the stored tokens (DESIGN.md §4): revalidate with the server,
 * single-flight refresh under the user's lock, identity binding.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_test_hook.h"
#include "ts_time.h"

/* A record that could not be stored for lack of space (the advice is to
 * free some), or for another reason (a file or folder the keystore refuses:
 * the advice is to look). */
static bool not_saved_for_space(int err)
{
	return err == -ENOSPC || err == -EDQUOT;
}

/*
 * A refresh the server accepted is never thrown away: the old refresh token
 * may be superseded already (rotation), so a failed store (ENOSPC, EDQUOT,
 * over the size limit) is retried, TS_STORE_RETRIES times with a growing
 * pause. If it still fails: TS_E_NOT_SAVED, out->not_saved holds the
 * reason, and the caller goes on with the new tokens in memory.
 */
#define TS_STORE_RETRIES 3
#define TS_STORE_PAUSE_MS 200

static int store_refreshed(struct ts_engine *e, const struct ts_request *req, struct ks_lock *l,
                           const struct ts_record *cur, uint64_t gen, struct ts_outcome *out)
{
	int r = 0;

	for (unsigned i = 0; i < TS_STORE_RETRIES; i++) {
		if (i > 0) {
			struct timespec ts = {0, (long)(TS_STORE_PAUSE_MS * i) * 1000000L};

			(void)nanosleep(&ts, NULL);
		}
		r = eng_store(e, req, l, cur, gen, NULL);
		if (r >= 0)
			return 0;
		ts_log_debug("broker: %s: storing the refreshed record failed (%s), attempt %u",
		             eng_log_user(req), ts_strerror(r), i + 1);
	}
	out->not_saved = r;
	return TS_E_NOT_SAVED;
}

/*
 * Single flight. The caller saw seen_access rejected (or due for refresh).
 * Under the user's lock: re-read; if another process stored a newer token,
 * adopt it (no server call); else refresh the stored refresh token. On
 * success *rec holds what is stored now and *ret_adopted says whether it came
 * from another process; TS_E_NOT_SAVED: *rec holds the new tokens, which
 * could not be stored. Transient errors leave the record untouched.
 */
int eng_refresh_single_flight(struct ts_engine *e, const struct ts_request *req,
                                 const char *seen_access, struct ts_record *rec, bool *ret_adopted,
                                 struct ts_outcome *out, struct oauth_error *err)
{
	struct ks_lock *l = NULL;
	struct ts_record cur = {0};
	struct oauth_tokens tok = {0};
	uint64_t gen = 0;
	bool earlier_lost = false;
	int r;

	r = ks_lock(e->ks, req->uid, &l);
	if (r < 0)
		return r;
	r = eng_load(e, req, l, &cur, &gen);
	if (r < 0)
		goto out;
	switch (ts_single_flight_verdict(&cur, seen_access)) {
	case TS_GRANT_ADOPT:
		ts_log_debug("broker: %s: another process refreshed already; adopting its token",
		             eng_log_user(req));
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
	if (ts_record_is_client_credentials(&cur)) {
		/* a service account: a new grant, no refresh token */
		out->refreshes++;
		r = oauth_client_credentials(e->oauth, &tok, err);
		if (r < 0)
			goto out;
		goto refreshed;
	}
	if (!cur.refresh_token) {
		r = eng_mark_needs_login(e, req, l, &cur, gen,
		                     "the access token was rejected and there is no refresh token");
		r = r < 0 ? r : TS_E_NEEDS_LOGIN;
		snprintf(rec->reason, sizeof(rec->reason), "%s", cur.reason);
		goto out;
	}
	out->refreshes++;
	earlier_lost = eng_lost_begin(e, req);
	TS_TEST_HOOK("refresh-before-request");
	r = oauth_refresh(e->oauth, cur.refresh_token, cur.id.present ? &cur.id : NULL, &tok, err);
	/* known: never sent, or the server said no */
	eng_lost_end(e, req, r < 0 && (!err->sent || err->http_status >= 300));
	if (r == 0 && !cur.id.present && tok.id.present && cur.sub[0] &&
	    strcmp(tok.id.sub, cur.sub) != 0) {
		/* the sign-in had no id_token to compare with (OIDC Core §12.2):
		 * the subject pinned at sign-in is the identity */
		char a[64], b[64];

		ts_sanitize_text(a, sizeof(a), cur.sub, strlen(cur.sub));
		ts_sanitize_text(b, sizeof(b), tok.id.sub, strlen(tok.id.sub));
		oauth_tokens_clear(&tok);
		r = TS_E_IDENTITY_CHANGED;
		err->code = r;
		/* the answer came, and it is refused: nothing was lost */
		eng_lost_end(e, req, true);
		snprintf(err->message, sizeof(err->message),
		         "the refreshed id_token names another identity (subject \"%s\", signed "
		         "in as \"%s\"); refusing it, sign-in required",
		         b, a);
	}
	if (r == TS_E_NEEDS_LOGIN) {
		/* we hold the lock and just re-read: the refused token is the
		 * stored one, so no newer record can be adopted here */
		char why[sizeof(cur.reason)];
		int w;

		/* the server's own words (Entra's AADSTS code and sentence,
		 * Keycloak's "Session not active"), sanitised and cut; or the
		 * lost-answer case when an earlier refresh's outcome is unknown */
		if (earlier_lost)
			(void)snprintf(why, sizeof(why), "%s", eng_lost_reason(true));
		else
			ts_grant_refused_reason(why, sizeof(why), err->error, err->description);
		w = eng_mark_needs_login(e, req, l, &cur, gen, why);
		r = w < 0 ? w : TS_E_NEEDS_LOGIN;
		snprintf(rec->reason, sizeof(rec->reason), "%s", cur.reason);
		goto out;
	}
	if (r == TS_E_SERVER_CONFIG && eng_refusal_is_invalid_request(err)) {
		/* the refresh token's or the client's: decided with evidence */
		r = eng_refresh_refused_request(e, req, l, &cur, gen, err);
		if (r == TS_E_NEEDS_LOGIN)
			snprintf(rec->reason, sizeof(rec->reason), "%s", cur.reason);
		goto out;
	}
	if (r == TS_E_IDENTITY_CHANGED) {
		int w = eng_mark_needs_login(e, req, l, &cur, gen,
		                         "the refreshed id_token names another identity");
		r = w < 0 ? w : TS_E_IDENTITY_CHANGED;
		goto out;
	}
	if (r < 0)
		goto out; /* unavailable, configuration, protocol: change nothing */
refreshed:
	TS_TEST_HOOK("refresh-after-answer");
	/* a hold for Keycloak's audience rule keeps its count through the
	 * refresh that tests it, so that the next hold doubles */
	if (strcmp(cur.reason, ENG_HOLD_AUDIENCE) != 0)
		cur.holds = 0;
	eng_record_fill_tokens(e, &cur, &tok, out);
	cur.last_refresh_at = cur.obtained_at;
	cur.held_at = 0;
	cur.last_error = 0;
	cur.last_error_at = 0;
	r = store_refreshed(e, req, l, &cur, gen, out);
	eng_lost_end(e, req, r == 0);
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

/* Note a positive server answer (best effort: a lost race is harmless)
 * with the groups it carried (what revalidate_cache reuses); it also lifts
 * a rejection mark. */
static void note_positive(struct ts_engine *e, const struct ts_request *req,
                          const struct ts_record *seen, const struct oauth_groups *groups,
                          int64_t now)
{
	struct ks_lock *l = NULL;
	struct ts_record cur = {0};
	uint64_t gen = 0;

	if (ks_lock(e->ks, req->uid, &l) < 0)
		return;
	if (eng_load(e, req, l, &cur, &gen) >= 0 &&
	    ts_single_flight_verdict(&cur, seen->access_token) == TS_GRANT_REFRESH) {
		cur.last_positive_check = now;
		eng_record_set_groups(e, &cur, groups);
		cur.skew = seen->skew;
		cur.rejected_at = 0;
		cur.rejections = 0;
		if (eng_store(e, req, l, &cur, gen, NULL) < 0)
			ts_log_debug("broker: %s: could not note the positive check",
			             eng_log_user(req));
	}
	ts_record_clear(&cur);
	ks_unlock(l);
}

/* The server rejected even the freshly refreshed token (a disabled
 * account): mark the record so that later uses back off instead of
 * refreshing every time. Best effort. */
static void mark_rejected(struct ts_engine *e, const struct ts_request *req,
                          struct ts_record *rec)
{
	struct ks_lock *l = NULL;
	struct ts_record cur = {0};
	uint64_t gen = 0;

	if (ks_lock(e->ks, req->uid, &l) < 0)
		return;
	if (eng_load(e, req, l, &cur, &gen) >= 0 &&
	    ts_single_flight_verdict(&cur, rec->access_token) == TS_GRANT_REFRESH) {
		cur.rejected_at = eng_server_now(e, rec->skew);
		cur.rejections = cur.rejections < 1000 ? cur.rejections + 1 : 1000;
		cur.last_error = TS_E_REJECTED_TOKEN;
		cur.last_error_at = cur.rejected_at;
		rec->rejected_at = cur.rejected_at;
		rec->rejections = cur.rejections;
		if (eng_store(e, req, l, &cur, gen, NULL) < 0)
			ts_log_debug("broker: %s: could not mark the record rejected",
			             eng_log_user(req));
	}
	ts_record_clear(&cur);
	ks_unlock(l);
}

/*
 * Revalidate token; when the answer does not carry the username claim
 * (introspection often does not) and need_name is set (login, after a
 * refresh), ask userinfo for it. A plain use is bound through the stored sub.
 */
int eng_revalidate_identity(struct ts_engine *e, const char *token, bool need_name,
                               struct oauth_identity *ret, struct oauth_error *err)
{
	struct oauth_identity ui = {0};
	int r;

	r = oauth_revalidate(e->oauth, token, ret, err);
	/* userinfo answered already: asking it again tells nothing new
	 * (Entra's has no user name: the record's pinned name stands,
	 * bound by the subject, see eng_check_identity) */
	if (r < 0 || ret->username[0] || !need_name || ret->by_userinfo)
		return r;
	r = oauth_userinfo(e->oauth, token, &ui, err);
	if (r < 0)
		return r;
	if (ret->sub[0] && ui.sub[0] && strcmp(ret->sub, ui.sub) != 0)
		return TS_E_IDENTITY_CHANGED;
	memcpy(ret->username, ui.username, sizeof(ret->username));
	if (!ret->name[0])
		memcpy(ret->name, ui.name, sizeof(ret->name));
	if (!ret->sub[0])
		memcpy(ret->sub, ui.sub, sizeof(ret->sub));
	return 0;
}

int eng_check_identity(struct ts_engine *e, const struct ts_request *req,
                          const struct ts_record *rec, const struct oauth_identity *ident,
                          struct ts_outcome *out)
{
	char msg[TS_MESSAGE_MAX];
	int r;

	/* a service account (client credentials): the token must be this
	 * client's; there is no person to bind */
	if (rec && ts_record_is_client_credentials(rec)) {
		if (oauth_identity_for_client(e->oauth, ident))
			return 0;
		eng_set_msg(out, TS_E_FOREIGN_TOKEN, TS_STATE_NEEDS_LOGIN,
		            "the service account token of %s does not name the client %s; "
		            "refusing",
		            req->user, e->cfg->client_id);
		return TS_E_FOREIGN_TOKEN;
	}
	/* a use whose answer names no user (introspection often; Entra's
	 * userinfo never) is bound by the stored sub, and keeps the name
	 * pinned at sign-in; another sub is another person */
	if (!ident->username[0] && rec && rec->sub[0] && strcmp(rec->sub, ident->sub) == 0)
		return 0;
	if (rec && rec->sub[0] && ident->sub[0] && strcmp(rec->sub, ident->sub) != 0) {
		eng_set_msg(
		    out, TS_E_IDENTITY_CHANGED, TS_STATE_NEEDS_LOGIN,
		    "the server now names another subject for %s than the one stored; refusing; %s",
		    req->user, eng_state_hint());
		return TS_E_IDENTITY_CHANGED;
	}
	r = ts_identity_check(e->cfg, req->user, ident->username, msg, sizeof(msg));
	if (r < 0) {
		eng_set_msg(out, r, TS_STATE_NEEDS_LOGIN, "%s", msg);
		return r;
	}
	return 0;
}

/* Load the record for a use. 0: go on with *d; 1: answered from the cache
 * (out filled, success); negative: refused (out filled). */
static int use_load(struct ts_engine *e, const struct ts_request *req, struct ts_record *rec,
                    struct ts_decision *d, struct ts_outcome *out)
{
	uint64_t gen = 0;
	int r;

	r = eng_load_unlocked(e, req, rec, &gen);
	if (r == TS_E_NO_RECORD || r == -ENOENT) {
		eng_set_msg(out, TS_E_NO_RECORD, TS_STATE_NONE,
		            "%s is not signed in at %s; run `tokenseal login` or log in", req->user,
		            e->cfg->issuer);
		return TS_E_NO_RECORD;
	}
	if (r == TS_E_MISMATCH) {
		struct ks_header_info h;
		bool have = ks_read_header(e->ks, req->uid, &h) == 0;

		if (have && strcmp(h.issuer, e->cfg->issuer) != 0)
			eng_set_msg(out, r, TS_STATE_MISMATCH,
			            "%s signed in at %.200s, this host now uses %.200s; the record "
			            "is kept: fix issuer in the configuration, or sign in again",
			            req->user, h.issuer, e->cfg->issuer);
		else if (have && strcmp(h.client_id, e->cfg->client_id) != 0)
			eng_set_msg(out, r, TS_STATE_MISMATCH,
			            "%s signed in through client %.100s, this host now uses %.100s; "
			            "the record is kept: fix client_id in the configuration, or sign "
			            "in again",
			            req->user, h.client_id, e->cfg->client_id);
		else
			eng_set_msg(out, r, TS_STATE_MISMATCH,
			            "the stored sign-in of uid %u was made for another user name "
			            "than %s; the record is kept; sign in again",
			            (unsigned)req->uid, req->user);
		return r;
	}
	if (r < 0) {
		eng_set_msg(out, r, TS_STATE_CORRUPTED,
		            "the stored sign-in of %s cannot be read (%s); sign in again", req->user,
		            ts_strerror(r));
		return r;
	}
	ts_lifecycle_decide(rec, eng_server_now(e, rec->skew), e->cfg, d);
	if (d->action == TS_ACT_NEEDS_LOGIN) {
		eng_set_msg(out, TS_E_NEEDS_LOGIN, TS_STATE_NEEDS_LOGIN, "sign-in required: %s; %s",
		            rec->reason[0] ? rec->reason : "the server ended the session",
		            eng_state_hint());
		return TS_E_NEEDS_LOGIN;
	}
	if (d->action == TS_ACT_SIGNED_OUT) {
		/* seen before, no tokens now: the account phase refuses too */
		eng_set_msg(out, TS_E_SIGNED_OUT, TS_STATE_SIGNED_OUT,
		            "sign-in required: %s signed out of %s; %s", req->user, e->cfg->issuer,
		            eng_state_hint());
		return TS_E_SIGNED_OUT;
	}
	/* the cached answer's groups must be at hand for a policy that reads
	 * groups (a record noted before groups were kept, or at another
	 * groups_claim): else the server is asked */
	if (d->action == TS_ACT_USE_CACHED && eng_policy_cache_usable(e, rec)) {
		eng_set_msg(out, 0, d->state, "signed in at %s (checked %lld s ago)",
		            e->cfg->issuer,
		            (long long)(eng_server_now(e, rec->skew) - rec->last_positive_check));
		out->expires = d->expires_left;
		return 1;
	}
	return 0;
}

/*
 * Whether rec's access token still has at least half its lifetime left by
 * the server's estimated clock: only then does "inactive at introspection"
 * say something about the token rather than its age. A token just past its
 * expiry, or nearly there by our skew estimate, is inactive at
 * introspection while the same server's userinfo may still take it
 * (oidc-provider checks exp strictly at introspection and with its
 * clockTolerance at userinfo): under load, with lifetimes of seconds, that
 * looked like Keycloak's audience rule and held users back for 60 s.
 */
static bool eng_token_fresh(const struct ts_record *rec, const struct ts_decision *d)
{
	return d->expires_left > 0 && d->expires_left * 2 >= rec->expires_in;
}

struct use_state {
	bool refreshed, adopted, rejected_early;
	int early_err; /* the refresh inside the window failed with this (0: none) */
	bool looked_expired; /* past the expiry by the stored skew: revalidate first */
	bool backed_off;     /* the server rejected even a fresh token lately: no refresh */
	bool held;           /* a refresh answered invalid_request was a config error */
	bool expired_again;  /* the refreshed token ran out before its check: refreshed again */
	struct oauth_error err;
};

/* The server confirmed rec: note it when due, say what happened. */
static void use_confirmed(struct ts_engine *e, const struct ts_request *req,
                         struct ts_record *rec, bool note, const struct oauth_groups *groups,
                         const struct use_state *u, struct ts_outcome *out)
{
	struct ts_decision d;

	if (note || rec->rejected_at)
		note_positive(e, req, rec, groups, eng_server_now(e, rec->skew));
	ts_lifecycle_decide(rec, eng_server_now(e, rec->skew), e->cfg, &d);
	out->expires = d.expires_left;
	if (u->early_err)
		/* the server confirmed the token: a failed early refresh of any
		 * class does not fail the use (an invalid_grant has marked the
		 * record needs-login all the same) */
		eng_set_msg(out, 0, d.state,
		            "signed in at %s; confirmed by the server (the early refresh failed: "
		            "%s)",
		            e->cfg->issuer, ts_strerror(u->early_err));
	else if (out->not_saved)
		eng_set_msg(out, TS_E_NOT_SAVED, TS_STATE_VALID,
		            not_saved_for_space(out->not_saved)
		                ? "the refresh succeeded but could not be saved: %s; this use goes "
		                  "on with the new token, but the next one may need a new sign-in; "
		                  "ask the administrator to free space in %.200s"
		                : "the refresh succeeded but could not be saved: %s; this use goes "
		                  "on with the new token, but the next one may need a new sign-in; "
		                  "ask the administrator to check %.200s (tokenseal doctor)",
		            ts_strerror(out->not_saved), e->cfg->keystore_dir);
	else if (u->rejected_early)
		eng_set_msg(out, 0, TS_STATE_VALID,
		            "access token rejected by %s before its local expiry; %s",
		            e->cfg->issuer,
		            u->adopted ? "another process had refreshed it; using that"
		                       : "refreshed");
	else if (u->refreshed)
		eng_set_msg(out, 0, TS_STATE_VALID, "refreshed the tokens at %s%s", e->cfg->issuer,
		            u->adopted ? " (adopted from another process)" : "");
	else
		eng_set_msg(out, 0, d.state, "signed in at %s; confirmed by the server",
		            e->cfg->issuer);
}

static int use_failed(struct ts_engine *e, const struct ts_request *req,
                      const struct ts_record *rec, int r, const struct oauth_error *err,
                      struct ts_outcome *out)
{
	if (r == TS_E_NEEDS_LOGIN)
		/* the stored reason says which: a refused refresh token, or none to use */
		eng_set_msg(out, r, TS_STATE_NEEDS_LOGIN, "sign-in required: %s; %s",
		            rec->reason[0] ? rec->reason
		                           : "the server refused the refresh token (invalid_grant)",
		            eng_state_hint());
	else if (r == TS_E_IDENTITY_CHANGED)
		eng_set_msg(out, r, TS_STATE_NEEDS_LOGIN,
		            "sign-in required: the server answered with another identity for %s; %s",
		            req->user, eng_state_hint());
	else if (r == TS_E_NO_RECORD)
		eng_set_msg(out, r, TS_STATE_NONE, "%s is not signed in; run `tokenseal login`",
		            req->user);
	else if (r == TS_E_LOCK_TIMEOUT || (r <= TS_E_CORRUPT && r >= TS_E_QUARANTINED))
		eng_set_msg(out, r, TS_STATE_UNAVAILABLE, "keystore problem: %s", ts_strerror(r));
	else
		eng_server_error_msg(out, e, r, err);
	return r;
}

static void use_refresh_early(struct ts_engine *e, const struct ts_request *req,
                              struct ts_record *rec, struct use_state *u, struct ts_outcome *out);

/* The server answered the revalidation positively: bind the identity, and
 * when the token only looked expired by the stored clock skew, decide again
 * with the skew just measured (inside the window: refresh now, return 1 to
 * revalidate the new token). Else note the answer when due and say what
 * happened. */
static int use_positive(struct ts_engine *e, const struct ts_request *req, struct ts_record *rec,
                        const struct oauth_identity *ident, struct use_state *u,
                        struct ts_outcome *out)
{
	struct ts_decision d;
	int64_t skew;
	bool note;
	int r;

	r = eng_check_identity(e, req, rec, ident, out);
	if (r < 0)
		return r;
	skew = eng_current_skew(e, rec->skew);
	note = ts_should_note_positive(rec, eng_server_now(e, skew), skew, e->cfg);
	rec->skew = skew;
	if (u->looked_expired && !u->refreshed && !u->early_err && !u->backed_off) {
		u->looked_expired = false;
		ts_lifecycle_decide(rec, eng_server_now(e, rec->skew), e->cfg, &d);
		if (d.action == TS_ACT_REFRESH) {
			use_refresh_early(e, req, rec, u, out);
			if (u->refreshed)
				return 1;
		}
	}
	/* the policy, from the same answer; a refusal notes nothing */
	r = eng_policy_check(e, req, &ident->groups, TS_STATE_VALID, out);
	if (r < 0)
		return r;
	use_confirmed(e, req, rec, note, &ident->groups, u, out);
	eng_publish_groups(e, req, &ident->groups);
	return out->code;
}

/* Inside the refresh window, token still valid: refresh first, so one
 * revalidation of the new token does (DESIGN §4). A failure is kept in
 * u->early_err and the old token is revalidated instead. */
static void use_refresh_early(struct ts_engine *e, const struct ts_request *req,
                              struct ts_record *rec, struct use_state *u, struct ts_outcome *out)
{
	int r;

	r = eng_refresh_single_flight(e, req, rec->access_token, rec, &u->adopted, out, &u->err);
	if (r == 0 || r == TS_E_NOT_SAVED) {
		u->refreshed = true;
		return;
	}
	ts_log_debug("broker: %s: the early refresh failed (%s); revalidating the current token",
	             eng_log_user(req), ts_strerror(r));
	u->early_err = r;
}

/*
 * Every use: inside the refresh window refresh first; then revalidate with
 * the server (unless a positive answer is cached), refresh once under the
 * lock when the server rejects the token, revalidate the new token, bind
 * the identity.
 * On success rec holds the usable record.
 */
int eng_use_tokens(struct ts_engine *e, const struct ts_request *req, struct ts_record *rec,
                   struct ts_outcome *out)
{
	struct ts_decision d;
	struct use_state u = {0};
	int64_t age = 0;
	int r;

	r = use_load(e, req, rec, &d, out);
	if (r > 0) /* the cached answer: its groups decide */
		return eng_policy_check(e, req, eng_stored_groups(e, rec), d.state, out);
	if (r < 0)
		return r;
	/* Inside the window with the token still valid: refresh first. A token
	 * that looks expired may only look so through a stale clock-skew
	 * estimate (the host clock was set): the server decides first, and
	 * use_positive decides again with the skew its answer measured. */
	/* backed off: revalidate only, the server decides whether the
	 * account is back */
	u.held = ts_refresh_held(rec, eng_server_now(e, rec->skew), NULL);
	u.backed_off = u.held || ts_refresh_backed_off(rec, eng_server_now(e, rec->skew));
	if (!u.backed_off && d.action == TS_ACT_REFRESH && d.expires_left > 0)
		use_refresh_early(e, req, rec, &u, out);
	else if (!u.backed_off && d.action == TS_ACT_REFRESH)
		u.looked_expired = true;
	for (unsigned attempt = 0; attempt < 3; attempt++) {
		struct oauth_identity ident = {0};
		struct oauth_error early = u.err;

		memset(&u.err, 0, sizeof(u.err));
		r = eng_revalidate_identity(e, rec->access_token,
		                            u.refreshed && !u.adopted &&
		                                !ts_record_is_client_credentials(rec),
		                            &ident, &u.err);
		if (r == 0) {
			r = use_positive(e, req, rec, &ident, &u, out);
			if (r > 0)
				continue;
			return r;
		}
		if (r == TS_E_REJECTED_TOKEN && u.early_err) {
			/* refused, and the refresh was tried already: its error
			 * is the answer (invalid_grant: sign-in required) */
			return use_failed(e, req, rec, u.early_err, &early, out);
		}
		if (r == TS_E_REJECTED_TOKEN && u.held) {
			int64_t left = 0;

			(void)ts_refresh_held(rec, eng_server_now(e, rec->skew), &left);
			eng_held_msg(out, e, req, rec, left,
			             "sign in again (`tokenseal login`) if the configuration is right");
			return TS_E_SERVER_CONFIG;
		}
		if (r == TS_E_REJECTED_TOKEN && u.backed_off) {
			int64_t left = ts_reject_backoff(rec->rejections) -
			               (eng_server_now(e, rec->skew) - rec->rejected_at);

			eng_set_msg(out, r, TS_STATE_NEEDS_LOGIN,
			            "%s rejected even a freshly refreshed token of %s (the account "
			            "may be disabled); not refreshing again for %lld s; ask the "
			            "identity provider's administrator (a new sign-in cannot help)",
			            e->cfg->issuer, req->user, (long long)(left > 0 ? left : 0));
			return r;
		}
		if (r == TS_E_REJECTED_TOKEN && !u.refreshed) {
			ts_lifecycle_decide(rec, eng_server_now(e, rec->skew), e->cfg, &d);
			u.rejected_early = d.expires_left > 0;
			r = eng_refresh_single_flight(e, req, rec->access_token, rec, &u.adopted, out,
			                              &u.err);
			if (r < 0 && r != TS_E_NOT_SAVED)
				return use_failed(e, req, rec, r, &u.err, out);
			u.refreshed = true;
			continue;
		}
		ts_lifecycle_decide(rec, eng_server_now(e, rec->skew), e->cfg, &d);
		if (r == TS_E_REJECTED_TOKEN && !u.expired_again) {
			/* the token refreshed (or adopted) for this use has run
			 * out, or nearly, while the use waited (a loaded host, a
			 * lifetime of seconds): its rejection says nothing about
			 * the account; one more refresh, not the disabled-account
			 * back-off */
			if (!eng_token_fresh(rec, &d)) {
				u.expired_again = true;
				r = eng_refresh_single_flight(e, req, rec->access_token, rec,
				                              &u.adopted, out, &u.err);
				if (r < 0 && r != TS_E_NOT_SAVED)
					return use_failed(e, req, rec, r, &u.err, out);
				continue;
			}
		}
		if (r == TS_E_REJECTED_TOKEN && eng_token_fresh(rec, &d) &&
		    eng_fresh_inactive_is_config(e, rec->access_token)) {
			/* not the account: introspection (Keycloak's audience
			 * rule); refreshing again would only loop */
			eng_hold_audience(e, req, rec, out);
			return TS_E_SERVER_CONFIG;
		}
		if (r == TS_E_REJECTED_TOKEN && !eng_token_fresh(rec, &d)) {
			/* refreshed once more, and that token too ran out before
			 * its check answered: the server checks slower than its
			 * tokens live; nothing is said of the account, nothing
			 * held back */
			eng_set_msg(out, TS_E_UNAVAILABLE, TS_STATE_UNAVAILABLE,
			            "%s took longer to check the new token of %s than that token "
			            "lives (%lld s): it ran out while waiting; the new tokens are kept; "
			            "try again later (a server this slow needs longer-lived access "
			            "tokens)",
			            e->cfg->issuer, req->user, (long long)rec->expires_in);
			return TS_E_UNAVAILABLE;
		}
		if (r == TS_E_REJECTED_TOKEN) {
			mark_rejected(e, req, rec);
			eng_set_msg(out, r, TS_STATE_NEEDS_LOGIN,
			            "%s rejects even the freshly refreshed token of %s (the account "
			            "may be disabled); not refreshing again for %lld s; ask the "
			            "identity provider's administrator (a new sign-in cannot help)",
			            e->cfg->issuer, req->user,
			            (long long)ts_reject_backoff(rec->rejections));
			return r;
		}
		if (r == TS_E_UNAVAILABLE &&
		    ts_offline_allowed(rec, eng_server_now(e, rec->skew), e->cfg, &age)) {
			/* the last positive answer's groups decide */
			r = eng_policy_check(e, req, eng_stored_groups(e, rec),
			                     TS_STATE_UNAVAILABLE, out);
			if (r < 0)
				return r;
			eng_set_msg(out, 0, TS_STATE_UNAVAILABLE,
			            "the identity server is unreachable; using the check from "
			            "%lld minutes ago (offline_grace)",
			            (long long)(age / 60));
			return 0;
		}
		return use_failed(e, req, rec, r, &u.err, out);
	}
	return use_failed(e, req, rec, TS_E_REJECTED_TOKEN, &u.err, out);
}

/*
 * REFRESH (tokenseal refresh): refresh now, under the lock, whatever the
 * refresh window says (single flight: a token another process stored
 * meanwhile is adopted, not refreshed again). Held back while the server
 * rejects even fresh tokens (back-off), unless TS_FLAG_FORCE.
 */
int eng_refresh(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
{
	struct ts_record rec = {0};
	struct ts_decision d;
	struct oauth_error err = {0};
	bool adopted = false;
	int r;

	r = use_load(e, req, &rec, &d, out);
	if (r < 0)
		goto out;
	if (!(req->flags & TS_FLAG_FORCE)) {
		int64_t left = 0;

		if (ts_refresh_held(&rec, eng_server_now(e, rec.skew), &left)) {
			eng_held_msg(out, e, req, &rec, left, "`tokenseal refresh --force` tries now");
			r = TS_E_SERVER_CONFIG;
			goto out;
		}
	}
	if (!(req->flags & TS_FLAG_FORCE) &&
	    ts_refresh_backed_off(&rec, eng_server_now(e, rec.skew))) {
		int64_t left = ts_reject_backoff(rec.rejections) -
		               (eng_server_now(e, rec.skew) - rec.rejected_at);

		eng_set_msg(out, TS_E_REJECTED_TOKEN, TS_STATE_NEEDS_LOGIN,
		            "%s rejected even a freshly refreshed token of %s (the account may be "
		            "disabled); not refreshing again for %lld s; `tokenseal refresh "
		            "--force` tries now",
		            e->cfg->issuer, req->user, (long long)(left > 0 ? left : 0));
		r = TS_E_REJECTED_TOKEN;
		goto out;
	}
	r = eng_refresh_single_flight(e, req, rec.access_token, &rec, &adopted, out, &err);
	if (r < 0 && r != TS_E_NOT_SAVED) {
		r = use_failed(e, req, &rec, r, &err, out);
		goto out;
	}
	ts_lifecycle_decide(&rec, eng_server_now(e, rec.skew), e->cfg, &d);
	out->expires = d.expires_left;
	if (r == TS_E_NOT_SAVED)
		eng_set_msg(out, r, TS_STATE_VALID,
		            not_saved_for_space(out->not_saved)
		                ? "the refresh succeeded but could not be saved: %s; ask the "
		                  "administrator to free space in %.200s"
		                : "the refresh succeeded but could not be saved: %s; ask the "
		                  "administrator to check %.200s (tokenseal doctor)",
		            ts_strerror(out->not_saved), e->cfg->keystore_dir);
	else
		eng_set_msg(out, 0, TS_STATE_VALID, "%s at %s%s; the access token expires in %lld s",
		            adopted ? "another process had just refreshed the tokens"
		                    : "refreshed the tokens",
		            e->cfg->issuer, adopted ? "; using them" : "",
		            (long long)d.expires_left);
out:
	ts_record_clear(&rec);
	return r;
}
