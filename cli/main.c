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

#include "cli.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "ts_paths.h"

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
    "  status [--json] [--user NAME]     show the stored sign-in (no server call)\n"
    "  token [--json | --exec-credential] [--user NAME]\n"
    "                                    print a fresh access token on stdout\n"
    "  login [--device | --password | --refresh-token-stdin | --client-credentials]\n"
    "        [--user NAME]               sign in\n"
    "  refresh [--force] [--user NAME]   refresh the tokens now\n"
    "  logout [--no-revoke] [--user NAME]\n"
    "                                    revoke the grant and forget the tokens\n"
    "  doctor                            check the configuration, server and keystore\n"
    "  keystore init | verify | rotate-key | forget USER\n"
    "                                    manage the keystore (root)\n"
    "  help [VERB]                       show this text, or a verb's\n"
    "\n"
    "--user NAME is for root only. Exit status: 0 ok, 2 sign-in required, 3 server\n"
    "or service unavailable, 4 configuration or usage error, 5 keystore error,\n"
    "6 interaction required but not possible. See tokenseal(1).\n";

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
	const char *nc = getenv("NO_COLOR");
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
	c->noninteractive = ni && strcmp(ni, "1") == 0;
	c->tty = isatty(STDERR_FILENO) == 1;
	c->color = c->tty && !(nc && nc[0]);
	return 0;
}

/* Root: the whole configuration (broker_path, socket_path, device_timeout;
 * the broker reads it again in exec mode). Others: only socket_path is
 * used; the daemon always reads its own configuration. */
static int cli_load_config(struct cli *c)
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
		return CLI_EXIT_CONFIG;
	}
	c->user = name;
	return 0;
}

/* The result of one broker call: its message on stderr when it failed
 * (or when show_ok), and the exit code. */
static int finish(const struct cli *c, int r, const struct ts_client_result *res, bool show_ok)
{
	if (r == TS_E_NO_SERVICE) {
		cli_err("%s", CLI_NO_SERVICE_MSG);
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
		return (int)cli_exit_for(res->code, res->state);
	}
	if (show_ok && res->message[0])
		cli_err("%s", res->message);
	return CLI_EXIT_OK;
}

static const char *env_token(void)
{
	const char *t = getenv("TOKENSEAL_OAUTH_TOKEN");

	return t && t[0] ? t : NULL;
}

/* getopt_long over a verb's arguments; every verb takes --help. */
#define OPT_HELP 'h'
#define OPT_USER 'u'

static int verb_usage(const char *name, FILE *f);

static int parse_common(struct cli *c, const char *verb, int opt, char **argv, int *ret_exit)
{
	switch (opt) {
	case OPT_HELP:
		*ret_exit = verb_usage(verb, stdout) < 0 ? CLI_EXIT_CONFIG : CLI_EXIT_OK;
		return 1;
	case OPT_USER:
		*ret_exit = set_user(c, optarg);
		return *ret_exit ? 1 : 0;
	case ':':
		cli_err("%s: option \"%s\" needs an argument", verb, argv[optind - 1]);
		verb_usage(verb, stderr);
		*ret_exit = CLI_EXIT_CONFIG;
		return 1;
	default:
		cli_err("%s: unknown option \"%s\"", verb, argv[optind - 1]);
		verb_usage(verb, stderr);
		*ret_exit = CLI_EXIT_CONFIG;
		return 1;
	}
}

static int no_extra_args(const char *verb, int argc, char **argv)
{
	if (optind < argc) {
		cli_err("%s: unexpected argument \"%s\"", verb, argv[optind]);
		verb_usage(verb, stderr);
		return CLI_EXIT_CONFIG;
	}
	return 0;
}

/* ---- status ---- */

