/* SPDX-License-Identifier: MIT */
/*
 * pam_tokenseal.so: thin pam_sm_* shims over the broker protocol client.
 * Each entry point parses its arguments, fetches the PAM items, loads the
 * config (the uid bounds, and where the broker is), decides locally for a
 * user tokenseal does not serve (root, system accounts, nobody: PAM_IGNORE,
 * no broker call), and otherwise hands ONE request to tokenseal-broker
 * (common/ts_client.c), relaying the broker's conversation through pam_conv.
 * The module never sees a token, holds no static data, and logs only through
 * pam_syslog.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "pam_result.h"
#include "ts_client.h"
#include "ts_config.h"
#include "ts_error.h"
#include "ts_file.h"
#include "ts_mem.h"
#include "ts_paths.h"

#define PTS_KEY_MAX (TS_NAME_MAX + 64)
/* getpwnam_r's buffer starts at sysconf(_SC_GETPW_R_SIZE_MAX) (or 1 KiB) and
 * doubles on ERANGE up to this bound (a long gecos is not "no such user"). */
#define PTS_PW_BUF_MAX (1024 * 1024)

struct pts_args {
	const char *config;  /* config=PATH */
	const char *service; /* service=NAME: overrides PAM_SERVICE for [service] */
	bool debug;
};

struct pts_conv_ctx {
	pam_handle_t *pamh;
	bool silent;
};

static void pts_parse_args(pam_handle_t *pamh, int argc, const char **argv, struct pts_args *ret)
{
	struct pts_args a = {.config = TS_DEFAULT_CONFIG};

	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "config=", 7) == 0 && argv[i][7])
			a.config = argv[i] + 7;
		else if (strncmp(argv[i], "service=", 8) == 0 && argv[i][8])
			a.service = argv[i] + 8;
		else if (strcmp(argv[i], "debug") == 0)
			a.debug = true;
		else
			pam_syslog(pamh, LOG_WARNING, "unknown option \"%s\", ignoring", argv[i]);
	}
	*ret = a;
}

/* ts_config_report sink: config problems go to syslog, naming file and line. */
TS_PRINTF(3, 0)
static void pts_config_log(void *ctx, int priority, const char *fmt, va_list ap)
{
	pam_vsyslog(ctx, priority, fmt, ap);
}

/* ---- the conversation bridge ----------------------------------------- */

static int pts_conv_info(void *ctx, const char *text)
{
	struct pts_conv_ctx *c = ctx;

	if (!c->silent)
		(void)pam_prompt(c->pamh, PAM_TEXT_INFO, NULL, "%s", text);
	return 0;
}

static int pts_conv_error(void *ctx, const char *text)
{
	struct pts_conv_ctx *c = ctx;

	if (!c->silent)
		(void)pam_prompt(c->pamh, PAM_ERROR_MSG, NULL, "%s", text);
	return 0;
}

static int pts_conv_prompt(void *ctx, const char *text, bool echo, char **ret_answer)
{
	struct pts_conv_ctx *c = ctx;
	char *resp = NULL;
	int r;

	r = pam_prompt(c->pamh, echo ? PAM_PROMPT_ECHO_ON : PAM_PROMPT_ECHO_OFF, &resp, "%s", text);
	if (r != PAM_SUCCESS || !resp) {
		/* the client frees what it gets; nothing to hand over */
		resp = ts_erase_free_str(resp);
		return -ECANCELED;
	}
	*ret_answer = resp; /* the client wipes and frees it after sending */
	return 0;
}

/* ---- per-transaction state -------------------------------------------- */

/* Per-user flags for the rest of the transaction, under keys namespaced
 * with the module and user name ("pam_tokenseal:WHAT:USER"):
 *   no_record      negative cache: account + session do not run the broker
 *                  twice for a user tokenseal does not know (publickey login) */
static void pts_cleanup_flag(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	free(data);
}

static void pts_data_key(char *out, size_t outlen, const char *what, const char *user)
{
	(void)snprintf(out, outlen, "pam_tokenseal:%s:%s", what, user);
}

