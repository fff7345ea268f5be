/* SPDX-License-Identifier: MIT */
/*
 * tokenseal-broker --daemon (DESIGN.md §2): the root service that ordinary
 * users reach through socket_path, and that the PAM module tries before
 * exec mode.
 *
 *   - The listening socket is the one systemd hands over (socket
 *     activation, LISTEN_FDS: tokenseal-broker.socket), else socket_path
 *     of the daemon's own configuration, created here: its folder root:root
 *     0755 (made when absent, refused when anyone else may write to it),
 *     the socket 0666 (anyone may connect: SO_PEERCRED decides what they
 *     may ask). A leftover socket file is replaced only when nothing
 *     answers on it.
 *   - One request per connection, in a thread of its own: the peer's uid
 *     from SO_PEERCRED, then ts_broker_serve_one() exactly as exec mode
 *     calls it, so authorisation lives in one place (root may act for
 *     anyone, others only for themselves; never a field of the request).
 *   - Bounded: at most TS_DAEMON_MAX_CONNS connections at once (beyond
 *     that accept waits), a first byte within TS_DAEMON_FIRST_FRAME_MS,
 *     every frame within the protocol's timeout, every request within
 *     TS_DAEMON_REQUEST_MAX_S (then its connection is shut down).
 *   - Warm: the OAuth clients of all requests reuse libcurl handles, their
 *     keep-alive connections and TLS sessions (oauth_global_share_enable),
 *     and discovery documents are kept in memory
 *     (ts_discovery_cache_memory_enable).
 *   - sd_notify READY=1 once serving, STOPPING=1 on the way out.
 *     SIGTERM/SIGINT: stop accepting, remove the socket created here, let
 *     in-flight requests finish for TS_DAEMON_STOP_GRACE_S, then cut them,
 *     exit 0. --idle-exit N: exit 0 after N s without a connection (socket
 *     activation starts the service again on the next one).
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
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "discovery_cache.h"
#include "oauth.h"
#include "serve.h"
#include "ts_config.h"
#include "ts_error.h"
#include "ts_file.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_time.h"

#define THREAD_STACK (1024 * 1024)

struct slot {
	bool used, cut;
	int fd;
	uid_t uid;
	pid_t pid;
	int64_t start_ms;
};

static struct {
	struct ts_serve_opts serve;
	pthread_mutex_t lock;
	struct slot slots[TS_DAEMON_MAX_CONNS];
	unsigned inflight;
	int64_t last_activity_ms;
	int wake[2]; /* a worker writes a byte when its connection is done */
} D = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = {-1, -1}};

TS_PRINTF(3, 0)
static void config_log(void *ctx, int priority, const char *fmt, va_list ap)
{
	(void)ctx;
	ts_vlog(priority, fmt, ap);
}

int ts_daemon_inherited_fds(void)
{
	return sd_listen_fds(1);
}

/* ---- the listening socket ---------------------------------------------- */

/* socket_path's folder: created root:root 0755 when absent; else it must
 * be a root-owned folder nobody else may write to (the clients check the
 * same before they trust the socket). */
static int socket_folder(const char *path)
{
	char dir[TS_PATH_MAX], why[512];
	struct stat st;
	char *slash;
	int r;

	if (ts_strlcpy(dir, path, sizeof(dir)) < 0)
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir) {
		ts_log(LOG_ERR, "socket_path %s must be an absolute path inside a folder", path);
		return -EINVAL;
	}
	*slash = '\0';
	if (lstat(dir, &st) < 0) {
		if (errno != ENOENT || mkdir(dir, 0755) < 0 || chown(dir, 0, 0) < 0 ||
		    chmod(dir, 0755) < 0 || lstat(dir, &st) < 0) {
			ts_log(LOG_ERR, "cannot create the socket folder %s: %s", dir,
			       ts_strerror(-errno));
			return -errno;
		}
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
		ts_log(LOG_ERR,
		       "the socket folder %s must be a folder owned by root that only root may "
		       "write to (it is %s, uid %u, mode %04o); fix it or choose another "
		       "socket_path",
		       dir, S_ISDIR(st.st_mode) ? "a folder" : "not a folder", (unsigned)st.st_uid,
		       (unsigned)(st.st_mode & 07777));
		return TS_E_BAD_MODE;
	}
	r = ts_path_check_safe(dir, true, why, sizeof(why));
	if (r < 0) {
		ts_log(LOG_ERR, "the socket folder %s is not safe: %s", dir, why);
		return r;
	}
	return 0;
}

