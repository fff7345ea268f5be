/* SPDX-License-Identifier: MIT */
/*
 * A root caller never waits on a daemon that does not answer (issue 15 §1;
 * labels unit and attack). The daemons here are fake: root-owned sockets in
 * a root folder, played by this test (a listener that accepts and never
 * reads, one whose listen queue is full and never accepts, one that reads
 * the request and answers after 3 s, one that reads it and hangs). The exec-mode broker is the protocol
 * test peer (tests/unit/fake_peer.c), which answers at once:
 *   - a root AUTO call completes in exec mode within the connect timeout or
 *     the first-reply deadline (2 s), not after the frame timeout (60 s
 *     here), and says why (result.via_daemon, opts.why);
 *   - a daemon that has read the request is working on it: a late answer
 *     is taken, nothing runs twice; one that read it and hangs loses a
 *     request that may run twice to exec mode after 30 s, and keeps one
 *     that must not (a session, counted; a logout) until the frame
 *     timeout;
 *   - SOCKET_ONLY (an ordinary user's CLI) keeps waiting on the daemon;
 *   - the exec-mode broker of sudo's shape (real uid a user, euid 0) runs
 *     with every uid and gid root and without AT_SECURE, so its own
 *     environment (the NSS module's loop guard) stays visible to it.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "ts_error.h"
#include "ts_proto.h"
#include "ts_test.h"
#include "ts_time.h"

#ifndef TS_PEER_PATH
#error "TS_PEER_PATH must name the protocol test peer"
#endif

#define FRAME_TIMEOUT_MS 60000
/* the busy bound of a root caller (ts_client_opts.root_busy_ms), shorter than
 * the product's TS_CLIENT_ROOT_BUSY_MS so that the test does not wait 30 s */
#define BUSY_MS 5000

static char rundir[700];

static int listen_at(const char *path, int backlog)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	CHECK(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	(void)unlink(path);
	CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(listen(fd, backlog), 0);
	return fd;
}

enum fake { SILENT, READ_THEN_LATE, READ_THEN_NOTHING, READ_THEN_CLOSE, BUSY };

/* A fake daemon in a child: accept every connection; SILENT never reads
 * nor answers; READ_THEN_LATE reads the request, waits 3 s, answers
 * RESULT 0 "late"; READ_THEN_NOTHING reads it and never answers;
 * READ_THEN_CLOSE reads it and closes the connection (a daemon stopped or
 * killed while it served the request). */
static pid_t fake_daemon(const char *path, enum fake how)
{
	int lfd = listen_at(path, 16);
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid > 0) {
		close(lfd);
		return pid;
	}
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		struct ts_msg_builder b;
		const uint8_t *frame;
		struct ts_msg m;
		size_t len;

		if (c < 0)
			continue;
		if (how == SILENT)
			continue; /* held open, never read */
		if (how == BUSY) {
			/* the daemon's refusal: answered at once, never read */
			ts_msg_begin(&b, TS_MSG_RESULT);
			ts_msg_add_int(&b, TS_F_CODE, TS_E_BUSY);
			ts_msg_add_str(&b, TS_F_MESSAGE, "too many requests from uid 0 at once");
			if (ts_msg_finish(&b, &frame, &len) == 0 &&
			    ts_proto_write(c, frame, len, 5000) < 0)
				fprintf(stderr, "fake daemon: the client was gone\n");
			ts_msg_builder_clear(&b);
			shutdown(c, SHUT_WR);
			continue;
		}
		if (ts_proto_read(c, &m, 5000) == 0)
			ts_msg_clear(&m);
		if (how == READ_THEN_NOTHING)
			continue; /* held open */
		if (how == READ_THEN_CLOSE) {
			close(c);
			continue;
		}
		sleep(3);
		ts_msg_begin(&b, TS_MSG_RESULT);
		ts_msg_add_int(&b, TS_F_CODE, 0);
		ts_msg_add_str(&b, TS_F_MESSAGE, "late");
		if (ts_msg_finish(&b, &frame, &len) == 0 && ts_proto_write(c, frame, len, 5000) < 0)
			fprintf(stderr, "fake daemon: the client was gone\n");
		ts_msg_builder_clear(&b);
		close(c);
	}
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

