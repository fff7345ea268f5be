/* SPDX-License-Identifier: MIT */
/*
 * The broker protocol: message builder, decoder, accessors and blocking frame
 * I/O with timeouts. libc only; no global state. See ts_proto.h for the wire
 * format.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ts_error.h"
#include "ts_mem.h"
#include "ts_proto.h"
#include "ts_time.h"

#define HDR_LEN 4       /* u32 length */
#define MSG_HDR_LEN 2   /* version, type */
#define FIELD_HDR_LEN 6 /* u16 tag, u32 length */

const char *ts_state_name(enum ts_state s)
{
	switch (s) {
	case TS_STATE_NONE:
		return "none";
	case TS_STATE_VALID:
		return "valid";
	case TS_STATE_STALE:
		return "stale";
	case TS_STATE_REFRESHING:
		return "refreshing";
	case TS_STATE_NEEDS_LOGIN:
		return "needs-login";
	case TS_STATE_UNAVAILABLE:
		return "unavailable";
	case TS_STATE_CORRUPTED:
		return "corrupted";
	case TS_STATE_MISMATCH:
		return "mismatch";
	case TS_STATE_SIGNED_OUT:
		return "signed-out";
	}
	return "unknown";
}

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* ---- builder ---------------------------------------------------------- */

/* Make room for n more bytes, keeping the whole frame within
 * HDR_LEN + TS_PROTO_FRAME_MAX. The old buffer is wiped when it moves. */
static int builder_reserve(struct ts_msg_builder *b, size_t n)
{
	size_t need, ncap;
	uint8_t *nbuf;

	if (b->error)
		return b->error;
	if (n > HDR_LEN + TS_PROTO_FRAME_MAX || b->len > HDR_LEN + TS_PROTO_FRAME_MAX - n)
		return (b->error = TS_E_TOO_BIG);
	need = b->len + n;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	if (ncap > HDR_LEN + TS_PROTO_FRAME_MAX)
		ncap = HDR_LEN + TS_PROTO_FRAME_MAX;
	nbuf = malloc(ncap);
	if (!nbuf)
		return (b->error = -ENOMEM);
	if (b->buf) {
		memcpy(nbuf, b->buf, b->len);
		ts_erase_free(b->buf, b->cap);
	}
	b->buf = nbuf;
	b->cap = ncap;
	return 0;
}

void ts_msg_begin(struct ts_msg_builder *b, uint8_t type)
{
	b->buf = NULL;
	b->len = b->cap = 0;
	b->n_fields = 0;
	b->error = 0;
	if (type == 0) {
		b->error = -EINVAL;
		return;
	}
	if (builder_reserve(b, HDR_LEN + MSG_HDR_LEN) < 0)
		return;
	memset(b->buf, 0, HDR_LEN);
	b->buf[HDR_LEN] = TS_PROTO_VERSION;
	b->buf[HDR_LEN + 1] = type;
	b->len = HDR_LEN + MSG_HDR_LEN;
}

void ts_msg_add_bytes(struct ts_msg_builder *b, uint16_t tag, const void *p, size_t n)
{
	if (b->error)
		return;
	if ((!p && n) || n > UINT32_MAX) {
		b->error = -EINVAL;
		return;
	}
	if (b->n_fields >= TS_PROTO_FIELDS_MAX) {
		b->error = TS_E_TOO_BIG;
		return;
	}
	if (builder_reserve(b, FIELD_HDR_LEN + n) < 0)
		return;
	put_u16(b->buf + b->len, tag);
	put_u32(b->buf + b->len + 2, (uint32_t)n);
	if (n)
		memcpy(b->buf + b->len + FIELD_HDR_LEN, p, n);
	b->len += FIELD_HDR_LEN + n;
	b->n_fields++;
}

/* A NULL string adds nothing: optional fields can be passed as they are. */
void ts_msg_add_str(struct ts_msg_builder *b, uint16_t tag, const char *s)
{
	if (!s)
		return;
	ts_msg_add_bytes(b, tag, s, strlen(s));
}

void ts_msg_add_int(struct ts_msg_builder *b, uint16_t tag, int64_t v)
{
	uint8_t be[8];
	uint64_t u = (uint64_t)v;

	for (int i = 7; i >= 0; i--) {
		be[i] = (uint8_t)u;
		u >>= 8;
	}
	ts_msg_add_bytes(b, tag, be, sizeof(be));
}

