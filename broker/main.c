/* SPDX-License-Identifier: MIT */
/*
 * tokenseal-broker, exec mode (DESIGN.md §2): run by the PAM module inside
 * a root host process (sshd, sudo, su, login) with a pipe pair on
 * stdin/stdout, it serves one request and exits. It is never setuid or
 * setgid and serves exec mode only with euid 0; since the caller is root,
 * --config and TOKENSEAL_CONFIG are honoured and any local user may be asked
 * for. What the caller's process state could carry into storage (rlimits,
 * signal dispositions and mask) is reset first, the environment is
 * cleared, core dumps are off and nothing is logged that could hold a token.
 */
#include <errno.h>
#include <grp.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "oauth.h"
#include "serve.h"
#include "ts_config.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_nsscache.h"
#include "ts_paths.h"

#define ROOT_ONLY_MESSAGE                                                                      \
	"tokenseal-broker: exec mode serves root callers only (pam_tokenseal inside sshd, "    \
	"sudo, su, login); other users reach tokenseal through the tokenseal-broker service\n"

static void usage(FILE *f)
{
	fputs("usage: tokenseal-broker [--config PATH] [--debug]\n"
	      "Serves one tokenseal broker request on stdin/stdout (a pipe pair).\n"
	      "It is started by pam_tokenseal.so as root, not by hand.\n",
	      f);
}

/* Keep only what a test harness may need (libfaketime); everything else
 * goes. The PAM module starts the broker with an empty environment. */
static void sanitize_environment(void)
{
	static const char *const names[] = {"FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC"};
	char vals[TS_ARRAY_SIZE(names)][256];
	bool have[TS_ARRAY_SIZE(names)] = {false};

	for (size_t i = 0; i < TS_ARRAY_SIZE(names); i++) {
		const char *v = getenv(names[i]);

		if (v && ts_strlcpy(vals[i], v, sizeof(vals[i])) == 0)
			have[i] = true;
	}
	clearenv();
	for (size_t i = 0; i < TS_ARRAY_SIZE(names); i++)
		if (have[i] && setenv(names[i], vals[i], 1) < 0)
			break;
}

/*
 * Undo what the caller's process state would carry into storage: a tiny
 * RLIMIT_FSIZE (with SIGXFSZ ignored a write would just come up short), a
 * low RLIMIT_NOFILE, ignored or blocked signals. Then the broker's own
 * choices: no core dumps, umask 077, SIGPIPE ignored (EPIPE instead),
 * SIGXFSZ ignored (EFBIG instead).
 */
static void reset_process_state(void)
{
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t none;

	/* unlimited; without CAP_SYS_RESOURCE (some containers) the hard limit */
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0 && getrlimit(RLIMIT_FSIZE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_FSIZE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	rl.rlim_cur = rl.rlim_max = 0;
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &rl);
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	/* a write past a hard file-size limit we could not raise fails with
	 * EFBIG (reported, the old record stays) instead of killing us */
	signal(SIGXFSZ, SIG_IGN);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	closefrom(3);
#endif
}

/* Parse argv. -1: go on; else the exit status. */
static int parse_args(int argc, char **argv, const char **ret_config, bool *ret_debug)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"debug", no_argument, NULL, 'd'},
	    {"daemon", no_argument, NULL, 'D'},       {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:dhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*ret_config = optarg;
			break;
		case 'd':
			*ret_debug = true;
			break;
		case 'D':
			fputs("tokenseal-broker: daemon mode is not available in this version\n",
			      stderr);
			return 2;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			puts("tokenseal-broker " TS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* --config, else TOKENSEAL_CONFIG, else the default: the caller is root
 * (euid 0, whatever its real uid: sudo's shape), so both are honoured. */
static const char *config_path(const char *config, char *buf, size_t len)
{
	const char *env = getenv("TOKENSEAL_CONFIG");

	if (config)
		return config;
	if (env && env[0] && ts_strlcpy(buf, env, len) == 0)
		return buf;
	return TS_DEFAULT_CONFIG;
}

int main(int argc, char **argv)
{
	struct ts_serve_opts opts = {0};
	const char *config = NULL;
	char config_buf[TS_PATH_MAX];
	bool debug = false;
	int r;

	r = parse_args(argc, argv, &config, &debug);
	if (r >= 0)
		return r;
	if (geteuid() != 0) {
		fputs(ROOT_ONLY_MESSAGE, stderr);
		return 2;
	}
	if (isatty(STDIN_FILENO)) {
		fputs("tokenseal-broker: refusing to run with a terminal on stdin; it is started "
		      "by pam_tokenseal.so\n",
		      stderr);
		return 2;
	}
	/* sudo's shape (real uid the invoking user, euid 0): become wholly
	 * root, so that nothing of the caller's identity (real ids, groups)
	 * reaches access checks or the owner of a file the broker creates */
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		fprintf(stderr, "tokenseal-broker: cannot drop the caller's ids: %s\n",
		        strerror(errno));
		return 2;
	}
	config = config_path(config, config_buf, sizeof(config_buf));
	sanitize_environment();
	(void)setenv(TS_NSS_LOOP_ENV, "1", 1); /* our own getpwnam never enters nss_tokenseal */
	reset_process_state();

	ts_log_setup(debug ? TS_LOG_STDERR : TS_LOG_SYSLOG, "tokenseal-broker", debug);
	if (sodium_init() < 0) {
		ts_log(LOG_ERR, "libsodium failed to initialise");
		return 1;
	}
	r = oauth_global_init();
	if (r < 0) {
		ts_log(LOG_ERR, "libcurl failed to initialise: %s", ts_strerror(r));
		return 1;
	}
	opts.config_path = config;
	opts.debug = debug;
	/* the caller is root (euid 0): it may ask for any local user */
	r = ts_broker_serve_one(&opts, STDIN_FILENO, STDOUT_FILENO, geteuid());
	if (r < 0) {
		ts_log(LOG_ERR, "request not served: %s", ts_strerror(r));
		return 1;
	}
	return 0;
}
