/* SPDX-License-Identifier: MIT */
/*
 * The secrets scan (issue 18, label secrets): with every debug log on
 * (debug = yes, the module's debug argument, the broker's --debug), a
 * password login, a device login, uses, a forced refresh, a refresh after
 * the server revoked the access token, and two logouts, through the real
 * pam_tokenseal.so under pam_wrapper and the real tokenseal command, served
 * by the broker in exec mode or (TS_TEST_DAEMON=1) by the daemon, against
 * the real test IdP. Afterwards every secret the test IdP ever handed out
 * (GET /__test/issued: each access token, refresh token and device code,
 * rotated and revoked ones too), its client secret and the passwords typed
 * must appear nowhere:
 *  - the broker's log (exec-mode stderr / the daemon's log), the PAM
 *    module's log (pam_syslog through pam_wrapper, per transaction), the
 *    conversation text, the tokenseal command's stderr (and its stdout but
 *    for `token`, which prints the token by design);
 *  - the argv and environment of every process (/proc/PID/cmdline and
 *    /proc/PID/environ, sampled every millisecond or two for the whole run
 *    by a child, so every broker exec and every refresh is seen);
 *  - every regular file created or changed under /tmp and TMPDIR during the
 *    test, the keystore's sealed records included;
 *  - with the daemon: its memory (every writable private mapping, through
 *    /proc/PID/mem) once it has been idle 3 s: what libcurl, jansson and
 *    OpenSSL freed was wiped, and its pooled libcurl handles, idle 2 s,
 *    were cleaned up (before either, 5 tokens and codes were found there).
 * The scan is checked on itself first: canary values put into a child's
 * argv, its environment and a temp file must each be found.
 *
 * argv[1] = tokenseal-broker, argv[2] = tokenseal. Environment (CTest,
 * tests/secrets/secrets.cmake): pam_wrapper with the services sec-*, whose
 * config TS_SECRETS_CONF is written here.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <security/pam_appl.h>

#include "cli_run.h"
#include "pam_harness.h"
#include "secrets_scan.h"
#include "ts_daemon.h"
#include "ts_idp.h"
#include "ts_test.h"

static const char *conf;
static struct ph_slot *slot;
static struct sc_sampler sampler;
static char *transcript; /* conversations and command output, scanned at the end */
static size_t transcript_len;
/* the test IdP's own tools: approve-device has a password in its argv,
 * the IdP a client secret in its state dir; they are the server's side */
static const char *const tool_marks[] = {"/tests/fixtures/", NULL};

static void keep(const char *what, const char *text)
{
	size_t n = strlen(what) + strlen(text) + 8;
	char *t = realloc(transcript, transcript_len + n);

	CHECK(t);
	transcript = t;
	transcript_len += (size_t)snprintf(transcript + transcript_len, n, "== %s\n%s\n", what, text);
}

static long count(const char *key)
{
	long n = ts_idp_count(&ph_idp, key);

	CHECK_MSG(n >= 0, "the IdP's counter %s", key);
	return n;
}

static void pam(const char *service, const char *user, const struct ph_step *steps, size_t n,
                const struct ph_conv_spec *spec)
{
	char what[200];

	(void)ph_steps(service, user, steps, n, spec, slot);
	for (size_t i = 0; i < n; i++)
		CHECK_MSG(slot->rv[i] == PAM_SUCCESS, "%s %s step %zu: %s", service, user, i,
		          pam_strerror(NULL, slot->rv[i]));
	snprintf(what, sizeof(what), "conversation %s %s", service, user);
	keep(what, slot->conv);
}

static void cli(struct run *r, const char *const *args, bool keep_stdout)
{
	run_as(r, NULL, NULL, NULL, args);
	CHECK_MSG(r->exit == 0, "tokenseal %s %s: exit %d: %s", args[0], args[1] ? args[1] : "",
	          r->exit, r->err);
	keep("tokenseal stderr", r->err);
	if (keep_stdout)
		keep("tokenseal stdout", r->out);
}

/* ---- the scan checks itself ---------------------------------------------- */

