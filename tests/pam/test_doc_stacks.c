/* SPDX-License-Identifier: MIT */
/*
 * One documented PAM stack, run as printed: the driver
 * (tests/pam/doc_stacks.py) extracts it from docs/ or docs/man/ (or builds
 * common-* from the shipped pam-auth-update profile with pam-auth-update
 * itself), puts it in a pam_wrapper service folder with pam_matrix.so in
 * place of pam_unix.so, and runs this program once per stack under
 * pam_wrapper, with the real libpam, the built pam_tokenseal.so, the real
 * tokenseal-broker and the real test IdP (tests/fixtures/idp).
 *
 * It asserts what the marker next to the stack promises for each of:
 *   root   (uid 0; pam_matrix password root-mx-pw):
 *          "password": in with the password (auth, account, open and close
 *          session), never shown a device login; a wrong password refused.
 *          The driver accepts no other promise for root. nobody (uid
 *          65534, above max_uid; password nobody-mx-pw) is held to the same.
 *   carol  (a local user in min_uid..max_uid with no tokenseal record;
 *          pam_matrix password carol-mx-pw; a device login offered to her
 *          is declined at the IdP):
 *          "password": in with her password, a wrong one refused;
 *          "refused": refused even with her password.
 *   alice  (an identity-provider user; her pam_matrix password is one she
 *          does not know: every prompt is answered "alice-wrong"):
 *          "device": in through tokenseal's device login (approved at the
 *          IdP), a record stored, account and session pass; a declined
 *          device login is refused; once her grant is revoked at the IdP,
 *          account refuses her;
 *          "stored": sudo's shape (real uid alice, no PAM_RHOST) gets in on
 *          the stored tokens (seeded first by a device login through the
 *          service ts-seed) with no prompt and no device login.
 *
 * Then, for every stack, with the IdP stopped: root and carol "password"
 * again (local passwords keep working while the server is unreachable).
 *
 * argv: tokenseal-broker SERVICE PROMISES REMOTE
 *   PROMISES: "root=password carol=password alice=device"
 *   REMOTE:   "remote" (PAM_RHOST set, as sshd does) or "local"
 * Environment (set by the driver): pam_wrapper with the service folder,
 * TS_DOC_STACK_CONF (the config the stack's module lines name; written here).
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "pam_harness.h"
#include "ts_test.h"

static const char *service;
static bool remote;

static const char *promise_of(const char *promises, const char *user)
{
	static char out[32];
	char key[40];
	const char *p;
	size_t n;

	snprintf(key, sizeof(key), "%s=", user);
	p = strstr(promises, key);
	CHECK_MSG(p, "the stack's marker names %s (%s)", user, promises);
	if (!p)
		return "";
	p += strlen(key);
	n = strcspn(p, " ,");
	if (n >= sizeof(out))
		n = sizeof(out) - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

static const char *rv_name(int rv)
{
	return rv < 0 ? "(not run)" : pam_strerror(NULL, rv);
}

/* auth, account, open and close session in one transaction, as the
 * application does; returns the slot. */
static struct ph_slot *login(const char *user, const struct ph_conv_spec *spec, size_t slot_i)
{
	static const struct ph_step steps[] = {
	    {PH_AUTH, 0}, {PH_ACCOUNT, 0}, {PH_OPEN, 0}, {PH_CLOSE, 0}};
	struct ph_slot *s = ph_slot(slot_i);

	ph_steps(service, user, steps, 4, spec, s);
	return s;
}

static int auth_only(const char *user, const struct ph_conv_spec *spec, size_t slot_i)
{
	static const struct ph_step steps[] = {{PH_AUTH, 0}};

	return ph_steps(service, user, steps, 1, spec, ph_slot(slot_i));
}

static void check_all_pass(const struct ph_slot *s, const char *who)
{
	static const char *const names[] = {"auth", "account", "open_session", "close_session"};

	for (size_t i = 0; i < 4; i++)
		CHECK_MSG(s->rv[i] == PAM_SUCCESS, "%s: %s %s: %s (the text promises a login)",
		          service, who, names[i], rv_name(s->rv[i]));
}

/* root and carol with "password" */
static void password_user(const char *user, const char *pw, bool decline_device)
{
	struct ph_conv_spec right = {.answer = pw, .no_rhost = !remote};
	struct ph_conv_spec wrong = {.answer = "not-the-password", .no_rhost = !remote};
	struct ph_slot *s;
	int rv;

	if (decline_device) {
		right.approve_login = wrong.approve_login = user;
		right.approve_pw = wrong.approve_pw = "carol-pw";
		right.deny = wrong.deny = 1;
	}
	s = login(user, &right, 0);
	check_all_pass(s, user);
	CHECK_MSG(s->prompts >= 1, "%s: %s was asked for the password (pam_matrix decided)",
	          service, user);
	if (!decline_device)
		CHECK_MSG(!s->code[0], "%s: %s was never shown a device login (code %s)", service,
		          user, s->code);
	rv = auth_only(user, &wrong, 1);
	CHECK_MSG(rv != PAM_SUCCESS, "%s: %s with a wrong password is refused (got %s)", service,
	          user, rv_name(rv));
}

static void carol_refused(void)
{
	struct ph_conv_spec spec = {.answer = "carol-mx-pw",
	                            .no_rhost = !remote,
	                            .approve_login = "carol",
	                            .approve_pw = "carol-pw",
	                            .deny = 1};
	int rv = auth_only("carol", &spec, 0);

	CHECK_MSG(rv != PAM_SUCCESS,
	          "%s: carol is refused even with her local password, as the text says (got %s)",
	          service, rv_name(rv));
	CHECK_MSG(ph_slot(0)->prompts == 0, "%s: carol's password was never asked (%u prompts)",
	          service, ph_slot(0)->prompts);
}

