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
/* the access policy refuses: exit 2 like a sign-in problem (the token is
 * not usable here), with a class of its own since only an administrator
 * (or the identity provider's groups) can change it */
static const struct cli_class C_POLICY = {CLI_EXIT_SIGN_IN, "access-policy", false};
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
    {TS_E_PERM, &C_CONFIG},
    /* the service and the server */
    {TS_E_IPC, &C_SERVER},
    {TS_E_NO_SERVICE, &C_SERVER},
    {TS_E_BUSY, &C_SERVER},
    {TS_E_UNAVAILABLE, &C_SERVER},
    {TS_E_BAD_ANSWER, &C_SERVER},
    /* sign-in */
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
