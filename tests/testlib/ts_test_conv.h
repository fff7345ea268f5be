/* SPDX-License-Identifier: MIT */
/*
 * A conversation for tests that sign a user in with the password grant
 * through the real broker: every question is answered with the password
 * (ctx, a NUL-terminated string), every text is dropped.
 *   struct ts_conv cv = TS_TEST_PASSWORD_CONV("alice-pw");
 */
#ifndef TS_TEST_CONV_H
#define TS_TEST_CONV_H

#include <stdbool.h>
#include <stdint.h>

#include "ts_conv.h"

int ts_test_answer_pw(void *ctx, const char *text, bool echo, char **ret);
int ts_test_no_text(void *ctx, const char *text);

#define TS_TEST_PASSWORD_CONV(pw)                                                                  \
	((struct ts_conv){ts_test_no_text, ts_test_no_text, ts_test_answer_pw,                     \
	                  (void *)(uintptr_t)(pw)})

#endif
