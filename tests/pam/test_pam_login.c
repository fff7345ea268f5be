/* SPDX-License-Identifier: MIT */
/*
 * End to end through libpam: the real pam_tokenseal.so (under pam_wrapper)
 * runs the real tokenseal-broker against the real test IdP
 * (tests/fixtures/idp). A device login shown through the PAM conversation
 * and approved by the test; account and session on the stored tokens; a
 * grant revoked at the server refused in account with the sign-in message;
 * a user without a record ignored; a non-interactive login failing fast.
 *
 * argv[1] = tokenseal-broker. Environment (CTest): pam_wrapper, with the
 * service "tokenseal-login" whose config is TS_PAM_LOGIN_CONF (written here).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "ts_daemon.h"
#include "ts_idp.h"
#include "ts_mem.h"
#include "ts_leak.h"
#include "ts_test.h"

/* The generated stack sends PAM_IGNORE on to pam_deny. */
#define IGNORED_ACCOUNT PAM_AUTH_ERR

static struct ts_idp idp;
static char logfile[700];

struct conv_rec {
	char log[16384];
	const char *login, *password; /* who approves the device code */
	char code[64];
	pid_t approver;
	unsigned prompts;
};

static void note(struct conv_rec *r, const char *kind, const char *text)
{
	size_t used = strlen(r->log);
	snprintf(r->log + used, sizeof(r->log) - used, "%s:%s\n", kind, text);
}

/* On the device-login text, approve the code at the IdP from a child, as
 * the user would in a browser while the broker polls. */
static void maybe_approve(struct conv_rec *r, const char *text)
{
	const char *p = strstr(text, "enter the code ");
	size_t n;

	if (!p || r->code[0] || !r->login)
		return;
	p += strlen("enter the code ");
	n = strcspn(p, " \n");
	if (n == 0 || n >= sizeof(r->code))
		return;
	memcpy(r->code, p, n);
	r->code[n] = '\0';
	r->approver = fork();
	if (r->approver == 0) {
		sleep(1);
		_exit(ts_idp_approve_device(&idp, r->code, r->login, r->password, 0) == 0 ? 0 : 1);
	}
}

static void approver_wait(struct conv_rec *r);

static int conv_fn(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct conv_rec *r = data;
	struct pam_response *out = calloc((size_t)n, sizeof(*out));

	if (!out)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_TEXT_INFO:
			note(r, "info", msg[i]->msg);
			maybe_approve(r, msg[i]->msg);
			break;
		case PAM_ERROR_MSG:
			note(r, "error", msg[i]->msg);
			maybe_approve(r, msg[i]->msg);
			break;
		default:
			/* the device text as a question (a remote login: sshd's
			 * keyboard-interactive holds INFO back): approve, then Enter */
			if (strstr(msg[i]->msg, "enter the code ") &&
			    strstr(msg[i]->msg, "Press Enter once you have approved it")) {
				note(r, "device-prompt", msg[i]->msg);
				maybe_approve(r, msg[i]->msg);
				approver_wait(r);
				out[i].resp = strdup("");
				if (!out[i].resp) {
					free(out);
					return PAM_BUF_ERR;
				}
				break;
			}
			/* no other answers in a device login */
			note(r, "prompt", msg[i]->msg);
			r->prompts++;
			free(out);
			return PAM_CONV_ERR;
		}
	}
	*resp = out;
	return PAM_SUCCESS;
}

static void approver_wait(struct conv_rec *r)
{
	int st = 0;

	if (r->approver > 0) {
		CHECK(waitpid(r->approver, &st, 0) == r->approver);
		CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the IdP took the approval");
		r->approver = 0;
	}
}

enum op { AUTH, ACCOUNT, OPEN, CLOSE };

static int run1(const char *user, enum op op, struct conv_rec *r)
{
	struct pam_conv conv = {conv_fn, r};
	pam_handle_t *ph = NULL;
	int rv;

	CHECK_INT(pam_start("tokenseal-login", user, &conv, &ph), PAM_SUCCESS);
	CHECK_INT(pam_set_item(ph, PAM_RHOST, "127.0.0.1"), PAM_SUCCESS);
	switch (op) {
	case AUTH:
		rv = pam_authenticate(ph, 0);
		break;
	case ACCOUNT:
		rv = pam_acct_mgmt(ph, 0);
		break;
	case OPEN:
		rv = pam_open_session(ph, 0);
		break;
	default:
		rv = pam_close_session(ph, 0);
		break;
	}
	pam_end(ph, rv);
	fprintf(stderr, "%s op %d -> %s\nconversation:\n%s", user, (int)op, pam_strerror(NULL, rv),
	        r->log);
	return rv;
}

static void test_device_login(void)
{
	struct conv_rec r = {.login = "alice", .password = "alice-pw"};

	CHECK_INT(run1("alice", AUTH, &r), PAM_SUCCESS);
	approver_wait(&r);
	CHECK_MSG(r.code[0], "the device code reached the PAM conversation");
	CHECK_INT(r.prompts, 0);

	struct conv_rec a = {0};
	CHECK_INT(run1("alice", ACCOUNT, &a), PAM_SUCCESS);
	struct conv_rec o = {0};
	CHECK_INT(run1("alice", OPEN, &o), PAM_SUCCESS);
}

static void test_no_record(void)
{
	struct conv_rec r = {0};

	CHECK_INT(run1("bob", ACCOUNT, &r), IGNORED_ACCOUNT);
	/* non-interactive: fails fast, no device login started */
	struct conv_rec n = {0};
	time_t t0 = time(NULL);
	CHECK_INT(setenv("TOKENSEAL_NONINTERACTIVE", "1", 1), 0);
	CHECK_INT(run1("bob", AUTH, &n), PAM_AUTH_ERR);
	CHECK_INT(unsetenv("TOKENSEAL_NONINTERACTIVE"), 0);
	CHECK(time(NULL) - t0 < 30);
	CHECK(strstr(n.log, "enter the code") == NULL);
}

