/* SPDX-License-Identifier: MIT */
/*
 * The exec-mode privilege boundary of tokenseal-broker (DESIGN.md §2: no
 * setgid broker; exec mode for root callers only), against the real test
 * IdP. Runs as root and plays each caller shape itself:
 *   - a non-root uid execs the broker: refused with one line, exit 2, and
 *     no file touched;
 *   - a root caller (ruid 0) asks for alice with --config: honoured;
 *   - sudo's shape (ruid alice, euid 0) asks for bob with --config:
 *     honoured, and bob may be asked for (authorised on euid, not ruid);
 *   - a caller that leaves RLIMIT_FSIZE tiny and SIGXFSZ ignored still gets
 *     its record stored intact (the broker resets both before storage).
 * Each case would fail without its fix.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ks.h"
#include "lifecycle.h"
#include "ts_client.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_mem.h"
#include "ts_test.h"
#include "ts_test_conv.h"

#define ROOT_ONLY                                                                              \
	"tokenseal-broker: exec mode serves root callers only (pam_tokenseal inside sshd, "    \
	"sudo, su, login); other users reach tokenseal through the tokenseal-broker service\n"

static struct ts_idp idp;
static char broker_bin[512], self_bin[4096], cfg[700], ksdir[700], logfile[700], dbg[800];

static uid_t uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);

	CHECK(pw);
	return pw->pw_uid;
}

static gid_t gid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);

	CHECK(pw);
	return pw->pw_gid;
}

static int call(const char *broker, const char *config, enum ts_msg_type type,
                const char *user, const char *password, struct ts_client_result *res)
{
	struct ts_client_opts o = {.broker_path = broker, .config_path = config};
	struct ts_client_request rq = {.type = type,
	                               .user = user,
	                               .service = "test",
	                               .flags = password ? 0 : TS_FLAG_NONINTERACTIVE,
	                               .method = password ? "password" : NULL};
	struct ts_conv cv = TS_TEST_PASSWORD_CONV(password);
	int r;

	memset(res, 0, sizeof(*res));
	r = ts_client_call(&o, &rq, password ? &cv : NULL, res);
	if (r < 0)
		return r;
	fprintf(stderr, "   [%s] code %d (%s): %s\n", user, res->code, ts_strerror(res->code),
	        res->message);
	if (res->token)
		ts_leak_remember(res->token);
	return 0;
}

/* A non-root uid runs the broker: exactly one line on stderr, exit 2, and
 * the keystore the config names is not even created. */
