/* SPDX-License-Identifier: MIT */
/*
 * A refresh in flight (ks.h, ks_pending_*): state/<uid>.pending exists from
 * just before a refresh request until its outcome is known, so that a
 * refresh token the server refuses after an interrupted refresh (the broker
 * killed after the server rotated, an answer cut off) is reported as the
 * lost-answer case. An empty file: no secret, no generation.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ks_internal.h"

int ks_pending_set(struct ks *ks, uid_t uid)
{
	char name[32];
	int fd, r;

	r = uid_name(name, sizeof(name), uid, ".pending");
	if (r < 0)
		return r;
	fd = openat(ks->state_fd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
	            0600);
	if (fd < 0)
		return -errno;
	(void)close(fd);
	return 0;
}

int ks_pending_clear(struct ks *ks, uid_t uid)
{
	char name[32];
	int r;

	r = uid_name(name, sizeof(name), uid, ".pending");
	if (r < 0)
		return r;
	if (unlinkat(ks->state_fd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

bool ks_pending_get(struct ks *ks, uid_t uid)
{
	struct stat st;
	char name[32];

	if (uid_name(name, sizeof(name), uid, ".pending") < 0)
		return false;
	return fstatat(ks->state_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}
