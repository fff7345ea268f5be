/* SPDX-License-Identifier: MIT */
/*
 * common/ts_config.c: the file format, every key type, per-service sections,
 * the file checks (owner, mode, symlink, size), validation and the user name
 * mapping. Every problem is captured through a ts_config_report callback and
 * its text checked for the file name (and line and key where they apply).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ts_config.h"
#include "ts_error.h"
#include "ts_mem.h"
#include "ts_nsscache.h"
#include "ts_paths.h"
#include "ts_test.h"

/* ---- capturing reports ------------------------------------------------- */

#define CAP_MAX 64
static struct {
	char msg[CAP_MAX][1200];
	int prio[CAP_MAX];
	unsigned n;
} cap;

TS_PRINTF(3, 0)
static void capture(void *ctx, int priority, const char *fmt, va_list ap)
{
	(void)ctx;
	if (cap.n >= CAP_MAX)
		return;
	cap.prio[cap.n] = priority;
	(void)vsnprintf(cap.msg[cap.n], sizeof(cap.msg[0]), fmt, ap);
	cap.n++;
}

static const struct ts_config_report rep = {.fn = capture};

static void cap_reset(void)
{
	memset(&cap, 0, sizeof(cap));
}

static unsigned cap_count(int prio)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cap.n; i++)
		if (cap.prio[i] == prio)
			n++;
	return n;
}

/* The first captured message containing every one of the given strings. */
static const char *cap_find(const char *a, const char *b, const char *c)
{
	for (unsigned i = 0; i < cap.n; i++)
		if (strstr(cap.msg[i], a) && (!b || strstr(cap.msg[i], b)) &&
		    (!c || strstr(cap.msg[i], c)))
			return cap.msg[i];
	return NULL;
}

static void cap_dump(void)
{
	for (unsigned i = 0; i < cap.n; i++)
		fprintf(stderr, "   [%d] %s\n", cap.prio[i], cap.msg[i]);
}

#define CHECK_REPORTED(a, b, c)                                                                    \
	do {                                                                                       \
		if (!cap_find(a, b, c))                                                            \
			cap_dump();                                                                \
		CHECK_MSG(cap_find(a, b, c), "no report containing '%s' '%s' '%s'", a,             \
		          (b) ? (b) : "", (c) ? (c) : "");                                         \
	} while (0)

/* Parse text as file "test.conf" for service "sudo". */
static int parse(struct ts_config *c, const char *text)
{
	cap_reset();
	ts_config_defaults(c);
	return ts_config_parse(c, text, strlen(text), "sudo", "test.conf", &rep);
}

/* A one-line file that must be refused, with a message naming the file, line
 * 1, the key and each of the given strings. */
static void expect_bad(const char *text, const char *key, const char *s1, const char *s2)
{
	struct ts_config c, before;

	ts_config_defaults(&before);
	CHECK_INT(parse(&c, text), TS_E_CONFIG);
	CHECK(memcmp(&c, &before, sizeof(c)) == 0); /* untouched on failure */
	CHECK_REPORTED("test.conf:1:", key, s1);
	if (s2)
		CHECK_REPORTED("test.conf:1:", key, s2);
	CHECK(cap_count(LOG_ERR) >= 1);
}

static const char *write_conf(const char *name, const char *text, unsigned mode)
{
	static char path[1024];

	(void)snprintf(path, sizeof(path), "%s/%s", ts_test_tmpdir(), name);
	ts_test_write_file(path, text, strlen(text), mode);
	return path;
}

/* ---- cases --------------------------------------------------------------- */

static void test_defaults(void)
{
	struct ts_config c;

	memset(&c, 0x5a, sizeof(c));
	ts_config_defaults(&c);
	CHECK_STR(c.issuer, "");
	CHECK_STR(c.client_id, "");
	CHECK_STR(c.client_secret_file, "");
	CHECK_STR(c.scopes, "openid profile offline_access");
	CHECK_STR(c.ca_file, "");
	CHECK_STR(c.token_endpoint, "");
	CHECK_STR(c.device_authorization_endpoint, "");
	CHECK_STR(c.userinfo_endpoint, "");
	CHECK_STR(c.introspection_endpoint, "");
	CHECK_STR(c.revocation_endpoint, "");
	CHECK(!c.allow_loopback_http);
	CHECK_INT(c.http_timeout, 10);
	CHECK_INT(c.max_response_size, 65536);
	CHECK_STR(c.keystore_dir, TS_DEFAULT_KEYSTORE_DIR);
	CHECK_STR(c.key_file, TS_DEFAULT_KEY_FILE);
	CHECK_STR(c.broker_path, TS_DEFAULT_BROKER);
	CHECK_STR(c.socket_path, TS_DEFAULT_SOCKET);
	CHECK_INT(c.n_login_methods, 1);
	CHECK_INT(c.login_methods[0], TS_LOGIN_DEVICE);
	CHECK_INT(c.device_timeout, 110);
	CHECK_STR(c.username_claim, "preferred_username");
	CHECK_STR(c.username_map, "");
	CHECK(!c.auth_with_stored_token);
	CHECK(!c.require_token);
	CHECK_INT(c.revalidate, TS_REVALIDATE_AUTO);
	CHECK_INT(c.revalidate_cache, 0);
	CHECK_INT(c.offline_grace, 0);
	CHECK_INT(c.refresh_window, 0);
	CHECK_INT(c.revoke_on, TS_REVOKE_LAST_SESSION);
	CHECK_INT((long)c.min_uid, 1000);
	CHECK_INT((long)c.max_uid, 60000);
	CHECK(!c.debug);
	/* nobody (65534) is never served by default; the NSS cache's own
	 * uids are */
	CHECK(!ts_config_uid_served(&c, 0));
	CHECK(!ts_config_uid_served(&c, 999));
	CHECK(ts_config_uid_served(&c, 1000));
	CHECK(ts_config_uid_served(&c, 60000));
	CHECK(!ts_config_uid_served(&c, 60001));
	CHECK(!ts_config_uid_served(&c, 65534));
	CHECK(ts_config_uid_served(&c, c.nss_uid_min));
	CHECK(!ts_config_uid_served(&c, (unsigned long)c.nss_uid_max + 1));
}

static const char good_conf[] = "# tokenseal test configuration\n"
                                "\n"
                                "   issuer   =   https://idp.example.org/realms/main  \n"
                                "client_id = tokenseal-host\n"
                                "client_secret_file = /etc/tokenseal/client.secret\n"
                                "scopes = openid email\n"
                                "ca_file = /etc/tokenseal/ca.pem\n"
                                "token_endpoint = https://idp.example.org/token\n"
                                "device_authorization_endpoint = https://idp.example.org/device\n"
                                "userinfo_endpoint = https://idp.example.org/userinfo\n"
                                "introspection_endpoint = https://idp.example.org/introspect\n"
                                "revocation_endpoint = https://idp.example.org/revoke\n"
                                "allow_loopback_http = yes\n"
                                "http_timeout = 30\n"
                                "max_response_size = 4096\n"
                                "keystore_dir = /srv/ts/store\n"
                                "key_file = /srv/ts/master.key\n"
                                "broker_path = /opt/ts/tokenseal-broker\n"
                                "socket_path = /srv/ts/broker.sock\n"
                                "login_methods = token, password device\n"
                                "device_timeout = 900\n"
                                "username_claim = email\n"
                                "username_map = strip-suffix:@example.org\n"
                                "require_token = on\n"
                                "revalidate = introspection\n"
                                "revalidate_cache = 3600\n"
                                "offline_grace = 604800\n"
                                "refresh_window = 86400\n"
                                "revoke_on = last-session\n"
                                "debug = 1\n"
                                "[service sudo]\n"
                                "auth_with_stored_token = true\n";

