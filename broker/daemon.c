/* SPDX-License-Identifier: MIT */
/*
 * tokenseal-broker --daemon (DESIGN.md §2): the root service that ordinary
 * users reach through socket_path, and that the PAM module tries before
 * exec mode.
 *
 *   - The listening socket (daemon_socket.c): the one systemd hands over
 *     (socket activation), else socket_path of the daemon's own
 *     configuration, created there.
 *   - One request per connection, in a thread of its own: the peer's uid
 *     from SO_PEERCRED, then ts_broker_serve_one() exactly as exec mode
 *     calls it, so authorisation lives in one place (root may act for
 *     anyone, others only for themselves; never a field of the request).
 *   - Fair and bounded (daemon_conn.c): per-uid limits with slots kept for
 *     root, the excess answered and closed at once (accepting goes on at
 *     the cap: the listen queue drains), the whole request frame within
 *     TS_DAEMON_REQUEST_FRAME_MS of accept, every request within
 *     TS_DAEMON_REQUEST_MAX_S. No local user can hold up anyone else's.
 *   - One main thread: accept, admission, the request frames (epoll), the
 *     deadlines; a worker thread per request being served.
 *   - Warm: the OAuth clients of all requests reuse libcurl handles, their
 *     keep-alive connections and TLS sessions (oauth_global_share_enable),
 *     and discovery documents are kept in memory
 *     (ts_discovery_cache_memory_enable).
 *   - sd_notify READY=1 once serving, STOPPING=1 on the way out.
 *     SIGTERM/SIGINT: stop accepting, remove the socket created here, let
 *     in-flight requests finish for TS_DAEMON_STOP_GRACE_S, then cut them,
 *     exit 0. --idle-exit N: exit 0 after N s without a connection (socket
 *     activation starts the service again on the next one), but never while
 *     an open session has a background refresh scheduled.
 *   - Background refresh (daemon_refresh.c): a thread refreshes the records
 *     of users with an open session ahead of their refresh window.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "daemon_internal.h"
#include "discovery_cache.h"
#include "lifecycle.h"
#include "nss_update.h"
#include "oauth.h"
#include "serve.h"
#include "ts_config.h"
#include "ts_error.h"
#include "ts_file.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_time.h"

#define THREAD_STACK (1024 * 1024)
#define IDLE_RECHECK_MS 1000 /* --idle-exit held back by background refresh */
/* Pooled libcurl handles idle this long are cleaned up (their buffers hold
 * the last answers: tokens), so an idle daemon keeps no token in memory;
 * under steady use they stay warm. */
#define POOL_IDLE_MS 2000
#define ACCEPT_BATCH 64 /* accepts per wake-up: the signal fd is not starved */

enum { TAG_SIGNAL = 1, TAG_WAKE, TAG_LISTEN };

static int wake[2] = {-1, -1}; /* a worker writes a byte when its connection is done */

static void drain(int fd)
{
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Wait until nothing is in flight or ms have passed. */
static void wait_idle(int64_t ms)
{
	int64_t end = ts_monotonic_ms() + ms;

	while (ts_dconn_inflight() > 0) {
		struct pollfd p = {.fd = wake[0], .events = POLLIN};
		int64_t left = end - ts_monotonic_ms();

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)(left < 200 ? left : 200)) > 0)
			drain(wake[0]);
	}
}

static int watch(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* ---- start ------------------------------------------------------------- */

/* Into the background: the parent returns only in the child (the
 * grandchild, in a session of its own, without a terminal). */
static int go_background(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -errno;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	(void)dup2(fd, STDIN_FILENO);
	(void)dup2(fd, STDOUT_FILENO);
	(void)dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

static int signal_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* blocked in every thread (they inherit the mask): only the signalfd
	 * sees them */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -EINVAL;
	signal(SIGHUP, SIG_IGN); /* the config is read per request: nothing to reload */
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* The NSS cache carries nss_resolve_unknown and the other nss_* settings:
 * a (re)started service brings a cache written under older settings up to
 * date, so that names the new pattern admits resolve before any sign-in.
 * Problems are the cache's own warnings; the daemon serves regardless. */
static void nss_settings_up_to_date(const char *config_path)
{
	struct ts_config *cfg = malloc(sizeof(*cfg));

	if (!cfg)
		return;
	ts_config_defaults(cfg);
	if (ts_config_load(cfg, config_path, NULL, NULL) >= 0 &&
	    ts_config_validate(cfg, config_path, NULL) >= 0)
		(void)ts_nss_prepare_if_stale(cfg);
	free(cfg);
}

/* Accept what is queued (up to ACCEPT_BATCH). A lack of fds or memory
 * stops accepting for 100 ms (the listener leaves the epoll set meanwhile,
 * so the loop does not spin on it). */
static void accept_some(int ep, int lfd, int64_t *backoff_until)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int r = ts_dconn_accept(lfd);

		if (r == -EMFILE || r == -ENFILE || r == -ENOMEM || r == -ENOBUFS) {
			ts_log(LOG_WARNING, "cannot accept a connection: %s; retrying",
			       ts_strerror(r));
			(void)epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL);
			*backoff_until = ts_monotonic_ms() + 100;
			return;
		}
		if (r < 0)
			return; /* EAGAIN: none left; others: that connection only */
	}
}

