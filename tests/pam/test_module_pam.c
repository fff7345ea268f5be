/* SPDX-License-Identifier: MIT */
/*
 * The real pam_tokenseal.so driven through libpam under pam_wrapper (no
 * root, service files generated in the build tree), against a broker path
 * that does not exist and against ts_proto_test_peer (tests/unit/
 * fake_peer.c, a protocol test peer, not the broker): the conversation relay
 * end to end, the non-interactive flag, and the result -> PAM code mapping
 * as the module applies it.
 *
 * Environment (set by CTest): LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1
 * PAM_WRAPPER_SERVICE_DIR=<build>/tests/pam/services TS_PAM_CONF_DIR=<dir of
 * the generated configs>.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include <sys/stat.h>

#include "ts_test.h"

#ifndef TS_PEER_PATH
#error "TS_PEER_PATH must name the protocol test peer"
#endif

struct conv_rec {
	char log[8192];
	const char *answers[4];
	size_t n_answers, next;
};

static void rec_append(struct conv_rec *r, const char *kind, const char *text)
{
	size_t used = strlen(r->log);
	snprintf(r->log + used, sizeof(r->log) - used, "%s:%s\n", kind, text ? text : "(null)");
}

static int conv_fn(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct conv_rec *r = data;
	struct pam_response *out = calloc((size_t)n, sizeof(*out));

	if (!out)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_TEXT_INFO:
			rec_append(r, "info", msg[i]->msg);
			break;
		case PAM_ERROR_MSG:
			rec_append(r, "error", msg[i]->msg);
			break;
		case PAM_PROMPT_ECHO_ON:
		case PAM_PROMPT_ECHO_OFF:
			rec_append(r,
			           msg[i]->msg_style == PAM_PROMPT_ECHO_ON ? "echo-on" : "echo-off",
			           msg[i]->msg);
			if (r->next >= r->n_answers) {
				free(out);
				return PAM_CONV_ERR;
			}
			out[i].resp = strdup(r->answers[r->next++]);
			break;
		default:
			break;
		}
	}
	*resp = out;
	return PAM_SUCCESS;
}

static const char *conf_dir(void)
{
	const char *d = getenv("TS_PAM_CONF_DIR");
	if (!d)
		TS_SKIP("TS_PAM_CONF_DIR not set: run through CTest");
	return d;
}

/* The peer reads its script from "<config>.peer". */
static void set_script(const char *conf, const char *script)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s.peer", conf_dir(), conf);
	ts_test_write_file(path, script, strlen(script), 0644);
}

enum op { AUTH, ACCOUNT, OPEN, CLOSE };

/* The generated stacks send PAM_IGNORE on to pam_deny, whose code tells an
 * ignore apart from the module's own refusals. */
#define IGNORED_ACCOUNT PAM_AUTH_ERR
#define IGNORED_SESSION PAM_SESSION_ERR

static int do_op(pam_handle_t *ph, enum op op, int flags)
{
	switch (op) {
	case AUTH:
		return pam_authenticate(ph, flags);
	case ACCOUNT:
		return pam_acct_mgmt(ph, flags);
	case OPEN:
		return pam_open_session(ph, flags);
	case CLOSE:
		return pam_close_session(ph, flags);
	}
	return -1;
}

/* One transaction with one operation; stderr (pam_wrapper prints the
 * module's pam_syslog lines there) captured into errbuf when given. */
static int run1(const char *service, enum op op, int flags, struct conv_rec *rec, char *errbuf,
                size_t errlen)
{
	struct pam_conv conv = {conv_fn, rec};
	pam_handle_t *ph = NULL;
	char errpath[1024];
	int saved = -1, rv;

	CHECK_INT(pam_start(service, "alice", &conv, &ph), PAM_SUCCESS);
	CHECK_INT(pam_set_item(ph, PAM_RHOST, "192.0.2.9"), PAM_SUCCESS);
	CHECK_INT(pam_set_item(ph, PAM_TTY, "ssh"), PAM_SUCCESS);
	if (errbuf) {
		snprintf(errpath, sizeof(errpath), "%s/stderr", ts_test_tmpdir());
		fflush(stderr);
		saved = dup(2);
		int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		CHECK(fd >= 0 && saved >= 0);
		CHECK(dup2(fd, 2) == 2);
		close(fd);
	}
	rv = do_op(ph, op, flags);
	pam_end(ph, rv);
	if (errbuf) {
		fflush(stderr);
		dup2(saved, 2);
		close(saved);
		size_t n;
		char *s = ts_test_read_file(errpath, &n);
		snprintf(errbuf, errlen, "%s", s);
		free(s);
		fprintf(stderr, "captured stderr:\n%s", errbuf);
	}
	return rv;
}