static void check_good(const struct ts_config *c)
{
	CHECK_STR(c->issuer, "https://idp.example.org/realms/main");
	CHECK_STR(c->client_id, "tokenseal-host");
	CHECK_STR(c->client_secret_file, "/etc/tokenseal/client.secret");
	CHECK_STR(c->scopes, "openid email");
	CHECK_STR(c->ca_file, "/etc/tokenseal/ca.pem");
	CHECK_STR(c->token_endpoint, "https://idp.example.org/token");
	CHECK_STR(c->device_authorization_endpoint, "https://idp.example.org/device");
	CHECK_STR(c->userinfo_endpoint, "https://idp.example.org/userinfo");
	CHECK_STR(c->introspection_endpoint, "https://idp.example.org/introspect");
	CHECK_STR(c->revocation_endpoint, "https://idp.example.org/revoke");
	CHECK(c->allow_loopback_http);
	CHECK_INT(c->http_timeout, 30);
	CHECK_INT(c->max_response_size, 4096);
	CHECK_STR(c->keystore_dir, "/srv/ts/store");
	CHECK_STR(c->key_file, "/srv/ts/master.key");
	CHECK_STR(c->broker_path, "/opt/ts/tokenseal-broker");
	CHECK_STR(c->socket_path, "/srv/ts/broker.sock");
	CHECK_INT(c->n_login_methods, 3);
	CHECK_INT(c->login_methods[0], TS_LOGIN_TOKEN);
	CHECK_INT(c->login_methods[1], TS_LOGIN_PASSWORD);
	CHECK_INT(c->login_methods[2], TS_LOGIN_DEVICE);
	CHECK_INT(c->device_timeout, 900);
	CHECK_STR(c->username_claim, "email");
	CHECK_STR(c->username_map, "strip-suffix:@example.org");
	CHECK(c->auth_with_stored_token);
	CHECK(c->require_token);
	CHECK_INT(c->revalidate, TS_REVALIDATE_INTROSPECTION);
	CHECK_INT(c->revalidate_cache, 3600);
	CHECK_INT(c->offline_grace, 604800);
	CHECK_INT(c->refresh_window, 86400);
	CHECK_INT(c->revoke_on, TS_REVOKE_LAST_SESSION);
	CHECK(c->debug);
}

static void test_good_file(void)
{
	const char *path = write_conf("good.conf", good_conf, 0644);
	struct ts_config c;

	cap_reset();
	ts_config_defaults(&c);
	CHECK_INT(ts_config_load(&c, path, "sudo", &rep), 0);
	CHECK_INT(cap.n, 0);
	check_good(&c);
	CHECK_INT(ts_config_validate(&c, path, &rep), 0);
	CHECK_INT(cap.n, 0);

	/* The other spellings of booleans and enums. */
	CHECK_INT(parse(&c, "debug = off\nrequire_token = false\n"
	                    "allow_loopback_http = no\nrevalidate = userinfo\nrevoke_on = never\n"
	                    "[service sudo]\nauth_with_stored_token = 0\n"),
	          0);
	CHECK(!c.debug && !c.require_token && !c.auth_with_stored_token && !c.allow_loopback_http);
	CHECK_INT(c.revalidate, TS_REVALIDATE_USERINFO);
	CHECK_INT(c.revoke_on, TS_REVOKE_NEVER);
	CHECK_INT(parse(&c, "debug = yes\nrevalidate = auto\nrevoke_on = logout\n"), 0);
	CHECK(c.debug);
	CHECK_INT(c.revalidate, TS_REVALIDATE_AUTO);
	CHECK_INT(c.revoke_on, TS_REVOKE_LOGOUT);

	/* Range edges are inside, refresh_window 0 means auto. */
	CHECK_INT(parse(&c, "http_timeout = 1\nrefresh_window = 0\ndevice_timeout = 10\n"
	                    "max_response_size = 1048576\n"),
	          0);
	CHECK_INT(c.http_timeout, 1);
	CHECK_INT(c.refresh_window, 0);
	CHECK_INT(c.device_timeout, 10);
	CHECK_INT(c.max_response_size, 1048576);
	CHECK_INT(parse(&c, "refresh_window = 10\nhttp_timeout = 120\n"), 0);
	CHECK_INT(c.refresh_window, 10);
	CHECK_INT(c.http_timeout, 120);

	/* An empty string value clears a string key. */
	CHECK_INT(parse(&c, "scopes =\n"), 0);
	CHECK_STR(c.scopes, "");
	/* username_map none clears the map. */
	CHECK_INT(parse(&c, "username_map = strip-suffix:@x\nusername_map = none\n"), 0);
	CHECK_STR(c.username_map, "");

	/* Empty and comment-only input is fine. */
	CHECK_INT(parse(&c, ""), 0);
	CHECK_INT(parse(&c, "# nothing\n\n   \t\n  # indented comment\n"), 0);
	CHECK_INT(cap.n, 0);
}

static void test_format_details(void)
{
	struct ts_config c;

	/* CRLF line ends, no newline at the end. */
	CHECK_INT(parse(&c, "client_id = a\r\nhttp_timeout = 20"), 0);
	CHECK_STR(c.client_id, "a");
	CHECK_INT(c.http_timeout, 20);
	/* A '#' after whitespace starts a trailing comment; inside a value it does not. */
	CHECK_INT(parse(&c, "http_timeout = 30   # seconds\nclient_id = a#b\n"
	                    "[service sudo]   # the sudo service\nscopes = openid # only\n"),
	          0);
	CHECK_INT(c.http_timeout, 30);
	CHECK_STR(c.client_id, "a#b");
	CHECK_STR(c.scopes, "openid");
	CHECK_INT(cap.n, 0);
	/* Keys are case-sensitive: a wrong case is an unknown key. */
	CHECK_INT(parse(&c, "Client_ID = x\n"), 0);
	CHECK_REPORTED("test.conf:1:", "unknown key 'Client_ID'", NULL);
	CHECK_STR(c.client_id, "");
}

static const char service_conf[] = "client_id = top\n"
                                   "http_timeout = 15\n"
                                   "[service sudo]\n"
                                   "http_timeout = 30\n"
                                   "login_methods = password\n"
                                   "[ service   sshd ]\n"
                                   "http_timeout = 60\n"
                                   "require_token = yes\n";

