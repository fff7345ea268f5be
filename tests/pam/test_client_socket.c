/* SPDX-License-Identifier: MIT */
/*
 * common/ts_client.c in daemon mode (labels daemon and idp), as root, against
 * the real `tokenseal-broker --daemon --foreground`, the real exec-mode
 * broker and the real test IdP, and against hostile or broken listeners the
 * test makes itself:
 *   - the daemon serves (via_daemon, its log names the connection), and the
 *     exec broker is never run;
 *   - a socket owned by a non-root user, in a world- or group-writable
 *     folder, in a folder that is a symbolic link, or a file that is no
 *     socket, is never connected to: AUTO falls back to exec mode and gets
 *     its RESULT, SOCKET_ONLY gives TS_E_NO_SERVICE;
 *   - a listener that accepts and closes at once, or reads the request and
 *     dies: AUTO completes in exec mode, SOCKET_ONLY gives TS_E_NO_SERVICE;
 *   - a RESULT that arrived is never retried in exec mode;
 *   - a daemon SIGKILLed while a device login waits for approval is
 *     replaced by exec mode, and the login succeeds.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts_client.h"
#include "ts_daemon.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_proto.h"
#include "ts_test.h"

static struct ts_idp idp;
static char broker_bin[600], conf[700], dsock[700], logfile[700], wrapper[700], marker[700];
static char nowrap[700], nomarker[700];

/* ---- helpers ----------------------------------------------------------- */

static int listen_at(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	CHECK(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	(void)unlink(path);
	CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(listen(fd, 16), 0);
	return fd;
}

/* Was anybody connecting to the listener? (accept without blocking) */
static bool pending(int lfd)
{
	int fl = fcntl(lfd, F_GETFL);
	int c;

	CHECK(fcntl(lfd, F_SETFL, fl | O_NONBLOCK) == 0);
	c = accept(lfd, NULL, NULL);
	if (c >= 0)
		close(c);
	return c >= 0;
}

static uid_t uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);

	CHECK(pw);
	return pw->pw_uid;
}

static int call(const char *sock, enum ts_client_mode mode, const char *broker,
                struct ts_client_result *res, char *why, size_t whylen)
{
	struct ts_client_opts o = {.broker_path = broker,
	                           .config_path = conf,
	                           .socket_path = sock,
	                           .mode = mode,
	                           .timeout_ms = 60000,
	                           .why = why,
	                           .whylen = whylen};
	struct ts_client_request req = {
	    .type = TS_MSG_REVALIDATE, .user = "bob", .service = "sshd",
	    .flags = TS_FLAG_NONINTERACTIVE};

	memset(res, 0, sizeof(*res));
	return ts_client_call(&o, &req, NULL, res);
}

static void remove_marker(void)
{
	(void)unlink(marker);
	(void)unlink(nomarker);
}

/* AUTO gets the exec broker's RESULT (bob has no record), SOCKET_ONLY gets
 * TS_E_NO_SERVICE; why says wanted_why. */
static void expect_fallback(const char *sock, const char *wanted_why)
{
	struct ts_client_result res;
	char why[1200];

	remove_marker();
	CHECK_INT(call(sock, TS_CLIENT_AUTO, wrapper, &res, why, sizeof(why)), 0);
	CHECK_INT(res.code, TS_E_NO_RECORD);
	CHECK_MSG(!res.via_daemon, "AUTO: exec mode served");
	CHECK_MSG(access(marker, F_OK) == 0, "AUTO: the exec broker ran");
	CHECK_MSG(strstr(why, wanted_why) != NULL, "why: \"%s\" has \"%s\"", why, wanted_why);
	ts_client_result_clear(&res);

	remove_marker();
	CHECK_INT(call(sock, TS_CLIENT_SOCKET_ONLY, wrapper, &res, why, sizeof(why)),
	          TS_E_NO_SERVICE);
	CHECK_MSG(access(marker, F_OK) != 0, "SOCKET_ONLY: never exec mode");
	CHECK_MSG(strstr(why, wanted_why) != NULL, "why: \"%s\" has \"%s\"", why, wanted_why);
}

/* ---- cases ------------------------------------------------------------- */

