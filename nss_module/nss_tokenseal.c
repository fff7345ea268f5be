/* SPDX-License-Identifier: MIT */
/*
 * libnss_tokenseal.so.2: passwd and group lookups from the user cache the
 * broker writes (common/ts_nsscache.h). Never the network, never the config.
 *
 * glibc's contract: every string is copied into the caller's buffer; a buffer
 * too small is *errnop = ERANGE with NSS_STATUS_TRYAGAIN; errno is preserved
 * otherwise; safe under threads. An invalid name, a missing or damaged cache
 * and the recursion guard (_TOKENSEAL_NSS_LOOP set, or this thread inside
 * its own check) are NOTFOUND; a damaged cache is logged once per file
 * version.
 *
 * Names are hostile input (docs/nss.md): a name on the reserved lists is
 * never answered, and every lookup by name or id checks the name it would
 * answer against the other NSS sources (the process's own getpwnam_r and
 * getgrnam_r, this module kept out by a thread-local guard): a name another
 * source knows as a user or a group is NOTFOUND here. A name
 * nss_resolve_unknown matches is checked that way at every lookup, and its
 * uid too (getpwuid_r, getgrgid_r, /etc/subuid, /etc/subgid). Enumeration
 * checks the reserved lists only.
 *
 * The only static state is `nss_state`, under its mutex: the current mapping
 * of the cache (re-opened only when its dev, inode, mtime or size changed) and
 * the two enumeration cursors, each holding a reference to the mapping it
 * started on, so a rewrite in the middle of an enumeration is not seen.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "ts_error.h"
#include "ts_file.h"
#include "nss_check.h"
#include "nss_internal.h"
#include "ts_nsscache.h"


struct nss_state_s nss_state = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* A fork while another thread holds the lock must not leave the child with a
 * lock nobody will release. */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&nss_state.lock);
}

static void atfork_release(void)
{
	pthread_mutex_unlock(&nss_state.lock);
}

__attribute__((constructor)) static void nss_tokenseal_init(void)
{
	(void)pthread_atfork(atfork_prepare, atfork_release, atfork_release);
}

static void map_unref(struct map *m)
{
	if (!m || --m->refs > 0)
		return;
	if (m->mem)
		munmap(m->mem, m->len);
	if (m->have_regex)
		regfree(&m->regex);
	free(m);
}

/* The cache path, and whether it is the override (tests, benchmarks). */
static const char *cache_path(bool *ret_override)
{
	const char *p = secure_getenv(TS_NSSCACHE_ENV);
	bool o = p && p[0] == '/';

	if (ret_override)
		*ret_override = o;
	return o ? p : TS_NSSCACHE_PATH;
}