static void test_service_sections(void)
{
	const char *path = write_conf("svc.conf", service_conf, 0600);
	struct ts_config c;

	cap_reset();
	ts_config_defaults(&c);
	CHECK_INT(ts_config_load(&c, path, "sudo", &rep), 0);
	CHECK_STR(c.client_id, "top");
	CHECK_INT(c.http_timeout, 30);
	CHECK_INT(c.n_login_methods, 1);
	CHECK_INT(c.login_methods[0], TS_LOGIN_PASSWORD);
	CHECK(!c.require_token);

	ts_config_defaults(&c);
	CHECK_INT(ts_config_load(&c, path, "sshd", &rep), 0);
	CHECK_INT(c.http_timeout, 60);
	CHECK_INT(c.login_methods[0], TS_LOGIN_DEVICE);
	CHECK(c.require_token);

	ts_config_defaults(&c);
	CHECK_INT(ts_config_load(&c, path, "login", &rep), 0);
	CHECK_INT(c.http_timeout, 15);
	CHECK_INT(c.login_methods[0], TS_LOGIN_DEVICE);
	CHECK(!c.require_token);

	ts_config_defaults(&c);
	CHECK_INT(ts_config_load(&c, path, NULL, &rep), 0);
	CHECK_INT(c.http_timeout, 15);
	CHECK_INT(cap.n, 0);

	/* A section for another service is still checked for errors. */
	CHECK_INT(parse(&c, "[service sshd]\nhttp_timeout = 500\n"), TS_E_CONFIG);
	CHECK_REPORTED("test.conf:2:", "http_timeout", "500");

	/* Keys a sealed record is bound to are top-level only: a per-service
	 * issuer or client would quarantine the record another service wrote. */
	static const char *const global[] = {"issuer = https://b.example", "client_id = b",
					     "keystore_dir = /tmp/b", "key_file = /tmp/b.key",
					     "username_claim = email"};
	for (size_t i = 0; i < TS_ARRAY_SIZE(global); i++) {
		char text[200];
		char key[40];
		snprintf(text, sizeof(text), "client_id = a\n[service sudo]\n%s\n", global[i]);
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(global[i], " "), global[i]);
		CHECK_INT(parse(&c, text), TS_E_CONFIG);
		CHECK_MSG(cap_find("test.conf:3:", key, "[service] section"),
			  "no report refusing %s in a [service] section", key);
	}
	/* ... and every other key of the table marked top-level only. */
	static const char *const global2[] = {
	    "client_secret_file = /x", "ca_file = /x", "token_endpoint = https://x",
	    "device_authorization_endpoint = https://x", "userinfo_endpoint = https://x",
	    "introspection_endpoint = https://x", "revocation_endpoint = https://x",
	    "allow_loopback_http = yes", "broker_path = /x", "socket_path = /x",
	    "username_map = strip-suffix:@x"};
	for (size_t i = 0; i < TS_ARRAY_SIZE(global2); i++) {
		char text[200], want[300];
		int kl = (int)strcspn(global2[i], " ");
		snprintf(text, sizeof(text), "[service sshd]\n%s\n", global2[i]);
		snprintf(want, sizeof(want),
		         "test.conf:2: key '%.*s' cannot be set in a [service] section: every "
		         "service shares one token record per user, bound to one issuer, client "
		         "and store",
		         kl, global2[i]);
		CHECK_INT(parse(&c, text), TS_E_CONFIG);
		CHECK_INT(cap.n, 2);
		CHECK_STR(cap.msg[0], want);
		CHECK_STR(cap.msg[1], "test.conf: 1 error, configuration not loaded");
	}
	/* The keys that may be overridden per service still may. */
	CHECK_INT(parse(&c, "[service sudo]\nscopes = openid\nrevalidate = introspection\n"
	                    "revalidate_cache = 5\noffline_grace = 9\nrefresh_window = 60\n"
	                    "revoke_on = never\nmin_uid = 500\ndebug = yes\n"
	                    "max_response_size = 8192\ndevice_timeout = 60\n"),
	          0);
	CHECK_INT(cap.n, 0);
	CHECK_STR(c.scopes, "openid");
	CHECK_INT((long)c.min_uid, 500);
}

/* ts_config_load_fresh (the PAM module's load): the defaults, then the
 * file parsed in place; on any error the defaults again, as ts_config_load
 * on a struct that held the defaults; sections of other services checked
 * as before. */
static void test_load_fresh(void)
{
	const char *path = write_conf("svc.conf", service_conf, 0600);
	struct ts_config c, want, defaults;

	ts_config_defaults(&defaults);
	cap_reset();
	want = defaults;
	CHECK_INT(ts_config_load(&want, path, "sshd", &rep), 0);
	memset(&c, 0x5a, sizeof(c));
	CHECK_INT(ts_config_load_fresh(&c, path, "sshd", &rep), 0);
	CHECK_INT(c.http_timeout, 60);
	CHECK(c.require_token);
	CHECK(memcmp(&c, &want, sizeof(c)) == 0);
	CHECK_INT(cap.n, 0);

	/* an error after good lines: none of them stays */
	path = write_conf("fresh-bad.conf", "client_id = kept\nhttp_timeout = 20\n"
	                  "[service sshd]\nhttp_timeout = 500\n", 0600);
	cap_reset();
	CHECK_INT(ts_config_load_fresh(&c, path, "sudo", &rep), TS_E_CONFIG);
	CHECK_REPORTED("fresh-bad.conf:4:", "http_timeout", "500");
	CHECK(memcmp(&c, &defaults, sizeof(c)) == 0);

	/* the same file, an error under the caller's own section */
	cap_reset();
	CHECK_INT(ts_config_load_fresh(&c, path, "sshd", &rep), TS_E_CONFIG);
	CHECK(memcmp(&c, &defaults, sizeof(c)) == 0);

	/* a file that cannot be read: the defaults, reported */
	memset(&c, 0x5a, sizeof(c));
	cap_reset();
	CHECK_INT(ts_config_load_fresh(&c, "/nonexistent/tokenseal.conf", NULL, &rep), -ENOENT);
	CHECK_REPORTED("/nonexistent/tokenseal.conf", "not found", NULL);
	CHECK(memcmp(&c, &defaults, sizeof(c)) == 0);
}

/* auth_with_stored_token is a per-service policy: at the top level it would
 * make every service (sshd, login, su) accept a stored token. */
static void test_stored_token_per_service(void)
{
	struct ts_config c, before;

	ts_config_defaults(&before);
	CHECK_INT(parse(&c, "client_id = a\nauth_with_stored_token = yes\n"), TS_E_CONFIG);
	CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	CHECK_INT(cap.n, 2);
	CHECK_INT(cap.prio[0], LOG_ERR);
	CHECK_STR(cap.msg[0], "test.conf:2: key 'auth_with_stored_token' cannot be set at the top "
	                      "level: it belongs in a [service NAME] section, for the services "
	                      "that may accept it");
	CHECK_STR(cap.msg[1], "test.conf: 1 error, configuration not loaded");
	/* "no" at the top level is refused the same way: the key has no top-level meaning. */
	CHECK_INT(parse(&c, "auth_with_stored_token = no\n"), TS_E_CONFIG);
	CHECK_REPORTED("test.conf:1: key 'auth_with_stored_token' cannot be set at the top level",
	               NULL, NULL);

	/* In the section of the service being loaded: applied. */
	CHECK_INT(parse(&c, "[service sudo]\nauth_with_stored_token = yes\n"), 0);
	CHECK_INT(cap.n, 0);
	CHECK(c.auth_with_stored_token);
	/* In another service's section: checked, not applied. */
	CHECK_INT(parse(&c, "[service sshd]\nauth_with_stored_token = yes\n"), 0);
	CHECK(!c.auth_with_stored_token);
	CHECK_INT(parse(&c, "[service sshd]\nauth_with_stored_token = perhaps\n"), TS_E_CONFIG);
	CHECK_REPORTED("test.conf:2:", "'auth_with_stored_token'", "not a boolean");
	/* A key after a section header is in that section, never back at the top. */
	CHECK_INT(parse(&c, "[service sudo]\nclient_id = a\n"), TS_E_CONFIG);
	CHECK_REPORTED("test.conf:2: key 'client_id' cannot be set in a [service] section", NULL,
	               NULL);
}

static void test_unknown_key(void)
{
	const char *path = write_conf("unknown.conf", "client_id = x\n\nfrobnicate = 3\n", 0644);
	struct ts_config c;

	cap_reset();
	ts_config_defaults(&c);
	CHECK_INT(ts_config_load(&c, path, NULL, &rep), 0);
	CHECK_STR(c.client_id, "x");
	CHECK_INT(cap.n, 1);
	CHECK_INT(cap.prio[0], LOG_WARNING);
	CHECK_REPORTED(path, ":3:", "unknown key 'frobnicate', ignoring");

	/* A key made of control bytes is reported printably. */
	CHECK_INT(parse(&c, "a\x01"
	                    "b = 1\n"),
	          0);
	CHECK_REPORTED("test.conf:1:", "unknown key 'a?b'", NULL);
}

static void test_duplicate_key(void)
{
	struct ts_config c;

	CHECK_INT(parse(&c, "http_timeout = 20\nhttp_timeout = 40\n"), 0);
	CHECK_INT(c.http_timeout, 40);
	CHECK_INT(cap_count(LOG_WARNING), 1);
	CHECK_REPORTED("test.conf:2:", "http_timeout", "line 1");
	/* Setting a key in a section after the top level is an override, not a duplicate. */
	CHECK_INT(parse(&c, "http_timeout = 20\n[service sudo]\nhttp_timeout = 40\n"), 0);
	CHECK_INT(c.http_timeout, 40);
	CHECK_INT(cap.n, 0);
}

