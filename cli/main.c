/* SPDX-License-Identifier: MIT */
/*
 * tokenseal: show and steer what pam_tokenseal does, and hand a fresh
 * access token to the user's own tools (DESIGN.md §7, tokenseal(1)).
 * Messages go to stderr as "tokenseal: ..."; stdout carries only what a
 * verb prints (the token, the status, the doctor's checks).
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "ts_paths.h"
#include "verb.h"

struct verb {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *usage; /* the synopsis after "usage: tokenseal " */
	const char *help;  /* the option lines */
};

static const struct verb verbs[];

static const char usage_text[] =
    "usage: tokenseal [--version] [--help] VERB [OPTIONS]\n"
    "\n"
    "Show and manage your tokenseal sign-in and print fresh access tokens.\n"
    "\n"
    "verbs:\n"
    "  status [--json] [--user NAME | --all]\n"
    "                                    show the stored sign-in (no server call)\n"
    "  token [--json | --exec-credential] [--user NAME]\n"
    "                                    print a fresh access token on stdout\n"
    "  login [--device | --password | --refresh-token-stdin | --client-credentials]\n"
    "        [--json] [--user NAME]      sign in\n"
    "  refresh [--force] [--json] [--user NAME]\n"
    "                                    refresh the tokens now\n"
    "  logout [--no-revoke] [--json] [--user NAME]\n"
    "                                    revoke the grant and forget the tokens\n"
    "  doctor [--json]                   check the configuration, server and keystore\n"
    "  keystore [--json] init | verify | rotate-key | forget USER\n"
    "                                    manage the keystore (root)\n"
    "  version [--json]                  show the version\n"
    "  help [VERB]                       show this text, or a verb's\n"
    "\n"
    "--user NAME is for root only. --json: one JSON value on stdout, errors too.\n"
    "Exit status: 0 ok, 2 sign-in required, 3 server or service unavailable,\n"
    "4 configuration error, 5 keystore error, 6 interaction required but not\n"
    "possible, 7 not permitted, 64 usage error. See tokenseal(1).\n";

/* ---- setup ---- */

TS_PRINTF(3, 0)
static void quiet_report(void *ctx, int priority, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)priority;
	(void)fmt;
	(void)ap;
}

