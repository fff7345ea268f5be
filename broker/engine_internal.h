/* SPDX-License-Identifier: MIT */
/*
 * Private to the lifecycle engine (engine*.c): the helpers the operation
 * files share. Nothing outside broker/engine*.c includes this.
 *
 *   engine.c          dispatch (ts_engine_handle), clocks, messages
 *   engine_store.c    record load/store under the keystore's locks
 *   engine_use.c      a use: revalidate, single-flight refresh, identity
 *   engine_login.c    sign-in (device, password, pasted token)
 *   engine_session.c  sessions, logout, GET_TOKEN
 *   engine_status.c   STATUS
 *   engine_policy.c   the access policy on every use (policy.h)
 *   engine_refusal.c  a refresh answered invalid_request: probe, decide, hold
 */
#ifndef TS_ENGINE_INTERNAL_H
#define TS_ENGINE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "ks.h"
#include "lifecycle.h"

#define TS_CAS_RETRIES 3

/* ---- engine.c: clocks and messages ---- */
int64_t eng_local_now(const struct ts_engine *e) TS_NONNULL(1);
int64_t eng_server_now(const struct ts_engine *e, int64_t skew) TS_NONNULL(1);
/* The OAuth client's latest skew measurement, else fallback. */
int64_t eng_current_skew(const struct ts_engine *e, int64_t fallback) TS_NONNULL(1);
void eng_set_msg(struct ts_outcome *o, int code, enum ts_state st, const char *fmt, ...)
    TS_PRINTF(4, 5) TS_NONNULL(1, 4);
const char *eng_state_hint(void);
/* The user name as log lines may show it (sanitised by the boundary). */
const char *eng_log_user(const struct ts_request *req) TS_NONNULL(1);
void eng_server_error_msg(struct ts_outcome *o, const struct ts_engine *e, int r,
                          const struct oauth_error *err) TS_NONNULL(1, 2, 4);

/* ---- engine_store.c: records ---- */
void eng_ks_id(const struct ts_engine *e, const struct ts_request *req, struct ks_identity *id)
    TS_NONNULL(1, 2, 3);
/* Read and parse the stored record. TS_E_NO_RECORD when none. l: the user's
 * lock when held (only then is a corrupt record quarantined), else NULL. */
int eng_load(struct ts_engine *e, const struct ts_request *req, struct ks_lock *l,
             struct ts_record *ret, uint64_t *ret_gen) TS_WUR TS_NONNULL(1, 2, 4, 5);
/* eng_load without the lock, re-read under it when it looks like a rollback. */
int eng_load_unlocked(struct ts_engine *e, const struct ts_request *req, struct ts_record *ret,
                      uint64_t *ret_gen) TS_WUR TS_NONNULL(1, 2, 3, 4);
int eng_store(struct ts_engine *e, const struct ts_request *req, struct ks_lock *l,
              const struct ts_record *rec, uint64_t expected, uint64_t *ret_gen) TS_WUR
    TS_NONNULL(1, 2, 3, 4);
/* Mark the record needs-login (under the held lock); keeps it in place. */
int eng_mark_needs_login(struct ts_engine *e, const struct ts_request *req, struct ks_lock *l,
                         struct ts_record *cur, uint64_t gen, const char *reason) TS_WUR
    TS_NONNULL(1, 2, 3, 4, 6);
/* Move the tokens of t into rec (server times, state valid). */
void eng_record_fill_tokens(struct ts_engine *e, struct ts_record *rec, struct oauth_tokens *t,
                            struct ts_outcome *out)
    TS_NONNULL(1, 2, 3, 4);
/* Store a new sign-in under the lock (keeps the session count). */
int eng_store_login(struct ts_engine *e, const struct ts_request *req, struct ts_record *rec)
    TS_WUR TS_NONNULL(1, 2, 3);

/* ---- engine_use.c: a use ---- */
int eng_refresh_single_flight(struct ts_engine *e, const struct ts_request *req,
                              const char *seen_access, struct ts_record *rec, bool *ret_adopted,
                              struct ts_outcome *out, struct oauth_error *err) TS_WUR
    TS_NONNULL(1, 2, 3, 4, 5, 6, 7);
int eng_revalidate_identity(struct ts_engine *e, const char *token, bool need_name,
                            struct oauth_identity *ret, struct oauth_error *err) TS_WUR
    TS_NONNULL(1, 2, 4, 5);
/* rec may be NULL (no record to bind to). */
int eng_check_identity(struct ts_engine *e, const struct ts_request *req,
                       const struct ts_record *rec, const struct oauth_identity *ident,
                       struct ts_outcome *out) TS_WUR TS_NONNULL(1, 2, 4, 5);
