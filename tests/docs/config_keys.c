/* SPDX-License-Identifier: MIT */
/*
 * For tests/docs (docscheck.py, pagescheck.py):
 *
 *   ts_config_keys
 *       prints the parser's own key table, one "NAME SCOPE" line per key
 *       (docs/man/tokenseal.conf.5 must match);
 *   ts_config_keys --parse FILE [--validate]
 *       parses FILE with the real parser, at the top level and in each
 *       "[service NAME]" section it has, and with --validate also checks the
 *       result is usable (ts_config_validate: issuer, client_id, ...). Every
 *       problem is printed on stdout; exit 1 when there was one. For the
 *       configuration snippets in the guides (docs/quick-start.md,
 *       docs/providers/): what a guide tells an administrator to write must
 *       load.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "ts_config.h"

static unsigned problems;

static void report(void *ctx, int priority, const char *fmt, va_list ap)
{
	(void)ctx;
	if (priority > LOG_WARNING)
		return;
	vprintf(fmt, ap);
	putchar('\n');
	problems++;
}

static int parse_one(const char *buf, size_t len, const char *service, const char *origin,
                     int validate)
{
	const struct ts_config_report rep = {.fn = report};
	struct ts_config *c = malloc(sizeof(*c));
	int r;

	if (!c)
		return -1;
	ts_config_defaults(c);
	r = ts_config_parse(c, buf, len, service, origin, &rep);
	if (r == 0 && validate)
		r = ts_config_validate(c, origin, &rep);
	free(c);
	return r;
}

static int parse_file(const char *path, int validate)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "r");
	size_t len;
	int bad = 0;

	if (!f) {
		printf("%s: cannot open\n", path);
		return 1;
	}
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	if (parse_one(buf, len, NULL, path, validate) != 0)
		bad = 1;
	/* each "[service NAME]" section, as that service would load it */
	for (const char *p = buf; (p = strstr(p, "[service ")) != NULL; p++) {
		char name[64];
		size_t n = strcspn(p + 9, "]\n");

		if ((p != buf && p[-1] != '\n') || n == 0 || n >= sizeof(name) || p[9 + n] != ']')
			continue;
		memcpy(name, p + 9, n);
		name[n] = '\0';
		if (parse_one(buf, len, name, path, validate) != 0)
			bad = 1;
	}
	return bad || problems ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "--parse") == 0)
		return parse_file(argv[2], argc >= 4 && strcmp(argv[3], "--validate") == 0);
	if (argc != 1) {
		fprintf(stderr, "usage: ts_config_keys [--parse FILE [--validate]]\n");
		return 2;
	}
	for (size_t i = 0; ts_config_key_name(i); i++)
		printf("%s %s\n", ts_config_key_name(i), ts_config_key_scope(i));
	return 0;
}
