/* SPDX-License-Identifier: MIT */
/*
 * Inside the tokenseal executable: what main.c (setup, options, keystore,
 * doctor, help) shares with the verbs of verbs.c and status_all.c.
 */
#ifndef TS_CLI_VERB_H
#define TS_CLI_VERB_H

#include <stdio.h>

#include "cli.h"

/* getopt_long over a verb's arguments; every verb takes --help, and the
 * verbs with a JSON form take --json (OPT_JSON: main has already seen it). */
#define OPT_HELP 'h'
#define OPT_USER 'u'
#define OPT_JSON 'j'

int cli_load_config(struct cli *c);
/* A broker call's result: its message on stderr when it failed (or when
 * show_ok and not --json), the exit code. */
int cli_finish(const struct cli *c, int r, const struct ts_client_result *res, bool show_ok);
/* TOKENSEAL_OAUTH_TOKEN when set and not empty. */
const char *cli_env_token(void);
/* 1 when the option ended the verb (*ret_exit set: --help, a bad option,
 * --user refused), else 0. */
int parse_common(struct cli *c, const char *verb, int opt, char **argv, int *ret_exit);
int no_extra_args(const char *verb, int argc, char **argv);
int verb_usage(const char *name, FILE *f);

/* {"user", "state", "message"}: what login, refresh and logout print with
 * --json on success. */
int cli_print_result_json(const struct cli *c, const struct ts_client_result *res);

int run_status(struct cli *c, int argc, char **argv);
int run_token(struct cli *c, int argc, char **argv);
int run_login(struct cli *c, int argc, char **argv);
int run_refresh(struct cli *c, int argc, char **argv);
int run_logout(struct cli *c, int argc, char **argv);
/* status --all (root): every record of the keystore (status_all.c). */
int cli_status_all(struct cli *c);

#endif
