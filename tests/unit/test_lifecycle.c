/* SPDX-License-Identifier: MIT */
/*
 * The lifecycle engine's decisions, by table: refresh window, what a use
 * does for each record state and time, offline grace, the single-flight and
 * invalid_grant verdicts, identity binding, and the record's JSON form.
 */
#include <string.h>

#include "lifecycle.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "ts_test.h"

static struct ts_config cfg_with(unsigned window, unsigned cache, unsigned grace)
{
	struct ts_config c;

	ts_config_defaults(&c);
	c.refresh_window = window;
	c.revalidate_cache = cache;
	c.offline_grace = grace;
	return c;
}

static void test_refresh_window(void)
{
	struct ts_config c = cfg_with(0, 0, 0);
	static const struct {
		int64_t lifetime, want;
	} t[] = {
	    {3600, 900},  /* 25 % */
	    {7200, 900},  /* clamped to 15 min */
	    {86400, 900}, /* clamped */
	    {1200, 300},  /* 25 % */
	    {240, 60},    /* clamped up to 60 s */
	    {100, 60},    /* clamped up, still shorter than the lifetime */
	    {60, 30},     /* never the whole lifetime: half of it */
	};

	for (size_t i = 0; i < TS_ARRAY_SIZE(t); i++)
		CHECK_INT(ts_refresh_window(&c, t[i].lifetime), t[i].want);
	c.refresh_window = 120;
	CHECK_INT(ts_refresh_window(&c, 3600), 120);
	CHECK_INT(ts_refresh_window(&c, 100), 50);
}

static void test_decide_table(void)
{
	static const struct {
		const char *name;
		enum ts_rec_state st;
		bool has_rt;
		int64_t age;         /* now - obtained_at */
		int64_t since_check; /* now - last_positive_check; -1 = never */
		unsigned cache;
		enum ts_action want;
		enum ts_state want_state;
	} t[] = {
	    {"fresh token: ask the server", TS_REC_VALID, true, 10, 5, 0, TS_ACT_REVALIDATE,
	     TS_STATE_VALID},
	    {"cache 60 s, checked 5 s ago", TS_REC_VALID, true, 10, 5, 60, TS_ACT_USE_CACHED,
	     TS_STATE_VALID},
	    {"cache 60 s, checked 61 s ago", TS_REC_VALID, true, 100, 61, 60, TS_ACT_REVALIDATE,
	     TS_STATE_VALID},
	    {"cache but never checked", TS_REC_VALID, true, 10, -1, 60, TS_ACT_REVALIDATE,
	     TS_STATE_VALID},
	    {"inside the window (25 % of 3600)", TS_REC_VALID, true, 2800, 5, 0, TS_ACT_REFRESH,
	     TS_STATE_STALE},
	    {"window beats the cache", TS_REC_VALID, true, 2800, 5, 600, TS_ACT_REFRESH,
	     TS_STATE_STALE},
	    {"just outside the window", TS_REC_VALID, true, 2699, 5, 0, TS_ACT_REVALIDATE,
	     TS_STATE_VALID},
	    {"past expiry", TS_REC_VALID, true, 4000, 5, 0, TS_ACT_REFRESH, TS_STATE_STALE},
	    {"past expiry, no refresh token", TS_REC_VALID, false, 4000, 5, 0, TS_ACT_REVALIDATE,
	     TS_STATE_STALE},
	    {"needs-login", TS_REC_NEEDS_LOGIN, true, 10, 5, 0, TS_ACT_NEEDS_LOGIN,
	     TS_STATE_NEEDS_LOGIN},
	    {"needs-login even when cached", TS_REC_NEEDS_LOGIN, true, 10, 5, 600,
	     TS_ACT_NEEDS_LOGIN, TS_STATE_NEEDS_LOGIN},
	};
	const int64_t now = 1700000000;

	for (size_t i = 0; i < TS_ARRAY_SIZE(t); i++) {
		struct ts_config c = cfg_with(0, t[i].cache, 0);
		struct ts_record r = {0};
		struct ts_decision d;

		r.state = t[i].st;
		r.refresh_token = t[i].has_rt ? (char *)(uintptr_t) "rt" : NULL;
		r.expires_in = 3600;
		r.obtained_at = now - t[i].age;
		r.last_positive_check = t[i].since_check < 0 ? 0 : now - t[i].since_check;
		ts_lifecycle_decide(&r, now, &c, &d);
		CHECK_MSG(d.action == t[i].want, "%s: action %d, want %d", t[i].name, d.action,
		          t[i].want);
		CHECK_MSG(d.state == t[i].want_state, "%s: state %d, want %d", t[i].name, d.state,
		          t[i].want_state);
		CHECK_INT(d.expires_left, 3600 - t[i].age);
	}
	{
		struct ts_config c = cfg_with(0, 0, 0);
		struct ts_decision d;

		ts_lifecycle_decide(NULL, now, &c, &d);
		CHECK_INT(d.action, TS_ACT_NO_RECORD);
		CHECK_INT(d.state, TS_STATE_NONE);
	}
}

