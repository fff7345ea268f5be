/* SPDX-License-Identifier: MIT */
/*
 * bench/per-use: what one use of a stored token costs (the sudo case:
 * `pamtester SERVICE alice acct_mgmt`, which revalidates alice's token at
 * the server), in exec mode and in daemon mode, and `tokenseal token` in
 * daemon mode (`tokenseal token --user alice`, root's way), each beside the floor: one `curl --cacert CA` introspection
 * of the same kind of token from a fresh process, i.e. the least any
 * fresh-process revalidation can cost. All four are measured in the same
 * run, interleaved round by round, against the real test IdP; the medians
 * and the ratios to the floor are printed. Beside it the warm floor
 * (pamtester with pam_permit + one introspection on an open connection) and
 * the rows of issue 19 that need the IdP: a use that needs a refresh, the
 * daemon's throughput beside the server's own (wrk), the burst after a
 * revocation, the per-use request counts the fleet table is computed from,
 * the footprint (again in a pamtester that resolved the user first:
 * bench/resolve_user.c). Each table row is also printed as a "ROW\t..."
 * line for bench/run. A benchmark: it fails only when a measured command
 * fails, never on a ratio.
 *
 * Usage: bench_per_use BROKER PAM_MODULE PAM_WRAPPER_LIB PAMTESTER CLI|- [ROUNDS [LOAD_SECS]]
 * Needs root (the broker serves root callers), pamtester, pam_wrapper and
 * curl: SKIPPED otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench.h"
#include "ts_client.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_mem.h"
#include "ts_test.h"
#include "ts_test_conv.h"

#define ROUNDS_MAX 1000
#define CURL "/usr/bin/curl"

#define PAM_PERMIT "/usr/lib/x86_64-linux-gnu/security/pam_permit.so"
#define VALGRIND "/usr/bin/valgrind"
/* Debian's system trust store: the bundle libcurl's default reads, the
 * hashed folder the broker reads (oauth/oauth_http.c) */
#define SYSTEM_CERTS "/etc/ssl/certs"
#define SYSTEM_BUNDLE_NAME "ca-certificates.crt"

