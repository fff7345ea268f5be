/* SPDX-License-Identifier: MIT */
/*
 * The lifecycle engine (DESIGN.md §4): the record the broker stores for each
 * user, the pure decision logic (record + server-estimated time + config ->
 * what to do), and the operations behind every broker request. No PAM types:
 * the exec-mode binary and a later daemon both serve it.
 *
 * The authorization server is authoritative: the local expiry is only a
 * scheduling hint; a token the server rejects is refreshed at once under the
 * user's lock (single flight), and only a refused refresh asks for a new
 * login. A transient failure never changes the stored record.
 */
#ifndef TS_LIFECYCLE_H
#define TS_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "oauth.h"
#include "ts_config.h"
#include "ts_conv.h"
#include "ts_macros.h"
#include "ts_proto.h"

#define TS_SKEW_WARN_SECONDS 120
#define TS_NOTE_INTERVAL 60 /* most often a plain use rewrites the record */
#define TS_WINDOW_MIN 60
#define TS_WINDOW_MAX (15 * 60)
#define TS_DEVICE_TIMEOUT_DEFAULT 110
#define TS_MESSAGE_MAX 512
#define TS_RT_HASH_HEX 65
#define TS_BOOT_ID_MAX 40 /* /proc/sys/kernel/random/boot_id: 36 characters */

enum ts_rec_state {
	TS_REC_VALID = 0,
	TS_REC_NEEDS_LOGIN = 1,
	TS_REC_SIGNED_OUT = 2, /* no tokens; keeps sub and username (DESIGN §4, §5) */
};

/* A user's stored token set. Times are SERVER time (local + skew). Strings
 * that hold secrets are malloc'd and wiped by ts_record_clear. */
struct ts_record {
	char *access_token;
	char *refresh_token; /* NULL: none (pasted token) */
	struct oauth_id_claims id;
	char sub[OAUTH_CLAIM_MAX];
	char username[OAUTH_CLAIM_MAX];
	char issuer[TS_URL_MAX];
	char client_id[TS_NAME_MAX];
	int64_t obtained_at;         /* server time */
	int64_t expires_in;          /* seconds */
	int64_t last_positive_check; /* server time; 0 = never */
	enum ts_rec_state state;
	char reason[128];
	char needs_login_rt_hash[TS_RT_HASH_HEX]; /* hex sha256 of the refused refresh token */
	int sessions;
	/* the boot (the kernel's boot_id) whose sessions those are: a count
	 * from an earlier boot is stale, since no session outlives a reboot
	 * and their close never came; "" (an older record): not known */
	char sessions_boot[TS_BOOT_ID_MAX];
	int64_t skew; /* server - local, seconds, as last seen */
	char method[32];
	/* the server rejected even a freshly refreshed token (disabled
	 * account): server time of the last time, and how often in a row;
	 * refreshes back off (ts_refresh_backed_off). 0 = not rejected. */
	int64_t rejected_at;
	int rejections;
	/* the server refused a refresh with invalid_request and this client
	 * could not prove its own configuration good (a configuration error,
	 * tokens kept): server time of the last time, and how often in a
	 * row; refreshes are held back (ts_refresh_held) so that the same
	 * refresh token is not resent on every use. 0 = not held. */
	int64_t held_at;
	int holds;
	/* for STATUS (server time, 0 = never): the last refresh or new grant
	 * stored, and the last failure that changed the record (needs-login,
	 * rejected) with its ts_err code. A transient failure changes no
	 * record, so it is never here. */
	int64_t last_refresh_at;
	int64_t last_error_at;
	int last_error;
	/* the groups of the positive answer noted at last_positive_check, read
	 * at groups_claim (docs/access-control.md): what revalidate_cache and
	 * offline_grace reuse with that answer. NOT_READ: none noted (an older
	 * record), or read at another groups_claim. Not a secret. */
	char groups_claim[TS_NAME_MAX];
	struct oauth_groups groups;
};

/* The method name of a record whose tokens come from the client
 * credentials grant (a service account): when due, the engine runs that
 * grant again instead of a refresh. */
#define TS_METHOD_CLIENT_CREDENTIALS "client-credentials"
#define TS_METHOD_REFRESH_TOKEN "refresh-token"
bool ts_record_is_client_credentials(const struct ts_record *r) TS_NONNULL(1);

/* The sessions of r open in the boot boot (ts_boot_id()): r->sessions,
 * or 0 when they were counted in another boot. A record or a host that
 * does not know its boot ("") keeps its count. */
int ts_record_sessions(const struct ts_record *r, const char *boot) TS_NONNULL(1, 2);

