/* SPDX-License-Identifier: MIT */
/*
 * The "no token in any output" checks shared by the broker and PAM tests:
 * remember every secret a test handles, then scan conversation text, logs and
 * environments for them and for anything token-like (opaque tokens and JWT
 * segments are runs of 40+ base64url characters mixing letters and digits,
 * which no message, path or code of ours contains).
 */
#ifndef TS_LEAK_H
#define TS_LEAK_H

#include <stdbool.h>
#include <stddef.h>

/* Remember a secret (copied; NULL or empty ignored). */
void ts_leak_remember(const char *secret);

/* How many secrets are remembered (so a test can show its scan was not vacuous). */
size_t ts_leak_count(void);

/* Whether needle occurs in the len bytes at hay (which may hold NULs). */
bool ts_contains(const char *hay, size_t len, const char *needle);

/* CHECK that text holds no remembered secret and nothing token-like. */
void ts_leak_scan(const char *what, const char *text, size_t len);

/* The same for a file, plus no sanitizer report in it; a missing file holds
 * nothing to scan. */
void ts_leak_scan_file(const char *what, const char *path);

#endif
