/* SPDX-License-Identifier: MIT */
/*
 * The access policy's decisions (broker/policy.c) by table, and the groups
 * claim reader (oauth/oauth_groups.c): dotted paths and their escapes, the
 * "groups unknown" states (absent, Entra overage, wrong type, over the
 * bounds, bad values), the id_token's payload, and the groups kept in the
 * record's JSON (lenient: bad stored groups are dropped, never a corrupt
 * record).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"
#include "oauth.h"
#include "policy.h"
#include "ts_error.h"
#include "ts_test.h"

static struct oauth_groups G; /* 32 KiB: not on every stack frame */

static enum oauth_groups_state read_groups(const char *path, const char *json)
{
	CHECK_INT(oauth_groups_parse(&G, path, json, strlen(json)), 0);
	return G.state;
}

static void test_claim_path(void)
{
	static const char *const good[] = {
	    "groups", "roles", "realm_access.roles", "resource_access.tokenseal-host.roles",
	    "https://example\\.org/roles", "a\\\\b", "a.b.c.d.e.f.g.h",
	};
	static const char *const bad[] = {
	    "", ".", "a.", ".a", "a..b", "a\\", "a\\x", "a.b.c.d.e.f.g.h.i", "a\tb",
	};

	for (size_t i = 0; i < TS_ARRAY_SIZE(good); i++)
		CHECK_MSG(oauth_claim_path_check(good[i]) == 0, "good path %s", good[i]);
	for (size_t i = 0; i < TS_ARRAY_SIZE(bad); i++)
		CHECK_MSG(oauth_claim_path_check(bad[i]) < 0, "bad path %s", bad[i]);
	{
		char long_path[300];

		memset(long_path, 'a', sizeof(long_path) - 1);
		long_path[sizeof(long_path) - 1] = '\0';
		CHECK(oauth_claim_path_check(long_path) < 0);
	}
}

static void test_read(void)
{
	const char *v;

	CHECK_INT(read_groups("groups", "{\"groups\":[\"a\",\"b\",\"a\"]}"), OAUTH_GROUPS_OK);
	CHECK_INT(G.n, 2); /* the duplicate says nothing new */
	v = oauth_groups_next(&G, NULL);
	CHECK_STR(v, "a");
	v = oauth_groups_next(&G, v);
	CHECK_STR(v, "b");
	CHECK(oauth_groups_next(&G, v) == NULL);
	CHECK(oauth_groups_has(&G, "b") && !oauth_groups_has(&G, "B"));

	CHECK_INT(read_groups("groups", "{\"groups\":[]}"), OAUTH_GROUPS_OK);
	CHECK_INT(G.n, 0);
	CHECK_INT(read_groups("realm_access.roles",
	                      "{\"realm_access\":{\"roles\":[\"admins\"]},\"groups\":[\"x\"]}"),
	          OAUTH_GROUPS_OK);
	CHECK(oauth_groups_has(&G, "admins") && !oauth_groups_has(&G, "x"));
	CHECK_INT(read_groups("resource_access.my\\.client.roles",
	                      "{\"resource_access\":{\"my.client\":{\"roles\":[\"ssh\"]},"
	                      "\"my\":{\"client\":{\"roles\":[\"wrong\"]}}}}"),
	          OAUTH_GROUPS_OK);
	CHECK(oauth_groups_has(&G, "ssh") && !oauth_groups_has(&G, "wrong"));
	/* a literal dotted name is not a path */
	CHECK_INT(read_groups("realm_access.roles", "{\"realm_access.roles\":[\"admins\"]}"),
	          OAUTH_GROUPS_ABSENT);
	CHECK_INT(read_groups("", "{\"groups\":[\"a\"]}"), OAUTH_GROUPS_NOT_READ);
	CHECK_INT(read_groups("a..b", "{}"), OAUTH_GROUPS_BAD_PATH);
	CHECK_INT(oauth_groups_parse(&G, "groups", "[1]", 3), TS_E_BAD_ANSWER);
	CHECK_INT(oauth_groups_parse(&G, "groups", "{", 1), TS_E_BAD_ANSWER);
	/* an embedded NUL never reaches a value: the answer is malformed */
	{
		static const char nul[] = "{\"groups\":[\"a\\u0000b\"]}";

		CHECK_INT(oauth_groups_parse(&G, "groups", nul, strlen(nul)), TS_E_BAD_ANSWER);
	}
}

