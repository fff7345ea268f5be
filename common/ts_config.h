/* SPDX-License-Identifier: MIT */
/*
 * /etc/tokenseal/tokenseal.conf: "key = value" lines, '#' comments, and
 * "[service NAME]" sections whose keys override the top level for that PAM
 * service. Every key is documented by name in one table (ts_config.c) that
 * also drives parsing and the man page check. Unknown keys are warned about
 * and ignored; numbers are range-checked; a bad value is an error naming the
 * file, line and key.
 *
 * The file must be a regular file owned by root (or, in a process that holds
 * no extra privilege, by its real uid: what tests use), not group- or
 * world-writable, and at most TS_CONFIG_MAX_SIZE bytes; anything else is
 * refused with a message naming the file and the problem.
 *
 * libc only: the PAM module parses the same file to find the broker.
 */
#ifndef TS_CONFIG_H
#define TS_CONFIG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "ts_log.h"
#include "ts_macros.h"

#define TS_CONFIG_MAX_SIZE (64 * 1024)
#define TS_CONFIG_LINE_MAX 1024
#define TS_PATH_MAX 512
#define TS_URL_MAX 512
#define TS_NAME_MAX 256
#define TS_LOGIN_METHODS_MAX 3

enum ts_login_method {
	TS_LOGIN_DEVICE,
	TS_LOGIN_PASSWORD,
	TS_LOGIN_TOKEN,
};

/* How the client authenticates at the server's endpoints (RFC 6749 §2.3.1). */
enum ts_client_auth {
	TS_CLIENT_AUTH_AUTO,  /* from token_endpoint_auth_methods_supported */
	TS_CLIENT_AUTH_BASIC, /* client_secret_basic */
	TS_CLIENT_AUTH_POST,  /* client_secret_post */
	TS_CLIENT_AUTH_NONE,  /* public client: client_id in the form */
};

enum ts_revalidate {
	TS_REVALIDATE_AUTO,	     /* introspection when the client has a secret, else userinfo */
	TS_REVALIDATE_INTROSPECTION,
	TS_REVALIDATE_USERINFO,
};

/* nss_groups: which identity provider groups the NSS cache publishes */
enum ts_nss_groups {
	TS_NSS_GROUPS_MAPPED, /* those group_map names */
	TS_NSS_GROUPS_ALL,    /* also the others, under their own names */
	TS_NSS_GROUPS_NONE,
};

enum ts_revoke_on {
	TS_REVOKE_LOGOUT,
	TS_REVOKE_LAST_SESSION,
	TS_REVOKE_NEVER,
};

struct ts_config {
	/* the authorization server and this client */
	char issuer[TS_URL_MAX];
	char client_id[TS_NAME_MAX];
	char client_secret_file[TS_PATH_MAX]; /* empty: public client */
	enum ts_client_auth client_auth;
	char scopes[TS_NAME_MAX];
	char ca_file[TS_PATH_MAX]; /* empty: the system trust store (oauth_system_capath) */
	/* endpoint overrides for servers without discovery (empty: discover) */
	char token_endpoint[TS_URL_MAX];
	char device_authorization_endpoint[TS_URL_MAX];
	char userinfo_endpoint[TS_URL_MAX];
	char introspection_endpoint[TS_URL_MAX];
	char revocation_endpoint[TS_URL_MAX];
	bool allow_loopback_http; /* http://127.0.0.1 and http://[::1] only */
	unsigned http_timeout;	  /* seconds, connect and total */
	unsigned max_response_size; /* bytes */

	/* local state */
	char keystore_dir[TS_PATH_MAX];
	char key_file[TS_PATH_MAX];
	char broker_path[TS_PATH_MAX];
	char socket_path[TS_PATH_MAX];

	/* login and identity */
	enum ts_login_method login_methods[TS_LOGIN_METHODS_MAX];
	size_t n_login_methods;
	unsigned device_timeout; /* seconds: overall deadline of a device login */
	char username_claim[TS_NAME_MAX];
	char username_map[TS_NAME_MAX]; /* "" or "strip-suffix:@example.org" */