/* A file at path: a socket nobody answers on is removed; a live one or
 * anything that is not a socket is refused. */
static int clear_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		ts_log(LOG_ERR, "%s exists and is not a socket; remove it or choose another "
		                "socket_path", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	r = r < 0 ? -errno : 0;
	close(fd);
	if (r == -ECONNREFUSED) {
		if (unlink(path) < 0)
			return -errno;
		ts_log_debug("daemon: removed the stale socket %s", path);
		return 0;
	}
	ts_log(LOG_ERR, "another tokenseal-broker daemon is already serving %s", path);
	return -EADDRINUSE;
}

static int listen_on(const char *path, int *ret_fd, struct stat *ret_st)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		ts_log(LOG_ERR, "socket_path %s is too long for a socket (at most %zu bytes)", path,
		       sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = socket_folder(path);
	if (r < 0)
		return r;
	r = clear_stale(path, &sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* created 0600 (umask 077), opened to everyone once it is ours */
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0666) < 0 ||
	    lstat(path, ret_st) < 0 || listen(fd, 512) < 0) {
		r = -errno;
		ts_log(LOG_ERR, "cannot listen on %s: %s", path, ts_strerror(r));
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* Remove the socket we created, unless it was replaced meanwhile. */
static void unlink_ours(const char *path, const struct stat *ours)
{
	struct stat st;

	if (lstat(path, &st) == 0 && st.st_dev == ours->st_dev && st.st_ino == ours->st_ino)
		(void)unlink(path);
}

/* ---- connections -------------------------------------------------------- */

static void wake_main(void)
{
	ssize_t n;

	do
		n = write(D.wake[1], "x", 1);
	while (n < 0 && errno == EINTR);
}

static void *conn_main(void *arg)
{
	struct slot *s = arg;
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	int r;

	do
		r = poll(&p, 1, TS_DAEMON_FIRST_FRAME_MS);
	while (r < 0 && errno == EINTR);
	if (r == 1) {
		r = ts_broker_serve_one(&D.serve, s->fd, s->fd, s->uid);
		if (r < 0)
			ts_log_debug("daemon: request of uid %u (pid %ld) not served: %s",
			             (unsigned)s->uid, (long)s->pid, ts_strerror(r));
	} else {
		ts_log_debug("daemon: uid %u (pid %ld) sent no request within %d s; closed",
		             (unsigned)s->uid, (long)s->pid, TS_DAEMON_FIRST_FRAME_MS / 1000);
	}
	pthread_mutex_lock(&D.lock);
	close(s->fd);
	s->fd = -1;
	s->used = false;
	D.inflight--;
	D.last_activity_ms = ts_monotonic_ms();
	pthread_mutex_unlock(&D.lock);
	wake_main();
	return NULL;
}

/* Accept one connection into a free slot (the caller made sure there is
 * one). 0, or -errno of accept (EAGAIN: nothing there). */
static int accept_one(int lfd, const pthread_attr_t *attr)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct slot *s = NULL;
	pthread_t th;
	int fd, r;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || clen != sizeof(cred)) {
		ts_log(LOG_WARNING, "a connection without peer credentials was closed: %s",
		       ts_strerror(-errno));
		close(fd);
		return 0;
	}
	pthread_mutex_lock(&D.lock);
	for (size_t i = 0; i < TS_DAEMON_MAX_CONNS && !s; i++)
		if (!D.slots[i].used)
			s = &D.slots[i];
	if (s) {
		*s = (struct slot){.used = true, .fd = fd, .uid = cred.uid, .pid = cred.pid,
		                   .start_ms = ts_monotonic_ms()};
		D.inflight++;
		D.last_activity_ms = s->start_ms;
	}
	pthread_mutex_unlock(&D.lock);
	if (!s) { /* cannot happen: the main loop accepts only below the cap */
		close(fd);
		return 0;
	}
	ts_log_debug("daemon: connection from uid %u (pid %ld)", (unsigned)cred.uid,
	             (long)cred.pid);
	r = pthread_create(&th, attr, conn_main, s);
	if (r != 0) {
		ts_log(LOG_WARNING, "cannot start a thread for uid %u (pid %ld): %s; closed",
		       (unsigned)cred.uid, (long)cred.pid, ts_strerror(-r));
		pthread_mutex_lock(&D.lock);
		close(fd);
		s->used = false;
		s->fd = -1;
		D.inflight--;
		pthread_mutex_unlock(&D.lock);
	}
	return 0;
}

