/* SPDX-License-Identifier: MIT */
/*
 * The access policy (issue 16, docs/access-control.md) through the real
 * tokenseal-broker against the real test IdP, driven by ts_client_call as
 * the PAM module drives it: allow/deny by user and group per service, the
 * very next use after the server drops a group, what revalidate_cache
 * means for groups, a nested claim path, the id_token at sign-in, and a
 * refused sign-in that stores nothing.
 *
 * With the argument "fail-closed" (CTest label attack) it runs the attacks
 * instead: answers whose groups cannot be told (no claim, an Entra overage
 * marker, a single string, mixed types, a bad value, 100 000 values) must
 * refuse a group policy, deny lists included, and leave the record
 * byte-identical.
 *
 * Needs root and the local users alice, bob and carol (scripts/test).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ks.h"
#include "lifecycle.h"
#include "ts_client.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_mem.h"
#include "ts_test.h"

static struct ts_idp idp;
static char broker_bin[512], wrapper[700], logfile[700];
static char cfg_main[700], cfg_cache[700], cfg_nested[700], cfg_big[700], cfg_grace[700];
static char ksdir[700];

/* ---- calls ------------------------------------------------------------- */

struct conv_state {
	const char *answer;
	unsigned prompts;
};

static int c_info(void *ctx, const char *text)
{
	(void)ctx;
	(void)text;
	return 0;
}

static int c_prompt(void *ctx, const char *text, bool echo, char **ret)
{
	struct conv_state *s = ctx;

	(void)text;
	(void)echo;
	s->prompts++;
	if (!s->answer)
		return -1;
	*ret = strdup(s->answer);
	return *ret ? 0 : -ENOMEM;
}

static int call_full(const char *config, enum ts_msg_type type, const char *user,
                     const char *service, const char *method, struct conv_state *cs,
                     struct ts_client_result *res)
{
	struct ts_client_opts o = {.broker_path = wrapper, .config_path = config};
	struct ts_client_request rq = {.type = type,
	                               .user = user,
	                               .service = service,
	                               /* AUTH_STORED: sudo's shape, the module's
	                                * same-user proof */
	                               .flags = (cs ? 0u : (uint32_t)TS_FLAG_NONINTERACTIVE) |
	                                        (type == TS_MSG_AUTH_STORED
	                                             ? (uint32_t)TS_FLAG_SAME_USER
	                                             : 0u),
	                               .method = method};
	struct ts_conv cv = {c_info, c_info, c_prompt, cs};
	int r;

	memset(res, 0, sizeof(*res));
	r = ts_client_call(&o, &rq, cs ? &cv : NULL, res);
	CHECK_MSG(r == 0, "ts_client_call: %s", ts_strerror(r));
	fprintf(stderr, "   [%s/%s] code %d (%s): %s\n", user, service ? service : "-", res->code,
	        ts_strerror(res->code), res->message);
	if (res->token)
		ts_leak_remember(res->token);
	return res->code;
}

/* A use (account phase) of user for service: the code, the message in msg. */
static int use_msg(const char *config, const char *user, const char *service, char *msg,
                   size_t len)
{
	struct ts_client_result res;
	int code = call_full(config, TS_MSG_REVALIDATE, user, service, NULL, NULL, &res);

	if (msg)
		snprintf(msg, len, "%s", res.message);
	ts_client_result_clear(&res);
	return code;
}

static int use(const char *config, const char *user, const char *service)
{
	return use_msg(config, user, service, NULL, 0);
}

static int password_login(const char *config, const char *user, const char *service,
                          const char *pw, char *msg, size_t len)
{
	struct conv_state cs = {.answer = pw};
	struct ts_client_result res;
	int code = call_full(config, TS_MSG_LOGIN, user, service, "password", &cs, &res);

	if (msg)
		snprintf(msg, len, "%s", res.message);
	ts_client_result_clear(&res);
	return code;
}

