/* SPDX-License-Identifier: MIT */
/*
 * What `status --json`, `token --json` and `token --exec-credential` print
 * (schemas in tokenseal(1); "schema": 1 is kept stable: fields are only
 * ever added), and the human form of status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "ts_proto.h"

static json_t *time_or_null(int64_t t)
{
	char buf[40];

	if (t <= 0)
		return json_null();
	cli_rfc3339(buf, sizeof(buf), t);
	return json_string(buf);
}

static json_t *copy_or_null(json_t *src, const char *key)
{
	json_t *v = src ? json_object_get(src, key) : NULL;

	return v ? json_deep_copy(v) : json_null();
}

static int64_t int_of(json_t *src, const char *key, int64_t dflt)
{
	json_t *v = src ? json_object_get(src, key) : NULL;

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static json_t *error_object(int code, int state, int64_t at, const char *reason)
{
	struct cli_class k;
	json_t *e = json_object();

	if (!e)
		return json_null();
	cli_classify(code, state, &k);
	json_object_set_new(e, "code", json_integer(code));
	json_object_set_new(e, "text", json_string(ts_strerror(code)));
	json_object_set_new(e, "class", json_string(k.name));
	json_object_set_new(e, "heals_by_itself", json_boolean(k.heals));
	json_object_set_new(e, "exit_code", json_integer(k.exit));
	json_object_set_new(e, "at", time_or_null(at));
	json_object_set_new(e, "reason", reason && reason[0] ? json_string(reason) : json_null());
	return e;
}

char *cli_status_json(const char *user, const char *status_json, int state, const char *message,
                      bool env_token, int64_t now)
{
	json_t *in = NULL, *o = json_object(), *v;
	char *s;

	if (!o)
		return NULL;
	if (status_json && !env_token)
		in = json_loads(status_json, 0, NULL);
	json_object_set_new(o, "schema", json_integer(1));
	json_object_set_new(o, "user", json_string(user));
	json_object_set_new(o, "source", json_string(env_token ? "environment" : "keystore"));
	if (env_token) {
		/* a static token: nothing is known about it and nothing is asked */
		json_object_set_new(o, "state", json_string("valid"));
		json_object_set_new(o, "issuer", json_null());
		json_object_set_new(o, "subject", json_null());
		json_object_set_new(o, "client_id", json_null());
		json_object_set_new(o, "login_method", json_null());
		json_object_set_new(o, "expires_at", json_null());
		json_object_set_new(o, "expires_in", json_null());
		json_object_set_new(o, "has_refresh_token", json_false());
		json_object_set_new(o, "last_check", json_null());
		json_object_set_new(o, "last_refresh_at", json_null());
		json_object_set_new(o, "clock_skew", json_null());
		json_object_set_new(o, "clock_skew_warning", json_false());
		json_object_set_new(o, "sessions", json_integer(0));
		json_object_set_new(o, "last_error", json_null());
		json_object_set_new(o, "nss", json_null());
		json_object_set_new(o, "message",
		                    json_string("TOKENSEAL_OAUTH_TOKEN is set: `tokenseal token` "
		                                "prints it as is; the keystore is not used"));
		goto dump;
	}
	json_object_set_new(o, "state", json_string(ts_state_name((enum ts_state)state)));
	json_object_set_new(o, "issuer", copy_or_null(in, "issuer"));
	json_object_set_new(o, "subject", copy_or_null(in, "sub"));
	json_object_set_new(o, "client_id", copy_or_null(in, "client_id"));
	v = in ? json_object_get(in, "method") : NULL;
	json_object_set_new(o, "login_method",
	                    json_is_string(v) && json_string_length(v) ? json_deep_copy(v)
	                                                               : json_null());
	json_object_set_new(o, "expires_at", time_or_null(int_of(in, "expires_at", 0)));
	v = in ? json_object_get(in, "expires_in") : NULL;
	json_object_set_new(o, "expires_in", json_is_integer(v) ? json_deep_copy(v) : json_null());
	json_object_set_new(
	    o, "has_refresh_token",
	    json_boolean(in && json_is_true(json_object_get(in, "has_refresh_token"))));
	v = in ? json_object_get(in, "last_check_verdict") : NULL;
	if (json_is_string(v)) {
		json_t *lc = json_object();

		json_object_set_new(lc, "at", time_or_null(int_of(in, "last_check_at", 0)));
		json_object_set_new(lc, "verdict", json_deep_copy(v));
		json_object_set_new(o, "last_check", lc);
	} else {
		json_object_set_new(o, "last_check", json_null());
	}
	json_object_set_new(o, "last_refresh_at", time_or_null(int_of(in, "last_refresh_at", 0)));
	v = in ? json_object_get(in, "clock_skew") : NULL;
	json_object_set_new(o, "clock_skew", json_is_integer(v) ? json_deep_copy(v) : json_null());
	json_object_set_new(
	    o, "clock_skew_warning",
	    json_boolean(in && json_is_true(json_object_get(in, "clock_skew_warning"))));
	json_object_set_new(o, "sessions", json_integer(int_of(in, "sessions", 0)));
	{
		int64_t code = int_of(in, "last_error", 0);
		json_t *reason = in ? json_object_get(in, "reason") : NULL;
		const char *rs = json_is_string(reason) ? json_string_value(reason) : NULL;

		if (code == 0 && state == TS_STATE_CORRUPTED)
			code = int_of(in, "error", TS_E_CORRUPT);
		if (code == 0 && state == TS_STATE_MISMATCH)
			code = TS_E_MISMATCH;
		if (code < 0)
			json_object_set_new(
			    o, "last_error",
			    error_object((int)code, state, int_of(in, "last_error_at", 0), rs));
		else
			json_object_set_new(o, "last_error", json_null());
	}
	v = in ? json_object_get(in, "nss") : NULL;
	json_object_set_new(o, "nss", json_is_object(v) ? json_deep_copy(v) : json_null());
	json_object_set_new(o, "message", json_string(message ? message : ""));
