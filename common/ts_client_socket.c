/* SPDX-License-Identifier: MIT */
/*
 * The daemon's socket, from the client's side: only a socket root owns, in
 * a folder only root may write to, served by a root process, is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ts_client.h"
#include "ts_client_internal.h"
#include "ts_error.h"
#include "ts_file.h"
#include "ts_mem.h"
#include "ts_time.h"

void ts_client_set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

int ts_client_check_socket(const char *path, char *why, size_t whylen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t len = strlen(path);
	struct stat st;
	char *slash;
	int r;

	ts_client_set_why(why, whylen, "%s", "");
	if (path[0] != '/') {
		ts_client_set_why(why, whylen, "%s: not an absolute path", path);
		return -EINVAL;
	}
	if (len >= sizeof(dir)) {
		ts_client_set_why(why, whylen, "%s: longer than a socket address can be", path);
		return -ENAMETOOLONG;
	}
	memcpy(dir, path, len + 1);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0'; /* "/x.sock": the folder is / */
	else
		*slash = '\0';
	/* the folder itself: no link, root's, writable by root alone */
	if (lstat(dir, &st) < 0) {
		r = -errno;
		ts_client_set_why(why, whylen, "%s: %s", dir, strerror(errno));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		ts_client_set_why(why, whylen, "%s: %s", dir,
		        S_ISLNK(st.st_mode) ? "a symbolic link, not a folder" : "not a folder");
		return TS_E_NOT_REGULAR;
	}
	if (st.st_uid != 0) {
		ts_client_set_why(why, whylen, "%s: owned by uid %u, not by root", dir, (unsigned)st.st_uid);
		return TS_E_BAD_OWNER;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		ts_client_set_why(why, whylen, "%s: group- or world-writable (mode 0%03o)", dir,
		        (unsigned)(st.st_mode & 07777));
		return TS_E_BAD_MODE;
	}
	/* and every folder above it */
	r = ts_path_check_safe(dir, true, why, whylen);
	if (r < 0)
		return r;
	if (lstat(path, &st) < 0) {
		r = -errno;
		ts_client_set_why(why, whylen, "%s: %s", path, strerror(errno));
		return r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		ts_client_set_why(why, whylen, "%s: not a socket", path);
		return TS_E_NOT_REGULAR;
	}
	if (st.st_uid != 0) {
		ts_client_set_why(why, whylen, "%s: owned by uid %u, not by root", path, (unsigned)st.st_uid);
		return TS_E_BAD_OWNER;
	}
	return 0;
}

/* Wait until fd has one of events (POLLOUT: writable; POLLIN: a frame or
 * EOF) or the deadline passes: 0, -ETIMEDOUT, -errno. */
static int wait_for(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int64_t left = deadline - ts_monotonic_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* A connection to the daemon within TS_CLIENT_CONNECT_TIMEOUT_MS, served by
 * a root process; the fd is blocking again (the frame I/O polls). */
int ts_client_connect_daemon(const char *path, int *ret_fd, char *why, size_t whylen)
{
	int64_t deadline = ts_monotonic_ms() + TS_CLIENT_CONNECT_TIMEOUT_MS;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ucred cred = {0};
	socklen_t clen = sizeof(cred);
	int fd, r, flags;

	r = ts_client_check_socket(path, why, whylen);
	if (r < 0)
		return r;
	memcpy(sa.sun_path, path, strlen(path) + 1); /* length checked above */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		ts_client_set_why(why, whylen, "socket: %s", strerror(errno));
		return r;
	}
	for (;;) {
		if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			/* the listen queue is full: a busy daemon, briefly */
			const struct timespec tick = {0, 20 * 1000 * 1000};
			if (ts_monotonic_ms() >= deadline) {
				r = -ETIMEDOUT;
				goto fail;
			}
			(void)nanosleep(&tick, NULL);
			continue;
		}
		if (errno == EINPROGRESS) {
			int soerr = 0;
			socklen_t elen = sizeof(soerr);

			r = wait_for(fd, POLLOUT, deadline);
			if (r < 0)
				goto fail;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0) {
				r = -errno;
				goto fail;
			}
			if (soerr) {
				r = -soerr;
				goto fail;
			}
			break;
		}
		r = -errno;
		goto fail;
	}
	/* the listener must be root's too (its credentials at listen(2)) */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		r = -errno;
		goto fail;
	}
	if (cred.uid != 0) {
		ts_client_set_why(why, whylen, "%s: served by uid %u, not by root", path, (unsigned)cred.uid);
		(void)close(fd);
		return TS_E_BAD_OWNER;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	*ret_fd = fd;
	return 0;
fail:
	ts_client_set_why(why, whylen, "%s: cannot connect: %s", path,
	        r == -ETIMEDOUT ? "no answer within the connect timeout" : strerror(-r));
	(void)close(fd);
	return r;
}

/* ---- a root caller's first-reply deadline ------------------------------ */

/* Has the peer read everything we sent? (SIOCOUTQ of a unix socket: bytes
 * the receiver has not consumed yet.) */
static bool request_consumed(int fd)
{
	int queued = 0;

	return ioctl(fd, SIOCOUTQ, &queued) == 0 && queued == 0;
}

/*
 * May a request the daemon has already read be run again in exec mode?
 * Yes for what the broker does under the user's lock as single flight (the
 * record is re-read after the lock is taken, a newer one used as is): a
 * login, revalidation, refresh, status, token or doctor check run twice
 * costs one more server call; an interactive login the daemon goes on with
 * fails at its first frame to the closed connection. No for what counts or
 * changes state once per request: OPEN_SESSION and CLOSE_SESSION count the
 * user's sessions (twice would revoke too early, or never), LOGOUT would
 * report "not signed in" after the daemon's sign-out, KEYSTORE operations
 * (rotate-key) would run twice.
 */
static bool retry_safe(enum ts_msg_type type)
{
	switch (type) {
	case TS_MSG_LOGIN:
	case TS_MSG_REVALIDATE:
	case TS_MSG_GET_TOKEN:
	case TS_MSG_STATUS:
	case TS_MSG_AUTH_STORED:
	case TS_MSG_REFRESH:
	case TS_MSG_DOCTOR:
		return true;
	default:
		return false;
	}
}

/* The first-reply deadlines of a root caller (ts_client.h,
 * TS_CLIENT_ROOT_FIRST_REPLY_MS). */
int ts_client_await_first_reply(int in, int out, enum ts_msg_type type, int busy_ms,
                                bool *ret_taken)
{
	int64_t start = ts_monotonic_ms();
	int r;

	*ret_taken = false;
	r = wait_for(in, POLLIN, start + TS_CLIENT_ROOT_FIRST_REPLY_MS);
	if (r != -ETIMEDOUT)
		return r;
	/* not even read: the daemon has no slot for us (or hangs in accept) */
	if (!request_consumed(out))
		return -ETIMEDOUT;
	*ret_taken = true;
	/* read, and working on it: a request that must not run twice stays
	 * with the daemon (the ordinary frame timeout); another one gets
	 * until busy_ms (TS_CLIENT_ROOT_BUSY_MS) */
	if (!retry_safe(type))
		return 0;
	return wait_for(in, POLLIN, start + busy_ms);
}
