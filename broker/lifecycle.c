/* SPDX-License-Identifier: MIT */
/*
 * The pure part of the lifecycle engine: the decisions made from the stored
 * record (its JSON codec is record_json.c). No I/O here, so
 * tests/unit/test_lifecycle.c covers it by table.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "lifecycle.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "ts_sha256.h"

void ts_record_clear(struct ts_record *r)
{
	if (!r)
		return;
	ts_erase_free_str(r->access_token);
	ts_erase_free_str(r->refresh_token);
	ts_wipe(r, sizeof(*r));
}

bool ts_record_is_client_credentials(const struct ts_record *r)
{
	return strcmp(r->method, TS_METHOD_CLIENT_CREDENTIALS) == 0;
}

int ts_record_sessions(const struct ts_record *r, const char *boot)
{
	if (r->sessions > 0 && boot[0] && r->sessions_boot[0] &&
	    strcmp(r->sessions_boot, boot) != 0)
		return 0;
	return r->sessions > 0 ? r->sessions : 0;
}

static char boot_id[TS_BOOT_ID_MAX];
static pthread_once_t boot_once = PTHREAD_ONCE_INIT;

static void boot_read(void)
{
	char buf[TS_BOOT_ID_MAX];
	ssize_t n;
	size_t i;
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* a UUID: hex digits and dashes, up to the newline */
	for (i = 0; buf[i] && buf[i] != '\n'; i++)
		if (!strchr("0123456789abcdef-", buf[i]))
			return;
	buf[i] = '\0';
	if (i >= 32)
		memcpy(boot_id, buf, i + 1);
}

const char *ts_boot_id(void)
{
	(void)pthread_once(&boot_once, boot_read);
	return boot_id;
}

void ts_outcome_clear(struct ts_outcome *o)
{
	if (!o)
		return;
	ts_erase_free_str(o->token);
	free(o->status_json);
	o->token = NULL;
	o->status_json = NULL;
}

void ts_secret_hash_hex(char out[TS_RT_HASH_HEX], const char *secret)
{
	ts_sha256_hex(out, TS_SHA256_BYTES, secret ? secret : "", secret ? strlen(secret) : 0);
}

int64_t ts_refresh_window(const struct ts_config *cfg, int64_t lifetime)
{
	int64_t w;

	if (cfg->refresh_window > 0)
		w = cfg->refresh_window;
	else {
		w = lifetime / 4;
		if (w < TS_WINDOW_MIN)
			w = TS_WINDOW_MIN;
		if (w > TS_WINDOW_MAX)
			w = TS_WINDOW_MAX;
	}
	/* a window as long as the lifetime would refresh on every use */
	if (lifetime > 0 && w >= lifetime)
		w = lifetime / 2;
	return w;
}

void ts_lifecycle_decide(const struct ts_record *r, int64_t now, const struct ts_config *cfg,
                         struct ts_decision *ret)
{
	struct ts_decision d = {.action = TS_ACT_NO_RECORD, .state = TS_STATE_NONE};

	if (!r) {
		*ret = d;
		return;
	}
	d.expires_left = r->obtained_at + r->expires_in - now;
	d.window = ts_refresh_window(cfg, r->expires_in);
	if (r->state == TS_REC_NEEDS_LOGIN) {
		d.action = TS_ACT_NEEDS_LOGIN;
		d.state = TS_STATE_NEEDS_LOGIN;
	} else if (r->state == TS_REC_SIGNED_OUT) {
		d.action = TS_ACT_SIGNED_OUT;
		d.state = TS_STATE_SIGNED_OUT;
	} else if (d.expires_left <= d.window) {
		/* inside the window or past the local expiry: a refresh is due
		 * (a record without a refresh token can only be revalidated) */
		d.state = TS_STATE_STALE;
		d.action = r->refresh_token || ts_record_is_client_credentials(r)
		               ? TS_ACT_REFRESH
		               : TS_ACT_REVALIDATE;
	} else {
		d.state = TS_STATE_VALID;
		d.action = TS_ACT_REVALIDATE;
		if (cfg->revalidate_cache > 0 && r->last_positive_check > 0 &&
		    now >= r->last_positive_check &&
		    now - r->last_positive_check < (int64_t)cfg->revalidate_cache)
			d.action = TS_ACT_USE_CACHED;
	}
	*ret = d;
}

bool ts_offline_allowed(const struct ts_record *r, int64_t now, const struct ts_config *cfg,
                        int64_t *ret_age)
{
	int64_t age;

	if (!r || r->state != TS_REC_VALID || r->last_positive_check <= 0 ||
	    cfg->offline_grace == 0)
		return false;
	age = now - r->last_positive_check;
	if (age < 0)
		age = 0;
	if (ret_age)
		*ret_age = age;
	return age <= (int64_t)cfg->offline_grace;
}

bool ts_should_note_positive(const struct ts_record *r, int64_t now, int64_t skew,
			     const struct ts_config *cfg)
{
	int64_t moved = skew - r->skew;

	if (cfg->revalidate_cache > 0)
		return true;
	if (moved > TS_SKEW_WARN_SECONDS / 4 || moved < -TS_SKEW_WARN_SECONDS / 4)
		return true;
	return r->last_positive_check <= 0 || now < r->last_positive_check ||
	       now - r->last_positive_check >= TS_NOTE_INTERVAL;
}

int64_t ts_reject_backoff(int rejections)
{
	int64_t b = TS_REJECT_BACKOFF_MIN;

	for (int i = 1; i < rejections && b < TS_REJECT_BACKOFF_MAX; i++)
		b *= 2;
	return b < TS_REJECT_BACKOFF_MAX ? b : TS_REJECT_BACKOFF_MAX;
}

