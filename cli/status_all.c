/* SPDX-License-Identifier: MIT */
/*
 * `tokenseal status --all` (root): one STATUS request per record of the
 * keystore (the files users/<uid>.seal of keystore_dir, by uid), printed
 * as one line each (user, state, expiry, server) or, with --json, as an
 * array of status objects (schema 1). The records are named by listing
 * the folder only: the command never opens a record or a key.
 */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "ts_error.h"
#include "ts_proto.h"
#include "verb.h"

#define MAX_RECORDS 65536

/* "<uid>.seal" exactly: temp files and anything else are not records. */
static bool record_uid(const char *name, unsigned *ret)
{
	unsigned long v = 0;
	size_t n = 0;

	while (name[n] >= '0' && name[n] <= '9') {
		v = v * 10 + (unsigned long)(name[n] - '0');
		if (v > 0xfffffffeUL)
			return false;
		n++;
	}
	if (n == 0 || n > 10 || strcmp(name + n, ".seal") != 0 || (n > 1 && name[0] == '0'))
		return false;
	*ret = (unsigned)v;
	return true;
}

static int cmp_uid(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* The uids with a record, sorted; malloc'd. */
static int list_uids(const char *ksdir, unsigned **ret, size_t *ret_n)
{
	char dir[TS_PATH_MAX + 8];
	unsigned *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	if (snprintf(dir, sizeof(dir), "%s/users", ksdir) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		unsigned uid;

		if (!record_uid(de->d_name, &uid))
			continue;
		if (n == cap) {
			unsigned *nv;

			if (cap >= MAX_RECORDS)
				break;
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = uid;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_uid);
	*ret = v;
	*ret_n = n;
	return 0;
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && s[0] ? s : dflt;
}

/* One record: STATUS for its user; the status object (schema 1) in *ret. */
static int one(struct cli *c, const char *user, json_t **ret)
{
	struct ts_client_request rq = {.type = TS_MSG_STATUS};
	struct ts_client_result res;
	char *text;
	int r;

	rq.user = user;
	rq.flags = TS_FLAG_NONINTERACTIVE;
	r = cli_broker_call(c, &rq, NULL, &res);
	if (r < 0) {
		int x = cli_finish(c, r, &res, false);

		ts_client_result_clear(&res);
		return x;
	}
	text = cli_status_json(user, res.status_json, res.state, res.message, false, time(NULL));
	ts_client_result_clear(&res);
	*ret = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	return *ret ? 0 : CLI_EXIT_UNAVAILABLE;
}

int cli_status_all(struct cli *c)
{
	json_t *all = NULL;
	unsigned *uids = NULL;
	size_t n = 0;
	int x, r;

	if ((x = cli_load_config(c)))
		return x;
	r = list_uids(c->cfg.keystore_dir, &uids, &n);
	if (r == -ENOENT) {
		cli_err("the keystore %s is not initialised; run `tokenseal keystore init`",
		        c->cfg.keystore_dir);
		return CLI_EXIT_KEYSTORE;
	}
	if (r < 0) {
		cli_err("cannot list the records in %s/users: %s", c->cfg.keystore_dir,
		        ts_strerror(r));
		return CLI_EXIT_KEYSTORE;
	}
	all = json_array();
	if (!all) {
		free(uids);
		return CLI_EXIT_UNAVAILABLE;
	}
	for (size_t i = 0; i < n; i++) {
		struct passwd *pw = getpwuid((uid_t)uids[i]);
		json_t *o = NULL;

		if (!pw) {
			cli_warn("%s/users/%u.seal: uid %u has no user name on this host (a "
			         "removed account?); not shown",
			         c->cfg.keystore_dir, uids[i], uids[i]);
			continue;
		}
		x = one(c, pw->pw_name, &o);
		if (x) {
			json_decref(all);
			free(uids);
			return x;
		}
		if (c->json) {
			json_array_append_new(all, o);
			continue;
		}
		printf("%-16s  %-11s  %-20s  %s\n", str_or(o, "user", "?"), str_or(o, "state", "?"),
		       str_or(o, "expires_at", "-"), str_or(o, "issuer", "-"));
		json_decref(o);
	}
	free(uids);
	if (c->json) {
		c->json_done = true;
		x = cli_json_print(all) < 0 ? CLI_EXIT_UNAVAILABLE : CLI_EXIT_OK;
	} else {
		json_decref(all);
		x = fflush(stdout) != 0 ? CLI_EXIT_UNAVAILABLE : CLI_EXIT_OK;
	}
	return x;
}