static void alice_device(void)
{
	struct ph_conv_spec approve = {.approve_login = "alice",
	                               .approve_pw = "alice-pw",
	                               .answer = "alice-wrong",
	                               .no_rhost = !remote};
	struct ph_conv_spec decline = approve;
	static const struct ph_step acct[] = {{PH_ACCOUNT, 0}};
	struct ph_slot *s;
	int rv;

	decline.deny = 1;
	rv = auth_only("alice", &decline, 1);
	CHECK_MSG(rv != PAM_SUCCESS,
	          "%s: alice's declined device login is refused, her unknown local password "
	          "does not let her in (got %s)",
	          service, rv_name(rv));
	CHECK_MSG(ph_slot(1)->code[0], "%s: alice was shown a device login", service);
	CHECK_MSG(!ph_has_record("alice"), "%s: a declined login stored nothing", service);

	s = login("alice", &approve, 0);
	check_all_pass(s, "alice");
	CHECK_MSG(s->code[0], "%s: alice signed in with the device login", service);
	CHECK_MSG(ph_has_record("alice"), "%s: alice's record was stored", service);

	/* account asks the server on each use: a revoked grant is refused */
	CHECK_INT(ts_idp_ctl(&ph_idp, "revoke-grant", "alice"), 0);
	rv = ph_steps(service, "alice", acct, 1, &approve, ph_slot(1));
	CHECK_MSG(rv != PAM_SUCCESS, "%s: account refuses alice once her grant is revoked (got %s)",
	          service, rv_name(rv));
}

static void alice_stored(void)
{
	static const struct ph_step seed[] = {{PH_AUTH, 0}};
	static const struct ph_step steps[] = {{PH_AUTH, 0}, {PH_ACCOUNT, 0}};
	struct ph_conv_spec seed_spec = {.approve_login = "alice", .approve_pw = "alice-pw"};
	struct ph_conv_spec sudo = {.ruid_user = "alice", .no_rhost = true};
	struct ph_slot *s = ph_slot(0);

	/* her login (sshd's shape) stores the record sudo uses */
	CHECK_INT(ph_steps("ts-seed", "alice", seed, 1, &seed_spec, ph_slot(1)), PAM_SUCCESS);
	CHECK_MSG(ph_has_record("alice"), "the seeding login stored alice's record");

	ph_steps(service, "alice", steps, 2, &sudo, s);
	CHECK_MSG(s->rv[0] == PAM_SUCCESS && s->rv[1] == PAM_SUCCESS,
	          "%s: alice (sudo's shape) gets in on the stored tokens (auth %s, account %s)",
	          service, rv_name(s->rv[0]), rv_name(s->rv[1]));
	CHECK_MSG(s->prompts == 0 && !s->code[0],
	          "%s: no prompt and no device login for alice (%u prompts, code %s)", service,
	          s->prompts, s->code);
}

int main(int argc, char **argv)
{
	const char *conf = getenv("TS_DOC_STACK_CONF");
	const char *promises, *p;
	char extra[2400], sock[700];

	if (argc < 5)
		TS_SKIP("usage: test_doc_stacks BROKER SERVICE PROMISES remote|local "
		        "(run by tests/pam/doc_stacks.py)");
	if (!getenv("PAM_WRAPPER") || !conf)
		TS_SKIP("needs pam_wrapper and TS_DOC_STACK_CONF: run by tests/pam/doc_stacks.py");
	ph_require("(the IdP's device approval)");
	service = argv[2];
	promises = argv[3];
	remote = strcmp(argv[4], "remote") == 0;

	ph_setup(argv[1], 4);
	ph_socket(conf, sock, sizeof(sock));
	snprintf(extra, sizeof(extra),
	         "broker_path = %s\nsocket_path = %s\nlogin_methods = device\n"
	         "[service sudo]\nauth_with_stored_token = yes\n",
	         ph_wrapper, sock);
	CHECK_MSG(ts_idp_write_config(&ph_idp, conf, "conf", extra) == 0, "write %s", conf);
	ph_serve(conf);

	fprintf(stderr, "stack %s: %s (%s)\n", service, promises, remote ? "remote" : "local");
	p = promise_of(promises, "root");
	CHECK_MSG(strcmp(p, "password") == 0, "root=password is the only promise for root (%s)", p);
	password_user("root", "root-mx-pw", false);
	/* the promise for root holds for every account tokenseal does not
	 * serve: nobody (uid 65534, above max_uid) too */
	CHECK_MSG(getpwnam("nobody") != NULL, "the system account nobody exists");
	password_user("nobody", "nobody-mx-pw", false);

	p = promise_of(promises, "carol");
	if (strcmp(p, "password") == 0)
		password_user("carol", "carol-mx-pw", true);
	else if (strcmp(p, "refused") == 0)
		carol_refused();
	else
		CHECK_MSG(false, "carol=%s: not a promise this test knows", p);

	p = promise_of(promises, "alice");
	if (strcmp(p, "device") == 0)
		alice_device();
	else if (strcmp(p, "stored") == 0)
		alice_stored();
	else
		CHECK_MSG(false, "alice=%s: not a promise this test knows", p);

	/* every documented stack: while the identity server is unreachable,
	 * local passwords keep working (root's and carol's; on the console
	 * stack through authinfo_unavail=ignore) */
	fprintf(stderr, "stack %s: the identity server stopped\n", service);
	ts_idp_stop(&ph_idp);
	password_user("root", "root-mx-pw", false);
	password_user("carol", "carol-mx-pw", true);
	return ts_test_done();
}
