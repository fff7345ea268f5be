/* SPDX-License-Identifier: MIT */
/*
 * The configuration after parsing: validation of the values together,
 * the identity mapping, and the whole-path (safe_path) checks of every
 * file and folder the configuration names. The key table is ts_config.c's.
 */
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ts_claim_path.h"
#include "ts_config.h"
#include "ts_config_internal.h"
#include "ts_error.h"
#include "ts_file.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_nsscache.h"
#include "ts_url.h"

/* ---- validation --------------------------------------------------------- */

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_nss_cache(const struct key_def *k)
{
	return strcmp(k->name, "nss_cache") == 0;
}

bool ts_config_nss_cache_on(const struct ts_config *c)
{
	return c->nss_cache[0] && strcmp(c->nss_cache, TS_CONFIG_NSS_CACHE_OFF) != 0;
}

bool ts_config_uid_served(const struct ts_config *c, unsigned long uid)
{
	if (uid >= c->min_uid && uid <= c->max_uid)
		return true;
	return ts_config_nss_cache_on(c) && uid >= c->nss_uid_min && uid <= c->nss_uid_max &&
	       uid >= c->min_uid;
}

/* The nss_* keys: each problem reported (naming the key), counted in *errors. */
static void check_nss(const struct ts_config *c, const char *origin,
                      const struct ts_config_report *rep, unsigned *errors)
{
	char sv[SHOW_MAX];
	regex_t re;
	int r;

	if (c->nss_uid_min >= c->nss_uid_max) {
		cfg_report(rep, LOG_ERR, "%s: nss_uid_min %u must be below nss_uid_max %u", origin,
		       c->nss_uid_min, c->nss_uid_max);
		(*errors)++;
	} else if ((uint64_t)c->nss_uid_max - c->nss_uid_min + 1 < TS_CONFIG_NSS_UID_SPAN_MIN) {
		cfg_report(rep, LOG_ERR,
		       "%s: nss_uid_min %u .. nss_uid_max %u holds %u uids; at least %u are "
		       "needed so that hashed uids rarely collide",
		       origin, c->nss_uid_min, c->nss_uid_max, c->nss_uid_max - c->nss_uid_min + 1,
		       TS_CONFIG_NSS_UID_SPAN_MIN);
		(*errors)++;
	}
	if (c->nss_uid_min < c->min_uid) {
		cfg_report(rep, LOG_ERR,
		       "%s: nss_uid_min %u is below min_uid %u: the broker refuses uids below "
		       "min_uid, so cache users there could never sign in",
		       origin, c->nss_uid_min, c->min_uid);
		(*errors)++;
	}
	if (!ts_nsscache_home_template_valid(c->nss_home)) {
		cfg_report(rep, LOG_ERR,
		       "%s: nss_home '%s' must be an absolute path without ':' whose only %% "
		       "sequences are %%u (user name), %%U (uid) and %%%%",
		       origin, cfg_show(sv, c->nss_home, strlen(c->nss_home)));
		(*errors)++;
	}
	if (!ts_nsscache_shell_valid(c->nss_shell)) {
		cfg_report(rep, LOG_ERR, "%s: nss_shell '%s' must be an absolute path without ':' or '%%'",
		       origin, cfg_show(sv, c->nss_shell, strlen(c->nss_shell)));
		(*errors)++;
	}
	if (c->nss_resolve_unknown[0]) {
		r = ts_nsscache_regex_compile(&re, c->nss_resolve_unknown);
		if (r == 0) {
			regfree(&re);
		} else {
			cfg_report(rep, LOG_ERR,
			       "%s: nss_resolve_unknown '%s' is not a POSIX extended regular "
			       "expression that compiles (%s)",
			       origin, cfg_show(sv, c->nss_resolve_unknown, strlen(c->nss_resolve_unknown)),
			       r == -ENOMEM ? "out of memory" : "syntax error or too long");
			(*errors)++;
		}
	}
	if (!ts_nsscache_reserved_list_valid(c->nss_reserved_names)) {
		cfg_report(rep, LOG_ERR,
		       "%s: nss_reserved_names '%s' must list user or group names (a trailing * "
		       "makes a prefix) separated by commas or blanks",
		       origin, cfg_show(sv, c->nss_reserved_names, strlen(c->nss_reserved_names)));
		(*errors)++;
	}
	if (!ts_nsscache_group_map_valid(c->group_map)) {
		cfg_report(rep, LOG_ERR,
		       "%s: group_map '%s' must be 'identity provider group = local group name' "
		       "items separated by commas, each local name a valid group name and each "
		       "identity provider group listed once",
		       origin, cfg_show(sv, c->group_map, strlen(c->group_map)));
		(*errors)++;
	}
}