/* Every way of not telling the groups is its own state, never OK. */
static void test_unknown(void)
{
	static const struct {
		const char *path, *json;
		enum oauth_groups_state want;
		const char *what;
	} t[] = {
	    {"groups", "{\"sub\":\"x\"}", OAUTH_GROUPS_ABSENT, NULL},
	    {"groups", "{\"groups\":null}", OAUTH_GROUPS_ABSENT, NULL},
	    {"realm_access.roles", "{\"realm_access\":{}}", OAUTH_GROUPS_ABSENT, NULL},
	    {"groups",
	     "{\"groups\":[\"a\"],\"_claim_names\":{\"groups\":\"src1\"},"
	     "\"_claim_sources\":{\"src1\":{\"endpoint\":\"https://graph.example/\"}}}",
	     OAUTH_GROUPS_OVERAGE, NULL},
	    {"groups", "{\"hasgroups\":true}", OAUTH_GROUPS_OVERAGE, NULL},
	    /* hasgroups is about "groups" only; _claim_names about its name */
	    {"roles", "{\"hasgroups\":true,\"roles\":[\"r\"]}", OAUTH_GROUPS_OK, NULL},
	    {"roles", "{\"_claim_names\":{\"groups\":\"s\"},\"roles\":[\"r\"]}", OAUTH_GROUPS_OK, NULL},
	    {"groups", "{\"hasgroups\":false,\"groups\":[\"a\"]}", OAUTH_GROUPS_OK, NULL},
	    {"groups", "{\"groups\":\"linux-admins\"}", OAUTH_GROUPS_WRONG_TYPE, "a string"},
	    {"groups", "{\"groups\":{\"a\":1}}", OAUTH_GROUPS_WRONG_TYPE, "an object"},
	    {"groups", "{\"groups\":5}", OAUTH_GROUPS_WRONG_TYPE, "a number"},
	    {"groups", "{\"groups\":true}", OAUTH_GROUPS_WRONG_TYPE, "a boolean"},
	    {"groups", "{\"groups\":[\"a\",[\"b\"]]}", OAUTH_GROUPS_WRONG_TYPE,
	     "an array with an array in it"},
	    {"groups", "{\"groups\":[\"a\",null]}", OAUTH_GROUPS_WRONG_TYPE,
	     "an array with null in it"},
	    {"realm_access.roles", "{\"realm_access\":[\"x\"]}", OAUTH_GROUPS_WRONG_TYPE,
	     "an array where an object was expected"},
	    {"groups", "{\"groups\":[\"a\",\"\"]}", OAUTH_GROUPS_BAD_VALUE, NULL},
	    {"groups", "{\"groups\":[\"a\\nb\"]}", OAUTH_GROUPS_BAD_VALUE, NULL},
	};

	for (size_t i = 0; i < TS_ARRAY_SIZE(t); i++) {
		CHECK_MSG(read_groups(t[i].path, t[i].json) == t[i].want, "%s in %s: %s", t[i].path,
		          t[i].json, oauth_groups_state_name(G.state));
		if (t[i].what)
			CHECK_STR(G.what, t[i].what);
		if (t[i].want != OAUTH_GROUPS_OK)
			CHECK(G.n == 0 && oauth_groups_next(&G, NULL) == NULL);
	}
}

/* Over the bounds: refused, never cut (a cut list could hide a denied
 * group); at the bounds: read. */
