/* SPDX-License-Identifier: MIT */
/*
 * The one place where a tokenseal result (0 or a negative ts_err / errno, as
 * the broker or the protocol client returned it) becomes a PAM return code.
 * The table is documented in docs/pam.md and pam_tokenseal(8).
 */
#ifndef PAM_RESULT_H
#define PAM_RESULT_H

#include <stdbool.h>

enum pts_phase {
	PTS_AUTH,
	PTS_ACCOUNT,
	PTS_OPEN_SESSION,
	PTS_CLOSE_SESSION,
};

/* The PAM code for result code in phase. require_token is the config key of
 * that name (only a missing record in account/session looks at it). Never
 * PAM_NEW_AUTHTOK_REQD. */
int pts_result_to_pam(enum pts_phase phase, int code, bool require_token);

/* True when code is a problem for the administrator (configuration, broker
 * missing or broken, keystore): the module logs it at LOG_ERR. */
bool pts_result_is_admin_error(int code);

/* True when the broker's message should be shown to the user (unless
 * PAM_SILENT) for this code in this phase. */
bool pts_result_shows_message(enum pts_phase phase, int code, bool require_token);

/* Whether a successful result's message is shown as information: only when
 * the success rests on an earlier server check because the server is
 * unreachable (offline_grace), which the user must be told. */
bool pts_result_shows_info(int code, int state);

const char *pts_phase_name(enum pts_phase phase);

#endif
