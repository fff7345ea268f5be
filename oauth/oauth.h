/* SPDX-License-Identifier: MIT */
/*
 * Everything tokenseal says to an authorization server (DESIGN.md §2-4), on
 * libcurl and jansson. Used only by the broker and its tests: never linked
 * into the PAM or NSS module.
 *
 * Every call returns 0 or a negative ts_err from ONE taxonomy:
 *   0                      ok
 *   TS_E_REJECTED_TOKEN    the token was rejected (401 invalid_token,
 *                          active:false); a refresh may heal it
 *   TS_E_NEEDS_LOGIN       invalid_grant: the refresh token (or grant) is dead
 *   TS_E_SERVER_CONFIG     invalid_client, unauthorized_client,
 *                          unsupported_grant_type, invalid_scope, TLS/CA
 *                          problems, discovery issuer mismatch, bad URL
 *   TS_E_UNAVAILABLE       connect failure, timeout, 5xx, 429 (+Retry-After)
 *   TS_E_BAD_ANSWER        the server sent something malformed (a 2xx token
 *                          answer only without an access_token: its other
 *                          fields are defaulted, see oauth_tokens.warnings)
 *   TS_E_IDENTITY_CHANGED  a refreshed id_token's iss/sub/aud differ
 *   TS_E_DENIED            device login: access_denied
 *   TS_E_EXPIRED           device login: expired_token or deadline reached
 * plus -ENOMEM / -EINVAL for local failures. Details (server's error and
 * error_description, sanitised and length-capped; HTTP status; a message for
 * an administrator) go into struct oauth_error. Never a token.
 */
#ifndef TS_OAUTH_H
#define TS_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ts_config.h"
#include "ts_macros.h"

#define OAUTH_ERROR_MAX 64
#define OAUTH_DESC_MAX 256
#define OAUTH_MSG_MAX 512
#define OAUTH_CLAIM_MAX 256
#define OAUTH_DEFAULT_EXPIRES_IN 3600

struct oauth_error {
	int code;			       /* the ts_err returned */
	long http_status;		       /* 0 when no HTTP answer */
	char error[OAUTH_ERROR_MAX];	       /* server's "error", sanitised */
	char description[OAUTH_DESC_MAX];      /* server's "error_description", sanitised */
	char message[OAUTH_MSG_MAX];	       /* full sentence for a log or an admin */
	long retry_after;		       /* seconds, from 429/503 Retry-After; 0 = none */
	bool clock_suspect; /* TLS refused a certificate outside its validity here */
	bool sent;	    /* the last request went out: the server may have acted on it */
};

/* Identity claims taken from an id_token (decoded, not signature-checked:
 * it came straight from the token endpoint over TLS, OIDC Core 3.1.3.7). */
struct oauth_id_claims {
	char iss[OAUTH_CLAIM_MAX];
	char sub[OAUTH_CLAIM_MAX];
	char aud[OAUTH_CLAIM_MAX]; /* first audience */
	bool present;
};

/* A token response. Strings are malloc'd; oauth_tokens_clear wipes and frees. */
struct oauth_tokens {
	char *access_token;
	char *refresh_token; /* NULL when the server sent none */
	char *id_token;	     /* NULL when none */
	char *scope;
	long long expires_in; /* 1 .. 10 years; else OAUTH_DEFAULT_EXPIRES_IN (see warnings) */
	time_t obtained_local; /* local time the request was sent */
	time_t server_date;    /* server's Date header, 0 if absent */
	struct oauth_id_claims id;
	/* "" or "; "-separated notes on fields of the answer that failed their
	 * checks and were defaulted or dropped (token_type not Bearer,
	 * expires_in missing or out of range, scope too long, id_token
	 * unusable...). Never a token. Library code does not log: the caller
	 * (the broker) logs these. */
	char warnings[OAUTH_MSG_MAX];
};

