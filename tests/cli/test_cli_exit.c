/* SPDX-License-Identifier: MIT */
/*
 * The exit-code table of the tokenseal command (cli/exit.c, DESIGN.md §7):
 * every TS_E_* value and every record state maps to the documented exit
 * code, class and "heals by itself", and no ts_err is left unmapped.
 */
#include <errno.h>

#include "cli.h"
#include "ts_error.h"
#include "ts_proto.h"
#include "ts_test.h"

static const struct {
	int code;
	int exit;
	const char *cls;
	bool heals;
} rows[] = {
    {0, 0, "none", false},
    {TS_E_CORRUPT, 5, "keystore", false},
    {TS_E_ROLLBACK, 5, "keystore", false},
    {TS_E_CONFLICT, 3, "server", true},
    {TS_E_BAD_OWNER, 5, "keystore", false},
    {TS_E_BAD_MODE, 5, "keystore", false},
    {TS_E_NOT_REGULAR, 5, "keystore", false},
    {TS_E_TOO_BIG, 5, "keystore", false},
    {TS_E_LOCK_TIMEOUT, 3, "server", true},
    {TS_E_NO_KEY, 5, "keystore", false},
    {TS_E_KEY_ID, 5, "keystore", false},
    {TS_E_QUARANTINED, 5, "keystore", false},
    {TS_E_MISMATCH, 4, "configuration", false},
    {TS_E_CONFIG, 4, "configuration", false},
    {TS_E_IPC, 3, "server", true},
    /* a pasted token at a sign-in (with needs-login: test_states) */
    {TS_E_REJECTED_TOKEN, 2, "sign-in", false},
    {TS_E_NEEDS_LOGIN, 2, "sign-in", false},
    {TS_E_SERVER_CONFIG, 4, "configuration", false},
    {TS_E_UNAVAILABLE, 3, "server", true},
    {TS_E_BAD_ANSWER, 3, "server", true},
    {TS_E_IDENTITY_CHANGED, 2, "sign-in", false},
    {TS_E_DENIED, 2, "sign-in", false},
    {TS_E_EXPIRED, 2, "sign-in", false},
    {TS_E_IDENTITY_MISMATCH, 2, "sign-in", false},
    {TS_E_INTERACTION, 6, "interaction", false},
    {TS_E_NO_RECORD, 2, "sign-in", false},
    {TS_E_PERM, 7, "permission", false},
    {TS_E_SUBJECT_PINNED, 2, "sign-in", false},
    {TS_E_FOREIGN_TOKEN, 2, "sign-in", false},
    {TS_E_SIGNED_OUT, 2, "sign-in", false},
    {TS_E_NOT_SAVED, 5, "keystore", false},
    {TS_E_NOT_SERVED, 4, "configuration", false},
    {TS_E_NO_SERVICE, 3, "server", true},
    {TS_E_NOT_CONFIGURED, 4, "configuration", false},
    {TS_E_POLICY, 7, "access-policy", false},
    {TS_E_BUSY, 3, "server", true},
    {-ENOENT, 4, "configuration", false},
    {-EACCES, 4, "configuration", false},
    {-EBUSY, 4, "configuration", false},
    {-ENOSPC, 5, "keystore", false},
    {-ETIMEDOUT, 3, "server", true},
    {-ECONNRESET, 3, "server", true},
};

static void test_codes(void)
{
	for (size_t i = 0; i < TS_ARRAY_SIZE(rows); i++) {
		struct cli_class k;

		cli_classify(rows[i].code, TS_STATE_NONE, &k);
		CHECK_MSG((int)k.exit == rows[i].exit, "code %d: exit %d, expected %d",
		          rows[i].code, (int)k.exit, rows[i].exit);
		CHECK_STR(k.name, rows[i].cls);
		CHECK_MSG(k.heals == rows[i].heals, "code %d: heals", rows[i].code);
	}
}

/* Every ts_err from TS_E_BASE down to the last one has a row above: a new
 * code must be given its exit code deliberately. */
static void test_every_ts_err_listed(void)
{
	for (int code = TS_E_BASE - 1; code >= TS_E_BUSY; code--) {
		bool listed = false;

		if (strcmp(ts_strerror(code), ts_strerror(TS_E_BASE - 999)) == 0)
			continue; /* not a defined code (a gap in the numbering) */
		for (size_t i = 0; i < TS_ARRAY_SIZE(rows); i++)
			listed = listed || rows[i].code == code;
		CHECK_MSG(listed, "ts_err %d (%s) has no row in the exit table test", code,
		          ts_strerror(code));
	}
}

static void test_states(void)
{
	CHECK_INT(cli_exit_for_state(TS_STATE_VALID), 0);
	CHECK_INT(cli_exit_for_state(TS_STATE_STALE), 0);
	CHECK_INT(cli_exit_for_state(TS_STATE_REFRESHING), 0);
	CHECK_INT(cli_exit_for_state(TS_STATE_NONE), 2);
	CHECK_INT(cli_exit_for_state(TS_STATE_NEEDS_LOGIN), 2);
	CHECK_INT(cli_exit_for_state(TS_STATE_SIGNED_OUT), 2);
	CHECK_INT(cli_exit_for_state(TS_STATE_UNAVAILABLE), 3);
	CHECK_INT(cli_exit_for_state(TS_STATE_MISMATCH), 4);
	CHECK_INT(cli_exit_for_state(TS_STATE_CORRUPTED), 5);
	/* the broker's "key missing while records exist" (TS_E_CONFIG with the
	 * records unreadable) is a keystore error */
	CHECK_INT(cli_exit_for(TS_E_CONFIG, TS_STATE_CORRUPTED), 5);
	CHECK_INT(cli_exit_for(TS_E_CONFIG, TS_STATE_NONE), 4);
	/* the server rejects even a freshly refreshed token (a disabled
	 * account): not "sign-in required", since a sign-in cannot help */
	{
		struct cli_class k;

		cli_classify(TS_E_REJECTED_TOKEN, TS_STATE_NEEDS_LOGIN, &k);
		CHECK_INT(k.exit, 7);
		CHECK_STR(k.name, "access-policy");
	}
}

/* The class of an exit code alone (the command's own errors, --json). */
static void test_exit_classes(void)
{
	CHECK_STR(cli_class_of_exit(2), "sign-in");
	CHECK_STR(cli_class_of_exit(3), "server");
	CHECK_STR(cli_class_of_exit(4), "configuration");
	CHECK_STR(cli_class_of_exit(5), "keystore");
	CHECK_STR(cli_class_of_exit(6), "interaction");
	CHECK_STR(cli_class_of_exit(7), "permission");
	CHECK_STR(cli_class_of_exit(64), "usage");
	/* 77 is the skip code of CTest and automake: never an exit code here */
	CHECK_INT(CLI_EXIT_PERMISSION, 7);
	CHECK_INT(CLI_EXIT_USAGE, 64);
}

int main(void)
{
	RUN(test_codes);
	RUN(test_every_ts_err_listed);
	RUN(test_states);
	RUN(test_exit_classes);
	return ts_test_done();
}
