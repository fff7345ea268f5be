/* SPDX-License-Identifier: MIT */
/*
 * The groups claim (docs/access-control.md): a claim name or a dotted path
 * (groups, roles, realm_access.roles, resource_access.CLIENT.roles) read
 * from a server answer (introspection, userinfo) or an id_token's payload.
 *
 * "Groups unknown" is never "no groups": a missing claim, an Entra overage
 * marker, a value of the wrong type, or more than the bounds is a state of
 * its own, and the access policy fails closed on every one of them. Every
 * input is untrusted and bounded; nothing here does I/O or logs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth_internal.h"
#include "ts_claim_path.h"
#include "ts_error.h"
#include "ts_mem.h"

int oauth_claim_path_check(const char *path)
{
	return ts_claim_path_check(path);
}

static const char *json_what(const json_t *v)
{
	if (!v)
		return "null";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
	default:
		return "null";
	}
}

static void set_state(struct oauth_groups *g, enum oauth_groups_state st, const char *what)
{
	g->state = st;
	g->n = 0;
	g->len = 0;
	g->buf[0] = '\0';
	if (what)
		(void)snprintf(g->what, sizeof(g->what), "%s", what);
}

void oauth_groups_reset(struct oauth_groups *g)
{
	memset(g, 0, offsetof(struct oauth_groups, buf));
	g->buf[0] = '\0';
}

static bool value_ok(const char *v, size_t n)
{
	if (n == 0 || n > OAUTH_GROUP_MAX || memchr(v, '\0', n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return false;
	return true;
}

const char *oauth_groups_next(const struct oauth_groups *g, const char *prev)
{
	const char *p;

	if (g->n == 0)
		return NULL;
	if (!prev)
		return g->buf;
	p = prev + strlen(prev) + 1;
	return p < g->buf + g->len ? p : NULL;
}

bool oauth_groups_has(const struct oauth_groups *g, const char *v)
{
	for (const char *p = oauth_groups_next(g, NULL); p; p = oauth_groups_next(g, p))
		if (strcmp(p, v) == 0)
			return true;
	return false;
}

int oauth_groups_add(struct oauth_groups *g, const char *v, size_t n)
{
	if (!value_ok(v, n))
		return -EINVAL;
	{
		char tmp[OAUTH_GROUP_MAX + 1];

		memcpy(tmp, v, n);
		tmp[n] = '\0';
		if (oauth_groups_has(g, tmp))
			return 0; /* a duplicate says nothing new */
	}
	if (g->n >= OAUTH_GROUPS_MAX || g->len + n + 1 > sizeof(g->buf))
		return -E2BIG;
	memcpy(g->buf + g->len, v, n);
	g->buf[g->len + n] = '\0';
	g->len += n + 1;
	g->n++;
	return 0;
}

/* The Entra overage markers for the claim whose top-level name is top:
 * "_claim_names" naming it (OIDC Core §5.6.2, distributed claims: the
 * groups are somewhere else), or "hasgroups": true (the implicit flow's
 * marker, about the "groups" claim only). */
static bool overage(json_t *root, const char *top)
{
	json_t *names = json_object_get(root, "_claim_names");

	if (json_is_object(names) && json_object_get(names, top))
		return true;
	return strcmp(top, "groups") == 0 && json_is_true(json_object_get(root, "hasgroups"));
}

void oauth_groups_read(struct oauth_groups *ret, json_t *root, const char *path)
{
	char seg[TS_CLAIM_SEGMENT_MAX + 1];
	const char *p = path;
	json_t *v = root, *e;
	size_t i;
	bool first = true;

	oauth_groups_reset(ret);
	if (!path[0])
		return; /* NOT_READ: no groups_claim */
	if (oauth_claim_path_check(path) < 0) {
		set_state(ret, OAUTH_GROUPS_BAD_PATH, NULL);
		return;
	}
	while (*p) {
		/* checked above: every segment reads */
		if (ts_claim_path_next(&p, seg) < 0) {
			set_state(ret, OAUTH_GROUPS_BAD_PATH, NULL);
			return;
		}
		if (first && overage(root, seg)) {
			set_state(ret, OAUTH_GROUPS_OVERAGE, NULL);
			return;
		}
		first = false;
		if (!json_is_object(v)) {
			char what[sizeof(ret->what)];

			(void)snprintf(what, sizeof(what), "%s where an object was expected",
			               json_what(v));
			set_state(ret, OAUTH_GROUPS_WRONG_TYPE, what);
			return;
		}
		v = json_object_get(v, seg);
		if (!v || json_is_null(v)) {
			set_state(ret, OAUTH_GROUPS_ABSENT, NULL);
			return;
		}
	}
	if (!json_is_array(v)) {
		/* a single string is refused too: "a b" or "a,b" could be one
		 * group or several, and a deny list must never guess */
		set_state(ret, OAUTH_GROUPS_WRONG_TYPE, json_what(v));
		return;
	}
	if (json_array_size(v) > OAUTH_GROUPS_MAX) {
		set_state(ret, OAUTH_GROUPS_TOO_MANY, NULL);
		ret->found = json_array_size(v) > 0xffffffffu ? 0xffffffffu
		                                              : (unsigned)json_array_size(v);
		return;
	}
	ret->state = OAUTH_GROUPS_OK;
	json_array_foreach(v, i, e) {
		int r;

		if (!json_is_string(e)) {
			char what[sizeof(ret->what)];

			(void)snprintf(what, sizeof(what), "an array with %s in it", json_what(e));
			set_state(ret, OAUTH_GROUPS_WRONG_TYPE, what);
			return;
		}
		r = oauth_groups_add(ret, json_string_value(e), json_string_length(e));
		if (r == -EINVAL) {
			set_state(ret, OAUTH_GROUPS_BAD_VALUE, NULL);
			return;
		}
		if (r < 0) {
			set_state(ret, OAUTH_GROUPS_TOO_MANY, NULL);
			ret->found = (unsigned)json_array_size(v);
			return;
		}
	}
}

int oauth_groups_parse(struct oauth_groups *ret, const char *path, const char *body, size_t len)
{
	json_t *j = oauth_json_load(body, len, NULL);

	if (!j)
		return TS_E_BAD_ANSWER;
	oauth_groups_read(ret, j, path);
	json_decref(j);
	return 0;
}

const char *oauth_groups_state_name(enum oauth_groups_state s)
{
	switch (s) {
	case OAUTH_GROUPS_OK:
		return "ok";
	case OAUTH_GROUPS_ABSENT:
		return "absent";
	case OAUTH_GROUPS_OVERAGE:
		return "overage";
	case OAUTH_GROUPS_WRONG_TYPE:
		return "wrong-type";
	case OAUTH_GROUPS_TOO_MANY:
		return "too-many";
	case OAUTH_GROUPS_BAD_VALUE:
		return "bad-value";
	case OAUTH_GROUPS_BAD_PATH:
		return "bad-path";
	case OAUTH_GROUPS_NOT_READ:
	default:
		return "not-read";
	}
}
