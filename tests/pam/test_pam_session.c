/* SPDX-License-Identifier: MIT */
/*
 * The session phase and stored-token auth of issue 4 through libpam: the
 * real pam_tokenseal.so (under pam_wrapper) runs the real tokenseal-broker
 * (exec mode, --debug) against the real test IdP (tests/fixtures/idp). Each
 * case fails without its behaviour:
 *
 *  a  auth_with_stored_token = yes: a user with a valid record authenticates
 *     with no conversation at all and no device authorization at the server;
 *     = no: the same user gets a device login (code shown)
 *  b  open_session inside the refresh window refreshes exactly once (the
 *     stored access token changes); outside it, no refresh
 *  c  after open_session neither the PAM environment nor the process
 *     environment holds the access token, a TOKENSEAL_* variable or
 *     anything token-like
 *  d  close_session, revoke_on = logout: record deleted, one revocation at
 *     the server, the grant's access token inactive, REVALIDATE says
 *     TS_E_NO_RECORD and account ignores the user
 *  e  revoke_on = last-session: two sessions, one close keeps the record
 *     and revokes nothing; the second close deletes and revokes
 *  f  revoke_on = never: close keeps the record, revokes nothing, the next
 *     account phase succeeds
 *
 * Every PAM transaction runs in a forked child (stderr = pam_wrapper's log,
 * captured to a file; conversation and environment returned through shared
 * memory) and every log and conversation is scanned for token text.
 *
 * argv[1] = tokenseal-broker. Environment (CTest, tests/pam/session.cmake):
 * pam_wrapper with the services tss-* whose config TS_PAM_SESSION_CONF is
 * written here.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "ts_client.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_test.h"

#define CONV_MAX 8192
#define ENV_MAX 16384
#define MAX_STEPS 8

extern char **environ;

static struct ts_idp idp;
static char broker_bin[512], wrapper[700], logfile[700], ksdir[700];
static const char *conf;

/* ---- token collection and the leak scan -------------------------------- */

/* ---- PAM transactions in a child ---------------------------------------- */

enum op { AUTH, ACCOUNT, OPEN, CLOSE, PAUSE };

struct step {
	enum op op;
	int h; /* handle 0 or 1 */
};

struct conv_spec {
	const char *approve_login, *approve_pw; /* NULL: nobody approves */
	const char *answer;                     /* answer to every prompt; NULL: refuse */
};

/* Shared with the child (MAP_SHARED). */
struct op_slot {
	int rv[MAX_STEPS];
	int done;
	int paused, resume;
	unsigned prompts, messages;
	char code[64];
	char conv[CONV_MAX];
	char env[ENV_MAX]; /* after each OPEN: "pam:NAME=VALUE\n", "proc:..." */
	char errfile[700];
};

struct conv_ctx {
	const struct conv_spec *spec;
	struct op_slot *slot;
	pid_t approver;
};

static struct op_slot *slot;
static unsigned op_seq;

static void append(char *buf, size_t size, const char *kind, const char *text)
{
	size_t used = strlen(buf);

	if (used < size)
		snprintf(buf + used, size - used, "%s:%s\n", kind, text);
}

static void maybe_approve(struct conv_ctx *c, const char *text)
{
	const char *p = strstr(text, "enter the code ");
	size_t n;

	if (!p || c->slot->code[0])
		return;
	p += strlen("enter the code ");
	n = strcspn(p, " \n");
	if (n == 0 || n >= sizeof(c->slot->code))
		return;
	memcpy(c->slot->code, p, n);
	c->slot->code[n] = '\0';
	if (!c->spec->approve_login)
		return;
	c->approver = fork();
	if (c->approver == 0) {
		int r;

		sleep(1);
		r = ts_idp_approve_device(&idp, c->slot->code, c->spec->approve_login,
		                          c->spec->approve_pw, 0);
		_exit(r == 0 ? 0 : 1);
	}
}

