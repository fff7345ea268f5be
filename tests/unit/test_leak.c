/* SPDX-License-Identifier: MIT */
/* tests/testlib/ts_leak.c: a remembered token or a token-like run fails the
 * scan (in a child, since a failed CHECK exits); ordinary text passes. */
#include <sys/wait.h>
#include <unistd.h>

#include "ts_leak.h"
#include "ts_test.h"

/* Exit status of scanning text in a child process. */
static int scan_status(const char *text)
{
	pid_t pid = fork();
	int st = 0;

	CHECK(pid >= 0);
	if (pid == 0) {
		ts_leak_scan("sample", text, strlen(text));
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_scan(void)
{
	ts_leak_remember("s3cr3t-short-token");
	CHECK_INT(ts_leak_count(), 1);
	CHECK_INT(scan_status("sign-in required: the server refused (invalid_grant)"), 0);
	CHECK_INT(scan_status("-----------------------------------------------------"), 0);
	CHECK_INT(scan_status("log: token s3cr3t-short-token sent"), 1);
	CHECK_INT(scan_status("Bearer eyJhbGciOiJSUzI1NiJ9eyJzdWIiOiJhbGljZSJ9abcdef0123"), 1);
	CHECK(ts_contains("a\0b token", 9, "token"));
	CHECK(!ts_contains("abc", 3, ""));
}

int main(void)
{
	RUN(test_scan);
	return ts_test_done();
}
