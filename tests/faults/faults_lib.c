/* SPDX-License-Identifier: MIT */
/* Shared by the tests of tests/faults/ (faults_lib.h). */
#include "faults_lib.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ks.h"
#include "lifecycle.h"
#include "ts_config.h"
#include "ts_error.h"
#include "ts_leak.h"
#include "ts_test.h"

struct fl fl;

static void env_value(const char *file, const char *key, char *out, size_t len)
{
	size_t n = 0, kl = strlen(key);
	char *text = ts_test_read_file(file, &n);
	const char *p = text;

	CHECK_MSG(text, "read %s", file);
	out[0] = '\0';
	while (p && *p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t vl = strcspn(p + kl + 1, "\n");

			CHECK(vl < len);
			memcpy(out, p + kl + 1, vl);
			out[vl] = '\0';
			break;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	free(text);
	CHECK_MSG(out[0], "%s: no %s", file, key);
}

static void stop_faults(void)
{
	ts_faults_stop(&fl.faults);
}

void fl_start(const char *broker, unsigned at_ttl)
{
	char watch[16], envf[700], pid[16], q[1400];
	FILE *f;

	if (getuid() != 0)
		TS_SKIP("needs root (the broker acts for local users)");
	if (!getpwnam("alice") || !getpwnam("bob") || !getpwnam("carol"))
		TS_SKIP("local users alice/bob/carol missing: scripts/test creates them");
	CHECK(strlen(broker) < sizeof(fl.broker));
	memcpy(fl.broker, broker, strlen(broker) + 1);
	CHECK_INT(ts_idp_start(&fl.idp, at_ttl), 0);
	/* the fault injector in the IdP's folder: the same CA signs both */
	snprintf(watch, sizeof(watch), "%ld", (long)getpid());
	{
		const char *argv[] = {TS_SOURCE_DIR "/tests/fixtures/faults/start",
		                      "--state-dir",
		                      fl.idp.dir,
		                      "--watch-pid",
		                      watch,
		                      NULL};
		CHECK_INT(ts_idp_run(argv, NULL, 0), 0);
	}
	snprintf(fl.faults.dir, sizeof(fl.faults.dir), "%s", fl.idp.dir);
	atexit(stop_faults);
	snprintf(envf, sizeof(envf), "%s/faults.env", fl.idp.dir);
	env_value(envf, "TS_FAULTS_BASE", fl.faults.base, sizeof(fl.faults.base));
	env_value(envf, "TS_FAULTS_PROXY", fl.proxy, sizeof(fl.proxy));
	env_value(envf, "TS_FAULTS_PID", pid, sizeof(pid));
	fl.faults.pid = (int)strtol(pid, NULL, 10);
	snprintf(fl.faults.ca, sizeof(fl.faults.ca), "%s", fl.idp.ca);
	snprintf(q, sizeof(q), "upstream=%s&ca=%s&mode=pass", fl.idp.issuer, fl.idp.ca);
	fl_proxy_set(q);

	snprintf(fl.log, sizeof(fl.log), "%s/broker.log", ts_test_tmpdir());
	snprintf(fl.wrapper, sizeof(fl.wrapper), "%s/broker-wrapper", ts_test_tmpdir());
	f = fopen(fl.wrapper, "w");
	CHECK(f);
	fprintf(f, "#!/bin/sh\nexec '%s' --debug \"$@\" 2>>'%s'\n", fl.broker, fl.log);
	CHECK(fclose(f) == 0);
	CHECK(chmod(fl.wrapper, 0755) == 0);
	ts_leak_remember("alice-pw");
}

void fl_config(const char *name, const char *extra, char *out, size_t len)
{
	char all[4096];

	snprintf(out, len, "%s/%s.conf", fl.idp.dir, name);
	snprintf(all, sizeof(all),
	         "login_methods = password\n"
	         "token_endpoint = %s/token\n"
	         "introspection_endpoint = %s/token/introspection\n"
	         "userinfo_endpoint = %s/me\n"
	         "revocation_endpoint = %s/token/revocation\n"
	         "%s",
	         fl.proxy, fl.proxy, fl.proxy, fl.proxy, extra ? extra : "");
	CHECK_INT(ts_idp_write_config(&fl.idp, out, "conf", all), 0);
}

json_t *fl_proxy(const char *query)
{
	char url[1600], out[16384];
	const char *argv[] = {"/usr/bin/curl", "-sS", "--cacert", fl.idp.ca, url, NULL};
	json_t *j;

	snprintf(url, sizeof(url), "%s/__proxy?%s", fl.faults.base, query);
	CHECK_INT(ts_idp_run(argv, out, sizeof(out)), 0);
	j = json_loads(out, 0, NULL);
	CHECK_MSG(j && json_is_object(j) && json_object_get(j, "mode"), "proxy answer: %s", out);
	return j;
}

void fl_proxy_set(const char *query)
{
	json_decref(fl_proxy(query));
}

static long proxy_count(const char *what, const char *key)
{
	json_t *j = fl_proxy("");
	long n = (long)json_integer_value(json_object_get(json_object_get(j, what), key));

	json_decref(j);
	return n;
}

long fl_proxy_requests(const char *key)
{
	return proxy_count("requests", key);
}

long fl_proxy_faulted(const char *key)
{
	return proxy_count("faulted", key);
}

struct conv_ctx {
	const char *answer;
	unsigned prompts;
};

static int c_info(void *ctx, const char *text)
{
	(void)ctx;
	(void)text;
	return 0;
}

static int c_prompt(void *ctx, const char *text, bool echo, char **ret)
{
	struct conv_ctx *c = ctx;

	(void)text;
	(void)echo;
	c->prompts++;
	if (!c->answer)
		return -EINVAL;
	*ret = strdup(c->answer);
	return *ret ? 0 : -ENOMEM;
}

int fl_call(const char *config, const char *socket, enum ts_msg_type type, const char *user,
            uint32_t flags, const char *password, char *const *env, struct ts_client_result *res,
            int *ret_transport)
{
	struct ts_client_opts o = {
	    .broker_path = fl.wrapper, .config_path = config, .env = env ? env : fl.env};
	struct ts_client_request rq = {.type = type,
	                               .user = user,
	                               .service = "test",
	                               .flags = flags | (password ? 0 : TS_FLAG_NONINTERACTIVE),
	                               .method = password ? "password" : NULL};
	struct conv_ctx cc = {password, 0};
	struct ts_conv cv = {c_info, c_info, c_prompt, &cc};
	int r;

	if (socket) {
		o.socket_path = socket;
		o.mode = TS_CLIENT_SOCKET_ONLY;
	}
	memset(res, 0, sizeof(*res));
	r = ts_client_call(&o, &rq, password ? &cv : NULL, res);
	if (ret_transport)
		*ret_transport = r;
	else
		CHECK_MSG(r == 0, "ts_client_call: %s", ts_strerror(r));
	if (res->token)
		ts_leak_remember(res->token);
	return r < 0 ? r : res->code;
}

int fl_simple(const char *config, const char *socket, enum ts_msg_type type, const char *user,
              uint32_t flags)
{
	struct ts_client_result res;
	int code = fl_call(config, socket, type, user, flags, NULL, NULL, &res, NULL);

	if (code != 0)
		fprintf(stderr, "   [%s] %s: %s\n", user, ts_strerror(code), res.message);
	ts_client_result_clear(&res);
	return code;
}

void fl_login(const char *config, const char *socket, const char *user, const char *pw)
{
	struct ts_client_result res;
	char def[128];
	int code;

	snprintf(def, sizeof(def), "%s-pw", user);
	code = fl_call(config, socket, TS_MSG_LOGIN, user, 0, pw ? pw : def, NULL, &res, NULL);
	CHECK_MSG(code == 0, "sign-in of %s: %s: %s", user, ts_strerror(code), res.message);
	ts_client_result_clear(&res);
}

uint8_t *fl_record_bytes(const char *ksdir, uid_t uid, size_t *len)
{
	char path[900];

	snprintf(path, sizeof(path), "%s/users/%u.seal", ksdir, (unsigned)uid);
	*len = 0;
	if (access(path, F_OK) != 0)
		return NULL;
	return (uint8_t *)ts_test_read_file(path, len);
}

int fl_record_loads(const char *config, uid_t uid, const char *user)
{
	struct ts_config cfg;
	struct ks *ks = NULL;
	struct ks_blob *b = NULL;
	struct ks_open_opts ko = {0};
	struct ts_record rec = {0};
	struct ks_identity id;
	int r;

	ts_config_defaults(&cfg);
	CHECK_INT(ts_config_load(&cfg, config, NULL, NULL), 0);
	id = (struct ks_identity){uid, user, cfg.issuer, cfg.client_id};
	r = ks_open(&ks, cfg.keystore_dir, cfg.key_file, &ko);
	if (r < 0)
		return r;
	r = ks_read(ks, &id, &b);
	if (r == 0) {
		r = ts_record_from_json(&rec, b->payload, b->len);
		ts_record_clear(&rec);
		ks_blob_free(b);
	}
	ks_close(ks);
	return r;
}

long fl_refreshes(void)
{
	return fl_proxy_requests("/token:refresh_token");
}

long long fl_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}
