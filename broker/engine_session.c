/* SPDX-License-Identifier: MIT */
/*
 * Sessions (open/close, revoke_on), logout and GET_TOKEN.
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
#include "ts_time.h"

/* RFC 7009: the refresh token and the access token (servers that do not
 * cascade keep the access token alive). The first failure, or 0;
 * -EOPNOTSUPP: the server offers no revocation. A server that could not be
 * reached for the first (TS_E_UNAVAILABLE: a stall, a reset, 5xx, 429) is
 * not asked for the second: a logout or the last session's close would
 * wait http_timeout twice for the same answer, and the message says the
 * grant may live on either way. */
static int revoke_both(struct ts_engine *e, const struct ts_record *rec)
{
	struct oauth_error err = {0};
	int rv = 0, r;

	if (rec->refresh_token && rec->refresh_token[0]) {
		rv = oauth_revoke(e->oauth, rec->refresh_token, "refresh_token", &err);
		memset(&err, 0, sizeof(err));
		if (rv == -EOPNOTSUPP || rv == TS_E_UNAVAILABLE)
			return rv; /* no revocation endpoint, or no server to ask */
	}
	if (rec->access_token && rec->access_token[0]) {
		r = oauth_revoke(e->oauth, rec->access_token, "access_token", &err);
		if (rv == 0)
			rv = r;
	}
	return rv;
}

/* An unreadable record (corrupt, rollback): delete it, nothing to revoke. */
static int delete_unreadable(struct ts_engine *e, const struct ts_request *req,
                             struct ks_lock *l, struct ts_outcome *out)
{
	struct ks_identity id;
	int r;

	eng_ks_id(e, req, &id);
	r = ks_delete(e->ks, l, &id, 0);
	if (r < 0 && r != TS_E_NO_RECORD && r != -ENOENT) {
		eng_set_msg(out, r, TS_STATE_UNAVAILABLE,
		            "could not delete the stored sign-in: %s", ts_strerror(r));
		return r;
	}
	eng_set_msg(out, 0, TS_STATE_NONE,
	            "signed out locally; the stored sign-in could not be read, so nothing "
	            "was revoked and the grant may live on at %s",
	            e->cfg->issuer);
	return 0;
}

/*
 * Sign out (logout, last session closed; DESIGN §4): under the user's lock,
 * revoke the refresh and the access token, then store a token-less record
 * that keeps the subject and user name with state signed-out, so the
 * account phase keeps refusing until the user signs in again and the
 * subject stays pinned. Offline: the tokens go all the same.
 */
static int sign_out(struct ts_engine *e, const struct ts_request *req, bool revoke,
                    struct ts_outcome *out)
{
	struct ks_lock *l = NULL;
	struct ts_record cur = {0};
	uint64_t gen = 0;
	int rv = 0, r;

	r = ks_lock(e->ks, req->uid, &l);
	if (r < 0) {
		eng_set_msg(out, r, TS_STATE_UNAVAILABLE, "keystore problem: %s", ts_strerror(r));
		return r;
	}
	r = eng_load(e, req, l, &cur, &gen);
	if (r == TS_E_NO_RECORD || r == -ENOENT) {
		eng_set_msg(out, 0, TS_STATE_NONE, "%s was not signed in; nothing to do", req->user);
		r = 0;
		goto out;
	}
	if (r < 0) {
		r = delete_unreadable(e, req, l, out);
		goto out;
	}
	if (cur.state == TS_REC_SIGNED_OUT) {
		eng_set_msg(out, 0, TS_STATE_SIGNED_OUT, "%s was signed out already", req->user);
		goto out;
	}
	if (revoke)
		rv = revoke_both(e, &cur);
	cur.access_token = ts_erase_free_str(cur.access_token);
	cur.refresh_token = ts_erase_free_str(cur.refresh_token);
	cur.state = TS_REC_SIGNED_OUT;
	cur.sessions = 0;
	cur.last_positive_check = 0;
	eng_record_set_groups(e, &cur, NULL);
	cur.needs_login_rt_hash[0] = '\0';
	snprintf(cur.reason, sizeof(cur.reason), "signed out");
	r = eng_store(e, req, l, &cur, gen, NULL);
	if (r < 0) {
		eng_set_msg(out, r, TS_STATE_UNAVAILABLE,
		            "could not store the signed-out record: %s", ts_strerror(r));
		goto out;
	}
	/* a signed-out record publishes no groups */
	eng_publish_groups(e, req, NULL);
	if (!revoke)
		eng_set_msg(out, 0, TS_STATE_SIGNED_OUT,
		            "signed out locally; the grant was not revoked and may live on at %s",
		            e->cfg->issuer);
	else if (rv == -EOPNOTSUPP)
		eng_set_msg(out, 0, TS_STATE_SIGNED_OUT,
		            "signed out locally; this server offers no revocation; the grant lives "
		            "on until it expires or an administrator ends it (%s)",
		            e->cfg->issuer);
	else if (rv < 0)
		eng_set_msg(out, 0, TS_STATE_SIGNED_OUT,
		            "signed out locally; %s could not be reached (%s), so the grant may "
		            "live on at the server until it expires",
		            e->cfg->issuer, ts_strerror(rv));
	else
		eng_set_msg(out, 0, TS_STATE_SIGNED_OUT, "signed out; the grant was revoked at %s",
		            e->cfg->issuer);
out:
	ts_record_clear(&cur);
	ks_unlock(l);
	return r;
}

