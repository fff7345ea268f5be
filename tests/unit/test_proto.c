/* SPDX-License-Identifier: MIT */
/* common/ts_proto.c: builder, decoder, accessors, frame I/O over pipes and
 * sockets, timeouts and EOF mid-frame. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts_error.h"
#include "ts_proto.h"
#include "ts_test.h"

/* Build a frame and decode its payload (without the length prefix). */
static int roundtrip(struct ts_msg_builder *b, struct ts_msg *m)
{
	const uint8_t *frame;
	size_t len;
	uint8_t *copy;
	int r = ts_msg_finish(b, &frame, &len);

	if (r < 0)
		return r;
	CHECK(len >= 6);
	CHECK_INT(
	    ((size_t)frame[0] << 24 | (size_t)frame[1] << 16 | (size_t)frame[2] << 8 | frame[3]),
	    len - 4);
	copy = malloc(len - 4);
	CHECK(copy);
	memcpy(copy, frame + 4, len - 4);
	return ts_msg_decode(m, copy, len - 4);
}

static void expect_str(const struct ts_msg *m, uint16_t tag, const char *want)
{
	char buf[256];
	CHECK_INT(ts_msg_get_str(m, tag, buf, sizeof(buf)), 0);
	CHECK_STR(buf, want);
}

static void expect_int(const struct ts_msg *m, uint16_t tag, int64_t want)
{
	int64_t v = 12345;
	CHECK_INT(ts_msg_get_int(m, tag, &v), 0);
	CHECK_INT(v, want);
}

static void test_roundtrip_requests(void)
{
	static const uint8_t types[] = {
	    TS_MSG_LOGIN,     TS_MSG_REVALIDATE, TS_MSG_OPEN_SESSION, TS_MSG_CLOSE_SESSION,
	    TS_MSG_GET_TOKEN, TS_MSG_STATUS,     TS_MSG_LOGOUT,       TS_MSG_AUTH_STORED};
	for (size_t i = 0; i < TS_ARRAY_SIZE(types); i++) {
		struct ts_msg_builder b;
		struct ts_msg m;

		ts_msg_begin(&b, types[i]);
		ts_msg_add_str(&b, TS_F_USER, "alice");
		ts_msg_add_str(&b, TS_F_SERVICE, "sshd");
		ts_msg_add_int(&b, TS_F_FLAGS, TS_FLAG_NONINTERACTIVE | TS_FLAG_SILENT);
		ts_msg_add_str(&b, TS_F_RHOST, "192.0.2.1");
		ts_msg_add_str(&b, TS_F_TTY, "pts/3");
		ts_msg_add_str(&b, TS_F_METHOD, "device");
		ts_msg_add_str(&b, TS_F_TEXT, NULL); /* NULL adds nothing */
		CHECK_INT(roundtrip(&b, &m), 0);
		CHECK_INT(m.type, types[i]);
		CHECK_INT(m.n_fields, 6);
		expect_str(&m, TS_F_USER, "alice");
		expect_str(&m, TS_F_SERVICE, "sshd");
		expect_int(&m, TS_F_FLAGS, TS_FLAG_NONINTERACTIVE | TS_FLAG_SILENT);
		expect_str(&m, TS_F_RHOST, "192.0.2.1");
		expect_str(&m, TS_F_TTY, "pts/3");
		expect_str(&m, TS_F_METHOD, "device");
		CHECK(ts_msg_find(&m, TS_F_TEXT) == NULL);
		ts_msg_clear(&m);
		CHECK(m.buf == NULL);
		ts_msg_builder_clear(&b);
		CHECK(b.buf == NULL);
	}
}

