/* SPDX-License-Identifier: MIT */
/*
 * What the tokenseal command prints and how it exits, as a script meets
 * it (tokenseal(1), EXIT STATUS and JSON OUTPUT), against the real test
 * IdP as root (exec mode):
 *  - one exit code per class: 2 sign-in, 3 server, 4 configuration,
 *    5 keystore, 6 interaction, 7 not permitted, 64 usage, each also as
 *    {"error": {"class", "code", "exit_code", "message"}} with --json;
 *  - --json on every verb: one JSON value on stdout, parsed here, with the
 *    documented keys and no secret but token's own access token;
 *  - status --all for root (a line per record, an array with --json), and
 *    refused (7) for anyone else;
 *  - one wording for an unknown verb, an error line before every usage;
 *  - colour decided from stdout: a terminal gets it, a pipe does not (while
 *    stderr is a terminal), nor TERM=dumb, nor NO_COLOR.
 *
 * argv[1]: the tokenseal binary, argv[2]: tokenseal-broker.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cli_run.h"
#include "oauth.h"
#include "ts_config.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_mem.h"
#include "ts_paths.h"
#include "ts_test.h"

static struct ts_idp idp;
static char cfg[700], cli_bin[512];

static void run(struct run *r, const char *const *args)
{
	run_as(r, NULL, NULL, NULL, args);
}

/* stdout is exactly one JSON value; returned (decref by the caller). */
static json_t *one_json(const struct run *r)
{
	json_error_t je;
	json_t *o = json_loads(r->out, 0, &je);

	CHECK_MSG(o, "stdout is one JSON value (%s): %s", je.text, r->out);
	return o;
}

