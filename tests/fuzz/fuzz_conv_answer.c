/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a user's answer to a prompt, on its whole way to the
 * broker's engine.
 *  - The terminal (cli/conv.c cli_read_line): what the user types, read
 *    from a file descriptor up to the first newline, bounded by max (the
 *    CLI's 16 KiB, or a small one from the input), one trailing CR dropped.
 *  - The relay (common/ts_client.c send_answer, as the CLI and the PAM
 *    module, whose pam_conv answer can be any C string, both send it): a
 *    TS_MSG_ANSWER frame over a socket pair, read and taken apart as the
 *    broker does (broker/serve.c conv_prompt: ts_proto_read_answer).
 *  - A hostile caller: the input's bytes as the frame itself.
 * Input: byte 0 = flags (bit 0: a small max, bit 1: the input is a raw
 * frame), byte 1 = the small max (1..64), the rest = the typed bytes (or
 * the frame). Whatever the input: no crash, every answer is what was typed
 * (up to the first newline or NUL, no CR at the end), never longer than max,
 * and the broker reads back exactly what the client sent.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "ts_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLI_MAX (16 * 1024)

/* The broker's side (serve.c conv_prompt): ts_proto_read_answer, with the
 * check that the answer is no longer than its field. */
static int broker_take(int fd, char **ret)
{
	int r = ts_proto_read_answer(fd, 1000, ret);

	if (r == 0 && !*ret)
		__builtin_trap();
	return r;
}

/* Send bytes on one end of a fresh socket pair, close it, let the broker read. */
static int relay_bytes(const void *p, size_t n, char **ret)
{
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	r = n ? ts_proto_write(sv[0], p, n, 1000) : 0;
	close(sv[0]);
	if (r >= 0)
		r = broker_take(sv[1], ret);
	close(sv[1]);
	return r;
}

/* The client's side (ts_client.c send_answer), then the broker's. */
static void relay(const char *answer)
{
	struct ts_msg_builder b = {0};
	const uint8_t *frame;
	size_t len;
	char *got = NULL;
	int r;

	ts_msg_begin(&b, TS_MSG_ANSWER);
	ts_msg_add_str(&b, TS_F_ANSWER, answer);
	r = ts_msg_finish(&b, &frame, &len);
	if (r >= 0) {
		if (len > TS_PROTO_FRAME_MAX + 4)
			__builtin_trap();
		r = relay_bytes(frame, len, &got);
		if (r < 0 || !got || strcmp(got, answer) != 0)
			__builtin_trap(); /* a frame the client built, the broker must read */
		ts_erase_free_str(got);
	} else if (strlen(answer) < TS_PROTO_FRAME_MAX - 64) {
		__builtin_trap(); /* a short answer always fits */
	}
	ts_msg_builder_clear(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max, n, want;
	char *ans = NULL, *cstr;
	int fd, r;

	if (size < 2 || size > TS_PROTO_FRAME_MAX + 2)
		return 0;
	if (data[0] & 2) {
		/* a hostile caller's frame */
		if (relay_bytes(data + 2, size - 2, &ans) == 0)
			ts_erase_free_str(ans);
		return 0;
	}
	max = data[0] & 1 ? 1 + (size_t)data[1] % 64 : CLI_MAX;
	n = size - 2;
	/* the reader takes one read() per byte: past max + a little there is
	 * nothing new to see, only time to lose */
	if (n > CLI_MAX + 64)
		n = CLI_MAX + 64;
	fd = memfd_create("answer", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data + 2, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return 0;
	}
	r = cli_read_line(fd, NULL, false, max, &ans);
	close(fd);
	/* what the reader should give: up to the first newline, less one CR */
	const uint8_t *nl = memchr(data + 2, '\n', n);
	want = nl ? (size_t)(nl - (data + 2)) : n;
	if (r == 0) {
		size_t got = strlen(ans);
		size_t w = want && data[2 + want - 1] == '\r' ? want - 1 : want;

		if (want + 1 > max || got > w || memcmp(ans, data + 2, got) != 0 ||
		    (got < w && data[2 + got] != '\0'))
			__builtin_trap();
		relay(ans);
		ts_erase_free_str(ans);
	} else if (r == TS_E_TOO_BIG) {
		if (want + 1 <= max)
			__builtin_trap();
	} else if (r != -ENODATA || n != 0) {
		__builtin_trap();
	}
	/* the PAM module's pam_conv answer: any C string, no bound of ours */
	cstr = malloc(n + 1);
	if (!cstr)
		return 0;
	memcpy(cstr, data + 2, n);
	cstr[n] = '\0';
	relay(cstr);
	free(cstr);
	return 0;
}
