/* SPDX-License-Identifier: MIT */
/*
 * Keeping the configuration's problems for the caller (the broker returns
 * them to root's CLI and `tokenseal doctor`, not only to its log), and the
 * one-line fix doctor prints for each. The fixes follow the message shapes
 * of ts_config.c, ts_config_file.c and ts_config_check.c.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ts_config.h"
#include "ts_config_internal.h"
#include "ts_log.h"

TS_PRINTF(3, 0)
static void keep(void *ctx, int prio, const char *fmt, va_list ap)
{
	struct ts_config_problems *p = ctx;
	va_list copy;

	va_copy(copy, ap);
	if (prio <= LOG_ERR && strcmp(fmt, TS_CONFIG_SUMMARY_FMT) != 0) {
		if (p->count < TS_CONFIG_PROBLEMS_MAX)
			(void)vsnprintf(p->text[p->count], TS_CONFIG_PROBLEM_LEN, fmt, copy);
		p->count++;
	}
	va_end(copy);
	if (p->next && p->next->fn)
		p->next->fn(p->next->ctx, prio, fmt, ap);
}

void ts_config_problems_init(struct ts_config_problems *p, const struct ts_config_report *next)
{
	memset(p, 0, sizeof(*p));
	p->next = next;
	p->rep.fn = keep;
	p->rep.ctx = p;
}

unsigned ts_config_problems_kept(const struct ts_config_problems *p)
{
	return p->count < TS_CONFIG_PROBLEMS_MAX ? p->count : TS_CONFIG_PROBLEMS_MAX;
}

/* The first word of s (a key name), at most outlen - 1 bytes. */
static void first_word(const char *s, char *out, size_t outlen)
{
	size_t n = strcspn(s, " ':");

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* The second word of s (the path after "KEY "). */
static void second_word(const char *s, char *out, size_t outlen)
{
	const char *sp = strchr(s, ' ');

	if (!sp) {
		out[0] = '\0';
		return;
	}
	first_word(sp + 1, out, outlen);
}

void ts_config_problem_fix(const char *problem, const char *origin, char *out, size_t outlen)
{
	size_t ol = strlen(origin);
	const char *rest = problem, *run;
	char key[64], path[TS_PATH_MAX];
	unsigned line = 0;

	out[0] = '\0';
	if (strncmp(problem, origin, ol) == 0 && problem[ol] == ':') {
		rest = problem + ol + 1;
		if (*rest >= '0' && *rest <= '9') {
			while (*rest >= '0' && *rest <= '9')
				line = line * 10 + (unsigned)(*rest++ - '0');
			if (*rest == ':')
				rest++;
		}
		while (*rest == ' ')
			rest++;
	}
	if (line) {
		if (strncmp(rest, "key '", 5) == 0) {
			first_word(rest + 5, key, sizeof(key));
			snprintf(out, outlen,
			         "edit line %u of %s: give %s a value tokenseal.conf(5) allows (the "
			         "problem says which)",
			         line, origin, key);
		} else {
			snprintf(out, outlen,
			         "edit line %u of %s: each line is 'key = value', '[service NAME]' "
			         "or a comment (tokenseal.conf(5))",
			         line, origin);
		}
		return;
	}
	if ((run = strstr(rest, "; run ")) != NULL) {
		snprintf(out, outlen, "%s", run + 2);
		return;
	}
	if (strcmp(rest, "not found") == 0) {
		snprintf(out, outlen,
		         "create %s (the package's example is tokenseal.conf.example; "
		         "tokenseal.conf(5))",
		         origin);
	} else if (strncmp(rest, "refused: not a regular file", 27) == 0) {
		snprintf(out, outlen, "make %s a regular file owned by root, mode 0644", origin);
	} else if (strncmp(rest, "refused: larger than", 20) == 0) {
		snprintf(out, outlen, "shorten %s to at most %d bytes", origin, TS_CONFIG_MAX_SIZE);
	} else if (strncmp(rest, "cannot read", 11) == 0) {
		snprintf(out, outlen, "make %s readable by root", origin);
	} else if (strcmp(rest, "issuer is not set") == 0) {
		snprintf(out, outlen,
		         "set issuer = the https:// URL of your identity provider in %s", origin);
	} else if (strcmp(rest, "client_id is not set") == 0) {
		snprintf(out, outlen,
		         "set client_id = the client id registered at the identity provider in %s",
		         origin);
	} else if (strcmp(rest, "login_methods is empty") == 0) {
		snprintf(out, outlen, "set login_methods = device in %s", origin);
	} else if (strncmp(rest, "login_methods includes token", 28) == 0) {
		snprintf(out, outlen,
		         "remove token from login_methods in %s, or set client_secret_file (a "
		         "confidential client) so pasted tokens can be introspected",
		         origin);
	} else if (strncmp(rest, "min_uid", 7) == 0) {
		snprintf(out, outlen, "lower min_uid or raise max_uid in %s", origin);
	} else if (strncmp(rest, "the configuration file refused", 30) == 0) {
		snprintf(out, outlen,
		         "make %s and every folder above it owned by root and not group- or "
		         "world-writable",
		         origin);
	} else if (strstr(rest, " is not a valid URL")) {
		first_word(rest, key, sizeof(key));
		snprintf(out, outlen, "set %s in %s to an https:// URL", key, origin);
	} else if (strstr(rest, " must be an absolute path")) {
		first_word(rest, key, sizeof(key));
		snprintf(out, outlen, "make %s in %s an absolute path", key, origin);
	} else if (strstr(rest, " must not be empty")) {
		first_word(rest, key, sizeof(key));
		snprintf(out, outlen, "set %s in %s, or remove its line for the default", key, origin);
	} else if (strstr(rest, " refused: ")) {
		bool missing = strstr(rest, ": does not exist") || strstr(rest, "No such file");

		first_word(rest, key, sizeof(key));
		second_word(rest, path, sizeof(path));
		if (strcmp(key, "client_secret_file") == 0 && missing)
			snprintf(out, outlen,
			         "create %s (owner root, mode 0600) holding the client secret, or "
			         "comment out client_secret_file in %s for a public client",
			         path, origin);
		else if (missing)
			snprintf(out, outlen, "create %s, or point %s in %s at a file that exists",
			         path, key, origin);
		else
			snprintf(out, outlen,
			         "make %s and every folder above it owned by root and not group- or "
			         "world-writable, or point %s in %s elsewhere",
			         path, key, origin);
	} else if (strncmp(rest, "nss_", 4) == 0) {
		first_word(rest, key, sizeof(key));
		snprintf(out, outlen, "fix %s in %s (tokenseal.conf(5), the NSS keys)", key, origin);
	} else {
		snprintf(out, outlen, "fix it in %s (tokenseal.conf(5))", origin);
	}
}
