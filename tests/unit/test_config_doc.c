/* SPDX-License-Identifier: MIT */
/*
 * Documentation check: every key of the parser's table (ts_config_key_name)
 * has an entry in tokenseal.conf(5) (a line ".B key" or ".BR key ...") and
 * appears in the commented example file, and the example file itself parses
 * with no error and no warning.
 * Arguments: the man page, the example file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_config.h"
#include "ts_error.h"
#include "ts_test.h"

static unsigned reports;

TS_PRINTF(3, 0)
static void count(void *ctx, int priority, const char *fmt, va_list ap)
{
	char msg[1200];

	(void)ctx, (void)priority;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "example: %s\n", msg);
	reports++;
}

/* Does text hold a line that starts with prefix followed by key and then the
 * end of the line or a space? */
static bool has_entry(const char *text, const char *prefix, const char *key)
{
	size_t pl = strlen(prefix), kl = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, prefix, pl) == 0 && strncmp(l + pl, key, kl) == 0 &&
		    (l[pl + kl] == '\n' || l[pl + kl] == ' ' || l[pl + kl] == '\0'))
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	const struct ts_config_report rep = {.fn = count};
	struct ts_config c;
	char *man, *example;
	size_t len;

	if (argc != 3) {
		fprintf(stderr, "usage: %s tokenseal.conf.5 tokenseal.conf.example\n", argv[0]);
		return 2;
	}
	man = ts_test_read_file(argv[1], NULL);
	example = ts_test_read_file(argv[2], &len);

	for (size_t i = 0; ts_config_key_name(i); i++) {
		const char *k = ts_config_key_name(i);
		bool in_example = has_entry(example, "#", k) || has_entry(example, "# ", k) ||
		                  has_entry(example, "", k);

		CHECK_MSG(has_entry(man, ".B ", k) || has_entry(man, ".BR ", k),
		          "key '%s' has no entry (.B %s) in %s", k, k, argv[1]);
		CHECK_MSG(in_example, "key '%s' is not in %s", k, argv[2]);
	}

	/* as shipped: it parses without a word, and validation names exactly
	 * the two keys an administrator sets first (the broker's "not
	 * configured yet" state: issuer and client_id both unset) */
	{
		struct ts_config_problems probs;

		ts_config_defaults(&c);
		CHECK_INT(ts_config_parse(&c, example, len, NULL, argv[2], &rep), 0);
		CHECK_INT(reports, 0);
		CHECK_MSG(!c.issuer[0] && !c.client_id[0], "issuer and client_id are commented out");
		ts_config_problems_init(&probs, NULL);
		CHECK_INT(ts_config_validate(&c, argv[2], &probs.rep), TS_E_CONFIG);
		CHECK_INT(probs.count, 2);
		CHECK_MSG(strstr(probs.text[0], ": issuer is not set"), "%s", probs.text[0]);
		CHECK_MSG(strstr(probs.text[1], ": client_id is not set"), "%s", probs.text[1]);
	}
	/* with those two set (a public client, as the file suggests), the top
	 * level and every service section of it are valid */
	{
		static const char head[] = "issuer = https://idp.example.org/realms/main\n"
		                           "client_id = tokenseal-host\n";
		static const char *const services[] = {NULL, "sudo", "sshd"};
		char *full = malloc(sizeof(head) + len);

		CHECK(full);
		memcpy(full, head, sizeof(head) - 1);
		memcpy(full + sizeof(head) - 1, example, len);
		for (size_t i = 0; i < TS_ARRAY_SIZE(services); i++) {
			ts_config_defaults(&c);
			CHECK_INT(ts_config_parse(&c, full, sizeof(head) - 1 + len, services[i], argv[2],
			                          &rep),
			          0);
			CHECK_MSG(ts_config_validate(&c, argv[2], &rep) == 0, "[service %s] of %s is valid",
			          services[i] ? services[i] : "(top)", argv[2]);
		}
		free(full);
	}
	CHECK_INT(reports, 0);

	free(man);
	free(example);
	return ts_test_done();
}
