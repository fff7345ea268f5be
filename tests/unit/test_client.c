/* SPDX-License-Identifier: MIT */
/* common/ts_client.c against ts_proto_test_peer (tests/unit/fake_peer.c): the
 * relay, prompt answers, non-interactive answers, timeouts, a missing
 * broker, a broker dying mid-frame, the child's environment and fds. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ts_client.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "ts_test.h"

#ifndef TS_PEER_PATH
#error "TS_PEER_PATH must name the protocol test peer"
#endif

struct rec {
	char log[4096];
	int prompts;
	bool fail_prompt;
	bool abort_info;
};

static void append(struct rec *r, const char *kind, const char *text)
{
	size_t used = strlen(r->log);
	snprintf(r->log + used, sizeof(r->log) - used, "%s:%s\n", kind, text);
}

static int rec_info(void *ctx, const char *text)
{
	struct rec *r = ctx;
	append(r, "info", text);
	return r->abort_info ? -ECANCELED : 0;
}

static int rec_error(void *ctx, const char *text)
{
	append(ctx, "error", text);
	return 0;
}

static int rec_prompt(void *ctx, const char *text, bool echo, char **ret_answer)
{
	struct rec *r = ctx;
	char buf[64];

	append(r, echo ? "prompt-echo" : "prompt-noecho", text);
	if (r->fail_prompt)
		return -ECANCELED;
	snprintf(buf, sizeof(buf), "answer%d", ++r->prompts);
	*ret_answer = ts_strdup_secret(buf);
	return *ret_answer ? 0 : -ENOMEM;
}

static int call(const char *script, const char *broker, int timeout_ms,
                const struct ts_conv *conv, struct ts_client_result *res, uint32_t flags)
{
	char env0[128];
	char *env[] = {env0, NULL};
	struct ts_client_opts opts = {
	    .broker_path = broker ? broker : TS_PEER_PATH,
	    .config_path = "/nonexistent/tokenseal.conf",
	    .env = env,
	    .timeout_ms = timeout_ms,
	};
	struct ts_client_request req = {
	    .type = TS_MSG_LOGIN,
	    .user = "alice",
	    .service = "sshd",
	    .flags = flags,
	    .rhost = "192.0.2.7",
	    .tty = "ssh",
	    .method = "device",
	};
	snprintf(env0, sizeof(env0), "TS_PEER_SCRIPT=%s", script);
	return ts_client_call(&opts, &req, conv, res);
}

static void test_relay(void)
{
	struct rec r = {0};
	struct ts_conv conv = {rec_info, rec_error, rec_prompt, &r};
	struct ts_client_result res = {0};

	CHECK_INT(call("relay", NULL, 5000, &conv, &res, TS_FLAG_SILENT), 0);
	CHECK_INT(res.code, 0);
	CHECK_INT(res.state, TS_STATE_VALID);
	CHECK_STR(res.message, "done");
	CHECK_STR(res.token, "tok-123");
	CHECK_INT(res.expires, 3600);
	CHECK_STR(r.log, "info:request type=1 user=alice service=sshd flags=4 rhost=192.0.2.7 "
	                 "tty=ssh method=device\n"
	                 "error:an error line\n"
	                 "prompt-echo:Code: \n"
	                 "prompt-noecho:Password: \n"
	                 "info:answers: answer1|answer2\n");
	ts_client_result_clear(&res);
	CHECK(res.token == NULL);
}

static void test_noninteractive(void)
{
	struct rec r = {0};
	struct ts_conv noprompt = {rec_info, rec_error, NULL, &r};
	struct ts_conv failing = {rec_info, rec_error, rec_prompt, &r};
	struct ts_client_result res = {0};

	/* no prompt callback: ANSWER without a value */
	CHECK_INT(call("noninteractive", NULL, 5000, &noprompt, &res, TS_FLAG_NONINTERACTIVE), 0);
	CHECK_INT(res.code, TS_E_INTERACTION);
	CHECK_STR(res.message, "interaction required but not possible");
	CHECK(strstr(r.log, "flags=1") != NULL);
	ts_client_result_clear(&res);

	/* no conversation at all */
	CHECK_INT(call("noninteractive", NULL, 5000, NULL, &res, 0), 0);
	CHECK_INT(res.code, TS_E_INTERACTION);
	ts_client_result_clear(&res);

	/* a prompt callback that fails: same */
	r.fail_prompt = true;
	CHECK_INT(call("noninteractive", NULL, 5000, &failing, &res, 0), 0);
	CHECK_INT(res.code, TS_E_INTERACTION);
	ts_client_result_clear(&res);

	/* and one that answers */
	r.fail_prompt = false;
	CHECK_INT(call("noninteractive", NULL, 5000, &failing, &res, 0), 0);
	CHECK_INT(res.code, 0);
	CHECK_STR(res.message, "answer1");
	ts_client_result_clear(&res);
}

