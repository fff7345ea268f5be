/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the access policy (broker/policy.c) over a configuration
 * and a server answer, both untrusted here. Input lines: allow_users,
 * allow_groups, deny_groups, groups_claim (each written into a config file
 * text and loaded by the real parser; a config it refuses is skipped), the
 * local user name, then the server's JSON answer (the groups claim read by
 * oauth_groups_parse). Whatever the input: no crash, msg and the groups
 * text are NUL-terminated inside their buffers, and the decision keeps the
 * rules of policy.h:
 *  - a user in a deny_groups group is refused;
 *  - an allowed user is in allow_users or in an allow_groups group, unless
 *    both lists are empty;
 *  - groups that could not be read never let a group rule pass.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "ts_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

TS_PRINTF(3, 0)
static void silent(void *ctx, int priority, const char *fmt, va_list ap)
{
	(void)ctx, (void)priority, (void)fmt, (void)ap;
}

/* The next line of the input (no newline), at most max bytes; NULL at the end. */
static const char *line(const uint8_t **p, const uint8_t *end, size_t max, size_t *ret_n)
{
	const uint8_t *s = *p, *nl;

	if (s >= end)
		return NULL;
	nl = memchr(s, '\n', (size_t)(end - s));
	*ret_n = (size_t)((nl ? nl : end) - s);
	*p = nl ? nl + 1 : end;
	if (*ret_n > max || memchr(s, '\0', *ret_n))
		return NULL;
	return (const char *)s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = {"allow_users", "allow_groups", "deny_groups",
	                                   "groups_claim"};
	static struct oauth_groups g;
	const struct ts_config_report rep = {.fn = silent};
	const uint8_t *p = data, *end = data + size;
	static struct ts_config cfg;
	char conf[4 * 1100], user[300], msg[512], text[200];
	size_t o = 0, n;
	const char *s;
	int r;

	if (size > 64 * 1024)
		return 0;
	for (size_t i = 0; i < 4; i++) {
		s = line(&p, end, 1000, &n);
		if (!s)
			return 0;
		o += (size_t)snprintf(conf + o, sizeof(conf) - o, "%s = %.*s\n", keys[i], (int)n, s);
	}
	s = line(&p, end, sizeof(user) - 1, &n);
	if (!s || n == 0)
		return 0;
	memcpy(user, s, n);
	user[n] = '\0';
	ts_config_defaults(&cfg);
	if (ts_config_parse(&cfg, conf, o, NULL, "fuzz.conf", &rep) != 0)
		return 0;
	if (oauth_groups_parse(&g, cfg.groups_claim[0] ? cfg.groups_claim : "groups",
	                       (const char *)p, (size_t)(end - p)) < 0)
		oauth_groups_reset(&g);

	memset(msg, 'M', sizeof(msg));
	r = ts_policy_check(&cfg, user, &g, msg, sizeof(msg));
	if (r != 0 && (r != TS_E_POLICY || !memchr(msg, '\0', sizeof(msg)) || !msg[0]))
		__builtin_trap();
	bool known = g.state == OAUTH_GROUPS_OK;
	bool in_deny = false, in_allow = false;
	for (const char *v = known ? oauth_groups_next(&g, NULL) : NULL; v;
	     v = oauth_groups_next(&g, v)) {
		in_deny |= ts_policy_list_has(cfg.deny_groups, v);
		in_allow |= ts_policy_list_has(cfg.allow_groups, v);
	}
	bool deny_set = cfg.deny_groups[strspn(cfg.deny_groups, ", \t")] != '\0';
	if (r == 0) {
		if (deny_set && (in_deny || !known))
			__builtin_trap();
		if (ts_policy_set(&cfg) && !ts_policy_list_has(cfg.allow_users, user) && !in_allow) {
			/* allowed with neither: only a deny-only policy may */
			if (cfg.allow_users[strspn(cfg.allow_users, ", \t")] ||
			    cfg.allow_groups[strspn(cfg.allow_groups, ", \t")])
				__builtin_trap();
		}
	} else if (!deny_set && ts_policy_list_has(cfg.allow_users, user)) {
		__builtin_trap(); /* allow_users lets the user in when nothing denies */
	}
	(void)ts_policy_needs_groups(&cfg);
	for (size_t len = 0; len < sizeof(text); len += 23) {
		memset(text, 'T', sizeof(text));
		ts_policy_groups_text(known ? &g : NULL, text, len);
		if (len && !memchr(text, '\0', len))
			__builtin_trap();
		for (size_t i = len; i < sizeof(text); i++)
			if (text[i] != 'T')
				__builtin_trap();
	}
	return 0;
}
