/* SPDX-License-Identifier: MIT */
/*
 * Per-user lock files (flock, bounded wait).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ks_internal.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "ts_time.h"

/* ---- locks ------------------------------------------------------------ */

int ks_lock_name(struct ks *ks, const char *name, struct ks_lock **ret, uid_t uid)
{
	struct ts_file_policy pol = ts_file_policy_private(0);
	_cleanup_close_ int fd = -1;
	struct ks_lock *l;
	struct stat st;
	uint64_t deadline;
	long delay_ns = 500000;
	int r;

	if (ks->locks_fd < 0)
		return -EBADF;
	fd = openat(ks->locks_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return errno == ELOOP ? TS_E_NOT_REGULAR : -errno;
	r = ts_check_fd(fd, &pol, &st);
	if (r < 0)
		return r;
	if (!S_ISREG(st.st_mode))
		return TS_E_NOT_REGULAR;
	deadline = (uint64_t)ts_monotonic_ms() + ks->lock_timeout_ms;
	for (;;) {
		struct timespec d;

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return -errno;
		if ((uint64_t)ts_monotonic_ms() >= deadline)
			return TS_E_LOCK_TIMEOUT;
		d.tv_sec = 0;
		d.tv_nsec = delay_ns;
		(void)nanosleep(&d, NULL);
		if (delay_ns < 10000000)
			delay_ns *= 2;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->ks = ks;
	l->uid = uid;
	l->fd = TS_TAKE_FD(fd);
	*ret = l;
	return 0;
}

int ks_lock(struct ks *ks, uid_t uid, struct ks_lock **ret)
{
	char name[32];
	int r;

	r = uid_name(name, sizeof(name), uid, ".lock");
	if (r < 0)
		return r;
	return ks_lock_name(ks, name, ret, uid);
}

struct ks_lock *ks_unlock(struct ks_lock *l)
{
	if (!l)
		return NULL;
	if (l->fd >= 0) {
		(void)flock(l->fd, LOCK_UN);
		close(l->fd);
	}
	free(l);
	return NULL;
}

int ks_check_held(struct ks *ks, struct ks_lock *held, uid_t uid)
{
	if (held->ks != ks || held->uid != uid || held->fd < 0 || ks->users_fd < 0)
		return -EINVAL;
	return 0;
}