int ts_msg_finish(struct ts_msg_builder *b, const uint8_t **ret_frame, size_t *ret_len)
{
	if (b->error)
		return b->error;
	if (!b->buf || b->len < HDR_LEN + MSG_HDR_LEN)
		return -EINVAL;
	put_u32(b->buf, (uint32_t)(b->len - HDR_LEN));
	*ret_frame = b->buf;
	*ret_len = b->len;
	return 0;
}

void ts_msg_builder_clear(struct ts_msg_builder *b)
{
	if (!b)
		return;
	if (b->buf)
		ts_erase_free(b->buf, b->cap);
	b->buf = NULL;
	b->len = b->cap = 0;
	b->n_fields = 0;
	b->error = 0;
}

/* ---- decoder ---------------------------------------------------------- */

enum field_kind { KIND_UNKNOWN, KIND_STR, KIND_INT };

static enum field_kind field_kind(uint16_t tag)
{
	switch (tag) {
	case TS_F_USER:
	case TS_F_SERVICE:
	case TS_F_RHOST:
	case TS_F_TTY:
	case TS_F_METHOD:
	case TS_F_TEXT:
	case TS_F_ANSWER:
	case TS_F_MESSAGE:
	case TS_F_TOKEN:
	case TS_F_STATUS_JSON:
		return KIND_STR;
	case TS_F_FLAGS:
	case TS_F_ECHO:
	case TS_F_CODE:
	case TS_F_STATE:
	case TS_F_EXPIRES:
		return KIND_INT;
	default:
		return KIND_UNKNOWN;
	}
}

int ts_msg_decode(struct ts_msg *ret, uint8_t *buf, size_t len)
{
	struct ts_msg m = {0};
	size_t off;

	if (!buf || len < MSG_HDR_LEN || len > TS_PROTO_FRAME_MAX)
		goto bad;
	if (buf[0] != TS_PROTO_VERSION || buf[1] == 0)
		goto bad;
	m.type = buf[1];
	off = MSG_HDR_LEN;
	while (off < len) {
		uint16_t tag;
		uint32_t flen;
		enum field_kind kind;

		if (len - off < FIELD_HDR_LEN)
			goto bad;
		tag = get_u16(buf + off);
		flen = get_u32(buf + off + 2);
		off += FIELD_HDR_LEN;
		if (flen > len - off)
			goto bad;
		if (m.n_fields >= TS_PROTO_FIELDS_MAX)
			goto bad;
		kind = field_kind(tag);
		if (kind == KIND_INT && flen != 8)
			goto bad;
		if (kind == KIND_STR && memchr(buf + off, '\0', flen))
			goto bad;
		if (kind != KIND_UNKNOWN)
			for (size_t i = 0; i < m.n_fields; i++)
				if (m.fields[i].tag == tag)
					goto bad;
		m.fields[m.n_fields].tag = tag;
		m.fields[m.n_fields].len = flen;
		m.fields[m.n_fields].data = buf + off;
		m.n_fields++;
		off += flen;
	}
	m.buf = buf;
	m.buf_len = len;
	*ret = m;
	return 0;
bad:
	if (buf)
		ts_erase_free(buf, len);
	return TS_E_IPC;
}

void ts_msg_clear(struct ts_msg *m)
{
	if (!m)
		return;
	if (m->buf)
		ts_erase_free(m->buf, m->buf_len);
	memset(m, 0, sizeof(*m));
}

const struct ts_field_val *ts_msg_find(const struct ts_msg *m, uint16_t tag)
{
	for (size_t i = 0; i < m->n_fields && i < TS_PROTO_FIELDS_MAX; i++)
		if (m->fields[i].tag == tag)
			return &m->fields[i];
	return NULL;
}

int ts_msg_get_str(const struct ts_msg *m, uint16_t tag, char *out, size_t outlen)
{
	const struct ts_field_val *f = ts_msg_find(m, tag);

	if (!f)
		return -ENOENT;
	if (f->len && memchr(f->data, '\0', f->len))
		return TS_E_IPC;
	if (outlen == 0 || f->len > outlen - 1)
		return TS_E_TOO_BIG;
	if (f->len)
		memcpy(out, f->data, f->len);
	out[f->len] = '\0';
	return 0;
}

