/* SPDX-License-Identifier: MIT */
/*
 * The client side of the broker protocol. Exec mode: fork + execve the
 * broker with a pipe pair as stdin/stdout, stderr on /dev/null, every other
 * fd closed, signals reset and an empty environment (as pam_unix runs
 * unix_chkpwd). Daemon mode: a connection to the root-owned socket of
 * tokenseal-broker --daemon. Either way: send one request, relay the
 * conversation through the callbacks (one loop, converse(), for both), and
 * return the final RESULT. libc only, no global state. The daemon's socket
 * checks and connect are ts_client_socket.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ts_client.h"
#include "ts_client_internal.h"
#include "ts_error.h"
#include "ts_file.h"
#include "ts_mem.h"
#include "ts_proto.h"
#include "ts_time.h"

#define CHILD_FD_MIN 4     /* where the child parks fds before dup2 to 0..3 */
#define REAP_GRACE_MS 2000 /* how long a broker may linger after its RESULT */

void ts_client_result_clear(struct ts_client_result *r)
{
	if (!r)
		return;
	r->token = ts_erase_free_str(r->token);
	free(r->status_json);
	r->status_json = NULL;
	ts_wipe(r->message, sizeof(r->message));
	r->message[0] = '\0';
	r->via_daemon = false;
}

/* ---- the child -------------------------------------------------------- */

/* The loop fallback's bound: sysconf(_SC_OPEN_MAX) can be 2^30 in a
 * container, and a PAM module must not spend seconds in close(). */
#define CLOSE_LOOP_MAX (1L << 20)

static int close_by_range(int from)
{
#ifdef SYS_close_range
	/* the syscall, not the libc wrapper: glibc < 2.34 and musl < 1.2.4
	 * have no close_range(), and a kernel < 5.9 answers ENOSYS */
	if (syscall(SYS_close_range, (unsigned)from, ~0U, 0U) == 0)
		return 0;
	return -errno;
#else
	(void)from;
	return -ENOSYS;
#endif
}

/* /proc/self/fd (opendir's own fd is skipped). Not async-signal-safe
 * (opendir allocates): a fallback for kernels without close_range only. */
static int close_by_proc(int from)
{
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");
	int self;

	if (!d)
		return -errno;
	self = dirfd(d);
	while ((e = readdir(d))) {
		char *end;
		long fd;

		if (e->d_name[0] == '.')
			continue;
		errno = 0;
		fd = strtol(e->d_name, &end, 10);
		if (errno || *end || fd < from || fd == self || fd > INT_MAX)
			continue;
		(void)close((int)fd);
	}
	(void)closedir(d);
	return 0;
}

static int close_by_loop(int from)
{
	long max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > CLOSE_LOOP_MAX)
		max = CLOSE_LOOP_MAX;
	for (long fd = from; fd < max; fd++)
		(void)close((int)fd);
	return 0;
}

int ts_close_fds_from(int from, enum ts_close_how how)
{
	switch (how) {
	case TS_CLOSE_RANGE:
		return close_by_range(from);
	case TS_CLOSE_PROC:
		return close_by_proc(from);
	case TS_CLOSE_LOOP:
		return close_by_loop(from);
	case TS_CLOSE_AUTO:
		break;
	}
	if (close_by_range(from) == 0 || close_by_proc(from) == 0)
		return 0;
	return close_by_loop(from);
}