static void claims(const char *user, const char *json, const char *where)
{
	CHECK_MSG(ts_idp_set_claims(&idp, user, json, where) == 0, "set-claims %s %s", user, json);
}

static uid_t uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);

	CHECK(pw);
	return pw->pw_uid;
}

static void record_path(char *out, size_t len, const char *user)
{
	snprintf(out, len, "%s/users/%u.seal", ksdir, (unsigned)uid_of(user));
}

static char *record_bytes(const char *user, size_t *len)
{
	char path[900];

	record_path(path, sizeof(path), user);
	return ts_test_read_file(path, len);
}

static bool same_record(const char *user, const char *before, size_t lb)
{
	size_t la = 0;
	char *after = record_bytes(user, &la);
	bool same = la == lb && memcmp(before, after, la) == 0;

	free(after);
	return same;
}

static bool log_has(const char *needle)
{
	size_t n = 0;
	char *log = ts_test_read_file(logfile, &n);
	bool found = log && strstr(log, needle);

	free(log);
	return found;
}

/* ---- allow by group, per service ------------------------------------- */

static void test_per_service(void)
{
	struct ts_client_result res;
	struct conv_state cs = {0};
	char msg[600];

	claims("alice", "{\"groups\":[\"linux-users\"]}", NULL);
	CHECK_INT(password_login(cfg_main, "alice", "sshd", "alice-pw", msg, sizeof(msg)), 0);
	CHECK_INT(use(cfg_main, "alice", "sshd"), 0);
	/* sudo only for linux-admins: refused, in the account phase, the
	 * session and the token request alike */
	CHECK_INT(use_msg(cfg_main, "alice", "sudo", msg, sizeof(msg)), TS_E_POLICY);
	CHECK_STR(msg, "alice is not in any group allowed to log in to this host "
	               "(allow_groups = linux-admins)");
	CHECK_INT(call_full(cfg_main, TS_MSG_OPEN_SESSION, "alice", "sudo", NULL, NULL, &res),
	          TS_E_POLICY);
	ts_client_result_clear(&res);
	CHECK_INT(call_full(cfg_main, TS_MSG_GET_TOKEN, "alice", "sudo", NULL, NULL, &res),
	          TS_E_POLICY);
	CHECK_MSG(!res.token, "no token handed out");
	ts_client_result_clear(&res);
	/* a stored-token sign-in is refused without a prompt for a new one */
	CHECK_INT(call_full(cfg_main, TS_MSG_AUTH_STORED, "alice", "sudo", NULL, &cs, &res),
	          TS_E_POLICY);
	CHECK_INT(cs.prompts, 0);
	ts_client_result_clear(&res);
	CHECK(log_has("broker: access policy refuses alice (service sudo): alice is not in any "
	              "group allowed to log in to this host (allow_groups = linux-admins); "
	              "groups seen: [linux-users]"));
	/* added at the server: the next sudo is allowed */
	claims("alice", "{\"groups\":[\"linux-users\",\"linux-admins\"]}", NULL);
	CHECK_INT(use(cfg_main, "alice", "sudo"), 0);
	CHECK_INT(call_full(cfg_main, TS_MSG_GET_TOKEN, "alice", "sudo", NULL, NULL, &res), 0);
	CHECK(res.token && res.token[0]);
	ts_client_result_clear(&res);
}

/* Removal at the server: the very next account check is refused, with no
 * new sign-in and no cache delay (revalidate_cache 0), and the record is
 * not touched. */
