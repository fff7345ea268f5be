/* SPDX-License-Identifier: MIT */
/*
 * The catalogue's view of the state: a snapshot of every file under the
 * runner's state folder (keystores, master keys, the NSS cache) as sorted
 * lines "path mode uid:gid sha256" (lock files and the discovery cache
 * aside), the restore of the pristine copy, and the checks run after a
 * case: crash traces, kept paths, the NSS cache's bytes, empty folders.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bi.h"
#include "ts_daemon.h"
#include "ts_sha256.h"
#include "ts_test.h"

/* ---- the state: snapshot, restore ----------------------------------------- */

static char *snap;
static size_t snap_len, snap_cap;

static void snap_add(const char *s)
{
	size_t n = strlen(s);

	if (snap_len + n + 1 > snap_cap) {
		snap_cap = (snap_len + n + 1) * 2;
		snap = realloc(snap, snap_cap);
		CHECK(snap);
	}
	memcpy(snap + snap_len, s, n + 1);
	snap_len += n;
}

static int snap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char line[1200], hex[65] = "-";
	const char *rel = path + strlen(W.state);
	const char *base = path + ftw->base;
	size_t n = strlen(base);

	(void)flag;
	/* lock files come and go with every request; records, keys, the NSS
	 * cache and quarantine/ do not */
	if ((n > 5 && strcmp(base + n - 5, ".lock") == 0) || strcmp(base, "filler") == 0)
		return 0;
	/* state/UID.pending (ks_pending_*, an empty file) marks a refresh
	 * whose answer was not stored: it stays when the answer was
	 * malformed or could not be saved, so that a later refusal is
	 * reported as the lost-answer case; it holds no credential */
	if (n > 8 && strcmp(base + n - 8, ".pending") == 0)
		return 0;
	/* the discovery cache is a cache: a request may rewrite it */
	if (strcmp(base, "discovery.json") == 0)
		return 0;
	if (S_ISREG(st->st_mode)) {
		size_t len = 0;
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		char *data = NULL;

		if (fd >= 0) {
			close(fd);
			data = ts_test_read_file(path, &len);
			ts_sha256_hex(hex, sizeof(hex), data, len);
			free(data);
		}
	} else if (S_ISLNK(st->st_mode)) {
		char t[700];
		ssize_t r = readlink(path, t, sizeof(t) - 1);

		t[r < 0 ? 0 : r] = '\0';
		snprintf(hex, sizeof(hex), "-> %.60s", t);
	}
	snprintf(line, sizeof(line), "%s %o %u:%u %s\n", rel[0] ? rel : "/", (unsigned)st->st_mode,
	         (unsigned)st->st_uid, (unsigned)st->st_gid, hex);
	snap_add(line);
	return 0;
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The state as sorted lines "path mode uid:gid sha256" (malloc'd). */
char *bi_snapshot(void)
{
	char *lines[4096], *out, *p;
	size_t n = 0, total = 0;

	snap_len = 0;
	snap_add("");
	CHECK(nftw(W.state, snap_one, 16, FTW_PHYS) == 0);
	for (p = strtok_r(snap, "\n", &out); p && n < 4096; p = strtok_r(NULL, "\n", &out))
		lines[n++] = p;
	qsort(lines, n, sizeof(lines[0]), cmp_lines);
	for (size_t i = 0; i < n; i++)
		total += strlen(lines[i]) + 1;
	out = calloc(1, total + 1);
	CHECK(out);
	total = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(lines[i]);

		memcpy(out + total, lines[i], l);
		out[total + l] = '\n';
		total += l + 1;
	}
	return out;
}

void bi_restore_state(void)
{
	CHECK_INT(bi_sh("rm -rf '%s' && cp -a '%s' '%s'", W.state, W.pristine, W.state), 0);
}

/* Sanitizer reports and core files the case left behind. */
bool bi_crash_traces(char *why, size_t len)
{
	DIR *d = opendir(W.asan_dir);
	struct dirent *de;
	bool found = false;

	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(why, len, "a sanitizer report: %s/%s", W.asan_dir, de->d_name);
			found = true;
		}
	if (d)
		closedir(d);
	if (!found && ts_daemon_file_has(W.case_log, "Sanitizer")) {
		snprintf(why, len, "a sanitizer report in %s", W.case_log);
		found = true;
	}
	if (!found && ts_daemon_file_has(W.case_log, "runtime error:")) {
		snprintf(why, len, "UBSan: runtime error in %s", W.case_log);
		found = true;
	}
	if (!found && (ts_daemon_file_has(W.daemon_log, "Sanitizer") ||
	               ts_daemon_file_has(W.daemon_log, "runtime error:"))) {
		static bool told;

		/* reported once, by the case during which it appeared */
		if (!told)
			snprintf(why, len, "a sanitizer report in the daemon's log %s",
			         W.daemon_log);
		found = !told;
		told = true;
	}
	if (!found && access("core", F_OK) == 0) {
		snprintf(why, len, "a core file in the working folder");
		found = true;
	}
	return found;
}

