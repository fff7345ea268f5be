/* SPDX-License-Identifier: MIT */
/* pam_module/pam_result.c: every tokenseal result in every phase. */
#include <errno.h>

#include <security/_pam_types.h>

#include "pam_result.h"
#include "ts_error.h"
#include "ts_proto.h"
#include "ts_test.h"

static const int keystore_codes[] = {
    TS_E_CORRUPT,     TS_E_ROLLBACK,     TS_E_CONFLICT, TS_E_BAD_OWNER, TS_E_BAD_MODE,
    TS_E_NOT_REGULAR, TS_E_LOCK_TIMEOUT, TS_E_NO_KEY,   TS_E_KEY_ID,    TS_E_QUARANTINED};

static void expect(int code, int auth, int account, int session)
{
	CHECK_MSG(pts_result_to_pam(PTS_AUTH, code, false) == auth, "%d auth", code);
	CHECK_MSG(pts_result_to_pam(PTS_ACCOUNT, code, false) == account, "%d account", code);
	CHECK_MSG(pts_result_to_pam(PTS_OPEN_SESSION, code, false) == session, "%d open", code);
	CHECK_MSG(pts_result_to_pam(PTS_CLOSE_SESSION, code, false) == session, "%d close", code);
}

int main(void)
{
	expect(0, PAM_SUCCESS, PAM_SUCCESS, PAM_SUCCESS);
	expect(TS_E_NEEDS_LOGIN, PAM_AUTH_ERR, PAM_PERM_DENIED, PAM_PERM_DENIED);
	expect(TS_E_REJECTED_TOKEN, PAM_AUTH_ERR, PAM_PERM_DENIED, PAM_PERM_DENIED);
	expect(TS_E_UNAVAILABLE, PAM_AUTHINFO_UNAVAIL, PAM_AUTHINFO_UNAVAIL, PAM_AUTHINFO_UNAVAIL);
	expect(TS_E_BAD_ANSWER, PAM_AUTHINFO_UNAVAIL, PAM_AUTHINFO_UNAVAIL, PAM_AUTHINFO_UNAVAIL);
	expect(TS_E_DENIED, PAM_MAXTRIES, PAM_MAXTRIES, PAM_MAXTRIES);
	expect(TS_E_EXPIRED, PAM_AUTH_ERR, PAM_AUTH_ERR, PAM_AUTH_ERR);
	expect(TS_E_NO_RECORD, PAM_AUTH_ERR, PAM_IGNORE, PAM_IGNORE);
	expect(TS_E_IDENTITY_MISMATCH, PAM_AUTH_ERR, PAM_PERM_DENIED, PAM_PERM_DENIED);
	expect(TS_E_IDENTITY_CHANGED, PAM_AUTH_ERR, PAM_PERM_DENIED, PAM_PERM_DENIED);
	expect(TS_E_INTERACTION, PAM_AUTH_ERR, PAM_PERM_DENIED, PAM_PERM_DENIED);
	/* seen before and signed out, another identity pinned, another
	 * application's token, a record of another issuer: refused, never
	 * waved through (the account phase must not turn off) */
	expect(TS_E_SIGNED_OUT, PAM_AUTH_ERR, PAM_PERM_DENIED, PAM_PERM_DENIED);
	expect(TS_E_SUBJECT_PINNED, PAM_AUTH_ERR, PAM_PERM_DENIED, PAM_PERM_DENIED);
	expect(TS_E_FOREIGN_TOKEN, PAM_AUTH_ERR, PAM_PERM_DENIED, PAM_PERM_DENIED);
	expect(TS_E_MISMATCH, PAM_AUTH_ERR, PAM_PERM_DENIED, PAM_PERM_DENIED);
	/* confirmed by the server; only saving the refresh failed */
	expect(TS_E_NOT_SAVED, PAM_SUCCESS, PAM_SUCCESS, PAM_SUCCESS);
	/* below min_uid (root, system accounts): not ours, step aside */
	expect(TS_E_NOT_SERVED, PAM_IGNORE, PAM_IGNORE, PAM_IGNORE);
	CHECK_INT(pts_result_to_pam(PTS_ACCOUNT, TS_E_NOT_SERVED, true), PAM_IGNORE);
	CHECK_INT(pts_result_to_pam(PTS_ACCOUNT, TS_E_SIGNED_OUT, false), PAM_PERM_DENIED);
	expect(TS_E_SERVER_CONFIG, PAM_AUTHINFO_UNAVAIL, PAM_SYSTEM_ERR, PAM_SYSTEM_ERR);
	expect(TS_E_CONFIG, PAM_AUTHINFO_UNAVAIL, PAM_SYSTEM_ERR, PAM_SYSTEM_ERR);
	expect(TS_E_IPC, PAM_AUTHINFO_UNAVAIL, PAM_SYSTEM_ERR, PAM_SYSTEM_ERR);
	expect(TS_E_PERM, PAM_AUTHINFO_UNAVAIL, PAM_SYSTEM_ERR, PAM_SYSTEM_ERR);
	expect(TS_E_TOO_BIG, PAM_AUTHINFO_UNAVAIL, PAM_SYSTEM_ERR, PAM_SYSTEM_ERR);
	expect(-ENOENT, PAM_AUTHINFO_UNAVAIL, PAM_SYSTEM_ERR, PAM_SYSTEM_ERR); /* broker missing */
	expect(-EACCES, PAM_AUTHINFO_UNAVAIL, PAM_SYSTEM_ERR, PAM_SYSTEM_ERR);
	expect(-ETIMEDOUT, PAM_AUTHINFO_UNAVAIL, PAM_SYSTEM_ERR, PAM_SYSTEM_ERR);
	expect(-ECONNRESET, PAM_AUTHINFO_UNAVAIL, PAM_SYSTEM_ERR, PAM_SYSTEM_ERR);
	for (size_t i = 0; i < TS_ARRAY_SIZE(keystore_codes); i++)
		expect(keystore_codes[i], PAM_AUTHINFO_UNAVAIL, PAM_AUTHINFO_UNAVAIL,
		       PAM_AUTHINFO_UNAVAIL);

	/* require_token only changes a missing record outside auth */
	CHECK_INT(pts_result_to_pam(PTS_ACCOUNT, TS_E_NO_RECORD, true), PAM_PERM_DENIED);
	CHECK_INT(pts_result_to_pam(PTS_OPEN_SESSION, TS_E_NO_RECORD, true), PAM_PERM_DENIED);
	CHECK_INT(pts_result_to_pam(PTS_AUTH, TS_E_NO_RECORD, true), PAM_AUTH_ERR);
	CHECK_INT(pts_result_to_pam(PTS_ACCOUNT, TS_E_NEEDS_LOGIN, true), PAM_PERM_DENIED);

	/* never PAM_NEW_AUTHTOK_REQD, for any code in any phase */
	for (int code = -1100; code <= 0; code++)
		for (int ph = PTS_AUTH; ph <= PTS_CLOSE_SESSION; ph++)
			for (int rt = 0; rt < 2; rt++)
				CHECK(pts_result_to_pam((enum pts_phase)ph, code, rt) !=
				      PAM_NEW_AUTHTOK_REQD);

	/* admin errors are logged, user errors shown */
	CHECK(pts_result_is_admin_error(TS_E_CONFIG));
	CHECK(pts_result_is_admin_error(TS_E_SERVER_CONFIG));
	CHECK(pts_result_is_admin_error(-ENOENT));
	CHECK(pts_result_is_admin_error(TS_E_CORRUPT));
	CHECK(!pts_result_is_admin_error(0));
	CHECK(!pts_result_is_admin_error(TS_E_NEEDS_LOGIN));
	CHECK(!pts_result_is_admin_error(TS_E_NO_RECORD));
	CHECK(pts_result_shows_message(PTS_ACCOUNT, TS_E_NEEDS_LOGIN, false));
	CHECK(pts_result_shows_message(PTS_AUTH, TS_E_DENIED, false));
	CHECK(!pts_result_shows_message(PTS_ACCOUNT, TS_E_NO_RECORD, false));
	CHECK(pts_result_shows_message(PTS_ACCOUNT, TS_E_NO_RECORD, true));
	CHECK(!pts_result_shows_message(PTS_AUTH, 0, false));
	CHECK(!pts_result_shows_message(PTS_AUTH, TS_E_CONFIG, false));
	CHECK(pts_result_shows_message(PTS_ACCOUNT, TS_E_SIGNED_OUT, false));
	CHECK(pts_result_shows_message(PTS_ACCOUNT, TS_E_NOT_SAVED, false));
	CHECK(!pts_result_shows_message(PTS_AUTH, TS_E_NOT_SERVED, false));
	/* offline_grace: a success on an old check is told to the user */
	CHECK(pts_result_shows_info(0, TS_STATE_UNAVAILABLE));
	CHECK(!pts_result_shows_info(0, TS_STATE_VALID));
	CHECK(!pts_result_shows_info(TS_E_UNAVAILABLE, TS_STATE_UNAVAILABLE));

	CHECK_STR(pts_phase_name(PTS_AUTH), "auth");
	CHECK_STR(pts_phase_name(PTS_ACCOUNT), "account");
	CHECK_STR(pts_phase_name(PTS_OPEN_SESSION), "open_session");
	CHECK_STR(pts_phase_name(PTS_CLOSE_SESSION), "close_session");
	return ts_test_done();
}