static void test_broker_missing(void)
{
	struct conv_rec rec = {0};
	char err[8192];

	CHECK_INT(run1("tokenseal-missing", AUTH, 0, &rec, err, sizeof(err)), PAM_AUTHINFO_UNAVAIL);
	/* the reason, for the admin: which broker, and why */
	CHECK_MSG(strstr(err, "auth: refusing to run the broker /nonexistent/tokenseal-broker: "
	                      "/nonexistent: does not exist") != NULL,
	          "no clear reason in the log: %s", err);
	/* the unknown option in the service file is warned about and ignored */
	CHECK(strstr(err, "unknown option \"bogus_option\", ignoring") != NULL);
	CHECK_INT(run1("tokenseal-missing", ACCOUNT, 0, &rec, NULL, 0), PAM_SYSTEM_ERR);
	CHECK_INT(run1("tokenseal-missing", OPEN, 0, &rec, NULL, 0), PAM_SYSTEM_ERR);
	CHECK_STR(rec.log, ""); /* nothing shown to the user */
}

/* Root never executes a broker_path that someone else could replace: the
 * module refuses with a log line naming the path and the component, and the
 * configuration-error code (auth: PAM_AUTHINFO_UNAVAIL, else PAM_SYSTEM_ERR). */
static void test_broker_unsafe_path(void)
{
	char dir[600], broker[700], conf[1024], text[2400], err[8192], want[1400];
	struct conv_rec rec = {0};
	char *peer;
	size_t n;

	snprintf(dir, sizeof(dir), "%s/gw", ts_test_tmpdir());
	CHECK_INT(mkdir(dir, 0700), 0);
	CHECK_INT(chmod(dir, 0775), 0);
	snprintf(broker, sizeof(broker), "%s/tokenseal-broker", dir);
	peer = ts_test_read_file(TS_PEER_PATH, &n);
	ts_test_write_file(broker, peer, n, 0755);
	free(peer);
	snprintf(conf, sizeof(conf), "%s/dyn.conf", conf_dir());
	snprintf(text, sizeof(text), "broker_path = %s\nsocket_path = %s/no-daemon.sock\n", broker,
	         dir);
	ts_test_write_file(conf, text, strlen(text), 0644);
	snprintf(text, sizeof(text), "%s.peer", conf);
	ts_test_write_file(text, "type", 4, 0644); /* the peer would answer with the request */

	CHECK_INT(run1("tokenseal-dyn", AUTH, 0, &rec, err, sizeof(err)), PAM_AUTHINFO_UNAVAIL);
	snprintf(want, sizeof(want),
	         "auth: refusing to run the broker %s: %s: group- or world-writable (mode 0775)",
	         broker, dir);
	CHECK_MSG(strstr(err, want) != NULL, "no '%s' in the log", want);
	CHECK_INT(run1("tokenseal-dyn", ACCOUNT, 0, &rec, err, sizeof(err)), PAM_SYSTEM_ERR);
	snprintf(want, sizeof(want), "account: refusing to run the broker %s: %s:", broker, dir);
	CHECK_MSG(strstr(err, want) != NULL, "no '%s' in the log", want);
	CHECK_STR(rec.log, ""); /* the peer never ran: it would have said something */

	/* the same program in a safe folder runs */
	CHECK_INT(chmod(dir, 0755), 0);
	CHECK_INT(run1("tokenseal-dyn", AUTH, 0, &rec, NULL, 0), PAM_AUTH_ERR);
	CHECK_STR(rec.log, "error:type=1 user=alice service=tokenseal-dyn flags=0\n");
}