static void test_result_codes(void)
{
	struct ts_client_result res = {0};

	CHECK_INT(call("result:-1041", NULL, 5000, NULL, &res, 0), 0);
	CHECK_INT(res.code, TS_E_NEEDS_LOGIN);
	CHECK_STR(res.message, "peer says -1041");
	CHECK(res.token == NULL);
	CHECK_INT(res.expires, -1);
	ts_client_result_clear(&res);
	/* a positive code is not a valid result */
	res.code = 4242;
	CHECK_INT(call("result:5", NULL, 5000, NULL, &res, 0), TS_E_IPC);
	CHECK_INT(res.code, 4242); /* untouched on failure */
}

static void test_abort_from_callback(void)
{
	struct rec r = {.abort_info = true};
	struct ts_conv conv = {rec_info, rec_error, rec_prompt, &r};
	struct ts_client_result res = {0};

	CHECK_INT(call("relay", NULL, 5000, &conv, &res, 0), -ECANCELED);
}

static void test_timeout(void)
{
	struct ts_client_result res = {.code = 99};
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK_INT(call("hang", NULL, 300, NULL, &res, 0), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK_INT(res.code, 99);
	/* killed, not waited for: well under the peer's 30 s sleep */
	CHECK(b.tv_sec - a.tv_sec < 5);
}

static void test_broker_missing(void)
{
	struct ts_client_result res = {0};
	char path[512];

	CHECK_INT(call("relay", "/nonexistent/tokenseal-broker", 5000, NULL, &res, 0), -ENOENT);
	/* not executable */
	snprintf(path, sizeof(path), "%s/broker", ts_test_tmpdir());
	ts_test_write_file(path, "#!/bin/sh\n", 10, 0644);
	if (geteuid() != 0)
		CHECK_INT(call("relay", path, 5000, NULL, &res, 0), -EACCES);
	CHECK_INT(call("relay", "", 5000, NULL, &res, 0), -EINVAL);
}

static void test_broker_dies(void)
{
	struct ts_client_result res = {0};

	CHECK_INT(call("die", NULL, 5000, NULL, &res, 0), -ECONNRESET);
	CHECK_INT(call("exit", NULL, 5000, NULL, &res, 0), -ECONNRESET);
	CHECK_INT(call("garbage", NULL, 5000, NULL, &res, 0), TS_E_IPC);
	/* a message without the text it must carry is a protocol error */
	CHECK_INT(call("notext", NULL, 5000, NULL, &res, 0), TS_E_IPC);
	CHECK_INT(call("prompt-notext", NULL, 5000, NULL, &res, 0), TS_E_IPC);
}

static void test_child_env(void)
{
	struct ts_client_result res = {0};
	int extra = open("/dev/null", O_RDONLY); /* not CLOEXEC: must still be closed */
	int high = dup2(extra, 200);             /* dup2 never sets FD_CLOEXEC */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;

	CHECK(extra >= 0);
	CHECK_INT(high, 200);
	CHECK_INT(fcntl(high, F_GETFD), 0);
	sigemptyset(&ign.sa_mask);
	CHECK_INT(sigaction(SIGCHLD, &ign, &old), 0);
	CHECK_INT(call("env", NULL, 5000, NULL, &res, 0), 0);
	CHECK_INT(res.code, 0);
	/* argv as documented; only our one test variable; fds 0 1 2 only;
	 * stderr on /dev/null */
	CHECK_STR(res.message,
	          "argc=3 argv0=tokenseal-broker argv1=--config "
	          "argv2=/nonexistent/tokenseal.conf env=1 fds=0,1,2 stderr=/dev/null");
	/* the host's SIGCHLD disposition is restored */
	struct sigaction now;
	CHECK_INT(sigaction(SIGCHLD, NULL, &now), 0);
	CHECK(now.sa_handler == SIG_IGN);
	CHECK_INT(sigaction(SIGCHLD, &old, NULL), 0);
	close(extra);
	close(high);
	ts_client_result_clear(&res);
}

/* Each way of closing the child's fds, in a forked child: fds opened
 * without O_CLOEXEC at 3, 10, 200 and 1000 are closed, 0..2 stay open. */
static void test_close_fds(void)
{
	static const enum ts_close_how hows[] = {TS_CLOSE_AUTO, TS_CLOSE_RANGE, TS_CLOSE_PROC,
	                                         TS_CLOSE_LOOP};
	static const char *const names[] = {"auto", "close_range", "/proc/self/fd", "loop"};

	for (size_t i = 0; i < TS_ARRAY_SIZE(hows); i++) {
		int st = 0;
		pid_t pid = fork();

		CHECK(pid >= 0);
		if (pid == 0) {
			static const int fds[] = {10, 200, 1000};
			int base = open("/dev/null", O_RDONLY), r;

			if (base < 0)
				_exit(10);
			for (size_t k = 0; k < TS_ARRAY_SIZE(fds); k++)
				if (dup2(base, fds[k]) != fds[k] || fcntl(fds[k], F_GETFD) != 0)
					_exit(11);
			r = ts_close_fds_from(3, hows[i]);
			if (r == -ENOSYS)
				_exit(77);
			if (r != 0)
				_exit(12);
			if (fcntl(base, F_GETFD) != -1 || errno != EBADF)
				_exit(13);
			for (size_t k = 0; k < TS_ARRAY_SIZE(fds); k++)
				if (fcntl(fds[k], F_GETFD) != -1 || errno != EBADF)
					_exit(14);
			for (int k = 0; k < 3; k++)
				if (fcntl(k, F_GETFD) < 0)
					_exit(15);
			_exit(0);
		}
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFEXITED(st));
		if (WEXITSTATUS(st) == 77 && hows[i] == TS_CLOSE_RANGE) {
			fprintf(stderr, "   (no close_range on this kernel)\n");
			continue;
		}
		CHECK_MSG(WEXITSTATUS(st) == 0, "closing with %s: child status %d", names[i],
		          WEXITSTATUS(st));
	}
}

