/* SPDX-License-Identifier: MIT */
/*
 * The client side of the broker protocol, shared by the PAM module and the
 * CLI (libc only, no global state). Exec mode: fork + execve the broker with
 * an empty environment, stdin/stdout as a pipe pair, every other fd closed,
 * SIGCHLD left to the host process as pam_unix does for unix_chkpwd; then one
 * request, a conversation relayed through the callbacks, and the final
 * RESULT. Daemon mode: the same request and conversation over a connection
 * to the broker daemon's socket (tokenseal-broker --daemon), which knows the
 * caller by SO_PEERCRED; one request per connection.
 */
#ifndef TS_CLIENT_H
#define TS_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "ts_conv.h"
#include "ts_macros.h"
#include "ts_proto.h"

/* The conversation (ts_conv.h): a prompt that returns <0 makes the broker
 * see an ANSWER without a value; the client wipes and frees each answer
 * after sending it. */

struct ts_client_request {
	enum ts_msg_type type;
	const char *user;
	const char *service; /* may be NULL */
	uint32_t flags;	     /* TS_FLAG_* */
	const char *rhost;   /* may be NULL */
	const char *tty;     /* may be NULL */
	const char *method;  /* may be NULL: the broker picks from login_methods */
};

struct ts_client_result {
	int code;	    /* 0 or a negative ts_err, as the broker decided */
	int state;	    /* enum ts_state */
	char message[512];  /* for the user / log; may be empty */
	char *token;	    /* GET_TOKEN only; wipe+free via ts_client_result_clear */
	int64_t expires;    /* seconds left, -1 when unknown */
	char *status_json;  /* STATUS only */
	bool via_daemon;    /* the daemon answered (false: exec mode did) */
};

/* How ts_client_call reaches the broker. */
enum ts_client_mode {
	/* The daemon's socket first; exec mode when the socket is unusable
	 * (absent, refusing, unsafe, its listen queue full past the connect
	 * timeout), the daemon drops the connection before its RESULT, or,
	 * for a root caller, sends nothing within
	 * TS_CLIENT_ROOT_FIRST_REPLY_MS. The PAM module (a root caller). */
	TS_CLIENT_AUTO = 0,
	/* The socket only (an ordinary user's CLI: it cannot run exec mode):
	 * unusable socket or a dropped connection = TS_E_NO_SERVICE. */
	TS_CLIENT_SOCKET_ONLY,
	/* Exec mode only: socket_path is ignored. */
	TS_CLIENT_EXEC_ONLY,
};

/* How long connect(2) to the daemon's socket may take (a full listen
 * queue is retried until then, never waited on). */
#define TS_CLIENT_CONNECT_TIMEOUT_MS 1500

/* A root caller (euid 0) in TS_CLIENT_AUTO waits TS_CLIENT_ROOT_FIRST_REPLY_MS
 * after sending its request for the daemon's first frame (RESULT, INFO,
 * PROMPT or ERROR). When none came and the daemon has not even read the
 * request (no slot for it: overloaded, flooded, hung), the socket is
 * abandoned and the request runs in exec mode: the daemon is an
 * accelerator for root, never a single point of failure (DESIGN §2). A
 * daemon that has read it is working on it (a slow identity server): a
 * request that may run twice gets until TS_CLIENT_ROOT_BUSY_MS, then exec
 * mode; one that must not (OPEN_SESSION and CLOSE_SESSION count sessions;
 * LOGOUT; KEYSTORE) stays with the daemon under the ordinary frame
 * timeout. Before exec mode starts, root waits at most
 * TS_CLIENT_CONNECT_TIMEOUT_MS + TS_CLIENT_ROOT_FIRST_REPLY_MS for a daemon
 * that does not take its request, TS_CLIENT_ROOT_BUSY_MS for one that took
 * it and stays silent. */
#define TS_CLIENT_ROOT_FIRST_REPLY_MS 2000
#define TS_CLIENT_ROOT_BUSY_MS 30000

