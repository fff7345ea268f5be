/* SPDX-License-Identifier: MIT */
/*
 * tokenseal-broker --daemon against the real test IdP, driven by a raw
 * framed client over the socket (common/ts_proto.h directly, no ts_client).
 * Runs as root and plays every caller itself:
 *   - a non-root uid starting the daemon: one line, exit 2, no socket;
 *   - the socket's folder is created root:root 0755, the socket is 0666;
 *   - root may act for alice; a process with uid bob gets TS_E_PERM for
 *     alice (and any other name) and is served for bob: SO_PEERCRED
 *     decides, never the USER field;
 *   - 200 concurrent clients (plus one that never sends and one that never
 *     reads) are all answered, and the silent one is answered (TS_E_IPC)
 *     and closed at the 5 s request-frame deadline; 256 silent ones fill
 *     every slot without a thread, the next client is told at once that
 *     the service is busy, and after the deadline a client is served
 *     (the per-uid limits and the flood: test_daemon_flood.c);
 *   - warm connections: 10 revalidations open at most 2 TLS connections
 *     at the IdP, and discovery comes from memory (no fetch, no file);
 *   - the --debug log holds no token, password or client secret;
 *   - a second daemon on a live socket, a non-socket file at socket_path:
 *     refused with one line, exit 1; a stale socket file is replaced;
 *   - SIGTERM: exit 0, the socket removed; --idle-exit: exit 0 on its own;
 *   - NOTIFY_SOCKET: READY=1 and STOPPING=1 arrive, and systemd's presence
 *     implies the foreground; without --foreground it forks away and serves;
 *   - socket activation through systemd-socket-activate (LISTEN_FDS): the
 *     passed socket is served and left in place.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
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

#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_mem.h"
#include "ts_proto.h"
#include "ts_test.h"

#define DAEMON_ROOT_ONLY                                                                       \
	"tokenseal-broker: the daemon runs as root only (it holds every user's tokens); "      \
	"start it with `systemctl start tokenseal-broker.socket`\n"
#define N_CONCURRENT 200
#define LATE_FRAME "the request did not arrive in full within 5 s of connecting; closed"

static struct ts_idp idp;
static char broker_bin[512], cfg[700], ksdir[700], rundir[700], sock[760], logfile[700];
static pid_t daemon_pid = -1;

/* Every daemon a case starts (directly or found in the background), so a
 * failing CHECK leaves none behind: killed at exit. */
#define MAX_SPAWNED 64
static pid_t spawned[MAX_SPAWNED];
static size_t n_spawned;

static void remember_pid(pid_t pid)
{
	if (pid > 0 && n_spawned < MAX_SPAWNED)
		spawned[n_spawned++] = pid;
}

/* Gone (reaped, or seen to exit): never signal that pid again. */
static void forget_pid(pid_t pid)
{
	for (size_t i = 0; i < n_spawned; i++)
		if (spawned[i] == pid)
			spawned[i] = spawned[--n_spawned];
}

static void kill_leftovers(void)
{
	for (size_t i = 0; i < n_spawned; i++)
		if (kill(spawned[i], 0) == 0)
			(void)kill(spawned[i], SIGKILL);
}

static uid_t uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);

	CHECK(pw);
	return pw->pw_uid;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the raw framed client --------------------------------------------- */

struct rres {
	long long code;
	char message[1024];
	char token[8192];
	unsigned prompts;
};

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

static int send_msg(int fd, uint8_t type, const char *user, const char *method, int64_t flags,
                    const char *answer)
{
	struct ts_msg_builder b = {0};
	const uint8_t *frame;
	size_t len;
	int r;

	ts_msg_begin(&b, type);
	ts_msg_add_str(&b, TS_F_USER, user);
	if (type != TS_MSG_ANSWER)
		ts_msg_add_str(&b, TS_F_SERVICE, "test");
	ts_msg_add_str(&b, TS_F_METHOD, method);
	if (type != TS_MSG_ANSWER)
		ts_msg_add_int(&b, TS_F_FLAGS, flags);
	ts_msg_add_str(&b, TS_F_ANSWER, answer);
	r = ts_msg_finish(&b, &frame, &len);
	if (r >= 0)
		r = ts_proto_write(fd, frame, len, 10000);
	ts_msg_builder_clear(&b);
	return r;
}

