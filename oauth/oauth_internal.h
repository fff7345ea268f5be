/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the oauth/ sources (not an API: nothing outside oauth/
 * includes this). Where things live:
 *   oauth.c            the client object (new/free, secret, skew, test seams)
 *   oauth_http.c       HTTP transport: buffers, forms, headers, one request
 *   oauth_clientauth.c client authentication: the method, form encoding,
 *                      the Basic header, the method named in a refusal
 *   oauth_errors.c     the error taxonomy: OAuth error codes, error answers,
 *                      the final touch on every message (oauth_finish)
 *   oauth_discovery.c  discovery document and endpoint lookup
 *   oauth_grants.c     token endpoint: refresh, password, client credentials
 *   oauth_device.c     device authorization grant (RFC 8628)
 *   oauth_validate.c   introspection, userinfo, revalidate
 *   oauth_revoke.c     revocation (RFC 7009)
 *   oauth_parse.c      parsers of server answers (no I/O)
 *   oauth_groups.c     the groups claim: dotted paths, overage, bounds
 */
#ifndef TS_OAUTH_INTERNAL_H
#define TS_OAUTH_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>

#include "oauth.h"

#define OAUTH_MAX_EXPIRES_IN 315360000LL /* 10 years */
#define OAUTH_MAX_INTERVAL 3600
#define OAUTH_ID_TOKEN_MAX (64 * 1024)
#define OAUTH_SCOPE_MAX 4096
#define OAUTH_SECRET_FILE_MAX 4096
#define OAUTH_DEFAULT_MAX_RESPONSE (64 * 1024)
#define OAUTH_DEFAULT_TIMEOUT 10
#define OAUTH_MAX_POLL_INTERVAL 300
#define OAUTH_SKEW_MAX (24 * 3600) /* a Date further off is not believed */

/* The client authentication in use (chosen once per client). */
enum oauth_auth_method {
	OAUTH_AUTH_UNSET,
	OAUTH_AUTH_BASIC, /* client_secret_basic */
	OAUTH_AUTH_POST,  /* client_secret_post */
	OAUTH_AUTH_NONE,  /* public: client_id in the form */
};

struct oauth_client {
	struct ts_config cfg; /* copy with discovered endpoints filled in */
	bool discovered;
	bool discovery_supplied; /* from oauth_set_discovery(), not fetched */
	char *discovery_doc;     /* the document this client fetched (public) */
	size_t discovery_len;
	char *secret; /* NULL: public client */
	enum oauth_auth_method auth;
	/* the discovery document's token_endpoint_auth_methods_supported */
	bool auth_listed; /* a non-empty list */
	bool auth_basic, auth_post;
	char auth_methods[256]; /* the list, sanitised, for messages */
	/* the discovery document's scopes_supported: 0 no list (or no
	 * document), 1 a list without offline_access, 2 a list with it */
	unsigned char offline_listed;
	CURL *curl;
	long skew;      /* server - local, seconds; meaningful when have_skew */
	bool have_skew; /* a Date header was measured (0 s is a measurement) */
	double time_scale; /* tests only (oauth_testing.h); 1.0 in production */
};

/* A growable, capped buffer; its contents are wiped when released. */
struct sbuf {
	char *p;
	size_t len, cap, max;
	bool too_big;
};

struct http_resp {
	long status;
	struct sbuf body;
	char content_type[128];
	char www_auth[512];
	char location[TS_URL_MAX];
	long retry_after;
	time_t date;
	bool sent; /* request bytes went out (the server may have acted on it) */
};

/* Which failures a request may be retried after (inside http_timeout). */
enum oauth_retry {
	OAUTH_RETRY_NONE,
	/* not idempotent (a refresh rotates the token): only after an HTTP
	 * 5xx/429 answer or when the request never left */
	OAUTH_RETRY_UNSENT,
	/* idempotent (introspection, userinfo): after any transient failure */
	OAUTH_RETRY_ANY,
};
#define OAUTH_RETRY_MAX_ATTEMPTS 4
#define OAUTH_RETRY_FIRST_MS 250 /* backoff: 250, 500, 1000 ms */
#define OAUTH_RETRY_MIN_ATTEMPT_MS 250 /* no new attempt with less time left */

