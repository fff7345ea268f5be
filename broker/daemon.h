/* SPDX-License-Identifier: MIT */
/*
 * Daemon mode of tokenseal-broker (DESIGN.md §2, daemon.c): a root service
 * on socket_path (or the socket systemd hands over), one request per
 * connection, each caller identified by SO_PEERCRED and served by
 * ts_broker_serve_one() exactly as in exec mode.
 */
#ifndef TS_BROKER_DAEMON_H
#define TS_BROKER_DAEMON_H

#include <stdbool.h>

#include "ts_macros.h"

/* Connections held at once (waiting for their request or being served). */
#define TS_DAEMON_MAX_CONNS 256
/* Of those, the last ones only uid 0 may take: root's logins (sshd, su,
 * sudo, login and cron connect as root) always find a slot. */
#define TS_DAEMON_ROOT_RESERVE 32
/* Connections any one uid but root may hold at once (--max-per-uid). A
 * connection over a limit is answered at once (TS_E_UNAVAILABLE) and
 * closed; none waits in the listen queue. */
#define TS_DAEMON_MAX_PER_UID 8
/* The whole request frame must have arrived this long after accept,
 * however slowly it trickles in; else it is answered (TS_E_IPC), closed. */
#define TS_DAEMON_REQUEST_FRAME_MS 5000
/* A refused client that has not written its request yet keeps its
 * answered connection this long (so its write does not fail before it
 * reads the answer); at most this many such connections. */
#define TS_DAEMON_LINGER_MS 1000
#define TS_DAEMON_LINGER_MAX 64
/* Hard bound on one request (a device login waits at most device_timeout,
 * 900 s, plus prompts): after it the connection is shut down. */
#define TS_DAEMON_REQUEST_MAX_S 1200
/* On SIGTERM/SIGINT: in-flight requests may finish for this long, then
 * their connections are cut; after a further second the process exits. */
#define TS_DAEMON_STOP_GRACE_S 10

struct ts_daemon_opts {
	const char *config_path; /* the daemon's own config; callers never choose it */
	bool debug;		 /* log to stderr, LOG_DEBUG included */
	bool foreground;	 /* do not fork into the background */
	unsigned idle_exit;	 /* seconds without a connection before exiting; 0: never */
	int listen_fds;		 /* sockets passed by systemd (ts_daemon_inherited_fds) */
	unsigned max_per_uid;	 /* connections per uid but root; 0: TS_DAEMON_MAX_PER_UID */
};

/* How many sockets systemd passed (LISTEN_FDS for this pid; sd_listen_fds,
 * which also removes the LISTEN_* variables): 0 when none, or a negative
 * errno. Call before anything closes fds from SD_LISTEN_FDS_START (3) on. */
int ts_daemon_inherited_fds(void) TS_WUR;

/* Run the daemon (as root). Returns the process exit status: 0 after
 * SIGTERM/SIGINT or the idle exit, 1 when it could not start. */
int ts_daemon_run(const struct ts_daemon_opts *o) TS_WUR TS_NONNULL(1);

#endif
