/* SPDX-License-Identifier: MIT */
/*
 * A case's input, set up before its request: canned answers at the fault
 * injector, claims at the real IdP, a spoiled configuration file, a
 * keystore or NSS cache folder changed under the broker (symbolic links,
 * owners, modes, foreign records, a full disk), idle connections to the
 * daemon, a record swapped for a symbolic link while the broker runs.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bi.h"
#include "ts_test.h"

static size_t discard(void *p, size_t sz, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return sz * n;
}

static int http(const char *url, const char *body, size_t len)
{
	CURL *h = curl_easy_init();
	long status = 0;
	CURLcode r;

	CHECK(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, W.faults.ca);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	r = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	return r == CURLE_OK && status == 200 ? 0 : -EIO;
}

/* canned[-N]-route / -grant / -status / -type / -location / -body */
static int canned(struct bi_case *c, const char *prefix)
{
	char key[64], url[2048], *body = NULL, *esc;
	const char *v;
	size_t len = 0;
	CURL *h;
	int r;

#define K(name) (snprintf(key, sizeof(key), "%s-%s", prefix, name), bi_get(c, key))
	if (!K("route"))
		return 0;
	h = curl_easy_init();
	CHECK(h);
	snprintf(url, sizeof(url), "%s/__canned?route=%s&status=%s", W.faults.base, K("route"),
	         K("status") ? K("status") : "200");
	if ((v = K("grant")))
		snprintf(url + strlen(url), sizeof(url) - strlen(url), "&grant=%s", v);
	if ((v = K("type"))) {
		esc = curl_easy_escape(h, v, 0);
		snprintf(url + strlen(url), sizeof(url) - strlen(url), "&type=%s", esc);
		curl_free(esc);
	}
	if ((v = K("location"))) {
		char loc[600];

		snprintf(loc, sizeof(loc), "%s", v);
		if (strncmp(loc, "@PORT@", 6) == 0) /* the injector's own port, another host */
			snprintf(loc, sizeof(loc), "https://127.0.0.2:%s%s",
			         strrchr(W.faults.base, ':') + 1, v + 6);
		esc = curl_easy_escape(h, loc, 0);
		snprintf(url + strlen(url), sizeof(url) - strlen(url), "&location=%s", esc);
		curl_free(esc);
	}
	curl_easy_cleanup(h);
	bi_decode(K("body") ? K("body") : "", &body, &len);
	r = http(url, body, len);
	free(body);
#undef K
	if (r < 0)
		snprintf(c->why, sizeof(c->why), "the fault injector refused the canned answer %s",
		         url);
	return r;
}

static char case_conf[800];

static int spoil_config(struct bi_case *c, char *config, size_t clen)
{
	const char *how = bi_get(c, "config-file"), *extra = bi_get(c, "config-extra");
	size_t len = 0;
	char *text;

	if (!how && !extra)
		return 0;
	snprintf(case_conf, sizeof(case_conf), "%s/case.conf", W.dir);
	(void)unlink(case_conf);
	text = ts_test_read_file(config, &len);
	if (extra) {
		char *e;
		size_t el;

		bi_decode(extra, &e, &el);
		text = realloc(text, len + el + 2);
		CHECK(text);
		memcpy(text + len, "\n", 1);
		memcpy(text + len + 1, e, el);
		len += el + 1;
		free(e);
	}
	ts_test_write_file(case_conf, text, len, 0644);
	free(text);
	snprintf(config, clen, "%s", case_conf);
	if (!how)
		return 0;
	if (strncmp(how, "mode ", 5) == 0)
		return chmod(case_conf, (mode_t)strtoul(how + 5, NULL, 8));
	if (strncmp(how, "owner ", 6) == 0)
		return chown(case_conf, strcmp(how + 6, "alice") == 0 ? W.alice : W.bob, 0);
	if (strcmp(how, "symlink") == 0)
		return bi_sh("mv '%s' '%s.real' && ln -s '%s.real' '%s'", case_conf, case_conf,
		             case_conf, case_conf);
	if (strcmp(how, "parent-writable") == 0)
		return bi_sh(
		           "mkdir -p '%s/open' && chmod 0777 '%s/open' && mv '%s' '%s/open/c.conf'",
		           W.dir, W.dir, case_conf, W.dir) ||
		       (snprintf(config, clen, "%s/open/c.conf", W.dir), 0);
	if (strncmp(how, "symlink-to ", 11) == 0)
		return unlink(case_conf) || symlink(how + 11, case_conf);
	if (strcmp(how, "fifo") == 0)
		return unlink(case_conf) || mkfifo(case_conf, 0644);
	if (strcmp(how, "directory") == 0)
		return unlink(case_conf) || mkdir(case_conf, 0755);
	if (strncmp(how, "append ", 7) == 0) {
		char *data;
		size_t dl;
		int fd = open(case_conf, O_WRONLY | O_APPEND | O_CLOEXEC);

		bi_decode(how + 7, &data, &dl);
		CHECK(fd >= 0 && write(fd, data, dl) == (ssize_t)dl);
		close(fd);
		free(data);
		return 0;
	}
	snprintf(c->why, sizeof(c->why), "unknown config-file: %s", how);
	return -1;
}