TS_PRINTF(3, 0)
static void stderr_report(void *ctx, int priority, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)priority;
	fputs("tokenseal: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static int cli_setup(struct cli *c)
{
	const char *env = getenv("TOKENSEAL_CONFIG");
	const char *ni = getenv("TOKENSEAL_NONINTERACTIVE");
	struct passwd *pw;

	c->prog = "tokenseal";
	c->root = getuid() == 0 && geteuid() == 0;
	pw = getpwuid(getuid());
	if (!pw || ts_strlcpy(c->self, pw->pw_name, sizeof(c->self)) < 0) {
		cli_err("uid %u has no user name on this host", (unsigned)getuid());
		return CLI_EXIT_CONFIG;
	}
	c->user = c->self;
	if (ts_strlcpy(c->config_path, env && env[0] ? env : TS_DEFAULT_CONFIG,
	               sizeof(c->config_path)) < 0) {
		cli_err("TOKENSEAL_CONFIG is too long");
		return CLI_EXIT_CONFIG;
	}
	/* as the PAM module reads it: any non-empty value but "0" */
	c->noninteractive = ni && ni[0] && strcmp(ni, "0") != 0;
	c->tty = isatty(STDERR_FILENO) == 1;
	/* what is coloured (status, doctor) is written to stdout */
	c->color = cli_color_for(STDOUT_FILENO);
	return 0;
}

/* Root: the whole configuration (broker_path, socket_path, device_timeout;
 * the broker reads it again in exec mode). Others: only socket_path is
 * used; the daemon always reads its own configuration. */
int cli_load_config(struct cli *c)
{
	struct ts_config_report quiet = {quiet_report, NULL}, loud = {stderr_report, NULL};
	int r;

	ts_config_defaults(&c->cfg);
	r = ts_config_load(&c->cfg, c->config_path, NULL, c->root ? &loud : &quiet);
	if (r < 0 && c->root) {
		cli_err("cannot use the configuration %s: %s", c->config_path, ts_strerror(r));
		return CLI_EXIT_CONFIG;
	}
	if (r < 0) {
		ts_config_defaults(&c->cfg); /* the default socket */
		return 0;
	}
	c->cfg_ok = true;
	return 0;
}

static int set_user(struct cli *c, const char *name)
{
	if (!c->root && strcmp(name, c->self) != 0) {
		cli_err("--user is for root only; you can act only for yourself (%s)", c->self);
		return CLI_EXIT_PERMISSION;
	}
	c->user = name;
	return 0;
}

int cli_finish(const struct cli *c, int r, const struct ts_client_result *res, bool show_ok)
{
	if (r < 0)
		cli_note_result(r, TS_STATE_NONE);
	else if (res->code != 0)
		cli_note_result(res->code, res->state);
	if (r == TS_E_NO_SERVICE) {
		cli_err("%s", CLI_NO_SERVICE_MSG);
		return CLI_EXIT_UNAVAILABLE;
	}
	if (r == TS_E_SERVICE_LOST) {
		cli_err("%s", ts_strerror(r));
		return CLI_EXIT_UNAVAILABLE;
	}
	if (r < 0) {
		if (c->root)
			cli_err("cannot run the broker %s: %s", c->cfg.broker_path, ts_strerror(r));
		else
			cli_err("the tokenseal service failed: %s", ts_strerror(r));
		return (int)cli_exit_for(r, TS_STATE_NONE);
	}
	if (res->code != 0) {
		cli_err("%s", res->message[0] ? res->message : ts_strerror(res->code));
		if (res->code == TS_E_POLICY)
			cli_err("signing in again does not help: the identity provider's groups "
			        "or this host's access policy (allow_users, allow_groups, "
			        "deny_groups) must change; ask the administrator");
		if (res->code == TS_E_REJECTED_TOKEN && res->state == TS_STATE_NEEDS_LOGIN)
			cli_err("signing in again does not help while %s rejects even new tokens "
			        "of %s (a disabled or locked account): ask the identity provider's "
			        "administrator",
			        c->cfg_ok && c->cfg.issuer[0] ? c->cfg.issuer
			                                      : "the identity provider",
			        c->user);
		return (int)cli_exit_for(res->code, res->state);
	}
	if (show_ok && !c->json && res->message[0])
		cli_err("%s", res->message);
	return CLI_EXIT_OK;
}

const char *cli_env_token(void)
{
	const char *t = getenv("TOKENSEAL_OAUTH_TOKEN");

	return t && t[0] ? t : NULL;
}

int parse_common(struct cli *c, const char *verb, int opt, char **argv, int *ret_exit)
{
	switch (opt) {
	case OPT_HELP:
		*ret_exit = verb_usage(verb, stdout) < 0 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
		return 1;
	case OPT_USER:
		*ret_exit = set_user(c, optarg);
		return *ret_exit ? 1 : 0;
	case ':':
		cli_err("%s: option \"%s\" needs an argument", verb, argv[optind - 1]);
		verb_usage(verb, stderr);
		*ret_exit = CLI_EXIT_USAGE;
		return 1;
	default:
		cli_err("%s: unknown option \"%s\"", verb, argv[optind - 1]);
		verb_usage(verb, stderr);
		*ret_exit = CLI_EXIT_USAGE;
		return 1;
	}
}

int no_extra_args(const char *verb, int argc, char **argv)
{
	if (optind < argc) {
		cli_err("%s: unexpected argument \"%s\"", verb, argv[optind]);
		verb_usage(verb, stderr);
		return CLI_EXIT_USAGE;
	}
	return 0;
}

/* ---- doctor ---- */

static int run_doctor(struct cli *c, int argc, char **argv);

/* ---- keystore ---- */

static int run_keystore(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, NULL, OPT_JSON},
	                                   {"help", no_argument, NULL, OPT_HELP},
	                                   {NULL, 0, NULL, 0}};
	struct ts_client_request rq = {.type = TS_MSG_KEYSTORE};
	struct ts_client_result res;
	const char *op;
	int o, x = 0, r, want;

	/* no "+": options may follow the operation (keystore init --json) */
	while ((o = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		if (o == OPT_JSON)
			continue;
		if (parse_common(c, "keystore", o, argv, &x))
			return x;
	}
	if (optind >= argc) {
		cli_err("keystore: the operation is missing: init, verify, rotate-key or "
		        "forget USER");
		verb_usage("keystore", stderr);
		return CLI_EXIT_USAGE;
	}
	op = argv[optind++];
	if (strcmp(op, "init") && strcmp(op, "verify") && strcmp(op, "rotate-key") &&
	    strcmp(op, "forget")) {
		cli_err("keystore: unknown operation \"%s\"", op);
		verb_usage("keystore", stderr);
		return CLI_EXIT_USAGE;
	}
	want = strcmp(op, "forget") ? 0 : 1;
	if (argc - optind < want) {
		cli_err("keystore: forget needs the USER whose identity to release");
		verb_usage("keystore", stderr);
		return CLI_EXIT_USAGE;
	}
	if (argc - optind > want) {
		cli_err("keystore: unexpected argument \"%s\"", argv[optind + want]);
		verb_usage("keystore", stderr);
		return CLI_EXIT_USAGE;
	}
	if (!c->root) {
		cli_err("keystore: only root may manage the keystore");
		return CLI_EXIT_PERMISSION;
	}
	if ((x = cli_load_config(c)))
		return x;
	rq.user = !strcmp(op, "forget") ? argv[optind] : "root";
	rq.method = op;
	rq.flags = TS_FLAG_NONINTERACTIVE;
	r = cli_broker_call(c, &rq, NULL, &res);
	x = cli_finish(c, r, &res, true);
	if (x == CLI_EXIT_OK && c->json) {
		json_t *j = json_object();

		c->json_done = true;
		json_object_set_new(j, "operation", json_string(op));
		json_object_set_new(j, "user", want ? json_string(argv[optind]) : json_null());
		json_object_set_new(j, "message", json_string(res.message));
		if (cli_json_print(j) < 0)
			x = CLI_EXIT_UNAVAILABLE;
	}
	ts_client_result_clear(&res);
	return x;
}

