/* SPDX-License-Identifier: MIT */
/*
 * Background refresh, the engine's side (background.h): what the daemon's
 * schedule needs of a record, and "refresh this user's record now if it is
 * due" through the very single flight a use goes through
 * (eng_refresh_single_flight, engine_use.c), so the rules are one: under
 * the user's lock, re-read first, adopt what another process stored, never
 * present a superseded refresh token, needs-login only when the refused
 * refresh token is still the stored one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "background.h"
#include "engine_internal.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_time.h"

static int64_t local_ms(const struct ts_engine *e)
{
	/* the engine's clock seam in seconds, refined by the wall clock's
	 * milliseconds when it is the real one */
	struct timespec ts;

	if (e->now_local)
		return e->now_local() * 1000;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void view_of(const struct ts_engine *e, const struct ts_record *rec, struct ts_bg_view *v)
{
	int64_t now = eng_server_now(e, rec->skew), left = 0;

	memset(v, 0, sizeof(*v));
	v->sessions = ts_record_sessions(rec, ts_boot_id());
	v->lifetime = rec->expires_in;
	v->window = ts_refresh_window(e->cfg, rec->expires_in);
	/* server time to local: minus the skew last seen */
	v->open_ms = (rec->obtained_at + rec->expires_in - v->window - rec->skew) * 1000;
	if (ts_refresh_held(rec, now, &left) && left > 0)
		v->held_until_ms = (now + left - rec->skew) * 1000;
	if (ts_refresh_backed_off(rec, now)) {
		int64_t until = rec->rejected_at + ts_reject_backoff(rec->rejections) - rec->skew;

		if (until * 1000 > v->held_until_ms)
			v->held_until_ms = until * 1000;
	}
	v->scheduled = rec->state == TS_REC_VALID && v->sessions > 0 && rec->access_token &&
	               (rec->refresh_token || ts_record_is_client_credentials(rec));
}

int ts_bg_view_record(struct ts_engine *e, const struct ts_request *req, struct ts_bg_view *ret)
{
	struct ts_record rec = {0};
	uint64_t gen = 0;
	int r;

	r = eng_load_unlocked(e, req, &rec, &gen);
	if (r >= 0)
		view_of(e, &rec, ret);
	ts_record_clear(&rec);
	return r < 0 ? r : 0;
}

int ts_bg_refresh_if_due(struct ts_engine *e, const struct ts_request *req, int64_t lead_ms,
                         bool *ret_done, struct ts_outcome *out, struct oauth_error *err)
{
	struct ts_record rec = {0};
	struct ts_bg_view v;
	struct ts_decision d;
	uint64_t gen = 0;
	bool adopted = false;
	int64_t now;
	int r;

	*ret_done = false;
	r = eng_load_unlocked(e, req, &rec, &gen);
	if (r < 0) {
		eng_set_msg(out, r, TS_STATE_NONE, "the stored sign-in cannot be read: %s",
		            ts_strerror(r));
		goto out;
	}
	view_of(e, &rec, &v);
	now = local_ms(e);
	if (!v.scheduled) {
		eng_set_msg(out, 0, TS_STATE_NONE, "not due: %s",
		            rec.state != TS_REC_VALID                     ? "not signed in"
		            : ts_record_sessions(&rec, ts_boot_id()) <= 0 ? "no session open"
		                                                          : "nothing to refresh with");
		goto out;
	}
	if (v.held_until_ms > now) {
		eng_set_msg(out, 0, TS_STATE_VALID, "not due: refreshes are held back for %lld s",
		            (long long)((v.held_until_ms - now) / 1000));
		goto out;
	}
	if (v.open_ms - now > lead_ms) {
		/* another process refreshed meanwhile */
		eng_set_msg(out, 0, TS_STATE_VALID, "not due: the refresh window opens in %lld s",
		            (long long)((v.open_ms - now) / 1000));
		goto out;
	}
	r = eng_refresh_single_flight(e, req, rec.access_token, &rec, &adopted, out, err);
	if (r == TS_E_NEEDS_LOGIN) {
		/* the message a use shows from now on */
		eng_set_msg(out, r, TS_STATE_NEEDS_LOGIN, "sign-in required: %s; %s",
		            rec.reason[0] ? rec.reason
		                          : "the server refused the refresh token (invalid_grant)",
		            eng_state_hint());
		goto out;
	}
	if (r == TS_E_IDENTITY_CHANGED) {
		eng_set_msg(out, r, TS_STATE_NEEDS_LOGIN,
		            "sign-in required: the server answered with another identity for %s; %s",
		            req->user, eng_state_hint());
		goto out;
	}
	if (r < 0 && r != TS_E_NOT_SAVED) {
		eng_server_error_msg(out, e, r, err);
		goto out;
	}
	*ret_done = true;
	ts_lifecycle_decide(&rec, eng_server_now(e, rec.skew), e->cfg, &d);
	out->expires = d.expires_left;
	if (r == TS_E_NOT_SAVED)
		eng_set_msg(out, r, TS_STATE_VALID,
		            "the refresh succeeded but could not be saved: %s; ask the "
		            "administrator to free space in %.200s",
		            ts_strerror(out->not_saved), e->cfg->keystore_dir);
	else
		eng_set_msg(out, 0, TS_STATE_VALID,
		            "%s at %s ahead of need; the access token expires in %lld s",
		            adopted ? "another process had just refreshed the tokens"
		                    : "refreshed the tokens",
		            e->cfg->issuer, (long long)d.expires_left);
out:
	ts_record_clear(&rec);
	return r < 0 ? r : 0;
}