/* The real daemon answers; the exec broker (a program that fails) never runs. */
static void test_daemon_serves(void)
{
	struct ts_client_result res;
	char why[1200] = "x";

	remove_marker();
	CHECK_INT(call(dsock, TS_CLIENT_AUTO, nowrap, &res, why, sizeof(why)), 0);
	CHECK_INT(res.code, TS_E_NO_RECORD);
	CHECK_MSG(res.via_daemon, "the daemon served");
	CHECK_STR(why, "");
	ts_client_result_clear(&res);
	CHECK_INT(call(dsock, TS_CLIENT_SOCKET_ONLY, NULL, &res, why, sizeof(why)), 0);
	CHECK_INT(res.code, TS_E_NO_RECORD);
	CHECK(res.via_daemon);
	ts_client_result_clear(&res);
	CHECK_MSG(access(nomarker, F_OK) != 0, "exec mode never ran");
	CHECK_MSG(ts_daemon_file_has(logfile, "daemon: connection from uid 0"),
	          "the daemon's log shows the connection");
	/* EXEC_ONLY ignores the socket */
	remove_marker();
	CHECK_INT(call(dsock, TS_CLIENT_EXEC_ONLY, wrapper, &res, NULL, 0), 0);
	CHECK(!res.via_daemon);
	CHECK(access(marker, F_OK) == 0);
	ts_client_result_clear(&res);
}

/* Sockets and folders that are not root's alone are never used. */
static void test_hostile_sockets(void)
{
	char dir[600], sock[800], link[700], want[900];
	int lfd;

	/* absent */
	snprintf(sock, sizeof(sock), "%s/none.sock", ts_test_tmpdir());
	snprintf(want, sizeof(want), "%s: No such file or directory", sock);
	expect_fallback(sock, want);

	/* a socket owned by bob, in a safe folder */
	snprintf(dir, sizeof(dir), "%s/h1", ts_test_tmpdir());
	CHECK_INT(mkdir(dir, 0755), 0);
	snprintf(sock, sizeof(sock), "%s/broker.sock", dir);
	lfd = listen_at(sock);
	CHECK_INT(chown(sock, uid_of("bob"), 0), 0);
	snprintf(want, sizeof(want), "%s: owned by uid %u, not by root", sock,
	         (unsigned)uid_of("bob"));
	expect_fallback(sock, want);
	CHECK_MSG(!pending(lfd), "nobody connected to bob's socket");
	CHECK_INT(chown(sock, 0, 0), 0);

	/* a world-writable folder (sticky or not), a group-writable one */
	CHECK_INT(chmod(dir, 01777), 0);
	snprintf(want, sizeof(want), "%s: group- or world-writable (mode 01777)", dir);
	expect_fallback(sock, want);
	CHECK_INT(chmod(dir, 0775), 0);
	snprintf(want, sizeof(want), "%s: group- or world-writable (mode 0775)", dir);
	expect_fallback(sock, want);
	CHECK_MSG(!pending(lfd), "nobody connected in an unsafe folder");
	CHECK_INT(chmod(dir, 0755), 0);

	/* a folder owned by bob */
	CHECK_INT(chown(dir, uid_of("bob"), 0), 0);
	snprintf(want, sizeof(want), "%s: owned by uid %u, not by root", dir,
	         (unsigned)uid_of("bob"));
	expect_fallback(sock, want);
	CHECK_INT(chown(dir, 0, 0), 0);

	/* the folder is a symbolic link (to the safe folder) */
	snprintf(link, sizeof(link), "%s/h1link", ts_test_tmpdir());
	CHECK_INT(symlink(dir, link), 0);
	snprintf(sock, sizeof(sock), "%s/broker.sock", link);
	snprintf(want, sizeof(want), "%s: a symbolic link, not a folder", link);
	expect_fallback(sock, want);
	CHECK_MSG(!pending(lfd), "nobody connected through the link");
	close(lfd);

	/* a regular file where the socket should be */
	snprintf(sock, sizeof(sock), "%s/file.sock", dir);
	ts_test_write_file(sock, "x", 1, 0644);
	snprintf(want, sizeof(want), "%s: not a socket", sock);
	expect_fallback(sock, want);
}

enum fake { FAKE_CLOSE, FAKE_READ_DIE, FAKE_RESULT };

