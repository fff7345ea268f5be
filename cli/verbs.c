/* SPDX-License-Identifier: MIT */
/*
 * The verbs that act on one user's sign-in: status, token, login, refresh,
 * logout (tokenseal(1)). Each is one broker request; --json prints one
 * JSON value on stdout (errors: main prints {"error": ...}).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "verb.h"

int cli_print_result_json(const struct cli *c, const struct ts_client_result *res)
{
	json_t *o = json_object();

	if (!o)
		return CLI_EXIT_UNAVAILABLE;
	json_object_set_new(o, "user", json_string(c->user));
	json_object_set_new(o, "state", json_string(ts_state_name((enum ts_state)res->state)));
	json_object_set_new(o, "message", json_string(res->message));
	if (cli_json_print(o) < 0) {
		cli_err("cannot write the result: %s", strerror(errno));
		return CLI_EXIT_UNAVAILABLE;
	}
	return CLI_EXIT_OK;
}

/* ---- status ---- */

static int print_status(struct cli *c, const char *out)
{
	if (!c->json) {
		cli_status_print(stdout, out, c->color);
		return 0;
	}
	c->json_done = true;
	if (printf("%s\n", out) < 0 || fflush(stdout) != 0)
		return -1;
	return 0;
}

int run_status(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, NULL, OPT_JSON},
	                                   {"all", no_argument, NULL, 'a'},
	                                   {"user", required_argument, NULL, OPT_USER},
	                                   {"help", no_argument, NULL, OPT_HELP},
	                                   {NULL, 0, NULL, 0}};
	struct ts_client_request rq = {.type = TS_MSG_STATUS};
	struct ts_client_result res;
	bool user_given = false, all = false;
	char *out;
	int o, x = 0, r;

	while ((o = getopt_long(argc, argv, "+:", lo, NULL)) != -1) {
		if (o == OPT_JSON)
			continue;
		if (o == 'a') {
			all = true;
			continue;
		}
		if (o == OPT_USER)
			user_given = true;
		if (parse_common(c, "status", o, argv, &x))
			return x;
	}
	if ((x = no_extra_args("status", argc, argv)))
		return x;
	if (all && user_given) {
		cli_err("status: --all and --user exclude each other");
		verb_usage("status", stderr);
		return CLI_EXIT_USAGE;
	}
	if (all && !c->root) {
		cli_err(
		    "status: --all is for root only; `tokenseal status` shows your own sign-in");
		return CLI_EXIT_PERMISSION;
	}
	if (all)
		return cli_status_all(c);
	if (cli_env_token() && !user_given) {
		out = cli_status_json(c->user, NULL, TS_STATE_VALID, NULL, true, time(NULL));
		if (!out)
			return CLI_EXIT_UNAVAILABLE;
		x = print_status(c, out) < 0 ? CLI_EXIT_UNAVAILABLE : CLI_EXIT_OK;
		free(out);
		return x;
	}
	if ((x = cli_load_config(c)))
		return x;
	rq.user = c->user;
	rq.flags = TS_FLAG_NONINTERACTIVE;
	r = cli_broker_call(c, &rq, NULL, &res);
	if (r < 0 || res.code != 0) {
		x = cli_finish(c, r, &res, false);
		ts_client_result_clear(&res);
		return x;
	}
	out = cli_status_json(c->user, res.status_json, res.state, res.message, false, time(NULL));
	x = (int)cli_exit_for_state(res.state);
	if (!out || print_status(c, out) < 0)
		x = CLI_EXIT_UNAVAILABLE;
	free(out);
	ts_client_result_clear(&res);
	return x;
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

