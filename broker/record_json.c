/* SPDX-License-Identifier: MIT */
/*
 * The stored record's JSON codec (the payload of a sealed keystore record).
 * Bounded: every string goes into a fixed field or a secret copy; the token
 * copies inside jansson's objects are wiped before they are freed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lifecycle.h"
#include "ts_error.h"
#include "ts_mem.h"

static const char *state_name(enum ts_rec_state st)
{
	switch (st) {
	case TS_REC_NEEDS_LOGIN:
		return "needs-login";
	case TS_REC_SIGNED_OUT:
		return "signed-out";
	case TS_REC_VALID:
	default:
		return "valid";
	}
}

/* A state this version does not know is never taken for valid. */
static enum ts_rec_state state_parse(const char *s)
{
	if (!s[0] || strcmp(s, "valid") == 0)
		return TS_REC_VALID;
	if (strcmp(s, "signed-out") == 0)
		return TS_REC_SIGNED_OUT;
	return TS_REC_NEEDS_LOGIN;
}

static int get_str(json_t *o, const char *key, char *out, size_t outlen);

/* The most bytes of group values a record keeps (the record holds the
 * tokens too, and has its own bound): a larger set is not kept, so an
 * answer revalidate_cache would reuse is not reused for a group policy and
 * the server is asked again (eng_policy_cache_usable). */
#define RECORD_GROUPS_BYTES 8192

/* The groups noted with the last positive answer: only when read. */
static int groups_to_json(json_t *o, const struct ts_record *r)
{
	const struct oauth_groups *g = &r->groups;
	json_t *a;

	if (g->state == OAUTH_GROUPS_NOT_READ ||
	    (g->state == OAUTH_GROUPS_OK && g->len > RECORD_GROUPS_BYTES))
		return 0;
	if (json_object_set_new(o, "groups_claim", json_string(r->groups_claim)) < 0 ||
	    json_object_set_new(o, "groups_state", json_string(oauth_groups_state_name(g->state))) <
	        0 ||
	    json_object_set_new(o, "groups_what", json_string(g->what)) < 0 ||
	    json_object_set_new(o, "groups_found", json_integer(g->found)) < 0)
		return -ENOMEM;
	if (g->state != OAUTH_GROUPS_OK)
		return 0;
	a = json_array();
	if (!a || json_object_set_new(o, "groups", a) < 0)
		return -ENOMEM;
	for (const char *v = oauth_groups_next(g, NULL); v; v = oauth_groups_next(g, v))
		if (json_array_append_new(a, json_string(v)) < 0)
			return -ENOMEM;
	return 0;
}

static enum oauth_groups_state groups_state_parse(const char *s)
{
	static const enum oauth_groups_state all[] = {
	    OAUTH_GROUPS_OK,	     OAUTH_GROUPS_ABSENT,    OAUTH_GROUPS_OVERAGE,
	    OAUTH_GROUPS_WRONG_TYPE, OAUTH_GROUPS_TOO_MANY,  OAUTH_GROUPS_BAD_VALUE,
	    OAUTH_GROUPS_BAD_PATH,
	};

	for (size_t i = 0; i < TS_ARRAY_SIZE(all); i++)
		if (strcmp(s, oauth_groups_state_name(all[i])) == 0)
			return all[i];
	return OAUTH_GROUPS_NOT_READ;
}

/* Lenient: stored groups that fail any check are dropped (NOT_READ: the
 * next use asks the server), never a reason to call the record corrupt. */
static void groups_from_json(json_t *o, struct ts_record *r)
{
	struct oauth_groups *g = &r->groups;
	json_t *v = json_object_get(o, "groups_state"), *a, *e;
	size_t i;

	oauth_groups_reset(g);
	r->groups_claim[0] = '\0';
	if (!json_is_string(v))
		return;
	g->state = groups_state_parse(json_string_value(v));
	if (g->state == OAUTH_GROUPS_NOT_READ ||
	    get_str(o, "groups_claim", r->groups_claim, sizeof(r->groups_claim)) < 0 ||
	    get_str(o, "groups_what", g->what, sizeof(g->what)) < 0)
		goto drop;
	v = json_object_get(o, "groups_found");
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 0xffffffffLL)
		g->found = (unsigned)json_integer_value(v);
	if (g->state != OAUTH_GROUPS_OK)
		return;
	a = json_object_get(o, "groups");
	if (!json_is_array(a) || json_array_size(a) > OAUTH_GROUPS_MAX)
		goto drop;
	json_array_foreach(a, i, e) {
		if (!json_is_string(e) ||
		    oauth_groups_add(g, json_string_value(e), json_string_length(e)) < 0)
			goto drop;
	}
	return;