/* Expiry is kept in server time: a record obtained at server time T decides
 * the same for any local clock once the skew is applied. */
static void test_skew_server_time(void)
{
	struct ts_config c = cfg_with(0, 0, 0);
	struct ts_record r = {0};
	struct ts_decision d1, d2;
	const int64_t server = 1700000000, skew = -7200;

	r.refresh_token = (char *)(uintptr_t) "rt";
	r.obtained_at = server - 60;
	r.expires_in = 3600;
	r.skew = skew;
	/* local clock 2 h ahead: local + skew == server time */
	ts_lifecycle_decide(&r, (server - skew) + r.skew, &c, &d1);
	ts_lifecycle_decide(&r, server, &c, &d2);
	CHECK_INT(d1.action, TS_ACT_REVALIDATE);
	CHECK_INT(d1.expires_left, d2.expires_left);
	/* the raw local clock would call it expired: that is what skew avoids */
	ts_lifecycle_decide(&r, server - skew, &c, &d1);
	CHECK_INT(d1.action, TS_ACT_REFRESH);
}

/* A plain use rewrites the record (locked, fsynced) only when something
 * needs the time of the check soon. */
static void test_should_note(void)
{
	struct ts_config c;
	struct ts_record r = {0};
	const int64_t now = 1800000000;

	ts_config_defaults(&c);
	r.last_positive_check = now - 10;
	r.skew = 5;
	CHECK(!ts_should_note_positive(&r, now, 5, &c));
	CHECK(!ts_should_note_positive(&r, now, 5 + TS_SKEW_WARN_SECONDS / 4, &c));
	CHECK(ts_should_note_positive(&r, now, 5 + TS_SKEW_WARN_SECONDS / 4 + 1, &c));
	CHECK(ts_should_note_positive(&r, now, 5 - TS_SKEW_WARN_SECONDS / 4 - 1, &c));
	r.last_positive_check = now - TS_NOTE_INTERVAL;
	CHECK(ts_should_note_positive(&r, now, 5, &c));
	r.last_positive_check = 0;
	CHECK(ts_should_note_positive(&r, now, 5, &c));
	r.last_positive_check = now + 100; /* clock went back */
	CHECK(ts_should_note_positive(&r, now, 5, &c));
	r.last_positive_check = now - 1;
	c.revalidate_cache = 30; /* the cache reads it: always current */
	CHECK(ts_should_note_positive(&r, now, 5, &c));
}

static void test_offline_grace(void)
{
	static const struct {
		unsigned grace;
		int64_t since_check; /* -1 never */
		enum ts_rec_state st;
		bool want;
	} t[] = {
	    {0, 10, TS_REC_VALID, false},   /* grace off */
	    {600, 10, TS_REC_VALID, true},  /* within */
	    {600, 600, TS_REC_VALID, true}, /* edge */
	    {600, 601, TS_REC_VALID, false},
	    {600, -1, TS_REC_VALID, false}, /* never checked */
	    {600, 10, TS_REC_NEEDS_LOGIN, false},
	};
	const int64_t now = 1700000000;

	for (size_t i = 0; i < TS_ARRAY_SIZE(t); i++) {
		struct ts_config c = cfg_with(0, 0, t[i].grace);
		struct ts_record r = {0};
		int64_t age = -1;

		r.state = t[i].st;
		r.last_positive_check = t[i].since_check < 0 ? 0 : now - t[i].since_check;
		CHECK_MSG(ts_offline_allowed(&r, now, &c, &age) == t[i].want, "offline case %zu",
		          i);
		if (t[i].want)
			CHECK_INT(age, t[i].since_check);
	}
	{
		struct ts_config c = cfg_with(0, 0, 600);

		CHECK(!ts_offline_allowed(NULL, now, &c, NULL));
	}
}

