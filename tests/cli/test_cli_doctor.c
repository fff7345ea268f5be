/* SPDX-License-Identifier: MIT */
/*
 * `tokenseal doctor --json` (label cli, idp): the real command, in exec
 * mode with the real broker, against the real test IdP (and, for an
 * http:// issuer, a plain HTTP server on 127.0.0.1 publishing a discovery
 * document shaped like Google's: no introspection, no revocation, no
 * offline_access in scopes_supported). The host files doctor lints are
 * fixtures: each run is in its own mount namespace with /etc/pam.d,
 * /etc/nsswitch.conf and /etc/ssh bind-mounted from the test's folder, and
 * a fresh /run (so `sshd -T` runs only where a case creates /run/sshd).
 * The stacks docs/pam.md prints (known good) are linted as printed.
 *
 * argv[1]: tokenseal, argv[2]: tokenseal-broker, argv[3]: docs/pam.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ts_idp.h"
#include "ts_test.h"

/* the exit status of a mistyped option (cli/doctor.h DOC_EXIT_USAGE) */
#define EXIT_USAGE 64

static struct ts_idp idp;
static const char *cli_bin, *broker_bin, *pam_md;
static char cfg[700], fix[700];
static json_t *last; /* the last run's JSON */
static int last_exit;
static bool run_sshd_t;

/* ---- fixtures ---- */

static void put(const char *rel, const char *text)
{
	char path[900];

	snprintf(path, sizeof(path), "%s/%s", fix, rel);
	ts_test_write_file(path, text, strlen(text), 0644);
}

static void mkdirs(const char *rel)
{
	char path[900];

	snprintf(path, sizeof(path), "%s/%s", fix, rel);
	CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
}

/* The stack docs/pam.md prints after "<!-- pam-stack: service=NAME". */
static void doc_stack(const char *service, char *out, size_t len)
{
	char *md = ts_test_read_file(pam_md, NULL), mark[128], *s, *b, *e;

	snprintf(mark, sizeof(mark), "<!-- pam-stack: service=%s ", service);
	s = strstr(md, mark);
	CHECK_MSG(s, "docs/pam.md prints no stack for %s", service);
	out[0] = '\0';
	if (s && (b = strstr(s, "```\n")) && (e = strstr(b + 4, "```"))) {
		size_t n = (size_t)(e - b - 4);

		CHECK(n < len);
		if (n < len) {
			memcpy(out, b + 4, n);
			out[n] = '\0';
		}
	}
	free(md);
}

/* A host as docs/pam.md and docs/nss.md describe it: the documented
 * sshd, login and sudo stacks, Debian's common-* files as the
 * pam-auth-update profile leaves them, tokenseal after files, and an sshd
 * that shows the device login. */
static void good_host(void)
{
	static const char *const svc[] = {"sshd", "login", "sudo", NULL};
	const char *const rm[] = {"/bin/rm", "-rf", fix, NULL};
	char text[4096];

	CHECK_INT(ts_idp_run(rm, NULL, 0), 0);
	CHECK(mkdir(fix, 0755) == 0);
	mkdirs("pam.d");
	mkdirs("ssh");
	mkdirs("ssh/sshd_config.d");
	for (size_t i = 0; svc[i]; i++) {
		char rel[64];

		doc_stack(svc[i], text, sizeof(text));
		snprintf(rel, sizeof(rel), "pam.d/%s", svc[i]);
		put(rel, text);
	}
	/* common-auth with the shipped profile (packaging/pam-configs) */
	put("pam.d/common-auth",
	    "auth\t[success=2 default=ignore]\tpam_unix.so nullok\n"
	    "auth\t[success=1 authinfo_unavail=ignore default=ignore]\tpam_tokenseal.so\n"
	    "auth\trequisite\t\t\tpam_deny.so\n"
	    "auth\trequired\t\t\tpam_permit.so\n");
	put("pam.d/common-account",
	    "account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\n"
	    "account\trequisite\t\t\tpam_deny.so\n"
	    "account\trequired\t\t\tpam_permit.so\n"
	    "account\trequired\t\t\tpam_tokenseal.so\n");
	put("pam.d/common-session", "session\trequired\tpam_unix.so\n");
	put("pam.d/common-session-noninteractive", "session\trequired\tpam_unix.so\n");
	put("pam.d/su", "auth sufficient pam_rootok.so\n@include common-auth\n");
	put("nsswitch.conf", "passwd:   files tokenseal\ngroup:    files tokenseal\n"
	                     "shadow:   files\nhosts:    files dns\n");
	put("ssh/sshd_config", "# Debian's, with what docs/pam.md asks for\n"
	                       "Include /etc/ssh/sshd_config.d/*.conf\n"
	                       "KbdInteractiveAuthentication yes\nUsePAM yes\n"
	                       "LoginGraceTime 0\n");
	put("ssh/sshd_config.d/empty.conf", "# nothing\n");
}

