/* SPDX-License-Identifier: MIT */
/*
 * The daemon's slots kept for root, and --max-per-uid, against the real
 * daemon and the real test IdP (label daemon; root, SKIPPED otherwise):
 * with --max-per-uid 224 (every slot that is not root's), bob fills all of
 * them with connections that send nothing yet; bob's next connection is
 * told at once that he is over his limit, carol's first that the service
 * is busy; root is still served; root's 32 taken too, root is told the
 * service is busy. A bad --max-per-uid is a usage error. (The per-uid
 * limit under attack: test_daemon_flood.c.)
 * A slot is free once its request is answered: with --max-per-uid 1 and
 * the serving thread held half a second after each answer (the test builds'
 * hook after-answer:sleep), bob's requests one right after another are
 * all served, none told he is over his limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ts_client.h"
#include "ts_daemon.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_mem.h"
#include "ts_proto.h"
#include "ts_test.h"

static struct ts_idp idp;
static char broker_bin[512];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dial(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* The RESULT on a fresh connection to path that sends nothing: it must come
 * within 2 s. 0 with code and message, or -1. */
static int answer_unasked(const char *path, int64_t *code, char *msg, size_t len)
{
	struct ts_msg m = {0};
	struct pollfd p;
	int fd = dial(path), r = -1;

	*code = 0;
	msg[0] = '\0';
	if (fd < 0)
		return -1;
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 2000) == 1 && ts_proto_read(fd, &m, 1000) == 0 && m.type == TS_MSG_RESULT &&
	    ts_msg_get_int(&m, TS_F_CODE, code) == 0 &&
	    ts_msg_get_str(&m, TS_F_MESSAGE, msg, len) == 0)
		r = 0;
	ts_msg_clear(&m);
	close(fd);
	return r;
}

static pid_t as_user(const char *name)
{
	struct passwd *pw = getpwnam(name);
	pid_t pid;

	CHECK(pw);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0 &&
	    (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	     setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0))
		_exit(100);
	return pid;
}

