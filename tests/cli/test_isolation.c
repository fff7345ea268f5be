/* SPDX-License-Identifier: MIT */
/*
 * Isolation between users (issue 8): with the real daemon
 * (`tokenseal-broker --daemon`) serving the real test IdP, user alice's
 * `tokenseal token`, `status`, `logout` and `login`, run as the real local
 * user alice, can neither read nor change user bob's record:
 *   - not with --user (refused before any request);
 *   - not by pointing TOKENSEAL_CONFIG at a configuration of her own (the
 *     daemon uses its own; hers only locates the socket, and a socket she
 *     owns is refused by the client before it connects);
 *   - not by a request frame naming bob sent on the socket by hand (the
 *     daemon decides on SO_PEERCRED's uid, never on a field);
 *   - not by planting links in the keystore folder (root's, 0700: she cannot
 *     even list it, let alone race a symlink into it);
 *   - not by signing in with bob's refresh token (the server vouches for
 *     bob, so the sign-in for alice is refused and nothing is stored);
 * and bob's record is byte-identical afterwards and still works for bob.
 * Needs root (real users, the daemon): SKIPPED otherwise.
 *
 * argv[1]: the tokenseal binary, argv[2]: tokenseal-broker.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_run.h"
#include "ts_client.h"
#include "ts_daemon.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_mem.h"
#include "ts_proto.h"
#include "ts_test.h"
#include "ts_test_conv.h"

static struct ts_idp idp;
static struct ts_daemon daemon_;
static char cli_bin[512], broker_bin[512], cfg[700], sock[700], ksdir[700], dlog[800];

static char *bob_before; /* bob's record before alice tried anything */
static size_t bob_len;

static uid_t uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);

	CHECK(pw);
	return pw->pw_uid;
}

/* root signs user in with the password grant (exec mode) */
static void sign_in(const char *user, const char *pw)
{
	struct ts_client_opts o = {.broker_path = broker_bin, .config_path = cfg,
	                           .mode = TS_CLIENT_EXEC_ONLY};
	struct ts_client_request rq = {
	    .type = TS_MSG_LOGIN, .user = user, .service = "test", .method = "password"};
	struct ts_conv cv = TS_TEST_PASSWORD_CONV(pw);
	struct ts_client_result res = {0};

	CHECK_INT(ts_client_call(&o, &rq, &cv, &res), 0);
	CHECK_MSG(res.code == 0, "%s signed in: %s", user, res.message);
	ts_client_result_clear(&res);
}

static char *record_bytes(const char *user, size_t *len)
{
	char path[900];

	snprintf(path, sizeof(path), "%s/users/%u.seal", ksdir, (unsigned)uid_of(user));
	return ts_test_read_file(path, len);
}

static void want_same_record(const char *user, const char *before, size_t before_len)
{
	size_t len = 0;
	char *now = record_bytes(user, &len);

	CHECK_MSG(now && len == before_len && memcmp(now, before, len) == 0,
	          "%s's record is byte-identical", user);
	free(now);
}

/* alice's own commands through the daemon work, and are hers */
static void test_own_record(void)
{
	struct run r;

	run_as(&r, "alice", NULL, NULL, ARGS("token"));
	CHECK_INT(r.exit, 0);
	CHECK_MSG(strlen(r.out) > 1 && strchr(r.out, '\n') == r.out + strlen(r.out) - 1,
	          "one line");
	ts_leak_remember(r.out);
	run_as(&r, "alice", NULL, NULL, ARGS("status", "--json"));
	CHECK_INT(r.exit, 0);
	CHECK_MSG(strstr(r.out, "\"user\": \"alice\"") && strstr(r.out, "\"subject\": \"sub-alice\""),
	          "alice's status is alice's: %s", r.out);
	CHECK_MSG(ts_daemon_file_has(dlog, "connection from uid"), "the daemon served it");
}

/* --user for another user: refused by the command, nothing asked */
static void test_user_option(void)
{
	static const char *const verbs[][5] = {
	    {"token", "--user", "bob", NULL},
	    {"status", "--user", "bob", NULL},
	    {"logout", "--user", "bob", NULL},
	    {"refresh", "--user", "bob", NULL},
	    {"login", "--password", "--user", "bob", NULL},
	};
	struct run r;

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		run_as(&r, "alice", NULL, NULL, verbs[i]);
		CHECK_INT(r.exit, 7);
		CHECK_STR(r.out, "");
		CHECK_STR(r.err,
		          "tokenseal: --user is for root only; you can act only for yourself "
		          "(alice)\n");
	}
}

/* TOKENSEAL_CONFIG of her own: another keystore named, the same socket:
 * the daemon still serves from its own configuration; and a socket of her
 * own is not used at all */
