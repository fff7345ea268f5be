/* SPDX-License-Identifier: MIT */
/*
 * The attack of issue 15 §1 against the real daemon and the real test IdP
 * (labels daemon, attack; root, SKIPPED otherwise): a process with uid
 * 65534 (nobody) keeps 1000 connections to the daemon open and dribbles
 * one byte a second on each (slowloris), opening again every second
 * whatever was closed, for FLOOD_S seconds. Meanwhile, several times over:
 *   - root's account check (REVALIDATE for root, service "login"),
 *   - alice's sudo-shaped use (root asks REVALIDATE for alice, who has a
 *     record from a password sign-in, service "sudo"),
 *   - `tokenseal status --user root` (STATUS for root, as root),
 *   - bob's own use (a process with uid bob: REVALIDATE for bob),
 * all through ts_client over the socket only (no exec fallback), each
 * answered by the daemon within http_timeout. The daemon's thread and fd
 * counts (/proc/PID/status Threads, /proc/PID/fd) stay under fixed bounds
 * throughout, and the flooder is answered at once: every connection over
 * its 8 gets "too many requests from uid 65534 at once (at most 8); try
 * again" (TS_E_BUSY) within a moment of connecting, its 8 dribbling
 * ones get "the request did not arrive in full within 5 s of connecting;
 * closed" (TS_E_IPC) at 5 s however they dribble, and none is left
 * unanswered.
 * Root's reserve and --max-per-uid: test_daemon_reserve.c.
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
#include <sys/resource.h>
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

#define FLOODER_UID 65534
#define FLOOD_CONNS 1000
#define FLOOD_S 24
#define HTTP_TIMEOUT_S 10 /* the config's http_timeout: each request's normal bound */
#define PER_UID 8         /* the daemon's default --max-per-uid */
#define FRAME_S 5         /* the daemon's request-frame deadline */
/* Fixed bounds for the daemon during the flood: the main thread, libcurl's
 * resolver threads and a few requests being served; fds: the daemon's own
 * (~20), nobody's 8, at most 64 answered refusals kept open for a moment,
 * the requests of this test. Without the limits the flood holds hundreds
 * of each. */
#define THREAD_BOUND 24
#define FD_BOUND 128

static const char REFUSED[] = "too many requests from uid 65534 at once (at most 8); try again";
static const char LATE[] = "the request did not arrive in full within 5 s of connecting; closed";

static struct ts_idp idp;
static struct ts_daemon dmn;
static char broker_bin[512], cfg[700], sock[760], logfile[700];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the daemon's counts -------------------------------------------------- */

static long threads_of(pid_t pid)
{
	char path[64], buf[8192], *t;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	t = strstr(buf, "\nThreads:\t");
	return t ? strtol(t + 10, NULL, 10) : -1;
}

static long fds_of(pid_t pid)
{
	char path[64];
	struct dirent *de;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

struct sampler {
	pthread_t th;
	volatile int stop;
	long max_threads, max_fds, samples;
};

static void *sampler_main(void *arg)
{
	struct sampler *s = arg;

	while (!s->stop) {
		long t = threads_of(dmn.pid), f = fds_of(dmn.pid);

		if (t > s->max_threads)
			s->max_threads = t;
		if (f > s->max_fds)
			s->max_fds = f;
		s->samples++;
		usleep(50000);
	}
	return NULL;
}

/* ---- the flooder (uid 65534) ---------------------------------------------- */

struct flood_stats {
	long opened, connect_failed;
	long refused, refused_max_ms, refused_slow; /* slow: answered after 2 s */
	long late, late_min_ms, late_max_ms;
	long closed_unanswered, other, hanging;
};

struct fconn {
	int fd;
	long long t0;
	unsigned sent;
};

static int flood_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 2};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	/* a blocking connect waits (at most 2 s) while the listen queue is full */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* What the daemon said on c (readable or hung up). */
static void flood_classify(struct fconn *c, struct flood_stats *st, long long now)
{
	struct ts_msg m = {0};
	long long age = now - c->t0;
	int r = ts_proto_read(c->fd, &m, 1000);

	if (r < 0) {
		st->closed_unanswered++;
	} else {
		char msg[256] = "";
		int64_t code = 0;

		if (ts_msg_get_int(&m, TS_F_CODE, &code) < 0)
			code = 0;
		if (ts_msg_get_str(&m, TS_F_MESSAGE, msg, sizeof(msg)) < 0)
			msg[0] = '\0';
		if (m.type == TS_MSG_RESULT && code == TS_E_BUSY &&
		    strcmp(msg, REFUSED) == 0) {
			st->refused++;
			if (age > st->refused_max_ms)
				st->refused_max_ms = age;
			if (age > 2000)
				st->refused_slow++;
		} else if (m.type == TS_MSG_RESULT && code == TS_E_IPC && strcmp(msg, LATE) == 0) {
			st->late++;
			if (st->late_min_ms == 0 || age < st->late_min_ms)
				st->late_min_ms = age;
			if (age > st->late_max_ms)
				st->late_max_ms = age;
		} else {
			if (st->other++ < 3)
				fprintf(stderr, "   flooder: unexpected answer %u %lld \"%s\"\n",
				        m.type, (long long)code, msg);
		}
		ts_msg_clear(&m);
	}
	close(c->fd);
	c->fd = -1;
}

