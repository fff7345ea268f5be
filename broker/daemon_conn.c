/* SPDX-License-Identifier: MIT */
/*
 * The daemon's connections (daemon.c runs the loop that drives them): who
 * is admitted, the request-frame deadline, refusals, and the threads that
 * serve. No local user can delay or block anyone else's request:
 *
 *   - Admission, right after accept, from SO_PEERCRED: at most
 *     TS_DAEMON_MAX_CONNS connections at once; the last
 *     TS_DAEMON_ROOT_RESERVE of them only uid 0 may use; any other uid at
 *     most max_per_uid (--max-per-uid, default TS_DAEMON_MAX_PER_UID).
 *     Root has no per-uid limit: its connections are the host's own logins
 *     (sshd, su, sudo, login and cron all connect as euid 0).
 *   - Over a limit, the connection is answered at once with a RESULT
 *     (TS_E_BUSY: "too many requests from uid N at once (at most M);
 *     try again", or "the tokenseal service is busy ...") and closed. The
 *     daemon keeps accepting at the cap, so the listen queue drains and
 *     nobody waits there unanswered. A refused client that has not written
 *     its request yet keeps its answered connection (write side shut) up
 *     to TS_DAEMON_LINGER_MS, so its write cannot fail before it reads the
 *     refusal; at most TS_DAEMON_LINGER_MAX such (the oldest go first).
 *   - The request frame: an admitted connection waits, without a thread,
 *     watched by the main thread (epoll, edge-triggered: every arrival
 *     wakes it), until its whole request frame is queued (FIONREAD and a
 *     peek at the length prefix); at most TS_DAEMON_REQUEST_FRAME_MS from
 *     accept, however it dribbles, else a RESULT (TS_E_IPC) and closed.
 *   - Then a thread of its own serves it (ts_broker_serve_one, which finds
 *     the frame there), each later frame of the conversation within the
 *     protocol's timeout: a password prompt or a device login may wait
 *     minutes, holding its own uid's slot only; the whole request within
 *     TS_DAEMON_REQUEST_MAX_S (then its connection is shut down).
 *   - A slot is given up when its request is decided, just before its
 *     RESULT is written (serve.c calls answering()): the thread then only
 *     writes that one frame (at most 64 KiB, within the socket's send
 *     buffer) and closes up, counted apart (C.finishing) for admission,
 *     stop and idle exit. A caller that connects again as soon as it has
 *     its answer never finds its own last request still counted.
 *   So whatever local users do, the daemon has at most TS_DAEMON_MAX_CONNS
 *   serving threads and as many closing up, and 2 * TS_DAEMON_MAX_CONNS +
 *   TS_DAEMON_LINGER_MAX connection fds.
 *   - Refusals and late frames are logged rate-limited: one warning, then
 *     a count at most every REFUSAL_LOG_MS.
 */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon_internal.h"
#include "serve.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_proto.h"
#include "ts_time.h"

#define REFUSAL_LOG_MS 10000
#define QUIET_UIDS_MAX 8 /* uids named in the count of unlogged refusals */
#define TAG_SLOT (TS_DCONN_TAG_MIN)
#define TAG_LINGER (TS_DCONN_TAG_MIN << 1)
#define TAG_INDEX(t) ((size_t)((t)&0xffffffffu))

enum slot_state { SLOT_FREE, SLOT_WAITING, SLOT_SERVING };

struct slot {
	enum slot_state state;
	bool cut;
	int fd;
	uid_t uid;
	pid_t pid;
	int64_t start_ms;
};

struct refused {
	int fd; /* -1: free */
	int64_t until_ms;
};

static struct {
	const struct ts_serve_opts *serve;
	const pthread_attr_t *attr;
	unsigned max_per_uid;
	int ep, wake_fd;
	pthread_mutex_t lock; /* slots, used, finishing, last_activity_ms */
	struct slot slots[TS_DAEMON_MAX_CONNS];
	unsigned used;
	unsigned finishing; /* threads past their answer, closing up */
	int64_t last_activity_ms;
	/* the main thread's only */
	struct refused linger[TS_DAEMON_LINGER_MAX];
	int64_t log_next_ms;
	unsigned log_quiet;
	uid_t quiet_uids[QUIET_UIDS_MAX];
	size_t n_quiet_uids;
	bool quiet_uids_more;
} C = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void answering(int fd);