/* Shut down the connections of requests older than max_ms (all: 0). */
static void cut_connections(int64_t max_ms)
{
	int64_t now = ts_monotonic_ms();

	pthread_mutex_lock(&D.lock);
	for (size_t i = 0; i < TS_DAEMON_MAX_CONNS; i++) {
		struct slot *s = &D.slots[i];

		if (s->used && !s->cut && now - s->start_ms >= max_ms) {
			if (max_ms > 0)
				ts_log(LOG_WARNING,
				       "the request of uid %u (pid %ld) ran for over %d s; its "
				       "connection was cut",
				       (unsigned)s->uid, (long)s->pid, TS_DAEMON_REQUEST_MAX_S);
			(void)shutdown(s->fd, SHUT_RDWR);
			s->cut = true;
		}
	}
	pthread_mutex_unlock(&D.lock);
}

static unsigned inflight(void)
{
	unsigned n;

	pthread_mutex_lock(&D.lock);
	n = D.inflight;
	pthread_mutex_unlock(&D.lock);
	return n;
}

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

	while (inflight() > 0) {
		struct pollfd p = {.fd = D.wake[0], .events = POLLIN};
		int64_t left = end - ts_monotonic_ms();

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)(left < 200 ? left : 200)) > 0)
			drain(D.wake[0]);
	}
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

/* The socket: systemd's (activated) or socket_path of the config. */
static int get_listener(const struct ts_daemon_opts *o, int *ret_fd, bool *ret_created,
                        char *path, size_t pathlen, struct stat *ret_st)
{
	const struct ts_config_report rep = {config_log, NULL};
	struct ts_config *cfg;
	int r;

	if (o->listen_fds > 1) {
		ts_log(LOG_ERR, "systemd passed %d sockets; tokenseal-broker.socket must have "
		                "exactly one ListenStream=", o->listen_fds);
		return -EINVAL;
	}
	if (o->listen_fds == 1) {
		if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
			ts_log(LOG_ERR, "the socket systemd passed is not a listening Unix stream "
			                "socket; check tokenseal-broker.socket");
			return -EINVAL;
		}
		(void)fcntl(SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC);
		(void)fcntl(SD_LISTEN_FDS_START, F_SETFL,
		            fcntl(SD_LISTEN_FDS_START, F_GETFL) | O_NONBLOCK);
		*ret_fd = SD_LISTEN_FDS_START;
		*ret_created = false;
		return ts_strlcpy(path, "the socket passed by systemd", pathlen);
	}
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	ts_config_defaults(cfg);
	r = ts_config_load(cfg, o->config_path, NULL, &rep);
	if (r < 0) {
		ts_log(LOG_ERR, "cannot start: the configuration %s cannot be used (%s)",
		       o->config_path, ts_strerror(r));
		free(cfg);
		return r;
	}
	r = ts_strlcpy(path, cfg->socket_path, pathlen);
	free(cfg);
	if (r < 0)
		return r;
	r = listen_on(path, ret_fd, ret_st);
	if (r < 0)
		return r;
	*ret_created = true;
	return 0;
}

