/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "ts_error.h"

const char *ts_strerror(int err)
{
	switch (err) {
	case TS_OK:
		return "success";
	case TS_E_CORRUPT:
		return "credential record is corrupted (authentication failed or malformed)";
	case TS_E_ROLLBACK:
		return "credential record is older than one already seen (rollback refused)";
	case TS_E_CONFLICT:
		return "credential record changed while it was being updated";
	case TS_E_BAD_OWNER:
		return "file has the wrong owner";
	case TS_E_BAD_MODE:
		return "file or folder has unsafe permissions (group- or world-accessible)";
	case TS_E_NOT_REGULAR:
		return "not a regular file (a symbolic link or special file)";
	case TS_E_TOO_BIG:
		return "input is larger than its allowed maximum";
	case TS_E_LOCK_TIMEOUT:
		return "timed out waiting for the credential lock";
	case TS_E_NO_KEY:
		return "keystore master key is missing or unreadable";
	case TS_E_KEY_ID:
		return "credential record is sealed under an unknown key id";
	case TS_E_QUARANTINED:
		return "credential record was corrupted and has been quarantined";
	case TS_E_MISMATCH:
		return "credential record belongs to another issuer or client than configured";
	case TS_E_CONFIG:
		return "configuration error";
	case TS_E_IPC:
		return "broker protocol error";
	case TS_E_REJECTED_TOKEN:
		return "the server rejected the token";
	case TS_E_NEEDS_LOGIN:
		return "sign-in required: the server refused the refresh token";
	case TS_E_SERVER_CONFIG:
		return "the server refused the client configuration";
	case TS_E_UNAVAILABLE:
		return "the identity server is unavailable";
	case TS_E_BAD_ANSWER:
		return "the identity server sent a malformed answer";
	case TS_E_IDENTITY_CHANGED:
		return "the server returned a different identity";
	case TS_E_DENIED:
		return "the sign-in was denied";
	case TS_E_EXPIRED:
		return "the sign-in code expired before it was approved";
	case TS_E_IDENTITY_MISMATCH:
		return "the signed-in identity does not match the user";
	case TS_E_INTERACTION:
		return "interaction is required but not possible here";
	case TS_E_NO_RECORD:
		return "not signed in";
	case TS_E_PERM:
		return "not permitted to act for that user";
	case TS_E_SUBJECT_PINNED:
		return "another identity is pinned to this account";
	case TS_E_FOREIGN_TOKEN:
		return "the token was issued to another application";
	case TS_E_SIGNED_OUT:
		return "signed out: sign in again";
	case TS_E_NOT_SERVED:
		return "tokenseal does not serve this account (outside min_uid..max_uid)";
	case TS_E_NOT_SAVED:
		return "the refresh succeeded but could not be saved";
	case TS_E_NO_SERVICE:
		return "the tokenseal service is not running";
	case TS_E_NOT_CONFIGURED:
		return "tokenseal is not configured (or its configuration is unusable) and "
		       "this account has no tokenseal record";
	case TS_E_BUSY:
		return "the tokenseal service is busy; try again";
	case TS_E_SERVICE_LOST:
		return "the tokenseal service stopped while serving the request (restarted or "
		       "killed); try again";
	case TS_E_POLICY:
		return "the host's access policy does not allow this user";
	default:
		break;
	}
	if (err < 0 && err > TS_E_BASE) {
		/* strerror() may use a static buffer (MT-Unsafe race:strerror);
		 * the daemon calls this from many threads at once */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
		const char *d = strerrordesc_np(-err);

		return d ? d : "unknown error";
#else
		return strerror(-err);
#endif
	}
	return "unknown error";
}
