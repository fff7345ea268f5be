/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "discovery_cache.h"
#include "ks.h"
#include "lifecycle.h"
#include "nss_update.h"
#include "serve.h"
#include "serve_config.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_proto.h"
#include "ts_test_hook.h"

/* The largest getpwnam_r buffer tried (it doubles from 4 KiB on ERANGE). */
#define TS_PWBUF_MAX (1024 * 1024)

struct conv_ctx {
	int in_fd, out_fd, timeout_ms;
};

static int send_text(struct conv_ctx *c, uint8_t type, const char *text)
{
	struct ts_msg_builder b = {0};
	const uint8_t *frame;
	size_t len;
	int r;

	ts_msg_begin(&b, type);
	ts_msg_add_str(&b, TS_F_TEXT, text);
	r = ts_msg_finish(&b, &frame, &len);
	if (r >= 0)
		r = ts_proto_write(c->out_fd, frame, len, c->timeout_ms);
	ts_msg_builder_clear(&b);
	return r;
}

static int conv_info(void *ctx, const char *text)
{
	return send_text(ctx, TS_MSG_INFO, text);
}

static int conv_error(void *ctx, const char *text)
{
	return send_text(ctx, TS_MSG_ERROR, text);
}

static int conv_prompt(void *ctx, const char *text, bool echo, char **ret_answer)
{
	struct conv_ctx *c = ctx;
	struct ts_msg_builder b = {0};
	const uint8_t *frame;
	size_t len;
	int r;

	ts_msg_begin(&b, TS_MSG_PROMPT);
	ts_msg_add_str(&b, TS_F_TEXT, text);
	ts_msg_add_int(&b, TS_F_ECHO, echo ? 1 : 0);
	r = ts_msg_finish(&b, &frame, &len);
	if (r >= 0)
		r = ts_proto_write(c->out_fd, frame, len, c->timeout_ms);
	ts_msg_builder_clear(&b);
	if (r < 0)
		return r;
	/* every byte as typed: a password may end in a blank (a pasted token
	 * is trimmed where it is used, engine_login.c) */
	return ts_proto_read_answer(c->in_fd, c->timeout_ms, ret_answer);
}

static int send_result(int fd, int timeout_ms, const struct ts_outcome *o)
{
	struct ts_msg_builder b = {0};
	const uint8_t *frame;
	size_t len;
	int r;

	ts_msg_begin(&b, TS_MSG_RESULT);
	ts_msg_add_int(&b, TS_F_CODE, o->code);
	ts_msg_add_int(&b, TS_F_STATE, o->state);
	if (o->message[0])
		ts_msg_add_str(&b, TS_F_MESSAGE, o->message);
	if (o->token)
		ts_msg_add_str(&b, TS_F_TOKEN, o->token);
	if (o->expires >= 0)
		ts_msg_add_int(&b, TS_F_EXPIRES, o->expires);
	if (o->status_json)
		ts_msg_add_str(&b, TS_F_STATUS_JSON, o->status_json);
	r = ts_msg_finish(&b, &frame, &len);
	if (r >= 0)
		r = ts_proto_write(fd, frame, len, timeout_ms);
	ts_msg_builder_clear(&b);
	return r;
}

static bool is_request(uint8_t t)
{
	return t >= TS_MSG_LOGIN && t <= TS_MSG_LAST_REQUEST;
}

/* Anyone but root acts only for the user whose name maps to their uid.
 * ERANGE (an entry larger than the buffer: long gecos, a big directory
 * entry) grows the buffer; it never reads as "no such user". Other lookup
 * errors are errors (-EIO class), not -ENOENT. */
static int authorize(const char *user, uid_t peer_uid, uid_t *ret_uid)
{
	struct passwd pw, *res = NULL;
	size_t len = 4096;
	char *buf = NULL;
	int e;

	for (;;) {
		char *nb = realloc(buf, len);

		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		e = getpwnam_r(user, &pw, buf, len, &res);
		if (e != ERANGE || len >= TS_PWBUF_MAX)
			break;
		len *= 2;
	}
	if (e == 0 && !res) {
		free(buf);
		return -ENOENT;
	}
	if (e != 0) {
		free(buf);
		return e == ENOENT || e == ESRCH || e == EBADF || e == EPERM ? -ENOENT : -e;
	}
	if (peer_uid != 0 && res->pw_uid != peer_uid) {
		free(buf);
		return TS_E_PERM;
	}
	*ret_uid = res->pw_uid;
	free(buf);
	return 0;
}

