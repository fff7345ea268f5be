/* SPDX-License-Identifier: MIT */
/*
 * The broker daemon for tests: `tokenseal-broker --daemon --foreground
 * --debug --config CONF` on a socket of the test's own, its stderr appended
 * to a log; stopped (SIGTERM, then SIGKILL) at exit even when a CHECK fails.
 *
 * Daemon mode of a test suite (TS_TEST_DAEMON=1, the "_daemon" twins of the
 * pam tests): every config names its own socket (ts_daemon_socket_for), a
 * daemon serves it, and broker_path is a program that only records that it
 * ran and fails (ts_daemon_write_no_exec), so any fall back to exec mode is
 * a test failure.
 */
#ifndef TS_DAEMON_H
#define TS_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ts_daemon {
	pid_t pid; /* -1: not running */
	char config[700];
	char socket[700];
	char log[700];
};

/* TS_TEST_DAEMON is set (and not "0"). */
bool ts_daemon_mode(void);

/* A socket path for config (a folder of ts_test_tmpdir(), short enough for
 * sun_path): "TMP/d/BASENAME.sock". Same config, same path. */
void ts_daemon_socket_for(const char *config, char *out, size_t len);

/* Start the daemon for config on socket (it must be config's socket_path)
 * and wait (up to 15 s) until it says "serving on SOCKET". 0, or a negative
 * errno / -ETIMEDOUT (the log then says why). */
int ts_daemon_start(struct ts_daemon *d, const char *broker_bin, const char *config,
                    const char *socket, const char *log);
/* ts_daemon_start without --debug (debug lines only where the config asks). */
int ts_daemon_start_nodebug(struct ts_daemon *d, const char *broker_bin, const char *config,
                            const char *socket, const char *log);
/* SIGTERM and wait (SIGKILL after 10 s); returns the wait status, or -1. */
int ts_daemon_stop(struct ts_daemon *d);
/* SIGKILL and reap: a daemon that dies. */
void ts_daemon_kill(struct ts_daemon *d);

/* Write an executable script at path that appends "exec mode ran" to
 * marker and exits 1: the broker_path of daemon mode. */
void ts_daemon_write_no_exec(const char *path, const char *marker);

/* Does file hold needle (false when it does not exist)? */
bool ts_daemon_file_has(const char *file, const char *needle);

#endif
