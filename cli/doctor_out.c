/* SPDX-License-Identifier: MIT */
/*
 * The checks of `tokenseal doctor`, kept in order, and how they are shown:
 * one line per check ("STATUS  NAME  message", then "fix: ..." unless ok),
 * or with --json one object (schema in tokenseal(1), keys only ever added):
 *   {"schema": 1, "exit_code": N,
 *    "counts": {"ok": N, "warn": N, "fail": N, "skip": N},
 *    "checks": [{"name", "status", "message", "fix"}]}
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor.h"

void cli_doctor_line(struct doctor *d, const char *status, const char *name, const char *fix,
                     const char *fmt, ...)
{
	char msg[1024];
	struct doc_check *k;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct doc_check *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return;
		d->v = v;
		d->cap = cap;
	}
	k = &d->v[d->n];
	k->name = strdup(name);
	k->status = strdup(status);
	k->message = strdup(msg);
	k->fix = fix && fix[0] ? strdup(fix) : NULL;
	if (!k->name || !k->status || !k->message) {
		free(k->name);
		free(k->status);
		free(k->message);
		free(k->fix);
		return;
	}
	k->exit = strncmp(name, "keystore", 8) ? CLI_EXIT_CONFIG : CLI_EXIT_KEYSTORE;
	d->n++;
}

void doc_set_exit(struct doctor *d, enum cli_exit x)
{
	if (d->n)
		d->v[d->n - 1].exit = x;
}

/* 4 when a check fails that the configuration (or the host's) must fix,
 * else 5 when a keystore check fails, else 3 when the server or the
 * tokenseal service cannot be reached, else 0 (warnings allowed). */
enum cli_exit doc_exit(const struct doctor *d)
{
	bool config = false, keystore = false, unavailable = false;

	for (size_t i = 0; i < d->n; i++) {
		if (strcmp(d->v[i].status, "fail"))
			continue;
		config = config || d->v[i].exit == CLI_EXIT_CONFIG;
		keystore = keystore || d->v[i].exit == CLI_EXIT_KEYSTORE;
		unavailable = unavailable || d->v[i].exit == CLI_EXIT_UNAVAILABLE;
	}
	if (config)
		return CLI_EXIT_CONFIG;
	if (keystore)
		return CLI_EXIT_KEYSTORE;
	return unavailable ? CLI_EXIT_UNAVAILABLE : CLI_EXIT_OK;
}

static void print_json(const struct doctor *d, FILE *f)
{
	json_t *o = json_object(), *a = json_array(), *n = json_object();
	const char *const st[] = {"ok", "warn", "fail", "skip"};
	char *text;

	if (!o || !a || !n) {
		json_decref(o);
		json_decref(a);
		json_decref(n);
		return;
	}
	for (size_t k = 0; k < 4; k++) {
		json_int_t c = 0;

		for (size_t i = 0; i < d->n; i++)
			c += !strcmp(d->v[i].status, st[k]);
		json_object_set_new(n, st[k], json_integer(c));
	}
	for (size_t i = 0; i < d->n; i++) {
		json_t *c = json_object();

		if (!c)
			continue;
		json_object_set_new(c, "name", json_string(d->v[i].name));
		json_object_set_new(c, "status", json_string(d->v[i].status));
		json_object_set_new(c, "message", json_string(d->v[i].message));
		json_object_set_new(c, "fix", d->v[i].fix ? json_string(d->v[i].fix) : json_null());
		json_array_append_new(a, c);
	}
	json_object_set_new(o, "schema", json_integer(1));
	json_object_set_new(o, "exit_code", json_integer(doc_exit(d)));
	json_object_set_new(o, "counts", n);
	json_object_set_new(o, "checks", a);
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text)
		fprintf(f, "%s\n", text);
	free(text);
	json_decref(o);
}

void doc_print(const struct doctor *d, FILE *f)
{
	bool color = d->c->color && isatty(fileno(f));

	if (d->json) {
		print_json(d, f);
		fflush(f);
		return;
	}
	for (size_t i = 0; i < d->n; i++) {
		const struct doc_check *k = &d->v[i];
		const char *col = !strcmp(k->status, "fail")   ? "\033[31m"
		                  : !strcmp(k->status, "warn") ? "\033[33m"
		                  : !strcmp(k->status, "ok")   ? "\033[32m"
		                                               : "";

		if (color)
			fprintf(f, "%s%-4s\033[0m  %-20s  %s\n", col, k->status, k->name,
			        k->message);
		else
			fprintf(f, "%-4s  %-20s  %s\n", k->status, k->name, k->message);
		if (strcmp(k->status, "ok") && k->fix)
			fprintf(f, "      %-20s  fix: %s\n", "", k->fix);
	}
	fflush(f);
}

void doc_free(struct doctor *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].name);
		free(d->v[i].status);
		free(d->v[i].message);
		free(d->v[i].fix);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
	json_decref(d->discovery);
	d->discovery = NULL;
	free(d->svc);
	d->svc = NULL;
	d->nsvc = 0;
}