static int conv_fn(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct conv_ctx *c = data;
	struct pam_response *out = calloc((size_t)n, sizeof(*out));

	if (!out)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		c->slot->messages++;
		switch (msg[i]->msg_style) {
		case PAM_TEXT_INFO:
			append(c->slot->conv, sizeof(c->slot->conv), "info", msg[i]->msg);
			maybe_approve(c, msg[i]->msg);
			break;
		case PAM_ERROR_MSG:
			append(c->slot->conv, sizeof(c->slot->conv), "error", msg[i]->msg);
			maybe_approve(c, msg[i]->msg);
			break;
		default:
			append(c->slot->conv, sizeof(c->slot->conv), "prompt", msg[i]->msg);
			c->slot->prompts++;
			if (!c->spec->answer) {
				for (int j = 0; j < i; j++)
					free(out[j].resp);
				free(out);
				return PAM_CONV_ERR;
			}
			out[i].resp = strdup(c->spec->answer);
			if (!out[i].resp) {
				free(out);
				return PAM_BUF_ERR;
			}
			break;
		}
	}
	*resp = out;
	return PAM_SUCCESS;
}

/* The PAM environment of the handle and the process environment. */
static void capture_env(struct op_slot *s, pam_handle_t *ph)
{
	char **list = pam_getenvlist(ph);

	if (list) {
		for (char **e = list; *e; e++) {
			append(s->env, sizeof(s->env), "pam", *e);
			free(*e);
		}
		free(list);
	}
	for (char **e = environ; e && *e; e++)
		append(s->env, sizeof(s->env), "proc", *e);
}

/* The child: up to two handles, the steps in order; PAUSE waits for the
 * parent to look at the state between two steps. */
_Noreturn static void op_child(const char *service, const char *user, const struct step *steps,
                               size_t n, const struct conv_spec *spec, struct op_slot *s)
{
	struct conv_ctx c = {.spec = spec, .slot = s};
	struct pam_conv conv = {conv_fn, &c};
	pam_handle_t *ph[2] = {NULL, NULL};
	int last[2] = {PAM_SUCCESS, PAM_SUCCESS};
	int fd, st = 0;

	fd = open(s->errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, 2) < 0)
		_exit(3);
	close(fd);
	for (size_t i = 0; i < n; i++) {
		int h = steps[i].h, rv;

		if (steps[i].op == PAUSE) {
			__atomic_store_n(&s->paused, 1, __ATOMIC_SEQ_CST);
			for (int k = 0; k < 1200 && !__atomic_load_n(&s->resume, __ATOMIC_SEQ_CST);
			     k++)
				usleep(50 * 1000);
			__atomic_store_n(&s->resume, 0, __ATOMIC_SEQ_CST);
			s->rv[i] = PAM_SUCCESS;
			continue;
		}
		if (!ph[h]) {
			rv = pam_start(service, user, &conv, &ph[h]);
			if (rv != PAM_SUCCESS) {
				s->rv[i] = rv;
				break;
			}
			(void)pam_set_item(ph[h], PAM_RHOST, "127.0.0.1");
		}
		switch (steps[i].op) {
		case AUTH:
			rv = pam_authenticate(ph[h], 0);
			break;
		case ACCOUNT:
			rv = pam_acct_mgmt(ph[h], 0);
			break;
		case OPEN:
			rv = pam_open_session(ph[h], 0);
			capture_env(s, ph[h]);
			break;
		default:
			rv = pam_close_session(ph[h], 0);
			break;
		}
		s->rv[i] = rv;
		last[h] = rv;
	}
	for (int h = 0; h < 2; h++)
		if (ph[h])
			pam_end(ph[h], last[h]);
	if (c.approver > 0) {
		if (waitpid(c.approver, &st, 0) != c.approver || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			append(s->conv, sizeof(s->conv), "test",
			       "the IdP did not take the approval");
	}
	s->done = 1;
	/* exit, not _exit: pam_wrapper's destructor removes this process's
	 * /tmp/pam.X copy of the services */
	exit(0);
}

static pid_t op_spawn(const char *service, const char *user, const struct step *steps, size_t n,
                      const struct conv_spec *spec)
{
	static const struct conv_spec none = {0};
	pid_t pid;

	CHECK(n <= MAX_STEPS);
	memset(slot, 0, sizeof(*slot));
	for (size_t i = 0; i < MAX_STEPS; i++)
		slot->rv[i] = -1;
	snprintf(slot->errfile, sizeof(slot->errfile), "%s/op-%u.err", ts_test_tmpdir(), op_seq++);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		op_child(service, user, steps, n, spec ? spec : &none, slot);
	return pid;
}