static void report_errno(int errfd, int err)
{
	ssize_t n;

	do
		n = write(errfd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
}

/* Runs in the forked child: never returns. Only async-signal-safe calls
 * before execve (opendir above is the old-kernel fallback only). */
static _Noreturn void run_child(const struct ts_client_opts *opts, int in, int out, int errfd)
{
	char *empty_env[] = {NULL}; /* automatic: the module holds no static data */
	const char *argv[4];
	size_t argc = 0;
	int fds[4], nul;
	sigset_t none;

	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul < 0) {
		report_errno(errfd, errno);
		_exit(127);
	}
	/* Park every fd above 3 first, so the dup2s below cannot clobber one. */
	int src[4] = {in, out, nul, errfd};
	for (size_t i = 0; i < 4; i++) {
		fds[i] = fcntl(src[i], F_DUPFD_CLOEXEC, CHILD_FD_MIN);
		if (fds[i] < 0) {
			report_errno(errfd, errno);
			_exit(127);
		}
	}
	errfd = fds[3];
	if (dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[2], 2) < 0 ||
	    dup2(fds[3], 3) < 0 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0) {
		report_errno(errfd, errno);
		_exit(127);
	}
	errfd = 3;
	(void)ts_close_fds_from(4, TS_CLOSE_AUTO);

	/* sudo's shape (real uid the user, euid 0): exec as wholly root, as
	 * the broker would make itself anyway. To the kernel an exec whose
	 * effective uid is not the real one raises privilege (AT_SECURE),
	 * and glibc then hides the broker's own environment from
	 * secure_getenv, the NSS module's loop guard included. Neither call
	 * needs a capability: each id set is one the process already has. */
	if (geteuid() == 0) {
		gid_t eg = getegid();

		if (setresgid(eg, eg, eg) < 0 || setresuid(0, 0, 0) < 0) {
			report_errno(errfd, errno);
			_exit(127);
		}
	}

	/* The host may ignore or block signals (sshd ignores SIGPIPE); the
	 * broker starts from the defaults. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)signal(sig, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	argv[argc++] = "tokenseal-broker";
	if (opts->config_path) {
		argv[argc++] = "--config";
		argv[argc++] = opts->config_path;
	}
	argv[argc] = NULL;
	/* execve's argv is char *const[] for historical reasons only. */
	execve(opts->broker_path, (char *const *)(uintptr_t)argv,
	       opts->env ? opts->env : empty_env);
	report_errno(errfd, errno);
	_exit(127);
}

/* ---- the parent ------------------------------------------------------- */

/* Write a frame with SIGPIPE blocked, so a broker that died costs us -EPIPE
 * and not the host process; a SIGPIPE raised here is consumed. */
