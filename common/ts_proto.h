/* SPDX-License-Identifier: MIT */
/*
 * The broker protocol: what the PAM module and the CLI say to
 * tokenseal-broker, over a pipe pair (exec mode) or a Unix socket (daemon
 * mode). libc only.
 *
 * Frame:   u32 length (big-endian, of what follows; 2 .. TS_PROTO_FRAME_MAX)
 *          u8  version (TS_PROTO_VERSION)
 *          u8  message type (enum ts_msg_type)
 *          fields...
 * Field:   u16 tag (enum ts_field, big-endian), u32 length, bytes
 *
 * A message holds at most TS_PROTO_FIELDS_MAX fields; a tag may appear once.
 * Strings travel without a NUL and must not contain one. Integers travel as
 * 8-byte big-endian two's complement. Unknown tags are ignored (forward
 * compatibility); a known tag with a bad length is a protocol error.
 *
 * Conversation: after a request, the broker may send any number of
 * TS_MSG_INFO / TS_MSG_ERROR (text to show) and TS_MSG_PROMPT (a question;
 * the client answers with TS_MSG_ANSWER) before the final TS_MSG_RESULT.
 */
#ifndef TS_PROTO_H
#define TS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ts_macros.h"

#define TS_PROTO_VERSION 1
#define TS_PROTO_FRAME_MAX (64 * 1024)
#define TS_PROTO_FIELDS_MAX 32
#define TS_PROTO_TIMEOUT_MS 180000 /* longest a peer waits for one frame */

enum ts_msg_type {
	/* requests, client -> broker */
	TS_MSG_LOGIN = 1,	  /* USER SERVICE [FLAGS] [RHOST] [TTY] [METHOD] */
	TS_MSG_REVALIDATE = 2,	  /* USER SERVICE [FLAGS] */
	TS_MSG_OPEN_SESSION = 3,  /* USER SERVICE */
	TS_MSG_CLOSE_SESSION = 4, /* USER SERVICE */
	TS_MSG_GET_TOKEN = 5,	  /* USER [SERVICE] */
	TS_MSG_STATUS = 6,	  /* USER */
	TS_MSG_LOGOUT = 7,	  /* USER [FLAGS: TS_FLAG_NO_REVOKE] */
	TS_MSG_AUTH_STORED = 8,	  /* USER SERVICE: succeed on stored, server-confirmed tokens */
	TS_MSG_REFRESH = 9,	  /* USER [FLAGS: TS_FLAG_FORCE]: refresh now, under the lock */
	TS_MSG_DOCTOR = 10,	  /* USER: server and keystore checks; RESULT STATUS_JSON */
	/* USER METHOD (the operation: "init", "verify", "rotate-key", "forget";
	 * forget acts on USER, the others ignore it): root callers only */
	TS_MSG_KEYSTORE = 11,

	/* conversation, broker -> client */
	TS_MSG_INFO = 32,   /* TEXT */
	TS_MSG_ERROR = 33,  /* TEXT */
	TS_MSG_PROMPT = 34, /* TEXT ECHO */
	/* client -> broker */
	TS_MSG_ANSWER = 35, /* [ANSWER] (absent: the conversation failed) */

	/* final, broker -> client */
	TS_MSG_RESULT = 64, /* CODE STATE [MESSAGE] [TOKEN] [EXPIRES] [STATUS_JSON] */
};

enum ts_field {
	TS_F_USER = 1,
	TS_F_SERVICE = 2,
	TS_F_FLAGS = 3,	 /* integer, TS_FLAG_* */
	TS_F_RHOST = 4,
	TS_F_TTY = 5,
	/* "device", "password", "token", "refresh-token", "client-credentials"
	 * (LOGIN); the operation (KEYSTORE) */
	TS_F_METHOD = 6,
	TS_F_TEXT = 16,
	TS_F_ECHO = 17,	  /* integer 0/1 */
	TS_F_ANSWER = 18, /* secret */
	TS_F_CODE = 32,	  /* integer: 0 or a negative ts_err */
	TS_F_STATE = 33,  /* integer: enum ts_state */
	TS_F_MESSAGE = 34,
	TS_F_TOKEN = 35,   /* secret: access token (GET_TOKEN only) */
	TS_F_EXPIRES = 36, /* integer: seconds left (server time) */
	TS_F_STATUS_JSON = 37,
};

enum ts_flag {
	TS_FLAG_NONINTERACTIVE = 1 << 0, /* no conversation: fail fast */
	TS_FLAG_NO_REVOKE = 1 << 1,
	TS_FLAG_SILENT = 1 << 2, /* PAM_SILENT: send no INFO messages */
	TS_FLAG_DEBUG = 1 << 3,
	/* The host process proved the caller is the target user (real uid equal
	 * to the user's, no remote host): only then may a stored token sign in. */
	TS_FLAG_SAME_USER = 1 << 4,
	/* REFRESH: refresh even while a refresh is held back (the server
	 * rejected even the last freshly refreshed token) */
	TS_FLAG_FORCE = 1 << 5,
};

