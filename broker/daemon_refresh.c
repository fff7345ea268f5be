/* SPDX-License-Identifier: MIT */
/*
 * Background refresh in the daemon (DESIGN.md §2, issue 19): one thread
 * that refreshes, ahead of their refresh window, the records of users with
 * an open session, so that no use waits for a refresh on its hot path.
 *
 *   - The schedule is derived from the records, never kept anywhere else:
 *     at start every users/<uid>.seal of the keystore is read once (only
 *     its expiry, window, session count and hold are kept: background.h),
 *     and whenever a record is rewritten (inotify on users/: a sign-in, a
 *     session opened or closed, a refresh by exec mode or by a use), that
 *     record is read again. A restart loses nothing.
 *   - Each refresh is due ahead of the window by a margin and a random
 *     jitter (ts_bg_due_ms); an overdue one (a restart, a resume, a clock
 *     jump) is spread over up to TS_BG_SPREAD_MS. One refresh at a time.
 *   - Same rules as a refresh on use: ts_bg_refresh_if_due re-reads the
 *     record and refreshes through the engine's single flight under the
 *     user's lock, so exec mode and the daemon cooperate through the lock.
 *   - The server unavailable (5xx, 429, a timeout): every background
 *     refresh to that issuer pauses (ts_bg_backoff_ms, at least its
 *     Retry-After).
 *   - While any open session has a refresh scheduled, the daemon does not
 *     idle-exit (ts_dbg_busy); with every session closed nothing is
 *     refreshed here and --idle-exit applies as before.
 *   - background_refresh = no in the daemon's configuration: off.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "background.h"
#include "daemon_internal.h"
#include "discovery_cache.h"
#include "ks.h"
#include "lifecycle.h"
#include "serve_config.h"
#include "ts_config.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"

/* The configuration is read again, and the keystore listed again (records
 * exec mode wrote while inotify was unavailable), this often. */
#define RESCAN_MS 60000
#define MAX_ENTRIES 100000

struct entry {
	uid_t uid;
	char user[KS_USER_MAX + 1];
	struct ts_bg_view v;
	uint32_t rnd;	   /* this token's jitter, drawn when its window moves */
	int64_t due_ms;	   /* local wall-clock ms; meaningful when v.scheduled */
	bool seen;	   /* in the last listing */
};

static struct {
	const char *config_path;
	pthread_t thread;
	bool started;
	int stop[2];
	atomic_uint scheduled; /* entries with a refresh scheduled (ts_dbg_busy) */
	/* the thread's own state */
	struct ts_config *cfg;
	struct ks *ks;
	int ino, wd;
	char users_dir[TS_PATH_MAX + 8];
	struct entry *e;
	size_t n, cap;
	/* the per-issuer pause: one issuer per configuration */
	char paused_issuer[TS_URL_MAX];
	int64_t paused_until;
	unsigned failures;
	bool off_said, watch_said;
	bool no_keystore; /* setup stopped at a keystore that is not there yet */
} bg = {.stop = {-1, -1}, .ino = -1, .wd = -1};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "<uid>.seal" exactly. */
static bool seal_name(const char *name, uid_t *ret)
{
	const char *dot = strchr(name, '.');
	uint64_t v = 0;

	if (!dot || dot == name || strcmp(dot, ".seal") != 0 || dot - name > 10 ||
	    (dot - name > 1 && name[0] == '0'))
		return false;
	for (const char *p = name; p < dot; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX - 1)
		return false;
	*ret = (uid_t)v;
	return true;
}

static struct entry *find(uid_t uid)
{
	for (size_t i = 0; i < bg.n; i++)
		if (bg.e[i].uid == uid)
			return &bg.e[i];
	return NULL;
}

static void drop(struct entry *x)
{
	*x = bg.e[--bg.n];
}

static void count_scheduled(void)
{
	unsigned n = 0;

	for (size_t i = 0; i < bg.n; i++)
		n += bg.e[i].v.scheduled;
	atomic_store(&bg.scheduled, n);
}

static void request_for(const struct entry *x, struct ts_request *req, char *user_log,
                        size_t len)
{
	ts_sanitize_text(user_log, len, x->user, strlen(x->user));
	memset(req, 0, sizeof(*req));
	req->type = TS_MSG_REFRESH;
	req->user = x->user;
	req->user_log = user_log;
	req->uid = x->uid;
	req->service = "background-refresh";
	req->flags = TS_FLAG_NONINTERACTIVE;
}

