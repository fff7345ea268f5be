/* SPDX-License-Identifier: MIT */
/*
 * Private to the protocol client (ts_client.c: requests, the conversation,
 * exec mode; ts_client_socket.c: the daemon's socket). libc only.
 */
#ifndef TS_CLIENT_INTERNAL_H
#define TS_CLIENT_INTERNAL_H

#include <stddef.h>

#include "ts_macros.h"

/* why (may be NULL) := the formatted reason, cut to whylen. */
void ts_client_set_why(char *why, size_t whylen, const char *fmt, ...) TS_PRINTF(3, 4);

/* Connect to the daemon at path after ts_client_check_socket(), within
 * TS_CLIENT_CONNECT_TIMEOUT_MS, and make sure root serves it (SO_PEERCRED).
 * 0 with the connected fd in *ret_fd, or a negative errno with the reason
 * in why. */
int ts_client_connect_daemon(const char *path, int *ret_fd, char *why, size_t whylen) TS_WUR;

#endif