struct outcome {
	int r;
	struct ts_client_result res;
	char why[1200];
	int64_t ms;
};

static void call_t(const char *sock, enum ts_client_mode mode, enum ts_msg_type type,
                   int timeout_ms, struct outcome *o)
{
	char env0[] = "TS_PEER_SCRIPT=result:0";
	char *env[] = {env0, NULL};
	struct ts_client_opts opts = {
	    .broker_path = TS_PEER_PATH,
	    .config_path = "/nonexistent/tokenseal.conf",
	    .env = env,
	    .timeout_ms = timeout_ms,
	    .socket_path = sock,
	    .mode = mode,
	    .root_busy_ms = BUSY_MS,
	    .why = o->why,
	    .whylen = sizeof(o->why),
	};
	struct ts_client_request req = {.type = type, .user = "alice", .service = "sudo"};
	int64_t t0 = ts_monotonic_ms();

	memset(&o->res, 0, sizeof(o->res));
	o->r = ts_client_call(&opts, &req, NULL, &o->res);
	o->ms = ts_monotonic_ms() - t0;
	fprintf(stderr, "   type %d mode %d: r=%d code=%d via_daemon=%d in %lld ms; why: %s\n",
	        (int)type, (int)mode, o->r, o->res.code, (int)o->res.via_daemon, (long long)o->ms,
	        o->why);
}

static void call(const char *sock, enum ts_client_mode mode, enum ts_msg_type type,
                 struct outcome *o)
{
	call_t(sock, mode, type, FRAME_TIMEOUT_MS, o);
}

/* Served by exec mode, within [min_ms, max_ms], why naming want. */
static void expect_exec(const struct outcome *o, int64_t min_ms, int64_t max_ms, const char *want)
{
	CHECK_INT(o->r, 0);
	CHECK_INT(o->res.code, 0);
	CHECK_MSG(!o->res.via_daemon, "served by exec mode");
	CHECK_STR(o->res.message, "peer says 0");
	CHECK_MSG(o->ms >= min_ms && o->ms <= max_ms, "took %lld ms, not %lld..%lld",
	          (long long)o->ms, (long long)min_ms, (long long)max_ms);
	CHECK_MSG(strstr(o->why, want), "why \"%s\" has \"%s\"", o->why, want);
}

/* Accepts and never reads nor answers (no slot for us: a flood holds
 * them, or it hangs). */
static void test_daemon_never_answers(void)
{
	char sock[800], want[900];
	struct outcome o;
	pid_t d;

	snprintf(sock, sizeof(sock), "%s/silent.sock", rundir);
	d = fake_daemon(sock, SILENT);
	snprintf(want, sizeof(want), "%s: the daemon did not take the request within %d ms", sock,
	         TS_CLIENT_ROOT_FIRST_REPLY_MS);
	call(sock, TS_CLIENT_AUTO, TS_MSG_REVALIDATE, &o);
	expect_exec(&o, TS_CLIENT_ROOT_FIRST_REPLY_MS - 100, TS_CLIENT_ROOT_FIRST_REPLY_MS + 3000,
	            want);
	ts_client_result_clear(&o.res);
	/* a session request it never read: exec mode too */
	call(sock, TS_CLIENT_AUTO, TS_MSG_OPEN_SESSION, &o);
	expect_exec(&o, TS_CLIENT_ROOT_FIRST_REPLY_MS - 100, TS_CLIENT_ROOT_FIRST_REPLY_MS + 3000,
	            want);
	ts_client_result_clear(&o.res);
	/* an ordinary user's CLI has no exec mode: it keeps waiting */
	call_t(sock, TS_CLIENT_SOCKET_ONLY, TS_MSG_STATUS, 4000, &o);
	CHECK_INT(o.r, -ETIMEDOUT);
	CHECK_MSG(o.ms >= 3900, "SOCKET_ONLY waited its frame timeout");
	stop(d);
}