static void canaries(void)
{
	char argv_c[64], env_c[80], file_c[64], path[700];
	unsigned files = 0;
	pid_t pid;
	int st;

	snprintf(argv_c, sizeof(argv_c), "canary-argv-%ld-%d", (long)time(NULL), (int)getpid());
	snprintf(env_c, sizeof(env_c), "CANARY=canary-env-%ld-%d", (long)time(NULL), (int)getpid());
	snprintf(file_c, sizeof(file_c), "canary-file-%ld-%d", (long)time(NULL), (int)getpid());
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char sh[] = "sh", c[] = "-c", cmd[] = "sleep 0.5; exit 0"; /* sh stays: no exec of the last command */
		char *const av[] = {sh, c, cmd, sh, argv_c, NULL};
		char *const ev[] = {env_c, NULL};

		execve("/bin/sh", av, ev);
		_exit(127);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	snprintf(path, sizeof(path), "/tmp/tokenseal-secrets-canary.%d", (int)getpid());
	ts_test_write_file(path, file_c, strlen(file_c), 0600);
	usleep(20000); /* the sampler's next sweeps */

	sc_add("canary", argv_c);
	CHECK_MSG(sc_scan_file("the /proc samples", sampler.path) == 1,
	          "the sampler saw a canary in a child's argv");
	sc_reset();
	sc_add("canary", env_c + strlen("CANARY="));
	CHECK_MSG(sc_scan_file("the /proc samples", sampler.path) == 1,
	          "the sampler saw a canary in a child's environment");
	sc_reset();
	sc_add("canary", file_c);
	CHECK_MSG(sc_scan_tree("/tmp", time(NULL) - 5, NULL, false, &files) == 1,
	          "the temp-file scan found a canary file");
	sc_reset();
	CHECK(unlink(path) == 0);
	fprintf(stderr, "   the scan finds canaries in argv, environ and a temp file\n");
}

/* ---- the scenario --------------------------------------------------------- */

static void scenario(void)
{
	const struct ph_conv_spec pw = {.answer = "alice-pw"};
	const struct ph_conv_spec dev = {.approve_login = "bob", .approve_pw = "bob-pw"};
	const struct ph_step login[] = {{PH_AUTH, 0}, {PH_ACCOUNT, 0}, {PH_OPEN, 0}};
	const struct ph_step use[] = {{PH_ACCOUNT, 0}, {PH_OPEN, 0}};
	const struct ph_step close_s[] = {{PH_CLOSE, 0}};
	struct run r;
	long refreshes;

	CHECK_INT(ts_idp_ctl(&ph_idp, "reset-counters", NULL), 0);
	/* a password login (the password travels: conversation -> broker -> IdP) */
	pam("sec-pw", "alice", login, 3, &pw);
	CHECK_INT(count("token:password"), 1);
	/* a device login (a device code the broker polls with) */
	pam("sec-dev", "bob", login, 2, &dev);
	CHECK_MSG(slot->code[0], "the device code reached the conversation");
	/* the command: status, the token, a forced refresh */
	cli(&r, ARGS("status", "--user", "alice"), true);
	cli(&r, ARGS("token", "--user", "alice"), false);
	CHECK_MSG(strlen(r.out) > 20, "tokenseal token printed a token");
	r.out[strcspn(r.out, "\r\n")] = '\0';
	sc_add("access token", r.out);
	cli(&r, ARGS("refresh", "--force", "--user", "alice"), true);
	refreshes = count("token:refresh_token");
	CHECK_MSG(refreshes >= 1, "tokenseal refresh --force refreshed at the server");
	/* the server revokes the access token: the next use refreshes */
	CHECK_INT(ts_idp_ctl(&ph_idp, "revoke-access-tokens", "alice"), 0);
	pam("sec-pw", "alice", use, 2, NULL);
	CHECK_MSG(count("token:refresh_token") > refreshes,
	          "a use after the server revoked the access token refreshed");
	/* logouts: the command's, and close_session (revoke_on = logout) */
	cli(&r, ARGS("logout", "--user", "bob"), true);
	pam("sec-pw", "alice", close_s, 1, NULL);
	CHECK_MSG(count("revocation") >= 2, "both logouts revoked at the server");
}

