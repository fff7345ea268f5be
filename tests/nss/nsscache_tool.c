/* SPDX-License-Identifier: MIT */
/*
 * Test and benchmark helper: builds an NSS user cache with the writer API
 * (common/ts_nsscache.h), the way the broker will.
 *   nsscache_tool PATH [options...]     (applied in order, then saved)
 *     --load                 start from PATH (else empty)
 *     --issuer URL           default https://idp.example
 *     --range MIN-MAX        default 1000000-1999999
 *     --gid N                0 = per-user groups (default)
 *     --home TEMPLATE        default /home/%u
 *     --shell PATH           default /bin/bash
 *     --regex ERE            nss_resolve_unknown
 *     --reserved-names LIST  nss_reserved_names
 *     --reserve UID
 *     --add SUB:NAME[:GECOS] prints "NAME UID"
 *     --users N              adds sub-<i> as user<i> (i = 0..N-1), gecos "User <i>"
 *     --tombstone NAME
 *     --member NAME:UID      a local account's member entry
 *     --groups NAME:G1,G2    its groups (published; "=GID" after a name: a local group)
 *     --passwd FILE          also write the active users as passwd lines
 *     --loop N               save N times (a writer rewriting in a loop)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_error.h"
#include "ts_nsscache.h"

static uint32_t num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX) {
		fprintf(stderr, "bad number: %s\n", s);
		exit(2);
	}
	return (uint32_t)v;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "nsscache_tool: %s: %s\n", what, ts_strerror(r));
	exit(1);
}

int main(int argc, char **argv)
{
	struct ts_nsscache_settings s = {.issuer = "https://idp.example",
	                                 .uid_min = TS_NSSCACHE_UID_MIN_DEFAULT,
	                                 .uid_max = TS_NSSCACHE_UID_MAX_DEFAULT,
	                                 .home_template = TS_NSSCACHE_HOME_DEFAULT,
	                                 .shell = TS_NSSCACHE_SHELL_DEFAULT,
	                                 .resolve_unknown = ""};
	struct ts_nsscache *c = NULL;
	const char *path, *passwd = NULL;
	unsigned long loops = 1;
	int i = 2, r;

	if (argc < 2) {
		fprintf(stderr, "usage: nsscache_tool PATH [options]\n");
		return 2;
	}
	path = argv[1];
	/* settings first (they may come anywhere), then the actions in order */
	for (int k = 2; k < argc; k++) {
		const char *a = argv[k], *v = k + 1 < argc ? argv[k + 1] : NULL;
		if (!strcmp(a, "--issuer") && v)
			s.issuer = v, k++;
		else if (!strcmp(a, "--range") && v) {
			char buf[64], *dash;
			snprintf(buf, sizeof(buf), "%s", v);
			dash = strchr(buf, '-');
			if (!dash)
				return 2;
			*dash = 0;
			s.uid_min = num(buf), s.uid_max = num(dash + 1), k++;
		} else if (!strcmp(a, "--gid") && v)
			s.gid = num(v), k++;
		else if (!strcmp(a, "--home") && v)
			s.home_template = v, k++;
		else if (!strcmp(a, "--shell") && v)
			s.shell = v, k++;
		else if (!strcmp(a, "--regex") && v)
			s.resolve_unknown = v, k++;
		else if (!strcmp(a, "--reserved-names") && v)
			s.reserved_names = v, k++;
	}
	if (argc > 2 && !strcmp(argv[2], "--load")) {
		r = ts_nsscache_load(&c, path, &s);
		i = 3;
	} else {
		r = ts_nsscache_new(&c, &s);
	}
	if (r < 0)
		die("load", r);
	for (; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "missing value for %s\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--reserve")) {
			if ((r = ts_nsscache_reserve_uid(c, num(v))) < 0)
				die("reserve", r);
		} else if (!strcmp(a, "--add")) {
			char buf[1024], *name, *gecos;
			uint32_t uid;
			snprintf(buf, sizeof(buf), "%s", v);
			name = strchr(buf, ':');
			if (!name)
				return 2;
			*name++ = 0;
			gecos = strchr(name, ':');
			if (gecos)
				*gecos++ = 0;
			if ((r = ts_nsscache_upsert(c, buf, name, gecos, &uid)) < 0)
				die("add", r);
			printf("%s %" PRIu32 "\n", name, uid);
		} else if (!strcmp(a, "--users")) {
			uint32_t n = num(v);
			for (uint32_t k = 0; k < n; k++) {
				char sub[32], name[32], gecos[32];
				snprintf(sub, sizeof(sub), "sub-%" PRIu32, k);
				snprintf(name, sizeof(name), "user%" PRIu32, k);
				snprintf(gecos, sizeof(gecos), "User %" PRIu32, k);
				if ((r = ts_nsscache_upsert(c, sub, name, gecos, NULL)) < 0)
					die("users", r);
			}
		} else if (!strcmp(a, "--member")) {
			char buf[300], *colon;
			snprintf(buf, sizeof(buf), "%s", v);
			colon = strchr(buf, ':');
			if (!colon)
				return 2;
			*colon = 0;
			if ((r = ts_nsscache_set_member(c, buf, num(colon + 1))) < 0)
				die("member", r);
		} else if (!strcmp(a, "--groups")) {
			struct ts_nsscache_group_ref refs[64];
			char buf[2048], *colon, *p, *save = NULL;
			size_t n = 0;
			snprintf(buf, sizeof(buf), "%s", v);
			colon = strchr(buf, ':');
			if (!colon)
				return 2;
			*colon = 0;
			for (p = strtok_r(colon + 1, ",", &save); p && n < 64;
			     p = strtok_r(NULL, ",", &save)) {
				char *eq = strchr(p, '=');
				refs[n] = (struct ts_nsscache_group_ref){.name = p};
				if (eq) {
					*eq = 0;
					refs[n].local = true;
					refs[n].gid = num(eq + 1);
				}
				n++;
			}
			if ((r = ts_nsscache_set_groups(c, buf, refs, n)) < 0)
				die("groups", r);
		} else if (!strcmp(a, "--tombstone")) {
			if ((r = ts_nsscache_tombstone(c, v)) < 0)
				die("tombstone", r);
		} else if (!strcmp(a, "--passwd")) {
			passwd = v;
		} else if (!strcmp(a, "--loop")) {
			loops = num(v);
		} else if (strcmp(a, "--issuer") && strcmp(a, "--range") && strcmp(a, "--gid") &&
		           strcmp(a, "--home") && strcmp(a, "--shell") && strcmp(a, "--regex") &&
		           strcmp(a, "--reserved-names")) {
			fprintf(stderr, "unknown option %s\n", a);
			return 2;
		}
	}
	for (unsigned long k = 0; k < loops; k++)
		if ((r = ts_nsscache_save(c, path)) < 0)
			die("save", r);
	if (passwd) {
		uint8_t *img;
		size_t len;
		struct ts_nsscache_view v;
		FILE *f = fopen(passwd, "w");
		if (!f || ts_nsscache_serialize(c, &img, &len) < 0 ||
		    ts_nsscache_view_open(&v, img, len) < 0)
			die("passwd", -EIO);
		for (uint32_t k = 0; k < v.n_entries; k++) {
			struct ts_nsscache_entry e;
			if (ts_nsscache_view_at(&v, k, &e) < 0)
				die("passwd", TS_E_CORRUPT);
			if (e.state == TS_NSSCACHE_ACTIVE)
				fprintf(f, "%s:x:%" PRIu32 ":%" PRIu32 ":%s:%s:%s\n", e.name, e.uid,
				        e.gid, e.gecos, e.home, e.shell);
		}
		free(img);
		if (fclose(f) != 0)
			die("passwd", -errno);
	}
	ts_nsscache_free(c);
	return 0;
}
