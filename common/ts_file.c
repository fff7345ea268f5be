/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ts_error.h"
#include "ts_file.h"
#include "ts_mem.h"

static bool owner_ok(const struct ts_file_policy *pol, uid_t uid)
{
	bool any_listed = false;

	for (size_t i = 0; i < TS_ARRAY_SIZE(pol->owners); i++) {
		if (pol->owners[i] == TS_OWNER_ANY)
			continue;
		any_listed = true;
		if (pol->owners[i] == uid)
			return true;
	}
	return !any_listed;
}

int ts_check_fd(int fd, const struct ts_file_policy *pol, struct stat *ret_st)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return TS_E_NOT_REGULAR;
	if (!owner_ok(pol, st.st_uid))
		return TS_E_BAD_OWNER;
	if (st.st_mode & pol->forbidden)
		return TS_E_BAD_MODE;
	if (pol->max_size && S_ISREG(st.st_mode) && (uintmax_t)st.st_size > pol->max_size)
		return TS_E_TOO_BIG;
	if (ret_st)
		*ret_st = st;
	return 0;
}

static struct ts_file_policy policy(mode_t forbidden, size_t max_size)
{
	struct ts_file_policy p = {
	    .owners = {0, geteuid(), TS_OWNER_ANY}, .forbidden = forbidden, .max_size = max_size};

	return p;
}

struct ts_file_policy ts_file_policy_public(size_t max_size)
{
	return policy(S_IWGRP | S_IWOTH, max_size);
}

struct ts_file_policy ts_file_policy_private(size_t max_size)
{
	return policy(S_IRWXG | S_IRWXO, max_size);
}

int ts_openat_checked(int dirfd, const char *name, int flags, const struct ts_file_policy *pol,
		      int *ret_fd, struct stat *ret_st)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		/* O_NOFOLLOW on a symlink gives ELOOP: report it as what it is. */
		if (errno == ELOOP || errno == ENXIO)
			return TS_E_NOT_REGULAR;
		return -errno;
	}
	r = ts_check_fd(fd, pol, &st);
	if (r < 0)
		return r;
	if (!S_ISREG(st.st_mode))
		return TS_E_NOT_REGULAR;
	/* Back to blocking I/O for the read; O_NONBLOCK only kept a fifo from hanging us. */
	if (fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		return -errno;
	if (ret_st)
		*ret_st = st;
	*ret_fd = TS_TAKE_FD(fd);
	return 0;
}

int ts_open_checked(const char *path, int flags, const struct ts_file_policy *pol, int *ret_fd,
		    struct stat *ret_st)
{
	return ts_openat_checked(AT_FDCWD, path, flags, pol, ret_fd, ret_st);
}

int ts_open_dir_checked(const char *path, const struct ts_file_policy *pol, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return TS_E_NOT_REGULAR;
		return -errno;
	}
	r = ts_check_fd(fd, pol, &st);
	if (r < 0)
		return r;
	if (!S_ISDIR(st.st_mode))
		return TS_E_NOT_REGULAR;
	*ret_fd = TS_TAKE_FD(fd);
	return 0;
}

int ts_read_all(int fd, size_t max, uint8_t **ret_buf, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	uint8_t *buf;

	if (max < SIZE_MAX - 1 && cap > max + 1)
		cap = max + 1;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap;
			uint8_t *nbuf;

			if (len > max)
				break;
			ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nbuf = malloc(ncap + 1);
			if (!nbuf) {
				ts_erase_free(buf, cap + 1);
				return -ENOMEM;
			}
			memcpy(nbuf, buf, len);
			ts_erase_free(buf, cap + 1);
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int r = -errno;
			ts_erase_free(buf, cap + 1);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		ts_erase_free(buf, cap + 1);
		return TS_E_TOO_BIG;
	}
	buf[len] = 0;
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int ts_read_file(const char *path, const struct ts_file_policy *pol, uint8_t **ret_buf,
		 size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	int r;

	r = ts_open_checked(path, O_RDONLY, pol, &fd, NULL);
	if (r < 0)
		return r;
	return ts_read_all(fd, pol->max_size ? pol->max_size : SIZE_MAX - 2, ret_buf, ret_len);
}

