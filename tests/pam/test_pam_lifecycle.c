/* SPDX-License-Identifier: MIT */
/*
 * The token lifecycle of issue 4 through libpam: the real pam_tokenseal.so
 * (under pam_wrapper) runs the real tokenseal-broker (exec mode, --debug)
 * against the real test IdP (tests/fixtures/idp). Each case names the item
 * of issue 4 ("Tests (label pam)") it proves and fails without it:
 *
 *  2  access token revoked at the server, local expiry an hour away: the next
 *     account phase refreshes exactly once and replaces the record atomically
 *  3  grant revoked: PAM_PERM_DENIED with the invalid_grant sign-in message,
 *     the record kept; a device login heals it
 *  6  50 concurrent account phases after the revocation: all succeed, one
 *     refresh at the server
 *  7  server down: PAM_AUTHINFO_UNAVAIL within http_timeout, record byte for
 *     byte unchanged; offline_grace both ways
 *  8  account disabled at the server: account refused
 *  9  device login denied (PAM_MAXTRIES) and deadline reached (PAM_AUTH_ERR)
 *  10 password grant through the conversation; device-only never prompts;
 *     a pasted token accepted, a revoked one refused
 *  10b bob with alice's password or token: refused, both names shown,
 *     nothing stored for bob
 *  12 no token in any conversation text, PAM log or broker log
 *
 * Every PAM transaction runs in a forked child with its own handle, its
 * stderr (pam_wrapper's log, PAM_WRAPPER_DEBUGLEVEL) captured to a file and
 * its conversation text returned through shared memory, so the parent can
 * scan both for token text.
 *
 * argv[1] = tokenseal-broker. Environment (CTest, tests/pam/lifecycle.cmake):
 * pam_wrapper with the services tsl-main, tsl-deadline, tsl-password,
 * tsl-token (config TS_PAM_LIFE_CONF, written here) and tsl-grace (config
 * TS_PAM_LIFE_GRACE_CONF).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_test.h"

#define N_CONCURRENT 50
#define CONV_MAX 8192

static struct ts_idp idp;
static char broker_bin[512], wrapper[700], logfile[700], ksdir[700];
static const char *conf_main, *conf_grace;

/* ---- token collection and the leak scan (12) --------------------------- */

/* ---- one PAM transaction in a child ------------------------------------ */

enum op { AUTH, ACCOUNT };

struct conv_spec {
	const char *approve_login, *approve_pw; /* NULL: nobody approves */
	int deny;
	const char *answer; /* answer to every prompt; NULL: refuse prompts */
};

/* Shared with the child (MAP_SHARED). */
struct op_slot {
	int rv;
	int done;
	unsigned prompts;
	char code[64];
	char conv[CONV_MAX];
	char errfile[700];
};

struct conv_ctx {
	const struct conv_spec *spec;
	struct op_slot *slot;
	pid_t approver;
};

static void note(struct op_slot *s, const char *kind, const char *text)
{
	size_t used = strlen(s->conv);

	if (used < sizeof(s->conv))
		snprintf(s->conv + used, sizeof(s->conv) - used, "%s:%s\n", kind, text);
}