/* The frame timeout covers device_timeout: a device login sends nothing
 * while it waits for approval, and the client must not give up first. */
static void test_frame_timeout(void)
{
	char conf[1024], text[1200], err[8192];
	struct conv_rec rec = {0};
	char want[1400];

	snprintf(conf, sizeof(conf), "%s/dyn.conf", conf_dir());
	snprintf(text, sizeof(text),
	         "broker_path = %s\ndevice_timeout = 900\ndebug = yes\nsocket_path = %s/no.sock\n",
	         TS_PEER_PATH, conf_dir());
	ts_test_write_file(conf, text, strlen(text), 0644);
	snprintf(text, sizeof(text), "%s.peer", conf);
	ts_test_write_file(text, "slow:1500", 9, 0644);
	CHECK_INT(run1("tokenseal-dyn", AUTH, 0, &rec, err, sizeof(err)), PAM_SUCCESS);
	snprintf(want, sizeof(want),
	         "auth: user alice service tokenseal-dyn: asking %s/no.sock, else " TS_PEER_PATH
	         " (flags 8, frame timeout 930 s)",
	         conf_dir());
	CHECK_MSG(strstr(err, want) != NULL, "the module waits device_timeout + 30 s for a frame");
	/* debug says which way the request was served, and why not the daemon */
	snprintf(want, sizeof(want),
	         "auth: served by exec mode (" TS_PEER_PATH "); daemon not used: %s/no.sock: "
	         "No such file or directory",
	         conf_dir());
	CHECK_MSG(strstr(err, want) != NULL, "no '%s' in the log", want);
	/* the default device_timeout (110 s) keeps the protocol's 180 s */
	snprintf(text, sizeof(text), "broker_path = %s\ndebug = yes\nsocket_path = %s/no.sock\n",
	         TS_PEER_PATH, conf_dir());
	ts_test_write_file(conf, text, strlen(text), 0644);
	CHECK_INT(run1("tokenseal-dyn", AUTH, 0, &rec, err, sizeof(err)), PAM_SUCCESS);
	CHECK_MSG(strstr(err, "(flags 8, frame timeout 180 s)") != NULL, "180 s by default");
}

static void test_relay(void)
{
	struct conv_rec rec = {.answers = {"c0de", "pw"}, .n_answers = 2};

	set_script("peer.conf", "relay");
	CHECK_INT(run1("tokenseal-peer", AUTH, 0, &rec, NULL, 0), PAM_SUCCESS);
	CHECK_STR(rec.log, "info:request type=1 user=alice service=tokenseal-peer flags=0 "
	                   "rhost=192.0.2.9 tty=ssh method=\n"
	                   "error:an error line\n"
	                   "echo-on:Code: \n"
	                   "echo-off:Password: \n"
	                   "info:answers: c0de|pw\n");
	CHECK_INT(rec.next, 2);

	/* PAM_SILENT: nothing shown, the prompts still asked, the flag sent */
	struct conv_rec quiet = {.answers = {"a", "b"}, .n_answers = 2};
	CHECK_INT(run1("tokenseal-peer", AUTH, PAM_SILENT, &quiet, NULL, 0), PAM_SUCCESS);
	CHECK_STR(quiet.log, "echo-on:Code: \necho-off:Password: \n");

	/* a conversation that fails: the peer gets an ANSWER without value */
	struct conv_rec none = {0};
	set_script("peer.conf", "noninteractive");
	CHECK_INT(run1("tokenseal-peer", AUTH, 0, &none, NULL, 0), PAM_AUTH_ERR);
	CHECK(strstr(none.log, "echo-on:Code: ") != NULL);
}

