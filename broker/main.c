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
 *
 * With --daemon it is the root service instead (daemon.c): same process
 * hygiene, its own configuration only (--config or the default, never
 * TOKENSEAL_CONFIG: callers reach it through the socket and choose
 * nothing), every caller identified by SO_PEERCRED.
 */
#include <errno.h>
#include <grp.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon.h"
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

#define DAEMON_ROOT_ONLY_MESSAGE                                                               \
	"tokenseal-broker: the daemon runs as root only (it holds every user's tokens); "      \
	"start it with `systemctl start tokenseal-broker.socket`\n"

#define IDLE_EXIT_MAX 604800 /* a week */
/* --max-per-uid: at most every slot that is not root's */
#define MAX_PER_UID_MAX (TS_DAEMON_MAX_CONNS - TS_DAEMON_ROOT_RESERVE)

static void usage(FILE *f)
{
	fputs("usage: tokenseal-broker [--config PATH] [--debug]\n"
	      "       tokenseal-broker --daemon [--foreground] [--config PATH] [--debug]\n"
	      "                        [--idle-exit SECONDS] [--max-per-uid N]\n"
	      "Without --daemon: serves one tokenseal broker request on stdin/stdout (a pipe\n"
	      "pair); it is started by pam_tokenseal.so as root, not by hand.\n"
	      "With --daemon: the tokenseal-broker service on socket_path (or the socket\n"
	      "systemd passes); see tokenseal-broker(8).\n",
	      f);
}

struct args {
	const char *config;
	bool debug, daemon, foreground;
	unsigned idle_exit, max_per_uid;
};

/* Keep only what a test harness may need (libfaketime; nss_wrapper's
 * files, which mean nothing unless the harness preloaded it) and, for the
 * daemon, systemd's NOTIFY_SOCKET; everything else goes. The PAM module
 * starts the broker with an empty environment. */
static void sanitize_environment(bool daemon)
{
	static const char *const names[] = {"FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC",
	                                    "NSS_WRAPPER_PASSWD", "NSS_WRAPPER_GROUP",
	                                    "NOTIFY_SOCKET"};
	char vals[TS_ARRAY_SIZE(names)][256];
	bool have[TS_ARRAY_SIZE(names)] = {false};

	for (size_t i = 0; i < TS_ARRAY_SIZE(names); i++) {
		const char *v = getenv(names[i]);

		if (!daemon && strcmp(names[i], "NOTIFY_SOCKET") == 0)
			continue;
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
 * SIGXFSZ ignored (EFBIG instead). Every fd from keep_below on is closed.
 */
static void reset_process_state(int keep_below)
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
	closefrom(keep_below);
#endif
}

/* A number 1 .. max, digits only. */
static int parse_count(const char *s, unsigned long max, unsigned *ret)
{
	char *end = NULL;
	unsigned long v;

	if (!s[0] || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !end || *end || v < 1 || v > max)
		return -ERANGE;
	*ret = (unsigned)v;
	return 0;
}

/* Parse argv. -1: go on; else the exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},	 {"debug", no_argument, NULL, 'd'},
	    {"daemon", no_argument, NULL, 'D'},		 {"foreground", no_argument, NULL, 'F'},
	    {"idle-exit", required_argument, NULL, 'I'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},	 {"max-per-uid", required_argument, NULL, 'M'},
	    {NULL, 0, NULL, 0},
	};
	bool daemon_only = false;
	int c;

	while ((c = getopt_long(argc, argv, "c:dhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config = optarg;
			break;
		case 'd':
			a->debug = true;
			break;
		case 'D':
			a->daemon = true;
			break;
		case 'F':
			a->foreground = daemon_only = true;
			break;
		case 'I':
			if (parse_count(optarg, IDLE_EXIT_MAX, &a->idle_exit) < 0) {
				fprintf(stderr,
				        "tokenseal-broker: --idle-exit takes a number of seconds "
				        "from 1 to %d, not \"%s\"\n",
				        IDLE_EXIT_MAX, optarg);
				return 2;
			}
			daemon_only = true;
			break;
		case 'M':
			if (parse_count(optarg, MAX_PER_UID_MAX, &a->max_per_uid) < 0) {
				fprintf(stderr,
				        "tokenseal-broker: --max-per-uid takes a number of "
				        "connections from 1 to %d, not \"%s\"\n",
				        MAX_PER_UID_MAX, optarg);
				return 2;
			}
			daemon_only = true;
			break;
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
	if (daemon_only && !a->daemon) {
		fputs("tokenseal-broker: --foreground, --idle-exit and --max-per-uid go with "
		      "--daemon\n",
		      stderr);
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

/* Become wholly root: nothing of the caller's identity (real ids, groups)
 * reaches access checks or the owner of a file the broker creates. */
static int become_root(void)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[64];
	int n = getgroups((int)TS_ARRAY_SIZE(groups), groups);
	bool only_root_group = n >= 0;

	for (int i = 0; i < n; i++)
		if (groups[i] != 0)
			only_root_group = false;
	/* nothing to change (the service under systemd: no capabilities, so
	 * setgroups would fail, and its seccomp filter refuses id changes) */
	if (only_root_group && getresuid(&ru, &eu, &su) == 0 && ru == 0 && eu == 0 && su == 0 &&
	    getresgid(&rg, &eg, &sg) == 0 && rg == 0 && eg == 0 && sg == 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		fprintf(stderr, "tokenseal-broker: cannot drop the caller's ids: %s\n",
		        strerror(errno));
		return -1;
	}
	return 0;
}