/* On the device-login text, approve (or deny) the code at the IdP from a
 * grandchild, as the user would in a browser while the broker polls. */
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
		                          c->spec->approve_pw, c->spec->deny);
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
		switch (msg[i]->msg_style) {
		case PAM_TEXT_INFO:
			note(c->slot, "info", msg[i]->msg);
			maybe_approve(c, msg[i]->msg);
			break;
		case PAM_ERROR_MSG:
			note(c->slot, "error", msg[i]->msg);
			maybe_approve(c, msg[i]->msg);
			break;
		default:
			note(c->slot, "prompt", msg[i]->msg);
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

/* Start barrier shared with the children (MAP_SHARED). */
struct sync_area {
	int started, target;
};
static struct sync_area *sync_area;
static char start_lock[700];

static void barrier_reset(int target)
{
	__atomic_store_n(&sync_area->started, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&sync_area->target, target, __ATOMIC_SEQ_CST);
}

/* The child: one handle, one phase, stderr to slot->errfile. */
_Noreturn static void op_child(const char *service, const char *user, enum op op,
                               const struct conv_spec *spec, struct op_slot *slot)
{
	struct conv_ctx c = {.spec = spec, .slot = slot};
	struct pam_conv conv = {conv_fn, &c};
	pam_handle_t *ph = NULL;
	int fd, rv, st = 0;

	fd = open(slot->errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, 2) < 0)
		_exit(3);
	close(fd);
	/* pam_wrapper sets itself up in the first pam_start: a fresh
	 * /tmp/pam.X, reclaiming stale ones. Concurrent set-ups can race for
	 * the same stale name ("no modules loaded"), so they run one at a
	 * time; the phases themselves start together after the barrier. */
	fd = open(start_lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		_exit(3);
	rv = pam_start(service, user, &conv, &ph);
	close(fd);
	__atomic_fetch_add(&sync_area->started, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 600 && __atomic_load_n(&sync_area->started, __ATOMIC_SEQ_CST) <
	                               __atomic_load_n(&sync_area->target, __ATOMIC_SEQ_CST);
	     i++)
		usleep(50 * 1000);
	if (rv == PAM_SUCCESS) {
		(void)pam_set_item(ph, PAM_RHOST, "127.0.0.1");
		rv = op == AUTH ? pam_authenticate(ph, 0) : pam_acct_mgmt(ph, 0);
		pam_end(ph, rv);
	}
	slot->rv = rv;
	if (c.approver > 0) {
		if (waitpid(c.approver, &st, 0) != c.approver || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			note(slot, "test", "the IdP did not take the approval");
	}
	slot->done = 1;
	/* exit, not _exit: pam_wrapper's destructor removes this process's
	 * /tmp/pam.X copy of the services, and there are only 62 such names
	 * for every pam_wrapper process on the machine (ts_test and ts_idp
	 * clean up only in the process that created their state) */
	exit(0);
}

static struct op_slot *slots; /* N_CONCURRENT + 1, shared */
static unsigned op_seq;

static pid_t op_spawn(const char *service, const char *user, enum op op,
                      const struct conv_spec *spec, struct op_slot *slot)
{
	pid_t pid;

	memset(slot, 0, sizeof(*slot));
	slot->rv = -1;
	snprintf(slot->errfile, sizeof(slot->errfile), "%s/op-%u.err", ts_test_tmpdir(), op_seq++);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		op_child(service, user, op, spec, slot);
	return pid;
}

/* Wait for the child; show and scan its PAM log and conversation. */
static int op_finish(pid_t pid, struct op_slot *slot, const char *service, const char *user,
                     bool quiet)
{
	int st = 0;
	size_t len = 0;
	char *err;

	CHECK(waitpid(pid, &st, 0) == pid);
	err = ts_test_read_file(slot->errfile, &len);
	if (!quiet || slot->rv != PAM_SUCCESS || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "   %s %s -> %s\n--- pam log:\n%s--- conversation:\n%s", service,
		        user, pam_strerror(NULL, slot->rv), err, slot->conv);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0 && slot->done,
	          "the PAM child for %s/%s ended cleanly (status %d)", service, user, st);
	ts_leak_scan("the PAM log (pam_wrapper stderr)", err, len);
	ts_leak_scan("the conversation", slot->conv, strlen(slot->conv));
	CHECK_MSG(!ts_contains(err, len, "Sanitizer") && !ts_contains(err, len, "runtime error"),
	          "the module ran clean under the sanitizers");
	free(err);
	CHECK_MSG(!strstr(slot->conv, "test:"), "%s", slot->conv);
	return slot->rv;
}

/* Run one phase; *ret (may be NULL) gets a copy of the slot. */
static int pam_op(const char *service, const char *user, enum op op, const struct conv_spec *spec,
                  struct op_slot *ret)
{
	static const struct conv_spec none = {0};
	struct op_slot *slot = &slots[N_CONCURRENT];
	pid_t pid;

	barrier_reset(1);
	pid = op_spawn(service, user, op, spec ? spec : &none, slot);
	int rv = op_finish(pid, slot, service, user, false);

	if (ret)
		*ret = *slot;
	return rv;
}

/* Does the PAM log (pam_wrapper's stderr) of a finished transaction say so? */
static bool log_has(const struct op_slot *s, const char *text)
{
	size_t len = 0;
	char *err = ts_test_read_file(s->errfile, &len);
	bool has = ts_contains(err, len, text);

	free(err);
	return has;
}

static int account(const char *service, const char *user)
{
	return pam_op(service, user, ACCOUNT, NULL, NULL);
}

/* ---- helpers ------------------------------------------------------------ */

static uid_t uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);

	CHECK(pw);
	return pw->pw_uid;
}