/* ---- the groups claim (docs/access-control.md) ----
 * Read from the answer that revalidates a token (introspection, userinfo)
 * and, at sign-in, from the id_token, at cfg->groups_claim: a claim name or
 * a dotted path ("realm_access.roles"; "\." is a literal dot in a name).
 * Bounded: at most OAUTH_GROUPS_MAX values of 1..OAUTH_GROUP_MAX bytes, all
 * of them together at most OAUTH_GROUPS_BYTES; anything beyond is
 * OAUTH_GROUPS_TOO_MANY, never a cut list (a cut list could hide a denied
 * group). Every state but OK means "groups unknown", which is not "no
 * groups": a group policy refuses. */
#define OAUTH_GROUPS_MAX 1024   /* as many as the NSS cache keeps per user */
#define OAUTH_GROUPS_BYTES 32768
#define OAUTH_GROUP_MAX 255
#define OAUTH_CLAIM_PATH_SEGMENTS 8 /* TS_CLAIM_PATH_SEGMENTS */

enum oauth_groups_state {
	OAUTH_GROUPS_NOT_READ = 0, /* groups_claim empty, or not looked at */
	OAUTH_GROUPS_OK,	   /* n values (0: the server says no groups) */
	OAUTH_GROUPS_ABSENT,	   /* no such claim (or null) */
	OAUTH_GROUPS_OVERAGE,	   /* Entra: _claim_names names it, or hasgroups: true */
	OAUTH_GROUPS_WRONG_TYPE,   /* not an array of strings (what says what it is) */
	OAUTH_GROUPS_TOO_MANY,	   /* over the bounds (found: values in the claim) */
	OAUTH_GROUPS_BAD_VALUE,	   /* a value empty, over OAUTH_GROUP_MAX, control bytes */
	OAUTH_GROUPS_BAD_PATH,	   /* groups_claim is not a claim name or dotted path */
};

struct oauth_groups {
	enum oauth_groups_state state;
	unsigned n;	  /* values in buf */
	unsigned found;	  /* TOO_MANY: values the claim had (0: the bytes were too many) */
	char what[64];	  /* WRONG_TYPE: "a string", "an array with a number in it", ... */
	size_t len;	  /* bytes of buf in use */
	char buf[OAUTH_GROUPS_BYTES]; /* n NUL-terminated values back to back */
};

/* 0 when path is a claim name or dotted path tokenseal can read, -EINVAL
 * otherwise (empty, an empty segment, more than OAUTH_CLAIM_PATH_SEGMENTS
 * segments, a bad escape, control characters). */
int oauth_claim_path_check(const char *path) TS_WUR TS_NONNULL(1);
/* NOT_READ, no values. */
void oauth_groups_reset(struct oauth_groups *g) TS_NONNULL(1);
/* Append one value (n bytes, not NUL-terminated): 0 (a duplicate is
 * skipped), -EINVAL (empty, too long, control bytes), -E2BIG (full). */
int oauth_groups_add(struct oauth_groups *g, const char *v, size_t n) TS_WUR TS_NONNULL(1, 2);
/* Iterate: prev NULL gives the first value; NULL after the last. */
const char *oauth_groups_next(const struct oauth_groups *g, const char *prev) TS_NONNULL(1);
bool oauth_groups_has(const struct oauth_groups *g, const char *v) TS_NONNULL(1, 2);
/* "ok", "absent", "overage", "wrong-type", "too-many", "bad-value",
 * "bad-path", "not-read" */
const char *oauth_groups_state_name(enum oauth_groups_state s);
/* Read path from a JSON object of len bytes (untrusted; for the fuzz
 * target and tests, and introspection): 0 with *ret set (any state), or
 * TS_E_BAD_ANSWER when body is not a JSON object. */
int oauth_groups_parse(struct oauth_groups *ret, const char *path, const char *body, size_t len)
	TS_WUR TS_NONNULL(1, 2, 3);
/* Read path from an id_token's payload (no signature check: the caller
 * binds iss/sub/aud first). 0 with *ret set, -EINVAL (not a JWT), -ENOMEM. */
