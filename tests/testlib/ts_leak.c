/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ts_leak.h"
#include "ts_test.h"

static char *secrets[64];
static size_t n_secrets;

static void forget_all(void)
{
	for (size_t i = 0; i < n_secrets; i++)
		free(secrets[i]);
	n_secrets = 0;
}

void ts_leak_remember(const char *secret)
{
	if (!secret || !secret[0] || n_secrets >= TS_ARRAY_SIZE(secrets))
		return;
	if (n_secrets == 0)
		atexit(forget_all);
	secrets[n_secrets] = strdup(secret);
	CHECK(secrets[n_secrets] != NULL);
	n_secrets++;
}

size_t ts_leak_count(void)
{
	return n_secrets;
}

bool ts_contains(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0 || n > len)
		return false;
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

void ts_leak_scan(const char *what, const char *text, size_t len)
{
	size_t run = 0;
	bool alpha = false, digit = false;

	for (size_t i = 0; i < n_secrets; i++)
		CHECK_MSG(!ts_contains(text, len, secrets[i]), "a token appears in %s", what);
	for (size_t i = 0; i < len; i++) {
		char ch = text[i];
		bool a = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
		bool d = ch >= '0' && ch <= '9';

		if (a || d || ch == '_' || ch == '-') {
			run++;
			alpha = alpha || a;
			digit = digit || d;
		} else {
			run = 0;
			alpha = digit = false;
		}
		CHECK_MSG(run < 40 || !alpha || !digit,
			  "token-like text in %s near offset %zu: %.60s", what, i,
			  text + (i + 1 - run));
	}
}

void ts_leak_scan_file(const char *what, const char *path)
{
	size_t len = 0;
	char *text;

	if (access(path, F_OK) != 0)
		return;
	text = ts_test_read_file(path, &len);
	ts_leak_scan(what, text, len);
	CHECK_MSG(!ts_contains(text, len, "Sanitizer") && !ts_contains(text, len, "runtime error"),
		  "%s shows no sanitizer report (see %s)", what, path);
	free(text);
}