/* A small tmpfs at dir holding what dir held, filled up. */
static int full_disk(struct bi_case *c, const char *dir)
{
	char saved[900];

	snprintf(saved, sizeof(saved), "%s.saved", dir);
	if (bi_sh("mv '%s' '%s' && mkdir '%s'", dir, saved, dir) != 0)
		return -1;
	if (mount("badinput", dir, "tmpfs", 0, "size=64k,mode=0755") < 0) {
		snprintf(c->why, sizeof(c->why), "mount -t tmpfs: %s", strerror(errno));
		c->skipped = true;
		return -1;
	}
	if (bi_sh("cp -a '%s'/. '%s'/ && rm -rf '%s'", saved, dir, saved) != 0)
		return -1;
	/* every free block taken: the next write of a record fails */
	(void)bi_sh("dd if=/dev/zero of='%s/filler' bs=1k count=256 2>/dev/null", dir);
	return 0;
}

static char mounted[900];

static int spoil_keystore(struct bi_case *c, const char *config)
{
	const char *how = bi_get(c, "ks");
	const char *ks = strstr(config, "canned") ? W.ks_canned : W.ks_idp;
	char rec[900];

	snprintf(rec, sizeof(rec), "%s/users/%u.seal", ks, (unsigned)W.alice);
	if (bi_yes(c, "nss-full", false)) {
		if (full_disk(c, W.nss_dir) < 0)
			return -1;
		snprintf(mounted, sizeof(mounted), "%s", W.nss_dir);
	}
	if (!how)
		return 0;
	if (strcmp(how, "dir-symlink") == 0)
		return bi_sh("mv '%s' '%s.real' && ln -s '%s.real' '%s'", ks, ks, ks, ks);
	if (strcmp(how, "users-symlink") == 0)
		return bi_sh("mv '%s/users' '%s/users.real' && ln -s '%s/users.real' '%s/users'",
		             ks, ks, ks, ks);
	if (strcmp(how, "record-symlink") == 0)
		return bi_sh("mv '%s' '%s/moved.seal' && ln -s '%s/moved.seal' '%s'", rec, ks, ks,
		             rec);
	if (strcmp(how, "record-hardlink") == 0)
		return bi_sh("ln '%s' '%s/hard.seal'", rec, W.dir);
	if (strcmp(how, "record-fifo") == 0)
		return unlink(rec) || mkfifo(rec, 0600);
	if (strncmp(how, "record-mode ", 12) == 0)
		return chmod(rec, (mode_t)strtoul(how + 12, NULL, 8));
	if (strncmp(how, "dir-mode ", 9) == 0)
		return chmod(ks, (mode_t)strtoul(how + 9, NULL, 8));
	if (strncmp(how, "key-mode ", 9) == 0) {
		char key[900];

		snprintf(key, sizeof(key), "%s.key", ks);
		return chmod(key, (mode_t)strtoul(how + 9, NULL, 8));
	}
	if (strcmp(how, "record-owner alice") == 0)
		return chown(rec, W.alice, W.alice);
	if (strcmp(how, "dir-owner alice") == 0)
		return chown(ks, W.alice, W.alice);
	if (strcmp(how, "record-from bob") == 0)
		return bi_sh("cp '%s/users/%u.seal' '%s'", ks, (unsigned)W.bob, rec);
	if (strcmp(how, "record-other-key") == 0)
		return bi_sh("cp '%s/users/%u.seal' '%s'", W.ks_other, (unsigned)W.alice, rec);
	if (strcmp(how, "record-old") == 0)
		return bi_sh("cp '%s' '%s'", W.old_alice_idp, rec);
	if (strcmp(how, "record-truncated") == 0)
		return truncate(rec, 40);
	if (strcmp(how, "record-huge") == 0)
		return truncate(rec, 1024 * 1024 + 1); /* over any record bound; cheap to hash */
	if (strcmp(how, "full") == 0) {
		if (full_disk(c, ks) < 0)
			return -1;
		snprintf(mounted, sizeof(mounted), "%s", ks);
		return 0;
	}
	snprintf(c->why, sizeof(c->why), "unknown ks: %s", how);
	return -1;
}

/* ---- while the broker runs --------------------------------------------- */

static pid_t racer = -1;
static char race_rec[900], race_keep[900], race_link[900];

/* Swap alice's record for a symbolic link to bob's and back, as fast as
 * it goes, until killed. */
