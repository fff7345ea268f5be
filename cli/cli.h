/* SPDX-License-Identifier: MIT */
/*
 * The tokenseal command (DESIGN.md §7). libc + jansson + ts_common only:
 * it never speaks HTTP or touches keys; everything goes to the broker.
 */
#ifndef TS_CLI_H
#define TS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "ts_client.h"
#include "ts_config.h"
#include "ts_macros.h"

/* Exit codes (DESIGN.md §7; 7 and 64 added, see docs/architecture.md). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_SIGN_IN = 2,     /* sign-in required */
	CLI_EXIT_UNAVAILABLE = 3, /* server (or the tokenseal service) unavailable */
	CLI_EXIT_CONFIG = 4,      /* configuration error */
	CLI_EXIT_KEYSTORE = 5,    /* keystore error */
	CLI_EXIT_INTERACTION = 6, /* interaction required but not possible */
	CLI_EXIT_PERMISSION = 7,  /* not permitted: the caller, the access policy, a
	                           * disabled account (a new sign-in cannot help) */
	CLI_EXIT_USAGE = 64,      /* bad usage (sysexits EX_USAGE) */
};

/* One row of the table in exit.c: what a result means to a person. */
struct cli_class {
	enum cli_exit exit;
	const char *name; /* "sign-in", "server", "configuration", "keystore", "interaction",
	                   * "permission", "access-policy" ("usage": cli_class_of_exit) */
	bool heals;       /* heals by itself (retry later) */
};

/* The exit class of a broker result (code 0 or a negative ts_err/errno)
 * and, for code 0, of the record state it reports (STATUS): every TS_E_*
 * and every state maps here, in one table. */
void cli_classify(int code, int state, struct cli_class *ret) TS_NONNULL(3);
enum cli_exit cli_exit_for(int code, int state);
/* The exit class of a record state alone (STATUS). */
enum cli_exit cli_exit_for_state(int state);
/* The class name of an exit code alone (an error of the command itself,
 * with no broker result): "usage" for CLI_EXIT_USAGE. */
const char *cli_class_of_exit(int exit);

/* The line printed when the daemon is not running. */
#define CLI_NO_SERVICE_MSG                                                                         \
	"the tokenseal service is not running: `systemctl start tokenseal-broker.socket`"

struct cli {
	bool root;                     /* real and effective uid 0 */
	const char *prog;              /* "tokenseal" */
	char self[TS_NAME_MAX];        /* the caller's own user name */
	const char *user;              /* whom the request is for */
	char config_path[TS_PATH_MAX]; /* TOKENSEAL_CONFIG or the default */
	struct ts_config cfg;          /* root: the whole file; others: socket_path */
	bool cfg_ok;
	bool noninteractive; /* TOKENSEAL_NONINTERACTIVE non-empty and not "0" */
	bool tty;            /* stderr is a terminal */
	bool color;          /* colour on stdout: a terminal, no NO_COLOR, TERM not dumb */
	bool json;           /* --json: one JSON value on stdout, errors included */
	bool json_done;      /* the verb printed its JSON value */
};

/* Colour on the stream fd: fd is a terminal, NO_COLOR is unset or empty,
 * and TERM is set and not "dumb". */
bool cli_color_for(int fd);

/* Call the broker (cli/call.c): the one place that picks the transport.
 * Root: the daemon's socket, else exec mode with --config; others: the
 * socket only. Returns what ts_client_call returns; TS_E_NO_SERVICE when a
 * non-root caller finds no daemon. */
int cli_broker_call(const struct cli *c, const struct ts_client_request *rq,
                    const struct ts_conv *conv, struct ts_client_result *res) TS_WUR
    TS_NONNULL(1, 2, 4);

/* The terminal conversation (cli/conv.c). */
struct cli_conv_ctx {
	const struct cli *cli;
	bool answer_from_stdin; /* --refresh-token-stdin: secret prompts read stdin */
	bool answered_stdin;    /* one line only */
	bool countdown;         /* device flow on a terminal */
};
void cli_conv_init(struct ts_conv *conv, struct cli_conv_ctx *ctx) TS_NONNULL(1, 2);
void cli_conv_done(struct cli_conv_ctx *ctx) TS_NONNULL(1);

/* Show prompt (may be NULL) on fd, then read one line (at most max-1
 * bytes, newline stripped) from fd, with echo off (when fd is a terminal)
 * unless echo. malloc'd, wipe+free by the caller. */
int cli_read_line(int fd, const char *prompt, bool echo, size_t max, char **ret) TS_WUR
    TS_NONNULL(5);

/* Messages: "tokenseal: ..." on stderr (cli/report.c). cli_err's lines
 * are also kept for --json's error object. */
void cli_err(const char *fmt, ...) TS_PRINTF(1, 2);
void cli_warn(const char *fmt, ...) TS_PRINTF(1, 2);
/* The broker result behind the error of this run (for --json). */
void cli_note_result(int code, int state);
/* --json: {"error": {...}} for the error of this run, exiting with exit,
 * on f (the error's fields in tokenseal(1), JSON OUTPUT). */
void cli_json_error(FILE *f, int exit) TS_NONNULL(1);
/* Print one JSON value (steals o) on stdout with a newline; -1 when it
 * cannot be written. */
int cli_json_print(json_t *o);

/* RFC 3339 UTC ("2026-12-01T23:40:00Z") of a Unix time. */
void cli_rfc3339(char *buf, size_t len, int64_t t) TS_NONNULL(1);

/* Output of STATUS / token, shared with the tests (cli/output.c). The
 * schemas are documented in tokenseal(1). status_json: the broker's
 * STATUS_JSON (may be NULL); env_token: TOKENSEAL_OAUTH_TOKEN is set. The
 * result is malloc'd JSON text. */
char *cli_status_json(const char *user, const char *status_json, int state, const char *message,
                      bool env_token, int64_t now) TS_NONNULL(1);
char *cli_token_json(const char *token, int64_t expires_in, int64_t now) TS_NONNULL(1);
char *cli_exec_credential(const char *token, int64_t expires_in, int64_t now) TS_NONNULL(1);
/* Human form of cli_status_json's output, on f. */
void cli_status_print(FILE *f, const char *schema_json, bool color) TS_NONNULL(1, 2);

/* `tokenseal doctor` (cli/doctor*.c): its options, checks, output and
 * exit code; its usage line and help text for the verb table. */
int cli_doctor_main(struct cli *c, int argc, char **argv) TS_NONNULL(1, 3);
extern const char cli_doctor_usage[], cli_doctor_help[];

#endif
