/* SPDX-License-Identifier: MIT */
/*
 * Self-test of the test fixtures (not of tokenseal): the IdP starts over HTTPS
 * with its own CA, answers discovery, issues tokens by the password grant and
 * by a device flow approved with approve-device, rotates refresh tokens, and
 * its operator routes (counters, revoke, disable, set-ttl) do what the tests
 * of the oauth client, broker and PAM module rely on. Also starts the fault
 * injector once. Token calls go through the curl command-line tool.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ts_idp.h"
#include "ts_test.h"

#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"
#define OUT_MAX 65536

static struct ts_idp idp;
static char secret[128];
static char curl_path[64];
static char out[OUT_MAX];

/* curl -s --cacert CA <args...>; the body lands in out; returns curl's status. */
static int curl(const char *ca, ...)
{
	const char *argv[40] = { curl_path, "-s", "--max-time", "20", "--cacert", ca };
	size_t n = 6;
	va_list ap;

	va_start(ap, ca);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 39;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return ts_idp_run(argv, out, sizeof(out));
}

/* The string value of "key" in a flat JSON object (no escapes expected). */
static int json_str(const char *json, const char *key, char *buf, size_t len)
{
	char pat[128];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(json, pat);
	if (!p)
		return -ENOENT;
	p += strlen(pat);
	e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= len)
		return -EINVAL;
	memcpy(buf, p, (size_t)(e - p));
	buf[e - p] = 0;
	return 0;
}

static long json_num(const char *json, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (!p)
		return -1;
	return strtol(p + strlen(pat), NULL, 10);
}