static void test_roundtrip_conversation(void)
{
	struct ts_msg_builder b;
	struct ts_msg m;
	char buf[64];

	ts_msg_begin(&b, TS_MSG_INFO);
	ts_msg_add_str(&b, TS_F_TEXT, "Visit https://idp/device and enter ABCD-EFGH");
	CHECK_INT(roundtrip(&b, &m), 0);
	CHECK_INT(m.type, TS_MSG_INFO);
	expect_str(&m, TS_F_TEXT, "Visit https://idp/device and enter ABCD-EFGH");
	ts_msg_clear(&m);
	ts_msg_builder_clear(&b);

	ts_msg_begin(&b, TS_MSG_ERROR);
	ts_msg_add_str(&b, TS_F_TEXT, "");
	CHECK_INT(roundtrip(&b, &m), 0);
	CHECK_INT(m.type, TS_MSG_ERROR);
	expect_str(&m, TS_F_TEXT, ""); /* empty strings survive */
	ts_msg_clear(&m);
	ts_msg_builder_clear(&b);

	ts_msg_begin(&b, TS_MSG_PROMPT);
	ts_msg_add_str(&b, TS_F_TEXT, "Password: ");
	ts_msg_add_int(&b, TS_F_ECHO, 0);
	CHECK_INT(roundtrip(&b, &m), 0);
	CHECK_INT(m.type, TS_MSG_PROMPT);
	expect_str(&m, TS_F_TEXT, "Password: ");
	expect_int(&m, TS_F_ECHO, 0);
	ts_msg_clear(&m);
	ts_msg_builder_clear(&b);

	ts_msg_begin(&b, TS_MSG_ANSWER);
	ts_msg_add_str(&b, TS_F_ANSWER, "s3cret");
	CHECK_INT(roundtrip(&b, &m), 0);
	CHECK_INT(m.type, TS_MSG_ANSWER);
	expect_str(&m, TS_F_ANSWER, "s3cret");
	/* too small an output buffer */
	CHECK_INT(ts_msg_get_str(&m, TS_F_ANSWER, buf, 6), TS_E_TOO_BIG);
	CHECK_INT(ts_msg_get_str(&m, TS_F_ANSWER, buf, 7), 0);
	CHECK_INT(ts_msg_get_str(&m, TS_F_USER, buf, sizeof(buf)), -ENOENT);
	ts_msg_clear(&m);
	ts_msg_builder_clear(&b);

	/* ANSWER without a value: the conversation failed */
	ts_msg_begin(&b, TS_MSG_ANSWER);
	CHECK_INT(roundtrip(&b, &m), 0);
	CHECK_INT(m.n_fields, 0);
	CHECK(ts_msg_find(&m, TS_F_ANSWER) == NULL);
	ts_msg_clear(&m);
	ts_msg_builder_clear(&b);
}

static void test_roundtrip_result(void)
{
	struct ts_msg_builder b;
	struct ts_msg m;
	int64_t v;

	ts_msg_begin(&b, TS_MSG_RESULT);
	ts_msg_add_int(&b, TS_F_CODE, TS_E_NEEDS_LOGIN);
	ts_msg_add_int(&b, TS_F_STATE, TS_STATE_NEEDS_LOGIN);
	ts_msg_add_str(&b, TS_F_MESSAGE, "sign-in required");
	ts_msg_add_str(&b, TS_F_TOKEN, "eyJ.token");
	ts_msg_add_int(&b, TS_F_EXPIRES, INT64_MIN);
	ts_msg_add_str(&b, TS_F_STATUS_JSON, "{\"state\":\"valid\"}");
	ts_msg_add_int(&b, 999, INT64_MAX); /* unknown tag: carried, ignored */
	CHECK_INT(roundtrip(&b, &m), 0);
	CHECK_INT(m.type, TS_MSG_RESULT);
	expect_int(&m, TS_F_CODE, TS_E_NEEDS_LOGIN);
	expect_int(&m, TS_F_STATE, TS_STATE_NEEDS_LOGIN);
	expect_str(&m, TS_F_MESSAGE, "sign-in required");
	expect_str(&m, TS_F_TOKEN, "eyJ.token");
	CHECK_INT(ts_msg_get_int(&m, TS_F_EXPIRES, &v), 0);
	CHECK(v == INT64_MIN);
	CHECK_INT(ts_msg_get_int(&m, 999, &v), 0);
	CHECK(v == INT64_MAX);
	CHECK_INT(ts_msg_get_int(&m, TS_F_USER, &v), -ENOENT);
	/* an int read as a string is fine length-wise only if it has no NUL */
	ts_msg_clear(&m);
	ts_msg_builder_clear(&b);

	CHECK_STR(ts_state_name(TS_STATE_NONE), "none");
	CHECK_STR(ts_state_name(TS_STATE_VALID), "valid");
	CHECK_STR(ts_state_name(TS_STATE_STALE), "stale");
	CHECK_STR(ts_state_name(TS_STATE_REFRESHING), "refreshing");
	CHECK_STR(ts_state_name(TS_STATE_NEEDS_LOGIN), "needs-login");
	CHECK_STR(ts_state_name(TS_STATE_UNAVAILABLE), "unavailable");
	CHECK_STR(ts_state_name(TS_STATE_CORRUPTED), "corrupted");
	CHECK_STR(ts_state_name((enum ts_state)77), "unknown");
}

