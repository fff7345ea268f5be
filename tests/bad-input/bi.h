/* SPDX-License-Identifier: MIT */
/*
 * The bad-input catalogue's runner (tests/bad-input/README.md): one folder
 * per case, each with a `case` file of "key: value" lines; the runner sets
 * up the case's input, sends one request to the real tokenseal-broker
 * (exec mode or the daemon), and checks the result's class and message,
 * that the keystore and the NSS cache are byte for byte what they were,
 * and that nothing crashed.
 */
#ifndef TS_BI_H
#define TS_BI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ts_idp.h"

#define BI_KEYS_MAX 48

struct bi_case {
	char dir[700], name[128];
	size_t n;
	char *keys[BI_KEYS_MAX], *vals[BI_KEYS_MAX];
	/* the outcome */
	bool got_result;    /* a RESULT frame arrived */
	int code;           /* its code */
	char message[2048]; /* its message */
	char conv[8192];    /* INFO, ERROR and PROMPT texts, one a line */
	size_t conv_len;
	char why[4096]; /* "" or why the case failed (or was skipped) */
	bool skipped;
	double seconds;
};

/* The value of key (the last one given), or NULL. */
const char *bi_get(const struct bi_case *c, const char *key);
/* "yes" or "no" (def when absent). */
bool bi_yes(const struct bi_case *c, const char *key, bool def);

/* Everything the cases share. */
struct bi_world {
	struct ts_idp idp;
	struct ts_faults faults;
	char broker[4096], dir[600], state[700], pristine[700];
	char cfg_idp[700], cfg_canned[700], cfg_daemon[700];
	char ks_idp[800], ks_canned[800], ks_other[800], nss_dir[800];
	char socket[700], daemon_log[700], case_log[700], asan_dir[700];
	char old_alice_idp[800]; /* alice's idp record before one refresh */
	pid_t daemon_pid;
	uid_t alice, bob;
};
extern struct bi_world W;

/* Decode a case value: \n \t \r \\ \0 \xHH \u{HEX} escapes, then the
 * templates {{repeat N TEXT}}, {{jwt CLAIMS}} (an unsigned JWT, CLAIMS
 * already expanded), {{now+N}}. *ret malloc'd (NUL-terminated), *len. */
int bi_decode(const char *in, char **ret, size_t *len);

/* "ASAN_OPTIONS=..." and "UBSAN_OPTIONS=..." for a broker: this run's
 * settings, every report logged into W.asan_dir. */
void bi_sanitizer_env(char *asan, size_t alen, char *ubsan, size_t ulen);

/* Send the case's request (or raw frame) and read the outcome into c. */
void bi_talk(struct bi_case *c, const char *config);
/* The same through ts_client_call in a child with the case's caller
 * settings (caller-* keys). */
void bi_talk_caller(struct bi_case *c, const char *config);

/* The case's setup (its input): config and keystore changes, canned
 * answers. 0, or -1 with c->why set (c->skipped when it cannot run here). */
int bi_setup(struct bi_case *c, char *config, size_t len);
/* race-symlink: swap alice's record for a symbolic link to bob's and back
 * while the request runs. */
void bi_race_start(const struct bi_case *c, const char *config);
void bi_race_stop(void);
/* Undo what bi_setup did outside W.state (mounts, canned answers). */
void bi_teardown(struct bi_case *c);

/* Run a shell command line (tests only; the runner's own paths). */
int bi_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The request frame of the case: op, user, service, method, flags. */
int bi_request_frame(const struct bi_case *c, uint8_t **frame, size_t *len);

/* bi_state.c: the state as sorted lines (malloc'd), the pristine copy put
 * back, and the checks after a case (each sets c->why when it fails). */
char *bi_snapshot(void);
void bi_restore_state(void);
bool bi_crash_traces(char *why, size_t len);
void bi_print_diff(const char *a, const char *b);
void bi_check_kept(struct bi_case *c, const char *before, const char *after);
void bi_check_nss_lacks(struct bi_case *c);
void bi_check_empty(struct bi_case *c);

/* ts_err name <-> code: "TS_E_BAD_ANSWER", "OK", "-ENOENT"... */
const char *bi_code_name(int code);

#endif