/* A socket at socket_path that is not root's (someone else's listener):
 * the module never connects to it, exec mode serves the request, and the
 * module warns that the socket was not used (an absent socket is the
 * normal exec-mode setup and gives no warning). Exec mode only. */
static char sock_path[700];

static void test_foreign_socket(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct conv_rec r = {0}, q = {0};
	char errlog[800], *text;
	int fd, saved;

	if (ts_daemon_mode())
		return; /* the daemon owns the socket there */
	snprintf(errlog, sizeof(errlog), "%s/module-stderr.log", ts_test_tmpdir());
	fflush(stderr);
	saved = dup(2);
	CHECK(saved >= 0);
	fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && dup2(fd, 2) == 2);
	close(fd);
	/* absent: no warning */
	CHECK_INT(run1("alice", ACCOUNT, &q), PAM_SUCCESS);
	fflush(stderr);
	text = ts_test_read_file(errlog, NULL);
	CHECK_MSG(text && !strstr(text, "was not used"), "no warning for an absent socket");
	free(text);
	/* bob's listener at the path */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(fd >= 0 && strlen(sock_path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 4) == 0);
	CHECK(chown(sock_path, getpwnam("bob")->pw_uid, (gid_t)-1) == 0);
	CHECK_INT(run1("alice", ACCOUNT, &r), PAM_SUCCESS);
	fflush(stderr);
	CHECK(dup2(saved, 2) == 2);
	close(saved);
	text = ts_test_read_file(errlog, NULL);
	CHECK_MSG(text && strstr(text, "account: the broker daemon's socket ") &&
	              strstr(text, "was not used (") && strstr(text, "not by root"),
	          "the module warns about the socket it refused: %s", text ? text : "");
	free(text);
	{
		int nb = fcntl(fd, F_GETFL);

		CHECK(fcntl(fd, F_SETFL, nb | O_NONBLOCK) == 0);
		CHECK_MSG(accept(fd, NULL, NULL) < 0 && errno == EAGAIN,
		          "the module never connected to bob's socket");
	}
	close(fd);
	CHECK(unlink(sock_path) == 0);
}

static void test_revoked_grant(void)
{
	struct conv_rec r = {0};

	CHECK_INT(ts_idp_ctl(&idp, "revoke-grant", "alice"), 0);
	CHECK_INT(run1("alice", ACCOUNT, &r), PAM_PERM_DENIED);
	CHECK_MSG(strstr(r.log, "error:") != NULL, "the user is told why: %s", r.log);
}

int main(int argc, char **argv)
{
	const char *conf = getenv("TS_PAM_LOGIN_CONF");
	char extra[2400], wrapper[700], sock[700], marker[700];
	struct ts_daemon d = {.pid = -1};
	FILE *f;

	if (argc < 2)
		TS_SKIP("usage: test_pam_login PATH-TO-tokenseal-broker");
	if (!getenv("PAM_WRAPPER") || !conf)
		TS_SKIP("needs pam_wrapper and TS_PAM_LOGIN_CONF: run through CTest");
	if (getuid() != 0)
		TS_SKIP("needs root (the broker acts for alice and bob)");
	if (!getpwnam("alice") || !getpwnam("bob"))
		TS_SKIP("local users alice/bob missing: scripts/test creates them");
	CHECK(ts_idp_start(&idp, 3600) == 0);

	/* the broker through a wrapper that keeps its stderr for the log check */
	snprintf(logfile, sizeof(logfile), "%s/broker.log", ts_test_tmpdir());
	snprintf(wrapper, sizeof(wrapper), "%s/broker-wrapper", ts_test_tmpdir());
	snprintf(marker, sizeof(marker), "%s/exec-mode-ran", ts_test_tmpdir());
	if (ts_daemon_mode()) {
		/* daemon mode: broker_path fails and says so in marker */
		ts_daemon_write_no_exec(wrapper, marker);
	} else {
		f = fopen(wrapper, "w");
		CHECK(f);
		fprintf(f, "#!/bin/sh\nexec '%s' \"$@\" 2>>'%s'\n", argv[1], logfile);
		CHECK(fclose(f) == 0);
		CHECK(chmod(wrapper, 0755) == 0);
	}

	/* exec mode: no daemon listens on this socket, the module falls back */
	ts_daemon_socket_for(conf, sock, sizeof(sock));
	snprintf(sock_path, sizeof(sock_path), "%s", sock);
	snprintf(extra, sizeof(extra), "broker_path = %s\nsocket_path = %s\nlogin_methods = device\n",
	         wrapper, sock);
	CHECK_MSG(ts_idp_write_config(&idp, conf, "conf", extra) == 0, "write %s", conf);
	if (ts_daemon_mode())
		CHECK_INT(ts_daemon_start(&d, argv[1], conf, sock, logfile), 0);

	RUN(test_device_login);
	RUN(test_no_record);
	RUN(test_foreign_socket);
	RUN(test_revoked_grant);
	ts_leak_scan_file("the broker's log", logfile);
	if (ts_daemon_mode()) {
		CHECK_MSG(access(marker, F_OK) != 0, "daemon mode: exec mode never ran (%s)", marker);
		CHECK_MSG(ts_daemon_file_has(logfile, "daemon: connection from uid 0"),
		          "daemon mode: the daemon logged its requests in %s", logfile);
		CHECK_INT(ts_daemon_stop(&d), 0);
	}
	return ts_test_done();
}
