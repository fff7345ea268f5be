/* SPDX-License-Identifier: MIT */
/*
 * The runner's side of the broker protocol: the case's values decoded,
 * its request (or raw bytes) sent to the real broker in exec mode (a child
 * with a pipe pair, its stderr kept for sanitizer reports) or to the
 * daemon's socket (as root or as another uid), the conversation answered
 * from the case, the RESULT read; and the same through ts_client_call in a
 * host process the case spoiled (caller-* keys).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bi.h"
#include "ts_client.h"
#include "ts_error.h"
#include "ts_proto.h"
#include "ts_test.h"

/* ---- values ------------------------------------------------------------ */

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		CHECK(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void put_utf8(struct buf *b, unsigned long cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	put(b, u, n);
}

static void b64url(struct buf *b, const unsigned char *p, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	for (size_t i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)p[i] << 16;
		char o[4];
		size_t k = n - i >= 3 ? 4 : n - i + 1;

		if (i + 1 < n)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		o[0] = a[(v >> 18) & 63];
		o[1] = a[(v >> 12) & 63];
		o[2] = a[(v >> 6) & 63];
		o[3] = a[v & 63];
		put(b, o, k);
	}
}

/* Expand templates of [in, in+n) into b; returns where it stopped (at a
 * "}}" closing the caller's template, or the end). */
static const char *expand(struct buf *b, const char *in, const char *end)
{
	while (in < end) {
		if (end - in >= 2 && in[0] == '}' && in[1] == '}')
			return in;
		if (end - in >= 2 && in[0] == '{' && in[1] == '{') {
			struct buf inner = {0};
			const char *p = in + 2;

			if (strncmp(p, "repeat ", 7) == 0) {
				char *e;
				unsigned long times = strtoul(p + 7, &e, 10);

				p = expand(&inner, e + 1, end);
				for (unsigned long i = 0; i < times; i++)
					put(b, inner.p ? inner.p : "", inner.len);
			} else if (strncmp(p, "jwt ", 4) == 0) {
				static const char hdr[] = "{\"alg\":\"none\",\"typ\":\"JWT\"}";

				p = expand(&inner, p + 4, end);
				b64url(b, (const unsigned char *)hdr, strlen(hdr));
				put(b, ".", 1);
				b64url(b, (const unsigned char *)inner.p, inner.len);
				put(b, ".c2ln", 5);
			} else if (strncmp(p, "now", 3) == 0) {
				char num[32];
				long off = strtol(p + 3, NULL, 10);

				snprintf(num, sizeof(num), "%lld", (long long)time(NULL) + off);
				put(b, num, strlen(num));
				p = strstr(p, "}}");
				CHECK(p);
			} else {
				CHECK_MSG(false, "unknown template: %.20s", in);
			}
			free(inner.p);
			in = p + 2;
			continue;
		}
		if (end - in >= 5 && strncmp(in, "@DIR@", 5) == 0) {
			put(b, W.dir, strlen(W.dir));
			in += 5;
			continue;
		}
		if (end - in >= 8 && strncmp(in, "@CANNED@", 8) == 0) {
			put(b, W.faults.base, strlen(W.faults.base));
			put(b, "/case/canned", 12);
			in += 8;
			continue;
		}
		if (end - in >= 9 && strncmp(in, "@PRELOAD@", 9) == 0) {
			put(b, BI_PRELOAD, strlen(BI_PRELOAD));
			in += 9;
			continue;
		}
		if (*in == '\\' && in + 1 < end) {
			char c = in[1];

			in += 2;
			switch (c) {
			case 'n':
				put(b, "\n", 1);
				break;
			case 't':
				put(b, "\t", 1);
				break;
			case 'r':
				put(b, "\r", 1);
				break;
			case '0':
				put(b, "", 1);
				break;
			case 'x': {
				char hex[3] = {in[0], in[1], 0};
				unsigned char v = (unsigned char)strtoul(hex, NULL, 16);

				put(b, &v, 1);
				in += 2;
				break;
			}
			case 'u': {
				char *e;
				unsigned long cp;

				if (in[0] != '{') { /* a JSON escape: kept as it is */
					put(b, "\\u", 2);
					break;
				}
				cp = strtoul(in + 1, &e, 16); /* \u{HEX} */
				put_utf8(b, cp);
				in = e + 1;
				break;
			}
			case '\\':
				put(b, "\\", 1);
				break;
			default: /* not ours: kept as it is */
				put(b, in - 2, 2);
			}
			continue;
		}
		put(b, in, 1);
		in++;
	}
	return in;
}