static void test_bad_numbers(void)
{
	expect_bad("http_timeout = abc\n", "'http_timeout'", "'abc' is not a number", "1..120");
	expect_bad("http_timeout = -5\n", "'http_timeout'", "-5", "1..120");
	expect_bad("http_timeout = +5\n", "'http_timeout'", "+5", "1..120");
	expect_bad("http_timeout = 5s\n", "'http_timeout'", "5s", "not a number");
	expect_bad("http_timeout = 0x10\n", "'http_timeout'", "0x10", "not a number");
	expect_bad("http_timeout = 1 0\n", "'http_timeout'", "1 0", "not a number");
	expect_bad("http_timeout =\n", "'http_timeout'", "not a number", "1..120");
	expect_bad("http_timeout = 121\n", "'http_timeout'", "121 is out of range", "1..120");
	expect_bad("http_timeout = 0\n", "'http_timeout'", "0 is out of range", "1..120");
	expect_bad("http_timeout = 18446744073709551616\n", "'http_timeout'",
	           "18446744073709551616 is out of range", "1..120");
	expect_bad("http_timeout = 99999999999999999999999\n", "'http_timeout'", "out of range",
	           NULL);
	expect_bad("revalidate_cache = 4294967296\n", "'revalidate_cache'", "out of range",
	           "0..3600");
	expect_bad("offline_grace = 604801\n", "'offline_grace'", "604801", "0..604800");
	expect_bad("refresh_window = 9\n", "'refresh_window'", "9 is out of range",
	           "0 or 10..86400");
	expect_bad("refresh_window = 86401\n", "'refresh_window'", "out of range", NULL);
	expect_bad("max_response_size = 4095\n", "'max_response_size'", "out of range",
	           "4096..1048576");
	expect_bad("device_timeout = 901\n", "'device_timeout'", "out of range", "10..900");
	expect_bad("device_timeout = 9\n", "'device_timeout'", "out of range", "10..900");
}

static void test_bad_values(void)
{
	char text[TS_CONFIG_LINE_MAX + 64];
	struct ts_config c;
	size_t n;

	expect_bad("debug = maybe\n", "'debug'", "'maybe' is not a boolean", NULL);
	expect_bad("require_token = Yes\n", "'require_token'", "not a boolean", NULL);
	expect_bad("revalidate = sometimes\n", "'revalidate'", "'sometimes'",
	           "auto, introspection, userinfo");
	expect_bad("revoke_on = always\n", "'revoke_on'", "'always'",
	           "logout, last-session, never");
	expect_bad("login_methods = sms\n", "'login_methods'", "'sms'", "device, password, token");
	expect_bad("login_methods = device,device\n", "'login_methods'", "'device' listed twice",
	           NULL);
	expect_bad("login_methods =\n", "'login_methods'", "needs 1 to 3", NULL);
	expect_bad("login_methods = , ,\n", "'login_methods'", "needs 1 to 3", NULL);
	expect_bad("username_map = lowercase\n", "'username_map'", "'lowercase'", NULL);
	expect_bad("username_map = strip-suffix:\n", "'username_map'", "strip-suffix:", NULL);
	expect_bad("client_id = a\x01z\n", "'client_id'", "control character", NULL);
	expect_bad("client_id = a\tz\n", "'client_id'", "control character", NULL);
	expect_bad("client_id = a\x7fz\n", "'client_id'", "control character", NULL);
	{
		static const char nul[] = "client_id = a\0z\n";
		cap_reset();
		ts_config_defaults(&c);
		CHECK_INT(ts_config_parse(&c, nul, sizeof(nul) - 1, NULL, "test.conf", &rep),
		          TS_E_CONFIG);
		CHECK_REPORTED("test.conf:1:", "'client_id'", "control character");
	}

	/* Too long for the field: an error, never a silent truncation. */
	n = (size_t)snprintf(text, sizeof(text), "issuer = https://");
	memset(text + n, 'a', TS_URL_MAX - 8 - 1);
	n += TS_URL_MAX - 8 - 1;
	text[n] = '\0'; /* exactly TS_URL_MAX - 1 bytes of value: fits */
	CHECK_INT(parse(&c, text), 0);
	CHECK_INT(strlen(c.issuer), TS_URL_MAX - 1);
	text[n++] = 'a';
	text[n] = '\0';
	expect_bad(text, "'issuer'", "too long", "at most 511");
	n = (size_t)snprintf(text, sizeof(text), "client_id = ");
	memset(text + n, 'c', TS_NAME_MAX);
	text[n + TS_NAME_MAX] = '\0';
	expect_bad(text, "'client_id'", "too long", NULL);
}

static void test_bad_lines(void)
{
	char text[TS_CONFIG_LINE_MAX + 64];
	struct ts_config c;

	expect_bad("issuer https://x\n", "expected 'key = value'", "issuer https://x", NULL);
	expect_bad("= value\n", "missing key name", NULL, NULL);
	expect_bad("[service]\n", "bad section header '[service]'", NULL, NULL);
	expect_bad("[services sudo]\n", "bad section header", "[services sudo]", NULL);
	expect_bad("[service sudo\n", "bad section header", NULL, NULL);
	expect_bad("[service a b]\n", "bad section header", NULL, NULL);
	expect_bad("[global]\n", "bad section header", NULL, NULL);
	expect_bad("[service sudo] x\n", "bad section header", NULL, NULL);

	/* Keys under a bad header are checked but never applied. */
	CHECK_INT(parse(&c, "[service sudo\nhttp_timeout = 77\n"), TS_E_CONFIG);

	/* A line of exactly TS_CONFIG_LINE_MAX bytes is fine, one more is not. */
	memset(text, ' ', sizeof(text));
	memcpy(text, "# x", 3);
	text[TS_CONFIG_LINE_MAX] = '\n';
	text[TS_CONFIG_LINE_MAX + 1] = '\0';
	CHECK_INT(parse(&c, text), 0);
	text[TS_CONFIG_LINE_MAX] = ' ';
	text[TS_CONFIG_LINE_MAX + 1] = '\n';
	text[TS_CONFIG_LINE_MAX + 2] = '\0';
	expect_bad(text, "line longer than 1024 bytes", NULL, NULL);
}

static void test_all_problems_reported(void)
{
	const char *path = write_conf("many.conf",
	                              "client_id = x\n"
	                              "http_timeout = 1000\n"
	                              "bogus = 1\n"
	                              "debug = perhaps\n"
	                              "just some words\n"
	                              "[service sshd]\n"
	                              "revoke_on = sometimes\n",
	                              0644);
	struct ts_config c, before;

	cap_reset();
	ts_config_defaults(&c);
	before = c;
	CHECK_INT(ts_config_load(&c, path, "sshd", &rep), TS_E_CONFIG);
	CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	CHECK_REPORTED(path, ":2:", "http_timeout");
	CHECK_REPORTED(path, ":3:", "unknown key 'bogus'");
	CHECK_REPORTED(path, ":4:", "debug");
	CHECK_REPORTED(path, ":5:", "expected 'key = value'");
	CHECK_REPORTED(path, ":7:", "revoke_on");
	CHECK_REPORTED(path, "4 errors", "not loaded");
	CHECK_INT(cap_count(LOG_WARNING), 1);
	CHECK_INT(cap_count(LOG_ERR), 5);
}

