/* SPDX-License-Identifier: MIT */
/*
 * The NSS user cache writer (see ts_nsscache.h): the broker's in-memory
 * cache, its serialisation, load, atomic save and lock. Not linked into
 * libnss_tokenseal.so.2, which needs only the reader (ts_nsscache.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ts_error.h"
#include "ts_file.h"
#include "ts_nsscache.h"
#include "ts_nsscache_format.h"
#include "ts_nsscache_writer.h"
#include "ts_sha256.h"
#include "ts_time.h"

/* The test builds' fault hook (ts_test_hook.h) between writing the cache and
 * its rename; weak, so that the NSS module (which never writes) does not pull
 * it in; NULL outside test builds. */
#ifdef TOKENSEAL_TEST_HOOKS
void ts_test_hook_cb(void *step) __attribute__((weak));
#define NSS_TEST_HOOK_CB ts_test_hook_cb
#else
#define NSS_TEST_HOOK_CB NULL
#endif

/* SHA-256("tokenseal-nss-sub" NUL issuer NUL sub); both bounded by the
 * callers (settings_check, upsert), so the input fits on the stack. */
static void subject_hash(uint8_t out[TS_NSSCACHE_HASH_BYTES], const char *issuer, const char *sub)
{
	static const char domain[] = "tokenseal-nss-sub";
	uint8_t buf[sizeof(domain) + TS_NSSCACHE_ISSUER_MAX + 1 + TS_NSSCACHE_SUBJECT_MAX];
	size_t li = strnlen(issuer, TS_NSSCACHE_ISSUER_MAX);
	size_t ls = strnlen(sub, TS_NSSCACHE_SUBJECT_MAX);

	memcpy(buf, domain, sizeof(domain));
	memcpy(buf + sizeof(domain), issuer, li);
	buf[sizeof(domain) + li] = 0;
	memcpy(buf + sizeof(domain) + li + 1, sub, ls);
	ts_sha256(out, buf, sizeof(domain) + li + 1 + ls);
}

static int settings_check(const struct ts_nsscache_settings *s)
{
	size_t li;

	if (!s->issuer || !s->home_template || !s->shell)
		return -EINVAL;
	li = strnlen(s->issuer, TS_NSSCACHE_ISSUER_MAX + 1);
	if (li == 0 || li > TS_NSSCACHE_ISSUER_MAX || s->uid_min == 0 || s->uid_max < s->uid_min)
		return -EINVAL;
	if (!ts_nsscache_home_template_valid(s->home_template) ||
	    !ts_nsscache_shell_valid(s->shell))
		return -EINVAL;
	if (s->reserved_names && !ts_nsscache_reserved_list_valid(s->reserved_names))
		return -EINVAL;
	return 0;
}

static void settings_drop(struct ts_nsscache *c)
{
	free(c->issuer);
	free(c->home_template);
	free(c->shell);
	free(c->resolve_unknown);
	free(c->reserved_names);
	c->issuer = c->home_template = c->shell = c->resolve_unknown = c->reserved_names = NULL;
	if (c->have_regex)
		regfree(&c->regex);
	c->have_regex = false;
}

int ts_nsscache_set_settings(struct ts_nsscache *c, const struct ts_nsscache_settings *s)
{
	struct ts_nsscache t = {0};
	const char *re = s->resolve_unknown ? s->resolve_unknown : "";
	int r;

	r = settings_check(s);
	if (r < 0)
		return r;
	if (re[0]) {
		r = ts_nsscache_regex_compile(&t.regex, re);
		if (r < 0)
			return r;
		t.have_regex = true;
	}
	t.issuer = strdup(s->issuer);
	t.home_template = strdup(s->home_template);
	t.shell = strdup(s->shell);
	t.resolve_unknown = strdup(re);
	t.reserved_names = strdup(s->reserved_names ? s->reserved_names : "");
	if (!t.issuer || !t.home_template || !t.shell || !t.resolve_unknown ||
	    !t.reserved_names) {
		settings_drop(&t);
		return -ENOMEM;
	}
	settings_drop(c);
	c->issuer = t.issuer;
	c->home_template = t.home_template;
	c->shell = t.shell;
	c->resolve_unknown = t.resolve_unknown;
	c->reserved_names = t.reserved_names;
	c->have_regex = t.have_regex;
	c->regex = t.regex;
	c->uid_min = s->uid_min;
	c->uid_max = s->uid_max;
	c->gid = s->gid;
	return 0;
}

