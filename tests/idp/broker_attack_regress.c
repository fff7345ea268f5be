/* SPDX-License-Identifier: MIT */
/*
 * The regress group of test_broker_attack (see there): the shipped example
 * loads as "not configured yet", a password ending in a blank, a passwd
 * entry over getpwnam_r's first buffer, a certificate outside this host's
 * clock.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "broker_attack.h"
#include "oauth.h"
#include "ts_client.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_paths.h"
#include "ts_proto.h"
#include "ts_test.h"
#include "ts_test_conv.h"

/* ---- the regress group --------------------------------------------------- */

static void copy_file(const char *from, const char *to, const char *prefix)
{
	size_t n = 0, pl = prefix ? strlen(prefix) : 0;
	char *text = ts_test_read_file(from, &n);
	char *all = malloc(n + pl + 1);

	CHECK(all);
	memcpy(all, prefix ? prefix : "", pl);
	memcpy(all + pl, text, n);
	ts_test_write_file(to, all, n + pl, 0644);
	free(all);
	free(text);
}

static void test_shipped_config(void)
{
	static const enum ts_msg_type types[] = {TS_MSG_REVALIDATE, TS_MSG_LOGIN,
	                                         TS_MSG_OPEN_SESSION, TS_MSG_CLOSE_SESSION,
	                                         TS_MSG_STATUS};
	struct call_req dq = {.type = TS_MSG_DOCTOR, .user = "root"};
	struct ts_client_result res;
	char shipped[800], want[900], msg[600], prefix[6000], ks2[800];
	bool had_default = access(TS_DEFAULT_KEYSTORE_DIR, F_OK) == 0;

	snprintf(shipped, sizeof(shipped), "%s/shipped.conf", idp.dir);
	copy_file(example, shipped, NULL);
	snprintf(want, sizeof(want),
	         "tokenseal is not configured yet: set issuer and client_id in %s", shipped);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		CHECK_INT(ask(shipped, types[i], "carol", msg, sizeof(msg)), no_record_code("carol"));
		if (!default_record("carol"))
			CHECK_STR(msg, want);
	}
	CHECK_INT(ask(shipped, TS_MSG_KEYSTORE, "root", msg, sizeof(msg)), TS_E_NOT_CONFIGURED);
	CHECK_STR(msg, want);
	/* doctor: exactly the two keys to set, each with its fix (nothing
	 * else of the shipped file is a problem) */
	CHECK_INT(call_as(broker_bin, shipped, &dq, &res), 0);
	CHECK_INT(res.code, TS_E_NOT_CONFIGURED);
	CHECK_STR(res.message, want);
	snprintf(prefix, sizeof(prefix),
	         "{\"checks\":[{\"name\":\"config\",\"level\":\"fail\",\"detail\":\"%s: issuer is "
	         "not set\",\"fix\":\"set issuer = the https:// URL of your identity provider in "
	         "%s\"},{\"name\":\"config\",\"level\":\"fail\",\"detail\":\"%s: client_id is not "
	         "set\",\"fix\":\"set client_id = the client id registered at the identity "
	         "provider in %s\"}]}",
	         shipped, shipped, shipped, shipped);
	CHECK_STR(res.status_json, prefix);
	ts_client_result_clear(&res);
	CHECK_MSG(had_default || access(TS_DEFAULT_KEYSTORE_DIR, F_OK) != 0,
	          "the record checks created no keystore at %s", TS_DEFAULT_KEYSTORE_DIR);

	/* the shipped file with issuer and client_id set (and this test's
	 * private paths) is a working configuration: a public client */
	snprintf(ks2, sizeof(ks2), "%s/ks-shipped", idp.dir);
	snprintf(prefix, sizeof(prefix),
	         "issuer = %s\nclient_id = public_client\nca_file = %s/ca.pem\nkeystore_dir = %s\n"
	         "key_file = %s/shipped.key\nsocket_path = %s/none.sock\n"
	         "login_methods = password\n",
	         idp.issuer, idp.dir, ks2, idp.dir, idp.dir);
	copy_file(example, shipped, prefix);
	CHECK_INT(ask(shipped, TS_MSG_STATUS, "carol", msg, sizeof(msg)), 0);
	snprintf(want, sizeof(want), "carol is not signed in at %s", idp.issuer);
	CHECK_STR(msg, want);
}

