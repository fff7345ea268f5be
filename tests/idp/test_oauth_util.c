/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "test_oauth_util.h"
#include "ts_log.h"
#include "ts_test.h"

#define LOG_CAP (512 * 1024)
#define SECRETS_MAX 256

static char logbuf[LOG_CAP];
static size_t loglen;
static char *secrets[SECRETS_MAX];
static size_t n_secrets;

void tu_config(struct ts_config *cfg, const char *issuer, const char *client_id,
               const char *secret_file, const char *ca)
{
	memset(cfg, 0, sizeof(*cfg));
	(void)snprintf(cfg->issuer, sizeof(cfg->issuer), "%s", issuer);
	(void)snprintf(cfg->client_id, sizeof(cfg->client_id), "%s", client_id);
	if (secret_file)
		(void)snprintf(cfg->client_secret_file, sizeof(cfg->client_secret_file), "%s",
		               secret_file);
	if (ca)
		(void)snprintf(cfg->ca_file, sizeof(cfg->ca_file), "%s", ca);
	(void)snprintf(cfg->scopes, sizeof(cfg->scopes), "openid offline_access profile");
	(void)snprintf(cfg->username_claim, sizeof(cfg->username_claim), "preferred_username");
	cfg->http_timeout = 5;
	cfg->max_response_size = 64 * 1024;
	cfg->revalidate = TS_REVALIDATE_AUTO;
}

static void capture(void *ctx, int priority, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)priority;
	if (loglen + 2 < LOG_CAP) {
		int n = vsnprintf(logbuf + loglen, LOG_CAP - loglen - 1, fmt, ap);
		if (n > 0)
			loglen +=
			    (size_t)n < LOG_CAP - loglen - 1 ? (size_t)n : LOG_CAP - loglen - 2;
		logbuf[loglen++] = '\n';
		logbuf[loglen] = '\0';
	}
}

void tu_capture_logs(void)
{
	ts_log_setup(TS_LOG_STDERR, "test", true);
	ts_log_set_callback(capture, NULL);
}

void tu_secret(const char *s)
{
	if (!s || strlen(s) < 6)
		return;
	for (size_t i = 0; i < n_secrets; i++)
		if (strcmp(secrets[i], s) == 0)
			return;
	CHECK(n_secrets < SECRETS_MAX);
	secrets[n_secrets] = strdup(s);
	CHECK(secrets[n_secrets] != NULL);
	n_secrets++;
}

void tu_check_clean_at(const struct oauth_error *err, const char *file, int line)
{
	for (size_t i = 0; i < n_secrets; i++) {
		const char *s = secrets[i];
		ts_test_checks++;
		if (err && (strstr(err->message, s) || strstr(err->description, s) ||
		            strstr(err->error, s)))
			ts_test_fail(file, line, "a credential appears in an error: %s",
			             err->message);
		if (strstr(logbuf, s))
			ts_test_fail(file, line, "a credential appears in a log line");
	}
	(void)loglen;
}

long long tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