static void test_removed_at_server(void)
{
	char msg[600], *before;
	size_t lb = 0;
	long intro, token;

	claims("alice", "{\"groups\":[\"linux-users\",\"linux-admins\"]}", NULL);
	CHECK_INT(use(cfg_main, "alice", "sudo"), 0);
	before = record_bytes("alice", &lb);
	intro = ts_idp_count(&idp, "introspection");
	token = ts_idp_count(&idp, "token");
	claims("alice", "{\"groups\":[\"linux-users\"]}", NULL);
	CHECK_INT(use_msg(cfg_main, "alice", "sudo", msg, sizeof(msg)), TS_E_POLICY);
	CHECK_STR(msg, "alice is not in any group allowed to log in to this host "
	               "(allow_groups = linux-admins)");
	CHECK_INT(ts_idp_count(&idp, "introspection"), intro + 1);
	CHECK_MSG(ts_idp_count(&idp, "token") == token, "no refresh, no new sign-in");
	CHECK_MSG(same_record("alice", before, lb), "the refusal changed no record");
	/* still a member of linux-users: ssh goes on */
	CHECK_INT(use(cfg_main, "alice", "sshd"), 0);
	free(before);
}

static void reset_groups(struct ts_record *r)
{
	oauth_groups_reset(&r->groups);
	r->groups_claim[0] = '\0';
}

/* Rewrite user's stored record through fn (under the lock). */
static void edit_record(const char *user, void (*fn)(struct ts_record *))
{
	struct ks *ks = NULL;
	struct ks_lock *l = NULL;
	struct ks_blob *b = NULL;
	struct ks_open_opts ko = {0};
	struct ts_config cfg;
	struct ts_record rec = {0};
	struct ks_identity id = {uid_of(user), user, idp.issuer, idp.conf_client};
	char *json = NULL;
	size_t jl = 0;
	uint64_t gen = 0;

	ts_config_defaults(&cfg);
	CHECK(ts_config_load(&cfg, cfg_main, NULL, NULL) == 0);
	CHECK(ks_open(&ks, ksdir, cfg.key_file, &ko) == 0);
	CHECK(ks_lock(ks, id.uid, &l) == 0);
	CHECK(ks_read(ks, &id, &b) == 0);
	CHECK(ts_record_from_json(&rec, b->payload, b->len) == 0);
	fn(&rec);
	CHECK(ts_record_to_json(&rec, &json, &jl) == 0);
	CHECK(ks_write(ks, l, &id, json, jl, b->generation, &gen) == 0);
	ts_erase_free(json, jl);
	ks_unlock(l);
	ts_record_clear(&rec);
	ks_blob_free(b);
	ks_close(ks);
}

/* revalidate_cache reuses the whole answer, groups included: a removal
 * shows once the reused answer is older than revalidate_cache; a refusal
 * does not renew the cache; a record without stored groups asks. */
static void test_removed_with_cache(void)
{
	char msg[600];
	long intro;

	sleep(4); /* the answer noted by the cases before is past the cache */
	claims("alice", "{\"groups\":[\"linux-admins\"]}", NULL);
	CHECK_INT(use(cfg_cache, "alice", "sudo"), 0);
	intro = ts_idp_count(&idp, "introspection");
	claims("alice", "{\"groups\":[\"linux-users\"]}", NULL);
	CHECK_INT(use(cfg_cache, "alice", "sudo"), 0); /* the reused answer */
	CHECK_MSG(ts_idp_count(&idp, "introspection") == intro, "answered from the cache");
	sleep(4); /* revalidate_cache = 3 */
	CHECK_INT(use_msg(cfg_cache, "alice", "sudo", msg, sizeof(msg)), TS_E_POLICY);
	CHECK_STR(msg, "alice is not in any group allowed to log in to this host "
	               "(allow_groups = linux-admins)");
	CHECK_INT(ts_idp_count(&idp, "introspection"), intro + 1);
	CHECK_INT(use(cfg_cache, "alice", "sudo"), TS_E_POLICY);
	CHECK_MSG(ts_idp_count(&idp, "introspection") == intro + 2,
	          "a refusal noted nothing: the next use asks again");
	/* the cached answer of an sshd use, then sudo reuses it with its groups */
	CHECK_INT(use(cfg_cache, "alice", "sshd"), 0);
	CHECK_INT(use(cfg_cache, "alice", "sudo"), TS_E_POLICY);
	CHECK_INT(ts_idp_count(&idp, "introspection"), intro + 3);
	/* a record whose positive check is fresh but carries no groups (an
	 * older version's): a group policy asks the server */
	claims("alice", "{\"groups\":[\"linux-admins\"]}", NULL);
	CHECK_INT(use(cfg_cache, "alice", "sshd"), 0); /* cached, fresh */
	edit_record("alice", reset_groups);
	intro = ts_idp_count(&idp, "introspection");
	CHECK_INT(use(cfg_cache, "alice", "sudo"), 0);
	CHECK_INT(ts_idp_count(&idp, "introspection"), intro + 1);
}

