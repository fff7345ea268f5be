/* SPDX-License-Identifier: MIT */
/*
 * The error side of oauth/: the one taxonomy (oauth.h) for OAuth error
 * codes and error answers, and the final touch every public call gives its
 * message (issuer prefix, credentials withheld). No I/O, no logging.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "oauth_internal.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"

void oauth_error_reset(struct oauth_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

int oauth_fail(struct oauth_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	(void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

const char *oauth_class_text(int code)
{
	switch (code) {
	case TS_E_REJECTED_TOKEN:
		return "the server rejected the token";
	case TS_E_NEEDS_LOGIN:
		return "the server refused the grant, sign-in required";
	case TS_E_SERVER_CONFIG:
		return "the server refused the client configuration";
	case TS_E_UNAVAILABLE:
		return "the server is temporarily unavailable";
	case TS_E_DENIED:
		return "the sign-in was denied";
	case TS_E_EXPIRED:
		return "the sign-in code expired";
	default:
		return "the server sent an unexpected answer";
	}
}

/* The class of a known error code; false for one we do not know. */
static bool known_error(const char *error, int *ret_code)
{
	static const struct {
		const char *name;
		int code;
	} table[] = {
	    {"invalid_grant", TS_E_NEEDS_LOGIN},
	    {"invalid_client", TS_E_SERVER_CONFIG},
	    {"unauthorized_client", TS_E_SERVER_CONFIG},
	    {"unsupported_grant_type", TS_E_SERVER_CONFIG},
	    {"invalid_scope", TS_E_SERVER_CONFIG},
	    {"invalid_request", TS_E_SERVER_CONFIG},
	    {"unsupported_token_type", TS_E_SERVER_CONFIG},
	    {"insufficient_scope", TS_E_SERVER_CONFIG},
	    {"invalid_token", TS_E_REJECTED_TOKEN},
	    {"access_denied", TS_E_DENIED},
	    {"expired_token", TS_E_EXPIRED},
	    {"temporarily_unavailable", TS_E_UNAVAILABLE},
	    {"server_error", TS_E_UNAVAILABLE},
	    {"slow_down", TS_E_UNAVAILABLE},
	    {"authorization_pending", TS_E_UNAVAILABLE},
	    /* OIDC Core §3.1.2.6: the user has to be there */
	    {"interaction_required", TS_E_NEEDS_LOGIN},
	    {"login_required", TS_E_NEEDS_LOGIN},
	    {"consent_required", TS_E_NEEDS_LOGIN},
	};

	for (size_t i = 0; i < TS_ARRAY_SIZE(table); i++)
		if (strcmp(error, table[i].name) == 0) {
			*ret_code = table[i].code;
			return true;
		}
	return false;
}

int oauth_classify_error(const char *error)
{
	int code;

	if (known_error(error, &code))
		return code;
	/* An error code we do not know: not a reason to drop a credential nor
	 * a configuration error forever; treated as temporary (the message
	 * names the code). */
	return TS_E_UNAVAILABLE;
}

int oauth_json_error(json_t *obj, long http_status, struct oauth_error *err)
{
	json_t *e = json_object_get(obj, "error");
	json_t *d = json_object_get(obj, "error_description");
	char error[OAUTH_ERROR_MAX], desc[OAUTH_DESC_MAX];
	bool known;
	int code;

	if (!e)
		return 0;
	if (!json_is_string(e) || json_string_length(e) == 0)
		return oauth_fail(err, TS_E_BAD_ANSWER,
		                  "the server sent an error whose \"error\" is not a string");
	ts_sanitize_text(error, sizeof(error), json_string_value(e), json_string_length(e));
	desc[0] = '\0';
	if (json_is_string(d))
		ts_sanitize_text(desc, sizeof(desc), json_string_value(d), json_string_length(d));
	known = known_error(error, &code);
	if (!known)
		code = oauth_classify_error(error);
	if (!err)
		return code;
	err->code = code;
	if (http_status) /* 0: keep the status the transport saw */
		err->http_status = http_status;
	memcpy(err->error, error, sizeof(error));
	memcpy(err->description, desc, sizeof(desc));
	if (known)
		(void)snprintf(err->message, sizeof(err->message), "%s: %s%s%s%s",
		               oauth_class_text(code), error, desc[0] ? " (" : "", desc,
		               desc[0] ? ")" : "");
	else
		(void)snprintf(err->message, sizeof(err->message),
		               "the server answered with an error code tokenseal does not know: "
		               "%s%s%s%s; treated as temporary",
		               error, desc[0] ? " (" : "", desc, desc[0] ? ")" : "");
	return code;
}

bool oauth_has_oauth_error(const struct http_resp *resp)
{
	json_t *j, *e;
	bool has;

	if (!resp->body.len)
		return false;
	j = json_loadb(resp->body.p, resp->body.len, JSON_REJECT_DUPLICATES, NULL);
	e = json_is_object(j) ? json_object_get(j, "error") : NULL;
	has = json_is_string(e) && json_string_length(e) > 0;
	json_decref(j);
	return has;
}

/* ---- messages ------------------------------------------------------------- */

/* Whether text repeats one of the credentials we sent or the client secret. */
static bool has_credential(const struct oauth_client *c, const char *text,
                           const char *const *secrets, size_t n_secrets)
{
	for (size_t i = 0; i < n_secrets; i++)
		if (secrets[i] && strlen(secrets[i]) >= 4 && strstr(text, secrets[i]))
			return true;
	return c->secret && strstr(text, c->secret);
}

/* Final touch on every error: prefix the issuer, and withhold the server's
 * text if it repeats any credential we sent (it must never reach a log). */
int oauth_finish(struct oauth_client *c, struct oauth_error *err, int r,
                  const char *const *secrets, size_t n_secrets)
{
	char msg[OAUTH_MSG_MAX], issuer[TS_URL_MAX];
	bool leak;

	if (r >= 0 || !err)
		return r;
	err->code = r;
	leak = has_credential(c, err->error, secrets, n_secrets);
	if (leak)
		err->error[0] = '\0';
	if (leak || has_credential(c, err->message, secrets, n_secrets) ||
	    has_credential(c, err->description, secrets, n_secrets)) {
		err->description[0] = '\0';
		(void)snprintf(err->message, sizeof(err->message),
		               "%s (details withheld: the server's text contained a credential)",
		               oauth_class_text(r));
	}
	if (!err->message[0])
		(void)snprintf(err->message, sizeof(err->message), "%s", oauth_class_text(r));
	if (strncmp(err->message, "connection to ", 14) != 0 && c->cfg.issuer[0]) {
		oauth_url_shown(issuer, sizeof(issuer), c->cfg.issuer);
		if (!strstr(err->message, issuer)) {
			size_t il = strnlen(issuer, sizeof(msg) - 3);
			memcpy(msg, issuer, il);
			memcpy(msg + il, ": ", 2);
			ts_sanitize_text(msg + il + 2, sizeof(msg) - il - 2, err->message,
			                 strlen(err->message));
			memcpy(err->message, msg, sizeof(msg));
		}
	}
	return r;
}

int oauth_error_answer(const char *what, const struct http_resp *resp, struct oauth_error *err)
{
	json_t *j = oauth_json_load(resp->body.p, resp->body.len, err);
	int r = j ? oauth_json_error(j, resp->status, err) : TS_E_BAD_ANSWER;

	json_decref(j);
	if (r == 0)
		r = oauth_fail(err, TS_E_BAD_ANSWER, "the %s answered HTTP %ld", what, resp->status);
	return r;
}
