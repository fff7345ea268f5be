/* SPDX-License-Identifier: MIT */
/*
 * The recursion guard _TOKENSEAL_NSS_LOOP is read with secure_getenv (issue
 * 15 §5; labels nss and attack): a user who runs a setuid program (sudo,
 * su) with it set must not hide this module's users and groups from that
 * program. The test re-executes itself three times, dlopens the real
 * libnss_tokenseal.so.2 and asks it for a user; it exports lstat, so it
 * sees whether the module looked at its cache (the guard ignored) or
 * answered NOTFOUND at once (the guard honoured):
 *   - guard set, ordinary process: honoured (the broker's case);
 *   - guard unset: the module looks (the control: the lstat seen);
 *   - guard set, secure execution: ignored. AT_SECURE is real: the
 *     parent (root) sets its real uid to 1001 and keeps euid 0 before the
 *     execve, which the kernel treats as a privilege-raising exec, as for a
 *     setuid binary (none is installed). The child checks getauxval.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts_test.h"

#ifndef TS_NSS_MODULE_PATH
#error "TS_NSS_MODULE_PATH must name libnss_tokenseal.so.2"
#endif

static int cache_looks;

/* The module's lstat of its cache lands here (exported: ENABLE_EXPORTS). */
int lstat(const char *restrict path, struct stat *restrict st);
int lstat(const char *restrict path, struct stat *restrict st)
{
	if (strstr(path, "tokenseal")) {
		cache_looks++;
		errno = ENOENT;
		return -1;
	}
	return fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

typedef enum nss_status (*getpwnam_fn)(const char *, struct passwd *, char *, size_t, int *);

/* The child: one lookup; exit status = the cache looks (+100 when
 * AT_SECURE), 99 on a setup failure. */
static int child(void)
{
	void *h = dlopen(TS_NSS_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
	getpwnam_fn fn = h ? (getpwnam_fn)dlsym(h, "_nss_tokenseal_getpwnam_r") : NULL;
	struct passwd pw;
	char buf[1024];
	int err = 0;

	if (!fn)
		return 99;
	if (fn("someone", &pw, buf, sizeof(buf), &err) != NSS_STATUS_NOTFOUND)
		return 98;
	return (getauxval(AT_SECURE) ? 100 : 0) + (cache_looks > 9 ? 9 : cache_looks);
}

static int run(bool guard, bool secure)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid;
	int st;

	CHECK(n > 0);
	self[n] = '\0';
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char child_arg[] = "--child";
		char *argv[] = {self, child_arg, NULL};
		char guard_env[] = "_TOKENSEAL_NSS_LOOP=1";
		char *env[] = {guard ? guard_env : NULL, NULL};

		if (secure && setresuid(1001, 0, 0) < 0)
			_exit(97);
		execve(self, argv, env);
		_exit(96);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	fprintf(stderr, "   guard %s, %s: status %d\n", guard ? "set" : "unset",
	        secure ? "secure execution" : "ordinary", WEXITSTATUS(st));
	CHECK_MSG(WEXITSTATUS(st) < 96 || WEXITSTATUS(st) > 99, "the child ran (status %d)",
	          WEXITSTATUS(st));
	return WEXITSTATUS(st);
}

static void test_guard(void)
{
	int st;

	/* the broker's case: honoured, the cache never looked at */
	CHECK_INT(run(true, false), 0);
	/* the control: without the guard, the module looks */
	st = run(false, false);
	CHECK_MSG(st >= 1 && st < 100, "the module looked at its cache (status %d)", st);
	/* a setuid-shaped process: the guard does not count */
	st = run(true, true);
	CHECK_MSG(st >= 100, "the child ran with AT_SECURE (status %d)", st);
	CHECK_MSG(st > 100, "secure execution: the guard was ignored (status %d)", st);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child();
	if (getuid() != 0)
		TS_SKIP("needs root (a real uid other than the effective one makes AT_SECURE)");
	RUN(test_guard);
	return ts_test_done();
}