static void test_own_config(void)
{
	char dir[700], mine[800], fake[800], env[900], text[4096];
	const char *envv[] = {env, NULL};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct run r;
	int lfd, flags;

	snprintf(dir, sizeof(dir), "%s/alice-home", ts_test_tmpdir());
	CHECK(mkdir(dir, 0755) == 0);
	CHECK(chown(dir, uid_of("alice"), (gid_t)-1) == 0);
	snprintf(mine, sizeof(mine), "%s/mine.conf", dir);
	snprintf(text, sizeof(text),
	         "issuer = %s\nclient_id = %s\nkeystore_dir = %s\nkey_file = %s.key\n"
	         "socket_path = %s\n",
	         idp.issuer, idp.conf_client, dir, dir, sock);
	ts_test_write_file(mine, text, strlen(text), 0644);
	CHECK(chown(mine, uid_of("alice"), (gid_t)-1) == 0);
	snprintf(env, sizeof(env), "TOKENSEAL_CONFIG=%s", mine);
	run_as(&r, "alice", NULL, envv, ARGS("status", "--json"));
	CHECK_INT(r.exit, 0);
	CHECK_MSG(strstr(r.out, "\"subject\": \"sub-alice\""), "the daemon's config: %s", r.out);
	run_as(&r, "alice", NULL, envv, ARGS("token", "--user", "bob"));
	CHECK_INT(r.exit, 7);
	CHECK_STR(r.out, "");

	/* her own listening socket: the client refuses it before connecting */
	snprintf(fake, sizeof(fake), "%s/fake.sock", dir);
	snprintf(text, sizeof(text), "socket_path = %s\n", fake);
	snprintf(mine, sizeof(mine), "%s/fake.conf", dir);
	ts_test_write_file(mine, text, strlen(text), 0644);
	snprintf(env, sizeof(env), "TOKENSEAL_CONFIG=%s", mine);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(lfd >= 0);
	CHECK(strlen(fake) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, fake, strlen(fake) + 1);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(chown(fake, uid_of("alice"), (gid_t)-1) == 0);
	CHECK(listen(lfd, 4) == 0);
	run_as(&r, "alice", NULL, envv, ARGS("token"));
	CHECK_INT(r.exit, 3);
	CHECK_STR(r.out, "");
	CHECK_STR(r.err, "tokenseal: the tokenseal service is not running: `systemctl start "
	                 "tokenseal-broker.socket`\n");
	flags = fcntl(lfd, F_GETFL);
	CHECK(fcntl(lfd, F_SETFL, flags | O_NONBLOCK) == 0);
	CHECK_MSG(accept(lfd, NULL, NULL) < 0 && errno == EAGAIN,
	          "nobody connected to alice's own socket");
	close(lfd);
}