static int write_frame(int fd, struct ts_msg_builder *b, int timeout_ms)
{
	const uint8_t *frame;
	size_t len;
	sigset_t pipe_set, old, pending;
	bool was_pending;
	int r;

	r = ts_msg_finish(b, &frame, &len);
	if (r < 0)
		return r;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &pipe_set, &old) < 0)
		return -errno;
	sigemptyset(&pending);
	(void)sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE) == 1;
	r = ts_proto_write(fd, frame, len, timeout_ms);
	if (r == -EPIPE && !was_pending) {
		const struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

/* Copy a string field into a fresh allocation (wiped on free by callers). */
static int dup_field(const struct ts_msg *m, uint16_t tag, char **ret)
{
	const struct ts_field_val *f = ts_msg_find(m, tag);
	char *s;
	int r;

	if (!f)
		return -ENOENT;
	s = malloc((size_t)f->len + 1);
	if (!s)
		return -ENOMEM;
	r = ts_msg_get_str(m, tag, s, (size_t)f->len + 1);
	if (r < 0) {
		ts_erase_free(s, (size_t)f->len + 1);
		return r;
	}
	*ret = s;
	return 0;
}

/* The TEXT field every INFO, ERROR and PROMPT carries: missing is a
 * protocol error. */
static int dup_text(const struct ts_msg *m, char **ret)
{
	int r = dup_field(m, TS_F_TEXT, ret);

	return r == -ENOENT ? TS_E_IPC : r;
}

static int send_request(int fd, const struct ts_client_request *req, int timeout_ms)
{
	struct ts_msg_builder b;
	int r;

	ts_msg_begin(&b, (uint8_t)req->type);
	ts_msg_add_str(&b, TS_F_USER, req->user);
	ts_msg_add_str(&b, TS_F_SERVICE, req->service);
	ts_msg_add_int(&b, TS_F_FLAGS, req->flags);
	ts_msg_add_str(&b, TS_F_RHOST, req->rhost);
	ts_msg_add_str(&b, TS_F_TTY, req->tty);
	ts_msg_add_str(&b, TS_F_METHOD, req->method);
	r = write_frame(fd, &b, timeout_ms);
	ts_msg_builder_clear(&b);
	return r;
}

static int send_answer(int fd, const char *answer, int timeout_ms)
{
	struct ts_msg_builder b;
	int r;

	ts_msg_begin(&b, TS_MSG_ANSWER);
	ts_msg_add_str(&b, TS_F_ANSWER, answer); /* NULL: no value */
	r = write_frame(fd, &b, timeout_ms);
	ts_msg_builder_clear(&b); /* wipes the answer */
	return r;
}

static int handle_text(const struct ts_msg *m, const struct ts_conv *conv)
{
	_cleanup_free_ char *text = NULL;
	int (*fn)(void *, const char *);
	int r;

	r = dup_text(m, &text);
	if (r < 0)
		return r;
	if (!conv)
		return 0;
	fn = m->type == TS_MSG_INFO ? conv->info : conv->error;
	if (!fn)
		return 0;
	r = fn(conv->ctx, text);
	return r < 0 ? r : 0;
}

static int handle_prompt(int fd, const struct ts_msg *m, const struct ts_conv *conv,
                         int timeout_ms)
{
	_cleanup_free_ char *text = NULL;
	char *answer = NULL;
	int64_t echo = 0;
	int r;

	r = dup_text(m, &text);
	if (r < 0)
		return r;
	r = ts_msg_get_int(m, TS_F_ECHO, &echo);
	if (r < 0 && r != -ENOENT)
		return r;
	if (conv && conv->prompt) {
		r = conv->prompt(conv->ctx, text, echo != 0, &answer);
		if (r < 0)
			answer = ts_erase_free_str(answer);
	}
	r = send_answer(fd, answer, timeout_ms);
	ts_erase_free_str(answer);
	return r;
}

static int parse_result(const struct ts_msg *m, struct ts_client_result *ret)
{
	struct ts_client_result res = {.expires = -1};
	int64_t v;
	int r;

	r = ts_msg_get_int(m, TS_F_CODE, &v);
	if (r < 0)
		return r == -ENOENT ? TS_E_IPC : r;
	if (v > 0 || v < INT_MIN)
		return TS_E_IPC;
	res.code = (int)v;
	r = ts_msg_get_int(m, TS_F_STATE, &v);
	if (r == 0) {
		if (v < 0 || v > INT_MAX)
			return TS_E_IPC;
		res.state = (int)v;
	} else if (r != -ENOENT)
		return r;
	r = ts_msg_get_int(m, TS_F_EXPIRES, &v);
	if (r == 0)
		res.expires = v;
	else if (r != -ENOENT)
		return r;
	r = ts_msg_get_str(m, TS_F_MESSAGE, res.message, sizeof(res.message));
	if (r == TS_E_TOO_BIG) {
		/* keep what fits: the message is for a person */
		const struct ts_field_val *f = ts_msg_find(m, TS_F_MESSAGE);
		memcpy(res.message, f->data, sizeof(res.message) - 1);
		res.message[sizeof(res.message) - 1] = '\0';
	} else if (r < 0 && r != -ENOENT)
		return r;
	r = dup_field(m, TS_F_TOKEN, &res.token);
	if (r < 0 && r != -ENOENT)
		goto fail;
	r = dup_field(m, TS_F_STATUS_JSON, &res.status_json);
	if (r < 0 && r != -ENOENT)
		goto fail;
	*ret = res;
	return 0;
fail:
	ts_client_result_clear(&res);
	return r;
}

/* The peer went away (EOF, reset, broken pipe), as opposed to a timeout,
 * nonsense or a callback that gave up. */
static bool is_dropped(int r)
{
	return r == -ECONNRESET || r == -EPIPE || r == -ECONNABORTED || r == -ENOTCONN;
}

/* How one conversation runs: on a pipe pair (exec mode) or one socket
 * (in == out). */
struct conv_io {
	int in, out;
	int timeout_ms; /* per frame */
	/* a root caller's daemon: the first frame within
	 * ts_client_await_first_reply()'s deadlines, or the request is
	 * abandoned for exec mode */
	bool first_deadline;
	int busy_ms; /* TS_CLIENT_ROOT_BUSY_MS, or the test's */
	bool dropped;	 /* the peer went away (or never answered) before its RESULT */
	bool unanswered; /* the first-reply deadline passed */
	bool taken;	 /* ... after the daemon had read the request */
};

/* The conversation: frames until RESULT. */
static int converse(struct conv_io *io, const struct ts_client_request *req,
                    const struct ts_conv *conv, struct ts_client_result *ret)
{
	int r = send_request(io->out, req,
	                     io->first_deadline ? TS_CLIENT_ROOT_FIRST_REPLY_MS : io->timeout_ms);

	io->dropped = false;
	io->unanswered = false;
	io->taken = false;
	if (r < 0) {
		/* a root caller's request the daemon does not even take */
		io->unanswered = io->first_deadline && r == -ETIMEDOUT;
		io->dropped = is_dropped(r) || io->unanswered;
		return r;
	}
	if (io->first_deadline) {
		r = ts_client_await_first_reply(io->in, io->out, req->type, io->busy_ms, &io->taken);
		if (r == -ETIMEDOUT) {
			io->unanswered = true;
			io->dropped = true;
		}
		if (r < 0)
			return r;
	}
	for (;;) {
		struct ts_msg m;

		r = ts_proto_read(io->in, &m, io->timeout_ms);
		if (r < 0) {
			io->dropped = is_dropped(r);
			return r;
		}
		switch (m.type) {
		case TS_MSG_INFO:
		case TS_MSG_ERROR:
			r = handle_text(&m, conv);
			break;
		case TS_MSG_PROMPT:
			r = handle_prompt(io->out, &m, conv, io->timeout_ms);
			io->dropped = is_dropped(r);
			break;
		case TS_MSG_RESULT:
			r = parse_result(&m, ret);
			ts_msg_clear(&m);
			return r;
		default:
			r = TS_E_IPC;
			break;
		}
		ts_msg_clear(&m);
		if (r < 0)
			return r;
	}
}

/* Reap the broker: it should exit by itself once the pipes close; one that
 * lingers (or that we gave up on) is killed. */
static void reap(pid_t pid, bool kill_now)
{
	int64_t deadline = ts_monotonic_ms() + REAP_GRACE_MS;
	int status;

	if (kill_now)
		(void)kill(pid, SIGKILL);
	for (;;) {
		pid_t w = waitpid(pid, &status, kill_now ? 0 : WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return;
		if (w == 0) {
			if (ts_monotonic_ms() >= deadline) {
				(void)kill(pid, SIGKILL);
				kill_now = true;
				continue;
			}
			const struct timespec tick = {0, 10 * 1000 * 1000};
			(void)nanosleep(&tick, NULL);
		}
	}
}

/* Exec mode. */
static int call_exec(const struct ts_client_opts *opts, const struct ts_client_request *req,
                     const struct ts_conv *conv, int timeout_ms, struct ts_client_result *ret)
{
	int to_child[2] = {-1, -1}, from_child[2] = {-1, -1}, errpipe[2] = {-1, -1};
	struct sigaction dfl = {.sa_handler = SIG_DFL}, old_chld;
	struct ts_client_result res = {.expires = -1};
	bool restore_chld = false;
	pid_t pid = -1;
	int r, err = 0;
	ssize_t n;

	if (!opts->broker_path || !opts->broker_path[0])
		return -EINVAL;
	/* Never execute a program someone besides root could have replaced. */
	r = ts_path_check_safe(opts->broker_path, false, NULL, 0);
	if (r < 0)
		return r;
	if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(from_child, O_CLOEXEC) < 0 ||
	    pipe2(errpipe, O_CLOEXEC) < 0) {
		r = -errno;
		goto out;
	}
	/* As pam_unix does around unix_chkpwd: our child is ours to reap, not
	 * the host's SIGCHLD handler's. */
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGCHLD, &dfl, &old_chld) == 0)
		restore_chld = true;

	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0)
		run_child(opts, to_child[0], from_child[1], errpipe[1]);

	(void)close(TS_TAKE_FD(to_child[0]));
	(void)close(TS_TAKE_FD(from_child[1]));
	(void)close(TS_TAKE_FD(errpipe[1]));

	/* EOF: the execve worked; an int: why it did not. */
	do
		n = read(errpipe[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(err)) {
		r = err > 0 ? -err : -ENOEXEC;
		goto out;
	}

	struct conv_io io = {.in = from_child[0], .out = to_child[1], .timeout_ms = timeout_ms};
	r = converse(&io, req, conv, &res);
out:
	for (size_t i = 0; i < 2; i++) {
		if (to_child[i] >= 0)
			(void)close(to_child[i]);
		if (from_child[i] >= 0)
			(void)close(from_child[i]);
		if (errpipe[i] >= 0)
			(void)close(errpipe[i]);
	}
	if (pid > 0)
		reap(pid, r < 0);
	if (restore_chld)
		(void)sigaction(SIGCHLD, &old_chld, NULL);
	if (r < 0) {
		ts_client_result_clear(&res);
		return r;
	}
	*ret = res;
	return 0;
}