/* Who the configuration is loaded for: decides what an unusable one
 * answers (serve_config.h). */
struct cfg_for {
	uid_t peer_uid;
	bool uid_known;    /* req->uid is the user's */
	bool root_request; /* DOCTOR, KEYSTORE: about the host, not a user */
};

static int load_config(const struct ts_serve_opts *opts, const struct ts_request *req,
                       struct ts_config *cfg, struct ts_outcome *out);
static int load_config_for(const struct ts_serve_opts *opts, const struct ts_request *req,
                           const struct cfg_for *who, struct ts_config *cfg,
                           struct ts_outcome *out);

/*
 * A name no local source knows (the broker's own lookups skip the NSS
 * module: TS_NSS_LOOP_ENV) may be a user who exists only at the identity
 * provider (DESIGN §6): it has the uid the NSS cache gives it (its entry,
 * or the uid nss_resolve_unknown pre-resolves it to), exactly what sshd
 * and the rest of the host see through libnss_tokenseal. -ENOENT when the
 * cache knows nothing of it either; TS_E_NOT_SERVED with why filled when
 * the cache may not publish it (a reserved name, one another NSS source
 * knows as a user or group, a uid taken: nss_update.h). The cache file is
 * read only when it changed since the last request (nss_view.c).
 */
static int authorize_cached(const struct ts_serve_opts *opts, const struct ts_request *req,
                            uid_t peer_uid, uid_t *ret_uid, char *why, size_t whylen)
{
	struct ts_outcome scratch = {.expires = -1};
	struct ts_config cfg;
	uint32_t uid;
	int r;

	why[0] = '\0';
	if (load_config(opts, req, &cfg, &scratch) < 0 || !ts_config_nss_cache_on(&cfg))
		return -ENOENT;
	/* nss_resolve_unknown lives in the file: one the administrator has not
	 * yet had rewritten since changing the nss_* keys is brought up to date
	 * first (a rewrite only when it differs) */
	(void)ts_nss_prepare_if_stale(&cfg);
	r = ts_nss_authorize_uid(&cfg, req->user, &uid, why, whylen);
	if (r == TS_E_NOT_SERVED)
		return r;
	if (r < 0)
		return -ENOENT;
	if (peer_uid != 0 && uid != peer_uid)
		return TS_E_PERM;
	*ret_uid = uid;
	return 0;
}

static const char *type_name(enum ts_msg_type t)
{
	switch (t) {
	case TS_MSG_LOGIN:
		return "login";
	case TS_MSG_REVALIDATE:
		return "revalidate";
	case TS_MSG_OPEN_SESSION:
		return "open-session";
	case TS_MSG_CLOSE_SESSION:
		return "close-session";
	case TS_MSG_GET_TOKEN:
		return "get-token";
	case TS_MSG_STATUS:
		return "status";
	case TS_MSG_LOGOUT:
		return "logout";
	case TS_MSG_AUTH_STORED:
		return "auth-stored";
	case TS_MSG_REFRESH:
		return "refresh";
	case TS_MSG_DOCTOR:
		return "doctor";
	case TS_MSG_KEYSTORE:
		return "keystore";
	default:
		return "request";
	}
}

/* One log line per request. Every field a caller chose (the user and
 * service names, the method and the remote host, which reach the message)
 * is sanitised: no caller can start a line of its own in the log. */