static void record_path(char *out, size_t len, const char *user)
{
	snprintf(out, len, "%s/users/%u.seal", ksdir, (unsigned)uid_of(user));
}

static void gen_path(char *out, size_t len, const char *user)
{
	snprintf(out, len, "%s/state/%u.gen", ksdir, (unsigned)uid_of(user));
}

static long refreshes(void)
{
	return ts_idp_count(&idp, "token:refresh_token");
}

static void device_login(const char *user, const char *as, const char *pw)
{
	struct conv_spec spec = {.approve_login = as, .approve_pw = pw};
	struct op_slot s;

	CHECK_INT(pam_op("tsl-main", user, AUTH, &spec, &s), PAM_SUCCESS);
	CHECK_MSG(s.code[0], "the device code reached the PAM conversation");
	CHECK_INT(s.prompts, 0);
}

/* An access token for login from the IdP's password grant (curl, client
 * tokenseal-conf), as a user would obtain one elsewhere. Also remembers the
 * refresh token of that answer for the leak scan. */
static char *password_grant_token(const char *login, const char *pw)
{
	char secret[256], user_arg[400], form_user[128], form_pw[128], url[400];
	char out[16384];
	size_t slen = 0;
	char *sec, *at = NULL;

	sec = ts_test_read_file(idp.secret_file, &slen);
	snprintf(secret, sizeof(secret), "%s", sec);
	free(sec);
	snprintf(user_arg, sizeof(user_arg), "%s:%s", idp.conf_client, secret);
	snprintf(form_user, sizeof(form_user), "username=%s", login);
	snprintf(form_pw, sizeof(form_pw), "password=%s", pw);
	snprintf(url, sizeof(url), "%s/token", idp.issuer);
	const char *argv[] = {"/usr/bin/curl",
	                      "-sS",
	                      "--cacert",
	                      idp.ca,
	                      "-u",
	                      user_arg,
	                      "-d",
	                      "grant_type=password",
	                      "-d",
	                      form_user,
	                      "-d",
	                      form_pw,
	                      "-d",
	                      "scope=openid profile email offline_access",
	                      url,
	                      NULL};
	CHECK_INT(ts_idp_run(argv, out, sizeof(out)), 0);
	/* {"access_token":"...","refresh_token":"...",...}: pick both out */
	for (int k = 0; k < 3; k++) {
		static const char *const keys[] = {"\"access_token\":\"", "\"refresh_token\":\"",
		                                   "\"id_token\":\""};
		const char *p = strstr(out, keys[k]);
		size_t n;

		if (!p)
			continue;
		p += strlen(keys[k]);
		n = strcspn(p, "\"");
		char *t = strndup(p, n);
		CHECK(t);
		ts_leak_remember(t);
		if (k == 0)
			at = t;
		else
			free(t);
	}
	CHECK_MSG(at && at[0], "the IdP issued an access token for %s", login);
	return at;
}

/* ---- the cases -------------------------------------------------------- */

/* Setup: alice signs in with a device login through PAM (device only: no
 * prompt), then her account phase succeeds. */