static void test_builder_limits(void)
{
	struct ts_msg_builder b;
	const uint8_t *frame;
	size_t len;
	char *big = malloc(TS_PROTO_FRAME_MAX);

	CHECK(big);
	memset(big, 'x', TS_PROTO_FRAME_MAX);

	/* exactly at the cap: 2 (msg header) + 6 (field header) + n == FRAME_MAX */
	ts_msg_begin(&b, TS_MSG_INFO);
	ts_msg_add_bytes(&b, TS_F_TEXT, big, TS_PROTO_FRAME_MAX - 8);
	CHECK_INT(ts_msg_finish(&b, &frame, &len), 0);
	CHECK_INT(len, TS_PROTO_FRAME_MAX + 4);
	ts_msg_builder_clear(&b);

	/* one byte over */
	ts_msg_begin(&b, TS_MSG_INFO);
	ts_msg_add_bytes(&b, TS_F_TEXT, big, TS_PROTO_FRAME_MAX - 7);
	CHECK_INT(ts_msg_finish(&b, &frame, &len), TS_E_TOO_BIG);
	ts_msg_builder_clear(&b);

	/* too many fields */
	ts_msg_begin(&b, TS_MSG_INFO);
	for (uint16_t i = 0; i < TS_PROTO_FIELDS_MAX + 1; i++)
		ts_msg_add_int(&b, (uint16_t)(100 + i), i);
	CHECK_INT(ts_msg_finish(&b, &frame, &len), TS_E_TOO_BIG);
	ts_msg_builder_clear(&b);

	/* type 0 and NULL bytes with a length */
	ts_msg_begin(&b, 0);
	CHECK_INT(ts_msg_finish(&b, &frame, &len), -EINVAL);
	ts_msg_builder_clear(&b);
	ts_msg_begin(&b, TS_MSG_INFO);
	ts_msg_add_bytes(&b, TS_F_TEXT, NULL, 3);
	CHECK_INT(ts_msg_finish(&b, &frame, &len), -EINVAL);
	ts_msg_builder_clear(&b);
	free(big);
}

/* ---- malformations ---------------------------------------------------- */

/* Decode a copy of raw payload bytes. */
static int decode_raw(const uint8_t *p, size_t n)
{
	struct ts_msg m;
	uint8_t *copy = malloc(n ? n : 1);
	int r;

	CHECK(copy);
	if (n)
		memcpy(copy, p, n);
	r = ts_msg_decode(&m, copy, n);
	if (r == 0)
		ts_msg_clear(&m);
	return r;
}