static int run_status(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, NULL, 'j'},
	                                   {"user", required_argument, NULL, OPT_USER},
	                                   {"help", no_argument, NULL, OPT_HELP},
	                                   {NULL, 0, NULL, 0}};
	struct ts_client_request rq = {.type = TS_MSG_STATUS};
	struct ts_client_result res;
	bool json = false, user_given = false;
	char *out;
	int o, x = 0, r;

	while ((o = getopt_long(argc, argv, "+:", lo, NULL)) != -1) {
		if (o == 'j') {
			json = true;
			continue;
		}
		if (o == OPT_USER)
			user_given = true;
		if (parse_common(c, "status", o, argv, &x))
			return x;
	}
	if ((x = no_extra_args("status", argc, argv)))
		return x;
	if (env_token() && !user_given) {
		out = cli_status_json(c->user, NULL, TS_STATE_VALID, NULL, true, time(NULL));
		if (!out)
			return CLI_EXIT_UNAVAILABLE;
		if (json)
			printf("%s\n", out);
		else
			cli_status_print(stdout, out, c->color);
		free(out);
		return CLI_EXIT_OK;
	}
	if ((x = cli_load_config(c)))
		return x;
	rq.user = c->user;
	rq.flags = TS_FLAG_NONINTERACTIVE;
	r = cli_broker_call(c, &rq, NULL, &res);
	if (r < 0 || res.code != 0) {
		x = finish(c, r, &res, false);
		ts_client_result_clear(&res);
		return x;
	}
	out = cli_status_json(c->user, res.status_json, res.state, res.message, false, time(NULL));
	if (out) {
		if (json)
			printf("%s\n", out);
		else
			cli_status_print(stdout, out, c->color);
		free(out);
	}
	x = (int)cli_exit_for_state(res.state);
	ts_client_result_clear(&res);
	return out ? x : CLI_EXIT_UNAVAILABLE;
}

/* ---- token ---- */

static int print_token(const char *token, int64_t expires, int format)
{
	char *s = NULL;
	int64_t now = (int64_t)time(NULL);

	if (format == 0) {
		printf("%s\n", token);
	} else {
		s = format == 1 ? cli_token_json(token, expires, now)
		                : cli_exec_credential(token, expires, now);
		if (!s)
			return CLI_EXIT_UNAVAILABLE;
		printf("%s\n", s);
		ts_erase_free_str(s);
	}
	if (fflush(stdout) != 0) {
		cli_err("cannot write the token: %s", strerror(errno));
		return CLI_EXIT_UNAVAILABLE;
	}
	return CLI_EXIT_OK;
}

static int run_token(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, NULL, 'j'},
	                                   {"exec-credential", no_argument, NULL, 'k'},
	                                   {"user", required_argument, NULL, OPT_USER},
	                                   {"help", no_argument, NULL, OPT_HELP},
	                                   {NULL, 0, NULL, 0}};
	struct ts_client_request rq = {.type = TS_MSG_GET_TOKEN};
	struct ts_client_result res;
	int format = 0, o, x = 0, r;
	bool user_given = false;

	while ((o = getopt_long(argc, argv, "+:", lo, NULL)) != -1) {
		if (o == 'j' || o == 'k') {
			if (format) {
				cli_err("token: --json and --exec-credential exclude each other");
				return CLI_EXIT_CONFIG;
			}
			format = o == 'j' ? 1 : 2;
			continue;
		}
		if (o == OPT_USER)
			user_given = true;
		if (parse_common(c, "token", o, argv, &x))
			return x;
	}
	if ((x = no_extra_args("token", argc, argv)))
		return x;
	/* a static token (CI) wins: printed as is, no broker, never stored */
	if (env_token() && !user_given)
		return print_token(env_token(), -1, format);
	if ((x = cli_load_config(c)))
		return x;
	rq.user = c->user;
	rq.flags = TS_FLAG_NONINTERACTIVE;
	r = cli_broker_call(c, &rq, NULL, &res);
	if (r >= 0 && res.token && (res.code == 0 || res.code == TS_E_NOT_SAVED)) {
		if (res.code == TS_E_NOT_SAVED)
			cli_warn("%s", res.message);
		x = print_token(res.token, res.expires, format);
	} else {
		x = finish(c, r, &res, false);
		if (x == CLI_EXIT_OK) {
			cli_err("the broker sent no token");
			x = CLI_EXIT_UNAVAILABLE;
		}
	}
	ts_client_result_clear(&res);
	return x;
}

/* ---- login ---- */