/* A root listener in a safe folder that misbehaves once. */
static pid_t fake_listener(const char *sock, enum fake how)
{
	int lfd = listen_at(sock);
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		int c = accept(lfd, NULL, NULL);
		struct ts_msg m;

		if (c < 0)
			_exit(2);
		if (how == FAKE_CLOSE)
			_exit(0);
		if (ts_proto_read(c, &m, 10000) < 0)
			_exit(3);
		ts_msg_clear(&m);
		if (how == FAKE_RESULT) {
			struct ts_msg_builder b;
			const uint8_t *frame;
			size_t len;

			ts_msg_begin(&b, TS_MSG_RESULT);
			ts_msg_add_int(&b, TS_F_CODE, TS_E_PERM);
			ts_msg_add_int(&b, TS_F_STATE, 0);
			ts_msg_add_str(&b, TS_F_MESSAGE, "from the fake daemon");
			if (ts_msg_finish(&b, &frame, &len) < 0 ||
			    ts_proto_write(c, frame, len, 10000) < 0)
				_exit(4);
		}
		_exit(0); /* FAKE_READ_DIE: dies with the request unanswered */
	}
	close(lfd);
	return pid;
}

static void reap_ok(pid_t pid)
{
	int st;

	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the fake listener did its part (%d)",
	          st);
}

/* A daemon that drops the connection before a RESULT: AUTO runs the
 * request again in exec mode; a RESULT that arrived is final. */
static void test_dropped_connection(void)
{
	static const char want[] = "the daemon closed the connection before its result";
	struct ts_client_result res;
	char dir[700], sock[800], why[1200];
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/f", ts_test_tmpdir());
	CHECK_INT(mkdir(dir, 0755), 0);
	snprintf(sock, sizeof(sock), "%s/broker.sock", dir);

	for (int how = FAKE_CLOSE; how <= FAKE_READ_DIE; how++) {
		remove_marker();
		pid = fake_listener(sock, (enum fake)how);
		CHECK_INT(call(sock, TS_CLIENT_AUTO, wrapper, &res, why, sizeof(why)), 0);
		reap_ok(pid);
		CHECK_INT(res.code, TS_E_NO_RECORD);
		CHECK_MSG(!res.via_daemon && access(marker, F_OK) == 0, "exec mode served");
		CHECK_MSG(strstr(why, want) != NULL, "why: %s", why);
		ts_client_result_clear(&res);

		remove_marker();
		pid = fake_listener(sock, (enum fake)how);
		/* an ordinary user's CLI: told the service went away with the
		 * request (closed after it was sent: the daemon stopped or died
		 * meanwhile), not that it is not running */
		CHECK_INT(call(sock, TS_CLIENT_SOCKET_ONLY, wrapper, &res, why, sizeof(why)),
		          TS_E_SERVICE_LOST);
		reap_ok(pid);
		CHECK_MSG(access(marker, F_OK) != 0, "SOCKET_ONLY never runs exec mode");
	}

	/* a RESULT arrived (a refusal): never retried */
	remove_marker();
	pid = fake_listener(sock, FAKE_RESULT);
	CHECK_INT(call(sock, TS_CLIENT_AUTO, wrapper, &res, why, sizeof(why)), 0);
	reap_ok(pid);
	CHECK_INT(res.code, TS_E_PERM);
	CHECK_STR(res.message, "from the fake daemon");
	CHECK(res.via_daemon);
	CHECK_STR(why, "");
	CHECK_MSG(access(marker, F_OK) != 0, "a RESULT that arrived is not run again");
	ts_client_result_clear(&res);
}

/* ---- the killed daemon ---------------------------------------------------- */

struct kill_ctx {
	struct ts_daemon *d;
	int codes;
	pid_t approver;
};

static int kill_info(void *ctx, const char *text)
{
	struct kill_ctx *k = ctx;
	const char *p = strstr(text, "enter the code ");
	char code[64];
	size_t n;

	if (!p)
		return 0;
	p += strlen("enter the code ");
	n = strcspn(p, " \n");
	if (n == 0 || n >= sizeof(code))
		return 0;
	memcpy(code, p, n);
	code[n] = '\0';
	if (k->codes++ == 0) {
		/* the daemon dies while the login waits for approval */
		ts_daemon_kill(k->d);
		return 0;
	}
	k->approver = fork();
	if (k->approver == 0) {
		sleep(1);
		_exit(ts_idp_approve_device(&idp, code, "alice", "alice-pw", 0) == 0 ? 0 : 1);
	}
	return 0;
}

static int no_text(void *ctx, const char *text)
{
	(void)ctx;
	(void)text;
	return 0;
}