static void test_single_flight_verdicts(void)
{
	struct ts_record stored = {0};

	stored.access_token = (char *)(uintptr_t) "AT-2";
	stored.refresh_token = (char *)(uintptr_t) "RT-2";
	/* we saw AT-1 rejected, the store holds AT-2: another process refreshed */
	CHECK_INT(ts_single_flight_verdict(&stored, "AT-1"), TS_GRANT_ADOPT);
	/* the store still holds what we saw: we refresh */
	CHECK_INT(ts_single_flight_verdict(&stored, "AT-2"), TS_GRANT_REFRESH);
	stored.state = TS_REC_NEEDS_LOGIN;
	CHECK_INT(ts_single_flight_verdict(&stored, "AT-2"), TS_GRANT_NEEDS_LOGIN);
}

/* A refused refresh names the server's reason: Entra's AADSTS sentence
 * without its trace ids, Keycloak's and Google's short texts, bounded. */
static void test_grant_refused_reason(void)
{
	char r[128], tiny[48];

	ts_grant_refused_reason(
	    r, sizeof(r), "invalid_grant",
	    "AADSTS700082: The refresh token has expired due to inactivity. The token was issued "
	    "on 2026-01-01T00:00:00Z and was inactive for 90.00:00:00. Trace ID: 0a1b Correlation "
	    "ID: 2c3d Timestamp: 2026-04-01 00:00:00Z");
	CHECK_STR(r, "the server refused the refresh token (invalid_grant: AADSTS700082: The "
	             "refresh token has expired due to inactivity.)");
	ts_grant_refused_reason(r, sizeof(r), "invalid_grant", "Session not active");
	CHECK_STR(r, "the server refused the refresh token (invalid_grant: Session not active)");
	ts_grant_refused_reason(r, sizeof(r), "invalid_grant", "");
	CHECK_STR(r, "the server refused the refresh token (invalid_grant)");
	ts_grant_refused_reason(r, sizeof(r), "", "");
	CHECK_STR(r, "the server refused the refresh token (invalid_grant)");
	/* one long sentence: cut to fit, marked */
	ts_grant_refused_reason(
	    r, sizeof(r), "invalid_grant",
	    "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth "
	    "token is needed; the user might have changed or reset their password");
	CHECK_INT(strlen(r), sizeof(r) - 1);
	CHECK(strncmp(r, "the server refused the refresh token (invalid_grant: AADSTS50173: The "
	                 "provided grant",
	              84) == 0);
	CHECK(strcmp(r + strlen(r) - 4, "...)") == 0);
	/* a buffer too small for any detail still gets a whole sentence */
	ts_grant_refused_reason(tiny, sizeof(tiny), "invalid_grant", "Stale token");
	CHECK(strlen(tiny) < sizeof(tiny));
	CHECK_STR(tiny, "the server refused the refresh token");
}

/* invalid_scope at sign-in: the scope named, and what to do */
static void test_scope_refusal(void)
{
	struct ts_config c;
	char m[512];

	ts_config_defaults(&c);
	(void)snprintf(c.scopes, sizeof(c.scopes), "openid email offline_access");
	ts_scope_refusal_msg(m, sizeof(m), &c, "Invalid device flow scope: offline_access", 0);
	CHECK_STR(m, "the server refused the scope offline_access (invalid_scope: Invalid device "
	             "flow scope: offline_access); remove offline_access from scopes: this server "
	             "grants refresh tokens without it (its scopes_supported does not list it)");
	/* the server lists offline_access, or says nothing: the scopes named */
	ts_scope_refusal_msg(m, sizeof(m), &c, "", 1);
	CHECK_STR(m, "the server refused the requested scopes \"openid email offline_access\" "
	             "(invalid_scope); keep in scopes only what the server offers this client (for "
	             "the device flow some offer fewer)");
	ts_scope_refusal_msg(m, sizeof(m), &c, "x", -1);
	CHECK(strstr(m, "the server refused the requested scopes") == m);
	/* offline_access only as part of another name is not it */
	(void)snprintf(c.scopes, sizeof(c.scopes), "openid offline_accessx my_offline_access");
	ts_scope_refusal_msg(m, sizeof(m), &c, "", 0);
	CHECK(strstr(m, "the server refused the requested scopes") == m);
}