/* Wait until the child pauses (true) or ends (false). */
static bool op_wait_pause(pid_t pid)
{
	for (int k = 0; k < 1200; k++) {
		int st = 0;

		if (__atomic_load_n(&slot->paused, __ATOMIC_SEQ_CST))
			return true;
		if (waitpid(pid, &st, WNOHANG) == pid)
			CHECK_MSG(false, "the PAM child ended before its pause (status %d)", st);
		usleep(50 * 1000);
	}
	CHECK_MSG(false, "the PAM child never paused");
	return false;
}

static void op_resume(void)
{
	__atomic_store_n(&slot->paused, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&slot->resume, 1, __ATOMIC_SEQ_CST);
}

/* Wait for the child; show and scan its PAM log, conversation and env. */
static void op_finish(pid_t pid, const char *service, const char *user)
{
	int st = 0;
	size_t len = 0;
	char *err;

	CHECK(waitpid(pid, &st, 0) == pid);
	err = ts_test_read_file(slot->errfile, &len);
	fprintf(stderr, "   %s %s -> %s %s %s %s\n--- pam log:\n%s--- conversation:\n%s", service,
	        user, slot->rv[0] >= 0 ? pam_strerror(NULL, slot->rv[0]) : "-",
	        slot->rv[1] >= 0 ? pam_strerror(NULL, slot->rv[1]) : "-",
	        slot->rv[2] >= 0 ? pam_strerror(NULL, slot->rv[2]) : "-",
	        slot->rv[3] >= 0 ? pam_strerror(NULL, slot->rv[3]) : "-", err, slot->conv);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0 && slot->done,
	          "the PAM child for %s/%s ended cleanly (status %d)", service, user, st);
	ts_leak_scan("the PAM log (pam_wrapper stderr)", err, len);
	ts_leak_scan("the conversation", slot->conv, strlen(slot->conv));
	CHECK_MSG(!ts_contains(err, len, "Sanitizer") && !ts_contains(err, len, "runtime error"),
	          "the module ran clean under the sanitizers");
	free(err);
	CHECK_MSG(!strstr(slot->conv, "test:"), "%s", slot->conv);
}

/* Run the steps in one child and wait for it. */
static void pam_steps(const char *service, const char *user, const struct step *steps, size_t n,
                      const struct conv_spec *spec)
{
	pid_t pid = op_spawn(service, user, steps, n, spec);

	op_finish(pid, service, user);
}

static int pam_one(const char *service, const char *user, enum op op, const struct conv_spec *spec)
{
	const struct step s[] = {{op, 0}};

	pam_steps(service, user, s, 1, spec);
	return slot->rv[0];
}

/* ---- helpers ------------------------------------------------------------ */

static uid_t uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);

	CHECK(pw);
	return pw->pw_uid;
}

static bool has_record(const char *user)
{
	char path[900];

	snprintf(path, sizeof(path), "%s/users/%u.seal", ksdir, (unsigned)uid_of(user));
	return access(path, F_OK) == 0;
}

static long count(const char *key)
{
	long n = ts_idp_count(&idp, key);

	CHECK_MSG(n >= 0, "the IdP's counter %s", key);
	return n;
}

static void reset_counters(void)
{
	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
}

/* One broker request from the test itself (root acts for the user). */
static int broker_call(enum ts_msg_type type, const char *user, const char *service,
                       struct ts_client_result *res)
{
	const struct ts_client_opts opts = {.broker_path = wrapper, .config_path = conf};
	const struct ts_client_request req = {
	    .type = type, .user = user, .service = service, .flags = TS_FLAG_NONINTERACTIVE};

	memset(res, 0, sizeof(*res));
	CHECK_INT(ts_client_call(&opts, &req, NULL, res), 0);
	return res->code;
}

/* The user's current access token through the broker's GET_TOKEN. */
static char *get_token(const char *user, const char *service)
{
	struct ts_client_result res;
	char *t;

	CHECK_MSG(broker_call(TS_MSG_GET_TOKEN, user, service, &res) == 0, "GET_TOKEN for %s: %s",
	          user, res.message);
	CHECK_MSG(res.token && strlen(res.token) >= 20, "GET_TOKEN returned a token");
	t = strdup(res.token);
	CHECK(t);
	ts_leak_remember(t);
	ts_client_result_clear(&res);
	return t;
}

/* Introspection of a token at the IdP (confidential client, curl): true
 * when the server says {"active":true}. */