/* URLs and paths of the key table: each problem reported, counted in *errors. */
static void check_key_values(const struct ts_config *c, const char *origin,
                             const struct ts_config_report *rep, unsigned *errors)
{
	char sv[SHOW_MAX];

	for (size_t i = 0; i < ts_config_n_keys; i++) {
		const struct key_def *k = &ts_config_keys[i];
		const char *v = (const char *)c + k->offset;
		char why[160];

		if (is_nss_cache(k) && strcmp(v, TS_CONFIG_NSS_CACHE_OFF) == 0)
			continue;
		if (is_nss_cache(k) && !v[0]) {
			cfg_report(rep, LOG_ERR,
			       "%s: nss_cache must not be empty (set it to none to write no NSS "
			       "user cache)",
			       origin);
			(*errors)++;
			continue;
		}

		if (k->type == KT_URL && v[0] &&
		    ts_url_check(v, c->allow_loopback_http, why, sizeof(why)) < 0) {
			cfg_report(rep, LOG_ERR, "%s: %s '%s' is not a valid URL: %s", origin, k->name,
			       cfg_show(sv, v, strlen(v)), why);
			(*errors)++;
		}
		if (k->type == KT_PATH && v[0] && v[0] != '/') {
			cfg_report(rep, LOG_ERR, "%s: %s '%s' must be an absolute path", origin,
			       k->name, cfg_show(sv, v, strlen(v)));
			(*errors)++;
		}
		if (k->type == KT_PATH && !v[0] && k->def) {
			cfg_report(rep, LOG_ERR, "%s: %s must not be empty", origin, k->name);
			(*errors)++;
		}
	}
}

/*
 * A pasted token must be shown to belong to this client (introspection's
 * client_id or aud); userinfo cannot tell, so login_methods = token needs
 * revalidation by introspection, and that needs client_secret_file.
 */
static void check_token_method(const struct ts_config *c, const char *origin,
                               const struct ts_config_report *rep, unsigned *errors)
{
	bool token = false;

	for (size_t i = 0; i < c->n_login_methods && i < TS_LOGIN_METHODS_MAX; i++)
		token = token || c->login_methods[i] == TS_LOGIN_TOKEN;
	if (!token)
		return;
	if (c->revalidate == TS_REVALIDATE_USERINFO) {
		cfg_report(rep, LOG_ERR,
		       "%s: login_methods includes token, but revalidate = userinfo: pasted tokens "
		       "can only be checked with introspection, which needs client_secret_file",
		       origin);
		(*errors)++;
	} else if (c->revalidate == TS_REVALIDATE_AUTO && !c->client_secret_file[0]) {
		cfg_report(rep, LOG_ERR,
		       "%s: login_methods includes token, but revalidate = auto without "
		       "client_secret_file uses userinfo: pasted tokens can only be checked with "
		       "introspection, which needs client_secret_file",
		       origin);
		(*errors)++;
	}
}

/* basic and post send a secret; none sends none, so a secret file beside it
 * is a contradiction (introspection would silently stop working). */