static void test_device_login(void)
{
	char path[900];

	CHECK_INT(account("tsl-main", "alice"), PAM_AUTH_ERR); /* no record: ignored -> pam_deny */
	device_login("alice", "alice", "alice-pw");
	record_path(path, sizeof(path), "alice");
	CHECK_MSG(access(path, F_OK) == 0, "record %s stored", path);
	CHECK_INT(account("tsl-main", "alice"), PAM_SUCCESS);
}

/* 2: the access token is revoked at the server while its local expiry is an
 * hour away: the next account phase succeeds after exactly one refresh, and
 * the record was replaced atomically (new inode, new bytes, new generation). */
static void test_revoked_access_token(void)
{
	char path[900], gpath[900];
	struct stat a, b;
	char *rec_before, *rec_after, *gen_before, *gen_after;
	size_t lrb = 0, lra = 0, lgb = 0, lga = 0;

	record_path(path, sizeof(path), "alice");
	gen_path(gpath, sizeof(gpath), "alice");
	CHECK(stat(path, &a) == 0);
	rec_before = ts_test_read_file(path, &lrb);
	gen_before = ts_test_read_file(gpath, &lgb);
	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
	CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "alice"), 0);

	CHECK_INT(account("tsl-main", "alice"), PAM_SUCCESS);
	CHECK_INT(refreshes(), 1);
	CHECK(stat(path, &b) == 0);
	rec_after = ts_test_read_file(path, &lra);
	gen_after = ts_test_read_file(gpath, &lga);
	CHECK_MSG(a.st_ino != b.st_ino,
	          "the record was replaced by rename, not rewritten in place");
	CHECK_MSG(lra != lrb || memcmp(rec_before, rec_after, lra) != 0, "the record changed");
	CHECK_MSG(lga != lgb || memcmp(gen_before, gen_after, lga) != 0,
	          "the generation counter moved");
	free(rec_before);
	free(rec_after);
	free(gen_before);
	free(gen_after);
	/* no temp file left next to it */
	{
		char dir[900], *names = NULL;
		char out[4096];
		const char *argv[] = {"/bin/ls", "-a", dir, NULL};

		snprintf(dir, sizeof(dir), "%s/users", ksdir);
		CHECK_INT(ts_idp_run(argv, out, sizeof(out)), 0);
		names = out;
		for (char *line = names; *line;) {
			size_t n = strcspn(line, "\n");

			CHECK_MSG(n == 0 || (n >= 5 && memcmp(line + n - 5, ".seal", 5) == 0) ||
			              (n == 1 && line[0] == '.') ||
			              (n == 2 && line[0] == '.' && line[1] == '.'),
			          "only records in %s: %.*s", dir, (int)n, line);
			line += n;
			if (*line)
				line++;
		}
	}
	/* the new token stands: another use refreshes nothing */
	CHECK_INT(account("tsl-main", "alice"), PAM_SUCCESS);
	CHECK_INT(refreshes(), 1);
}

/* 6: 50 concurrent account phases (50 processes, 50 handles, 50 brokers)
 * right after the access token was revoked: all succeed, one refresh. */
static void test_fifty_concurrent(void)
{
	pid_t pids[N_CONCURRENT];
	static const struct conv_spec none = {0};
	unsigned ok = 0;

	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
	CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "alice"), 0);
	barrier_reset(N_CONCURRENT);
	for (size_t i = 0; i < N_CONCURRENT; i++)
		pids[i] = op_spawn("tsl-main", "alice", ACCOUNT, &none, &slots[i]);
	for (size_t i = 0; i < N_CONCURRENT; i++)
		if (op_finish(pids[i], &slots[i], "tsl-main", "alice", true) == PAM_SUCCESS)
			ok++;
	CHECK_INT(ok, N_CONCURRENT);
	CHECK_INT(refreshes(), 1);
}

/* 3: the grant (refresh token too) revoked: account refused with the
 * sign-in-required message naming invalid_grant; the record is kept; a new
 * device login heals it. */