static void test_identity(void)
{
	struct ts_config c = cfg_with(0, 0, 0);
	char msg[TS_MESSAGE_MAX];

	CHECK_INT(ts_identity_check(&c, "alice", "alice", msg, sizeof(msg)), 0);
	CHECK_INT(ts_identity_check(&c, "bob", "alice", msg, sizeof(msg)), TS_E_IDENTITY_MISMATCH);
	CHECK(strstr(msg, "\"alice\"") && strstr(msg, "\"bob\""));
	CHECK_INT(ts_identity_check(&c, "bob", "", msg, sizeof(msg)), TS_E_IDENTITY_MISMATCH);
	CHECK(ts_strlcpy(c.username_map, "strip-suffix:@example.org", sizeof(c.username_map)) == 0);
	CHECK_INT(ts_identity_check(&c, "alice", "alice@example.org", msg, sizeof(msg)), 0);
	CHECK_INT(ts_identity_check(&c, "bob", "alice@example.org", msg, sizeof(msg)),
	          TS_E_IDENTITY_MISMATCH);
	CHECK(strstr(msg, "alice@example.org") && strstr(msg, "bob"));
}

static void test_record_json(void)
{
	struct ts_record r = {0}, back = {0};
	char *json = NULL;
	size_t len = 0;

	r.access_token = ts_strdup_secret("AT-secret");
	r.refresh_token = ts_strdup_secret("RT-secret");
	CHECK(r.access_token && r.refresh_token);
	CHECK(ts_strlcpy(r.sub, "sub-alice", sizeof(r.sub)) == 0);
	r.obtained_at = 1700000000;
	r.expires_in = 3600;
	r.last_positive_check = 1700000100;
	r.state = TS_REC_NEEDS_LOGIN;
	r.sessions = 2;
	CHECK(ts_strlcpy(r.sessions_boot, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
	                 sizeof(r.sessions_boot)) == 0);
	r.skew = -7200;
	r.id.present = true;
	ts_secret_hash_hex(r.needs_login_rt_hash, r.refresh_token);
	CHECK_INT(strlen(r.needs_login_rt_hash), 64);
	CHECK(ts_record_to_json(&r, &json, &len) == 0);
	CHECK(ts_record_from_json(&back, (const uint8_t *)json, len) == 0);
	CHECK_STR(back.access_token, "AT-secret");
	CHECK_STR(back.refresh_token, "RT-secret");
	CHECK_STR(back.sub, "sub-alice");
	CHECK_INT(back.obtained_at, 1700000000);
	CHECK_INT(back.last_positive_check, 1700000100);
	CHECK_INT(back.state, TS_REC_NEEDS_LOGIN);
	CHECK_INT(back.sessions, 2);
	CHECK_STR(back.sessions_boot, r.sessions_boot);
	CHECK_INT(back.skew, -7200);
	CHECK(back.id.present);
	CHECK_STR(back.needs_login_rt_hash, r.needs_login_rt_hash);
	ts_erase_free(json, len);
	ts_record_clear(&back);
	/* malformed payloads are refused, not half-read */
	CHECK_INT(ts_record_from_json(&back, (const uint8_t *)"{}", 2), TS_E_CORRUPT);
	CHECK_INT(ts_record_from_json(&back, (const uint8_t *)"[1]", 3), TS_E_CORRUPT);
	CHECK_INT(ts_record_from_json(&back, (const uint8_t *)"{\"access_token\":", 16),
	          TS_E_CORRUPT);
	ts_record_clear(&r);
}

/* Sessions counted in another boot are over: no session outlives a reboot,
 * and their close never came (a count that stayed up would keep the
 * background refresh going and revoke_on = last-session from ever firing). */
