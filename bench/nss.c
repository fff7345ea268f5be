/* SPDX-License-Identifier: MIT */
/*
 * bench/nss: getpwnam of random names through glibc's real NSS dispatch, for
 * libnss_tokenseal.so.2 over a cache of N users and for glibc's own `files`
 * module over an /etc/passwd holding the same N users. bench/nss.sh sets up
 * each side in a private mount namespace and prints the ratios.
 *   bench_nss make DIR N        write DIR/users.cache, DIR/passwd.big (the
 *                               host's /etc/passwd + the N users),
 *                               DIR/nsswitch.files, DIR/nsswitch.tokenseal
 *   bench_nss many N LOOKUPS    LOOKUPS lookups in this process: ns/lookup
 *   bench_nss first N SEED      one lookup in this fresh process: ns
 *   bench_nss make DIR N G PER  also G groups grp0 .. grp(G-1), user i a
 *                               member of grp(i % G) .. grp((i + PER - 1) % G),
 *                               in the cache and in DIR/group.big (the host's
 *                               /etc/group + the G groups)
 *   bench_nss getgr G LOOKUPS   getgrnam of random groups: ns/lookup
 *   bench_nss initgroups N PER LOOKUPS
 *                               getgrouplist of random users: ns/lookup
 * Every lookup must find its user (group) with the expected name (at least
 * PER groups), or the run fails.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ts_error.h"
#include "ts_nsscache.h"

static const struct ts_nsscache_settings settings = {.issuer = "https://idp.bench.example",
                                                     .uid_min = TS_NSSCACHE_UID_MIN_DEFAULT,
                                                     .uid_max = TS_NSSCACHE_UID_MAX_DEFAULT,
                                                     .home_template = TS_NSSCACHE_HOME_DEFAULT,
                                                     .shell = TS_NSSCACHE_SHELL_DEFAULT,
                                                     .resolve_unknown = ""};

static unsigned long num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "bad number %s\n", s);
		exit(2);
	}
	return v;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static FILE *open_out(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	return f;
}

static int make_groups(struct ts_nsscache *c, const char *dir, unsigned long n, unsigned long g,
                       unsigned long per)
{
	struct ts_nsscache_group_ref *refs = calloc(per, sizeof(*refs));
	char (*names)[24] = calloc(g, sizeof(*names));
	FILE *f = open_out(dir, "group.big"), *in = fopen("/etc/group", "r");
	int r = 0;

	if (!refs || !names)
		return -ENOMEM;
	if (in) {
		char line[4096];
		while (fgets(line, sizeof(line), in))
			fputs(line, f);
		fclose(in);
	}
	for (unsigned long j = 0; j < g; j++)
		snprintf(names[j], sizeof(names[j]), "grp%lu", j);
	for (unsigned long i = 0; i < n && r >= 0; i++) {
		char name[32];

		for (unsigned long k = 0; k < per; k++)
			refs[k] = (struct ts_nsscache_group_ref){.name = names[(i + k) % g]};
		snprintf(name, sizeof(name), "user%lu", i);
		r = ts_nsscache_set_groups(c, name, refs, per);
	}
	for (unsigned long j = 0; j < g && r >= 0; j++) {
		const char *sep = "";

		fprintf(f, "%s:x:%lu:", names[j], 70000 + j);
		for (unsigned long i = 0; i < n; i++)
			if ((j + g - i % g) % g < per) {
				fprintf(f, "%suser%lu", sep, i);
				sep = ",";
			}
		fputc('\n', f);
	}
	if (fclose(f) != 0 && r >= 0)
		r = -EIO;
	free(refs);
	free(names);
	return r < 0 ? r : 0;
}

static int make(const char *dir, unsigned long n, unsigned long g, unsigned long per)
{
	struct ts_nsscache *c = NULL;
	char path[4096];
	FILE *f, *in;
	int r;

	if ((r = ts_nsscache_new(&c, &settings)) < 0)
		goto fail;
	f = open_out(dir, "passwd.big");
	in = fopen("/etc/passwd", "r");
	if (in) {
		char line[4096];
		while (fgets(line, sizeof(line), in))
			fputs(line, f);
		fclose(in);
	}
	for (unsigned long i = 0; i < n; i++) {
		char sub[32], name[32], gecos[32];
		uint32_t uid;
		snprintf(sub, sizeof(sub), "sub-%lu", i);
		snprintf(name, sizeof(name), "user%lu", i);
		snprintf(gecos, sizeof(gecos), "User %lu", i);
		if ((r = ts_nsscache_upsert(c, sub, name, gecos, &uid)) < 0)
			goto fail;
		fprintf(f, "%s:x:%" PRIu32 ":%" PRIu32 ":%s:/home/%s:/bin/bash\n", name, uid, uid,
		        gecos, name);
	}
	if (fclose(f) != 0)
		return 1;
	if (g && (r = make_groups(c, dir, n, g, per)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/users.cache", dir);
	if ((r = ts_nsscache_save(c, path)) < 0)
		goto fail;
	f = open_out(dir, "nsswitch.files");
	fputs("passwd: files\ngroup: files\nshadow: files\n", f);
	fclose(f);
	f = open_out(dir, "nsswitch.tokenseal");
	fputs("passwd: files tokenseal\ngroup: files tokenseal\nshadow: files\n", f);
	fclose(f);
	ts_nsscache_free(c);
	return 0;
fail:
	fprintf(stderr, "bench_nss make: %s\n", ts_strerror(r));
	ts_nsscache_free(c);
	return 1;
}

static void lookup(unsigned long i)
{
	char name[32];
	struct passwd *pw;

	snprintf(name, sizeof(name), "user%lu", i);
	pw = getpwnam(name);
	if (!pw || strcmp(pw->pw_name, name) != 0) {
		fprintf(stderr, "bench_nss: %s not found\n", name);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "make"))
		return make(argv[2], num(argv[3]), 0, 0);
	if (argc == 6 && !strcmp(argv[1], "make"))
		return make(argv[2], num(argv[3]), num(argv[4]), num(argv[5]));
	if (argc == 4 && !strcmp(argv[1], "getgr")) {
		unsigned long g = num(argv[2]), loops = num(argv[3]);
		unsigned seed = 4321;
		uint64_t t0 = now_ns();

		for (unsigned long k = 0; k < loops; k++) {
			char name[32];
			struct group *gr;

			snprintf(name, sizeof(name), "grp%lu", (unsigned long)rand_r(&seed) % g);
			gr = getgrnam(name);
			if (!gr || strcmp(gr->gr_name, name) != 0 || !gr->gr_mem[0]) {
				fprintf(stderr, "bench_nss: group %s not found (or no members)\n", name);
				return 1;
			}
		}
		printf("%" PRIu64 "\n", (now_ns() - t0) / (loops ? loops : 1));
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "initgroups")) {
		unsigned long n = num(argv[2]), per = num(argv[3]), loops = num(argv[4]);
		unsigned seed = 999;
		uint64_t t0 = now_ns();

		for (unsigned long k = 0; k < loops; k++) {
			char name[32];
			gid_t gids[2048];
			int ng = 2048;

			snprintf(name, sizeof(name), "user%lu", (unsigned long)rand_r(&seed) % n);
			if (getgrouplist(name, 1, gids, &ng) < 0 || (unsigned long)ng < per + 1) {
				fprintf(stderr, "bench_nss: %s: %d groups, expected %lu\n", name, ng,
				        per + 1);
				return 1;
			}
		}
		printf("%" PRIu64 "\n", (now_ns() - t0) / (loops ? loops : 1));
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "many")) {
		unsigned long n = num(argv[2]), loops = num(argv[3]);
		unsigned seed = 12345;
		uint64_t t0;

		lookup(0); /* the module loaded and the file opened: steady state */
		t0 = now_ns();
		for (unsigned long k = 0; k < loops; k++)
			lookup((unsigned long)rand_r(&seed) % n);
		printf("%" PRIu64 "\n", (now_ns() - t0) / (loops ? loops : 1));
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "first")) {
		unsigned long n = num(argv[2]);
		unsigned seed = (unsigned)num(argv[3]);
		unsigned long i = (unsigned long)rand_r(&seed) % n;
		uint64_t t0 = now_ns();

		lookup(i);
		printf("%" PRIu64 "\n", now_ns() - t0);
		return 0;
	}
	fprintf(stderr, "usage: bench_nss make DIR N | many N LOOKUPS | first N SEED\n");
	return 2;
}
