/* SPDX-License-Identifier: MIT */
/*
 * The logging sink. The PAM module logs to syslog (through a callback that
 * wraps pam_vsyslog), the broker to syslog or stderr, the CLI to stderr.
 * Library code (keystore/, oauth/, the lifecycle engine) returns errors and
 * logs only at debug level; the boundary logs once.
 *
 * No token, password or key is ever formatted into a message: pass secrets
 * through ts_redact(), which prints "sha256:" and the first 12 hex digits
 * of their hash, enough to tell two tokens apart and nothing more.
 */
#ifndef TS_LOG_H
#define TS_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

#include "ts_macros.h"

enum ts_log_sink {
	TS_LOG_STDERR,
	TS_LOG_SYSLOG,
	TS_LOG_CALLBACK,
};

typedef void (*ts_log_fn)(void *ctx, int priority, const char *fmt, va_list ap);

/* Select the sink for this process. ident prefixes stderr lines and names the
 * syslog program. debug enables LOG_DEBUG messages. */
void ts_log_setup(enum ts_log_sink sink, const char *ident, bool debug);
void ts_log_set_callback(ts_log_fn fn, void *ctx);
bool ts_log_debug_enabled(void);
/* Debug lines for the request this thread serves, on top of the process's
 * setting: the broker turns it on for a request whose service has
 * `debug = yes` (or a root caller's debug flag) and off again after it. */
void ts_log_request_debug(bool on);

void ts_log(int priority, const char *fmt, ...) TS_PRINTF(2, 3);
void ts_vlog(int priority, const char *fmt, va_list ap) TS_PRINTF(2, 0);

#define ts_log_debug(...)                                                                          \
	do {                                                                                       \
		if (ts_log_debug_enabled())                                                        \
			ts_log(LOG_DEBUG, __VA_ARGS__);                                            \
	} while (0)

#define TS_REDACT_LEN 20 /* "sha256:" + 12 hex + NUL */

/* Write a printable stand-in for a secret into out ("sha256:0123456789ab",
 * or "(none)" for NULL/empty). Returns out. */
char *ts_redact(char out[TS_REDACT_LEN], const void *secret, size_t len);
char *ts_redact_str(char out[TS_REDACT_LEN], const char *secret);

/* Copy text received from outside (a server's error_description, say) into
 * out, replacing control and non-ASCII bytes with '?' and truncating to
 * outlen-1 bytes. */
void ts_sanitize_text(char *out, size_t outlen, const char *in, size_t inlen);

#endif