static void test_noninteractive(void)
{
	struct conv_rec rec = {.answers = {"never"}, .n_answers = 1};

	set_script("peer.conf", "noninteractive");
	/* from the process environment */
	CHECK_INT(setenv("TOKENSEAL_NONINTERACTIVE", "1", 1), 0);
	CHECK_INT(run1("tokenseal-peer", AUTH, 0, &rec, NULL, 0), PAM_AUTH_ERR);
	CHECK_INT(unsetenv("TOKENSEAL_NONINTERACTIVE"), 0);
	CHECK(strstr(rec.log, "flags=1\n") != NULL); /* TS_FLAG_NONINTERACTIVE */
	CHECK(strstr(rec.log, "echo-on") == NULL);   /* never asked */
	/* the broker's reason is shown */
	CHECK(strstr(rec.log, "error:interaction required but not possible\n") != NULL);
	CHECK_INT(rec.next, 0);

	/* from the PAM environment */
	struct conv_rec rec2 = {.answers = {"never"}, .n_answers = 1};
	struct pam_conv conv = {conv_fn, &rec2};
	pam_handle_t *ph = NULL;
	CHECK_INT(pam_start("tokenseal-peer", "alice", &conv, &ph), PAM_SUCCESS);
	CHECK_INT(pam_putenv(ph, "TOKENSEAL_NONINTERACTIVE=yes"), PAM_SUCCESS);
	CHECK_INT(pam_authenticate(ph, 0), PAM_AUTH_ERR);
	pam_end(ph, PAM_SUCCESS);
	CHECK(strstr(rec2.log, "flags=1\n") != NULL);
	CHECK_INT(rec2.next, 0);

	/* and without either, the same peer gets an answer */
	struct conv_rec rec3 = {.answers = {"yes-asked"}, .n_answers = 1};
	CHECK_INT(run1("tokenseal-peer", AUTH, 0, &rec3, NULL, 0), PAM_SUCCESS);
	CHECK(strstr(rec3.log, "flags=0\n") != NULL);
	CHECK_INT(rec3.next, 1);
}

static void test_requests_per_phase(void)
{
	static const struct {
		enum op op;
		const char *want;
	} cases[] = {
	    {ACCOUNT, "error:type=2 user=alice service=tokenseal-peer flags=0\n"},
	    {OPEN, "error:type=3 user=alice service=tokenseal-peer flags=0\n"},
	    {CLOSE, "error:type=4 user=alice service=tokenseal-peer flags=0\n"},
	};
	set_script("peer.conf", "type"); /* answers TS_E_NEEDS_LOGIN + the request */
	for (size_t i = 0; i < TS_ARRAY_SIZE(cases); i++) {
		struct conv_rec rec = {0};
		CHECK_INT(run1("tokenseal-peer", cases[i].op, 0, &rec, NULL, 0), PAM_PERM_DENIED);
		CHECK_STR(rec.log, cases[i].want);
	}
	/* auth: needs-login is PAM_AUTH_ERR; PAM_SILENT hides the message and
	 * is passed on as TS_FLAG_SILENT (4) */
	struct conv_rec rec = {0};
	CHECK_INT(run1("tokenseal-peer", AUTH, 0, &rec, NULL, 0), PAM_AUTH_ERR);
	CHECK_STR(rec.log, "error:type=1 user=alice service=tokenseal-peer flags=0\n");
	struct conv_rec quiet = {0};
	CHECK_INT(run1("tokenseal-peer", ACCOUNT, PAM_SILENT, &quiet, NULL, 0), PAM_PERM_DENIED);
	CHECK_STR(quiet.log, "");
	/* service=NAME overrides PAM_SERVICE */
	struct conv_rec svc = {0};
	set_script("svc.conf", "type");
	CHECK_INT(run1("tokenseal-svc", ACCOUNT, 0, &svc, NULL, 0), PAM_PERM_DENIED);
	CHECK_STR(svc.log, "error:type=2 user=alice service=sudo-i flags=8\n"); /* debug */
}

