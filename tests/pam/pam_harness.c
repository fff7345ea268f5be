/* SPDX-License-Identifier: MIT */
/* The PAM test harness shared by test_pam_lifecycle and test_pam_session:
 * see pam_harness.h. */
#include "pam_harness.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "ts_daemon.h"
#include "ts_leak.h"
#include "ts_mem.h"
#include "ts_test.h"

extern char **environ;

struct ts_idp ph_idp;
char ph_wrapper[700], ph_logfile[700], ph_ksdir[700], ph_marker[700];
static char broker_path[700];
static struct ts_daemon daemons[8];
static size_t n_daemons;

static struct ph_slot *slots; /* shared */
static size_t n_slots;
static unsigned op_seq;

/* Start barrier shared with the children (MAP_SHARED). */
struct sync_area {
	int started, target;
};
static struct sync_area *sync_area;
static char start_lock[700];

/* ---- the conversation --------------------------------------------------- */

struct conv_ctx {
	const struct ph_conv_spec *spec;
	struct ph_slot *slot;
	pid_t approver;
};

static void append(char *buf, size_t size, const char *kind, const char *text)
{
	size_t used = strlen(buf);

	if (used < size)
		snprintf(buf + used, size - used, "%s:%s\n", kind, text);
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

		/* the person at the browser, not the caller: back to root
		 * (a caller of sudo's shape has another real uid, and the
		 * tools run below would drop the euid to it) */
		if (setresuid(0, 0, 0) < 0)
			_exit(1);
		sleep(1);
		r = ts_idp_approve_device(&ph_idp, c->slot->code, c->spec->approve_login,
		                          c->spec->approve_pw, c->spec->deny);
		_exit(r == 0 ? 0 : 1);
	}
}