static void test_bounds(void)
{
	size_t cap = 2u * 1024 * 1024, o = 0;
	char *j = malloc(cap);
	char v[300];

	CHECK(j);
	/* 100 000 values */
	o = (size_t)snprintf(j, cap, "{\"groups\":[");
	for (unsigned i = 0; i < 100000; i++)
		o += (size_t)snprintf(j + o, cap - o, "%s\"g%u\"", i ? "," : "", i);
	snprintf(j + o, cap - o, "]}");
	CHECK_INT(read_groups("groups", j), OAUTH_GROUPS_TOO_MANY);
	CHECK_INT(G.found, 100000);
	/* exactly OAUTH_GROUPS_MAX, then one more */
	for (unsigned n = OAUTH_GROUPS_MAX; n <= OAUTH_GROUPS_MAX + 1; n++) {
		o = (size_t)snprintf(j, cap, "{\"groups\":[");
		for (unsigned i = 0; i < n; i++)
			o += (size_t)snprintf(j + o, cap - o, "%s\"g%u\"", i ? "," : "", i);
		snprintf(j + o, cap - o, "]}");
		CHECK_INT(read_groups("groups", j),
		          n == OAUTH_GROUPS_MAX ? OAUTH_GROUPS_OK : OAUTH_GROUPS_TOO_MANY);
	}
	CHECK_INT(G.found, OAUTH_GROUPS_MAX + 1);
	/* a value of OAUTH_GROUP_MAX bytes is read, one more is not */
	memset(v, 'v', OAUTH_GROUP_MAX);
	v[OAUTH_GROUP_MAX] = '\0';
	snprintf(j, cap, "{\"groups\":[\"%s\"]}", v);
	CHECK_INT(read_groups("groups", j), OAUTH_GROUPS_OK);
	v[OAUTH_GROUP_MAX] = 'v';
	v[OAUTH_GROUP_MAX + 1] = '\0';
	snprintf(j, cap, "{\"groups\":[\"%s\"]}", v);
	CHECK_INT(read_groups("groups", j), OAUTH_GROUPS_BAD_VALUE);
	/* more bytes than OAUTH_GROUPS_BYTES in fewer values than the count */
	v[200] = '\0';
	o = (size_t)snprintf(j, cap, "{\"groups\":[");
	for (unsigned i = 0; i < OAUTH_GROUPS_BYTES / 200 + 5; i++)
		o += (size_t)snprintf(j + o, cap - o, "%s\"%s%u\"", i ? "," : "", v, i);
	snprintf(j + o, cap - o, "]}");
	CHECK_INT(read_groups("groups", j), OAUTH_GROUPS_TOO_MANY);
	CHECK_INT(G.found, OAUTH_GROUPS_BYTES / 200 + 5);
	CHECK(OAUTH_GROUPS_BYTES / 200 + 5 < OAUTH_GROUPS_MAX);
	free(j);
}

static void test_id_token(void)
{
	/* header.payload.signature; payload {"sub":"s","groups":["a","b"]} */
	static const char jwt[] = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzIiwiZ3JvdXBzIjpbImEiLCJiIl19.sig";

	CHECK_INT(oauth_groups_from_id_token(&G, "groups", jwt), 0);
	CHECK_INT(G.state, OAUTH_GROUPS_OK);
	CHECK_INT(G.n, 2);
	CHECK_INT(oauth_groups_from_id_token(&G, "roles", jwt), 0);
	CHECK_INT(G.state, OAUTH_GROUPS_ABSENT);
	CHECK(oauth_groups_from_id_token(&G, "groups", "not-a-jwt") < 0);
	CHECK(oauth_groups_from_id_token(&G, "groups", "a.!!!.c") < 0);
}

static struct ts_config policy(const char *users, const char *allow, const char *deny)
{
	struct ts_config c;

	ts_config_defaults(&c);
	snprintf(c.allow_users, sizeof(c.allow_users), "%s", users);
	snprintf(c.allow_groups, sizeof(c.allow_groups), "%s", allow);
	snprintf(c.deny_groups, sizeof(c.deny_groups), "%s", deny);
	return c;
}

static int decide(const struct ts_config *c, const char *user, const char *json, char *msg)
{
	const struct oauth_groups *g = NULL;

	msg[0] = '\0';
	if (json) {
		CHECK_INT(oauth_groups_parse(&G, c->groups_claim, json, strlen(json)), 0);
		g = &G;
	}
	return ts_policy_check(c, user, g, msg, 600);
}

