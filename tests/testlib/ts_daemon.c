/* SPDX-License-Identifier: MIT */
/* The broker daemon for tests: see ts_daemon.h. */
#include "ts_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ts_leak.h"
#include "ts_test.h"

#define MAX_DAEMONS 16

/* Daemons still running, stopped at exit by the process that started them
 * (forked children exit() too). */
static pid_t running[MAX_DAEMONS];
static pid_t owner;
static bool atexit_done;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_exit(pid_t pid, long long ms)
{
	long long end = now_ms() + ms;
	int st = 0;

	while (now_ms() < end) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			return st;
		if (w < 0 && errno != EINTR)
			return -1;
		usleep(20000);
	}
	return -1;
}

static void forget(pid_t pid)
{
	for (size_t i = 0; i < MAX_DAEMONS; i++)
		if (running[i] == pid)
			running[i] = 0;
}

static void stop_all(void)
{
	if (getpid() != owner)
		return;
	for (size_t i = 0; i < MAX_DAEMONS; i++) {
		if (running[i] <= 0)
			continue;
		(void)kill(running[i], SIGTERM);
		if (wait_exit(running[i], 10000) == -1) {
			(void)kill(running[i], SIGKILL);
			(void)waitpid(running[i], NULL, 0);
		}
		running[i] = 0;
	}
}

bool ts_daemon_mode(void)
{
	const char *v = getenv("TS_TEST_DAEMON");

	return v && v[0] && strcmp(v, "0") != 0;
}

void ts_daemon_socket_for(const char *config, char *out, size_t len)
{
	const char *base = strrchr(config, '/');
	char dir[600];

	snprintf(dir, sizeof(dir), "%s/d", ts_test_tmpdir());
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		CHECK_MSG(false, "mkdir %s: %s", dir, strerror(errno));
	snprintf(out, len, "%s/%.40s.sock", dir, base ? base + 1 : config);
}

bool ts_daemon_file_has(const char *file, const char *needle)
{
	size_t len = 0;
	char *t;
	bool has;

	if (access(file, F_OK) != 0)
		return false;
	t = ts_test_read_file(file, &len);
	has = ts_contains(t, len, needle);
	free(t);
	return has;
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* needle in path after offset bytes */
static bool log_has_after(const char *path, long offset, const char *needle)
{
	size_t len = 0;
	char *t;
	bool has = false;

	if (access(path, F_OK) != 0)
		return false;
	t = ts_test_read_file(path, &len);
	if ((size_t)offset <= len)
		has = ts_contains(t + offset, len - (size_t)offset, needle);
	free(t);
	return has;
}

static int start(struct ts_daemon *d, const char *broker_bin, const char *config,
                 const char *socket, const char *log, bool debug)
{
	char want[1600];
	long offset = file_size(log);
	long long end;
	pid_t pid;

	memset(d, 0, sizeof(*d));
	d->pid = -1;
	snprintf(d->config, sizeof(d->config), "%s", config);
	snprintf(d->socket, sizeof(d->socket), "%s", socket);
	snprintf(d->log, sizeof(d->log), "%s", log);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		const char *argv[] = {broker_bin, "--daemon",    "--foreground", "--config",
		                      config,     debug ? "--debug" : NULL, NULL};
		char *const *av;
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || nul < 0)
			_exit(120);
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		/* the daemon, not the test's pam_wrapper, serves */
		unsetenv("LD_PRELOAD");
		const char *const *argp = argv;

		memcpy(&av, &argp, sizeof(av)); /* execv's historical prototype */
		execv(broker_bin, av);
		fprintf(stderr, "ts_daemon: cannot run %s: %s\n", broker_bin, strerror(errno));
		_exit(127);
	}
	if (!atexit_done) {
		owner = getpid();
		atexit(stop_all);
		atexit_done = true;
	}
	for (size_t i = 0; i < MAX_DAEMONS; i++)
		if (running[i] <= 0) {
			running[i] = pid;
			break;
		}
	d->pid = pid;
	snprintf(want, sizeof(want), "serving on %s (config %s)", socket, config);
	end = now_ms() + 15000;
	while (now_ms() < end) {
		int st;

		if (log_has_after(log, offset, want))
			return 0;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			forget(pid);
			d->pid = -1;
			fprintf(stderr, "ts_daemon: the daemon for %s exited (status %d); see %s\n",
			        config, st, log);
			return -ECHILD;
		}
		usleep(20000);
	}
	fprintf(stderr, "ts_daemon: no \"%s\" in %s within 15 s\n", want, log);
	return -ETIMEDOUT;
}

int ts_daemon_start(struct ts_daemon *d, const char *broker_bin, const char *config,
                    const char *socket, const char *log)
{
	return start(d, broker_bin, config, socket, log, true);
}

int ts_daemon_start_nodebug(struct ts_daemon *d, const char *broker_bin, const char *config,
                            const char *socket, const char *log)
{
	return start(d, broker_bin, config, socket, log, false);
}

int ts_daemon_stop(struct ts_daemon *d)
{
	int st;

	if (d->pid <= 0)
		return -1;
	(void)kill(d->pid, SIGTERM);
	st = wait_exit(d->pid, 10000);
	if (st == -1) {
		(void)kill(d->pid, SIGKILL);
		(void)waitpid(d->pid, NULL, 0);
	}
	forget(d->pid);
	d->pid = -1;
	return st;
}

void ts_daemon_kill(struct ts_daemon *d)
{
	if (d->pid <= 0)
		return;
	(void)kill(d->pid, SIGKILL);
	(void)waitpid(d->pid, NULL, 0);
	forget(d->pid);
	d->pid = -1;
}

void ts_daemon_write_no_exec(const char *path, const char *marker)
{
	FILE *f = fopen(path, "w");

	CHECK_MSG(f, "write %s", path);
	if (!f)
		return;
	fprintf(f, "#!/bin/sh\necho \"exec mode ran: $*\" >>'%s'\nexit 1\n", marker);
	CHECK_INT(fclose(f), 0);
	CHECK_INT(chmod(path, 0755), 0);
}