/* Wait for the approval (or denial) to be done at the IdP. */
static void approve_done(struct conv_ctx *c)
{
	int st;

	if (c->approver <= 0)
		return;
	if (waitpid(c->approver, &st, 0) != c->approver || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		append(c->slot->conv, sizeof(c->slot->conv), "test",
		       "the IdP did not take the approval");
	c->approver = 0;
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
			/* the device text as a question (PAM_SILENT, or a remote
			 * login: sshd holds INFO back): approve, then press Enter;
			 * not counted among the prompts, which are the questions */
			if (strstr(msg[i]->msg, "enter the code ") &&
			    strstr(msg[i]->msg, "Press Enter once you have approved it")) {
				append(c->slot->conv, sizeof(c->slot->conv), "device-prompt",
				       msg[i]->msg);
				maybe_approve(c, msg[i]->msg);
				approve_done(c);
				out[i].resp = strdup("");
				if (!out[i].resp) {
					free(out);
					return PAM_BUF_ERR;
				}
				break;
			}
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

/* ---- the child ---------------------------------------------------------- */

/* The PAM environment of the handle and the process environment. */
static void capture_env(struct ph_slot *s, pam_handle_t *ph)
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

/* pam_wrapper sets itself up in the first pam_start: a fresh /tmp/pam.X,
 * reclaiming stale ones. Concurrent set-ups can race for the same stale
 * name ("no modules loaded"), so they run one at a time; the phases
 * themselves start together after the barrier. */
static int locked_start(const char *service, const char *user, const struct pam_conv *conv,
                        pam_handle_t **ph, bool first)
{
	int fd, rv;

	fd = open(start_lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		_exit(3);
	rv = pam_start(service, user, conv, ph);
	close(fd);
	if (first) {
		__atomic_fetch_add(&sync_area->started, 1, __ATOMIC_SEQ_CST);
		for (int i = 0;
		     i < 600 && __atomic_load_n(&sync_area->started, __ATOMIC_SEQ_CST) <
		                    __atomic_load_n(&sync_area->target, __ATOMIC_SEQ_CST);
		     i++)
			usleep(50 * 1000);
	}
	return rv;
}

/* Up to two handles, the steps in order, stderr to s->errfile; PH_PAUSE
 * waits for the parent to look at the state between two steps. */
_Noreturn static void op_child(const char *service, const char *user, const struct ph_step *steps,
                               size_t n, const struct ph_conv_spec *spec, struct ph_slot *s)
{
	struct conv_ctx c = {.spec = spec, .slot = s};
	struct pam_conv conv = {conv_fn, &c};
	pam_handle_t *ph[2] = {NULL, NULL};
	int last[2] = {PAM_SUCCESS, PAM_SUCCESS};
	bool started = false;
	int fd;

	fd = open(s->errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, 2) < 0)
		_exit(3);
	close(fd);
	if (spec->ruid_user) {
		uid_t ruid = ph_uid_of(spec->ruid_user);
		if (setresuid(ruid, 0, 0) < 0 || getuid() != ruid || geteuid() != 0)
			_exit(4);
	}
	for (size_t i = 0; i < n; i++) {
		int h = steps[i].h, rv;

		if (steps[i].op == PH_PAUSE) {
			__atomic_store_n(&s->paused, 1, __ATOMIC_SEQ_CST);
			for (int k = 0; k < 1200 && !__atomic_load_n(&s->resume, __ATOMIC_SEQ_CST);
			     k++)
				usleep(50 * 1000);
			__atomic_store_n(&s->resume, 0, __ATOMIC_SEQ_CST);
			s->rv[i] = PAM_SUCCESS;
			continue;
		}
		if (!ph[h]) {
			rv = locked_start(service, user, &conv, &ph[h], !started);
			started = true;
			if (rv != PAM_SUCCESS) {
				s->rv[i] = rv;
				break;
			}
			if (!spec->no_rhost)
				(void)pam_set_item(ph[h], PAM_RHOST, "127.0.0.1");
		}
		switch (steps[i].op) {
		case PH_AUTH:
			rv = pam_authenticate(ph[h], 0);
			break;
		case PH_ACCOUNT:
			rv = pam_acct_mgmt(ph[h], 0);
			break;
		case PH_OPEN:
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
	approve_done(&c);
	s->done = 1;
	/* exit, not _exit: pam_wrapper's destructor removes this process's
	 * /tmp/pam.X copy of the services, and there are only 62 such names
	 * for every pam_wrapper process on the machine (ts_test and ts_idp
	 * clean up only in the process that created their state) */
	exit(0);
}

/* ---- the parent --------------------------------------------------------- */

struct ph_slot *ph_slot(size_t i)
{
	CHECK(i < n_slots);
	return &slots[i];
}

void ph_barrier_reset(int target)
{
	__atomic_store_n(&sync_area->started, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&sync_area->target, target, __ATOMIC_SEQ_CST);
}

pid_t ph_spawn(const char *service, const char *user, const struct ph_step *steps, size_t n,
               const struct ph_conv_spec *spec, struct ph_slot *slot)
{
	static const struct ph_conv_spec none = {0};
	pid_t pid;

	CHECK(n >= 1 && n <= PH_MAX_STEPS);
	memset(slot, 0, sizeof(*slot));
	for (size_t i = 0; i < PH_MAX_STEPS; i++)
		slot->rv[i] = -1;
	slot->nsteps = n;
	snprintf(slot->errfile, sizeof(slot->errfile), "%s/op-%u.err", ts_test_tmpdir(), op_seq++);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		op_child(service, user, steps, n, spec ? spec : &none, slot);
	return pid;
}

bool ph_wait_pause(pid_t pid, struct ph_slot *slot)
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

void ph_resume(struct ph_slot *slot)
{
	__atomic_store_n(&slot->paused, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&slot->resume, 1, __ATOMIC_SEQ_CST);
}

void ph_finish(pid_t pid, struct ph_slot *slot, const char *service, const char *user, bool quiet)
{
	int st = 0;
	size_t len = 0;
	bool ok = true;
	char *err;

	CHECK(waitpid(pid, &st, 0) == pid);
	err = ts_test_read_file(slot->errfile, &len);
	for (size_t i = 0; i < slot->nsteps; i++)
		ok = ok && slot->rv[i] == PAM_SUCCESS;
	if (!quiet || !ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "   %s %s ->", service, user);
		for (size_t i = 0; i < slot->nsteps; i++)
			fprintf(stderr, " %s",
			        slot->rv[i] >= 0 ? pam_strerror(NULL, slot->rv[i]) : "-");
		fprintf(stderr, "\n--- pam log:\n%s--- conversation:\n%s", err, slot->conv);
	}
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0 && slot->done,
	          "the PAM child for %s/%s ended cleanly (status %d)", service, user, st);
	ts_leak_scan("the PAM log (pam_wrapper stderr)", err, len);
	ts_leak_scan("the conversation", slot->conv, strlen(slot->conv));
	CHECK_MSG(!ts_contains(err, len, "Sanitizer") && !ts_contains(err, len, "runtime error"),
	          "the module ran clean under the sanitizers");
	free(err);
	CHECK_MSG(!strstr(slot->conv, "test:"), "%s", slot->conv);
	if (ts_daemon_mode()) {
		/* every request was the daemon's: exec mode would fail anyway,
		 * but say so plainly */
		CHECK_MSG(!ph_log_has(slot, "daemon not used") &&
		              !ph_log_has(slot, "served by exec mode"),
		          "daemon mode: the module fell back to exec mode (see the pam log)");
		CHECK_MSG(access(ph_marker, F_OK) != 0, "daemon mode: exec mode ran (%s)",
		          ph_marker);
	}
}

void ph_socket(const char *conf, char *out, size_t len)
{
	ts_daemon_socket_for(conf, out, len);
}

void ph_serve(const char *conf)
{
	char sock[700];

	if (!ts_daemon_mode())
		return;
	for (size_t i = 0; i < n_daemons; i++)
		if (strcmp(daemons[i].config, conf) == 0 && daemons[i].pid > 0)
			return; /* the daemon reads its config per request */
	CHECK(n_daemons < sizeof(daemons) / sizeof(daemons[0]));
	ph_socket(conf, sock, sizeof(sock));
	CHECK_MSG(ts_daemon_start(&daemons[n_daemons], broker_path, conf, sock, ph_logfile) == 0,
	          "daemon mode: a daemon serves %s on %s", conf, sock);
	n_daemons++;
}

pid_t ph_daemon_pid(const char *conf)
{
	for (size_t i = 0; i < n_daemons; i++)
		if (strcmp(daemons[i].config, conf) == 0)
			return daemons[i].pid;
	return -1;
}

int ph_steps(const char *service, const char *user, const struct ph_step *steps, size_t n,
             const struct ph_conv_spec *spec, struct ph_slot *slot)
{
	pid_t pid;

	ph_barrier_reset(1);
	pid = ph_spawn(service, user, steps, n, spec, slot);
	ph_finish(pid, slot, service, user, false);
	return slot->rv[0];
}

bool ph_log_has(const struct ph_slot *s, const char *text)
{
	size_t len = 0;
	char *err = ts_test_read_file(s->errfile, &len);
	bool has = ts_contains(err, len, text);

	free(err);
	return has;
}

/* ---- helpers ------------------------------------------------------------ */

uid_t ph_uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);

	CHECK(pw);
	return pw->pw_uid;
}