int run_token(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, NULL, OPT_JSON},
	                                   {"exec-credential", no_argument, NULL, 'k'},
	                                   {"user", required_argument, NULL, OPT_USER},
	                                   {"help", no_argument, NULL, OPT_HELP},
	                                   {NULL, 0, NULL, 0}};
	struct ts_client_request rq = {.type = TS_MSG_GET_TOKEN};
	struct ts_client_result res;
	int format = 0, o, x = 0, r;
	bool user_given = false;

	while ((o = getopt_long(argc, argv, "+:", lo, NULL)) != -1) {
		if (o == OPT_JSON || o == 'k') {
			if (format && format != (o == OPT_JSON ? 1 : 2)) {
				cli_err("token: --json and --exec-credential exclude each other");
				return CLI_EXIT_USAGE;
			}
			format = o == OPT_JSON ? 1 : 2;
			continue;
		}
		if (o == OPT_USER)
			user_given = true;
		if (parse_common(c, "token", o, argv, &x))
			return x;
	}
	if ((x = no_extra_args("token", argc, argv)))
		return x;
	/* --exec-credential: kubectl reads its own form, errors on stderr */
	if (format == 2)
		c->json = false;
	/* a static token (CI) wins: printed as is, no broker, never stored */
	if (cli_env_token() && !user_given) {
		c->json_done = format == 1;
		return print_token(cli_env_token(), -1, format);
	}
	if ((x = cli_load_config(c)))
		return x;
	rq.user = c->user;
	rq.flags = TS_FLAG_NONINTERACTIVE;
	r = cli_broker_call(c, &rq, NULL, &res);
	if (r >= 0 && res.token && (res.code == 0 || res.code == TS_E_NOT_SAVED)) {
		if (res.code == TS_E_NOT_SAVED)
			cli_warn("%s", res.message);
		c->json_done = format == 1;
		x = print_token(res.token, res.expires, format);
	} else {
		x = cli_finish(c, r, &res, false);
		if (x == CLI_EXIT_OK) {
			cli_err("the broker sent no token");
			x = CLI_EXIT_UNAVAILABLE;
		}
	}
	ts_client_result_clear(&res);
	return x;
}

/* ---- login ---- */

int run_login(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {{"device", no_argument, NULL, 'd'},
	                                   {"password", no_argument, NULL, 'p'},
	                                   {"refresh-token-stdin", no_argument, NULL, 'r'},
	                                   {"client-credentials", no_argument, NULL, 'c'},
	                                   {"json", no_argument, NULL, OPT_JSON},
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

		if (o == OPT_JSON)
			continue;
		if (m) {
			if (method) {
				cli_err("login: choose one of --device, --password, "
				        "--refresh-token-stdin, --client-credentials");
				return CLI_EXIT_USAGE;
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
	if (method && !strcmp(method, "client-credentials") && !c->root) {
		cli_err("login: --client-credentials is for root, with --user NAME (the local "
		        "account of the service)");
		return CLI_EXIT_PERMISSION;
	}
	if (method && !strcmp(method, "client-credentials") && !user_given) {
		cli_err("login: --client-credentials is for root, with --user NAME (the local "
		        "account of the service)");
		return CLI_EXIT_USAGE;
	}
	if (cli_env_token() && !user_given)
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
	x = cli_finish(c, r, &res, true);
	if (x == CLI_EXIT_OK && c->json) {
		c->json_done = true;
		x = cli_print_result_json(c, &res);
	}
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
	x = cli_finish(c, r, &res, true);
	if (x == CLI_EXIT_OK && c->json) {
		c->json_done = true;
		x = cli_print_result_json(c, &res);
	}
	ts_client_result_clear(&res);
	return x;
}

/* A verb whose only own option is one flag: refresh --force, logout
 * --no-revoke. */
static int flag_verb(struct cli *c, int argc, char **argv, const char *verb, const char *flag_name,
                     uint32_t flag, enum ts_msg_type type)
{
	const struct option lo[] = {{flag_name, no_argument, NULL, 'f'},
	                            {"json", no_argument, NULL, OPT_JSON},
	                            {"user", required_argument, NULL, OPT_USER},
	                            {"help", no_argument, NULL, OPT_HELP},
	                            {NULL, 0, NULL, 0}};
	uint32_t flags = 0;
	int o, x = 0;

	while ((o = getopt_long(argc, argv, "+:", lo, NULL)) != -1) {
		if (o == OPT_JSON)
			continue;
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

int run_refresh(struct cli *c, int argc, char **argv)
{
	return flag_verb(c, argc, argv, "refresh", "force", TS_FLAG_FORCE, TS_MSG_REFRESH);
}

int run_logout(struct cli *c, int argc, char **argv)
{
	return flag_verb(c, argc, argv, "logout", "no-revoke", TS_FLAG_NO_REVOKE, TS_MSG_LOGOUT);
}