/* The requests a broker serves: TS_MSG_LOGIN .. TS_MSG_LAST_REQUEST. */
#define TS_MSG_LAST_REQUEST TS_MSG_KEYSTORE

/* The lifecycle states of a user's record (DESIGN.md §4). */
enum ts_state {
	TS_STATE_NONE = 0,
	TS_STATE_VALID = 1,
	TS_STATE_STALE = 2,
	TS_STATE_REFRESHING = 3,
	TS_STATE_NEEDS_LOGIN = 4,
	TS_STATE_UNAVAILABLE = 5,
	TS_STATE_CORRUPTED = 6,
	TS_STATE_MISMATCH = 7,	 /* sealed for another issuer/client: fix the config */
	TS_STATE_SIGNED_OUT = 8, /* seen before, tokens gone (logout, revoked) */
};

const char *ts_state_name(enum ts_state s);

struct ts_field_val {
	uint16_t tag;
	uint32_t len;
	const uint8_t *data; /* points into the message buffer */
};

/* A decoded message. Fields point into buf, which the message owns. */
struct ts_msg {
	uint8_t type;
	size_t n_fields;
	struct ts_field_val fields[TS_PROTO_FIELDS_MAX];
	uint8_t *buf; /* the frame payload; wiped and freed by ts_msg_clear */
	size_t buf_len;
};

/* Builder for an outgoing message (its buffer is wiped when cleared, since
 * answers and tokens travel in it). */
struct ts_msg_builder {
	uint8_t *buf;
	size_t len, cap;
	size_t n_fields;
	int error; /* first error, reported by ts_msg_finish */
};

void ts_msg_begin(struct ts_msg_builder *b, uint8_t type) TS_NONNULL(1);
/* A NULL s adds nothing, so optional fields can be passed as they are. */
void ts_msg_add_str(struct ts_msg_builder *b, uint16_t tag, const char *s) TS_NONNULL(1);
void ts_msg_add_bytes(struct ts_msg_builder *b, uint16_t tag, const void *p, size_t n)
	TS_NONNULL(1);
void ts_msg_add_int(struct ts_msg_builder *b, uint16_t tag, int64_t v) TS_NONNULL(1);
/* Returns 0 and the frame (length prefix included) in *ret_frame and *ret_len,
 * owned by the builder, or the first error (TS_E_TOO_BIG, -ENOMEM, -EINVAL). */
int ts_msg_finish(struct ts_msg_builder *b, const uint8_t **ret_frame, size_t *ret_len) TS_WUR
	TS_NONNULL(1, 2, 3);
void ts_msg_builder_clear(struct ts_msg_builder *b);

/* Decode one frame payload (without the 4-byte length). Takes ownership of
 * buf on success and on failure (wipes and frees it). TS_E_IPC on any
 * malformation. */
int ts_msg_decode(struct ts_msg *ret, uint8_t *buf, size_t len) TS_WUR TS_NONNULL(1);
void ts_msg_clear(struct ts_msg *m);

/* Field accessors: 0, -ENOENT when absent, TS_E_IPC when malformed.
 * ts_msg_get_str copies into out (NUL-terminated; TS_E_TOO_BIG if it does
 * not fit, TS_E_IPC if it holds a NUL). */
const struct ts_field_val *ts_msg_find(const struct ts_msg *m, uint16_t tag) TS_NONNULL(1);
int ts_msg_get_str(const struct ts_msg *m, uint16_t tag, char *out, size_t outlen) TS_WUR
	TS_NONNULL(1, 3);
int ts_msg_get_int(const struct ts_msg *m, uint16_t tag, int64_t *ret) TS_WUR TS_NONNULL(1, 3);

/* Blocking frame I/O on an fd, with a timeout per frame (ms; 0 = none).
 * Writes use MSG_NOSIGNAL on sockets and ignore SIGPIPE effects on pipes
 * (EPIPE is returned). Read: -ECONNRESET on EOF before a whole frame,
 * TS_E_TOO_BIG for a frame over the maximum, -ETIMEDOUT. */
int ts_proto_write(int fd, const uint8_t *frame, size_t len, int timeout_ms) TS_WUR
	TS_NONNULL(2);
int ts_proto_read(int fd, struct ts_msg *ret, int timeout_ms) TS_WUR TS_NONNULL(2);

/* The broker's side of a prompt: read one frame, which must be an ANSWER,
 * and return its text as typed (every byte, a trailing blank kept) in
 * *ret_answer, to be released with ts_erase_free_str(). TS_E_IPC when the
 * frame is not an ANSWER, TS_E_INTERACTION when it has no answer (the
 * conversation failed on the caller's side), or ts_proto_read's errors. */
int ts_proto_read_answer(int fd, int timeout_ms, char **ret_answer) TS_WUR TS_NONNULL(3);

#endif
