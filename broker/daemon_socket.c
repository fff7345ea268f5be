/* SPDX-License-Identifier: MIT */
/*
 * The daemon's listening socket (daemon.c serves it): the one systemd hands
 * over (socket activation, LISTEN_FDS: tokenseal-broker.socket), else
 * socket_path of the daemon's own configuration, created here: its folder
 * root:root 0755 (made when absent, refused when anyone else may write to
 * it), the socket 0666 (anyone may connect: SO_PEERCRED decides what they
 * may ask). A leftover socket file is replaced only when nothing answers
 * on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon_internal.h"
#include "ts_config.h"
#include "ts_error.h"
#include "ts_file.h"
#include "ts_log.h"
#include "ts_mem.h"

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
void ts_daemon_unlink_ours(const char *path, const struct stat *ours)
{
	struct stat st;

	if (lstat(path, &st) == 0 && st.st_dev == ours->st_dev && st.st_ino == ours->st_ino)
		(void)unlink(path);
}

/* The socket: systemd's (activated) or socket_path of the config. */
int ts_daemon_get_listener(const struct ts_daemon_opts *o, int *ret_fd, bool *ret_created,
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