int oauth_groups_from_id_token(struct oauth_groups *ret, const char *path, const char *id_token)
	TS_WUR TS_NONNULL(1, 2, 3);

/* Read the string claim (a claim name) from an id_token's payload (no
 * signature check: the caller binds iss/sub/aud first). 1 with out set, 0
 * when absent or null, TS_E_BAD_ANSWER when not a string, too long or with
 * control characters, -EINVAL (not a JWT), -ENOMEM. out is "" unless 1. */
int oauth_id_token_str(char *out, size_t outlen, const char *claim, const char *id_token)
	TS_WUR TS_NONNULL(1, 3, 4);

/* Result of revalidation (introspection or userinfo). */
struct oauth_identity {
	bool active;
	char sub[OAUTH_CLAIM_MAX];
	char username[OAUTH_CLAIM_MAX]; /* value of cfg->username_claim, before username_map */
	char name[OAUTH_CLAIM_MAX];	/* "name" (OIDC Core §5.1), "" when absent or unusable */
	long long exp;			/* introspection "exp" (server time), 0 if absent */
	char client_id[OAUTH_CLAIM_MAX]; /* introspection "client_id"; "" when absent */
	bool aud_has_client;		 /* introspection "aud" names the configured client */
	time_t server_date;
	bool by_userinfo;		 /* the answer came from the userinfo endpoint */
	struct oauth_groups groups;	 /* cfg->groups_claim of the same answer */
};

/* What a device login must show the user. */
struct oauth_device {
	char *device_code; /* secret: wiped by oauth_device_clear */
	char user_code[64];
	char verification_uri[OAUTH_CLAIM_MAX * 2];
	char verification_uri_complete[OAUTH_CLAIM_MAX * 2];
	long long expires_in;
	unsigned interval; /* seconds; 5 when absent */
	time_t started;
	long long started_mono_ms; /* CLOCK_MONOTONIC ms when the codes were issued */
};

/* Called with the codes to show; return nonzero to abort the poll. */
typedef int (*oauth_device_show_fn)(void *ctx, const struct oauth_device *dev);
/* Called between polls (e.g. to check the conversation); nonzero aborts. */
typedef int (*oauth_device_tick_fn)(void *ctx, unsigned next_poll_seconds);

struct oauth_client;

/* One-time libcurl global init (process-wide, idempotent, thread-unsafe as
 * curl_global_init is: call it from main). */
int oauth_global_init(void) TS_WUR;

/* Whether oauth_global_init() made OpenSSL wipe what it frees (it is
 * libcurl's TLS library here and took our allocator; see oauth.c). */
bool oauth_global_tls_wiped(void);

/* The system's CAPATH folder used when ca_file is empty: the first that
 * exists of Fedora/RHEL's directory-hash folder and /etc/ssl/certs (NULL:
 * none, libcurl's built-in default applies). */
const char *oauth_system_capath(void);

/* For a long-lived, multi-threaded process (the daemon), from main before
 * any thread starts, after oauth_global_init: from now on a freed client's
 * libcurl handle, with its keep-alive connections to the server, goes back
 * to a small process-wide pool for the next client, and every handle shares
 * TLS sessions and the DNS cache (a CURLSH with a mutex per data kind).
 * Exec mode never calls it: one request per process. Idempotent. 0, -ENOMEM
 * or -EIO. */
int oauth_global_share_enable(void) TS_WUR;

/* Clean up every pooled handle (thread-safe): libcurl's buffers of the
 * last requests and answers (tokens, codes) go back wiped, and the
 * connections close. The daemon calls it once it has been idle a moment,
 * so an idle daemon keeps no token in memory. Returns how many went. */
size_t oauth_global_pool_trim(void);

/* CLOCK_MONOTONIC ms at which the last handle went back to the pool, or 0
 * when the pool is empty. */
int64_t oauth_global_pool_last_put(void);

/* The client reads its secret from cfg->client_secret_file (if set). The
 * config must outlive the client. */