static void test_file_checks(void)
{
	char link[1024], big[TS_CONFIG_MAX_SIZE + 2];
	const char *path;
	struct ts_config c, before;

	ts_config_defaults(&before);

	path = write_conf("ww.conf", "client_id = x\n", 0666);
	cap_reset();
	c = before;
	CHECK_INT(ts_config_load(&c, path, NULL, &rep), TS_E_BAD_MODE);
	CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	CHECK_REPORTED(path, "refused: group- or world-writable (mode 0666)", "chmod go-w");

	path = write_conf("gw.conf", "client_id = x\n", 0620);
	cap_reset();
	CHECK_INT(ts_config_load(&c, path, NULL, &rep), TS_E_BAD_MODE);
	CHECK_REPORTED(path, "group- or world-writable (mode 0620)", NULL);

	path = write_conf("target.conf", "client_id = x\n", 0644);
	(void)snprintf(link, sizeof(link), "%s/link.conf", ts_test_tmpdir());
	CHECK(symlink(path, link) == 0);
	cap_reset();
	CHECK_INT(ts_config_load(&c, link, NULL, &rep), TS_E_NOT_REGULAR);
	CHECK_REPORTED(link, "refused: not a regular file", NULL);

	/* A folder is not a configuration file either. */
	cap_reset();
	CHECK_INT(ts_config_load(&c, ts_test_tmpdir(), NULL, &rep), TS_E_NOT_REGULAR);
	CHECK_REPORTED(ts_test_tmpdir(), "not a regular file", NULL);

	memset(big, '#', sizeof(big));
	big[sizeof(big) - 1] = '\0'; /* TS_CONFIG_MAX_SIZE + 1 bytes */
	path = write_conf("big.conf", big, 0644);
	cap_reset();
	CHECK_INT(ts_config_load(&c, path, NULL, &rep), TS_E_TOO_BIG);
	CHECK_REPORTED(path, "refused: larger than 65536 bytes", NULL);
	/* Exactly the maximum is fine (comment lines of at most 1024 bytes). */
	for (size_t i = 1000; i < TS_CONFIG_MAX_SIZE; i += 1000)
		big[i] = '\n';
	big[TS_CONFIG_MAX_SIZE] = '\0';
	path = write_conf("max.conf", big, 0644);
	cap_reset();
	CHECK_INT(ts_config_load(&c, path, NULL, &rep), 0);

	(void)snprintf(link, sizeof(link), "%s/absent.conf", ts_test_tmpdir());
	cap_reset();
	CHECK_INT(ts_config_load(&c, link, NULL, &rep), -ENOENT);
	CHECK_REPORTED(link, "not found", NULL);
	CHECK(memcmp(&c, &before, sizeof(c)) == 0);
}

static void test_owner(void)
{
	const char *path = write_conf("owner.conf", "client_id = x\n", 0644);
	struct ts_config c;

	ts_config_defaults(&c);
	cap_reset();
	if (getuid() == 0) {
		/* Root: a file owned by anyone else is refused. */
		CHECK(chown(path, 12345, 0) == 0);
		CHECK_INT(ts_config_load(&c, path, NULL, &rep), TS_E_BAD_OWNER);
		CHECK_REPORTED(path, "refused: owned by uid 12345, not by root", "chown root");
		CHECK_STR(c.client_id, "");
		CHECK(chown(path, 0, 0) == 0);
		cap_reset();
		CHECK_INT(ts_config_load(&c, path, NULL, &rep), 0);
		CHECK_STR(c.client_id, "x");
	} else {
		/* Not root and no extra privilege: the real uid's own file is accepted. */
		CHECK_INT(ts_config_load(&c, path, NULL, &rep), 0);
		CHECK_STR(c.client_id, "x");
	}
}

/* With no report callback, problems go to stderr (the CLI's sink). */
static void parse_with_stderr(const char *text, const struct ts_config_report *sink, char *out,
			      size_t outlen)
{
	char path[600];
	struct ts_config c;
	int saved, fd;
	char *got;

	snprintf(path, sizeof(path), "%s/stderr.txt", ts_test_tmpdir());
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(saved >= 0 && fd >= 0);
	CHECK(dup2(fd, 2) == 2);
	close(fd);
	ts_config_defaults(&c);
	CHECK_INT(ts_config_parse(&c, text, strlen(text), NULL, "log.conf", sink), 0);
	fflush(stderr);
	CHECK(dup2(saved, 2) == 2);
	close(saved);
	got = ts_test_read_file(path, NULL);
	snprintf(out, outlen, "%s", got);
	free(got);
}

static void test_report_to_stderr(void)
{
	const struct ts_config_report empty = {0};
	char text[1200];

	parse_with_stderr("zzz = 1\n", NULL, text, sizeof(text));
	CHECK(strstr(text, "log.conf:1: unknown key 'zzz'"));
	parse_with_stderr("yyy = 1\n", &empty, text, sizeof(text));
	CHECK(strstr(text, "'yyy'"));
}

static void base_valid(struct ts_config *c)
{
	ts_config_defaults(c);
	CHECK_INT(ts_strlcpy(c->issuer, "https://idp.example.org", sizeof(c->issuer)), 0);
	CHECK_INT(ts_strlcpy(c->client_id, "host", sizeof(c->client_id)), 0);
}

static int validate_with(const char *text)
{
	struct ts_config c;

	cap_reset();
	ts_config_defaults(&c);
	CHECK_INT(ts_config_parse(&c, text, strlen(text), NULL, "v.conf", &rep), 0);
	return ts_config_validate(&c, "v.conf", &rep);
}

static void test_validate(void)
{
	struct ts_config c;

	base_valid(&c);
	cap_reset();
	CHECK_INT(ts_config_validate(&c, "v.conf", &rep), 0);
	CHECK_INT(cap.n, 0);

	/* Defaults alone: no issuer, no client_id, both reported. */
	ts_config_defaults(&c);
	cap_reset();
	CHECK_INT(ts_config_validate(&c, "v.conf", &rep), TS_E_CONFIG);
	CHECK_REPORTED("v.conf", "issuer is not set", NULL);
	CHECK_REPORTED("v.conf", "client_id is not set", NULL);
	CHECK_INT(cap_count(LOG_ERR), 2);

	CHECK_INT(validate_with("client_id = a\nissuer = http://idp.example.org\n"), TS_E_CONFIG);
	CHECK_REPORTED("v.conf", "issuer 'http://idp.example.org'", "https://");
	CHECK_INT(validate_with("client_id = a\nissuer = http://127.0.0.1:8443\n"), TS_E_CONFIG);
	CHECK_INT(validate_with("client_id = a\nissuer = http://127.0.0.1:8443\n"
	                        "allow_loopback_http = yes\n"),
	          0);
	CHECK_INT(validate_with("client_id = a\nissuer = http://[::1]/realm\n"
	                        "allow_loopback_http = yes\n"),
	          0);
	CHECK_INT(validate_with("client_id = a\nissuer = http://127.0.0.1\n"
	                        "allow_loopback_http = yes\n"),
	          0);
	CHECK_INT(validate_with("client_id = a\nissuer = http://127.0.0.10\n"
	                        "allow_loopback_http = yes\n"),
	          TS_E_CONFIG);
	CHECK_INT(validate_with("client_id = a\nissuer = http://idp.example.org\n"
	                        "allow_loopback_http = yes\n"),
	          TS_E_CONFIG);
	CHECK_REPORTED("v.conf", "issuer", "not a valid URL");
	CHECK_INT(validate_with("client_id = a\nissuer = http://localhost\n"
	                        "allow_loopback_http = yes\n"),
	          TS_E_CONFIG);
	CHECK_INT(validate_with("client_id = a\nissuer = https://\n"), TS_E_CONFIG);
	CHECK_INT(validate_with("client_id = a\nissuer = https:///x\n"), TS_E_CONFIG);
	CHECK_INT(validate_with("client_id = a\nissuer = https://a b\n"), TS_E_CONFIG);
	CHECK_INT(validate_with("client_id = a\nissuer = ftp://x\n"), TS_E_CONFIG);
	CHECK_INT(validate_with("client_id = a\nissuer = idp.example.org\n"), TS_E_CONFIG);

	/* Endpoint overrides follow the same rules. */
	CHECK_INT(validate_with("client_id = a\nissuer = https://i\n"
	                        "token_endpoint = http://i/token\n"),
	          TS_E_CONFIG);
	CHECK_REPORTED("v.conf", "token_endpoint 'http://i/token'", NULL);
	CHECK_INT(validate_with("client_id = a\nissuer = https://i\n"
	                        "revocation_endpoint = https://i/revoke\n"),
	          0);

	/* Paths must be absolute; the state paths must not be empty. */
	CHECK_INT(validate_with("client_id = a\nissuer = https://i\nkey_file = master.key\n"
	                        "ca_file = ./ca.pem\n"),
	          TS_E_CONFIG);
	CHECK_REPORTED("v.conf", "key_file 'master.key' must be an absolute path", NULL);
	CHECK_REPORTED("v.conf", "ca_file './ca.pem'", "absolute");
	CHECK_INT(cap_count(LOG_ERR), 2);
	CHECK_INT(validate_with("client_id = a\nissuer = https://i\nkeystore_dir =\n"),
	          TS_E_CONFIG);
	CHECK_REPORTED("v.conf", "keystore_dir must not be empty", NULL);
	CHECK_INT(validate_with("client_id = a\nissuer = https://i\nca_file =\n"
	                        "client_secret_file =\n"),
	          0);
}