static void test_sessions_boot(void)
{
	static const char this_boot[] = "11111111-2222-4333-8444-555555555555";
	static const char *const bad[] = {
	    "{\"access_token\":\"a\",\"sessions\":3,\"sessions_boot\":7}",
	    "{\"access_token\":\"a\",\"sessions\":3,\"sessions_boot\":\"0123456789012345678901234567890123456789012\"}",
	};
	struct ts_record r = {0};
	const char *boot = ts_boot_id();

	r.sessions = 2;
	CHECK_INT(ts_record_sessions(&r, this_boot), 2); /* an older record: kept */
	CHECK(ts_strlcpy(r.sessions_boot, this_boot, sizeof(r.sessions_boot)) == 0);
	CHECK_INT(ts_record_sessions(&r, this_boot), 2);
	CHECK_INT(ts_record_sessions(&r, "99999999-2222-4333-8444-555555555555"), 0);
	CHECK_INT(ts_record_sessions(&r, ""), 2); /* a host that does not know */
	r.sessions = -1;
	CHECK_INT(ts_record_sessions(&r, this_boot), 0);
	/* this host's boot: the kernel's, read once */
	CHECK_MSG(strlen(boot) == 36, "boot_id read: \"%s\"", boot);
	CHECK(ts_boot_id() == boot);
	/* a bad sessions_boot costs the record nothing: it is not known */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ts_record back = {0};

		CHECK_INT(ts_record_from_json(&back, (const uint8_t *)bad[i], strlen(bad[i])), 0);
		CHECK_STR(back.sessions_boot, "");
		CHECK_INT(ts_record_sessions(&back, this_boot), 3);
		ts_record_clear(&back);
	}
}

/* 4e: back-off after a rejected fresh token: 60 s doubling, at most 1 h. */
static void test_reject_backoff(void)
{
	struct ts_record r = {0};

	CHECK_INT(ts_reject_backoff(1), 60);
	CHECK_INT(ts_reject_backoff(2), 120);
	CHECK_INT(ts_reject_backoff(3), 240);
	CHECK_INT(ts_reject_backoff(7), 3600);
	CHECK_INT(ts_reject_backoff(1000), 3600);
	CHECK(!ts_refresh_backed_off(&r, 1000));
	r.rejected_at = 1000;
	r.rejections = 1;
	CHECK(ts_refresh_backed_off(&r, 1000));
	CHECK(ts_refresh_backed_off(&r, 1059));
	CHECK(!ts_refresh_backed_off(&r, 1060));
	CHECK(ts_refresh_backed_off(&r, 900)); /* clock set back */
	r.rejections = 2;
	CHECK(ts_refresh_backed_off(&r, 1119));
}

/* 4a: a signed-out record keeps sub and username, has no tokens, is
 * decided as signed-out, never refreshed, never offline-graced; an unknown
 * state is never taken for valid. */
static void test_signed_out_record(void)
{
	struct ts_config c = cfg_with(0, 0, 3600);
	struct ts_record r = {0}, back = {0};
	struct ts_decision d;
	char *json = NULL;
	size_t len = 0;
	static const char unknown[] = "{\"access_token\":\"x\",\"state\":\"frozen\"}";

	r.state = TS_REC_SIGNED_OUT;
	snprintf(r.sub, sizeof(r.sub), "sub-alice");
	snprintf(r.username, sizeof(r.username), "alice");
	r.last_positive_check = 100;
	CHECK_INT(ts_record_to_json(&r, &json, &len), 0);
	CHECK_INT(ts_record_from_json(&back, (const uint8_t *)json, len), 0);
	CHECK_INT(back.state, TS_REC_SIGNED_OUT);
	CHECK_STR(back.sub, "sub-alice");
	CHECK_STR(back.username, "alice");
	CHECK(!back.refresh_token);
	ts_lifecycle_decide(&back, 200, &c, &d);
	CHECK_INT(d.action, TS_ACT_SIGNED_OUT);
	CHECK_INT(d.state, TS_STATE_SIGNED_OUT);
	CHECK(!ts_offline_allowed(&back, 200, &c, NULL));
	CHECK_INT(ts_single_flight_verdict(&back, ""), TS_GRANT_NEEDS_LOGIN);
	ts_record_clear(&back);
	free(json);
	CHECK_INT(ts_record_from_json(&back, (const uint8_t *)unknown, sizeof(unknown) - 1), 0);
	CHECK_INT(back.state, TS_REC_NEEDS_LOGIN);
	ts_record_clear(&back);
}

int main(void)
{
	RUN(test_refresh_window);
	RUN(test_decide_table);
	RUN(test_skew_server_time);
	RUN(test_should_note);
	RUN(test_offline_grace);
	RUN(test_single_flight_verdicts);
	RUN(test_grant_refused_reason);
	RUN(test_scope_refusal);
	RUN(test_identity);
	RUN(test_record_json);
	RUN(test_sessions_boot);
	RUN(test_reject_backoff);
	RUN(test_signed_out_record);
	return ts_test_done();
}