static void test_malformed(void)
{
	/* valid baseline: v1, INFO, TEXT "hi" */
	static const uint8_t ok[] = {1, 32, 0, 16, 0, 0, 0, 2, 'h', 'i'};
	CHECK_INT(decode_raw(ok, sizeof(ok)), 0);
	/* a message with no fields is fine */
	CHECK_INT(decode_raw(ok, 2), 0);

	/* short header */
	CHECK_INT(decode_raw(ok, 0), TS_E_IPC);
	CHECK_INT(decode_raw(ok, 1), TS_E_IPC);
	/* wrong version */
	static const uint8_t v2[] = {2, 32, 0, 16, 0, 0, 0, 2, 'h', 'i'};
	CHECK_INT(decode_raw(v2, sizeof(v2)), TS_E_IPC);
	/* empty type */
	static const uint8_t t0[] = {1, 0};
	CHECK_INT(decode_raw(t0, sizeof(t0)), TS_E_IPC);
	/* truncated field header */
	CHECK_INT(decode_raw(ok, 5), TS_E_IPC);
	/* field length past the end */
	static const uint8_t past[] = {1, 32, 0, 16, 0, 0, 0, 3, 'h', 'i'};
	CHECK_INT(decode_raw(past, sizeof(past)), TS_E_IPC);
	/* huge field length (no overflow in the check) */
	static const uint8_t huge[] = {1, 32, 0, 16, 0xff, 0xff, 0xff, 0xff, 'h', 'i'};
	CHECK_INT(decode_raw(huge, sizeof(huge)), TS_E_IPC);
	/* duplicate known tag */
	static const uint8_t dup[] = {1, 32, 0, 16, 0, 0, 0, 1, 'a', 0, 16, 0, 0, 0, 1, 'b'};
	CHECK_INT(decode_raw(dup, sizeof(dup)), TS_E_IPC);
	/* duplicate unknown tag: ignored (forward compatibility) */
	static const uint8_t dupu[] = {1, 32, 0, 200, 0, 0, 0, 1, 'a', 0, 200, 0, 0, 0, 1, 'b'};
	CHECK_INT(decode_raw(dupu, sizeof(dupu)), 0);
	/* NUL in a string */
	static const uint8_t nul[] = {1, 32, 0, 16, 0, 0, 0, 3, 'h', 0, 'i'};
	CHECK_INT(decode_raw(nul, sizeof(nul)), TS_E_IPC);
	/* integer with a bad length */
	static const uint8_t badint[] = {1, 64, 0, 32, 0, 0, 0, 4, 0, 0, 0, 0};
	CHECK_INT(decode_raw(badint, sizeof(badint)), TS_E_IPC);
	/* length over the maximum */
	{
		size_t n = TS_PROTO_FRAME_MAX + 1;
		uint8_t *big = calloc(1, n);
		CHECK(big);
		big[0] = 1;
		big[1] = 32;
		big[2] = 0;
		big[3] = 200;
		uint32_t fl = (uint32_t)(n - 8);
		big[4] = (uint8_t)(fl >> 24);
		big[5] = (uint8_t)(fl >> 16);
		big[6] = (uint8_t)(fl >> 8);
		big[7] = (uint8_t)fl;
		CHECK_INT(decode_raw(big, n), TS_E_IPC);
		CHECK_INT(decode_raw(big, n - 1), TS_E_IPC); /* now the field is past the end */
		free(big);
	}
	/* too many fields: FIELDS_MAX is fine, one more is not */
	{
		uint8_t buf[2 + (TS_PROTO_FIELDS_MAX + 1) * 6];
		buf[0] = 1;
		buf[1] = 32;
		for (size_t i = 0; i < TS_PROTO_FIELDS_MAX + 1; i++) {
			uint8_t *f = buf + 2 + i * 6;
			f[0] = 1;
			f[1] = (uint8_t)i; /* unknown tags 256.. */
			memset(f + 2, 0, 4);
		}
		CHECK_INT(decode_raw(buf, 2 + TS_PROTO_FIELDS_MAX * 6), 0);
		CHECK_INT(decode_raw(buf, sizeof(buf)), TS_E_IPC);
	}
	/* get_str refuses a NUL in an unknown-tag field it is asked for */
	{
		static const uint8_t unul[] = {1, 32, 0, 200, 0, 0, 0, 2, 'a', 0};
		struct ts_msg m;
		char out[8];
		uint8_t *copy = malloc(sizeof(unul));
		CHECK(copy);
		memcpy(copy, unul, sizeof(unul));
		CHECK_INT(ts_msg_decode(&m, copy, sizeof(unul)), 0);
		CHECK_INT(ts_msg_get_str(&m, 200, out, sizeof(out)), TS_E_IPC);
		int64_t v;
		CHECK_INT(ts_msg_get_int(&m, 200, &v), TS_E_IPC);
		ts_msg_clear(&m);
	}
}

/* ---- frame I/O -------------------------------------------------------- */

static void send_info(int fd, const char *text)
{
	struct ts_msg_builder b;
	const uint8_t *frame;
	size_t len;

	ts_msg_begin(&b, TS_MSG_INFO);
	ts_msg_add_str(&b, TS_F_TEXT, text);
	CHECK_INT(ts_msg_finish(&b, &frame, &len), 0);
	CHECK_INT(ts_proto_write(fd, frame, len, 2000), 0);
	ts_msg_builder_clear(&b);
}

static void io_pair(int fds[2], bool sock)
{
	if (sock)
		CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
	else
		CHECK_INT(pipe2(fds, O_CLOEXEC), 0);
}

