/* SPDX-License-Identifier: MIT */
/*
 * The module decides locally (issue 15 §0/§1; labels pam and attack): the
 * real pam_tokenseal.so under pam_wrapper, the users from an nss_wrapper
 * passwd file (tests/pam/local.cmake). For root (whose entry has a gecos
 * longer than the module's first getpwnam_r buffer: ERANGE must not read as
 * "no such user"), a system account (uid 120) and nobody (65534), with the
 * config missing, unparseable and valid, every phase and setcred is
 * PAM_IGNORE, and the broker is never run (broker_path is a program that
 * records that it ran) and the daemon's socket never connected to (a
 * listener that never accepts, checked for a pending connection). A
 * missing or unparseable file loses its broker_path; there the proof is the
 * module's own debug line before every broker call ("asking ..."), absent
 * for them and present for alice, the positive control, in every config.
 * The bounds come from the file when it parses (max_uid = 63000 serves uid
 * 62000; the compiled-in 60000 does not).
 *
 * Also ERANGE (issue 15 §5): setcred and the same-user proof of a user
 * whose gecos is longer than the buffers the module used to try.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "ts_test.h"

#ifndef TS_PEER_PATH
#error "TS_PEER_PATH must name the protocol test peer"
#endif
#ifndef TS_LOCAL_DIR
#error "TS_LOCAL_DIR must name the generated services and configs"
#endif

/* What pam_debug answers after a PAM_IGNORE (the module never returns it). */
#define IGNORED PAM_CRED_INSUFFICIENT

static char broker[700], marker[700], sockdir[700], sock[800], errpath[700];
static int lfd = -1;

struct conv_rec {
	char log[4096];
};

static int conv_fn(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct conv_rec *r = data;
	struct pam_response *out = calloc((size_t)n, sizeof(*out));

	if (!out)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		size_t used = strlen(r->log);
		snprintf(r->log + used, sizeof(r->log) - used, "%d:%s\n", msg[i]->msg_style,
		         msg[i]->msg);
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON || msg[i]->msg_style == PAM_PROMPT_ECHO_OFF) {
			free(out);
			return PAM_CONV_ERR;
		}
	}
	*resp = out;
	return PAM_SUCCESS;
}

static void conf_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/conf/%s.conf", TS_LOCAL_DIR, name);
}

/* Was anybody connecting to the listener? (accept without blocking) */
static bool pending(void)
{
	int c = accept(lfd, NULL, NULL);

	if (c >= 0)
		close(c);
	return c >= 0;
}

static void reset_traces(void)
{
	(void)unlink(marker);
	while (pending())
		;
}

enum op { AUTH, SETCRED, ACCOUNT, OPEN, CLOSE, N_OPS };
static const char *const op_names[N_OPS] = {"auth", "setcred", "account", "open", "close"};

static int do_op(pam_handle_t *ph, enum op op)
{
	switch (op) {
	case AUTH:
		return pam_authenticate(ph, 0);
	case SETCRED:
		return pam_setcred(ph, PAM_ESTABLISH_CRED);
	case ACCOUNT:
		return pam_acct_mgmt(ph, 0);
	case OPEN:
		return pam_open_session(ph, 0);
	case CLOSE:
		return pam_close_session(ph, 0);
	default:
		return -1;
	}
}

/* One transaction running ops[0..n) (stderr, where pam_wrapper puts the
 * module's syslog lines, captured); returns the log (malloc'd). */
static char *transaction(const char *service, const char *user, const enum op *ops, size_t n,
                         int *rv)
{
	struct conv_rec rec = {0};
	struct pam_conv conv = {conv_fn, &rec};
	pam_handle_t *ph = NULL;
	int saved, fd;
	size_t len;
	char *log;

	fflush(stderr);
	saved = dup(2);
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && saved >= 0);
	CHECK(dup2(fd, 2) == 2);
	close(fd);
	CHECK_INT(pam_start(service, user, &conv, &ph), PAM_SUCCESS);
	CHECK_INT(pam_set_item(ph, PAM_RHOST, "192.0.2.9"), PAM_SUCCESS);
	for (size_t i = 0; i < n; i++)
		rv[i] = do_op(ph, ops[i]);
	pam_end(ph, PAM_SUCCESS);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	log = ts_test_read_file(errpath, &len);
	fprintf(stderr, "   %s %s:", service, user);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %s=%s", op_names[ops[i]], pam_strerror(NULL, rv[i]));
	fprintf(stderr, "\n--- log:\n%s--- conversation:\n%s", log, rec.log);
	return log;
}