int bi_decode(const char *in, char **ret, size_t *len)
{
	struct buf b = {0};

	put(&b, "", 0);
	expand(&b, in, in + strlen(in));
	*ret = b.p;
	*len = b.len;
	return 0;
}

/* ---- frames ------------------------------------------------------------ */

static const struct {
	const char *name;
	enum ts_msg_type type;
} ops[] = {
    {"login", TS_MSG_LOGIN},
    {"revalidate", TS_MSG_REVALIDATE},
    {"get-token", TS_MSG_GET_TOKEN},
    {"status", TS_MSG_STATUS},
    {"refresh", TS_MSG_REFRESH},
    {"logout", TS_MSG_LOGOUT},
    {"open-session", TS_MSG_OPEN_SESSION},
    {"auth-stored", TS_MSG_AUTH_STORED},
};

int bi_request_frame(const struct bi_case *c, uint8_t **frame, size_t *len)
{
	const char *op = bi_get(c, "op") ? bi_get(c, "op") : "revalidate";
	const char *user = bi_get(c, "user") ? bi_get(c, "user") : "alice";
	struct ts_msg_builder b = {0};
	enum ts_msg_type type = TS_MSG_REVALIDATE;
	const uint8_t *f;
	uint32_t flags = 0;
	char *u;
	size_t ul;
	bool found = false;
	int r;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, op) == 0) {
			type = ops[i].type;
			found = true;
		}
	CHECK_MSG(found, "%s: unknown op \"%s\"", c->name, op);
	if (type == TS_MSG_REFRESH)
		flags |= TS_FLAG_FORCE;
	if (type != TS_MSG_LOGIN && !bi_get(c, "answer"))
		flags |= TS_FLAG_NONINTERACTIVE;
	bi_decode(user, &u, &ul);
	ts_msg_begin(&b, type);
	ts_msg_add_bytes(&b, TS_F_USER, u, ul);
	ts_msg_add_str(&b, TS_F_SERVICE, "badinput");
	ts_msg_add_int(&b, TS_F_FLAGS, flags);
	if (type == TS_MSG_LOGIN)
		ts_msg_add_str(&b, TS_F_METHOD,
		               bi_get(c, "method") ? bi_get(c, "method") : "password");
	free(u);
	r = ts_msg_finish(&b, &f, len);
	if (r == 0) {
		*frame = malloc(*len);
		CHECK(*frame);
		memcpy(*frame, f, *len);
	}
	ts_msg_builder_clear(&b);
	return r;
}

/* ---- talking ----------------------------------------------------------- */

/* The sanitizer settings of this run (scripts/test's sanitizer pass sets
 * them), with every report logged into W.asan_dir, which the runner
 * watches: the exec broker's stderr is not the only place a report goes. */
void bi_sanitizer_env(char *asan, size_t alen, char *ubsan, size_t ulen)
{
	const char *a = getenv("ASAN_OPTIONS"), *u = getenv("UBSAN_OPTIONS");

	snprintf(asan, alen, "ASAN_OPTIONS=%s:verify_asan_link_order=0:log_path=%s/asan",
	         a ? a : "detect_leaks=1", W.asan_dir);
	snprintf(ubsan, ulen, "UBSAN_OPTIONS=%s:log_path=%s/ubsan", u ? u : "print_stacktrace=1",
	         W.asan_dir);
}