static void test_io(bool sock)
{
	int fds[2];
	struct ts_msg m;
	char text[64];

	io_pair(fds, sock);
	send_info(fds[1], "hello");
	send_info(fds[1], "world");
	CHECK_INT(ts_proto_read(fds[0], &m, 2000), 0);
	CHECK_INT(m.type, TS_MSG_INFO);
	CHECK_INT(ts_msg_get_str(&m, TS_F_TEXT, text, sizeof(text)), 0);
	CHECK_STR(text, "hello");
	ts_msg_clear(&m);
	CHECK_INT(ts_proto_read(fds[0], &m, 0), 0);
	CHECK_INT(ts_msg_get_str(&m, TS_F_TEXT, text, sizeof(text)), 0);
	CHECK_STR(text, "world");
	ts_msg_clear(&m);

	/* nothing to read: timeout */
	CHECK_INT(ts_proto_read(fds[0], &m, 100), -ETIMEDOUT);

	/* half a header, then half a payload: timeout; then EOF mid-frame */
	static const uint8_t part[] = {0, 0, 0, 10, 1, 32, 0};
	CHECK_INT(ts_proto_write(fds[1], part, 2, 1000), 0);
	CHECK_INT(ts_proto_read(fds[0], &m, 100), -ETIMEDOUT);
	close(fds[0]);
	close(fds[1]);

	io_pair(fds, sock);
	CHECK_INT(ts_proto_write(fds[1], part, sizeof(part), 1000), 0);
	close(fds[1]);
	CHECK_INT(ts_proto_read(fds[0], &m, 1000), -ECONNRESET);
	close(fds[0]);

	/* EOF before anything */
	io_pair(fds, sock);
	close(fds[1]);
	CHECK_INT(ts_proto_read(fds[0], &m, 1000), -ECONNRESET);
	close(fds[0]);

	/* length over the maximum / under the minimum */
	io_pair(fds, sock);
	static const uint8_t over[] = {0, 1, 0, 1, 1, 32};
	CHECK_INT(ts_proto_write(fds[1], over, sizeof(over), 1000), 0);
	CHECK_INT(ts_proto_read(fds[0], &m, 1000), TS_E_TOO_BIG);
	close(fds[0]);
	close(fds[1]);
	io_pair(fds, sock);
	static const uint8_t under[] = {0, 0, 0, 1, 1};
	CHECK_INT(ts_proto_write(fds[1], under, sizeof(under), 1000), 0);
	CHECK_INT(ts_proto_read(fds[0], &m, 1000), TS_E_IPC);
	close(fds[0]);
	close(fds[1]);

	/* a malformed payload in a well-framed frame */
	io_pair(fds, sock);
	static const uint8_t badv[] = {0, 0, 0, 2, 9, 32};
	CHECK_INT(ts_proto_write(fds[1], badv, sizeof(badv), 1000), 0);
	CHECK_INT(ts_proto_read(fds[0], &m, 1000), TS_E_IPC);
	close(fds[0]);
	close(fds[1]);

	/* writing to a peer that is gone: EPIPE, no signal (SIGPIPE is
	 * ignored for pipes by the caller; sockets use MSG_NOSIGNAL) */
	io_pair(fds, sock);
	close(fds[0]);
	static const uint8_t small[] = {0, 0, 0, 2, 1, 32};
	CHECK_INT(ts_proto_write(fds[1], small, sizeof(small), 1000), -EPIPE);
	close(fds[1]);

	/* a full pipe/socket that nobody drains: the write times out */
	io_pair(fds, sock);
	{
		size_t n = 1 << 20;
		uint8_t *blob = calloc(1, n);
		CHECK(blob);
		CHECK_INT(ts_proto_write(fds[1], blob, n, 200), -ETIMEDOUT);
		free(blob);
	}
	close(fds[0]);
	close(fds[1]);
}

static void test_io_pipe(void)
{
	test_io(false);
}

static void test_io_socketpair(void)
{
	test_io(true);
}

/* A large frame crosses the pipe while a child reads it concurrently. */
static void test_io_large_frame(void)
{
	int fds[2];
	struct ts_msg_builder b;
	const uint8_t *frame;
	size_t len;
	char *big = malloc(TS_PROTO_FRAME_MAX - 8 + 1);
	pid_t pid;
	int status;

	CHECK(big);
	memset(big, 'q', TS_PROTO_FRAME_MAX - 8);
	big[TS_PROTO_FRAME_MAX - 8] = '\0';
	CHECK_INT(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct ts_msg m;
		close(fds[1]);
		if (ts_proto_read(fds[0], &m, 5000) != 0)
			_exit(1);
		const struct ts_field_val *f = ts_msg_find(&m, TS_F_TEXT);
		_exit(f && f->len == TS_PROTO_FRAME_MAX - 8 ? 0 : 2);
	}
	close(fds[0]);
	ts_msg_begin(&b, TS_MSG_INFO);
	ts_msg_add_str(&b, TS_F_TEXT, big);
	CHECK_INT(ts_msg_finish(&b, &frame, &len), 0);
	CHECK_INT(ts_proto_write(fds[1], frame, len, 5000), 0);
	ts_msg_builder_clear(&b);
	close(fds[1]);
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), 0);
	free(big);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(test_roundtrip_requests);
	RUN(test_roundtrip_conversation);
	RUN(test_roundtrip_result);
	RUN(test_builder_limits);
	RUN(test_malformed);
	RUN(test_io_pipe);
	RUN(test_io_socketpair);
	RUN(test_io_large_frame);
	return ts_test_done();
}
