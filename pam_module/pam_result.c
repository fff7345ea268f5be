/* SPDX-License-Identifier: MIT */
/* tokenseal result -> PAM return code: the whole mapping, in one function. */
#include <security/_pam_types.h>

#include "pam_result.h"
#include "ts_error.h"
#include "ts_proto.h"

static bool is_keystore_error(int code)
{
	switch (code) {
	case TS_E_CORRUPT:
	case TS_E_ROLLBACK:
	case TS_E_CONFLICT:
	case TS_E_BAD_OWNER:
	case TS_E_BAD_MODE:
	case TS_E_NOT_REGULAR:
	case TS_E_LOCK_TIMEOUT:
	case TS_E_NO_KEY:
	case TS_E_KEY_ID:
	case TS_E_QUARANTINED:
		return true;
	default:
		return false;
	}
}

bool pts_result_is_admin_error(int code)
{
	switch (code) {
	case 0:
	case TS_E_REJECTED_TOKEN:
	case TS_E_NEEDS_LOGIN:
	case TS_E_UNAVAILABLE:
	case TS_E_BUSY:
	case TS_E_SERVICE_LOST:
	case TS_E_BAD_ANSWER:
	case TS_E_IDENTITY_CHANGED:
	case TS_E_DENIED:
	case TS_E_EXPIRED:
	case TS_E_IDENTITY_MISMATCH:
	case TS_E_INTERACTION:
	case TS_E_NO_RECORD:
	case TS_E_SIGNED_OUT:
	case TS_E_SUBJECT_PINNED:
	case TS_E_FOREIGN_TOKEN:
	case TS_E_MISMATCH:
	case TS_E_NOT_SAVED:
	case TS_E_NOT_SERVED:
	case TS_E_NOT_CONFIGURED:
	case TS_E_POLICY:
		return false;
	default:
		/* TS_E_CONFIG, TS_E_SERVER_CONFIG, TS_E_IPC, TS_E_PERM,
		 * keystore errors, and every errno (broker missing, ...) */
		return code < 0;
	}
}

int pts_result_to_pam(enum pts_phase phase, int code, bool require_token)
{
	bool auth = phase == PTS_AUTH;

	/* the use was confirmed by the server; only saving the refresh failed */
	if (code == 0 || code == TS_E_NOT_SAVED)
		return PAM_SUCCESS;
	/* root and system accounts (min_uid) are not tokenseal's: step aside
	 * in every phase, so that pam_unix and the rest of the stack decide */
	if (code == TS_E_NOT_SERVED)
		return PAM_IGNORE;
	/* the configuration is unusable (or not written yet) and this user
	 * has no record: tokenseal never refuses someone it never signed in
	 * because of its own configuration (a user with a record gets
	 * TS_E_CONFIG: fail closed) */
	if (code == TS_E_NOT_CONFIGURED)
		return PAM_IGNORE;
	if (is_keystore_error(code))
		return PAM_AUTHINFO_UNAVAIL;
	switch (code) {
	case TS_E_UNAVAILABLE:
	case TS_E_BUSY:	      /* the daemon's slots were taken (non-root callers) */
	case TS_E_SERVICE_LOST: /* the daemon went away mid-request */
	case TS_E_BAD_ANSWER: /* the server sent something malformed: transient */
		return PAM_AUTHINFO_UNAVAIL;
	case TS_E_DENIED:
		return PAM_MAXTRIES;
	case TS_E_EXPIRED:
		return PAM_AUTH_ERR;
	case TS_E_NEEDS_LOGIN:
	case TS_E_REJECTED_TOKEN:
	case TS_E_IDENTITY_MISMATCH:
	case TS_E_IDENTITY_CHANGED:
	case TS_E_INTERACTION:
	case TS_E_SIGNED_OUT:	  /* seen before, tokens gone: sign in again */
	case TS_E_SUBJECT_PINNED: /* another identity holds this account */
	case TS_E_FOREIGN_TOKEN:  /* a pasted token of another application */
	case TS_E_MISMATCH:	  /* sealed for another issuer/client: refused, kept */
	case TS_E_POLICY:	  /* allow_users/allow_groups/deny_groups refuse */
		return auth ? PAM_AUTH_ERR : PAM_PERM_DENIED;
	case TS_E_NO_RECORD:
		/* auth asks the broker for a login, so a missing record there
		 * means the login did not happen */
		if (auth)
			return PAM_AUTH_ERR;
		return require_token ? PAM_PERM_DENIED : PAM_IGNORE;
	default:
		/* TS_E_CONFIG, TS_E_SERVER_CONFIG, TS_E_IPC, TS_E_PERM,
		 * TS_E_TOO_BIG, broker missing (-ENOENT, -EACCES), broker
		 * timeout, any other errno */
		return auth ? PAM_AUTHINFO_UNAVAIL : PAM_SYSTEM_ERR;
	}
}

bool pts_result_shows_message(enum pts_phase phase, int code, bool require_token)
{
	int pam = pts_result_to_pam(phase, code, require_token);

	if (code == 0 || pam == PAM_IGNORE)
		return false;
	return !pts_result_is_admin_error(code);
}

bool pts_result_shows_info(int code, int state)
{
	return code == 0 && state == TS_STATE_UNAVAILABLE;
}

const char *pts_phase_name(enum pts_phase phase)
{
	switch (phase) {
	case PTS_AUTH:
		return "auth";
	case PTS_ACCOUNT:
		return "account";
	case PTS_OPEN_SESSION:
		return "open_session";
	case PTS_CLOSE_SESSION:
		return "close_session";
	}
	return "unknown";
}
