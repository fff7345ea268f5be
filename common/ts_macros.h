/* SPDX-License-Identifier: MIT */
/*
 * Attributes and cleanup helpers shared by every part of tokenseal.
 * libc only: this header is included by the PAM and NSS modules too.
 */
#ifndef TS_MACROS_H
#define TS_MACROS_H

#include <stddef.h>

#define TS_WUR __attribute__((warn_unused_result))
#define TS_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#define TS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define TS_UNUSED __attribute__((unused))
#define TS_EXPORT __attribute__((visibility("default")))

#define TS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* systemd-style scope cleanup: _cleanup_(freep) char *p = NULL; */
#define _cleanup_(f) __attribute__((cleanup(f)))

/* Hand a pointer over to a new owner and forget it here (systemd TAKE_PTR). */
#define TS_TAKE_PTR(p)                                                                             \
	({                                                                                         \
		__typeof__(p) _ts_tmp_ = (p);                                                      \
		(p) = NULL;                                                                        \
		_ts_tmp_;                                                                          \
	})

#define TS_TAKE_FD(fd)                                                                             \
	({                                                                                         \
		int _ts_fd_ = (fd);                                                                \
		(fd) = -1;                                                                         \
		_ts_fd_;                                                                           \
	})

void ts_freep(void *p);
void ts_closep(const int *fd);
#define _cleanup_free_ _cleanup_(ts_freep)
#define _cleanup_close_ _cleanup_(ts_closep)

#endif