int ts_daemon_run(const struct ts_daemon_opts *o)
{
	char path[TS_PATH_MAX];
	struct stat ours = {0};
	pthread_attr_t attr;
	bool created = false, foreground, stop = false, failed = false;
	int lfd = -1, sfd = -1, r;
	int64_t backoff_until = 0;

	foreground = o->foreground || o->listen_fds > 0 || getenv("NOTIFY_SOCKET");
	ts_log_setup(o->debug && foreground ? TS_LOG_STDERR : TS_LOG_SYSLOG, "tokenseal-broker",
	             o->debug);

	r = get_listener(o, &lfd, &created, path, sizeof(path), &ours);
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

	D.serve.config_path = o->config_path;
	D.serve.debug = o->debug;
	D.last_activity_ms = ts_monotonic_ms();
	if (pipe2(D.wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		ts_log(LOG_ERR, "cannot create a pipe: %s", ts_strerror(-errno));
		goto out;
	}
	sfd = signal_fd();
	if (sfd < 0) {
		ts_log(LOG_ERR, "cannot set up signal handling: %s", ts_strerror(-errno));
		goto out;
	}
	if (pthread_attr_init(&attr) != 0)
		goto out;
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	(void)pthread_attr_setstacksize(&attr, THREAD_STACK);

	ts_log(LOG_INFO, "serving on %s (config %s)", path, o->config_path);
	(void)sd_notifyf(0, "READY=1\nSTATUS=serving on %s", path);

	while (!stop) {
		struct pollfd p[3] = {{.fd = sfd, .events = POLLIN},
		                      {.fd = D.wake[0], .events = POLLIN},
		                      {.fd = lfd, .events = POLLIN}};
		int64_t now = ts_monotonic_ms(), timeout = -1;
		unsigned n = inflight();
		nfds_t np = (n < TS_DAEMON_MAX_CONNS && now >= backoff_until) ? 3 : 2;

		if (n > 0)
			timeout = 1000; /* the per-request bound */
		if (now < backoff_until)
			timeout = backoff_until - now;
		if (o->idle_exit && n == 0) {
			int64_t left;

			pthread_mutex_lock(&D.lock);
			left = D.last_activity_ms + (int64_t)o->idle_exit * 1000 - now;
			pthread_mutex_unlock(&D.lock);
			if (left <= 0) {
				ts_log(LOG_INFO, "no connection for %u s: exiting", o->idle_exit);
				break;
			}
			if (timeout < 0 || left < timeout)
				timeout = left;
		}
		r = poll(p, np, (int)(timeout > INT_MAX ? INT_MAX : timeout));
		if (r < 0 && errno != EINTR) {
			ts_log(LOG_ERR, "poll: %s", ts_strerror(-errno));
			failed = true;
			break;
		}
		if (r > 0 && (p[0].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				ts_log(LOG_INFO, "%s: stopping", strsignal((int)si.ssi_signo));
				stop = true;
			}
		}
		if (r > 0 && (p[1].revents & POLLIN))
			drain(D.wake[0]);
		if (!stop && r > 0 && np == 3 && (p[2].revents & POLLIN)) {
			r = accept_one(lfd, &attr);
			if (r == -EMFILE || r == -ENFILE || r == -ENOMEM || r == -ENOBUFS) {
				ts_log(LOG_WARNING, "cannot accept a connection: %s; retrying",
				       ts_strerror(r));
				backoff_until = ts_monotonic_ms() + 100;
			}
		}
		cut_connections((int64_t)TS_DAEMON_REQUEST_MAX_S * 1000);
	}
	/* stop accepting; the socket systemd owns stays (it queues the next
	 * connection and starts us again) */
	(void)sd_notify(0, "STOPPING=1");
	if (created) {
		unlink_ours(path, &ours);
		close(lfd);
		lfd = -1;
	}
	wait_idle((int64_t)TS_DAEMON_STOP_GRACE_S * 1000);
	if (inflight() > 0) {
		ts_log(LOG_WARNING, "%u request(s) still running after %d s: cutting them",
		       inflight(), TS_DAEMON_STOP_GRACE_S);
		cut_connections(0);
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
	if (created && lfd >= 0) {
		unlink_ours(path, &ours);
		close(lfd);
	}
	if (sfd >= 0)
		close(sfd);
	return 1;
}