static int wait_child(pid_t pid)
{
	int st = 0;

	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

/* --max-per-uid 224 (every slot but root's): bob takes 224 connections
 * that wait for their request; bob's next is told at once that he is over
 * his limit, carol's first that the service is busy; root is still served
 * (its 32 slots);
 * with those taken too, root is told it is busy. A bad --max-per-uid is a
 * usage error. */
static void test_root_reserve(void)
{
	enum { OTHERS = 224, RESERVE = 32 };
	const char *bad[] = {broker_bin, "--daemon", "--max-per-uid", "225", NULL};
	char cfg2[800], sock2[900], log2[800], msg[256], want[300];
	int go[2], ready[2], root_fds[RESERVE];
	struct ts_client_result res;
	struct ts_daemon d2;
	pid_t bob, carol, pid;
	int64_t code = 0;
	long long t0;
	char c;

	/* a usage error */
	snprintf(log2, sizeof(log2), "%s/usage.log", ts_test_tmpdir());
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(log2, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		char *const *av;
		const char *const *ap = bad;

		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(120);
		memcpy(&av, &ap, sizeof(av));
		execv(broker_bin, av);
		_exit(127);
	}
	CHECK_INT(wait_child(pid), 2);
	CHECK_MSG(ts_daemon_file_has(log2, "tokenseal-broker: --max-per-uid takes a number of "
	                                   "connections from 1 to 224, not \"225\"\n"),
	          "said why (%s)", log2);

	/* a daemon with --max-per-uid 224: written as the argv of a wrapper */
	snprintf(cfg2, sizeof(cfg2), "%s/reserve.conf", idp.dir);
	ts_daemon_socket_for(cfg2, sock2, sizeof(sock2));
	{
		char extra[1600], wrapper[900], script[1400];

		snprintf(extra, sizeof(extra),
		         "keystore_dir = %s/keystore\nlogin_methods = password\nsocket_path = %s\n",
		         idp.dir, sock2);
		CHECK(ts_idp_write_config(&idp, cfg2, "conf", extra) == 0);
		snprintf(wrapper, sizeof(wrapper), "%s/broker-224", ts_test_tmpdir());
		snprintf(script, sizeof(script), "#!/bin/sh\nexec '%s' \"$@\" --max-per-uid %d\n",
		         broker_bin, OTHERS);
		ts_test_write_file(wrapper, script, strlen(script), 0755);
		snprintf(log2, sizeof(log2), "%s/reserve.log", ts_test_tmpdir());
		CHECK_MSG(ts_daemon_start(&d2, wrapper, cfg2, sock2, log2) == 0,
		          "the daemon with --max-per-uid %d serves (see %s)", OTHERS, log2);
	}

	CHECK_INT(pipe2(go, O_CLOEXEC), 0);
	CHECK_INT(pipe2(ready, O_CLOEXEC), 0);
	t0 = now_ms();
	bob = as_user("bob");
	if (bob == 0) {
		static int fds[OTHERS];

		close(go[1]); /* the parent's end: EOF when it is gone */
		close(ready[0]);
		for (int i = 0; i < OTHERS; i++)
			if ((fds[i] = dial(sock2)) < 0)
				_exit(101);
		usleep(300000);
		snprintf(want, sizeof(want),
		         "too many requests from uid %u at once (at most %d); try again",
		         (unsigned)getuid(), OTHERS);
		if (answer_unasked(sock2, &code, msg, sizeof(msg)) < 0 ||
		    code != TS_E_BUSY || strcmp(msg, want) != 0) {
			fprintf(stderr, "   bob's %dth: %lld \"%s\"\n", OTHERS + 1, (long long)code,
			        msg);
			_exit(102);
		}
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(103);
		_exit(0);
	}
	close(ready[1]);
	CHECK_MSG(read(ready[0], &c, 1) == 1,
	          "bob holds %d connections and was refused the "
	          "next at once",
	          OTHERS);
	carol = as_user("carol");
	if (carol == 0) {
		snprintf(want, sizeof(want),
		         "the tokenseal service is busy (%d requests at once); try again", OTHERS);
		if (answer_unasked(sock2, &code, msg, sizeof(msg)) < 0 ||
		    code != TS_E_BUSY || strcmp(msg, want) != 0) {
			fprintf(stderr, "   carol: %lld \"%s\"\n", (long long)code, msg);
			_exit(104);
		}
		_exit(0);
	}
	CHECK_INT(wait_child(carol), 0);
	/* root: served from its reserve */
	{
		struct ts_client_opts o = {
		    .socket_path = sock2, .mode = TS_CLIENT_SOCKET_ONLY, .timeout_ms = 30000};
		struct ts_client_request req = {
		    .type = TS_MSG_STATUS, .user = "alice", .flags = TS_FLAG_NONINTERACTIVE};

		memset(&res, 0, sizeof(res));
		CHECK_INT(ts_client_call(&o, &req, NULL, &res), 0);
		CHECK_MSG(res.via_daemon && res.code == 0,
		          "root is served from its reserve (%d %s)", res.code, res.message);
		ts_client_result_clear(&res);
	}
	for (int i = 0; i < RESERVE; i++) {
		root_fds[i] = dial(sock2);
		CHECK(root_fds[i] >= 0);
	}
	usleep(300000);
	CHECK_INT(answer_unasked(sock2, &code, msg, sizeof(msg)), 0);
	CHECK_INT(code, TS_E_BUSY);
	CHECK_STR(msg, "the tokenseal service is busy (256 requests at once); try again");
	/* bob's silent connections are let go at their 5 s deadline: all of
	 * the above happened before it */
	CHECK_MSG(now_ms() - t0 < 4000, "within the request-frame deadline (%lld ms)",
	          now_ms() - t0);
	for (int i = 0; i < RESERVE; i++)
		close(root_fds[i]);
	CHECK_INT(write(go[1], "g", 1), 1);
	CHECK_INT(wait_child(bob), 0);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	(void)ts_daemon_stop(&d2);
}

/* --max-per-uid 1, every serving thread held 0.5 s past its answer: bob's
 * 6 requests one after another are all answered by the daemon, none with
 * "too many requests"; then the daemon stops cleanly (it waits for the
 * threads closing up). */
static void test_slot_free_at_answer(void)
{
#ifndef TOKENSEAL_TEST_HOOKS
	TS_SKIP("built without -DTOKENSEAL_TEST_HOOKS=ON (scripts/test sets it): no hook to "
	        "hold a thread past its answer");
#else
	char cfg3[700], sock3[760], log3[700], extra[1600], wrapper[900], script[1400];
	struct ts_daemon d3;
	long long t0;
	pid_t bob;

	snprintf(cfg3, sizeof(cfg3), "%s/answered.conf", idp.dir);
	ts_daemon_socket_for(cfg3, sock3, sizeof(sock3));
	snprintf(extra, sizeof(extra),
	         "keystore_dir = %s/keystore\nlogin_methods = password\nsocket_path = %s\n", idp.dir,
	         sock3);
	CHECK(ts_idp_write_config(&idp, cfg3, "conf", extra) == 0);
	snprintf(wrapper, sizeof(wrapper), "%s/broker-answered", ts_test_tmpdir());
	snprintf(script, sizeof(script),
	         "#!/bin/sh\nTOKENSEAL_TEST_HOOK=after-answer:sleep exec '%s' \"$@\" "
	         "--max-per-uid 1\n",
	         broker_bin);
	ts_test_write_file(wrapper, script, strlen(script), 0755);
	snprintf(log3, sizeof(log3), "%s/answered.log", ts_test_tmpdir());
	CHECK_MSG(ts_daemon_start(&d3, wrapper, cfg3, sock3, log3) == 0,
	          "the daemon with --max-per-uid 1 serves (see %s)", log3);
	t0 = now_ms();
	bob = as_user("bob");
	if (bob == 0) {
		struct ts_client_opts o = {
		    .socket_path = sock3, .mode = TS_CLIENT_SOCKET_ONLY, .timeout_ms = 10000};
		struct ts_client_request req = {
		    .type = TS_MSG_STATUS, .user = "bob", .flags = TS_FLAG_NONINTERACTIVE};

		for (int i = 0; i < 6; i++) {
			struct ts_client_result res = {0};
			int r = ts_client_call(&o, &req, NULL, &res);

			if (r < 0 || !res.via_daemon || res.code == TS_E_BUSY) {
				fprintf(stderr, "   bob's request %d: %d, code %d \"%s\"\n", i + 1, r,
				        res.code, res.message);
				_exit(1);
			}
			ts_client_result_clear(&res);
		}
		_exit(0);
	}
	CHECK_MSG(wait_child(bob) == 0,
	          "bob's 6 requests one after another were all served with --max-per-uid 1");
	/* each thread slept 0.5 s after its answer: the requests overlapped it */
	CHECK_MSG(now_ms() - t0 < 2500, "the answers did not wait for the threads (%lld ms)",
	          now_ms() - t0);
	CHECK_INT(ts_daemon_stop(&d3), 0);
#endif
}

int main(int argc, char **argv)
{
	if (argc < 2)
		TS_SKIP("usage: test_daemon_reserve PATH-TO-tokenseal-broker");
	if (getuid() != 0)
		TS_SKIP("needs root (the daemon runs as root; the test plays bob and carol)");
	if (!getpwnam("alice") || !getpwnam("bob") || !getpwnam("carol"))
		TS_SKIP("local users alice/bob/carol missing: scripts/test creates them");
	signal(SIGPIPE, SIG_IGN);
	CHECK(ts_strlcpy(broker_bin, argv[1], sizeof(broker_bin)) == 0);
	CHECK(ts_idp_start(&idp, 3600) == 0);
	/* bob and carol must reach the socket's folder */
	CHECK_INT(chmod(ts_test_tmpdir(), 0755), 0);

	RUN(test_root_reserve);
	RUN(test_slot_free_at_answer);

	ts_idp_stop(&idp);
	return ts_test_done();
}