/* A pasted token can only be shown to belong to this client by
 * introspection; a configuration that would check it with userinfo is an
 * error with the reason. */
static void test_validate_token_method(void)
{
	static const char base[] = "client_id = a\nissuer = https://i\n";
	char text[300];

	snprintf(text, sizeof(text), "%slogin_methods = device, token\nrevalidate = userinfo\n"
	                             "client_secret_file = /etc/tokenseal/client.secret\n",
	         base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 1);
	CHECK_STR(cap.msg[0], "v.conf: login_methods includes token, but revalidate = userinfo: "
	                      "pasted tokens can only be checked with introspection, which needs "
	                      "client_secret_file");

	snprintf(text, sizeof(text), "%slogin_methods = token\n", base); /* auto, no secret */
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 1);
	CHECK_STR(cap.msg[0], "v.conf: login_methods includes token, but revalidate = auto without "
	                      "client_secret_file uses userinfo: pasted tokens can only be checked "
	                      "with introspection, which needs client_secret_file");

	/* auto with a secret, and introspection, are fine; so is no token method. */
	snprintf(text, sizeof(text),
	         "%slogin_methods = token\nclient_secret_file = /etc/tokenseal/client.secret\n",
	         base);
	CHECK_INT(validate_with(text), 0);
	snprintf(text, sizeof(text), "%slogin_methods = password, token\nrevalidate = introspection\n",
	         base);
	CHECK_INT(validate_with(text), 0);
	snprintf(text, sizeof(text), "%slogin_methods = device, password\nrevalidate = userinfo\n",
	         base);
	CHECK_INT(validate_with(text), 0);
	CHECK_INT(cap.n, 0);
}