/* The per-frame timeout: a peer silent for 1.5 s (a device login waiting
 * for approval) is waited for under a longer timeout and given up on under
 * a shorter one; the module's timeout covers device_timeout. */
static void test_frame_timeout(void)
{
	struct ts_client_result res = {.code = 99};

	CHECK_INT(call("slow:1500", NULL, 3000, NULL, &res, 0), 0);
	CHECK_INT(res.code, 0);
	CHECK_STR(res.message, "slow done");
	ts_client_result_clear(&res);
	res.code = 99;
	CHECK_INT(call("slow:1500", NULL, 500, NULL, &res, 0), -ETIMEDOUT);
	CHECK_INT(res.code, 99);

	CHECK_INT(ts_client_frame_timeout_ms(110), TS_PROTO_TIMEOUT_MS); /* 140 s < 180 s */
	CHECK_INT(ts_client_frame_timeout_ms(150), 180000);
	CHECK_INT(ts_client_frame_timeout_ms(151), 181000);
	CHECK_INT(ts_client_frame_timeout_ms(900), 930000);
	CHECK_INT(ts_client_frame_timeout_ms(0), TS_PROTO_TIMEOUT_MS);
}

int main(void)
{
	/* A host like sshd that lets SIGPIPE kill it: the client must not. */
	signal(SIGPIPE, SIG_DFL);
	RUN(test_relay);
	RUN(test_noninteractive);
	RUN(test_result_codes);
	RUN(test_abort_from_callback);
	RUN(test_timeout);
	RUN(test_broker_missing);
	RUN(test_broker_dies);
	RUN(test_child_env);
	RUN(test_close_fds);
	RUN(test_frame_timeout);
	return ts_test_done();
}