/* ---- daemon mode (the socket itself: ts_client_socket.c) ---------------- */

static int call_daemon(const struct ts_client_opts *opts, const struct ts_client_request *req,
                       const struct ts_conv *conv, int timeout_ms, struct ts_client_result *ret,
                       bool *dropped)
{
	struct ts_client_result res = {.expires = -1};
	struct conv_io io = {.in = -1, .timeout_ms = timeout_ms};
	int fd = -1, r;

	*dropped = true;
	r = ts_client_connect_daemon(opts->socket_path, &fd, opts->why, opts->whylen);
	if (r < 0)
		return r;
	/* root has exec mode to fall back on: a daemon that does not answer
	 * (overloaded, its slots taken, hung) must not hold root's login */
	io.first_deadline = opts->mode == TS_CLIENT_AUTO && geteuid() == 0;
	io.busy_ms = opts->root_busy_ms > 0 ? opts->root_busy_ms : TS_CLIENT_ROOT_BUSY_MS;
	io.in = io.out = fd;
	r = converse(&io, req, conv, &res);
	*dropped = io.dropped;
	(void)close(fd);
	if (r < 0) {
		if (io.unanswered && io.taken)
			ts_client_set_why(opts->why, opts->whylen,
			        "%s: the daemon read the request but sent nothing within %d ms",
			        opts->socket_path, io.busy_ms);
		else if (io.unanswered)
			ts_client_set_why(opts->why, opts->whylen,
			        "%s: the daemon did not take the request within %d ms",
			        opts->socket_path, TS_CLIENT_ROOT_FIRST_REPLY_MS);
		else if (*dropped)
			ts_client_set_why(opts->why, opts->whylen,
			        "%s: the daemon closed the connection before its result (%s)",
			        opts->socket_path, strerror(-r));
		ts_client_result_clear(&res);
		/* taken and dropped: the daemon stopped, restarted or was killed
		 * while it served the request (a root caller in AUTO mode goes to
		 * exec mode on *dropped alone) */
		return *dropped && !io.unanswered ? TS_E_SERVICE_LOST : r;
	}
	/* refused before it was read (the daemon's slots were taken): nothing
	 * ran, so root goes to exec mode; everyone else hears "busy" */
	if (res.code == TS_E_BUSY && io.first_deadline) {
		ts_client_set_why(opts->why, opts->whylen, "%s: the daemon refused: %s",
		                  opts->socket_path, res.message[0] ? res.message : "busy");
		ts_client_result_clear(&res);
		*dropped = true;
		return TS_E_BUSY;
	}
	res.via_daemon = true;
	*ret = res;
	return 0;
}

