/* SPDX-License-Identifier: MIT */
/*
 * Attacks on the NSS namespace (issue 15 §2, §3), against the real test IdP
 * and the real tokenseal-broker in exec mode; the host's other NSS sources
 * are nss_wrapper's passwd and group files, for the broker (its own
 * getpwnam/getgrnam) and for getent/id, which also load the real
 * libnss_tokenseal.so.2. nss_resolve_unknown is the pattern the docs used
 * to recommend, [a-z][a-z0-9-]{1,31}, which matches every system name.
 *   - identity-provider users sudo, admin, wheel, postgres (the built-in
 *     list), root (a local account, uid 0) and devops (a local group) never
 *     resolve through the module and their sign-in is refused with a
 *     message naming the clash;
 *   - appsvc resolves and signs in, then a package creates a local appsvc
 *     (system user and group): the cache's appsvc stops resolving by name,
 *     uid and gid, and its next sign-in is refused;
 *   - ext-ben resolves, then a local group ext-ben appears: it stops
 *     resolving at the next lookup, its sign-in is refused;
 *   - uid pinning: ext-zed is shown uid X; once X is taken (a squatter in
 *     the cache) ext-zed resolves to nothing (never another uid) and its
 *     sign-in is refused naming X and the holder;
 *   - a uid another source or a subordinate id range holds is never shown
 *     and never signed in with (ext-cal);
 *   - `getent group` and `id` show no privileged or local group name for
 *     any cache user.
 * Needs root (exec mode) and nss_wrapper; SKIPPED otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nss_update.h"
#include "ts_client.h"
#include "ts_config.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_mem.h"
#include "ts_nsscache.h"
#include "ts_test.h"
#include "ts_test_conv.h"

#define UID_MIN 3000000u
#define UID_MAX 3099999u

static struct ts_idp idp;
static const char *broker, *module_so, *wrapper_so;
static char cfg[700], cache[800], logfile[700], dbg[800], wpasswd[700], wgroup[700],
    subid[700];

static int login(const char *user, char *msg, size_t msglen)
{
	struct ts_client_opts o = {.broker_path = dbg, .config_path = cfg};
	struct ts_client_request rq = {
	    .type = TS_MSG_LOGIN, .user = user, .service = "test", .method = "password"};
	struct ts_conv cv = TS_TEST_PASSWORD_CONV("nss-pw");
	struct ts_client_result res = {0};
	int r, code;

	r = ts_client_call(&o, &rq, &cv, &res);
	CHECK_INT(r, 0);
	if (r < 0)
		return r;
	fprintf(stderr, "   [%s] code %d: %s\n", user, res.code, res.message);
	snprintf(msg, msglen, "%s", res.message);
	code = res.code;
	ts_client_result_clear(&res);
	return code;
}

/* `getent DB KEY` (KEY NULL: enumerate) or `id KEY` (db "id") under
 * nss_wrapper with the real module: exit status, output in out. */
static int run_nss(const char *db, const char *key, char *out, size_t outlen)
{
	char envs[7][900];
	const char *envp[8];
	const char *id_argv[] = {"/usr/bin/id", key, NULL};
	const char *getent_argv[] = {"/usr/bin/getent", db, key, NULL};

	snprintf(envs[0], sizeof(envs[0]), "LD_PRELOAD=%s", wrapper_so);
	snprintf(envs[1], sizeof(envs[1]), "NSS_WRAPPER_PASSWD=%s", wpasswd);
	snprintf(envs[2], sizeof(envs[2]), "NSS_WRAPPER_GROUP=%s", wgroup);
	snprintf(envs[3], sizeof(envs[3]), "NSS_WRAPPER_MODULE_SO_PATH=%s", module_so);
	snprintf(envs[4], sizeof(envs[4]), "NSS_WRAPPER_MODULE_FN_PREFIX=tokenseal");
	snprintf(envs[5], sizeof(envs[5]), "TOKENSEAL_NSS_CACHE=%s", cache);
	snprintf(envs[6], sizeof(envs[6]), "TOKENSEAL_NSS_SUBID_DIR=%s", subid);
	for (int i = 0; i < 7; i++)
		envp[i] = envs[i];
	envp[7] = NULL;
	/* KEY NULL: getent enumerates (argv ends at the key) */
	return ts_test_run_capture(!strcmp(db, "id") ? id_argv : getent_argv, envp, out, outlen);
}

static uint32_t name_uid(const char *name)
{
	char key[300];

	snprintf(key, sizeof(key), "name:%s", name);
	return ts_nsscache_hash_uid(idp.issuer, key, UID_MIN, UID_MAX);
}

