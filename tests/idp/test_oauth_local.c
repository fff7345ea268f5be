/* SPDX-License-Identifier: MIT */
/*
 * oauth/ failures that need no server: an unreachable port, a server that
 * accepts and never answers (timeout), http:// without allow_loopback_http,
 * a missing CA file, an unsafe client secret file, the test seam's limits.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oauth.h"
#include "oauth_testing.h"
#include "test_oauth_util.h"
#include "ts_error.h"
#include "ts_test.h"

static int discover_with(struct ts_config *cfg, struct oauth_error *e)
{
	struct oauth_client *c = NULL;
	int r;

	CHECK_INT(oauth_client_new(&c, cfg, e), 0);
	r = oauth_discover(c, e);
	CHECK(e->code == r);
	CHECK(e->message[0]);
	fprintf(stderr, "   %d: %s\n", r, e->message);
	oauth_client_free(c);
	return r;
}

/* a listening socket nobody accepts on: connects, then nothing */
static int silent_port(int *ret_fd)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_INT(listen(fd, 8), 0);
	CHECK_INT(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*ret_fd = fd;
	return ntohs(a.sin_port);
}

/* a port with nothing listening */
static int closed_port(void)
{
	int fd, port = silent_port(&fd);

	close(fd);
	return port;
}

static void test_unreachable(void)
{
	struct ts_config cfg;
	struct oauth_error e;
	char url[64];

	(void)snprintf(url, sizeof(url), "https://127.0.0.1:%d", closed_port());
	tu_config(&cfg, url, "c", NULL, NULL);
	CHECK_INT(discover_with(&cfg, &e), TS_E_UNAVAILABLE);
	CHECK(strstr(e.message, "connection to https://127.0.0.1:") == e.message);
	CHECK_INT(e.http_status, 0);

	/* a URL with user information is refused (ts_url_check), and the
	 * password in it is never printed */
	tu_secret("url-pass-123");
	(void)snprintf(url, sizeof(url), "https://admin:url-pass-123@127.0.0.1:%d", closed_port());
	tu_config(&cfg, url, "c", NULL, NULL);
	CHECK_INT(discover_with(&cfg, &e), TS_E_SERVER_CONFIG);
	CHECK(strstr(e.message, "refusing the discovery document https://127.0.0.1:") == e.message);
	CHECK(strstr(e.message, ": it contains user information (user@host)") != NULL);
	tu_check_clean(&e);
	tu_config(&cfg, "http://admin:url-pass-123@127.0.0.1:1", "c", NULL, NULL);
	cfg.allow_loopback_http = true;
	CHECK_INT(discover_with(&cfg, &e), TS_E_SERVER_CONFIG);
	CHECK_STR(e.message, "refusing the discovery document "
	                     "http://127.0.0.1:1/.well-known/openid-configuration: it contains "
	                     "user information (user@host)");
	tu_check_clean(&e);
}

static void test_timeout(void)
{
	struct ts_config cfg;
	struct oauth_error e;
	char url[64];
	int fd, port = silent_port(&fd);
	long long t0 = tu_now_ms(), el;

	(void)snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	tu_config(&cfg, url, "c", NULL, NULL);
	cfg.http_timeout = 1;
	CHECK_INT(discover_with(&cfg, &e), TS_E_UNAVAILABLE);
	el = tu_now_ms() - t0;
	CHECK_MSG(el >= 900 && el < 3000, "took %lld ms", el);
	CHECK(strstr(e.message, "timed out after 1 s") != NULL);
	close(fd);
}

#define NEED_HTTPS                                                                   \
	"it must start with https:// (http:// only for 127.0.0.1 or [::1] with "   \
	"allow_loopback_http = yes)"
#define NEED_LOOP "it must start with https://, or http://127.0.0.1 or http://[::1]"

