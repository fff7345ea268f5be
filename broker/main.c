/* SPDX-License-Identifier: MIT */
/*
 * tokenseal-broker, exec mode (DESIGN.md §2): run by the PAM module or the
 * CLI with a pipe pair on stdin/stdout, it serves one request and exits. It
 * is installed setgid tokenseal, so it trusts nothing from its caller: the
 * identity is the real uid (root may act for anyone), the environment is
 * cleared, --config and TOKENSEAL_CONFIG are honoured only where safe, core
 * dumps are off and nothing is logged that could hold a token.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
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
#include "ts_paths.h"

static void usage(FILE *f)
{
	fputs("usage: tokenseal-broker [--config PATH] [--debug]\n"
	      "Serves one tokenseal broker request on stdin/stdout (a pipe pair).\n"
	      "It is started by pam_tokenseal.so and the tokenseal command, not by hand.\n",
	      f);
}

static bool privileged_binary(void)
{
	return getuid() != geteuid() || getgid() != getegid();
}

/* Keep only what a test harness may need (libfaketime), and only in a
 * process without extra privileges; everything else goes. */
static void sanitize_environment(void)
{
	static const char *const names[] = {"FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC"};
	char vals[TS_ARRAY_SIZE(names)][256];
	bool have[TS_ARRAY_SIZE(names)] = {false};

	for (size_t i = 0; i < TS_ARRAY_SIZE(names); i++) {
		const char *v = getenv(names[i]);

		if (v && !privileged_binary() && ts_strlcpy(vals[i], v, sizeof(vals[i])) == 0)
			have[i] = true;
	}
	clearenv();
	for (size_t i = 0; i < TS_ARRAY_SIZE(names); i++)
		if (have[i] && setenv(names[i], vals[i], 1) < 0)
			break;
}

static void harden(void)
{
	struct rlimit rl = {0, 0};

	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &rl);
	umask(077);
	signal(SIGPIPE, SIG_IGN);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	closefrom(3);
#endif
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"debug", no_argument, NULL, 'd'},
	    {"daemon", no_argument, NULL, 'D'},       {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	struct ts_serve_opts opts = {.group = (gid_t)-1};
	const char *config = NULL, *env_config;
	char config_buf[TS_PATH_MAX];
	bool debug = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:dhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			debug = true;
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
	if (isatty(STDIN_FILENO)) {
		fputs("tokenseal-broker: refusing to run with a terminal on stdin; it is started "
		      "by pam_tokenseal.so and the tokenseal command\n",
		      stderr);
		return 2;
	}
	if (config && getuid() != 0 && privileged_binary()) {
		fputs("tokenseal-broker: --config is only honoured for root; using the default\n",
		      stderr);
		config = NULL;
	}
	env_config = getenv("TOKENSEAL_CONFIG");
	if (!config && env_config && env_config[0] && getuid() == 0 &&
	    strlen(env_config) < sizeof(config_buf)) {
		snprintf(config_buf, sizeof(config_buf), "%s", env_config);
		config = config_buf;
	}
	if (!config)
		config = TS_DEFAULT_CONFIG;
	sanitize_environment();
	harden();

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
	r = ts_broker_serve_one(&opts, STDIN_FILENO, STDOUT_FILENO, getuid());
	if (r < 0) {
		ts_log(LOG_ERR, "request not served: %s", ts_strerror(r));
		return 1;
	}
	return 0;
}
