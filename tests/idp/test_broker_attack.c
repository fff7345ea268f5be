/* SPDX-License-Identifier: MIT */
/*
 * The real tokenseal-broker (exec mode, root caller) against the real test
 * IdP, on what issue 15 found (§0 and §5). Two groups, each its own CTest
 * entry:
 *
 * attack (labels idp, attack) -- each case is the attack itself:
 *   - a configuration that cannot be used (a typo, a missing
 *     client_secret_file, a group-writable file, a bad value) never
 *     refuses a user tokenseal never signed in (TS_E_NOT_CONFIGURED, the
 *     module's PAM_IGNORE), and never opens the account check of a user
 *     with a record, signed in or signed out (TS_E_CONFIG, the problem
 *     named): root's answer names file, line, key and reason, a non-root
 *     peer's the kind of problem; an identity-provider-only user with a
 *     record (its uid from the NSS cache) fails closed too;
 *   - a whole syslog-looking line forged through the service name (and the
 *     method) lands in the broker's log escaped, on the request's line;
 *   - AUTH_STORED without auth_with_stored_token for the service, a
 *     same-user claim with a remote host, and a same-user claim from
 *     another real uid are refused by the broker itself.
 *
 * regress (label idp):
 *   - the shipped docs/tokenseal.conf.example loads as shipped: "not
 *     configured yet", TS_E_NOT_CONFIGURED, doctor names exactly issuer and
 *     client_id; with those two set it is a working configuration;
 *   - a password ending in a blank reaches the server intact;
 *   - a passwd entry larger than getpwnam_r's first buffer (ERANGE) is
 *     found, not "no local user" (nss_wrapper, in process);
 *   - a certificate that is "not yet valid" / "expired" on this host's
 *     clock (faketime on the broker) is reported as a clock problem.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "oauth.h"
#include "serve.h"
#include "ts_client.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_mem.h"
#include "ts_paths.h"
#include "ts_proto.h"
#include "ts_test.h"
#include "ts_test_conv.h"
#include "broker_attack.h"

struct ts_idp idp;
char broker_bin[512], example[1024], cfg[700], ksdir[700], logfile[700], dbg[800];
char self_bin[4096], nss_wrapper[1024], missing[200];


uid_t uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);

	CHECK(pw);
	return pw->pw_uid;
}

int call_as(const char *broker, const char *config, const struct call_req *q,
                   struct ts_client_result *res)
{
	struct ts_client_opts o = {.broker_path = broker, .config_path = config};
	struct ts_client_request rq = {.type = q->type,
	                               .user = q->user,
	                               .service = q->service ? q->service : "test",
	                               .flags = q->flags | (q->password ? 0 : TS_FLAG_NONINTERACTIVE),
	                               .method = q->method,
	                               .rhost = q->rhost};
	struct ts_conv cv = TS_TEST_PASSWORD_CONV(q->password);
	int r;

	memset(res, 0, sizeof(*res));
	r = ts_client_call(&o, &rq, q->password ? &cv : NULL, res);
	if (r < 0)
		return r;
	fprintf(stderr, "   [%s] code %d (%s): %s\n", q->user, res->code, ts_strerror(res->code),
	        res->message);
	if (res->token)
		ts_leak_remember(res->token);
	return 0;
}

/* One request, its code and message (into msg). */
int ask(const char *config, enum ts_msg_type type, const char *user, char *msg,
               size_t msglen)
{
	struct call_req q = {.type = type, .user = user};
	struct ts_client_result res;
	int code;

	CHECK_INT(call_as(broker_bin, config, &q, &res), 0);
	code = res.code;
	if (msg)
		snprintf(msg, msglen, "%s", res.message);
	ts_client_result_clear(&res);
	return code;
}