/* Dribble the frame of a 256-byte request, one byte at a time. */
static uint8_t flood_byte(unsigned i)
{
	static const uint8_t hdr[] = {0, 0, 1, 0, TS_PROTO_VERSION, TS_MSG_STATUS};

	return i < sizeof(hdr) ? hdr[i] : 'x';
}

static void flood(int report_fd, long long until)
{
	struct fconn *c = calloc(FLOOD_CONNS, sizeof(*c));
	struct pollfd *p = calloc(FLOOD_CONNS, sizeof(*p));
	size_t *idx = calloc(FLOOD_CONNS, sizeof(*idx));
	struct flood_stats st = {0};
	long long next_drip;

	if (!c || !p || !idx || setgroups(0, NULL) < 0 ||
	    setresgid(FLOODER_UID, FLOODER_UID, FLOODER_UID) < 0 ||
	    setresuid(FLOODER_UID, FLOODER_UID, FLOODER_UID) < 0)
		_exit(100);
	for (size_t i = 0; i < FLOOD_CONNS; i++)
		c[i].fd = -1;
	next_drip = now_ms();
	while (now_ms() < until) {
		long long now = now_ms();
		nfds_t n = 0;
		int r;

		if (now >= next_drip) {
			/* once a second: whatever was closed is opened again, and
			 * every connection gets one more byte */
			for (size_t i = 0; i < FLOOD_CONNS && now_ms() < until; i++) {
				if (c[i].fd >= 0)
					continue;
				c[i].fd = flood_connect();
				if (c[i].fd < 0) {
					st.connect_failed++;
					continue;
				}
				c[i].t0 = now_ms();
				c[i].sent = 0;
				st.opened++;
			}
			for (size_t i = 0; i < FLOOD_CONNS; i++) {
				uint8_t b = flood_byte(c[i].sent);

				if (c[i].fd >= 0 &&
				    send(c[i].fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
					c[i].sent++;
			}
			next_drip = now + 1000;
		}
		for (size_t i = 0; i < FLOOD_CONNS; i++) {
			if (c[i].fd < 0)
				continue;
			p[n] = (struct pollfd){.fd = c[i].fd, .events = POLLIN};
			idx[n++] = i;
		}
		r = poll(p, n, 100);
		now = now_ms();
		for (nfds_t k = 0; r > 0 && k < n; k++)
			if (p[k].revents)
				flood_classify(&c[idx[k]], &st, now);
		/* neither answered nor closed long after the frame deadline:
		 * left hanging (in the listen queue, or held by the daemon) */
		for (size_t i = 0; i < FLOOD_CONNS; i++) {
			if (c[i].fd >= 0 && now - c[i].t0 > (FRAME_S + 3) * 1000) {
				if (st.hanging++ < 3)
					fprintf(stderr,
					        "   flooder: a connection unanswered after "
					        "%lld ms\n",
					        now - c[i].t0);
				close(c[i].fd);
				c[i].fd = -1;
			}
		}
	}
	if (write(report_fd, &st, sizeof(st)) != (ssize_t)sizeof(st))
		_exit(101);
	_exit(0);
}

/* ---- the requests that must go on ----------------------------------------- */

static int answer_prompt(void *ctx, const char *text, bool echo, char **ret)
{
	(void)text;
	(void)echo;
	*ret = strdup(ctx);
	return *ret ? 0 : -ENOMEM;
}

static int say(void *ctx, const char *text)
{
	(void)ctx;
	(void)text;
	return 0;
}

/* One request through ts_client over the daemon's socket only; its time. */
static long long timed_call(uint8_t type, const char *user, const char *service, const char *method,
                            const char *password, struct ts_client_result *res)
{
	struct ts_client_opts o = {
	    .socket_path = sock, .mode = TS_CLIENT_SOCKET_ONLY, .timeout_ms = 60000};
	struct ts_client_request req = {.type = type,
	                                .user = user,
	                                .service = service,
	                                .method = method,
	                                .flags = password ? 0 : TS_FLAG_NONINTERACTIVE};
	char pw[64];
	struct ts_conv conv = {say, say, answer_prompt, pw};
	long long t0;
	int r;

	snprintf(pw, sizeof(pw), "%s", password ? password : "");
	memset(res, 0, sizeof(*res));
	t0 = now_ms();
	r = ts_client_call(&o, &req, &conv, res);
	if (r < 0) {
		res->code = r;
		snprintf(res->message, sizeof(res->message), "ts_client_call: %s", ts_strerror(r));
	}
	return now_ms() - t0;
}

/* bob's own REVALIDATE, from a process with uid bob: its time in ms, or
 * -1 when it was not served (a child's exit status carries the outcome). */
static long long bob_revalidates(void)
{
	struct passwd *pw = getpwnam("bob");
	long long t0 = now_ms();
	int st = 0;
	pid_t pid;

	CHECK(pw);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct ts_client_result res;

		if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
			_exit(100);
		(void)timed_call(TS_MSG_REVALIDATE, "bob", "test", NULL, NULL, &res);
		if (res.code != 0 || !res.via_daemon) {
			fprintf(stderr, "   bob: %d %s\n", res.code, res.message);
			_exit(101);
		}
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? now_ms() - t0 : -1;
}

/* The four uses of one round, each within http_timeout. */
static void one_round(int round)
{
	static const struct {
		uint8_t type;
		const char *user, *service, *what;
	} uses[] = {
	    {TS_MSG_REVALIDATE, "root", "login", "root's account check"},
	    {TS_MSG_REVALIDATE, "alice", "sudo", "alice's sudo (account check as root)"},
	    {TS_MSG_STATUS, "root", NULL, "tokenseal status --user root"},
	};
	long long ms;

	for (size_t i = 0; i < TS_ARRAY_SIZE(uses); i++) {
		struct ts_client_result res;

		ms = timed_call(uses[i].type, uses[i].user, uses[i].service, NULL, NULL, &res);
		fprintf(stderr, "   round %d: %s: %lld ms, code %d \"%s\"\n", round, uses[i].what,
		        ms, res.code, res.message);
		CHECK_MSG(res.via_daemon, "%s: answered by the daemon", uses[i].what);
		CHECK_MSG(res.code != TS_E_UNAVAILABLE && res.code != TS_E_BUSY && res.code != TS_E_IPC &&
		              res.code != TS_E_NO_SERVICE && res.code > -1000 - 1000,
		          "%s: served, not refused (%d)", uses[i].what, res.code);
		if (strcmp(uses[i].user, "alice") == 0)
			CHECK_MSG(res.code == 0, "alice's record was revalidated (%d %s)", res.code,
			          res.message);
		CHECK_MSG(ms < HTTP_TIMEOUT_S * 1000, "%s within http_timeout (%lld ms)",
		          uses[i].what, ms);
		ts_client_result_clear(&res);
	}
	ms = bob_revalidates();
	fprintf(stderr, "   round %d: bob's own revalidation (uid bob): %lld ms\n", round, ms);
	CHECK_MSG(ms >= 0, "bob (another ordinary uid) is served during nobody's flood");
	CHECK_MSG(ms < HTTP_TIMEOUT_S * 1000, "bob within http_timeout (%lld ms)", ms);
}

static void test_flood(void)
{
	struct sampler smp = {0};
	struct flood_stats st = {0};
	struct ts_client_result res;
	long base_threads, base_fds;
	long long until;
	int pfd[2], wst = 0;
	pid_t pid;

	/* records: alice and bob sign in with their passwords */
	(void)timed_call(TS_MSG_LOGIN, "alice", "test", "password", "alice-pw", &res);
	CHECK_MSG(res.code == 0, "alice signed in (%d %s)", res.code, res.message);
	ts_client_result_clear(&res);
	(void)timed_call(TS_MSG_LOGIN, "bob", "test", "password", "bob-pw", &res);
	CHECK_MSG(res.code == 0, "bob signed in (%d %s)", res.code, res.message);
	ts_client_result_clear(&res);
	one_round(0); /* before the flood: warm, and the requests themselves work */
	base_threads = threads_of(dmn.pid);
	base_fds = fds_of(dmn.pid);
	fprintf(stderr, "   before the flood: %ld threads, %ld fds\n", base_threads, base_fds);

	CHECK_INT(pipe2(pfd, O_CLOEXEC), 0);
	until = now_ms() + FLOOD_S * 1000;
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		flood(pfd[1], until);
	}
	close(pfd[1]);
	CHECK_INT(pthread_create(&smp.th, NULL, sampler_main, &smp), 0);
	for (int round = 1; round <= 3; round++) {
		usleep(round == 1 ? 3000000 : 5000000); /* the flood at full strength */
		one_round(round);
	}
	smp.stop = 1;
	CHECK_INT(pthread_join(smp.th, NULL), 0);
	CHECK_MSG(read(pfd[0], &st, sizeof(st)) == (ssize_t)sizeof(st), "the flooder reported");
	close(pfd[0]);
	CHECK(waitpid(pid, &wst, 0) == pid);
	CHECK_MSG(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "the flooder ran (status %d)", wst);

	fprintf(stderr,
	        "   flood: %ld connections opened (%ld connects failed), %ld refused at once "
	        "(slowest %ld ms, %ld after 2 s), %ld answered late at %ld..%ld ms, %ld closed "
	        "unanswered, %ld other answers, %ld left hanging\n",
	        st.opened, st.connect_failed, st.refused, st.refused_max_ms, st.refused_slow,
	        st.late, st.late_min_ms, st.late_max_ms, st.closed_unanswered, st.other,
	        st.hanging);
	fprintf(stderr, "   daemon during the flood: at most %ld threads, %ld fds (%ld samples)\n",
	        smp.max_threads, smp.max_fds, smp.samples);
	CHECK_MSG(st.opened >= FLOOD_CONNS, "the flooder held its %d connections (%ld)",
	          FLOOD_CONNS, st.opened);
	CHECK_MSG(st.hanging == 0, "no connection left unanswered (%ld)", st.hanging);
	CHECK_MSG(st.refused >= FLOOD_CONNS - PER_UID, "the excess was refused (%ld)", st.refused);
	CHECK_MSG(st.refused_slow * 100 <= st.refused,
	          "refusals come at once (%ld of %ld after 2 s; slowest %ld ms)", st.refused_slow,
	          st.refused, st.refused_max_ms);
	CHECK_MSG(st.late >= PER_UID, "the admitted dribblers were cut (%ld)", st.late);
	CHECK_MSG(st.late_min_ms >= (FRAME_S * 1000) - 500 &&
	              st.late_max_ms <= FRAME_S * 1000 + 2500,
	          "at the frame deadline however they dribble (%ld..%ld ms)", st.late_min_ms,
	          st.late_max_ms);
	CHECK_MSG(st.other == 0, "no other answer (%ld)", st.other);
	CHECK_MSG(smp.samples > 10, "sampled the daemon (%ld)", smp.samples);
	CHECK_MSG(smp.max_threads > 0 && smp.max_threads <= THREAD_BOUND,
	          "daemon threads bounded (%ld <= %d)", smp.max_threads, THREAD_BOUND);
	CHECK_MSG(smp.max_fds > 0 && smp.max_fds <= FD_BOUND, "daemon fds bounded (%ld <= %d)",
	          smp.max_fds, FD_BOUND);
	CHECK_MSG(ts_daemon_file_has(logfile, "warning: refused a connection from uid 65534"),
	          "the journal names the refused uid");
	CHECK_MSG(ts_daemon_file_has(logfile, "more connection(s) refused or closed early in the "
	                                      "last 10 s, of uid 65534\n"),
	          "and counts the rest, once per 10 s");
	/* after the flood: served as before */
	one_round(4);
}

int main(int argc, char **argv)
{
	char extra[1600], ksdir[700];
	struct rlimit rl = {8192, 8192};

	if (argc < 2)
		TS_SKIP("usage: test_daemon_flood PATH-TO-tokenseal-broker");
	if (getuid() != 0)
		TS_SKIP("needs root (the daemon runs as root; the test plays uid 65534 and bob)");
	if (!getpwnam("alice") || !getpwnam("bob"))
		TS_SKIP("local users alice/bob missing: scripts/test creates them");
	signal(SIGPIPE, SIG_IGN);
	CHECK_MSG(setrlimit(RLIMIT_NOFILE, &rl) == 0, "RLIMIT_NOFILE 8192 for the flooder");
	CHECK(ts_strlcpy(broker_bin, argv[1], sizeof(broker_bin)) == 0);
	CHECK(ts_idp_start(&idp, 3600) == 0);
	/* uid 65534 and bob must reach the socket's folder */
	CHECK_INT(chmod(ts_test_tmpdir(), 0755), 0);
	snprintf(cfg, sizeof(cfg), "%s/flood.conf", idp.dir);
	snprintf(ksdir, sizeof(ksdir), "%s/keystore", idp.dir);
	snprintf(logfile, sizeof(logfile), "%s/daemon.log", ts_test_tmpdir());
	ts_daemon_socket_for(cfg, sock, sizeof(sock));
	snprintf(extra, sizeof(extra),
	         "keystore_dir = %s\nlogin_methods = password\nhttp_timeout = %d\n"
	         "socket_path = %s\n",
	         ksdir, HTTP_TIMEOUT_S, sock);
	CHECK(ts_idp_write_config(&idp, cfg, "conf", extra) == 0);
	CHECK_MSG(ts_daemon_start(&dmn, broker_bin, cfg, sock, logfile) == 0,
	          "the daemon serves (see %s)", logfile);

	RUN(test_flood);

	(void)ts_daemon_stop(&dmn);
	ts_idp_stop(&idp);
	return ts_test_done();
}