/* This boot's id (/proc/sys/kernel/random/boot_id, read once), or "" when
 * it cannot be read. */
const char *ts_boot_id(void);

void ts_record_clear(struct ts_record *r);

/* Serialise to JSON (malloc'd, the caller wipes with ts_erase_free) / parse
 * (the caller keeps ownership of buf). */
int ts_record_to_json(const struct ts_record *r, char **ret_json, size_t *ret_len) TS_WUR
    TS_NONNULL(1, 2, 3);
int ts_record_from_json(struct ts_record *ret, const uint8_t *buf, size_t len) TS_WUR
    TS_NONNULL(1, 2);

/* ---- pure decision logic -------------------------------------------- */

enum ts_action {
	TS_ACT_NO_RECORD,   /* nothing stored: sign in */
	TS_ACT_NEEDS_LOGIN, /* marked needs-login: sign in */
	TS_ACT_SIGNED_OUT,  /* signed out (tokens gone, subject kept): sign in */
	TS_ACT_USE_CACHED,  /* a positive check within revalidate_cache: no server call */
	TS_ACT_REVALIDATE,  /* ask the server, then use */
	TS_ACT_REFRESH,     /* inside the refresh window (or expired): refresh first */
};

struct ts_decision {
	enum ts_action action;
	enum ts_state state;  /* what STATUS shows */
	int64_t expires_left; /* server time seconds left (may be negative) */
	int64_t window;       /* the refresh window in seconds */
};

/* The refresh window for a token lifetime: cfg->refresh_window, or 25 % of
 * the lifetime clamped to 60 s .. 15 min (never more than the lifetime). */
int64_t ts_refresh_window(const struct ts_config *cfg, int64_t lifetime) TS_NONNULL(1);

/* r may be NULL (no record). now is the server-estimated time. */
void ts_lifecycle_decide(const struct ts_record *r, int64_t now, const struct ts_config *cfg,
                         struct ts_decision *ret) TS_NONNULL(3, 4);

/* Offline grace: may a use proceed on the last positive check while the
 * server is unreachable? *ret_age gets the age of that check in seconds. */
bool ts_offline_allowed(const struct ts_record *r, int64_t now, const struct ts_config *cfg,
                        int64_t *ret_age) TS_NONNULL(3);

/* Should a positive server answer be written into the record? Each write is
 * a locked, fsynced rewrite on the path of every sudo and login, so only
 * when something reads the time soon: revalidate_cache needs it current;
 * otherwise (offline_grace, status) once per TS_NOTE_INTERVAL, or when the
 * clock-skew estimate moved by more than TS_SKEW_WARN_SECONDS / 4. */
bool ts_should_note_positive(const struct ts_record *r, int64_t now, int64_t skew,
			     const struct ts_config *cfg) TS_NONNULL(1, 4);

#define TS_REJECT_BACKOFF_MIN 60
#define TS_REJECT_BACKOFF_MAX 3600

/* Back-off after n rejections in a row of a freshly refreshed token:
 * 60 s doubling per rejection, at most an hour. */
int64_t ts_reject_backoff(int rejections);

/* Is a refresh of r held back at server time now (the server rejected even
 * the last freshly refreshed token, within the back-off)? */
bool ts_refresh_backed_off(const struct ts_record *r, int64_t now) TS_NONNULL(1);

/* Is a refresh of r held back at server time now (a refresh answered
 * invalid_request was a configuration error, within the back-off,
 * ts_reject_backoff(holds))? *ret_left (may be NULL) gets the seconds left. */
bool ts_refresh_held(const struct ts_record *r, int64_t now, int64_t *ret_left) TS_NONNULL(1);

enum ts_grant_verdict {
	TS_GRANT_ADOPT,       /* the stored token changed: use it, no server call */
	TS_GRANT_REFRESH,     /* the stored token is the one seen: refresh it */
	TS_GRANT_NEEDS_LOGIN, /* the stored record is marked needs-login */
};

/* After taking the lock: seen_access is the access token this process saw
 * rejected (or planned to refresh); stored is the re-read record. */
enum ts_grant_verdict ts_single_flight_verdict(const struct ts_record *stored,
                                               const char *seen_access) TS_NONNULL(1);

/* Identity binding: server_name (username_claim) after username_map must
 * equal user. 0, or TS_E_IDENTITY_MISMATCH with a message naming both. */
int ts_identity_check(const struct ts_config *cfg, const char *user, const char *server_name,
                      char *msg, size_t msglen) TS_WUR TS_NONNULL(1, 2, 3, 4);