static bool introspect_active(const char *token)
{
	char secret[256], user_arg[400], form[4096], url[400], out[8192];
	size_t slen = 0;
	char *sec = ts_test_read_file(idp.secret_file, &slen);

	snprintf(secret, sizeof(secret), "%s", sec);
	free(sec);
	snprintf(user_arg, sizeof(user_arg), "%s:%s", idp.conf_client, secret);
	snprintf(form, sizeof(form), "token=%s", token);
	snprintf(url, sizeof(url), "%s/token/introspection", idp.issuer);
	const char *argv[] = {"/usr/bin/curl", "-sS", "--cacert", idp.ca, "-u",
	                      user_arg,        "-d",  form,       url,    NULL};
	CHECK_INT(ts_idp_run(argv, out, sizeof(out)), 0);
	CHECK_MSG(strstr(out, "\"active\":"), "introspection answered: %.200s", out);
	return strstr(out, "\"active\":true") != NULL;
}

/* A fresh password login (tss-pw: login_methods = password). */
static void password_login(const char *user, const char *pw)
{
	struct conv_spec spec = {.answer = pw};

	CHECK_INT(pam_one("tss-pw", user, AUTH, &spec), PAM_SUCCESS);
	CHECK_INT(slot->prompts, 1);
	CHECK_MSG(has_record(user), "%s's record stored", user);
}

/* ---- the cases -------------------------------------------------------- */

/* a: stored-token auth. */
static void test_auth_stored_token(void)
{
	struct conv_spec approve = {.approve_login = "alice", .approve_pw = "alice-pw"};

	/* a device login first (tss-nostored: auth_with_stored_token = no) */
	reset_counters();
	CHECK_INT(pam_one("tss-nostored", "alice", AUTH, &approve), PAM_SUCCESS);
	CHECK_MSG(slot->code[0], "the device code reached the PAM conversation");
	CHECK_INT(slot->prompts, 0);
	CHECK_INT(count("device_authorization"), 1);
	CHECK_MSG(has_record("alice"), "alice's record stored");

	/* yes: no conversation at all, no device authorization, but the
	 * server was asked about the stored token */
	reset_counters();
	CHECK_INT(pam_one("tss-stored", "alice", AUTH, NULL), PAM_SUCCESS);
	CHECK_INT(slot->messages, 0);
	CHECK_INT(slot->prompts, 0);
	CHECK_MSG(slot->conv[0] == '\0', "no conversation: %s", slot->conv);
	CHECK_INT(count("device_authorization"), 0);
	CHECK_MSG(count("introspection") + count("userinfo") >= 1,
	          "the stored token was confirmed by the server");

	/* no: the same user, same valid record, gets a device login */
	reset_counters();
	CHECK_INT(pam_one("tss-nostored", "alice", AUTH, &approve), PAM_SUCCESS);
	CHECK_MSG(slot->code[0] && strstr(slot->conv, "enter the code"),
	          "a device login with a code was shown: %s", slot->conv);
	CHECK_INT(count("device_authorization"), 1);
}

/* b: open_session refreshes inside the refresh window, not outside. */
static void test_open_session_refresh(void)
{
	char *t1, *t2, *t3;

	/* outside: ttl 3600, refresh_window 60 (tss-fresh-out) */
	password_login("alice", "alice-pw");
	t1 = get_token("alice", "tss-fresh-out");
	reset_counters();
	CHECK_INT(pam_one("tss-fresh-out", "alice", OPEN, NULL), PAM_SUCCESS);
	CHECK_INT(count("token:refresh_token"), 0);
	t2 = get_token("alice", "tss-fresh-out");
	CHECK_MSG(strcmp(t1, t2) == 0, "the stored access token is unchanged outside the window");
	free(t2);
	free(t1);

	/* inside: ttl 16 s, refresh_window 0 (25 %, clamped to 60 s, which
	 * the broker caps at half the lifetime: 8 s); 10 s after the login
	 * about 6 s are left */
	CHECK_INT(ts_idp_ctl(&idp, "set-ttl", "16"), 0);
	password_login("alice", "alice-pw");
	t1 = get_token("alice", "tss-fresh");
	sleep(10);
	reset_counters();
	CHECK_INT(pam_one("tss-fresh", "alice", OPEN, NULL), PAM_SUCCESS);
	CHECK_INT(count("token:refresh_token"), 1);
	CHECK_INT(ts_idp_ctl(&idp, "set-ttl", "3600"), 0);
	t3 = get_token("alice", "tss-fresh");
	CHECK_MSG(strcmp(t1, t3) != 0, "open_session stored a new access token");
	CHECK_INT(count("token:refresh_token"), 1); /* GET_TOKEN found it fresh */
	CHECK_MSG(introspect_active(t3), "the stored token is the server's current one");
	free(t1);
	free(t3);
}

