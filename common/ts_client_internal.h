/* SPDX-License-Identifier: MIT */
/*
 * Private to the protocol client (ts_client.c: requests, the conversation,
 * exec mode; ts_client_socket.c: the daemon's socket). libc only.
 */
#ifndef TS_CLIENT_INTERNAL_H
#define TS_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "ts_macros.h"
#include "ts_proto.h"

/* why (may be NULL) := the formatted reason, cut to whylen. */
void ts_client_set_why(char *why, size_t whylen, const char *fmt, ...) TS_PRINTF(3, 4);

/* Connect to the daemon at path after ts_client_check_socket(), within
 * TS_CLIENT_CONNECT_TIMEOUT_MS, and make sure root serves it (SO_PEERCRED).
 * 0 with the connected fd in *ret_fd, or a negative errno with the reason
 * in why. */
int ts_client_connect_daemon(const char *path, int *ret_fd, char *why, size_t whylen) TS_WUR;

/* A root caller's wait for the daemon's first frame (AUTO mode, after the
 * request went out on out; TS_CLIENT_ROOT_FIRST_REPLY_MS in ts_client.h):
 * 0 when a frame (or EOF) is readable on in in time, or when the daemon has
 * read a request that must not run twice (the caller then waits with its
 * ordinary frame timeout), until busy_ms after it went out for a request
 * that may run twice; -ETIMEDOUT to abandon the daemon for exec mode,
 * *ret_taken saying whether it had read the request; or -errno. */
int ts_client_await_first_reply(int in, int out, enum ts_msg_type type, int busy_ms,
                                bool *ret_taken) TS_WUR;

#endif
