/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_run.h"
#include "ks.h"
#include "lifecycle.h"
#include "ts_config.h"
#include "ts_mem.h"
#include "ts_leak.h"
#include "ts_test.h"

static const char *run_cli, *run_cfg;
static char path_env[] = "PATH=/usr/bin:/bin";

void cli_run_init(const char *cli_bin, const char *cfg)
{
	run_cli = cli_bin;
	run_cfg = cfg;
}

void slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k;
	size_t got = 0;

	buf[0] = '\0';
	if (fd < 0)
		return;
	while (got < len - 1 && (k = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)k;
	buf[got] = '\0';
	close(fd);
}

/*
 * Run tokenseal with argv (NULL-terminated, without the program), stdin
 * from `in` (NULL: /dev/null), environment TOKENSEAL_CONFIG=cfg plus env
 * ("K=V", NULL-terminated; may be NULL), as user `as` (NULL: root), in a
 * new session (no controlling terminal: /dev/tty cannot be opened).
 */
void run_as(struct run *res, const char *as, const char *in, const char *const *env,
                   const char *const *args)
{
	char outp[800], errp[800];
	const char *argv[16];
	char *envp[16];
	char cfgenv[800];
	size_t n = 0, e = 0;
	pid_t pid;
	int st = 0, inpipe[2];

	snprintf(outp, sizeof(outp), "%s/cli.out", ts_test_tmpdir());
	snprintf(errp, sizeof(errp), "%s/cli.err", ts_test_tmpdir());
	/* stdin through a pipe: a refresh token fed to the command never
	 * lands in a file */
	CHECK(pipe(inpipe) == 0);
	argv[n++] = "tokenseal";
	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	snprintf(cfgenv, sizeof(cfgenv), "TOKENSEAL_CONFIG=%s", run_cfg);
	/* the test's own variables first: getenv finds the first one */
	for (size_t i = 0; env && env[i] && e < 13; i++)
		envp[e++] = (char *)(uintptr_t)env[i];
	envp[e++] = cfgenv;
	envp[e++] = path_env;
	envp[e] = NULL;
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* root's 0600: the output may hold a token */
		int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fo < 0 || fe < 0)
			_exit(120);
		close(inpipe[1]);
		dup2(inpipe[0], 0);
		dup2(fo, 1);
		dup2(fe, 2);
		(void)setsid();
		if (as) {
			struct passwd *pw = getpwnam(as);

			if (!pw || setgroups(0, NULL) < 0 ||
			    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
			    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
				_exit(121);
		}
		execve(run_cli, (char *const *)(uintptr_t)argv, envp);
		_exit(122);
	}
	close(inpipe[0]);
	/* inputs are a line or two, far below the pipe's buffer; a command
	 * that exits without reading them (a usage error) is no failure here */
	if (in) {
		void (*old)(int) = signal(SIGPIPE, SIG_IGN);
		ssize_t w = write(inpipe[1], in, strlen(in));

		CHECK_MSG(w == (ssize_t)strlen(in) || (w < 0 && errno == EPIPE), "stdin written");
		signal(SIGPIPE, old);
	}
	close(inpipe[1]);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st), "tokenseal exited (status %d)", st);
	res->exit = WEXITSTATUS(st);
	slurp(outp, res->out, sizeof(res->out));
	slurp(errp, res->err, sizeof(res->err));
	fprintf(stderr, "   $ tokenseal");
	for (size_t i = 1; argv[i]; i++)
		fprintf(stderr, " %s", argv[i]);
	fprintf(stderr, "  -> %d\n%s", res->exit, res->err);
	/* no token, password or secret ever goes to stderr */
	ts_leak_scan("tokenseal stderr", res->err, strlen(res->err));
}

/* Read user's stored refresh token through the keystore API. */
char *cli_stored_refresh_token(const char *config, const char *user)
{
	struct ts_config c;
	struct ks *ks = NULL;
	struct ks_blob *b = NULL;
	struct ts_record rec = {0};
	struct ks_identity id;
	char *rt;

	ts_config_defaults(&c);
	CHECK_INT(ts_config_load(&c, config, NULL, NULL), 0);
	CHECK_INT(ks_open(&ks, c.keystore_dir, c.key_file, NULL), 0);
	CHECK(getpwnam(user));
	id.uid = getpwnam(user)->pw_uid;
	id.user = user;
	id.issuer = c.issuer;
	id.client_id = c.client_id;
	CHECK_INT(ks_read(ks, &id, &b), 0);
	CHECK_INT(ts_record_from_json(&rec, b->payload, b->len), 0);
	CHECK(rec.refresh_token);
	rt = ts_strdup_secret(rec.refresh_token);
	ts_leak_remember(rt);
	ts_record_clear(&rec);
	ks_blob_free(b);
	ks_close(ks);
	return rt;
}