static void log_outcome(const struct ts_request *req, const struct ts_outcome *o)
{
	int prio = o->code == 0 ? LOG_INFO : LOG_NOTICE;
	char service[TS_NAME_MAX], msg[TS_MESSAGE_MAX], warn[OAUTH_MSG_MAX];
	const char *user = req->user_log ? req->user_log : "?";

	if (o->code == TS_E_SERVER_CONFIG || o->code == TS_E_CONFIG)
		prio = LOG_ERR;
	ts_sanitize_text(service, sizeof(service), req->service ? req->service : "-",
	                 req->service ? strlen(req->service) : 1);
	ts_sanitize_text(msg, sizeof(msg), o->message, strlen(o->message));
	ts_log(prio, "%s for %s (service %s): %s [%s, %s]", type_name(req->type), user, service,
	       msg, ts_strerror(o->code), ts_state_name(o->state));
	if (o->answer_warnings[0]) {
		ts_sanitize_text(warn, sizeof(warn), o->answer_warnings,
		                 strlen(o->answer_warnings));
		ts_log(LOG_WARNING, "%s for %s: the server's token answer was used, but: %s",
		       type_name(req->type), user, warn);
	}
}

struct req_bufs {
	char user[TS_NAME_MAX], user_log[TS_NAME_MAX], service[TS_NAME_MAX], method[32];
	char rhost[256], rhost_raw[256];
};

/* Read one request frame into req (strings in bufs). 0; 1 when a RESULT
 * with out's error should be sent; negative when no frame could be read. */
static int read_request(int in_fd, int timeout_ms, struct ts_request *req, struct req_bufs *bufs,
                        struct ts_outcome *out)
{
	struct ts_msg m = {0};
	int64_t flags = 0;
	int r;

	r = ts_proto_read(in_fd, &m, timeout_ms);
	if (r < 0)
		return r;
	if (!is_request(m.type)) {
		out->code = TS_E_IPC;
		snprintf(out->message, sizeof(out->message), "not a request (type %u)", m.type);
		ts_msg_clear(&m);
		return 1;
	}
	req->type = (enum ts_msg_type)m.type;
	r = ts_msg_get_str(&m, TS_F_USER, bufs->user, sizeof(bufs->user));
	if (r < 0 || !bufs->user[0]) {
		ts_msg_clear(&m);
		out->code = TS_E_IPC;
		if (r == TS_E_TOO_BIG) /* no local account has such a name */
			snprintf(out->message, sizeof(out->message),
			         "user name longer than %d bytes", TS_NAME_MAX - 1);
		else
			snprintf(out->message, sizeof(out->message), "request without a user name");
		return 1;
	}
	req->user = bufs->user;
	/* the name comes from the caller (sshd passes what the client typed):
	 * log lines get it sanitised */
	ts_sanitize_text(bufs->user_log, sizeof(bufs->user_log), bufs->user, strlen(bufs->user));
	req->user_log = bufs->user_log;
	if (ts_msg_get_str(&m, TS_F_SERVICE, bufs->service, sizeof(bufs->service)) >= 0 &&
	    bufs->service[0])
		req->service = bufs->service;
	if (ts_msg_get_str(&m, TS_F_METHOD, bufs->method, sizeof(bufs->method)) >= 0 &&
	    bufs->method[0])
		req->method = bufs->method;
	/* too long or odd: still remote, only its log form is cut */
	if (ts_msg_find(&m, TS_F_RHOST)) {
		int rr = ts_msg_get_str(&m, TS_F_RHOST, bufs->rhost_raw, sizeof(bufs->rhost_raw));

		if (rr == TS_E_TOO_BIG || rr >= 0) {
			ts_sanitize_text(bufs->rhost, sizeof(bufs->rhost), bufs->rhost_raw,
			                 rr >= 0 ? strlen(bufs->rhost_raw) : 0);
			if (!bufs->rhost[0])
				snprintf(bufs->rhost, sizeof(bufs->rhost), "?");
			req->rhost = bufs->rhost;
		}
	}
	if (ts_msg_get_int(&m, TS_F_FLAGS, &flags) >= 0)
		req->flags = (uint32_t)flags;
	ts_msg_clear(&m);
	return 0;
}