static void append(const char *path, const char *line)
{
	FILE *f = fopen(path, "a");

	CHECK(f != NULL);
	if (f) {
		fputs(line, f);
		CHECK(fclose(f) == 0);
	}
}

/* The good case first: writes the cache (which carries the pattern). */
static void test_idp_user_ok(void)
{
	char msg[600], line[1024], want[300];
	uint32_t uid = name_uid("ext-amy");

	CHECK_INT(run_nss("passwd", "ext-amy", line, sizeof(line)), 2); /* no cache yet */
	CHECK_INT(login("ext-amy", msg, sizeof(msg)), 0);
	snprintf(want, sizeof(want), "ext-amy:*:%u:%u:Amy Outsider:", (unsigned)uid, (unsigned)uid);
	CHECK_INT(run_nss("passwd", "ext-amy", line, sizeof(line)), 0);
	CHECK_MSG(strncmp(line, want, strlen(want)) == 0, "%s", line);
	/* the pattern is live: an unseen name resolves */
	CHECK_INT(run_nss("passwd", "ext-zed", line, sizeof(line)), 0);
}

/* Reserved names, a local account's name, a local group's name. */
static void test_privileged_names_refused(void)
{
	static const char *const reserved[] = {"sudo", "admin", "wheel", "postgres"};
	char msg[600], line[1024], want[300];

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		CHECK_MSG(run_nss("passwd", reserved[i], line, sizeof(line)) == 2 || !line[0] ||
		              strstr(line, ":3") == NULL,
		          "%s resolves: %s", reserved[i], line);
		CHECK_INT(login(reserved[i], msg, sizeof(msg)), TS_E_NOT_SERVED);
		snprintf(want, sizeof(want),
		         "the name %s is on tokenseal's built-in list of system and privileged names",
		         reserved[i]);
		CHECK_MSG(strstr(msg, want), "%s: %s", reserved[i], msg);
	}
	/* sudo is a local group here: no tokenseal group of that name either */
	CHECK_INT(run_nss("group", "sudo", line, sizeof(line)), 0);
	CHECK_STR(line, "sudo:x:27:");
	/* root: the local account, refused as such */
	CHECK_INT(login("root", msg, sizeof(msg)), TS_E_NOT_SERVED);
	CHECK_MSG(strstr(msg, "root (uid 0) is outside min_uid"), "%s", msg);
	CHECK_INT(run_nss("passwd", "root", line, sizeof(line)), 0);
	CHECK_STR(line, "root:x:0:0:root:/root:/bin/sh");
	/* devops: a local group, not on any list */
	CHECK_INT(run_nss("passwd", "devops", line, sizeof(line)), 2);
	CHECK_INT(login("devops", msg, sizeof(msg)), TS_E_NOT_SERVED);
	CHECK_MSG(strstr(msg, "the name devops is already a group on this host (gid 1500"), "%s",
	          msg);
	CHECK_INT(run_nss("group", "devops", line, sizeof(line)), 0);
	CHECK_STR(line, "devops:x:1500:");
}

/* A name the cache resolved (and signed in) before a package created it. */
static void test_created_locally_later(void)
{
	char msg[600], line[1024], want[300], key[32];
	uint32_t uid = name_uid("appsvc");

	snprintf(want, sizeof(want), "appsvc:*:%u:%u::", (unsigned)uid, (unsigned)uid);
	CHECK_INT(run_nss("passwd", "appsvc", line, sizeof(line)), 0);
	CHECK_MSG(strncmp(line, want, strlen(want)) == 0, "resolved before: %s", line);
	CHECK_INT(login("appsvc", msg, sizeof(msg)), 0);
	snprintf(key, sizeof(key), "%u", (unsigned)uid);
	CHECK_INT(run_nss("passwd", key, line, sizeof(line)), 0);
	CHECK_MSG(strncmp(line, "appsvc:*:", 9) == 0, "%s", line);
	CHECK_INT(run_nss("group", key, line, sizeof(line)), 0);
	snprintf(want, sizeof(want), "appsvc:*:%u:", (unsigned)uid);
	CHECK_STR(line, want);

	/* `adduser --system appsvc`: a local user and group */
	append(wpasswd, "appsvc:x:998:998::/var/lib/appsvc:/usr/sbin/nologin\n");
	append(wgroup, "appsvc:x:998:\n");
	CHECK_INT(run_nss("passwd", key, line, sizeof(line)), 2);
	CHECK_INT(run_nss("group", key, line, sizeof(line)), 2);
	CHECK_INT(run_nss("passwd", "appsvc", line, sizeof(line)), 0);
	CHECK_STR(line, "appsvc:x:998:998::/var/lib/appsvc:/usr/sbin/nologin");
	CHECK_INT(login("appsvc", msg, sizeof(msg)), TS_E_NOT_SERVED);
	CHECK_MSG(strstr(msg, "appsvc (uid 998) is outside min_uid"), "%s", msg);

	/* resolved, never signed in, then a local group of that name */
	CHECK_INT(run_nss("passwd", "ext-ben", line, sizeof(line)), 0);
	append(wgroup, "ext-ben:x:1600:\n");
	CHECK_INT(run_nss("passwd", "ext-ben", line, sizeof(line)), 2);
	CHECK_INT(login("ext-ben", msg, sizeof(msg)), TS_E_NOT_SERVED);
	CHECK_MSG(strstr(msg, "the name ext-ben is already a group on this host (gid 1600"), "%s",
	          msg);
}