int oauth_client_new(struct oauth_client **ret, const struct ts_config *cfg,
		     struct oauth_error *err) TS_WUR TS_NONNULL(1, 2);
struct oauth_client *oauth_client_free(struct oauth_client *c);

/* Fetch (once; cached in the client) the discovery document, unless every
 * needed endpoint is overridden in the config. Refuses an issuer that is not
 * identical to cfg->issuer. Called implicitly by the calls below. */
int oauth_discover(struct oauth_client *c, struct oauth_error *err) TS_WUR TS_NONNULL(1);

/* Use a discovery document obtained earlier (the broker's cache) instead of
 * fetching one: checked exactly like a fetched one (issuer identical to
 * cfg->issuer, endpoint URLs, size cap); endpoints set in the config still
 * win. On error nothing changes and the client fetches as usual. */
int oauth_set_discovery(struct oauth_client *c, const char *doc, size_t len,
			struct oauth_error *err) TS_WUR TS_NONNULL(1, 2);
/* The document this client fetched and accepted (NULL if none: not needed,
 * not fetched yet, or supplied by oauth_set_discovery). */
const char *oauth_fetched_discovery(const struct oauth_client *c, size_t *ret_len)
	TS_NONNULL(1, 2);
/* True when the endpoints came from oauth_set_discovery(). */
bool oauth_discovery_supplied(const struct oauth_client *c) TS_NONNULL(1);

/* RFC 8628. start: request codes; poll: until approved, denied, expired, the
 * deadline (absolute, local CLOCK_MONOTONIC seconds; 0 = expires_in only) or
 * an abort from tick. */
int oauth_device_start(struct oauth_client *c, struct oauth_device *dev, struct oauth_error *err)
	TS_WUR TS_NONNULL(1, 2);
int oauth_device_poll(struct oauth_client *c, struct oauth_device *dev, time_t deadline,
		      oauth_device_tick_fn tick, void *ctx, struct oauth_tokens *ret,
		      struct oauth_error *err) TS_WUR TS_NONNULL(1, 2, 6);
void oauth_device_clear(struct oauth_device *dev);

/* start, then show(ctx, dev) (nonzero aborts: -ECANCELED), then poll. A tick
 * returning nonzero also ends the poll with -ECANCELED. */
int oauth_device_login(struct oauth_client *c, struct oauth_device *dev,
		       oauth_device_show_fn show, oauth_device_tick_fn tick, void *ctx,
		       time_t deadline, struct oauth_tokens *ret, struct oauth_error *err) TS_WUR
	TS_NONNULL(1, 2, 7);

/* RFC 6749 §4.3 (legacy; off unless configured). */
int oauth_password_grant(struct oauth_client *c, const char *user, const char *password,
			 struct oauth_tokens *ret, struct oauth_error *err) TS_WUR
	TS_NONNULL(1, 2, 3, 4);

/* RFC 6749 §6. When prev_id has present=true and the answer carries an
 * id_token whose iss/sub/aud differ: TS_E_IDENTITY_CHANGED. When the answer
 * has no refresh_token, ret->refresh_token is a copy of refresh_token. */
int oauth_refresh(struct oauth_client *c, const char *refresh_token,
		  const struct oauth_id_claims *prev_id, struct oauth_tokens *ret,
		  struct oauth_error *err) TS_WUR TS_NONNULL(1, 2, 4);

int oauth_client_credentials(struct oauth_client *c, struct oauth_tokens *ret,
			     struct oauth_error *err) TS_WUR TS_NONNULL(1, 2);

/* RFC 7662 (needs a client secret). active:false -> TS_E_REJECTED_TOKEN with
 * ret->active = false. */
int oauth_introspect(struct oauth_client *c, const char *token, struct oauth_identity *ret,
		     struct oauth_error *err) TS_WUR TS_NONNULL(1, 2, 3);

