/* SPDX-License-Identifier: MIT */
/*
 * Every broker result and record state -> one exit code of DESIGN.md §7,
 * with its class name and whether it heals by itself: the whole mapping,
 * in one table (tests/cli/test_cli_exit.c checks every row).
 */
#include <errno.h>
#include <stddef.h>

#include "cli.h"
#include "ts_error.h"
#include "ts_proto.h"

static const struct cli_class C_OK = {CLI_EXIT_OK, "none", false};
static const struct cli_class C_SIGNIN = {CLI_EXIT_SIGN_IN, "sign-in", false};
static const struct cli_class C_SERVER = {CLI_EXIT_UNAVAILABLE, "server", true};
static const struct cli_class C_CONFIG = {CLI_EXIT_CONFIG, "configuration", false};
static const struct cli_class C_KEYSTORE = {CLI_EXIT_KEYSTORE, "keystore", false};
/* the access policy refuses, or the identity provider rejects even a
 * freshly refreshed or freshly obtained token (a disabled account): a new
 * sign-in cannot help, only an administrator (of this host or of the
 * identity provider) can: not "sign-in required" but "not permitted" */
static const struct cli_class C_POLICY = {CLI_EXIT_PERMISSION, "access-policy", false};
/* the caller may not do this (--user for others, keystore for others) */
static const struct cli_class C_PERM = {CLI_EXIT_PERMISSION, "permission", false};
static const struct cli_class C_INTERACT = {CLI_EXIT_INTERACTION, "interaction", false};

static const struct {
	int code;
	const struct cli_class *c;
} table[] = {
    {0, &C_OK},
    /* keystore */
    {TS_E_CORRUPT, &C_KEYSTORE},
    {TS_E_ROLLBACK, &C_KEYSTORE},
    {TS_E_CONFLICT, &C_SERVER}, /* a lost race with another writer: retry */
    {TS_E_BAD_OWNER, &C_KEYSTORE},
    {TS_E_BAD_MODE, &C_KEYSTORE},
    {TS_E_NOT_REGULAR, &C_KEYSTORE},
    {TS_E_TOO_BIG, &C_KEYSTORE},
    {TS_E_LOCK_TIMEOUT, &C_SERVER}, /* another broker holds the lock: retry */
    {TS_E_NO_KEY, &C_KEYSTORE},
    {TS_E_KEY_ID, &C_KEYSTORE},
    {TS_E_QUARANTINED, &C_KEYSTORE},
    {TS_E_MISMATCH, &C_CONFIG}, /* sealed for another issuer/client: fix the config */
    {TS_E_NOT_SAVED, &C_KEYSTORE},
    /* configuration */
    {TS_E_CONFIG, &C_CONFIG},
    {TS_E_SERVER_CONFIG, &C_CONFIG},
    {TS_E_NOT_SERVED, &C_CONFIG},
    {TS_E_NOT_CONFIGURED, &C_CONFIG},
    {TS_E_PERM, &C_PERM},
    /* the service and the server */
    {TS_E_IPC, &C_SERVER},
    {TS_E_NO_SERVICE, &C_SERVER},
    {TS_E_BUSY, &C_SERVER},
    {TS_E_SERVICE_LOST, &C_SERVER},
    {TS_E_UNAVAILABLE, &C_SERVER},
    {TS_E_BAD_ANSWER, &C_SERVER},
    /* sign-in */
    /* at a sign-in: the pasted token is not active (cli_classify: with
     * state needs-login it is a disabled account) */
    {TS_E_REJECTED_TOKEN, &C_SIGNIN},
    {TS_E_NEEDS_LOGIN, &C_SIGNIN},
    {TS_E_IDENTITY_CHANGED, &C_SIGNIN},
    {TS_E_DENIED, &C_SIGNIN},
    {TS_E_EXPIRED, &C_SIGNIN},
    {TS_E_IDENTITY_MISMATCH, &C_SIGNIN},
    {TS_E_NO_RECORD, &C_SIGNIN},
    {TS_E_SUBJECT_PINNED, &C_SIGNIN},
    {TS_E_FOREIGN_TOKEN, &C_SIGNIN},
    {TS_E_SIGNED_OUT, &C_SIGNIN},
    {TS_E_POLICY, &C_POLICY},
    /* interaction */
    {TS_E_INTERACTION, &C_INTERACT},
    /* system errors with a meaning of their own */
    {-ENOENT, &C_CONFIG}, /* no such local user, broker missing */
    {-EACCES, &C_CONFIG},
    {-EPERM, &C_CONFIG},
    {-EINVAL, &C_CONFIG},
    {-ENOEXEC, &C_CONFIG},
    {-EBUSY, &C_CONFIG}, /* keystore forget of a signed-in user */
    {-ENOSPC, &C_KEYSTORE},
    {-EDQUOT, &C_KEYSTORE},
    {-EROFS, &C_KEYSTORE},
    {-EIO, &C_KEYSTORE},
};

/* STATUS reports a state with code 0. */
static const struct cli_class *state_class(int state)
{
	switch (state) {
	case TS_STATE_VALID:
	case TS_STATE_STALE:
	case TS_STATE_REFRESHING:
		return &C_OK;
	case TS_STATE_NONE:
	case TS_STATE_NEEDS_LOGIN:
	case TS_STATE_SIGNED_OUT:
		return &C_SIGNIN;
	case TS_STATE_UNAVAILABLE:
		return &C_SERVER;
	case TS_STATE_MISMATCH:
		return &C_CONFIG;
	case TS_STATE_CORRUPTED:
		return &C_KEYSTORE;
	default:
		return &C_SERVER;
	}
}

void cli_classify(int code, int state, struct cli_class *ret)
{
	/* the broker marks "the records cannot be read" (a missing key while
	 * records exist) as corrupted whatever the code */
	if (code < 0 && state == TS_STATE_CORRUPTED) {
		*ret = C_KEYSTORE;
		return;
	}
	/* a use or refresh answers TS_E_REJECTED_TOKEN (state needs-login)
	 * only when the server rejected even a token refreshed just now: a
	 * plain rejection is refreshed at once (broker/engine_use.c). The
	 * account is disabled or locked at the identity provider; a new
	 * sign-in would get tokens rejected the same way. */
	if (code == TS_E_REJECTED_TOKEN && state == TS_STATE_NEEDS_LOGIN) {
		*ret = C_POLICY;
		return;
	}
	for (size_t i = 0; i < TS_ARRAY_SIZE(table); i++)
		if (table[i].code == code) {
			*ret = *table[i].c;
			return;
		}
	/* any other errno: the service failed (timeout, reset, out of memory) */
	*ret = C_SERVER;
}

enum cli_exit cli_exit_for(int code, int state)
{
	struct cli_class c;

	cli_classify(code, state, &c);
	return c.exit;
}

enum cli_exit cli_exit_for_state(int state)
{
	return state_class(state)->exit;
}

const char *cli_class_of_exit(int exit)
{
	switch (exit) {
	case CLI_EXIT_OK:
		return C_OK.name;
	case CLI_EXIT_SIGN_IN:
		return C_SIGNIN.name;
	case CLI_EXIT_CONFIG:
		return C_CONFIG.name;
	case CLI_EXIT_KEYSTORE:
		return C_KEYSTORE.name;
	case CLI_EXIT_INTERACTION:
		return C_INTERACT.name;
	case CLI_EXIT_PERMISSION:
		return C_PERM.name;
	case CLI_EXIT_USAGE:
		return "usage";
	default:
		return C_SERVER.name;
	}
}