static void test_nonroot_refused(void)
{
	int in[2], err[2], st = 0;
	char buf[1024];
	ssize_t n, got = 0;
	pid_t pid;
	struct stat sb;

	CHECK_MSG(stat(ksdir, &sb) != 0, "no keystore yet at %s", ksdir);
	CHECK(pipe(in) == 0 && pipe(err) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		gid_t g = gid_of("alice");
		uid_t u = uid_of("alice");

		dup2(in[0], STDIN_FILENO);
		dup2(err[1], STDERR_FILENO);
		close(in[1]);
		close(err[0]);
		if (setgroups(0, NULL) < 0 || setresgid(g, g, g) < 0 || setresuid(u, u, u) < 0)
			_exit(100);
		execl(broker_bin, "tokenseal-broker", "--config", cfg, (char *)NULL);
		_exit(101);
	}
	close(in[0]);
	close(err[1]);
	while ((n = read(err[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	close(err[0]);
	close(in[1]);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st), "the broker exited");
	CHECK_INT(WEXITSTATUS(st), 2);
	CHECK_STR(buf, ROOT_ONLY);
	CHECK_MSG(stat(ksdir, &sb) != 0, "the refused broker touched no file (%s)", ksdir);
}

/* A root caller (ruid 0) may ask for any local user, and --config is read. */
static void test_root_caller(void)
{
	struct ts_client_result res;
	char want[600];

	CHECK_INT(call(broker_bin, cfg, TS_MSG_STATUS, "alice", NULL, &res), 0);
	CHECK_INT(res.code, 0);
	snprintf(want, sizeof(want), "alice is not signed in at %s", idp.issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
}

/* sudo's shape: the host process is setuid root (ruid = the invoking user,
 * euid 0). The broker reads the --config file given (the module's config=)
 * and may act for another user (su bob run by alice). */
static void test_sudo_shape(void)
{
	pid_t pid = fork();
	int st = 0;

	CHECK(pid >= 0);
	if (pid == 0) {
		struct ts_client_result res;
		char want[600];

		if (setresuid(uid_of("alice"), 0, 0) < 0)
			_exit(100);
		if (call(broker_bin, cfg, TS_MSG_STATUS, "bob", NULL, &res) < 0)
			_exit(101);
		snprintf(want, sizeof(want), "bob is not signed in at %s", idp.issuer);
		_exit(res.code == 0 && strcmp(res.message, want) == 0 ? 0 : 1);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	          "ruid alice, euid 0: config honoured, bob served (status %d)",
	          WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* The caller leaves RLIMIT_FSIZE (soft) at 16 bytes and SIGXFSZ ignored (a write
 * past it would just come up short with EFBIG): the broker resets both, so
 * the record is stored whole and works. */
static void test_fsize_reset(void)
{
	struct ts_client_result res;
	char wrapper[800], want[600];
	FILE *f;

	snprintf(wrapper, sizeof(wrapper), "%s/fsize-wrapper", ts_test_tmpdir());
	f = fopen(wrapper, "w");
	CHECK(f);
	fprintf(f, "#!/bin/sh\nexec '%s' --fsize-wrap '%s' --debug \"$@\" 2>>'%s'\n", self_bin,
	        broker_bin, logfile);
	CHECK(fclose(f) == 0);
	CHECK(chmod(wrapper, 0755) == 0);

	CHECK_INT(call(wrapper, cfg, TS_MSG_LOGIN, "bob", "bob-pw", &res), 0);
	CHECK_INT(res.code, 0);
	snprintf(want, sizeof(want), "signed in to %s as bob (password)", idp.issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
}

static void test_fsize_check(void)
{
	struct ts_client_result res;
	char want[600];

	CHECK_INT(call(broker_bin, cfg, TS_MSG_REVALIDATE, "bob", NULL, &res), 0);
	CHECK_INT(res.code, 0);
	snprintf(want, sizeof(want), "signed in at %s; confirmed by the server", idp.issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
}

static void config_with(char *path, size_t len, const char *name, const char *more)
{
	char extra[1500];

	snprintf(path, len, "%s/%s.conf", idp.dir, name);
	snprintf(extra, sizeof(extra), "keystore_dir = %s\nlogin_methods = password, device\n%s",
	         ksdir, more);
	CHECK(ts_idp_write_config(&idp, path, "conf", extra) == 0);
}

static void record_of(char *out, size_t len, const char *user)
{
	snprintf(out, len, "%s/users/%u.seal", ksdir, (unsigned)uid_of(user));
}

/* uids below min_uid (default 1000: root, system accounts) are refused
 * before the keystore is touched, unless min_uid allows them. */
static void test_min_uid(void)
{
	struct ts_client_result res;
	char c0[800], c2[800], want[600];

	CHECK_INT(call(broker_bin, cfg, TS_MSG_STATUS, "root", NULL, &res), 0);
	CHECK_INT(res.code, TS_E_NOT_SERVED);
	CHECK_STR(res.message, "root (uid 0) is outside min_uid 1000 .. max_uid 60000: tokenseal "
	                       "does not sign in root, system accounts or nobody unless min_uid "
	                       "and max_uid allow them");
	ts_client_result_clear(&res);
	config_with(c2, sizeof(c2), "minuid-high", "min_uid = 1002\n");
	CHECK_INT(call(broker_bin, c2, TS_MSG_STATUS, "alice", NULL, &res), 0);
	CHECK_INT(res.code, TS_E_NOT_SERVED);
	CHECK_STR(res.message, "alice (uid 1001) is outside min_uid 1002 .. max_uid 60000: "
	                       "tokenseal does not sign in root, system accounts or nobody unless "
	                       "min_uid and max_uid allow them");
	ts_client_result_clear(&res);
	config_with(c0, sizeof(c0), "minuid-zero", "min_uid = 0\n");
	CHECK_INT(call(broker_bin, c0, TS_MSG_STATUS, "root", NULL, &res), 0);
	CHECK_INT(res.code, 0);
	snprintf(want, sizeof(want), "root is not signed in at %s", idp.issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
}

/* A key file that cannot be loaded while a record exists: a configuration
 * error naming key_file, and neither the record nor the key is changed.
 * (A missing key is refused the same way by ks_init once records exist.) */
static void test_key_unloadable(void)
{
	struct ts_client_result res;
	char keyfile[800], rec[800], want[1200];
	char *key, *rb, *ra, *ka;
	size_t kl = 0, rbl = 0, ral = 0, kal = 0;

	snprintf(keyfile, sizeof(keyfile), "%s/keystore.key", idp.dir);
	record_of(rec, sizeof(rec), "bob");
	key = ts_test_read_file(keyfile, &kl);
	rb = ts_test_read_file(rec, &rbl);
	ts_test_write_file(keyfile, "not a key", 9, 0600);
	CHECK_INT(call(broker_bin, cfg, TS_MSG_REVALIDATE, "bob", NULL, &res), 0);
	CHECK_INT(res.code, TS_E_CONFIG);
	snprintf(want, sizeof(want),
	         "the keystore key %s is missing or unreadable while records exist; nothing "
	         "was changed; ask the administrator",
	         keyfile);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
	ra = ts_test_read_file(rec, &ral);
	ka = ts_test_read_file(keyfile, &kal);
	CHECK_MSG(ral == rbl && memcmp(ra, rb, ral) == 0, "the record is unchanged");
	CHECK_MSG(kal == 9 && memcmp(ka, "not a key", 9) == 0, "the key file is unchanged");
	free(ra);
	free(ka);
	/* the administrator puts the key back: the record works again */
	ts_test_write_file(keyfile, key, kl, 0600);
	CHECK_INT(call(broker_bin, cfg, TS_MSG_REVALIDATE, "bob", NULL, &res), 0);
	CHECK_INT(res.code, 0);
	ts_client_result_clear(&res);
	free(key);
	free(rb);
}

/* The user's lock is waited for as long as a holder can need it
 * (3 x http_timeout + 5 s), not the keystore's 10 s default: with
 * http_timeout = 20 a broker still waits after 15 s, then succeeds. */
static void test_lock_wait(void)
{
	struct ks *ks = NULL;
	struct ks_lock *l = NULL;
	struct ks_open_opts ko = {0};
	char c20[800], keyfile[800];
	pid_t pid;
	int st = 0;

	config_with(c20, sizeof(c20), "http20", "http_timeout = 20\n");
	snprintf(keyfile, sizeof(keyfile), "%s/keystore.key", idp.dir);
	CHECK(ks_open(&ks, ksdir, keyfile, &ko) == 0);
	CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "bob"), 0);
	CHECK(ks_lock(ks, uid_of("bob"), &l) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct ts_client_result res;

		if (call(broker_bin, c20, TS_MSG_REVALIDATE, "bob", NULL, &res) < 0)
			_exit(101);
		_exit(res.code == 0 ? 0 : 1);
	}
	sleep(15);
	CHECK_MSG(waitpid(pid, &st, WNOHANG) == 0, "the broker still waits for bob's lock");
	ks_unlock(l);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "and then refreshes and succeeds");
	ks_close(ks);
}

/* A user name from the caller reaches log lines sanitised. */
static void test_user_sanitised(void)
{
	struct ts_client_result res;
	size_t n = 0;
	char *log;

	CHECK_INT(call(dbg, cfg, TS_MSG_STATUS, "ev\x1b[31mil\x7f", NULL, &res), 0);
	CHECK_INT(res.code, -ENOENT);
	CHECK_STR(res.message, "uid 0: no local user named ev?[31mil?");
	ts_client_result_clear(&res);
	log = ts_test_read_file(logfile, &n);
	CHECK_MSG(strstr(log, "status for ev?[31mil? (service test)"), "the log names it sanitised");
	CHECK_MSG(!memchr(log, 0x1b, n), "no escape byte in the log");
	free(log);
}

/* The child of test_not_saved: in a private mount namespace, a 1 MiB
 * tmpfs holds a keystore; bob signs in, the tmpfs is filled, his access
 * token is revoked at the server: the refresh succeeds, its store cannot,
 * and the use says so (TS_E_NOT_SAVED) instead of dropping it. */
static int not_saved_child(void)
{
	struct ts_client_result res;
	char mnt[800], ks[900], c[900], extra[1200], filler[900], want[1500], block[4096];
	long before;
	int fd;

	snprintf(mnt, sizeof(mnt), "%s/small-fs", ts_test_tmpdir());
	if (mkdir(mnt, 0755) < 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=1m,mode=0755") < 0) {
		fprintf(stderr, "   SKIPPED test_not_saved: cannot mount a tmpfs here: %s\n",
		        strerror(errno));
		return 77;
	}
	snprintf(ks, sizeof(ks), "%s/ks", mnt);
	snprintf(c, sizeof(c), "%s/nospace.conf", idp.dir);
	snprintf(extra, sizeof(extra), "keystore_dir = %s\nlogin_methods = password\n", ks);
	CHECK(ts_idp_write_config(&idp, c, "conf", extra) == 0);
	CHECK_INT(call(broker_bin, c, TS_MSG_LOGIN, "bob", "bob-pw", &res), 0);
	CHECK_INT(res.code, 0);
	ts_client_result_clear(&res);
	/* fill the file system */
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	memset(block, 'x', sizeof(block));
	while (write(fd, block, sizeof(block)) > 0)
		;
	CHECK_MSG(errno == ENOSPC, "the tmpfs is full (%s)", strerror(errno));
	close(fd);
	CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "bob"), 0);
	before = ts_idp_count(&idp, "token:refresh_token");
	CHECK_INT(call(broker_bin, c, TS_MSG_GET_TOKEN, "bob", NULL, &res), 0);
	CHECK_INT(res.code, TS_E_NOT_SAVED);
	snprintf(want, sizeof(want),
	         "the refresh succeeded but could not be saved: %s; this use goes on with the "
	         "new token, but the next one may need a new sign-in; ask the administrator to "
	         "free space in %s",
	         ts_strerror(-ENOSPC), ks);
	CHECK_STR(res.message, want);
	CHECK_MSG(res.token && res.token[0], "the new token is handed out all the same");
	ts_client_result_clear(&res);
	CHECK_INT(ts_idp_count(&idp, "token:refresh_token"), before + 1);
	return 0;
}

static void test_not_saved(void)
{
	pid_t pid = fork();
	int st = 0;

	CHECK(pid >= 0);
	if (pid == 0)
		_exit(not_saved_child());
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 77),
	          "the unsaved-refresh case passed (status %d)",
	          WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* 4e: the server accepts every refresh but rejects every access token
 * (fault case introspect-inactive: the shape of a disabled account whose
 * grant lives on). The first use refreshes once, is rejected again, and
 * marks the record; the next uses revalidate but do not refresh. */
static void test_rejected_backoff(void)
{
	struct ts_faults f;
	struct ks *ks = NULL;
	struct ks_lock *l = NULL;
	struct ks_open_opts ko = {0};
	struct ts_record rec = {0};
	struct ts_client_result res;
	char issuer[300], fdir[800], fks[900], fkey[900], fsec[900], fcfg[900], want[1200];
	char *json = NULL;
	size_t jl = 0;
	uint64_t gen = 0;
	long t0, i0;
	FILE *cf;

	CHECK_INT(ts_faults_start(&f), 0);
	CHECK_INT(ts_faults_issuer(&f, "introspect-inactive", issuer, sizeof(issuer)), 0);
	snprintf(fdir, sizeof(fdir), "%s/faults-ks", ts_test_tmpdir());
	CHECK(mkdir(fdir, 0700) == 0);
	snprintf(fks, sizeof(fks), "%s/ks", fdir);
	snprintf(fkey, sizeof(fkey), "%s/ks.key", fdir);
	snprintf(fsec, sizeof(fsec), "%s/secret", fdir);
	snprintf(fcfg, sizeof(fcfg), "%s/faults.conf", fdir);
	ts_test_write_file(fsec, "fault-client-secret", 19, 0600);
	cf = fopen(fcfg, "w");
	CHECK(cf);
	fprintf(cf,
	        "issuer = %s\nclient_id = tokenseal-conf\nclient_secret_file = %s\nca_file = %s\n"
	        "keystore_dir = %s\nkey_file = %s\nlogin_methods = device\n",
	        issuer, fsec, f.ca, fks, fkey);
	CHECK(fclose(cf) == 0);
	CHECK(chmod(fcfg, 0644) == 0);

	/* alice's record for that issuer, as a sign-in would have left it */
	CHECK_INT(ks_init(fks, fkey, &ko), 0);
	CHECK_INT(ks_open(&ks, fks, fkey, &ko), 0);
	rec.access_token = ts_strdup_secret("fault-at-stored");
	rec.refresh_token = ts_strdup_secret("fault-rt-stored");
	CHECK(rec.access_token && rec.refresh_token);
	snprintf(rec.sub, sizeof(rec.sub), "sub-alice");
	snprintf(rec.username, sizeof(rec.username), "alice");
	snprintf(rec.issuer, sizeof(rec.issuer), "%s", issuer);
	snprintf(rec.client_id, sizeof(rec.client_id), "tokenseal-conf");
	rec.obtained_at = time(NULL);
	rec.expires_in = 3600;
	CHECK_INT(ts_record_to_json(&rec, &json, &jl), 0);
	{
		struct ks_identity id = {uid_of("alice"), "alice", issuer, "tokenseal-conf"};

		CHECK_INT(ks_lock(ks, id.uid, &l), 0);
		CHECK_INT(ks_write(ks, l, &id, json, jl, 0, &gen), 0);
		ks_unlock(l);
	}
	ts_erase_free(json, jl);
	ts_record_clear(&rec);
	ks_close(ks);

	t0 = ts_faults_requests(&f, "introspect-inactive", "token");
	i0 = ts_faults_requests(&f, "introspect-inactive", "introspect");
	CHECK_INT(call(broker_bin, fcfg, TS_MSG_REVALIDATE, "alice", NULL, &res), 0);
	CHECK_INT(res.code, TS_E_REJECTED_TOKEN);
	snprintf(want, sizeof(want),
	         "%s rejects even the freshly refreshed token of alice (the account may be "
	         "disabled); not refreshing again for 60 s; ask the identity provider's "
	         "administrator (a new sign-in cannot help)",
	         issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
	CHECK_INT(ts_faults_requests(&f, "introspect-inactive", "token"), t0 + 1);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(call(broker_bin, fcfg, TS_MSG_REVALIDATE, "alice", NULL, &res), 0);
		CHECK_INT(res.code, TS_E_REJECTED_TOKEN);
		snprintf(want, sizeof(want),
		         "%s rejected even a freshly refreshed token of alice (the account may be "
		         "disabled); not refreshing again for ",
		         issuer);
		CHECK_MSG(strncmp(res.message, want, strlen(want)) == 0, "back-off message: %s",
		          res.message);
		ts_client_result_clear(&res);
	}
	CHECK_INT(ts_faults_requests(&f, "introspect-inactive", "token"), t0 + 1); /* no refresh */
	CHECK_INT(ts_faults_requests(&f, "introspect-inactive", "introspect"), i0 + 2 + 3);
	ts_faults_stop(&f);
}

int main(int argc, char **argv)
{
	char extra[1200];

	if (argc >= 3 && strcmp(argv[1], "--fsize-wrap") == 0) {
		struct rlimit rl;

		/* the caller's state under test: a tiny (soft) file size limit,
		 * SIGXFSZ ignored (soft only: a root without CAP_SYS_RESOURCE, as
		 * in some containers, could not raise a hard one either) */
		if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
			return 100;
		rl.rlim_cur = 16;
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0 || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
			return 100;
		execv(argv[2], argv + 2);
		return 101;
	}
	if (argc < 2)
		TS_SKIP("usage: test_broker_exec PATH-TO-tokenseal-broker");
	if (getuid() != 0)
		TS_SKIP("needs root (plays root, sudo and non-root callers)");
	if (!getpwnam("alice") || !getpwnam("bob"))
		TS_SKIP("local users alice/bob missing: scripts/test creates them");
	CHECK(ts_strlcpy(broker_bin, argv[1], sizeof(broker_bin)) == 0);
	CHECK(realpath("/proc/self/exe", self_bin));
	CHECK(ts_idp_start(&idp, 3600) == 0);
	snprintf(logfile, sizeof(logfile), "%s/broker.log", ts_test_tmpdir());
	snprintf(cfg, sizeof(cfg), "%s/exec.conf", idp.dir);
	snprintf(ksdir, sizeof(ksdir), "%s/ks-exec", idp.dir);
	snprintf(extra, sizeof(extra), "keystore_dir = %s\nlogin_methods = password, device\n",
	         ksdir);
	CHECK(ts_idp_write_config(&idp, cfg, "conf", extra) == 0);
	snprintf(dbg, sizeof(dbg), "%s/debug-wrapper", ts_test_tmpdir());
	{
		FILE *f = fopen(dbg, "w");

		CHECK(f);
		fprintf(f, "#!/bin/sh\nexec '%s' --debug \"$@\" 2>>'%s'\n", broker_bin, logfile);
		CHECK(fclose(f) == 0);
		CHECK(chmod(dbg, 0755) == 0);
	}

	RUN(test_nonroot_refused);
	RUN(test_root_caller);
	RUN(test_sudo_shape);
	RUN(test_fsize_reset);
	RUN(test_fsize_check);
	RUN(test_min_uid);
	RUN(test_key_unloadable);
	RUN(test_user_sanitised);
	RUN(test_lock_wait);
	RUN(test_not_saved);
	RUN(test_rejected_backoff);
	ts_leak_scan_file("the broker's log", logfile);
	return ts_test_done();
}
