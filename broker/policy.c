/* SPDX-License-Identifier: MIT */
/*
 * The access policy's decision (see policy.h). No I/O: tests/unit covers it
 * by table.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "ts_error.h"
#include "ts_log.h"

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* The next item of a comma list: *pos moves past it; false at the end.
 * Empty items (", ,") are skipped. */
static bool next_item(const char **pos, const char **ret_s, size_t *ret_n)
{
	const char *p = *pos;

	for (;;) {
		const char *s, *e;

		while (*p == ',' || is_blank(*p))
			p++;
		if (!*p) {
			*pos = p;
			return false;
		}
		s = p;
		while (*p && *p != ',')
			p++;
		e = p;
		while (e > s && is_blank(e[-1]))
			e--;
		if (e > s) {
			*pos = p;
			*ret_s = s;
			*ret_n = (size_t)(e - s);
			return true;
		}
	}
}

static bool list_empty(const char *list)
{
	const char *p = list, *s;
	size_t n;

	return !next_item(&p, &s, &n);
}

bool ts_policy_list_has(const char *list, const char *value)
{
	size_t vn = strlen(value), n;
	const char *p = list, *s;

	while (next_item(&p, &s, &n))
		if (n == vn && memcmp(s, value, n) == 0)
			return true;
	return false;
}

bool ts_policy_needs_groups(const struct ts_config *cfg)
{
	return !list_empty(cfg->allow_groups) || !list_empty(cfg->deny_groups);
}

bool ts_policy_set(const struct ts_config *cfg)
{
	return ts_policy_needs_groups(cfg) || !list_empty(cfg->allow_users);
}

/* The list as messages show it: "a, b, c", cut to len. */
static void list_show(const char *list, char *out, size_t len)
{
	const char *p = list, *s;
	size_t n, o = 0;

	out[0] = '\0';
	while (next_item(&p, &s, &n)) {
		int w = snprintf(out + o, len - o, "%s%.*s", o ? ", " : "", (int)n, s);

		if (w < 0 || (size_t)w >= len - o)
			return;
		o += (size_t)w;
	}
}

static bool groups_known(const struct oauth_groups *g)
{
	return g && g->state == OAUTH_GROUPS_OK;
}

/* Why the groups are unknown, after "USER's groups are unknown: ". */
static void unknown_why(const struct ts_config *cfg, const struct oauth_groups *g, char *out,
                        size_t len)
{
	enum oauth_groups_state st = g ? g->state : OAUTH_GROUPS_NOT_READ;
	const char *claim = cfg->groups_claim;

	switch (st) {
	case OAUTH_GROUPS_ABSENT:
		snprintf(out, len, "the server's answer has no groups claim (groups_claim = %.200s)",
		         claim);
		break;
	case OAUTH_GROUPS_OVERAGE:
		snprintf(out, len,
		         "the server's answer reports a groups overage (Entra: more groups than a "
		         "token carries; use app roles or groups assigned to the application)");
		break;
	case OAUTH_GROUPS_WRONG_TYPE:
		snprintf(out, len,
		         "the server's groups claim is %s, not an array of strings (groups_claim "
		         "= %.200s)",
		         g->what[0] ? g->what : "of another type", claim);
		break;
	case OAUTH_GROUPS_TOO_MANY:
		if (g->found)
			snprintf(out, len,
			         "the server's groups claim has %u values, more than the %d "
			         "tokenseal reads (groups_claim = %.200s)",
			         g->found, OAUTH_GROUPS_MAX, claim);
		else
			snprintf(out, len,
			         "the server's groups claim has more than the %d bytes of values "
			         "tokenseal reads (groups_claim = %.200s)",
			         OAUTH_GROUPS_BYTES, claim);
		break;
	case OAUTH_GROUPS_BAD_VALUE:
		snprintf(out, len,
		         "the server's groups claim has a value that is empty, longer than %d "
		         "bytes or has control characters (groups_claim = %.200s)",
		         OAUTH_GROUP_MAX, claim);
		break;
	case OAUTH_GROUPS_BAD_PATH:
		snprintf(out, len, "groups_claim = %.200s is not a claim name or dotted path",
		         claim);
		break;
	case OAUTH_GROUPS_OK:
	case OAUTH_GROUPS_NOT_READ:
	default:
		if (!claim[0])
			snprintf(out, len, "groups_claim is empty, so no groups are read");
		else
			snprintf(out, len,
			         "no server answer with groups is at hand (groups_claim = %.200s)",
			         claim);
		break;
	}
}

