/* SPDX-License-Identifier: MIT */
/*
 * The configuration file parser (see ts_config.h and tokenseal.conf(5));
 * reading the file is ts_config_file.c, validation and the whole-path
 * checks ts_config_check.c.
 *
 * One table, ts_config_keys[], names every key with its type, where it lives in
 * struct ts_config, its default and a one-line description. Parsing, the
 * defaults and the man-page check all walk that table.
 *
 * Problems go through a ts_config_report callback (or stderr); the parser
 * reports every problem of a file before it fails, and leaves the caller's
 * struct untouched unless the whole file was good.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_config.h"
#include "ts_config_internal.h"
#include "ts_url.h"
#include "ts_error.h"
#include "ts_file.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_nsscache.h"
#include "ts_paths.h"

static const char *const revalidate_names[] = {"auto", "introspection", "userinfo", NULL};
static const char *const client_auth_names[] = {"auto", "basic", "post", "none", NULL};
static const char *const revoke_on_names[] = {"logout", "last-session", "never", NULL};
static const char *const nss_groups_names[] = {"mapped", "all", "none", NULL};
static const char *const login_method_names[] = {"device", "password", "token", NULL};

_Static_assert(sizeof(enum ts_revalidate) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(enum ts_client_auth) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(enum ts_revoke_on) == sizeof(int), "enum stored as int");

#define FIELD(f) offsetof(struct ts_config, f), sizeof(((struct ts_config *)0)->f)
/* clang-format off */
#define K_STR(sc, f, t, d, s) { #f, t, sc, FIELD(f), 0, 0, false, NULL, d, s }
#define K_BOOL(sc, f, d, s) { #f, KT_BOOL, sc, FIELD(f), 0, 0, false, NULL, d, s }
#define K_UINT(sc, f, lo, hi, z, d, s) { #f, KT_UINT, sc, FIELD(f), lo, hi, z, NULL, d, s }
#define K_ENUM(sc, f, names, d, s) { #f, KT_ENUM, sc, FIELD(f), 0, 0, false, names, d, s }

/*
 * TOP: a user's sealed record is bound to the issuer and client id, lives in
 * one store and names one identity mapping, so a per-service value would make
 * one service refuse the record another service wrote.
 * SVC: a per-service policy that must never become the default of every
 * service (auth_with_stored_token: see DESIGN §2).
 */