/* Was the introspected token issued to this client? True when its
 * "client_id" is the configured client_id or its "aud" names it. A token
 * pasted at a prompt must pass this: an access token another application
 * obtained for the same person must not sign in here. Userinfo answers carry
 * neither, so they never pass. */
bool oauth_identity_for_client(const struct oauth_client *c, const struct oauth_identity *id)
	TS_NONNULL(1, 2);

/* Does the discovery document's scopes_supported list offline_access? 1
 * yes, 0 a list without it (Google: it grants refresh tokens without it,
 * and refuses it as invalid_scope), -1 unknown (no document read yet, or
 * no list in it). */
int oauth_offline_access_listed(const struct oauth_client *c) TS_NONNULL(1);

/* Does oauth_revalidate ask the introspection endpoint (as far as the
 * client knows now: after a revalidation, its discovery is done)? */
bool oauth_uses_introspection(const struct oauth_client *c) TS_NONNULL(1);

/* OIDC Core §5.3. 401 (invalid_token or bare) -> TS_E_REJECTED_TOKEN; 403
 * insufficient_scope -> TS_E_SERVER_CONFIG (not a reason to refresh). */
int oauth_userinfo(struct oauth_client *c, const char *token, struct oauth_identity *ret,
		   struct oauth_error *err) TS_WUR TS_NONNULL(1, 2, 3);

/* Revalidate according to cfg->revalidate (auto: introspection when the
 * client has a secret and the server an introspection endpoint). */
int oauth_revalidate(struct oauth_client *c, const char *token, struct oauth_identity *ret,
		     struct oauth_error *err) TS_WUR TS_NONNULL(1, 2, 3);

/* RFC 7009. hint: "refresh_token" or "access_token". 200 = success whatever
 * the body; 503 = TS_E_UNAVAILABLE (still exists, retry later); a server
 * with no revocation endpoint (not in discovery, not configured: Entra ID,
 * Google) = -EOPNOTSUPP, no request sent. */
int oauth_revoke(struct oauth_client *c, const char *token, const char *hint,
		 struct oauth_error *err) TS_WUR TS_NONNULL(1, 2);

void oauth_tokens_clear(struct oauth_tokens *t);

/* Decode the claims of an id_token (JWT payload, no signature check). */
int oauth_id_claims_parse(struct oauth_id_claims *ret, const char *id_token) TS_WUR
	TS_NONNULL(1, 2);

/* Parsers, exposed for the fuzz targets and unit tests: body is untrusted
 * bytes of len (not NUL-terminated). */
int oauth_parse_token_response(struct oauth_tokens *ret, long http_status, const char *body,
			       size_t len, struct oauth_error *err) TS_WUR TS_NONNULL(1, 3);
/* client_id: the configured client, for aud_has_client. */
int oauth_parse_introspection(struct oauth_identity *ret, const char *username_claim,
			      const char *client_id, const char *body, size_t len,
			      struct oauth_error *err) TS_WUR TS_NONNULL(1, 2, 3, 4);
int oauth_parse_device_response(struct oauth_device *ret, const char *body, size_t len,
				struct oauth_error *err) TS_WUR TS_NONNULL(1, 2);
/* Discovery: fills the endpoint fields of a ts_config copy (only those that
 * are empty), refusing an issuer other than expected_issuer. */
int oauth_parse_discovery(struct ts_config *cfg, const char *expected_issuer, const char *body,
			  size_t len, struct oauth_error *err) TS_WUR TS_NONNULL(1, 2, 3);

/* Estimated clock skew from the latest answer's Date header: server - local,
 * seconds (0 when unknown: see oauth_clock_skew_known). Only a Date within
 * 24 h of the local clock counts; each one replaces the estimate. */
long oauth_clock_skew(const struct oauth_client *c) TS_NONNULL(1);
/* True (skew in *ret_skew, may be NULL) when a Date was measured: a
 * measured 0 s is known, a client that has seen no Date is not. */
bool oauth_clock_skew_known(const struct oauth_client *c, long *ret_skew) TS_NONNULL(1);

#endif