static int run_login(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {{"device", no_argument, NULL, 'd'},
	                                   {"password", no_argument, NULL, 'p'},
	                                   {"refresh-token-stdin", no_argument, NULL, 'r'},
	                                   {"client-credentials", no_argument, NULL, 'c'},
	                                   {"user", required_argument, NULL, OPT_USER},
	                                   {"help", no_argument, NULL, OPT_HELP},
	                                   {NULL, 0, NULL, 0}};
	struct ts_client_request rq = {.type = TS_MSG_LOGIN};
	struct ts_client_result res;
	struct cli_conv_ctx cc = {.cli = c};
	struct ts_conv conv;
	const char *method = NULL;
	bool user_given = false;
	int o, x = 0, r;

	while ((o = getopt_long(argc, argv, "+:", lo, NULL)) != -1) {
		const char *m = o == 'd'   ? "device"
		                : o == 'p' ? "password"
		                : o == 'r' ? "refresh-token"
		                : o == 'c' ? "client-credentials"
		                           : NULL;

		if (m) {
			if (method) {
				cli_err("login: choose one of --device, --password, "
				        "--refresh-token-stdin, --client-credentials");
				return CLI_EXIT_CONFIG;
			}
			method = m;
			continue;
		}
		if (o == OPT_USER)
			user_given = true;
		if (parse_common(c, "login", o, argv, &x))
			return x;
	}
	if ((x = no_extra_args("login", argc, argv)))
		return x;
	if (method && !strcmp(method, "client-credentials") && (!c->root || !user_given)) {
		cli_err("login: --client-credentials is for root, with --user NAME (the local "
		        "account of the service)");
		return CLI_EXIT_CONFIG;
	}
	if (env_token() && !user_given)
		cli_warn("TOKENSEAL_OAUTH_TOKEN is set and overrides the keystore: `tokenseal "
		         "token` prints it, not this sign-in; unset it to use the sign-in");
	if ((x = cli_load_config(c)))
		return x;
	rq.user = c->user;
	rq.method = method;
	cc.answer_from_stdin = method && !strcmp(method, "refresh-token");
	cc.countdown = !method || !strcmp(method, "device");
	/* a refresh token on stdin is no interaction: no person answers */
	if (c->noninteractive && !cc.answer_from_stdin)
		rq.flags |= TS_FLAG_NONINTERACTIVE;
	cli_conv_init(&conv, &cc);
	r = cli_broker_call(c, &rq, (rq.flags & TS_FLAG_NONINTERACTIVE) ? NULL : &conv, &res);
	cli_conv_done(&cc);
	x = finish(c, r, &res, true);
	ts_client_result_clear(&res);
	return x;
}

/* ---- refresh, logout ---- */

static int simple_request(struct cli *c, enum ts_msg_type type, uint32_t flags)
{
	struct ts_client_request rq = {.type = type};
	struct ts_client_result res;
	int x, r;

	if ((x = cli_load_config(c)))
		return x;
	rq.user = c->user;
	rq.flags = flags | TS_FLAG_NONINTERACTIVE;
	r = cli_broker_call(c, &rq, NULL, &res);
	x = finish(c, r, &res, true);
	ts_client_result_clear(&res);
	return x;
}

/* A verb whose only own option is one flag: refresh --force, logout
 * --no-revoke. */
static int flag_verb(struct cli *c, int argc, char **argv, const char *verb,
                     const char *flag_name, uint32_t flag, enum ts_msg_type type)
{
	const struct option lo[] = {{flag_name, no_argument, NULL, 'f'},
	                            {"user", required_argument, NULL, OPT_USER},
	                            {"help", no_argument, NULL, OPT_HELP},
	                            {NULL, 0, NULL, 0}};
	uint32_t flags = 0;
	int o, x = 0;

	while ((o = getopt_long(argc, argv, "+:", lo, NULL)) != -1) {
		if (o == 'f') {
			flags |= flag;
			continue;
		}
		if (parse_common(c, verb, o, argv, &x))
			return x;
	}
	if ((x = no_extra_args(verb, argc, argv)))
		return x;
	return simple_request(c, type, flags);
}

static int run_refresh(struct cli *c, int argc, char **argv)
{
	return flag_verb(c, argc, argv, "refresh", "force", TS_FLAG_FORCE, TS_MSG_REFRESH);
}

static int run_logout(struct cli *c, int argc, char **argv)
{
	return flag_verb(c, argc, argv, "logout", "no-revoke", TS_FLAG_NO_REVOKE, TS_MSG_LOGOUT);
}

/* ---- doctor ---- */

static int run_doctor(struct cli *c, int argc, char **argv);

/* ---- keystore ---- */

