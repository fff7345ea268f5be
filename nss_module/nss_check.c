/* SPDX-License-Identifier: MIT */
/*
 * libnss_tokenseal.so.2: whether another NSS source knows a name or a uid
 * (see nss_check.h). libc only.
 */
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nss_check.h"
#include "ts_nsscache.h"

/* Set while this thread asks the other sources: our own entry points,
 * entered again through libc, answer NOTFOUND at once. */
__thread unsigned nss_in_check __attribute__((tls_model("initial-exec")));

typedef int (*pwnam_fn)(const char *, struct passwd *, char *, size_t, struct passwd **);
typedef int (*pwuid_fn)(uid_t, struct passwd *, char *, size_t, struct passwd **);
typedef int (*grnam_fn)(const char *, struct group *, char *, size_t, struct group **);
typedef int (*grgid_fn)(gid_t, struct group *, char *, size_t, struct group **);

/* The process's own lookup functions, searched from its main program (the
 * program, then what it loaded at start-up): an interposer such as
 * nss_wrapper in the tests is honoured even when it loaded this module
 * with RTLD_DEEPBIND, where RTLD_DEFAULT would find libc's first. */
static void *global_fn(const char *name, void *fallback)
{
	void *main_prog = dlopen(NULL, RTLD_NOW | RTLD_NOLOAD);
	void *f = main_prog ? dlsym(main_prog, name) : NULL;

	if (main_prog)
		dlclose(main_prog);
	return f ? f : fallback;
}

/* 1: the lookup found something (or its answer was too large for 4 KiB:
 * something is there), 0: not found, -1: the source failed (callers count
 * it as known: fail closed). */
static int found(int e, bool hit)
{
	if (e == 0)
		return hit ? 1 : 0;
	if (e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
		return 0;
	return e == ERANGE ? 1 : -1;
}

/* Whether another source knows name as a user or a group. */
bool nss_name_elsewhere(const char *name)
{
	pwnam_fn pwnam = (pwnam_fn)global_fn("getpwnam_r", (void *)getpwnam_r);
	grnam_fn grnam = (grnam_fn)global_fn("getgrnam_r", (void *)getgrnam_r);
	char buf[4096];
	struct passwd pw, *pres = NULL;
	struct group gr, *gres = NULL;
	int e;
	bool known;

	/* (each call before its result is looked at: argument order is
	 * unspecified) */
	nss_in_check++;
	e = pwnam(name, &pw, buf, sizeof(buf), &pres);
	known = found(e, pres != NULL) != 0;
	if (!known) {
		e = grnam(name, &gr, buf, sizeof(buf), &gres);
		known = found(e, gres != NULL) != 0;
	}
	nss_in_check--;
	return known;
}

/* Whether another source has uid as a uid or gid, or a subordinate id
 * range holds it (TOKENSEAL_NSS_SUBID_DIR replaces /etc for the tests,
 * never in AT_SECURE processes). */
bool nss_uid_elsewhere(uint32_t uid)
{
	pwuid_fn pwuid = (pwuid_fn)global_fn("getpwuid_r", (void *)getpwuid_r);
	grgid_fn grgid = (grgid_fn)global_fn("getgrgid_r", (void *)getgrgid_r);
	const char *dir = secure_getenv("TOKENSEAL_NSS_SUBID_DIR");
	char buf[4096], path[1100];
	struct passwd pw, *pres = NULL;
	struct group gr, *gres = NULL;
	int e;
	bool known;

	nss_in_check++;
	e = pwuid((uid_t)uid, &pw, buf, sizeof(buf), &pres);
	known = found(e, pres != NULL) != 0;
	if (!known) {
		e = grgid((gid_t)uid, &gr, buf, sizeof(buf), &gres);
		known = found(e, gres != NULL) != 0;
	}
	nss_in_check--;
	if (known)
		return true;
	if (!dir || dir[0] != '/')
		dir = "/etc";
	for (int i = 0; i < 2; i++) {
		int n = snprintf(path, sizeof(path), "%s/%s", dir, i ? "subgid" : "subuid");

		if (n < 0 || (size_t)n >= sizeof(path) || ts_nsscache_subid_has(path, uid))
			return true;
	}
	return false;
}