static bool same_file(const struct map *m, const struct stat *st)
{
	return m->dev == st->st_dev && m->ino == st->st_ino && m->size == st->st_size &&
	       m->mtime.tv_sec == st->st_mtim.tv_sec && m->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static const char *why(int err)
{
	switch (err) {
	case TS_E_CORRUPT:
		return "damaged";
	case TS_E_TOO_BIG:
		return "over 64 MiB";
	case TS_E_BAD_OWNER:
		return "wrong owner";
	case TS_E_BAD_MODE:
		return "group or world writable";
	case TS_E_NOT_REGULAR:
		return "not a regular file";
	default:
		return "cannot be mapped";
	}
}

static void log_damaged(struct map *m, const char *path, int err)
{
	if (m->logged)
		return;
	m->logged = true;
	syslog(LOG_ERR, "nss_tokenseal: user cache %s unusable (%s), answering NOTFOUND", path,
	       why(err));
}

/* Map the file at path (signals blocked: nothing half-done is interrupted). */
static struct map *map_open(const char *path, bool override)
{
	struct ts_file_policy pol = ts_file_policy_public(TS_NSSCACHE_MAX_SIZE);
	struct map *m = calloc(1, sizeof(*m));
	sigset_t all, old;
	struct stat st;
	int fd = -1, r;

	if (!m)
		return NULL;
	m->refs = 1;
	/* the real cache must be root's; an override may also be the caller's */
	if (!override)
		pol.owners[0] = 0, pol.owners[1] = TS_OWNER_ANY, pol.owners[2] = TS_OWNER_ANY;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = ts_open_checked(path, O_RDONLY, &pol, &fd, &st);
	if (r == TS_E_TOO_BIG || r == TS_E_BAD_OWNER || r == TS_E_BAD_MODE ||
	    r == TS_E_NOT_REGULAR) {
		/* remember which file this was, so it is logged once */
		if (lstat(path, &st) == 0) {
			m->dev = st.st_dev, m->ino = st.st_ino, m->size = st.st_size;
			m->mtime = st.st_mtim;
		}
		log_damaged(m, path, r);
		goto out;
	}
	if (r < 0) {
		free(m);
		m = NULL;
		goto out;
	}
	m->dev = st.st_dev, m->ino = st.st_ino, m->size = st.st_size, m->mtime = st.st_mtim;
	if (st.st_size <= 0) {
		log_damaged(m, path, TS_E_CORRUPT);
		goto out;
	}
	m->len = (size_t)st.st_size;
	m->mem = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m->mem == MAP_FAILED) {
		m->mem = NULL;
		log_damaged(m, path, -errno);
		goto out;
	}
	r = ts_nsscache_view_open(&m->view, m->mem, m->len);
	if (r < 0) {
		log_damaged(m, path, r);
		goto out;
	}
	if (m->view.resolve_unknown[0]) {
		r = ts_nsscache_regex_compile(&m->regex, m->view.resolve_unknown);
		if (r < 0) {
			log_damaged(m, path, TS_E_CORRUPT);
			goto out;
		}
		m->have_regex = true;
	}
	m->ok = true;
out:
	if (fd >= 0)
		close(fd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return m;
}

/* The current mapping (no new reference), or NULL. Under the lock. */
struct map *nss_current(void)
{
	bool override;
	const char *path = cache_path(&override);
	struct stat st;

	/* lstat: a symlink in its place is a different file (and refused) */
	if (lstat(path, &st) < 0) {
		map_unref(nss_state.cur);
		nss_state.cur = NULL;
		return NULL;
	}
	if (nss_state.cur && same_file(nss_state.cur, &st))
		return nss_state.cur->ok ? nss_state.cur : NULL;
	map_unref(nss_state.cur);
	nss_state.cur = map_open(path, override);
	return nss_state.cur && nss_state.cur->ok ? nss_state.cur : NULL;
}

/* The broker's recursion guard, or this thread inside its own check.
 * secure_getenv: in a setuid or setgid program (AT_SECURE) the caller's
 * environment cannot hide this module's users and groups from it (a
 * sudoers rule naming a tokenseal group, a deny list). The broker itself
 * never runs with AT_SECURE: the PAM module execs it with every id root
 * (ts_client.c), the daemon runs as root. */
bool nss_guard_set(void)
{
	return nss_in_check > 0 || secure_getenv(TS_NSS_LOOP_ENV) != NULL;
}

/* The checks made after the lock is released (the other sources may be
 * slow or call back into libc): an answer in the caller's buffer is kept
 * only when its name (and, for nss_resolve_unknown, its uid) is nobody
 * else's. */
enum nss_status nss_vet(enum nss_status st, const char *name, bool check_uid, uint32_t uid)
{
	if (st != NSS_STATUS_SUCCESS)
		return st;
	if (nss_name_elsewhere(name) || (check_uid && nss_uid_elsewhere(uid)))
		return NSS_STATUS_NOTFOUND;
	return st;
}

/* The reserved lists (built-in and the file's nss_reserved_names). */
bool nss_reserved(const struct map *m, const char *name)
{
	return ts_nsscache_name_reserved(name, m->view.reserved_names);
}

/* ---- copying into the caller's buffer ---- */

char *nss_put(struct out *o, const char *s, size_t n)
{
	char *p = o->buf;

	memcpy(p, s, n);
	p[n] = '\0';
	o->buf += n + 1;
	o->left -= n + 1;
	return p;
}

struct pwvals {
	const char *name, *gecos, *home, *shell;
	size_t name_len, gecos_len, home_len, shell_len;
	uint32_t uid, gid;
};

static enum nss_status fill_pw(struct passwd *pw, char *buf, size_t buflen, int *errnop,
                               const struct pwvals *v)
{
	struct out o = {buf, buflen};
	size_t need = v->name_len + v->gecos_len + v->home_len + v->shell_len + 4 + 2;

	if (buflen < need) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	pw->pw_name = nss_put(&o, v->name, v->name_len);
	pw->pw_passwd = nss_put(&o, "*", 1);
	pw->pw_uid = (uid_t)v->uid;
	pw->pw_gid = (gid_t)v->gid;
	pw->pw_gecos = nss_put(&o, v->gecos, v->gecos_len);
	pw->pw_dir = nss_put(&o, v->home, v->home_len);
	pw->pw_shell = nss_put(&o, v->shell, v->shell_len);
	return NSS_STATUS_SUCCESS;
}

static enum nss_status fill_pw_entry(struct passwd *pw, char *buf, size_t buflen, int *errnop,
                                     const struct ts_nsscache_entry *e)
{
	struct pwvals v = {e->name,      e->gecos,    e->home,      e->shell, e->name_len,
	                   e->gecos_len, e->home_len, e->shell_len, e->uid,   e->gid};

	return fill_pw(pw, buf, buflen, errnop, &v);
}

/* A name the cache does not hold but nss_resolve_unknown matches: the uid
 * its first login will keep (ts_nsscache_view_unknown_uid). */
static enum nss_status resolve_unknown(const struct map *m, const char *name, struct passwd *pw,
                                       char *buf, size_t buflen, int *errnop)
{
	char home[TS_NSSCACHE_PATH_MAX + 1];
	struct pwvals v = {0};
	uint32_t uid;

	if (!m->have_regex || regexec(&m->regex, name, 0, NULL, 0) != 0)
		return NSS_STATUS_NOTFOUND;
	if (ts_nsscache_view_unknown_uid(&m->view, name, &uid) < 0 ||
	    ts_nsscache_expand_home(home, sizeof(home), m->view.home_template, name, uid) < 0)
		return NSS_STATUS_NOTFOUND;
	v.name = name, v.name_len = strlen(name);
	v.gecos = "", v.gecos_len = 0;
	v.home = home, v.home_len = strlen(home);
	v.shell = m->view.shell, v.shell_len = strlen(m->view.shell);
	v.uid = uid;
	v.gid = m->view.gid ? m->view.gid : uid;
	return fill_pw(pw, buf, buflen, errnop, &v);
}

/* errno back to what it was, unless the result says ERANGE */
enum nss_status nss_finish(enum nss_status st, int saved, int *errnop)
{
	errno = saved;
	if (st == NSS_STATUS_TRYAGAIN)
		*errnop = ERANGE; /* the only TRYAGAIN: a buffer too small */
	return st;
}

void nss_log_entry_damage(struct map *m, int r)
{
	if (r == TS_E_CORRUPT)
		log_damaged(m, cache_path(NULL), r);
}

/* ---- passwd ---- */

NSS_FN(getpwnam_r)(const char *name, struct passwd *pw, char *buf, size_t buflen, int *errnop);
NSS_FN(getpwnam_r)(const char *name, struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
	int saved = errno;
	enum nss_status st = NSS_STATUS_NOTFOUND;
	struct ts_nsscache_entry e;
	bool unknown = false;
	struct map *m;
	int r;

	if (nss_guard_set() || !name || !ts_nsscache_name_valid(name))
		return nss_finish(st, saved, errnop);
	pthread_mutex_lock(&nss_state.lock);
	m = nss_current();
	if (m && !nss_reserved(m, name)) {
		r = ts_nsscache_view_by_name(&m->view, name, &e);
		if (r == 0 && e.state == TS_NSSCACHE_MEMBER) {
			/* a local account's groups only: never a passwd answer */
		} else if (r == 0) {
			st = fill_pw_entry(pw, buf, buflen, errnop, &e);
		} else if (r == -ENOENT) {
			st = resolve_unknown(m, name, pw, buf, buflen, errnop);
			unknown = true;
		} else {
			nss_log_entry_damage(m, r);
		}
	}
	pthread_mutex_unlock(&nss_state.lock);
	st = nss_vet(st, name, unknown, st == NSS_STATUS_SUCCESS ? (uint32_t)pw->pw_uid : 0);
	return nss_finish(st, saved, errnop);
}

NSS_FN(getpwuid_r)(uid_t uid, struct passwd *pw, char *buf, size_t buflen, int *errnop);
NSS_FN(getpwuid_r)(uid_t uid, struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
	int saved = errno;
	enum nss_status st = NSS_STATUS_NOTFOUND;
	struct ts_nsscache_entry e;
	struct map *m;
	int r;

	if (nss_guard_set())
		return nss_finish(st, saved, errnop);
	pthread_mutex_lock(&nss_state.lock);
	m = nss_current();
	if (m) {
		r = ts_nsscache_view_by_uid(&m->view, (uint32_t)uid, &e);
		if (r == 0 && e.state == TS_NSSCACHE_ACTIVE && !nss_reserved(m, e.name))
			st = fill_pw_entry(pw, buf, buflen, errnop, &e);
		else if (r < 0)
			nss_log_entry_damage(m, r);
	}
	pthread_mutex_unlock(&nss_state.lock);
	st = nss_vet(st, st == NSS_STATUS_SUCCESS ? pw->pw_name : "", false, 0);
	return nss_finish(st, saved, errnop);
}

/* ---- enumeration ---- */

void nss_cursor_start(struct cursor *c)
{
	struct map *m;

	map_unref(c->map);
	c->map = NULL;
	c->pos = 0;
	m = nss_current();
	if (m) {
		m->refs++;
		c->map = m;
	}
}

void nss_cursor_end(struct cursor *c)
{
	map_unref(c->map);
	c->map = NULL;
	c->pos = 0;
}

/* The next active entry, not advancing past it (the caller does once it
 * has been copied): 0, -ENOENT at the end. */
int nss_cursor_peek(struct cursor *c, bool groups, struct ts_nsscache_entry *ret)
{
	if (!c->map && c->pos == 0) /* getent without setent: start here */
		nss_cursor_start(c);
	if (!c->map || (groups && c->map->view.gid != 0))
		return -ENOENT;
	for (; c->pos < c->map->view.n_entries; c->pos++) {
		int r = ts_nsscache_view_at(&c->map->view, c->pos, ret);
		if (r < 0) {
			nss_log_entry_damage(c->map, r);
			return -ENOENT;
		}
		if (ret->state == TS_NSSCACHE_ACTIVE && !nss_reserved(c->map, ret->name) &&
		    (!groups || (ret->flags & TS_NSSCACHE_F_GROUP)))
			return 0;
	}
	return -ENOENT;
}

/* set*ent (start again; refused under the recursion guard) and end*ent
 * (drop the snapshot), for either cursor; errno preserved. */
enum nss_status nss_ent_reset(struct cursor *c, bool start)
{
	int saved = errno;

	if (start && nss_guard_set())
		return NSS_STATUS_SUCCESS;
	pthread_mutex_lock(&nss_state.lock);
	if (start)
		nss_cursor_start(c);
	else
		nss_cursor_end(c);
	pthread_mutex_unlock(&nss_state.lock);
	errno = saved;
	return NSS_STATUS_SUCCESS;
}

NSS_FN(setpwent)(int stayopen);
NSS_FN(setpwent)(int stayopen)
{
	(void)stayopen;
	return nss_ent_reset(&nss_state.pw, true);
}

NSS_FN(endpwent)(void);
NSS_FN(endpwent)(void)
{
	return nss_ent_reset(&nss_state.pw, false);
}

NSS_FN(getpwent_r)(struct passwd *pw, char *buf, size_t buflen, int *errnop);
NSS_FN(getpwent_r)(struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
	int saved = errno;
	enum nss_status st = NSS_STATUS_NOTFOUND;
	struct ts_nsscache_entry e;

	if (nss_guard_set())
		return nss_finish(st, saved, errnop);
	pthread_mutex_lock(&nss_state.lock);
	if (nss_cursor_peek(&nss_state.pw, false, &e) == 0) {
		st = fill_pw_entry(pw, buf, buflen, errnop, &e);
		if (st == NSS_STATUS_SUCCESS)
			nss_state.pw.pos++;
	}
	pthread_mutex_unlock(&nss_state.lock);
	return nss_finish(st, saved, errnop);
}