struct ts_idp idp;
char introspection_url[512], token_url[512], client_auth[512], sock[700], cfg_daemon[700];
static const char *broker_bin, *pam_module, *pam_wrapper_lib, *pamtester, *cli_bin;
static char rusage_bin[600], resolve_lib[600];
static char cfg_exec[700], cfg_exec30[700], svcdir[700], daemon_log[700];
static pid_t daemon_pid = -1;
static bool floor_system_store; /* the floor's curl without --cacert */

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One broker request in exec mode (the benchmark's own set-up). */
static const char *setup_config = cfg_exec;

static void broker_call_as(const char *user, enum ts_msg_type type, const char *password,
                           struct ts_client_result *res)
{
	struct ts_client_opts o = {.broker_path = broker_bin, .config_path = setup_config};
	struct ts_client_request rq = {.type = type,
	                               .user = user,
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
static void broker_call(enum ts_msg_type type, const char *password, struct ts_client_result *res)
{
	broker_call_as("alice", type, password, res);
}

double run(char *const argv[], char *const env[], const char *input, char *out, size_t outlen,
           bool keep_stderr)
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
static double floor_once(const char *token, bool check_active, double *handshake_ms)
{
	static char curl[] = CURL, s[] = "-s", fail[] = "-f", cacert[] = "--cacert",
		    k[] = "-K", dash[] = "-", w[] = "-w",
		    fmt[] = "\nHANDSHAKE %{time_connect} %{time_appconnect}\n";
	char *argv[] = {curl, s, fail, cacert, idp.ca, k, dash, w, fmt, NULL};
	char *argv_system[] = {curl, s, fail, k, dash, w, fmt, NULL};
	char input[8192], answer[4096], *h;
	double t, tc, ta;

	snprintf(input, sizeof(input), "url = \"%s\"\nuser = \"%s\"\ndata = \"token=%s\"\n",
	         introspection_url, client_auth, token);
	t = run(floor_system_store ? argv_system : argv, NULL, input, answer, sizeof(answer), false);
	ts_wipe(input, sizeof(input));
	CHECK_MSG(t >= 0, "curl introspection failed");
	if (check_active)
		CHECK_MSG(strstr(answer, "\"active\":true"), "introspection says: %.200s", answer);
	h = strstr(answer, "HANDSHAKE ");
	CHECK_MSG(h && sscanf(h, "HANDSHAKE %lf %lf", &tc, &ta) == 2, "no curl -w output");
	if (handshake_ms)
		*handshake_ms = (ta - tc) * 1e3;
	return t;
}

/* pamtester SERVICE alice acct_mgmt, run by the programs in pre (may be
 * NULL: none; NULL-terminated, e.g. a wrapper or valgrind and its options);
 * resolved: with bench_resolve_user.so preloaded, a pamtester that resolved
 * alice through NSS before main, as sshd, sudo, su and login have */
static double pam_run_as(const char *service, char *const *pre, bool resolved)
{
	static char alice[] = "alice", acct[] = "acct_mgmt", wrap[] = "PAM_WRAPPER=1",
		    user[] = "TOKENSEAL_BENCH_USER=alice";
	char svc[64], prog[600], preload[1300], dir[800];
	char *argv[16] = {NULL};
	char *env[] = {preload, wrap, dir, resolved ? user : NULL, NULL};
	size_t n = 0;
	double t;

	for (; pre && pre[n]; n++)
		argv[n] = pre[n];
	CHECK(n + 5 <= sizeof(argv) / sizeof(argv[0]));
	argv[n++] = prog;
	argv[n++] = svc;
	argv[n++] = alice;
	argv[n++] = acct;
	snprintf(prog, sizeof(prog), "%s", pamtester);
	snprintf(svc, sizeof(svc), "%s", service);
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s%s%s", resolved ? resolve_lib : "",
	         resolved ? " " : "", pam_wrapper_lib);
	snprintf(dir, sizeof(dir), "PAM_WRAPPER_SERVICE_DIR=%s", svcdir);
	t = run(argv, env, NULL, NULL, 0, false);
	CHECK_MSG(t >= 0, "pamtester %s alice acct_mgmt failed (daemon log %s)", service,
	          daemon_log);
	return t;
}

static double pam_run(const char *service, char *const *pre)
{
	return pam_run_as(service, pre, false);
}

static double pam_once(const char *service)
{
	return pam_run(service, NULL);
}

/* peak RSS (KiB) and CPU (ms) of one pamtester, through bench_rusage;
 * resolved as pam_run_as */
static void pam_rusage(const char *service, bool resolved, double *rss_kib, double *cpu_ms)
{
	char out[700], *pre[] = {rusage_bin, out, NULL};
	long kib, us;
	FILE *f;

	snprintf(out, sizeof(out), "%s/rusage.out", idp.dir);
	(void)pam_run_as(service, pre, resolved);
	f = fopen(out, "r");
	CHECK(f && fscanf(f, "%ld %ld", &kib, &us) == 2);
	fclose(f);
	*rss_kib = (double)kib;
	*cpu_ms = (double)us / 1e3;
}

/* Sum of the "Collected :" lines of the callgrind logs DIR/cg.*.log (one per
 * process), which are removed; -1 when there are none. */
static double callgrind_sum(void)
{
	char pattern[700], line[512], *p;
	double n = -1;
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/cg.*.log", idp.dir);
	if (glob(pattern, 0, NULL, &g) != 0)
		return -1;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");

		CHECK(f);
		while (fgets(line, sizeof(line), f))
			if ((p = strstr(line, "Collected :")))
				n = (n < 0 ? 0 : n) + strtod(p + strlen("Collected :"), NULL);
		fclose(f);
		unlink(g.gl_pathv[i]);
	}
	globfree(&g);
	return n;
}

/* instructions of one pamtester (and, with children, of the processes it
 * starts: exec mode's broker) under callgrind, or -1 without valgrind */
static double pam_instructions(const char *service, bool children)
{
	static char vg[] = VALGRIND, tool[] = "--tool=callgrind",
		    outf[] = "--callgrind-out-file=/dev/null", tc[] = "--trace-children=yes";
	char logopt[800], *pre[] = {vg, tool, outf, logopt, children ? tc : NULL, NULL};
	double n;

	if (access(VALGRIND, X_OK) != 0)
		return -1;
	snprintf(logopt, sizeof(logopt), "--log-file=%s/cg.%%p.log", idp.dir);
	(void)pam_run(service, pre);
	n = callgrind_sum();
	CHECK_MSG(n > 0, "no \"Collected :\" line in %s/cg.*.log", idp.dir);
	return n;
}

/* instructions of the cold floor (one curl introspection) under callgrind */
static double curl_instructions(const char *token)
{
	static char vg[] = VALGRIND, tool[] = "--tool=callgrind",
		    outf[] = "--callgrind-out-file=/dev/null", curl[] = CURL, s[] = "-s",
		    fail[] = "-f", cacert[] = "--cacert", k[] = "-K", dash[] = "-";
	char logopt[800], input[8192];
	char *argv[] = {vg, tool, outf, logopt, curl, s, fail, cacert, idp.ca, k, dash, NULL};
	double n;

	if (access(VALGRIND, X_OK) != 0)
		return -1;
	snprintf(logopt, sizeof(logopt), "--log-file=%s/cg.%%p.log", idp.dir);
	snprintf(input, sizeof(input), "url = \"%s\"\nuser = \"%s\"\ndata = \"token=%s\"\n",
	         introspection_url, client_auth, token);
	CHECK_MSG(run(argv, NULL, input, NULL, 0, false) >= 0, "curl under callgrind failed");
	ts_wipe(input, sizeof(input));
	n = callgrind_sum();
	CHECK_MSG(n > 0, "no \"Collected :\" line in %s/cg.*.log", idp.dir);
	return n;
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
	if (config)
		fprintf(f, "account required %s config=%s\n", pam_module, config);
	else
		fprintf(f, "account required %s\n", PAM_PERMIT);
	CHECK(fclose(f) == 0);
}

/*
 * Row 1 with the system trust store: from here on this process and its
 * children live in a private mount namespace where the host's trust store
 * (SYSTEM_CERTS: the bundle curl reads and the hashed folder the broker
 * reads, oauth_http.c) also holds the test IdP's CA; nothing else on the
 * host sees it. Exec mode then runs with a config that names no ca_file (as
 * on a host with a public provider), beside curl with no --cacert. false
 * (with why) when it cannot be set up.
 */
static bool enter_system_store(const char *config, char *why, size_t len)
{
	static char cp[] = "/bin/cp", a[] = "-a", openssl[] = "/usr/bin/openssl",
		    x509[] = "x509", hash[] = "-hash", noout[] = "-noout", in[] = "-in";
	char dir[800], src[] = SYSTEM_CERTS "/.", path[900], hex[64], *ca, *text, *line,
	    *save = NULL;
	char *cp_argv[] = {cp, a, src, dir, NULL};
	char *hash_argv[] = {openssl, x509, hash, noout, in, idp.ca, NULL};
	size_t calen = 0, tlen = 0, n;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/system-certs", idp.dir);
	CHECK(mkdir(dir, 0755) == 0);
	if (run(cp_argv, NULL, NULL, NULL, 0, false) < 0 ||
	    run(hash_argv, NULL, NULL, hex, sizeof(hex), false) < 0) {
		snprintf(why, len, "cannot copy %s or hash the test CA (cp, openssl)", SYSTEM_CERTS);
		return false;
	}
	n = strspn(hex, "0123456789abcdef");
	CHECK_MSG(n == 8, "openssl x509 -hash: %s", hex);
	hex[n] = '\0';
	ca = ts_test_read_file(idp.ca, &calen);
	CHECK(ca);
	/* the bundle (a copy: append) and a hash link, as update-ca-certificates does */
	snprintf(path, sizeof(path), "%s/%s", dir, SYSTEM_BUNDLE_NAME);
	f = fopen(path, "a");
	CHECK(f && fputs("\n", f) >= 0 && fwrite(ca, 1, calen, f) == calen && fclose(f) == 0);
	snprintf(path, sizeof(path), "%s/tokenseal-bench-ca.pem", dir);
	f = fopen(path, "w");
	CHECK(f && fwrite(ca, 1, calen, f) == calen && fclose(f) == 0);
	free(ca);
	for (int i = 0;; i++) {
		char link[900];

		CHECK(i < 10);
		snprintf(link, sizeof(link), "%s/%s.%d", dir, hex, i);
		if (symlink("tokenseal-bench-ca.pem", link) == 0)
			break;
		CHECK(errno == EEXIST);
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(dir, SYSTEM_CERTS, NULL, MS_BIND, NULL) < 0) {
		snprintf(why, len, "a private mount namespace for the trust store: %s",
		         strerror(errno));
		return false;
	}
	/* the exec-mode config without its ca_file line */
	text = ts_test_read_file(cfg_exec, &tlen);
	CHECK(text);
	f = fopen(config, "w");
	CHECK(f);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "ca_file", 7) != 0)
			fprintf(f, "%s\n", line);
	CHECK(fclose(f) == 0);
	free(text);
	return true;
}

