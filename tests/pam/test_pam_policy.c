/* SPDX-License-Identifier: MIT */
/*
 * The access policy (issue 16) through libpam: the real pam_tokenseal.so
 * under pam_wrapper, the real tokenseal-broker and the real test IdP
 * (pam_harness). Per service: sshd for linux-users and linux-admins, sudo
 * for linux-admins only; a refusal is PAM_PERM_DENIED in the account phase
 * (PAM_AUTH_ERR at sign-in) with the reason shown to the user; a removal
 * at the server refuses the very next account phase, with no new sign-in;
 * groups the server does not tell refuse a deny list too.
 *
 * Needs root, the users alice, bob and carol, pam_wrapper and the IdP's
 * node_modules (SKIPPED otherwise).
 */
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pam_harness.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_test.h"

static const char *conf;

static int pam_op(const char *service, const char *user, enum ph_op op,
                  const struct ph_conv_spec *spec, struct ph_slot *ret)
{
	const struct ph_step step[] = {{op, 0}};
	struct ph_slot *slot = ph_slot(0);
	int rv = ph_steps(service, user, step, 1, spec, slot);

	if (ret)
		*ret = *slot;
	return rv;
}

static void claims(const char *user, const char *json)
{
	CHECK_MSG(ts_idp_set_claims(&ph_idp, user, json, NULL) == 0, "set-claims %s", json);
}

static char *record(const char *user, size_t *len)
{
	char path[900];

	ph_record_path(path, sizeof(path), user);
	return ts_test_read_file(path, len);
}

static void test_per_service(void)
{
	struct ph_conv_spec pw = {.answer = "alice-pw"};
	struct ph_slot s;

	claims("alice", "{\"groups\":[\"linux-users\"]}");
	CHECK_INT(pam_op("tsp-sshd", "alice", PH_AUTH, &pw, &s), PAM_SUCCESS);
	CHECK_INT(pam_op("tsp-sshd", "alice", PH_ACCOUNT, NULL, &s), PAM_SUCCESS);
	CHECK_INT(pam_op("tsp-sudo", "alice", PH_ACCOUNT, NULL, &s), PAM_PERM_DENIED);
	CHECK_MSG(strstr(s.conv, "alice is not in any group allowed to log in to this host "
	                         "(allow_groups = linux-admins)"),
	          "the user is told why: %s", s.conv);
	claims("alice", "{\"groups\":[\"linux-users\",\"linux-admins\"]}");
	CHECK_INT(pam_op("tsp-sudo", "alice", PH_ACCOUNT, NULL, &s), PAM_SUCCESS);
}

/* Dropped from linux-admins at the server: the very next sudo (account
 * phase) is refused; no refresh, no sign-in, the record untouched; ssh
 * still works. */
static void test_removed_at_server(void)
{
	struct ph_slot s;
	size_t lb = 0, la = 0;
	char *before, *after;
	long token;

	claims("alice", "{\"groups\":[\"linux-users\",\"linux-admins\"]}");
	CHECK_INT(pam_op("tsp-sudo", "alice", PH_ACCOUNT, NULL, &s), PAM_SUCCESS);
	before = record("alice", &lb);
	token = ts_idp_count(&ph_idp, "token");
	claims("alice", "{\"groups\":[\"linux-users\"]}");
	CHECK_INT(pam_op("tsp-sudo", "alice", PH_ACCOUNT, NULL, &s), PAM_PERM_DENIED);
	CHECK_INT(s.prompts, 0);
	CHECK_INT(ts_idp_count(&ph_idp, "token"), token);
	after = record("alice", &la);
	CHECK_MSG(la == lb && memcmp(before, after, la) == 0, "the record is untouched");
	CHECK_INT(pam_op("tsp-sshd", "alice", PH_ACCOUNT, NULL, &s), PAM_SUCCESS);
	free(before);
	free(after);
}

/* A sign-in the policy refuses: PAM_AUTH_ERR, the reason shown, nothing
 * stored. */
static void test_signin_refused(void)
{
	struct ph_conv_spec pw = {.answer = "carol-pw"};
	struct ph_slot s;

	claims("carol", "{\"groups\":[\"linux-users\"]}");
	CHECK_INT(pam_op("tsp-sudo", "carol", PH_AUTH, &pw, &s), PAM_AUTH_ERR);
	CHECK_MSG(strstr(s.conv, "carol is not in any group allowed to log in to this host"),
	          "the user is told why: %s", s.conv);
	CHECK_MSG(!ph_has_record("carol"), "nothing stored for carol");
}

/* deny_groups, and groups the server does not tell: refused too. */
static void test_deny_and_unknown(void)
{
	struct ph_slot s;

	claims("alice", "{\"groups\":[\"linux-users\",\"contractors\"]}");
	CHECK_INT(pam_op("tsp-deny", "alice", PH_ACCOUNT, NULL, &s), PAM_PERM_DENIED);
	CHECK_MSG(strstr(s.conv, "alice is in a denied group (deny_groups = contractors: "
	                         "contractors)"),
	          "the user is told why: %s", s.conv);
	claims("alice", "{\"roles\":[\"linux-users\"]}");
	CHECK_INT(pam_op("tsp-deny", "alice", PH_ACCOUNT, NULL, &s), PAM_PERM_DENIED);
	CHECK_MSG(strstr(s.conv, "alice's groups are unknown: the server's answer has no groups "
	                         "claim (groups_claim = groups)"),
	          "the user is told why: %s", s.conv);
	claims("alice", "{\"groups\":[\"linux-users\"]}");
	CHECK_INT(pam_op("tsp-deny", "alice", PH_ACCOUNT, NULL, &s), PAM_SUCCESS);
}

int main(int argc, char **argv)
{
	char extra[2400], sock[700];

	conf = getenv("TS_PAM_POLICY_CONF");
	if (argc < 2)
		TS_SKIP("usage: test_pam_policy PATH-TO-tokenseal-broker");
	if (!getenv("PAM_WRAPPER") || !conf)
		TS_SKIP("needs pam_wrapper and TS_PAM_POLICY_CONF: run through CTest");
	ph_require("(the harness checks it for every pam test)");
	ph_setup(argv[1], 1);
	ph_socket(conf, sock, sizeof(sock));
	snprintf(extra, sizeof(extra),
	         "broker_path = %s\nsocket_path = %s\nlogin_methods = password\n"
	         "revalidate = introspection\n"
	         "\n[service tsp-sshd]\nallow_groups = linux-users, linux-admins\n"
	         "\n[service tsp-sudo]\nallow_groups = linux-admins\n"
	         "\n[service tsp-deny]\ndeny_groups = contractors\n",
	         ph_wrapper, sock);
	CHECK_MSG(ts_idp_write_config(&ph_idp, conf, "conf", extra) == 0, "write %s", conf);
	ph_serve(conf);

	RUN(test_per_service);
	RUN(test_removed_at_server);
	RUN(test_signin_refused);
	RUN(test_deny_and_unknown);
	ts_leak_scan_file("the broker's log", ph_logfile);
	return ts_test_done();
}
