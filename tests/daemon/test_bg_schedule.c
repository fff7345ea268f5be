/* SPDX-License-Identifier: MIT */
/*
 * The background refresh schedule's arithmetic (broker/background.h), no
 * network: due ahead of the window by margin and jitter; 1000 users whose
 * tokens expire in the same second are not refreshed in the same second,
 * nor are 1000 overdue ones (after a restart, a resume, a clock jump); a
 * hold is waited for; the per-issuer pause doubles, is capped, and is never
 * shorter than Retry-After.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "background.h"
#include "ts_test.h"

#define USERS 1000

/* The most users whose refresh falls in any one second of due[]. */
static unsigned most_in_one_second(const int64_t *due, size_t n, int64_t from, int64_t span_s)
{
	unsigned bucket[4096] = {0}, most = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t s = (due[i] - from) / 1000;

		CHECK(s >= 0 && s < span_s && s < 4096);
		if (++bucket[s] > most)
			most = bucket[s];
	}
	return most;
}

static void test_ahead_of_window(void)
{
	/* a 1-hour token: window 15 min, margin 60 s, jitter up to 300 s */
	struct ts_bg_view v = {.scheduled = true, .lifetime = 3600, .window = 900};
	int64_t now = 1000000000000LL;

	v.open_ms = now + 45 * 60000;
	CHECK_INT(ts_bg_margin_ms(3600, 900), 60000);
	CHECK_INT(ts_bg_jitter_ms(3600, 900), 300000);
	for (uint32_t rnd = 0; rnd < 400000; rnd += 997) {
		int64_t due = ts_bg_due_ms(&v, now, rnd);

		CHECK_MSG(due <= v.open_ms - 60000 && due >= v.open_ms - 360000,
		          "due %lld ms before the window", (long long)(v.open_ms - due));
	}
	/* an 8-second token: window 4 s, margin 1 s, jitter up to 0.8 s */
	CHECK_INT(ts_bg_margin_ms(8, 4), 1000);
	CHECK_INT(ts_bg_jitter_ms(8, 4), 800);
}

static void test_no_stampede(void)
{
	static int64_t due[USERS];
	struct ts_bg_view v = {.scheduled = true, .lifetime = 3600, .window = 900};
	int64_t now = 1000000000000LL;
	unsigned most;

	/* the same expiry for everyone */
	v.open_ms = now + 45 * 60000;
	for (size_t i = 0; i < USERS; i++)
		due[i] = ts_bg_due_ms(&v, now, randombytes_random());
	most = most_in_one_second(due, USERS, v.open_ms - 361000, 362);
	fprintf(stderr, "   same expiry: at most %u of %d users in one second\n", most, USERS);
	CHECK_MSG(most <= 15, "spread over the jitter (%u in one second)", most);

	/* everyone overdue (the window opened an hour ago: a resume) */
	v.open_ms = now - 3600000;
	for (size_t i = 0; i < USERS; i++) {
		due[i] = ts_bg_due_ms(&v, now, randombytes_random());
		CHECK(due[i] >= now && due[i] < now + TS_BG_SPREAD_MS);
	}
	most = most_in_one_second(due, USERS, now, TS_BG_SPREAD_MS / 1000);
	fprintf(stderr, "   all overdue: at most %u of %d users in one second\n", most, USERS);
	CHECK_MSG(most <= 70, "overdue refreshes spread over 30 s (%u in one second)", most);

	/* a short token overdue: spread over its margin + jitter only */
	{
		struct ts_bg_view w = {.scheduled = true, .lifetime = 8, .window = 4};

		w.open_ms = now - 5000;
		for (size_t i = 0; i < USERS; i++) {
			int64_t d = ts_bg_due_ms(&w, now, randombytes_random());

			CHECK(d >= now && d < now + 1800);
		}
	}
	/* overdue with the window 10 s ahead: spread, but before it opens */
	v.open_ms = now + 10000;
	for (size_t i = 0; i < USERS; i++) {
		int64_t d = ts_bg_due_ms(&v, now, randombytes_random());

		CHECK(d >= now && d < v.open_ms);
	}
}

static void test_hold(void)
{
	struct ts_bg_view v = {.scheduled = true, .lifetime = 3600, .window = 900};
	int64_t now = 1000000000000LL;

	v.open_ms = now + 60000;
	v.held_until_ms = now + 600000;
	CHECK(ts_bg_due_ms(&v, now, 12345) >= v.held_until_ms);
}

static void test_backoff(void)
{
	int64_t prev_cap = 0;

	for (unsigned n = 1; n <= 12; n++) {
		int64_t lo = ts_bg_backoff_ms(n, 0, 0), hi = ts_bg_backoff_ms(n, 0, UINT32_MAX);
		int64_t cap = TS_BG_BACKOFF_MIN_MS;

		for (unsigned i = 1; i < n; i++)
			cap = cap * 2 > TS_BG_BACKOFF_MAX_MS ? TS_BG_BACKOFF_MAX_MS : cap * 2;
		CHECK_MSG(lo >= cap / 2 && hi <= cap, "failure %u: %lld..%lld within %lld/2..%lld",
		          n, (long long)lo, (long long)hi, (long long)cap, (long long)cap);
		CHECK(cap >= prev_cap);
		prev_cap = cap;
	}
	CHECK(ts_bg_backoff_ms(20, 0, UINT32_MAX) <= TS_BG_BACKOFF_MAX_MS);
	/* Retry-After wins when longer, and is itself bounded */
	CHECK(ts_bg_backoff_ms(1, 600, 0) == 600000);
	CHECK(ts_bg_backoff_ms(1, 10, 0) >= TS_BG_BACKOFF_MIN_MS / 2);
	CHECK(ts_bg_backoff_ms(1, 999999, 0) == (int64_t)TS_BG_RETRY_AFTER_MAX_S * 1000);
}

int main(void)
{
	CHECK(sodium_init() >= 0);
	RUN(test_ahead_of_window);
	RUN(test_no_stampede);
	RUN(test_hold);
	RUN(test_backoff);
	return ts_test_done();
}
