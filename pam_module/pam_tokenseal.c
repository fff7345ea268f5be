/* SPDX-License-Identifier: MIT */
/*
 * pam_tokenseal.so: thin pam_sm_* shims over the broker protocol client.
 * Each entry point parses its arguments, fetches the PAM items, loads the
 * config only to find the broker, and hands ONE request to tokenseal-broker
 * (common/ts_client.c), relaying the broker's conversation through pam_conv.
 * The module never sees a token, holds no static data, and logs only through
 * pam_syslog.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

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

/* Negative cache: "this user has no record" for the rest of the
 * transaction, so account + session do not run the broker twice for a user
 * tokenseal does not know (e.g. a publickey login). */
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

static bool pts_no_record_cached(pam_handle_t *pamh, const char *user)
{
	char key[PTS_KEY_MAX];
	const void *data = NULL;

	pts_data_key(key, sizeof(key), "no_record", user);
	return pam_get_data(pamh, key, &data) == PAM_SUCCESS && data;
}

static void pts_set_no_record(pam_handle_t *pamh, const char *user, bool on)
{
	char key[PTS_KEY_MAX];
	int *flag = NULL;

	pts_data_key(key, sizeof(key), "no_record", user);
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

	if (pam_get_item(pamh, type, &v) != PAM_SUCCESS)
		return NULL;
	return v;
}

static int pts_run(pam_handle_t *pamh, int flags, int argc, const char **argv, enum pts_phase phase)
{
	struct pts_args args;
	struct pts_conv_ctx cctx = {.pamh = pamh,
	                            .silent = ((unsigned)flags & (unsigned)PAM_SILENT) != 0};
	struct ts_conv conv = {pts_conv_info, pts_conv_error, pts_conv_prompt, &cctx};
	struct ts_client_result res = {0};
	struct ts_config_report rep = {pts_config_log, pamh};
	struct ts_config *cfg = NULL;
	const struct pam_conv *pconv;
	const char *user = NULL, *service;
	bool debug;
	int r, ret;

	pts_parse_args(pamh, argc, argv, &args);
	r = pam_get_user(pamh, &user, NULL);
	if (r != PAM_SUCCESS)
		return r;
	if (!user || !user[0] || strlen(user) >= TS_NAME_MAX)
		return PAM_USER_UNKNOWN;
	service = args.service ? args.service : pts_item(pamh, PAM_SERVICE);
	if (phase != PTS_AUTH && pts_no_record_cached(pamh, user))
		return pts_result_to_pam(phase, TS_E_NO_RECORD, false);

	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return PAM_BUF_ERR;
	ts_config_defaults(cfg);
	r = ts_config_load(cfg, args.config, service, &rep);
	if (r < 0) {
		pam_syslog(pamh, LOG_ERR, "cannot load %s: %s", args.config, ts_strerror(r));
		ret = pts_result_to_pam(phase, TS_E_CONFIG, false);
		goto out;
	}
	debug = args.debug || cfg->debug;

	struct ts_client_request req = {
	    .type = pts_request_type(phase),
	    .user = user,
	    .service = service,
	    .rhost = pts_item(pamh, PAM_RHOST),
	    .tty = pts_item(pamh, PAM_TTY),
	};
	if (cctx.silent)
		req.flags |= TS_FLAG_SILENT;
	if (debug)
		req.flags |= TS_FLAG_DEBUG;
	pconv = NULL;
	if (pam_get_item(pamh, PAM_CONV, (const void **)&pconv) != PAM_SUCCESS || !pconv ||
	    !pconv->conv || pts_env_set(pam_getenv(pamh, "TOKENSEAL_NONINTERACTIVE")) ||
	    pts_env_set(getenv("TOKENSEAL_NONINTERACTIVE"))) {
		req.flags |= TS_FLAG_NONINTERACTIVE;
		conv.prompt = NULL; /* the broker fails fast instead of asking */
	}
	const struct ts_client_opts opts = {
	    .broker_path = cfg->broker_path[0] ? cfg->broker_path : TS_DEFAULT_BROKER,
	    .config_path = args.config,
	};
	if (debug)
		pam_syslog(pamh, LOG_DEBUG, "%s: user %s service %s: asking %s (flags %u)",
		           pts_phase_name(phase), user, service ? service : "-", opts.broker_path,
		           req.flags);

	/* Root is about to execute broker_path: it and every folder above it
	 * must be root's alone (OpenSSH safe_path()). */
	char why[TS_PATH_MAX + 128];
	r = ts_path_check_safe(opts.broker_path, false, why, sizeof(why));
	if (r < 0) {
		pam_syslog(pamh, LOG_ERR, "%s: refusing to run the broker %s: %s",
		           pts_phase_name(phase), opts.broker_path, why);
		ret = pts_result_to_pam(phase, TS_E_CONFIG, cfg->require_token);
		goto out;
	}
	r = ts_client_call(&opts, &req, &conv, &res);
	if (r < 0) {
		pam_syslog(pamh, LOG_ERR, "%s: cannot run the broker %s: %s", pts_phase_name(phase),
		           opts.broker_path, ts_strerror(r));
		ret = pts_result_to_pam(phase, r, cfg->require_token);
		goto out;
	}
	ret = pts_result_to_pam(phase, res.code, cfg->require_token);
	if (pts_result_is_admin_error(res.code))
		pam_syslog(pamh, LOG_ERR, "%s: user %s: %s%s%s", pts_phase_name(phase), user,
		           ts_strerror(res.code), res.message[0] ? ": " : "", res.message);
	else if (res.code != 0)
		pam_syslog(pamh, LOG_NOTICE, "%s: user %s: %s (state %s)", pts_phase_name(phase),
		           user, ts_strerror(res.code), ts_state_name((enum ts_state)res.state));
	else if (debug)
		pam_syslog(pamh, LOG_DEBUG, "%s: user %s: ok (state %s)", pts_phase_name(phase),
		           user, ts_state_name((enum ts_state)res.state));
	if (!cctx.silent && res.message[0] &&
	    pts_result_shows_message(phase, res.code, cfg->require_token))
		(void)pam_prompt(pamh, PAM_ERROR_MSG, NULL, "%s", res.message);
	else if (!cctx.silent && res.message[0] && pts_result_shows_info(res.code, res.state))
		(void)pam_prompt(pamh, PAM_TEXT_INFO, NULL, "%s", res.message);
	if (phase != PTS_AUTH)
		pts_set_no_record(pamh, user, res.code == TS_E_NO_RECORD);
	else if (res.code == 0)
		pts_set_no_record(pamh, user, false);
out:
	ts_client_result_clear(&res);
	free(cfg);
	return ret;
}

/* ---- entry points ----------------------------------------------------- */

TS_EXPORT PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
                                             const char **argv)
{
	return pts_run(pamh, flags, argc, argv, PTS_AUTH);
}

/* No credentials to set: tokens stay in the broker's keystore, never in
 * the environment. */
TS_EXPORT PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
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