void ts_dconn_init(struct ts_serve_opts *serve, const pthread_attr_t *attr,
                   unsigned max_per_uid, int ep, int wake_fd)
{
	serve->answering = answering;
	C.serve = serve;
	C.attr = attr;
	C.max_per_uid = max_per_uid ? max_per_uid : TS_DAEMON_MAX_PER_UID;
	C.ep = ep;
	C.wake_fd = wake_fd;
	C.last_activity_ms = ts_monotonic_ms();
	for (size_t i = 0; i < TS_DAEMON_MAX_CONNS; i++)
		C.slots[i] = (struct slot){.state = SLOT_FREE, .fd = -1};
	for (size_t i = 0; i < TS_DAEMON_LINGER_MAX; i++)
		C.linger[i].fd = -1;
}

unsigned ts_dconn_inflight(void)
{
	unsigned n;

	pthread_mutex_lock(&C.lock);
	n = C.used + C.finishing;
	pthread_mutex_unlock(&C.lock);
	return n;
}

int64_t ts_dconn_last_activity(void)
{
	int64_t t;

	pthread_mutex_lock(&C.lock);
	t = C.last_activity_ms;
	pthread_mutex_unlock(&C.lock);
	return t;
}

/* ---- refusals ------------------------------------------------------------ */

/* One warning, then only a count per REFUSAL_LOG_MS, with the uids it
 * concerns: a flood of refused connections does not flood the journal. */
TS_PRINTF(2, 3)
static void log_refusal(uid_t uid, const char *fmt, ...)
{
	int64_t now = ts_monotonic_ms();
	va_list ap;

	if (now < C.log_next_ms) {
		size_t i;

		C.log_quiet++;
		for (i = 0; i < C.n_quiet_uids && C.quiet_uids[i] != uid; i++)
			;
		if (i == C.n_quiet_uids && i < QUIET_UIDS_MAX)
			C.quiet_uids[C.n_quiet_uids++] = uid;
		else if (i == C.n_quiet_uids)
			C.quiet_uids_more = true;
		return;
	}
	va_start(ap, fmt);
	ts_vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
	C.log_next_ms = now + REFUSAL_LOG_MS;
}

static void log_refusal_count(int64_t now)
{
	char uids[QUIET_UIDS_MAX * 12 + 8] = "";
	size_t len = 0;

	if (!C.log_quiet || now < C.log_next_ms)
		return;
	for (size_t i = 0; i < C.n_quiet_uids; i++) {
		int n = snprintf(uids + len, sizeof(uids) - len, "%s%u", i ? " " : "",
		                 (unsigned)C.quiet_uids[i]);

		if (n > 0 && (size_t)n < sizeof(uids) - len)
			len += (size_t)n;
	}
	ts_log(LOG_WARNING,
	       "%u more connection(s) refused or closed early in the last %d s, of uid %s%s",
	       C.log_quiet, REFUSAL_LOG_MS / 1000, uids, C.quiet_uids_more ? " and others" : "");
	C.log_quiet = 0;
	C.n_quiet_uids = 0;
	C.quiet_uids_more = false;
	C.log_next_ms = now + REFUSAL_LOG_MS;
}

/* A RESULT with code and message, sent without waiting (the socket's send
 * buffer is empty: it fits). */
