/* SPDX-License-Identifier: MIT */
/*
 * Between the parts of daemon mode: daemon.c (start, the main loop, stop),
 * daemon_conn.c (the connections: admission, the request-frame deadline,
 * refusals, the serving threads) and daemon_socket.c (the listening
 * socket).
 */
#ifndef TS_BROKER_DAEMON_INTERNAL_H
#define TS_BROKER_DAEMON_INTERNAL_H

#include <stdbool.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "daemon.h"

/* The socket to serve: systemd's (o->listen_fds 1; *ret_created false) or
 * socket_path of the daemon's configuration, created and listened on here
 * (*ret_created true, its identity in *ret_st). path gets a description for
 * the log. 0, or a negative error (already logged). */
int ts_daemon_get_listener(const struct ts_daemon_opts *o, int *ret_fd, bool *ret_created,
                           char *path, size_t pathlen, struct stat *ret_st) TS_WUR
    TS_NONNULL(1, 2, 3, 4, 6);

/* Remove the socket created at path, unless it was replaced meanwhile. */
void ts_daemon_unlink_ours(const char *path, const struct stat *ours) TS_NONNULL(1, 2);

/* ---- daemon_conn.c (the main thread calls these, except inflight) ---- */

/* epoll tags of daemon_conn.c's fds are at least this; the main loop's own
 * are below. */
#define TS_DCONN_TAG_MIN (UINT64_C(1) << 32)

struct ts_serve_opts;

/* Before the first accept: how requests are served, the serving threads'
 * attributes, the per-uid limit (0: TS_DAEMON_MAX_PER_UID), the main
 * loop's epoll fd, and the fd a worker writes a byte to when it is done. */
void ts_dconn_init(struct ts_serve_opts *serve, const pthread_attr_t *attr,
                   unsigned max_per_uid, int ep, int wake_fd) TS_NONNULL(1, 2);
/* Accept one connection: admitted (it waits for its request frame), or
 * answered with a refusal and closed. 0, or -errno of accept (-EAGAIN:
 * nothing there; -EMFILE and the like: try again later). */
int ts_dconn_accept(int lfd);
/* An epoll event with a tag >= TS_DCONN_TAG_MIN. */
void ts_dconn_event(uint64_t tag, uint32_t events);
/* Deadlines: late request frames, lingering refusals, requests over
 * TS_DAEMON_REQUEST_MAX_S, the refusal log. Returns the next deadline
 * (monotonic ms), or -1 when none. */
int64_t ts_dconn_sweep(void);
/* Shut down the connections of requests served for max_ms or longer (all:
 * 0); their threads then finish. */
void ts_dconn_cut(int64_t max_ms);
/* On the way out: close the connections not being served yet. */
void ts_dconn_stop_accepting(void);
/* Connections held (waiting or served); any thread. */
unsigned ts_dconn_inflight(void);
/* When the last connection came or ended (monotonic ms). */
int64_t ts_dconn_last_activity(void);

/* ---- daemon_refresh.c: background refresh (issue 19) ---- */

/* Start the background refresh thread for the daemon's configuration
 * (read again every minute; background_refresh = no: nothing is done). 0,
 * or a negative error (the daemon serves without it). */
int ts_dbg_start(const char *config_path) TS_WUR TS_NONNULL(1);
/* A request was served (the main thread): the thread looks for a
 * keystore it did not find yet. */
void ts_dbg_poke(void);
/* An open session has a refresh scheduled: the daemon must not idle-exit. */
bool ts_dbg_busy(void);
/* Stop the thread, waiting for a refresh in flight up to grace_ms. */
void ts_dbg_stop(int64_t grace_ms);

#endif