/* ---- what the test IdP handed out ------------------------------------------ */

static void collect_secrets(void)
{
	const char *argv[] = {TS_SOURCE_DIR "/tests/fixtures/idp/ctl", "--state-dir", ph_idp.dir,
	                      "issued", NULL};
	static char out[1 << 20];
	json_error_t jerr;
	json_t *j, *arr, *e;
	size_t i, len = 0;
	char *secret;

	CHECK_INT(ts_idp_run(argv, out, sizeof(out)), 0);
	j = json_loads(out, 0, &jerr);
	CHECK_MSG(j, "ctl issued answered JSON: %s", jerr.text);
	arr = json_object_get(j, "issued");
	CHECK(json_is_array(arr));
	json_array_foreach(arr, i, e) {
		const char *model = json_string_value(json_object_get(e, "model"));
		const char *value = json_string_value(json_object_get(e, "value"));

		CHECK(model && value);
		sc_add(strcmp(model, "AccessToken") == 0    ? "access token"
		       : strcmp(model, "RefreshToken") == 0 ? "refresh token"
		       : strcmp(model, "DeviceCode") == 0   ? "device code"
		                                            : "client-credentials token",
		       value);
	}
	json_decref(j);
	secret = ts_test_read_file(ph_idp.secret_file, &len);
	CHECK_MSG(secret && len >= 16, "the client secret read from %s", ph_idp.secret_file);
	sc_add("client secret", secret);
	free(secret);
	sc_add_shared("password", "alice-pw");
	sc_add_shared("password", "bob-pw");
	fprintf(stderr,
	        "   looking for %zu access tokens, %zu refresh tokens, %zu device codes, %zu "
	        "client secret, %zu passwords\n",
	        sc_count("access token"), sc_count("refresh token"), sc_count("device code"),
	        sc_count("client secret"), sc_count("password"));
	/* the scan is not vacuous: every kind is there, and the token the
	 * command printed was one of the issued ones (the list is the real
	 * values, not ids) */
	CHECK_MSG(sc_count("access token") >= 4, "access tokens: a login, a device login, two "
	                                          "refreshes");
	CHECK_MSG(sc_count("refresh token") >= 4, "refresh tokens, rotated on every refresh");
	CHECK_MSG(sc_count("device code") >= 1, "the device code");
}