static pid_t spawn_exec(const char *config, int *to, int *from)
{
	int in[2], out[2];
	pid_t pid;

	CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char asan[1200], ubsan[1200];
		char *env[] = {asan, ubsan, NULL};
		int log = open(W.case_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		bi_sanitizer_env(asan, sizeof(asan), ubsan, sizeof(ubsan));
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || log < 0 || dup2(log, 2) < 0)
			_exit(127);
		execle(W.broker, "tokenseal-broker", "--config", config, "--debug", (char *)NULL,
		       env);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to = in[1];
	*from = out[0];
	return pid;
}

/* Connect to the daemon's socket as uid (0: root itself). */
static int connect_daemon(uid_t uid, pid_t *child, int *from)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int sv[2], fd;

	CHECK(strlen(W.socket) < sizeof(a.sun_path));
	memcpy(a.sun_path, W.socket, strlen(W.socket) + 1);
	if (uid == 0) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(fd >= 0);
		CHECK_MSG(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect %s: %s",
		          W.socket, strerror(errno));
		*child = -1;
		*from = fd;
		return fd;
	}
	/* a child of that uid connects and hands the connection back: the
	 * daemon's SO_PEERCRED then names that uid */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	*child = fork();
	CHECK(*child >= 0);
	if (*child == 0) {
		char cm[CMSG_SPACE(sizeof(int))] = {0};
		char x = 'x';
		struct iovec io = {.iov_base = &x, .iov_len = 1};
		struct msghdr m = {.msg_iov = &io,
		                   .msg_iovlen = 1,
		                   .msg_control = cm,
		                   .msg_controllen = sizeof(cm)};
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);

		if (!h)
			_exit(123);
		if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(126);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			_exit(125);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &fd, sizeof(int));
		_exit(sendmsg(sv[1], &m, 0) == 1 ? 0 : 124);
	}
	close(sv[1]);
	{
		char cm[CMSG_SPACE(sizeof(int))], x;
		struct iovec io = {.iov_base = &x, .iov_len = 1};
		struct msghdr m = {.msg_iov = &io,
		                   .msg_iovlen = 1,
		                   .msg_control = cm,
		                   .msg_controllen = sizeof(cm)};
		int st = 0;

		struct cmsghdr *h;

		if (recvmsg(sv[0], &m, 0) != 1) {
			(void)waitpid(*child, &st, 0);
			CHECK_MSG(false, "the peer child (uid %u) could not connect: status %#x",
			          (unsigned)uid, (unsigned)st);
			return -1;
		}
		h = CMSG_FIRSTHDR(&m);
		CHECK(h && h->cmsg_type == SCM_RIGHTS);
		if (!h)
			return -1;
		memcpy(&fd, CMSG_DATA(h), sizeof(int));
		close(sv[0]);
		CHECK(waitpid(*child, &st, 0) == *child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
		*child = -1;
	}
	*from = fd;
	return fd;
}