static void test_revoked_grant(void)
{
	char path[900];
	struct op_slot s;

	CHECK_INT(ts_idp_ctl(&idp, "revoke-grant", "alice"), 0);
	CHECK_INT(pam_op("tsl-main", "alice", ACCOUNT, NULL, &s), PAM_PERM_DENIED);
	CHECK_MSG(strstr(s.conv, "error:") && strstr(s.conv, "sign-in required") &&
	              strstr(s.conv, "invalid_grant"),
	          "PAM_ERROR_MSG with the sign-in message: %s", s.conv);
	record_path(path, sizeof(path), "alice");
	CHECK_MSG(access(path, F_OK) == 0, "the record is kept (needs-login), not deleted");
	/* still refused on the next use, without asking the server again */
	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
	CHECK_INT(pam_op("tsl-main", "alice", ACCOUNT, NULL, &s), PAM_PERM_DENIED);
	CHECK_MSG(strstr(s.conv, "sign-in required"), "needs-login is remembered: %s", s.conv);
	CHECK_INT(refreshes(), 0);
	/* heal */
	device_login("alice", "alice", "alice-pw");
	CHECK_INT(account("tsl-main", "alice"), PAM_SUCCESS);
}

/* 9: a denied device login -> PAM_MAXTRIES; nobody approves before the
 * deadline (device_timeout = 10 in [service tsl-deadline]) -> PAM_AUTH_ERR
 * within it. Device only: no prompt either time. */
static void test_device_edges(void)
{
	struct conv_spec deny = {.approve_login = "carol", .approve_pw = "carol-pw", .deny = 1};
	struct conv_spec nobody = {0};
	struct op_slot s;
	char path[900];
	time_t t0;

	CHECK_INT(pam_op("tsl-main", "carol", AUTH, &deny, &s), PAM_MAXTRIES);
	CHECK_MSG(s.code[0], "a device code was shown");
	CHECK_INT(s.prompts, 0);
	CHECK_MSG(strstr(s.conv, "denied"), "the user is told it was denied: %s", s.conv);

	t0 = time(NULL);
	CHECK_INT(pam_op("tsl-deadline", "carol", AUTH, &nobody, &s), PAM_AUTH_ERR);
	CHECK_MSG(time(NULL) - t0 <= 10 + 8, "the deadline of 10 s is honoured (%lld s)",
	          (long long)(time(NULL) - t0));
	CHECK_MSG(s.code[0], "a device code was shown");
	CHECK_INT(s.prompts, 0);
	record_path(path, sizeof(path), "carol");
	CHECK_MSG(access(path, F_OK) != 0, "nothing stored for carol");
}

/* 10: password grant ([service tsl-password] login_methods = password);
 * pasted token ([service tsl-token] login_methods = token) accepted, and a
 * revoked one refused. */
static void test_password_and_token(void)
{
	struct conv_spec pw = {.answer = "carol-pw"};
	struct conv_spec bad = {.answer = "not-carols-password"};
	struct conv_spec paste = {0};
	struct op_slot s;
	char path[900], *tok;

	CHECK_INT(pam_op("tsl-password", "carol", AUTH, &bad, &s), PAM_AUTH_ERR);
	CHECK_INT(s.prompts, 1);
	CHECK_INT(pam_op("tsl-password", "carol", AUTH, &pw, &s), PAM_SUCCESS);
	CHECK_INT(s.prompts, 1);
	CHECK_MSG(strstr(s.conv, "prompt:Password"), "asked for the password: %s", s.conv);
	record_path(path, sizeof(path), "carol");
	CHECK_MSG(access(path, F_OK) == 0, "carol's record stored");
	CHECK_INT(account("tsl-password", "carol"), PAM_SUCCESS);

	tok = password_grant_token("carol", "carol-pw");
	paste.answer = tok;
	CHECK_INT(pam_op("tsl-token", "carol", AUTH, &paste, &s), PAM_SUCCESS);
	CHECK_INT(s.prompts, 1);
	CHECK_INT(account("tsl-token", "carol"), PAM_SUCCESS);
	/* the same token revoked at the server: refused when pasted */
	CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "carol"), 0);
	CHECK_INT(pam_op("tsl-token", "carol", AUTH, &paste, &s), PAM_AUTH_ERR);
	CHECK_MSG(strstr(s.conv, "error:"), "the user is told why: %s", s.conv);
	free(tok);
}