/* A password that ends in a blank is the password: the conversation
 * answer reaches the server with every byte. ext-blank is an IdP-only
 * account (no local user), authorised through nss_resolve_unknown. */
static void test_password_trailing_blank(void)
{
	struct ts_client_result res;
	char c[800], more[900], want[600];
	struct call_req q = {.type = TS_MSG_LOGIN, .user = "ext-blank"};

	snprintf(more, sizeof(more),
	         "nss_cache = %s/nss-blank/users.cache\nnss_resolve_unknown = ext-[a-z]+\n",
	         idp.dir);
	config_with(c, sizeof(c), "blank", "conf", more);
	/* a sign-in writes the cache that carries nss_resolve_unknown */
	q.user = "bob";
	q.password = "bob-pw";
	CHECK_INT(call_as(broker_bin, c, &q, &res), 0);
	CHECK_INT(res.code, 0);
	ts_client_result_clear(&res);
	/* without the blank: the server refuses (so the blank matters) */
	q.user = "ext-blank";
	q.password = "ext blank pw";
	CHECK_INT(call_as(broker_bin, c, &q, &res), 0);
	CHECK_INT(res.code, TS_E_NEEDS_LOGIN);
	ts_client_result_clear(&res);
	q.password = "ext blank pw ";
	CHECK_INT(call_as(broker_bin, c, &q, &res), 0);
	CHECK_INT(res.code, 0);
	snprintf(want, sizeof(want), "signed in to %s as ext-blank (password)", idp.issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
}

/* The child of test_pwbuf_erange, under nss_wrapper: one STATUS request
 * for the user served in process (ts_broker_serve_one, as the daemon and
 * exec mode do); prints "CODE MESSAGE". */
int erange_child(const char *config)
{
	char msg[600];
	int code;

	CHECK(sodium_init() >= 0 && oauth_global_init() >= 0); /* as the broker's main does */
	code = peer_ask_type(config, 0, TS_MSG_STATUS, "longgecos", msg, sizeof(msg));

	printf("%d %s\n", code, msg);
	return 0;
}

/* A passwd entry larger than the broker's first getpwnam_r buffer (a long
 * gecos): ERANGE grows the buffer; it is never "no local user". */
static void test_pwbuf_erange(void)
{
	char pw[800], gr[800], line[8300], out[800], want[800];
	char envs[4][1100];
	const char *envp[5];
	const char *argv[] = {self_bin, broker_bin, "--erange-child", cfg, NULL};
	char gecos[7001];

	if (!nss_wrapper[0]) {
		snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s",
		         " nss_wrapper");
		fprintf(stderr, "   SKIPPED: nss_wrapper is not installed\n");
		return;
	}
	memset(gecos, 'G', sizeof(gecos) - 1);
	gecos[sizeof(gecos) - 1] = '\0';
	snprintf(pw, sizeof(pw), "%s/erange.passwd", idp.dir);
	snprintf(gr, sizeof(gr), "%s/erange.group", idp.dir);
	snprintf(line, sizeof(line),
	         "root:x:0:0:root:/root:/bin/sh\nlonggecos:x:1004:1004:%s:/home/longgecos:/bin/sh\n",
	         gecos);
	ts_test_write_file(pw, line, strlen(line), 0644);
	snprintf(line, sizeof(line), "root:x:0:\nlonggecos:x:1004:\n");
	ts_test_write_file(gr, line, strlen(line), 0644);
	snprintf(envs[0], sizeof(envs[0]), "LD_PRELOAD=%s", nss_wrapper);
	snprintf(envs[1], sizeof(envs[1]), "NSS_WRAPPER_PASSWD=%s", pw);
	snprintf(envs[2], sizeof(envs[2]), "NSS_WRAPPER_GROUP=%s", gr);
	snprintf(envs[3], sizeof(envs[3]), "ASAN_OPTIONS=verify_asan_link_order=0");
	for (int i = 0; i < 4; i++)
		envp[i] = envs[i];
	envp[4] = NULL;
	CHECK_MSG(ts_test_run_capture(argv, envp, out, sizeof(out)) == 0, "the child ran");
	snprintf(want, sizeof(want), "0 longgecos is not signed in at %s", idp.issuer);
	CHECK_STR(out, want);
}

