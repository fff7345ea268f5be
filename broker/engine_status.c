/* SPDX-License-Identifier: MIT */
/*
 * STATUS: what the stored record says, as JSON and one sentence.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "engine_internal.h"
#include "nss_update.h"
#include "ks.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_time.h"

/* The user's entry in the NSS user cache: {state, uid, gid, pinned_by_name,
 * text}, or null when the cache cannot be read. */
static json_t *nss_json(const struct ts_config *cfg, const char *user)
{
	struct ts_nss_user u = {0};
	char text[160];
	json_t *n;
	bool ids;

	if (ts_nss_describe(cfg, user, &u) < 0 || !(n = json_object()))
		return json_null();
	ids = u.state == TS_NSS_USER_ACTIVE || u.state == TS_NSS_USER_TOMBSTONE;
	ts_nss_user_text(&u, text, sizeof(text));
	json_object_set_new(n, "state", json_string(ts_nss_user_state_name(u.state)));
	json_object_set_new(n, "uid", ids ? json_integer(u.uid) : json_null());
	json_object_set_new(n, "gid", u.state == TS_NSS_USER_ACTIVE ? json_integer(u.gid)
	                                                           : json_null());
	json_object_set_new(n, "pinned_by_name", json_boolean(u.pinned_by_name));
	json_object_set_new(n, "text", json_string(text));
	return n;
}

int eng_status(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
{
	struct ts_record rec = {0};
	struct ts_decision d;
	uint64_t gen = 0;
	json_t *o;
	int r;

	r = eng_load_unlocked(e, req, &rec, &gen);
	o = json_object();
	if (!o) {
		ts_record_clear(&rec);
		return -ENOMEM;
	}
	json_object_set_new(o, "user", json_string(req->user));
	json_object_set_new(o, "issuer", json_string(e->cfg->issuer));
	json_object_set_new(o, "nss", nss_json(e->cfg, req->user));
	if (r == TS_E_NO_RECORD || r == -ENOENT) {
		json_object_set_new(o, "state", json_string(ts_state_name(TS_STATE_NONE)));
		eng_set_msg(out, 0, TS_STATE_NONE, "%s is not signed in at %s", req->user,
		        e->cfg->issuer);
	} else if (r == TS_E_MISMATCH) {
		struct ks_header_info h;

		json_object_set_new(o, "state", json_string(ts_state_name(TS_STATE_MISMATCH)));
		json_object_set_new(o, "error", json_integer(r));
		if (ks_read_header(e->ks, req->uid, &h) == 0) {
			json_object_set_new(o, "record_issuer", json_string(h.issuer));
			json_object_set_new(o, "record_client_id", json_string(h.client_id));
		}
		eng_set_msg(out, 0, TS_STATE_MISMATCH,
		            "the stored sign-in of %s was made for another issuer or client than "
		            "this host's configuration (%s); it is kept: fix the configuration, or "
		            "sign in again",
		            req->user, e->cfg->issuer);
	} else if (r < 0) {
		json_object_set_new(o, "state", json_string(ts_state_name(TS_STATE_CORRUPTED)));
		json_object_set_new(o, "error", json_integer(r));
		eng_set_msg(out, 0, TS_STATE_CORRUPTED, "the stored sign-in of %s cannot be read (%s)",
		        req->user, ts_strerror(r));
	} else {
		ts_lifecycle_decide(&rec, eng_server_now(e, rec.skew), e->cfg, &d);
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
		json_object_set_new(o, "sessions",
		                    json_integer(ts_record_sessions(&rec, ts_boot_id())));
		json_object_set_new(o, "clock_skew", json_integer(rec.skew));
		json_object_set_new(o, "clock_skew_warning",
		                    json_boolean(rec.skew > TS_SKEW_WARN_SECONDS ||
		                                 rec.skew < -TS_SKEW_WARN_SECONDS));
		json_object_set_new(o, "client_id", json_string(rec.client_id));
		json_object_set_new(o, "expires_at",
		                    json_integer(rec.obtained_at + rec.expires_in - rec.skew));
		json_object_set_new(o, "last_refresh_at",
		                    json_integer(rec.last_refresh_at ? rec.last_refresh_at - rec.skew
		                                                     : 0));
		/* the server's verdict at the last check that changed the record */
		if (rec.rejected_at > rec.last_positive_check) {
			json_object_set_new(o, "last_check_at",
			                    json_integer(rec.rejected_at - rec.skew));
			json_object_set_new(o, "last_check_verdict", json_string("rejected"));
		} else if (rec.last_positive_check > 0) {
			json_object_set_new(o, "last_check_at",
			                    json_integer(rec.last_positive_check - rec.skew));
			json_object_set_new(o, "last_check_verdict", json_string("active"));
		}
		if (rec.last_error) {
			json_object_set_new(o, "last_error", json_integer(rec.last_error));
			json_object_set_new(o, "last_error_at",
			                    json_integer(rec.last_error_at - rec.skew));
		}
		if (rec.rejected_at > 0)
			json_object_set_new(o, "rejected_at", json_integer(rec.rejected_at));
		{
			/* a refresh answered invalid_request was a configuration
			 * error: refreshes held back for this many seconds */
			int64_t left = 0;

			if (ts_refresh_held(&rec, eng_server_now(e, rec.skew), &left))
				json_object_set_new(o, "refresh_held_for", json_integer(left));
		}
		if (rec.reason[0])
			json_object_set_new(o, "reason", json_string(rec.reason));
		out->expires = d.expires_left;
		if (d.state == TS_STATE_SIGNED_OUT)
			eng_set_msg(out, 0, d.state, "%s signed out of %s; %s", req->user,
			            e->cfg->issuer, eng_state_hint());
		else if (d.state == TS_STATE_NEEDS_LOGIN)
			eng_set_msg(out, 0, d.state, "sign-in required: %s; %s", rec.reason,
			        eng_state_hint());
		else
			eng_set_msg(
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