int ts_client_call(const struct ts_client_opts *opts, const struct ts_client_request *req,
                   const struct ts_conv *conv, struct ts_client_result *ret)
{
	int timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : TS_PROTO_TIMEOUT_MS;
	bool have_socket = opts->socket_path && opts->socket_path[0];
	bool dropped = false;
	int r;

	ts_client_set_why(opts->why, opts->whylen, "%s", "");
	if (!req->user || !req->user[0])
		return -EINVAL;
	switch (opts->mode) {
	case TS_CLIENT_EXEC_ONLY:
		return call_exec(opts, req, conv, timeout_ms, ret);
	case TS_CLIENT_SOCKET_ONLY:
		if (!have_socket) {
			ts_client_set_why(opts->why, opts->whylen, "no socket_path configured");
			return TS_E_NO_SERVICE;
		}
		r = call_daemon(opts, req, conv, timeout_ms, ret, &dropped);
		/* no daemon (TS_E_NO_SERVICE), or one that went away with the
		 * request (TS_E_SERVICE_LOST, from call_daemon) */
		return r < 0 && dropped && r != TS_E_SERVICE_LOST ? TS_E_NO_SERVICE : r;
	case TS_CLIENT_AUTO:
		break;
	default:
		return -EINVAL;
	}
	if (have_socket) {
		r = call_daemon(opts, req, conv, timeout_ms, ret, &dropped);
		if (r == 0 || !dropped)
			return r;
		/* no login fails because the daemon is down or died: exec mode */
	}
	return call_exec(opts, req, conv, timeout_ms, ret);
}

int ts_client_frame_timeout_ms(unsigned device_timeout)
{
	unsigned long long ms = ((unsigned long long)device_timeout + TS_CLIENT_FRAME_MARGIN_S) * 1000;

	if (ms < TS_PROTO_TIMEOUT_MS)
		return TS_PROTO_TIMEOUT_MS;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}