/*
 * How long a broker waits for the user's lock: the holder's worst case. A
 * holder runs at most one discovery fetch, one refresh and one
 * revalidation (with its userinfo follow-up folded into the same bound),
 * each with its retries inside http_timeout, plus the fsynced store:
 *
 *     lock wait = 3 x http_timeout + 5 s      (default http_timeout 10: 35 s)
 *
 * capped so that the wait and our own requests still fit in the caller's
 * frame timeout (TS_PROTO_TIMEOUT_MS).
 */
static unsigned lock_wait_ms(const struct ts_config *cfg)
{
	uint64_t ms = ((uint64_t)cfg->http_timeout * 3 + 5) * 1000;
	uint64_t cap = TS_PROTO_TIMEOUT_MS / 2;

	return (unsigned)(ms < cap ? ms : cap);
}

/* Configuration, keystore and OAuth client for req. 0, or negative with out
 * filled. */
static int open_engine(const struct ts_serve_opts *opts, const struct ts_request *req,
                       uid_t peer_uid, struct ts_config *cfg, struct ks **ret_ks,
                       struct oauth_client **ret_oc, struct ts_outcome *out)
{
	struct cfg_for user = {.peer_uid = peer_uid, .uid_known = true};
	struct ks_open_opts kopts = {0};
	struct oauth_error oerr = {0};
	int r;

	r = load_config_for(opts, req, &user, cfg, out);
	if (r < 0)
		return r;
	/* debug = yes for this request's service (or the whole file), or a
	 * root caller's debug flag (the module's `debug` argument): debug
	 * lines for this request only (ts_broker_serve_one turns it off) */
	if (cfg->debug || ((req->flags & TS_FLAG_DEBUG) && peer_uid == 0))
		ts_log_request_debug(true);
	if (ts_log_debug_enabled()) {
		char svc[TS_NAME_MAX];

		/* the service comes from the caller: one sanitised line */
		ts_sanitize_text(svc, sizeof(svc), req->service ? req->service : "-",
		                 req->service ? strlen(req->service) : 1);
		ts_log(LOG_DEBUG, "broker: %s for %s (service %s) from uid %u", type_name(req->type),
		       req->user_log ? req->user_log : "?", svc, (unsigned)peer_uid);
	}
	if (!ts_config_uid_served(cfg, req->uid)) {
		out->code = TS_E_NOT_SERVED;
		snprintf(out->message, sizeof(out->message),
		         "%.100s (uid %u) is outside min_uid %u .. max_uid %u: tokenseal does not "
		         "sign in root, system accounts or nobody unless min_uid and max_uid allow "
		         "them",
		         req->user_log, (unsigned)req->uid, cfg->min_uid, cfg->max_uid);
		return TS_E_NOT_SERVED;
	}
	kopts.lock_timeout_ms = lock_wait_ms(cfg);
	r = ks_open(ret_ks, cfg->keystore_dir, cfg->key_file, &kopts);
	if ((r == -ENOENT || r == TS_E_NO_KEY) && geteuid() == 0) {
		/* ks_init creates a key only in an empty keystore; it refuses
		 * (TS_E_NO_KEY) while records exist, and nothing is changed */
		r = ks_init(cfg->keystore_dir, cfg->key_file, &kopts);
		if (r >= 0)
			r = ks_open(ret_ks, cfg->keystore_dir, cfg->key_file, &kopts);
	}
	if (r == TS_E_NO_KEY) {
		out->code = TS_E_CONFIG;
		snprintf(out->message, sizeof(out->message),
		         "the keystore key %.300s is missing or unreadable while records exist; "
		         "nothing was changed; ask the administrator",
		         cfg->key_file);
		/* the records cannot be read: the CLI reports a keystore error */
		out->state = TS_STATE_CORRUPTED;
		return TS_E_CONFIG;
	}
	if (r < 0) {
		out->code = r;
		snprintf(out->message, sizeof(out->message), "cannot open the keystore %.300s: %s",
		         cfg->keystore_dir, ts_strerror(r));
		return r;
	}
	r = oauth_client_new(ret_oc, cfg, &oerr);
	if (r < 0) {
		out->code = r;
		snprintf(out->message, sizeof(out->message),
		         "cannot set up the OAuth client: %.400s",
		         oerr.message[0] ? oerr.message : ts_strerror(r));
		return r;
	}
	return 0;
}

