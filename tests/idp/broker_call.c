/* SPDX-License-Identifier: MIT */
/* Calls of the real tokenseal-broker for the IdP tests: see broker_call.h. */
#include "broker_call.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts_error.h"
#include "ts_leak.h"
#include "ts_test.h"

static struct ts_idp *idp;
static char wrapper[700], logfile[700];

void bc_init(struct ts_idp *server, const char *broker)
{
	FILE *f;

	idp = server;
	snprintf(logfile, sizeof(logfile), "%s/broker.log", ts_test_tmpdir());
	snprintf(wrapper, sizeof(wrapper), "%s/broker-wrapper", ts_test_tmpdir());
	f = fopen(wrapper, "w");
	CHECK(f);
	fprintf(f, "#!/bin/sh\nexec '%s' --debug \"$@\" 2>>'%s'\n", broker, logfile);
	CHECK(fclose(f) == 0);
	CHECK(chmod(wrapper, 0755) == 0);
}

const char *bc_logfile(void)
{
	return logfile;
}

/* ---- conversation ----------------------------------------------------- */

struct conv {
	const char *answer;        /* every prompt's answer (NULL: refuse) */
	const char *login, *pw;    /* device approval (NULL: none) */
	char *shown;               /* the texts shown, appended */
	size_t shown_len;
	char code[64];
	pid_t child;
};

static void shown_add(struct conv *c, const char *text)
{
	size_t n;

	if (!c->shown || !c->shown_len)
		return;
	n = strlen(c->shown);
	snprintf(c->shown + n, c->shown_len - n, "%s\n", text);
}

static int c_info(void *ctx, const char *text)
{
	struct conv *c = ctx;
	const char *p = strstr(text, "enter the code ");
	size_t n;

	shown_add(c, text);
	if (!p || c->code[0] || !c->login)
		return 0;
	p += strlen("enter the code ");
	n = strcspn(p, " \n");
	if (n >= sizeof(c->code))
		return -1;
	memcpy(c->code, p, n);
	c->code[n] = '\0';
	c->child = fork();
	if (c->child == 0) {
		sleep(1);
		_exit(ts_idp_approve_device(idp, c->code, c->login, c->pw, 0) == 0 ? 0 : 1);
	}
	return c->child < 0 ? -1 : 0;
}

static int c_prompt(void *ctx, const char *text, bool echo, char **ret)
{
	struct conv *c = ctx;

	(void)echo;
	shown_add(c, text);
	if (!c->answer)
		return -1;
	*ret = strdup(c->answer);
	return *ret ? 0 : -ENOMEM;
}

static int call_conv(const char *config, enum ts_msg_type type, const char *user,
                     uint32_t flags, const char *method, struct conv *c,
                     struct ts_client_result *res)
{
	struct ts_client_opts o = {.broker_path = wrapper, .config_path = config};
	struct ts_client_request rq = {
	    .type = type, .user = user, .service = "test", .flags = flags, .method = method};
	struct ts_conv cv = {c_info, c_info, c_prompt, c};
	int r;

	memset(res, 0, sizeof(*res));
	r = ts_client_call(&o, &rq, c ? &cv : NULL, res);
	CHECK_MSG(r == 0, "ts_client_call: %s", ts_strerror(r));
	fprintf(stderr, "   [%s] code %d (%s) state %d: %s\n", user, res->code,
	        ts_strerror(res->code), res->state, res->message);
	if (res->token)
		ts_leak_remember(res->token);
	return res->code;
}

int bc_call_pw(const char *config, enum ts_msg_type type, const char *user, uint32_t flags,
               const char *method, const char *pw, struct ts_client_result *res)
{
	struct conv c = {.answer = pw};

	return call_conv(config, type, user, flags, method, pw ? &c : NULL, res);
}

int bc_call(const char *config, enum ts_msg_type type, const char *user, uint32_t flags,
            struct ts_client_result *res)
{
	return bc_call_pw(config, type, user, flags | TS_FLAG_NONINTERACTIVE, NULL, NULL, res);
}

int bc_simple(const char *config, enum ts_msg_type type, const char *user, uint32_t flags)
{
	struct ts_client_result res;
	int code = bc_call(config, type, user, flags, &res);

	ts_client_result_clear(&res);
	return code;
}

void bc_password_login(const char *config, const char *user, const char *pw)
{
	struct ts_client_result res;

	CHECK_INT(bc_call_pw(config, TS_MSG_LOGIN, user, 0, "password", pw, &res), 0);
	ts_client_result_clear(&res);
}

enum ts_state bc_status_state(const char *config, const char *user)
{
	struct ts_client_result res;
	enum ts_state st;

	CHECK_INT(bc_call(config, TS_MSG_STATUS, user, 0, &res), 0);
	st = res.state;
	ts_client_result_clear(&res);
	return st;
}

int bc_device_login(const char *config, const char *user, const char *login, const char *pw,
                    char *shown, size_t shown_len, int *code_seen,
                    struct ts_client_result *res)
{
	struct conv c = {.login = login, .pw = pw, .shown = shown, .shown_len = shown_len};
	int code, st = 0;

	if (shown && shown_len)
		shown[0] = '\0';
	code = call_conv(config, TS_MSG_LOGIN, user, 0, "device", &c, res);
	if (c.child > 0) {
		CHECK(waitpid(c.child, &st, 0) == c.child);
		CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the device approval of %s failed",
		          c.code);
	}
	*code_seen = c.code[0] != '\0';
	return code;
}

/* ---- the server ------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	size_t len = size * n;

	if (b->len + len >= b->cap)
		return 0;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

/* The operator routes straight over libcurl: a node process per ctl call
 * costs half a second, and the CI budget is tight. */
static long admin(bool post, const char *route, char *out, size_t outlen)
{
	char url[1200], hdr[300], keyfile[700];
	char *key;
	struct buf b = {out, 0, outlen};
	struct curl_slist *h;
	CURL *c = curl_easy_init();
	long status = -1;

	CHECK(c);
	snprintf(keyfile, sizeof(keyfile), "%s/admin-key", idp->dir);
	key = ts_test_read_file(keyfile, NULL);
	snprintf(hdr, sizeof(hdr), "X-Test-Admin: %s", key);
	free(key);
	h = curl_slist_append(NULL, hdr);
	CHECK(h);
	out[0] = '\0';
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/__test/%s", idp->port, route);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, idp->ca);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (post)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

void bc_admin(const char *route)
{
	char out[2048];
	long st = admin(true, route, out, sizeof(out));

	CHECK_MSG(st == 200, "POST /__test/%s: HTTP %ld %s", route, st, out);
}

long bc_count(const char *key)
{
	char out[8192], want[200];
	const char *p;
	long st = admin(false, "counters", out, sizeof(out));

	CHECK_MSG(st == 200, "GET /__test/counters: HTTP %ld %s", st, out);
	snprintf(want, sizeof(want), "\"%s\":", key);
	p = strstr(out, want);
	return p ? strtol(p + strlen(want), NULL, 10) : 0;
}

void bc_imitate(const char *name, const char *onoff)
{
	char route[300];

	snprintf(route, sizeof(route), "imitate?name=%s&on=%d", name, strcmp(onoff, "on") == 0);
	bc_admin(route);
}

void bc_profile(const char *name)
{
	char route[300];

	snprintf(route, sizeof(route), "profile?name=%s", name);
	bc_admin(route);
}

long bc_refreshes(void)
{
	return bc_count("token:refresh_token");
}

long bc_revocations(void)
{
	/* the provider's route, and the 404 the imitation answers in its place */
	return bc_count("revocation") + bc_count("/token/revocation");
}