/* Read uid's record again and schedule it (or not). */
static void look_at(uid_t uid)
{
	struct ts_engine eng = {.cfg = bg.cfg, .ks = bg.ks};
	struct ks_header_info h;
	struct ts_request req;
	char user_log[TS_NAME_MAX];
	struct entry *x = find(uid);
	int64_t old_open;
	int r;

	if (!ts_config_uid_served(bg.cfg, uid) || ks_read_header(bg.ks, uid, &h) < 0 ||
	    strcmp(h.issuer, bg.cfg->issuer) != 0 || strcmp(h.client_id, bg.cfg->client_id) != 0) {
		/* gone, outside min_uid..max_uid, or signed in elsewhere: uses
		 * deal with it */
		if (x)
			drop(x);
		return;
	}
	if (!x) {
		if (bg.n >= MAX_ENTRIES)
			return;
		if (bg.n == bg.cap) {
			size_t cap = bg.cap ? bg.cap * 2 : 64;
			struct entry *ne = realloc(bg.e, cap * sizeof(*ne));

			if (!ne)
				return;
			bg.e = ne;
			bg.cap = cap;
		}
		x = &bg.e[bg.n++];
		memset(x, 0, sizeof(*x));
		x->uid = uid;
	}
	x->seen = true;
	if (ts_strlcpy(x->user, h.user, sizeof(x->user)) < 0) {
		drop(x);
		return;
	}
	old_open = x->v.open_ms;
	request_for(x, &req, user_log, sizeof(user_log));
	r = ts_bg_view_record(&eng, &req, &x->v);
	if (r < 0) {
		ts_log_debug("background refresh: %s: record not read: %s", user_log,
		             ts_strerror(r));
		drop(x);
		return;
	}
	if (x->v.open_ms != old_open)
		x->rnd = randombytes_random();
	if (x->v.scheduled) {
		x->due_ms = ts_bg_due_ms(&x->v, wall_ms(), x->rnd);
		ts_log_debug("background refresh: %s: next refresh in %lld ms (%d session(s))",
		             user_log, (long long)(x->due_ms - wall_ms()), x->v.sessions);
	}
}

/* List users/ and look at every record (a record gone is dropped). */
static void rescan(void)
{
	uid_t *uids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(bg.users_dir);

	for (size_t i = 0; i < bg.n; i++)
		bg.e[i].seen = false;
	if (d) {
		while ((de = readdir(d)) != NULL) {
			uid_t uid;

			if (!seal_name(de->d_name, &uid) || n >= MAX_ENTRIES)
				continue;
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				uid_t *nu = realloc(uids, ncap * sizeof(*nu));

				if (!nu)
					break;
				uids = nu;
				cap = ncap;
			}
			uids[n++] = uid;
		}
		closedir(d);
	}
	for (size_t i = 0; i < n; i++)
		look_at(uids[i]);
	free(uids);
	for (size_t i = bg.n; i-- > 0;)
		if (!bg.e[i].seen)
			drop(&bg.e[i]);
	count_scheduled();
}

/* The configuration, the keystore and the watch, again. false when the
 * configuration cannot be used or turns background refresh off. */
static bool setup(void)
{
	struct ts_cfg_status *st = calloc(1, sizeof(*st));
	struct ks_open_opts kopts = {.lock_timeout_ms = 0};
	bool ok = false;
	int r;

	if (!st)
		return false;
	bg.no_keystore = false;
	if (ts_serve_config_load(bg.config_path, NULL, bg.cfg, st) < 0) {
		ts_log_debug("background refresh: the configuration cannot be used");
		goto out;
	}
	if (!bg.cfg->background_refresh) {
		if (!bg.off_said)
			ts_log(LOG_INFO, "background refresh is off (background_refresh = no)");
		bg.off_said = true;
		goto out;
	}
	bg.off_said = false;
	if (!bg.ks) {
		r = ks_open(&bg.ks, bg.cfg->keystore_dir, bg.cfg->key_file, &kopts);
		if (r < 0) {
			ts_log_debug("background refresh: keystore %s not open: %s",
			             bg.cfg->keystore_dir, ts_strerror(r));
			bg.no_keystore = true;
			goto out;
		}
	}
	snprintf(bg.users_dir, sizeof(bg.users_dir), "%s/users", bg.cfg->keystore_dir);
	if (bg.ino >= 0 && bg.wd < 0) {
		bg.wd = inotify_add_watch(bg.ino, bg.users_dir,
		                          IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM |
		                              IN_DELETE_SELF | IN_MOVE_SELF);
		if (bg.wd < 0 && !bg.watch_said)
			ts_log(LOG_WARNING,
			       "background refresh: cannot watch %s (%s); looking every %d s",
			       bg.users_dir, ts_strerror(-errno), RESCAN_MS / 1000);
		bg.watch_said = bg.wd < 0;
	}
	ok = true;
out:
	free(st);
	return ok;
}