/* Refuses at once ("busy", TS_E_BUSY) without reading: nothing ran, so
 * root goes to exec mode at once; a SOCKET_ONLY caller hears "busy". */
static void test_daemon_busy(void)
{
	char sock[800], want[900];
	struct outcome o;
	pid_t d;

	snprintf(sock, sizeof(sock), "%s/busy.sock", rundir);
	d = fake_daemon(sock, BUSY);
	snprintf(want, sizeof(want), "%s: the daemon refused: too many requests", sock);
	call(sock, TS_CLIENT_AUTO, TS_MSG_OPEN_SESSION, &o);
	expect_exec(&o, 0, 1500, want);
	ts_client_result_clear(&o.res);
	call(sock, TS_CLIENT_SOCKET_ONLY, TS_MSG_STATUS, &o);
	CHECK_INT(o.r, 0);
	CHECK_INT(o.res.code, TS_E_BUSY);
	CHECK_MSG(o.res.via_daemon, "the refusal came from the daemon");
	ts_client_result_clear(&o.res);
	stop(d);
}

/* Reads the request and never answers (hung while working on it): a
 * request that may run twice goes to exec mode after
 * the busy bound (TS_CLIENT_ROOT_BUSY_MS; BUSY_MS here), not after the frame timeout; one that must not
 * stays with the daemon until the frame timeout and is not retried. */
static void test_daemon_reads_and_hangs(void)
{
	char sock[800], want[900];
	struct outcome o;
	pid_t d;

	snprintf(sock, sizeof(sock), "%s/hung.sock", rundir);
	d = fake_daemon(sock, READ_THEN_NOTHING);
	snprintf(want, sizeof(want), "%s: the daemon read the request but sent nothing within %d ms",
	         sock, BUSY_MS);
	call(sock, TS_CLIENT_AUTO, TS_MSG_REVALIDATE, &o);
	expect_exec(&o, BUSY_MS - 100, BUSY_MS + 3000, want);
	CHECK_MSG(o.ms < FRAME_TIMEOUT_MS, "not the frame timeout");
	ts_client_result_clear(&o.res);
	call_t(sock, TS_CLIENT_AUTO, TS_MSG_CLOSE_SESSION, 4000, &o);
	CHECK_INT(o.r, -ETIMEDOUT);
	CHECK_MSG(o.ms >= 3900, "the session close waited its frame timeout");
	CHECK_STR(o.why, "");
	stop(d);
}

/* Reads the request and closes the connection (stopped, restarted or killed
 * while serving it): an ordinary user's CLI (SOCKET_ONLY) hears that the
 * service went away with the request, not that it is not running; root
 * (AUTO) runs the request again in exec mode. */
static void test_daemon_gone_mid_request(void)
{
	char sock[800];
	struct outcome o;
	pid_t d;

	snprintf(sock, sizeof(sock), "%s/gone.sock", rundir);
	d = fake_daemon(sock, READ_THEN_CLOSE);
	call(sock, TS_CLIENT_SOCKET_ONLY, TS_MSG_STATUS, &o);
	CHECK_INT(o.r, TS_E_SERVICE_LOST);
	CHECK_MSG(strstr(o.why, "closed the connection before its result"), "why: %s", o.why);
	ts_client_result_clear(&o.res);
	call(sock, TS_CLIENT_AUTO, TS_MSG_STATUS, &o);
	CHECK_INT(o.r, 0);
	CHECK_MSG(!o.res.via_daemon, "root's request ran again in exec mode");
	ts_client_result_clear(&o.res);
	/* no daemon at all is still "not running" */
	stop(d);
	CHECK_INT(unlink(sock), 0);
	call(sock, TS_CLIENT_SOCKET_ONLY, TS_MSG_STATUS, &o);
	CHECK_INT(o.r, TS_E_NO_SERVICE);
	ts_client_result_clear(&o.res);
}