struct ts_client_opts {
	const char *broker_path; /* exec mode; may be NULL for SOCKET_ONLY */
	const char *config_path; /* passed as --config; NULL = the broker's default */
	/* Extra environment for the broker (NULL-terminated "K=V"), for tests
	 * (e.g. faketime). NULL in production: the broker gets an empty env. */
	char *const *env;
	/* Longest wait for one frame; 0 = TS_PROTO_TIMEOUT_MS. A device login
	 * sends nothing while it waits for approval, so a caller that may run
	 * one passes ts_client_frame_timeout_ms(device_timeout). */
	int timeout_ms;
	/* The daemon's socket (config socket_path); NULL or "" = none. */
	const char *socket_path;
	enum ts_client_mode mode;
	/* A root caller's wait for a daemon that read a retry-safe request
	 * and sent nothing; 0 = TS_CLIENT_ROOT_BUSY_MS. Production callers
	 * leave it 0; tests shorten it. */
	int root_busy_ms;
	/* Optional (NULL = not wanted): why the daemon did not serve the
	 * request, for a debug log line ("" when it did or was not tried), e.g.
	 * "/run/tokenseal/broker.sock: no such socket (No such file or
	 * directory)" or "the daemon closed the connection before its result".
	 * Written even when ts_client_call fails. Never holds a secret. */
	char *why;
	size_t whylen;
};

/* Run one request. Returns 0 when a RESULT arrived (its code is in
 * ret->code, ret->via_daemon says who sent it), or a negative error when the
 * broker could not be run or spoke nonsense (-ENOENT broker missing,
 * TS_E_IPC, -ETIMEDOUT, ...; in TS_CLIENT_SOCKET_ONLY TS_E_NO_SERVICE when
 * the socket is unusable or the daemon dropped the connection before it
 * took the request, TS_E_SERVICE_LOST when it dropped it after). In AUTO, a
 * request the daemon did not answer (unusable socket; connection closed or
 * reset before a RESULT, e.g. the daemon was killed; for a root caller,
 * no frame within TS_CLIENT_ROOT_FIRST_REPLY_MS) is run again in exec
 * mode; a RESULT that arrived, a conversation callback that failed and a
 * later timeout are never retried. The exec-mode broker of a root caller
 * runs with every uid and gid equal (sudo's real uid is not passed on, so
 * its exec is no secure-execution one). A
 * broker_path that fails ts_path_check_safe() (ts_file.h) is never executed:
 * its code is returned (TS_E_BAD_OWNER, TS_E_BAD_MODE, TS_E_NOT_REGULAR, ...);
 * a caller that wants to log the reason calls ts_path_check_safe() first. */
int ts_client_call(const struct ts_client_opts *opts, const struct ts_client_request *req,
		   const struct ts_conv *conv, struct ts_client_result *ret) TS_WUR
	TS_NONNULL(1, 2, 4);
void ts_client_result_clear(struct ts_client_result *r);

/* May the daemon's socket be used? 0 when path is a socket owned by root
 * (lstat: no symbolic link) in a folder that is no symbolic link, owned by
 * root and not group- or world-writable, whose own folders pass
 * ts_path_check_safe(); else -ENOENT (absent), TS_E_BAD_OWNER, TS_E_BAD_MODE,
 * TS_E_NOT_REGULAR (not a socket, or a folder that is a link), -EINVAL (not
 * absolute), -ENAMETOOLONG or another -errno; why (if not NULL) names the
 * offending path and the problem. */
int ts_client_check_socket(const char *path, char *why, size_t whylen) TS_WUR TS_NONNULL(1);

/* The frame timeout for a request that may run a device login of
 * device_timeout seconds: device_timeout + TS_CLIENT_FRAME_MARGIN_S, and
 * never less than TS_PROTO_TIMEOUT_MS. */
#define TS_CLIENT_FRAME_MARGIN_S 30
int ts_client_frame_timeout_ms(unsigned device_timeout);

/* How the child closes every fd >= from before execve. TS_CLOSE_AUTO (what
 * the client uses): close_range(2) through syscall(2) (no libc wrapper
 * needed), else every entry of /proc/self/fd, else close() on every fd up
 * to sysconf(_SC_OPEN_MAX) (at most 2^20). The others force one way and
 * return -ENOSYS / -errno when it is not available (tests). */
enum ts_close_how { TS_CLOSE_AUTO, TS_CLOSE_RANGE, TS_CLOSE_PROC, TS_CLOSE_LOOP };
int ts_close_fds_from(int from, enum ts_close_how how);

#endif