int ts_nsscache_new(struct ts_nsscache **ret, const struct ts_nsscache_settings *s)
{
	struct ts_nsscache *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	r = ts_nsscache_set_settings(c, s);
	if (r < 0) {
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

struct ts_nsscache *ts_nsscache_free(struct ts_nsscache *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n; i++) {
		free(c->recs[i].name);
		free(c->recs[i].gecos);
		free(c->recs[i].groups);
	}
	free(c->recs);
	for (size_t i = 0; i < c->n_groups; i++)
		free(c->groups[i].name);
	free(c->groups);
	free(c->reserved);
	settings_drop(c);
	free(c);
	return NULL;
}

void ts_nsscache_freep(struct ts_nsscache **c)
{
	*c = ts_nsscache_free(*c);
}

/* index of the first rec with uid >= uid */
static size_t rec_lower(const struct ts_nsscache *c, uint32_t uid)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t reserved_lower(const struct ts_nsscache *c, uint32_t uid)
{
	size_t lo = 0, hi = c->n_reserved;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->reserved[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool writer_taken(const void *ctx, uint32_t uid)
{
	const struct ts_nsscache *c = ctx;
	size_t i = rec_lower(c, uid), j = reserved_lower(c, uid);

	return (i < c->n && c->recs[i].uid == uid) || (j < c->n_reserved && c->reserved[j] == uid) ||
	       ts_nsscache_gid_taken(c, uid) || (c->taken_hook && c->taken_hook(c->taken_ctx, uid));
}

void ts_nsscache_set_taken_hook(struct ts_nsscache *c, bool (*taken)(void *ctx, uint32_t uid),
                                void *ctx)
{
	c->taken_hook = taken;
	c->taken_ctx = ctx;
}

int ts_nsscache_reserve_uid(struct ts_nsscache *c, uint32_t uid)
{
	size_t j = reserved_lower(c, uid);

	if (j < c->n_reserved && c->reserved[j] == uid)
		return 0;
	if (c->n_reserved >= TS_NSSCACHE_MAX_RESERVED)
		return -ENOSPC;
	if (c->n_reserved == c->cap_reserved) {
		size_t ncap = c->cap_reserved ? c->cap_reserved * 2 : 64;
		uint32_t *n = realloc(c->reserved, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		c->reserved = n;
		c->cap_reserved = ncap;
	}
	memmove(c->reserved + j + 1, c->reserved + j, (c->n_reserved - j) * sizeof(uint32_t));
	c->reserved[j] = uid;
	c->n_reserved++;
	return 0;
}

void ts_nsscache_clear_reserved(struct ts_nsscache *c)
{
	c->n_reserved = 0;
}

int ts_nsscache_rec_insert(struct ts_nsscache *c, struct rec *r)
{
	size_t i = rec_lower(c, r->uid);

	if (i < c->n && c->recs[i].uid == r->uid)
		return TS_E_CORRUPT;
	if (c->n >= TS_NSSCACHE_MAX_ENTRIES)
		return -ENOSPC;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		struct rec *n = realloc(c->recs, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		c->recs = n;
		c->cap = ncap;
	}
	memmove(c->recs + i + 1, c->recs + i, (c->n - i) * sizeof(*c->recs));
	c->recs[i] = *r;
	c->n++;
	return 0;
}

struct rec *ts_nsscache_find_active(const struct ts_nsscache *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->recs[i].state == TS_NSSCACHE_ACTIVE && strcmp(c->recs[i].name, name) == 0)
			return &c->recs[i];
	return NULL;
}

char *ts_nsscache_gecos_clean(const char *in)
{
	size_t n = strnlen(in, TS_NSSCACHE_GECOS_MAX + 1);
	char *out;

	if (n > TS_NSSCACHE_GECOS_MAX) {
		n = TS_NSSCACHE_GECOS_MAX;
		while (n > 0 && ((unsigned char)in[n] & 0xC0) == 0x80)
			n--;
	}
	out = malloc(n + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[i];
		out[i] = ch < 0x20 || ch == 0x7f || ch == ':' ? ' ' : (char)ch;
	}
	out[n] = '\0';
	return out;
}

int ts_nsscache_upsert(struct ts_nsscache *c, const char *sub, const char *name, const char *gecos,
                       uint32_t *ret_uid)
{
	uint8_t sh[TS_NSSCACHE_HASH_BYTES];
	struct rec *by_sub = NULL, *holder, nr = {0};
	size_t ls = strnlen(sub, TS_NSSCACHE_SUBJECT_MAX + 1);
	char *nname = NULL, *ngecos = NULL;
	uint32_t uid;
	int r;

	if (!ts_nsscache_name_valid(name) || ls == 0 || ls > TS_NSSCACHE_SUBJECT_MAX)
		return -EINVAL;
	subject_hash(sh, c->issuer, sub);
	/* the active entry wins over a tombstone of the same subject */
	for (size_t i = 0; i < c->n; i++)
		if (memcmp(c->recs[i].subject, sh, sizeof(sh)) == 0 &&
		    (!by_sub || c->recs[i].state == TS_NSSCACHE_ACTIVE))
			by_sub = &c->recs[i];
	holder = ts_nsscache_find_active(c, name);
	if (holder && holder != by_sub)
		return TS_E_SUBJECT_PINNED;
	nname = strdup(name);
	ngecos = gecos ? ts_nsscache_gecos_clean(gecos) : NULL;
	if (!nname || (gecos && !ngecos)) {
		r = -ENOMEM;
		goto fail;
	}
	if (by_sub) {
		free(by_sub->name);
		by_sub->name = nname;
		if (ngecos) {
			free(by_sub->gecos);
			by_sub->gecos = ngecos;
		}
		by_sub->state = TS_NSSCACHE_ACTIVE;
		if (ret_uid)
			*ret_uid = by_sub->uid;
		return 0;
	}
	if (!ngecos && !(ngecos = strdup(""))) {
		r = -ENOMEM;
		goto fail;
	}
	if (c->have_regex && regexec(&c->regex, name, 0, NULL, 0) == 0) {
		/* exactly the uid the module shows for the name, or none */
		char key[TS_NSSCACHE_NAME_MAX + 8];
		(void)snprintf(key, sizeof(key), "name:%s", name);
		uid = ts_nsscache_hash_uid(c->issuer, key, c->uid_min, c->uid_max);
		r = uid_special(uid) || writer_taken(c, uid) ? -EEXIST : 0;
		nr.flags = TS_NSSCACHE_F_BY_NAME;
	} else {
		r = ts_nsscache_probe(ts_nsscache_hash_uid(c->issuer, sub, c->uid_min, c->uid_max),
		                      c->uid_min, c->uid_max, c->n + c->n_reserved, writer_taken, c,
		                      &uid);
	}
	if (r < 0)
		goto fail;
	nr.uid = uid;
	nr.state = TS_NSSCACHE_ACTIVE;
	if (c->gid == 0) /* the broker turns it off where the name is not free */
		nr.flags |= TS_NSSCACHE_F_GROUP;
	memcpy(nr.subject, sh, sizeof(sh));
	nr.name = nname;
	nr.gecos = ngecos;
	r = ts_nsscache_rec_insert(c, &nr);
	if (r < 0)
		goto fail;
	if (ret_uid)
		*ret_uid = uid;
	return 0;
fail:
	free(nname);
	free(ngecos);
	return r;
}

int ts_nsscache_tombstone(struct ts_nsscache *c, const char *name)
{
	struct rec *e = ts_nsscache_find_active(c, name);

	if (!e)
		return -ENOENT;
	e->state = TS_NSSCACHE_TOMBSTONE;
	c->n_links -= e->n_groups; /* a removed user is in no group */
	free(e->groups);
	e->groups = NULL;
	e->n_groups = 0;
	return 0;
}

int ts_nsscache_find(const struct ts_nsscache *c, const char *name, struct ts_nsscache_info *ret)
{
	const struct rec *e = ts_nsscache_find_active(c, name);

	/* else the last tombstone of that name in uid order */
	if (!e)
		for (size_t i = c->n; i-- > 0;)
			if (strcmp(c->recs[i].name, name) == 0) {
				e = &c->recs[i];
				break;
			}
	if (!e)
		return -ENOENT;
	ret->uid = e->uid;
	ret->gid = c->gid ? c->gid : e->uid;
	ret->state = e->state;
	ret->pinned_by_name = (e->flags & TS_NSSCACHE_F_BY_NAME) != 0;
	ret->user_group = (e->flags & TS_NSSCACHE_F_GROUP) != 0;
	return 0;
}

int ts_nsscache_set_user_group(struct ts_nsscache *c, const char *name, bool on)
{
	struct rec *e = ts_nsscache_find_active(c, name);

	if (!e)
		return -ENOENT;
	e->flags = on ? e->flags | TS_NSSCACHE_F_GROUP : e->flags & ~TS_NSSCACHE_F_GROUP;
	return 0;
}

const char *ts_nsscache_name_at(const struct ts_nsscache *c, size_t i,
                                struct ts_nsscache_info *ret)
{
	const struct rec *e;

	if (i >= c->n)
		return NULL;
	e = &c->recs[i];
	ret->uid = e->uid;
	ret->gid = c->gid ? c->gid : e->uid;
	ret->state = e->state;
	ret->pinned_by_name = (e->flags & TS_NSSCACHE_F_BY_NAME) != 0;
	ret->user_group = (e->flags & TS_NSSCACHE_F_GROUP) != 0;
	return e->name;
}

size_t ts_nsscache_count(const struct ts_nsscache *c, enum ts_nsscache_state state)
{
	size_t k = 0;

	for (size_t i = 0; i < c->n; i++)
		k += c->recs[i].state == state;
	return k;
}

uint64_t ts_nsscache_generation(const struct ts_nsscache *c)
{
	return c->generation;
}

int ts_nsscache_load(struct ts_nsscache **ret, const char *path,
                     const struct ts_nsscache_settings *s)
{
	struct ts_file_policy pol = ts_file_policy_public(TS_NSSCACHE_MAX_SIZE);
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = ts_read_file(path, &pol, &buf, &len);
	if (r == -ENOENT && s)
		return ts_nsscache_new(ret, s);
	if (r < 0)
		return r;
	r = ts_nsscache_parse(ret, buf, len, s);
	free(buf);
	return r;
}

/* Create the cache's folder (0755) when missing; its parent must exist. */
static int make_folder(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[TS_NSSCACHE_PATH_MAX + 1];
	size_t n;

	if (!slash || slash == path)
		return 0;
	n = (size_t)(slash - path);
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = 0;
	if (mkdir(dir, 0755) < 0)
		return errno == EEXIST ? 0 : -errno;
	/* every process reads the cache: 0755 whatever the writer's umask */
	if (chmod(dir, 0755) < 0)
		return -errno;
	return 0;
}

int ts_nsscache_lock(const char *path, int timeout_ms, int *ret_fd)
{
	char lock[TS_NSSCACHE_PATH_MAX + 8];
	int64_t deadline;
	int fd, r;

	r = snprintf(lock, sizeof(lock), "%s.lock", path);
	if (r < 0 || (size_t)r >= sizeof(lock))
		return -ENAMETOOLONG;
	r = make_folder(path);
	if (r < 0)
		return r;
	fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return -errno;
	deadline = (int64_t)ts_monotonic_ms() + timeout_ms;
	for (;;) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		if (flock(fd, LOCK_EX | (timeout_ms < 0 ? 0 : LOCK_NB)) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			r = -errno;
			close(fd);
			return r;
		}
		if ((int64_t)ts_monotonic_ms() >= deadline) {
			close(fd);
			return TS_E_LOCK_TIMEOUT;
		}
		nanosleep(&ts, NULL);
	}
	*ret_fd = fd;
	return 0;
}

int ts_nsscache_save(struct ts_nsscache *c, const char *path)
{
	struct ts_atomic_opts o = {.mode = 0644,
	                           .uid = (uid_t)-1,
	                           .gid = (gid_t)-1,
	                           .before_rename = NSS_TEST_HOOK_CB,
	                           .ctx = (void *)(uintptr_t) "nss-before-rename"};
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = make_folder(path);
	if (r < 0)
		return r;
	c->generation++;
	r = ts_nsscache_serialize(c, &buf, &len);
	if (r < 0) {
		c->generation--;
		return r;
	}
	r = ts_atomic_write(path, buf, len, &o);
	free(buf);
	return r;
}
