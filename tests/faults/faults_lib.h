/* SPDX-License-Identifier: MIT */
/*
 * Shared by the tests of tests/faults/ (label faults): the real test IdP
 * (tests/fixtures/idp) with the fault injector's proxy in front of its
 * endpoints (tests/fixtures/faults, README "Proxy"), the real
 * tokenseal-broker in exec mode (through a wrapper that appends its --debug
 * stderr to fl.log) or as the daemon, driven through ts_client_call as the
 * PAM module drives it.
 *
 * A config fl_config() writes: issuer = the IdP (discovery straight from
 * it), token_endpoint, introspection_endpoint, userinfo_endpoint and
 * revocation_endpoint = the proxy; login_methods = password; the extra lines.
 */
#ifndef FAULTS_LIB_H
#define FAULTS_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "ts_client.h"
#include "ts_daemon.h"
#include "ts_idp.h"

struct fl {
	struct ts_idp idp;
	struct ts_faults faults; /* started in idp.dir (one CA) */
	char proxy[256];         /* https://127.0.0.1:PORT */
	char broker[512];        /* tokenseal-broker */
	char wrapper[700];       /* exec mode: the broker with --debug, stderr to log */
	char log[700];
	char *const *env; /* exec mode: the broker's environment when a call names none */
};

extern struct fl fl;

/* Root, the local users, node: else TS_SKIP. Start the IdP (access tokens
 * live at_ttl seconds; 0 = 3600) and the proxy in front of it. */
void fl_start(const char *broker, unsigned at_ttl);

/* Write DIR/NAME.conf (see above); out gets the path. */
void fl_config(const char *name, const char *extra, char *out, size_t len);

/* GET /__proxy?QUERY (QUERY may be ""): the proxy's state and counts; the
 * caller json_decref()s. */
json_t *fl_proxy(const char *query);
/* Set the proxy's mode (and more: "mode=http-503&retry_after=1"); counts
 * zeroed with reset=1 in the query. */
void fl_proxy_set(const char *query);
/* Requests the proxy saw for one key ("/token:refresh_token",
 * "/token/introspection", "/token:password", "/token/revocation"); and how
 * many of them it faulted; "connect" for faulted connections. */
long fl_proxy_requests(const char *key);
long fl_proxy_faulted(const char *key);

/* One call. socket: NULL = exec mode (the wrapper), else the daemon's socket
 * only. password: the answer to a prompt (NULL: non-interactive). env: extra
 * environment of the exec-mode broker (may be NULL). Returns res->code; a
 * transport failure (the broker died) returns the ts_client_call error and
 * leaves res->code at 0. */
int fl_call(const char *config, const char *socket, enum ts_msg_type type, const char *user,
            uint32_t flags, const char *password, char *const *env, struct ts_client_result *res,
            int *ret_transport);
/* The same without the result. */
int fl_simple(const char *config, const char *socket, enum ts_msg_type type, const char *user,
              uint32_t flags);
/* Password sign-in of user (IdP account of the same name, password
 * "<user>-pw" unless pw) through the broker: must succeed. */
void fl_login(const char *config, const char *socket, const char *user, const char *pw);

/* The sealed record of user in the keystore of config (malloc'd, *len),
 * NULL when absent. */
uint8_t *fl_record_bytes(const char *ksdir, uid_t uid, size_t *len);
/* The record of uid opens (sealed, authentic, parses): 0, else the error. */
int fl_record_loads(const char *config, uid_t uid, const char *user);

/* Refresh requests the proxy forwarded or faulted since its last reset=1
 * (every request of a config of fl_config goes through it; cheaper than the
 * IdP's counter, which runs node). */
long fl_refreshes(void);
/* Milliseconds, monotonic. */
long long fl_now_ms(void);

#endif
