/* SPDX-License-Identifier: MIT */
/*
 * A refresh answered 400 invalid_request (issue 17). RFC 6749 says a dead
 * refresh token is invalid_grant, but several OAuth server libraries answer
 * a refresh token they no longer know with invalid_request, which tokenseal
 * otherwise reads as a configuration error: the record stays valid, every
 * use retries, and the user never learns to sign in again.
 *
 * Decided with evidence, under the user's lock, right after the refusal:
 * the same client makes one request that changes nothing at the server and
 * that the server only answers when the client's configuration is good
 * (its authentication, its client_id): an introspection of the stored access
 * token. Answered (active or not): the client is fine, so the refresh token
 * is what was refused: needs-login, under the same rule as invalid_grant
 * (the refused token is the stored one: the caller holds the lock and has
 * just re-read it). Not answered (a public client has no introspection; a
 * server without the endpoint; the client's authentication refused; the
 * server unreachable): a configuration error as before, the tokens kept, and
 * refreshes held back (ts_refresh_held: 60 s doubling, at most an hour) so
 * the same refresh token is not resent on every use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"

bool eng_refusal_is_invalid_request(const struct oauth_error *err)
{
	return err->http_status == 400 && strcmp(err->error, "invalid_request") == 0;
}

/* The probe: 0 when the client's own request was answered, else the
 * reason it was not (err filled). */
static int probe_client(struct ts_engine *e, const struct ts_record *cur,
                        struct oauth_error *perr)
{
	struct oauth_identity ident = {0};
	int r;

	if (!e->cfg->client_secret_file[0]) {
		snprintf(perr->message, sizeof(perr->message),
		         "a public client cannot introspect, so there is nothing to check it with");
		return TS_E_SERVER_CONFIG;
	}
	if (!cur->access_token || !cur->access_token[0]) {
		snprintf(perr->message, sizeof(perr->message), "no access token to introspect");
		return TS_E_SERVER_CONFIG;
	}
	r = oauth_introspect(e->oauth, cur->access_token, &ident, perr);
	ts_wipe(&ident, sizeof(ident));
	/* active:false is an answer too: the server authenticated the client */
	return r == 0 || r == TS_E_REJECTED_TOKEN ? 0 : r;
}

int eng_refresh_refused_request(struct ts_engine *e, const struct ts_request *req,
                                struct ks_lock *l, struct ts_record *cur, uint64_t gen,
                                struct oauth_error *err)
{
	struct oauth_error perr = {0};
	char desc[OAUTH_DESC_MAX + 4] = "";
	int64_t now;
	int r, w;

	if (err->description[0])
		snprintf(desc, sizeof(desc), " (%s)", err->description);
	r = probe_client(e, cur, &perr);
	if (r == 0) {
		ts_log_debug("broker: %s: refresh answered invalid_request, the same client's "
		             "introspection was answered: the refresh token was refused",
		             eng_log_user(req));
		w = eng_mark_needs_login(e, req, l, cur, gen,
		                         "the server refused the refresh token (invalid_request, "
		                         "while this client's other requests succeed)");
		return w < 0 ? w : TS_E_NEEDS_LOGIN;
	}
	{
		/* the outer message names the issuer already */
		size_t il = strlen(e->cfg->issuer);

		if (il && strncmp(perr.message, e->cfg->issuer, il) == 0 &&
		    strncmp(perr.message + il, ": ", 2) == 0)
			memmove(perr.message, perr.message + il + 2,
			        strlen(perr.message + il + 2) + 1);
	}
	now = eng_server_now(e, cur->skew);
	cur->held_at = now;
	cur->holds = cur->holds < 1000 ? cur->holds + 1 : 1000;
	cur->last_error = TS_E_SERVER_CONFIG;
	cur->last_error_at = now;
	if (eng_store(e, req, l, cur, gen, NULL) < 0)
		ts_log_debug("broker: %s: could not hold the refresh back", eng_log_user(req));
	snprintf(err->message, sizeof(err->message),
	         "the server answered the refresh with invalid_request%.100s, and this client "
	         "could not show that its own configuration is good (%.140s); not refreshing "
	         "again for %lld s; if the configuration is right, the refresh token is dead: "
	         "sign in again",
	         desc, perr.message[0] ? perr.message : ts_strerror(r),
	         (long long)ts_reject_backoff(cur->holds));
	err->code = TS_E_SERVER_CONFIG;
	return TS_E_SERVER_CONFIG;
}

/* ---- a token just issued, introspected inactive ---- */

bool eng_fresh_inactive_is_config(struct ts_engine *e, const char *token)
{
	struct oauth_identity ui = {0};
	struct oauth_error err = {0};
	int r;

	if (!oauth_uses_introspection(e->oauth))
		return false;
	r = oauth_userinfo(e->oauth, token, &ui, &err);
	ts_wipe(&ui, sizeof(ui));
	return r == 0;
}

static void audience_msg(struct ts_outcome *out, const struct ts_engine *e, int64_t left,
                         const char *what)
{
	eng_set_msg(out, TS_E_SERVER_CONFIG, TS_STATE_UNAVAILABLE,
	            "configuration error talking to %s: " ENG_AUDIENCE_TEXT
	            "; not refreshing again for %lld s; ask the administrator, or %s",
	            e->cfg->issuer, e->cfg->client_id, (long long)(left > 0 ? left : 0), what);
}

void eng_hold_audience(struct ts_engine *e, const struct ts_request *req, struct ts_record *rec,
                       struct ts_outcome *out)
{
	struct ks_lock *l = NULL;
	struct ts_record cur = {0};
	uint64_t gen = 0;
	int holds = rec->holds < 1000 ? rec->holds + 1 : 1000;

	ts_log_debug("broker: %s: a token issued a moment ago introspects inactive and userinfo "
	             "accepts it: holding refreshes back (audience)",
	             eng_log_user(req));
	if (ks_lock(e->ks, req->uid, &l) == 0) {
		if (eng_load(e, req, l, &cur, &gen) >= 0 &&
		    ts_single_flight_verdict(&cur, rec->access_token) == TS_GRANT_REFRESH) {
			cur.held_at = eng_server_now(e, cur.skew);
			cur.holds = cur.holds < 1000 ? cur.holds + 1 : 1000;
			holds = cur.holds;
			cur.last_error = TS_E_SERVER_CONFIG;
			cur.last_error_at = cur.held_at;
			snprintf(cur.reason, sizeof(cur.reason), "%s", ENG_HOLD_AUDIENCE);
			if (eng_store(e, req, l, &cur, gen, NULL) < 0)
				ts_log_debug("broker: %s: could not hold the refresh back",
				             eng_log_user(req));
		}
		ts_record_clear(&cur);
		ks_unlock(l);
	}
	audience_msg(out, e, ts_reject_backoff(holds),
	             "sign in again (`tokenseal login`) once the configuration is fixed");
}

void eng_held_msg(struct ts_outcome *out, const struct ts_engine *e, const struct ts_request *req,
                  const struct ts_record *rec, int64_t left, const char *what)
{
	if (strcmp(rec->reason, ENG_HOLD_AUDIENCE) == 0) {
		audience_msg(out, e, left, what);
		return;
	}
	eng_set_msg(out, TS_E_SERVER_CONFIG, TS_STATE_UNAVAILABLE,
	            "configuration error talking to %s: it answered the last refresh of %s with "
	            "invalid_request and this client could not show that its configuration is "
	            "good; not refreshing again for %lld s; ask the administrator, or %s",
	            e->cfg->issuer, req->user, (long long)left, what);
}
