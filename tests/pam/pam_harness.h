/* SPDX-License-Identifier: MIT */
/*
 * The PAM test harness shared by test_pam_lifecycle and test_pam_session:
 * the real pam_tokenseal.so under pam_wrapper, the real tokenseal-broker
 * (through a wrapper keeping its --debug stderr) and the real test IdP.
 *
 * Every PAM transaction runs in a forked child: one or two handles, a list of
 * steps (PH_PAUSE waits for the parent between two steps), stderr
 * (pam_wrapper's log) captured to a file, the conversation text and, after
 * each PH_OPEN, the PAM and process environment returned through a
 * shared-memory slot. The conversation answers every prompt with
 * spec->answer (or refuses it) and approves (or denies) the device code at
 * the IdP from a grandchild. ph_finish() scans the log and the conversation
 * for token text (ts_leak).
 */
#ifndef TS_PAM_HARNESS_H
#define TS_PAM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ts_idp.h"

#define PH_MAX_STEPS 8
#define PH_CONV_MAX 8192
#define PH_ENV_MAX 16384

enum ph_op { PH_AUTH, PH_ACCOUNT, PH_OPEN, PH_CLOSE, PH_PAUSE };

struct ph_step {
	enum ph_op op;
	int h; /* handle 0 or 1 */
};

struct ph_conv_spec {
	const char *approve_login, *approve_pw; /* NULL: nobody approves */
	int deny;                               /* deny instead of approve */
	const char *answer;                     /* answer to every prompt; NULL: refuse prompts */
	/* The caller's shape. ruid_user: the child calls setresuid(uid of it,
	 * 0, 0) before pam_start (sudo run by that user: real uid the user,
	 * euid 0); NULL: real uid root (sshd, login, su run by root).
	 * no_rhost: PAM_RHOST stays unset (a local caller); else "127.0.0.1". */
	const char *ruid_user;
	bool no_rhost;
};

/* Shared with the child (MAP_SHARED). */
struct ph_slot {
	int rv[PH_MAX_STEPS]; /* -1: step not run */
	size_t nsteps;
	int done;
	int paused, resume;
	unsigned prompts, messages;
	char code[64];
	char conv[PH_CONV_MAX];
	char env[PH_ENV_MAX]; /* after each OPEN: "pam:NAME=VALUE\n", "proc:..." */
	char errfile[700];
};

/* Set up by ph_setup(). ph_wrapper is the broker_path of the configs: the
 * broker in exec mode; in daemon mode (TS_TEST_DAEMON=1) a program that
 * records in ph_marker that it ran and fails. */
extern struct ts_idp ph_idp;
extern char ph_wrapper[700], ph_logfile[700], ph_ksdir[700], ph_marker[700];

/* Daemon mode: every config gets its own socket_path (ph_socket: put
 * "socket_path = <it>" in the config, before any [service] section) and,
 * after it is written, ph_serve() starts a daemon for it (logging to
 * ph_logfile; stopped at exit). ph_finish() then fails a transaction that
 * was not served by a daemon. In exec mode ph_serve does nothing and the
 * socket is absent, so the module falls back to exec mode. */
void ph_socket(const char *conf, char *out, size_t len);
void ph_serve(const char *conf);
/* The pid of the daemon ph_serve started for conf; -1 if none. */
pid_t ph_daemon_pid(const char *conf);

/* The checks both tests skip on after their own: root, the users alice, bob
 * and carol, /usr/bin/curl (why: what it is needed for). */
void ph_require(const char *curl_why);

/* nslots shared slots and the start barrier, the IdP (ts_idp_start, access
 * token ttl 3600), ph_ksdir and the broker wrapper script. */
void ph_setup(const char *broker_bin, size_t nslots);

struct ph_slot *ph_slot(size_t i);

/* Let the next `target` children start their first phase together. */
void ph_barrier_reset(int target);

/* Fork a child running the steps on slot (spec NULL: no approver, no
 * answer); ph_finish() waits for it, shows and scans its PAM log and
 * conversation; quiet: show them only when something failed. */
pid_t ph_spawn(const char *service, const char *user, const struct ph_step *steps, size_t n,
               const struct ph_conv_spec *spec, struct ph_slot *slot);
void ph_finish(pid_t pid, struct ph_slot *slot, const char *service, const char *user, bool quiet);

/* Wait until the child pauses (true) or ends (false); let it go on. */
bool ph_wait_pause(pid_t pid, struct ph_slot *slot);
void ph_resume(struct ph_slot *slot);

/* Run the steps in one child on slot and wait for it: slot->rv[0]. */
int ph_steps(const char *service, const char *user, const struct ph_step *steps, size_t n,
             const struct ph_conv_spec *spec, struct ph_slot *slot);

/* Does the PAM log of a finished transaction say so? */
bool ph_log_has(const struct ph_slot *s, const char *text);

uid_t ph_uid_of(const char *user);
/* ph_ksdir/users/UID.seal */
void ph_record_path(char *out, size_t len, const char *user);
bool ph_has_record(const char *user);

/* "CLIENT:SECRET" of the confidential client, for curl -u. */
void ph_client_auth(char *out, size_t len);

#endif