static int daemon_main(const struct args *a)
{
	struct ts_daemon_opts o = {.debug = a->debug,
	                           .foreground = a->foreground,
	                           .idle_exit = a->idle_exit,
	                           .max_per_uid = a->max_per_uid};
	char abs[PATH_MAX];
	int n;

	if (geteuid() != 0) {
		fputs(DAEMON_ROOT_ONLY_MESSAGE, stderr);
		return 2;
	}
	if (become_root() < 0)
		return 2;
	n = ts_daemon_inherited_fds();
	if (n < 0) {
		fprintf(stderr, "tokenseal-broker: cannot read the sockets systemd passed: %s\n",
		        strerror(-n));
		return 1;
	}
	o.listen_fds = n;
	/* the daemon's own config only; absolute, since it may chdir("/") */
	o.config_path = a->config ? a->config : TS_DEFAULT_CONFIG;
	if (o.config_path[0] != '/' && realpath(o.config_path, abs))
		o.config_path = abs;
	sanitize_environment(true);
	(void)setenv(TS_NSS_LOOP_ENV, "1", 1); /* our own getpwnam never enters nss_tokenseal */
	reset_process_state(3 + n);
	return ts_daemon_run(&o);
}

int main(int argc, char **argv)
{
	struct ts_serve_opts opts = {0};
	struct args a = {0};
	const char *config;
	char config_buf[TS_PATH_MAX];
	bool debug;
	int r;

	r = parse_args(argc, argv, &a);
	if (r >= 0)
		return r;
	if (a.daemon)
		return daemon_main(&a);
	config = a.config;
	debug = a.debug;
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
	/* sudo's shape (real uid the invoking user, euid 0): become wholly root.
	 * (The caller's real uid is not a proof here: ts_client execs the
	 * broker with every id root, so that it never runs with AT_SECURE; the
	 * same-user proof is the module's, TS_FLAG_SAME_USER, and the broker
	 * re-checks the service's policy and the remote host itself.) */
	if (become_root() < 0)
		return 2;
	config = config_path(config, config_buf, sizeof(config_buf));
	sanitize_environment(false);
	(void)setenv(TS_NSS_LOOP_ENV, "1", 1); /* our own getpwnam never enters nss_tokenseal */
	reset_process_state(3);

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
