/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ts_test_conv.h"

int ts_test_answer_pw(void *ctx, const char *text, bool echo, char **ret)
{
	(void)text;
	(void)echo;
	*ret = strdup(ctx);
	return *ret ? 0 : -ENOMEM;
}

int ts_test_no_text(void *ctx, const char *text)
{
	(void)ctx;
	(void)text;
	return 0;
}
