/* SPDX-License-Identifier: MIT */
/*
 * C helpers for tests that need a real authorization server
 * (tests/fixtures/idp: oidc-provider 8.8.1 over HTTPS on 127.0.0.1) or the
 * hand-written fault injector (tests/fixtures/faults). Each server gets a
 * fresh state dir under ts_test_tmpdir() holding its CA, certificates,
 * secrets, log (idp.log / faults.log) and "env" file. Servers are stopped at
 * exit even when a CHECK fails, and they exit by themselves when the test
 * process is gone (--watch-pid).
 *
 * Accounts: alice/alice-pw, bob/bob-pw, carol/carol-pw, ext-zed/ext-zed-pw (no
 * local account: an IdP-only user) (sub "sub-<login>",
 * preferred_username <login>, email <login>@example.org). Clients:
 * conf_client (confidential, client_secret_basic or _post, secret in
 * secret_file) and public_client (token_endpoint_auth_method none). See
 * tests/fixtures/idp/README.md for the operator commands and counter keys.
 */
#ifndef TS_IDP_H
#define TS_IDP_H

#include <stddef.h>

struct ts_idp {
	char dir[512];		/* state dir: env, ca.pem, client-secret, idp.log */
	char issuer[256];	/* https://127.0.0.1:PORT */
	char ca[600];		/* DIR/ca.pem */
	char conf_client[64];	/* tokenseal-conf */
	char secret_file[600];	/* DIR/client-secret, 0600, no newline */
	char public_client[64]; /* tokenseal-public */
	int port;
	int pid;
};

/* Start the IdP; at_ttl = access-token lifetime in seconds (0: default 3600).
 * Returns 0, or a negative errno when the server could not start (the
 * reason is printed). TS_SKIP()s when node, openssl or node_modules are
 * missing ("run npm ci in tests/fixtures/idp; scripts/test does"). */
int ts_idp_start(struct ts_idp *idp, unsigned at_ttl);
void ts_idp_stop(struct ts_idp *idp);

/* Run "ctl --state-dir DIR cmd [arg]" (arg may be NULL); returns its exit
 * status (0 = done), or -1 when it could not be run. Commands:
 * revoke-access-tokens USER, revoke-grant USER, disable USER, enable USER,
 * set-ttl SECONDS, set-device-ttl SECONDS, counters, reset-counters. */
int ts_idp_ctl(struct ts_idp *idp, const char *cmd, const char *arg);

/* Access policy (issue 16): set the extra claims of account user at the
 * IdP, in effect from its next answer: json is a JSON object (groups,
 * roles, realm_access, resource_access, hasgroups, _claim_names /
 * _claim_sources; "{}" removes them); where is a comma list of
 * introspection, userinfo, id_token (NULL: all three). many > 0 adds a
 * "groups" array of many values g0 .. g(many-1) instead. Returns ctl's
 * exit status (0 = done). */
int ts_idp_set_claims(struct ts_idp *idp, const char *user, const char *json, const char *where);
int ts_idp_set_many_groups(struct ts_idp *idp, const char *user, unsigned many, const char *where);

/* One request counter ("token:refresh_token", "introspection", "userinfo",
 * "token", "device_authorization", ...); 0 when absent, -1 on error. */
long ts_idp_count(struct ts_idp *idp, const char *key);

/* Approve (deny = 0) or deny (deny != 0) a pending device code as login with
 * password, through the IdP's web pages. Returns the tool's exit status:
 * 0 = done, 1 = refused (bad code, bad password, disabled account...). */
int ts_idp_approve_device(struct ts_idp *idp, const char *user_code, const char *login,
			  const char *password, int deny);

/* Write a tokenseal.conf (mode 0644) with issuer, client_id,
 * client_secret_file (client "conf" only), ca_file (unless extra sets it),
 * keystore_dir = DIR/keystore and key_file = DIR/keystore.key (neither is
 * created),
 * socket_path = DIR/broker.sock (no daemon unless a test starts one), then the
 * extra lines (may be NULL) verbatim. client: "conf" or "public". 0 or
 * negative errno. */
int ts_idp_write_config(struct ts_idp *idp, const char *path, const char *client,
			const char *extra);

/* Run argv[0] (a path, no PATH search) with argv; when out is not NULL its
 * stdout is captured there (NUL-terminated, truncated to outlen - 1); stderr
 * is inherited. Returns the exit status, or -1 when it could not run or was
 * killed by a signal. Handy for curl/node calls in tests. */
int ts_idp_run(const char *const argv[], char *out, size_t outlen);

/* The fault injector: base = https://127.0.0.1:PORT; each case's issuer is
 * base + "/case/<name>" (see tests/fixtures/faults/README.md). */
struct ts_faults {
	char dir[512];
	char base[256];
	char ca[600];
	int pid;
};

/* 0, negative errno, or TS_SKIP() when node/openssl are missing. */
int ts_faults_start(struct ts_faults *f);
void ts_faults_stop(struct ts_faults *f);

/* The issuer URL of one fault case: base/case/<name>. 0 or -ENAMETOOLONG. */
int ts_faults_issuer(const struct ts_faults *f, const char *name, char *buf, size_t len);

/* GET base/__stats?case=NAME: number of /token polls of a device case so far,
 * or -1 on error. */
long ts_faults_polls(struct ts_faults *f, const char *name);

/* Requests of one kind ("token", "introspect", ...) the fault injector saw
 * for a case (its stats' "requests" object); 0 when none, -1 on error. */
long ts_faults_requests(struct ts_faults *f, const char *name, const char *kind);

#endif