static void teardown(void)
{
	if (bg.wd >= 0 && bg.ino >= 0)
		(void)inotify_rm_watch(bg.ino, bg.wd);
	bg.wd = -1;
	bg.ks = ks_close(bg.ks);
	bg.n = 0;
	count_scheduled();
}

/* The records named in the inotify events. */
static void read_events(void)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;

	while ((len = read(bg.ino, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			uid_t uid;

			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW)) {
				/* the folder went or events were lost: list it again */
				if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
					bg.wd = -1;
				rescan();
			} else if (ev->len && seal_name(ev->name, &uid)) {
				look_at(uid);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	count_scheduled();
}

/* Unavailable (5xx, 429, a timeout): pause the issuer. */
static void pause_issuer(const struct oauth_error *err)
{
	int64_t ms;

	bg.failures = bg.failures < 32 ? bg.failures + 1 : 32;
	ms = ts_bg_backoff_ms(bg.failures, err->retry_after, randombytes_random());
	if (ts_strlcpy(bg.paused_issuer, bg.cfg->issuer, sizeof(bg.paused_issuer)) < 0)
		bg.paused_issuer[0] = '\0'; /* cannot happen: the same size */
	bg.paused_until = wall_ms() + ms;
	ts_log(LOG_WARNING,
	       "background refresh: %s is unavailable (%s); pausing background refreshes to it "
	       "for %lld s",
	       bg.cfg->issuer, err->message[0] ? err->message : "no answer",
	       (long long)((ms + 999) / 1000));
}

static void refresh_one(struct entry *x)
{
	struct ts_engine eng = {.cfg = bg.cfg, .ks = bg.ks};
	struct ts_outcome out = {.expires = -1};
	struct oauth_error err = {0}, oerr = {0};
	struct oauth_client *oc = NULL;
	struct ts_request req;
	char user_log[TS_NAME_MAX], msg[TS_MESSAGE_MAX];
	uid_t uid = x->uid;
	bool done = false;
	int r;

	request_for(x, &req, user_log, sizeof(user_log));
	r = oauth_client_new(&oc, bg.cfg, &oerr);
	if (r < 0) {
		ts_log(LOG_ERR, "background refresh for %s: cannot set up the OAuth client: %s",
		       user_log, oerr.message[0] ? oerr.message : ts_strerror(r));
		x->due_ms = wall_ms() + RESCAN_MS;
		return;
	}
	(void)ts_discovery_cache_load(bg.cfg, oc, time(NULL));
	eng.oauth = oc;
	r = ts_bg_refresh_if_due(&eng, &req,
	                         ts_bg_margin_ms(x->v.lifetime, x->v.window) +
	                             ts_bg_jitter_ms(x->v.lifetime, x->v.window) + 1000,
	                         &done, &out, &err);
	ts_discovery_cache_update(
	    bg.cfg, oc, ts_discovery_cache_suspect(out.code, out.state == TS_STATE_UNAVAILABLE));
	oauth_client_free(oc);
	ts_sanitize_text(msg, sizeof(msg), out.message, strlen(out.message));
	if (done) {
		bg.failures = 0;
		ts_log(out.code == 0 ? LOG_INFO : LOG_WARNING, "background refresh for %s: %s",
		       user_log, msg);
	} else if (r == TS_E_UNAVAILABLE) {
		ts_log(LOG_NOTICE, "background refresh for %s: %s", user_log, msg);
		pause_issuer(&err);
	} else if (r < 0) {
		ts_log(r == TS_E_SERVER_CONFIG ? LOG_ERR : LOG_NOTICE,
		       "background refresh for %s: %s [%s]", user_log, msg, ts_strerror(r));
	} else {
		ts_log_debug("background refresh for %s: %s", user_log, msg);
	}
	if (out.answer_warnings[0]) {
		ts_sanitize_text(msg, sizeof(msg), out.answer_warnings,
		                 strlen(out.answer_warnings));
		ts_log(LOG_WARNING, "background refresh for %s: the server's token answer was "
		                    "used, but: %s",
		       user_log, msg);
	}
	ts_outcome_clear(&out);
	/* the record as it is now (the watch will say so too) */
	look_at(uid);
	x = find(uid);
	if (x && x->v.scheduled && x->due_ms <= wall_ms() && !done && r != TS_E_UNAVAILABLE)
		/* not done and still due: not again at once */
		x->due_ms = wall_ms() + RESCAN_MS;
	count_scheduled();
}

/* The next due entry's time (INT64_MAX: none). */
static int64_t next_due(void)
{
	int64_t t = INT64_MAX;

	for (size_t i = 0; i < bg.n; i++)
		if (bg.e[i].v.scheduled && bg.e[i].due_ms < t)
			t = bg.e[i].due_ms;
	return t;
}

static void run_due(void)
{
	int64_t now = wall_ms();

	for (size_t i = 0; i < bg.n; i++) {
		struct entry *x = &bg.e[i];

		if (!x->v.scheduled || x->due_ms > now)
			continue;
		if (bg.paused_until > now && strcmp(bg.paused_issuer, bg.cfg->issuer) == 0) {
			x->due_ms = bg.paused_until +
			            (int64_t)(randombytes_random() % TS_BG_SPREAD_MS);
			continue;
		}
		refresh_one(x);
		/* the table may have moved: start again from the top */
		now = wall_ms();
		i = (size_t)-1;
	}
}

static void *bg_main(void *arg)
{
	int64_t next_rescan = 0;
	bool ready = false, told = false;

	(void)arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = bg.stop[0], .events = POLLIN},
		                      {.fd = bg.ino, .events = POLLIN}};
		int64_t now = wall_ms(), wait, due;

		if (now >= next_rescan || now < next_rescan - RESCAN_MS) {
			/* the clock went back: list again as well */
			ready = setup();
			if (ready)
				rescan();
			else
				teardown();
			next_rescan = now + RESCAN_MS;
			if (ready && !told) {
				ts_log(LOG_INFO,
				       "background refresh: %u open session(s) scheduled from %s",
				       atomic_load(&bg.scheduled), bg.users_dir);
				told = true;
			}
		}
		if (ready)
			run_due();
		now = wall_ms();
		due = ready ? next_due() : INT64_MAX;
		wait = next_rescan - now;
		if (due != INT64_MAX && due - now < wait)
			wait = due - now;
		if (wait < 0)
			wait = 0;
		if (poll(p, ready && bg.wd >= 0 ? 2 : 1, (int)(wait > INT_MAX ? INT_MAX : wait)) <
		    0 && errno != EINTR)
			break;
		if (p[0].revents) {
			char c[64];
			ssize_t k;
			bool stop = false;

			while ((k = read(bg.stop[0], c, sizeof(c))) > 0)
				stop = stop || memchr(c, 'x', (size_t)k) != NULL;
			if (stop || k == 0)
				break;
			/* a request was served: a keystore that did not exist
			 * may now (the first sign-in creates it) */
			if (!ready && bg.no_keystore)
				next_rescan = 0;
		}
		if (ready && bg.wd >= 0 && (p[1].revents & POLLIN))
			read_events();
	}
	teardown();
	return NULL;
}