/* The one URL rule (common/ts_url.h) at request time. */
static void test_http_scheme(void)
{
	struct ts_config cfg;
	struct oauth_error e;
	char url[64], expect[256];

	tu_config(&cfg, "http://127.0.0.1:1", "c", NULL, NULL);
	CHECK_INT(discover_with(&cfg, &e), TS_E_SERVER_CONFIG);
	CHECK_STR(e.message, "refusing the discovery document "
	                     "http://127.0.0.1:1/.well-known/openid-configuration: " NEED_HTTPS);

	tu_config(&cfg, "http://idp.example", "c", NULL, NULL);
	cfg.allow_loopback_http = true; /* loopback only */
	CHECK_INT(discover_with(&cfg, &e), TS_E_SERVER_CONFIG);
	CHECK(strstr(e.message, ": " NEED_LOOP) != NULL);
	tu_config(&cfg, "http://127.0.0.1.evil.example", "c", NULL, NULL);
	cfg.allow_loopback_http = true;
	CHECK_INT(discover_with(&cfg, &e), TS_E_SERVER_CONFIG);
	CHECK(strstr(e.message, ": " NEED_LOOP) != NULL);
	tu_config(&cfg, "ftp://127.0.0.1", "c", NULL, NULL);
	CHECK_INT(discover_with(&cfg, &e), TS_E_SERVER_CONFIG);
	CHECK(strstr(e.message, ": " NEED_HTTPS) != NULL);
	/* user information is refused (it was sent before) */
	(void)snprintf(url, sizeof(url), "https://u:p@127.0.0.1:%d", closed_port());
	tu_config(&cfg, url, "c", NULL, NULL);
	CHECK_INT(discover_with(&cfg, &e), TS_E_SERVER_CONFIG);
	CHECK(strstr(e.message, ": it contains user information (user@host)") != NULL);

	/* allowed: plain http to loopback reaches the network (nothing there) */
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
	tu_config(&cfg, url, "c", NULL, NULL);
	cfg.allow_loopback_http = true;
	CHECK_INT(discover_with(&cfg, &e), TS_E_UNAVAILABLE);
	(void)snprintf(expect, sizeof(expect), "connection to %s/.well-known/openid-configuration: ",
	               url);
	CHECK(strncmp(e.message, expect, strlen(expect)) == 0);
	(void)snprintf(url, sizeof(url), "http://[::1]:%d", closed_port());
	tu_config(&cfg, url, "c", NULL, NULL);
	cfg.allow_loopback_http = true;
	CHECK_INT(discover_with(&cfg, &e), TS_E_UNAVAILABLE);
	/* the scheme is case-insensitive (RFC 3986 §3.1), in both directions */
	(void)snprintf(url, sizeof(url), "HTTPS://127.0.0.1:%d", closed_port());
	tu_config(&cfg, url, "c", NULL, NULL);
	CHECK_INT(discover_with(&cfg, &e), TS_E_UNAVAILABLE);
	(void)snprintf(url, sizeof(url), "HTTP://127.0.0.1:%d", closed_port());
	tu_config(&cfg, url, "c", NULL, NULL);
	CHECK_INT(discover_with(&cfg, &e), TS_E_SERVER_CONFIG);
	CHECK(strstr(e.message, ": " NEED_HTTPS) != NULL);
}

static void test_ca_missing(void)
{
	struct ts_config cfg;
	struct oauth_error e;

	tu_config(&cfg, "https://127.0.0.1:1", "c", NULL, "/nonexistent/tokenseal-ca.pem");
	CHECK_INT(discover_with(&cfg, &e), TS_E_SERVER_CONFIG);
	CHECK(strstr(e.message, "/nonexistent/tokenseal-ca.pem") != NULL);
}

static void test_secret_file(void)
{
	struct ts_config cfg;
	struct oauth_client *c = NULL;
	struct oauth_error e;
	char path[600];

	(void)snprintf(path, sizeof(path), "%s/secret", ts_test_tmpdir());
	ts_test_write_file(path, "s3cret-value\n", 13, 0600);
	tu_secret("s3cret-value");
	tu_config(&cfg, "https://127.0.0.1:1", "c", path, NULL);
	CHECK_INT(oauth_client_new(&c, &cfg, &e), 0);
	oauth_client_free(c);

	CHECK_INT(chmod(path, 0666), 0);
	c = NULL;
	CHECK_INT(oauth_client_new(&c, &cfg, &e), TS_E_SERVER_CONFIG);
	CHECK(c == NULL);
	CHECK(strstr(e.message, path) != NULL);
	CHECK(strstr(e.message, "s3cret") == NULL);

	(void)snprintf(path, sizeof(path), "%s/missing", ts_test_tmpdir());
	tu_config(&cfg, "https://127.0.0.1:1", "c", path, NULL);
	CHECK_INT(oauth_client_new(&c, &cfg, &e), TS_E_SERVER_CONFIG);

	(void)snprintf(path, sizeof(path), "%s/empty", ts_test_tmpdir());
	ts_test_write_file(path, "\n", 1, 0600);
	tu_config(&cfg, "https://127.0.0.1:1", "c", path, NULL);
	CHECK_INT(oauth_client_new(&c, &cfg, &e), TS_E_SERVER_CONFIG);
}

static void test_no_issuer(void)
{
	struct ts_config cfg;
	struct oauth_error e;

	tu_config(&cfg, "", "c", NULL, NULL);
	CHECK_INT(discover_with(&cfg, &e), TS_E_SERVER_CONFIG);
}

static void test_time_scale(void)
{
	struct ts_config cfg;
	struct oauth_client *c = NULL;
	struct oauth_error e;

	tu_config(&cfg, "https://127.0.0.1:1", "c", NULL, NULL);
	CHECK_INT(oauth_client_new(&c, &cfg, &e), 0);
	CHECK_INT(oauth_client_set_time_scale(c, 0.0), -EINVAL);
	CHECK_INT(oauth_client_set_time_scale(c, 2.0), -EINVAL);
	CHECK_INT(oauth_client_set_time_scale(c, 0.5), 0);
	oauth_client_free(c);
}

int main(void)
{
	CHECK_INT(oauth_global_init(), 0);
	tu_capture_logs();
	RUN(test_unreachable);
	RUN(test_timeout);
	RUN(test_http_scheme);
	RUN(test_ca_missing);
	RUN(test_secret_file);
	RUN(test_no_issuer);
	RUN(test_time_scale);
	tu_check_clean(NULL);
	return ts_test_done();
}