struct http_req {
	const char *what; /* "token endpoint", ... for messages */
	const char *url;
	const char *form; /* NULL: GET */
	size_t form_len;
	const char *bearer; /* access token for an Authorization header */
	bool client_auth;   /* the Basic header when the client uses client_secret_basic */
	long long timeout_ms; /* 0: http_timeout */
};

/* ---- oauth.c ---- */
/* The process-wide share (TLS sessions, DNS) set up by
 * oauth_global_share_enable(), or NULL. */
CURLSH *oauth_share(void);

/* ---- oauth_http.c ---- */
void oauth_buf_done(struct sbuf *b);
int oauth_buf_add(struct sbuf *b, const char *s, size_t n) TS_WUR;
int oauth_buf_str(struct sbuf *b, const char *s) TS_WUR;
/* Append key=value (form-urlencoded; RFC 6749 App. B) with '&' as needed. */
int oauth_form_add(CURL *curl, struct sbuf *b, const char *key, const char *value) TS_WUR;
void oauth_resp_done(struct http_resp *r);
void oauth_sleep_ms(long long ms);
/* endpoint url without query, for messages (userinfo never shown) */
void oauth_url_shown(char *out, size_t outlen, const char *url);
bool oauth_is_json_type(const char *ct);
/* Perform one request. Transport failures, redirects, 429 and 5xx are turned
 * into the taxonomy here; any other HTTP answer is returned as 0 with resp
 * filled in for the caller to interpret. */
int oauth_http_do(struct oauth_client *c, const struct http_req *q, struct http_resp *resp,
                  struct oauth_error *err) TS_WUR;
/* oauth_http_do, retried after transient failures as mode allows, with
 * exponential backoff and Retry-After (seconds or HTTP-date), all inside
 * http_timeout (each attempt gets the time that is left). */
int oauth_http_retry(struct oauth_client *c, const struct http_req *q, enum oauth_retry mode,
                     struct http_resp *resp, struct oauth_error *err) TS_WUR;
/* POST form (client authentication when the client has a secret). */
int oauth_post(struct oauth_client *c, const char *what, const char *url, struct sbuf *form,
               enum oauth_retry mode, struct http_resp *resp, struct oauth_error *err) TS_WUR;
/* Refuse (and release) an answer whose Content-Type is not JSON. */
int oauth_check_json(const char *what, const char *url, struct http_resp *resp,
                     struct oauth_error *err) TS_WUR;
/* POST form to an endpoint expecting a JSON body; JSON checked. */
int oauth_post_json(struct oauth_client *c, const char *what, const char *url, struct sbuf *form,
                    enum oauth_retry mode, struct http_resp *resp, struct oauth_error *err) TS_WUR;

/* ---- oauth_clientauth.c ---- */
/* Append s form-encoded (RFC 6749 App. B: space '+', others but ALPHA,
 * DIGIT and "*-._" as %XX). */
int oauth_form_encode(struct sbuf *b, const char *s) TS_WUR;
/* Remember token_endpoint_auth_methods_supported of a discovery document. */
void oauth_read_auth_methods(struct oauth_client *c, const char *doc, size_t len);
/* The method of this client (chosen on first use; may discover). */
int oauth_auth_method(struct oauth_client *c, enum oauth_auth_method *ret,
                      struct oauth_error *err) TS_WUR;
/* The method's form fields: client_id and client_secret (post), client_id
 * (none), nothing (basic: the header). */
int oauth_add_client_auth(struct oauth_client *c, struct sbuf *form,
                          struct oauth_error *err) TS_WUR;
