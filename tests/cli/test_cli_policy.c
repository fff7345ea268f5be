/* SPDX-License-Identifier: MIT */
/*
 * `tokenseal token` and the access policy (issue 16), the real command in
 * exec mode against the real test IdP: a user the policy lets in gets the
 * token; once the server drops the group, the very next `tokenseal token`
 * exits 7 (not permitted) with the policy's message and the hint that a
 * new sign-in does not help, prints no token, and the stored sign-in is
 * unchanged.
 *
 * argv[1]: the tokenseal binary, argv[2]: tokenseal-broker.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_run.h"
#include "oauth.h"
#include "ts_config.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_mem.h"
#include "ts_test.h"

static struct ts_idp idp;
static char cfg[700], broker_log[800], cli_bin[512];

static void login_alice(void)
{
	struct ts_config c;
	struct oauth_client *oc = NULL;
	struct oauth_tokens t = {0};
	struct oauth_error err = {0};
	char line[4096];
	struct run r;

	ts_config_defaults(&c);
	CHECK_INT(ts_config_load(&c, cfg, NULL, NULL), 0);
	CHECK_INT(oauth_global_init(), 0);
	CHECK_INT(oauth_client_new(&oc, &c, &err), 0);
	CHECK_INT(oauth_password_grant(oc, "alice", "alice-pw", &t, &err), 0);
	CHECK(t.refresh_token);
	ts_leak_remember(t.refresh_token);
	ts_leak_remember(t.access_token);
	snprintf(line, sizeof(line), "%s\n", t.refresh_token);
	oauth_tokens_clear(&t);
	oauth_client_free(oc);
	run_as(&r, NULL, line, ARGS("TOKENSEAL_NONINTERACTIVE=1"),
	       ARGS("login", "--refresh-token-stdin", "--user", "alice"));
	ts_wipe(line, sizeof(line));
	CHECK_INT(r.exit, 0);
}

static char *record(size_t *len)
{
	char path[900];
	struct passwd *pw = getpwnam("alice");

	CHECK(pw);
	snprintf(path, sizeof(path), "%s/keystore/users/%u.seal", idp.dir, (unsigned)pw->pw_uid);
	return ts_test_read_file(path, len);
}

static void test_token_policy(void)
{
	struct run r;
	size_t lb = 0, la = 0;
	char *before, *after;

	CHECK_INT(ts_idp_set_claims(&idp, "alice", "{\"groups\":[\"linux-admins\"]}", NULL), 0);
	login_alice();
	run_as(&r, NULL, NULL, NULL, ARGS("token", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	CHECK(strlen(r.out) > 10);
	ts_leak_remember(r.out);

	CHECK_INT(ts_idp_set_claims(&idp, "alice", "{\"groups\":[\"linux-users\"]}", NULL), 0);
	before = record(&lb);
	run_as(&r, NULL, NULL, NULL, ARGS("token", "--user", "alice"));
	CHECK_INT(r.exit, 7);
	CHECK_STR(r.out, "");
	CHECK_STR(r.err, "tokenseal: alice is not in any group allowed to log in to this host "
	                 "(allow_groups = linux-admins)\n"
	                 "tokenseal: signing in again does not help: the identity provider's "
	                 "groups or this host's access policy (allow_users, allow_groups, "
	                 "deny_groups) must change; ask the administrator\n");
	after = record(&la);
	CHECK_MSG(la == lb && memcmp(before, after, la) == 0, "the stored sign-in is unchanged");
	free(before);
	free(after);

	/* --json: no token on stdout, the refusal as an error object of class
	 * access-policy, the same message on stderr */
	run_as(&r, NULL, NULL, NULL, ARGS("token", "--json", "--user", "alice"));
	CHECK_INT(r.exit, 7);
	CHECK_MSG(strstr(r.out, "\"class\": \"access-policy\"") &&
	              strstr(r.out, "\"exit_code\": 7") && !strstr(r.out, "access_token"),
	          "%s", r.out);
	CHECK(strstr(r.err, "alice is not in any group allowed to log in to this host"));

	/* back in the group: the token again, no new sign-in needed */
	CHECK_INT(ts_idp_set_claims(&idp, "alice", "{\"groups\":[\"linux-admins\"]}", NULL), 0);
	run_as(&r, NULL, NULL, NULL, ARGS("token", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	ts_leak_remember(r.out);
}

/* doctor: empty allow lists on a host where unknown names resolve is
 * worth a warning; a group policy without a usable groups_claim fails. */
static void test_doctor_policy(void)
{
	char open_cfg[800], bad_cfg[800], extra[1600];
	struct run r;

	run_as(&r, NULL, NULL, NULL, ARGS("doctor"));
	CHECK_MSG(strstr(r.out, "ok    access-policy "), "policy set: ok\n%s", r.out);

	snprintf(open_cfg, sizeof(open_cfg), "%s/open.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "broker_path = %s/broker-wrapper\nnss_resolve_unknown = [a-z]+\n",
	         ts_test_tmpdir());
	CHECK_INT(ts_idp_write_config(&idp, open_cfg, "conf", extra), 0);
	cli_run_init(cli_bin, open_cfg);
	run_as(&r, NULL, NULL, NULL, ARGS("doctor"));
	CHECK_MSG(strstr(r.out, "warn  access-policy ") &&
	              strstr(r.out, "allow_users and allow_groups are empty while "
	                            "nss_resolve_unknown is set"),
	          "warned\n%s", r.out);

	snprintf(bad_cfg, sizeof(bad_cfg), "%s/bad.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "broker_path = %s/broker-wrapper\nallow_groups = admins\ngroups_claim = a..b\n",
	         ts_test_tmpdir());
	CHECK_INT(ts_idp_write_config(&idp, bad_cfg, "conf", extra), 0);
	cli_run_init(cli_bin, bad_cfg);
	run_as(&r, NULL, NULL, NULL, ARGS("doctor"));
	/* the file itself is refused when it loads, naming the key */
	CHECK_MSG(strstr(r.out, "fail  config ") &&
	              strstr(r.out, "groups_claim 'a..b' is not a claim name or a dotted path"),
	          "failed\n%s", r.out);
	cli_run_init(cli_bin, cfg);
}

int main(int argc, char **argv)
{
	char extra[1600], wrapper[800];
	FILE *f;

	if (argc != 3)
		TS_SKIP("usage: test_cli_policy TOKENSEAL TOKENSEAL-BROKER");
	if (geteuid() != 0)
		TS_SKIP("needs root (the CLI runs the broker in exec mode)");
	if (!getpwnam("alice"))
		TS_SKIP("needs the local user alice (scripts/test creates it)");
	CHECK_INT(ts_idp_start(&idp, 0), 0);
	snprintf(cfg, sizeof(cfg), "%s/tokenseal.conf", idp.dir);
	snprintf(wrapper, sizeof(wrapper), "%s/broker-wrapper", ts_test_tmpdir());
	snprintf(broker_log, sizeof(broker_log), "%s/broker.log", ts_test_tmpdir());
	f = fopen(wrapper, "w");
	CHECK(f);
	fprintf(f, "#!/bin/sh\nexec '%s' --debug \"$@\" 2>>'%s'\n", argv[2], broker_log);
	CHECK(fclose(f) == 0);
	CHECK(chmod(wrapper, 0755) == 0);
	/* the command is no PAM service: the top level's policy applies */
	snprintf(extra, sizeof(extra),
	         "broker_path = %s\nlogin_methods = password\nrevalidate = introspection\n"
	         "allow_groups = linux-admins\n",
	         wrapper);
	CHECK_INT(ts_idp_write_config(&idp, cfg, "conf", extra), 0);
	snprintf(cli_bin, sizeof(cli_bin), "%s", argv[1]);
	cli_run_init(cli_bin, cfg);

	RUN(test_token_policy);
	RUN(test_doctor_policy);
	ts_leak_scan_file("the broker's log", broker_log);
	return ts_test_done();
}