static void check_client_auth(const struct ts_config *c, const char *origin,
                              const struct ts_config_report *rep, unsigned *errors)
{
	bool secret = c->client_secret_file[0] != '\0';

	if ((c->client_auth == TS_CLIENT_AUTH_BASIC || c->client_auth == TS_CLIENT_AUTH_POST) &&
	    !secret) {
		cfg_report(rep, LOG_ERR,
		           "%s: client_auth = %s needs client_secret_file (a public client uses "
		           "client_auth = none or auto)",
		           origin, c->client_auth == TS_CLIENT_AUTH_BASIC ? "basic" : "post");
		(*errors)++;
	} else if (c->client_auth == TS_CLIENT_AUTH_NONE && secret) {
		cfg_report(rep, LOG_ERR,
		           "%s: client_auth = none sends no client secret, but client_secret_file "
		           "is set: remove one of them",
		           origin);
		(*errors)++;
	}
}

int ts_config_validate(const struct ts_config *c, const char *origin,
                       const struct ts_config_report *rep)
{
	unsigned errors = 0;

	if (c->issuer[0] == '\0') {
		cfg_report(rep, LOG_ERR, "%s: issuer is not set", origin);
		errors++;
	}
	if (c->client_id[0] == '\0') {
		cfg_report(rep, LOG_ERR, "%s: client_id is not set", origin);
		errors++;
	}
	if (c->n_login_methods < 1 || c->n_login_methods > TS_LOGIN_METHODS_MAX) {
		cfg_report(rep, LOG_ERR, "%s: login_methods is empty", origin);
		errors++;
	}
	if (c->groups_claim[0] && ts_claim_path_check(c->groups_claim) < 0) {
		char sv[SHOW_MAX];

		cfg_report(rep, LOG_ERR,
		           "%s: groups_claim '%s' is not a claim name or a dotted path (a name, or "
		           "names joined by '.', at most %d, '\\.' for a dot inside a name, no "
		           "control characters)",
		           origin, cfg_show(sv, c->groups_claim, strlen(c->groups_claim)),
		           TS_CLAIM_PATH_SEGMENTS);
		errors++;
	}
	if (c->min_uid > c->max_uid) {
		cfg_report(rep, LOG_ERR, "%s: min_uid %u is above max_uid %u: no uid would be served",
		           origin, c->min_uid, c->max_uid);
		errors++;
	}
	check_key_values(c, origin, rep, &errors);
	check_token_method(c, origin, rep, &errors);
	check_client_auth(c, origin, rep, &errors);
	if (ts_config_nss_cache_on(c))
		check_nss(c, origin, rep, &errors);
	return errors ? TS_E_CONFIG : 0;
}

/* ---- identity ----------------------------------------------------------- */

int ts_config_map_username(const struct ts_config *c, const char *in, char *out, size_t outlen)
{
	size_t n = strlen(in);

	if (has_prefix(c->username_map, STRIP_SUFFIX)) {
		const char *suffix = c->username_map + strlen(STRIP_SUFFIX);
		size_t sl = strlen(suffix);

		/* The suffix is required: a name from another domain (or none)
		 * is not some local user's name with the suffix left off. */
		if (sl == 0 || n <= sl || memcmp(in + n - sl, suffix, sl) != 0)
			return -EINVAL;
		n -= sl;
	}
	if (n >= outlen)
		return -ENAMETOOLONG;
	memcpy(out, in, n);
	out[n] = '\0';
	return 0;
}

/* ---- whole-path checks -------------------------------------------------- */

enum path_kind {
	P_FILE,	    /* a file that must exist */
	P_FILE_NEW, /* a file that may not exist yet: then its folder is checked */
	P_DIR_NEW,  /* a folder that may not exist yet: then its parent is checked */
	P_ELSEWHERE, /* used by another program (the module execs broker_path, the
		      * service creates socket_path's folder): whatever part of
		      * it exists already, its deepest existing folder, is checked */
	P_SOCKET,    /* socket_path: as P_ELSEWHERE from its folder on; the socket
		      * itself is 0666 by design (SO_PEERCRED decides) */
};