int ts_policy_check(const struct ts_config *cfg, const char *user, const struct oauth_groups *g,
                    char *msg, size_t msglen)
{
	char list[384], why[512];
	bool by_user;

	if (!list_empty(cfg->deny_groups)) {
		char hit[320];
		size_t o = 0;

		if (!groups_known(g)) {
			unknown_why(cfg, g, why, sizeof(why));
			snprintf(msg, msglen, "%s's groups are unknown: %s", user, why);
			return TS_E_POLICY;
		}
		hit[0] = '\0';
		for (const char *v = oauth_groups_next(g, NULL); v; v = oauth_groups_next(g, v)) {
			if (!ts_policy_list_has(cfg->deny_groups, v))
				continue;
			int w = snprintf(hit + o, sizeof(hit) - o, "%s%s", o ? ", " : "", v);
			if (w < 0 || (size_t)w >= sizeof(hit) - o)
				break;
			o += (size_t)w;
		}
		if (hit[0]) {
			list_show(cfg->deny_groups, list, sizeof(list));
			snprintf(msg, msglen, "%s is in a denied group (deny_groups = %s: %s)", user,
			         list, hit);
			return TS_E_POLICY;
		}
	}
	if (list_empty(cfg->allow_users) && list_empty(cfg->allow_groups))
		return 0;
	by_user = !list_empty(cfg->allow_users);
	if (by_user && ts_policy_list_has(cfg->allow_users, user))
		return 0;
	if (list_empty(cfg->allow_groups)) {
		list_show(cfg->allow_users, list, sizeof(list));
		snprintf(msg, msglen,
		         "%s is not allowed to log in to this host (allow_users = %s)", user, list);
		return TS_E_POLICY;
	}
	if (!groups_known(g)) {
		unknown_why(cfg, g, why, sizeof(why));
		snprintf(msg, msglen, "%s's groups are unknown: %s", user, why);
		return TS_E_POLICY;
	}
	for (const char *v = oauth_groups_next(g, NULL); v; v = oauth_groups_next(g, v))
		if (ts_policy_list_has(cfg->allow_groups, v))
			return 0;
	list_show(cfg->allow_groups, list, sizeof(list));
	snprintf(msg, msglen,
	         "%s is not in any group allowed to log in to this host (allow_groups = %s)%s",
	         user, list, by_user ? " and not in allow_users" : "");
	return TS_E_POLICY;
}

void ts_policy_groups_text(const struct oauth_groups *g, char *out, size_t len)
{
	size_t o = 0;
	unsigned shown = 0;

	if (len == 0)
		return;
	out[0] = '\0';
	if (!g || g->state != OAUTH_GROUPS_OK) {
		snprintf(out, len, "unknown (%s)",
		         oauth_groups_state_name(g ? g->state : OAUTH_GROUPS_NOT_READ));
		return;
	}
	if (g->n == 0) {
		snprintf(out, len, "none");
		return;
	}
	/* room for the tail " (+NNNN more)" */
	if (len < 24) {
		snprintf(out, len, "%u groups", g->n);
		return;
	}
	out[o++] = '[';
	out[o] = '\0';
	for (const char *v = oauth_groups_next(g, NULL); v; v = oauth_groups_next(g, v)) {
		char one[OAUTH_GROUP_MAX + 1];
		size_t n;

		ts_sanitize_text(one, sizeof(one), v, strlen(v));
		n = strlen(one);
		if (o + n + 3 + 20 > len)
			break;
		if (shown) {
			memcpy(out + o, ", ", 2);
			o += 2;
		}
		memcpy(out + o, one, n);
		o += n;
		out[o] = '\0';
		shown++;
	}
	out[o++] = ']';
	out[o] = '\0';
	if (shown < g->n)
		snprintf(out + o, len - o, " (+%u more)", g->n - shown);
}