int ts_dbg_start(const char *config_path)
{
	int r;

	bg.config_path = config_path;
	bg.cfg = calloc(1, sizeof(*bg.cfg));
	if (!bg.cfg)
		return -ENOMEM;
	if (pipe2(bg.stop, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	bg.ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (bg.ino < 0)
		ts_log(LOG_WARNING, "background refresh: inotify unavailable (%s); looking every %d s",
		       ts_strerror(-errno), RESCAN_MS / 1000);
	r = pthread_create(&bg.thread, NULL, bg_main, NULL);
	if (r != 0)
		return -r;
	bg.started = true;
	return 0;
}

void ts_dbg_poke(void)
{
	if (bg.started && bg.stop[1] >= 0 && write(bg.stop[1], "p", 1) < 0)
		return; /* full: a poke is pending anyway */
}

bool ts_dbg_busy(void)
{
	return atomic_load(&bg.scheduled) > 0;
}

void ts_dbg_stop(int64_t grace_ms)
{
	struct timespec ts;

	if (!bg.started)
		return;
	if (write(bg.stop[1], "x", 1) < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(grace_ms / 1000);
	/* a refresh in flight may finish; else the process leaves without it
	 * (stores are atomic, the lock is a flock the kernel drops) */
	if (pthread_timedjoin_np(bg.thread, NULL, &ts) == 0)
		bg.started = false;
}