static void test_killed_daemon(void)
{
	struct ts_daemon d;
	struct kill_ctx k = {.d = &d};
	struct ts_conv conv = {kill_info, no_text, NULL, &k};
	struct ts_client_result res = {0};
	char why[1200];
	struct ts_client_opts o = {.broker_path = wrapper,
	                           .config_path = conf,
	                           .socket_path = dsock,
	                           .timeout_ms = ts_client_frame_timeout_ms(110),
	                           .why = why,
	                           .whylen = sizeof(why)};
	struct ts_client_request req = {.type = TS_MSG_LOGIN, .user = "alice", .service = "sshd"};
	int st;

	CHECK_INT(ts_daemon_start(&d, broker_bin, conf, dsock, logfile), 0);
	remove_marker();
	CHECK_INT(ts_client_call(&o, &req, &conv, &res), 0);
	CHECK_INT(res.code, 0);
	CHECK_MSG(!res.via_daemon, "exec mode finished the login");
	CHECK_INT(k.codes, 2); /* the daemon's code, then exec mode's */
	CHECK_MSG(access(marker, F_OK) == 0, "the exec broker ran");
	CHECK_MSG(strstr(why, "the daemon closed the connection before its result") != NULL,
	          "why: %s", why);
	CHECK(k.approver > 0 && waitpid(k.approver, &st, 0) == k.approver && WIFEXITED(st) &&
	      WEXITSTATUS(st) == 0);
	ts_client_result_clear(&res);

	/* the record exec mode stored is the daemon's too */
	CHECK_INT(ts_daemon_start(&d, broker_bin, conf, dsock, logfile), 0);
	req = (struct ts_client_request){.type = TS_MSG_REVALIDATE, .user = "alice",
	                                 .service = "sshd", .flags = TS_FLAG_NONINTERACTIVE};
	o.broker_path = nowrap;
	CHECK_INT(ts_client_call(&o, &req, NULL, &res), 0);
	CHECK_INT(res.code, 0);
	CHECK(res.via_daemon);
	ts_client_result_clear(&res);
	CHECK_MSG(ts_daemon_stop(&d) == 0, "the daemon stopped cleanly");
}

int main(int argc, char **argv)
{
	struct ts_daemon d;
	char extra[2400];
	FILE *f;

	if (argc < 2)
		TS_SKIP("usage: test_client_socket PATH-TO-tokenseal-broker");
	if (getuid() != 0)
		TS_SKIP("needs root (root-owned sockets, chown to bob, the daemon)");
	if (!getpwnam("alice") || !getpwnam("bob"))
		TS_SKIP("local users alice/bob missing: scripts/test creates them");
	snprintf(broker_bin, sizeof(broker_bin), "%s", argv[1]);
	CHECK_INT(ts_idp_start(&idp, 3600), 0);

	snprintf(logfile, sizeof(logfile), "%s/broker.log", ts_test_tmpdir());
	snprintf(marker, sizeof(marker), "%s/exec-ran", ts_test_tmpdir());
	snprintf(wrapper, sizeof(wrapper), "%s/broker-wrapper", ts_test_tmpdir());
	f = fopen(wrapper, "w");
	CHECK(f);
	/* exec mode: the real broker, and a mark that it ran */
	fprintf(f, "#!/bin/sh\necho ran >>'%s'\nexec '%s' --debug \"$@\" 2>>'%s'\n", marker,
	        broker_bin, logfile);
	CHECK_INT(fclose(f), 0);
	CHECK_INT(chmod(wrapper, 0755), 0);
	snprintf(nowrap, sizeof(nowrap), "%s/no-exec", ts_test_tmpdir());
	snprintf(nomarker, sizeof(nomarker), "%s/no-exec-ran", ts_test_tmpdir());
	ts_daemon_write_no_exec(nowrap, nomarker);

	snprintf(conf, sizeof(conf), "%s/tokenseal.conf", ts_test_tmpdir());
	ts_daemon_socket_for(conf, dsock, sizeof(dsock));
	snprintf(extra, sizeof(extra), "socket_path = %s\nlogin_methods = device\n", dsock);
	CHECK_INT(ts_idp_write_config(&idp, conf, "conf", extra), 0);

	CHECK_INT(ts_daemon_start(&d, broker_bin, conf, dsock, logfile), 0);
	RUN(test_daemon_serves);
	CHECK_MSG(ts_daemon_stop(&d) == 0, "the daemon stopped cleanly");
	RUN(test_hostile_sockets);
	RUN(test_dropped_connection);
	RUN(test_killed_daemon);
	ts_leak_scan_file("the brokers' log", logfile);
	return ts_test_done();
}