/* deny_groups wins over allow_users. */
static void test_deny_wins(void)
{
	char msg[600];

	claims("alice", "{\"groups\":[\"linux-users\",\"contractors\"]}", NULL);
	CHECK_INT(use_msg(cfg_main, "alice", "deny", msg, sizeof(msg)), TS_E_POLICY);
	CHECK_STR(msg, "alice is in a denied group (deny_groups = contractors, temps: "
	               "contractors)");
	claims("alice", "{\"groups\":[\"linux-users\"]}", NULL);
	CHECK_INT(use(cfg_main, "alice", "deny"), 0);
	CHECK_INT(use(cfg_main, "alice", "sshd"), 0);
}

/* allow_users alone needs no groups: bob, whose answers carry no groups
 * claim at all, is let in; alice is not. */
static void test_allow_users(void)
{
	char msg[600];

	claims("bob", "{}", NULL);
	CHECK_INT(password_login(cfg_main, "bob", "users", "bob-pw", NULL, 0), 0);
	CHECK_INT(use(cfg_main, "bob", "users"), 0);
	CHECK_INT(use_msg(cfg_main, "alice", "users", msg, sizeof(msg)), TS_E_POLICY);
	CHECK_STR(msg, "alice is not allowed to log in to this host (allow_users = bob)");
	/* the top level has no policy: everyone the server vouches for */
	CHECK_INT(use(cfg_main, "bob", "other"), 0);
}

/* groups_claim = realm_access.roles (Keycloak). */
static void test_nested_path(void)
{
	char msg[600];

	claims("alice", "{\"realm_access\":{\"roles\":[\"offline_access\",\"admins\"]},"
	                "\"groups\":[\"linux-users\"]}",
	       NULL);
	CHECK_INT(use(cfg_nested, "alice", "sudo"), 0);
	claims("alice", "{\"realm_access\":{\"roles\":[\"offline_access\"]},"
	                "\"groups\":[\"admins\"]}",
	       NULL);
	CHECK_INT(use_msg(cfg_nested, "alice", "sudo", msg, sizeof(msg)), TS_E_POLICY);
	CHECK_STR(msg, "alice is not in any group allowed to log in to this host "
	               "(allow_groups = admins)");
}

/* A sign-in the policy refuses stores nothing: alice's record stays as it
 * was, carol (no record) gets none. */
static void test_signin_refused(void)
{
	char msg[600], path[900], *before;
	size_t lb = 0;

	claims("alice", "{\"groups\":[\"linux-users\"]}", NULL);
	before = record_bytes("alice", &lb);
	CHECK_INT(password_login(cfg_main, "alice", "sudo", "alice-pw", msg, sizeof(msg)),
	          TS_E_POLICY);
	CHECK_STR(msg, "alice is not in any group allowed to log in to this host "
	               "(allow_groups = linux-admins)");
	CHECK_MSG(same_record("alice", before, lb), "alice's record stays as it was");
	free(before);
	claims("carol", "{\"groups\":[\"linux-users\"]}", NULL);
	CHECK_INT(password_login(cfg_main, "carol", "sudo", "carol-pw", NULL, 0), TS_E_POLICY);
	record_path(path, sizeof(path), "carol");
	CHECK_MSG(access(path, F_OK) != 0, "nothing stored for carol");
}