void config_with(char *path, size_t len, const char *name, const char *client,
                        const char *more)
{
	char extra[1500];

	snprintf(path, len, "%s/%s.conf", idp.dir, name);
	snprintf(extra, sizeof(extra), "keystore_dir = %s\nlogin_methods = password, device\n%s",
	         ksdir, more ? more : "");
	CHECK(ts_idp_write_config(&idp, path, client, extra) == 0);
}

/* A record for uid in the compiled-in keystore (another test or an
 * installed package may have made one): the broker looks there too. */
bool default_record(const char *user)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/users/%u.seal", TS_DEFAULT_KEYSTORE_DIR, (unsigned)uid_of(user));
	return access(p, F_OK) == 0;
}

int no_record_code(const char *user)
{
	return default_record(user) ? TS_E_CONFIG : TS_E_NOT_CONFIGURED;
}

/* ---- the attack group ---------------------------------------------------- */

/* The answer to a non-root peer of the daemon: ts_broker_serve_one in
 * process with that peer uid over a socket pair, as daemon.c calls it. */
int peer_ask_type(const char *config, uid_t peer, enum ts_msg_type type,
                         const char *user, char *msg, size_t msglen)
{
	struct ts_serve_opts so = {.config_path = config};
	struct ts_msg_builder b = {0};
	struct ts_msg m = {0};
	const uint8_t *frame;
	int64_t code = 0;
	size_t len;
	int sv[2], st = 0;
	pid_t pid;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(ts_broker_serve_one(&so, sv[1], sv[1], peer) < 0 ? 1 : 0);
	}
	close(sv[1]);
	ts_msg_begin(&b, type);
	ts_msg_add_str(&b, TS_F_USER, user);
	ts_msg_add_str(&b, TS_F_SERVICE, "test");
	ts_msg_add_int(&b, TS_F_FLAGS, TS_FLAG_NONINTERACTIVE);
	CHECK(ts_msg_finish(&b, &frame, &len) == 0);
	CHECK(ts_proto_write(sv[0], frame, len, 30000) == 0);
	ts_msg_builder_clear(&b);
	CHECK(ts_proto_read(sv[0], &m, 30000) == 0);
	CHECK_INT(m.type, TS_MSG_RESULT);
	CHECK(ts_msg_get_int(&m, TS_F_CODE, &code) == 0);
	if (ts_msg_get_str(&m, TS_F_MESSAGE, msg, msglen) < 0)
		msg[0] = '\0';
	ts_msg_clear(&m);
	close(sv[0]);
	CHECK(waitpid(pid, &st, 0) == pid);
	fprintf(stderr, "   [peer %u, %s] code %lld: %s\n", (unsigned)peer, user, (long long)code,
	        msg);
	return (int)code;
}

static int peer_ask(const char *config, uid_t peer, const char *user, char *msg, size_t msglen)
{
	return peer_ask_type(config, peer, TS_MSG_REVALIDATE, user, msg, msglen);
}

