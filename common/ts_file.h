/* SPDX-License-Identifier: MIT */
/*
 * Safe file access: open without following symlinks, check what was opened
 * (regular file, owner, mode, size) before trusting a byte of it, and replace
 * files atomically (temp file in the same folder, fsync, rename, fsync the
 * folder). Everything returns 0 or a negative ts_err / errno value.
 */
#ifndef TS_FILE_H
#define TS_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "ts_macros.h"

#define TS_OWNER_ANY ((uid_t)-1)

struct ts_file_policy {
	uid_t owners[3];  /* acceptable owners; TS_OWNER_ANY ends the list / unused */
	mode_t forbidden; /* mode bits that must be clear, e.g. 022 or 077 */
	size_t max_size;  /* 0 = no limit */
};

/* The two policies every file tokenseal reads is held to. Owner: root, or
 * this process's effective uid (a test run as an ordinary user owns its
 * files; a root process accepts root only).
 *   public:  no group or world write (config, CA bundle, discovery cache)
 *   private: no group or world access at all (keys, records, secrets) */
struct ts_file_policy ts_file_policy_public(size_t max_size);
struct ts_file_policy ts_file_policy_private(size_t max_size);

/* Open path (read-only unless flags say otherwise) with O_NOFOLLOW|O_CLOEXEC|
 * O_NOCTTY, fstat it and apply pol. On success *ret_fd is the open fd and,
 * if ret_st is given, *ret_st its stat. Errors: -ENOENT, TS_E_NOT_REGULAR
 * (symlink or special file), TS_E_BAD_OWNER, TS_E_BAD_MODE, TS_E_TOO_BIG, or
 * another -errno. */
int ts_open_checked(const char *path, int flags, const struct ts_file_policy *pol, int *ret_fd,
		    struct stat *ret_st) TS_WUR TS_NONNULL(1, 3, 4);
int ts_openat_checked(int dirfd, const char *name, int flags, const struct ts_file_policy *pol,
		      int *ret_fd, struct stat *ret_st) TS_WUR TS_NONNULL(2, 4, 5);

/* Check an already-open fd against pol. */
int ts_check_fd(int fd, const struct ts_file_policy *pol, struct stat *ret_st) TS_WUR
	TS_NONNULL(2);

/* Read the whole of fd (at most max bytes; one more is TS_E_TOO_BIG) into a
 * new NUL-terminated buffer. The caller frees it with ts_erase_free(). */
int ts_read_all(int fd, size_t max, uint8_t **ret_buf, size_t *ret_len) TS_WUR
	TS_NONNULL(3, 4);

/* Read a whole file checked against pol. */
int ts_read_file(const char *path, const struct ts_file_policy *pol, uint8_t **ret_buf,
		 size_t *ret_len) TS_WUR TS_NONNULL(1, 2, 3, 4);

/* Called after the temp file is written and synced, before the rename: the
 * test seam for "a writer killed between write and rename". */
typedef void (*ts_before_rename_fn)(void *ctx);

struct ts_atomic_opts {
	mode_t mode;		/* final mode of the file */
	uid_t uid;		/* chown to uid/gid unless -1 */
	gid_t gid;
	ts_before_rename_fn before_rename;
	void *ctx;
};

/* Atomically replace dirfd/name with data. The temp file lives in the same
 * folder ("name.tmp.XXXXXX"), is removed on failure, and the folder is
 * fsynced after the rename. */
int ts_atomic_write_at(int dirfd, const char *name, const void *data, size_t len,
		       const struct ts_atomic_opts *opts) TS_WUR TS_NONNULL(2, 5);

/* The temporary files of ts_atomic_write_at in dirfd ("NAME.tmp.XXXXXX",
 * regular files; with base, only "base.tmp.XXXXXX", for a folder shared
 * with other files) whose mtime is at least min_age seconds old: writes cut
 * short between write and rename (a crash, kill -9). They are removed;
 * *ret_n counts them. A younger one may be a write in progress and stays.
 * 0, or -errno of reading the folder. */
int ts_sweep_temp_at(int dirfd, const char *base, time_t min_age, unsigned *ret_n) TS_WUR
	TS_NONNULL(4);

/* ts_sweep_temp_at in path's folder for path's own leftovers
 * ("BASE.tmp.XXXXXX"), the folder opened as ts_atomic_write opens it. */
int ts_sweep_temp_beside(const char *path, time_t min_age, unsigned *ret_n) TS_WUR
	TS_NONNULL(1, 3);

/* Same with a path; the folder is opened with O_DIRECTORY|O_NOFOLLOW (a
 * symlink as its last component: TS_E_NOT_REGULAR). */
int ts_atomic_write(const char *path, const void *data, size_t len,
		    const struct ts_atomic_opts *opts) TS_WUR TS_NONNULL(1, 4);

/* Open a folder without following a symlink at its last component and check
 * it: a real folder, owner in pol->owners, no pol->forbidden bits. */
int ts_open_dir_checked(const char *path, const struct ts_file_policy *pol, int *ret_fd) TS_WUR
	TS_NONNULL(1, 2, 3);

/*
 * The whole-path check (OpenSSH safe_path() is the model), for anything root
 * reads or executes: path must be absolute, and the file (want_dir: the
 * folder) and every folder above it up to / must be owned by root (or by
 * this process's effective uid, for tests run as an ordinary user) and not
 * group- or world-writable -- except a folder above it with the sticky bit
 * (like /tmp, owned by root), whose entries other users cannot replace. A
 * symbolic link on the way must itself be owned by root (or the euid) and is
 * followed, its target checked the same way (at most 40 links). The last
 * component must be a folder (want_dir) or a regular file.
 *
 * Returns 0, or TS_E_BAD_OWNER, TS_E_BAD_MODE, TS_E_NOT_REGULAR (wrong
 * type), -ENOENT, -ENOTDIR, -ELOOP, -ENAMETOOLONG, -EINVAL (not absolute) or
 * another -errno; why (if not NULL) then names the offending component and
 * the problem, e.g. "/opt/ts: group- or world-writable (mode 0775)", and is
 * "" on success.
 */
int ts_path_check_safe(const char *path, bool want_dir, char *why, size_t whylen) TS_WUR
	TS_NONNULL(1);

#endif