	/* policy */
	bool auth_with_stored_token;
	bool require_token;
	enum ts_revalidate revalidate;
	unsigned revalidate_cache; /* seconds a positive server answer is reused */
	unsigned offline_grace;	   /* seconds since the last positive answer */
	unsigned refresh_window;   /* seconds; 0 = 25 % of lifetime, 60 s..15 min */
	enum ts_revoke_on revoke_on;
	bool background_refresh; /* the daemon refreshes open sessions' records ahead of need */
	unsigned min_uid; /* uids below it (root, system accounts) are refused */
	unsigned max_uid; /* uids above it (nobody) are refused */
	/* the access policy (docs/access-control.md), checked on every use:
	 * comma lists, values matched exactly; empty allow lists let in
	 * everyone the server vouches for; deny_groups wins */
	char allow_users[TS_CONFIG_LINE_MAX];
	char allow_groups[TS_CONFIG_LINE_MAX];
	char deny_groups[TS_CONFIG_LINE_MAX];
	char groups_claim[TS_NAME_MAX]; /* claim name or dotted path; "" reads no groups */
	bool debug;

	/* the NSS user cache the broker writes after each sign-in (docs/nss.md) */
	char nss_cache[TS_PATH_MAX];	/* TS_CONFIG_NSS_CACHE_OFF: no cache is written */
	unsigned nss_uid_min, nss_uid_max; /* hashed uids, TS_CONFIG_NSS_UID_SPAN_MIN or more */
	unsigned nss_gid;		/* 0: a group per user, gid = uid */
	char nss_home[TS_PATH_MAX];	/* template: %u name, %U uid, %% */
	char nss_shell[TS_PATH_MAX];
	char nss_resolve_unknown[TS_CONFIG_LINE_MAX]; /* POSIX ERE; "" = off */
	char nss_reserved_names[TS_CONFIG_LINE_MAX]; /* names, "prefix*"; "" = the built-in list only */
	char group_map[TS_CONFIG_LINE_MAX]; /* "idp-group = local-name, ..." (ts_nss_group_map_*) */
	enum ts_nss_groups nss_groups;
};

/* nss_cache = none: the broker writes no NSS user cache. */
#define TS_CONFIG_NSS_CACHE_OFF "none"
/* The fewest uids nss_uid_min..nss_uid_max may hold: fewer, and hashed uids
 * of a few hundred users would collide often (a collision moves one user to
 * the next free uid, which a rebuilt cache may not reproduce). */
#define TS_CONFIG_NSS_UID_SPAN_MIN 10000u

/* Where parse problems go. NULL = ts_vlog(). The PAM module passes a wrapper
 * around pam_vsyslog. */
struct ts_config_report {
	ts_log_fn fn;
	void *ctx;
};

/*
 * The problems (LOG_ERR and worse) that ts_config_load, ts_config_validate
 * and ts_config_check_paths report, kept in order for the caller to show
 * ("FILE:LINE: key 'KEY': REASON", "FILE: KEY PATH refused: WHY", ...),
 * each report also passed on to next (NULL: kept only). Pass &p->rep to
 * the loaders. The closing "N errors, configuration not loaded" line is
 * passed on, not kept.
 */
#define TS_CONFIG_PROBLEMS_MAX 8
#define TS_CONFIG_PROBLEM_LEN 400
struct ts_config_problems {
	char text[TS_CONFIG_PROBLEMS_MAX][TS_CONFIG_PROBLEM_LEN];
	unsigned count; /* problems reported: may exceed TS_CONFIG_PROBLEMS_MAX */
	const struct ts_config_report *next;
	struct ts_config_report rep;
};

void ts_config_problems_init(struct ts_config_problems *p, const struct ts_config_report *next)
	TS_NONNULL(1);

/* How many of p's problems are kept (at most TS_CONFIG_PROBLEMS_MAX). */
unsigned ts_config_problems_kept(const struct ts_config_problems *p) TS_NONNULL(1);

/* What to change for one kept problem of the file origin, as one line for
 * `tokenseal doctor` ("set issuer = https://... in FILE", "create PATH ...").
 * out is always NUL-terminated. */
void ts_config_problem_fix(const char *problem, const char *origin, char *out, size_t outlen)
	TS_NONNULL(1, 2, 3);

/* Fill in every default. */
void ts_config_defaults(struct ts_config *c) TS_NONNULL(1);

/* Load path: top-level keys, then the keys of "[service <service>]" when
 * service is not NULL. Call ts_config_defaults() first: loading does not
 * reset the struct, so defaults, then the file, then module arguments can
 * be layered. On any error the struct is left exactly as it was. Returns 0, -ENOENT (missing file, reported), or
 * TS_E_CONFIG / TS_E_BAD_OWNER / TS_E_BAD_MODE / TS_E_NOT_REGULAR /
 * TS_E_TOO_BIG (each reported with the file name and the problem). */