int ts_daemon_run(const struct ts_daemon_opts *o)
{
	char path[TS_PATH_MAX];
	struct stat ours = {0};
	struct ts_serve_opts serve = {0};
	pthread_attr_t attr;
	bool created = false, foreground, tty_foreground, stop = false, failed = false;
	bool attr_ok = false;
	int lfd = -1, sfd = -1, ep = -1, r;
	int64_t backoff_until = 0, busy_seen = 0;

	foreground = o->foreground || o->listen_fds > 0 || getenv("NOTIFY_SOCKET");
	/* a terminal's --foreground (or --debug) logs to standard error; under
	 * systemd (implied foreground) and in the background, to syslog */
	tty_foreground = o->foreground && o->listen_fds <= 0 && !getenv("NOTIFY_SOCKET");
	ts_log_setup((o->debug && foreground) || tty_foreground ? TS_LOG_STDERR : TS_LOG_SYSLOG,
	             "tokenseal-broker", o->debug);

	r = ts_daemon_get_listener(o, &lfd, &created, path, sizeof(path), &ours);
	if (r < 0)
		return 1;
	if (!foreground) {
		r = go_background();
		if (r < 0) {
			ts_log(LOG_ERR, "cannot go into the background: %s", ts_strerror(r));
			goto out;
		}
	}
	if (sodium_init() < 0) {
		ts_log(LOG_ERR, "libsodium failed to initialise");
		goto out;
	}
	r = oauth_global_init();
	if (r >= 0)
		r = oauth_global_share_enable();
	if (r < 0) {
		ts_log(LOG_ERR, "libcurl failed to initialise: %s", ts_strerror(r));
		goto out;
	}
	json_object_seed(0); /* before any thread: jansson's hash seed */
	ts_discovery_cache_memory_enable();
	ts_log(LOG_DEBUG, "what libcurl and jansson free is wiped; OpenSSL's too: %s",
	       oauth_global_tls_wiped() ? "yes" : "no (not libcurl's TLS library here)");

	serve.config_path = o->config_path;
	serve.debug = o->debug;
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		ts_log(LOG_ERR, "cannot create a pipe: %s", ts_strerror(-errno));
		goto out;
	}
	sfd = signal_fd();
	if (sfd < 0) {
		ts_log(LOG_ERR, "cannot set up signal handling: %s", ts_strerror(-errno));
		goto out;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || watch(ep, sfd, TAG_SIGNAL) < 0 || watch(ep, wake[0], TAG_WAKE) < 0 ||
	    watch(ep, lfd, TAG_LISTEN) < 0) {
		ts_log(LOG_ERR, "cannot set up epoll: %s", ts_strerror(-errno));
		goto out;
	}
	if (pthread_attr_init(&attr) != 0)
		goto out;
	attr_ok = true;
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	(void)pthread_attr_setstacksize(&attr, THREAD_STACK);
	ts_dconn_init(&serve, &attr, o->max_per_uid, ep, wake[1]);

	nss_settings_up_to_date(o->config_path);
	{
		/* writes cut short before this start (a crash, kill -9) */
		struct ts_config cfg;

		ts_config_defaults(&cfg);
		if (ts_config_load(&cfg, o->config_path, NULL, NULL) == 0)
			(void)ts_sweep_leftovers(&cfg);
	}
	r = ts_dbg_start(o->config_path);
	if (r < 0)
		ts_log(LOG_WARNING, "background refresh not started: %s; uses refresh on their own",
		       ts_strerror(r));
	ts_log(LOG_INFO, "serving on %s (config %s)", path, o->config_path);
	(void)sd_notifyf(0, "READY=1\nSTATUS=serving on %s", path);

	while (!stop) {
		struct epoll_event ev[64];
		int64_t now = ts_monotonic_ms(), timeout = ts_dconn_sweep();
		unsigned n = ts_dconn_inflight();

		if (timeout >= 0)
			timeout = timeout > now ? timeout - now : 0;
		if (n > 0 && (timeout < 0 || timeout > 1000))
			timeout = 1000; /* the per-request bound */
		if (backoff_until) {
			if (now >= backoff_until) {
				backoff_until = 0;
				if (watch(ep, lfd, TAG_LISTEN) < 0)
					backoff_until = now + 100;
			}
			if (backoff_until && (timeout < 0 || backoff_until - now < timeout))
				timeout = backoff_until - now;
		}
		{
			/* every pooled handle idle POOL_IDLE_MS: cleaned up; while
			 * the background refresh may put one back unseen, looked
			 * at every POOL_IDLE_MS */
			int64_t put = oauth_global_pool_last_put(), t = POOL_IDLE_MS;

			if (put && now - put >= POOL_IDLE_MS)
				(void)oauth_global_pool_trim();
			else if (put)
				t = put + POOL_IDLE_MS - now;
			if ((put || ts_dbg_busy()) && (timeout < 0 || t < timeout))
				timeout = t;
		}
		if (o->idle_exit && n == 0 && ts_dbg_busy()) {
			/* an open session has a background refresh scheduled:
			 * stay (looked at again every IDLE_RECHECK_MS); the
			 * idle time counts from when none is left */
			busy_seen = now;
			if (timeout < 0 || timeout > IDLE_RECHECK_MS)
				timeout = IDLE_RECHECK_MS;
		} else if (o->idle_exit && n == 0) {
			int64_t last = ts_dconn_last_activity();
			int64_t left = (busy_seen > last ? busy_seen : last) +
			               (int64_t)o->idle_exit * 1000 - now;

			if (left <= 0) {
				ts_log(LOG_INFO, "no connection for %u s: exiting", o->idle_exit);
				break;
			}
			if (timeout < 0 || left < timeout)
				timeout = left;
		}
		r = epoll_wait(ep, ev, (int)TS_ARRAY_SIZE(ev),
		               (int)(timeout > INT_MAX ? INT_MAX : timeout));
		if (r < 0 && errno != EINTR) {
			ts_log(LOG_ERR, "epoll_wait: %s", ts_strerror(-errno));
			failed = true;
			break;
		}
		for (int i = 0; i < r; i++) {
			uint64_t tag = ev[i].data.u64;

			if (tag == TAG_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
					ts_log(LOG_INFO, "%s: stopping",
					       strsignal((int)si.ssi_signo));
					stop = true;
				}
			} else if (tag == TAG_WAKE) {
				drain(wake[0]);
				ts_dbg_poke();
			} else if (tag == TAG_LISTEN) {
				if (!stop && !backoff_until)
					accept_some(ep, lfd, &backoff_until);
			} else if (tag >= TS_DCONN_TAG_MIN) {
				ts_dconn_event(tag, ev[i].events);
			}
		}
	}
	/* stop accepting; the socket systemd owns stays (it queues the next
	 * connection and starts us again) */
	(void)sd_notify(0, "STOPPING=1");
	(void)epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL);
	if (created) {
		ts_daemon_unlink_ours(path, &ours);
		close(lfd);
		lfd = -1;
	}
	ts_dconn_stop_accepting();
	ts_dbg_stop((int64_t)TS_DAEMON_STOP_GRACE_S * 1000);
	wait_idle((int64_t)TS_DAEMON_STOP_GRACE_S * 1000);
	if (ts_dconn_inflight() > 0) {
		ts_log(LOG_WARNING, "%u request(s) still running after %d s: cutting them",
		       ts_dconn_inflight(), TS_DAEMON_STOP_GRACE_S);
		ts_dconn_cut(0);
		wait_idle(1000);
	}
	/* Leave with _exit: a detached worker may still be on its way out
	 * (its thread-local destructors, OpenSSL's among them, run after it
	 * said it was done), or, after the cut, inside an HTTP call; exit()
	 * would run the libraries' atexit cleanups under its feet. Nothing is
	 * half done: stores are atomic, locks are flock(2)s the kernel drops. */
	pthread_attr_destroy(&attr);
	close(sfd);
	fflush(NULL);
	_exit(failed ? 1 : 0);
out: /* could not start */
	if (attr_ok)
		pthread_attr_destroy(&attr);
	if (ep >= 0)
		close(ep);
	if (created && lfd >= 0) {
		ts_daemon_unlink_ours(path, &ours);
		close(lfd);
	}
	if (sfd >= 0)
		close(sfd);
	return 1;
}
