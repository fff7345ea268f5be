/* SPDX-License-Identifier: MIT */
/*
 * The tokenseal command against the real test IdP, as root (exec mode),
 * the way a person and a script meet it: exact exit codes and messages for
 * every verb and state, one line from `token`, the JSON outputs checked
 * against their documented schemas, logout revoking at the server,
 * headless provisioning from stdin, TOKENSEAL_OAUTH_TOKEN precedence,
 * --user refused for others, the keystore verbs and doctor, and no secret
 * in anything the command printed on stderr.
 *
 * argv[1]: the tokenseal binary, argv[2]: tokenseal-broker.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ks.h"
#include "serve.h"
#include "ts_proto.h"
#include "lifecycle.h"
#include "oauth.h"
#include "ts_config.h"
#include "ts_error.h"
#include "cli_run.h"
#include "ts_idp.h"
#include "ts_leak.h"
#include "ts_mem.h"
#include "ts_paths.h"
#include "ts_test.h"

static struct ts_idp idp;
static char path_env[] = "PATH=/usr/bin:/bin", term_env[] = "TERM=dumb";
static char cli_bin[512], broker_bin[512], cfg[700], ksdir[700], keyfile[700], broker_log[800];

static uid_t uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);

	CHECK(pw);
	return pw->pw_uid;
}

static void run(struct run *res, const char *const *args)
{
	run_as(res, NULL, NULL, NULL, args);
}

/* A sign-in through a pseudo-terminal: answers "Password" prompts with pw
 * and approves a device code as (login, pw) at the server. Returns the exit
 * status; the terminal's output lands in out. */
static const char *pty_extra_env;