int eng_logout(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
{
	return sign_out(e, req, !(req->flags & TS_FLAG_NO_REVOKE), out);
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
	r = eng_load(e, req, l, &cur, &gen);
	if (r >= 0) {
		/* a count from an earlier boot: those sessions ended with it */
		int was = ts_record_sessions(&cur, ts_boot_id());

		if (was != cur.sessions)
			ts_log_debug("broker: %s: %d sessions counted in an earlier boot: none "
			             "open now",
			             eng_log_user(req), cur.sessions);
		cur.sessions = was + delta;
		if (cur.sessions < 0)
			cur.sessions = 0;
		if (ts_strlcpy(cur.sessions_boot, ts_boot_id(), sizeof(cur.sessions_boot)) < 0)
			cur.sessions_boot[0] = '\0';
		*ret_sessions = cur.sessions;
		r = eng_store(e, req, l, &cur, gen, NULL);
	}
	ts_record_clear(&cur);
	ks_unlock(l);
	return r;
}

int eng_open_session(struct ts_engine *e, const struct ts_request *req,
                           struct ts_outcome *out)
{
	struct ts_record rec = {0};
	int n = 0, r;

	r = eng_use_tokens(e, req, &rec, out);
	ts_record_clear(&rec);
	if (r < 0)
		return r;
	r = adjust_sessions(e, req, +1, &n);
	if (r < 0)
		ts_log_debug("broker: %s: session count not updated: %s", eng_log_user(req),
		             ts_strerror(r));
	return 0;
}

int eng_close_session(struct ts_engine *e, const struct ts_request *req,
                      struct ts_outcome *out)
{
	int n = 0, r;

	r = adjust_sessions(e, req, -1, &n);
	if (r == TS_E_NO_RECORD || r == -ENOENT) {
		eng_set_msg(out, 0, TS_STATE_NONE, "no stored sign-in for %s", req->user);
		return 0;
	}
	if (r < 0) {
		eng_set_msg(out, r, TS_STATE_UNAVAILABLE, "keystore problem: %s", ts_strerror(r));
		return r;
	}
	if (e->cfg->revoke_on == TS_REVOKE_NEVER ||
	    (e->cfg->revoke_on == TS_REVOKE_LAST_SESSION && n > 0)) {
		eng_set_msg(out, 0, TS_STATE_VALID, "session closed (%d still open)", n);
		return 0;
	}
	return sign_out(e, req, true, out);
}

int eng_get_token(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
{
	struct ts_record rec = {0};
	int r;

	r = eng_use_tokens(e, req, &rec, out);
	/* TS_E_NOT_SAVED: the server confirmed the new token; it is handed
	 * out, with the message that it could not be stored */
	if (r == 0 || r == TS_E_NOT_SAVED) {
		out->token = ts_strdup_secret(rec.access_token);
		if (!out->token) {
			eng_set_msg(out, -ENOMEM, TS_STATE_UNAVAILABLE, "out of memory");
			r = -ENOMEM;
		}
	}
	ts_record_clear(&rec);
	return r;
}

