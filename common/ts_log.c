/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ts_log.h"

/*
 * Process-wide sink settings. The PAM module never uses these globals: it
 * logs through pam_syslog in its own shim, so nothing here is state inside
 * sshd or sudo. Every binary sets them once at start.
 */
static enum ts_log_sink log_sink = TS_LOG_STDERR;
static const char *log_ident = "tokenseal";
static bool log_debug;
static _Thread_local bool log_request_debug;
static ts_log_fn log_fn;
static void *log_ctx;

void ts_log_setup(enum ts_log_sink sink, const char *ident, bool debug)
{
	log_sink = sink;
	log_ident = ident ? ident : "tokenseal";
	log_debug = debug;
	if (sink == TS_LOG_SYSLOG)
		openlog(log_ident, LOG_PID, LOG_AUTHPRIV);
}

void ts_log_set_callback(ts_log_fn fn, void *ctx)
{
	log_fn = fn;
	log_ctx = ctx;
	log_sink = fn ? TS_LOG_CALLBACK : TS_LOG_STDERR;
}

bool ts_log_debug_enabled(void)
{
	return log_debug || log_request_debug;
}

void ts_log_request_debug(bool on)
{
	log_request_debug = on;
}

static const char *prio_name(int priority)
{
	switch (priority) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void ts_vlog(int priority, const char *fmt, va_list ap)
{
	int saved = errno;

	if (priority == LOG_DEBUG && !ts_log_debug_enabled())
		return;
	switch (log_sink) {
	case TS_LOG_SYSLOG:
		vsyslog(priority, fmt, ap);
		break;
	case TS_LOG_CALLBACK:
		if (log_fn)
			log_fn(log_ctx, priority, fmt, ap);
		break;
	case TS_LOG_STDERR:
	default:
		/* one line per message even from many threads (the daemon) */
		flockfile(stderr);
		fprintf(stderr, "%s: %s: ", log_ident, prio_name(priority));
		errno = saved; /* for %m */
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		funlockfile(stderr);
		break;
	}
	errno = saved;
}

void ts_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ts_vlog(priority, fmt, ap);
	va_end(ap);
}