drop:
	oauth_groups_reset(g);
	r->groups_claim[0] = '\0';
}

int ts_record_to_json(const struct ts_record *r, char **ret_json, size_t *ret_len)
{
	json_t *o = json_object();
	char *s;
	int rc = -ENOMEM;

	if (!o)
		return -ENOMEM;
	if (json_object_set_new(o, "v", json_integer(1)) < 0 ||
	    json_object_set_new(o, "access_token",
	                        json_string(r->access_token ? r->access_token : "")) < 0 ||
	    (r->refresh_token &&
	     json_object_set_new(o, "refresh_token", json_string(r->refresh_token)) < 0) ||
	    json_object_set_new(o, "id_present", json_boolean(r->id.present)) < 0 ||
	    json_object_set_new(o, "id_iss", json_string(r->id.iss)) < 0 ||
	    json_object_set_new(o, "id_sub", json_string(r->id.sub)) < 0 ||
	    json_object_set_new(o, "id_aud", json_string(r->id.aud)) < 0 ||
	    json_object_set_new(o, "sub", json_string(r->sub)) < 0 ||
	    json_object_set_new(o, "username", json_string(r->username)) < 0 ||
	    json_object_set_new(o, "issuer", json_string(r->issuer)) < 0 ||
	    json_object_set_new(o, "client_id", json_string(r->client_id)) < 0 ||
	    json_object_set_new(o, "obtained_at", json_integer(r->obtained_at)) < 0 ||
	    json_object_set_new(o, "expires_in", json_integer(r->expires_in)) < 0 ||
	    json_object_set_new(o, "last_positive_check", json_integer(r->last_positive_check)) <
	        0 ||
	    json_object_set_new(o, "state", json_string(state_name(r->state))) < 0 ||
	    json_object_set_new(o, "reason", json_string(r->reason)) < 0 ||
	    json_object_set_new(o, "needs_login_rt_hash", json_string(r->needs_login_rt_hash)) <
	        0 ||
	    json_object_set_new(o, "sessions", json_integer(r->sessions)) < 0 ||
	    json_object_set_new(o, "sessions_boot", json_string(r->sessions_boot)) < 0 ||
	    json_object_set_new(o, "skew", json_integer(r->skew)) < 0 ||
	    json_object_set_new(o, "method", json_string(r->method)) < 0 ||
	    json_object_set_new(o, "rejected_at", json_integer(r->rejected_at)) < 0 ||
	    json_object_set_new(o, "rejections", json_integer(r->rejections)) < 0 ||
	    json_object_set_new(o, "held_at", json_integer(r->held_at)) < 0 ||
	    json_object_set_new(o, "holds", json_integer(r->holds)) < 0 ||
	    json_object_set_new(o, "last_refresh_at", json_integer(r->last_refresh_at)) < 0 ||
	    json_object_set_new(o, "last_error_at", json_integer(r->last_error_at)) < 0 ||
	    json_object_set_new(o, "last_error", json_integer(r->last_error)) < 0 ||
	    groups_to_json(o, r) < 0)
		goto out;
	s = json_dumps(o, JSON_COMPACT);
	if (!s)
		goto out;
	*ret_len = strlen(s);
	*ret_json = s;
	rc = 0;
out:
	/* the object holds token copies: wipe them before jansson frees */
	{
		json_t *v = json_object_get(o, "access_token");
		if (v && json_string_value(v))
			ts_wipe((void *)(uintptr_t)json_string_value(v), json_string_length(v));
		v = json_object_get(o, "refresh_token");
		if (v && json_string_value(v))
			ts_wipe((void *)(uintptr_t)json_string_value(v), json_string_length(v));
	}
	json_decref(o);
	return rc;
}

