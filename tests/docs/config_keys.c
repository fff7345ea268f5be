/* SPDX-License-Identifier: MIT */
/* Prints the parser's own key table, one "NAME SCOPE" line per key, for
 * tests/docs/docscheck.py config-keys (docs/man/tokenseal.conf.5 must match). */
#include <stdio.h>

#include "ts_config.h"

int main(void)
{
	for (size_t i = 0; ts_config_key_name(i); i++)
		printf("%s %s\n", ts_config_key_name(i), ts_config_key_scope(i));
	return 0;
}