static bool pts_flag_set(pam_handle_t *pamh, const char *what, const char *user)
{
	char key[PTS_KEY_MAX];
	const void *data = NULL;

	pts_data_key(key, sizeof(key), what, user);
	return pam_get_data(pamh, key, &data) == PAM_SUCCESS && data;
}

static void pts_set_flag(pam_handle_t *pamh, const char *what, const char *user, bool on)
{
	char key[PTS_KEY_MAX];
	int *flag = NULL;

	pts_data_key(key, sizeof(key), what, user);
	if (on) {
		flag = malloc(sizeof(*flag));
		if (!flag)
			return;
		*flag = 1;
	}
	if (pam_set_data(pamh, key, flag, pts_cleanup_flag) != PAM_SUCCESS)
		free(flag);
}

/* ---- the core --------------------------------------------------------- */

/* One run of the module: everything pts_run's pieces share. */
struct pts_call {
	pam_handle_t *pamh;
	enum pts_phase phase;
	struct pts_args args;
	const char *user, *service;
	struct ts_config *cfg; /* the file's, or the compiled defaults (cfg_err) */
	int cfg_err;	       /* 0, or why the file could not be loaded */
	bool debug;
	struct pts_conv_ctx cctx;
	struct ts_conv conv;
	struct ts_client_request req;
	struct ts_client_opts opts;
	char why[TS_PATH_MAX + 128]; /* why the daemon did not serve */
};

static bool pts_env_set(const char *v)
{
	return v && v[0] && strcmp(v, "0") != 0;
}

static enum ts_msg_type pts_request_type(enum pts_phase phase)
{
	switch (phase) {
	case PTS_AUTH:
		return TS_MSG_LOGIN;
	case PTS_ACCOUNT:
		return TS_MSG_REVALIDATE;
	case PTS_OPEN_SESSION:
		return TS_MSG_OPEN_SESSION;
	case PTS_CLOSE_SESSION:
		return TS_MSG_CLOSE_SESSION;
	}
	return TS_MSG_REVALIDATE;
}

static const char *pts_item(pam_handle_t *pamh, int type)
{
	const void *v = NULL;

	if (!pamh || pam_get_item(pamh, type, &v) != PAM_SUCCESS)
		return NULL;
	return v;
}

/*
 * The uid NSS gives user: 0, -ENOENT (no such user) or another -errno (the
 * lookup failed). ERANGE grows the buffer (doubling, up to PTS_PW_BUF_MAX),
 * as glibc's own getpwnam does: an entry with a long gecos is a user.
 */
static int pts_lookup_uid(const char *user, uid_t *ret_uid)
{
	long max = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t len = max > 0 && max <= PTS_PW_BUF_MAX ? (size_t)max : 1024;

	for (;;) {
		struct passwd pw, *found = NULL;
		char *buf = malloc(len);
		int r;

		if (!buf)
			return -ENOMEM;
		r = getpwnam_r(user, &pw, buf, len, &found);
		if (r == 0 && found)
			*ret_uid = pw.pw_uid;
		free(buf);
		if (r == 0)
			return found ? 0 : -ENOENT;
		if (r != ERANGE || len >= PTS_PW_BUF_MAX)
			return -r;
		len = len * 2 > PTS_PW_BUF_MAX ? PTS_PW_BUF_MAX : len * 2;
	}
}

/*
 * The proof a stored token needs (DESIGN §2): the person asking already is
 * the target user. The real uid of the host process is the user's uid (sudo
 * run by alice for alice: ruid alice, euid 0) and nobody is logging in from
 * elsewhere (no PAM_RHOST). sshd, a console login and `su alice` run by bob
 * (real uid root or bob) never qualify.
 */
static bool pts_same_user(pam_handle_t *pamh, const char *user)
{
	const char *rhost = pts_item(pamh, PAM_RHOST);
	uid_t uid;

	if (rhost && rhost[0])
		return false;
	return pts_lookup_uid(user, &uid) == 0 && uid == getuid();
}

