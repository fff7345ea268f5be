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
#include "ts_sha256.h"
#include "ts_time.h"

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

struct rec {
	uint32_t uid;
	enum ts_nsscache_state state;
	bool by_name;
	uint8_t subject[TS_NSSCACHE_HASH_BYTES];
	char *name, *gecos;
};

struct ts_nsscache {
	char *issuer, *home_template, *shell, *resolve_unknown;
	uint32_t uid_min, uid_max, gid;
	bool have_regex;
	regex_t regex;
	uint64_t generation;
	struct rec *recs; /* sorted by uid, uids unique */
	size_t n, cap;
	uint32_t *reserved; /* sorted, unique */
	size_t n_reserved, cap_reserved;
};

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
	return 0;
}

static void settings_drop(struct ts_nsscache *c)
{
	free(c->issuer);
	free(c->home_template);
	free(c->shell);
	free(c->resolve_unknown);
	c->issuer = c->home_template = c->shell = c->resolve_unknown = NULL;
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
	if (!t.issuer || !t.home_template || !t.shell || !t.resolve_unknown) {
		settings_drop(&t);
		return -ENOMEM;
	}
	settings_drop(c);
	c->issuer = t.issuer;
	c->home_template = t.home_template;
	c->shell = t.shell;
	c->resolve_unknown = t.resolve_unknown;
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
	}
	free(c->recs);
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

	return (i < c->n && c->recs[i].uid == uid) || (j < c->n_reserved && c->reserved[j] == uid);
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

/* Insert rec (taking its strings) keeping uid order; the uid must be free. */
static int rec_insert(struct ts_nsscache *c, struct rec *r)
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

static struct rec *find_active_name(const struct ts_nsscache *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->recs[i].state == TS_NSSCACHE_ACTIVE && strcmp(c->recs[i].name, name) == 0)
			return &c->recs[i];
	return NULL;
}

/* gecos from the IdP's "name": control characters and ':' become ' ', cut
 * at TS_NSSCACHE_GECOS_MAX bytes on a UTF-8 boundary. */
static char *gecos_clean(const char *in)
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
	holder = find_active_name(c, name);
	if (holder && holder != by_sub)
		return TS_E_SUBJECT_PINNED;
	nname = strdup(name);
	ngecos = gecos ? gecos_clean(gecos) : NULL;
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
		char key[TS_NSSCACHE_NAME_MAX + 8];
		(void)snprintf(key, sizeof(key), "name:%s", name);
		r = ts_nsscache_probe(ts_nsscache_hash_uid(c->issuer, key, c->uid_min, c->uid_max),
		                      c->uid_min, c->uid_max, c->n + c->n_reserved, writer_taken, c,
		                      &uid);
		nr.by_name = true;
	} else {
		r = ts_nsscache_probe(ts_nsscache_hash_uid(c->issuer, sub, c->uid_min, c->uid_max),
		                      c->uid_min, c->uid_max, c->n + c->n_reserved, writer_taken, c,
		                      &uid);
	}
	if (r < 0)
		goto fail;
	nr.uid = uid;
	nr.state = TS_NSSCACHE_ACTIVE;
	memcpy(nr.subject, sh, sizeof(sh));
	nr.name = nname;
	nr.gecos = ngecos;
	r = rec_insert(c, &nr);
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
	struct rec *e = find_active_name(c, name);

	if (!e)
		return -ENOENT;
	e->state = TS_NSSCACHE_TOMBSTONE;
	return 0;
}