const struct key_def ts_config_keys[] = {
	K_STR(TOP, issuer, KT_URL, NULL, "URL of the authorization server (its OIDC issuer)"),
	K_STR(TOP, client_id, KT_STRING, NULL, "OAuth client id registered at the server"),
	K_STR(TOP, client_secret_file, KT_PATH, NULL,
	      "file holding the client secret (empty: public client)"),
	K_ENUM(TOP, client_auth, client_auth_names, "auto",
	       "client authentication: auto (from the server's discovery), basic, post, none"),
	K_STR(ANY, scopes, KT_STRING, "openid profile offline_access", "scopes requested at login"),
	K_STR(TOP, ca_file, KT_PATH, NULL, "CA bundle for the server (empty: system trust store)"),
	K_STR(TOP, token_endpoint, KT_URL, NULL, "token endpoint override (empty: discovery)"),
	K_STR(TOP, device_authorization_endpoint, KT_URL, NULL,
	      "device authorization endpoint override (empty: discovery)"),
	K_STR(TOP, userinfo_endpoint, KT_URL, NULL,
	      "userinfo endpoint override (empty: discovery)"),
	K_STR(TOP, introspection_endpoint, KT_URL, NULL,
	      "introspection endpoint override (empty: discovery)"),
	K_STR(TOP, revocation_endpoint, KT_URL, NULL,
	      "revocation endpoint override (empty: discovery)"),
	K_BOOL(TOP, allow_loopback_http, "no",
	       "accept http:// URLs for 127.0.0.1 and [::1] (tests only)"),
	K_UINT(ANY, http_timeout, 1, 120, false, "10", "seconds allowed for each HTTP request"),
	K_UINT(ANY, max_response_size, 4096, 1048576, false, "65536",
	       "largest server response accepted, in bytes"),
	K_STR(TOP, keystore_dir, KT_PATH, TS_DEFAULT_KEYSTORE_DIR, "folder of the sealed token store"),
	K_STR(TOP, key_file, KT_PATH, TS_DEFAULT_KEY_FILE, "master key file of the token store"),
	K_STR(TOP, broker_path, KT_PATH, TS_DEFAULT_BROKER, "the tokenseal-broker program"),
	K_STR(TOP, socket_path, KT_PATH, TS_DEFAULT_SOCKET, "socket of the broker daemon"),
	{ "login_methods", KT_METHODS, ANY, FIELD(login_methods), 0, 0, false, login_method_names,
	  "device", "login methods offered, in order: device, password, token" },
	K_UINT(ANY, device_timeout, 10, 900, false, "110",
	       "seconds a device login may take (inside sshd's LoginGraceTime)"),
	K_STR(TOP, username_claim, KT_STRING, "preferred_username", "claim that names the local user"),
	{ "username_map", KT_USERMAP, TOP, FIELD(username_map), 0, 0, false, NULL, NULL,
	  "none, or strip-suffix:SUFFIX applied to the claim" },
	K_BOOL(SVC, auth_with_stored_token, "no",
	       "a valid stored token authenticates a user who already is that user"),
	K_BOOL(ANY, require_token, "no", "account management refuses users without a token"),
	K_ENUM(ANY, revalidate, revalidate_names, "auto",
	       "how tokens are revalidated: auto, introspection, userinfo"),
	K_UINT(ANY, revalidate_cache, 0, 3600, false, "0",
	       "seconds a positive server answer is reused"),
	K_UINT(ANY, offline_grace, 0, 604800, false, "0",
	       "seconds a use may proceed on the last positive answer while the server is down"),
	K_UINT(ANY, refresh_window, 10, 86400, true, "0",
	       "seconds before expiry to refresh (0: 25 % of lifetime)"),
	K_ENUM(ANY, revoke_on, revoke_on_names, "last-session",
	       "when the refresh token is revoked: logout, last-session, never"),
	K_BOOL(TOP, background_refresh, "yes",
	       "the daemon refreshes the tokens of users with an open session ahead of need"),
	K_UINT(ANY, min_uid, 0, 4294967294u, false, "1000",
	       "lowest uid tokenseal serves (0: also root and system accounts)"),
	K_UINT(ANY, max_uid, 0, 4294967294u, false, "60000",
	       "highest uid tokenseal serves (nobody, 65534, stays out by default)"),
	/* the access policy (docs/access-control.md); a [service NAME] list
	 * replaces the top level's for that service */
	K_STR(ANY, allow_users, KT_STRING, NULL,
	      "comma list of local users allowed (empty: see allow_groups)"),
	K_STR(ANY, allow_groups, KT_STRING, NULL,
	      "comma list of groups claim values allowed (both empty: everyone the server "
	      "vouches for)"),
	K_STR(ANY, deny_groups, KT_STRING, NULL,
	      "comma list of groups claim values refused, whatever the allow lists say"),
	K_STR(TOP, groups_claim, KT_STRING, "groups",
	      "claim name or dotted path holding the groups (realm_access.roles)"),
	K_BOOL(ANY, debug, "no", "debug logging"),
	/* the NSS user cache (docs/nss.md): one cache per host, so top level only */
	K_STR(TOP, nss_cache, KT_PATH, TS_NSSCACHE_PATH,
	      "the user cache libnss_tokenseal reads (none: the broker writes none)"),
	K_UINT(TOP, nss_uid_min, 1, 4294967294u, false, "2001000000",
	       "lowest uid handed to identity provider users"),
	K_UINT(TOP, nss_uid_max, 1, 4294967294u, false, "2146999999",
	       "highest uid handed to identity provider users"),
	K_UINT(TOP, nss_gid, 1, 4294967294u, true, "0",
	       "primary gid of every cache user (0: a group per user, gid = uid)"),
	K_STR(TOP, nss_home, KT_STRING, TS_NSSCACHE_HOME_DEFAULT,
	      "home folder template: %u user name, %U uid, %% a percent sign"),
	K_STR(TOP, nss_shell, KT_STRING, TS_NSSCACHE_SHELL_DEFAULT, "login shell of cache users"),
	K_STR(TOP, nss_resolve_unknown, KT_STRING, NULL,
	      "POSIX ERE: matching names resolve before their first login (empty: off)"),
	K_STR(TOP, nss_reserved_names, KT_STRING, NULL,
	      "names never published besides the built-in system list (name or prefix*)"),
	K_STR(TOP, group_map, KT_STRING, NULL,
	      "identity provider group = local group name, ... (their members get it)"),
	K_ENUM(TOP, nss_groups, nss_groups_names, "mapped",
	       "which identity provider groups reach Linux: mapped, all, none"),
};
/* clang-format on */

