/* SPDX-License-Identifier: MIT */
/*
 * Minimal test support: every check prints what failed and where, and a
 * failing check ends the test with status 1. A test that cannot run here calls
 * TS_SKIP("reason"): it prints "SKIPPED: reason" and exits 77, which CTest
 * reports as skipped, never as passed.
 */
#ifndef TS_TEST_H
#define TS_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_macros.h"

#define TS_SKIP_CODE 77

extern unsigned ts_test_checks;

_Noreturn void ts_test_fail(const char *file, int line, const char *fmt, ...) TS_PRINTF(3, 4);
_Noreturn void ts_test_skip(const char *fmt, ...) TS_PRINTF(1, 2);

#define TS_SKIP(...) ts_test_skip(__VA_ARGS__)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		ts_test_checks++;                                                                  \
		if (!(cond))                                                                       \
			ts_test_fail(__FILE__, __LINE__, "check failed: %s", #cond);               \
	} while (0)

#define CHECK_MSG(cond, ...)                                                                       \
	do {                                                                                       \
		ts_test_checks++;                                                                  \
		if (!(cond))                                                                       \
			ts_test_fail(__FILE__, __LINE__, __VA_ARGS__);                             \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		ts_test_checks++;                                                                  \
		if (_a != _b)                                                                      \
			ts_test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a,    \
				     _a, #b, _b);                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		ts_test_checks++;                                                                  \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                             \
			ts_test_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a,      \
				     _a ? _a : "(null)", _b ? _b : "(null)");                      \
	} while (0)

/* Run one named case and report it. */
#define RUN(fn)                                                                                    \
	do {                                                                                       \
		fprintf(stderr, "-- %s\n", #fn);                                                   \
		fn();                                                                              \
	} while (0)

/* A fresh private folder under $TMPDIR (or /tmp), removed with everything in
 * it at exit. Returns its path (static storage). */
const char *ts_test_tmpdir(void);

/* Write a file with the given mode (created fresh). */
void ts_test_write_file(const char *path, const void *data, size_t len, unsigned mode);

/* Read a whole file into a malloc'd buffer (NUL-terminated); aborts on error. */
char *ts_test_read_file(const char *path, size_t *ret_len);

/* Run argv[0] (a path) with argv and exactly envp, its standard output into
 * out (at most outlen-1 bytes, NUL-terminated, one trailing newline
 * dropped): its exit status, or -1 when it did not exit. */
int ts_test_run_capture(const char *const argv[], const char *const envp[], char *out,
                        size_t outlen);

/* Print the summary line and return 0. */
int ts_test_done(void);

#endif
