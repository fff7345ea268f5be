/* SPDX-License-Identifier: MIT */
/*
 * Background refresh (DESIGN.md §2, issue 19): what the daemon's scheduler
 * (daemon_refresh.c) asks the lifecycle engine (engine_background.c), and
 * the schedule's arithmetic, pure so that tests can drive it.
 *
 * A record is scheduled when it is valid, has a refresh token (or is a
 * service account), and counts an open session (the session phase keeps
 * that count in the record). Its refresh is due ahead of its refresh
 * window (where a use would refresh on its own hot path), minus a random
 * jitter, so that users whose tokens expire in the same second are not
 * refreshed in the same second.
 */
#ifndef TS_BROKER_BACKGROUND_H
#define TS_BROKER_BACKGROUND_H

#include <stdbool.h>
#include <stdint.h>

#include "lifecycle.h"

/* An overdue refresh (after a restart, a resume or a clock jump) is spread
 * over the margin plus the jitter after now, at most this long. */
#define TS_BG_SPREAD_MS 30000
/* The margin before the window: a tenth of the time a token lives outside
 * it, held to MIN..MAX; the jitter: random, up to a fifth of that time,
 * at most JITTER_MAX (ts_bg_margin_ms, ts_bg_jitter_ms). */
#define TS_BG_MARGIN_MIN_MS 1000
#define TS_BG_MARGIN_MAX_MS 60000
#define TS_BG_JITTER_MAX_MS 300000
/* Per-issuer back-off after the server was unavailable (5xx, 429,
 * timeouts): doubling from MIN to MAX, half of it random; never shorter
 * than its Retry-After (itself held to TS_BG_RETRY_AFTER_MAX_S). */
#define TS_BG_BACKOFF_MIN_MS 30000
#define TS_BG_BACKOFF_MAX_MS (30 * 60000)
#define TS_BG_RETRY_AFTER_MAX_S 3600

/* What the schedule needs of one record; no secret. Times are local
 * wall-clock milliseconds. */
struct ts_bg_view {
	bool scheduled;		/* valid, refreshable and a session open */
	int sessions;
	int64_t lifetime;	/* seconds the access token lives */
	int64_t window;		/* seconds: the refresh window */
	int64_t open_ms;	/* the window opens: a use would refresh from then */
	int64_t held_until_ms;	/* refreshes held back or backed off until (0: not) */
};

/* Read req->user's record without the lock and without the server, and
 * keep only what the schedule needs in *ret. 0, or a negative error
 * (TS_E_NO_RECORD, TS_E_MISMATCH, ...). */
int ts_bg_view_record(struct ts_engine *e, const struct ts_request *req, struct ts_bg_view *ret)
    TS_WUR TS_NONNULL(1, 2, 3);

/*
 * Refresh req->user's tokens now if still due: re-read, and only when the
 * record is still scheduled, not held back, and its window opens within
 * lead_ms does it go on, through the engine's single flight (under the
 * user's lock, re-read, adopt a token another process stored, never a
 * superseded refresh token, needs-login only for the stored refresh token
 * refused). out says what happened (out->refreshes: server calls made);
 * err the server's answer (retry_after). 0 when done or not due (*ret_done
 * says which), else the negative error of the refresh.
 */
int ts_bg_refresh_if_due(struct ts_engine *e, const struct ts_request *req, int64_t lead_ms,
                         bool *ret_done, struct ts_outcome *out, struct oauth_error *err) TS_WUR
    TS_NONNULL(1, 2, 4, 5, 6);

/* ---- the schedule's arithmetic (pure) ---- */

/* Margin and jitter (ms) before the window of a token of lifetime s with a
 * window of window s. */
int64_t ts_bg_margin_ms(int64_t lifetime, int64_t window);
int64_t ts_bg_jitter_ms(int64_t lifetime, int64_t window);

/* When to refresh v at local time now_ms; rnd is uniformly random:
 * open_ms - margin - (rnd mod jitter); if that has passed, now plus rnd
 * mod the spread (margin + jitter, at most TS_BG_SPREAD_MS, no later than
 * the window while it is still ahead); never before held_until_ms. */
int64_t ts_bg_due_ms(const struct ts_bg_view *v, int64_t now_ms, uint32_t rnd) TS_NONNULL(1);

/* The pause after the n-th unavailable answer in a row (n >= 1): half of
 * min(TS_BG_BACKOFF_MIN_MS << (n - 1), TS_BG_BACKOFF_MAX_MS), plus rnd
 * mod the other half; at least retry_after seconds. */
int64_t ts_bg_backoff_ms(unsigned n, long retry_after, uint32_t rnd);

#endif