/* ---- running doctor ---- */

static void child(const char *config)
{
	static const char *const binds[][2] = {
	    {"pam.d", "/etc/pam.d"}, {"nsswitch.conf", "/etc/nsswitch.conf"}, {"ssh", "/etc/ssh"}};
	static char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	char src[900], env[800];

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		_exit(90);
	for (size_t i = 0; i < 3; i++) {
		snprintf(src, sizeof(src), "%s/%s", fix, binds[i][0]);
		if (mount(src, binds[i][1], NULL, MS_BIND, NULL) < 0)
			_exit(91);
	}
	if (mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0)
		_exit(92);
	if (run_sshd_t && mkdir("/run/sshd", 0755) < 0)
		_exit(93);
	snprintf(env, sizeof(env), "TOKENSEAL_CONFIG=%s", config);
	execle(cli_bin, "tokenseal", "doctor", "--json", (char *)NULL,
	       (char *const[]){env, path_env, NULL});
	_exit(94);
}

static void doctor(const char *config)
{
	static char out[262144];
	size_t got = 0;
	ssize_t k;
	int p[2], st = 0;
	pid_t pid;

	json_decref(last);
	last = NULL;
	CHECK(pipe(p) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		child(config);
	}
	close(p[1]);
	while (got < sizeof(out) - 1 && (k = read(p[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)k;
	close(p[0]);
	out[got] = '\0';
	CHECK(waitpid(pid, &st, 0) == pid);
	last_exit = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	CHECK_MSG(last_exit < 90, "the namespace setup failed (%d)", last_exit);
	last = json_loads(out, 0, NULL);
	CHECK_MSG(json_is_object(last), "doctor --json printed no JSON object: %s", out);
	/* the documented schema, every key present */
	CHECK(json_integer_value(json_object_get(last, "schema")) == 1);
	CHECK(json_integer_value(json_object_get(last, "exit_code")) == last_exit);
	CHECK(json_is_object(json_object_get(last, "counts")));
	{
		json_t *a = json_object_get(last, "checks"), *v;
		size_t i;

		CHECK(json_is_array(a) && json_array_size(a) > 0);
		json_array_foreach(a, i, v)
		{
			const char *s = json_string_value(json_object_get(v, "status"));

			CHECK(json_is_string(json_object_get(v, "name")));
			CHECK(json_is_string(json_object_get(v, "message")));
			CHECK(s && (!strcmp(s, "ok") || !strcmp(s, "warn") || !strcmp(s, "fail") ||
			            !strcmp(s, "skip")));
			CHECK(json_is_string(json_object_get(v, "fix")) ||
			      json_is_null(json_object_get(v, "fix")));
		}
	}
}

/* A check named name (a prefix when it ends in ':') with status whose
 * message holds text (NULL: any). */
static bool has(const char *name, const char *status, const char *text)
{
	json_t *v;
	size_t i, nl = strlen(name);

	json_array_foreach(json_object_get(last, "checks"), i, v)
	{
		const char *n = json_string_value(json_object_get(v, "name"));
		const char *s = json_string_value(json_object_get(v, "status"));
		const char *m = json_string_value(json_object_get(v, "message"));

		if (!n || !s || !m)
			continue;
		if ((name[nl - 1] == ':' ? strncmp(n, name, nl) : strcmp(n, name)) != 0)
			continue;
		if (!strcmp(s, status) && (!text || strstr(m, text)))
			return true;
	}
	return false;
}

static void dump(void)
{
	char *t = last ? json_dumps(last, JSON_INDENT(1)) : NULL;

	fprintf(stderr, "%s\n", t ? t : "(none)");
	free(t);
}

#define WANT(name, status, text)                                                                   \
	do {                                                                                       \
		if (!has(name, status, text)) {                                                    \
			dump();                                                                    \
			CHECK_MSG(0, "no %s check '%s' with \"%s\"", status, name,                 \
			          (const char *)(text) ? (const char *)(text) : "");               \
		}                                                                                  \
	} while (0)
#define NONE(name, status)                                                                         \
	do {                                                                                       \
		if (has(name, status, NULL)) {                                                     \
			dump();                                                                    \
			CHECK_MSG(0, "unexpected %s check '%s'", status, name);                    \
		}                                                                                  \
	} while (0)

#define EXIT(n)                                                                                    \
	do {                                                                                       \
		if (last_exit != (n)) {                                                            \
			dump();                                                                    \
			CHECK_MSG(0, "doctor exited %d, not %d", last_exit, (n));                  \
		}                                                                                  \
	} while (0)

static void write_cfg(const char *client, const char *extra)
{
	char all[2048];

	snprintf(all, sizeof(all), "broker_path = %s\n%s", broker_bin, extra ? extra : "");
	CHECK_INT(ts_idp_write_config(&idp, cfg, client, all), 0);
}

/* ---- cases ---- */

static const char sshd_device[] = "[service sshd]\nlogin_methods = device, password\n"
                                  "device_timeout = 300\n";

static void test_good_host(void)
{
	good_host();
	write_cfg("conf", sshd_device);
	doctor(cfg);
	EXIT(0);
	WANT("discovery", "ok", NULL);
	WANT("tls", "ok", "certificate is trusted");
	WANT("device-login", "ok", "sshd");
	WANT("grant-types", "ok", "refresh_token");
	WANT("client-auth", "ok", "client_secret_basic");
	WANT("revalidation", "ok", "introspection at https://");
	WANT("revocation", "ok", "logout revokes the grant at https://");
	WANT("client-auth-live", "ok", "the server accepted this client's authentication");
	WANT("offline-access", "ok", "is asked for and supported");
	WANT("pam-stacks", "ok", NULL);
	NONE("pam:", "warn");
	NONE("pam:", "fail");
	WANT("nsswitch-passwd", "ok", "files tokenseal");
	WANT("nsswitch-group", "ok", "files tokenseal");
	WANT("sshd-usepam", "ok", "/etc/ssh/sshd_config");
	WANT("sshd-kbdinteractive", "ok", NULL);
	WANT("sshd-logingracetime", "ok", NULL);
	CHECK_INT((int)json_integer_value(json_object_get(json_object_get(last, "counts"), "fail")),
	          0);
}

/* The stack docs/pam.md printed until issue 15: default=die without
 * ignore=ignore turns root's PAM_IGNORE into a failure. */
static void test_pam_root_lockout(void)
{
	good_host();
	put("pam.d/login",
	    "auth     [success=done authinfo_unavail=ignore default=die] pam_tokenseal.so\n"
	    "auth     include  common-auth\n"
	    "account  required pam_tokenseal.so\n"
	    "account  include  common-account\n");
	write_cfg("conf", NULL);
	doctor(cfg);
	EXIT(4);
	WANT("pam:login", "fail", "/etc/pam.d/login line 1: ");
	WANT("pam:login", "fail", "root cannot log in through this stack");
	NONE("pam:sshd", "fail");
	NONE("pam-stacks", "ok");
	/* default=bad the same; ignore=ignore lets it through */
	put("pam.d/login", "auth [success=ok default=bad] pam_tokenseal.so\n"
	                   "auth include common-auth\n");
	doctor(cfg);
	EXIT(4);
	WANT("pam:login", "fail", "into a failure (bad): root cannot log in");
	put("pam.d/login", "auth [success=ok ignore=ignore default=bad] pam_tokenseal.so\n"
	                   "auth include common-auth\n");
	doctor(cfg);
	NONE("pam:login", "fail");
}

/* tokenseal the only auth and account module: nothing lets root in. */
static void test_pam_only_module(void)
{
	good_host();
	put("pam.d/login", "auth required pam_tokenseal.so\naccount required pam_tokenseal.so\n");
	write_cfg("conf", NULL);
	doctor(cfg);
	EXIT(4);
	WANT("pam:login", "fail", "is its only auth module");
	WANT("pam:login", "fail", "is its only account module");
	WANT("pam:login", "warn", "line 1: `auth required pam_tokenseal.so` with no line before");
}

/* required with the password only after it: a warning, not a lock-out;
 * the password first (success=done) makes it fine. */
static void test_pam_required_first(void)
{
	good_host();
	put("pam.d/login", "auth requisite pam_tokenseal.so\nauth include common-auth\n"
	                   "account required pam_tokenseal.so\naccount include common-account\n");
	write_cfg("conf", NULL);
	doctor(cfg);
	EXIT(0);
	WANT("pam:login", "warn", "refused even with the right password");
	NONE("pam:login", "fail");
	put("pam.d/login", "auth [success=done default=ignore] pam_unix.so\n"
	                   "auth requisite pam_tokenseal.so\n"
	                   "account required pam_tokenseal.so\naccount include common-account\n");
	doctor(cfg);
	EXIT(0);
	NONE("pam:login", "warn");
	WANT("pam-stacks", "ok", NULL);
}

/* account lines whose control loses tokenseal's PAM_PERM_DENIED */
static void test_pam_account_ignored(void)
{
	static const char *const bad[] = {"[default=ignore]", "optional", "sufficient",
	                                  "[success=ok perm_denied=ignore default=bad]", NULL};
	char text[512];

	for (size_t i = 0; bad[i]; i++) {
		good_host();
		snprintf(text, sizeof(text),
		         "auth include common-auth\naccount %s pam_tokenseal.so\n"
		         "account include common-account\n",
		         bad[i]);
		put("pam.d/cron", text);
		write_cfg("conf", NULL);
		doctor(cfg);
		CHECK_MSG(last_exit == 4, "%s: exit %d", bad[i], last_exit);
		WANT("pam:cron", "fail", "ignores tokenseal's refusals");
	}
	/* an explicit perm_denied=bad overrides default=ignore */
	put("pam.d/cron", "auth include common-auth\n"
	                  "account [perm_denied=bad default=ignore] pam_tokenseal.so\n"
	                  "account include common-account\n");
	doctor(cfg);
	EXIT(0);
	NONE("pam:cron", "fail");
}

static void test_nsswitch(void)
{
	good_host();
	write_cfg("conf", NULL);
	put("nsswitch.conf", "passwd: tokenseal files\ngroup: files\n");
	doctor(cfg);
	EXIT(0);
	WANT("nsswitch-passwd", "warn", "asks tokenseal before files");
	WANT("nsswitch-group", "warn", "does not list tokenseal while the NSS cache is on");
	/* the cache off: nothing to list */
	write_cfg("conf", "nss_cache = none\n");
	doctor(cfg);
	WANT("nsswitch-group", "skip", "the NSS cache is off");
	NONE("nsswitch-group", "warn");
}

/* sshd_config read as sshd reads it: Include (relative to /etc/ssh),
 * the first value wins, Match ends the global section. */
static void test_sshd_config(void)
{
	good_host();
	write_cfg("conf", sshd_device);
	put("ssh/sshd_config", "Include sshd_config.d/*.conf\n"
	                       "KbdInteractiveAuthentication yes\nUsePAM yes\n"
	                       "Match User backup\n  LoginGraceTime 0\n");
	put("ssh/sshd_config.d/10-site.conf",
	    "KbdInteractiveAuthentication no\nLoginGraceTime 1m30s\n");
	doctor(cfg);
	EXIT(4);
	WANT("sshd-kbdinteractive", "fail",
	     "KbdInteractiveAuthentication no (/etc/ssh/sshd_config)");
	WANT("sshd-logingracetime", "warn",
	     "LoginGraceTime is 90 s (/etc/ssh/sshd_config) but "
	     "device_timeout is 300 s");
	WANT("sshd-usepam", "ok", NULL);
	/* a Match block is not the global section */
	put("ssh/sshd_config", "UsePAM yes\nLoginGraceTime 0\n"
	                       "Match User backup\n  KbdInteractiveAuthentication no\n");
	doctor(cfg);
	EXIT(0);
	WANT("sshd-kbdinteractive", "ok", NULL);
	/* no device login for sshd: those two do not apply */
	write_cfg("conf", "[service sshd]\nlogin_methods = password\n");
	doctor(cfg);
	EXIT(0);
	WANT("sshd-device-login", "skip", NULL);
	NONE("sshd-kbdinteractive", "fail");
	/* UsePAM: sshd's default is no */
	put("ssh/sshd_config", "KbdInteractiveAuthentication yes\n");
	doctor(cfg);
	EXIT(4);
	WANT("sshd-usepam", "fail", "not set (sshd's default is no)");
	/* sshd that has tokenseal only through common-auth (pam-auth-update) */
	put("pam.d/sshd", "@include common-auth\n@include common-account\n");
	doctor(cfg);
	EXIT(4);
	WANT("sshd-usepam", "fail", NULL);
	put("pam.d/common-auth", "auth [success=1 default=ignore] pam_unix.so\n"
	                         "auth requisite pam_deny.so\nauth required pam_permit.so\n");
	put("pam.d/common-account", "account required pam_unix.so\n");
	doctor(cfg);
	WANT("sshd", "skip", "/etc/pam.d/sshd does not use pam_tokenseal.so");
}

/* `sshd -T` when it can run (root, /run/sshd, a host key): its answer. */
static void test_sshd_t(void)
{
	char key[900];
	const char *const kg[] = {
	    "/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key, NULL};

	if (access("/usr/sbin/sshd", X_OK) < 0 || access(kg[0], X_OK) < 0) {
		fprintf(stderr, "   (no sshd or ssh-keygen: `sshd -T` not run)\n");
		return;
	}
	good_host();
	snprintf(key, sizeof(key), "%s/ssh/ssh_host_ed25519_key", fix);
	(void)unlink(key);
	CHECK_INT(ts_idp_run(kg, NULL, 0), 0);
	put("ssh/sshd_config", "HostKey /etc/ssh/ssh_host_ed25519_key\nUsePAM yes\n"
	                       "KbdInteractiveAuthentication yes\nLoginGraceTime 2m\n");
	write_cfg("conf", sshd_device);
	run_sshd_t = true;
	doctor(cfg);
	run_sshd_t = false;
	WANT("sshd-logingracetime", "warn", "LoginGraceTime is 120 s (`/usr/sbin/sshd -T`)");
	WANT("sshd-usepam", "ok", "sshd -T");
}

static void imitate(const char *name, const char *onoff)
{
	const char *argv[] = {TS_SOURCE_DIR "/tests/fixtures/idp/ctl",
	                      "--state-dir",
	                      idp.dir,
	                      "imitate",
	                      name,
	                      onoff,
	                      NULL};

	CHECK_MSG(ts_idp_run(argv, NULL, 0) == 0, "ctl imitate %s %s", name, onoff);
}

static void test_no_revocation(void)
{
	good_host();
	write_cfg("conf", NULL);
	imitate("no-revocation-endpoint", "on");
	doctor(cfg);
	imitate("no-revocation-endpoint", "off");
	EXIT(0);
	WANT("revocation", "warn", "no revocation endpoint: logout cannot end the grant");
	WANT("client-auth-live", "skip", "no revocation endpoint to try it on");
	/* revoke_on = never does not use it */
	write_cfg("conf", "revoke_on = never\n");
	imitate("no-revocation-endpoint", "on");
	doctor(cfg);
	imitate("no-revocation-endpoint", "off");
	WANT("revocation", "skip", NULL);
}

/* The live check: a secret the server does not know. */
static void test_wrong_secret(void)
{
	char secret[800], extra[1200];

	good_host();
	snprintf(secret, sizeof(secret), "%s/wrong-secret", ts_test_tmpdir());
	ts_test_write_file(secret, "not-the-secret", 14, 0600);
	snprintf(extra, sizeof(extra), "client_secret_file = %s\n", secret);
	write_cfg("conf", extra);
	doctor(cfg);
	EXIT(4);
	WANT("client-auth-live", "fail", "the server refused this client's authentication");
	WANT("discovery", "ok", NULL);
}

static void test_public_client(void)
{
	good_host();
	write_cfg("public", "client_auth = auto\n");
	doctor(cfg);
	EXIT(0);
	WANT("client-auth", "ok", "public client; the server accepts none");
	WANT("client-auth-live", "ok", NULL);
	WANT("revalidation", "ok", "public client: revalidate = auto uses userinfo at https://");
	/* forcing a method the server does not list */
	write_cfg("conf", "scopes = openid profile\n");
	doctor(cfg);
	WANT("offline-access", "warn", "does not ask for it");
}

/* ---- an http:// issuer: a plain HTTP server with a Google-shaped document ---- */

/* /google: the shape of Google's document (no introspection, no
 * revocation, no offline_access in scopes_supported); /bare: a server that
 * publishes only the token endpoint, and client_secret_post. */
static const char http_server[] =
    "const http=require('http'),fs=require('fs');"
    "const s=http.createServer((q,r)=>{const m=/^\\/(google|bare)\\/\\.well-known\\/"
    "openid-configuration$/.exec(q.url);"
    "if(!m){r.writeHead(404);return r.end();}"
    "const b='http://127.0.0.1:'+s.address().port+'/'+m[1];"
    "const d=m[1]==='bare'?{issuer:b,token_endpoint:b+'/token',jwks_uri:b+'/jwks',"
    "token_endpoint_auth_methods_supported:['client_secret_post']}:{"
    "issuer:b,authorization_endpoint:b+'/auth',device_authorization_endpoint:b+'/device',"
    "token_endpoint:b+'/token',userinfo_endpoint:b+'/userinfo',jwks_uri:b+'/jwks',"
    "response_types_supported:['code'],subject_types_supported:['public'],"
    "id_token_signing_alg_values_supported:['RS256'],"
    "scopes_supported:['openid','email','profile'],"
    "token_endpoint_auth_methods_supported:['client_secret_post','client_secret_basic'],"
    "grant_types_supported:['authorization_code','refresh_token',"
    "'urn:ietf:params:oauth:grant-type:device_code',"
    "'urn:ietf:params:oauth:grant-type:jwt-bearer']};"
    "r.writeHead(200,{'content-type':'application/json'});r.end(JSON.stringify(d));});"
    "s.listen(0,'127.0.0.1',()=>{fs.writeFileSync(process.argv[1]+'.tmp',"
    "String(s.address().port));fs.renameSync(process.argv[1]+'.tmp',process.argv[1]);});"
    "setInterval(()=>{try{process.kill(+process.argv[2],0)}catch(e){process.exit(0)}},500);";

static char http_port[16], http_cfg[800];

/* A configuration for the plain-http server's document doc, the
 * confidential client's secret, then extra. */
static void http_config(const char *doc, const char *extra)
{
	char text[8192];

	snprintf(http_cfg, sizeof(http_cfg), "%s/http.conf", ts_test_tmpdir());
	snprintf(text, sizeof(text),
	         "issuer = http://127.0.0.1:%s/%s\nclient_id = google-like\n"
	         "client_secret_file = %s\nallow_loopback_http = yes\n"
	         "keystore_dir = %s/keystore\nkey_file = %s/keystore.key\n"
	         "socket_path = %s/broker.sock\nnss_cache = %s/nss/users.cache\n"
	         "broker_path = %s\n%s",
	         http_port, doc, idp.secret_file, idp.dir, idp.dir, idp.dir, idp.dir, broker_bin,
	         extra ? extra : "");
	ts_test_write_file(http_cfg, text, strlen(text), 0644);
}

static void test_http_issuer(void)
{
	char portf[800], ppid[16];
	char *port;
	pid_t pid;

	snprintf(portf, sizeof(portf), "%s/http-port", ts_test_tmpdir());
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execlp("node", "node", "-e", http_server, portf, ppid, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && access(portf, R_OK) < 0; i++)
		usleep(50 * 1000);
	port = ts_test_read_file(portf, NULL);
	snprintf(http_port, sizeof(http_port), "%s", port);
	free(port);
	good_host();

	http_config("google", "[service sshd]\nlogin_methods = device, password\n");
	doctor(http_cfg);
	EXIT(4);
	WANT("discovery", "ok", NULL);
	WANT("tls", "warn",
	     "is plain http, not TLS: allowed only because allow_loopback_http = yes");
	NONE("tls", "ok");
	WANT("offline-access", "warn", "a server like Google answers invalid_scope");
	WANT("revocation", "warn", "no revocation endpoint");
	WANT("revalidation", "ok",
	     "no introspection endpoint: revalidate = auto will use userinfo");
	WANT("grant-types", "fail", "login_methods includes password (sshd)");
	WANT("client-auth", "ok", "client_auth = auto uses client_secret_basic");
	WANT("device-login", "ok", "sshd");

	/* what needs introspection, at a server without it */
	http_config("google", "revalidate = introspection\nscopes = openid profile\n");
	doctor(http_cfg);
	EXIT(4);
	WANT("revalidation", "fail", "revalidate = introspection but the server publishes no");
	http_config("google", "login_methods = token\nscopes = openid profile\n");
	doctor(http_cfg);
	EXIT(4);
	WANT("revalidation", "fail", "login_methods includes token (the top level)");

	/* a server that publishes almost nothing */
	http_config("bare", "login_methods = device\n");
	doctor(http_cfg);
	EXIT(4);
	WANT("device-login", "fail",
	     "login_methods includes device (the top level) but the "
	     "server publishes no device_authorization_endpoint");
	WANT("revalidation", "fail", "publishes no userinfo_endpoint (nor introspection)");
	WANT("grant-types", "skip", NULL);
	WANT("client-auth", "ok", "client_auth = auto uses client_secret_post");
	WANT("offline-access", "ok", "(the server lists no scopes)");
	http_config("bare", "client_auth = basic\n");
	doctor(http_cfg);
	WANT("client-auth", "fail",
	     "client_auth = basic but the server's "
	     "token_endpoint_auth_methods_supported (client_secret_post) "
	     "has no client_secret_basic");

	/* the server gone: exit 3, and nothing said about TLS */
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	http_config("google", NULL);
	doctor(http_cfg);
	EXIT(3);
	WANT("discovery", "fail", "is unreachable");
	NONE("tls", "ok");
	WANT("capabilities", "skip", NULL);
}

/* Options, and a configuration that does not load: still one JSON object. */
static void test_usage_and_no_config(void)
{
	static char env[800];
	const char *const envp[] = {env, NULL};
	char out[8192];

	snprintf(env, sizeof(env), "TOKENSEAL_CONFIG=%s", cfg);
	CHECK_INT(ts_test_run_capture((const char *const[]){cli_bin, "doctor", "--help", NULL},
	                              envp, out, sizeof(out)),
	          0);
	CHECK_MSG(!strncmp(out, "usage: tokenseal doctor [--json]\n", 33), "%s", out);
	CHECK_INT(ts_test_run_capture((const char *const[]){cli_bin, "doctor", "--jsn", NULL}, envp,
	                              out, sizeof(out)),
	          EXIT_USAGE);
	CHECK_STR(out, "");
	good_host();
	snprintf(env, sizeof(env), "%s/absent.conf", ts_test_tmpdir());
	doctor(env);
	EXIT(4);
	WANT("config", "fail", "absent.conf");
	WANT("server", "skip", "not asked: the configuration does not load");
	WANT("capabilities", "skip", "not checked: the configuration does not load");
}

int main(int argc, char **argv)
{
	if (argc != 4)
		TS_SKIP("usage: test_cli_doctor TOKENSEAL TOKENSEAL-BROKER DOCS/PAM.MD");
	if (geteuid() != 0)
		TS_SKIP("needs root (mount namespaces; the CLI runs the broker in exec mode)");
	{
		pid_t p = fork();
		int st = 0;

		if (p == 0)
			_exit(unshare(CLONE_NEWNS) == 0 ? 0 : 1);
		if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			TS_SKIP("cannot make a mount namespace (unshare(CLONE_NEWNS))");
	}
	cli_bin = argv[1];
	broker_bin = argv[2];
	pam_md = argv[3];
	CHECK_INT(ts_idp_start(&idp, 0), 0);
	snprintf(cfg, sizeof(cfg), "%s/tokenseal.conf", idp.dir);
	snprintf(fix, sizeof(fix), "%s/host", ts_test_tmpdir());

	RUN(test_usage_and_no_config);
	RUN(test_good_host);
	RUN(test_pam_root_lockout);
	RUN(test_pam_only_module);
	RUN(test_pam_required_first);
	RUN(test_pam_account_ignored);
	RUN(test_nsswitch);
	RUN(test_sshd_config);
	RUN(test_sshd_t);
	RUN(test_no_revocation);
	RUN(test_wrong_secret);
	RUN(test_public_client);
	RUN(test_http_issuer);
	json_decref(last);
	return ts_test_done();
}
