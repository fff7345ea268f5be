/* SPDX-License-Identifier: MIT */
/*
 * What the command says when something went wrong: "tokenseal: ..." lines
 * on stderr, and with --json the same as one object on stdout,
 *   {"error": {"class", "code", "exit_code", "message"}}
 * (tokenseal(1), JSON OUTPUT), so that a script reading stdout always gets
 * one JSON value. Colour is decided here too, per stream.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ts_error.h"

/* the error lines of this run, joined with "; " */
static char err_text[2048];
static int err_code;
static int err_state;
static bool err_has_code;

static void keep(const char *fmt, va_list ap)
{
	size_t n = strlen(err_text);
	int k;

	if (n && n + 2 < sizeof(err_text)) {
		memcpy(err_text + n, "; ", 3);
		n += 2;
	}
	if (n + 1 >= sizeof(err_text))
		return;
	k = vsnprintf(err_text + n, sizeof(err_text) - n, fmt, ap);
	(void)k; /* a cut message is still the message */
}

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("tokenseal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	va_start(ap, fmt);
	keep(fmt, ap);
	va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("tokenseal: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_note_result(int code, int state)
{
	if (err_has_code)
		return; /* the first result is the one the exit code came from */
	err_code = code;
	err_state = state;
	err_has_code = true;
}

int cli_json_print(json_t *o)
{
	char *s;
	int r = 0;

	if (!o)
		return -1;
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		return -1;
	if (printf("%s\n", s) < 0 || fflush(stdout) != 0)
		r = -1;
	free(s);
	return r;
}

void cli_json_error(FILE *f, int exit)
{
	json_t *o = json_object(), *e = json_object();
	struct cli_class k;
	const char *cls = cli_class_of_exit(exit);
	char *s;

	if (!o || !e) {
		json_decref(o);
		json_decref(e);
		return;
	}
	/* the broker's code names the class better than the exit code alone
	 * (access-policy and permission share 7), as long as they agree */
	if (err_has_code) {
		cli_classify(err_code, err_state, &k);
		if ((int)k.exit == exit)
			cls = k.name;
	}
	json_object_set_new(e, "class", json_string(cls));
	json_object_set_new(e, "code",
	                    err_has_code && err_code < 0 ? json_integer(err_code) : json_null());
	json_object_set_new(e, "exit_code", json_integer(exit));
	json_object_set_new(e, "message",
	                    json_string(err_text[0]    ? err_text
	                                : err_has_code ? ts_strerror(err_code)
	                                               : cls));
	json_object_set_new(o, "error", e);
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (s) {
		fprintf(f, "%s\n", s);
		fflush(f);
		free(s);
	}
}

bool cli_color_for(int fd)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (nc && nc[0])
		return false;
	if (!term || !term[0] || !strcmp(term, "dumb"))
		return false;
	return isatty(fd) == 1;
}