void bi_race_start(const struct bi_case *c, const char *config)
{
	const char *ks = strstr(config, "canned") ? W.ks_canned : W.ks_idp;
	char *rec = race_rec, *lnk = race_link, *keep = race_keep;
	int go[2];

	if (!bi_yes(c, "race-symlink", false))
		return;
	snprintf(rec, sizeof(race_rec), "%s/users/%u.seal", ks, (unsigned)W.alice);
	snprintf(lnk, sizeof(race_link), "%s/users/race.link", ks);
	snprintf(keep, sizeof(race_keep), "%s/race.keep", W.dir);
	(void)unlink(keep);
	CHECK(pipe2(go, O_CLOEXEC) == 0);
	racer = fork();
	CHECK(racer >= 0);
	if (racer > 0) {
		char x;

		/* the request starts once the swapping runs */
		close(go[1]);
		CHECK_MSG(read(go[0], &x, 1) == 1, "the record swapper did not start");
		close(go[0]);
		return;
	}
	close(go[0]);
	if (link(rec, keep) < 0)
		_exit(1);
	for (unsigned long i = 0;; i++) {
		char bob[900];

		snprintf(bob, sizeof(bob), "%s/users/%u.seal", ks, (unsigned)W.bob);
		(void)unlink(lnk);
		if (symlink(bob, lnk) == 0)
			(void)rename(lnk, rec);
		if (i == 0 && (write(go[1], "x", 1) != 1 || close(go[1]) < 0))
			_exit(1);
		usleep(20); /* the link stays a while: about half the time */
		if (link(keep, lnk) == 0)
			(void)rename(lnk, rec);
	}
}

/* Stop the swapping; a symbolic link left in the record's place is
 * replaced by the record again (the broker's own new record stays). */
void bi_race_stop(void)
{
	struct stat st;

	if (racer <= 0)
		return;
	kill(racer, SIGKILL);
	(void)waitpid(racer, NULL, 0);
	racer = -1;
	if (lstat(race_rec, &st) == 0 && S_ISLNK(st.st_mode))
		CHECK(rename(race_keep, race_rec) == 0);
	(void)unlink(race_keep);
	(void)unlink(race_link);
}

static int silent[64];
static size_t n_silent;

static void silent_peers(struct bi_case *c)
{
	const char *v = bi_get(c, "silent-peers");
	unsigned long n = v ? strtoul(v, NULL, 10) : 0;
	char *bytes = NULL;
	size_t bl = 0;

	if (bi_get(c, "silent-bytes"))
		bi_decode(bi_get(c, "silent-bytes"), &bytes, &bl);
	for (n_silent = 0; n_silent < n && n_silent < 64; n_silent++) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		memcpy(a.sun_path, W.socket, strlen(W.socket) + 1); /* checked by connect_daemon */
		CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
		if (bl)
			CHECK(write(fd, bytes, bl) == (ssize_t)bl);
		silent[n_silent] = fd;
	}
	free(bytes);
}

static bool claims_set;

int bi_setup(struct bi_case *c, char *config, size_t len)
{
	const char *v;

	/* alice's claims at the IdP stay set until a case without them comes
	 * (each ctl call starts node: the group cases run back to back) */
	if (claims_set && !bi_get(c, "idp-claims") && !bi_get(c, "idp-many-groups")) {
		CHECK_INT(ts_idp_set_claims(&W.idp, "alice", "{}", NULL), 0);
		claims_set = false;
	}
	claims_set = bi_get(c, "idp-claims") || bi_get(c, "idp-many-groups");
	if (canned(c, "canned") < 0 || canned(c, "canned2") < 0)
		return -1;
	if ((v = bi_get(c, "idp-claims")) &&
	    ts_idp_set_claims(&W.idp, "alice", v, bi_get(c, "idp-claims-where")) != 0) {
		snprintf(c->why, sizeof(c->why), "ctl set-claims failed");
		return -1;
	}
	if ((v = bi_get(c, "idp-many-groups")) &&
	    ts_idp_set_many_groups(&W.idp, "alice", (unsigned)strtoul(v, NULL, 10),
	                           bi_get(c, "idp-claims-where")) != 0) {
		snprintf(c->why, sizeof(c->why), "ctl set-claims (many groups) failed");
		return -1;
	}
	if (spoil_keystore(c, config) < 0) {
		if (!c->why[0])
			snprintf(c->why, sizeof(c->why), "setting up ks: %s failed",
			         bi_get(c, "ks"));
		return -1;
	}
	if (spoil_config(c, config, len) != 0) {
		if (!c->why[0])
			snprintf(c->why, sizeof(c->why), "setting up config-file: %s failed",
			         bi_get(c, "config-file"));
		return -1;
	}
	silent_peers(c);
	return 0;
}

void bi_teardown(struct bi_case *c)
{
	(void)c;
	bi_race_stop();
	for (size_t i = 0; i < n_silent; i++)
		close(silent[i]);
	n_silent = 0;
	if (mounted[0]) {
		if (umount2(mounted, MNT_DETACH) < 0)
			fprintf(stderr, "umount %s: %s\n", mounted, strerror(errno));
		mounted[0] = '\0';
	}
	{
		char url[400];

		snprintf(url, sizeof(url), "%s/__canned?clear", W.faults.base);
		(void)http(url, NULL, 0);
	}
	if (case_conf[0])
		(void)bi_sh("rm -rf '%s' '%s.real' '%s/open'", case_conf, case_conf, W.dir);
}