static void send_refusal(int fd, int code, const char *message)
{
	struct ts_msg_builder b = {0};
	const uint8_t *frame;
	size_t len;

	ts_msg_begin(&b, TS_MSG_RESULT);
	ts_msg_add_int(&b, TS_F_CODE, code);
	ts_msg_add_int(&b, TS_F_STATE, TS_STATE_UNAVAILABLE);
	ts_msg_add_str(&b, TS_F_MESSAGE, message);
	if (ts_msg_finish(&b, &frame, &len) >= 0)
		(void)send(fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	ts_msg_builder_clear(&b);
}

/* Read and drop what the peer sent (at most a frame's worth). True when
 * there was something. Closing a Unix socket with unread data would make
 * the peer's read fail with ECONNRESET after our answer. */
static bool discard_input(int fd)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	while (total <= TS_PROTO_FRAME_MAX + 4 &&
	       (n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	return total > 0;
}

static void linger_close(size_t j)
{
	(void)epoll_ctl(C.ep, EPOLL_CTL_DEL, C.linger[j].fd, NULL);
	(void)discard_input(C.linger[j].fd);
	close(C.linger[j].fd);
	C.linger[j].fd = -1;
}

/* Answer fd with the refusal and close it; a client that has not written
 * its request yet gets TS_DAEMON_LINGER_MS to do so first. */
static void refuse(int fd, int code, const char *message)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET};
	size_t j, oldest = 0;
	bool wrote = discard_input(fd);

	send_refusal(fd, code, message);
	if (wrote) {
		close(fd);
		return;
	}
	(void)shutdown(fd, SHUT_WR);
	for (j = 0; j < TS_DAEMON_LINGER_MAX && C.linger[j].fd >= 0; j++)
		if (C.linger[j].until_ms < C.linger[oldest].until_ms)
			oldest = j;
	if (j == TS_DAEMON_LINGER_MAX) {
		linger_close(oldest);
		j = oldest;
	}
	ev.data.u64 = TAG_LINGER | j;
	if (epoll_ctl(C.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return;
	}
	C.linger[j] = (struct refused){fd, ts_monotonic_ms() + TS_DAEMON_LINGER_MS};
}

/* ---- serving ------------------------------------------------------------- */

static void wake_main(void)
{
	ssize_t n;

	do
		n = write(C.wake_fd, "x", 1);
	while (n < 0 && errno == EINTR);
}

/* Under the lock: the slot is free again (its fd is the caller's to close). */
static void release_slot(struct slot *s)
{
	*s = (struct slot){.state = SLOT_FREE, .fd = -1};
	C.used--;
	C.last_activity_ms = ts_monotonic_ms();
}

/* Under the lock: the slot is free again, its connection closed. */
static void release(struct slot *s)
{
	close(s->fd);
	release_slot(s);
}

/* Under the lock: the slot whose thread serves fd, or NULL once that
 * thread gave it up (a connection's fd is its own until it is closed, so
 * the slot cannot be another connection's). */
static struct slot *serving_slot(int fd)
{
	for (size_t i = 0; i < TS_DAEMON_MAX_CONNS; i++)
		if (C.slots[i].state == SLOT_SERVING && C.slots[i].fd == fd)
			return &C.slots[i];
	return NULL;
}

/* ts_serve_opts.answering: the request on fd is decided and its RESULT is
 * about to be written. The slot is given up now, not when the thread has
 * closed up: a caller that reads its answer and connects again at once (a
 * host's next login, the PAM module's next phase) must not find its own
 * last request still counted. The thread keeps only its fd and what it
 * frees; it is counted in C.finishing (admission bounds it; a stop and
 * the idle exit wait for it). */
static void answering(int fd)
{
	struct slot *s;

	pthread_mutex_lock(&C.lock);
	s = serving_slot(fd);
	if (s) {
		release_slot(s);
		C.finishing++;
	}
	pthread_mutex_unlock(&C.lock);
}

static void *conn_main(void *arg)
{
	struct slot *s = arg;
	const int fd = s->fd;
	const uid_t uid = s->uid;
	const pid_t pid = s->pid;
	int r = ts_broker_serve_one(C.serve, fd, fd, uid);

	if (r < 0)
		ts_log_debug("daemon: request of uid %u (pid %ld) not served: %s", (unsigned)uid,
		             (long)pid, ts_strerror(r));
	pthread_mutex_lock(&C.lock);
	s = serving_slot(fd);
	if (s)
		release_slot(s); /* no answer was written */
	else
		C.finishing--;
	C.last_activity_ms = ts_monotonic_ms();
	pthread_mutex_unlock(&C.lock);
	close(fd);
	wake_main();
	return NULL;
}

/* 1: the whole request frame is queued on fd (or its length prefix is
 * already wrong: the serving code answers that); 0: not yet; <0: error. */
static int frame_queued(int fd)
{
	uint8_t hdr[4];
	int avail = 0;
	uint32_t len;
	ssize_t n;

	if (ioctl(fd, FIONREAD, &avail) < 0)
		return -errno;
	if (avail < (int)sizeof(hdr))
		return 0;
	n = recv(fd, hdr, sizeof(hdr), MSG_PEEK | MSG_DONTWAIT);
	if (n != (ssize_t)sizeof(hdr))
		return n < 0 && errno != EAGAIN && errno != EINTR ? -errno : 0;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (len > TS_PROTO_FRAME_MAX || len < 2)
		return 1;
	return (uint64_t)avail >= (uint64_t)len + sizeof(hdr);
}

/* The waiting slot i has its frame: a thread serves it from here on. */
static void start_serving(size_t i)
{
	struct slot *s = &C.slots[i];
	pthread_t th;
	int r;

	(void)epoll_ctl(C.ep, EPOLL_CTL_DEL, s->fd, NULL);
	pthread_mutex_lock(&C.lock);
	s->state = SLOT_SERVING;
	pthread_mutex_unlock(&C.lock);
	r = pthread_create(&th, C.attr, conn_main, s);
	if (r != 0) {
		ts_log(LOG_WARNING, "cannot start a thread for uid %u (pid %ld): %s; closed",
		       (unsigned)s->uid, (long)s->pid, ts_strerror(-r));
		send_refusal(s->fd, TS_E_BUSY, "the tokenseal service is busy; try again");
		pthread_mutex_lock(&C.lock);
		release(s);
		pthread_mutex_unlock(&C.lock);
	}
}

/* The waiting slot i is given up (late, or its peer went away). */
static void drop_waiting(size_t i, bool late)
{
	struct slot *s = &C.slots[i];

	(void)epoll_ctl(C.ep, EPOLL_CTL_DEL, s->fd, NULL);
	if (late) {
		char msg[160];

		snprintf(msg, sizeof(msg),
		         "the request did not arrive in full within %d s of connecting; closed",
		         TS_DAEMON_REQUEST_FRAME_MS / 1000);
		(void)discard_input(s->fd);
		send_refusal(s->fd, TS_E_IPC, msg);
		log_refusal(s->uid,
		            "uid %u (pid %ld) did not send its whole request within %d s of "
		            "connecting; closed",
		            (unsigned)s->uid, (long)s->pid, TS_DAEMON_REQUEST_FRAME_MS / 1000);
	} else {
		(void)discard_input(s->fd);
		ts_log_debug("daemon: uid %u (pid %ld) left before its request arrived",
		             (unsigned)s->uid, (long)s->pid);
	}
	pthread_mutex_lock(&C.lock);
	release(s);
	pthread_mutex_unlock(&C.lock);
}

/* Is slot i waiting for its request frame (until *ret_until)? Only the
 * main thread makes a slot waiting or takes it out of that state; the lock
 * is for the workers that free the others. */
static bool slot_waiting(size_t i, int64_t *ret_until)
{
	bool w;

	pthread_mutex_lock(&C.lock);
	w = C.slots[i].state == SLOT_WAITING;
	if (w && ret_until)
		*ret_until = C.slots[i].start_ms + TS_DAEMON_REQUEST_FRAME_MS;
	pthread_mutex_unlock(&C.lock);
	return w;
}

/* ---- admission ----------------------------------------------------------- */

/* Under the lock: why uid may not have another slot (a message for the
 * client, into msg), or NULL with a free slot in *ret. */
static const char *admit(uid_t uid, char *msg, size_t len, struct slot **ret)
{
	unsigned mine = 0, others = 0;
	struct slot *free_slot = NULL;

	for (size_t i = 0; i < TS_DAEMON_MAX_CONNS; i++) {
		const struct slot *s = &C.slots[i];

		if (s->state == SLOT_FREE) {
			if (!free_slot)
				free_slot = &C.slots[i];
		} else if (s->uid == uid) {
			mine++;
		} else if (s->uid != 0) {
			others++;
		}
	}
	if (uid != 0 && mine >= C.max_per_uid) {
		snprintf(msg, len, "too many requests from uid %u at once (at most %u); try again",
		         (unsigned)uid, C.max_per_uid);
		return "per-uid";
	}
	if (!free_slot || C.finishing >= TS_DAEMON_MAX_CONNS ||
	    (uid != 0 && mine + others >= TS_DAEMON_MAX_CONNS - TS_DAEMON_ROOT_RESERVE)) {
		snprintf(msg, len, "the tokenseal service is busy (%u requests at once); try again",
		         C.used);
		return "busy";
	}
	*ret = free_slot;
	return NULL;
}

int ts_dconn_accept(int lfd)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET};
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct slot *s = NULL;
	const char *why;
	char msg[200];
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || clen != sizeof(cred)) {
		ts_log(LOG_WARNING, "a connection without peer credentials was closed: %s",
		       ts_strerror(-errno));
		close(fd);
		return 0;
	}
	pthread_mutex_lock(&C.lock);
	why = admit(cred.uid, msg, sizeof(msg), &s);
	if (!why) {
		*s = (struct slot){.state = SLOT_WAITING,
		                   .fd = fd,
		                   .uid = cred.uid,
		                   .pid = cred.pid,
		                   .start_ms = ts_monotonic_ms()};
		C.used++;
		C.last_activity_ms = s->start_ms;
	}
	pthread_mutex_unlock(&C.lock);
	if (why) {
		log_refusal(cred.uid, "refused a connection from uid %u (pid %ld): %s",
		            (unsigned)cred.uid, (long)cred.pid, msg);
		refuse(fd, TS_E_BUSY, msg);
		return 0;
	}
	ts_log_debug("daemon: connection from uid %u (pid %ld)", (unsigned)cred.uid,
	             (long)cred.pid);
	/* an edge for what is queued already, then one per arrival */
	ev.data.u64 = TAG_SLOT | (uint64_t)(s - C.slots);
	if (epoll_ctl(C.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ts_log(LOG_WARNING, "cannot watch the connection of uid %u (pid %ld): %s; closed",
		       (unsigned)cred.uid, (long)cred.pid, ts_strerror(-errno));
		pthread_mutex_lock(&C.lock);
		release(s);
		pthread_mutex_unlock(&C.lock);
	}
	return 0;
}

