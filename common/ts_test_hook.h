/* SPDX-License-Identifier: MIT */
/*
 * A fault hook for test builds only (cmake -DTOKENSEAL_TEST_HOOKS=ON, which
 * scripts/test sets; packages are built without it, and then every
 * TS_TEST_HOOK() is nothing at all). A test names one step in the
 * environment of the broker it starts:
 *
 *     TOKENSEAL_TEST_HOOK=STEP        the broker kills itself (SIGKILL) there
 *     TOKENSEAL_TEST_HOOK=STEP:stop   it stops (SIGSTOP) there; the test looks
 *                                     and then kills or continues it
 *     TOKENSEAL_TEST_HOOK=STEP:sleep  the thread there sleeps half a second
 *
 * read once, before main() (the broker clears its environment). Steps:
 * refresh-before-request, refresh-after-answer (the server answered, the
 * record is not stored yet), keystore-before-rename (the new record is
 * written to its temporary file, not renamed), nss-before-rename (the same
 * for the NSS user cache), after-answer (the RESULT is written, the
 * request's handles not yet closed). tests/faults/ and
 * tests/daemon/test_daemon_reserve.c use them.
 */
#ifndef TS_TEST_HOOK_H
#define TS_TEST_HOOK_H

#ifdef TOKENSEAL_TEST_HOOKS
void ts_test_hook(const char *step);
/* a ts_before_rename_fn: ctx is the step name */
void ts_test_hook_cb(void *step);
#define TS_TEST_HOOK(step) ts_test_hook(step)
#define TS_TEST_HOOK_CB ts_test_hook_cb
#else
#define TS_TEST_HOOK(step) ((void)0)
#define TS_TEST_HOOK_CB NULL
#endif

#endif
