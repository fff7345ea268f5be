/* SPDX-License-Identifier: MIT */
/*
 * Identity provider groups as Linux groups (issue 16): ts_nss_record_groups
 * (the broker's entry point, called after every server answer) writes the
 * cache, and the real libnss_tokenseal.so.2 shows it: `id` and `getent
 * group` under nss_wrapper for the groups the cache publishes (nss_wrapper's
 * getgrouplist enumerates group members and never calls a module's
 * initgroups_dyn), and the module's _nss_tokenseal_initgroups_dyn called as
 * glibc calls it (dlopen) for everything initgroups gives, local groups
 * included. The host's other sources are nss_wrapper's
 * files: a local alice (uid 1001) and local groups sudo (27), devops (1500).
 *   - group_map = linux-admins = sudo, dev = developers: `id alice` shows
 *     sudo (27, the local group, through initgroups; /etc/group untouched)
 *     and developers (a cache group with a stored gid, alice a member);
 *   - the server drops linux-admins: the next call removes sudo; a
 *     needs-login publish of none removes every group;
 *   - an IdP-only user (ext-amy) gets the same groups; the gid of
 *     developers never changes;
 *   - nss_groups = all: a group named like a system group (staff, wheel)
 *     or a local group (devops) is never published under that name;
 *   - the same set again writes nothing (the file is not replaced);
 *   - size: 300 groups reach `id`; over 1024 are refused with a warning and
 *     change nothing;
 *   - a local account created later with a cache user's name gets none of
 *     the cache's groups.
 * Needs nss_wrapper (SKIPPED otherwise). Label attack: the privileged-name
 * cases are attacks.
 */
#include <dlfcn.h>
#include <errno.h>
#include <nss.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nss_update.h"
#include "ts_config.h"
#include "ts_nsscache.h"
#include "ts_test.h"

static char dir[300], cache[400], wpasswd[700], wgroup[700];
static const char *wrapper, *module;
static struct ts_config cfg;

/* `id NAME` or `getent group KEY` under nss_wrapper with the module. */
static int run(const char *what, const char *key, char *out, size_t outlen)
{
	char envs[6][900];
	const char *envp[7];
	const char *id_argv[] = {"/usr/bin/id", key, NULL};
	const char *getent_argv[] = {"/usr/bin/getent", "group", key, NULL};

	snprintf(envs[0], sizeof(envs[0]), "LD_PRELOAD=%s", wrapper);
	snprintf(envs[1], sizeof(envs[1]), "NSS_WRAPPER_PASSWD=%s", wpasswd);
	snprintf(envs[2], sizeof(envs[2]), "NSS_WRAPPER_GROUP=%s", wgroup);
	snprintf(envs[3], sizeof(envs[3]), "NSS_WRAPPER_MODULE_SO_PATH=%s", module);
	snprintf(envs[4], sizeof(envs[4]), "NSS_WRAPPER_MODULE_FN_PREFIX=tokenseal");
	snprintf(envs[5], sizeof(envs[5]), "TOKENSEAL_NSS_CACHE=%s", cache);
	for (int i = 0; i < 6; i++)
		envp[i] = envs[i];
	envp[6] = NULL;
	return ts_test_run_capture(!strcmp(what, "id") ? id_argv : getent_argv, envp, out, outlen);
}

typedef enum nss_status (*initgroups_fn)(const char *, gid_t, long *, long *, gid_t **, long,
                                         int *);
static initgroups_fn initgroups_dyn;

static int cmp_gid(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
	return x < y ? -1 : x > y;
}

/* What the module's initgroups_dyn adds for user (primary gid given), as
 * "gid,gid,..." sorted; "NOTFOUND" when it does not know the user. */
static void initgroups_of(const char *user, gid_t primary, char *out, size_t outlen)
{
	long start = 0, size = 2;
	gid_t *g = calloc(2, sizeof(gid_t));
	int err = 0;
	size_t n = 0;

	CHECK(g != NULL);
	if (initgroups_dyn(user, primary, &start, &size, &g, -1, &err) != NSS_STATUS_SUCCESS) {
		snprintf(out, outlen, "NOTFOUND");
		free(g);
		return;
	}
	qsort(g, (size_t)start, sizeof(gid_t), cmp_gid);
	out[0] = '\0';
	for (long i = 0; i < start; i++)
		n += (size_t)snprintf(out + n, n < outlen ? outlen - n : 0, "%s%u", i ? "," : "",
		                      (unsigned)g[i]);
	free(g);
}