/* Frames until the RESULT; a PROMPT is answered with answer. */
static int read_result(int fd, const char *answer, struct rres *res)
{
	memset(res, 0, sizeof(*res));
	for (;;) {
		struct ts_msg m = {0};
		int r = ts_proto_read(fd, &m, 120000);

		if (r < 0)
			return r;
		if (m.type == TS_MSG_PROMPT) {
			ts_msg_clear(&m);
			res->prompts++;
			r = send_msg(fd, TS_MSG_ANSWER, NULL, NULL, 0, answer);
			if (r < 0)
				return r;
			continue;
		}
		if (m.type != TS_MSG_RESULT) {
			ts_msg_clear(&m);
			continue;
		}
		r = ts_msg_get_int(&m, TS_F_CODE, (int64_t *)&res->code);
		if (ts_msg_get_str(&m, TS_F_MESSAGE, res->message, sizeof(res->message)) < 0)
			res->message[0] = '\0';
		if (ts_msg_get_str(&m, TS_F_TOKEN, res->token, sizeof(res->token)) < 0)
			res->token[0] = '\0';
		ts_msg_clear(&m);
		return r;
	}
}

/* One request on a new connection: 0 with res filled, or a negative error. */
static int ask(const char *path, uint8_t type, const char *user, const char *method,
               const char *answer, struct rres *res)
{
	int fd = dial(path), r;

	if (fd < 0)
		return fd;
	r = send_msg(fd, type, user, method, answer ? 0 : TS_FLAG_NONINTERACTIVE, NULL);
	if (r >= 0)
		r = read_result(fd, answer, res);
	close(fd);
	if (r >= 0 && res->token[0])
		ts_leak_remember(res->token);
	return r;
}

/* ---- starting and stopping daemons --------------------------------------- */

/* Run argv with stdout and stderr appended to log; NOTIFY_SOCKET=notify
 * when not NULL. The child drops to uid as_uid when it is not 0. */
static pid_t spawn(const char *const argv[], const char *log, const char *notify, uid_t as_uid)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || nul < 0)
			_exit(120);
		dup2(nul, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		unsetenv("NOTIFY_SOCKET");
		if (notify)
			setenv("NOTIFY_SOCKET", notify, 1);
		if (as_uid != 0) {
			struct passwd *pw = getpwuid(as_uid);

			if (!pw || setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid,
			                                               pw->pw_gid) < 0 ||
			    setresuid(as_uid, as_uid, as_uid) < 0)
				_exit(121);
		}
		{
			char *const *av;

			memcpy(&av, &argv, sizeof(av)); /* execv's historical prototype */
			execv(argv[0], av);
		}
		_exit(127);
	}
	remember_pid(pid);
	return pid;
}

/* Wait up to ms for pid to exit: its wait status, or -1 when it did not. */
static int wait_exit(pid_t pid, long long ms)
{
	long long end = now_ms() + ms;
	int st;

	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid) {
			forget_pid(pid);
			return st;
		}
		if (now_ms() > end)
			return -1;
		usleep(20000);
	}
}

static bool file_has(const char *path, const char *needle)
{
	size_t len = 0;
	char *t;
	bool found;

	if (access(path, F_OK) != 0)
		return false;
	t = ts_test_read_file(path, &len);
	found = strstr(t, needle) != NULL;
	free(t);
	return found;
}

/* Wait until the log has needle (up to ms). */
static bool wait_log(const char *path, const char *needle, long long ms)
{
	long long end = now_ms() + ms;

	while (now_ms() < end) {
		if (file_has(path, needle))
			return true;
		usleep(20000);
	}
	return false;
}

static pid_t start_daemon(const char *log, const char *notify, const char *extra_arg,
                          const char *extra_val)
{
	const char *argv[] = {broker_bin, "--daemon", "--foreground", "--debug", "--config",
	                      cfg,        extra_arg,  extra_val,      NULL};
	char want[2048];
	pid_t pid = spawn(argv, log, notify, 0);

	snprintf(want, sizeof(want), "info: serving on %s (config %s)\n", sock, cfg);
	CHECK_MSG(wait_log(log, want, 15000), "the daemon said \"%s\" in %s", want, log);
	return pid;
}

static void stop_daemon(pid_t pid)
{
	int st;

	CHECK_INT(kill(pid, SIGTERM), 0);
	st = wait_exit(pid, 15000);
	CHECK_MSG(st != -1, "the daemon exited after SIGTERM");
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status 0 after SIGTERM (%d)",
	          st);
}

/* ---- cases ---------------------------------------------------------------- */

/* A non-root uid: one line, exit 2, and not even the socket folder made. */
static void test_nonroot_refused(void)
{
	const char *argv[] = {broker_bin, "--daemon", "--foreground", "--config", cfg, NULL};
	char log[1024];
	struct stat st;
	int status;
	char *t;

	snprintf(log, sizeof(log), "%s/nonroot.log", ts_test_tmpdir());
	status = wait_exit(spawn(argv, log, NULL, uid_of("bob")), 10000);
	CHECK_MSG(WIFEXITED(status), "exited");
	CHECK_INT(WEXITSTATUS(status), 2);
	t = ts_test_read_file(log, NULL);
	CHECK_STR(t, DAEMON_ROOT_ONLY);
	free(t);
	CHECK_MSG(stat(rundir, &st) != 0, "no socket folder %s made", rundir);
}