/* Whether requests with client_auth carry the Basic header. */
bool oauth_sends_basic(const struct oauth_client *c);
/* "Authorization: Basic ..." of this client (§2.3.1). */
int oauth_basic_header(struct oauth_client *c, char **ret) TS_WUR;
/* After a failed request: when the server refused the client
 * (invalid_client or HTTP 401), name the method in err->message. */
void oauth_auth_note(struct oauth_client *c, int r, struct oauth_error *err);

/* ---- oauth_errors.c ---- */
/* Set err (if not NULL): code, and a message built from fmt. Returns code. */
int oauth_fail(struct oauth_error *err, int code, const char *fmt, ...) TS_PRINTF(3, 4);

/* Reset err to "no error". */
void oauth_error_reset(struct oauth_error *err);

/* The taxonomy class of an OAuth "error" code (RFC 6749 §5.2, RFC 8628
 * §3.5, RFC 6750 §3.1). */
int oauth_classify_error(const char *error);

/* When obj has an "error" member: copy error/error_description (sanitised)
 * into err and return the class (< 0). Else return 0. A non-string "error" is
 * TS_E_BAD_ANSWER. http_status 0 leaves err->http_status as it was. */
int oauth_json_error(json_t *obj, long http_status, struct oauth_error *err);

/* Pretty text for a taxonomy class, used to start messages. */
const char *oauth_class_text(int code);

/* A non-200 answer: the OAuth error in its JSON body, else TS_E_BAD_ANSWER. */
int oauth_error_answer(const char *what, const struct http_resp *resp, struct oauth_error *err);

/* Whether an answer carries a usable OAuth error: a JSON object (whatever
 * its Content-Type) with a non-empty string "error". */
bool oauth_has_oauth_error(const struct http_resp *resp);

/* Final touch on every error: prefix the issuer, and withhold the server's
 * text if it repeats any credential we sent (it must never reach a log). */
int oauth_finish(struct oauth_client *c, struct oauth_error *err, int r,
                 const char *const *secrets, size_t n_secrets);

/* ---- oauth_discovery.c ---- */
/* Fetch the discovery document once (unless every endpoint is set). */
int oauth_discover_once(struct oauth_client *c, struct oauth_error *err) TS_WUR;
/* The endpoint ep of the config, discovering when it is empty. */
int oauth_endpoint(struct oauth_client *c, const char *name, const char *ep,
                   struct oauth_error *err) TS_WUR;

/* ---- oauth_grants.c ---- */
/* POST form to the token endpoint and parse the token answer. refused
 * (e.g. "the refresh token"; NULL: no such rule) names the grant for a
 * 400/401/403 without a usable OAuth error: TS_E_NEEDS_LOGIN, "the server
 * refused <refused> (HTTP 400, no error given)". */
int oauth_token_request(struct oauth_client *c, struct sbuf *form, const char *refused,
                        enum oauth_retry mode, struct oauth_tokens *ret,
                        struct oauth_error *err) TS_WUR;

/* ---- oauth_parse.c ---- */
/* Parse a bounded JSON object; NULL on failure (err filled, TS_E_BAD_ANSWER). */
json_t *oauth_json_load(const char *body, size_t len, struct oauth_error *err);
/* The same with extra json_loadb flags (JSON_DECODE_INT_AS_REAL). */
json_t *oauth_json_load_flags(const char *body, size_t len, size_t flags, struct oauth_error *err);

/* ---- oauth_groups.c ---- */
/* Read path (cfg->groups_claim) from a parsed answer into *ret. */
void oauth_groups_read(struct oauth_groups *ret, json_t *root, const char *path);

/* Copy a string member (optional: 0 when absent, 1 when copied) into out,
 * refusing one that does not fit or has control bytes (TS_E_BAD_ANSWER). */
int oauth_json_str(json_t *obj, const char *key, char *out, size_t outlen,
                   struct oauth_error *err) TS_WUR;

#endif