/* client_auth: basic and post send a secret, none sends none. */
static void test_validate_client_auth(void)
{
	static const char base[] = "client_id = a\nissuer = https://i\n";
	static const char secret[] = "client_secret_file = /etc/tokenseal/client.secret\n";
	char text[300];

	snprintf(text, sizeof(text), "%sclient_auth = post\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 1);
	CHECK_STR(cap.msg[0], "v.conf: client_auth = post needs client_secret_file (a public "
	                      "client uses client_auth = none or auto)");
	snprintf(text, sizeof(text), "%sclient_auth = basic\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	snprintf(text, sizeof(text), "%sclient_auth = none\n%s", base, secret);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 1);
	CHECK_STR(cap.msg[0], "v.conf: client_auth = none sends no client secret, but "
	                      "client_secret_file is set: remove one of them");
	snprintf(text, sizeof(text), "%sclient_auth = none\n", base);
	CHECK_INT(validate_with(text), 0);
	snprintf(text, sizeof(text), "%sclient_auth = post\n%s", base, secret);
	CHECK_INT(validate_with(text), 0);
	snprintf(text, sizeof(text), "%sclient_auth = auto\n", base);
	CHECK_INT(validate_with(text), 0);
	CHECK_INT(cap.n, 0);
}

/* Every path the configuration names gets the whole-path check. */
static void test_check_paths(void)
{
	const char *d = ts_test_tmpdir();
	char good[300], gw[300], ww[300], text[4096], want[1200], conf[400];
	struct ts_config c;

	snprintf(good, sizeof(good), "%s/paths-good", d);
	snprintf(gw, sizeof(gw), "%s/paths-gw", d);
	snprintf(ww, sizeof(ww), "%s/paths-ww", d);
	CHECK_INT(mkdir(good, 0755), 0);
	CHECK_INT(mkdir(gw, 0700), 0);
	CHECK_INT(chmod(gw, 0775), 0);
	CHECK_INT(mkdir(ww, 0700), 0);
	CHECK_INT(chmod(ww, 0777), 0);
	snprintf(text, sizeof(text), "%s/ca.pem", good);
	ts_test_write_file(text, "x", 1, 0644);
	snprintf(text, sizeof(text), "%s/client.secret", good);
	ts_test_write_file(text, "x", 1, 0600);
	snprintf(text, sizeof(text), "%s/broker", good);
	ts_test_write_file(text, "x", 1, 0755);
	snprintf(text, sizeof(text), "%s/broker", gw);
	ts_test_write_file(text, "x", 1, 0755);

	/* all good: key_file and keystore_dir do not exist yet, the socket's
	 * folder does */
	snprintf(text, sizeof(text),
	         "ca_file = %s/ca.pem\nclient_secret_file = %s/client.secret\n"
	         "broker_path = %s/broker\nkey_file = %s/master.key\nkeystore_dir = %s/store\n"
	         "socket_path = %s/broker.sock\n",
	         good, good, good, good, good, good);
	write_conf("paths.conf", text, 0644);
	snprintf(conf, sizeof(conf), "%s/paths.conf", d);
	cap_reset();
	ts_config_defaults(&c);
	CHECK_INT(ts_config_load(&c, conf, NULL, &rep), 0);
	CHECK_INT(ts_config_check_paths(&c, conf, &rep), 0);
	CHECK_INT(cap.n, 0);

	/* each problem reported, naming the key, the path and the component */
	snprintf(text, sizeof(text),
	         "ca_file = %s/missing.pem\nbroker_path = %s/broker\nkey_file = %s/master.key\n"
	         "keystore_dir = %s/store/x\nsocket_path = %s/s.sock\n",
	         good, gw, ww, good, gw);
	cap_reset();
	ts_config_defaults(&c);
	CHECK_INT(ts_config_parse(&c, text, strlen(text), NULL, conf, &rep), 0);
	CHECK_INT(ts_config_check_paths(&c, conf, &rep), TS_E_CONFIG);
	if (cap.n != 5)
		cap_dump();
	CHECK_INT(cap.n, 5);
	snprintf(want, sizeof(want), "%s: ca_file %s/missing.pem refused: %s/missing.pem: does not exist",
	         conf, good, good);
	CHECK_STR(cap.msg[0], want);
	/* a store folder may be missing, but not its parent too */
	snprintf(want, sizeof(want), "%s: keystore_dir %s/store/x refused: %s/store: does not exist",
	         conf, good, good);
	CHECK_STR(cap.msg[1], want);
	snprintf(want, sizeof(want),
	         "%s: key_file %s/master.key refused: %s: group- or world-writable (mode 0777)", conf,
	         ww, ww);
	CHECK_STR(cap.msg[2], want);
	snprintf(want, sizeof(want),
	         "%s: broker_path %s/broker refused: %s: group- or world-writable (mode 0775)", conf,
	         gw, gw);
	CHECK_STR(cap.msg[3], want);
	snprintf(want, sizeof(want),
	         "%s: socket_path %s/s.sock refused: %s: group- or world-writable (mode 0775)", conf,
	         gw, gw);
	CHECK_STR(cap.msg[4], want);

	/* the configuration file itself */
	CHECK_INT(chmod(d, 0775), 0);
	cap_reset();
	ts_config_defaults(&c);
	c.broker_path[0] = c.socket_path[0] = c.key_file[0] = c.keystore_dir[0] = '\0';
	CHECK_INT(ts_config_check_paths(&c, conf, &rep), TS_E_CONFIG);
	CHECK_INT(cap.n, 1);
	snprintf(want, sizeof(want),
	         "%s: the configuration file refused: %s: group- or world-writable (mode 0775)", conf,
	         d);
	CHECK_STR(cap.msg[0], want);
	CHECK_INT(chmod(d, 0700), 0);
	/* a name that is not a path (the fuzz target's origin) is not checked */
	cap_reset();
	CHECK_INT(ts_config_check_paths(&c, "(built-in)", &rep), 0);
}

/* The nss_* keys: defaults, each validation error naming its key, the
 * parser's own range checks, the top-level scope and nss_cache = none. */
static void test_nss_keys(void)
{
	static const char base[] = "client_id = a\nissuer = https://i\n";
	char text[2400], want[600];
	struct ts_config c;

	ts_config_defaults(&c);
	CHECK_STR(c.nss_cache, TS_NSSCACHE_PATH);
	CHECK_INT(c.nss_uid_min, TS_NSSCACHE_UID_MIN_DEFAULT);
	CHECK_INT(c.nss_uid_max, TS_NSSCACHE_UID_MAX_DEFAULT);
	CHECK_INT(c.nss_gid, 0);
	CHECK_STR(c.nss_home, TS_NSSCACHE_HOME_DEFAULT);
	CHECK_STR(c.nss_shell, TS_NSSCACHE_SHELL_DEFAULT);
	CHECK_STR(c.nss_resolve_unknown, "");
	CHECK(ts_config_nss_cache_on(&c));

	/* a good set */
	snprintf(text, sizeof(text),
	         "%snss_cache = /var/cache/ts/u.cache\nnss_uid_min = 200000\nnss_uid_max = 299999\n"
	         "nss_gid = 100\nnss_home = /srv/home/%%U-%%u%%%%\nnss_shell = /bin/sh\n"
	         "nss_resolve_unknown = [a-z]+\\.[a-z]+\n",
	         base);
	CHECK_INT(validate_with(text), 0);
	CHECK_INT(cap.n, 0);

	/* min >= max, and equal */
	snprintf(text, sizeof(text), "%snss_uid_min = 3000000\nnss_uid_max = 2000000\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 1);
	CHECK_STR(cap.msg[0], "v.conf: nss_uid_min 3000000 must be below nss_uid_max 2000000");
	snprintf(text, sizeof(text), "%snss_uid_min = 2000000\nnss_uid_max = 2000000\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_REPORTED("v.conf: nss_uid_min 2000000 must be below nss_uid_max 2000000", NULL, NULL);
	/* too small a range: 9999 uids refused, 10000 accepted */
	snprintf(text, sizeof(text), "%snss_uid_min = 2000000\nnss_uid_max = 2009998\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 1);
	CHECK_STR(cap.msg[0], "v.conf: nss_uid_min 2000000 .. nss_uid_max 2009998 holds 9999 uids; "
	                      "at least 10000 are needed so that hashed uids rarely collide");
	snprintf(text, sizeof(text), "%snss_uid_min = 2000000\nnss_uid_max = 2009999\n", base);
	CHECK_INT(validate_with(text), 0);
	/* below min_uid */
	snprintf(text, sizeof(text), "%snss_uid_min = 500\nnss_uid_max = 100000\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 1);
	CHECK_STR(cap.msg[0], "v.conf: nss_uid_min 500 is below min_uid 1000: the broker refuses "
	                      "uids below min_uid, so cache users there could never sign in");
	snprintf(text, sizeof(text), "%snss_uid_min = 500\nnss_uid_max = 100000\nmin_uid = 500\n",
	         base);
	CHECK_INT(validate_with(text), 0);
	/* min_uid above max_uid: nothing would be served */
	snprintf(text, sizeof(text), "%smin_uid = 5000\nmax_uid = 4000\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 1);
	CHECK_STR(cap.msg[0], "v.conf: min_uid 5000 is above max_uid 4000: no uid would be served");
	/* groups_claim: checked when the file loads, not only at the first use */
	snprintf(text, sizeof(text), "%sgroups_claim = realm_access..roles\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 1);
	CHECK_STR(cap.msg[0], "v.conf: groups_claim 'realm_access..roles' is not a claim name or a "
	                      "dotted path (a name, or names joined by '.', at most 8, '\\.' for a "
	                      "dot inside a name, no control characters)");
	snprintf(text, sizeof(text), "%sgroups_claim = a.b.c.d.e.f.g.h.i\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	snprintf(text, sizeof(text), "%sgroups_claim = resource_access.my\\.client.roles\n", base);
	CHECK_INT(validate_with(text), 0);

	/* the parser's own ranges: 0 and past 4294967294 */
	expect_bad("nss_uid_min = 0\n", "nss_uid_min", "out of range", "1..4294967294");
	expect_bad("nss_uid_max = 4294967295\n", "nss_uid_max", "out of range", NULL);
	expect_bad("nss_gid = 4294967295\n", "nss_gid", "out of range", "0 or 1..4294967294");
	expect_bad("nss_uid_min = -5\n", "nss_uid_min", "not a number", NULL);

	/* home and shell: absolute, no ':', only %u %U %% */
	snprintf(text, sizeof(text), "%snss_home = home/%%u\nnss_shell = bash\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 2);
	CHECK_STR(cap.msg[0], "v.conf: nss_home 'home/%u' must be an absolute path without ':' "
	                      "whose only % sequences are %u (user name), %U (uid) and %%");
	CHECK_STR(cap.msg[1], "v.conf: nss_shell 'bash' must be an absolute path without ':' or '%'");
	snprintf(text, sizeof(text), "%snss_home = /home/%%n\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_REPORTED("v.conf: nss_home '/home/%n'", NULL, NULL);
	snprintf(text, sizeof(text), "%snss_home = /home/a:b\nnss_shell = /bin/%%s\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 2);
	snprintf(text, sizeof(text), "%snss_home =\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_REPORTED("v.conf: nss_home ''", NULL, NULL);

	/* the regex must compile; the error names the key */
	snprintf(text, sizeof(text), "%snss_resolve_unknown = [a-z+\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 1);
	CHECK_STR(cap.msg[0], "v.conf: nss_resolve_unknown '[a-z+' is not a POSIX extended regular "
	                      "expression that compiles (syntax error or too long)");
	snprintf(text, sizeof(text), "%snss_resolve_unknown = (ab\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_REPORTED("v.conf: nss_resolve_unknown '(ab'", NULL, NULL);

	/* nss_cache: absolute; empty is an error that says how to turn it off */
	snprintf(text, sizeof(text), "%snss_cache = nss/users.cache\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 1);
	CHECK_STR(cap.msg[0], "v.conf: nss_cache 'nss/users.cache' must be an absolute path");
	snprintf(text, sizeof(text), "%snss_cache =\n", base);
	CHECK_INT(validate_with(text), TS_E_CONFIG);
	CHECK_INT(cap.n, 1);
	CHECK_STR(cap.msg[0], "v.conf: nss_cache must not be empty (set it to none to write no NSS "
	                      "user cache)");
	/* none: off, and the other nss_* keys are not held against the file */
	snprintf(text, sizeof(text), "%snss_cache = none\nnss_uid_min = 5\nnss_uid_max = 6\n"
	         "nss_resolve_unknown = (\n", base);
	CHECK_INT(validate_with(text), 0);
	CHECK_INT(cap.n, 0);
	ts_config_defaults(&c);
	CHECK_INT(ts_config_parse(&c, text, strlen(text), NULL, "v.conf", &rep), 0);
	CHECK(!ts_config_nss_cache_on(&c));
	c.broker_path[0] = c.socket_path[0] = c.key_file[0] = c.keystore_dir[0] = '\0';
	cap_reset();
	CHECK_INT(ts_config_check_paths(&c, "(built-in)", &rep), 0);
	CHECK_INT(cap.n, 0);

	/* top level only: one cache per host */
	CHECK_INT(parse(&c, "[service sudo]\nnss_uid_min = 2000000\n"), TS_E_CONFIG);
	snprintf(want, sizeof(want), "test.conf:2: key 'nss_uid_min' cannot be set in a [service] "
	                             "section");
	CHECK_REPORTED(want, NULL, NULL);
	CHECK_INT(parse(&c, "[service sshd]\nnss_cache = none\n"), TS_E_CONFIG);
	CHECK_REPORTED("test.conf:2: key 'nss_cache' cannot be set in a [service] section", NULL,
	               NULL);
}

/* nss_cache gets the whole-path check of a path the broker creates, but a
 * problem there is a warning that fails nothing (the cache is never the
 * sign-in's problem). */
static void test_check_paths_nss(void)
{
	const char *d = ts_test_tmpdir();
	char dir[300], ww[300], text[1200], want[1200];
	struct ts_config c;

	snprintf(dir, sizeof(dir), "%s/nss-good", d);
	snprintf(ww, sizeof(ww), "%s/nss-ww", d);
	CHECK_INT(mkdir(dir, 0755), 0);
	CHECK_INT(mkdir(ww, 0700), 0);
	CHECK_INT(chmod(ww, 0777), 0);

	/* missing folder under a good one: fine (the broker creates it) */
	ts_config_defaults(&c);
	c.broker_path[0] = c.socket_path[0] = c.key_file[0] = c.keystore_dir[0] = '\0';
	snprintf(c.nss_cache, sizeof(c.nss_cache), "%s/nss/users.cache", dir);
	cap_reset();
	CHECK_INT(ts_config_check_paths(&c, "(built-in)", &rep), 0);
	CHECK_INT(cap.n, 0);

	/* a world-writable folder: reported as a warning, the result still 0 */
	snprintf(c.nss_cache, sizeof(c.nss_cache), "%s/nss/users.cache", ww);
	cap_reset();
	CHECK_INT(ts_config_check_paths(&c, "(built-in)", &rep), 0);
	CHECK_INT(cap.n, 1);
	CHECK_INT(cap.prio[0], LOG_WARNING);
	snprintf(want, sizeof(want),
	         "(built-in): nss_cache %s/nss/users.cache refused: %s: group- or world-writable "
	         "(mode 0777); the broker will not write the NSS user cache",
	         ww, ww);
	CHECK_STR(cap.msg[0], want);

	/* the folder is a file */
	snprintf(text, sizeof(text), "%s/nss", dir);
	ts_test_write_file(text, "x", 1, 0644);
	snprintf(c.nss_cache, sizeof(c.nss_cache), "%s/nss/users.cache", dir);
	cap_reset();
	CHECK_INT(ts_config_check_paths(&c, "(built-in)", &rep), 0);
	CHECK_INT(cap.n, 1);
	CHECK_INT(cap.prio[0], LOG_WARNING);
	CHECK_REPORTED("nss_cache", "not a folder", "will not write the NSS user cache");
}

static void test_map_username(void)
{
	struct ts_config c;
	char out[32];

	ts_config_defaults(&c);
	CHECK_INT(ts_config_map_username(&c, "alice@example.org", out, sizeof(out)), 0);
	CHECK_STR(out, "alice@example.org");

	CHECK_INT(parse(&c, "username_map = strip-suffix:@example.org\n"), 0);
	CHECK_INT(ts_config_map_username(&c, "alice@example.org", out, sizeof(out)), 0);
	CHECK_STR(out, "alice");
	/* The suffix is required: a name without it (another domain, another
	 * case, a longer domain, nothing before it) is refused, never passed
	 * through as a local name, and out is untouched. */
	memcpy(out, "keep", 5);
	CHECK_INT(ts_config_map_username(&c, "alice@EXAMPLE.ORG", out, sizeof(out)), -EINVAL);
	CHECK_INT(ts_config_map_username(&c, "bob", out, sizeof(out)), -EINVAL);
	CHECK_INT(ts_config_map_username(&c, "bob@example.org.evil", out, sizeof(out)), -EINVAL);
	CHECK_INT(ts_config_map_username(&c, "bob@evil.example", out, sizeof(out)), -EINVAL);
	CHECK_INT(ts_config_map_username(&c, "@example.org", out, sizeof(out)), -EINVAL);
	CHECK_INT(ts_config_map_username(&c, "", out, sizeof(out)), -EINVAL);
	CHECK_STR(out, "keep");
	CHECK_INT(ts_config_map_username(&c, "a@example.org", out, sizeof(out)), 0);
	CHECK_STR(out, "a");
	/* Without a map every name passes as it is. */
	ts_config_defaults(&c);
	CHECK_INT(ts_config_map_username(&c, "bob", out, sizeof(out)), 0);
	CHECK_STR(out, "bob");
	CHECK_INT(parse(&c, "username_map = strip-suffix:@example.org\n"), 0);

	/* Output too small: -ENAMETOOLONG and the output untouched. */
	memcpy(out, "keep", 5);
	CHECK_INT(ts_config_map_username(&c, "averyveryverylongname@example.org", out, 8),
	          -ENAMETOOLONG);
	CHECK_STR(out, "keep");
	CHECK_INT(ts_config_map_username(&c, "carol@example.org", out, 6), 0);
	CHECK_STR(out, "carol");
	CHECK_INT(ts_config_map_username(&c, "carol@example.org", out, 5), -ENAMETOOLONG);
}

static void test_names(void)
{
	static const char *const required[] = {
	    "issuer",
	    "client_id",
	    "client_secret_file",
	    "scopes",
	    "ca_file",
	    "keystore_dir",
	    "key_file",
	    "broker_path",
	    "socket_path",
	    "login_methods",
	    "username_claim",
	    "username_map",
	    "auth_with_stored_token",
	    "require_token",
	    "revalidate",
	    "revalidate_cache",
	    "offline_grace",
	    "refresh_window",
	    "background_refresh",
	    "http_timeout",
	    "revoke_on",
	    "min_uid",
	    "max_uid",
	    "allow_users",
	    "allow_groups",
	    "deny_groups",
	    "groups_claim",
	    "token_endpoint",
	    "device_authorization_endpoint",
	    "userinfo_endpoint",
	    "introspection_endpoint",
	    "revocation_endpoint",
	    "allow_loopback_http",
	    "max_response_size",
	    "device_timeout",
	    "debug",
	    "nss_cache",
	    "nss_uid_min",
	    "nss_uid_max",
	    "nss_gid",
	    "nss_home",
	    "nss_shell",
	    "nss_resolve_unknown",
	    "nss_reserved_names",
	    "group_map",
	    "nss_groups",
	    "client_auth",
	};
	size_t n = 0;

	while (ts_config_key_name(n))
		n++;
	CHECK_INT(n, TS_ARRAY_SIZE(required));
	for (size_t i = 0; i < TS_ARRAY_SIZE(required); i++) {
		bool found = false;
		for (size_t j = 0; j < n; j++)
			found = found || strcmp(ts_config_key_name(j), required[i]) == 0;
		CHECK_MSG(found, "key %s missing from the table", required[i]);
	}
	CHECK(ts_config_key_name(n) == NULL);
	CHECK(ts_config_key_name((size_t)-1) == NULL);

	CHECK_STR(ts_login_method_name(TS_LOGIN_DEVICE), "device");
	CHECK_STR(ts_login_method_name(TS_LOGIN_PASSWORD), "password");
	CHECK_STR(ts_login_method_name(TS_LOGIN_TOKEN), "token");
	CHECK_STR(ts_login_method_name((enum ts_login_method)7), "unknown");
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_good_file);
	RUN(test_format_details);
	RUN(test_service_sections);
	RUN(test_load_fresh);
	RUN(test_stored_token_per_service);
	RUN(test_unknown_key);
	RUN(test_duplicate_key);
	RUN(test_bad_numbers);
	RUN(test_bad_values);
	RUN(test_bad_lines);
	RUN(test_all_problems_reported);
	RUN(test_file_checks);
	RUN(test_owner);
	RUN(test_report_to_stderr);
	RUN(test_validate);
	RUN(test_validate_token_method);
	RUN(test_validate_client_auth);
	RUN(test_check_paths);
	RUN(test_nss_keys);
	RUN(test_check_paths_nss);
	RUN(test_map_username);
	RUN(test_names);
	return ts_test_done();
}