/* One unusable configuration: who is refused and who is left alone. */
static void broken_case(const char *config, const char *problem, const char *fix,
                        const char *kind)
{
	struct call_req dq = {.type = TS_MSG_DOCTOR, .user = "root"};
	struct ts_client_result res;
	char msg[600], want[1200];

	fprintf(stderr, "   config %s\n", config);
	/* carol: a local password user tokenseal never signed in */
	CHECK_INT(ask(config, TS_MSG_REVALIDATE, "carol", msg, sizeof(msg)), no_record_code("carol"));
	CHECK_MSG(strstr(msg, problem), "carol's answer names the problem: %s", msg);
	if (!default_record("carol"))
		CHECK_MSG(strstr(msg, "carol has no tokenseal sign-in, so tokenseal stays out of the way"),
		          "%s", msg);
	CHECK_INT(ask(config, TS_MSG_OPEN_SESSION, "carol", NULL, 0), no_record_code("carol"));
	CHECK_INT(ask(config, TS_MSG_LOGIN, "carol", NULL, 0), no_record_code("carol"));
	/* root and a name no source knows (an IdP-only user: without the
	 * configuration the NSS cache is not read, so no record is found) */
	CHECK_INT(ask(config, TS_MSG_REVALIDATE, "root", NULL, 0), TS_E_NOT_CONFIGURED);
	CHECK_INT(ask(config, TS_MSG_REVALIDATE, "ext-zed", msg, sizeof(msg)), TS_E_NOT_CONFIGURED);
	/* bob (signed in) and alice (signed out): the account check fails closed */
	CHECK_INT(ask(config, TS_MSG_REVALIDATE, "bob", msg, sizeof(msg)), TS_E_CONFIG);
	CHECK_MSG(strstr(msg, problem), "bob's answer names the problem: %s", msg);
	CHECK_MSG(strstr(msg, "bob has a tokenseal sign-in and is refused until it is fixed"), "%s",
	          msg);
	CHECK_INT(ask(config, TS_MSG_OPEN_SESSION, "bob", NULL, 0), TS_E_CONFIG);
	CHECK_INT(ask(config, TS_MSG_REVALIDATE, "alice", msg, sizeof(msg)), TS_E_CONFIG);
	CHECK_MSG(strstr(msg, "alice has a tokenseal sign-in"), "%s", msg);
	/* root's keystore command: the specific problem */
	CHECK_INT(ask(config, TS_MSG_KEYSTORE, "root", msg, sizeof(msg)), TS_E_CONFIG);
	CHECK_MSG(strstr(msg, "configuration problem: ") && strstr(msg, problem), "%s", msg);
	/* root's doctor: each problem with what to change */
	CHECK_INT(call_as(broker_bin, config, &dq, &res), 0);
	CHECK_INT(res.code, TS_E_CONFIG);
	CHECK_MSG(res.status_json && strstr(res.status_json, problem), "doctor lists it: %s",
	          res.status_json ? res.status_json : "(none)");
	CHECK_MSG(strstr(res.status_json, fix), "doctor says how to fix it: %s", res.status_json);
	ts_client_result_clear(&res);
	/* a non-root peer (the daemon's): the kind of problem, same decision */
	snprintf(want, sizeof(want), "configuration problem in %s (%s); ask the administrator",
	         config, kind);
	CHECK_INT(peer_ask(config, uid_of("carol"), "carol", msg, sizeof(msg)),
	          no_record_code("carol"));
	CHECK_STR(msg, want);
	CHECK_INT(peer_ask(config, uid_of("bob"), "bob", msg, sizeof(msg)), TS_E_CONFIG);
	CHECK_STR(msg, want);
}