static int get_str(json_t *o, const char *key, char *out, size_t outlen)
{
	json_t *v = json_object_get(o, key);

	out[0] = '\0';
	if (!v)
		return 0;
	if (!json_is_string(v))
		return TS_E_CORRUPT;
	return ts_strlcpy(out, json_string_value(v), outlen) < 0 ? TS_E_CORRUPT : 0;
}

static int64_t get_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static void wipe_json_secret(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (v && json_is_string(v))
		ts_wipe((void *)(uintptr_t)json_string_value(v), json_string_length(v));
}

int ts_record_from_json(struct ts_record *ret, const uint8_t *buf, size_t len)
{
	struct ts_record r = {0};
	json_error_t jerr;
	json_t *o, *v;
	char state[32];
	int rc = TS_E_CORRUPT;

	o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return TS_E_CORRUPT;
	if (!json_is_object(o))
		goto out;
	v = json_object_get(o, "access_token");
	if (!json_is_string(v))
		goto out;
	r.access_token = ts_strdup_secret(json_string_value(v));
	v = json_object_get(o, "refresh_token");
	if (v && json_is_string(v) && json_string_length(v) > 0)
		r.refresh_token = ts_strdup_secret(json_string_value(v));
	if (!r.access_token ||
	    (v && json_is_string(v) && json_string_length(v) > 0 && !r.refresh_token)) {
		rc = -ENOMEM;
		goto out;
	}
	r.id.present = json_is_true(json_object_get(o, "id_present"));
	if (get_str(o, "id_iss", r.id.iss, sizeof(r.id.iss)) < 0 ||
	    get_str(o, "id_sub", r.id.sub, sizeof(r.id.sub)) < 0 ||
	    get_str(o, "id_aud", r.id.aud, sizeof(r.id.aud)) < 0 ||
	    get_str(o, "sub", r.sub, sizeof(r.sub)) < 0 ||
	    get_str(o, "username", r.username, sizeof(r.username)) < 0 ||
	    get_str(o, "issuer", r.issuer, sizeof(r.issuer)) < 0 ||
	    get_str(o, "client_id", r.client_id, sizeof(r.client_id)) < 0 ||
	    get_str(o, "state", state, sizeof(state)) < 0 ||
	    get_str(o, "reason", r.reason, sizeof(r.reason)) < 0 ||
	    get_str(o, "needs_login_rt_hash", r.needs_login_rt_hash,
	            sizeof(r.needs_login_rt_hash)) < 0 ||
	    get_str(o, "method", r.method, sizeof(r.method)) < 0)
		goto out;
	r.obtained_at = get_int(o, "obtained_at");
	r.expires_in = get_int(o, "expires_in");
	r.last_positive_check = get_int(o, "last_positive_check");
	r.sessions = (int)get_int(o, "sessions");
	/* not worth losing a record over: a bad one is not known */
	if (get_str(o, "sessions_boot", r.sessions_boot, sizeof(r.sessions_boot)) < 0)
		r.sessions_boot[0] = '\0';
	r.skew = get_int(o, "skew");
	r.rejected_at = get_int(o, "rejected_at");
	r.rejections = (int)get_int(o, "rejections");
	if (r.rejections < 0 || r.rejections > 1000)
		r.rejections = 1000;
	r.held_at = get_int(o, "held_at");
	r.holds = (int)get_int(o, "holds");
	if (r.holds < 0 || r.holds > 1000)
		r.holds = 1000;
	r.last_refresh_at = get_int(o, "last_refresh_at");
	r.last_error_at = get_int(o, "last_error_at");
	{
		int64_t le = get_int(o, "last_error");

		/* a ts_err or a negative errno; anything else is no error */
		r.last_error = le < 0 && le > -100000 ? (int)le : 0;
	}
	r.state = state_parse(state);
	groups_from_json(o, &r);
	*ret = r;
	memset(&r, 0, sizeof(r));
	rc = 0;
out:
	wipe_json_secret(o, "access_token");
	wipe_json_secret(o, "refresh_token");
	json_decref(o);
	ts_record_clear(&r);
	return rc;
}