static const struct {
	const char *key;
	enum path_kind kind;
} path_kinds[] = {
	{"client_secret_file", P_FILE},   {"ca_file", P_FILE},	       {"broker_path", P_ELSEWHERE},
	{"key_file", P_FILE_NEW},	  {"keystore_dir", P_DIR_NEW}, {"socket_path", P_SOCKET},
	{"nss_cache", P_ELSEWHERE}, /* the broker creates its folder */
};

static enum path_kind path_kind_of(const char *key)
{
	for (size_t i = 0; i < TS_ARRAY_SIZE(path_kinds); i++)
		if (strcmp(path_kinds[i].key, key) == 0)
			return path_kinds[i].kind;
	return P_FILE;
}

/* ts_path_check_safe on v as kind says; 0 or the error, why filled. */
static int check_one_path(const char *v, enum path_kind kind, char *why, size_t whylen)
{
	char parent[TS_PATH_MAX];
	char *slash;
	int r;

	if (kind == P_SOCKET) {
		kind = P_ELSEWHERE;
	} else if (kind == P_ELSEWHERE) {
		r = ts_path_check_safe(v, false, why, whylen);
		if (r == 0 || (r != -ENOENT && r != TS_E_NOT_REGULAR))
			return r;
	} else {
		r = ts_path_check_safe(v, kind == P_DIR_NEW, why, whylen);
		if (r != -ENOENT || kind == P_FILE)
			return r;
	}
	if (ts_strlcpy(parent, v, sizeof(parent)) < 0)
		return -ENAMETOOLONG;
	for (;;) {
		/* missing: only its folder may be missing no further, except
		 * for P_ELSEWHERE, which climbs to the deepest existing folder */
		slash = strrchr(parent, '/');
		if (!slash)
			return -EINVAL;
		if (slash == parent)
			slash[1] = '\0';
		else
			*slash = '\0';
		r = ts_path_check_safe(parent, true, why, whylen);
		if (r != -ENOENT || kind != P_ELSEWHERE || strcmp(parent, "/") == 0)
			return r;
	}
}

int ts_config_check_paths(const struct ts_config *c, const char *origin,
                          const struct ts_config_report *rep)
{
	char why[TS_PATH_MAX + 128], sv[SHOW_MAX];
	unsigned errors = 0;

	if (origin[0] == '/' && ts_path_check_safe(origin, false, why, sizeof(why)) < 0) {
		cfg_report(rep, LOG_ERR, "%s: the configuration file refused: %s", origin, why);
		errors++;
	}
	for (size_t i = 0; i < ts_config_n_keys; i++) {
		const struct key_def *k = &ts_config_keys[i];
		const char *v = (const char *)c + k->offset;

		if (k->type != KT_PATH || !v[0] || (is_nss_cache(k) && !ts_config_nss_cache_on(c)))
			continue;
		if (v[0] != '/') {
			cfg_report(rep, LOG_ERR, "%s: %s '%s' must be an absolute path", origin,
			       k->name, cfg_show(sv, v, strlen(v)));
			errors++;
			continue;
		}
		if (check_one_path(v, path_kind_of(k->name), why, sizeof(why)) < 0) {
			if (is_nss_cache(k)) {
				/* a cache problem never stops a sign-in: the
				 * broker writes no cache then (nss_update.c) */
				cfg_report(rep, LOG_WARNING,
				       "%s: nss_cache %s refused: %s; the broker will not write the "
				       "NSS user cache",
				       origin, v, why);
				continue;
			}
			cfg_report(rep, LOG_ERR, "%s: %s %s refused: %s", origin, k->name, v, why);
			errors++;
		}
	}
	return errors ? TS_E_CONFIG : 0;
}

/* Where key i may be set, for docs/tests: "any" (the top level, overridden in
 * [service NAME]), "top" (the top level only), "service" ([service NAME] only);
 * NULL past the end. */