static int write_full(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int open_temp_at(int dirfd, const char *name, char *tmp, size_t tmplen, int *ret_fd)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	for (int attempt = 0; attempt < 100; attempt++) {
		char suffix[7];
		uint32_t x;
		struct timespec ts;
		int fd, n;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16) ^ (uint32_t)attempt * 2654435761u;
		for (int i = 0; i < 6; i++) {
			suffix[i] = alnum[x % 36];
			x = x / 36 + (uint32_t)ts.tv_sec * 7u + (uint32_t)i;
		}
		suffix[6] = '\0';
		n = snprintf(tmp, tmplen, "%s.tmp.%s", name, suffix);
		if (n < 0 || (size_t)n >= tmplen)
			return -ENAMETOOLONG;
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			*ret_fd = fd;
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int ts_atomic_write_at(int dirfd, const char *name, const void *data, size_t len,
		       const struct ts_atomic_opts *opts)
{
	char tmp[NAME_MAX + 1];
	_cleanup_close_ int fd = -1;
	int r;

	if (strchr(name, '/'))
		return -EINVAL;
	r = open_temp_at(dirfd, name, tmp, sizeof(tmp), &fd);
	if (r < 0)
		return r;
	r = write_full(fd, data, len);
	if (r < 0)
		goto fail;
	if (fchmod(fd, opts->mode) < 0) {
		r = -errno;
		goto fail;
	}
	if ((opts->uid != (uid_t)-1 || opts->gid != (gid_t)-1) &&
	    fchown(fd, opts->uid, opts->gid) < 0) {
		r = -errno;
		goto fail;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (opts->before_rename)
		opts->before_rename(opts->ctx);
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		r = -errno;
		goto fail;
	}
	if (fsync(dirfd) < 0)
		return -errno;
	return 0;
fail:
	(void)unlinkat(dirfd, tmp, 0);
	return r;
}

/* "NAME.tmp.XXXXXX" (NAME = base unless NULL) with XXXXXX six of
 * open_temp_at's characters */
static bool is_temp_name(const char *name, const char *base)
{
	size_t n = strlen(name);

	if (n < 12 || memcmp(name + n - 11, ".tmp.", 5) != 0)
		return false;
	if (base && (strlen(base) != n - 11 || memcmp(name, base, n - 11) != 0))
		return false;
	for (size_t i = n - 6; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9')))
			return false;
	return true;
}

int ts_sweep_temp_at(int dirfd, const char *base, time_t min_age, unsigned *ret_n)
{
	time_t now = time(NULL);
	struct dirent *de;
	DIR *d;
	int fd;

	*ret_n = 0;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int r = -errno;

		close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!is_temp_name(de->d_name, base) ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_mtime > now - min_age)
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == 0)
			(*ret_n)++;
	}
	closedir(d);
	return 0;
}

/* The folder of path, opened with O_DIRECTORY|O_NOFOLLOW as ts_file.h
 * promises (a symlink planted in place of the folder must not redirect a
 * key or record write elsewhere), and path's last component. */
static int open_parent(const char *path, int *ret_fd, const char **ret_base)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!slash) {
		dir[0] = '.', dir[1] = '\0';
	} else {
		size_t n = (size_t)(slash - path);
		if (n >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, path, n);
		dir[n] = '\0';
		if (n == 0)
			dir[0] = '/', dir[1] = '\0';
	}
	*ret_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*ret_fd < 0)
		return errno == ELOOP || errno == ENOTDIR ? TS_E_NOT_REGULAR : -errno;
	*ret_base = slash ? slash + 1 : path;
	return 0;
}

int ts_atomic_write(const char *path, const void *data, size_t len,
		    const struct ts_atomic_opts *opts)
{
	_cleanup_close_ int dfd = -1;
	const char *base;
	int r = open_parent(path, &dfd, &base);

	if (r < 0)
		return r;
	return ts_atomic_write_at(dfd, base, data, len, opts);
}

int ts_sweep_temp_beside(const char *path, time_t min_age, unsigned *ret_n)
{
	_cleanup_close_ int dfd = -1;
	const char *base;
	int r;

	*ret_n = 0;
	r = open_parent(path, &dfd, &base);
	if (r < 0)
		return r;
	return ts_sweep_temp_at(dfd, base, min_age, ret_n);
}

/* ---- whole-path check (OpenSSH safe_path()) ------------------------------ */

#define SAFE_MAX_LINKS 40

TS_PRINTF(3, 4)
static void why_fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		(void)vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
}

static bool safe_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* One component that is not a symlink: owner, write bits, sticky exception. */
static int safe_component(const char *p, const struct stat *st, char *why, size_t whylen)
{
	bool sticky_dir = S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);

	if (!safe_owner(st->st_uid)) {
		why_fail(why, whylen, "%s: owned by uid %u, not by root", p, (unsigned)st->st_uid);
		return TS_E_BAD_OWNER;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !sticky_dir) {
		why_fail(why, whylen, "%s: group- or world-writable (mode 0%03o)", p,
		         (unsigned)(st->st_mode & 07777));
		return TS_E_BAD_MODE;
	}
	return 0;
}

/* The last component: the right type, and no write bits even with sticky. */
static int safe_last(const char *p, const struct stat *st, bool want_dir, char *why,
                     size_t whylen)
{
	if (want_dir && !S_ISDIR(st->st_mode)) {
		why_fail(why, whylen, "%s: not a folder", p);
		return TS_E_NOT_REGULAR;
	}
	if (!want_dir && !S_ISREG(st->st_mode)) {
		why_fail(why, whylen, "%s: not a regular file", p);
		return TS_E_NOT_REGULAR;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		why_fail(why, whylen, "%s: group- or world-writable (mode 0%03o)", p,
		         (unsigned)(st->st_mode & 07777));
		return TS_E_BAD_MODE;
	}
	return 0;
}

/* Replace the remaining path rest (after the link at cur) with the link's
 * target followed by rest; an absolute target restarts cur at "/". */