int ts_nsscache_find(const struct ts_nsscache *c, const char *name, struct ts_nsscache_info *ret)
{
	const struct rec *e = find_active_name(c, name);

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
	ret->pinned_by_name = e->by_name;
	return 0;
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

/* ---- serialization ---- */

struct strbuf {
	uint8_t *p;
	size_t len, cap;
	bool failed;
};

/* Append s (n bytes) plus a NUL, write the ref at out. */
static void sb_add(struct strbuf *b, uint8_t out[8], const char *s, size_t n)
{
	if (b->failed)
		return;
	if (n > TS_NSSCACHE_MAX_SIZE || b->len + n + 1 > TS_NSSCACHE_MAX_SIZE) {
		b->failed = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		uint8_t *np;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->p[b->len + n] = 0;
	put32(out, (uint32_t)b->len);
	put32(out + 4, (uint32_t)n);
	b->len += n + 1;
}

static int cmp_name(const void *a, const void *b, void *ctx)
{
	const struct rec *recs = ctx;
	return strcmp(recs[*(const uint32_t *)a].name, recs[*(const uint32_t *)b].name);
}

int ts_nsscache_serialize(const struct ts_nsscache *c, uint8_t **ret_buf, size_t *ret_len)
{
	size_t n_active = ts_nsscache_count(c, TS_NSSCACHE_ACTIVE);
	size_t entries_off = TS_NSSCACHE_HEADER_SIZE;
	size_t name_off = entries_off + c->n * TS_NSSCACHE_ENTRY_SIZE;
	size_t uid_off = name_off + n_active * 4;
	size_t res_off = uid_off + c->n * 4;
	size_t str_off = res_off + c->n_reserved * 4;
	uint8_t hdr[TS_NSSCACHE_HEADER_SIZE] = {0};
	uint8_t *ents = NULL, *out = NULL;
	uint32_t *order = NULL;
	struct strbuf sb = {0};
	size_t total, k = 0;
	uint8_t shell_ref[8];
	int r = -ENOMEM;

	if (str_off > TS_NSSCACHE_MAX_SIZE)
		return TS_E_TOO_BIG;
	ents = calloc(c->n ? c->n : 1, TS_NSSCACHE_ENTRY_SIZE);
	order = malloc((n_active ? n_active : 1) * sizeof(uint32_t));
	if (!ents || !order)
		goto out;
	sb_add(&sb, hdr + H_ISSUER, c->issuer, strlen(c->issuer));
	sb_add(&sb, hdr + H_HOME_TEMPLATE, c->home_template, strlen(c->home_template));
	sb_add(&sb, hdr + H_SHELL, c->shell, strlen(c->shell));
	sb_add(&sb, hdr + H_RESOLVE, c->resolve_unknown, strlen(c->resolve_unknown));
	memcpy(shell_ref, hdr + H_SHELL, 8);
	for (size_t i = 0; i < c->n; i++) {
		const struct rec *e = &c->recs[i];
		uint8_t *p = ents + i * TS_NSSCACHE_ENTRY_SIZE;
		char home[TS_NSSCACHE_PATH_MAX + 1];

		put32(p + E_UID, e->uid);
		put32(p + E_GID, c->gid ? c->gid : e->uid);
		put32(p + E_STATE, (uint32_t)e->state);
		put32(p + E_FLAGS, e->by_name ? 1u : 0u);
		memcpy(p + E_SUBJECT, e->subject, TS_NSSCACHE_HASH_BYTES);
		sb_add(&sb, p + E_NAME, e->name, strlen(e->name));
		sb_add(&sb, p + E_GECOS, e->gecos, strlen(e->gecos));
		if (ts_nsscache_expand_home(home, sizeof(home), c->home_template, e->name, e->uid) <
		    0) {
			r = -ENAMETOOLONG;
			goto out;
		}
		sb_add(&sb, p + E_HOME, home, strlen(home));
		memcpy(p + E_SHELL, shell_ref, 8);
		if (e->state == TS_NSSCACHE_ACTIVE)
			order[k++] = (uint32_t)i;
	}
	if (sb.failed) {
		r = sb.len + 4096 > TS_NSSCACHE_MAX_SIZE ? TS_E_TOO_BIG : -ENOMEM;
		goto out;
	}
	total = str_off + sb.len;
	if (total > TS_NSSCACHE_MAX_SIZE) {
		r = TS_E_TOO_BIG;
		goto out;
	}
	qsort_r(order, k, sizeof(uint32_t), cmp_name, c->recs);
	out = malloc(total);
	if (!out)
		goto out;
	memcpy(hdr + H_MAGIC, ts_nsscache_magic, sizeof(ts_nsscache_magic));
	put32(hdr + H_VERSION, TS_NSSCACHE_VERSION);
	put32(hdr + H_HEADER_SIZE, TS_NSSCACHE_HEADER_SIZE);
	put64(hdr + H_TOTAL_SIZE, total);
	put64(hdr + H_GENERATION, c->generation);
	put32(hdr + H_UID_MIN, c->uid_min);
	put32(hdr + H_UID_MAX, c->uid_max);
	put32(hdr + H_GID, c->gid);
	put32(hdr + H_N_ENTRIES, (uint32_t)c->n);
	put32(hdr + H_N_ACTIVE, (uint32_t)k);
	put32(hdr + H_N_RESERVED, (uint32_t)c->n_reserved);
	put32(hdr + H_ENTRIES_OFF, (uint32_t)entries_off);
	put32(hdr + H_NAME_INDEX_OFF, (uint32_t)name_off);
	put32(hdr + H_UID_INDEX_OFF, (uint32_t)uid_off);
	put32(hdr + H_RESERVED_OFF, (uint32_t)res_off);
	put32(hdr + H_STRINGS_OFF, (uint32_t)str_off);
	put32(hdr + H_STRINGS_SIZE, (uint32_t)sb.len);
	memcpy(out, hdr, sizeof(hdr));
	memcpy(out + entries_off, ents, c->n * TS_NSSCACHE_ENTRY_SIZE);
	for (size_t i = 0; i < k; i++)
		put32(out + name_off + i * 4, order[i]);
	for (size_t i = 0; i < c->n; i++) /* recs are in uid order already */
		put32(out + uid_off + i * 4, (uint32_t)i);
	for (size_t i = 0; i < c->n_reserved; i++)
		put32(out + res_off + i * 4, c->reserved[i]);
	memcpy(out + str_off, sb.p, sb.len);
	*ret_buf = TS_TAKE_PTR(out);
	*ret_len = total;
	r = 0;
out:
	free(ents);
	free(order);
	free(sb.p);
	free(out);
	return r;
}

int ts_nsscache_parse(struct ts_nsscache **ret, const void *data, size_t size,
                      const struct ts_nsscache_settings *s)
{
	struct ts_nsscache_view v;
	struct ts_nsscache_settings fs;
	struct ts_nsscache *c = NULL;
	int r;

	r = ts_nsscache_view_open(&v, data, size);
	if (r < 0)
		return r;
	fs = (struct ts_nsscache_settings){.issuer = v.issuer,
	                                   .uid_min = v.uid_min,
	                                   .uid_max = v.uid_max,
	                                   .gid = v.gid,
	                                   .home_template = v.home_template,
	                                   .shell = v.shell,
	                                   .resolve_unknown = v.resolve_unknown};
	r = ts_nsscache_new(&c, s ? s : &fs);
	if (r < 0)
		return s ? r : TS_E_CORRUPT;
	c->generation = v.generation;
	for (uint32_t i = 0; i < v.n_entries; i++) {
		const uint8_t *p = v.base + v.entries_off + (size_t)i * TS_NSSCACHE_ENTRY_SIZE;
		struct ts_nsscache_entry e;
		struct rec nr = {0};

		r = ts_nsscache_entry_at(&v, i, &e);
		if (r < 0)
			goto fail;
		if (!ts_nsscache_name_valid(e.name) || e.gecos_len > TS_NSSCACHE_GECOS_MAX ||
		    (e.state == TS_NSSCACHE_ACTIVE && find_active_name(c, e.name))) {
			r = TS_E_CORRUPT;
			goto fail;
		}
		nr.uid = e.uid;
		nr.state = e.state;
		nr.by_name = (get32(p + E_FLAGS) & 1u) != 0;
		memcpy(nr.subject, e.subject_hash, TS_NSSCACHE_HASH_BYTES);
		nr.name = strdup(e.name);
		nr.gecos = gecos_clean(e.gecos);
		if (!nr.name || !nr.gecos) {
			free(nr.name);
			free(nr.gecos);
			r = -ENOMEM;
			goto fail;
		}
		r = rec_insert(c, &nr); /* a duplicate uid: TS_E_CORRUPT */
		if (r < 0) {
			free(nr.name);
			free(nr.gecos);
			goto fail;
		}
	}
	for (uint32_t i = 0; i < v.n_reserved; i++) {
		r = ts_nsscache_reserve_uid(c, ts_nsscache_index_get(&v, v.reserved_off, i));
		if (r < 0)
			goto fail;
	}
	*ret = c;
	return 0;
fail:
	ts_nsscache_free(c);
	return r;
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
	struct ts_atomic_opts o = {.mode = 0644, .uid = (uid_t)-1, .gid = (gid_t)-1};
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