void ts_dconn_event(uint64_t tag, uint32_t events)
{
	size_t i = TAG_INDEX(tag);

	if ((tag & TAG_LINGER) && i < TS_DAEMON_LINGER_MAX) {
		/* the refused client wrote its request or left: it has its answer */
		if (C.linger[i].fd >= 0)
			linger_close(i);
		return;
	}
	if (!(tag & TAG_SLOT) || i >= TS_DAEMON_MAX_CONNS || !slot_waiting(i, NULL))
		return;
	switch (frame_queued(C.slots[i].fd)) {
	case 1:
		/* a client that left before we read its request (a root caller
		 * that went to exec mode: ts_client never half-closes) must not
		 * have it run a second time: a session count, a logout */
		if (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR))
			break;
		start_serving(i);
		return;
	case 0:
		if (!(events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
			return;
		break;
	default:
		break;
	}
	drop_waiting(i, false);
}

int64_t ts_dconn_sweep(void)
{
	int64_t now = ts_monotonic_ms(), next = -1;

	log_refusal_count(now);
	if (C.log_quiet)
		next = C.log_next_ms;
	for (size_t j = 0; j < TS_DAEMON_LINGER_MAX; j++) {
		if (C.linger[j].fd < 0)
			continue;
		if (now >= C.linger[j].until_ms)
			linger_close(j);
		else if (next < 0 || C.linger[j].until_ms < next)
			next = C.linger[j].until_ms;
	}
	for (size_t i = 0; i < TS_DAEMON_MAX_CONNS; i++) {
		int64_t until = 0;

		if (slot_waiting(i, &until) && now >= until)
			drop_waiting(i, true);
		else if (until && (next < 0 || until < next))
			next = until;
	}
	ts_dconn_cut((int64_t)TS_DAEMON_REQUEST_MAX_S * 1000);
	return next;
}

void ts_dconn_cut(int64_t max_ms)
{
	int64_t now = ts_monotonic_ms();

	pthread_mutex_lock(&C.lock);
	for (size_t i = 0; i < TS_DAEMON_MAX_CONNS; i++) {
		struct slot *s = &C.slots[i];

		if (s->state != SLOT_SERVING || s->cut || now - s->start_ms < max_ms)
			continue;
		if (max_ms > 0)
			ts_log(LOG_WARNING,
			       "the request of uid %u (pid %ld) ran for over %d s; its connection "
			       "was cut",
			       (unsigned)s->uid, (long)s->pid, TS_DAEMON_REQUEST_MAX_S);
		(void)shutdown(s->fd, SHUT_RDWR);
		s->cut = true;
	}
	pthread_mutex_unlock(&C.lock);
}

void ts_dconn_stop_accepting(void)
{
	for (size_t j = 0; j < TS_DAEMON_LINGER_MAX; j++)
		if (C.linger[j].fd >= 0)
			linger_close(j);
	for (size_t i = 0; i < TS_DAEMON_MAX_CONNS; i++)
		if (slot_waiting(i, NULL))
			drop_waiting(i, false);
}