static void test_usage(void)
{
	const char *a1[] = {broker_bin, "--daemon", "--idle-exit", "0", NULL};
	const char *a2[] = {broker_bin, "--foreground", NULL};
	char log[1024];
	int status;
	char *t;

	snprintf(log, sizeof(log), "%s/usage1.log", ts_test_tmpdir());
	status = wait_exit(spawn(a1, log, NULL, 0), 10000);
	CHECK_INT(WEXITSTATUS(status), 2);
	t = ts_test_read_file(log, NULL);
	CHECK_STR(t, "tokenseal-broker: --idle-exit takes a number of seconds from 1 to 604800, "
	             "not \"0\"\n");
	free(t);
	snprintf(log, sizeof(log), "%s/usage2.log", ts_test_tmpdir());
	status = wait_exit(spawn(a2, log, NULL, 0), 10000);
	CHECK_INT(WEXITSTATUS(status), 2);
	t = ts_test_read_file(log, NULL);
	CHECK_STR(t, "tokenseal-broker: --foreground, --idle-exit and --max-per-uid go with "
	             "--daemon\n");
	free(t);
}

static void test_socket_modes(void)
{
	struct stat st;

	CHECK_INT(lstat(rundir, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(st.st_uid, 0);
	CHECK_INT(st.st_gid, 0);
	CHECK_INT(st.st_mode & 07777, 0755);
	CHECK_INT(lstat(sock, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_INT(st.st_uid, 0);
	CHECK_INT(st.st_mode & 0777, 0666);
}

/* Root may ask for anyone, and sign them in. */
static void test_root_acts_for_alice(void)
{
	struct rres res;
	char want[2048];

	CHECK_INT(ask(sock, TS_MSG_STATUS, "alice", NULL, NULL, &res), 0);
	CHECK_INT(res.code, 0);
	snprintf(want, sizeof(want), "alice is not signed in at %s", idp.issuer);
	CHECK_STR(res.message, want);

	CHECK_INT(ask(sock, TS_MSG_LOGIN, "alice", "password", "alice-pw", &res), 0);
	CHECK_INT(res.prompts, 1);
	CHECK_INT(res.code, 0);
	snprintf(want, sizeof(want), "signed in to %s as alice (password)", idp.issuer);
	CHECK_STR(res.message, want);
	CHECK_INT(ask(sock, TS_MSG_LOGIN, "bob", "password", "bob-pw", &res), 0);
	CHECK_INT(res.code, 0);
	CHECK_INT(ask(sock, TS_MSG_GET_TOKEN, "alice", NULL, NULL, &res), 0);
	CHECK_INT(res.code, 0);
	CHECK_MSG(strlen(res.token) > 20, "a token for alice");
}

/* A process with uid bob: alice (or any other name) is refused with
 * TS_E_PERM, bob is served. The uid decides, not the USER field. */
static void test_peer_uid(void)
{
	pid_t pid = fork();
	int st = 0;

	CHECK(pid >= 0);
	if (pid == 0) {
		const char *others[] = {"alice", "carol", "root"};
		struct passwd *pw = getpwnam("bob");
		struct rres res;
		char want[2048];

		if (!pw || setgroups(0, NULL) < 0 ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
			_exit(100);
		for (size_t i = 0; i < TS_ARRAY_SIZE(others); i++) {
			static const uint8_t types[] = {TS_MSG_REVALIDATE, TS_MSG_GET_TOKEN,
			                                TS_MSG_STATUS, TS_MSG_LOGOUT};

			for (size_t t = 0; t < sizeof(types); t++) {
				if (ask(sock, types[t], others[i], NULL, NULL, &res) < 0)
					_exit(101);
				snprintf(want, sizeof(want), "uid %u may not act for user %s",
				         (unsigned)pw->pw_uid, others[i]);
				if (res.code != TS_E_PERM || strcmp(res.message, want) != 0 ||
				    res.token[0]) {
					fprintf(stderr, "bob for %s: %lld %s\n", others[i],
					        res.code, res.message);
					_exit(102);
				}
			}
		}
		if (ask(sock, TS_MSG_REVALIDATE, "bob", NULL, NULL, &res) < 0 || res.code != 0) {
			fprintf(stderr, "bob for bob: %lld %s\n", res.code, res.message);
			_exit(103);
		}
		if (ask(sock, TS_MSG_GET_TOKEN, "bob", NULL, NULL, &res) < 0 || res.code != 0 ||
		    strlen(res.token) < 20)
			_exit(104);
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "uid bob: alice refused, bob served "
	                                                   "(child status %d)",
	          WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	/* alice's record is untouched: root still gets her token */
	{
		struct rres res;

		CHECK_INT(ask(sock, TS_MSG_GET_TOKEN, "alice", NULL, NULL, &res), 0);
		CHECK_INT(res.code, 0);
	}
}

/* 10 uses through the daemon: fewer TLS connections at the server than
 * uses (a warm keep-alive connection), and discovery from memory: the
 * document file removed before, no discovery fetch, no file written. */
static void test_warm_connections(void)
{
	char disc[800];
	struct rres res;
	long tls, intro, dfetch;
	struct stat st;

	snprintf(disc, sizeof(disc), "%s/discovery.json", ksdir);
	CHECK_MSG(stat(disc, &st) == 0, "the daemon wrote %s", disc);
	CHECK_INT(unlink(disc), 0);
	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
	for (int i = 0; i < 10; i++) {
		CHECK_INT(ask(sock, TS_MSG_REVALIDATE, "alice", NULL, NULL, &res), 0);
		CHECK_INT(res.code, 0);
	}
	tls = ts_idp_count(&idp, "tls_connections"); /* counts its own connection too */
	intro = ts_idp_count(&idp, "introspection");
	dfetch = ts_idp_count(&idp, "discovery");
	fprintf(stderr, "   10 uses: %ld TLS connections (with ctl's own), %ld introspections, "
	                "%ld discovery fetches\n",
	        tls, intro, dfetch);
	CHECK_INT(intro, 10);
	CHECK_MSG(tls >= 1 && tls - 1 <= 2, "10 uses opened %ld TLS connections (at most 2)",
	          tls - 1);
	CHECK_INT(dfetch, 0);
	CHECK_MSG(stat(disc, &st) != 0, "discovery came from memory: %s not rewritten", disc);
}

struct conc {
	pthread_t th;
	int rc;
	struct rres res;
	uint8_t type;
};

static void *conc_main(void *arg)
{
	struct conc *c = arg;

	c->rc = ask(sock, c->type, "alice", NULL, NULL, &c->res);
	return NULL;
}

/* 200 clients at once, with one that never sends and one that sends and
 * never reads: every one of the 200 is answered. */
static void test_concurrency(void)
{
	struct conc *c = calloc(N_CONCURRENT, sizeof(*c));
	pthread_attr_t attr;
	int silent, deaf, ok = 0;
	long long t0, t_silent;
	struct pollfd p;
	struct rres res;
	char buf[16];

	CHECK(c);
	silent = dial(sock);
	CHECK(silent >= 0);
	t_silent = now_ms();
	deaf = dial(sock);
	CHECK(deaf >= 0);
	CHECK_INT(send_msg(deaf, TS_MSG_GET_TOKEN, "alice", NULL, TS_FLAG_NONINTERACTIVE, NULL),
	          0);
	CHECK_INT(pthread_attr_init(&attr), 0);
	CHECK_INT(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
	t0 = now_ms();
	for (int i = 0; i < N_CONCURRENT; i++) {
		c[i].type = i % 2 ? TS_MSG_REVALIDATE : TS_MSG_STATUS;
		CHECK_INT(pthread_create(&c[i].th, &attr, conc_main, &c[i]), 0);
	}
	for (int i = 0; i < N_CONCURRENT; i++) {
		CHECK_INT(pthread_join(c[i].th, NULL), 0);
		if (c[i].rc == 0 && c[i].res.code == 0)
			ok++;
		else
			fprintf(stderr, "   client %d: rc %d code %lld %s\n", i, c[i].rc,
			        c[i].res.code, c[i].res.message);
	}
	fprintf(stderr, "   %d of %d concurrent clients answered in %lld ms\n", ok, N_CONCURRENT,
	        now_ms() - t0);
	CHECK_INT(ok, N_CONCURRENT);
	/* the silent one is answered and closed by the daemon at its
	 * request-frame deadline */
	p = (struct pollfd){.fd = silent, .events = POLLIN};
	CHECK_INT(poll(&p, 1, 20000), 1);
	CHECK_INT(read_result(silent, NULL, &res), 0);
	CHECK_INT(res.code, TS_E_IPC);
	CHECK_STR(res.message, LATE_FRAME);
	CHECK_INT(read(silent, buf, sizeof(buf)), 0);
	fprintf(stderr, "   the silent client was closed after %lld ms\n", now_ms() - t_silent);
	CHECK_MSG(now_ms() - t_silent >= 4500, "not before the 5 s request-frame deadline");
	close(silent);
	close(deaf);
	pthread_attr_destroy(&attr);
	free(c);
}

static long threads_of(pid_t pid)
{
	char path[64], buf[8192], *t;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CHECK(n > 0);
	buf[n] = '\0';
	t = strstr(buf, "\nThreads:\t");
	CHECK(t);
	return strtol(t + 10, NULL, 10);
}

/* 256 connections that never send fill every slot, but hold no thread
 * (they wait for their request frame in the main thread); the next client
 * is answered at once that the service is busy, not left in the listen
 * queue; at the 5 s request-frame deadline the silent ones are answered
 * and closed, and a client is served again. */
static void test_connection_cap(void)
{
	enum { CAP = 256 };
	int *silent = calloc(CAP, sizeof(int)), extra;
	struct pollfd p;
	struct rres res;
	long long t0;
	long th;

	CHECK(silent);
	t0 = now_ms();
	for (int i = 0; i < CAP; i++) {
		silent[i] = dial(sock);
		CHECK(silent[i] >= 0);
	}
	usleep(300000);
	th = threads_of(daemon_pid);
	fprintf(stderr, "   %d silent connections: %ld daemon threads\n", CAP, th);
	CHECK_MSG(th <= 8, "no thread for a connection without its request (%ld)", th);
	extra = dial(sock);
	CHECK(extra >= 0);
	CHECK_INT(send_msg(extra, TS_MSG_STATUS, "alice", NULL, TS_FLAG_NONINTERACTIVE, NULL), 0);
	p = (struct pollfd){.fd = extra, .events = POLLIN};
	CHECK_MSG(poll(&p, 1, 2000) == 1, "answered at once while every slot is taken");
	CHECK_INT(read_result(extra, NULL, &res), 0);
	CHECK_INT(res.code, TS_E_BUSY);
	CHECK_STR(res.message, "the tokenseal service is busy (256 requests at once); try again");
	close(extra);
	CHECK_MSG(now_ms() - t0 < 4000, "before the silent ones were let go");
	for (int i = 0; i < CAP; i++) {
		p = (struct pollfd){.fd = silent[i], .events = POLLIN};
		CHECK_INT(poll(&p, 1, 10000), 1);
		CHECK_INT(read_result(silent[i], NULL, &res), 0);
		CHECK_INT(res.code, TS_E_IPC);
		close(silent[i]);
	}
	fprintf(stderr, "   the silent ones were answered and closed after %lld ms\n",
	        now_ms() - t0);
	CHECK_MSG(now_ms() - t0 >= 4500, "at their request-frame deadline (5 s)");
	CHECK_INT(ask(sock, TS_MSG_STATUS, "alice", NULL, NULL, &res), 0);
	CHECK_INT(res.code, 0);
	free(silent);
}

/* The --debug log holds no token, password or client secret. */
static void test_no_secret_in_log(void)
{
	size_t len = 0;
	char *secret = ts_test_read_file(idp.secret_file, &len);

	ts_leak_remember(secret);
	ts_leak_remember("alice-pw");
	ts_leak_remember("bob-pw");
	free(secret);
	CHECK_MSG(ts_leak_count() >= 5, "tokens remembered (%zu)", ts_leak_count());
	CHECK_MSG(file_has(logfile, "debug: daemon: connection from uid 0"), "a --debug log");
	ts_leak_scan_file("daemon --debug log", logfile);
}

/* A second daemon on the same, live socket: refused, exit 1; the first
 * one is unharmed. */
static void test_second_daemon_refused(void)
{
	const char *argv[] = {broker_bin, "--daemon", "--foreground", "--debug", "--config",
	                      cfg,        NULL};
	char log[1024], want[2048];
	struct rres res;
	int st;

	snprintf(log, sizeof(log), "%s/second.log", ts_test_tmpdir());
	st = wait_exit(spawn(argv, log, NULL, 0), 15000);
	CHECK_MSG(WIFEXITED(st), "exited");
	CHECK_INT(WEXITSTATUS(st), 1);
	snprintf(want, sizeof(want),
	         "tokenseal-broker: error: another tokenseal-broker daemon is already serving "
	         "%s\n",
	         sock);
	CHECK_MSG(file_has(log, want), "said: %s", want);
	CHECK_INT(ask(sock, TS_MSG_STATUS, "alice", NULL, NULL, &res), 0);
	CHECK_INT(res.code, 0);
}

/* SIGTERM with a request in flight (a sign-in waiting at its password
 * prompt): the socket goes at once (no new connection), the request gets
 * its grace time, then its connection is cut and the daemon exits 0. */
static void test_sigterm(void)
{
	struct ts_msg m = {0};
	struct stat st;
	long long t0;
	int fd, status;

	fd = dial(sock);
	CHECK(fd >= 0);
	CHECK_INT(send_msg(fd, TS_MSG_LOGIN, "alice", "password", 0, NULL), 0);
	CHECK_INT(ts_proto_read(fd, &m, 30000), 0);
	CHECK_INT(m.type, TS_MSG_PROMPT);
	ts_msg_clear(&m);
	t0 = now_ms();
	CHECK_INT(kill(daemon_pid, SIGTERM), 0);
	while (lstat(sock, &st) == 0 && now_ms() - t0 < 2000)
		usleep(10000);
	CHECK_MSG(lstat(sock, &st) != 0 && errno == ENOENT, "SIGTERM removed %s at once", sock);
	CHECK_INT(dial(sock), -ENOENT);
	status = wait_exit(daemon_pid, 20000);
	fprintf(stderr, "   exited %lld ms after SIGTERM\n", now_ms() - t0);
	CHECK_MSG(status != -1, "the daemon exited");
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0 (%d)", status);
	CHECK_MSG(now_ms() - t0 >= 9000, "the request had its 10 s of grace");
	daemon_pid = -1;
	/* the unanswered prompt's connection was cut: no RESULT, end of stream */
	CHECK_INT(ts_proto_read(fd, &m, 5000), -ECONNRESET);
	close(fd);
	CHECK_MSG(file_has(logfile, "info: Terminated: stopping\n"), "said it stops");
	CHECK_MSG(file_has(logfile, "warning: 1 request(s) still running after 10 s: cutting "
	                            "them\n"),
	          "said it cut the request");
}

static int notify_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	(void)unlink(path);
	CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void notify_expect(int fd, const char *want)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[512];
	ssize_t n;

	CHECK_INT(poll(&p, 1, 15000), 1);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	CHECK(n > 0);
	buf[n] = '\0';
	CHECK_STR(buf, want);
}

/* A stale socket file (nothing listens) is replaced; NOTIFY_SOCKET gets
 * READY=1 and implies the foreground (no --foreground given); --idle-exit
 * ends it with status 0, STOPPING=1 and the socket removed. */
static void test_stale_notify_idle(void)
{
	const char *argv[] = {broker_bin, "--daemon", "--config", cfg, "--idle-exit", "2", NULL};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char npath[800], log[1024], want[2048];
	struct rres res;
	struct stat st;
	long long t0;
	int fd, nfd, status;
	pid_t pid;

	/* a stale socket: bound, then the listener is gone */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	CHECK_INT(lstat(sock, &st), 0);

	snprintf(npath, sizeof(npath), "%s/notify.sock", ts_test_tmpdir());
	nfd = notify_socket(npath);
	snprintf(log, sizeof(log), "%s/idle.log", ts_test_tmpdir());
	pid = spawn(argv, log, npath, 0);
	snprintf(want, sizeof(want), "READY=1\nSTATUS=serving on %s", sock);
	notify_expect(nfd, want);
	CHECK_INT(ask(sock, TS_MSG_STATUS, "alice", NULL, NULL, &res), 0);
	CHECK_INT(res.code, 0);
	t0 = now_ms();
	/* still our child: the foreground was implied */
	status = wait_exit(pid, 10000);
	CHECK_MSG(status != -1, "the daemon left after --idle-exit 2");
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0 (%d)", status);
	CHECK_MSG(now_ms() - t0 >= 1500, "not before the idle time (%lld ms)", now_ms() - t0);
	notify_expect(nfd, "STOPPING=1");
	CHECK_MSG(lstat(sock, &st) != 0, "the idle exit removed %s", sock);
	close(nfd);
}

/* Something that is not a socket at socket_path: refused, left alone. */
static void test_not_a_socket(void)
{
	const char *argv[] = {broker_bin, "--daemon", "--foreground", "--debug", "--config",
	                      cfg,        NULL};
	char log[1024], want[2048];
	struct stat st;
	int status;

	ts_test_write_file(sock, "x", 1, 0644);
	snprintf(log, sizeof(log), "%s/notsock.log", ts_test_tmpdir());
	status = wait_exit(spawn(argv, log, NULL, 0), 15000);
	CHECK_INT(WEXITSTATUS(status), 1);
	snprintf(want, sizeof(want),
	         "tokenseal-broker: error: %s exists and is not a socket; remove it or choose "
	         "another socket_path\n",
	         sock);
	CHECK_MSG(file_has(log, want), "said: %s", want);
	CHECK_INT(lstat(sock, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_INT(unlink(sock), 0);
}

/* The pid of the one process whose command line is argv (NULL-ended), or -1. */
static pid_t find_process(const char *const argv[])
{
	char want[4096];
	size_t wlen = 0;
	pid_t found = -1;
	struct dirent *de;
	DIR *d = opendir("/proc");

	CHECK(d);
	for (size_t i = 0; argv[i]; i++) {
		size_t n = strlen(argv[i]) + 1;

		CHECK(wlen + n <= sizeof(want));
		memcpy(want + wlen, argv[i], n);
		wlen += n;
	}
	while ((de = readdir(d))) {
		char path[300], got[4096];
		ssize_t n;
		int fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, got, sizeof(got));
		close(fd);
		if (n == (ssize_t)wlen && memcmp(got, want, wlen) == 0) {
			CHECK_MSG(found == -1, "one such process");
			found = (pid_t)strtol(de->d_name, NULL, 10);
		}
	}
	closedir(d);
	return found;
}

/* Without --foreground (and no systemd): the parent returns 0 at once and
 * the daemon serves from the background, in a session of its own. */
static void test_background(void)
{
	const char *argv[] = {broker_bin, "--daemon", "--config", cfg, NULL};
	char log[1024];
	struct rres res;
	struct stat st;
	long long end;
	int status, fd = -1;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/background.log", ts_test_tmpdir());
	status = wait_exit(spawn(argv, log, NULL, 0), 15000);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the parent returned 0");
	for (end = now_ms() + 10000; fd < 0 && now_ms() < end; usleep(20000))
		fd = dial(sock);
	CHECK_MSG(fd >= 0, "the background daemon listens on %s", sock);
	close(fd);
	pid = find_process(argv);
	CHECK_MSG(pid > 0, "the background daemon is running");
	remember_pid(pid);
	/* a session of its own, not the session leader (it cannot regain a
	 * terminal) */
	CHECK_MSG(getsid(pid) != getsid(0) && getsid(pid) != pid, "detached (sid %ld)",
	          (long)getsid(pid));
	CHECK_INT(ask(sock, TS_MSG_STATUS, "alice", NULL, NULL, &res), 0);
	CHECK_INT(res.code, 0);
	CHECK_INT(kill(pid, SIGTERM), 0);
	for (end = now_ms() + 15000; lstat(sock, &st) == 0 && now_ms() < end;)
		usleep(20000);
	CHECK_MSG(lstat(sock, &st) != 0, "SIGTERM removed %s", sock);
	for (end = now_ms() + 15000; kill(pid, 0) == 0 && now_ms() < end;)
		usleep(20000);
	CHECK_MSG(kill(pid, 0) != 0, "the background daemon exited");
	forget_pid(pid);
}

/* As tokenseal-broker.service runs it: root with no capability at all
 * (CapabilityBoundingSet= empty) and no_new_privs. Every file it needs is
 * root's own, so reading the config, opening the keystore, signing a user
 * in (new record) and revalidating all work. */
static void test_no_capabilities(void)
{
	static const char tool[] = "/usr/bin/setpriv";
	const char *argv[] = {tool,      "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs",
	                      "--",      broker_bin,            "--daemon",        "--foreground",
	                      "--debug", "--config",            cfg,               NULL};
	char log[1024], want[2048], path[64];
	struct rres res;
	pid_t pid;
	char *st, *cap;

	if (access(tool, X_OK) != 0) {
		fprintf(stderr, "   SKIPPED this case: %s is not installed\n", tool);
		return;
	}
	snprintf(log, sizeof(log), "%s/nocaps.log", ts_test_tmpdir());
	pid = spawn(argv, log, NULL, 0);
	snprintf(want, sizeof(want), "info: serving on %s (config %s)\n", sock, cfg);
	CHECK_MSG(wait_log(log, want, 15000), "the daemon without capabilities serves");
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	{
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n, got = 0;

		CHECK(fd >= 0);
		st = calloc(1, 8192);
		CHECK(st);
		while ((n = read(fd, st + got, 8191 - (size_t)got)) > 0)
			got += n;
		close(fd);
	}
	cap = strstr(st, "CapEff:");
	CHECK_MSG(cap && strncmp(cap, "CapEff:\t0000000000000000\n", 25) == 0,
	          "no effective capability (%.30s)", cap ? cap : "?");
	cap = strstr(st, "CapBnd:");
	CHECK_MSG(cap && strncmp(cap, "CapBnd:\t0000000000000000\n", 25) == 0,
	          "an empty bounding set (%.30s)", cap ? cap : "?");
	free(st);
	CHECK_INT(ask(sock, TS_MSG_LOGIN, "carol", "password", "carol-pw", &res), 0);
	CHECK_INT(res.code, 0);
	snprintf(want, sizeof(want), "signed in to %s as carol (password)", idp.issuer);
	CHECK_STR(res.message, want);
	CHECK_INT(ask(sock, TS_MSG_REVALIDATE, "alice", NULL, NULL, &res), 0);
	CHECK_INT(res.code, 0);
	CHECK_INT(ask(sock, TS_MSG_GET_TOKEN, "carol", NULL, NULL, &res), 0);
	CHECK_INT(res.code, 0);
	stop_daemon(pid);
	ts_leak_remember("carol-pw");
	ts_leak_scan_file("daemon --debug log without capabilities", log);
}

/* systemd-socket-activate -l PATH: the daemon serves the passed socket
 * (not socket_path), and leaves it in place when it stops. */
static void test_socket_activation(void)
{
	static const char tool[] = "/usr/bin/systemd-socket-activate";
	char adir[800], apath[860], log[1024];
	struct rres res;
	struct stat st;
	pid_t pid;
	int fd = -1;
	long long end;

	if (access(tool, X_OK) != 0) {
		fprintf(stderr, "   SKIPPED this case: %s is not installed\n", tool);
		return;
	}
	snprintf(adir, sizeof(adir), "%s/activate", ts_test_tmpdir());
	CHECK_INT(mkdir(adir, 0755), 0);
	snprintf(apath, sizeof(apath), "%s/broker.sock", adir);
	snprintf(log, sizeof(log), "%s/activate.log", ts_test_tmpdir());
	{
		const char *argv[] = {tool,      "-l",      apath,      "--", broker_bin,
		                      "--daemon", "--debug", "--config", cfg,  NULL};

		pid = spawn(argv, log, NULL, 0);
	}
	for (end = now_ms() + 10000; fd < 0 && now_ms() < end; usleep(20000))
		fd = dial(apath);
	CHECK_MSG(fd >= 0, "systemd-socket-activate listens on %s", apath);
	close(fd);
	CHECK_INT(ask(apath, TS_MSG_STATUS, "alice", NULL, NULL, &res), 0);
	CHECK_INT(res.code, 0);
	CHECK_MSG(wait_log(log, "info: serving on the socket passed by systemd", 5000),
	          "served the passed socket");
	CHECK_MSG(lstat(sock, &st) != 0, "socket_path %s was not created", sock);
	stop_daemon(pid);
	CHECK_MSG(lstat(apath, &st) == 0 && S_ISSOCK(st.st_mode),
	          "the passed socket %s is left to its owner", apath);
}

int main(int argc, char **argv)
{
	char extra[1600];

	if (argc < 2)
		TS_SKIP("usage: test_daemon PATH-TO-tokenseal-broker");
	if (getuid() != 0)
		TS_SKIP("needs root (the daemon runs as root; the test plays other uids)");
	if (!getpwnam("alice") || !getpwnam("bob") || !getpwnam("carol"))
		TS_SKIP("local users alice/bob/carol missing: scripts/test creates them");
	signal(SIGPIPE, SIG_IGN);
	atexit(kill_leftovers);
	CHECK(ts_strlcpy(broker_bin, argv[1], sizeof(broker_bin)) == 0);
	CHECK(ts_idp_start(&idp, 3600) == 0);
	/* other uids must reach the socket's folder */
	CHECK_INT(chmod(ts_test_tmpdir(), 0755), 0);
	snprintf(rundir, sizeof(rundir), "%s/run", ts_test_tmpdir());
	snprintf(sock, sizeof(sock), "%s/broker.sock", rundir);
	snprintf(ksdir, sizeof(ksdir), "%s/keystore", idp.dir);
	snprintf(cfg, sizeof(cfg), "%s/daemon.conf", idp.dir);
	snprintf(logfile, sizeof(logfile), "%s/daemon.log", ts_test_tmpdir());
	snprintf(extra, sizeof(extra),
	         "keystore_dir = %s\nlogin_methods = password, device\nsocket_path = %s\n", ksdir,
	         sock);
	CHECK(ts_idp_write_config(&idp, cfg, "conf", extra) == 0);

	RUN(test_nonroot_refused);
	RUN(test_usage);
	daemon_pid = start_daemon(logfile, NULL, NULL, NULL);
	RUN(test_socket_modes);
	RUN(test_root_acts_for_alice);
	RUN(test_peer_uid);
	RUN(test_warm_connections);
	RUN(test_concurrency);
	RUN(test_connection_cap);
	RUN(test_no_secret_in_log);
	RUN(test_second_daemon_refused);
	RUN(test_sigterm);
	RUN(test_stale_notify_idle);
	RUN(test_not_a_socket);
	RUN(test_background);
	RUN(test_no_capabilities);
	RUN(test_socket_activation);
	if (daemon_pid > 0)
		kill(daemon_pid, SIGTERM);
	ts_idp_stop(&idp);
	return ts_test_done();
}