/* Arguments, the user and the service: PAM_SUCCESS to go on, or the code. */
static int pts_begin(struct pts_call *c, int argc, const char **argv)
{
	int r;

	pts_parse_args(c->pamh, argc, argv, &c->args);
	r = pam_get_user(c->pamh, &c->user, NULL);
	if (r != PAM_SUCCESS)
		return r;
	if (!c->user || !c->user[0] || strlen(c->user) >= TS_NAME_MAX)
		return PAM_USER_UNKNOWN;
	c->service = c->args.service ? c->args.service : pts_item(c->pamh, PAM_SERVICE);
	return PAM_SUCCESS;
}

/* A sink for the first, quiet load: a problem is logged only for a user
 * the module then asks the broker for (pts_report_config). */
TS_PRINTF(3, 0)
static void pts_config_quiet(void *ctx, int priority, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)priority;
	(void)fmt;
	(void)ap;
}

/*
 * The config: the uid bounds, where the broker is, the result policy. A
 * file that cannot be read or parsed leaves the compiled-in defaults
 * (ts_config_defaults: min_uid 1000, max_uid 60000, the NSS uid range, the
 * broker and socket of ts_paths.h) and its error in c->cfg_err: the local
 * decision never depends on the file, and a served user is still handed to
 * the broker, which knows whether that user has a record (none:
 * TS_E_NOT_CONFIGURED, PAM_IGNORE; one: TS_E_CONFIG, fail closed).
 * PAM_SUCCESS, or PAM_BUF_ERR.
 */
static int pts_load_config(struct pts_call *c)
{
	struct ts_config_report quiet = {pts_config_quiet, NULL};

	c->cfg = malloc(sizeof(*c->cfg));
	if (!c->cfg)
		return PAM_BUF_ERR;
	/* on error the struct holds the defaults; parsed in place, with no
	 * working copy: every page the module touches is the host's */
	c->cfg_err = ts_config_load_fresh(c->cfg, c->args.config, c->service, &quiet);
	c->debug = c->args.debug || c->cfg->debug;
	return PAM_SUCCESS;
}

/* The file's problem, for a user the broker is asked about: loaded again,
 * now reporting to syslog (file, line, key, reason). */
static void pts_report_config(struct pts_call *c)
{
	struct ts_config_report rep = {pts_config_log, c->pamh};
	struct ts_config *scratch = malloc(sizeof(*scratch));

	if (scratch) {
		/* the same error as the first time (or a newer one): logged by rep */
		if (ts_config_load_fresh(scratch, c->args.config, c->service, &rep) == 0 &&
		    c->debug)
			pam_syslog(c->pamh, LOG_DEBUG, "%s: loads now (changed meanwhile)",
			           c->args.config);
		free(scratch);
	}
	pam_syslog(c->pamh, LOG_ERR,
	           "%s: cannot load %s: %s; asking the broker %s with the compiled-in defaults",
	           pts_phase_name(c->phase), c->args.config, ts_strerror(c->cfg_err),
	           c->cfg->broker_path);
}

/*
 * The local decision (DESIGN §2, issue 15 §0/§1): a user NSS knows whose uid
 * tokenseal does not serve (below min_uid, above max_uid, outside the NSS
 * cache's range) is not tokenseal's, in any phase, whatever the config
 * file says or fails to say: no broker call, no socket connect. A name NSS
 * does not know may be an identity-provider user: the broker decides.
 */
static bool pts_user_served(const struct pts_call *c)
{
	uid_t uid;
	int r = pts_lookup_uid(c->user, &uid);

	if (r < 0) {
		if (c->debug)
			pam_syslog(c->pamh, LOG_DEBUG, "%s: user %s: no local uid (%s); asking the broker",
			           pts_phase_name(c->phase), c->user, strerror(-r));
		return true;
	}
	if (ts_config_uid_served(c->cfg, uid))
		return true;
	if (c->debug)
		pam_syslog(c->pamh, LOG_DEBUG,
		           "%s: user %s: uid %lu is not served (min_uid %u, max_uid %u): ignored",
		           pts_phase_name(c->phase), c->user, (unsigned long)uid, c->cfg->min_uid,
		           c->cfg->max_uid);
	return false;
}