const size_t ts_config_n_keys = TS_ARRAY_SIZE(ts_config_keys);
#define N_KEYS TS_ARRAY_SIZE(ts_config_keys)

const char *ts_config_key_name(size_t i)
{
	return i < N_KEYS ? ts_config_keys[i].name : NULL;
}

int ts_login_method_parse(const char *s, size_t len, enum ts_login_method *ret)
{
	for (size_t i = 0; login_method_names[i]; i++) {
		if (strlen(login_method_names[i]) == len && memcmp(s, login_method_names[i], len) == 0) {
			*ret = (enum ts_login_method)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *ts_login_method_name(enum ts_login_method m)
{
	if ((unsigned)m < TS_ARRAY_SIZE(login_method_names) - 1)
		return login_method_names[m];
	return "unknown";
}

/* ---- reporting ---------------------------------------------------------- */

TS_PRINTF(3, 0)
static void vreport(const struct ts_config_report *rep, int prio, const char *fmt, va_list ap)
{
	if (rep && rep->fn) {
		rep->fn(rep->ctx, prio, fmt, ap);
	} else {
		/* No sink given (the CLI): stderr. Stateless on purpose, so the
		 * PAM module, which always passes a callback, links no log state. */
		fputs("tokenseal: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
}

void cfg_report(const struct ts_config_report *rep, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(rep, prio, fmt, ap);
	va_end(ap);
}

/* Parser state for one buffer. */
struct parser {
	const char *origin;
	const struct ts_config_report *rep;
	unsigned line;
	unsigned errors;
	bool silent; /* applying built-in defaults */
};

TS_PRINTF(3, 4)
static void perr(struct parser *p, int prio, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (prio <= LOG_ERR)
		p->errors++;
	if (p->silent)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cfg_report(p->rep, prio, "%s:%u: %s", p->origin, p->line, msg);
}

/* A value as it may appear in a message: printable, bounded. */
const char *cfg_show(char out[SHOW_MAX], const char *s, size_t len)
{
	ts_sanitize_text(out, SHOW_MAX, s, len);
	if (len >= SHOW_MAX) {
		size_t n = strlen(out);
		if (n >= 3)
			memcpy(out + n - 3, "...", 3);
	}
	return out;
}

/* ---- values ------------------------------------------------------------- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

static bool is_ctrl(char ch)
{
	unsigned char u = (unsigned char)ch;
	return u < 0x20 || u == 0x7f;
}

/*
 * The one number parser: decimal digits only (no sign, no spaces, no 0x),
 * strtoull with an end-pointer check, then the key's range.
 */
static int parse_uint(struct parser *p, const struct key_def *k, const char *val, unsigned *ret)
{
	char range[64], sv[SHOW_MAX];
	unsigned long long v;
	char *end = NULL;

	if (k->zero_ok)
		(void)snprintf(range, sizeof(range), "0 or %u..%u", k->min, k->max);
	else
		(void)snprintf(range, sizeof(range), "%u..%u", k->min, k->max);
	if (val[0] < '0' || val[0] > '9') {
		perr(p, LOG_ERR, "key '%s': '%s' is not a number (allowed: %s)", k->name,
		     cfg_show(sv, val, strlen(val)), range);
		return TS_E_CONFIG;
	}
	errno = 0;
	v = strtoull(val, &end, 10);
	if (!end || *end != '\0') {
		perr(p, LOG_ERR, "key '%s': '%s' is not a number (allowed: %s)", k->name,
		     cfg_show(sv, val, strlen(val)), range);
		return TS_E_CONFIG;
	}
	if (errno == ERANGE || v > UINT_MAX || (v < k->min && !(k->zero_ok && v == 0)) ||
	    v > k->max) {
		perr(p, LOG_ERR, "key '%s': %s is out of range (allowed: %s)", k->name,
		     cfg_show(sv, val, strlen(val)), range);
		return TS_E_CONFIG;
	}
	*ret = (unsigned)v;
	return 0;
}

static int parse_bool(struct parser *p, const struct key_def *k, const char *val, bool *ret)
{
	static const char *const yes[] = {"yes", "true", "1", "on"};
	static const char *const no[] = {"no", "false", "0", "off"};
	char sv[SHOW_MAX];

	for (size_t i = 0; i < TS_ARRAY_SIZE(yes); i++) {
		if (strcmp(val, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(val, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	perr(p, LOG_ERR, "key '%s': '%s' is not a boolean (use yes/no, true/false, on/off, 1/0)",
	     k->name, cfg_show(sv, val, strlen(val)));
	return TS_E_CONFIG;
}

static void join_names(char *out, size_t outlen, const char *const *names)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; names[i]; i++) {
		int n = snprintf(out + o, outlen - o, "%s%s", i ? ", " : "", names[i]);
		if (n < 0 || (size_t)n >= outlen - o)
			return;
		o += (size_t)n;
	}
}

static int parse_enum(struct parser *p, const struct key_def *k, const char *val, int *ret)
{
	char sv[SHOW_MAX], list[128];

	for (size_t i = 0; k->enum_names[i]; i++) {
		if (strcmp(val, k->enum_names[i]) == 0) {
			*ret = (int)i;
			return 0;
		}
	}
	join_names(list, sizeof(list), k->enum_names);
	perr(p, LOG_ERR, "key '%s': '%s' is not one of: %s", k->name, cfg_show(sv, val, strlen(val)),
	     list);
	return TS_E_CONFIG;
}

static int parse_methods(struct parser *p, const struct key_def *k, const char *val,
                         enum ts_login_method ret[TS_LOGIN_METHODS_MAX], size_t *ret_n)
{
	enum ts_login_method m[TS_LOGIN_METHODS_MAX];
	char sv[SHOW_MAX], list[128];
	size_t n = 0;
	const char *s = val;

	join_names(list, sizeof(list), login_method_names);
	for (;;) {
		enum ts_login_method one;
		size_t len;

		while (*s == ',' || *s == ' ')
			s++;
		if (!*s)
			break;
		len = strcspn(s, ", ");
		if (ts_login_method_parse(s, len, &one) < 0) {
			perr(p, LOG_ERR, "key '%s': unknown login method '%s' (allowed: %s)",
			     k->name, cfg_show(sv, s, len), list);
			return TS_E_CONFIG;
		}
		for (size_t j = 0; j < n; j++) {
			if (m[j] == one) {
				perr(p, LOG_ERR, "key '%s': login method '%s' listed twice",
				     k->name, ts_login_method_name(one));
				return TS_E_CONFIG;
			}
		}
		if (n == TS_LOGIN_METHODS_MAX) {
			perr(p, LOG_ERR, "key '%s': more than %d login methods", k->name,
			     TS_LOGIN_METHODS_MAX);
			return TS_E_CONFIG;
		}
		m[n++] = one;
		s += len;
	}
	if (n == 0) {
		perr(p, LOG_ERR, "key '%s': needs 1 to %d of: %s", k->name, TS_LOGIN_METHODS_MAX,
		     list);
		return TS_E_CONFIG;
	}
	memcpy(ret, m, n * sizeof(m[0]));
	*ret_n = n;
	return 0;
}


static int check_usermap(struct parser *p, const struct key_def *k, const char *val,
                         const char **ret)
{
	char sv[SHOW_MAX];

	if (val[0] == '\0' || strcmp(val, "none") == 0) {
		*ret = "";
		return 0;
	}
	if (strncmp(val, STRIP_SUFFIX, strlen(STRIP_SUFFIX)) == 0 &&
	    val[strlen(STRIP_SUFFIX)] != '\0' && !strpbrk(val, " \t")) {
		*ret = val;
		return 0;
	}
	perr(p, LOG_ERR, "key '%s': '%s' is not 'none' or 'strip-suffix:SUFFIX'", k->name,
	     cfg_show(sv, val, strlen(val)));
	return TS_E_CONFIG;
}

/* Set one key of c from val (NUL-terminated, already trimmed). */
static int set_value(struct parser *p, struct ts_config *c, const struct key_def *k,
                     const char *val)
{
	char *field = (char *)c + k->offset;
	size_t len = strlen(val);
	int r;

	for (size_t i = 0; i < len; i++) {
		if (is_ctrl(val[i])) {
			perr(p, LOG_ERR, "key '%s': value contains a control character", k->name);
			return TS_E_CONFIG;
		}
	}

	switch (k->type) {
	case KT_STRING:
	case KT_PATH:
	case KT_URL:
	case KT_USERMAP: {
		const char *v = val;

		if (k->type == KT_USERMAP) {
			r = check_usermap(p, k, val, &v);
			if (r < 0)
				return r;
			len = strlen(v);
		}
		if (len >= k->size) {
			perr(p, LOG_ERR, "key '%s': value too long (%zu bytes, at most %zu)",
			     k->name, len, k->size - 1);
			return TS_E_CONFIG;
		}
		memcpy(field, v, len + 1);
		return 0;
	}
	case KT_BOOL: {
		bool b;

		r = parse_bool(p, k, val, &b);
		if (r < 0)
			return r;
		memcpy(field, &b, sizeof(b));
		return 0;
	}
	case KT_UINT: {
		unsigned u;

		r = parse_uint(p, k, val, &u);
		if (r < 0)
			return r;
		memcpy(field, &u, sizeof(u));
		return 0;
	}
	case KT_ENUM: {
		int e;

		r = parse_enum(p, k, val, &e);
		if (r < 0)
			return r;
		memcpy(field, &e, sizeof(e));
		return 0;
	}
	case KT_METHODS:
		return parse_methods(p, k, val, c->login_methods, &c->n_login_methods);
	}
	return TS_E_CONFIG;
}

void ts_config_defaults(struct ts_config *c)
{
	struct parser p = {.origin = "(defaults)", .silent = true};

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < N_KEYS; i++)
		if (ts_config_keys[i].def)
			(void)set_value(&p, c, &ts_config_keys[i], ts_config_keys[i].def);
}

/* ---- lines -------------------------------------------------------------- */

static const struct key_def *find_key(const char *name, size_t len)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strlen(ts_config_keys[i].name) == len && memcmp(ts_config_keys[i].name, name, len) == 0)
			return &ts_config_keys[i];
	return NULL;
}

static bool service_name_ok(const char *s, size_t len)
{
	if (len == 0 || len >= TS_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char u = (unsigned char)s[i];
		if (u <= 0x20 || u >= 0x7f || u == '[' || u == ']' || u == '#' || u == '=')
			return false;
	}
	return true;
}

/*
 * "[service NAME]" (s..e is the trimmed line). Returns 0 and the name, or
 * TS_E_CONFIG after reporting.
 */
static int parse_section(struct parser *p, const char *s, const char *e, const char **ret_name,
                         size_t *ret_len)
{
	char sv[SHOW_MAX];
	const char *in = s + 1, *ie = e - 1;

	if (e - s < 2 || e[-1] != ']')
		goto bad;
	while (in < ie && is_blank(*in))
		in++;
	while (ie > in && is_blank(ie[-1]))
		ie--;
	if ((size_t)(ie - in) < 8 || memcmp(in, "service", 7) != 0 || !is_blank(in[7]))
		goto bad;
	in += 7;
	while (in < ie && is_blank(*in))
		in++;
	if (!service_name_ok(in, (size_t)(ie - in)))
		goto bad;
	*ret_name = in;
	*ret_len = (size_t)(ie - in);
	return 0;
bad:
	perr(p, LOG_ERR, "bad section header '%s' (expected '[service NAME]')",
	     cfg_show(sv, s, (size_t)(e - s)));
	return TS_E_CONFIG;
}

/* The state of one ts_config_parse() call. */
struct parse_state {
	struct parser p;
	const char *service;
	unsigned seen[N_KEYS]; /* line where each key was set in this section */
	bool in_section;
	bool nomem;		 /* other could not be made */
	struct ts_config *mine;	 /* the caller's copy: top level + the service's section */
	struct ts_config *other; /* sections of other services: checked, never applied */
	struct ts_config *target; /* NULL when other could not be made */
	char value[TS_CONFIG_LINE_MAX + 1];
};

/*
 * Cut one line out of [*pos, end): blank lines and comments give false;
 * otherwise *ret_s..*ret_e is the line without leading and trailing blanks
 * and without a trailing comment ('#' after whitespace).
 */
static bool next_line(struct parser *p, const char **pos, const char *end, const char **ret_s,
                      const char **ret_e)
{
	const char *nl = memchr(*pos, '\n', (size_t)(end - *pos));
	const char *s = *pos, *e = nl ? nl : end;

	*pos = nl ? nl + 1 : end;
	p->line++;
	if ((size_t)(e - s) > TS_CONFIG_LINE_MAX) {
		perr(p, LOG_ERR, "line longer than %d bytes", TS_CONFIG_LINE_MAX);
		return false;
	}
	while (s < e && is_blank(*s))
		s++;
	if (s == e || *s == '#')
		return false;
	for (const char *q = s + 1; q < e; q++) {
		if (*q == '#' && is_blank(q[-1])) {
			e = q;
			break;
		}
	}
	while (e > s && is_blank(e[-1]))
		e--;
	*ret_s = s;
	*ret_e = e;
	return true;
}

/*
 * The target of keys that are checked but never applied, made at the first
 * section that is not the caller's: most files have none, and a struct
 * ts_config is ~15 KiB of the PAM module's host process. set_value only
 * writes a field, never reads one, so the scratch needs no contents.
 */
static struct ts_config *other_target(struct parse_state *st)
{
	if (!st->other && !st->nomem) {
		st->other = malloc(sizeof(*st->other));
		st->nomem = !st->other;
	}
	return st->other;
}

static void section_line(struct parse_state *st, const char *s, const char *e)
{
	const char *name;
	size_t nlen;

	memset(st->seen, 0, sizeof(st->seen));
	st->in_section = true;
	/* Keys under a bad header are checked but never applied. */
	if (parse_section(&st->p, s, e, &name, &nlen) == 0 && st->service &&
	    strlen(st->service) == nlen && memcmp(st->service, name, nlen) == 0)
		st->target = st->mine;
	else
		st->target = other_target(st);
}

/* May key k be set where the parser is? Reports and returns false if not. */
static bool scope_ok(struct parse_state *st, const struct key_def *k)
{
	if (st->in_section && k->scope == TOP) {
		perr(&st->p, LOG_ERR,
		     "key '%s' cannot be set in a [service] section: every service shares one "
		     "token record per user, bound to one issuer, client and store",
		     k->name);
		return false;
	}
	if (!st->in_section && k->scope == SVC) {
		perr(&st->p, LOG_ERR,
		     "key '%s' cannot be set at the top level: it belongs in a [service NAME] "
		     "section, for the services that may accept it",
		     k->name);
		return false;
	}
	return true;
}

/* "key = value" (s..e trimmed): find the key, check it, set it in the target. */
static void key_line(struct parse_state *st, const char *s, const char *e)
{
	struct parser *p = &st->p;
	const char *eq = memchr(s, '=', (size_t)(e - s)), *ke, *vs;
	const struct key_def *k;
	char sv[SHOW_MAX];
	size_t i;

	if (!eq) {
		perr(p, LOG_ERR, "'%s': expected 'key = value', '[service NAME]' or a comment",
		     cfg_show(sv, s, (size_t)(e - s)));
		return;
	}
	for (ke = eq; ke > s && is_blank(ke[-1]); ke--)
		;
	for (vs = eq + 1; vs < e && is_blank(*vs); vs++)
		;
	if (ke == s) {
		perr(p, LOG_ERR, "missing key name before '='");
		return;
	}
	k = find_key(s, (size_t)(ke - s));
	if (!k && memchr(s, '\0', (size_t)(ke - s))) {
		/* a NUL byte (a binary or damaged file, another file copied over
		 * it) is no key a newer version could know, and it hides the rest
		 * of the name from every string function: refuse the file (a NUL
		 * in a value is already a control character of that key) */
		perr(p, LOG_ERR, "a NUL byte where a key name belongs; the configuration must be a "
		     "text file");
		return;
	}
	if (!k) {
		perr(p, LOG_WARNING, "unknown key '%s', ignoring", cfg_show(sv, s, (size_t)(ke - s)));
		return;
	}
	if (!scope_ok(st, k))
		return;
	i = (size_t)(k - ts_config_keys);
	if (st->seen[i])
		perr(p, LOG_WARNING,
		     "key '%s' was already set on line %u in this section; the last value wins",
		     k->name, st->seen[i]);
	st->seen[i] = p->line;
	/* An embedded NUL must not cut the value short unnoticed. */
	if (memchr(vs, '\0', (size_t)(e - vs))) {
		perr(p, LOG_ERR, "key '%s': value contains a control character", k->name);
		return;
	}
	memcpy(st->value, vs, (size_t)(e - vs));
	st->value[e - vs] = '\0';
	if (st->target) /* else out of memory: the parse fails with -ENOMEM */
		(void)set_value(p, st->target, k, st->value);
}

int cfg_parse(struct ts_config *c, const char *buf, size_t len, const char *service,
              const char *origin, const struct ts_config_report *rep, bool in_place)
{
	struct parse_state *st;
	const char *pos = buf, *end = buf + len, *s, *e;
	int r = 0;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->p = (struct parser){.origin = origin, .rep = rep};
	st->service = service;
	if (in_place) {
		st->mine = c;
	} else {
		/* Work on a copy: the caller's struct changes only if the whole file is good. */
		st->mine = malloc(sizeof(*st->mine));
		if (!st->mine) {
			r = -ENOMEM;
			goto out;
		}
		*st->mine = *c;
	}
	st->target = st->mine;

	while (pos < end) {
		if (!next_line(&st->p, &pos, end, &s, &e))
			continue;
		if (*s == '[')
			section_line(st, s, e);
		else
			key_line(st, s, e);
	}

	if (st->p.errors) {
		cfg_report(rep, LOG_ERR, TS_CONFIG_SUMMARY_FMT, origin, st->p.errors,
		           st->p.errors == 1 ? "" : "s");
		r = TS_E_CONFIG;
	} else if (st->nomem) {
		r = -ENOMEM;
	} else if (!in_place) {
		*c = *st->mine;
	}
	if (r < 0 && in_place)
		ts_config_defaults(c);
out:
	if (!in_place)
		free(st->mine);
	free(st->other);
	ts_wipe(st, sizeof(*st));
	free(st);
	return r;
}

int ts_config_parse(struct ts_config *c, const char *buf, size_t len, const char *service,
                    const char *origin, const struct ts_config_report *rep)
{
	return cfg_parse(c, buf, len, service, origin, rep, false);
}

const char *ts_config_key_scope(size_t i)
{
	if (i >= N_KEYS)
		return NULL;
	return ts_config_keys[i].scope == TOP ? "top" : ts_config_keys[i].scope == SVC ? "service" : "any";
}