/* A request frame naming bob, sent by alice's uid on the real socket. */
static void test_forged_frame(void)
{
	static const enum ts_msg_type types[] = {TS_MSG_GET_TOKEN, TS_MSG_STATUS, TS_MSG_LOGOUT,
	                                         TS_MSG_REFRESH};
	int pfd[2];
	pid_t pid;
	int st;

	CHECK(pipe(pfd) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int bad = 0;

		close(pfd[0]);
		if (setgroups(0, NULL) < 0 || setresgid(uid_of("alice"), uid_of("alice"), uid_of("alice")) < 0 ||
		    setresuid(uid_of("alice"), uid_of("alice"), uid_of("alice")) < 0)
			_exit(120);
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			struct sockaddr_un sa = {.sun_family = AF_UNIX};
			struct ts_msg_builder b = {0};
			struct ts_msg m = {0};
			const uint8_t *frame;
			int64_t code = 0;
			size_t len;
			int fd = socket(AF_UNIX, SOCK_STREAM, 0);

			if (strlen(sock) >= sizeof(sa.sun_path))
				_exit(122);
			memcpy(sa.sun_path, sock, strlen(sock) + 1);
			if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
				_exit(121);
			ts_msg_begin(&b, (uint8_t)types[i]);
			ts_msg_add_str(&b, TS_F_USER, "bob");
			ts_msg_add_int(&b, TS_F_FLAGS, TS_FLAG_NONINTERACTIVE);
			if (ts_msg_finish(&b, &frame, &len) < 0 ||
			    ts_proto_write(fd, frame, len, 10000) < 0 ||
			    ts_proto_read(fd, &m, 30000) < 0 || m.type != TS_MSG_RESULT ||
			    ts_msg_get_int(&m, TS_F_CODE, &code) < 0 || ts_msg_find(&m, TS_F_TOKEN) ||
			    code != TS_E_PERM)
				bad++;
			ts_msg_clear(&m);
			ts_msg_builder_clear(&b);
			close(fd);
		}
		(void)!write(pfd[1], &bad, sizeof(bad));
		_exit(0);
	}
	close(pfd[1]);
	{
		int bad = -1;

		CHECK(read(pfd[0], &bad, sizeof(bad)) == (ssize_t)sizeof(bad));
		CHECK_MSG(bad == 0, "%d of the forged requests were not refused with TS_E_PERM", bad);
	}
	close(pfd[0]);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The keystore folder is root's alone: alice cannot list it or plant a
 * link in it (so no symlink race against the broker's opens). */
static void test_keystore_folder(void)
{
	char users[800], link_at[900], target[900];
	struct stat st;
	pid_t pid;
	int status;

	CHECK(lstat(ksdir, &st) == 0);
	CHECK_MSG(st.st_uid == 0 && (st.st_mode & 0777) == 0700, "keystore folder root 0700");
	snprintf(users, sizeof(users), "%s/users", ksdir);
	snprintf(link_at, sizeof(link_at), "%s/%u.seal", users, (unsigned)uid_of("alice"));
	snprintf(target, sizeof(target), "%s/%u.seal", users, (unsigned)uid_of("bob"));
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(uid_of("alice"), uid_of("alice"), uid_of("alice")) < 0 ||
		    setresuid(uid_of("alice"), uid_of("alice"), uid_of("alice")) < 0)
			_exit(120);
		if (opendir(ksdir) || errno != EACCES)
			_exit(1);
		(void)unlink(link_at);
		if (symlink(target, link_at) == 0 || errno != EACCES)
			_exit(2);
		if (open(target, O_RDONLY) >= 0 || errno != EACCES)
			_exit(3);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	          "alice could not list, link or read (step %d failed)",
	          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* bob's refresh token in alice's `login --refresh-token-stdin`: the
 * server vouches for bob, so alice's sign-in is refused, nothing stored */
static void test_foreign_refresh_token(void)
{
	char *rt = cli_stored_refresh_token(cfg, "bob");
	char in[4096];
	struct run r;

	snprintf(in, sizeof(in), "%s\n", rt);
	run_as(&r, "alice", in, NULL, ARGS("login", "--refresh-token-stdin"));
	ts_wipe(in, sizeof(in));
	ts_erase_free_str(rt);
	CHECK_INT(r.exit, 2);
	CHECK_STR(r.out, "");
	CHECK_MSG(strstr(r.err, "identity mismatch"), "refused as another identity: %s", r.err);
	/* nothing was stored over bob's record (redeeming his refresh token
	 * did spend it at the server: rotation; only root could have read it) */
	want_same_record("bob", bob_before, bob_len);
	run_as(&r, "alice", NULL, NULL, ARGS("status", "--json"));
	CHECK_MSG(strstr(r.out, "\"subject\": \"sub-alice\""), "alice's record is still hers");
}

/* alice's logout ends her record only; bob's is as it was, and works */
static void test_logout_own(void)
{
	struct run r;

	run_as(&r, "alice", NULL, NULL, ARGS("logout"));
	CHECK_INT(r.exit, 0);
	run_as(&r, "alice", NULL, NULL, ARGS("token"));
	CHECK_INT(r.exit, 2);
	CHECK_STR(r.out, "");
	want_same_record("bob", bob_before, bob_len);
	run_as(&r, "bob", NULL, NULL, ARGS("token"));
	CHECK_INT(r.exit, 0);
	ts_leak_remember(r.out);
}

int main(int argc, char **argv)
{
	char extra[1200];

	if (argc != 3)
		TS_SKIP("usage: test_isolation TOKENSEAL TOKENSEAL-BROKER");
	if (geteuid() != 0)
		TS_SKIP("needs root (real local users and the broker daemon)");
	if (!getpwnam("alice") || !getpwnam("bob"))
		TS_SKIP("needs the local users alice and bob (scripts/test creates them)");
	snprintf(cli_bin, sizeof(cli_bin), "%s", argv[1]);
	snprintf(broker_bin, sizeof(broker_bin), "%s", argv[2]);
	CHECK_INT(ts_idp_start(&idp, 0), 0);
	/* alice and bob reach the socket and read the config (root's, not
	 * writable by them), as on a real host */
	CHECK(chmod(ts_test_tmpdir(), 0711) == 0);
	CHECK(chmod(idp.dir, 0711) == 0);
	snprintf(cfg, sizeof(cfg), "%s/tokenseal.conf", idp.dir);
	snprintf(sock, sizeof(sock), "%s/broker.sock", idp.dir);
	snprintf(ksdir, sizeof(ksdir), "%s/keystore", idp.dir);
	snprintf(dlog, sizeof(dlog), "%s/daemon.log", ts_test_tmpdir());
	snprintf(extra, sizeof(extra), "broker_path = %s\nlogin_methods = password\n", broker_bin);
	CHECK_INT(ts_idp_write_config(&idp, cfg, "conf", extra), 0);
	{
		char *secret = ts_test_read_file(idp.secret_file, NULL);

		ts_leak_remember(secret); /* a copy */
		free(secret);
	}
	cli_run_init(cli_bin, cfg);

	sign_in("alice", "alice-pw");
	sign_in("bob", "bob-pw");
	CHECK_INT(ts_daemon_start(&daemon_, broker_bin, cfg, sock, dlog), 0);
	bob_before = record_bytes("bob", &bob_len);
	CHECK(bob_before);

	RUN(test_own_record);
	RUN(test_user_option);
	RUN(test_own_config);
	RUN(test_forged_frame);
	RUN(test_keystore_folder);
	RUN(test_logout_own);
	RUN(test_foreign_refresh_token);
	free(bob_before);
	CHECK(ts_daemon_stop(&daemon_) >= 0);
	ts_leak_scan_file("the daemon's log", dlog);
	return ts_test_done();
}