dump:
	(void)now;
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	json_decref(in);
	return s;
}

static char *dump_secret(json_t *o, const char *token)
{
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_t *v = json_object_get(o, "access_token");

	if (!v) {
		json_t *st = json_object_get(o, "status");

		v = st ? json_object_get(st, "token") : NULL;
	}
	/* jansson's copy of the token is wiped before it is freed */
	if (v && json_string_value(v))
		ts_wipe((void *)(uintptr_t)json_string_value(v), strlen(token));
	json_decref(o);
	return s;
}

char *cli_token_json(const char *token, int64_t expires_in, int64_t now)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "access_token", json_string(token));
	json_object_set_new(o, "token_type", json_string("Bearer"));
	json_object_set_new(o, "expires_in",
	                    expires_in >= 0 ? json_integer(expires_in) : json_null());
	json_object_set_new(o, "expires_at",
	                    expires_in >= 0 ? time_or_null(now + expires_in) : json_null());
	return dump_secret(o, token);
}

char *cli_exec_credential(const char *token, int64_t expires_in, int64_t now)
{
	json_t *o = json_object(), *st = json_object();

	if (!o || !st) {
		json_decref(o);
		json_decref(st);
		return NULL;
	}
	json_object_set_new(o, "apiVersion", json_string("client.authentication.k8s.io/v1"));
	json_object_set_new(o, "kind", json_string("ExecCredential"));
	json_object_set_new(st, "token", json_string(token));
	if (expires_in >= 0)
		json_object_set_new(st, "expirationTimestamp", time_or_null(now + expires_in));
	json_object_set_new(o, "status", st);
	return dump_secret(o, token);
}

/* ---- human form ---- */

static const char *str_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *state_color(const char *st)
{
	if (!strcmp(st, "valid"))
		return "\033[32m";
	if (!strcmp(st, "stale") || !strcmp(st, "unavailable"))
		return "\033[33m";
	return "\033[31m";
}

void cli_status_print(FILE *f, const char *schema_json, bool color)
{
	json_t *o = json_loads(schema_json, 0, NULL), *v, *lc, *le;
	const char *st, *s;

	if (!o)
		return;
	st = str_of(o, "state");
	st = st ? st : "?";
	fprintf(f, "user:          %s\n", str_of(o, "user") ? str_of(o, "user") : "?");
	fprintf(f, "source:        %s\n", str_of(o, "source"));
	if (color)
		fprintf(f, "state:         %s%s\033[0m\n", state_color(st), st);
	else
		fprintf(f, "state:         %s\n", st);
	if ((s = str_of(o, "issuer")))
		fprintf(f, "issuer:        %s\n", s);
	if ((s = str_of(o, "subject")) && s[0])
		fprintf(f, "subject:       %s\n", s);
	if ((s = str_of(o, "login_method")))
		fprintf(f, "signed in by:  %s\n", s);
	v = json_object_get(o, "expires_in");
	if ((s = str_of(o, "expires_at")) && json_is_integer(v)) {
		long long left = (long long)json_integer_value(v);

		if (left >= 0)
			fprintf(f, "expires:       %s (in %lld min %lld s)\n", s, left / 60,
			        left % 60);
		else
			fprintf(f, "expires:       %s (%lld s ago)\n", s, -left);
	}
	lc = json_object_get(o, "last_check");
	if (json_is_object(lc))
		fprintf(f, "last check:    %s, %s\n", str_of(lc, "verdict"),
		        str_of(lc, "at") ? str_of(lc, "at") : "?");
	if ((s = str_of(o, "last_refresh_at")))
		fprintf(f, "last refresh:  %s\n", s);
	v = json_object_get(o, "clock_skew");
	if (json_is_integer(v))
		fprintf(f, "clock skew:    %lld s%s\n", (long long)json_integer_value(v),
		        json_is_true(json_object_get(o, "clock_skew_warning"))
		            ? " (warning: this host's clock is off from the server's)"
		            : "");
	le = json_object_get(o, "last_error");
	if (json_is_object(le)) {
		fprintf(f, "last error:    %s (%s; %s)\n",
		        str_of(le, "reason") ? str_of(le, "reason") : str_of(le, "text"),
		        str_of(le, "class"),
		        json_is_true(json_object_get(le, "heals_by_itself")) ? "heals by itself"
		                                                             : "needs action");
		if ((s = str_of(le, "at")))
			fprintf(f, "               at %s\n", s);
	}
	v = json_object_get(o, "nss");
	if (json_is_object(v) && (s = str_of(v, "text")))
		fprintf(f, "nss:           %s\n", s);
	if ((s = str_of(o, "message")) && s[0])
		fprintf(f, "%s\n", s);
	json_decref(o);
}