/* The uid shown is the uid signed in with, or the sign-in is refused. */
static void test_uid_pinned(void)
{
	struct ts_nsscache_settings s;
	struct ts_nsscache *c = NULL;
	char msg[600], line[1024], want[400];
	uint32_t x = name_uid("ext-zed"), got = 0;
	int lock = -1;

	snprintf(want, sizeof(want), "ext-zed:*:%u:", (unsigned)x);
	CHECK_INT(run_nss("passwd", "ext-zed", line, sizeof(line)), 0);
	CHECK_MSG(strncmp(line, want, strlen(want)) == 0, "shown: %s", line);
	/* someone else takes X meanwhile (a squatter: a range of one uid) */
	s = (struct ts_nsscache_settings){.issuer = idp.issuer,
	                                  .uid_min = x,
	                                  .uid_max = x,
	                                  .home_template = "/home/%u",
	                                  .shell = "/bin/sh"};
	CHECK_INT(ts_nsscache_lock(cache, 5000, &lock), 0);
	CHECK_INT(ts_nsscache_load(&c, cache, &s), 0);
	CHECK_INT(ts_nsscache_upsert(c, "sub-squatter", "squatter", NULL, &got), 0);
	CHECK_INT(got, x);
	CHECK_INT(ts_nsscache_save(c, cache), 0);
	ts_nsscache_free(c);
	close(lock);
	/* ext-zed is shown nothing now (never X + 1), and cannot sign in */
	CHECK_INT(login("ext-zed", msg, sizeof(msg)), TS_E_NOT_SERVED);
	snprintf(want, sizeof(want),
	         "ext-zed resolves through nss_resolve_unknown to uid %u, which the cache user "
	         "squatter holds",
	         (unsigned)x);
	CHECK_MSG(strstr(msg, want), "%s", msg);
	CHECK_INT(run_nss("passwd", "ext-zed", line, sizeof(line)), 2);
}

/* Another source's uid, a subordinate id range: never shown, never used. */
static void test_uid_elsewhere(void)
{
	char msg[600], line[1024], want[400], path[800];
	uint32_t y = name_uid("ext-cal");

	CHECK_INT(run_nss("passwd", "ext-cal", line, sizeof(line)), 0);
	/* a container range in the module's /etc/subuid */
	snprintf(path, sizeof(path), "%s/subuid", subid);
	snprintf(want, sizeof(want), "someone:%u:65536\n", (unsigned)(y - 10));
	ts_test_write_file(path, want, strlen(want), 0644);
	CHECK_INT(run_nss("passwd", "ext-cal", line, sizeof(line)), 2);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(run_nss("passwd", "ext-cal", line, sizeof(line)), 0);
	/* ts_nsscache_subid_has (the broker's and the module's) reads it */
	snprintf(path, sizeof(path), "%s/subgid-test", subid);
	ts_test_write_file(path, want, strlen(want), 0644);
	CHECK(ts_nsscache_subid_has(path, y));
	CHECK(!ts_nsscache_subid_has(path, y + 65536));
	/* a local user (another source) holds the uid: both refuse */
	snprintf(want, sizeof(want), "calsvc:x:%u:100::/:/bin/sh\n", (unsigned)y);
	append(wpasswd, want);
	CHECK_INT(run_nss("passwd", "ext-cal", line, sizeof(line)), 2);
	CHECK_INT(login("ext-cal", msg, sizeof(msg)), TS_E_NOT_SERVED);
	snprintf(want, sizeof(want), "ext-cal resolves through nss_resolve_unknown to uid %u, but uid "
	                             "%u already belongs to another NSS source",
	         (unsigned)y, (unsigned)y);
	CHECK_MSG(strstr(msg, want), "%s", msg);
}