static void test_config_lockout(void)
{
	struct call_req lo = {.type = TS_MSG_LOGOUT, .user = "alice"};
	struct ts_client_result res;
	char c[800], problem[2400], fix[2400], secret[800];

	/* bob signs in; alice signs in and out (a signed-out record) */
	CHECK_INT(ask(cfg, TS_MSG_REVALIDATE, "bob", NULL, 0), 0);
	{
		struct call_req q = {.type = TS_MSG_LOGIN, .user = "alice", .password = "alice-pw"};

		CHECK_INT(call_as(broker_bin, cfg, &q, &res), 0);
		CHECK_INT(res.code, 0);
		ts_client_result_clear(&res);
	}
	CHECK_INT(call_as(broker_bin, cfg, &lo, &res), 0);
	CHECK_INT(res.code, 0);
	ts_client_result_clear(&res);

	/* a typo: the file does not parse (line 8: after the 7 lines
	 * ts_idp_write_config writes and the two keystore/login lines) */
	config_with(c, sizeof(c), "typo", "conf", "http_timeout = 1O\n");
	{
		char *text = ts_test_read_file(c, NULL);
		unsigned line = 1;

		for (char *p = text; *p && strncmp(p, "http_timeout = 1O", 17) != 0; p++)
			if (*p == '\n')
				line++;
		free(text);
		snprintf(problem, sizeof(problem), "%s:%u: key 'http_timeout': '1O' is not a number",
		         c, line);
		snprintf(fix, sizeof(fix), "edit line %u of %s: give http_timeout a value", line, c);
	}
	broken_case(c, problem, fix, "a line of it does not parse");

	/* the shipped file's old fault: client_secret_file names no file */
	snprintf(secret, sizeof(secret), "%s/no-such.secret", idp.dir);
	{
		char more[900];

		snprintf(more, sizeof(more), "client_secret_file = %s\n", secret);
		config_with(c, sizeof(c), "nosecret", "public", more);
	}
	snprintf(problem, sizeof(problem), "%s: client_secret_file %s refused: ", c, secret);
	snprintf(fix, sizeof(fix), "create %s (owner root, mode 0600) holding the client secret",
	         secret);
	broken_case(c, problem, fix, "a file it names is missing or not safe");

	/* a group-writable file: refused before a byte is parsed */
	config_with(c, sizeof(c), "writable", "conf", NULL);
	CHECK(chmod(c, 0664) == 0);
	snprintf(problem, sizeof(problem), "%s: refused: group- or world-writable (mode 0664)", c);
	snprintf(fix, sizeof(fix), "run chmod go-w %s", c);
	broken_case(c, problem, fix, "the file is missing, unreadable or not safe");

	/* a value validation refuses */
	config_with(c, sizeof(c), "minuid", "conf", "min_uid = 60001\n");
	snprintf(problem, sizeof(problem), "%s: min_uid 60001 is above max_uid 60000", c);
	snprintf(fix, sizeof(fix), "lower min_uid or raise max_uid in %s", c);
	broken_case(c, problem, fix, "a setting is missing or not valid");

	/* fixed again: bob's record works, nothing was changed */
	CHECK_INT(ask(cfg, TS_MSG_REVALIDATE, "bob", NULL, 0), 0);
}

/* An identity-provider-only user (no local account: its uid comes from
 * the NSS cache) with a record fails closed too; one without a record is
 * left alone. */
static void test_idp_only_record(void)
{
	struct call_req q = {.type = TS_MSG_LOGIN, .user = "ext-zed", .password = "ext-zed-pw"};
	struct ts_client_result res;
	char nss[600], more[900], c[800], msg[600];

	CHECK_MSG(getpwnam("ext-zed") == NULL, "ext-zed is no local account");
	snprintf(nss, sizeof(nss),
	         "nss_cache = %s/nss-attack/users.cache\nnss_resolve_unknown = ext-[a-z]+\n",
	         idp.dir);
	config_with(c, sizeof(c), "nss", "conf", nss);
	CHECK_INT(call_as(broker_bin, c, &q, &res), 0);
	CHECK_INT(res.code, 0);
	ts_client_result_clear(&res);
	/* a typo (the cache's path is read from the file leniently), then a
	 * value validation refuses (the file parsed) */
	snprintf(more, sizeof(more), "%shttp_timeout = 1O\n", nss);
	config_with(c, sizeof(c), "nss-typo", "conf", more);
	CHECK_INT(ask(c, TS_MSG_REVALIDATE, "ext-zed", msg, sizeof(msg)), TS_E_CONFIG);
	CHECK_MSG(strstr(msg, "ext-zed has a tokenseal sign-in and is refused"), "%s", msg);
	CHECK_INT(ask(c, TS_MSG_REVALIDATE, "ext-blank", NULL, 0), TS_E_NOT_CONFIGURED);
	snprintf(more, sizeof(more), "%smin_uid = 60001\n", nss);
	config_with(c, sizeof(c), "nss-minuid", "conf", more);
	CHECK_INT(ask(c, TS_MSG_REVALIDATE, "ext-zed", msg, sizeof(msg)), TS_E_CONFIG);
	CHECK_INT(ask(c, TS_MSG_OPEN_SESSION, "ext-zed", NULL, 0), TS_E_CONFIG);
	CHECK_INT(ask(c, TS_MSG_REVALIDATE, "ext-blank", NULL, 0), TS_E_NOT_CONFIGURED);
}