static int run_pty(const char *const *args, const char *login, const char *pw, char *out,
                   size_t outlen)
{
	const char *argv[16];
	char cfgenv[800];
	char extra_env[64];
	char *envp[] = {cfgenv, path_env, term_env, extra_env, NULL};
	size_t n = 0, got = 0;
	bool answered = false, approved = false;
	int master = -1, st = 0;
	pid_t pid;

	argv[n++] = "tokenseal";
	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	snprintf(cfgenv, sizeof(cfgenv), "TOKENSEAL_CONFIG=%s", cfg);
	snprintf(extra_env, sizeof(extra_env), "%s", pty_extra_env ? pty_extra_env : "X_UNUSED=1");
	fflush(NULL);
	pid = forkpty(&master, NULL, NULL, NULL);
	CHECK(pid >= 0);
	if (pid == 0) {
		execve(cli_bin, (char *const *)(uintptr_t)argv, envp);
		_exit(122);
	}
	out[0] = '\0';
	for (;;) {
		struct pollfd p = {master, POLLIN, 0};
		ssize_t k;
		char *code;

		if (poll(&p, 1, login ? 60000 : 5000) <= 0)
			break;
		k = read(master, out + got, outlen - 1 - got);
		if (k <= 0)
			break;
		got += (size_t)k;
		out[got] = '\0';
		if (login && !answered && strstr(out, "Password for")) {
			CHECK(write(master, pw, strlen(pw)) == (ssize_t)strlen(pw));
			CHECK(write(master, "\n", 1) == 1);
			answered = true;
		}
		if (login && !approved && (code = strstr(out, "enter the code "))) {
			char uc[64];
			size_t l = 0;

			code += strlen("enter the code ");
			while (code[l] && code[l] != '\r' && code[l] != '\n' && l < sizeof(uc) - 1)
				l++;
			if (code[l] == '\r' || code[l] == '\n') {
				memcpy(uc, code, l);
				uc[l] = '\0';
				CHECK_INT(ts_idp_approve_device(&idp, uc, login, pw, 0), 0);
				approved = true;
			}
		}
		if (got >= outlen - 1)
			break;
	}
	close(master);
	CHECK(waitpid(pid, &st, 0) == pid);
	fprintf(stderr, "   [pty] tokenseal %s -> %d\n%s\n", args[0], WEXITSTATUS(st), out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void want_err(const struct run *r, const char *fmt, ...) TS_PRINTF(2, 3);

static void want_err(const struct run *r, const char *fmt, ...)
{
	char want[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	CHECK_STR(r->err, want);
}

/* ---- schema checks (tokenseal(1), "JSON OUTPUT") ---- */

static bool is_rfc3339_utc(const char *s)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;

	return end && *end == '\0';
}

static void want_type(json_t *o, const char *key, const char *type, bool nullable)
{
	json_t *v = json_object_get(o, key);

	CHECK_MSG(v, "field \"%s\" is present", key);
	if (nullable && json_is_null(v))
		return;
	if (!strcmp(type, "string"))
		CHECK_MSG(json_is_string(v), "\"%s\" is a string", key);
	else if (!strcmp(type, "time"))
		CHECK_MSG(json_is_string(v) && is_rfc3339_utc(json_string_value(v)),
		          "\"%s\" is an RFC 3339 UTC time", key);
	else if (!strcmp(type, "integer"))
		CHECK_MSG(json_is_integer(v), "\"%s\" is an integer", key);
	else if (!strcmp(type, "boolean"))
		CHECK_MSG(json_is_boolean(v), "\"%s\" is a boolean", key);
	else if (!strcmp(type, "object"))
		CHECK_MSG(json_is_object(v), "\"%s\" is an object", key);
}

static const char *const states[] = {"none",        "valid",       "stale",     "refreshing",
                                     "needs-login", "unavailable", "corrupted", "mismatch",
                                     "signed-out",  NULL};

/* status --json, schema 1: every documented field with its type, nothing else. */
static json_t *check_status_schema(const char *text)
{
	static const char *const keys[] = {"schema",
	                                   "user",
	                                   "source",
	                                   "state",
	                                   "issuer",
	                                   "subject",
	                                   "client_id",
	                                   "login_method",
	                                   "expires_at",
	                                   "expires_in",
	                                   "has_refresh_token",
	                                   "last_check",
	                                   "last_refresh_at",
	                                   "clock_skew",
	                                   "clock_skew_warning",
	                                   "sessions",
	                                   "last_error",
	                                   "nss",
	                                   "message",
	                                   NULL};
	json_error_t je;
	json_t *o = json_loads(text, 0, &je), *v;
	bool known_state = false;
	const char *k;

	CHECK_MSG(o && json_is_object(o), "status --json parses: %s", je.text);
	CHECK_INT(json_integer_value(json_object_get(o, "schema")), 1);
	want_type(o, "user", "string", false);
	want_type(o, "source", "string", false);
	CHECK(!strcmp(json_string_value(json_object_get(o, "source")), "keystore") ||
	      !strcmp(json_string_value(json_object_get(o, "source")), "environment"));
	want_type(o, "state", "string", false);
	for (size_t i = 0; states[i]; i++)
		known_state = known_state ||
		              !strcmp(states[i], json_string_value(json_object_get(o, "state")));
	CHECK_MSG(known_state, "state is one of the documented ones");
	want_type(o, "issuer", "string", true);
	want_type(o, "subject", "string", true);
	want_type(o, "client_id", "string", true);
	want_type(o, "login_method", "string", true);
	want_type(o, "expires_at", "time", true);
	want_type(o, "expires_in", "integer", true);
	want_type(o, "has_refresh_token", "boolean", false);
	want_type(o, "last_check", "object", true);
	v = json_object_get(o, "last_check");
	if (json_is_object(v)) {
		want_type(v, "at", "time", true);
		want_type(v, "verdict", "string", false);
	}
	want_type(o, "last_refresh_at", "time", true);
	want_type(o, "clock_skew", "integer", true);
	want_type(o, "clock_skew_warning", "boolean", false);
	want_type(o, "sessions", "integer", false);
	want_type(o, "last_error", "object", true);
	v = json_object_get(o, "last_error");
	if (json_is_object(v)) {
		want_type(v, "code", "integer", false);
		want_type(v, "text", "string", false);
		want_type(v, "class", "string", false);
		want_type(v, "heals_by_itself", "boolean", false);
		want_type(v, "exit_code", "integer", false);
		want_type(v, "at", "time", true);
		want_type(v, "reason", "string", true);
	}
	want_type(o, "nss", "object", true);
	v = json_object_get(o, "nss");
	if (json_is_object(v)) {
		const char *ns = json_string_value(json_object_get(v, "state"));

		want_type(v, "state", "string", false);
		CHECK_MSG(ns && (!strcmp(ns, "active") || !strcmp(ns, "tombstone") ||
		                 !strcmp(ns, "absent") || !strcmp(ns, "off")),
		          "nss.state is documented: %s", ns ? ns : "?");
		want_type(v, "uid", "integer", true);
		want_type(v, "gid", "integer", true);
		want_type(v, "pinned_by_name", "boolean", false);
		want_type(v, "text", "string", false);
	}
	want_type(o, "message", "string", false);
	json_object_foreach(o, k, v)
	{
		bool doc = false;

		for (size_t i = 0; keys[i]; i++)
			doc = doc || !strcmp(keys[i], k);
		CHECK_MSG(doc, "field \"%s\" is documented", k);
	}
	return o;
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- the cases ---- */

static void test_help_version(void)
{
	static const char *const vs[] = {"status", "token",    "login", "refresh", "logout",
	                                 "doctor", "keystore", "help",  NULL};
	struct run r;
	char want[64];

	run(&r, ARGS("--version"));
	CHECK_INT(r.exit, 0);
	CHECK_STR(r.out, "tokenseal " TS_VERSION "\n");
	run(&r, ARGS("--help"));
	CHECK_INT(r.exit, 0);
	CHECK(strncmp(r.out, "usage: tokenseal [--version] [--help] VERB [OPTIONS]\n", 53) == 0);
	CHECK_STR(r.err, "");
	for (size_t i = 0; vs[i]; i++) {
		run(&r, ARGS(vs[i], "--help"));
		CHECK_INT(r.exit, 0);
		snprintf(want, sizeof(want), "usage: tokenseal %s", vs[i]);
		CHECK_MSG(strncmp(r.out, want, strlen(want)) == 0, "%s --help: %s", vs[i], r.out);
		CHECK_STR(r.err, "");
	}
	run(&r, ARGS("frobnicate"));
	CHECK_INT(r.exit, 4);
	want_err(&r, "tokenseal: unknown verb \"frobnicate\"; see `tokenseal --help`\n");
	run(&r, ARGS("token", "--json", "--exec-credential"));
	CHECK_INT(r.exit, 4);
	want_err(&r, "tokenseal: token: --json and --exec-credential exclude each other\n");
}

static void test_none(void)
{
	struct run r;
	json_t *o;

	run(&r, ARGS("status", "--user", "alice", "--json"));
	CHECK_INT(r.exit, 2);
	o = check_status_schema(r.out);
	CHECK_STR(jstr(o, "state"), "none");
	CHECK_STR(jstr(o, "source"), "keystore");
	CHECK_STR(jstr(o, "user"), "alice");
	json_decref(o);
	run(&r, ARGS("token", "--user", "alice"));
	CHECK_INT(r.exit, 2);
	CHECK_STR(r.out, "");
	want_err(&r, "tokenseal: alice is not signed in at %s; run `tokenseal login` or log in\n",
	         idp.issuer);
}

static void test_login_password(void)
{
	char out[16384], want[600];

	CHECK_INT(run_pty(ARGS("login", "--password", "--user", "alice"), "alice", "alice-pw", out,
	                  sizeof(out)),
	          0);
	snprintf(want, sizeof(want), "tokenseal: signed in to %s as alice (password)", idp.issuer);
	CHECK_MSG(strstr(out, want), "the sign-in is reported: %s", out);
	CHECK_MSG(strstr(out, "Password for "), "the prompt was shown on the terminal");
	CHECK_MSG(!strstr(out, "alice-pw"), "the password was not echoed");
}

static void test_login_device(void)
{
	char out[32768], want[600];

	CHECK_INT(
	    run_pty(ARGS("login", "--device", "--user", "bob"), "bob", "bob-pw", out, sizeof(out)),
	    0);
	snprintf(want, sizeof(want), "tokenseal: signed in to %s as bob (device)", idp.issuer);
	CHECK_MSG(strstr(out, want), "the device sign-in is reported");
	snprintf(want, sizeof(want), "To sign in to %s, open ", idp.issuer);
	CHECK_MSG(strstr(out, want), "URL and code shown");
	CHECK_MSG(strstr(out, "waiting for approval: "), "a countdown on the terminal");
#ifdef TS_HAVE_QRENCODE
	CHECK_MSG(strstr(out, "or scan this code:") && strstr(out, "\xe2\x96\x88"),
	          "a QR code on the terminal");
#endif
}

/* A device sign-in without a terminal: only the URL and code lines on
 * stderr (no QR code, no countdown), the code approved meanwhile. */
static void test_login_device_quiet(void)
{
	char errp[800], cfgenv[800], buf[8192], want[600];
	char *envp[] = {cfgenv, path_env, NULL};
	const char *argv[] = {"tokenseal", "login", "--device", "--user", "carol", NULL};
	bool approved = false;
	int st = 0;
	pid_t pid;

	snprintf(errp, sizeof(errp), "%s/quiet.err", ts_test_tmpdir());
	snprintf(cfgenv, sizeof(cfgenv), "TOKENSEAL_CONFIG=%s", cfg);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int fn = open("/dev/null", O_RDWR);

		if (fe < 0 || fn < 0)
			_exit(120);
		dup2(fn, 0);
		dup2(fn, 1);
		dup2(fe, 2);
		(void)setsid();
		execve(cli_bin, (char *const *)(uintptr_t)argv, envp);
		_exit(122);
	}
	for (int i = 0; i < 300 && !approved; i++) {
		char *code;
		struct timespec ts = {0, 100000000L};

		slurp(errp, buf, sizeof(buf));
		code = strstr(buf, "enter the code ");
		if (code && strchr(code, '\n')) {
			char uc[64];
			size_t l = strcspn(code + 15, "\n");

			CHECK(l < sizeof(uc));
			memcpy(uc, code + 15, l);
			uc[l] = '\0';
			CHECK_INT(ts_idp_approve_device(&idp, uc, "carol", "carol-pw", 0), 0);
			approved = true;
		}
		nanosleep(&ts, NULL);
	}
	CHECK_MSG(approved, "the code was shown on stderr");
	CHECK(waitpid(pid, &st, 0) == pid);
	slurp(errp, buf, sizeof(buf));
	fprintf(stderr, "%s", buf);
	CHECK_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
	CHECK_MSG(!strstr(buf, "scan this code") && !strstr(buf, "\xe2\x96"), "no QR code");
	CHECK_MSG(!strstr(buf, "waiting for approval"), "no countdown");
	snprintf(want, sizeof(want), "To sign in to %s, open ", idp.issuer);
	CHECK(strncmp(buf, want, strlen(want)) == 0);
	snprintf(want, sizeof(want), "tokenseal: signed in to %s as carol (device)\n", idp.issuer);
	CHECK(strstr(buf, want));
	ts_leak_scan("quiet device login", buf, strlen(buf));
	/* carol becomes a service account later: sign out and release her */
	{
		struct run r;

		run(&r, ARGS("logout", "--user", "carol"));
		CHECK_INT(r.exit, 0);
		run(&r, ARGS("keystore", "forget", "carol"));
		CHECK_INT(r.exit, 0);
	}
}

static void test_token_outputs(void)
{
	struct run r;
	json_t *o, *st;
	char tok[sizeof(((struct run *)0)->out)];
	long intro;

	run(&r, ARGS("token", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	CHECK_STR(r.err, "");
	CHECK_MSG(strlen(r.out) > 10 && strchr(r.out, '\n') == r.out + strlen(r.out) - 1,
	          "exactly one line: the token and a newline");
	ts_leak_remember(r.out);
	snprintf(tok, sizeof(tok), "%s", r.out);
	tok[strlen(tok) - 1] = '\0';
	ts_leak_remember(tok);

	intro = ts_idp_count(&idp, "introspection");
	run(&r, ARGS("token", "--json", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	CHECK_MSG(ts_idp_count(&idp, "introspection") == intro + 1,
	          "token revalidates with the server on every use");
	o = json_loads(r.out, 0, NULL);
	CHECK(o && json_object_size(o) == 4);
	CHECK_STR(jstr(o, "access_token"), tok);
	CHECK_STR(jstr(o, "token_type"), "Bearer");
	CHECK(json_is_integer(json_object_get(o, "expires_in")) &&
	      json_integer_value(json_object_get(o, "expires_in")) > 3000);
	CHECK(is_rfc3339_utc(jstr(o, "expires_at")));
	json_decref(o);

	run(&r, ARGS("token", "--exec-credential", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	o = json_loads(r.out, 0, NULL);
	CHECK(o && json_object_size(o) == 3);
	CHECK_STR(jstr(o, "apiVersion"), "client.authentication.k8s.io/v1");
	CHECK_STR(jstr(o, "kind"), "ExecCredential");
	st = json_object_get(o, "status");
	CHECK(json_is_object(st) && json_object_size(st) == 2);
	CHECK_STR(jstr(st, "token"), tok);
	CHECK(is_rfc3339_utc(jstr(st, "expirationTimestamp")));
	json_decref(o);
}

static void test_status_valid(void)
{
	struct run r;
	json_t *o, *lc;
	char want[128];

	run(&r, ARGS("status", "--json", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	o = check_status_schema(r.out);
	CHECK_STR(jstr(o, "state"), "valid");
	CHECK_STR(jstr(o, "issuer"), idp.issuer);
	CHECK_STR(jstr(o, "subject"), "sub-alice");
	CHECK_STR(jstr(o, "client_id"), idp.conf_client);
	CHECK_STR(jstr(o, "login_method"), "password");
	CHECK(json_is_true(json_object_get(o, "has_refresh_token")));
	lc = json_object_get(o, "last_check");
	CHECK(json_is_object(lc));
	CHECK_STR(jstr(lc, "verdict"), "active");
	CHECK(json_is_null(json_object_get(o, "last_error")));
	CHECK(json_is_string(json_object_get(o, "last_refresh_at")));
	/* alice is a local account: the NSS cache publishes nothing for her
	 * (issue 15: never a name another NSS source knows) */
	lc = json_object_get(o, "nss");
	CHECK_MSG(json_is_object(lc), "status shows the NSS cache state");
	CHECK_STR(jstr(lc, "state"), "absent");
	json_decref(o);
	run(&r, ARGS("status", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	snprintf(want, sizeof(want), "nss:           not in the NSS user cache\n");
	CHECK_MSG(strstr(r.out, want), "the human form shows it: %s", r.out);
	CHECK(strstr(r.out, "state:         valid\n"));
	CHECK(strstr(r.out, "subject:       sub-alice\n"));
	CHECK(strstr(r.out, "source:        keystore\n"));
	CHECK_MSG(!strchr(r.out, '\033'), "no colour without a terminal");
}

static void test_refresh(void)
{
	struct run r;
	long before = ts_idp_count(&idp, "token:refresh_token");
	char want[600];

	run(&r, ARGS("refresh", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	CHECK_INT(ts_idp_count(&idp, "token:refresh_token"), before + 1);
	CHECK_MSG(strncmp(r.err, "tokenseal: refreshed the tokens at ", 35) == 0, "%s", r.err);
	snprintf(want, sizeof(want), "refreshed the tokens at %s; the access token expires in ",
	         idp.issuer);
	CHECK(strstr(r.err, want));
	run(&r, ARGS("refresh", "--force", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	CHECK_INT(ts_idp_count(&idp, "token:refresh_token"), before + 2);
	run(&r, ARGS("refresh", "--user", "carol"));
	CHECK_INT(r.exit, 2);
	want_err(&r, "tokenseal: carol is not signed in at %s; run `tokenseal login` or log in\n",
	         idp.issuer);
}

static void test_noninteractive(void)
{
	struct run r;

	run_as(&r, NULL, NULL, ARGS("TOKENSEAL_NONINTERACTIVE=1"),
	       ARGS("login", "--user", "carol"));
	CHECK_INT(r.exit, 6);
	want_err(&r, "tokenseal: sign-in for carol needs interaction, but this request is "
	             "non-interactive; run `tokenseal login` in a terminal\n");
	/* no terminal at all: the password prompt cannot be asked */
	run(&r, ARGS("login", "--password", "--user", "carol"));
	CHECK_INT(r.exit, 6);
	want_err(&r, "tokenseal: no answer from the conversation; sign-in aborted\n");
}

static void test_env_token(void)
{
	struct run r;
	long intro = ts_idp_count(&idp, "introspection"), tok = ts_idp_count(&idp, "token");
	json_t *o;

	ts_leak_remember("static-ci-token-0123456789");
	run_as(&r, NULL, NULL, ARGS("TOKENSEAL_OAUTH_TOKEN=static-ci-token-0123456789"),
	       ARGS("token"));
	CHECK_INT(r.exit, 0);
	CHECK_STR(r.out, "static-ci-token-0123456789\n");
	CHECK_STR(r.err, "");
	run_as(&r, NULL, NULL, ARGS("TOKENSEAL_OAUTH_TOKEN=static-ci-token-0123456789"),
	       ARGS("status", "--json"));
	CHECK_INT(r.exit, 0);
	o = check_status_schema(r.out);
	CHECK_STR(jstr(o, "source"), "environment");
	json_decref(o);
	CHECK_MSG(ts_idp_count(&idp, "introspection") == intro &&
	              ts_idp_count(&idp, "token") == tok,
	          "no server call for a static token");
	run_as(
	    &r, NULL, NULL,
	    ARGS("TOKENSEAL_OAUTH_TOKEN=static-ci-token-0123456789", "TOKENSEAL_NONINTERACTIVE=1"),
	    ARGS("login"));
	CHECK(strncmp(r.err,
	              "tokenseal: warning: TOKENSEAL_OAUTH_TOKEN is set and overrides the "
	              "keystore: `tokenseal token` prints it, not this sign-in; unset it to use "
	              "the sign-in\n",
	              140) == 0);
}

static void test_other_user(void)
{
	struct run r;

	run_as(&r, "bob", NULL, NULL, ARGS("token", "--user", "alice"));
	CHECK_INT(r.exit, 4);
	want_err(&r, "tokenseal: --user is for root only; you can act only for yourself (bob)\n");
	CHECK_STR(r.out, "");
	run_as(&r, "bob", NULL, NULL, ARGS("status", "--user", "alice", "--json"));
	CHECK_INT(r.exit, 4);
	CHECK_STR(r.out, "");
	/* no daemon (the config names its own socket_path): the one line */
	run_as(&r, "bob", NULL, NULL, ARGS("token"));
	CHECK_INT(r.exit, 3);
	want_err(&r, "tokenseal: the tokenseal service is not running: `systemctl start "
	             "tokenseal-broker.socket`\n");
	run_as(&r, "bob", NULL, NULL, ARGS("keystore", "verify"));
	CHECK_INT(r.exit, 4);
	want_err(&r, "tokenseal: keystore: only root may manage the keystore\n");
	run_as(&r, "bob", NULL, NULL, ARGS("login", "--client-credentials", "--user", "bob"));
	CHECK_INT(r.exit, 4);
}

static struct oauth_client *test_client(struct ts_config *c)
{
	struct oauth_client *oc = NULL;
	struct oauth_error err = {0};

	ts_config_defaults(c);
	CHECK_INT(ts_config_load(c, cfg, NULL, NULL), 0);
	CHECK_INT(oauth_client_new(&oc, c, &err), 0);
	return oc;
}

static void test_logout_revokes(void)
{
	struct ts_config c;
	struct oauth_client *oc;
	struct oauth_tokens t = {0};
	struct oauth_error err = {0};
	struct run r;
	char *rt = cli_stored_refresh_token(cfg, "alice");

	run(&r, ARGS("logout", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	want_err(&r, "tokenseal: signed out; the grant was revoked at %s\n", idp.issuer);
	oc = test_client(&c);
	CHECK_INT(oauth_refresh(oc, rt, NULL, &t, &err), TS_E_NEEDS_LOGIN);
	CHECK_STR(err.error, "invalid_grant");
	oauth_tokens_clear(&t);
	oauth_client_free(oc);
	ts_erase_free_str(rt);
	run(&r, ARGS("status", "--user", "alice", "--json"));
	CHECK_INT(r.exit, 2);
	json_decref(check_status_schema(r.out));
	CHECK(strstr(r.out, "\"state\": \"signed-out\""));
	run(&r, ARGS("token", "--user", "alice"));
	CHECK_INT(r.exit, 2);
	want_err(&r,
	         "tokenseal: sign-in required: alice signed out of %s; run `tokenseal login` or "
	         "log in again\n",
	         idp.issuer);
	run(&r, ARGS("logout", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	want_err(&r, "tokenseal: alice was signed out already\n");
}

/* Headless: a refresh token from the password grant, piped to
 * login --refresh-token-stdin (TOKENSEAL_NONINTERACTIVE=1, as in CI). */
static void test_headless(void)
{
	struct ts_config c;
	struct oauth_client *oc = test_client(&c);
	struct oauth_tokens t = {0};
	struct oauth_error err = {0};
	char line[4096], want[600];
	struct run r;

	CHECK_INT(oauth_password_grant(oc, "alice", "alice-pw", &t, &err), 0);
	CHECK(t.refresh_token);
	ts_leak_remember(t.refresh_token);
	ts_leak_remember(t.access_token);
	snprintf(line, sizeof(line), "%s\n", t.refresh_token);
	oauth_tokens_clear(&t);
	oauth_client_free(oc);
	run_as(&r, NULL, line, ARGS("TOKENSEAL_NONINTERACTIVE=1"),
	       ARGS("login", "--refresh-token-stdin", "--user", "alice"));
	ts_wipe(line, sizeof(line));
	CHECK_INT(r.exit, 0);
	snprintf(want, sizeof(want), "tokenseal: signed in to %s as alice (refresh-token)\n",
	         idp.issuer);
	CHECK_STR(r.err, want);
	run(&r, ARGS("token", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	ts_leak_remember(r.out);
	/* another person's refresh token for alice's account is refused */
	oc = test_client(&c);
	CHECK_INT(oauth_password_grant(oc, "carol", "carol-pw", &t, &err), 0);
	ts_leak_remember(t.refresh_token);
	snprintf(line, sizeof(line), "%s\n", t.refresh_token);
	oauth_tokens_clear(&t);
	oauth_client_free(oc);
	run_as(&r, NULL, line, NULL, ARGS("login", "--refresh-token-stdin", "--user", "alice"));
	ts_wipe(line, sizeof(line));
	CHECK_INT(r.exit, 2);
	want_err(&r,
	         "tokenseal: identity mismatch: the server signed in \"carol\", but this login is "
	         "for \"alice\"; nothing was stored\n");
	/* nothing on stdin */
	run(&r, ARGS("login", "--refresh-token-stdin", "--user", "alice"));
	CHECK_INT(r.exit, 6);
}

static void test_needs_login(void)
{
	struct run r;
	json_t *o, *le;

	CHECK_INT(ts_idp_ctl(&idp, "revoke-grant", "alice"), 0);
	run(&r, ARGS("token", "--user", "alice"));
	CHECK_INT(r.exit, 2);
	CHECK_STR(r.out, "");
	want_err(&r, "tokenseal: sign-in required: the server refused the refresh token "
	             "(invalid_grant: grant request is invalid); run `tokenseal login` or log in again\n");
	run(&r, ARGS("status", "--json", "--user", "alice"));
	CHECK_INT(r.exit, 2);
	o = check_status_schema(r.out);
	CHECK_STR(jstr(o, "state"), "needs-login");
	le = json_object_get(o, "last_error");
	CHECK(json_is_object(le));
	CHECK_INT(json_integer_value(json_object_get(le, "code")), TS_E_NEEDS_LOGIN);
	CHECK_STR(jstr(le, "class"), "sign-in");
	CHECK(json_is_false(json_object_get(le, "heals_by_itself")));
	CHECK_STR(jstr(le, "reason"), "the server refused the refresh token (invalid_grant: grant request "
	                                  "is invalid)");
	json_decref(o);
}

static void test_config_error(void)
{
	struct run r;
	char bad[800], env[900];

	snprintf(bad, sizeof(bad), "%s/missing.conf", ts_test_tmpdir());
	snprintf(env, sizeof(env), "TOKENSEAL_CONFIG=%s", bad);
	run_as(&r, NULL, NULL, ARGS(env), ARGS("token", "--user", "bob"));
	CHECK_INT(r.exit, 4);
	CHECK(strstr(r.err, "tokenseal: cannot use the configuration "));
	/* root is below min_uid: not tokenseal's account */
	run(&r, ARGS("token"));
	CHECK_INT(r.exit, 4);
}

static void test_keystore_error(void)
{
	struct run r;
	char moved[800];

	snprintf(moved, sizeof(moved), "%s.away", keyfile);
	CHECK(rename(keyfile, moved) == 0);
	run(&r, ARGS("token", "--user", "bob"));
	CHECK_INT(r.exit, 5);
	want_err(&r,
	         "tokenseal: the keystore key %s is missing or unreadable while records exist; "
	         "nothing was changed; ask the administrator\n",
	         keyfile);
	run(&r, ARGS("keystore", "init"));
	CHECK_INT(r.exit, 5);
	want_err(&r,
	         "tokenseal: records exist in %s but the key %s is missing: no new key was "
	         "created (it would make every record unreadable); restore the key file from a "
	         "backup\n",
	         ksdir, keyfile);
	CHECK(rename(moved, keyfile) == 0);
	run(&r, ARGS("token", "--user", "bob"));
	CHECK_INT(r.exit, 0);
	ts_leak_remember(r.out);
}

static void test_keystore_verbs(void)
{
	struct run r;
	char rec[800];
	struct stat st;

	run(&r, ARGS("keystore", "init"));
	CHECK_INT(r.exit, 0);
	want_err(&r, "tokenseal: key already present in %s; nothing was changed\n", keyfile);
	run(&r, ARGS("keystore", "verify"));
	CHECK_INT(r.exit, 0);
	want_err(&r, "tokenseal: 2 records open, none damaged\n");
	run(&r, ARGS("keystore", "rotate-key"));
	CHECK_INT(r.exit, 0);
	want_err(&r, "tokenseal: new key id 2; 2 records re-sealed\n");
	run(&r, ARGS("token", "--user", "bob"));
	CHECK_INT(r.exit, 0);
	ts_leak_remember(r.out);
	run(&r, ARGS("keystore", "forget", "bob"));
	CHECK_INT(r.exit, 4);
	want_err(&r, "tokenseal: bob is signed in; run `tokenseal logout --user bob` first, then "
	             "forget\n");
	run(&r, ARGS("logout", "--no-revoke", "--user", "bob"));
	CHECK_INT(r.exit, 0);
	want_err(&r,
	         "tokenseal: signed out locally; the grant was not revoked and may live on at %s\n",
	         idp.issuer);
	run(&r, ARGS("keystore", "forget", "bob"));
	CHECK_INT(r.exit, 0);
	want_err(&r, "tokenseal: released bob: the next sign-in may be made by any identity the "
	             "server vouches for as bob\n");
	snprintf(rec, sizeof(rec), "%s/users/%u.seal", ksdir, (unsigned)uid_of("bob"));
	CHECK_MSG(stat(rec, &st) != 0, "bob's record (and pinned subject) is gone");
	/* bob is a local account: the NSS cache never held him */
	run(&r, ARGS("status", "--json", "--user", "bob"));
	{
		json_t *o = check_status_schema(r.out);

		CHECK_STR(jstr(json_object_get(o, "nss"), "state"), "absent");
		json_decref(o);
	}
	run(&r, ARGS("keystore", "forget"));
	CHECK_INT(r.exit, 4);
	CHECK(
	    strstr(r.err, "usage: tokenseal keystore init | verify | rotate-key | forget USER\n"));
}

static void test_doctor(void)
{
	struct run r;

	run(&r, ARGS("doctor"));
	CHECK_INT(r.exit, 0);
	CHECK_MSG(strstr(r.out, "ok    config"), "config ok");
	CHECK_MSG(strstr(r.out, "ok    discovery "), "discovery ok");
	CHECK_MSG(strstr(r.out, "ok    tls "), "tls ok");
	CHECK_MSG(strstr(r.out, "ok    clock "), "clock ok");
	CHECK_MSG(strstr(r.out, "ok    keystore-key "), "key ok");
	CHECK_MSG(strstr(r.out, "ok    keystore-permissions "), "permissions ok");
	CHECK_MSG(strstr(r.out, "warn  socket "), "no daemon socket: warn");
	CHECK_MSG(!strstr(r.out, "fail"), "no fail");
	CHECK(chmod(ksdir, 0755) == 0);
	run(&r, ARGS("doctor"));
	CHECK(chmod(ksdir, 0700) == 0);
	CHECK_INT(r.exit, 5);
	CHECK_MSG(strstr(r.out, "fail  keystore-permissions "), "permissions fail");
	CHECK(strstr(r.out, "fix: chown root:root and chmod 0700 the keystore folder"));
}

static void test_client_credentials(void)
{
	struct run r;
	char want[600];

	run(&r, ARGS("login", "--client-credentials"));
	CHECK_INT(r.exit, 4);
	want_err(&r, "tokenseal: login: --client-credentials is for root, with --user NAME (the "
	             "local account of the service)\n");
	run(&r, ARGS("login", "--client-credentials", "--user", "carol"));
	CHECK_INT(r.exit, 0);
	snprintf(want, sizeof(want), "tokenseal: signed in to %s as carol (client-credentials)\n",
	         idp.issuer);
	CHECK_STR(r.err, want);
	run(&r, ARGS("token", "--user", "carol"));
	CHECK_INT(r.exit, 0);
	ts_leak_remember(r.out);
	/* when due, a new client credentials grant, not a refresh */
	{
		long cc = ts_idp_count(&idp, "token:client_credentials");

		run(&r, ARGS("refresh", "--user", "carol"));
		CHECK_INT(r.exit, 0);
		CHECK_INT(ts_idp_count(&idp, "token:client_credentials"), cc + 1);
	}
}

/* A service account's record has no refresh token: inside its refresh
 * window the engine still decides to "refresh" (a new client credentials
 * grant), where a person's record without one could only be revalidated. */
static void test_cc_decision(void)
{
	struct ts_config c;
	struct ts_record rec = {0};
	struct ts_decision d;

	ts_config_defaults(&c);
	rec.obtained_at = 1000;
	rec.expires_in = 600;
	snprintf(rec.method, sizeof(rec.method), "%s", TS_METHOD_CLIENT_CREDENTIALS);
	ts_lifecycle_decide(&rec, 1000 + 590, &c, &d);
	CHECK_INT(d.state, TS_STATE_STALE);
	CHECK_INT(d.action, TS_ACT_REFRESH);
	snprintf(rec.method, sizeof(rec.method), "token");
	ts_lifecycle_decide(&rec, 1000 + 590, &c, &d);
	CHECK_INT(d.action, TS_ACT_REVALIDATE);
}

/* refresh holds back while the server rejects even fresh tokens (fault
 * case introspect-inactive: every refresh accepted, every token rejected);
 * --force refreshes all the same. */
static void test_refresh_force(void)
{
	struct ts_faults f;
	struct ks *ks = NULL;
	struct ks_lock *l = NULL;
	struct ts_record rec = {0};
	char issuer[300], fdir[800], fks[900], fkey[900], fsec[900], fcfg[900], env[1000];
	char want[1200];
	char *json = NULL;
	size_t jl = 0;
	uint64_t gen = 0;
	struct run r;
	long t0;
	FILE *cf;

	CHECK_INT(ts_faults_start(&f), 0);
	CHECK_INT(ts_faults_issuer(&f, "introspect-inactive", issuer, sizeof(issuer)), 0);
	snprintf(fdir, sizeof(fdir), "%s/faults-ks", ts_test_tmpdir());
	CHECK(mkdir(fdir, 0700) == 0);
	snprintf(fks, sizeof(fks), "%s/ks", fdir);
	snprintf(fkey, sizeof(fkey), "%s/ks.key", fdir);
	snprintf(fsec, sizeof(fsec), "%s/secret", fdir);
	snprintf(fcfg, sizeof(fcfg), "%s/faults.conf", fdir);
	ts_test_write_file(fsec, "fault-client-secret", 19, 0600);
	ts_leak_remember("fault-client-secret");
	cf = fopen(fcfg, "w");
	CHECK(cf);
	fprintf(cf,
	        "issuer = %s\nclient_id = tokenseal-conf\nclient_secret_file = %s\nca_file = %s\n"
	        "keystore_dir = %s\nkey_file = %s\nlogin_methods = device\nbroker_path = %s\n"
	        "socket_path = %s/broker.sock\n",
	        issuer, fsec, f.ca, fks, fkey, broker_bin, fdir);
	CHECK(fclose(cf) == 0);
	CHECK(chmod(fcfg, 0644) == 0);
	CHECK_INT(ks_init(fks, fkey, NULL), 0);
	CHECK_INT(ks_open(&ks, fks, fkey, NULL), 0);
	rec.access_token = ts_strdup_secret("fault-at-stored");
	rec.refresh_token = ts_strdup_secret("fault-rt-stored");
	snprintf(rec.sub, sizeof(rec.sub), "sub-alice");
	snprintf(rec.username, sizeof(rec.username), "alice");
	snprintf(rec.issuer, sizeof(rec.issuer), "%s", issuer);
	snprintf(rec.client_id, sizeof(rec.client_id), "tokenseal-conf");
	rec.obtained_at = time(NULL);
	rec.expires_in = 3600;
	CHECK_INT(ts_record_to_json(&rec, &json, &jl), 0);
	{
		struct ks_identity id = {uid_of("alice"), "alice", issuer, "tokenseal-conf"};

		CHECK_INT(ks_lock(ks, id.uid, &l), 0);
		CHECK_INT(ks_write(ks, l, &id, json, jl, 0, &gen), 0);
		ks_unlock(l);
	}
	ts_erase_free(json, jl);
	ts_record_clear(&rec);
	ks_close(ks);

	snprintf(env, sizeof(env), "TOKENSEAL_CONFIG=%s", fcfg);
	run_as(&r, NULL, NULL, ARGS(env), ARGS("token", "--user", "alice"));
	CHECK_INT(r.exit, 2);
	CHECK_STR(r.out, "");
	t0 = ts_faults_requests(&f, "introspect-inactive", "token");
	run_as(&r, NULL, NULL, ARGS(env), ARGS("refresh", "--user", "alice"));
	CHECK_INT(r.exit, 2);
	snprintf(want, sizeof(want),
	         "tokenseal: %s rejected even a freshly refreshed token of alice (the account may "
	         "be disabled); not refreshing again for ",
	         issuer);
	CHECK_MSG(strncmp(r.err, want, strlen(want)) == 0, "held back: %s", r.err);
	CHECK(strstr(r.err, " s; `tokenseal refresh --force` tries now\n"));
	CHECK_INT(ts_faults_requests(&f, "introspect-inactive", "token"), t0);
	run_as(&r, NULL, NULL, ARGS(env), ARGS("refresh", "--force", "--user", "alice"));
	CHECK_INT(r.exit, 0);
	snprintf(want, sizeof(want), "tokenseal: refreshed the tokens at %s; the access token ",
	         issuer);
	CHECK_MSG(strncmp(r.err, want, strlen(want)) == 0, "forced: %s", r.err);
	CHECK_INT(ts_faults_requests(&f, "introspect-inactive", "token"), t0 + 1);
	ts_faults_stop(&f);
}

/* The broker itself refuses the root-only requests to any other peer uid
 * (daemon mode identifies callers by SO_PEERCRED): served in-process on a
 * socket pair with alice's uid as the peer. */
static void serve_as_peer(uid_t peer, uint8_t type, const char *user, const char *method,
                          int64_t *ret_code, char *msg, size_t msglen)
{
	struct ts_serve_opts so = {.config_path = cfg};
	struct ts_msg_builder b = {0};
	struct ts_msg m = {0};
	const uint8_t *frame;
	size_t len;
	int sv[2], st = 0;
	pid_t pid;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(ts_broker_serve_one(&so, sv[1], sv[1], peer) == 0 ? 0 : 1);
	}
	close(sv[1]);
	ts_msg_begin(&b, type);
	ts_msg_add_str(&b, TS_F_USER, user);
	ts_msg_add_str(&b, TS_F_METHOD, method);
	ts_msg_add_int(&b, TS_F_FLAGS, TS_FLAG_NONINTERACTIVE);
	CHECK_INT(ts_msg_finish(&b, &frame, &len), 0);
	CHECK_INT(ts_proto_write(sv[0], frame, len, 5000), 0);
	ts_msg_builder_clear(&b);
	CHECK_INT(ts_proto_read(sv[0], &m, 30000), 0);
	CHECK_INT(m.type, TS_MSG_RESULT);
	CHECK_INT(ts_msg_get_int(&m, TS_F_CODE, ret_code), 0);
	msg[0] = '\0';
	if (ts_msg_get_str(&m, TS_F_MESSAGE, msg, msglen) < 0)
		msg[0] = '\0';
	ts_msg_clear(&m);
	close(sv[0]);
	CHECK(waitpid(pid, &st, 0) == pid);
}

static void test_broker_root_only(void)
{
	char msg[600];
	int64_t code = 0;

	serve_as_peer(uid_of("alice"), TS_MSG_KEYSTORE, "alice", "forget", &code, msg, sizeof(msg));
	CHECK_INT(code, TS_E_PERM);
	CHECK_STR(msg, "only root may manage the keystore");
	serve_as_peer(uid_of("alice"), TS_MSG_KEYSTORE, "root", "rotate-key", &code, msg,
	              sizeof(msg));
	CHECK_INT(code, TS_E_PERM);
	serve_as_peer(uid_of("alice"), TS_MSG_LOGIN, "alice", "client-credentials", &code, msg,
	              sizeof(msg));
	CHECK_INT(code, TS_E_PERM);
	CHECK_STR(msg, "only root may sign a service account in with the client credentials "
	               "grant");
	/* another user's refresh: refused on the uid, as every request */
	serve_as_peer(uid_of("alice"), TS_MSG_REFRESH, "bob", NULL, &code, msg, sizeof(msg));
	CHECK_INT(code, TS_E_PERM);
	/* root may */
	serve_as_peer(0, TS_MSG_KEYSTORE, "root", "verify", &code, msg, sizeof(msg));
	CHECK_INT(code, 0);
}

/* On a terminal the state is coloured, unless NO_COLOR is set. */
static void test_color(void)
{
	char out[8192];

	pty_extra_env = NULL;
	CHECK_INT(run_pty(ARGS("status", "--user", "carol"), NULL, NULL, out, sizeof(out)), 0);
	CHECK_MSG(strstr(out, "\033[32mvalid\033[0m"), "coloured on a terminal");
	pty_extra_env = "NO_COLOR=1";
	CHECK_INT(run_pty(ARGS("status", "--user", "carol"), NULL, NULL, out, sizeof(out)), 0);
	pty_extra_env = NULL;
	CHECK_MSG(!strchr(out, '\033') && strstr(out, "state:         valid"), "NO_COLOR honoured");
}

/* A configuration that names another client: carol's record is kept and
 * reported as a mismatch, a configuration error (exit 4). */
static void test_mismatch(void)
{
	char other[800], env[900], extra[900];
	struct run r;
	json_t *o;

	snprintf(other, sizeof(other), "%s/public.conf", idp.dir);
	snprintf(env, sizeof(env), "TOKENSEAL_CONFIG=%s", other);
	snprintf(extra, sizeof(extra), "broker_path = %s\n", broker_bin);
	CHECK_INT(ts_idp_write_config(&idp, other, "public", extra), 0);
	run_as(&r, NULL, NULL, ARGS(env), ARGS("status", "--json", "--user", "carol"));
	CHECK_INT(r.exit, 4);
	o = check_status_schema(r.out);
	CHECK_STR(jstr(o, "state"), "mismatch");
	CHECK_STR(jstr(json_object_get(o, "last_error"), "class"), "configuration");
	json_decref(o);
}

/* A damaged record: status says corrupted, a keystore error (exit 5). */
static void test_corrupted(void)
{
	char rec[800];
	struct run r;
	json_t *o;

	snprintf(rec, sizeof(rec), "%s/users/%u.seal", ksdir, (unsigned)uid_of("carol"));
	ts_test_write_file(rec, "garbage, not a sealed record", 28, 0600);
	run(&r, ARGS("status", "--json", "--user", "carol"));
	CHECK_INT(r.exit, 5);
	o = check_status_schema(r.out);
	CHECK_STR(jstr(o, "state"), "corrupted");
	CHECK_STR(jstr(json_object_get(o, "last_error"), "class"), "keystore");
	json_decref(o);
}

/* Last: the server is gone. */
static void test_unavailable(void)
{
	struct run r;

	ts_idp_stop(&idp);
	run(&r, ARGS("token", "--user", "bob"));
	CHECK_INT(r.exit, 2); /* bob was forgotten: not signed in, no server needed */
	run(&r, ARGS("token", "--user", "carol"));
	CHECK_INT(r.exit, 3);
	CHECK_MSG(strncmp(r.err, "tokenseal: the identity server ", 31) == 0, "%s", r.err);
	CHECK(strstr(r.err, "is unreachable"));
	run(&r, ARGS("logout", "--user", "carol"));
	CHECK_INT(r.exit, 0);
	CHECK(strstr(r.err, "so the grant may live on at the server until it expires\n"));
}

/* The broker's log of the whole run holds lines, and no remembered token,
 * refresh token, password or client secret. */
static void test_broker_log(void)
{
	size_t len = 0;
	char *log = ts_test_read_file(broker_log, &len);

	CHECK_MSG(len > 0 && strstr(log, "get-token for alice"), "the broker logged the run");
	CHECK_MSG(ts_leak_count() >= 8, "the scan is not vacuous (%zu secrets)", ts_leak_count());
	free(log);
	ts_leak_scan_file("broker log", broker_log);
	for (size_t i = 0; i < 3; i++) {
		static const char *const pw[] = {"alice-pw", "bob-pw", "carol-pw"};
		char *l = ts_test_read_file(broker_log, &len);

		CHECK_MSG(!ts_contains(l, len, pw[i]), "no password in the broker log");
		free(l);
	}
}

int main(int argc, char **argv)
{
	char extra[1600], wrapper[800];
	FILE *f;

	if (argc != 3)
		TS_SKIP("usage: test_cli TOKENSEAL TOKENSEAL-BROKER");
	if (geteuid() != 0)
		TS_SKIP("needs root (the CLI runs the broker in exec mode)");
	if (!getpwnam("alice") || !getpwnam("bob") || !getpwnam("carol"))
		TS_SKIP("needs the local users alice, bob and carol (scripts/test creates them)");
	snprintf(cli_bin, sizeof(cli_bin), "%s", argv[1]);
	snprintf(broker_bin, sizeof(broker_bin), "%s", argv[2]);
	CHECK_INT(ts_idp_start(&idp, 0), 0);
	snprintf(cfg, sizeof(cfg), "%s/tokenseal.conf", idp.dir);
	snprintf(ksdir, sizeof(ksdir), "%s/keystore", idp.dir);
	snprintf(keyfile, sizeof(keyfile), "%s/keystore.key", idp.dir);
	/* the broker runs with --debug through a wrapper, so that its log
	 * (syslog otherwise) can be scanned for secrets at the end */
	snprintf(wrapper, sizeof(wrapper), "%s/broker-wrapper", ts_test_tmpdir());
	snprintf(broker_log, sizeof(broker_log), "%s/broker.log", ts_test_tmpdir());
	f = fopen(wrapper, "w");
	CHECK(f);
	fprintf(f, "#!/bin/sh\nexec '%s' --debug \"$@\" 2>>'%s'\n", broker_bin, broker_log);
	CHECK(fclose(f) == 0);
	CHECK(chmod(wrapper, 0755) == 0);
	snprintf(extra, sizeof(extra),
	         "broker_path = %s\nlogin_methods = device, password\ndevice_timeout = 60\n"
	         "offline_grace = 0\nrevalidate = introspection\n",
	         wrapper);
	CHECK_INT(ts_idp_write_config(&idp, cfg, "conf", extra), 0);
	{
		char *secret = ts_test_read_file(idp.secret_file, NULL);

		ts_leak_remember(secret); /* a copy */
		free(secret);
	}
	cli_run_init(cli_bin, cfg);

	RUN(test_cc_decision);
	RUN(test_help_version);
	RUN(test_none);
	RUN(test_login_password);
	RUN(test_token_outputs);
	RUN(test_status_valid);
	RUN(test_refresh);
	RUN(test_noninteractive);
	RUN(test_env_token);
	RUN(test_other_user);
	RUN(test_logout_revokes);
	RUN(test_headless);
	RUN(test_needs_login);
	RUN(test_config_error);
	RUN(test_login_device);
	RUN(test_login_device_quiet);
	RUN(test_keystore_error);
	RUN(test_keystore_verbs);
	RUN(test_broker_root_only);
	RUN(test_doctor);
	RUN(test_client_credentials);
	RUN(test_refresh_force);
	RUN(test_color);
	RUN(test_mismatch);
	RUN(test_unavailable);
	RUN(test_corrupted);
	RUN(test_broker_log);
	return ts_test_done();
}
