/* SPDX-License-Identifier: MIT */
/*
 * A host process with odd state calls the broker the way pam_tokenseal
 * does (ts_client_call, exec mode): a child of the runner sets the case's
 * caller-env (LD_PRELOAD, TOKENSEAL_CONFIG, HOME, TMPDIR...), caller-umask,
 * caller-rlimit ("nofile 8", "fsize 0", "core 0"...), caller-ignore (signals
 * set to SIG_IGN and blocked) and caller-close-stdio, then makes the
 * request and hands code and message back through a pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bi.h"
#include "ts_client.h"
#include "ts_error.h"
#include "ts_test.h"

static const struct bi_case *cur;

static int c_info(void *ctx, const char *text)
{
	(void)ctx;
	(void)text;
	return 0;
}

static int c_prompt(void *ctx, const char *text, bool echo, char **ret)
{
	const char *a = bi_get(cur, "answer");
	size_t len;

	(void)ctx;
	(void)text;
	(void)echo;
	if (!a)
		return -1;
	bi_decode(a, ret, &len);
	return 0;
}

static const struct {
	const char *name;
	int res;
} limits[] = {{"nofile", RLIMIT_NOFILE}, {"fsize", RLIMIT_FSIZE},    {"core", RLIMIT_CORE},
              {"stack", RLIMIT_STACK},   {"nproc", RLIMIT_NPROC},    {"cpu", RLIMIT_CPU},
              {"data", RLIMIT_DATA},     {"memlock", RLIMIT_MEMLOCK}};

static void spoil_process(const struct bi_case *c, int keep)
{
	const char *v;
	char key[32];

	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), i ? "caller-env%d" : "caller-env", i + 1);
		if ((v = bi_get(c, key))) {
			char *kv, *eq;
			size_t l;

			bi_decode(v, &kv, &l);
			eq = strchr(kv, '=');
			if (eq) {
				*eq = '\0';
				setenv(kv, eq + 1, 1);
			}
			free(kv);
		}
	}
	if ((v = bi_get(c, "caller-umask")))
		umask((mode_t)strtoul(v, NULL, 8));
	if ((v = bi_get(c, "caller-rlimit"))) {
		for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
			size_t n = strlen(limits[i].name);

			if (strncmp(v, limits[i].name, n) == 0 && v[n] == ' ') {
				struct rlimit rl;
				rlim_t x = (rlim_t)strtoull(v + n + 1, NULL, 10);

				getrlimit(limits[i].res, &rl);
				rl.rlim_cur = x;
				setrlimit(limits[i].res, &rl);
			}
		}
	}
	if ((v = bi_get(c, "caller-ignore"))) {
		sigset_t set;

		sigemptyset(&set);
		for (int s = 1; s < 32; s++) {
			char name[16];

			snprintf(name, sizeof(name), "SIG%s",
			         sigabbrev_np(s) ? sigabbrev_np(s) : "?");
			if (strstr(v, name) && s != SIGKILL && s != SIGSTOP) {
				signal(s, SIG_IGN);
				sigaddset(&set, s);
			}
		}
		if (strstr(v, "block"))
			sigprocmask(SIG_BLOCK, &set, NULL);
	}
	if (bi_yes(c, "caller-close-stdio", false))
		for (int fd = 0; fd < 3; fd++)
			if (fd != keep)
				close(fd);
}

void bi_talk_caller(struct bi_case *c, const char *config)
{
	int p[2], st = 0;
	pid_t pid;
	ssize_t n;
	struct {
		int r, code;
		char message[1024];
	} out;

	if (bi_get(c, "op") && strcmp(bi_get(c, "op"), "refresh") != 0 &&
	    strcmp(bi_get(c, "op"), "login") != 0 && strcmp(bi_get(c, "op"), "revalidate") != 0) {
		snprintf(c->why, sizeof(c->why),
		         "caller-* cases know op login, refresh, revalidate");
		return;
	}
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char asan[1200], ubsan[1200];
		char *env[] = {asan, ubsan, NULL};
		struct ts_client_opts o = {.broker_path = W.broker,
		                           .config_path =
		                               bi_yes(c, "caller-no-config", false) ? NULL : config,
		                           .mode = TS_CLIENT_EXEC_ONLY,
		                           .env = env};
		const char *op = bi_get(c, "op") ? bi_get(c, "op") : "revalidate";
		struct ts_client_request rq = {
		    .type = strcmp(op, "refresh") == 0 ? TS_MSG_REFRESH
		            : strcmp(op, "login") == 0 ? TS_MSG_LOGIN
		                                       : TS_MSG_REVALIDATE,
		    .user = bi_get(c, "user") ? bi_get(c, "user") : "alice",
		    .service = "badinput",
		    .method = strcmp(op, "login") == 0 ? "password" : NULL};
		struct ts_conv cv = {.info = c_info, .error = c_info, .prompt = c_prompt};
		struct ts_client_result res = {0};

		bi_sanitizer_env(asan, sizeof(asan), ubsan, sizeof(ubsan));
		/* a case about the host's environment runs the client as in
		 * production (opts.env NULL: the broker's environment is empty) */
		if (bi_get(c, "caller-env"))
			o.env = NULL;
		cur = c;
		if (rq.type == TS_MSG_REFRESH)
			rq.flags |= TS_FLAG_FORCE;
		if (rq.type != TS_MSG_LOGIN)
			rq.flags |= TS_FLAG_NONINTERACTIVE;
		close(p[0]);
		spoil_process(c, p[1]);
		memset(&out, 0, sizeof(out));
		out.r = ts_client_call(&o, &rq, &cv, &res);
		out.code = res.code;
		snprintf(out.message, sizeof(out.message), "%s", res.message);
		ts_client_result_clear(&res);
		_exit(write(p[1], &out, sizeof(out)) == (ssize_t)sizeof(out) ? 0 : 3);
	}
	close(p[1]);
	n = read(p[0], &out, sizeof(out));
	close(p[0]);
	CHECK(waitpid(pid, &st, 0) == pid);
	if (n != (ssize_t)sizeof(out) || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(c->why, sizeof(c->why), "the host process failed (status %#x)",
		         (unsigned)st);
		return;
	}
	if (out.r < 0) {
		snprintf(c->why, sizeof(c->why), "ts_client_call: %s (%s)", bi_code_name(out.r),
		         ts_strerror(out.r));
		return;
	}
	c->got_result = true;
	c->code = out.code;
	snprintf(c->message, sizeof(c->message), "%s", out.message);
}