/* This host's clock outside the server certificate's validity (from a
 * day ago to 3 days ahead): the answer says the clock may be wrong, with
 * the server's time, instead of "check the issuer URL and ca_file".
 * libfaketime is preloaded into the broker directly (the faketime(1)
 * wrapper leaves named semaphores behind), as test_broker_idp does. */
static void clock_case(const char *libfaketime, const char *offset, const char *tls_text)
{
	struct ts_client_opts o = {.broker_path = broker_bin, .config_path = cfg};
	struct ts_client_request rq = {.type = TS_MSG_LOGIN, .user = "carol", .service = "test"};
	struct ts_conv cv = TS_TEST_PASSWORD_CONV("carol-pw");
	struct ts_client_result res;
	char e_pre[600], e_off[64];
	char e_mono[] = "FAKETIME_DONT_FAKE_MONOTONIC=1";
	char e_asan[] = "ASAN_OPTIONS=verify_asan_link_order=0"; /* sanitizer builds */
	char *env[] = {e_pre, e_off, e_mono, e_asan, NULL};

	snprintf(e_pre, sizeof(e_pre), "LD_PRELOAD=%s", libfaketime);
	snprintf(e_off, sizeof(e_off), "FAKETIME=%s", offset);
	o.env = env;
	memset(&res, 0, sizeof(res));
	CHECK_INT(ts_client_call(&o, &rq, &cv, &res), 0);
	fprintf(stderr, "   [carol, FAKETIME=%s] code %d: %s\n", offset, res.code, res.message);
	CHECK_INT(res.code, TS_E_SERVER_CONFIG);
	CHECK_MSG(strstr(res.message, tls_text), "the TLS reason: %s", res.message);
	CHECK_MSG(strstr(res.message, "this host's clock may be wrong: it says "),
	          "names the clock: %s", res.message);
	CHECK_MSG(strstr(res.message, ", the server says "), "with the server's time: %s",
	          res.message);
	CHECK_MSG(!strstr(res.message, "check the issuer URL and ca_file"), "%s", res.message);
	/* the host's clock is not the administrator's configuration */
	CHECK_MSG(!strstr(res.message, "configuration error"), "%s", res.message);
	ts_client_result_clear(&res);
}

static void test_tls_clock(void)
{
	static const char *const libs[] = {
	    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
	    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
	    "/usr/lib64/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1"};
	const char *lib = NULL;

	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]) && !lib; i++)
		if (access(libs[i], R_OK) == 0)
			lib = libs[i];
	if (!lib) {
		snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s",
		         " libfaketime");
		fprintf(stderr, "   SKIPPED: libfaketime is not installed\n");
		return;
	}
	clock_case(lib, "+30d", "expired");
	clock_case(lib, "-30d", "not yet valid");
}

void broker_regress_run(void)
{
	CHECK_MSG(example[0], "the path of docs/tokenseal.conf.example");
	RUN(test_shipped_config);
	RUN(test_password_trailing_blank);
	RUN(test_pwbuf_erange);
	RUN(test_tls_clock);
}