/* CPU time (user + system, all threads) a process has used so far, in ms;
 * -1 when it cannot be read. */
static double cpu_ms_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after ") ": state is field 3, utime 14 and stime 15 */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
	                 &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* This process's CPU (its caller threads) or its waited-for children's
 * (wrk), in ms. */
static double cpu_ms_self(int who)
{
	struct rusage ru;

	CHECK(getrusage(who, &ru) == 0);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
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
	p = strstr(disc, "\"token_endpoint\":\"");
	CHECK_MSG(p, "no token_endpoint in discovery");
	p += strlen("\"token_endpoint\":\"");
	q = strchr(p, '"');
	CHECK(q && (size_t)(q - p) < sizeof(token_url));
	memcpy(token_url, p, (size_t)(q - p));
	token_url[q - p] = '\0';

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

double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(double *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

	qsort(v, n, sizeof(*v), cmp_double);
	return v[i < n ? i : n - 1];
}

void row(const char *id, const char *what, double measured, double floor, const char *unit,
         const char *target, const char *note)
{
	if (floor > 0)
		printf("ROW\t%s\t%s\t%.3f %s\t%.3f %s\t%.3f\t%s\t%s\n", id, what, measured, unit,
		       floor, unit, measured / floor, target, note);
	else
		printf("ROW\t%s\t%s\t%.3f %s\t-\t-\t%s\t%s\n", id, what, measured, unit, target,
		       note);
}

/* The server's own introspection rate: wrk, 2 threads, `callers` kept-alive
 * connections, for secs seconds (uses/s), or -1 when wrk is missing. The
 * script holding the token and client credentials is in the IdP's 0700
 * state dir, 0600, and wiped after. */
/* Requests that reached the server for n uses of service. */
static long requests_per(const char *service, int n)
{
	CHECK(ts_idp_ctl(&idp, "reset-counters", NULL) == 0);
	for (int i = 0; i < n; i++)
		(void)pam_once(service);
	return ts_idp_count(&idp, "introspection") + ts_idp_count(&idp, "userinfo") +
	       ts_idp_count(&idp, "token:refresh_token");
}

int main(int argc, char **argv)
{
	static double fl[ROUNDS_MAX], ex[ROUNDS_MAX], dm[ROUNDS_MAX], tk[ROUNDS_MAX],
		pm[ROUNDS_MAX], wi[ROUNDS_MAX], hs[ROUNDS_MAX], rss[2][ROUNDS_MAX],
		rsr[2][ROUNDS_MAX], cpu[2][ROUNDS_MAX], rd[ROUNDS_MAX], re[ROUNDS_MAX],
		wr[ROUNDS_MAX], ins[2];
	struct ts_client_result res;
	char extra[2048], note[300], *token;
	static const char *const one_user[] = {"alice"}, *const three_users[] = {"alice", "bob",
	                                                                        "carol"};
	double d3, f, warm, load_secs, hs_full, hs_res, p50, p99, srv = -1, dl = 0, w50 = -1, w99 = -1;
	double cpu_srv_req = -1, cpu_wrk_req = -1, cpu_use_srv = -1, cpu_use_dmn = -1,
	       cpu_use_clr = -1;
	long fails, srv_fail = 0, per0, per30, refreshes, idle_rss, hwm;
	size_t rounds, r2;
	bool have_cli;

	if (argc < 6) {
		fprintf(stderr, "usage: bench_per_use BROKER PAM_MODULE PAM_WRAPPER_LIB PAMTESTER "
		                "CLI|- [ROUNDS [LOAD_SECS]]\n");
		return 2;
	}
	broker_bin = argv[1];
	pam_module = argv[2];
	pam_wrapper_lib = argv[3];
	pamtester = argv[4];
	cli_bin = argv[5];
	{ /* bench_rusage and bench_resolve_user.so: beside this program */
		char self[500];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		char *slash;

		CHECK(n > 0);
		self[n] = '\0';
		slash = strrchr(self, '/');
		CHECK(slash);
		*slash = '\0';
		snprintf(rusage_bin, sizeof(rusage_bin), "%s/bench_rusage", self);
		snprintf(resolve_lib, sizeof(resolve_lib), "%s/bench_resolve_user.so", self);
		/* ld.so only warns about a preload it cannot find */
		CHECK_MSG(access(resolve_lib, R_OK) == 0, "%s is missing", resolve_lib);
	}
	rounds = argc > 6 ? strtoul(argv[6], NULL, 10) : 15;
	if (rounds < 1 || rounds > ROUNDS_MAX)
		rounds = 15;
	load_secs = argc > 7 ? strtod(argv[7], NULL) : 5;
	if (!(load_secs >= 1 && load_secs <= 600))
		load_secs = 5;
	r2 = rounds < 5 ? rounds : 5;
	have_cli = strcmp(cli_bin, "-") != 0;
	if (getuid() != 0)
		TS_SKIP("needs root (the broker serves root callers)");
	if (access(pamtester, X_OK) != 0 || access(pam_wrapper_lib, R_OK) != 0)
		TS_SKIP("needs pamtester and pam_wrapper (scripts/test installs them)");
	if (access(CURL, X_OK) != 0 || access(PAM_PERMIT, R_OK) != 0)
		TS_SKIP("needs " CURL " and " PAM_PERMIT " for the floors");
	CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == 0);

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
	snprintf(cfg_exec30, sizeof(cfg_exec30), "%s/exec30.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "login_methods = password\nbroker_path = %s\nsocket_path = %s/none.sock\n"
	         "revalidate_cache = 30\n",
	         broker_bin, idp.dir);
	CHECK(ts_idp_write_config(&idp, cfg_exec30, "conf", extra) == 0);
	/* daemon mode: a broker_path that cannot run, so that an exec fallback
	 * fails the benchmark instead of being measured as the daemon */
	snprintf(cfg_daemon, sizeof(cfg_daemon), "%s/daemon.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "login_methods = password\nbroker_path = %s/no-such-broker\nsocket_path = %s\n",
	         idp.dir, sock);
	CHECK(ts_idp_write_config(&idp, cfg_daemon, "conf", extra) == 0);
	write_service("bench-exec", cfg_exec);
	write_service("bench-exec30", cfg_exec30);
	write_service("bench-daemon", cfg_daemon);
	write_service("bench-permit", NULL);
	find_endpoints();

	broker_call(TS_MSG_LOGIN, "alice-pw", &res);
	ts_client_result_clear(&res);
	broker_call_as("bob", TS_MSG_LOGIN, "bob-pw", &res);
	ts_client_result_clear(&res);
	broker_call_as("carol", TS_MSG_LOGIN, "carol-pw", &res);
	ts_client_result_clear(&res);
	broker_call(TS_MSG_GET_TOKEN, NULL, &res);
	CHECK(res.token != NULL);
	token = res.token;
	atexit(stop_daemon);
	start_daemon();

	/* one warm-up of each (first-run page cache, the daemon's first TLS
	 * connection), checking that each really does what it is timed for */
	(void)floor_once(token, true, NULL);
	(void)pam_once("bench-exec");
	(void)pam_once("bench-daemon");
	(void)pam_once("bench-permit");
	if (have_cli)
		(void)token_once(true);
	for (size_t i = 0; i < rounds; i++) {
		fl[i] = floor_once(token, false, &hs[i]);
		ex[i] = pam_once("bench-exec");
		dm[i] = pam_once("bench-daemon");
		pm[i] = pam_once("bench-permit");
		tk[i] = have_cli ? token_once(false) : 0;
		wi[i] = warm_introspection_ms(token, 3);
	}

	f = median(fl, rounds);
	warm = median(pm, rounds) + median(wi, rounds);
	printf("bench/per-use: %zu interleaved rounds against the real test IdP (%s)\n", rounds,
	       idp.issuer);
	printf("floor: curl --cacert CA introspection, fresh process: %.2f ms (median)\n", f);
	printf("warm floor: pamtester pam_permit %.2f ms + open-connection introspection %.2f ms\n",
	       median(pm, rounds), median(wi, rounds));
	printf("exec mode:   pamtester acct_mgmt %8.2f ms  exec ratio: %.3f (target <= 1.0 cold)\n",
	       median(ex, rounds), median(ex, rounds) / f);
	printf("daemon mode: pamtester acct_mgmt %8.2f ms  daemon ratio: %.3f (target <= 1.2 warm)\n",
	       median(dm, rounds), median(dm, rounds) / warm);
	row("1", "per use: exec mode (pamtester acct_mgmt) / cold floor", median(ex, rounds), f,
	    "ms", "<= 1.0", "cold floor: fresh curl --cacert introspection");
	row("1", "per use: daemon mode (pamtester acct_mgmt) / warm floor", median(dm, rounds), warm,
	    "ms", "<= 1.2", "warm floor: pamtester pam_permit + kept-alive introspection");
	if (have_cli)
		row("1", "per use: tokenseal token (daemon) / warm floor", median(tk, rounds), warm,
		    "ms", "-", "the issue names no target; beside the warm floor");
	else
		printf("ROW\t1\tper use: tokenseal token\t-\t-\t-\t-\tnot measured yet: the CLI was "
		       "not built\n");

	/* exec mode's TLS handshake: its share of a use, and what resumption saves */
	tls_handshake_ms(token, rounds, &hs_full, &hs_res);
	snprintf(note, sizeof(note), "curl's handshake %.2f ms of the cold floor %.2f ms; in-process "
	         "resumed handshake %.2f ms vs full %.2f ms", median(hs, rounds), f, hs_res, hs_full);
	row("1t", "exec mode: TLS handshake share of one use", median(hs, rounds),
	    median(ex, rounds), "ms", "-", note);
	row("1t", "exec mode: resumed / full TLS handshake", hs_res, hs_full, "ms", "-",
	    "what a cross-process session cache could save at most per use");
	/* instruction counts (callgrind): not moved by the machine's load */
	ins[0] = pam_instructions("bench-exec", true);
	ins[1] = curl_instructions(token);
	if (ins[0] > 0 && ins[1] > 0)
		row("1c", "exec mode: instructions, pamtester+broker / cold floor's curl", ins[0] / 1e6,
		    ins[1] / 1e6, "M", "-", "callgrind, every process of the use");
	else
		printf("ROW\t1c\texec mode: instructions\t-\t-\t-\t-\tnot measured yet: no "
		       VALGRIND "\n");

	/* requests per use (the fleet table) */
	per0 = requests_per("bench-daemon", (int)r2);
	per30 = requests_per("bench-exec30", (int)r2);
	fleet_rows(per0, per30, (int)r2);

	/* a use that needs a refresh: the access token revoked just before */
	refreshes = 0;
	for (size_t i = 0; i < r2; i++) {
		CHECK(ts_idp_ctl(&idp, "reset-counters", NULL) == 0);
		CHECK(ts_idp_ctl(&idp, "revoke-access-tokens", "alice") == 0);
		rd[i] = pam_once("bench-daemon");
		CHECK(ts_idp_ctl(&idp, "revoke-access-tokens", "alice") == 0);
		re[i] = pam_once("bench-exec");
		refreshes += ts_idp_count(&idp, "token:refresh_token");
		wr[i] = warm_refresh_ms(3);
	}
	snprintf(note, sizeof(note), "floor: warm floor %.2f + refresh round trip %.2f ms "
	         "(a real refresh, kept-alive); %ld refreshes for %zu uses", warm,
	         median(wr, r2), refreshes, 2 * r2);
	row("2", "use needing a refresh: daemon / (warm floor + refresh)", median(rd, r2),
	    warm + median(wr, r2), "ms", "<= 1.3", note);
	row("2", "use needing a refresh: exec / (warm floor + refresh)", median(re, r2),
	    warm + median(wr, r2), "ms", "<= 1.3", note);

	/* throughput: 50 callers on the daemon beside wrk on the server */
	ts_client_result_clear(&res);
	broker_call(TS_MSG_GET_TOKEN, NULL, &res);
	token = res.token;
	idle_rss = vm_kib(daemon_pid, "VmRSS");
	for (int k = 0; k < 2; k++) {
		long sf = 0;
		double s, c0[3], c1[3];

		/* CPU per request of the server and wrk, then per use of the
		 * daemon, the server and the callers: what the two cores can
		 * give each side (row 3's explanation) */
		c0[0] = cpu_ms_of(idp.pid);
		c0[1] = cpu_ms_self(RUSAGE_CHILDREN);
		s = server_rate(token, 50, load_secs, &sf, &w50, &w99);
		c1[0] = cpu_ms_of(idp.pid);
		c1[1] = cpu_ms_self(RUSAGE_CHILDREN);
		if (s > 0) {
			cpu_srv_req = (c1[0] - c0[0]) / (s * load_secs);
			cpu_wrk_req = (c1[1] - c0[1]) / (s * load_secs);
		}
		srv = s > srv ? s : srv;
		srv_fail += sf;
		c0[0] = cpu_ms_of(idp.pid);
		c0[1] = cpu_ms_of(daemon_pid);
		c0[2] = cpu_ms_self(RUSAGE_SELF);
		dl = daemon_load(one_user, 1, 50, load_secs, &p50, &p99, &fails);
		c1[0] = cpu_ms_of(idp.pid);
		c1[1] = cpu_ms_of(daemon_pid);
		c1[2] = cpu_ms_self(RUSAGE_SELF);
		if (dl > 0) {
			cpu_use_srv = (c1[0] - c0[0]) / (dl * load_secs);
			cpu_use_dmn = (c1[1] - c0[1]) / (dl * load_secs);
			cpu_use_clr = (c1[2] - c0[2]) / (dl * load_secs);
		}
	}
	hwm = vm_kib(daemon_pid, "VmHWM");
	snprintf(note, sizeof(note), "%ld failed uses, %ld failed wrk requests (target: none); "
	         "the server alone under wrk: p50 %.1f ms, p99 %.1f ms", fails, srv_fail, w50, w99);
	if (srv > 0)
		row("3", "throughput: daemon uses/s (50 callers, one user) / server introspections/s "
		    "(wrk)", dl, srv, "/s", ">= 0.8", note);
	else
		row("3", "throughput: daemon uses/s (50 callers); server rate not measured yet: "
		    "wrk missing", dl, 0, "/s", ">= 0.8", note);
	row("3", "throughput: daemon p99 / p50 latency (50 callers, one user)", p99, p50, "ms",
	    "<= 3", note);
	if (cpu_srv_req > 0 && cpu_use_dmn > 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		snprintf(note, sizeof(note), "per use: daemon %.3f + server %.3f + callers %.3f ms; "
		         "per wrk request: server %.3f + wrk %.3f ms; %ld cores",
		         cpu_use_dmn, cpu_use_srv, cpu_use_clr, cpu_srv_req, cpu_wrk_req, cores);
		row("3c", "throughput: CPU ms per daemon use / per wrk request (all processes)",
		    cpu_use_dmn + cpu_use_srv + cpu_use_clr, cpu_srv_req + cpu_wrk_req, "ms", "-",
		    note);
		row("3c", "throughput: uses/s the cores allow at that CPU cost / measured",
		    (double)cores * 1000.0 / (cpu_use_dmn + cpu_use_srv + cpu_use_clr), dl, "/s", "-",
		    "if about 1: the daemon's rate is CPU-bound on this machine");
	}
	/* the same spread over three users: tells the user's lock from the rest */
	d3 = daemon_load(three_users, 3, 50, load_secs, &p50, &p99, &fails);
	snprintf(note, sizeof(note), "%.1f uses/s, %ld failed uses", d3, fails);
	row("3", "throughput: daemon p99 / p50, 50 callers over 3 users (alice, bob, carol)", p99,
	    p50, "ms", "<= 3", note);

	/* burst: 200 uses of one user right after a revocation */
	CHECK(ts_idp_ctl(&idp, "revoke-access-tokens", "alice") == 0);
	CHECK(ts_idp_ctl(&idp, "reset-counters", NULL) == 0);
	daemon_burst(200, &p50, &p99, &fails);
	refreshes = ts_idp_count(&idp, "token:refresh_token");
	snprintf(note, sizeof(note), "p50 %.1f ms, p99 %.1f ms, %ld failed uses", p50, p99, fails);
	row("4", "burst after revocation: refreshes for 200 concurrent uses", (double)refreshes, 0,
	    "", "= 1", note);

	/* footprint: pamtester with pam_tokenseal (daemon mode) beside pam_permit;
	 * and the same two in a pamtester that resolved alice first (the
	 * variant: NSS set up before PAM runs, as in sshd, sudo, su, login) */
	for (size_t i = 0; i < rounds; i++) {
		double scratch;

		pam_rusage("bench-daemon", false, &rss[0][i], &cpu[0][i]);
		pam_rusage("bench-permit", false, &rss[1][i], &cpu[1][i]);
		pam_rusage("bench-daemon", true, &rsr[0][i], &scratch);
		pam_rusage("bench-permit", true, &rsr[1][i], &scratch);
	}
	ins[0] = pam_instructions("bench-daemon", false);
	ins[1] = pam_instructions("bench-permit", false);
	snprintf(note, sizeof(note), "ru_maxrss medians: %.0f vs %.0f KiB", median(rss[0], rounds),
	         median(rss[1], rounds));
	row("6", "footprint: peak RSS added by pam_tokenseal (daemon) to pamtester",
	    median(rss[0], rounds) - median(rss[1], rounds), 0, "KiB", "<= 256", note);
	snprintf(note, sizeof(note), "as sshd, sudo, su, login have before PAM runs; both sides "
	         "preload bench_resolve_user.so; ru_maxrss medians: %.0f vs %.0f KiB",
	         median(rsr[0], rounds), median(rsr[1], rounds));
	row("6", "footprint variant: the same in a pamtester that resolved the user first",
	    median(rsr[0], rounds) - median(rsr[1], rounds), 0, "KiB", "-", note);
	if (ins[0] > 0)
		snprintf(note, sizeof(note), "user+sys medians, noisy; callgrind: %.0f vs %.0f "
		         "instructions (+%.0f, under valgrind)", ins[0], ins[1], ins[0] - ins[1]);
	else
		snprintf(note, sizeof(note), "user+sys medians, noisy; instruction counts not "
		         "measured: no " VALGRIND);
	row("6", "footprint: CPU added by pam_tokenseal (daemon) to pamtester",
	    median(cpu[0], rounds) - median(cpu[1], rounds), 0, "ms", "<= 1", note);
	row("6", "footprint: daemon RSS idle", (double)idle_rss, 0, "KiB", "-", "VmRSS");
	row("6", "footprint: daemon peak RSS under the throughput load", (double)hwm, 0, "KiB", "-",
	    "VmHWM (also after the burst of row 4)");
	stop_daemon();

	/* row 1 with the system trust store (last: it changes this process's
	 * mount namespace) */
	{
		struct ts_client_result now, chk;
		char cfg_sys[700], why[300];

		/* row 4 revoked the earlier access token: the one stored now */
		broker_call(TS_MSG_GET_TOKEN, NULL, &now);
		CHECK(now.token != NULL);
		snprintf(cfg_sys, sizeof(cfg_sys), "%s/exec-system.conf", idp.dir);
		if (enter_system_store(cfg_sys, why, sizeof(why))) {
			write_service("bench-exec-system", cfg_sys);
			floor_system_store = true;
			/* the broker with that config works (else its message) */
			setup_config = cfg_sys;
			broker_call(TS_MSG_REVALIDATE, NULL, &chk);
			ts_client_result_clear(&chk);
			setup_config = cfg_exec;
			(void)floor_once(now.token, true, NULL);
			(void)pam_once("bench-exec-system");
			for (size_t i = 0; i < rounds; i++) {
				fl[i] = floor_once(now.token, false, NULL);
				ex[i] = pam_once("bench-exec-system");
			}
			printf("system trust store: curl %.2f ms, exec mode %.2f ms\n",
			       median(fl, rounds), median(ex, rounds));
			row("1", "per use: exec mode with the system trust store / cold floor (same store)",
			    median(ex, rounds), median(fl, rounds), "ms", "<= 1.0",
			    "no ca_file, no --cacert: the broker reads " SYSTEM_CERTS " (hashed), curl "
			    "its bundle; + the test CA, private mount namespace");
		} else {
			printf("ROW\t1\tper use: exec mode with the system trust store / cold floor (same "
			       "store)\t-\t-\t-\t-\tnot measured yet: %s\n",
			       why);
		}
		ts_client_result_clear(&now);
	}
	ts_client_result_clear(&res);
	ts_idp_stop(&idp);
	curl_global_cleanup();
	return 0;
}
