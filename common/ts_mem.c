/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ts_mem.h"

void ts_freep(void *p)
{
	free(*(void **)p);
}

void ts_closep(const int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		(void)close(*fd);
		errno = saved;
	}
}

void ts_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void ts_wipe_str(char *s)
{
	if (s)
		ts_wipe(s, strlen(s));
}

void *ts_erase_free(void *p, size_t n)
{
	if (p) {
		ts_wipe(p, n);
		free(p);
	}
	return NULL;
}

char *ts_erase_free_str(char *s)
{
	if (s) {
		ts_wipe_str(s);
		free(s);
	}
	return NULL;
}

void ts_free_wiped(void *p)
{
	if (!p)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

void *ts_realloc_wiped(void *p, size_t n)
{
	size_t have;
	void *q;

	if (!p)
		return malloc(n);
	if (n == 0) {
		/* as glibc's realloc(p, 0): freed, and NULL */
		ts_free_wiped(p);
		return NULL;
	}
	have = malloc_usable_size(p);
	if (n <= have)
		return p; /* the block stays whole: wiped when freed */
	q = malloc(n);
	if (!q)
		return NULL; /* p untouched, as realloc leaves it */
	memcpy(q, p, have);
	ts_free_wiped(p);
	return q;
}

void ts_erase_free_strp(char **s)
{
	*s = ts_erase_free_str(*s);
}

bool ts_memeq_ct(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a;
	const volatile unsigned char *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d = (unsigned char)(d | (x[i] ^ y[i]));
	return d == 0;
}

char *ts_strdup_secret(const char *s)
{
	return s ? strdup(s) : NULL;
}

int ts_strlcpy(char *dst, const char *src, size_t dstlen)
{
	size_t n = strnlen(src, dstlen);

	if (dstlen == 0)
		return -ENAMETOOLONG;
	if (n >= dstlen) {
		dst[0] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}
