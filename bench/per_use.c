/* SPDX-License-Identifier: MIT */
/*
 * bench/per-use: what one use of a stored token costs (the sudo case:
 * `pamtester SERVICE alice acct_mgmt`, which revalidates alice's token at
 * the server), in exec mode and in daemon mode, and `tokenseal token` in
 * daemon mode (`tokenseal token --user alice`, root's way), each beside the floor: one `curl --cacert CA` introspection
 * of the same kind of token from a fresh process, i.e. the least any
 * fresh-process revalidation can cost. All four are measured in the same
 * run, interleaved round by round, against the real test IdP; the medians
 * and the ratios to the floor are printed. Targets: exec <= 1.3x,
 * daemon <= 0.5x. A benchmark: it fails only when a measured command fails,
 * never on a ratio.
 *
 * Usage: bench_per_use BROKER PAM_MODULE PAM_WRAPPER_LIB PAMTESTER CLI|- [ROUNDS]
 * Needs root (the broker serves root callers), pamtester, pam_wrapper and
 * curl: SKIPPED otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ts_client.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_mem.h"
#include "ts_test.h"
#include "ts_test_conv.h"

#define ROUNDS_MAX 1000
#define CURL "/usr/bin/curl"

static struct ts_idp idp;
static const char *broker_bin, *pam_module, *pam_wrapper_lib, *pamtester, *cli_bin;
static char cfg_exec[700], cfg_daemon[700], sock[700], svcdir[700], daemon_log[700];
static char introspection_url[512], client_auth[512];
static pid_t daemon_pid = -1;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One broker request in exec mode (the benchmark's own set-up). */
static void broker_call(enum ts_msg_type type, const char *password, struct ts_client_result *res)
{
	struct ts_client_opts o = {.broker_path = broker_bin, .config_path = cfg_exec};
	struct ts_client_request rq = {.type = type,
	                               .user = "alice",
	                               .service = "bench",
	                               .flags = password ? 0 : TS_FLAG_NONINTERACTIVE,
	                               .method = password ? "password" : NULL};
	struct ts_conv cv = TS_TEST_PASSWORD_CONV(password);

	memset(res, 0, sizeof(*res));
	CHECK_INT(ts_client_call(&o, &rq, password ? &cv : NULL, res), 0);
	CHECK_MSG(res->code == 0, "broker: %s (%s)", res->message, ts_strerror(res->code));
}

/*
 * Run argv with stdin fed from `input` (may be NULL: /dev/null), stdout to
 * `out` (NULL: /dev/null), stderr to /dev/null unless keep_stderr; env is
 * the extra environment (NULL-terminated "K=V", may be NULL). Returns the
 * wall time in ms, or -1 when it did not exit 0.
 */