/* 10b: PAM user bob with alice's password, or with alice's pasted token:
 * refused, the message names both, nothing stored for bob. */
static void test_identity_binding(void)
{
	struct conv_spec pw = {.answer = "alice-pw"};
	struct conv_spec paste = {0};
	struct op_slot s;
	char path[900], *tok;
	int rv;

	record_path(path, sizeof(path), "bob");
	rv = pam_op("tsl-password", "bob", AUTH, &pw, &s);
	/* the broker sends the PAM user's name with the password, so the
	 * server itself refuses alice's password for bob */
	CHECK_MSG(rv == PAM_AUTH_ERR || rv == PAM_PERM_DENIED, "bob as alice refused: %s",
	          pam_strerror(NULL, rv));
	CHECK_INT(s.prompts, 1);
	CHECK_MSG(strstr(s.conv, "error:"), "the user is told: %s", s.conv);
	CHECK_MSG(access(path, F_OK) != 0, "nothing stored for bob");

	tok = password_grant_token("alice", "alice-pw");
	paste.answer = tok;
	rv = pam_op("tsl-token", "bob", AUTH, &paste, &s);
	CHECK_MSG(rv == PAM_AUTH_ERR || rv == PAM_PERM_DENIED, "bob with alice's token refused: %s",
	          pam_strerror(NULL, rv));
	CHECK_MSG(strstr(s.conv, "alice") && strstr(s.conv, "bob"), "the message names both: %s",
	          s.conv);
	CHECK_MSG(access(path, F_OK) != 0, "nothing stored for bob");
	CHECK_INT(account("tsl-main", "bob"), PAM_AUTH_ERR); /* no record: ignored -> pam_deny */
	free(tok);
}

/* 8: carol's account disabled at the server while her local expiry is an
 * hour away: the account phase refuses. */
static void test_disabled(void)
{
	struct conv_spec pw = {.answer = "carol-pw"};
	struct op_slot s;

	/* a fresh password login (her pasted token was revoked in 10) */
	CHECK_INT(pam_op("tsl-password", "carol", AUTH, &pw, &s), PAM_SUCCESS);
	CHECK_INT(account("tsl-password", "carol"), PAM_SUCCESS);
	CHECK_INT(ts_idp_ctl(&idp, "disable", "carol"), 0);
	CHECK_INT(pam_op("tsl-password", "carol", ACCOUNT, NULL, &s), PAM_PERM_DENIED);
	CHECK_MSG(strstr(s.conv, "error:"), "the user is told: %s", s.conv);
	CHECK_INT(ts_idp_ctl(&idp, "enable", "carol"), 0);
}

/* 7: the server down (stopped: port closed) -> PAM_AUTHINFO_UNAVAIL within
 * http_timeout (5 s) + margin, alice's record byte for byte unchanged; with
 * offline_grace = 3600 (tsl-grace) after a recent positive check -> success
 * with the offline message; offline_grace = 0 (tsl-main) -> refused. Last:
 * it stops the IdP. */