/* the lines of a that b lacks, and the other way round */
void bi_print_diff(const char *a, const char *b)
{
	const char *side[2][2] = {{a, b}, {b, a}};

	for (int k = 0; k < 2; k++)
		for (const char *p = side[k][0]; *p;) {
			const char *e = strchr(p, '\n');
			size_t l = e ? (size_t)(e - p) + 1 : strlen(p);
			char line[1300];

			snprintf(line, sizeof(line), "%.*s", (int)l, p);
			if (!strstr(side[k][1], line))
				fprintf(stderr, "   %s %s", k ? "after: " : "before:", line);
			p += l;
		}
}

/* keep: a comma list of "alice-record", "bob-record", "nss" or a path
 * fragment: every state line naming one is the same before and after. */
void bi_check_kept(struct bi_case *c, const char *before, const char *after)
{
	char *list = strdup(bi_get(c, "keep")), *save, *tok;

	for (tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		char frag[64];
		const char *lines[2] = {before, after};
		char *sel[2];

		if (strcmp(tok, "alice-record") == 0 || strcmp(tok, "bob-record") == 0)
			snprintf(frag, sizeof(frag), "/users/%u.seal ",
			         (unsigned)(tok[0] == 'a' ? W.alice : W.bob));
		else if (strcmp(tok, "nss") == 0)
			snprintf(frag, sizeof(frag), "/nss/");
		else
			snprintf(frag, sizeof(frag), "%s", tok);
		for (int k = 0; k < 2; k++) {
			const char *p = lines[k];
			size_t n = 0;

			sel[k] = calloc(1, strlen(p) + 1);
			CHECK(sel[k]);
			while (*p) {
				const char *e = strchr(p, '\n');
				size_t l = e ? (size_t)(e - p) + 1 : strlen(p);

				if (memmem(p, l, frag, strlen(frag))) {
					memcpy(sel[k] + n, p, l);
					n += l;
				}
				p += l;
			}
		}
		if (!sel[0][0])
			snprintf(c->why, sizeof(c->why), "keep: %s names nothing in the state",
			         tok);
		else if (strcmp(sel[0], sel[1]) != 0)
			snprintf(c->why, sizeof(c->why),
			         "%s changed: before \"%.200s\" after \"%.200s\"", tok, sel[0],
			         sel[1]);
		free(sel[0]);
		free(sel[1]);
	}
	free(list);
}

/* nss-lacks: bytes the NSS cache file must not hold (an unsanitised
 * claim that would reach getent's output) */
void bi_check_nss_lacks(struct bi_case *c)
{
	char path[900], *data, *needle;
	size_t len = 0, nl = 0;

	snprintf(path, sizeof(path), "%s/users.cache", W.nss_dir);
	data = ts_test_read_file(path, &len);
	bi_decode(bi_get(c, "nss-lacks"), &needle, &nl);
	if (nl && memmem(data, len, needle, nl))
		snprintf(c->why, sizeof(c->why), "the NSS cache holds the claim's raw bytes \"%s\"",
		         bi_get(c, "nss-lacks"));
	free(data);
	free(needle);
}

/* check-empty: a folder (under the runner's own tmp: @DIR@/x) that must
 * still be empty (HOME, TMPDIR of a host process). */
void bi_check_empty(struct bi_case *c)
{
	const char *v = bi_get(c, "check-empty");
	char path[900];
	DIR *d;
	struct dirent *de;

	if (strcmp(v, "@PRELOAD_DIR@") == 0)
		snprintf(path, sizeof(path), "%s", BI_PRELOAD_DIR);
	else
		snprintf(path, sizeof(path), "%s/%s", W.dir,
		         strncmp(v, "@DIR@/", 6) == 0 ? v + 6 : v);
	d = opendir(path);
	if (!d) {
		snprintf(c->why, sizeof(c->why), "check-empty: %s: %s", path, strerror(errno));
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			snprintf(c->why, sizeof(c->why), "%s holds %s", path, de->d_name);
	closedir(d);
}