static void pts_build_request(struct pts_call *c)
{
	const struct pam_conv *pconv = NULL;

	c->req = (struct ts_client_request){
	    .type = pts_request_type(c->phase),
	    .user = c->user,
	    .service = c->service,
	    .rhost = pts_item(c->pamh, PAM_RHOST),
	    .tty = pts_item(c->pamh, PAM_TTY),
	};
	if (c->cctx.silent)
		c->req.flags |= TS_FLAG_SILENT;
	if (c->debug)
		c->req.flags |= TS_FLAG_DEBUG;
	if (c->phase == PTS_AUTH && pts_same_user(c->pamh, c->user))
		c->req.flags |= TS_FLAG_SAME_USER;
	if (pam_get_item(c->pamh, PAM_CONV, (const void **)&pconv) != PAM_SUCCESS || !pconv ||
	    !pconv->conv || pts_env_set(pam_getenv(c->pamh, "TOKENSEAL_NONINTERACTIVE")) ||
	    pts_env_set(getenv("TOKENSEAL_NONINTERACTIVE"))) {
		c->req.flags |= TS_FLAG_NONINTERACTIVE;
		c->conv.prompt = NULL; /* the broker fails fast instead of asking */
	}
	c->opts = (struct ts_client_opts){
	    .broker_path = c->cfg->broker_path[0] ? c->cfg->broker_path : TS_DEFAULT_BROKER,
	    .config_path = c->args.config,
	    /* a device login sends nothing while it waits for approval */
	    .timeout_ms = ts_client_frame_timeout_ms(c->cfg->device_timeout),
	    /* the daemon's socket first, exec mode when it cannot serve */
	    .socket_path = c->cfg->socket_path,
	    .mode = TS_CLIENT_AUTO,
	    .why = c->why,
	    .whylen = sizeof(c->why),
	};
}

static bool pts_have_socket(const struct pts_call *c)
{
	return c->opts.socket_path && c->opts.socket_path[0];
}

/* Did the client fall to exec mode (no socket, or the daemon could not
 * serve: the client then says why)? */
static bool pts_exec_tried(const struct pts_call *c)
{
	return !pts_have_socket(c) || c->why[0];
}

/* The request got no RESULT (r < 0): log why and map it. The client never
 * executes a broker_path that is not root's alone (ts_path_check_safe,
 * OpenSSH safe_path()); that is a configuration error, logged with the
 * offending component. */
static int pts_call_failed(struct pts_call *c, int r)
{
	char why[TS_PATH_MAX + 128];
	const char *ph = pts_phase_name(c->phase);

	if (!pts_exec_tried(c)) {
		/* the daemon took the request and then failed (timeout, nonsense) */
		pam_syslog(c->pamh, LOG_ERR, "%s: the broker daemon at %s failed: %s", ph,
		           c->opts.socket_path, ts_strerror(r));
		return pts_result_to_pam(c->phase, r, c->cfg->require_token);
	}
	if (c->debug && c->why[0])
		pam_syslog(c->pamh, LOG_DEBUG, "%s: daemon not used: %s", ph, c->why);
	if (ts_path_check_safe(c->opts.broker_path, false, why, sizeof(why)) < 0) {
		pam_syslog(c->pamh, LOG_ERR, "%s: refusing to run the broker %s: %s", ph,
		           c->opts.broker_path, why);
		return pts_result_to_pam(c->phase, TS_E_CONFIG, c->cfg->require_token);
	}
	pam_syslog(c->pamh, LOG_ERR, "%s: cannot run the broker %s: %s", ph, c->opts.broker_path,
	           ts_strerror(r));
	return pts_result_to_pam(c->phase, r, c->cfg->require_token);
}