static int record(const char *user, const char *const *groups, size_t n)
{
	return ts_nss_record_groups(&cfg, user, groups, n);
}

/* the gid the cache gave a published group */
static unsigned cache_gid(const char *name)
{
	char line[4096];

	if (run("group", name, line, sizeof(line)) != 0)
		return 0;
	return (unsigned)strtoul(strchr(strchr(line, ':') + 1, ':') + 1, NULL, 10);
}

static void test_mapped_local_user(void)
{
	static const char *const both[] = {"linux-admins", "dev", "unmapped"};
	static const char *const dev_only[] = {"dev"};
	char out[4096], want[300];
	unsigned dg;

	CHECK_INT(run("id", "alice", out, sizeof(out)), 0);
	CHECK_STR(out, "uid=1001(alice) gid=1001(alice) groups=1001(alice)");
	CHECK_INT(record("alice", both, 3), 0);
	dg = cache_gid("developers");
	CHECK_MSG(dg >= cfg.nss_uid_min && dg <= cfg.nss_uid_max, "developers has gid %u", dg);
	initgroups_of("alice", 1001, out, sizeof(out));
	snprintf(want, sizeof(want), "27,%u", dg);
	CHECK_STR(out, want);
	CHECK_INT(run("id", "alice", out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "groups=1001(alice),%u(developers)", dg);
	CHECK_MSG(strstr(out, want), "%s", out);
	/* the local group itself is not changed: no member added to it */
	CHECK_INT(run("group", "sudo", out, sizeof(out)), 0);
	CHECK_STR(out, "sudo:x:27:");
	snprintf(want, sizeof(want), "developers:*:%u:alice", dg);
	CHECK_INT(run("group", "developers", out, sizeof(out)), 0);
	CHECK_STR(out, want);

	/* the server dropped linux-admins: the next answer removes sudo */
	CHECK_INT(record("alice", dev_only, 1), 0);
	initgroups_of("alice", 1001, out, sizeof(out));
	snprintf(want, sizeof(want), "%u", dg);
	CHECK_STR(out, want);
	/* needs-login / signed out: none */
	CHECK_INT(record("alice", NULL, 0), 0);
	initgroups_of("alice", 1001, out, sizeof(out));
	CHECK_STR(out, "");
	CHECK_INT(run("id", "alice", out, sizeof(out)), 0);
	CHECK_STR(out, "uid=1001(alice) gid=1001(alice) groups=1001(alice)");
	/* the group keeps its gid, now without members */
	CHECK_INT(cache_gid("developers"), dg);
	/* back again: the same gid, never rehashed */
	CHECK_INT(record("alice", both, 3), 0);
	CHECK_INT(cache_gid("developers"), dg);
}

static void test_idp_user(void)
{
	static const char *const dev[] = {"dev", "linux-admins"};
	char out[4096], want[400];
	unsigned dg = cache_gid("developers");
	uint32_t uid = 0;

	CHECK_INT(ts_nss_record_login(&cfg, "ext-amy", "sub-ext-amy", "Amy"), 0);
	CHECK_INT(ts_nss_lookup_uid(&cfg, "ext-amy", &uid), 0);
	CHECK_INT(record("ext-amy", dev, 2), 0);
	initgroups_of("ext-amy", (gid_t)uid, out, sizeof(out));
	snprintf(want, sizeof(want), "27,%u", dg);
	CHECK_STR(out, want);
	CHECK_INT(run("id", "ext-amy", out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "uid=%u(ext-amy) gid=%u(ext-amy) groups=%u(ext-amy),%u(developers)",
	         (unsigned)uid, (unsigned)uid, (unsigned)uid, dg);
	CHECK_STR(out, want);
	CHECK_INT(run("group", "developers", out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "developers:*:%u:", dg);
	CHECK_MSG(strncmp(out, want, strlen(want)) == 0 && strstr(out, "ext-amy") &&
	              strstr(out, "alice"),
	          "%s", out);
}

/* nss_groups = all: names of local or system groups are never taken. */
static void test_all_never_privileged(void)
{
	static const char *const g[] = {"staff", "wheel", "devops", "sudo", "root",
	                                "systemd-journal", "research", "bad:name", "Ops Team"};
	char out[4096], want[400];
	unsigned rg;

	cfg.nss_groups = TS_NSS_GROUPS_ALL;
	CHECK_INT(record("ext-amy", g, 9), 0);
	rg = cache_gid("research");
	CHECK(rg != 0);
	{ /* initgroups: research, and sudo only through group_map (unmapped
	   * here: "sudo" from the server is not the local sudo) */
		uint32_t uid = 0;
		CHECK_INT(ts_nss_lookup_uid(&cfg, "ext-amy", &uid), 0);
		initgroups_of("ext-amy", (gid_t)uid, out, sizeof(out));
		snprintf(want, sizeof(want), "%u", rg);
		CHECK_STR(out, want);
	}
	CHECK_INT(run("id", "ext-amy", out, sizeof(out)), 0);
	snprintf(want, sizeof(want), ",%u(research)", rg);
	CHECK_MSG(strstr(out, want) != NULL, "%s", out);
	for (size_t i = 0; i < 6; i++) {
		char name[64];
		snprintf(name, sizeof(name), "(%s)", g[i]);
		CHECK_MSG(strstr(out, name) == NULL, "ext-amy is in %s: %s", g[i], out);
	}
	/* the local groups keep their own name and members */
	CHECK_INT(run("group", "devops", out, sizeof(out)), 0);
	CHECK_STR(out, "devops:x:1500:");
	CHECK(run("group", "staff", out, sizeof(out)) == 2);
	CHECK(run("group", "wheel", out, sizeof(out)) == 2);
	/* none: every group goes at the next answer */
	cfg.nss_groups = TS_NSS_GROUPS_NONE;
	CHECK_INT(record("ext-amy", g, 9), 0);
	CHECK_INT(run("id", "ext-amy", out, sizeof(out)), 0);
	CHECK_MSG(strstr(out, "research") == NULL && strstr(out, "sudo") == NULL, "%s", out);
	cfg.nss_groups = TS_NSS_GROUPS_MAPPED;
}

/* The same set again: no write (the file keeps its inode). */
static void test_no_write_when_same(void)
{
	static const char *const dev[] = {"dev"};
	struct stat a, b;

	CHECK_INT(record("alice", dev, 1), 0);
	CHECK_INT(stat(cache, &a), 0);
	for (int i = 0; i < 50; i++)
		CHECK_INT(record("alice", dev, 1), 0);
	CHECK_INT(stat(cache, &b), 0);
	CHECK_MSG(a.st_ino == b.st_ino, "the cache was rewritten for the same set");
}

static void test_size_bounds(void)
{
	static char names[1100][16];
	static const char *ptr[1100];
	char out[65536];
	int groups = 0;

	for (int i = 0; i < 1100; i++) {
		snprintf(names[i], sizeof(names[i]), "g%d", i);
		ptr[i] = names[i];
	}
	cfg.nss_groups = TS_NSS_GROUPS_ALL;
	CHECK_INT(record("ext-amy", ptr, 300), 0);
	CHECK_INT(run("id", "ext-amy", out, sizeof(out)), 0);
	for (char *p = out; (p = strstr(p, "(g")) != NULL; p++)
		groups++;
	CHECK_INT(groups, 300);
	/* over the bound: refused, nothing changed */
	CHECK(record("ext-amy", ptr, 1100) == -E2BIG);
	CHECK_INT(run("id", "ext-amy", out, sizeof(out)), 0);
	groups = 0;
	for (char *p = out; (p = strstr(p, "(g")) != NULL; p++)
		groups++;
	CHECK_INT(groups, 300);
	cfg.nss_groups = TS_NSS_GROUPS_MAPPED;
}

/* A local account created with a cache user's name: the cache's groups
 * never reach it through initgroups. */
static void test_local_created_later(void)
{
	static const char *const dev[] = {"dev"};
	char out[4096];
	uint32_t uid = 0;
	FILE *f;

	CHECK_INT(record("ext-amy", dev, 1), 0);
	CHECK_INT(ts_nss_lookup_uid(&cfg, "ext-amy", &uid), 0);
	initgroups_of("ext-amy", (gid_t)uid, out, sizeof(out));
	CHECK_MSG(strcmp(out, "NOTFOUND") != 0 && out[0], "before: %s", out);
	f = fopen(wpasswd, "a");
	CHECK(f != NULL);
	if (f) {
		fputs("ext-amy:x:1002:1002::/home/ext-amy:/bin/sh\n", f);
		CHECK(fclose(f) == 0);
	}
	{ /* nss_wrapper reloads a file whose mtime (seconds) changed */
		struct timespec ts[2] = {{time(NULL) + 5, 0}, {time(NULL) + 5, 0}};
		CHECK_INT(utimensat(AT_FDCWD, wpasswd, ts, 0), 0);
	}
	initgroups_of("ext-amy", 1002, out, sizeof(out));
	CHECK_STR(out, "NOTFOUND");
}

int main(int argc, char **argv)
{
	char p[400];

	if (argc < 3 || !argv[1][0] || access(argv[1], R_OK) != 0)
		TS_SKIP("nss_wrapper not installed (libnss-wrapper)");
#if defined(__SANITIZE_ADDRESS__)
	TS_SKIP("the sanitizer build's libnss_tokenseal.so.2 cannot load into id");
#endif
	if (access("/usr/bin/id", X_OK) != 0 || access("/usr/bin/getent", X_OK) != 0)
		TS_SKIP("/usr/bin/id or /usr/bin/getent missing");
	wrapper = argv[1];
	module = argv[2];
	{
		void *h = dlopen(module, RTLD_NOW | RTLD_LOCAL);

		CHECK_MSG(h != NULL, "dlopen: %s", dlerror());
		if (!h)
			return ts_test_done();
		initgroups_dyn = (initgroups_fn)dlsym(h, "_nss_tokenseal_initgroups_dyn");
		CHECK(initgroups_dyn != NULL);
	}
	/* this process's own lookups (the broker code) see the files only */
	snprintf(dir, sizeof(dir), "%s", ts_test_tmpdir());
	snprintf(cache, sizeof(cache), "%s/nss/users.cache", dir);
	snprintf(wpasswd, sizeof(wpasswd), "%s", getenv("NSS_WRAPPER_PASSWD"));
	snprintf(wgroup, sizeof(wgroup), "%s", getenv("NSS_WRAPPER_GROUP"));
	snprintf(p, sizeof(p), "root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n");
	ts_test_write_file(wpasswd, p, strlen(p), 0644);
	snprintf(p, sizeof(p), "root:x:0:\nsudo:x:27:\ndevops:x:1500:\nalice:x:1001:\n");
	ts_test_write_file(wgroup, p, strlen(p), 0644);
	ts_config_defaults(&cfg);
	snprintf(cfg.issuer, sizeof(cfg.issuer), "https://idp.example");
	snprintf(cfg.nss_cache, sizeof(cfg.nss_cache), "%s", cache);
	setenv(TS_NSSCACHE_ENV, cache, 1); /* for the dlopen'ed module */
	cfg.nss_uid_min = 3000000;
	cfg.nss_uid_max = 3099999;
	snprintf(cfg.nss_resolve_unknown, sizeof(cfg.nss_resolve_unknown), "ext-[a-z]+");
	snprintf(cfg.group_map, sizeof(cfg.group_map), "linux-admins = sudo, dev = developers");
	cfg.nss_groups = TS_NSS_GROUPS_MAPPED;
	RUN(test_mapped_local_user);
	RUN(test_idp_user);
	RUN(test_all_never_privileged);
	RUN(test_no_write_when_same);
	RUN(test_size_bounds);
	RUN(test_local_created_later);
	return ts_test_done();
}