/* Never accepts, its listen queue full: connect cannot even queue. */
static void test_backlog_full(void)
{
	char sock[800], want[900];
	int fds[64], n = 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct outcome o;
	int lfd;

	snprintf(sock, sizeof(sock), "%s/full.sock", rundir);
	lfd = listen_at(sock, 0);
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	/* fill the queue: non-blocking connects until one is refused */
	for (; n < 64; n++) {
		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		CHECK(fds[n] >= 0);
		if (connect(fds[n], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			CHECK_MSG(errno == EAGAIN, "the queue fills up: %s", strerror(errno));
			close(fds[n]);
			break;
		}
	}
	CHECK_MSG(n < 64, "the listen queue filled up after %d connections", n);
	snprintf(want, sizeof(want), "%s: cannot connect: no answer within the connect timeout",
	         sock);
	call(sock, TS_CLIENT_AUTO, TS_MSG_REVALIDATE, &o);
	expect_exec(&o, TS_CLIENT_CONNECT_TIMEOUT_MS - 100, TS_CLIENT_CONNECT_TIMEOUT_MS + 3000,
	            want);
	ts_client_result_clear(&o.res);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(lfd);
}

/* Reads the request, answers after 3 s (a slow identity server): the
 * daemon took it, so nothing is run twice, whatever the request. */
static void test_daemon_reads_then_late(void)
{
	static const enum ts_msg_type types[] = {TS_MSG_REVALIDATE, TS_MSG_CLOSE_SESSION,
	                                         TS_MSG_LOGOUT};
	char sock[800];
	struct outcome o;
	pid_t d;

	snprintf(sock, sizeof(sock), "%s/late.sock", rundir);
	d = fake_daemon(sock, READ_THEN_LATE);
	for (size_t i = 0; i < TS_ARRAY_SIZE(types); i++) {
		call(sock, TS_CLIENT_AUTO, types[i], &o);
		CHECK_INT(o.r, 0);
		CHECK_MSG(o.res.via_daemon, "type %d stayed with the daemon", (int)types[i]);
		CHECK_STR(o.res.message, "late");
		CHECK_MSG(o.ms >= 2900, "it answered after 3 s (%lld ms)", (long long)o.ms);
		CHECK_STR(o.why, "");
		ts_client_result_clear(&o.res);
	}
	stop(d);
}

/* sudo's shape: real uid alice's, euid 0. The exec-mode broker starts with
 * every id root, so the kernel gives it no AT_SECURE. */
static void test_exec_broker_wholly_root(void)
{
	int fds[2];
	char buf[256] = "";
	pid_t pid;
	ssize_t n;
	int st;

	CHECK_INT(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char env0[] = "TS_PEER_SCRIPT=ids";
		char *env[] = {env0, NULL};
		struct ts_client_opts opts = {.broker_path = TS_PEER_PATH, .env = env,
		                              .timeout_ms = 10000, .mode = TS_CLIENT_EXEC_ONLY};
		struct ts_client_request req = {.type = TS_MSG_REVALIDATE, .user = "alice"};
		struct ts_client_result res = {0};

		if (setresgid(1001, 1001, 0) < 0 || setresuid(1001, 0, 0) < 0)
			_exit(2);
		if (ts_client_call(&opts, &req, NULL, &res) < 0)
			_exit(3);
		if (write(fds[1], res.message, strlen(res.message)) < 0)
			_exit(4);
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), 0);
	CHECK(n > 0);
	fprintf(stderr, "   the broker of a caller with real uid 1001: %s\n", buf);
	CHECK_STR(buf, "uids=0,0,0 gids=1001,1001,1001 secure=0");
}

int main(void)
{
	if (getuid() != 0)
		TS_SKIP("needs root (the daemon's socket must be root's, in a root folder)");
	signal(SIGPIPE, SIG_IGN);
	snprintf(rundir, sizeof(rundir), "%s/run", ts_test_tmpdir());
	CHECK_INT(mkdir(rundir, 0755), 0);
	RUN(test_daemon_never_answers);
	RUN(test_backlog_full);
	RUN(test_daemon_busy);
	RUN(test_daemon_reads_then_late);
	RUN(test_daemon_reads_and_hangs);
	RUN(test_daemon_gone_mid_request);
	RUN(test_exec_broker_wholly_root);
	return ts_test_done();
}
