/* SPDX-License-Identifier: MIT */
/*
 * ts_config_problems: the problems a load, a validation and a path check
 * report are kept for the caller in order (the closing count and the
 * warnings are not problems), every report still reaches the next sink,
 * and ts_config_problem_fix says what to change for each message shape.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ts_config.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_test.h"

static unsigned passed, passed_warn;

TS_PRINTF(3, 0)
static void next_fn(void *ctx, int prio, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)fmt;
	(void)ap;
	passed++;
	if (prio == LOG_WARNING)
		passed_warn++;
}

static const struct ts_config_report next = {next_fn, NULL};

static void test_kept_in_order(void)
{
	static const char file[] = "issuer = https://idp.example.org\n"
	                           "http_timeout = ten\n"
	                           "unknown_thing = 1\n"
	                           "revalidate = sometimes\n";
	struct ts_config_problems p;
	struct ts_config c;

	ts_config_defaults(&c);
	ts_config_problems_init(&p, &next);
	CHECK_INT(ts_config_parse(&c, file, sizeof(file) - 1, NULL, "t.conf", &p.rep), TS_E_CONFIG);
	CHECK_INT(p.count, 2);
	CHECK_INT(ts_config_problems_kept(&p), 2);
	CHECK_STR(p.text[0], "t.conf:2: key 'http_timeout': 'ten' is not a number (allowed: 1..120)");
	CHECK_MSG(strncmp(p.text[1], "t.conf:4: key 'revalidate': 'sometimes' is not one of", 53) == 0,
	          "%s", p.text[1]);
	/* two errors, the warning and the closing count all reached next */
	CHECK_INT(passed, 4);
	CHECK_INT(passed_warn, 1);

	/* validation: both missing keys, in order; a NULL next keeps only */
	ts_config_defaults(&c);
	ts_config_problems_init(&p, NULL);
	CHECK_INT(ts_config_validate(&c, "t.conf", &p.rep), TS_E_CONFIG);
	CHECK_INT(p.count, 2);
	CHECK_STR(p.text[0], "t.conf: issuer is not set");
	CHECK_STR(p.text[1], "t.conf: client_id is not set");
}

static void test_many(void)
{
	char file[2048] = "";
	struct ts_config_problems p;
	struct ts_config c;

	for (int i = 0; i < TS_CONFIG_PROBLEMS_MAX + 3; i++) {
		size_t l = strlen(file);

		snprintf(file + l, sizeof(file) - l, "http_timeout = x%d\n", i);
	}
	ts_config_defaults(&c);
	ts_config_problems_init(&p, NULL);
	CHECK_INT(ts_config_parse(&c, file, strlen(file), NULL, "t.conf", &p.rep), TS_E_CONFIG);
	CHECK_INT(p.count, TS_CONFIG_PROBLEMS_MAX + 3);
	CHECK_INT(ts_config_problems_kept(&p), TS_CONFIG_PROBLEMS_MAX);
	CHECK_MSG(strstr(p.text[TS_CONFIG_PROBLEMS_MAX - 1], "'x7'"), "%s",
	          p.text[TS_CONFIG_PROBLEMS_MAX - 1]);
}

static void fix_is(const char *problem, const char *want)
{
	char out[600];

	ts_config_problem_fix(problem, "/etc/ts.conf", out, sizeof(out));
	CHECK_STR(out, want);
}

static void test_fixes(void)
{
	fix_is("/etc/ts.conf:7: key 'http_timeout': 'ten' is not a number (allowed: 1..120)",
	       "edit line 7 of /etc/ts.conf: give http_timeout a value tokenseal.conf(5) allows "
	       "(the problem says which)");
	fix_is("/etc/ts.conf:3: 'oops': expected 'key = value', '[service NAME]' or a comment",
	       "edit line 3 of /etc/ts.conf: each line is 'key = value', '[service NAME]' or a "
	       "comment (tokenseal.conf(5))");
	fix_is("/etc/ts.conf: refused: group- or world-writable (mode 0666); run chmod go-w "
	       "/etc/ts.conf",
	       "run chmod go-w /etc/ts.conf");
	fix_is("/etc/ts.conf: not found",
	       "create /etc/ts.conf (the package's example is tokenseal.conf.example; "
	       "tokenseal.conf(5))");
	fix_is("/etc/ts.conf: issuer is not set",
	       "set issuer = the https:// URL of your identity provider in /etc/ts.conf");
	fix_is("/etc/ts.conf: client_id is not set",
	       "set client_id = the client id registered at the identity provider in /etc/ts.conf");
	fix_is("/etc/ts.conf: client_secret_file /etc/tokenseal/client.secret refused: "
	       "/etc/tokenseal/client.secret: does not exist",
	       "create /etc/tokenseal/client.secret (owner root, mode 0600) holding the client "
	       "secret, or comment out client_secret_file in /etc/ts.conf for a public client");
	fix_is("/etc/ts.conf: ca_file /opt/ts/ca.pem refused: /opt/ts: group- or world-writable "
	       "(mode 0775)",
	       "make /opt/ts/ca.pem and every folder above it owned by root and not group- or "
	       "world-writable, or point ca_file in /etc/ts.conf elsewhere");
	fix_is("/etc/ts.conf: token_endpoint 'http://x' is not a valid URL: not https",
	       "set token_endpoint in /etc/ts.conf to an https:// URL");
	fix_is("/etc/ts.conf: min_uid 70000 is above max_uid 60000: no uid would be served",
	       "lower min_uid or raise max_uid in /etc/ts.conf");
	fix_is("/etc/ts.conf: login_methods includes token, but revalidate = userinfo: ...",
	       "remove token from login_methods in /etc/ts.conf, or set client_secret_file (a "
	       "confidential client) so pasted tokens can be introspected");
	fix_is("something else entirely", "fix it in /etc/ts.conf (tokenseal.conf(5))");
}

int main(void)
{
	RUN(test_kept_in_order);
	RUN(test_many);
	RUN(test_fixes);
	return ts_test_done();
}