/* Debug: which way the request was served (never a secret). */
static void pts_log_served(const struct pts_call *c, const struct ts_client_result *res)
{
	const char *ph = pts_phase_name(c->phase);
	struct stat st;

	/* a socket that is there but was not used (not root's, in an unsafe
	 * folder, or its daemon gone) is the administrator's to look at; an
	 * absent one is the normal exec-mode setup */
	if (!res->via_daemon && c->why[0] && pts_have_socket(c) &&
	    lstat(c->opts.socket_path, &st) == 0)
		pam_syslog(c->pamh, LOG_WARNING,
		           "%s: the broker daemon's socket %s was not used (%s); served by exec mode",
		           ph, c->opts.socket_path, c->why);
	if (!c->debug)
		return;
	if (res->via_daemon)
		pam_syslog(c->pamh, LOG_DEBUG, "%s: served by the broker daemon at %s", ph,
		           c->opts.socket_path);
	else if (c->why[0])
		pam_syslog(c->pamh, LOG_DEBUG, "%s: served by exec mode (%s); daemon not used: %s",
		           ph, c->opts.broker_path, c->why);
	else
		pam_syslog(c->pamh, LOG_DEBUG, "%s: served by exec mode (%s)", ph,
		           c->opts.broker_path);
}

static void pts_log_result(const struct pts_call *c, const struct ts_client_result *res)
{
	const char *ph = pts_phase_name(c->phase);

	if (pts_result_is_admin_error(res->code))
		pam_syslog(c->pamh, LOG_ERR, "%s: user %s: %s%s%s", ph, c->user,
		           ts_strerror(res->code), res->message[0] ? ": " : "", res->message);
	else if (res->code != 0)
		pam_syslog(c->pamh, LOG_NOTICE, "%s: user %s: %s (state %s)", ph, c->user,
		           ts_strerror(res->code), ts_state_name((enum ts_state)res->state));
	else if (c->debug)
		pam_syslog(c->pamh, LOG_DEBUG, "%s: user %s: ok (state %s)", ph, c->user,
		           ts_state_name((enum ts_state)res->state));
}

/* The broker's answer: log, show, remember, map. */
static int pts_finish(struct pts_call *c, const struct ts_client_result *res)
{
	bool req_tok = c->cfg->require_token;

	pts_log_result(c, res);
	if (!c->cctx.silent && res->message[0] && pts_result_shows_message(c->phase, res->code, req_tok))
		(void)pam_prompt(c->pamh, PAM_ERROR_MSG, NULL, "%s", res->message);
	else if (!c->cctx.silent && res->message[0] && pts_result_shows_info(res->code, res->state))
		(void)pam_prompt(c->pamh, PAM_TEXT_INFO, NULL, "%s", res->message);
	if (c->phase != PTS_AUTH) {
		pts_set_flag(c->pamh, "no_record", c->user, res->code == TS_E_NO_RECORD);
	} else if (res->code == 0) {
		pts_set_flag(c->pamh, "no_record", c->user, false);
	}
	return pts_result_to_pam(c->phase, res->code, req_tok);
}

/* Everything before the broker call: the user, the config, the local
 * decision, the no-record cache. PAM_SUCCESS to ask the broker, or the
 * answer. */
static int pts_prepare(struct pts_call *c, int argc, const char **argv)
{
	int ret = pts_begin(c, argc, argv);

	if (ret == PAM_SUCCESS)
		ret = pts_load_config(c);
	if (ret != PAM_SUCCESS)
		return ret;
	if (!pts_user_served(c))
		return PAM_IGNORE;
	/* no record (publickey login): account and session do not ask twice,
	 * and answer as the first time did (require_token) */
	if (c->phase != PTS_AUTH && pts_flag_set(c->pamh, "no_record", c->user))
		return pts_result_to_pam(c->phase, TS_E_NO_RECORD, c->cfg->require_token);
	if (c->cfg_err < 0)
		pts_report_config(c);
	return PAM_SUCCESS;
}