/* Groups only in the id_token: they serve the sign-in; later uses read the
 * revalidation answer, which has none, and refuse (documented). */
static void test_id_token_at_signin(void)
{
	char msg[600];

	claims("carol", "{\"groups\":[\"linux-admins\"]}", "id_token");
	CHECK_INT(password_login(cfg_main, "carol", "sudo", "carol-pw", NULL, 0), 0);
	CHECK_INT(use_msg(cfg_main, "carol", "sudo", msg, sizeof(msg)), TS_E_POLICY);
	CHECK_STR(msg, "carol's groups are unknown: the server's answer has no groups claim "
	               "(groups_claim = groups)");
	/* in userinfo only: introspection is what revalidates here */
	claims("carol", "{\"groups\":[\"linux-admins\"]}", "userinfo");
	CHECK_INT(use(cfg_main, "carol", "sudo"), TS_E_POLICY);
	claims("carol", "{\"groups\":[\"linux-admins\"]}", "introspection");
	CHECK_INT(use(cfg_main, "carol", "sudo"), 0);
}

/* offline_grace: while the server is unreachable, the groups kept with the
 * last positive answer decide; none kept, a group policy refuses. Stops
 * the IdP: the last case. */
static void test_offline_grace(void)
{
	char msg[600];

	claims("alice", "{\"groups\":[\"linux-users\"]}", NULL);
	sleep(2); /* revalidate_cache = 1: this use asks and is noted */
	CHECK_INT(use(cfg_grace, "alice", "sshd"), 0);
	sleep(2);
	ts_idp_stop(&idp);
	CHECK_INT(use_msg(cfg_grace, "alice", "sshd", msg, sizeof(msg)), 0);
	CHECK_MSG(strstr(msg, "the identity server is unreachable; using the check from"),
	          "offline: %s", msg);
	CHECK_INT(use_msg(cfg_grace, "alice", "sudo", msg, sizeof(msg)), TS_E_POLICY);
	CHECK_STR(msg, "alice is not in any group allowed to log in to this host "
	               "(allow_groups = linux-admins)");
	edit_record("alice", reset_groups);
	CHECK_INT(use_msg(cfg_grace, "alice", "sshd", msg, sizeof(msg)), TS_E_POLICY);
	CHECK_STR(msg, "alice's groups are unknown: no server answer with groups is at hand "
	               "(groups_claim = groups)");
	/* no group policy: the grace alone decides */
	CHECK_INT(use(cfg_grace, "alice", "other"), 0);
}

/* ---- fail closed (label attack) -------------------------------------- */

struct unknown_case {
	const char *claims;  /* NULL: many */
	const char *message; /* after "alice's groups are unknown: " */
};

static void refused_unknown(const char *config, const char *service,
                            const struct unknown_case *c, const char *log_state)
{
	char msg[600], want[700], logline[200], *before;
	size_t lb = 0;

	before = record_bytes("alice", &lb);
	CHECK_INT(use_msg(config, "alice", service, msg, sizeof(msg)), TS_E_POLICY);
	snprintf(want, sizeof(want), "alice's groups are unknown: %s", c->message);
	CHECK_STR(msg, want);
	CHECK_MSG(same_record("alice", before, lb), "record byte-identical after the refusal");
	snprintf(logline, sizeof(logline), "groups seen: unknown (%s)", log_state);
	CHECK_MSG(log_has(logline), "the log names what was seen: %s", logline);
	free(before);
}