/* `getent group` and `id`: no cache user is in a privileged or local group,
 * and no group of the cache carries such a name. */
static void test_no_privileged_group(void)
{
	char out[8192], want[400], *save = NULL;
	uint32_t amy = name_uid("ext-amy");

	CHECK_INT(run_nss("group", NULL, out, sizeof(out)), 0);
	fprintf(stderr, "   getent group:\n%s\n", out);
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[300];
		unsigned gid = 0;
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		CHECK(c1 && c2);
		if (!c1 || !c2)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(c1 - l), l);
		gid = (unsigned)strtoul(c2 + 1, NULL, 10);
		if (gid >= UID_MIN && gid <= UID_MAX)
			CHECK_MSG(!ts_nsscache_name_reserved(name, NULL) && strcmp(name, "devops") &&
			              strcmp(name, "appsvc") && strcmp(name, "ext-ben"),
			          "the cache publishes group %s", name);
	}
	CHECK_INT(run_nss("id", "ext-amy", out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "uid=%u(ext-amy) gid=%u(ext-amy) groups=%u(ext-amy)",
	         (unsigned)amy, (unsigned)amy, (unsigned)amy);
	CHECK_STR(out, want);
}

int main(int argc, char **argv)
{
	char extra[1200], p[800];

	if (argc < 4)
		TS_SKIP("usage: test_broker_nss_attack BROKER NSS-MODULE NSS-WRAPPER-LIB");
#if defined(__SANITIZE_ADDRESS__)
	TS_SKIP("the sanitizer build's libnss_tokenseal.so.2 cannot load into getent");
#endif
	if (getuid() != 0)
		TS_SKIP("needs root (the broker's exec mode serves root callers only)");
	if (!argv[3][0] || access(argv[3], R_OK) != 0)
		TS_SKIP("nss_wrapper not installed (libnss-wrapper)");
	if (access("/usr/bin/getent", X_OK) != 0 || access("/usr/bin/id", X_OK) != 0)
		TS_SKIP("/usr/bin/getent or /usr/bin/id missing");
	broker = argv[1];
	module_so = argv[2];
	wrapper_so = argv[3];
	CHECK(ts_idp_start(&idp, 3600) == 0);
	snprintf(logfile, sizeof(logfile), "%s/broker.log", ts_test_tmpdir());
	snprintf(cache, sizeof(cache), "%s/nss/users.cache", idp.dir);
	snprintf(wpasswd, sizeof(wpasswd), "%s/wrapper.passwd", ts_test_tmpdir());
	snprintf(wgroup, sizeof(wgroup), "%s/wrapper.group", ts_test_tmpdir());
	snprintf(subid, sizeof(subid), "%s/etc", ts_test_tmpdir());
	CHECK_INT(mkdir(subid, 0755), 0);
	snprintf(p, sizeof(p), "root:x:0:0:root:/root:/bin/sh\n");
	ts_test_write_file(wpasswd, p, strlen(p), 0644);
	snprintf(p, sizeof(p), "root:x:0:\nsudo:x:27:\ndevops:x:1500:\n");
	ts_test_write_file(wgroup, p, strlen(p), 0644);
	snprintf(cfg, sizeof(cfg), "%s/nss-attack.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "login_methods = password\nnss_uid_min = %u\nnss_uid_max = %u\n"
	         "nss_resolve_unknown = [a-z][a-z0-9-]{1,31}\n",
	         UID_MIN, UID_MAX);
	CHECK(ts_idp_write_config(&idp, cfg, "conf", extra) == 0);
	/* the broker sees the wrapper's passwd and group as the host's other
	 * NSS sources (files only: no module) */
	snprintf(dbg, sizeof(dbg), "%s/broker-nssw", ts_test_tmpdir());
	{
		FILE *f = fopen(dbg, "w");

		CHECK(f);
		fprintf(f,
		        "#!/bin/sh\nLD_PRELOAD='%s' NSS_WRAPPER_PASSWD='%s' NSS_WRAPPER_GROUP='%s' "
		        "exec '%s' --debug \"$@\" 2>>'%s'\n",
		        wrapper_so, wpasswd, wgroup, broker, logfile);
		CHECK(fclose(f) == 0);
		CHECK(chmod(dbg, 0755) == 0);
	}
	RUN(test_idp_user_ok);
	RUN(test_privileged_names_refused);
	RUN(test_created_locally_later);
	RUN(test_uid_pinned);
	RUN(test_uid_elsewhere);
	RUN(test_no_privileged_group);
	return ts_test_done();
}
