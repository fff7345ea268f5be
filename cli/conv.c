/* SPDX-License-Identifier: MIT */
/*
 * The broker's conversation on a terminal: text on stderr, questions on
 * /dev/tty (echo off for secrets, through termios), or one line of stdin
 * for --refresh-token-stdin. A device sign-in on a terminal shows the QR
 * code and a countdown; without a terminal only the URL and code lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "ts_time.h"

#define CLI_LINE_MAX (16 * 1024)
#define CLI_DEVICE_TIMEOUT_DEFAULT 110 /* the broker's default device_timeout */
#define DEVICE_HEAD "To sign in to "
#define QR_MARK "or scan this code:"

/* ---- countdown (SIGALRM, async-signal-safe writes only) ---- */

static volatile sig_atomic_t cd_left = -1;
static volatile sig_atomic_t cd_active;

static void cd_tick(int sig)
{
	char buf[96];
	size_t n = 0;
	int left = (int)cd_left, m, s, saved = errno;
	static const char head[] = "\r  waiting for approval: ";
	static const char tail[] = " left \033[K";

	(void)sig;
	if (!cd_active || left < 0) {
		errno = saved;
		return;
	}
	memcpy(buf, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	m = left / 60;
	s = left % 60;
	if (m >= 10)
		buf[n++] = (char)('0' + (m / 10) % 10);
	buf[n++] = (char)('0' + m % 10);
	buf[n++] = ':';
	buf[n++] = (char)('0' + s / 10);
	buf[n++] = (char)('0' + s % 10);
	memcpy(buf + n, tail, sizeof(tail) - 1);
	n += sizeof(tail) - 1;
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nothing to do in a handler */
	}
	if (left > 0)
		cd_left = left - 1;
	errno = saved;
}

static void cd_start(int seconds)
{
	struct sigaction sa = {.sa_handler = cd_tick, .sa_flags = SA_RESTART};
	struct itimerval it = {{1, 0}, {0, 1000}};

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		return;
	cd_left = seconds;
	cd_active = 1;
	(void)setitimer(ITIMER_REAL, &it, NULL);
}

static void cd_stop(void)
{
	struct itimerval it = {{0, 0}, {0, 0}};

	if (!cd_active)
		return;
	(void)setitimer(ITIMER_REAL, &it, NULL);
	cd_active = 0;
	fputs("\r\033[K", stderr);
}

/* ---- text ---- */

static int conv_info(void *ctx, const char *text)
{
	struct cli_conv_ctx *c = ctx;
	bool device = strncmp(text, DEVICE_HEAD, strlen(DEVICE_HEAD)) == 0;
	const char *qr = strstr(text, QR_MARK);

	cd_stop();
	if (device && qr && !c->cli->tty)
		/* no terminal: the URL and code lines only, no QR code */
		fprintf(stderr, "%.*s\n", (int)(qr - text > 0 ? qr - text - 1 : 0), text);
	else
		fprintf(stderr, "%s\n", text);
	fflush(stderr);
	if (device && c->countdown && c->cli->tty) {
		unsigned t = c->cli->cfg_ok && c->cli->cfg.device_timeout
		                 ? c->cli->cfg.device_timeout
		                 : CLI_DEVICE_TIMEOUT_DEFAULT;

		cd_start((int)t);
	}
	return 0;
}

static int conv_error(void *ctx, const char *text)
{
	(void)ctx;
	cd_stop();
	cli_err("%s", text);
	return 0;
}

int cli_read_line(int fd, const char *prompt, bool echo, size_t max, char **ret)
{
	struct termios old, quiet;
	bool restore = false;
	char *buf;
	size_t n = 0;
	int r = 0;

	buf = malloc(max);
	if (!buf)
		return -ENOMEM;
	if (!echo && isatty(fd) && tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
			restore = true;
	}
	/* the prompt only once echo is off: what is typed after it is not shown */
	if (prompt && write(fd, prompt, strlen(prompt)) < 0) {
		r = -errno;
		goto done;
	}
	for (;;) {
		char ch;
		ssize_t k = read(fd, &ch, 1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			break;
		}
		if (k == 0) {
			if (n == 0)
				r = -ENODATA;
			break;
		}
		if (ch == '\n')
			break;
		if (n + 1 >= max) {
			r = TS_E_TOO_BIG;
			break;
		}
		buf[n++] = ch;
	}
done:
	if (restore) {
		(void)tcsetattr(fd, TCSAFLUSH, &old);
		if (write(fd, "\n", 1) < 0) {
			/* the answer is read; a lost newline is cosmetic */
		}
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (r < 0) {
		ts_erase_free(buf, max);
		return r;
	}
	*ret = buf;
	return 0;
}

static int conv_prompt(void *ctx, const char *text, bool echo, char **ret)
{
	struct cli_conv_ctx *c = ctx;
	int fd, r;

	cd_stop();
	if (c->answer_from_stdin && !echo) {
		/* --refresh-token-stdin: the one secret comes from stdin */
		if (c->answered_stdin)
			return -EINVAL;
		c->answered_stdin = true;
		return cli_read_line(STDIN_FILENO, NULL, false, CLI_LINE_MAX, ret);
	}
	if (c->cli->noninteractive)
		return TS_E_INTERACTION;
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return TS_E_INTERACTION; /* no terminal: the broker reports it */
	r = cli_read_line(fd, text, echo, CLI_LINE_MAX, ret);
	close(fd);
	return r < 0 ? TS_E_INTERACTION : 0;
}

void cli_conv_init(struct ts_conv *conv, struct cli_conv_ctx *ctx)
{
	conv->info = conv_info;
	conv->error = conv_error;
	conv->prompt = conv_prompt;
	conv->ctx = ctx;
}

void cli_conv_done(struct cli_conv_ctx *ctx)
{
	(void)ctx;
	cd_stop();
}

void cli_rfc3339(char *buf, size_t len, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}
