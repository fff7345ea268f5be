/* SPDX-License-Identifier: MIT */
/*
 * Root's tokenseal command with a configuration the broker cannot use
 * (issue 15 §0): `status` and `keystore init` print the problem itself
 * (file, line, key, reason), not "ask the administrator"; `doctor` goes on
 * when the file does not parse and prints one `fail config` line per
 * problem, each followed by what to change; the shipped example is "not
 * configured yet". The real CLI and broker (exec mode), as root.
 */
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_run.h"
#include "ts_idp.h"
#include "ts_paths.h"
#include "ts_test.h"

static struct ts_idp idp;
static char cli_bin[512], broker_bin[512], example[1024], cfg[800];

static void want_err(const struct run *r, const char *fmt, ...) TS_PRINTF(2, 3);

static void want_err(const struct run *r, const char *fmt, ...)
{
	char want[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	CHECK_STR(r->err, want);
}

static void has(const char *text, const char *what)
{
	CHECK_MSG(strstr(text, what), "expected \"%s\" in:\n%s", what, text);
}

/* cfg = the test server's config for client ("conf" or "public"), with
 * this build's broker, then more. */
static void write_config(const char *client, const char *more)
{
	char extra[2000];

	snprintf(extra, sizeof(extra), "broker_path = %s\n%s", broker_bin, more ? more : "");
	CHECK_INT(ts_idp_write_config(&idp, cfg, client, extra), 0);
}

/* The shipped file's old fault: client_secret_file names no file. */
static void test_missing_secret(void)
{
	struct run r;
	char more[900], secret[800], problem[3000], line[4000];

	snprintf(secret, sizeof(secret), "%s/gone.secret", idp.dir);
	snprintf(more, sizeof(more), "client_secret_file = %s\n", secret);
	write_config("public", more);
	snprintf(problem, sizeof(problem), "%s: client_secret_file %s refused: %s: does not exist",
	         cfg, secret, secret);

	run_as(&r, NULL, NULL, NULL, ARGS("status", "--user", "carol"));
	CHECK_INT(r.exit, 4);
	want_err(&r,
	         "tokenseal: configuration problem: %s; carol has no tokenseal sign-in, so "
	         "tokenseal stays out of the way\n",
	         problem);
	run_as(&r, NULL, NULL, NULL, ARGS("keystore", "init"));
	CHECK_INT(r.exit, 4);
	want_err(&r, "tokenseal: configuration problem: %s; `tokenseal doctor` shows how to fix it\n",
	         problem);
	run_as(&r, NULL, NULL, NULL, ARGS("doctor"));
	CHECK_INT(r.exit, 4);
	snprintf(line, sizeof(line), "fail  config                %s\n", problem);
	has(r.out, line);
	snprintf(line, sizeof(line),
	         "fix: create %s (owner root, mode 0600) holding the client secret, or comment "
	         "out client_secret_file in %s for a public client\n",
	         secret, cfg);
	has(r.out, line);
}

/* A typo: the file does not parse. status names file, line, key and
 * reason; doctor does not stop at it. */
static void test_typo(void)
{
	struct run r;
	char problem[1400], line[2000];
	unsigned n = 1;
	char *text;

	write_config("conf", "http_timeout = ten\n");
	text = ts_test_read_file(cfg, NULL);
	for (char *p = text; *p && strncmp(p, "http_timeout = ten", 18) != 0; p++)
		if (*p == '\n')
			n++;
	free(text);
	snprintf(problem, sizeof(problem),
	         "%s:%u: key 'http_timeout': 'ten' is not a number (allowed: 1..120)", cfg, n);

	run_as(&r, NULL, NULL, NULL, ARGS("status", "--user", "carol"));
	CHECK_INT(r.exit, 4);
	snprintf(line, sizeof(line), "tokenseal: %s\n", problem);
	has(r.err, line);
	run_as(&r, NULL, NULL, NULL, ARGS("doctor"));
	CHECK_INT(r.exit, 4);
	snprintf(line, sizeof(line), "fail  config                %s does not parse\n", cfg);
	has(r.out, line);
	snprintf(line, sizeof(line), "fail  config                %s\n", problem);
	has(r.out, line);
	snprintf(line, sizeof(line),
	         "fix: edit line %u of %s: give http_timeout a value tokenseal.conf(5) allows "
	         "(the problem says which)\n",
	         n, cfg);
	has(r.out, line);
}

/* The shipped example (with only broker_path set, to reach this build's
 * broker): not configured yet, and doctor says which two keys to set. */
static void test_shipped(void)
{
	struct run r;
	char head[700], line[1600];
	size_t n = 0, hl;
	char *text = ts_test_read_file(example, &n), *all;

	snprintf(head, sizeof(head), "broker_path = %s\n", broker_bin);
	hl = strlen(head);
	all = malloc(hl + n);
	CHECK(all);
	memcpy(all, head, hl);
	memcpy(all + hl, text, n);
	ts_test_write_file(cfg, all, hl + n, 0644);
	free(all);
	free(text);

	/* (a record of carol in the compiled-in keystore, from an installed
	 * package, would be refused instead: the broker looks there too) */
	snprintf(line, sizeof(line), "%s/users/%u.seal", TS_DEFAULT_KEYSTORE_DIR,
	         (unsigned)getpwnam("carol")->pw_uid);
	run_as(&r, NULL, NULL, NULL, ARGS("status", "--user", "carol"));
	CHECK_INT(r.exit, 4);
	if (access(line, F_OK) != 0)
		want_err(&r, "tokenseal: tokenseal is not configured yet: set issuer and client_id in "
		             "%s\n",
		         cfg);
	run_as(&r, NULL, NULL, NULL, ARGS("doctor"));
	CHECK_INT(r.exit, 4);
	snprintf(line, sizeof(line),
	         "fail  broker                tokenseal is not configured yet: set issuer and "
	         "client_id in %s\n",
	         cfg);
	has(r.out, line);
	snprintf(line, sizeof(line),
	         "fix: set issuer = the https:// URL of your identity provider in %s\n", cfg);
	has(r.out, line);
	snprintf(line, sizeof(line),
	         "fix: set client_id = the client id registered at the identity provider in %s\n",
	         cfg);
	has(r.out, line);
}

int main(int argc, char **argv)
{
	if (argc != 4)
		TS_SKIP("usage: test_cli_config TOKENSEAL TOKENSEAL-BROKER tokenseal.conf.example");
	if (geteuid() != 0)
		TS_SKIP("needs root (the CLI runs the broker in exec mode)");
	if (!getpwnam("carol"))
		TS_SKIP("needs the local user carol (scripts/test creates it)");
	snprintf(cli_bin, sizeof(cli_bin), "%s", argv[1]);
	snprintf(broker_bin, sizeof(broker_bin), "%s", argv[2]);
	snprintf(example, sizeof(example), "%s", argv[3]);
	CHECK_INT(ts_idp_start(&idp, 0), 0);
	snprintf(cfg, sizeof(cfg), "%s/tokenseal.conf", idp.dir);
	cli_run_init(cli_bin, cfg);

	RUN(test_missing_secret);
	RUN(test_typo);
	RUN(test_shipped);
	return ts_test_done();
}