static void be32(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The ANSWER frame written by hand, whatever its size (a client that does
 * not check): answer "(none)" sends one without a value, "(hangup)" closes
 * the connection instead. Returns -1 after a hang-up. */
static int send_answer(struct bi_case *c, int to, const char *text)
{
	const char *spec = bi_get(c, "answer");
	size_t al = 0, len;
	char *a = NULL;
	uint8_t *f;
	ssize_t w = 0;

	(void)text;
	if (spec && strcmp(spec, "(hangup)") == 0)
		return -1;
	if (spec && strcmp(spec, "(none)") != 0)
		bi_decode(spec, &a, &al);
	len = a ? 4 + 2 + 6 + al : 4 + 2;
	f = malloc(len);
	CHECK(f);
	be32(f, len - 4);
	f[4] = TS_PROTO_VERSION;
	f[5] = TS_MSG_ANSWER;
	if (a) {
		f[6] = 0;
		f[7] = TS_F_ANSWER;
		be32(f + 8, al);
		memcpy(f + 12, a, al);
	}
	for (size_t off = 0; off < len && w >= 0; off += (size_t)w)
		w = write(to, f + off, len - off);
	free(f);
	free(a);
	(void)c;
	return 0;
}

static int wait_child(pid_t pid, int secs)
{
	int st = 0;

	for (int i = 0; i < secs * 20; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	(void)waitpid(pid, &st, 0);
	return -1;
}

void bi_talk(struct bi_case *c, const char *config)
{
	const char *target = bi_get(c, "target") ? bi_get(c, "target") : "exec";
	const char *raw = bi_get(c, "frame");
	int timeout =
	    bi_get(c, "timeout-ms") ? (int)strtol(bi_get(c, "timeout-ms"), NULL, 10) : 20000;
	uint8_t *frame = NULL;
	size_t len = 0;
	int to, from, st;
	pid_t pid = -1, helper = -1;

	if (strcmp(target, "exec") == 0) {
		pid = spawn_exec(config, &to, &from);
	} else {
		struct passwd *pw = NULL;
		uid_t uid = 0;

		if (bi_get(c, "peer")) {
			pw = getpwnam(bi_get(c, "peer"));
			CHECK(pw);
			uid = pw ? pw->pw_uid : 0;
		}
		to = connect_daemon(uid, &helper, &from);
	}
	if (raw) {
		char *r;

		bi_decode(raw, &r, &len);
		frame = (uint8_t *)r;
	} else {
		CHECK_INT(bi_request_frame(c, &frame, &len), 0);
	}
	signal(SIGPIPE, SIG_IGN);
	if (len && write(to, frame, len) < 0 && errno != EPIPE)
		snprintf(c->why, sizeof(c->why), "write: %s", strerror(errno));
	free(frame);
	if (bi_yes(c, "half-close", false) && to == from)
		shutdown(to, SHUT_WR);
	else if (bi_yes(c, "half-close", false))
		close(to), to = -1;
	for (;;) {
		struct ts_msg m = {0};
		int r = ts_proto_read(from, &m, timeout);

		if (r < 0) {
			if (r == -ETIMEDOUT)
				snprintf(c->why, sizeof(c->why), "no frame within %d ms", timeout);
			break;
		}
		if (m.type == TS_MSG_INFO || m.type == TS_MSG_ERROR || m.type == TS_MSG_PROMPT) {
			const struct ts_field_val *t = ts_msg_find(&m, TS_F_TEXT);
			size_t room = sizeof(c->conv) - 1 - c->conv_len;

			/* what the user's terminal would show, kept byte for byte */
			if (t && room) {
				size_t n = t->len < room - 1 ? t->len : room - 1;

				memcpy(c->conv + c->conv_len, t->data, n);
				c->conv_len += n;
				c->conv[c->conv_len++] = '\n';
			}
		}
		if (m.type == TS_MSG_PROMPT) {
			char text[600] = "";

			if (ts_msg_get_str(&m, TS_F_TEXT, text, sizeof(text)) < 0)
				text[0] = '\0';
			if (send_answer(c, to, text) < 0) {
				ts_msg_clear(&m);
				break;
			}
		} else if (m.type == TS_MSG_RESULT) {
			int64_t code = 0;

			c->got_result = true;
			if (ts_msg_get_int(&m, TS_F_CODE, &code) < 0)
				code = 1; /* no code: named as such by bi_code_name */
			c->code = (int)code;
			if (ts_msg_get_str(&m, TS_F_MESSAGE, c->message, sizeof(c->message)) < 0)
				c->message[0] = '\0';
			ts_msg_clear(&m);
			break;
		}
		ts_msg_clear(&m);
	}
	if (to >= 0 && to != from)
		close(to);
	close(from);
	if (pid > 0) {
		st = wait_child(pid, 20);
		if (!c->why[0] && st == -1)
			snprintf(c->why, sizeof(c->why), "the broker did not exit (killed)");
		else if (!c->why[0] && WIFSIGNALED(st))
			snprintf(c->why, sizeof(c->why), "the broker died of signal %d",
			         WTERMSIG(st));
		else if (!c->why[0] && WEXITSTATUS(st) > 1)
			snprintf(c->why, sizeof(c->why), "the broker exited %d", WEXITSTATUS(st));
	}
}