/* Every use: on success rec holds the usable record. Fills out. */
int eng_use_tokens(struct ts_engine *e, const struct ts_request *req, struct ts_record *rec,
                   struct ts_outcome *out) TS_NONNULL(1, 2, 3, 4);

/* ---- engine_refusal.c: a refresh answered invalid_request (issue 17) ---- */
/* The refresh was answered 400 invalid_request. */
bool eng_refusal_is_invalid_request(const struct oauth_error *err) TS_NONNULL(1);
/* Under the held lock, cur just re-read (its refresh token is the refused
 * one): probe the client; answered -> mark needs-login, TS_E_NEEDS_LOGIN;
 * else hold refreshes back (cur->held_at, holds; stored), err->message
 * says why, TS_E_SERVER_CONFIG. A negative store error is returned as is. */
int eng_refresh_refused_request(struct ts_engine *e, const struct ts_request *req,
                                struct ks_lock *l, struct ts_record *cur, uint64_t gen,
                                struct oauth_error *err) TS_WUR TS_NONNULL(1, 2, 3, 4, 6);
/* out: TS_E_SERVER_CONFIG, refreshes held back for left s (the hold of rec:
 * an invalid_request refusal, or eng_hold_audience's); what: the way out
 * ("sign in again (`tokenseal login`) if the configuration is right"). */
void eng_held_msg(struct ts_outcome *out, const struct ts_engine *e, const struct ts_request *req,
                  const struct ts_record *rec, int64_t left, const char *what)
    TS_NONNULL(1, 2, 3, 4, 6);

/* ---- engine_refusal.c: a token just issued, introspected inactive ---- */
/* Keycloak answers active:false for every token whose audience lacks the
 * introspecting client: a token the server issued a moment ago (a sign-in,
 * a refresh) is "not active" at once. */
#define ENG_AUDIENCE_TEXT                                                                         \
	"the server says a token it issued a moment ago is not active, while its userinfo "        \
	"endpoint accepts it: the client %s is probably not in the token's audience (at Keycloak " \
	"add an audience mapper naming it)"
/* The reason a record held back by eng_hold_audience keeps. */
#define ENG_HOLD_AUDIENCE "introspection: the client is not in the token's audience"
/* token, issued a moment ago, was just revalidated as rejected: true when
 * that was introspection's active:false and the same token's userinfo is
 * answered (the evidence that the token is good and introspection is what
 * is misconfigured). One userinfo request. */
bool eng_fresh_inactive_is_config(struct ts_engine *e, const char *token) TS_NONNULL(1, 2);
/* Hold refreshes of req's record back (the stored access token is rec's),
 * note why, and fill out (TS_E_SERVER_CONFIG). Best effort on the store. */
void eng_hold_audience(struct ts_engine *e, const struct ts_request *req,
                       struct ts_record *rec, struct ts_outcome *out) TS_NONNULL(1, 2, 3, 4);

/* ---- engine_policy.c: the access policy on every use ---- */
/* The groups stored in rec, when read at the configured groups_claim; else NULL. */
const struct oauth_groups *eng_stored_groups(const struct ts_engine *e,
                                             const struct ts_record *rec) TS_NONNULL(1, 2);
/* May a use answer from the stored answer (revalidate_cache, offline_grace)
 * as far as the policy goes: it needs no groups, or rec has them. */
bool eng_policy_cache_usable(const struct ts_engine *e, const struct ts_record *rec)
    TS_NONNULL(1, 2);
/* Keep g (NULL: none) in rec with the groups_claim it was read at. */
void eng_record_set_groups(const struct ts_engine *e, struct ts_record *rec,
                           const struct oauth_groups *g) TS_NONNULL(1, 2);
/* ts_nss_record_groups with g's values (none unless g is OK; g may be NULL). */
void eng_publish_groups(struct ts_engine *e, const struct ts_request *req,
                        const struct oauth_groups *g) TS_NONNULL(1, 2);
/* Check the policy for req->user with g (NULL: unknown). 0, or TS_E_POLICY
 * with out filled (state st), the refusal logged with the groups seen, and
 * the user's NSS groups withdrawn. Changes no record. */
int eng_policy_check(struct ts_engine *e, const struct ts_request *req,
                     const struct oauth_groups *g, enum ts_state st, struct ts_outcome *out)
    TS_WUR TS_NONNULL(1, 2, 5);

/* ---- the operations ---- */
int eng_login(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
    TS_NONNULL(1, 2, 3);
int eng_logout(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
    TS_NONNULL(1, 2, 3);
int eng_open_session(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
    TS_NONNULL(1, 2, 3);
int eng_close_session(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
    TS_NONNULL(1, 2, 3);
int eng_get_token(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
    TS_NONNULL(1, 2, 3);
int eng_status(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
    TS_NONNULL(1, 2, 3);
int eng_refresh(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
    TS_NONNULL(1, 2, 3);

#endif
