/* SPDX-License-Identifier: MIT */
/*
 * What a refresh sends and keeps (issue 17, provider profiles), against a
 * one-shot local HTTP server that records the request:
 *  - no "scope" on refresh, whatever scopes holds: authentik answers a
 *    refresh that sends scope without offline_access with invalid_scope,
 *    and RFC 6749 §6 makes it optional (the grant keeps its scopes);
 *  - an answer without a refresh_token (Google's, always) keeps the
 *    refresh token that was sent (RFC 6749 §6), never drops it.
 * A real server cannot show what it was sent: this one records it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oauth.h"
#include "test_oauth_util.h"
#include "ts_error.h"
#include "ts_test.h"

struct one_shot {
	int fd;
	const char *answer; /* the JSON body of a 200 */
	char req[8192];	    /* what was received: headers and body */
};

/* accept one connection, read the request (headers, Content-Length body),
 * answer 200 with the JSON, close */
static void *serve(void *arg)
{
	struct one_shot *s = arg;
	size_t n = 0;
	long clen = -1;
	char *body = NULL;
	int c = accept(s->fd, NULL, NULL);

	if (c < 0)
		return NULL;
	for (;;) {
		ssize_t k = read(c, s->req + n, sizeof(s->req) - 1 - n);

		if (k <= 0)
			break;
		n += (size_t)k;
		s->req[n] = '\0';
		if (!body && (body = strstr(s->req, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(s->req, "\r\nContent-Length:");

			body += 4;
			clen = cl ? strtol(cl + 17, NULL, 10) : 0;
		}
		if (body && (long)(n - (size_t)(body - s->req)) >= clen)
			break;
		if (n == sizeof(s->req) - 1)
			break;
	}
	dprintf(c,
	        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
	        "Connection: close\r\n\r\n%s",
	        strlen(s->answer), s->answer);
	close(c);
	return NULL;
}

static int listen_port(int *ret_fd)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_INT(listen(fd, 4), 0);
	CHECK_INT(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*ret_fd = fd;
	return ntohs(a.sin_port);
}

/* One refresh of "RT-old" with scopes configured; s->req gets the request. */
static int refresh_once(struct one_shot *s, const char *scopes, struct oauth_tokens *t)
{
	struct ts_config cfg;
	struct oauth_client *c = NULL;
	struct oauth_error e = {0};
	pthread_t th;
	char url[64];
	int port = listen_port(&s->fd), r;

	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	tu_config(&cfg, url, "tokenseal-host", NULL, NULL);
	cfg.allow_loopback_http = true;
	(void)snprintf(cfg.token_endpoint, sizeof(cfg.token_endpoint), "%s/token", url);
	(void)snprintf(cfg.scopes, sizeof(cfg.scopes), "%s", scopes);
	CHECK_INT(pthread_create(&th, NULL, serve, s), 0);
	CHECK_INT(oauth_client_new(&c, &cfg, &e), 0);
	r = oauth_refresh(c, "RT-old", NULL, t, &e);
	if (r < 0)
		fprintf(stderr, "   refresh: %d %s\n", r, e.message);
	CHECK_INT(pthread_join(th, NULL), 0);
	close(s->fd);
	oauth_client_free(c);
	return r;
}

static const char *form_of(const struct one_shot *s)
{
	const char *b = strstr(s->req, "\r\n\r\n");

	return b ? b + 4 : "";
}

/* the form has no scope, and names the grant and the refresh token */
static void test_no_scope_on_refresh(void)
{
	static const char *const scopes[] = {"openid offline_access profile", "openid email",
	                                     "openid"};

	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		struct one_shot s = {.answer = "{\"access_token\":\"AT-new\",\"token_type\":"
		                               "\"Bearer\",\"expires_in\":300,\"refresh_token\":"
		                               "\"RT-new\"}"};
		struct oauth_tokens t = {0};
		const char *form;

		CHECK_INT(refresh_once(&s, scopes[i], &t), 0);
		form = form_of(&s);
		fprintf(stderr, "   scopes \"%s\": form %s\n", scopes[i], form);
		CHECK(strncmp(s.req, "POST /token ", 12) == 0);
		CHECK(strstr(form, "grant_type=refresh_token") != NULL);
		CHECK(strstr(form, "refresh_token=RT-old") != NULL);
		CHECK_MSG(strstr(form, "scope=") == NULL && strstr(form, "scope%3D") == NULL,
		          "a refresh sent a scope: %s", form);
		CHECK_STR(t.refresh_token, "RT-new"); /* rotation: the new one */
		oauth_tokens_clear(&t);
	}
}

/* Google: the refresh answer carries no refresh_token; the one sent stays */
static void test_no_new_refresh_token(void)
{
	struct one_shot s = {.answer = "{\"access_token\":\"AT-new\",\"token_type\":\"Bearer\","
	                               "\"expires_in\":3599,\"scope\":\"openid "
	                               "https://www.googleapis.com/auth/userinfo.email\"}"};
	struct oauth_tokens t = {0};

	CHECK_INT(refresh_once(&s, "openid email", &t), 0);
	CHECK_STR(t.access_token, "AT-new");
	CHECK_MSG(t.refresh_token != NULL, "the stored refresh token was dropped");
	if (t.refresh_token)
		CHECK_STR(t.refresh_token, "RT-old");
	oauth_tokens_clear(&t);
}

int main(void)
{
	RUN(test_no_scope_on_refresh);
	RUN(test_no_new_refresh_token);
	return ts_test_done();
}