static void test_fail_closed(void)
{
	static const struct {
		struct unknown_case c;
		const char *state;
	} cases[] = {
	    {{"{\"name2\":\"x\"}",
	      "the server's answer has no groups claim (groups_claim = groups)"},
	     "absent"},
	    {{"{\"groups\":null}", "the server's answer has no groups claim (groups_claim = groups)"},
	     "absent"},
	    {{"{\"groups\":[\"linux-admins\"],\"_claim_names\":{\"groups\":\"src1\"},"
	      "\"_claim_sources\":{\"src1\":{\"endpoint\":\"https://graph.example/x\"}}}",
	      "the server's answer reports a groups overage (Entra: more groups than a token "
	      "carries; use app roles or groups assigned to the application)"},
	     "overage"},
	    {{"{\"hasgroups\":true}",
	      "the server's answer reports a groups overage (Entra: more groups than a token "
	      "carries; use app roles or groups assigned to the application)"},
	     "overage"},
	    {{"{\"groups\":\"linux-admins\"}",
	      "the server's groups claim is a string, not an array of strings (groups_claim = "
	      "groups)"},
	     "wrong-type"},
	    {{"{\"groups\":{\"linux-admins\":true}}",
	      "the server's groups claim is an object, not an array of strings (groups_claim = "
	      "groups)"},
	     "wrong-type"},
	    {{"{\"groups\":[\"linux-admins\",7]}",
	      "the server's groups claim is an array with a number in it, not an array of "
	      "strings (groups_claim = groups)"},
	     "wrong-type"},
	    {{"{\"groups\":[\"linux-admins\",\"\"]}",
	      "the server's groups claim has a value that is empty, longer than 255 bytes or "
	      "has control characters (groups_claim = groups)"},
	     "bad-value"},
	};

	claims("alice", "{\"groups\":[\"linux-users\",\"linux-admins\"]}", NULL);
	CHECK_INT(password_login(cfg_main, "alice", "sshd", "alice-pw", NULL, 0), 0);
	CHECK_INT(use(cfg_main, "alice", "sudo"), 0);
	for (size_t i = 0; i < TS_ARRAY_SIZE(cases); i++) {
		fprintf(stderr, "   case %s\n", cases[i].c.claims);
		claims("alice", cases[i].c.claims, "introspection");
		/* an allow list and a deny list alike: a deny list cannot be
		 * checked against groups nobody knows */
		refused_unknown(cfg_main, "sudo", &cases[i].c, cases[i].state);
		refused_unknown(cfg_main, "deny", &cases[i].c, cases[i].state);
	}
	/* a single string that names a denied group among others is not
	 * split and then missed: refused as the wrong type */
	claims("alice", "{\"groups\":\"linux-users contractors\"}", "introspection");
	CHECK_INT(use(cfg_main, "alice", "deny"), TS_E_POLICY);
	/* realm_access that is not an object */
	{
		static const struct unknown_case c = {
		    NULL, "the server's groups claim is a string where an object was expected, not "
		          "an array of strings (groups_claim = realm_access.roles)"};

		claims("alice", "{\"realm_access\":\"admins\"}", "introspection");
		refused_unknown(cfg_nested, "sudo", &c, "wrong-type");
	}
	/* 100 000 groups (max_response_size lets the answer in): refused
	 * clearly, never cut and never a crash */
	{
		static const struct unknown_case c = {
		    NULL, "the server's groups claim has 100000 values, more than the 1024 tokenseal "
		          "reads (groups_claim = groups)"};

		CHECK_INT(ts_idp_set_many_groups(&idp, "alice", 100000, "introspection"), 0);
		refused_unknown(cfg_big, "sudo", &c, "too-many");
		/* hundreds of groups are fine (more than a record keeps for
		 * revalidate_cache: the server is asked each time) */
		CHECK_INT(ts_idp_set_many_groups(&idp, "alice", 1024, "introspection"), 0);
		CHECK_INT(use(cfg_big, "alice", "open"), 0);
		CHECK_INT(ts_idp_set_many_groups(&idp, "alice", 1025, "introspection"), 0);
		CHECK_INT(use(cfg_big, "alice", "sudo"), TS_E_POLICY);
	}
	/* and back: known groups let her in again, nothing was destroyed */
	claims("alice", "{\"groups\":[\"linux-admins\"]}", NULL);
	CHECK_INT(use(cfg_main, "alice", "sudo"), 0);
}