bool ts_refresh_backed_off(const struct ts_record *r, int64_t now)
{
	if (r->rejected_at <= 0)
		return false;
	/* a clock set back (now before the mark) still backs off */
	return now < r->rejected_at || now - r->rejected_at < ts_reject_backoff(r->rejections);
}

bool ts_refresh_held(const struct ts_record *r, int64_t now, int64_t *ret_left)
{
	int64_t b = ts_reject_backoff(r->holds), left;

	if (r->held_at <= 0)
		return false;
	/* a clock set back (now before the mark) still holds */
	left = now < r->held_at ? b : b - (now - r->held_at);
	if (ret_left)
		*ret_left = left > 0 ? left : 0;
	return left > 0;
}

static bool str_eq(const char *a, const char *b)
{
	size_t la, lb;

	if (!a || !b)
		return a == b;
	la = strlen(a);
	lb = strlen(b);
	return la == lb && ts_memeq_ct(a, b, la);
}

enum ts_grant_verdict ts_single_flight_verdict(const struct ts_record *stored,
                                               const char *seen_access)
{
	if (stored->state != TS_REC_VALID)
		return TS_GRANT_NEEDS_LOGIN;
	if (!str_eq(stored->access_token, seen_access))
		return TS_GRANT_ADOPT;
	return TS_GRANT_REFRESH;
}

/* name for a message that compares two names: printable ASCII as it is,
 * every other byte as \xHH, so a look-alike ("\xd0\xb0lice", a Cyrillic
 * a) never reads the same as the name it imitates. */
static const char *visible_name(char *out, size_t outlen, const char *name)
{
	size_t k = 0;

	for (const unsigned char *p = (const unsigned char *)name; *p && k + 5 < outlen; p++) {
		if (*p >= 0x20 && *p < 0x7f)
			out[k++] = (char)*p;
		else
			k += (size_t)snprintf(out + k, outlen - k, "\\x%02x", *p);
	}
	out[k] = '\0';
	return out;
}

void ts_grant_refused_reason(char *out, size_t len, const char *error, const char *desc)
{
	static const char head[] = "the server refused the refresh token (";
	size_t n, room, dl;
	const char *stop;

	if (len == 0)
		return;
	n = (size_t)snprintf(out, len, "%s%.60s", head, error[0] ? error : "invalid_grant");
	if (n + 2 >= len) { /* no room for the error: the plain sentence */
		(void)snprintf(out, len, "the server refused the refresh token");
		return;
	}
	/* the first sentence: up to ". " (the dot kept) */
	stop = strstr(desc, ". ");
	dl = stop ? (size_t)(stop - desc) + 1 : strlen(desc);
	while (dl > 0 && desc[dl - 1] == ' ')
		dl--;
	room = len - n - 2; /* ")" and the NUL */
	if (dl > 0 && room > 6) {
		memcpy(out + n, ": ", 2);
		n += 2;
		room -= 2;
		if (dl > room) {
			memcpy(out + n, desc, room - 3);
			memcpy(out + n + room - 3, "...", 3);
			n += room;
		} else {
			memcpy(out + n, desc, dl);
			n += dl;
		}
	}
	out[n++] = ')';
	out[n] = '\0';
}

static bool has_scope(const char *scopes, const char *want)
{
	size_t n = strlen(want);

	for (const char *p = scopes; (p = strstr(p, want)) != NULL; p += n)
		if ((p == scopes || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
	return false;
}

void ts_scope_refusal_msg(char *msg, size_t len, const struct ts_config *cfg, const char *desc,
                          int offline_listed)
{
	char what[160] = "invalid_scope";

	if (desc[0])
		(void)snprintf(what, sizeof(what), "invalid_scope: %.120s", desc);
	if (has_scope(cfg->scopes, "offline_access") && offline_listed == 0)
		(void)snprintf(msg, len,
		               "the server refused the scope offline_access (%s); remove "
		               "offline_access from scopes: this server grants refresh tokens "
		               "without it (its scopes_supported does not list it)",
		               what);
	else
		(void)snprintf(msg, len,
		               "the server refused the requested scopes \"%.200s\" (%s); keep in "
		               "scopes only what the server offers this client (for the device flow "
		               "some offer fewer)",
		               cfg->scopes, what);
}

int ts_identity_check(const struct ts_config *cfg, const char *user, const char *server_name,
                      char *msg, size_t msglen)
{
	char mapped[OAUTH_CLAIM_MAX];
	char shown_server[4 * OAUTH_CLAIM_MAX], shown_user[4 * OAUTH_CLAIM_MAX];

	if (!server_name[0]) {
		snprintf(
		    msg, msglen,
		    "the server did not say who this is (no \"%s\" claim in its answer nor in the "
		    "ID token); refusing to sign in %s",
		    cfg->username_claim, user);
		return TS_E_IDENTITY_MISMATCH;
	}
	if (ts_config_map_username(cfg, server_name, mapped, sizeof(mapped)) < 0 ||
	    strcmp(mapped, user) != 0) {
		snprintf(msg, msglen,
		         "identity mismatch: the server signed in \"%s\", but this login is for "
		         "\"%s\"; nothing was stored",
		         visible_name(shown_server, sizeof(shown_server), server_name),
		         visible_name(shown_user, sizeof(shown_user), user));
		return TS_E_IDENTITY_MISMATCH;
	}
	return 0;
}
