/* SPDX-License-Identifier: MIT */
/*
 * Calls of the real tokenseal-broker in exec mode through ts_client_call, as
 * the PAM module and the CLI make them, for the tests against the real test
 * IdP (test_broker_refusal.c, test_providers.c). The broker runs with --debug
 * through a wrapper that appends its stderr to a log (bc_logfile); every
 * token a call returns is remembered for ts_leak_scan_file.
 */
#ifndef TS_BROKER_CALL_H
#define TS_BROKER_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "lifecycle.h"
#include "ts_client.h"
#include "ts_idp.h"

/* Write the wrapper around broker (the tokenseal-broker binary) into the
 * test's temporary directory; idp is the server later calls talk about. */
void bc_init(struct ts_idp *idp, const char *broker);
const char *bc_logfile(void);

/* One call as user; pw (may be NULL) answers every prompt. Prints the
 * outcome; returns res->code. The caller clears res. */
int bc_call_pw(const char *config, enum ts_msg_type type, const char *user, uint32_t flags,
               const char *method, const char *pw, struct ts_client_result *res);
/* The same, non-interactive. */
int bc_call(const char *config, enum ts_msg_type type, const char *user, uint32_t flags,
            struct ts_client_result *res);
/* bc_call with the result cleared: the code alone. */
int bc_simple(const char *config, enum ts_msg_type type, const char *user, uint32_t flags);
/* A password login that must succeed. */
void bc_password_login(const char *config, const char *user, const char *pw);
/* The record's state as status reports it. */
enum ts_state bc_status_state(const char *config, const char *user);

/* A device login of user, approved at the server as login/pw by a child
 * (a second after the code is shown). Returns the call's code; the texts the
 * conversation showed go to shown (NUL-terminated, truncated), the outcome's
 * message to res (the caller clears it). *code_seen tells whether a user
 * code was shown. */
int bc_device_login(const char *config, const char *user, const char *login, const char *pw,
                    char *shown, size_t shown_len, int *code_seen,
                    struct ts_client_result *res);

/* POST /__test/ROUTE (ROUTE with its query: "revoke-grant?account=alice"),
 * CHECKed to answer 200, over libcurl (no ctl process: quicker). */
void bc_admin(const char *route);
/* One request counter of the IdP (0 when absent). */
long bc_count(const char *key);
/* ctl imitate NAME on|off, ctl profile NAME, as bc_admin (CHECKed). */
void bc_imitate(const char *name, const char *onoff);
void bc_profile(const char *name);

/* Request counters of the IdP. */
long bc_refreshes(void);
long bc_revocations(void);

#endif
