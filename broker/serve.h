/* SPDX-License-Identifier: MIT */
/*
 * Serving the broker protocol: one request per connection, read from in_fd,
 * answered on out_fd (the pipe pair of exec mode, or later both the same
 * accepted socket of daemon mode with the peer uid from SO_PEERCRED).
 */
#ifndef TS_BROKER_SERVE_H
#define TS_BROKER_SERVE_H

#include <stdbool.h>
#include <sys/types.h>

#include "ts_macros.h"

struct ts_serve_opts {
	const char *config_path;
	bool debug;
	int timeout_ms;
	/* called with out_fd just before the request's RESULT is written (the
	 * request is decided; its handles are not closed yet); NULL: none */
	void (*answering)(int out_fd);
};

/* Serve one request from a caller whose uid is peer_uid (exec mode: the
 * broker's euid, always 0; daemon mode: SO_PEERCRED). Returns 0
 * when a RESULT was sent (whatever its code), else a negative error. */
int ts_broker_serve_one(const struct ts_serve_opts *opts, int in_fd, int out_fd,
                        uid_t peer_uid) TS_WUR TS_NONNULL(1);

#endif