/* ---- doctor (cli/doctor*.c) ---- */

static int run_doctor(struct cli *c, int argc, char **argv)
{
	return cli_doctor_main(c, argc, argv);
}

/* ---- help, dispatch ---- */

static int run_help(struct cli *c, int argc, char **argv);
static int run_version(struct cli *c, int argc, char **argv);

static const struct verb verbs[] = {
    {"status", run_status, "status [--json] [--user NAME | --all]",
     "Show the stored sign-in: source, issuer, subject, state, expiry, the server's\n"
     "verdict at the last check, clock skew, last refresh and last error. No server\n"
     "call. Exit 0 when valid or stale, else the state's exit code.\n"
     "  --json         the stable JSON form (schema 1, see tokenseal(1))\n"
     "  --user NAME    another user (root only)\n"
     "  --all          every record of the keystore, one line each: user, state,\n"
     "                 expiry, server (root only; --json: an array)\n"},
    {"token", run_token, "token [--json | --exec-credential] [--user NAME]",
     "Print a fresh access token and a newline on stdout, after the server confirmed\n"
     "it (refreshing when needed). TOKENSEAL_OAUTH_TOKEN, when set, is printed as is.\n"
     "  --json             {\"access_token\", \"token_type\", \"expires_in\", \"expires_at\"}\n"
     "  --exec-credential  a client.authentication.k8s.io/v1 ExecCredential (kubectl)\n"
     "  --user NAME        another user (root only)\n"},
    {"login", run_login,
     "login [--device | --password | --refresh-token-stdin | --client-credentials]\n"
     "       [--json] [--user NAME]",
     "Sign in. Without a method the first of login_methods is used.\n"
     "  --device               the device flow: open the URL and enter the code\n"
     "  --password             the password grant (legacy; when enabled)\n"
     "  --refresh-token-stdin  redeem a refresh token read from standard input\n"
     "  --client-credentials   a service account: the client credentials grant\n"
     "                         (root, with --user)\n"
     "  --json                 the result as {\"user\", \"state\", \"message\"}\n"
     "  --user NAME            another user (root only)\n"},
    {"refresh", run_refresh, "refresh [--force] [--json] [--user NAME]",
     "Refresh the tokens now and show the new expiry.\n"
     "  --force        also while refreshes are held back after the server rejected\n"
     "                 a freshly refreshed token\n"
     "  --json         the result as {\"user\", \"state\", \"message\"}\n"
     "  --user NAME    another user (root only)\n"},
    {"logout", run_logout, "logout [--no-revoke] [--json] [--user NAME]",
     "Revoke the grant at the server, then delete the tokens (the account stays\n"
     "signed out until the next sign-in).\n"
     "  --no-revoke    do not revoke; only forget the tokens here\n"
     "  --json         the result as {\"user\", \"state\", \"message\"}\n"
     "  --user NAME    another user (root only)\n"},
    {"doctor", run_doctor, cli_doctor_usage, cli_doctor_help},
    {"keystore", run_keystore, "keystore [--json] init | verify | rotate-key | forget USER",
     "Manage the keystore (root only).\n"
     "  --json         the result as {\"operation\", \"user\", \"message\"}\n"
     "  init           create the keystore and its key (never replaces a key)\n"
     "  verify         check that every record opens\n"
     "  rotate-key     re-seal every record under a new key\n"
     "  forget USER    release the identity pinned to USER (after a logout)\n"},
    {"version", run_version, "version [--json]",
     "Show the version.\n"
     "  --json         {\"version\"}\n"},
    {"help", run_help, "help [VERB]", "Show the overview, or the help of VERB.\n"},
    {NULL, NULL, NULL, NULL},
};

