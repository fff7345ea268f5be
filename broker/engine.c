/* SPDX-License-Identifier: MIT */
/*
 * The lifecycle engine's operations (one file per concern, see
 * engine_internal.h), on top of the keystore (sealed records, per-user
 * locks, compare-and-swap) and the OAuth client. Library code: logs at
 * debug level only; the outcome's message is what the boundary shows and
 * logs. This file: the dispatch, the clocks and the shared messages.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_time.h"

int64_t eng_local_now(const struct ts_engine *e)
{
	return e->now_local ? e->now_local() : (int64_t)time(NULL);
}

int64_t eng_server_now(const struct ts_engine *e, int64_t skew)
{
	return eng_local_now(e) + skew;
}

int64_t eng_current_skew(const struct ts_engine *e, int64_t fallback)
{
	long s = oauth_clock_skew(e->oauth);

	return s != 0 ? (int64_t)s : fallback;
}

void eng_set_msg(struct ts_outcome *o, int code, enum ts_state st, const char *fmt, ...)
{
	va_list ap;

	o->code = code;
	o->state = st;
	va_start(ap, fmt);
	vsnprintf(o->message, sizeof(o->message), fmt, ap);
	va_end(ap);
}

const char *eng_log_user(const struct ts_request *req)
{
	return req->user_log ? req->user_log : "?";
}

const char *eng_state_hint(void)
{
	return "run `tokenseal login` or log in again";
}

void eng_server_error_msg(struct ts_outcome *o, const struct ts_engine *e, int r,
                             const struct oauth_error *err)
{
	switch (r) {
	case TS_E_UNAVAILABLE:
		eng_set_msg(o, r, TS_STATE_UNAVAILABLE,
		        "the identity server %s is unreachable (%s); nothing was changed; try "
		        "again later",
		        e->cfg->issuer, err->message[0] ? err->message : "no answer");
		break;
	case TS_E_SERVER_CONFIG:
		if (err->clock_suspect) {
			/* not the administrator's configuration: this host's time */
			eng_set_msg(o, r, TS_STATE_UNAVAILABLE, "cannot talk to %s: %s", e->cfg->issuer,
			            err->message);
			break;
		}
		eng_set_msg(o, r, TS_STATE_UNAVAILABLE,
		        "configuration error talking to %s (%s); ask the administrator",
		        e->cfg->issuer, err->message[0] ? err->message : ts_strerror(r));
		break;
	default:
		eng_set_msg(o, r, TS_STATE_UNAVAILABLE, "%s: %s", ts_strerror(r),
		        err->message[0] ? err->message : "no details");
		break;
	}
}

int ts_engine_handle(struct ts_engine *e, const struct ts_request *req, struct ts_outcome *out)
{
	int r;

	out->code = 0;
	out->state = TS_STATE_NONE;
	out->message[0] = '\0';
	out->expires = -1;
	switch (req->type) {
	case TS_MSG_LOGIN:
	case TS_MSG_AUTH_STORED:
		r = eng_login(e, req, out);
		break;
	case TS_MSG_REVALIDATE: {
		struct ts_record rec = {0};

		r = eng_use_tokens(e, req, &rec, out);
		ts_record_clear(&rec);
		break;
	}
	case TS_MSG_OPEN_SESSION:
		r = eng_open_session(e, req, out);
		break;
	case TS_MSG_CLOSE_SESSION:
		r = eng_close_session(e, req, out);
		break;
	case TS_MSG_GET_TOKEN:
		r = eng_get_token(e, req, out);
		break;
	case TS_MSG_STATUS:
		r = eng_status(e, req, out);
		break;
	case TS_MSG_LOGOUT:
		r = eng_logout(e, req, out);
		break;
	case TS_MSG_REFRESH:
		r = eng_refresh(e, req, out);
		break;
	default:
		eng_set_msg(out, TS_E_IPC, TS_STATE_NONE, "unknown request type %u",
		        (unsigned)req->type);
		r = TS_E_IPC;
		break;
	}
	out->code = r;
	return r;
}