/* An object with exactly these keys (NULL-terminated). */
static void want_keys(json_t *o, const char *const *keys)
{
	size_t n = 0;

	CHECK(json_is_object(o));
	for (; keys[n]; n++)
		CHECK_MSG(json_object_get(o, keys[n]), "key \"%s\" is present", keys[n]);
	CHECK_MSG(json_object_size(o) == n, "%zu keys, %zu documented", json_object_size(o), n);
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* --json's error object: the class, the exit code in it, a message. */
static void want_error(const struct run *r, int exit, const char *cls)
{
	json_t *o, *e;

	CHECK_INT(r->exit, exit);
	o = one_json(r);
	want_keys(o, ARGS("error"));
	e = json_object_get(o, "error");
	want_keys(e, ARGS("class", "code", "exit_code", "message"));
	CHECK_STR(jstr(e, "class"), cls);
	CHECK_INT(json_integer_value(json_object_get(e, "exit_code")), exit);
	CHECK(json_is_null(json_object_get(e, "code")) ||
	      (json_is_integer(json_object_get(e, "code")) &&
	       json_integer_value(json_object_get(e, "code")) < 0));
	CHECK_MSG(strlen(jstr(e, "message")) > 10, "a message: %s", r->out);
	/* the same message for people on stderr */
	CHECK_MSG(strncmp(r->err, "tokenseal: ", 11) == 0, "stderr: %s", r->err);
	json_decref(o);
}

/* ---- usage (64) ---- */

static void test_usage(void)
{
	static const char unknown[] = "tokenseal: unknown verb \"frob\"; see `tokenseal --help`\n";
	struct run r;

	/* a bare tokenseal: an error line, then the usage */
	run(&r, ARGS(NULL));
	CHECK_INT(r.exit, 64);
	CHECK_STR(r.out, "");
	CHECK_MSG(strncmp(r.err,
	                  "tokenseal: a verb is missing; see `tokenseal --help`\n"
	                  "usage: tokenseal [--version] [--help] VERB [OPTIONS]\n",
	                  105) == 0,
	          "%s", r.err);
	/* one wording for an unknown verb, whether run or asked about */
	run(&r, ARGS("frob"));
	CHECK_INT(r.exit, 64);
	CHECK_STR(r.err, unknown);
	run(&r, ARGS("help", "frob"));
	CHECK_INT(r.exit, 64);
	CHECK_STR(r.err, unknown);
	/* keystore with a wrong number of arguments: an error line first */
	run(&r, ARGS("keystore"));
	CHECK_INT(r.exit, 64);
	CHECK_STR(r.err, "tokenseal: keystore: the operation is missing: init, verify, "
	                 "rotate-key or forget USER\n"
	                 "usage: tokenseal keystore [--json] init | verify | rotate-key | forget "
	                 "USER\n");
	run(&r, ARGS("keystore", "verify", "extra"));
	CHECK_INT(r.exit, 64);
	CHECK(strncmp(r.err, "tokenseal: keystore: unexpected argument \"extra\"\nusage: ", 56) ==
	      0);
	run(&r, ARGS("status", "--bogus"));
	CHECK_INT(r.exit, 64);
	CHECK(strncmp(r.err, "tokenseal: status: unknown option \"--bogus\"\nusage: ", 51) == 0);
	run(&r, ARGS("status", "--all", "--user", "alice"));
	CHECK_INT(r.exit, 64);
	CHECK(strncmp(r.err, "tokenseal: status: --all and --user exclude each other\n", 55) == 0);
	/* with --json: the error object on stdout, anywhere --json stands */
	run(&r, ARGS("status", "--bogus", "--json"));
	want_error(&r, 64, "usage");
	run(&r, ARGS("frob", "--json"));
	want_error(&r, 64, "usage");
	run(&r, ARGS("keystore", "--json"));
	want_error(&r, 64, "usage");
	/* doctor too, whose own --json is its report */
	run(&r, ARGS("doctor", "--json", "--bogus"));
	want_error(&r, 64, "usage");
	run(&r, ARGS("doctor", "extra", "--json"));
	want_error(&r, 64, "usage");
}

/* ---- every verb's --json ---- */

static char alice_at[4096];

/* A sign-in without a person: a refresh token from the password grant,
 * redeemed by `login --refresh-token-stdin --json`. */
static void login_json(const char *user, const char *pw)
{
	struct ts_config c;
	struct oauth_client *oc = NULL;
	struct oauth_tokens t = {0};
	struct oauth_error err = {0};
	char line[4096], want[600];
	struct run r;
	json_t *o;

	ts_config_defaults(&c);
	CHECK_INT(ts_config_load(&c, cfg, NULL, NULL), 0);
	CHECK_INT(oauth_client_new(&oc, &c, &err), 0);
	CHECK_INT(oauth_password_grant(oc, user, pw, &t, &err), 0);
	CHECK(t.refresh_token);
	ts_leak_remember(t.refresh_token);
	ts_leak_remember(t.access_token);
	snprintf(line, sizeof(line), "%s\n", t.refresh_token);
	oauth_tokens_clear(&t);
	oauth_client_free(oc);
	run_as(&r, NULL, line, ARGS("TOKENSEAL_NONINTERACTIVE=1"),
	       ARGS("login", "--refresh-token-stdin", "--json", "--user", user));
	ts_wipe(line, sizeof(line));
	CHECK_INT(r.exit, 0);
	o = one_json(&r);
	want_keys(o, ARGS("user", "state", "message"));
	CHECK_STR(jstr(o, "user"), user);
	CHECK_STR(jstr(o, "state"), "valid");
	snprintf(want, sizeof(want), "signed in to %s as %s", idp.issuer, user);
	CHECK_MSG(strstr(jstr(o, "message"), want), "%s", r.out);
	/* the message is in the object, not repeated on stderr */
	CHECK_STR(r.err, "");
	ts_leak_scan("login --json", r.out, strlen(r.out));
	json_decref(o);
}

static void test_json_verbs(void)
{
	struct run r;
	json_t *o;

	run(&r, ARGS("version", "--json"));
	CHECK_INT(r.exit, 0);
	o = one_json(&r);
	want_keys(o, ARGS("version"));
	CHECK_STR(jstr(o, "version"), TS_VERSION);
	json_decref(o);
	run(&r, ARGS("--version", "--json"));
	CHECK_INT(r.exit, 0);
	CHECK(strstr(r.out, "\"version\": \"" TS_VERSION "\""));

	run(&r, ARGS("keystore", "init", "--json"));
	CHECK_INT(r.exit, 0);
	o = one_json(&r);
	want_keys(o, ARGS("operation", "user", "message"));
	CHECK_STR(jstr(o, "operation"), "init");
	CHECK(json_is_null(json_object_get(o, "user")));
	json_decref(o);

	login_json("alice", "alice-pw");
	login_json("bob", "bob-pw");

	run(&r, ARGS("token", "--json", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	o = one_json(&r);
	want_keys(o, ARGS("access_token", "token_type", "expires_in", "expires_at"));
	snprintf(alice_at, sizeof(alice_at), "%s", jstr(o, "access_token"));
	CHECK(strlen(alice_at) > 10);
	ts_leak_remember(alice_at);
	json_decref(o);

	run(&r, ARGS("refresh", "--json", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	o = one_json(&r);
	want_keys(o, ARGS("user", "state", "message"));
	CHECK_STR(jstr(o, "user"), "alice");
	CHECK_STR(r.err, "");
	ts_leak_scan("refresh --json", r.out, strlen(r.out));
	json_decref(o);

	run(&r, ARGS("status", "--json", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	o = one_json(&r);
	CHECK_INT(json_integer_value(json_object_get(o, "schema")), 1);
	CHECK_STR(jstr(o, "state"), "valid");
	ts_leak_scan("status --json", r.out, strlen(r.out));
	json_decref(o);

	run(&r, ARGS("keystore", "verify", "--json"));
	CHECK_INT(r.exit, 0);
	o = one_json(&r);
	want_keys(o, ARGS("operation", "user", "message"));
	CHECK_STR(jstr(o, "operation"), "verify");
	CHECK_MSG(strstr(jstr(o, "message"), "2 records"), "%s", r.out);
	json_decref(o);

	run(&r, ARGS("keystore", "--json", "rotate-key"));
	CHECK_INT(r.exit, 0);
	o = one_json(&r);
	CHECK_STR(jstr(o, "operation"), "rotate-key");
	CHECK_MSG(strstr(jstr(o, "message"), "2 records re-sealed"), "%s", r.out);
	json_decref(o);

	run(&r, ARGS("logout", "--json", "--user", "bob"));
	CHECK_INT(r.exit, 0);
	o = one_json(&r);
	want_keys(o, ARGS("user", "state", "message"));
	CHECK_STR(jstr(o, "state"), "signed-out");
	CHECK_MSG(strstr(jstr(o, "message"), "signed out"), "%s", r.out);
	ts_leak_scan("logout --json", r.out, strlen(r.out));
	json_decref(o);

	/* an error with a broker result: its tokenseal code is in the object */
	run(&r, ARGS("token", "--json", "--user", "bob"));
	want_error(&r, 2, "sign-in");
	o = one_json(&r);
	CHECK_INT(json_integer_value(json_object_get(json_object_get(o, "error"), "code")),
	          TS_E_SIGNED_OUT);
	json_decref(o);
}

/* ---- status --all ---- */

static void test_status_all(void)
{
	char want[1200];
	struct run r;
	json_t *a, *v;
	size_t i;

	run(&r, ARGS("status", "--all"));
	CHECK_INT(r.exit, 0);
	CHECK_STR(r.err, "");
	/* one line per record, by uid: user, state, expiry, server */
	CHECK_MSG(getpwnam("alice")->pw_uid < getpwnam("bob")->pw_uid, "alice before bob");
	snprintf(want, sizeof(want), "alice             valid        ");
	CHECK_MSG(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
	snprintf(want, sizeof(want), "  %s\nbob               signed-out   ", idp.issuer);
	CHECK_MSG(strstr(r.out, want), "%s", r.out);
	snprintf(want, sizeof(want), "  %s\n", idp.issuer);
	CHECK_MSG(strlen(r.out) > strlen(want) &&
	              !strcmp(r.out + strlen(r.out) - strlen(want), want),
	          "two lines, each ending with the server: %s", r.out);
	CHECK_INT((long)(strchr(r.out, '\n') - r.out),
	          16 + 2 + 11 + 2 + 20 + 2 + (long)strlen(idp.issuer));
	CHECK_INT((long)strlen(r.out),
	          2 * (16 + 2 + 11 + 2 + 20 + 2 + (long)strlen(idp.issuer) + 1));
	ts_leak_scan("status --all", r.out, strlen(r.out));

	run(&r, ARGS("status", "--all", "--json"));
	CHECK_INT(r.exit, 0);
	a = one_json(&r);
	CHECK(json_is_array(a) && json_array_size(a) == 2);
	json_array_foreach(a, i, v)
	{
		CHECK_INT(json_integer_value(json_object_get(v, "schema")), 1);
		CHECK_STR(jstr(v, "user"), i == 0 ? "alice" : "bob");
		CHECK_STR(jstr(v, "state"), i == 0 ? "valid" : "signed-out");
		CHECK_STR(jstr(v, "issuer"), idp.issuer);
	}
	ts_leak_scan("status --all --json", r.out, strlen(r.out));
	json_decref(a);

	/* anyone else: not permitted, and told what to use instead */
	run_as(&r, "alice", NULL, NULL, ARGS("status", "--all"));
	CHECK_INT(r.exit, 7);
	CHECK_STR(r.out, "");
	CHECK_STR(r.err, "tokenseal: status: --all is for root only; `tokenseal status` shows "
	                 "your own sign-in\n");
	run_as(&r, "alice", NULL, NULL, ARGS("status", "--all", "--json"));
	want_error(&r, 7, "permission");
	CHECK(!strstr(r.out, "bob"));
}

/* ---- one exit code per class, with --json ---- */

static void test_classes(void)
{
	char other[800], env[900], text[2400];
	struct run r;

	/* 3: an ordinary user without the daemon (the config's own socket) */
	run_as(&r, "alice", NULL, NULL, ARGS("token", "--json"));
	want_error(&r, 3, "server");
	CHECK(!strstr(r.out, alice_at));
	/* 4: root's configuration cannot be read */
	snprintf(other, sizeof(other), "%s/missing.conf", ts_test_tmpdir());
	snprintf(env, sizeof(env), "TOKENSEAL_CONFIG=%s", other);
	run_as(&r, NULL, NULL, ARGS(env), ARGS("status", "--json", "--user", "alice"));
	want_error(&r, 4, "configuration");
	/* 5: status --all on a keystore that was never initialised */
	snprintf(other, sizeof(other), "%s/nokeystore.conf", ts_test_tmpdir());
	snprintf(text, sizeof(text), "broker_path = /nonexistent\nkeystore_dir = %s/nowhere\n",
	         ts_test_tmpdir());
	CHECK_INT(ts_idp_write_config(&idp, other, "conf", text), 0);
	snprintf(env, sizeof(env), "TOKENSEAL_CONFIG=%s", other);
	run_as(&r, NULL, NULL, ARGS(env), ARGS("status", "--all", "--json"));
	want_error(&r, 5, "keystore");
	/* 6: a sign-in that needs a person, in a non-interactive run */
	run_as(&r, NULL, NULL, ARGS("TOKENSEAL_NONINTERACTIVE=1"),
	       ARGS("login", "--json", "--user", "carol"));
	want_error(&r, 6, "interaction");
	/* TOKENSEAL_NONINTERACTIVE as the PAM module reads it: any non-empty
	 * value but "0" (with "0" the sign-in is tried, and fails here only
	 * for want of a terminal) */
	run_as(&r, NULL, NULL, ARGS("TOKENSEAL_NONINTERACTIVE=yes"),
	       ARGS("login", "--user", "carol"));
	CHECK_INT(r.exit, 6);
	CHECK_STR(r.err, "tokenseal: sign-in for carol needs interaction, but this request is "
	                 "non-interactive; run `tokenseal login` in a terminal\n");
	run_as(&r, NULL, NULL, ARGS("TOKENSEAL_NONINTERACTIVE=0"),
	       ARGS("login", "--password", "--user", "carol"));
	CHECK_INT(r.exit, 6);
	CHECK_STR(r.err, "tokenseal: no answer from the conversation; sign-in aborted\n");
	/* 7: another user's token, asked for by alice */
	run_as(&r, "alice", NULL, NULL, ARGS("token", "--json", "--user", "bob"));
	want_error(&r, 7, "permission");
	run_as(&r, "alice", NULL, NULL, ARGS("keystore", "verify"));
	CHECK_INT(r.exit, 7);
	/* 2 without --json: nothing on stdout */
	run(&r, ARGS("token", "--user", "bob"));
	CHECK_INT(r.exit, 2);
	CHECK_STR(r.out, "");
}

/* ---- colour ---- */

/* Run `tokenseal status --user carol` with its stderr (and stdout unless
 * to_pipe) on a pseudo-terminal; stdout through a pipe when to_pipe. */
static int run_color(const char *term, const char *extra, bool to_pipe, char *tty_out,
                     char *pipe_out, size_t len)
{
	const char *argv[] = {"tokenseal", "status", "--user", "carol", NULL};
	char cfgenv[800], termenv[64];
	char *envp[] = {cfgenv, termenv, (char *)(uintptr_t)(extra ? extra : "X_UNUSED=1"),
	                (char *)(uintptr_t) "PATH=/usr/bin:/bin", NULL};
	int master = -1, p[2], st = 0;
	size_t got = 0;
	pid_t pid;

	snprintf(cfgenv, sizeof(cfgenv), "TOKENSEAL_CONFIG=%s", cfg);
	snprintf(termenv, sizeof(termenv), "TERM=%s", term);
	CHECK(pipe(p) == 0);
	fflush(NULL);
	pid = forkpty(&master, NULL, NULL, NULL);
	CHECK(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (to_pipe)
			dup2(p[1], STDOUT_FILENO);
		close(p[1]);
		execve(cli_bin, (char *const *)(uintptr_t)argv, envp);
		_exit(122);
	}
	close(p[1]);
	tty_out[0] = '\0';
	for (;;) {
		struct pollfd pf = {master, POLLIN, 0};
		ssize_t k;

		if (poll(&pf, 1, 10000) <= 0)
			break;
		k = read(master, tty_out + got, len - 1 - got);
		if (k <= 0)
			break;
		got += (size_t)k;
		tty_out[got] = '\0';
		if (got >= len - 1)
			break;
	}
	close(master);
	got = 0;
	for (ssize_t k; got < len - 1 && (k = read(p[0], pipe_out + got, len - 1 - got)) > 0;)
		got += (size_t)k;
	pipe_out[got] = '\0';
	close(p[0]);
	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_color(void)
{
	char tty[8192], pipe_out[8192];

	/* a terminal: the state in colour (carol has no sign-in: red) */
	CHECK_INT(run_color("xterm", NULL, false, tty, pipe_out, sizeof(tty)), 2);
	CHECK_MSG(strstr(tty, "\033[31mnone\033[0m"), "coloured on a terminal: %s", tty);
	/* stdout a pipe, stderr still a terminal: no escape codes in the pipe */
	CHECK_INT(run_color("xterm", NULL, true, tty, pipe_out, sizeof(tty)), 2);
	CHECK_MSG(strstr(pipe_out, "state:         none\n"), "the status went to the pipe: %s",
	          pipe_out);
	CHECK_MSG(!strchr(pipe_out, '\033'), "no colour into a pipe: %s", pipe_out);
	/* TERM=dumb, NO_COLOR: none on the terminal either */
	CHECK_INT(run_color("dumb", NULL, false, tty, pipe_out, sizeof(tty)), 2);
	CHECK_MSG(strstr(tty, "state:         none") && !strchr(tty, '\033'), "TERM=dumb: %s", tty);
	CHECK_INT(run_color("xterm", "NO_COLOR=1", false, tty, pipe_out, sizeof(tty)), 2);
	CHECK_MSG(strstr(tty, "state:         none") && !strchr(tty, '\033'), "NO_COLOR: %s", tty);
}

int main(int argc, char **argv)
{
	char extra[1600];

	if (argc != 3)
		TS_SKIP("usage: test_cli_output TOKENSEAL TOKENSEAL-BROKER");
	if (geteuid() != 0)
		TS_SKIP("needs root (the CLI runs the broker in exec mode)");
	if (!getpwnam("alice") || !getpwnam("bob") || !getpwnam("carol"))
		TS_SKIP("needs the local users alice, bob and carol (scripts/test creates them)");
	snprintf(cli_bin, sizeof(cli_bin), "%s", argv[1]);
	CHECK_INT(ts_idp_start(&idp, 0), 0);
	CHECK_INT(oauth_global_init(), 0);
	snprintf(cfg, sizeof(cfg), "%s/tokenseal.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "broker_path = %s\nlogin_methods = device, password\nrevalidate = "
	         "introspection\n",
	         argv[2]);
	CHECK_INT(ts_idp_write_config(&idp, cfg, "conf", extra), 0);
	cli_run_init(cli_bin, cfg);

	RUN(test_usage);
	RUN(test_json_verbs);
	RUN(test_status_all);
	RUN(test_classes);
	RUN(test_color);
	return ts_test_done();
}