static void test_server_down(void)
{
	char path[900];
	struct op_slot s;
	char *before, *after;
	size_t lb = 0, la = 0;
	time_t t0;

	CHECK_INT(account("tsl-main", "alice"), PAM_SUCCESS); /* a recent positive check */
	record_path(path, sizeof(path), "alice");
	before = ts_test_read_file(path, &lb);
	ts_idp_stop(&idp);

	t0 = time(NULL);
	CHECK_INT(pam_op("tsl-main", "alice", ACCOUNT, NULL, &s), PAM_AUTHINFO_UNAVAIL);
	CHECK_MSG(time(NULL) - t0 <= 5 + 10, "unavailable within http_timeout (%lld s)",
	          (long long)(time(NULL) - t0));
	CHECK_MSG(strstr(s.conv, "unreachable"), "the user is told: %s", s.conv);
	after = ts_test_read_file(path, &la);
	CHECK_MSG(la == lb && memcmp(before, after, la) == 0, "record byte for byte unchanged");
	free(after);

	CHECK_INT(pam_op("tsl-grace", "alice", ACCOUNT, NULL, &s), PAM_SUCCESS);
	CHECK_MSG(log_has(&s, "ok (state unavailable)"),
	          "the success came from offline_grace (the module's debug line names the state)");
	after = ts_test_read_file(path, &la);
	CHECK_MSG(la == lb && memcmp(before, after, la) == 0, "record unchanged under grace");
	free(after);
	CHECK_MSG(strstr(s.conv, "unreachable; using the check from") &&
	              strstr(s.conv, "offline_grace"),
	          "the offline-grace message reaches the user: \"%s\"", s.conv);
	free(before);
}

int main(int argc, char **argv)
{
	char extra[2400];
	FILE *f;

	conf_main = getenv("TS_PAM_LIFE_CONF");
	conf_grace = getenv("TS_PAM_LIFE_GRACE_CONF");
	if (argc < 2)
		TS_SKIP("usage: test_pam_lifecycle PATH-TO-tokenseal-broker");
	if (!getenv("PAM_WRAPPER") || !conf_main || !conf_grace)
		TS_SKIP("needs pam_wrapper and TS_PAM_LIFE_CONF/TS_PAM_LIFE_GRACE_CONF: run "
		        "through CTest");
	if (getuid() != 0)
		TS_SKIP("needs root (the broker acts for alice, bob and carol)");
	if (!getpwnam("alice") || !getpwnam("bob") || !getpwnam("carol"))
		TS_SKIP("local users alice/bob/carol missing: scripts/test creates them");
	if (access("/usr/bin/curl", X_OK) != 0)
		TS_SKIP("needs /usr/bin/curl to obtain a token to paste");
	snprintf(broker_bin, sizeof(broker_bin), "%s", argv[1]);
	slots = mmap(NULL, sizeof(*slots) * (N_CONCURRENT + 1), PROT_READ | PROT_WRITE,
	             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(slots != MAP_FAILED);
	sync_area = mmap(NULL, sizeof(*sync_area), PROT_READ | PROT_WRITE,
	                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sync_area != MAP_FAILED);
	snprintf(start_lock, sizeof(start_lock), "%s/pam-start.lock", ts_test_tmpdir());
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
	         "\n[service tsl-deadline]\ndevice_timeout = 10\n"
	         "\n[service tsl-password]\nlogin_methods = password\n"
	         "\n[service tsl-token]\nlogin_methods = token\n",
	         wrapper);
	CHECK_MSG(ts_idp_write_config(&idp, conf_main, "conf", extra) == 0, "write %s", conf_main);
	snprintf(
	    extra, sizeof(extra),
	    "broker_path = %s\nlogin_methods = device\nhttp_timeout = 5\noffline_grace = 3600\n",
	    wrapper);
	CHECK_MSG(ts_idp_write_config(&idp, conf_grace, "conf", extra) == 0, "write %s",
	          conf_grace);

	RUN(test_device_login);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_revoked_access_token);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_fifty_concurrent);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_revoked_grant);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_device_edges);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_password_and_token);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_identity_binding);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_disabled);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_server_down);
	ts_leak_scan_file("the broker's log", logfile);
	/* the known-token part of the scan was not vacuous: the pasted tokens
	 * (carol's and alice's, with their refresh and id tokens) */
	CHECK_MSG(ts_leak_count() >= 4, "only %zu known tokens were scanned for", ts_leak_count());
	fprintf(stderr, "scanned every log and conversation for %zu known tokens\n", ts_leak_count());
	return ts_test_done();
}
