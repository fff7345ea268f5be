/* SPDX-License-Identifier: MIT */
/*
 * Running the tokenseal command in the cli tests: argv, stdin, the
 * environment (TOKENSEAL_CONFIG and PATH), and the user it runs as, with
 * its exit status, stdout and stderr captured (stderr scanned for secrets).
 */
#ifndef TS_CLI_RUN_H
#define TS_CLI_RUN_H

struct run {
	int exit;
	char out[16384];
	char err[16384];
};

/* The binary and the config every run uses (pointers kept: the config
 * buffer may be rewritten between runs). */
void cli_run_init(const char *cli_bin, const char *cfg);

/* Read a file into buf (NUL-terminated; empty when it cannot be read). */
void slurp(const char *path, char *buf, size_t len);

/*
 * Run tokenseal with args (NULL-terminated, without the program), stdin
 * from `in` through a pipe (NULL: empty), environment TOKENSEAL_CONFIG=cfg plus env
 * ("K=V", NULL-terminated; may be NULL), as user `as` (NULL: root), in a
 * new session (no controlling terminal: /dev/tty cannot be opened).
 */
void run_as(struct run *res, const char *as, const char *in, const char *const *env,
            const char *const *args);

/* user's stored refresh token, read as root through the keystore API with
 * config's keystore (remembered for the leak scans; wipe+free it). */
char *cli_stored_refresh_token(const char *config, const char *user);

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

#endif