int ts_config_load(struct ts_config *c, const char *path, const char *service,
		   const struct ts_config_report *rep) TS_WUR TS_NONNULL(1, 2);

/* ts_config_defaults, then ts_config_load into c itself, without the
 * working copy that leaves c as it was on error: on any error c holds the
 * defaults again. One struct ts_config (~15 KiB) less for a caller that
 * starts from the defaults anyway: the PAM module, whose every page is the
 * host process's. Returns as ts_config_load, or -ENOMEM. */
int ts_config_load_fresh(struct ts_config *c, const char *path, const char *service,
			 const struct ts_config_report *rep) TS_WUR TS_NONNULL(1, 2);

/* Parse an in-memory buffer (no file checks); origin names it in messages.
 * Used by ts_config_load and the fuzz target. */
int ts_config_parse(struct ts_config *c, const char *buf, size_t len, const char *service,
		    const char *origin, const struct ts_config_report *rep) TS_WUR
	TS_NONNULL(1, 2, 5);

/* Check that what was loaded is usable (issuer set and https, client_id set,
 * absolute paths, and login_methods = token only where revalidation uses
 * introspection: revalidate = introspection, or auto with a
 * client_secret_file; the nss_* keys: nss_uid_min < nss_uid_max with at
 * least TS_CONFIG_NSS_UID_SPAN_MIN uids and nss_uid_min >= min_uid, nss_home
 * and nss_shell absolute, nss_resolve_unknown a POSIX ERE that compiles).
 * Reports each problem; returns 0 or TS_E_CONFIG. */
int ts_config_validate(const struct ts_config *c, const char *origin,
		       const struct ts_config_report *rep) TS_WUR TS_NONNULL(1, 2);

/* The whole-path rule (ts_path_check_safe, OpenSSH safe_path()) for every
 * path the configuration names, and for origin itself when it is an absolute
 * path (the configuration file): the file and every folder above it owned by
 * root and not group- or world-writable (sticky root folders like /tmp
 * excepted). client_secret_file, ca_file and broker_path must exist when
 * set; key_file and keystore_dir may not exist yet (then the folder that
 * would hold them is checked); socket_path is a socket, so its folder is
 * checked; nss_cache is checked like socket_path, but a problem there is a
 * LOG_WARNING that fails nothing (the broker then writes no cache: a cache
 * problem must never stop a sign-in). Each problem is reported as
 * "ORIGIN: KEY PATH refused: WHY" ("ORIGIN: the configuration file refused:
 * WHY"); returns 0 or TS_E_CONFIG.
 * For root processes (the broker); it does I/O, ts_config_validate does not. */
int ts_config_check_paths(const struct ts_config *c, const char *origin,
			  const struct ts_config_report *rep) TS_WUR TS_NONNULL(1, 2);

/* Whether tokenseal serves uid: min_uid <= uid <= max_uid, or, with the NSS
 * cache on, nss_uid_min <= uid <= nss_uid_max (the identity provider's own
 * users, whose uids tokenseal hands out). Everyone else (root, system
 * accounts, nobody) is decided by the PAM module alone: PAM_IGNORE. */
bool ts_config_uid_served(const struct ts_config *c, unsigned long uid) TS_NONNULL(1);

/* Whether the broker writes the NSS user cache (nss_cache is not "none"). */
bool ts_config_nss_cache_on(const struct ts_config *c) TS_NONNULL(1);

/* Name of a key in the table, for docs/tests: NULL past the end. */
const char *ts_config_key_name(size_t i);

const char *ts_login_method_name(enum ts_login_method m);

/* The method named by the len bytes at s ("device", "password", "token"):
 * 0, or -EINVAL for anything else. The one table behind both. */
int ts_login_method_parse(const char *s, size_t len, enum ts_login_method *ret) TS_WUR
	TS_NONNULL(1, 3);

/* Apply username_map to a server-side name. With strip-suffix:SUFFIX the
 * name must end in SUFFIX (case-sensitive) with something before it: a name
 * without it is refused (-EINVAL), never passed through, so that a user of
 * another domain cannot stand in for a local name. Returns 0, -EINVAL, or
 * -ENAMETOOLONG; out is untouched on failure. */
int ts_config_map_username(const struct ts_config *c, const char *in, char *out,
			   size_t outlen) TS_WUR TS_NONNULL(1, 2, 3);

/* Where key i may be set, for docs/tests: "any", "top" (top level only) or
 * "service" ([service NAME] sections only); NULL past the end. */
const char *ts_config_key_scope(size_t i);

#endif