static double run(char *const argv[], char *const env[], const char *input, char *out,
                  size_t outlen, bool keep_stderr)
{
	int in[2], op[2], st;
	double t0 = now_ms();
	size_t got = 0;
	pid_t pid;

	CHECK(pipe(in) == 0 && pipe(op) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(in[0], 0);
		dup2(out ? op[1] : devnull, 1);
		if (!keep_stderr)
			dup2(devnull, 2);
		close(in[1]);
		close(op[0]);
		for (size_t i = 0; env && env[i]; i++)
			putenv(env[i]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(op[1]);
	if (input)
		CHECK((size_t)write(in[1], input, strlen(input)) == strlen(input));
	close(in[1]);
	for (;;) {
		char scratch[4096];
		char *dst = out && got + 1 < outlen ? out + got : scratch;
		size_t room = out && got + 1 < outlen ? outlen - 1 - got : sizeof(scratch);
		ssize_t n = read(op[0], dst, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (dst != scratch)
			got += (size_t)n;
	}
	if (out)
		out[got] = '\0';
	close(op[0]);
	CHECK(waitpid(pid, &st, 0) == pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return now_ms() - t0;
}

/* The floor: one introspection from a fresh curl, credentials and token on
 * its stdin (curl -K -), never in argv. */
static double floor_once(const char *token, bool check_active)
{
	static char curl[] = CURL, s[] = "-s", fail[] = "-f", cacert[] = "--cacert",
		    k[] = "-K", dash[] = "-";
	char *argv[] = {curl, s, fail, cacert, idp.ca, k, dash, NULL};
	char input[8192], answer[4096];
	double t;

	snprintf(input, sizeof(input), "url = \"%s\"\nuser = \"%s\"\ndata = \"token=%s\"\n",
	         introspection_url, client_auth, token);
	t = run(argv, NULL, input, check_active ? answer : NULL, sizeof(answer), false);
	ts_wipe(input, sizeof(input));
	CHECK_MSG(t >= 0, "curl introspection failed");
	if (check_active)
		CHECK_MSG(strstr(answer, "\"active\":true"), "introspection says: %.200s", answer);
	return t;
}

static double pam_once(const char *service)
{
	static char alice[] = "alice", acct[] = "acct_mgmt", wrap[] = "PAM_WRAPPER=1";
	char svc[64], prog[600], preload[600], dir[800];
	char *argv[] = {prog, svc, alice, acct, NULL};
	char *env[] = {preload, wrap, dir, NULL};
	double t;

	snprintf(prog, sizeof(prog), "%s", pamtester);
	snprintf(svc, sizeof(svc), "%s", service);
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", pam_wrapper_lib);
	snprintf(dir, sizeof(dir), "PAM_WRAPPER_SERVICE_DIR=%s", svcdir);
	t = run(argv, env, NULL, NULL, 0, false);
	CHECK_MSG(t >= 0, "pamtester %s alice acct_mgmt failed (daemon log %s)", service,
	          daemon_log);
	return t;
}

static double token_once(bool check)
{
	static char verb[] = "token", user_opt[] = "--user", alice[] = "alice";
	char prog[600], env0[800];
	char *argv[] = {prog, verb, user_opt, alice, NULL};
	char *env[] = {env0, NULL};
	char out[8192];
	double t;

	snprintf(prog, sizeof(prog), "%s", cli_bin);
	snprintf(env0, sizeof(env0), "TOKENSEAL_CONFIG=%s", cfg_daemon);
	t = run(argv, env, NULL, check ? out : NULL, sizeof(out), true);
	CHECK_MSG(t >= 0, "tokenseal token failed (daemon log %s)", daemon_log);
	if (check) {
		size_t n = strlen(out);

		CHECK_MSG(n > 1 && out[n - 1] == '\n' && !memchr(out, '\n', n - 1),
		          "tokenseal token printed %zu bytes, not one line", n);
		ts_wipe(out, sizeof(out));
	}
	return t;
}

static void write_service(const char *name, const char *config)
{
	char path[900];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", svcdir, name);
	f = fopen(path, "w");
	CHECK(f);
	fprintf(f, "account required %s config=%s\n", pam_module, config);
	CHECK(fclose(f) == 0);
}

static void start_daemon(void)
{
	static char d[] = "--daemon", fg[] = "--foreground", c[] = "--config";
	char prog[600];
	char *argv[] = {prog, d, fg, c, cfg_daemon, NULL};
	struct stat st;

	snprintf(prog, sizeof(prog), "%s", broker_bin);

	daemon_pid = fork();
	CHECK(daemon_pid >= 0);
	if (daemon_pid == 0) {
		int fd = open(daemon_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		int st_child;

		if (lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
			return;
		CHECK_MSG(waitpid(daemon_pid, &st_child, WNOHANG) == 0,
		          "the daemon exited at start (log %s)", daemon_log);
		usleep(50 * 1000);
	}
	CHECK_MSG(0, "the daemon did not create %s (log %s)", sock, daemon_log);
}

static void stop_daemon(void)
{
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		(void)waitpid(daemon_pid, NULL, 0);
		daemon_pid = -1;
	}
}

static void find_endpoints(void)
{
	char url[400], disc[16384], *p, *q;
	static char curl[] = CURL, s[] = "-s", fail[] = "-f", cacert[] = "--cacert";
	char *argv[] = {curl, s, fail, cacert, idp.ca, url, NULL};
	char *secret = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(url, sizeof(url), "%s/.well-known/openid-configuration", idp.issuer);
	CHECK_MSG(run(argv, NULL, NULL, disc, sizeof(disc), false) >= 0, "discovery failed");
	p = strstr(disc, "\"introspection_endpoint\":\"");
	CHECK_MSG(p, "no introspection_endpoint in discovery");
	p += strlen("\"introspection_endpoint\":\"");
	q = strchr(p, '"');
	CHECK(q && (size_t)(q - p) < sizeof(introspection_url));
	memcpy(introspection_url, p, (size_t)(q - p));
	introspection_url[q - p] = '\0';

	f = fopen(idp.secret_file, "r");
	CHECK(f);
	CHECK(getline(&secret, &len, f) > 0);
	fclose(f);
	snprintf(client_auth, sizeof(client_auth), "%s:%s", idp.conf_client, secret);
	ts_erase_free(secret, len);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	static double fl[ROUNDS_MAX], ex[ROUNDS_MAX], dm[ROUNDS_MAX], tk[ROUNDS_MAX];
	struct ts_client_result res;
	char extra[2048], *token;
	size_t rounds;
	bool have_cli;
	double f;

	if (argc < 6) {
		fprintf(stderr, "usage: bench_per_use BROKER PAM_MODULE PAM_WRAPPER_LIB PAMTESTER "
		                "CLI|- [ROUNDS]\n");
		return 2;
	}
	broker_bin = argv[1];
	pam_module = argv[2];
	pam_wrapper_lib = argv[3];
	pamtester = argv[4];
	cli_bin = argv[5];
	rounds = argc > 6 ? strtoul(argv[6], NULL, 10) : 15;
	if (rounds < 1 || rounds > ROUNDS_MAX)
		rounds = 15;
	have_cli = strcmp(cli_bin, "-") != 0;
	if (getuid() != 0)
		TS_SKIP("needs root (the broker serves root callers)");
	if (access(pamtester, X_OK) != 0 || access(pam_wrapper_lib, R_OK) != 0)
		TS_SKIP("needs pamtester and pam_wrapper (scripts/test installs them)");
	if (access(CURL, X_OK) != 0)
		TS_SKIP("needs " CURL " for the floor");

	CHECK(ts_idp_start(&idp, 3600) == 0);
	snprintf(sock, sizeof(sock), "%s/bench.sock", idp.dir);
	snprintf(svcdir, sizeof(svcdir), "%s/services", idp.dir);
	snprintf(daemon_log, sizeof(daemon_log), "%s/daemon.log", idp.dir);
	CHECK(mkdir(svcdir, 0755) == 0);
	/* exec mode: a socket path where no daemon ever listens */
	snprintf(cfg_exec, sizeof(cfg_exec), "%s/exec.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "login_methods = password\nbroker_path = %s\nsocket_path = %s/none.sock\n",
	         broker_bin, idp.dir);
	CHECK(ts_idp_write_config(&idp, cfg_exec, "conf", extra) == 0);
	/* daemon mode: a broker_path that cannot run, so that an exec fallback
	 * fails the benchmark instead of being measured as the daemon */
	snprintf(cfg_daemon, sizeof(cfg_daemon), "%s/daemon.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "login_methods = password\nbroker_path = %s/no-such-broker\nsocket_path = %s\n",
	         idp.dir, sock);
	CHECK(ts_idp_write_config(&idp, cfg_daemon, "conf", extra) == 0);
	write_service("bench-exec", cfg_exec);
	write_service("bench-daemon", cfg_daemon);
	find_endpoints();

	broker_call(TS_MSG_LOGIN, "alice-pw", &res);
	ts_client_result_clear(&res);
	broker_call(TS_MSG_GET_TOKEN, NULL, &res);
	CHECK(res.token != NULL);
	token = res.token;
	atexit(stop_daemon);
	start_daemon();

	/* one warm-up of each (first-run page cache, the daemon's first TLS
	 * connection), checking that each really does what it is timed for */
	(void)floor_once(token, true);
	(void)pam_once("bench-exec");
	(void)pam_once("bench-daemon");
	if (have_cli)
		(void)token_once(true);
	for (size_t i = 0; i < rounds; i++) {
		fl[i] = floor_once(token, false);
		ex[i] = pam_once("bench-exec");
		dm[i] = pam_once("bench-daemon");
		tk[i] = have_cli ? token_once(false) : 0;
	}
	stop_daemon();
	ts_client_result_clear(&res);

	f = median(fl, rounds);
	printf("bench/per-use: %zu interleaved rounds against the real test IdP (%s)\n", rounds,
	       idp.issuer);
	printf("floor: curl --cacert CA introspection, fresh process: %.2f ms (median)\n", f);
	printf("exec mode:   pamtester acct_mgmt %8.2f ms  exec ratio: %.3f (target <= 1.3)\n",
	       median(ex, rounds), median(ex, rounds) / f);
	printf("daemon mode: pamtester acct_mgmt %8.2f ms  daemon ratio: %.3f (target <= 0.5)\n",
	       median(dm, rounds), median(dm, rounds) / f);
	if (have_cli)
		printf("daemon mode: tokenseal token     %8.2f ms  token ratio: %.3f (target <= 0.5)\n",
		       median(tk, rounds), median(tk, rounds) / f);
	else
		printf("tokenseal token: not measured (the CLI was not built)\n");
	ts_idp_stop(&idp);
	return 0;
}