/* Forged log lines through the service name and the method. */
static void test_log_forgery(void)
{
	static const char fake[] = "Dec  7 02:00:00 host sudo:     root : TTY=pts/0 ; PWD=/root ; "
	                           "USER=root ; COMMAND=/bin/sh";
	struct ts_client_result res;
	char service[300], method[300], want[400];
	struct call_req q = {.type = TS_MSG_STATUS, .user = "carol", .service = service};
	size_t n = 0;
	char *log;

	snprintf(service, sizeof(service), "test\n%s", fake);
	CHECK_INT(call_as(dbg, cfg, &q, &res), 0);
	ts_client_result_clear(&res);
	/* the broker reads at most 31 bytes of a method: a short forgery */
	snprintf(method, sizeof(method), "x\r\nsudo: root : forged");
	q = (struct call_req){.type = TS_MSG_LOGIN, .user = "carol", .method = method};
	CHECK_INT(call_as(dbg, cfg, &q, &res), 0);
	CHECK_INT(res.code, TS_E_CONFIG); /* login method "x..." is not enabled */
	ts_client_result_clear(&res);

	log = ts_test_read_file(logfile, &n);
	snprintf(want, sizeof(want), "status for carol (service test?%s)", fake);
	CHECK_MSG(strstr(log, want), "the forged service is escaped on the request's line");
	CHECK_MSG(strstr(log, "login method \"x??sudo: root : forged\" is not enabled"),
	          "the forged method is escaped on the request's line");
	for (char *l = log; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		CHECK_MSG(strncmp(l, "Dec  7 02:00:00", 15) != 0, "no forged line of its own");
		CHECK_MSG(strncmp(l, "sudo: root", 10) != 0, "no forged line of its own");
	}
	free(log);
}

/* Run one request with the real uid ruid and euid 0 (sudo's shape): its
 * code, message into msg. */
