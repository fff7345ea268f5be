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
	eng_ks_id(e, req, &id);
	r = ks_lock(e->ks, req->uid, &l);
	if (r >= 0) {
		r = ks_delete(e->ks, l, &id, 0);
		ks_unlock(l);
	}
	if (r < 0 && r != TS_E_NO_RECORD && r != -ENOENT) {
		eng_set_msg(out, r, TS_STATE_UNAVAILABLE, "could not delete the stored sign-in: %s",
		        ts_strerror(r));
		return r;
	}
	if (!revoke)
		eng_set_msg(out, 0, TS_STATE_NONE,
		        "signed out locally; the grant was not revoked and may live on at %s",
		        e->cfg->issuer);
	else if (rv < 0)
		eng_set_msg(out, 0, TS_STATE_NONE,
		        "signed out locally; %s could not be reached (%s), so the grant may live "
		        "on at the server until it expires",
		        e->cfg->issuer, ts_strerror(rv));
	else
		eng_set_msg(out, 0, TS_STATE_NONE, "signed out; the grant was revoked at %s",
		        e->cfg->issuer);
	return 0;
}

int eng_logout(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
{
	struct ts_record rec = {0};
	uint64_t gen;
	int r;

	r = eng_load_unlocked(e, req, &rec, &gen);
	if (r == TS_E_NO_RECORD || r == -ENOENT) {
		eng_set_msg(out, 0, TS_STATE_NONE, "%s was not signed in; nothing to do", req->user);
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
	r = eng_load(e, req, &cur, &gen);
	if (r >= 0) {
		cur.sessions += delta;
		if (cur.sessions < 0)
			cur.sessions = 0;
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
	struct ts_record rec = {0};
	uint64_t gen;
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
	r = eng_load_unlocked(e, req, &rec, &gen);
	if (r < 0) {
		eng_set_msg(out, 0, TS_STATE_NONE, "session closed");
		return 0;
	}
	r = revoke_and_delete(e, req, &rec, true, out);
	ts_record_clear(&rec);
	return r;
}

int eng_get_token(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
{
	struct ts_record rec = {0};
	int r;

	r = eng_use_tokens(e, req, &rec, out);
	if (r == 0) {
		out->token = ts_strdup_secret(rec.access_token);
		if (!out->token) {
			eng_set_msg(out, -ENOMEM, TS_STATE_UNAVAILABLE, "out of memory");
			r = -ENOMEM;
		}
	}
	ts_record_clear(&rec);
	return r;
}