/* ---- the schedule's arithmetic --------------------------------------- */

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* How long (ms) a token lives outside its window; at least a second. */
static int64_t usable_ms(int64_t lifetime, int64_t window)
{
	int64_t u = lifetime - window;

	return (u > 1 ? u : 1) * 1000;
}

int64_t ts_bg_margin_ms(int64_t lifetime, int64_t window)
{
	return clamp64(usable_ms(lifetime, window) / 10, TS_BG_MARGIN_MIN_MS, TS_BG_MARGIN_MAX_MS);
}

int64_t ts_bg_jitter_ms(int64_t lifetime, int64_t window)
{
	return clamp64(usable_ms(lifetime, window) / 5, 0, TS_BG_JITTER_MAX_MS);
}

int64_t ts_bg_due_ms(const struct ts_bg_view *v, int64_t now_ms, uint32_t rnd)
{
	int64_t jitter = ts_bg_jitter_ms(v->lifetime, v->window);
	int64_t margin = ts_bg_margin_ms(v->lifetime, v->window);
	int64_t due = v->open_ms - margin -
	              (jitter > 0 ? (int64_t)(rnd % (uint64_t)(jitter + 1)) : 0);

	if (due < now_ms) {
		/* overdue: spread over margin + jitter (at most TS_BG_SPREAD_MS),
		 * or the time left before the window when that is shorter and
		 * at least a second */
		int64_t cap = margin + jitter < TS_BG_SPREAD_MS ? margin + jitter : TS_BG_SPREAD_MS;
		int64_t spread = v->open_ms - now_ms;

		if (spread < 1000 || spread > cap)
			spread = cap;
		due = now_ms + (int64_t)(rnd % (uint64_t)spread);
	}
	if (v->held_until_ms > due)
		due = v->held_until_ms + (int64_t)(rnd % TS_BG_SPREAD_MS);
	return due;
}

int64_t ts_bg_backoff_ms(unsigned n, long retry_after, uint32_t rnd)
{
	int64_t cap = TS_BG_BACKOFF_MIN_MS, ra;

	for (unsigned i = 1; i < n && cap < TS_BG_BACKOFF_MAX_MS; i++)
		cap *= 2;
	if (cap > TS_BG_BACKOFF_MAX_MS)
		cap = TS_BG_BACKOFF_MAX_MS;
	cap = cap / 2 + (int64_t)(rnd % (uint64_t)(cap / 2 + 1));
	ra = clamp64(retry_after, 0, TS_BG_RETRY_AFTER_MAX_S) * 1000;
	return cap > ra ? cap : ra;
}