static void test_decisions(void)
{
	static const char *const in_users = "{\"groups\":[\"linux-users\"]}";
	static const char *const in_both = "{\"groups\":[\"linux-users\",\"contractors\"]}";
	static const char *const none = "{\"groups\":[]}";
	static const char *const absent = "{\"sub\":\"s\"}";
	static const struct {
		const char *users, *allow, *deny, *user, *json;
		int want;
		const char *msg;
	} t[] = {
	    /* no policy: everyone the server vouches for, groups or not */
	    {"", "", "", "alice", absent, 0, ""},
	    {"", "", "", "alice", NULL, 0, ""},
	    /* allow_groups */
	    {"", "linux-users, admins", "", "alice", in_users, 0, ""},
	    {"", "admins,linux-users", "", "alice", in_users, 0, ""},
	    {"", " linux-users ", "", "alice", in_users, 0, ""},
	    {"", "Linux-Users", "", "alice", in_users, TS_E_POLICY,
	     "alice is not in any group allowed to log in to this host (allow_groups = "
	     "Linux-Users)"},
	    {"", "linux", "", "alice", in_users, TS_E_POLICY,
	     "alice is not in any group allowed to log in to this host (allow_groups = linux)"},
	    {"", "linux-admins,, admins", "", "alice", none, TS_E_POLICY,
	     "alice is not in any group allowed to log in to this host (allow_groups = "
	     "linux-admins, admins)"},
	    {"", "linux-users", "", "alice", absent, TS_E_POLICY,
	     "alice's groups are unknown: the server's answer has no groups claim "
	     "(groups_claim = groups)"},
	    {"", "linux-users", "", "alice", NULL, TS_E_POLICY,
	     "alice's groups are unknown: no server answer with groups is at hand "
	     "(groups_claim = groups)"},
	    /* allow_users alone needs no groups */
	    {"alice, bob", "", "", "alice", absent, 0, ""},
	    {"alice, bob", "", "", "alice", NULL, 0, ""},
	    {"bob", "", "", "alice", absent, TS_E_POLICY,
	     "alice is not allowed to log in to this host (allow_users = bob)"},
	    {"bob", "", "", "bobby", absent, TS_E_POLICY,
	     "bobby is not allowed to log in to this host (allow_users = bob)"},
	    /* either list lets in */
	    {"alice", "admins", "", "alice", absent, 0, ""},
	    {"bob", "admins", "", "alice", in_users, TS_E_POLICY,
	     "alice is not in any group allowed to log in to this host (allow_groups = admins) "
	     "and not in allow_users"},
	    /* deny wins, and needs groups */
	    {"", "", "contractors", "alice", in_users, 0, ""},
	    {"", "", "contractors, temps", "alice", in_both, TS_E_POLICY,
	     "alice is in a denied group (deny_groups = contractors, temps: contractors)"},
	    {"alice", "linux-users", "contractors", "alice", in_both, TS_E_POLICY,
	     "alice is in a denied group (deny_groups = contractors: contractors)"},
	    {"alice", "", "contractors", "alice", absent, TS_E_POLICY,
	     "alice's groups are unknown: the server's answer has no groups claim "
	     "(groups_claim = groups)"},
	    {"", "", "contractors", "alice", "{\"hasgroups\":true}", TS_E_POLICY,
	     "alice's groups are unknown: the server's answer reports a groups overage (Entra: "
	     "more groups than a token carries; use app roles or groups assigned to the "
	     "application)"},
	    {"", "linux-users", "", "alice", "{\"groups\":\"linux-users\"}", TS_E_POLICY,
	     "alice's groups are unknown: the server's groups claim is a string, not an array of "
	     "strings (groups_claim = groups)"},
	    {"", "linux-users", "", "alice", "{\"groups\":[\"linux-users\",\"\"]}", TS_E_POLICY,
	     "alice's groups are unknown: the server's groups claim has a value that is empty, "
	     "longer than 255 bytes or has control characters (groups_claim = groups)"},
	};
	char msg[600];

	for (size_t i = 0; i < TS_ARRAY_SIZE(t); i++) {
		struct ts_config c = policy(t[i].users, t[i].allow, t[i].deny);
		int r = decide(&c, t[i].user, t[i].json, msg);

		CHECK_MSG(r == t[i].want, "case %zu: %d, expected %d (%s)", i, r, t[i].want, msg);
		if (t[i].want)
			CHECK_STR(msg, t[i].msg);
	}
}

static void test_config_claims(void)
{
	struct ts_config c = policy("", "admins", "");
	char msg[600];

	CHECK(ts_policy_needs_groups(&c) && ts_policy_set(&c));
	c = policy("alice", "", " , ");
	CHECK(!ts_policy_needs_groups(&c) && ts_policy_set(&c));
	c = policy("", "", "");
	CHECK(!ts_policy_set(&c));

	c = policy("", "admins", "");
	snprintf(c.groups_claim, sizeof(c.groups_claim), "realm_access.roles");
	CHECK_INT(decide(&c, "alice", "{\"realm_access\":{\"roles\":[\"admins\"]}}", msg), 0);
	snprintf(c.groups_claim, sizeof(c.groups_claim), "a..b");
	CHECK_INT(decide(&c, "alice", "{}", msg), TS_E_POLICY);
	CHECK_STR(msg, "alice's groups are unknown: groups_claim = a..b is not a claim name or "
	               "dotted path");
	c.groups_claim[0] = '\0';
	CHECK_INT(decide(&c, "alice", "{\"groups\":[\"admins\"]}", msg), TS_E_POLICY);
	CHECK_STR(msg, "alice's groups are unknown: groups_claim is empty, so no groups are read");

	CHECK(ts_policy_list_has("a, b ,c", "b") && ts_policy_list_has("a, b ,c", "c"));
	CHECK(!ts_policy_list_has("a, b ,c", "a, b") && !ts_policy_list_has("", ""));
}