static int pts_run(pam_handle_t *pamh, int flags, int argc, const char **argv, enum pts_phase phase)
{
	struct pts_call c = {.pamh = pamh, .phase = phase};
	struct ts_client_result res = {0};
	int r, ret;

	c.cctx = (struct pts_conv_ctx){pamh, ((unsigned)flags & (unsigned)PAM_SILENT) != 0};
	c.conv = (struct ts_conv){pts_conv_info, pts_conv_error, pts_conv_prompt, &c.cctx};
	ret = pts_prepare(&c, argc, argv);
	if (ret != PAM_SUCCESS)
		goto out;
	pts_build_request(&c);
	if (c.debug)
		pam_syslog(pamh, LOG_DEBUG,
		           "%s: user %s service %s: asking %s%s%s (flags %u, frame timeout %d s)",
		           pts_phase_name(phase), c.user, c.service ? c.service : "-",
		           pts_have_socket(&c) ? c.opts.socket_path : "",
		           pts_have_socket(&c) ? ", else " : "", c.opts.broker_path, c.req.flags,
		           c.opts.timeout_ms / 1000);
	r = ts_client_call(&c.opts, &c.req, &c.conv, &res);
	if (r < 0) {
		ret = pts_call_failed(&c, r);
		goto out;
	}
	pts_log_served(&c, &res);
	ret = pts_finish(&c, &res);
out:
	ts_client_result_clear(&res);
	free(c.cfg);
	return ret;
}

/*
 * setcred: no credentials to set (tokens stay in the broker's keystore,
 * never in the environment), and it grants nothing: the application calls
 * it only after authentication succeeded. It must not fail for a user
 * tokenseal serves, or sshd drops the login after a good sign-in; nor may
 * it depend on what pam_sm_authenticate remembered, because sshd runs
 * keyboard-interactive authentication in a child process whose PAM data
 * the parent's pam_setcred never sees. So, as pam_unix does: success for
 * any local user whose uid tokenseal serves (the local decision of
 * pts_user_served, compiled-in bounds when the file cannot be loaded),
 * PAM_IGNORE for root, system accounts, nobody and unknown names.
 */
static int pts_setcred(pam_handle_t *pamh, int argc, const char **argv)
{
	struct pts_call c = {.pamh = pamh, .phase = PTS_AUTH};
	int ret = PAM_IGNORE;
	uid_t uid;

	pts_parse_args(pamh, argc, argv, &c.args);
	c.user = pts_item(pamh, PAM_USER);
	if (!c.user || !c.user[0] || strlen(c.user) >= TS_NAME_MAX)
		return PAM_IGNORE;
	c.service = c.args.service ? c.args.service : pts_item(pamh, PAM_SERVICE);
	if (pts_load_config(&c) == PAM_SUCCESS && pts_lookup_uid(c.user, &uid) == 0 &&
	    ts_config_uid_served(c.cfg, uid))
		ret = PAM_SUCCESS;
	free(c.cfg);
	return ret;
}

/* ---- entry points ----------------------------------------------------- */

TS_EXPORT PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
                                             const char **argv)
{
	return pts_run(pamh, flags, argc, argv, PTS_AUTH);
}

TS_EXPORT PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)flags;
	return pts_setcred(pamh, argc, argv);
}

TS_EXPORT PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc,
                                          const char **argv)
{
	return pts_run(pamh, flags, argc, argv, PTS_ACCOUNT);
}

TS_EXPORT PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
                                             const char **argv)
{
	return pts_run(pamh, flags, argc, argv, PTS_OPEN_SESSION);
}

TS_EXPORT PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
                                              const char **argv)
{
	return pts_run(pamh, flags, argc, argv, PTS_CLOSE_SESSION);
}

/* Tokens are not changed with passwd: the identity server owns them. */
TS_EXPORT PAM_EXTERN int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc,
                                          const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}