static void test_result_mapping(void)
{
	static const struct {
		const char *script;
		enum op op;
		int want;
	} cases[] = {
	    {"result:0", AUTH, PAM_SUCCESS},
	    {"result:0", ACCOUNT, PAM_SUCCESS},
	    {"result:-1043", AUTH, PAM_AUTHINFO_UNAVAIL}, /* unavailable */
	    {"result:-1043", ACCOUNT, PAM_AUTHINFO_UNAVAIL},
	    {"result:-1046", AUTH, PAM_MAXTRIES}, /* denied */
	    {"result:-1047", AUTH, PAM_AUTH_ERR}, /* expired */
	    {"result:-1048", AUTH, PAM_AUTH_ERR}, /* identity mismatch */
	    {"result:-1048", ACCOUNT, PAM_PERM_DENIED},
	    {"result:-1050", ACCOUNT, IGNORED_ACCOUNT}, /* no record */
	    {"result:-1050", OPEN, IGNORED_SESSION},
	    {"result:-1020", AUTH, PAM_AUTHINFO_UNAVAIL}, /* config */
	    {"result:-1020", ACCOUNT, PAM_SYSTEM_ERR},
	    {"result:-1001", ACCOUNT, PAM_AUTHINFO_UNAVAIL}, /* keystore */
	};
	for (size_t i = 0; i < TS_ARRAY_SIZE(cases); i++) {
		struct conv_rec rec = {0};
		set_script("peer.conf", cases[i].script);
		CHECK_MSG(run1("tokenseal-peer", cases[i].op, 0, &rec, NULL, 0) == cases[i].want,
		          "%s in op %d: not %d", cases[i].script, (int)cases[i].op, cases[i].want);
	}
	/* require_token = yes: no record is a refusal */
	struct conv_rec rec = {0};
	set_script("req.conf", "result:-1050");
	CHECK_INT(run1("tokenseal-req", ACCOUNT, 0, &rec, NULL, 0), PAM_PERM_DENIED);
	CHECK_STR(rec.log, "error:peer says -1050\n");
}

/* A user without a record: account says so once; the session phases of the
 * same transaction do not run the broker again (pam_set_data cache). */
static void test_no_record_cache(void)
{
	struct conv_rec rec = {0};
	struct pam_conv conv = {conv_fn, &rec};
	pam_handle_t *ph = NULL;

	set_script("peer.conf", "result:-1050");
	CHECK_INT(pam_start("tokenseal-peer", "alice", &conv, &ph), PAM_SUCCESS);
	CHECK_INT(pam_acct_mgmt(ph, 0), IGNORED_ACCOUNT);
	set_script("peer.conf", "result:-1041"); /* would be PAM_PERM_DENIED if asked */
	CHECK_INT(pam_open_session(ph, 0), IGNORED_SESSION);
	CHECK_INT(pam_close_session(ph, 0), IGNORED_SESSION);
	/* a successful auth in the transaction clears the cache */
	set_script("peer.conf", "result:0");
	CHECK_INT(pam_authenticate(ph, 0), PAM_SUCCESS);
	set_script("peer.conf", "result:-1041");
	CHECK_INT(pam_open_session(ph, 0), PAM_PERM_DENIED);
	pam_end(ph, PAM_SUCCESS);
	/* another transaction starts clean */
	CHECK_INT(run1("tokenseal-peer", OPEN, 0, &rec, NULL, 0), PAM_PERM_DENIED);
}

/* The no-record cache answers as the broker's answer did: with
 * require_token = yes a second pam_acct_mgmt in the transaction is
 * PAM_PERM_DENIED like the first (issue 15 §5), without asking again. */
static void test_no_record_cache_require_token(void)
{
	struct conv_rec rec = {0};
	struct pam_conv conv = {conv_fn, &rec};
	pam_handle_t *ph = NULL;

	set_script("req.conf", "result:-1050");
	CHECK_INT(pam_start("tokenseal-req", "alice", &conv, &ph), PAM_SUCCESS);
	CHECK_INT(pam_acct_mgmt(ph, 0), PAM_PERM_DENIED);
	set_script("req.conf", "result:0"); /* would be PAM_SUCCESS if asked */
	CHECK_INT(pam_acct_mgmt(ph, 0), PAM_PERM_DENIED);
	CHECK_INT(pam_open_session(ph, 0), PAM_PERM_DENIED);
	pam_end(ph, PAM_SUCCESS);
	CHECK_STR(rec.log, "error:peer says -1050\n"); /* asked once */
}