void ph_record_path(char *out, size_t len, const char *user)
{
	snprintf(out, len, "%s/users/%u.seal", ph_ksdir, (unsigned)ph_uid_of(user));
}

bool ph_has_record(const char *user)
{
	char path[900];

	ph_record_path(path, sizeof(path), user);
	return access(path, F_OK) == 0;
}

void ph_client_auth(char *out, size_t len)
{
	char secret[256];
	size_t slen = 0;
	char *sec = ts_test_read_file(ph_idp.secret_file, &slen);

	snprintf(secret, sizeof(secret), "%s", sec);
	free(sec);
	snprintf(out, len, "%s:%s", ph_idp.conf_client, secret);
	ts_wipe(secret, sizeof(secret));
}

void ph_require(const char *curl_why)
{
	if (getuid() != 0)
		TS_SKIP("needs root (the broker acts for alice, bob and carol)");
	if (!getpwnam("alice") || !getpwnam("bob") || !getpwnam("carol"))
		TS_SKIP("local users alice/bob/carol missing: scripts/test creates them");
	if (access("/usr/bin/curl", X_OK) != 0)
		TS_SKIP("needs /usr/bin/curl %s", curl_why);
}

void ph_setup(const char *broker_bin, size_t nslots)
{
	FILE *f;

	slots = mmap(NULL, sizeof(*slots) * nslots, PROT_READ | PROT_WRITE,
	             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(slots != MAP_FAILED);
	n_slots = nslots;
	sync_area = mmap(NULL, sizeof(*sync_area), PROT_READ | PROT_WRITE,
	                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sync_area != MAP_FAILED);
	snprintf(start_lock, sizeof(start_lock), "%s/pam-start.lock", ts_test_tmpdir());
	CHECK(ts_idp_start(&ph_idp, 3600) == 0);
	snprintf(ph_ksdir, sizeof(ph_ksdir), "%s/keystore", ph_idp.dir);

	/* the broker (--debug) through a wrapper that keeps its stderr */
	snprintf(broker_path, sizeof(broker_path), "%s", broker_bin);
	snprintf(ph_logfile, sizeof(ph_logfile), "%s/broker.log", ts_test_tmpdir());
	snprintf(ph_wrapper, sizeof(ph_wrapper), "%s/broker-wrapper", ts_test_tmpdir());
	snprintf(ph_marker, sizeof(ph_marker), "%s/exec-mode-ran", ts_test_tmpdir());
	if (ts_daemon_mode()) {
		/* any fall back to exec mode fails and is recorded */
		fprintf(stderr, "daemon mode: every request must be served by a daemon\n");
		ts_daemon_write_no_exec(ph_wrapper, ph_marker);
		return;
	}
	f = fopen(ph_wrapper, "w");
	CHECK(f);
	/* sh -p: dash would drop a euid 0 that differs from the real uid. The
	 * client now execs the broker of a caller of sudo's shape (ruid_user:
	 * the user's real uid, euid 0) with every id root (ts_client.c), so
	 * the wrapper and the broker run as root either way; the broker
	 * honours the module's --config for every euid-0 caller. */
	fprintf(f, "#!/bin/sh -p\nexec '%s' --debug \"$@\" 2>>'%s'\n", broker_bin, ph_logfile);
	CHECK(fclose(f) == 0);
	CHECK(chmod(ph_wrapper, 0755) == 0);
}