static void test_groups_text(void)
{
	char out[64];

	ts_policy_groups_text(NULL, out, sizeof(out));
	CHECK_STR(out, "unknown (not-read)");
	(void)read_groups("groups", "{\"hasgroups\":true}");
	ts_policy_groups_text(&G, out, sizeof(out));
	CHECK_STR(out, "unknown (overage)");
	(void)read_groups("groups", "{\"groups\":[]}");
	ts_policy_groups_text(&G, out, sizeof(out));
	CHECK_STR(out, "none");
	(void)read_groups("groups", "{\"groups\":[\"a\",\"b\\u00e9\\u001b\"]}");
	CHECK_INT(G.state, OAUTH_GROUPS_BAD_VALUE); /* ESC is a control character */
	(void)read_groups("groups", "{\"groups\":[\"a\",\"b\\u00e9\"]}");
	ts_policy_groups_text(&G, out, sizeof(out));
	CHECK_STR(out, "[a, b??]"); /* sanitised: printable ASCII only */
	(void)read_groups("groups", "{\"groups\":[\"aaaaaaaaaaaaaaaaaaaa\",\"bbbbbbbbbbbbbbbbbbbb\","
	                            "\"cccccccccccccccccccc\",\"dddddddddddddddddddd\"]}");
	ts_policy_groups_text(&G, out, sizeof(out));
	CHECK_MSG(strlen(out) < sizeof(out) && strstr(out, "more)"), "bounded: %s", out);
}

/* The record keeps the groups of its last positive answer; stored groups
 * that fail a check are dropped, the record still opens. */
static void test_record_groups(void)
{
	static struct ts_record r, back;
	char *json = NULL;
	size_t len = 0;

	memset(&r, 0, sizeof(r));
	r.access_token = strdup("at");
	CHECK(r.access_token);
	(void)read_groups("groups", "{\"groups\":[\"linux-users\",\"linux-admins\"]}");
	r.groups = G;
	snprintf(r.groups_claim, sizeof(r.groups_claim), "groups");
	CHECK_INT(ts_record_to_json(&r, &json, &len), 0);
	CHECK_INT(ts_record_from_json(&back, (const uint8_t *)json, len), 0);
	CHECK_INT(back.groups.state, OAUTH_GROUPS_OK);
	CHECK_INT(back.groups.n, 2);
	CHECK(oauth_groups_has(&back.groups, "linux-admins"));
	CHECK_STR(back.groups_claim, "groups");
	ts_record_clear(&back);
	free(json);

	(void)read_groups("groups", "{\"groups\":\"x\"}");
	r.groups = G;
	CHECK_INT(ts_record_to_json(&r, &json, &len), 0);
	CHECK_INT(ts_record_from_json(&back, (const uint8_t *)json, len), 0);
	CHECK_INT(back.groups.state, OAUTH_GROUPS_WRONG_TYPE);
	CHECK_STR(back.groups.what, "a string");
	ts_record_clear(&back);
	free(json);

	{
		static const char *const bad[] = {
		    "{\"access_token\":\"at\",\"groups_state\":\"ok\",\"groups_claim\":\"groups\","
		    "\"groups\":[\"a\",5]}",
		    "{\"access_token\":\"at\",\"groups_state\":\"ok\",\"groups_claim\":\"groups\","
		    "\"groups\":\"a\"}",
		    "{\"access_token\":\"at\",\"groups_state\":\"ok\",\"groups_claim\":7,"
		    "\"groups\":[\"a\"]}",
		    "{\"access_token\":\"at\",\"groups_state\":\"ok\",\"groups_claim\":\"groups\","
		    "\"groups\":[\"\"]}",
		    "{\"access_token\":\"at\",\"groups_state\":\"bogus\",\"groups\":[\"a\"]}",
		    "{\"access_token\":\"at\",\"groups_state\":5}",
		};

		for (size_t i = 0; i < TS_ARRAY_SIZE(bad); i++) {
			CHECK_MSG(ts_record_from_json(&back, (const uint8_t *)bad[i], strlen(bad[i])) == 0,
			          "the record opens: %s", bad[i]);
			CHECK_MSG(back.groups.state == OAUTH_GROUPS_NOT_READ && back.groups.n == 0 &&
			              !back.groups_claim[0],
			          "stored groups dropped: %s", bad[i]);
			ts_record_clear(&back);
		}
	}
	ts_record_clear(&r);
}

int main(void)
{
	RUN(test_claim_path);
	RUN(test_read);
	RUN(test_unknown);
	RUN(test_bounds);
	RUN(test_id_token);
	RUN(test_decisions);
	RUN(test_config_claims);
	RUN(test_groups_text);
	RUN(test_record_groups);
	return ts_test_done();
}