static int run_keystore(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {{"help", no_argument, NULL, OPT_HELP},
	                                   {NULL, 0, NULL, 0}};
	struct ts_client_request rq = {.type = TS_MSG_KEYSTORE};
	struct ts_client_result res;
	const char *op;
	int o, x = 0, r;

	while ((o = getopt_long(argc, argv, "+:", lo, NULL)) != -1)
		if (parse_common(c, "keystore", o, argv, &x))
			return x;
	if (optind >= argc) {
		verb_usage("keystore", stderr);
		return CLI_EXIT_CONFIG;
	}
	op = argv[optind++];
	if (strcmp(op, "init") && strcmp(op, "verify") && strcmp(op, "rotate-key") &&
	    strcmp(op, "forget")) {
		cli_err("keystore: unknown operation \"%s\"", op);
		verb_usage("keystore", stderr);
		return CLI_EXIT_CONFIG;
	}
	if (argc - optind != (strcmp(op, "forget") ? 0 : 1)) {
		verb_usage("keystore", stderr);
		return CLI_EXIT_CONFIG;
	}
	if (!c->root) {
		cli_err("keystore: only root may manage the keystore");
		return CLI_EXIT_CONFIG;
	}
	if ((x = cli_load_config(c)))
		return x;
	rq.user = !strcmp(op, "forget") ? argv[optind] : "root";
	rq.method = op;
	rq.flags = TS_FLAG_NONINTERACTIVE;
	r = cli_broker_call(c, &rq, NULL, &res);
	x = finish(c, r, &res, true);
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

static const struct verb verbs[] = {
    {"status", run_status, "status [--json] [--user NAME]",
     "Show the stored sign-in: source, issuer, subject, state, expiry, the server's\n"
     "verdict at the last check, clock skew, last refresh and last error. No server\n"
     "call. Exit 0 when valid or stale, else the state's exit code.\n"
     "  --json         the stable JSON form (schema 1, see tokenseal(1))\n"
     "  --user NAME    another user (root only)\n"},
    {"token", run_token, "token [--json | --exec-credential] [--user NAME]",
     "Print a fresh access token and a newline on stdout, after the server confirmed\n"
     "it (refreshing when needed). TOKENSEAL_OAUTH_TOKEN, when set, is printed as is.\n"
     "  --json             {\"access_token\", \"token_type\", \"expires_in\", \"expires_at\"}\n"
     "  --exec-credential  a client.authentication.k8s.io/v1 ExecCredential (kubectl)\n"
     "  --user NAME        another user (root only)\n"},
    {"login", run_login,
     "login [--device | --password | --refresh-token-stdin | --client-credentials]\n"
     "       [--user NAME]",
     "Sign in. Without a method the first of login_methods is used.\n"
     "  --device               the device flow: open the URL and enter the code\n"
     "  --password             the password grant (legacy; when enabled)\n"
     "  --refresh-token-stdin  redeem a refresh token read from standard input\n"
     "  --client-credentials   a service account: the client credentials grant\n"
     "                         (root, with --user)\n"
     "  --user NAME            another user (root only)\n"},
    {"refresh", run_refresh, "refresh [--force] [--user NAME]",
     "Refresh the tokens now and show the new expiry.\n"
     "  --force        also while refreshes are held back after the server rejected\n"
     "                 a freshly refreshed token\n"
     "  --user NAME    another user (root only)\n"},
    {"logout", run_logout, "logout [--no-revoke] [--user NAME]",
     "Revoke the grant at the server, then delete the tokens (the account stays\n"
     "signed out until the next sign-in).\n"
     "  --no-revoke    do not revoke; only forget the tokens here\n"
     "  --user NAME    another user (root only)\n"},
    {"doctor", run_doctor, cli_doctor_usage, cli_doctor_help},
    {"keystore", run_keystore, "keystore init | verify | rotate-key | forget USER",
     "Manage the keystore (root only).\n"
     "  init           create the keystore and its key (never replaces a key)\n"
     "  verify         check that every record opens\n"
     "  rotate-key     re-seal every record under a new key\n"
     "  forget USER    release the identity pinned to USER (after a logout)\n"},
    {"help", run_help, "help [VERB]", "Show the overview, or the help of VERB.\n"},
    {NULL, NULL, NULL, NULL},
};

static int verb_usage(const char *name, FILE *f)
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

static int run_help(struct cli *c, int argc, char **argv)
{
	(void)c;
	if (argc > 2) {
		verb_usage("help", stderr);
		return CLI_EXIT_CONFIG;
	}
	if (argc == 2) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			verb_usage("help", stdout);
			return CLI_EXIT_OK;
		}
		if (verb_usage(argv[1], stdout) < 0) {
			cli_err("no such verb \"%s\"; see `tokenseal help`", argv[1]);
			return CLI_EXIT_CONFIG;
		}
		return CLI_EXIT_OK;
	}
	fputs(usage_text, stdout);
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	int x;

	if (argc < 2) {
		fputs(usage_text, stderr);
		return CLI_EXIT_CONFIG;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		puts("tokenseal " TS_VERSION);
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_text, stdout);
		return CLI_EXIT_OK;
	}
	x = cli_setup(&c);
	if (x)
		return x;
	for (const struct verb *v = verbs; v->name; v++)
		if (!strcmp(v->name, argv[1])) {
			opterr = 0;
			optind = 1;
			return v->run(&c, argc - 1, argv + 1);
		}
	if (argv[1][0] == '-')
		cli_err("unknown option \"%s\"; see `tokenseal --help`", argv[1]);
	else
		cli_err("unknown verb \"%s\"; see `tokenseal --help`", argv[1]);
	return CLI_EXIT_CONFIG;
}