/* Alive and not a zombie (a container's init may be slow to reap). */
static int alive(int pid)
{
	char path[64], buf[256];
	FILE *f;
	char *p;

	if (kill(pid, 0) < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

static void url(char *buf, size_t len, const char *path)
{
	CHECK((size_t)snprintf(buf, len, "%s%s", idp.issuer, path) < len);
}

/* Password grant with the confidential client (HTTP basic). */
static int password_grant(const char *user, const char *pw, char *at, char *rt)
{
	char u[256], c[256], body_user[128], body_pw[128], tok[300];

	url(tok, sizeof(tok), "/token");
	snprintf(u, sizeof(u), "%s:%s", idp.conf_client, secret);
	snprintf(body_user, sizeof(body_user), "username=%s", user);
	snprintf(body_pw, sizeof(body_pw), "password=%s", pw);
	snprintf(c, sizeof(c), "scope=openid profile email");
	CHECK_INT(curl(idp.ca, "-u", u, "-d", "grant_type=password", "-d", body_user, "-d", body_pw,
		       "-d", c, tok, NULL),
		  0);
	if (json_str(out, "access_token", at, 256) < 0)
		return -1;
	CHECK(json_str(out, "refresh_token", rt, 256) == 0);
	CHECK(strstr(out, "\"id_token\":\"") != NULL);
	CHECK_STR(strstr(out, "\"token_type\":\"Bearer\"") ? "Bearer" : out, "Bearer");
	return 0;
}

static int refresh(const char *rt, char *new_at, char *new_rt)
{
	char u[256], body[300], tok[300];

	url(tok, sizeof(tok), "/token");
	snprintf(u, sizeof(u), "%s:%s", idp.conf_client, secret);
	snprintf(body, sizeof(body), "refresh_token=%s", rt);
	CHECK_INT(curl(idp.ca, "-u", u, "-d", "grant_type=refresh_token", "-d", body, tok, NULL), 0);
	if (json_str(out, "access_token", new_at, 256) < 0)
		return -1;
	CHECK(json_str(out, "refresh_token", new_rt, 256) == 0);
	CHECK(strstr(out, "\"id_token\":\"") != NULL); /* OIDC: id_token on refresh */
	return 0;
}

/* 1 active, 0 inactive (introspection with the confidential client). */
static int introspect(const char *token)
{
	char u[256], body[300], ep[300];

	url(ep, sizeof(ep), "/token/introspection");
	snprintf(u, sizeof(u), "%s:%s", idp.conf_client, secret);
	snprintf(body, sizeof(body), "token=%s", token);
	CHECK_INT(curl(idp.ca, "-u", u, "-d", body, ep, NULL), 0);
	if (strstr(out, "\"active\":true"))
		return 1;
	CHECK_MSG(strstr(out, "\"active\":false") != NULL, "introspection: %s", out);
	return 0;
}

static void test_start_and_discovery(void)
{
	char ep[300], want[300];
	struct stat st;
	size_t len;
	char *s;

	CHECK_INT(ts_idp_start(&idp, 0), 0);
	CHECK(idp.port > 0);
	CHECK(idp.pid > 0);
	CHECK(alive(idp.pid));
	CHECK(strncmp(idp.issuer, "https://127.0.0.1:", 18) == 0);
	CHECK_STR(idp.conf_client, "tokenseal-conf");
	CHECK_STR(idp.public_client, "tokenseal-public");
	CHECK_INT(stat(idp.secret_file, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	s = ts_test_read_file(idp.secret_file, &len);
	CHECK(len > 16 && len < sizeof(secret) && s[len - 1] != '\n');
	memcpy(secret, s, len + 1);
	free(s);
	{
		char key[600];

		snprintf(key, sizeof(key), "%s/ca.key", idp.dir);
		CHECK_INT(stat(key, &st), 0);
		CHECK_INT(st.st_mode & 0077, 0); /* the CA key is not world-readable */
	}

	url(ep, sizeof(ep), "/.well-known/openid-configuration");
	CHECK_INT(curl(idp.ca, "-f", ep, NULL), 0);
	snprintf(want, sizeof(want), "\"issuer\":\"%s\"", idp.issuer);
	CHECK_MSG(strstr(out, want) != NULL, "discovery: %s", out);
	CHECK(strstr(out, "\"device_authorization_endpoint\"") != NULL);
	CHECK(strstr(out, "\"introspection_endpoint\"") != NULL);
	CHECK(strstr(out, "\"revocation_endpoint\"") != NULL);
	CHECK(strstr(out, "\"userinfo_endpoint\"") != NULL);
	CHECK(strstr(out, "\"password\"") != NULL);
	/* without the generated CA the certificate is not trusted */
	CHECK(curl("/etc/ssl/certs/ca-certificates.crt", "-f", ep, NULL) != 0);
}

static void test_password_grant(void)
{
	char at[256], rt[256], ep[300], auth[300];

	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
	CHECK_INT(password_grant("alice", "alice-pw", at, rt), 0);
	CHECK_INT(json_num(out, "expires_in"), 3600);
	CHECK_INT(introspect(at), 1);
	CHECK(strstr(out, "\"sub\":\"sub-alice\"") != NULL);

	url(ep, sizeof(ep), "/me");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", at);
	CHECK_INT(curl(idp.ca, "-H", auth, ep, NULL), 0);
	CHECK_MSG(strstr(out, "\"preferred_username\":\"alice\"") != NULL, "userinfo: %s", out);
	CHECK(strstr(out, "\"email\":\"alice@example.org\"") != NULL);
	CHECK(strstr(out, "\"sub\":\"sub-alice\"") != NULL);

	/* bad password and unknown user: invalid_grant */
	CHECK(password_grant("alice", "wrong", at, rt) < 0);
	CHECK(strstr(out, "\"error\":\"invalid_grant\"") != NULL);
	CHECK(password_grant("mallory", "x", at, rt) < 0);
	CHECK(strstr(out, "\"error\":\"invalid_grant\"") != NULL);

	CHECK_INT(ts_idp_count(&idp, "token:password"), 3);
	CHECK_INT(ts_idp_count(&idp, "introspection"), 1);
	CHECK_INT(ts_idp_count(&idp, "userinfo"), 1);
	CHECK_INT(ts_idp_count(&idp, "no-such-counter"), 0);
}

static void test_refresh_rotation(void)
{
	char at[256], rt[256], at2[256], rt2[256], at3[256], rt3[256];

	CHECK_INT(password_grant("alice", "alice-pw", at, rt), 0);
	CHECK_INT(refresh(rt, at2, rt2), 0);
	CHECK(strcmp(rt, rt2) != 0); /* rotated on every use */
	CHECK(strcmp(at, at2) != 0);
	/* reusing the rotated refresh token revokes the whole grant */
	CHECK(refresh(rt, at3, rt3) < 0);
	CHECK(strstr(out, "invalid_grant") != NULL);
	CHECK(refresh(rt2, at3, rt3) < 0);
	CHECK_INT(introspect(at2), 0);
	CHECK(ts_idp_count(&idp, "token:refresh_token") >= 3);
}

/* Start a device flow with the public client; fills device and user code. */
static void device_start(char *dc, char *uc)
{
	char ep[300], cid[128];

	url(ep, sizeof(ep), "/device/auth");
	snprintf(cid, sizeof(cid), "client_id=%s", idp.public_client);
	CHECK_INT(curl(idp.ca, "-d", cid, "-d", "scope=openid profile", ep, NULL), 0);
	CHECK_MSG(json_str(out, "device_code", dc, 256) == 0, "device auth: %s", out);
	CHECK(json_str(out, "user_code", uc, 64) == 0);
}

static void device_poll(const char *dc)
{
	char ep[300], cid[128], body[300];

	url(ep, sizeof(ep), "/token");
	snprintf(cid, sizeof(cid), "client_id=%s", idp.public_client);
	snprintf(body, sizeof(body), "device_code=%s", dc);
	CHECK_INT(curl(idp.ca, "-d", cid, "-d", "grant_type=" DEVICE_GRANT, "-d", body, ep, NULL), 0);
}

static void test_device_flow(void)
{
	char dc[256], uc[64], at[256], rt[256], ep[300], auth[300];

	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
	device_start(dc, uc);
	device_poll(dc);
	CHECK_MSG(strstr(out, "authorization_pending") != NULL, "poll: %s", out);
	CHECK_INT(ts_idp_approve_device(&idp, uc, "bob", "bob-pw", 0), 0);
	device_poll(dc);
	CHECK_MSG(json_str(out, "access_token", at, sizeof(at)) == 0, "poll: %s", out);
	CHECK(json_str(out, "refresh_token", rt, sizeof(rt)) == 0); /* without offline_access */
	url(ep, sizeof(ep), "/me");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", at);
	CHECK_INT(curl(idp.ca, "-H", auth, ep, NULL), 0);
	CHECK_MSG(strstr(out, "\"preferred_username\":\"bob\"") != NULL, "userinfo: %s", out);
	CHECK_INT(ts_idp_count(&idp, "token:" DEVICE_GRANT), 2);
	CHECK_INT(ts_idp_count(&idp, "device_authorization"), 1);

	/* denied: the client gets access_denied */
	device_start(dc, uc);
	CHECK_INT(ts_idp_approve_device(&idp, uc, "bob", "bob-pw", 1), 0);
	device_poll(dc);
	CHECK_MSG(strstr(out, "\"error\":\"access_denied\"") != NULL, "poll: %s", out);

	/* a wrong password is refused; the code stays pending */
	device_start(dc, uc);
	CHECK_INT(ts_idp_approve_device(&idp, uc, "bob", "wrong", 0), 1);
	device_poll(dc);
	CHECK(strstr(out, "authorization_pending") != NULL);
	/* an unknown user code is refused */
	CHECK_INT(ts_idp_approve_device(&idp, "ZZZZ-ZZZZ", "bob", "bob-pw", 0), 1);

	/* set-device-ttl: a code past its lifetime is answered expired_token */
	CHECK_INT(ts_idp_ctl(&idp, "set-device-ttl", "1"), 0);
	device_start(dc, uc);
	CHECK_INT(json_num(out, "expires_in"), 1);
	sleep(2);
	device_poll(dc);
	CHECK_MSG(strstr(out, "\"error\":\"expired_token\"") != NULL, "poll: %s", out);
	CHECK_INT(ts_idp_ctl(&idp, "set-device-ttl", "600"), 0);
	device_start(dc, uc);
	CHECK_INT(json_num(out, "expires_in"), 600);
}

static void test_operator_routes(void)
{
	char at[256], rt[256], at2[256], rt2[256];

	/* revoke-access-tokens: access tokens die early, the grant lives on */
	CHECK_INT(password_grant("bob", "bob-pw", at, rt), 0);
	CHECK_INT(introspect(at), 1);
	CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "bob"), 0);
	CHECK_INT(introspect(at), 0);
	CHECK_INT(refresh(rt, at2, rt2), 0);
	CHECK_INT(introspect(at2), 1);

	/* revoke-grant: refresh tokens die too */
	CHECK_INT(ts_idp_ctl(&idp, "revoke-grant", "bob"), 0);
	CHECK_INT(introspect(at2), 0);
	CHECK(refresh(rt2, at, rt) < 0);
	CHECK(strstr(out, "invalid_grant") != NULL);

	/* disable: grants revoked, logins refused; enable: back */
	CHECK_INT(password_grant("carol", "carol-pw", at, rt), 0);
	CHECK_INT(ts_idp_ctl(&idp, "disable", "carol"), 0);
	CHECK(refresh(rt, at2, rt2) < 0);
	CHECK(password_grant("carol", "carol-pw", at, rt) < 0);
	CHECK(strstr(out, "invalid_grant") != NULL);
	{
		char dc[256], uc[64];

		device_start(dc, uc);
		CHECK_INT(ts_idp_approve_device(&idp, uc, "carol", "carol-pw", 0), 1);
	}
	CHECK_INT(ts_idp_ctl(&idp, "enable", "carol"), 0);
	CHECK_INT(password_grant("carol", "carol-pw", at, rt), 0);

	/* set-ttl: new access tokens get the new lifetime */
	CHECK_INT(ts_idp_ctl(&idp, "set-ttl", "7"), 0);
	CHECK_INT(password_grant("carol", "carol-pw", at, rt), 0);
	CHECK_INT(json_num(out, "expires_in"), 7);
	CHECK_INT(ts_idp_ctl(&idp, "set-ttl", "3600"), 0);

	/* bad input to ctl fails */
	CHECK(ts_idp_ctl(&idp, "revoke-grant", "nobody") != 0);
	CHECK(ts_idp_ctl(&idp, "set-ttl", "soon") != 0);
	CHECK(ts_idp_ctl(&idp, "no-such-command", NULL) != 0);

	/* reset-counters */
	CHECK(ts_idp_count(&idp, "token") > 0);
	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
	CHECK_INT(ts_idp_count(&idp, "token"), 0);
}

static void test_write_config(void)
{
	char path[600], want[700];
	struct stat st;
	char *s;

	snprintf(path, sizeof(path), "%s/tokenseal.conf", idp.dir);
	CHECK_INT(ts_idp_write_config(&idp, path, "conf", "revalidate = introspection"), 0);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0644);
	s = ts_test_read_file(path, NULL);
	snprintf(want, sizeof(want), "issuer = %s\n", idp.issuer);
	CHECK(strstr(s, want) != NULL);
	CHECK(strstr(s, "client_id = tokenseal-conf\n") != NULL);
	snprintf(want, sizeof(want), "client_secret_file = %s\n", idp.secret_file);
	CHECK(strstr(s, want) != NULL);
	snprintf(want, sizeof(want), "ca_file = %s\n", idp.ca);
	CHECK(strstr(s, want) != NULL);
	CHECK(strstr(s, "keystore_dir = ") != NULL);
	CHECK(strstr(s, "\nrevalidate = introspection\n") != NULL);
	free(s);
	CHECK_INT(ts_idp_write_config(&idp, path, "public", NULL), 0);
	s = ts_test_read_file(path, NULL);
	CHECK(strstr(s, "client_id = tokenseal-public\n") != NULL);
	CHECK(strstr(s, "client_secret_file") == NULL);
	free(s);
	CHECK(ts_idp_write_config(&idp, path, "other", NULL) < 0);
}

static void test_faults(void)
{
	struct ts_faults f;
	char iss[300], ep[400], want[400];
	int pid;

	CHECK_INT(ts_faults_start(&f), 0);
	CHECK(f.pid > 0);
	CHECK_INT(ts_faults_issuer(&f, "ok", iss, sizeof(iss)), 0);
	snprintf(ep, sizeof(ep), "%s/.well-known/openid-configuration", iss);
	CHECK_INT(curl(f.ca, "-f", ep, NULL), 0);
	snprintf(want, sizeof(want), "\"issuer\":\"%s\"", iss);
	CHECK_MSG(strstr(out, want) != NULL, "discovery: %s", out);
	snprintf(want, sizeof(want), "\"token_endpoint\":\"%s/token\"", iss);
	CHECK(strstr(out, want) != NULL);

	CHECK_INT(ts_faults_issuer(&f, "discovery-other-issuer", iss, sizeof(iss)), 0);
	snprintf(ep, sizeof(ep), "%s/.well-known/openid-configuration", iss);
	CHECK_INT(curl(f.ca, "-f", ep, NULL), 0);
	CHECK(strstr(out, "\"issuer\":\"https://evil.example\"") != NULL);

	CHECK_INT(ts_faults_issuer(&f, "device-slow-down", iss, sizeof(iss)), 0);
	snprintf(ep, sizeof(ep), "%s/device", iss);
	CHECK_INT(curl(f.ca, "-d", "client_id=x", ep, NULL), 0);
	CHECK(strstr(out, "\"device_code\"") != NULL);
	snprintf(ep, sizeof(ep), "%s/token", iss);
	CHECK_INT(curl(f.ca, "-d", "grant_type=" DEVICE_GRANT, ep, NULL), 0);
	CHECK(strstr(out, "\"error\":\"slow_down\"") != NULL);
	CHECK_INT(ts_faults_polls(&f, "device-slow-down"), 1);

	CHECK_INT(ts_faults_issuer(&f, "http-503-retry-after", iss, sizeof(iss)), 0);
	snprintf(ep, sizeof(ep), "%s/token", iss);
	CHECK_INT(curl(f.ca, "-o", "/dev/null", "-w", "%{http_code}", "-d", "x=1", ep, NULL), 0);
	CHECK_STR(out, "503");

	pid = f.pid;
	ts_faults_stop(&f);
	CHECK(!alive(pid));
	ts_faults_stop(&f); /* idempotent */
}

static void test_stop(void)
{
	int pid = idp.pid;

	ts_idp_stop(&idp);
	CHECK(!alive(pid));
	ts_idp_stop(&idp); /* idempotent */
}

int main(void)
{
	if (access("/usr/bin/curl", X_OK) == 0)
		snprintf(curl_path, sizeof(curl_path), "/usr/bin/curl");
	else if (access("/usr/local/bin/curl", X_OK) == 0)
		snprintf(curl_path, sizeof(curl_path), "/usr/local/bin/curl");
	else
		TS_SKIP("the curl command-line tool is not installed (apt-get install curl)");

	RUN(test_start_and_discovery);
	RUN(test_password_grant);
	RUN(test_refresh_rotation);
	RUN(test_device_flow);
	RUN(test_operator_routes);
	RUN(test_write_config);
	RUN(test_faults);
	RUN(test_stop);
	return ts_test_done();
}