static unsigned scan_everything(time_t since)
{
	char skip_tmp[800], skip_cli[800], skip_idp[800], skip_samples[800], skip_log[800],
	    skip_ops[800], pattern[800];
	const char *skip[8];
	unsigned hits = 0, files = 0;
	const char *tmpdir = getenv("TMPDIR");
	glob_t g;

	hits += sc_scan_file("the broker's log", ph_logfile);
	if (ts_daemon_mode()) {
		size_t bytes;
		unsigned mh;

		/* idle for more than the daemon's POOL_IDLE_MS (2 s): its
		 * pooled libcurl handles are cleaned up, wiped */
		sleep(3);
		mh = sc_scan_memory(ph_daemon_pid(conf), "the daemon's memory", &bytes);

		fprintf(stderr, "   scanned %zu bytes of the daemon's memory: %u hits\n", bytes, mh);
		hits += mh;
	}
	snprintf(pattern, sizeof(pattern), "%s/op-*.err", ts_test_tmpdir());
	CHECK(glob(pattern, 0, NULL, &g) == 0);
	CHECK_MSG(g.gl_pathc >= 4, "a PAM log per transaction (%zu)", (size_t)g.gl_pathc);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		size_t len = 0;
		char *t = ts_test_read_file(g.gl_pathv[i], &len);

		CHECK_MSG(t && strstr(t, "SYSLOG(7): "), "the module's debug log is in %s",
		          g.gl_pathv[i]);
		free(t);
		hits += sc_scan_file("the PAM module's log (pam_syslog under pam_wrapper)",
		                     g.gl_pathv[i]);
	}
	globfree(&g);
	hits += sc_scan_buf("the conversations and the command's output", transcript,
	                    transcript_len);
	hits += sc_scan_file("the argv or environment of a process (/proc sample)", sampler.path);
	hits += sc_scan_tree(ph_ksdir, 0, NULL, true, &files);
	/* temp files; not twice what was scanned above, not the IdP's own
	 * state (its client secret and log: the server's side), not the
	 * test's capture of `tokenseal token`'s stdout (the token, by design) */
	snprintf(skip_idp, sizeof(skip_idp), "%s/", ph_idp.dir);
	snprintf(skip_samples, sizeof(skip_samples), "%s", sampler.path);
	snprintf(skip_log, sizeof(skip_log), "%s", ph_logfile);
	snprintf(skip_ops, sizeof(skip_ops), "%s/op-", ts_test_tmpdir());
	snprintf(skip_cli, sizeof(skip_cli), "%s/cli.out", ts_test_tmpdir());
	snprintf(skip_tmp, sizeof(skip_tmp), "%s", ts_test_tmpdir());
	skip[0] = skip_idp;
	skip[1] = skip_samples;
	skip[2] = skip_log;
	skip[3] = skip_ops;
	skip[4] = skip_cli;
	skip[5] = NULL;
	/* the test's own folder for every secret, then the rest of /tmp and
	 * TMPDIR for the unique ones (other tests' files hold the passwords) */
	hits += sc_scan_tree(ts_test_tmpdir(), since, skip, true, &files);
	skip[5] = skip_tmp;
	skip[6] = NULL;
	hits += sc_scan_tree("/tmp", since, skip, false, &files);
	if (tmpdir && tmpdir[0] && strcmp(tmpdir, "/tmp") != 0)
		hits += sc_scan_tree(tmpdir, since, skip, false, &files);
	fprintf(stderr, "   scanned %u temp files, %lu distinct process samples (%lu of a broker) "
	                "in %lu sweeps of /proc\n",
	        files, sampler.stats->records, sampler.stats->brokers, sampler.stats->sweeps);
	CHECK_MSG(sampler.stats->brokers >= 1, "the sampler saw a tokenseal-broker process");
	CHECK_MSG(sampler.stats->sweeps >= 100, "the sampler swept /proc often");
	return hits;
}

int main(int argc, char **argv)
{
	char extra[2000], sock[700], samples[700];
	time_t since = time(NULL) - 1;
	unsigned hits;

	conf = getenv("TS_SECRETS_CONF");
	if (argc < 3)
		TS_SKIP("usage: test_secrets PATH-TO-tokenseal-broker PATH-TO-tokenseal");
	if (!getenv("PAM_WRAPPER") || !conf)
		TS_SKIP("needs pam_wrapper and TS_SECRETS_CONF: run through CTest");
	ph_require("(the harness's introspection helper)");
	fprintf(stderr, "secrets scan, %s mode\n", ts_daemon_mode() ? "daemon" : "exec");
	ph_setup(argv[1], 1);
	slot = ph_slot(0);
	ph_socket(conf, sock, sizeof(sock));
	snprintf(extra, sizeof(extra),
	         "broker_path = %s\nsocket_path = %s\ndebug = yes\nhttp_timeout = 5\n"
	         "revoke_on = logout\n"
	         "\n[service sec-pw]\nlogin_methods = password\n"
	         "\n[service sec-dev]\nlogin_methods = device\n",
	         ph_wrapper, sock);
	CHECK_MSG(ts_idp_write_config(&ph_idp, conf, "conf", extra) == 0, "write %s", conf);
	ph_serve(conf);
	cli_run_init(argv[2], conf);

	snprintf(samples, sizeof(samples), "%s/proc-samples", ts_test_tmpdir());
	sc_sampler_start(&sampler, samples, tool_marks);
	RUN(canaries);
	RUN(scenario);
	sc_sampler_stop(&sampler);
	collect_secrets();
	hits = scan_everything(since);
	CHECK_MSG(hits == 0, "%u secrets leaked (see LEAK lines above)", hits);
	free(transcript);
	return ts_test_done();
}