static int safe_follow(char *cur, size_t *curlen, char *rest, size_t restlen, char *why,
                       size_t whylen)
{
	char target[PATH_MAX], joined[PATH_MAX];
	ssize_t n = readlink(cur, target, sizeof(target) - 1);
	int k;

	if (n < 0) {
		int r = -errno;
		why_fail(why, whylen, "%s: cannot read the link: %s", cur, ts_strerror(r));
		return r;
	}
	target[n] = '\0';
	k = snprintf(joined, sizeof(joined), "%s/%s", target, rest);
	if (k < 0 || (size_t)k >= sizeof(joined) || (size_t)k >= restlen) {
		why_fail(why, whylen, "%s: the path it leads to is too long", cur);
		return -ENAMETOOLONG;
	}
	memcpy(rest, joined, (size_t)k + 1);
	/* back to the folder that holds the link, or to / */
	if (target[0] == '/') {
		*curlen = 0;
	} else {
		while (*curlen > 0 && cur[*curlen - 1] != '/')
			(*curlen)--;
		if (*curlen > 0)
			(*curlen)--;
	}
	cur[*curlen] = '\0';
	return 0;
}

/* A symbolic link at cur (the links-th on the way): owned by root or the
 * euid, then followed. */
static int safe_link(const char *path, const struct stat *st, unsigned links, char *cur,
                     size_t *curlen, char *rest, size_t restlen, char *why, size_t whylen)
{
	if (!safe_owner(st->st_uid)) {
		why_fail(why, whylen, "%s: a symbolic link owned by uid %u, not by root", cur,
		         (unsigned)st->st_uid);
		return TS_E_BAD_OWNER;
	}
	if (links > SAFE_MAX_LINKS) {
		why_fail(why, whylen, "%s: too many levels of symbolic links", path);
		return -ELOOP;
	}
	return safe_follow(cur, curlen, rest, restlen, why, whylen);
}

/* Cut the next component off rest into comp; false when none is left. */
static bool next_component(char *rest, char *comp, size_t complen)
{
	size_t s = strspn(rest, "/"), n = strcspn(rest + s, "/");

	if (n == 0)
		return false;
	if (n >= complen)
		n = complen - 1; /* NAME_MAX-sized: lstat then fails with ENOENT */
	memcpy(comp, rest + s, n);
	comp[n] = '\0';
	memmove(rest, rest + s + n, strlen(rest + s + n) + 1);
	return true;
}

int ts_path_check_safe(const char *path, bool want_dir, char *why, size_t whylen)
{
	char cur[PATH_MAX] = "", rest[PATH_MAX], comp[NAME_MAX + 1];
	size_t curlen = 0;
	unsigned links = 0;
	struct stat st;
	int r;

	why_fail(why, whylen, "%s", "");
	if (path[0] != '/') {
		why_fail(why, whylen, "%s: not an absolute path", path);
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(rest)) {
		why_fail(why, whylen, "path too long");
		return -ENAMETOOLONG;
	}
	memcpy(rest, path, strlen(path) + 1);
	if (lstat("/", &st) < 0)
		return -errno;
	r = safe_component("/", &st, why, whylen);
	if (r < 0)
		return r;
	if (!next_component(rest, comp, sizeof(comp)))
		return safe_last("/", &st, want_dir, why, whylen);
	for (;;) {
		bool last;

		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			if (comp[1] == '.')
				while (curlen > 0 && cur[--curlen] != '/')
					;
			cur[curlen] = '\0';
			if (!next_component(rest, comp, sizeof(comp)))
				break;
			continue;
		}
		if (curlen + 1 + strlen(comp) >= sizeof(cur)) {
			why_fail(why, whylen, "path too long");
			return -ENAMETOOLONG;
		}
		cur[curlen++] = '/';
		memcpy(cur + curlen, comp, strlen(comp) + 1);
		curlen += strlen(comp);
		if (lstat(cur, &st) < 0) {
			r = -errno;
			why_fail(why, whylen, "%s: %s", cur,
			         r == -ENOENT ? "does not exist" : ts_strerror(r));
			return r;
		}
		if (S_ISLNK(st.st_mode)) {
			r = safe_link(path, &st, ++links, cur, &curlen, rest, sizeof(rest), why,
			              whylen);
			if (r < 0)
				return r;
			if (!next_component(rest, comp, sizeof(comp)))
				break;
			continue;
		}
		r = safe_component(cur, &st, why, whylen);
		if (r < 0)
			return r;
		last = !next_component(rest, comp, sizeof(comp));
		if (last)
			return safe_last(cur, &st, want_dir, why, whylen);
		if (!S_ISDIR(st.st_mode)) {
			why_fail(why, whylen, "%s: not a folder", cur);
			return -ENOTDIR;
		}
	}
	/* ended on "." / ".." or a link to a folder: check where we are */
	if (lstat(curlen ? cur : "/", &st) < 0)
		return -errno;
	return safe_last(curlen ? cur : "/", &st, want_dir, why, whylen);
}