/* The needs-login reason of a refresh the server refused (invalid_grant
 * and the like): "the server refused the refresh token (ERROR: DETAIL)",
 * DETAIL the first sentence of desc (already sanitised by oauth/), cut to
 * fit with "..." (Entra's AADSTS descriptions run on with trace ids and
 * timestamps); without desc, "(ERROR)". Always a whole string in out. */
void ts_grant_refused_reason(char *out, size_t len, const char *error, const char *desc)
    TS_NONNULL(1, 3, 4);

/* The sign-in refused with invalid_scope: msg names the scopes and what
 * to do. offline_listed: oauth_offline_access_listed() (1, 0, -1); desc
 * the server's error_description (sanitised, may be ""). */
void ts_scope_refusal_msg(char *msg, size_t len, const struct ts_config *cfg, const char *desc,
                          int offline_listed) TS_NONNULL(1, 3, 4);

/* Hex sha256 of a secret (for needs_login_rt_hash). */
void ts_secret_hash_hex(char out[TS_RT_HASH_HEX], const char *secret);

/* ---- the engine ------------------------------------------------------- */

struct ks;

/* How the engine talks to the person: struct ts_conv (ts_conv.h), relayed
 * over the protocol conversation. */

struct ts_engine {
	const struct ts_config *cfg;
	struct ks *ks;
	struct oauth_client *oauth;
	const struct ts_conv *conv; /* may be NULL: non-interactive */
	/* test seam: local clock (NULL = time()) */
	int64_t (*now_local)(void);
};

struct ts_outcome {
	int code;
	enum ts_state state;
	char message[TS_MESSAGE_MAX];
	char *token;        /* GET_TOKEN: wiped by ts_outcome_clear */
	int64_t expires;    /* -1 unknown */
	char *status_json;  /* STATUS */
	unsigned refreshes; /* refresh requests this process sent (tests, logs) */
	bool legacy_grant;  /* the password grant was used: the boundary warns */
	int not_saved;      /* a refresh succeeded but its store failed: why (0 = saved) */
	/* the server's token answer had fields that failed their checks and
	 * were defaulted (oauth_tokens.warnings): the boundary logs them */
	char answer_warnings[OAUTH_MSG_MAX];
};

void ts_outcome_clear(struct ts_outcome *o);

struct ts_request {
	enum ts_msg_type type;
	const char *user;
	const char *user_log; /* user sanitised for log lines (ts_sanitize_text); NULL: "?" */
	uid_t uid;
	const char *service;
	uint32_t flags;
	const char *method; /* may be NULL */
	/* PAM_RHOST as the module sent it (sanitised; NULL when local): a
	 * remote login (sshd) shows the device text as a prompt */
	const char *rhost;
};

/* ---- administration (engine_admin.c), no user record involved -------- */

/* KEYSTORE (root only, checked by the boundary): req->method is the
 * operation: "init" (ks_init; an existing key is never replaced), "verify"
 * (ks_verify_all, then ts_sweep_leftovers), "rotate-key" (ks_rotate_key), "forget" (release the
 * subject pinned to req->user: delete its signed-out or needs-login record;
 * a signed-in one is refused with -EBUSY). Fills out; returns out->code. */
int ts_admin_keystore(const struct ts_config *cfg, const struct ts_request *req,
                      struct ts_outcome *out) TS_NONNULL(1, 2, 3);

/* The temporary files of writes cut short an hour ago or more: the
 * keystore's (ks_sweep_temp), and those of the discovery cache, the NSS user
 * cache and the key file beside each (ts_sweep_temp_at with its name; the
 * daemon sees the key file's folder read-only and leaves it to KEYSTORE
 * verify). Removed, and counted. Run by KEYSTORE verify and by the daemon
 * when it starts. */
#define TS_LEFTOVER_MIN_AGE 3600
unsigned ts_sweep_leftovers(const struct ts_config *cfg) TS_NONNULL(1);

/* DOCTOR: the server and keystore checks, as out->status_json
 * {"checks":[{"name","level":"ok|warn|fail","detail","fix"}...]}; every
 * record's header (root) or only req->uid's record (others). out->code is 0
 * when the checks ran, whatever they found. */
int ts_admin_doctor(const struct ts_config *cfg, const struct ts_request *req, bool root,
                    struct ts_outcome *out) TS_NONNULL(1, 2, 4);

/* Handle one request. Always fills *out (code/state/message); returns out->code. */
int ts_engine_handle(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
    TS_NONNULL(1, 2, 3);

#endif