int ts_msg_get_int(const struct ts_msg *m, uint16_t tag, int64_t *ret)
{
	const struct ts_field_val *f = ts_msg_find(m, tag);
	uint64_t u = 0;

	if (!f)
		return -ENOENT;
	if (f->len != 8)
		return TS_E_IPC;
	for (size_t i = 0; i < 8; i++)
		u = u << 8 | f->data[i];
	/* two's complement back to signed without implementation-defined casts */
	if (u > (uint64_t)INT64_MAX)
		*ret = -(int64_t)(~u) - 1;
	else
		*ret = (int64_t)u;
	return 0;
}

/* ---- frame I/O -------------------------------------------------------- */

/* Wait until fd is ready for events, or the deadline (0 = none) passes. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int timeout = -1, r;

		if (deadline) {
			int64_t left = deadline - ts_monotonic_ms();
			if (left <= 0)
				return -ETIMEDOUT;
			timeout = left > INT_MAX ? INT_MAX : (int)left;
		}
		r = poll(&p, 1, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			continue; /* re-check the deadline */
		if (p.revents & POLLNVAL)
			return -EBADF;
		return 0; /* readable, writable, HUP or ERR: the syscall tells */
	}
}

int ts_proto_write(int fd, const uint8_t *frame, size_t len, int timeout_ms)
{
	int64_t deadline = timeout_ms > 0 ? ts_monotonic_ms() + timeout_ms : 0;
	struct stat st;
	bool sock;
	size_t off = 0;

	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -errno;
	sock = S_ISSOCK(st.st_mode);
	while (off < len) {
		ssize_t n;
		int r = wait_fd(fd, POLLOUT, deadline);

		if (r < 0)
			return r;
		if (sock)
			n = send(fd, frame + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		else /* at most PIPE_BUF after POLLOUT, so a blocking pipe never blocks */
			n = write(fd, frame + off, len - off > PIPE_BUF ? PIPE_BUF : len - off);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return 0;
}

/* Read exactly n bytes. -ECONNRESET on EOF before all of them. */
static int read_full(int fd, uint8_t *p, size_t n, int64_t deadline)
{
	size_t off = 0;

	while (off < n) {
		ssize_t r;
		int w = wait_fd(fd, POLLIN, deadline);

		if (w < 0)
			return w;
		r = read(fd, p + off, n - off);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		off += (size_t)r;
	}
	return 0;
}

int ts_proto_read(int fd, struct ts_msg *ret, int timeout_ms)
{
	int64_t deadline = timeout_ms > 0 ? ts_monotonic_ms() + timeout_ms : 0;
	uint8_t hdr[HDR_LEN];
	uint8_t *buf;
	uint32_t len;
	struct ts_msg m;
	int r;

	if (fd < 0)
		return -EBADF;
	r = read_full(fd, hdr, sizeof(hdr), deadline);
	if (r < 0)
		return r;
	len = get_u32(hdr);
	if (len > TS_PROTO_FRAME_MAX)
		return TS_E_TOO_BIG;
	if (len < MSG_HDR_LEN)
		return TS_E_IPC;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	r = read_full(fd, buf, len, deadline);
	if (r < 0) {
		ts_erase_free(buf, len);
		return r;
	}
	r = ts_msg_decode(&m, buf, len);
	if (r < 0)
		return r;
	*ret = m;
	return 0;
}

int ts_proto_read_answer(int fd, int timeout_ms, char **ret_answer)
{
	struct ts_msg m = {0};
	const struct ts_field_val *f;
	char *ans;
	int r;

	r = ts_proto_read(fd, &m, timeout_ms);
	if (r < 0)
		return r;
	if (m.type != TS_MSG_ANSWER) {
		r = TS_E_IPC;
		goto out;
	}
	f = ts_msg_find(&m, TS_F_ANSWER);
	if (!f) {
		r = TS_E_INTERACTION;
		goto out;
	}
	ans = malloc((size_t)f->len + 1);
	if (!ans) {
		r = -ENOMEM;
		goto out;
	}
	r = ts_msg_get_str(&m, TS_F_ANSWER, ans, (size_t)f->len + 1);
	if (r < 0) {
		ts_erase_free(ans, (size_t)f->len + 1);
		goto out;
	}
	*ret_answer = ans;
	r = 0;
out:
	ts_msg_clear(&m);
	return r;
}