int main(int argc, char **argv)
{
	static const char policy[] =
	    "login_methods = password\n"
	    "revalidate = introspection\n"
	    "[service sshd]\n"
	    "allow_groups = linux-users, linux-admins\n"
	    "[service sudo]\n"
	    "allow_groups = linux-admins\n"
	    "auth_with_stored_token = yes\n"
	    "[service deny]\n"
	    "allow_users = alice\n"
	    "deny_groups = contractors, temps\n"
	    "[service users]\n"
	    "allow_users = bob\n";
	bool fail_closed = argc > 2 && strcmp(argv[2], "fail-closed") == 0;
	char extra[1200];
	FILE *f;

	if (argc < 2)
		TS_SKIP("usage: test_broker_policy PATH-TO-tokenseal-broker [fail-closed]");
	if (!getpwnam("alice") || !getpwnam("bob") || !getpwnam("carol"))
		TS_SKIP("local users alice/bob/carol missing: scripts/test creates them");
	if (getuid() != 0)
		TS_SKIP("needs root (the broker acts for alice, bob and carol)");
	CHECK(ts_strlcpy(broker_bin, argv[1], sizeof(broker_bin)) == 0);
	CHECK(ts_idp_start(&idp, 3600) == 0);

	snprintf(logfile, sizeof(logfile), "%s/broker.log", ts_test_tmpdir());
	snprintf(wrapper, sizeof(wrapper), "%s/broker-wrapper", ts_test_tmpdir());
	f = fopen(wrapper, "w");
	CHECK(f);
	fprintf(f, "#!/bin/sh\nexec '%s' --debug \"$@\" 2>>'%s'\n", broker_bin, logfile);
	CHECK(fclose(f) == 0);
	CHECK(chmod(wrapper, 0755) == 0);
	snprintf(ksdir, sizeof(ksdir), "%s/keystore", idp.dir);

	snprintf(cfg_main, sizeof(cfg_main), "%s/main.conf", idp.dir);
	CHECK_INT(ts_idp_write_config(&idp, cfg_main, "conf", policy), 0);
	snprintf(cfg_cache, sizeof(cfg_cache), "%s/cache.conf", idp.dir);
	snprintf(extra, sizeof(extra), "revalidate_cache = 3\n%s", policy);
	CHECK_INT(ts_idp_write_config(&idp, cfg_cache, "conf", extra), 0);
	snprintf(cfg_nested, sizeof(cfg_nested), "%s/nested.conf", idp.dir);
	CHECK_INT(ts_idp_write_config(&idp, cfg_nested, "conf",
	                              "login_methods = password\nrevalidate = introspection\n"
	                              "groups_claim = realm_access.roles\n"
	                              "[service sudo]\nallow_groups = admins\n"),
	          0);
	snprintf(cfg_big, sizeof(cfg_big), "%s/big.conf", idp.dir);
	snprintf(extra, sizeof(extra), "max_response_size = 1048576\n%s", policy);
	CHECK_INT(ts_idp_write_config(&idp, cfg_big, "conf", extra), 0);

	snprintf(cfg_grace, sizeof(cfg_grace), "%s/grace.conf", idp.dir);
	snprintf(extra, sizeof(extra), "revalidate_cache = 1\noffline_grace = 3600\n%s", policy);
	CHECK_INT(ts_idp_write_config(&idp, cfg_grace, "conf", extra), 0);

	if (fail_closed) {
		RUN(test_fail_closed);
	} else {
		RUN(test_per_service);
		RUN(test_removed_at_server);
		RUN(test_removed_with_cache);
		RUN(test_deny_wins);
		RUN(test_allow_users);
		RUN(test_nested_path);
		RUN(test_signin_refused);
		RUN(test_id_token_at_signin);
		RUN(test_offline_grace); /* stops the IdP */
	}
	ts_leak_scan_file("the broker's log", logfile);
	return ts_test_done();
}