static bool env_has_token_var(const char *env)
{
	for (const char *line = env; *line;) {
		size_t n = strcspn(line, "\n");
		const char *name = strchr(line, ':');

		if (name && (size_t)(name - line) < n && strncmp(name + 1, "TOKENSEAL_", 10) == 0)
			return true;
		line += n;
		if (*line)
			line++;
	}
	return false;
}

/* c: no token in the environment after open_session. */
static void test_no_token_in_env(void)
{
	char *t, *t2;

	password_login("alice", "alice-pw"); /* a 3600 s token again */
	t = get_token("alice", "tss-fresh-out");
	CHECK_INT(pam_one("tss-fresh-out", "alice", OPEN, NULL), PAM_SUCCESS);
	CHECK_MSG(strstr(slot->env, "proc:PAM_WRAPPER="),
	          "the environment was captured after open_session");
	CHECK_MSG(!ts_contains(slot->env, strlen(slot->env), t),
	          "the access token is in the environment after open_session");
	CHECK_MSG(!env_has_token_var(slot->env), "a TOKENSEAL_* variable after open_session: %s",
	          slot->env);
	ts_leak_scan("the environment after open_session", slot->env, strlen(slot->env));
	/* the token checked for is the one the session uses */
	t2 = get_token("alice", "tss-fresh-out");
	CHECK_MSG(strcmp(t, t2) == 0, "the session's token is the one looked for");
	free(t);
	free(t2);
}

/* d: revoke_on = logout. */
static void test_close_logout(void)
{
	const struct step oc[] = {{OPEN, 0}, {CLOSE, 0}};
	struct ts_client_result res;
	char *t;

	t = get_token("alice", "tss-logout");
	CHECK_MSG(introspect_active(t), "alice's access token is active before the logout");
	reset_counters();
	pam_steps("tss-logout", "alice", oc, 2, NULL);
	CHECK_INT(slot->rv[0], PAM_SUCCESS);
	CHECK_INT(slot->rv[1], PAM_SUCCESS);
	CHECK_MSG(!has_record("alice"), "the record was deleted at close_session");
	CHECK_INT(count("revocation"), 1);
	/* revoking the refresh token ends the grant (oidc-provider): its
	 * access token is dead too */
	CHECK_MSG(!introspect_active(t), "the grant was revoked at the server");
	CHECK_INT(broker_call(TS_MSG_REVALIDATE, "alice", "tss-logout", &res), TS_E_NO_RECORD);
	ts_client_result_clear(&res);
	/* account: PAM_IGNORE, which the stack sends on to pam_deny */
	CHECK_INT(pam_one("tss-logout", "alice", ACCOUNT, NULL), PAM_AUTH_ERR);
	free(t);
}

/* e: revoke_on = last-session: two sessions (two handles in one process,
 * as two logins), the first close keeps everything, the last revokes. */
static void test_close_last_session(void)
{
	const struct step steps[] = {{OPEN, 0}, {OPEN, 1}, {CLOSE, 0}, {PAUSE, 0}, {CLOSE, 1}};
	pid_t pid;
	char *t;

	password_login("bob", "bob-pw");
	t = get_token("bob", "tss-last");
	reset_counters();
	pid = op_spawn("tss-last", "bob", steps, TS_ARRAY_SIZE(steps), NULL);
	CHECK(op_wait_pause(pid));
	CHECK_INT(slot->rv[0], PAM_SUCCESS);
	CHECK_INT(slot->rv[1], PAM_SUCCESS);
	CHECK_INT(slot->rv[2], PAM_SUCCESS);
	CHECK_MSG(has_record("bob"), "one session still open: the record is kept");
	CHECK_INT(count("revocation"), 0);
	CHECK_MSG(introspect_active(t), "nothing was revoked at the first close");
	op_resume();
	op_finish(pid, "tss-last", "bob");
	CHECK_INT(slot->rv[4], PAM_SUCCESS);
	CHECK_MSG(!has_record("bob"), "the last close deleted the record");
	CHECK_INT(count("revocation"), 1);
	CHECK_MSG(!introspect_active(t), "the last close revoked the grant");
	free(t);
}