static void run_engine(struct ts_config *cfg, struct ks *ks, struct oauth_client *oc,
                       const struct ts_conv *conv, const struct ts_request *req,
                       struct ts_outcome *out)
{
	struct ts_engine eng = {.cfg = cfg, .ks = ks, .oauth = oc, .conv = conv};

	(void)ts_discovery_cache_load(cfg, oc, time(NULL));
	if (req->flags & TS_FLAG_NONINTERACTIVE)
		eng.conv = NULL;
	ts_engine_handle(&eng, req, out);
	if (out->legacy_grant)
		ts_log(LOG_WARNING,
		       "%s signed in with the resource-owner password grant, a legacy "
		       "grant (RFC 9700 §2.4); prefer login_methods = device",
		       req->user_log ? req->user_log : "?");
	if (oauth_clock_skew(oc) > TS_SKEW_WARN_SECONDS ||
	    oauth_clock_skew(oc) < -TS_SKEW_WARN_SECONDS)
		ts_log(LOG_WARNING,
		       "this host's clock is %ld s off from %s's; expiry follows the "
		       "server's time",
		       -oauth_clock_skew(oc), cfg->issuer);
	ts_discovery_cache_update(
	    cfg, oc, ts_discovery_cache_suspect(out->code, out->state == TS_STATE_UNAVAILABLE));
}

/* The configuration (alone for DOCTOR and KEYSTORE: no user record, no
 * min_uid). Root is about to trust every file it names: each one, and
 * every folder above it, must be safe from other users (safe_path). When
 * it cannot be used, out says what that means for this request: a user
 * tokenseal never signed in is not refused (TS_E_NOT_CONFIGURED), one with
 * a record is (TS_E_CONFIG), each with the problem named. */
static int load_config_for(const struct ts_serve_opts *opts, const struct ts_request *req,
                           const struct cfg_for *who, struct ts_config *cfg,
                           struct ts_outcome *out)
{
	struct ts_cfg_status st;

	if (ts_serve_config_load(opts->config_path, req->service, cfg, &st) < 0) {
		ts_serve_config_refuse(&st, cfg, req, who->uid_known, who->root_request,
		                       who->peer_uid, out);
		return out->code;
	}
	if (opts->debug)
		cfg->debug = true;
	return 0;
}

static int load_config(const struct ts_serve_opts *opts, const struct ts_request *req,
                       struct ts_config *cfg, struct ts_outcome *out)
{
	struct cfg_for who = {.peer_uid = 0};

	return load_config_for(opts, req, &who, cfg, out);
}

/* The requests that are not about one user's tokens, and the root-only
 * ones. 1 when req was answered here (out filled), else 0. */
static int serve_special(const struct ts_serve_opts *opts, const struct ts_request *req,
                         uid_t peer_uid, struct ts_outcome *out)
{
	struct cfg_for host = {.peer_uid = peer_uid, .root_request = true};
	struct ts_config cfg;

	if (req->type == TS_MSG_LOGIN && req->method &&
	    strcmp(req->method, TS_METHOD_CLIENT_CREDENTIALS) == 0 && peer_uid != 0) {
		out->code = TS_E_PERM;
		snprintf(out->message, sizeof(out->message),
		         "only root may sign a service account in with the client credentials "
		         "grant");
		return 1;
	}
	if (req->type == TS_MSG_KEYSTORE) {
		if (peer_uid != 0) {
			out->code = TS_E_PERM;
			snprintf(out->message, sizeof(out->message),
			         "only root may manage the keystore");
			return 1;
		}
		if (load_config_for(opts, req, &host, &cfg, out) >= 0)
			(void)ts_admin_keystore(&cfg, req, out);
		return 1;
	}
	if (req->type == TS_MSG_DOCTOR) {
		if (load_config_for(opts, req, &host, &cfg, out) >= 0)
			(void)ts_admin_doctor(&cfg, req, peer_uid == 0, out);
		return 1;
	}
	return 0;
}