static void write_conf(const char *name, const char *extra)
{
	char path[900], text[3000];

	conf_path(path, sizeof(path), name);
	snprintf(text, sizeof(text), "broker_path = %s\nsocket_path = %s\nmax_uid = 63000\n%s",
	         broker, sock, extra);
	ts_test_write_file(path, text, strlen(text), 0644);
}

static void setup(void)
{
	const char *t = ts_test_tmpdir();
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char path[900], text[1500];

	snprintf(errpath, sizeof(errpath), "%s/stderr", t);
	snprintf(marker, sizeof(marker), "%s/broker-ran", t);
	snprintf(broker, sizeof(broker), "%s/broker", t);
	snprintf(text, sizeof(text), "#!/bin/sh\necho ran >> '%s'\nexit 1\n", marker);
	ts_test_write_file(broker, text, strlen(text), 0755);

	/* the daemon's socket: root's, in a root folder, never accepting */
	snprintf(sockdir, sizeof(sockdir), "%s/run", t);
	CHECK_INT(mkdir(sockdir, 0755), 0);
	snprintf(sock, sizeof(sock), "%s/broker.sock", sockdir);
	CHECK(strlen(sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	CHECK(lfd >= 0);
	CHECK_INT(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(listen(lfd, 16), 0);

	snprintf(path, sizeof(path), "%s/conf", TS_LOCAL_DIR);
	(void)mkdir(path, 0755);
	write_conf("valid", "");
	/* one line that is no "key = value": the whole file is refused */
	write_conf("garbage", "this line is not a setting\n");
	conf_path(path, sizeof(path), "missing");
	(void)unlink(path);
	/* the protocol test peer, for the same-user proof */
	conf_path(path, sizeof(path), "peer");
	snprintf(text, sizeof(text), "broker_path = %s\nsocket_path = %s/none.sock\n", TS_PEER_PATH,
	         sockdir);
	ts_test_write_file(path, text, strlen(text), 0644);
	snprintf(text, sizeof(text), "%s.peer", path);
	ts_test_write_file(text, "type", 4, 0644);
}

/* Every phase and setcred: PAM_IGNORE, and nothing of the broker's touched. */
static void expect_ignored(const char *conf, const char *user)
{
	static const enum op ops[] = {AUTH, SETCRED, ACCOUNT, OPEN, CLOSE};
	char service[64];
	int rv[N_OPS];
	char *log;

	snprintf(service, sizeof(service), "local-%s", conf);
	reset_traces();
	log = transaction(service, user, ops, N_OPS, rv);
	for (size_t i = 0; i < N_OPS; i++)
		CHECK_MSG(rv[i] == IGNORED, "%s, %s: %s answered %s, not PAM_IGNORE", conf, user,
		          op_names[ops[i]], pam_strerror(NULL, rv[i]));
	CHECK_MSG(!strstr(log, "asking"), "%s, %s: the module asked a broker", conf, user);
	CHECK_MSG(!strstr(log, "broker"), "%s, %s: the log mentions a broker", conf, user);
	CHECK_MSG(strstr(log, "is not served"), "%s, %s: the debug log says why", conf, user);
	CHECK_MSG(access(marker, F_OK) != 0, "%s, %s: the broker ran", conf, user);
	CHECK_MSG(!pending(), "%s, %s: the daemon's socket was connected to", conf, user);
	free(log);
}

/* A served user: the module asks (the positive control of every check of
 * expect_ignored). */
static void expect_asked(const char *conf, const char *user)
{
	static const enum op ops[] = {ACCOUNT};
	char service[64], want[1200];
	int rv[1];
	char *log;

	snprintf(service, sizeof(service), "local-%s", conf);
	reset_traces();
	log = transaction(service, user, ops, 1, rv);
	CHECK_MSG(rv[0] != IGNORED && rv[0] != PAM_SUCCESS, "%s, %s: not ignored", conf, user);
	CHECK_MSG(strstr(log, "asking"), "%s, %s: the module asked the broker", conf, user);
	if (strcmp(conf, "valid") == 0) {
		CHECK_MSG(access(marker, F_OK) == 0, "%s, %s: the broker ran", conf, user);
		CHECK_MSG(pending(), "%s, %s: the socket was tried first", conf, user);
	} else {
		/* the file's problem is named, and the broker asked all the same */
		snprintf(want, sizeof(want), "account: cannot load %s/conf/%s.conf: ", TS_LOCAL_DIR,
		         conf);
		CHECK_MSG(strstr(log, want), "%s, %s: no '%s'", conf, user, want);
		CHECK_MSG(strstr(log, "asking the broker"), "%s: with the compiled-in defaults", conf);
		if (strcmp(conf, "garbage") == 0)
			CHECK_MSG(strstr(log, "garbage.conf:4: "), "the line is named");
	}
	free(log);
}

static void test_not_served_never_reach_the_broker(void)
{
	static const char *const confs[] = {"missing", "garbage", "valid"};
	static const char *const users[] = {"root", "sysacct", "nobody"};

	for (size_t c = 0; c < TS_ARRAY_SIZE(confs); c++) {
		for (size_t u = 0; u < TS_ARRAY_SIZE(users); u++)
			expect_ignored(confs[c], users[u]);
		expect_asked(confs[c], "alice");
	}
}

/* max_uid from the file when it parses; the compiled-in 60000 otherwise. */
static void test_bounds_from_the_file(void)
{
	expect_asked("valid", "highuid");
	expect_ignored("garbage", "highuid");
	expect_ignored("missing", "highuid");
}

/* ERANGE: setcred of a served user whose entry does not fit 4 KiB. */
static void test_setcred_long_gecos(void)
{
	static const enum op ops[] = {SETCRED};
	int rv[1];

	free(transaction("local-peer", "longgecos", ops, 1, rv));
	CHECK_MSG(rv[0] == PAM_SUCCESS, "setcred for longgecos: %s", pam_strerror(NULL, rv[0]));
	free(transaction("local-peer", "no-such-user-ts", ops, 1, rv));
	CHECK_INT(rv[0], IGNORED);
}

/* ERANGE: the same-user proof (real uid = the user's, no PAM_RHOST) for a
 * user whose entry does not fit 1 KiB; sudo's shape, in a child. The peer
 * answers with the request's flags: 24 = TS_FLAG_SAME_USER | TS_FLAG_DEBUG. */
static int same_user_flags(const char *user, uid_t ruid)
{
	pid_t pid;
	int st = 0;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct conv_rec rec = {0};
		struct pam_conv conv = {conv_fn, &rec};
		pam_handle_t *ph = NULL;
		const char *f;

		if (setresuid(ruid, 0, 0) < 0 || pam_start("local-peer", user, &conv, &ph) != PAM_SUCCESS)
			exit(100);
		(void)pam_authenticate(ph, 0);
		pam_end(ph, PAM_SUCCESS);
		fprintf(stderr, "   %s with real uid %u: %s", user, (unsigned)ruid, rec.log);
		f = strstr(rec.log, "flags=");
		exit(f ? (int)strtol(f + 6, NULL, 10) : 101);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_same_user_long_gecos(void)
{
	CHECK_INT(same_user_flags("longgecos", 1500), 24);
	CHECK_INT(same_user_flags("alice", 1500), 8); /* the control: another user */
}

int main(void)
{
	if (!getenv("PAM_WRAPPER") || !getenv("NSS_WRAPPER_PASSWD"))
		TS_SKIP("needs pam_wrapper and nss_wrapper (run through CTest)");
	if (getuid() != 0)
		TS_SKIP("needs root (the module runs only a root-owned broker and socket)");
	signal(SIGPIPE, SIG_IGN);
	setup();
	RUN(test_not_served_never_reach_the_broker);
	RUN(test_bounds_from_the_file);
	RUN(test_setcred_long_gecos);
	RUN(test_same_user_long_gecos);
	return ts_test_done();
}