/* f: revoke_on = never. */
static void test_close_never(void)
{
	const struct step oc[] = {{OPEN, 0}, {CLOSE, 0}};
	char *t;

	password_login("carol", "carol-pw");
	t = get_token("carol", "tss-never");
	reset_counters();
	pam_steps("tss-never", "carol", oc, 2, NULL);
	CHECK_INT(slot->rv[0], PAM_SUCCESS);
	CHECK_INT(slot->rv[1], PAM_SUCCESS);
	CHECK_MSG(has_record("carol"), "the record is kept");
	CHECK_INT(count("revocation"), 0);
	CHECK_MSG(introspect_active(t), "the grant lives on");
	CHECK_INT(pam_one("tss-never", "carol", ACCOUNT, NULL), PAM_SUCCESS);
	free(t);
}

int main(int argc, char **argv)
{
	char extra[2400];
	FILE *f;

	conf = getenv("TS_PAM_SESSION_CONF");
	if (argc < 2)
		TS_SKIP("usage: test_pam_session PATH-TO-tokenseal-broker");
	if (!getenv("PAM_WRAPPER") || !conf)
		TS_SKIP("needs pam_wrapper and TS_PAM_SESSION_CONF: run through CTest");
	if (getuid() != 0)
		TS_SKIP("needs root (the broker acts for alice, bob and carol)");
	if (!getpwnam("alice") || !getpwnam("bob") || !getpwnam("carol"))
		TS_SKIP("local users alice/bob/carol missing: scripts/test creates them");
	if (access("/usr/bin/curl", X_OK) != 0)
		TS_SKIP("needs /usr/bin/curl to ask the IdP's introspection");
	snprintf(broker_bin, sizeof(broker_bin), "%s", argv[1]);
	slot = mmap(NULL, sizeof(*slot), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(slot != MAP_FAILED);
	CHECK(ts_idp_start(&idp, 3600) == 0);
	snprintf(ksdir, sizeof(ksdir), "%s/keystore", idp.dir);

	/* the broker (--debug) through a wrapper that keeps its stderr */
	snprintf(logfile, sizeof(logfile), "%s/broker.log", ts_test_tmpdir());
	snprintf(wrapper, sizeof(wrapper), "%s/broker-wrapper", ts_test_tmpdir());
	f = fopen(wrapper, "w");
	CHECK(f);
	fprintf(f, "#!/bin/sh\nexec '%s' --debug \"$@\" 2>>'%s'\n", broker_bin, logfile);
	CHECK(fclose(f) == 0);
	CHECK(chmod(wrapper, 0755) == 0);

	snprintf(extra, sizeof(extra),
	         "broker_path = %s\nlogin_methods = device\nhttp_timeout = 5\noffline_grace = 0\n"
	         "\n[service tss-stored]\nauth_with_stored_token = yes\n"
	         "\n[service tss-nostored]\nauth_with_stored_token = no\n"
	         "\n[service tss-pw]\nlogin_methods = password\n"
	         "\n[service tss-fresh]\nrefresh_window = 0\nrevoke_on = never\n"
	         "\n[service tss-fresh-out]\nrefresh_window = 60\nrevoke_on = never\n"
	         "\n[service tss-logout]\nrevoke_on = logout\n"
	         "\n[service tss-last]\nrevoke_on = last-session\n"
	         "\n[service tss-never]\nrevoke_on = never\n",
	         wrapper);
	CHECK_MSG(ts_idp_write_config(&idp, conf, "conf", extra) == 0, "write %s", conf);

	RUN(test_auth_stored_token);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_open_session_refresh);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_no_token_in_env);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_close_logout);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_close_last_session);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_close_never);
	ts_leak_scan_file("the broker's log", logfile);
	CHECK_MSG(ts_leak_count() >= 6, "only %zu known tokens were scanned for", ts_leak_count());
	fprintf(stderr, "scanned every log, conversation and environment for %zu known tokens\n",
	        ts_leak_count());
	return ts_test_done();
}