static int ask_as_ruid(uid_t ruid, const char *config, const struct call_req *q, char *msg,
                       size_t msglen)
{
	int p[2], st = 0;
	pid_t pid;
	char buf[600] = "";
	ssize_t k;
	int code = 0;

	CHECK(pipe(p) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct ts_client_result res;
		char line[700];

		close(p[0]);
		if (setresuid(ruid, 0, 0) < 0 || call_as(broker_bin, config, q, &res) < 0)
			_exit(1);
		snprintf(line, sizeof(line), "%d %s", res.code, res.message);
		if (write(p[1], line, strlen(line)) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	k = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0 && k > 0, "the caller ran");
	buf[k > 0 ? k : 0] = '\0';
	code = (int)strtol(buf, NULL, 10);
	snprintf(msg, msglen, "%s", strchr(buf, ' ') ? strchr(buf, ' ') + 1 : "");
	return code;
}

static void test_auth_stored(void)
{
	char c_on[800], msg[600], want[600];
	uid_t bob = uid_of("bob");
	struct call_req q = {.type = TS_MSG_AUTH_STORED, .user = "bob", .flags = TS_FLAG_SAME_USER};

	config_with(c_on, sizeof(c_on), "stored", "conf", "[service test]\nauth_with_stored_token = yes\n");
	/* the service does not enable it: refused, even for bob himself */
	CHECK_INT(ask_as_ruid(bob, cfg, &q, msg, sizeof(msg)), TS_E_PERM);
	CHECK_STR(msg, "auth_with_stored_token is not enabled for the service test: the stored "
	               "sign-in of bob does not authenticate here");
	/* enabled, bob himself, local: it works (the proof that the rest is
	 * refused for its own reason) */
	CHECK_INT(ask_as_ruid(bob, c_on, &q, msg, sizeof(msg)), 0);
	snprintf(want, sizeof(want), "signed in with the stored tokens, confirmed by %s",
	         idp.issuer);
	CHECK_STR(msg, want);
	/* a same-user claim with a remote host */
	q.rhost = "attacker.example";
	CHECK_INT(ask_as_ruid(bob, c_on, &q, msg, sizeof(msg)), TS_E_PERM);
	CHECK_STR(msg, "a request for bob claims the caller is the user but comes from the remote "
	               "host attacker.example: refused (a stored sign-in never stands in for a "
	               "remote login)");
	/* the same through LOGIN (auth_with_stored_token's path in sshd's shape) */
	q.type = TS_MSG_LOGIN;
	CHECK_INT(ask_as_ruid(bob, c_on, &q, msg, sizeof(msg)), TS_E_PERM);
	CHECK_MSG(strstr(msg, "comes from the remote host attacker.example: refused"), "%s", msg);
	/* no same-user claim at all */
	q = (struct call_req){.type = TS_MSG_AUTH_STORED, .user = "bob"};
	CHECK_INT(ask_as_ruid(bob, c_on, &q, msg, sizeof(msg)), TS_E_PERM);
	CHECK_STR(msg, "the stored sign-in of bob authenticates only a caller who is that user "
	               "(same real uid, no remote host): refused");
	/* (the real uid of the caller is the module's proof: pam tests drive the
	 * real module in sudo's shape for alice, bob and root; the broker runs
	 * with every id root and cannot see it) */
}

int main(int argc, char **argv)
{
	char extra[1200];
	bool attack;

	if (argc == 4 && strcmp(argv[2], "--erange-child") == 0)
		return erange_child(argv[3]);
	if (argc < 3)
		TS_SKIP("usage: test_broker_attack PATH-TO-tokenseal-broker attack|regress "
		        "[tokenseal.conf.example]");
	if (getuid() != 0)
		TS_SKIP("needs root (the broker's exec mode serves root callers only)");
	if (!getpwnam("alice") || !getpwnam("bob") || !getpwnam("carol"))
		TS_SKIP("local users alice/bob/carol missing: scripts/test creates them");
	attack = strcmp(argv[2], "attack") == 0;
	CHECK(ts_strlcpy(broker_bin, argv[1], sizeof(broker_bin)) == 0);
	if (argc > 3)
		CHECK(ts_strlcpy(example, argv[3], sizeof(example)) == 0);
	if (argc > 4)
		CHECK(ts_strlcpy(nss_wrapper, argv[4], sizeof(nss_wrapper)) == 0);
	CHECK(realpath("/proc/self/exe", self_bin));
	CHECK(ts_idp_start(&idp, 3600) == 0);
	snprintf(logfile, sizeof(logfile), "%s/broker.log", ts_test_tmpdir());
	snprintf(cfg, sizeof(cfg), "%s/attack.conf", idp.dir);
	snprintf(ksdir, sizeof(ksdir), "%s/ks-attack", idp.dir);
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
	{
		/* bob's record, used by both groups */
		struct call_req q = {.type = TS_MSG_LOGIN, .user = "bob", .password = "bob-pw"};
		struct ts_client_result res;

		CHECK_INT(call_as(broker_bin, cfg, &q, &res), 0);
		CHECK_INT(res.code, 0);
		ts_client_result_clear(&res);
	}
	if (attack) {
		RUN(test_config_lockout);
		RUN(test_idp_only_record);
		RUN(test_log_forgery);
		RUN(test_auth_stored);
	} else {
		CHECK_MSG(example[0], "the path of docs/tokenseal.conf.example");
		broker_regress_run();
	}
	ts_leak_scan_file("the broker's log", logfile);
	if (missing[0])
		TS_SKIP("not installed:%s (the other cases passed)", missing);
	return ts_test_done();
}