/* A name no local source knows while the configuration cannot be used:
 * the uid the NSS cache gave it, if any, decides like a local user's
 * (record: TS_E_CONFIG); with none, no record can be found and tokenseal
 * stays out of the way (TS_E_NOT_CONFIGURED). 1 when out was filled. */
static int unknown_user_unconfigured(const struct ts_serve_opts *opts, const struct ts_request *req,
                                     uid_t peer_uid, struct ts_outcome *out)
{
	struct ts_request known = *req;
	struct ts_cfg_status st;
	struct ts_config cfg;
	uint32_t uid = 0;
	bool found;

	if (ts_serve_config_load(opts->config_path, req->service, &cfg, &st) >= 0)
		return 0;
	/* an identity-provider-only user with a record must fail closed too:
	 * the NSS cache (its path as far as the file parsed, else the default,
	 * then the file's nss_cache line read leniently) is read, never
	 * written, for the uid it was given */
	found = ts_nss_lookup_uid(&cfg, req->user, &uid) == 0;
	if (!found && st.file_nss_cache[0] &&
	    ts_strlcpy(cfg.nss_cache, st.file_nss_cache, sizeof(cfg.nss_cache)) == 0)
		found = ts_nss_lookup_uid(&cfg, req->user, &uid) == 0;
	if (found && (peer_uid == 0 || uid == peer_uid)) {
		known.uid = (uid_t)uid;
		ts_serve_config_refuse(&st, &cfg, &known, true, false, peer_uid, out);
	} else {
		ts_serve_config_refuse(&st, &cfg, req, false, false, peer_uid, out);
	}
	return 1;
}

int ts_broker_serve_one(const struct ts_serve_opts *opts, int in_fd, int out_fd, uid_t peer_uid)
{
	struct conv_ctx cc = {in_fd, out_fd,
	                      opts->timeout_ms ? opts->timeout_ms : TS_PROTO_TIMEOUT_MS};
	struct ts_conv conv = {conv_info, conv_error, conv_prompt, &cc};
	struct ts_outcome out = {.expires = -1};
	struct ts_request req = {0};
	struct req_bufs bufs;
	struct ts_config cfg;
	struct ks *ks = NULL;
	struct oauth_client *oc = NULL;
	int r;

	r = read_request(in_fd, cc.timeout_ms, &req, &bufs, &out);
	if (r < 0)
		return r;
	if (r > 0) {
		if (opts->answering)
			opts->answering(out_fd);
		return send_result(out_fd, cc.timeout_ms, &out);
	}
	r = authorize(req.user, peer_uid, &req.uid);
	if (r == -ENOENT)
		r = authorize_cached(opts, &req, peer_uid, &req.uid, out.message,
		                     sizeof(out.message));
	if (r == -ENOENT && unknown_user_unconfigured(opts, &req, peer_uid, &out))
		goto send;
	if (r < 0 && r != TS_E_PERM && r != -ENOENT && r != TS_E_NOT_SERVED) {
		/* the lookup failed (no memory, an NSS source down): not "no such user" */
		out.code = r;
		snprintf(out.message, sizeof(out.message), "cannot look up the local user %s: %s",
		         req.user_log, ts_strerror(r));
		goto send;
	}
	if (r < 0) {
		out.code = r;
		if (r != TS_E_NOT_SERVED || !out.message[0])
			snprintf(out.message, sizeof(out.message),
			         r == TS_E_PERM ? "uid %u may not act for user %s"
			                        : "uid %u: no local user named %s",
			         (unsigned)peer_uid, req.user_log);
		goto send;
	}
	if (serve_special(opts, &req, peer_uid, &out))
		goto send;
	if (open_engine(opts, &req, peer_uid, &cfg, &ks, &oc, &out) >= 0)
		run_engine(&cfg, ks, oc, &conv, &req, &out);
send:
	log_outcome(&req, &out);
	ts_log_request_debug(false);
	if (opts->answering)
		opts->answering(out_fd);
	r = send_result(out_fd, cc.timeout_ms, &out);
	TS_TEST_HOOK("after-answer");
	ts_outcome_clear(&out);
	oauth_client_free(oc);
	ks_close(ks);
	return r;
}