/* sshd's call order with tokenseal as the only auth module: setcred must
 * succeed for the user (PAM_IGNORE from the only module is PAM_PERM_DENIED
 * for the stack, and sshd drops the login). sshd runs keyboard-interactive
 * authentication in a child process, so the parent's pam_setcred sees none
 * of the PAM data the module set there: setcred must not depend on it. It
 * grants nothing, so it answers for who the user is, like pam_unix:
 * success for a local user at or above min_uid, ignore for root, system
 * accounts and unknown names; the broker is never asked. */
static void test_setcred_sshd_order(void)
{
	struct conv_rec rec = {0};
	struct pam_conv conv = {conv_fn, &rec};
	pam_handle_t *ph = NULL;

	set_script("peer.conf", "result:0");
	CHECK_INT(pam_start("tokenseal-only", "alice", &conv, &ph), PAM_SUCCESS);
	CHECK_INT(pam_set_item(ph, PAM_RHOST, "192.0.2.9"), PAM_SUCCESS);
	CHECK_INT(pam_authenticate(ph, 0), PAM_SUCCESS);
	CHECK_INT(pam_acct_mgmt(ph, 0), PAM_SUCCESS);
	CHECK_INT(pam_setcred(ph, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	CHECK_INT(pam_open_session(ph, 0), PAM_SUCCESS);
	CHECK_INT(pam_close_session(ph, 0), PAM_SUCCESS);
	CHECK_INT(pam_setcred(ph, PAM_DELETE_CRED), PAM_SUCCESS);
	/* root and unknown names are not tokenseal's: ignored (here: denied) */
	CHECK_INT(pam_set_item(ph, PAM_USER, "root"), PAM_SUCCESS);
	CHECK_INT(pam_setcred(ph, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	CHECK_INT(pam_set_item(ph, PAM_USER, "no-such-user-ts"), PAM_SUCCESS);
	CHECK_INT(pam_setcred(ph, PAM_ESTABLISH_CRED), PAM_PERM_DENIED);
	pam_end(ph, PAM_SUCCESS);

	/* sshd's parent: authentication ran in another process, so this handle
	 * never saw pam_authenticate; setcred still succeeds, without a call */
	rec.log[0] = '\0';
	CHECK_INT(pam_start("tokenseal-only", "alice", &conv, &ph), PAM_SUCCESS);
	CHECK_INT(pam_set_item(ph, PAM_RHOST, "192.0.2.9"), PAM_SUCCESS);
	CHECK_INT(pam_setcred(ph, PAM_ESTABLISH_CRED), PAM_SUCCESS);
	pam_end(ph, PAM_SUCCESS);
	CHECK_STR(rec.log, ""); /* the broker was not asked */
}

static void test_setcred_chauthtok(void)
{
	struct conv_rec rec = {0};
	struct pam_conv conv = {conv_fn, &rec};
	pam_handle_t *ph = NULL;

	set_script("peer.conf", "result:-1041");
	CHECK_INT(pam_start("tokenseal-peer", "alice", &conv, &ph), PAM_SUCCESS);
	/* setcred answers for who alice is, without the broker */
	int rv = pam_setcred(ph, PAM_ESTABLISH_CRED);
	CHECK_INT(rv, PAM_SUCCESS);
	/* chauthtok: the only module in the stack ignores, libpam makes it an error */
	rv = pam_chauthtok(ph, 0);
	CHECK(rv != PAM_SUCCESS);
	pam_end(ph, PAM_SUCCESS);
	CHECK_STR(rec.log, ""); /* the broker was not asked */
}

int main(void)
{
	if (!getenv("PAM_WRAPPER") || !getenv("LD_PRELOAD") ||
	    !strstr(getenv("LD_PRELOAD"), "pam_wrapper"))
		TS_SKIP("needs pam_wrapper (LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1)");
	(void)conf_dir();
	RUN(test_broker_missing);
	RUN(test_broker_unsafe_path);
	RUN(test_frame_timeout);
	RUN(test_relay);
	RUN(test_noninteractive);
	RUN(test_requests_per_phase);
	RUN(test_result_mapping);
	RUN(test_no_record_cache);
	RUN(test_no_record_cache_require_token);
	RUN(test_setcred_sshd_order);
	RUN(test_setcred_chauthtok);
	return ts_test_done();
}