int verb_usage(const char *name, FILE *f)
{
	for (const struct verb *v = verbs; v->name; v++)
		if (!strcmp(v->name, name)) {
			fprintf(f, "usage: tokenseal %s\n", v->usage);
			if (f == stdout)
				fprintf(f, "\n%s", v->help);
			return 0;
		}
	return -1;
}

static int print_version(struct cli *c)
{
	json_t *o;

	if (!c->json) {
		puts("tokenseal " TS_VERSION);
		return fflush(stdout) != 0 ? CLI_EXIT_UNAVAILABLE : CLI_EXIT_OK;
	}
	o = json_object();
	c->json_done = true;
	json_object_set_new(o, "version", json_string(TS_VERSION));
	return cli_json_print(o) < 0 ? CLI_EXIT_UNAVAILABLE : CLI_EXIT_OK;
}

static int run_version(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, NULL, OPT_JSON},
	                                   {"help", no_argument, NULL, OPT_HELP},
	                                   {NULL, 0, NULL, 0}};
	int o, x = 0;

	while ((o = getopt_long(argc, argv, "+:", lo, NULL)) != -1) {
		if (o == OPT_JSON)
			continue;
		if (parse_common(c, "version", o, argv, &x))
			return x;
	}
	if ((x = no_extra_args("version", argc, argv)))
		return x;
	return print_version(c);
}

static int run_help(struct cli *c, int argc, char **argv)
{
	(void)c;
	if (argc > 2) {
		cli_err("help: unexpected argument \"%s\"", argv[2]);
		verb_usage("help", stderr);
		return CLI_EXIT_USAGE;
	}
	if (argc == 2) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			verb_usage("help", stdout);
			return CLI_EXIT_OK;
		}
		if (verb_usage(argv[1], stdout) < 0) {
			cli_err("unknown verb \"%s\"; see `tokenseal --help`", argv[1]);
			return CLI_EXIT_USAGE;
		}
		return CLI_EXIT_OK;
	}
	fputs(usage_text, stdout);
	return CLI_EXIT_OK;
}

/* --json anywhere before "--": main has to know before any error, so that
 * a usage error is answered in JSON too. doctor parses its own, and help
 * has no JSON form. */
static bool wants_json(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "doctor") || !strcmp(argv[1], "help")))
		return false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--json"))
			return true;
	}
	return false;
}

static int dispatch(struct cli *c, int argc, char **argv)
{
	int x;

	if (argc < 2 || (c->json && argc == 2 && !strcmp(argv[1], "--json"))) {
		cli_err("a verb is missing; see `tokenseal --help`");
		fputs(usage_text, stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		if (argc > 2 && !(argc == 3 && c->json)) {
			cli_err("--version: unexpected argument \"%s\"", argv[2]);
			return CLI_EXIT_USAGE;
		}
		return print_version(c);
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_text, stdout);
		return CLI_EXIT_OK;
	}
	x = cli_setup(c);
	if (x)
		return x;
	for (const struct verb *v = verbs; v->name; v++)
		if (!strcmp(v->name, argv[1])) {
			opterr = 0;
			optind = 1;
			return v->run(c, argc - 1, argv + 1);
		}
	if (argv[1][0] == '-')
		cli_err("unknown option \"%s\"; see `tokenseal --help`", argv[1]);
	else
		cli_err("unknown verb \"%s\"; see `tokenseal --help`", argv[1]);
	return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	int x;

	/* `token --json` and the credential helpers put the token in jansson's
	 * strings and dump buffers: wiped when given back */
	json_set_alloc_funcs(malloc, ts_free_wiped);
	c.json = wants_json(argc, argv);
	x = dispatch(&c, argc, argv);
	if (x != CLI_EXIT_OK && c.json && !c.json_done)
		cli_json_error(stdout, x);
	return x;
}
