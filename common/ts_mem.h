/* SPDX-License-Identifier: MIT */
/*
 * Secure-memory helpers usable from every binary and both modules (libc only;
 * guarded sodium_malloc memory belongs to keystore/ and the broker).
 */
#ifndef TS_MEM_H
#define TS_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include "ts_macros.h"

/* Wipe n bytes; never optimised away (explicit_bzero). */
void ts_wipe(void *p, size_t n);

/* Wipe a NUL-terminated string in place; NULL is fine. */
void ts_wipe_str(char *s);

/* Wipe n bytes, then free. Returns NULL so callers can write p = ts_erase_free(p, n). */
void *ts_erase_free(void *p, size_t n);

/* Wipe a string up to its NUL, then free it. Returns NULL. */
char *ts_erase_free_str(char *s);

/*
 * free() that first wipes the whole block (malloc_usable_size), and a
 * realloc() that wipes the block it leaves: the allocator of the libraries
 * that copy our secrets where we cannot erase them (libcurl's request and
 * answer buffers, jansson's parsed strings and dump buffers), installed by
 * oauth_global_init() and the command's main.
 */
void ts_free_wiped(void *p);
void *ts_realloc_wiped(void *p, size_t n);

/* _cleanup_(ts_erase_free_strp) char *secret = ...; */
void ts_erase_free_strp(char **s);

/* Constant-time comparison of two buffers of the same length. */
bool ts_memeq_ct(const void *a, const void *b, size_t n) TS_WUR;

/* strdup that the caller must release with ts_erase_free_str(). */
char *ts_strdup_secret(const char *s) TS_WUR;

/* Bounded copy: copies at most dstlen-1 bytes and always terminates.
 * Returns 0, or -ENAMETOOLONG when src did not fit (dst is then empty). */
int ts_strlcpy(char *dst, const char *src, size_t dstlen) TS_WUR TS_NONNULL(1, 2);

#endif
