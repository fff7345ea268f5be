/* SPDX-License-Identifier: MIT */
/*
 * tokenseal-broker (exec mode) against the real test IdP (oidc-provider),
 * through ts_client_call as the PAM module uses it. Each case names the
 * behaviour of issue 4 it proves; each would fail without it. The broker runs
 * with --debug through a tiny wrapper that appends its stderr to a log, and
 * every case checks that no token appears in that log or in the messages.
 *
 * Needs the local users alice, bob and carol (scripts/test creates them) and
 * the IdP's node_modules (TS_SKIP otherwise).
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ks.h"
#include "lifecycle.h"
#include "ts_client.h"
#include "ts_error.h"
#include "ts_idp.h"
#include "ts_mem.h"
#include "ts_leak.h"
#include "ts_test.h"

static struct ts_idp idp;
static char broker_bin[512], wrapper[700], logfile[700];
static char env_preload[] = "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
static char env_plus[] = "FAKETIME=+2h", env_minus[] = "FAKETIME=-2h";
static char env_mono[] = "FAKETIME_DONT_FAKE_MONOTONIC=1";
static char env_asan[] = "ASAN_OPTIONS=verify_asan_link_order=0"; /* sanitizer builds */
static char *faketime_plus[] = {env_preload, env_plus, env_mono, env_asan, NULL};
static char *faketime_minus[] = {env_preload, env_minus, env_mono, env_asan, NULL};

/* ---- conversation ----------------------------------------------------- */

struct conv_state {
	const char *approve_login, *approve_pw; /* NULL: do not approve */
	int deny;
	pid_t child;
	char code[64];
	const char *answer; /* for prompts */
	unsigned infos, prompts;
	char last_info[2048];
	bool approve_in_prompt; /* PAM_SILENT shape: the code comes in a prompt */
	bool prompt_echo;
	char last_prompt[12288];
};

/* Set when a device-login text carried a QR code (half blocks). */
static int qr_seen;

static int c_info(void *ctx, const char *text)
{
	struct conv_state *s = ctx;
	const char *p = strstr(text, "enter the code ");

	s->infos++;
	if (p && strstr(text, "or scan this code:\n") && strstr(text, "\xe2\x96\x88"))
		qr_seen = 1;
	snprintf(s->last_info, sizeof(s->last_info), "%s", text);
	if (p && !s->code[0]) {
		size_t n;

		p += strlen("enter the code ");
		n = strcspn(p, " \n");
		if (n >= sizeof(s->code))
			return -1;
		memcpy(s->code, p, n);
		s->code[n] = '\0';
		if (s->approve_login) {
			s->child = fork();
			if (s->child == 0) {
				sleep(1);
				_exit(ts_idp_approve_device(&idp, s->code, s->approve_login,
				                            s->approve_pw, s->deny) == 0
				          ? 0
				          : 1);
			}
		}
	}
	return 0;
}

static int c_error(void *ctx, const char *text)
{
	return c_info(ctx, text);
}

static int c_prompt(void *ctx, const char *text, bool echo, char **ret)
{
	struct conv_state *s = ctx;

	s->prompts++;
	s->prompt_echo = echo;
	snprintf(s->last_prompt, sizeof(s->last_prompt), "%s", text);
	if (s->approve_in_prompt) {
		const char *p = strstr(text, "enter the code ");
		size_t n;

		if (!p)
			return -1;
		p += strlen("enter the code ");
		n = strcspn(p, " \n");
		if (n >= sizeof(s->code))
			return -1;
		memcpy(s->code, p, n);
		s->code[n] = '\0';
		/* approve as the person would, then press Enter */
		if (ts_idp_approve_device(&idp, s->code, s->approve_login, s->approve_pw, 0) != 0)
			return -1;
		*ret = strdup("");
		return *ret ? 0 : -ENOMEM;
	}
	if (!s->answer)
		return -1;
	*ret = strdup(s->answer);
	return *ret ? 0 : -ENOMEM;
}

static void conv_wait(struct conv_state *s)
{
	int st = 0;

	if (s->child > 0) {
		CHECK(waitpid(s->child, &st, 0) == s->child);
		s->child = 0;
	}
}

/* ---- helpers ------------------------------------------------------------ */

static void write_config(const char *path, const char *client, const char *extra)
{
	CHECK_MSG(ts_idp_write_config(&idp, path, client, extra) == 0, "write config %s", path);
}

/* PAM_RHOST of the next calls (NULL: a local caller) */
static const char *call_rhost;

static int call_env(const char *config, enum ts_msg_type type, const char *user, uint32_t flags,
                    const char *method, struct conv_state *cs, char *const *env,
                    struct ts_client_result *res)
{
	struct ts_client_opts o = {.broker_path = wrapper, .config_path = config, .env = env};
	struct ts_client_request rq = {
	    .type = type, .user = user, .service = "test", .flags = flags, .method = method,
	    .rhost = call_rhost};
	struct ts_conv cv = {c_info, c_error, c_prompt, cs};
	int r;

	memset(res, 0, sizeof(*res));
	r = ts_client_call(&o, &rq, cs ? &cv : NULL, res);
	CHECK_MSG(r == 0, "ts_client_call: %s", ts_strerror(r));
	fprintf(stderr, "   [%s] code %d (%s) state %d: %s\n", user, res->code,
	        ts_strerror(res->code), res->state, res->message);
	if (res->token)
		ts_leak_remember(res->token);
	return res->code;
}

static int call(const char *config, enum ts_msg_type type, const char *user,
                struct ts_client_result *res)
{
	return call_env(config, type, user, TS_FLAG_NONINTERACTIVE, NULL, NULL, NULL, res);
}

static int simple(const char *config, enum ts_msg_type type, const char *user)
{
	struct ts_client_result res;
	int code = call(config, type, user, &res);

	ts_client_result_clear(&res);
	return code;
}

static void device_login(const char *config, const char *user, const char *as, const char *pw,
                         int deny, int expect)
{
	struct conv_state cs = {.approve_login = as, .approve_pw = pw, .deny = deny};
	struct ts_client_result res;
	int code;

	code = call_env(config, TS_MSG_LOGIN, user, 0, "device", &cs, NULL, &res);
	conv_wait(&cs);
	CHECK_MSG(cs.code[0], "the conversation showed a user code");
	CHECK_MSG(code == expect, "device login of %s as %s: %s, expected %s", user, as,
	          ts_strerror(code), ts_strerror(expect));
	ts_client_result_clear(&res);
}

static char *get_token(const char *config, const char *user)
{
	struct ts_client_result res;
	char *t;

	CHECK_INT(call(config, TS_MSG_GET_TOKEN, user, &res), 0);
	CHECK(res.token && res.token[0]);
	t = strdup(res.token);
	ts_client_result_clear(&res);
	return t;
}

static uid_t uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);

	CHECK(pw);
	return pw->pw_uid;
}

static void record_path(char *out, size_t len, const char *ksdir, const char *user)
{
	snprintf(out, len, "%s/users/%u.seal", ksdir, (unsigned)uid_of(user));
}

static long refreshes(void)
{
	return ts_idp_count(&idp, "token:refresh_token");
}

/* ---- the cases -------------------------------------------------------- */

static char cfg_main[700], ks_main[700];

/* 1: device login end to end; the record is stored sealed. */
static void test_device_login(void)
{
	char path[900];
	struct stat st;
	size_t len = 0;
	char *bytes, *tok;

	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), TS_E_NO_RECORD);
	qr_seen = 0;
	device_login(cfg_main, "alice", "alice", "alice-pw", 0, 0);
#ifdef TS_HAVE_QRENCODE
	CHECK_MSG(qr_seen, "the device login text carries a QR code (built with libqrencode)");
#else
	CHECK_MSG(!qr_seen, "no QR code without libqrencode");
#endif
	record_path(path, sizeof(path), ks_main, "alice");
	CHECK_MSG(stat(path, &st) == 0, "record %s exists", path);
	CHECK_MSG((st.st_mode & 0137) == 0, "record mode %o is 0640 or tighter", st.st_mode & 0777);
	tok = get_token(cfg_main, "alice");
	bytes = ts_test_read_file(path, &len);
	CHECK_MSG(!ts_contains(bytes, len, tok), "the sealed record holds no token text");
	CHECK(!ts_contains(bytes, len, "sub-alice"));
	free(bytes);
	free(tok);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
}

/* A plain use soon after another asks the server but does not rewrite the
 * record (no lock-and-fsync on every sudo); the server was asked. */
static void test_plain_use_no_write(void)
{
	char path[900];
	size_t lb = 0, la = 0;
	char *before, *after;
	long checks;

	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
	record_path(path, sizeof(path), ks_main, "alice");
	before = ts_test_read_file(path, &lb);
	checks = ts_idp_count(&idp, "introspection");
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
	CHECK_MSG(ts_idp_count(&idp, "introspection") == checks + 1, "the server was asked");
	after = ts_test_read_file(path, &la);
	CHECK_MSG(la == lb && memcmp(before, after, la) == 0, "record not rewritten by a use");
	free(before);
	free(after);
}

/* The discovery document is kept between broker runs (a root broker writes
 * <keystore_dir>/discovery.json), so a use costs one request, not two; an
 * unsafe, foreign, old or broken copy is not used. */
static void test_discovery_cache(void)
{
	char path[900], moved[16384], ep[400];
	struct stat st;
	size_t n = 0;
	char *doc, *p;
	long d;

	snprintf(path, sizeof(path), "%s/discovery.json", ks_main);
	CHECK_MSG(stat(path, &st) == 0, "a root broker stored the discovery document");
	CHECK(st.st_uid == 0 && (st.st_mode & 07777) == 0644);
	doc = ts_test_read_file(path, &n);
	CHECK_MSG(strstr(doc, idp.issuer), "it is the server's document");

	/* a use: one introspection, no discovery */
	d = ts_idp_count(&idp, "discovery");
	{
		long i = ts_idp_count(&idp, "introspection");

		CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
		CHECK_INT(ts_idp_count(&idp, "discovery"), d);
		CHECK_INT(ts_idp_count(&idp, "introspection"), i + 1);
	}

	/* group-writable: not trusted, fetched again and rewritten safely */
	CHECK_INT(chmod(path, 0664), 0);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
	CHECK_INT(ts_idp_count(&idp, "discovery"), ++d);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644);

	/* another issuer's document: refused like a fetched one */
	{
		static const char other[] =
		    "{\"issuer\":\"https://127.0.0.1:1\",\"token_endpoint\":"
		    "\"https://127.0.0.1:1/token\",\"introspection_endpoint\":"
		    "\"https://127.0.0.1:1/token/introspection\"}";
		ts_test_write_file(path, other, sizeof(other) - 1, 0644);
	}
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
	CHECK_INT(ts_idp_count(&idp, "discovery"), ++d);

	/* older than an hour: fetched again */
	{
		struct timespec ts[2] = {{.tv_sec = time(NULL) - 7200}, {.tv_sec = time(NULL) - 7200}};
		CHECK_INT(utimensat(AT_FDCWD, path, ts, 0), 0);
	}
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
	CHECK_INT(ts_idp_count(&idp, "discovery"), ++d);

	/* the server moved an endpoint (here: to a closed port): that use
	 * fails as unavailable and drops the copy; the next one fetches the
	 * document again and works */
	snprintf(ep, sizeof(ep), "%s/token/introspection", idp.issuer);
	p = strstr(doc, ep);
	CHECK_MSG(p, "the document names %s", ep);
	if (p) {
		CHECK(n + 64 < sizeof(moved));
		snprintf(moved, sizeof(moved), "%.*shttps://127.0.0.1:1/token/introspection%s",
		         (int)(p - doc), doc, p + strlen(ep));
		ts_test_write_file(path, moved, strlen(moved), 0644);
		CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), TS_E_UNAVAILABLE);
		CHECK_MSG(access(path, F_OK) != 0, "the suspect copy was removed");
		CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
		CHECK_INT(ts_idp_count(&idp, "discovery"), ++d);
		CHECK_MSG(access(path, F_OK) == 0, "and stored again");
	}
	free(doc);
}

/* 2: access token revoked at the server while the local expiry is an hour
 * away: the next use refreshes once and succeeds. */
static void test_revoked_access_token(void)
{
	struct ts_client_result res;
	char *before, *after;

	before = get_token(cfg_main, "alice");
	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
	CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "alice"), 0);
	CHECK_INT(call(cfg_main, TS_MSG_REVALIDATE, "alice", &res), 0);
	CHECK_MSG(strstr(res.message, "rejected by") &&
	              strstr(res.message, "before its local expiry"),
	          "message says the server rejected it early: %s", res.message);
	ts_client_result_clear(&res);
	CHECK_INT(refreshes(), 1);
	after = get_token(cfg_main, "alice");
	CHECK_MSG(strcmp(before, after) != 0, "a new access token was stored");
	CHECK_INT(refreshes(), 1);
	free(before);
	free(after);
}

/* 5: stale copy. The test holds alice's lock; a broker that saw the old
 * token rejected waits for it; meanwhile "process A" (this test) refreshes
 * and stores; the waiting broker must adopt A's token without a refresh. */
static void test_stale_copy(void)
{
	struct ks *ks = NULL;
	struct ks_lock *l = NULL;
	struct ks_blob *b = NULL;
	struct ks_open_opts ko = {0};
	struct ts_config cfg;
	struct oauth_client *oc = NULL;
	struct oauth_error err = {0};
	struct oauth_tokens tok = {0};
	struct ts_record rec = {0};
	struct ks_identity id = {uid_of("alice"), "alice", idp.issuer, idp.conf_client};
	char *json = NULL;
	size_t jl = 0;
	uint64_t gen = 0;
	pid_t pid;
	int st = 0;

	ts_config_defaults(&cfg);
	CHECK(ts_config_load(&cfg, cfg_main, NULL, NULL) == 0);
	CHECK(oauth_global_init() == 0);
	CHECK(oauth_client_new(&oc, &cfg, &err) == 0);
	CHECK(ks_open(&ks, ks_main, cfg.key_file, &ko) == 0);
	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
	CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "alice"), 0);
	CHECK(ks_lock(ks, id.uid, &l) == 0);
	pid = fork();
	if (pid == 0) {
		struct ts_client_result res;
		int code = call(cfg_main, TS_MSG_REVALIDATE, "alice", &res);

		_exit(code == 0 ? 0 : 1);
	}
	sleep(3); /* the broker revalidates, is rejected and waits for the lock */
	CHECK_MSG(waitpid(pid, &st, WNOHANG) == 0, "the broker waits for the lock");
	CHECK(ks_read(ks, &id, &b) == 0);
	CHECK(ts_record_from_json(&rec, b->payload, b->len) == 0);
	CHECK(oauth_refresh(oc, rec.refresh_token, rec.id.present ? &rec.id : NULL, &tok, &err) ==
	      0);
	ts_erase_free_str(rec.access_token);
	rec.access_token = TS_TAKE_PTR(tok.access_token);
	ts_erase_free_str(rec.refresh_token);
	rec.refresh_token = TS_TAKE_PTR(tok.refresh_token);
	ts_leak_remember(rec.access_token);
	CHECK(ts_record_to_json(&rec, &json, &jl) == 0);
	CHECK(ks_write(ks, l, &id, json, jl, b->generation, &gen) == 0);
	ts_erase_free(json, jl);
	ks_unlock(l);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the waiting broker succeeded");
	CHECK_INT(refreshes(), 1); /* ours only: the broker adopted it */
	oauth_tokens_clear(&tok);
	ts_record_clear(&rec);
	ks_blob_free(b);
	ks_close(ks);
	oauth_client_free(oc);
}

/* 6: 50 concurrent uses right after the access token was revoked: all
 * succeed, the server sees exactly one refresh. */
static void test_fifty_concurrent(void)
{
	pid_t pids[50];
	unsigned ok = 0;

	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
	CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "alice"), 0);
	for (size_t i = 0; i < TS_ARRAY_SIZE(pids); i++) {
		pids[i] = fork();
		CHECK(pids[i] >= 0);
		if (pids[i] == 0) {
			struct ts_client_result res;
			struct ts_client_opts o = {.broker_path = wrapper, .config_path = cfg_main};
			struct ts_client_request rq = {.type = TS_MSG_REVALIDATE,
			                               .user = "alice",
			                               .service = "test",
			                               .flags = TS_FLAG_NONINTERACTIVE};

			int r;

			memset(&res, 0, sizeof(res));
			r = ts_client_call(&o, &rq, NULL, &res);
			if (r < 0 || res.code != 0)
				fprintf(stderr, "   concurrent use %zu failed: %s / %s: %s\n", i,
				        ts_strerror(r), ts_strerror(res.code), res.message);
			_exit(r == 0 && res.code == 0 ? 0 : 1);
		}
	}
	for (size_t i = 0; i < TS_ARRAY_SIZE(pids); i++) {
		int st = 0;

		CHECK(waitpid(pids[i], &st, 0) == pids[i]);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
	}
	CHECK_INT(ok, 50);
	CHECK_INT(refreshes(), 1);
}

/* 4: the broker's clock 2 h ahead / behind: no refresh loop, no false
 * needs-login; decisions follow the server's time. */
static void test_clock_skew(void)
{
	struct ts_client_result res;
	int code;

	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
	for (int i = 0; i < 3; i++) {
		code = call_env(cfg_main, TS_MSG_REVALIDATE, "alice", TS_FLAG_NONINTERACTIVE, NULL,
		                NULL, faketime_plus, &res);
		ts_client_result_clear(&res);
		CHECK_INT(code, 0);
	}
	CHECK_MSG(refreshes() <= 1, "no refresh loop under +2h: %ld refreshes", refreshes());
	for (int i = 0; i < 3; i++) {
		code = call_env(cfg_main, TS_MSG_REVALIDATE, "alice", TS_FLAG_NONINTERACTIVE, NULL,
		                NULL, faketime_minus, &res);
		ts_client_result_clear(&res);
		/* The fixture's certificates start a day in the past
		 * (tests/fixtures/lib/mkcerts.sh), so the skewed broker connects
		 * and must simply follow the server. */
		CHECK_MSG(code == 0, "under -2h: %s", ts_strerror(code));
	}
	CHECK_MSG(refreshes() <= 1, "no refresh loop under -2h: %ld refreshes", refreshes());
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
	CHECK_MSG(refreshes() <= 1, "no refresh after the skewed runs: %ld", refreshes());
}

/* 3: refresh token revoked too -> needs-login with the sign-in message, the
 * record kept and marked; a new device login heals it. */
static void test_revoked_grant(void)
{
	struct ts_client_result res;
	char path[900];

	CHECK_INT(ts_idp_ctl(&idp, "revoke-grant", "alice"), 0);
	CHECK_INT(call(cfg_main, TS_MSG_REVALIDATE, "alice", &res), TS_E_NEEDS_LOGIN);
	CHECK_MSG(strstr(res.message, "sign-in required") && strstr(res.message, "invalid_grant"),
	          "sign-in message: %s", res.message);
	ts_client_result_clear(&res);
	record_path(path, sizeof(path), ks_main, "alice");
	CHECK_MSG(access(path, F_OK) == 0, "the record is kept");
	CHECK_INT(call(cfg_main, TS_MSG_STATUS, "alice", &res), 0);
	CHECK_INT(res.state, TS_STATE_NEEDS_LOGIN);
	CHECK(res.status_json && strstr(res.status_json, "needs-login"));
	ts_client_result_clear(&res);
	/* a second use does not call the server again to learn the same */
	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), TS_E_NEEDS_LOGIN);
	CHECK_INT(refreshes(), 0);
	/* login with auth_with_stored_token tells the user why and heals */
	device_login(cfg_main, "alice", "alice", "alice-pw", 0, 0);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
}

/* An older copy of the record put back (a restored backup, or a logout cut
 * short by a crash) is refused, never used; the next login moves it to the
 * quarantine folder and replaces it. */
static void test_rollback_healed_by_login(void)
{
	struct ts_client_result res;
	char path[900], qdir[900], prefix[32];
	size_t n = 0;
	char *old, *log;
	DIR *d;
	struct dirent *de;
	int quarantined = 0;

	record_path(path, sizeof(path), ks_main, "alice");
	old = ts_test_read_file(path, &n);
	CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "alice"), 0);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0); /* refreshed, stored */
	ts_test_write_file(path, old, n, 0600);
	free(old);
	CHECK_INT(call(cfg_main, TS_MSG_REVALIDATE, "alice", &res), TS_E_ROLLBACK);
	CHECK_MSG(strstr(res.message, "cannot be read") && strstr(res.message, "sign in again"),
	          "message: %s", res.message);
	ts_client_result_clear(&res);
	device_login(cfg_main, "alice", "alice", "alice-pw", 0, 0);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
	snprintf(qdir, sizeof(qdir), "%s/quarantine", ks_main);
	snprintf(prefix, sizeof(prefix), "%u.seal.", (unsigned)uid_of("alice"));
	d = opendir(qdir);
	CHECK(d);
	while (d && (de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			quarantined++;
	if (d)
		closedir(d);
	CHECK_MSG(quarantined == 1, "the refused copy is in quarantine (%d)", quarantined);
	log = ts_test_read_file(logfile, &n);
	CHECK_MSG(strstr(log, "moved to quarantine, replaced by this login"),
	          "the broker logged what it did");
	free(log);
}

/* Issue 7 §2: a changed issuer (a trailing slash) or client in the config
 * is a mismatch: the record stays as it is, the message names both sides,
 * and fixing the config heals it with no sign-in. */
static size_t count_quarantined(void)
{
	char qdir[900];
	size_t n = 0;
	DIR *d;
	struct dirent *de;

	snprintf(qdir, sizeof(qdir), "%s/quarantine", ks_main);
	d = opendir(qdir);
	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_config_mismatch(void)
{
	struct ts_client_result res;
	char cfg_slash[800], cfg_cli[800], path[900], line[700], want[1200];
	char *text, *at, *before, *after;
	size_t n = 0, n2 = 0, q = count_quarantined();
	long dev = ts_idp_count(&idp, "device_authorization");

	record_path(path, sizeof(path), ks_main, "alice");
	before = ts_test_read_file(path, &n);
	/* the same file with "issuer = ISSUER/" */
	snprintf(cfg_slash, sizeof(cfg_slash), "%s/slash.conf", idp.dir);
	text = ts_test_read_file(cfg_main, NULL);
	snprintf(line, sizeof(line), "issuer = %s\n", idp.issuer);
	at = strstr(text, line);
	CHECK(at);
	{
		FILE *f = fopen(cfg_slash, "w");

		CHECK(f);
		fprintf(f, "%.*sissuer = %s/\n%s", (int)(at - text), text, idp.issuer,
		        at + strlen(line));
		CHECK(fclose(f) == 0);
	}
	free(text);
	CHECK_INT(call(cfg_slash, TS_MSG_REVALIDATE, "alice", &res), TS_E_MISMATCH);
	CHECK_INT(res.state, TS_STATE_MISMATCH);
	snprintf(want, sizeof(want),
	         "alice signed in at %s, this host now uses %s/; the record is kept: fix issuer "
	         "in the configuration, or sign in again",
	         idp.issuer, idp.issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);

	snprintf(cfg_cli, sizeof(cfg_cli), "%s/client.conf", idp.dir);
	write_config(cfg_cli, "public", "login_methods = device\n");
	CHECK_INT(call(cfg_cli, TS_MSG_REVALIDATE, "alice", &res), TS_E_MISMATCH);
	snprintf(want, sizeof(want),
	         "alice signed in through client %s, this host now uses %s; the record is kept: "
	         "fix client_id in the configuration, or sign in again",
	         idp.conf_client, idp.public_client);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);

	/* nothing moved, nothing changed */
	after = ts_test_read_file(path, &n2);
	CHECK_MSG(n == n2 && memcmp(before, after, n) == 0, "the record is byte-identical");
	CHECK_INT(count_quarantined(), q);
	free(after);
	free(before);
	/* the configuration fixed: the same record works, no sign-in */
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
	CHECK_INT(ts_idp_count(&idp, "device_authorization"), dev);

	/* a person who signs in under the new configuration replaces the old
	 * record (that is their act, not the configuration's) */
	device_login(cfg_cli, "alice", "alice", "alice-pw", 0, 0);
	CHECK_INT(simple(cfg_cli, TS_MSG_REVALIDATE, "alice"), 0);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), TS_E_MISMATCH);
	device_login(cfg_main, "alice", "alice", "alice-pw", 0, 0);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
}

/* 9: device flow denied, and deadline reached. */
static void test_device_edges(void)
{
	char cfg[800], extra[1200];
	struct conv_state cs = {0};
	struct ts_client_result res;
	time_t t0;

	device_login(cfg_main, "carol", "carol", "carol-pw", 1, TS_E_DENIED);
	snprintf(cfg, sizeof(cfg), "%s/deadline.conf", idp.dir);
	snprintf(extra, sizeof(extra), "keystore_dir = %s\ndevice_timeout = 10\n", ks_main);
	write_config(cfg, "conf", extra);
	t0 = time(NULL);
	CHECK_INT(call_env(cfg, TS_MSG_LOGIN, "carol", 0, "device", &cs, NULL, &res), TS_E_EXPIRED);
	CHECK_MSG(time(NULL) - t0 <= 25, "the deadline is honoured");
	CHECK(cs.code[0]);
	ts_client_result_clear(&res);
	/* non-interactive: fails at once, never hangs */
	t0 = time(NULL);
	CHECK_INT(simple(cfg_main, TS_MSG_LOGIN, "carol"), TS_E_INTERACTION);
	CHECK(time(NULL) - t0 <= 5);
}

/* 10: password grant when enabled, refused when not; pasted token. */
static void test_password_and_token(void)
{
	char cfg_pw[800], extra[1200];
	struct conv_state cs = {.answer = "bob-pw"};
	struct ts_client_result res;
	char *alice_tok;

	snprintf(cfg_pw, sizeof(cfg_pw), "%s/pw.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "keystore_dir = %s\nlogin_methods = password, token, device\n", ks_main);
	write_config(cfg_pw, "conf", extra);
	/* not enabled in cfg_main (device only) */
	CHECK_INT(call_env(cfg_main, TS_MSG_LOGIN, "bob", 0, "password", &cs, NULL, &res),
	          TS_E_CONFIG);
	CHECK_STR(res.message, "login method \"password\" is not enabled (login_methods); ask "
	                       "the administrator");
	CHECK_INT(cs.prompts, 0);
	ts_client_result_clear(&res);
	CHECK_INT(call_env(cfg_pw, TS_MSG_LOGIN, "bob", 0, "password", &cs, NULL, &res), 0);
	CHECK_INT(cs.prompts, 1);
	ts_client_result_clear(&res);
	{
		size_t len = 0;
		char *log = ts_test_read_file(logfile, &len);

		CHECK_MSG(ts_contains(log, len, "legacy grant"), "the password grant is warned about");
		free(log);
	}
	CHECK_INT(simple(cfg_pw, TS_MSG_REVALIDATE, "bob"), 0);
	cs.answer = "wrong";
	CHECK_INT(call_env(cfg_pw, TS_MSG_LOGIN, "carol", 0, "password", &cs, NULL, &res),
	          TS_E_NEEDS_LOGIN);
	{
		char want[600];

		snprintf(want, sizeof(want), "%s refused the credentials", idp.issuer);
		CHECK_STR(res.message, want);
	}
	ts_client_result_clear(&res);

	/* 8: bob's account disabled at the server: refused although the local
	 * expiry is an hour away */
	CHECK_INT(ts_idp_ctl(&idp, "disable", "bob"), 0);
	CHECK_INT(call(cfg_pw, TS_MSG_REVALIDATE, "bob", &res), TS_E_NEEDS_LOGIN);
	CHECK_STR(res.message, "sign-in required: the server refused the refresh token "
	                       "(invalid_grant: grant request is invalid); run `tokenseal login` or log in again");
	ts_client_result_clear(&res);
	CHECK_INT(ts_idp_ctl(&idp, "enable", "bob"), 0);

	/* a pasted token: alice's own, accepted for alice */
	alice_tok = get_token(cfg_main, "alice");
	cs.answer = alice_tok;
	{
		char ks2[800], cfg_tok[800];

		snprintf(ks2, sizeof(ks2), "%s/ks-token", idp.dir);
		snprintf(cfg_tok, sizeof(cfg_tok), "%s/token.conf", idp.dir);
		snprintf(extra, sizeof(extra), "keystore_dir = %s\nlogin_methods = token\n", ks2);
		write_config(cfg_tok, "conf", extra);
		CHECK_INT(call_env(cfg_tok, TS_MSG_LOGIN, "alice", 0, "token", &cs, NULL, &res), 0);
		ts_client_result_clear(&res);
		CHECK_INT(simple(cfg_tok, TS_MSG_REVALIDATE, "alice"), 0);

		/* 10b: bob pasting alice's token is refused, nothing stored */
		CHECK_INT(call_env(cfg_tok, TS_MSG_LOGIN, "bob", 0, "token", &cs, NULL, &res),
		          TS_E_IDENTITY_MISMATCH);
		CHECK_MSG(strstr(res.message, "alice") && strstr(res.message, "bob"),
		          "mismatch message names both: %s", res.message);
		ts_client_result_clear(&res);
		CHECK_INT(simple(cfg_tok, TS_MSG_REVALIDATE, "bob"), TS_E_NO_RECORD);

		/* a revoked token is refused */
		CHECK_INT(ts_idp_ctl(&idp, "revoke-access-tokens", "alice"), 0);
		/* the pasted token's record has no refresh token: the message says so */
		CHECK_INT(call(cfg_tok, TS_MSG_REVALIDATE, "alice", &res), TS_E_NEEDS_LOGIN);
		CHECK_MSG(strstr(res.message, "no refresh token") &&
		              !strstr(res.message, "invalid_grant"),
		          "pasted-token record: %s", res.message);
		ts_client_result_clear(&res);
		CHECK_INT(call_env(cfg_tok, TS_MSG_LOGIN, "carol", 0, "token", &cs, NULL, &res),
		          TS_E_REJECTED_TOKEN);
		{
			char want[600];

			snprintf(want, sizeof(want),
			         "%s rejected the pasted token; nothing was stored", idp.issuer);
			CHECK_STR(res.message, want);
		}
		ts_client_result_clear(&res);
		CHECK_INT(simple(cfg_tok, TS_MSG_REVALIDATE, "carol"), TS_E_NO_RECORD);

		/* carol's own, live token, but issued to another application (the
		 * server's public client): refused, nothing stored, not revoked */
		{
			char ks3[800], cfg_pub[800], want[600];
			struct conv_state pw = {.answer = "carol-pw"};
			struct conv_state paste = {0};
			char *foreign;
			long rv;

			snprintf(ks3, sizeof(ks3), "%s/ks-public", idp.dir);
			snprintf(cfg_pub, sizeof(cfg_pub), "%s/public.conf", idp.dir);
			snprintf(extra, sizeof(extra),
			         "keystore_dir = %s\nlogin_methods = password\n", ks3);
			write_config(cfg_pub, "public", extra);
			CHECK_INT(call_env(cfg_pub, TS_MSG_LOGIN, "carol", 0, "password", &pw, NULL,
			                   &res),
			          0);
			ts_client_result_clear(&res);
			foreign = get_token(cfg_pub, "carol");
			paste.answer = foreign;
			rv = ts_idp_count(&idp, "revocation");
			CHECK_INT(call_env(cfg_tok, TS_MSG_LOGIN, "carol", 0, "token", &paste, NULL,
			                   &res),
			          TS_E_FOREIGN_TOKEN);
			snprintf(want, sizeof(want),
			         "the pasted token was issued to another application (%s), not to "
			         "%s; nothing was stored; sign in with a token obtained for this host",
			         idp.public_client, idp.conf_client);
			CHECK_STR(res.message, want);
			ts_client_result_clear(&res);
			CHECK_INT(simple(cfg_tok, TS_MSG_REVALIDATE, "carol"), TS_E_NO_RECORD);
			CHECK_INT(ts_idp_count(&idp, "revocation"), rv);
			/* still carol's live credential for the other application */
			CHECK_INT(simple(cfg_pub, TS_MSG_REVALIDATE, "carol"), 0);
			ts_erase_free_str(foreign);
		}
	}
	free(alice_tok);
}

/* 10b: device approval by alice for bob's login is refused. */
static void test_identity_device(void)
{
	char path[900];
	long rv = ts_idp_count(&idp, "revocation");

	device_login(cfg_main, "carol", "alice", "alice-pw", 0, TS_E_IDENTITY_MISMATCH);
	CHECK_INT(ts_idp_count(&idp, "revocation"), rv + 2); /* the refused tokens die */
	record_path(path, sizeof(path), ks_main, "carol");
	CHECK_MSG(access(path, F_OK) != 0, "nothing stored for carol");
}

/* Open alice's keystore and an OAuth client like the broker does. */
static void open_direct(struct ks **ks, struct oauth_client **oc, struct ts_config *cfg)
{
	struct ks_open_opts ko = {0};
	struct oauth_error err = {0};

	ts_config_defaults(cfg);
	CHECK(ts_config_load(cfg, cfg_main, NULL, NULL) == 0);
	CHECK(oauth_global_init() == 0);
	CHECK(oauth_client_new(oc, cfg, &err) == 0);
	CHECK(ks_open(ks, ks_main, cfg->key_file, &ko) == 0);
}

/* Rewrite alice's stored record through fn (under her lock). */
static void edit_record(const char *user, void (*fn)(struct ts_record *))
{
	struct ks *ks = NULL;
	struct ks_lock *l = NULL;
	struct ks_blob *b = NULL;
	struct oauth_client *oc = NULL;
	struct ts_config cfg;
	struct ts_record rec = {0};
	struct ks_identity id = {uid_of(user), user, idp.issuer, idp.conf_client};
	char *json = NULL;
	size_t jl = 0;
	uint64_t gen = 0;

	open_direct(&ks, &oc, &cfg);
	CHECK(ks_lock(ks, id.uid, &l) == 0);
	CHECK(ks_read(ks, &id, &b) == 0);
	CHECK(ts_record_from_json(&rec, b->payload, b->len) == 0);
	fn(&rec);
	CHECK(ts_record_to_json(&rec, &json, &jl) == 0);
	CHECK(ks_write(ks, l, &id, json, jl, b->generation, &gen) == 0);
	ts_erase_free(json, jl);
	ks_unlock(l);
	ts_record_clear(&rec);
	ks_blob_free(b);
	ks_close(ks);
	oauth_client_free(oc);
}

static bool token_active(const char *token)
{
	struct ks *ks = NULL;
	struct oauth_client *oc = NULL;
	struct ts_config cfg;
	struct oauth_identity ident = {0};
	struct oauth_error err = {0};
	int r;

	open_direct(&ks, &oc, &cfg);
	r = oauth_revalidate(oc, token, &ident, &err);
	CHECK_MSG(r == 0 || r == TS_E_REJECTED_TOKEN, "introspection answered: %s",
	          ts_strerror(r));
	ks_close(ks);
	oauth_client_free(oc);
	return r == 0;
}

/* 4a: logout under the lock revokes the refresh AND the access token and
 * keeps a token-less signed-out record: the account phase (REVALIDATE)
 * refuses with the sign-in message; only a never-seen user is "no record". */
static void test_logout_signed_out(void)
{
	struct ts_client_result res;
	char path[900], want[600];
	char *t;
	long rv;

	t = get_token(cfg_main, "alice");
	CHECK(token_active(t));
	rv = ts_idp_count(&idp, "revocation");
	CHECK_INT(call(cfg_main, TS_MSG_LOGOUT, "alice", &res), 0);
	snprintf(want, sizeof(want), "signed out; the grant was revoked at %s", idp.issuer);
	CHECK_STR(res.message, want);
	CHECK_INT(res.state, TS_STATE_SIGNED_OUT);
	ts_client_result_clear(&res);
	CHECK_INT(ts_idp_count(&idp, "revocation"), rv + 2);
	CHECK_MSG(!token_active(t), "the access token is dead at the server");
	record_path(path, sizeof(path), ks_main, "alice");
	CHECK_MSG(access(path, F_OK) == 0, "a signed-out record is kept");
	{
		size_t n = 0;
		char *bytes = ts_test_read_file(path, &n);

		CHECK(!ts_contains(bytes, n, t));
		free(bytes);
	}
	CHECK_INT(call(cfg_main, TS_MSG_REVALIDATE, "alice", &res), TS_E_SIGNED_OUT);
	snprintf(want, sizeof(want),
	         "sign-in required: alice signed out of %s; run `tokenseal login` or log in "
	         "again",
	         idp.issuer);
	CHECK_STR(res.message, want);
	CHECK_INT(res.state, TS_STATE_SIGNED_OUT);
	ts_client_result_clear(&res);
	CHECK_INT(call(cfg_main, TS_MSG_STATUS, "alice", &res), 0);
	CHECK_INT(res.state, TS_STATE_SIGNED_OUT);
	CHECK(res.status_json && strstr(res.status_json, "\"state\":\"signed-out\"") &&
	      strstr(res.status_json, "\"sub\":\"sub-alice\""));
	ts_client_result_clear(&res);
	/* carol has never signed in: the only case of "no record" */
	CHECK_INT(call(cfg_main, TS_MSG_REVALIDATE, "carol", &res), TS_E_NO_RECORD);
	ts_client_result_clear(&res);
	free(t);
	/* a new sign-in heals it */
	device_login(cfg_main, "alice", "alice", "alice-pw", 0, 0);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
}

/* 4a: closing the last session (revoke_on = last-session, the default)
 * signs out the same way; an earlier close keeps everything. */
static void test_last_session_signed_out(void)
{
	struct ts_client_result res;
	long rv;

	CHECK_INT(simple(cfg_main, TS_MSG_OPEN_SESSION, "alice"), 0);
	CHECK_INT(simple(cfg_main, TS_MSG_OPEN_SESSION, "alice"), 0);
	rv = ts_idp_count(&idp, "revocation");
	CHECK_INT(call(cfg_main, TS_MSG_CLOSE_SESSION, "alice", &res), 0);
	CHECK_STR(res.message, "session closed (1 still open)");
	ts_client_result_clear(&res);
	CHECK_INT(ts_idp_count(&idp, "revocation"), rv);
	CHECK_INT(call(cfg_main, TS_MSG_CLOSE_SESSION, "alice", &res), 0);
	CHECK_INT(res.state, TS_STATE_SIGNED_OUT);
	ts_client_result_clear(&res);
	CHECK_INT(ts_idp_count(&idp, "revocation"), rv + 2);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), TS_E_SIGNED_OUT);
}

static void boot_earlier(struct ts_record *r)
{
	snprintf(r->sessions_boot, sizeof(r->sessions_boot),
	         "00000000-0000-4000-8000-000000000000");
}

/* 4c': two sessions counted in a boot that is over (the host rebooted and
 * their close never came) are not open: a new session is the only one,
 * and closing it is closing the last (revoke_on = last-session revokes). */
static void test_sessions_other_boot(void)
{
	struct ts_client_result res;
	long rv;

	device_login(cfg_main, "alice", "alice", "alice-pw", 0, 0);
	CHECK_INT(simple(cfg_main, TS_MSG_OPEN_SESSION, "alice"), 0);
	CHECK_INT(simple(cfg_main, TS_MSG_OPEN_SESSION, "alice"), 0);
	edit_record("alice", boot_earlier);
	CHECK_INT(simple(cfg_main, TS_MSG_OPEN_SESSION, "alice"), 0);
	rv = ts_idp_count(&idp, "revocation");
	CHECK_INT(call(cfg_main, TS_MSG_CLOSE_SESSION, "alice", &res), 0);
	CHECK_MSG(res.state == TS_STATE_SIGNED_OUT, "the last session of this boot: %s",
	          res.message);
	ts_client_result_clear(&res);
	CHECK_INT(ts_idp_count(&idp, "revocation"), rv + 2);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), TS_E_SIGNED_OUT);
}

static void pin_other(struct ts_record *r)
{
	snprintf(r->sub, sizeof(r->sub), "sub-someone-else");
}

static void pin_alice(struct ts_record *r)
{
	snprintf(r->sub, sizeof(r->sub), "sub-alice");
}

/* 4b: the signed-out record keeps the subject; a sign-in with another
 * subject for the same account is refused, and the tokens it got are
 * revoked; the record stays as it was. */
static void test_subject_pinned(void)
{
	struct conv_state cs = {.approve_login = "alice", .approve_pw = "alice-pw"};
	struct ts_client_result res;
	char want[800];
	long rv;

	edit_record("alice", pin_other); /* as if alice had been another subject */
	rv = ts_idp_count(&idp, "revocation");
	CHECK_INT(call_env(cfg_main, TS_MSG_LOGIN, "alice", 0, "device", &cs, NULL, &res),
	          TS_E_SUBJECT_PINNED);
	conv_wait(&cs);
	snprintf(want, sizeof(want),
	         "the local account alice is pinned to another identity at %s; nothing was "
	         "stored; an administrator can release it with `tokenseal keystore forget "
	         "alice`",
	         idp.issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
	CHECK_INT(ts_idp_count(&idp, "revocation"), rv + 2);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), TS_E_SIGNED_OUT);
	edit_record("alice", pin_alice); /* released */
	device_login(cfg_main, "alice", "alice", "alice-pw", 0, 0);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
}

static char cfg_win[700], cfg_win1[700];

/* 4d: inside the refresh window the broker refreshes first and revalidates
 * only the new token: one refresh, one introspection. */
static void test_window_refresh_first(void)
{
	struct ts_client_result res;
	char want[600];

	sleep(2); /* refresh_window = 3599 of a 3600 s token: inside after 1 s */
	CHECK_INT(ts_idp_ctl(&idp, "reset-counters", NULL), 0);
	CHECK_INT(call(cfg_win, TS_MSG_REVALIDATE, "alice", &res), 0);
	snprintf(want, sizeof(want), "refreshed the tokens at %s", idp.issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
	CHECK_INT(refreshes(), 1);
	CHECK_INT(ts_idp_count(&idp, "introspection"), 1);
}

/* 4d: a failed early refresh does not fail a use the server confirms:
 * here the user's lock is held (lock timeout, 3 x 1 s + 5 s). */
static void test_early_refresh_lock_timeout(void)
{
	struct ks *ks = NULL;
	struct ks_lock *l = NULL;
	struct oauth_client *oc = NULL;
	struct ts_config cfg;
	struct ts_client_result res;
	char want[700];

	open_direct(&ks, &oc, &cfg);
	sleep(2);
	CHECK(ks_lock(ks, uid_of("alice"), &l) == 0);
	CHECK_INT(call(cfg_win1, TS_MSG_REVALIDATE, "alice", &res), 0);
	snprintf(want, sizeof(want),
	         "signed in at %s; confirmed by the server (the early refresh failed: %s)",
	         idp.issuer, ts_strerror(TS_E_LOCK_TIMEOUT));
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
	ks_unlock(l);
	ks_close(ks);
	oauth_client_free(oc);
}

static void bogus_refresh_token(struct ts_record *r)
{
	ts_erase_free_str(r->refresh_token);
	r->refresh_token = ts_strdup_secret("not-a-refresh-token-of-this-server");
	CHECK(r->refresh_token);
}

/* 4d: an early refresh refused with invalid_grant: the use the server
 * confirmed goes on, the record is marked needs-login all the same. */
static void test_early_refresh_invalid_grant(void)
{
	struct ts_client_result res;
	char want[700];

	edit_record("alice", bogus_refresh_token);
	sleep(2);
	CHECK_INT(call(cfg_win, TS_MSG_REVALIDATE, "alice", &res), 0);
	snprintf(want, sizeof(want),
	         "signed in at %s; confirmed by the server (the early refresh failed: %s)",
	         idp.issuer, ts_strerror(TS_E_NEEDS_LOGIN));
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
	CHECK_INT(call(cfg_main, TS_MSG_REVALIDATE, "alice", &res), TS_E_NEEDS_LOGIN);
	CHECK_STR(res.message, "sign-in required: the server refused the refresh token "
	                       "(invalid_grant: grant request is invalid); run `tokenseal login` or log in again");
	ts_client_result_clear(&res);
	device_login(cfg_main, "alice", "alice", "alice-pw", 0, 0);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
}

/* 4f: PAM_SILENT (TS_FLAG_SILENT), or a remote login (PAM_RHOST: sshd,
 * whose keyboard-interactive holds INFO back until the next prompt): the
 * sign-in text comes as a PROMPT with echo on, ending with the Enter
 * request; no INFO; polling starts after the answer and the login works. */
static void device_prompted(uint32_t flags, const char *rhost)
{
	struct conv_state cs = {.approve_login = "alice", .approve_pw = "alice-pw",
	                        .approve_in_prompt = true};
	struct ts_client_result res;
	static const char tail[] = "\nPress Enter once you have approved it: ";
	char want[600], cfg[800];
	size_t n;

	/* no auth_with_stored_token: alice's valid record must not answer */
	snprintf(cfg, sizeof(cfg), "%s/silent.conf", idp.dir);
	write_config(cfg, "conf", "login_methods = device\n");
	call_rhost = rhost;
	CHECK_INT(call_env(cfg, TS_MSG_LOGIN, "alice", flags, "device", &cs, NULL, &res), 0);
	call_rhost = NULL;
	snprintf(want, sizeof(want), "signed in to %s as alice (device)", idp.issuer);
	CHECK_STR(res.message, want);
	ts_client_result_clear(&res);
	CHECK_INT(cs.prompts, 1);
	CHECK_INT(cs.infos, 0);
	CHECK_MSG(cs.prompt_echo, "the prompt echoes");
	n = strlen(cs.last_prompt);
	CHECK_MSG(n > sizeof(tail) && strcmp(cs.last_prompt + n - (sizeof(tail) - 1), tail) == 0,
	          "the prompt ends with the Enter request: %s", cs.last_prompt);
	snprintf(want, sizeof(want), "To sign in to %s, open ", idp.issuer);
	CHECK_MSG(strncmp(cs.last_prompt, want, strlen(want)) == 0, "and carries the sign-in text");
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
}

static void test_device_silent(void)
{
	device_prompted(TS_FLAG_SILENT, NULL);
}

static void test_device_remote(void)
{
	device_prompted(0, "192.0.2.7");
}

/* Whether some line of log contains needle and starts with prefix. */
static bool log_line_has(const char *log, const char *needle, const char *prefix)
{
	for (const char *p = strstr(log, needle); p; p = strstr(p + 1, needle)) {
		const char *bol = p;

		while (bol > log && bol[-1] != '\n')
			bol--;
		if (strncmp(bol, prefix, strlen(prefix)) == 0)
			return true;
	}
	return false;
}

/* Config problems reach the broker's log (its stderr is /dev/null in exec
 * mode), naming file, line and key; a bad file is refused with a message. */
static void test_config_reported(void)
{
	char cfg_bad[800], extra[1200];
	struct ts_client_result res;
	size_t len = 0;
	char *log;

	snprintf(cfg_bad, sizeof(cfg_bad), "%s/bad.conf", idp.dir);
	snprintf(extra, sizeof(extra), "keystore_dir = %s\nbogus_key = 1\nhttp_timeout = 0\n",
		 ks_main);
	write_config(cfg_bad, "conf", extra);
	CHECK_INT(call(cfg_bad, TS_MSG_REVALIDATE, "alice", &res), TS_E_CONFIG);
	CHECK_MSG(strstr(res.message, "configuration problem"), "message: %s", res.message);
	ts_client_result_clear(&res);
	log = ts_test_read_file(logfile, &len);
	/* through the broker's log sink ("tokenseal-broker: <level>: "), which is
	 * syslog in production, not the parser's bare stderr fallback */
	CHECK_MSG(log_line_has(log, "unknown key 'bogus_key', ignoring",
			       "tokenseal-broker: warning: "),
		  "the unknown key is in the broker's log");
	CHECK_MSG(log_line_has(log, "key 'http_timeout'", "tokenseal-broker: error: "),
		  "the bad value is in the broker's log");
	free(log);
}

/* 7: the server down -> unavailable within http_timeout, the record byte for
 * byte unchanged; offline_grace both ways. Runs last: it stops the IdP. */
static void test_server_down(void)
{
	char path[900], cfg_grace[800], extra[1200];
	struct ts_client_result res;
	char *before, *after;
	size_t lb = 0, la = 0;
	time_t t0;

	snprintf(cfg_grace, sizeof(cfg_grace), "%s/grace.conf", idp.dir);
	snprintf(extra, sizeof(extra),
	         "keystore_dir = %s\nhttp_timeout = 5\noffline_grace = 3600\n", ks_main);
	write_config(cfg_grace, "conf", extra);
	CHECK_INT(simple(cfg_main, TS_MSG_REVALIDATE, "alice"), 0);
	record_path(path, sizeof(path), ks_main, "alice");
	before = ts_test_read_file(path, &lb);
	ts_idp_stop(&idp);

	t0 = time(NULL);
	CHECK_INT(call(cfg_main, TS_MSG_REVALIDATE, "alice", &res), TS_E_UNAVAILABLE);
	CHECK_INT(res.state, TS_STATE_UNAVAILABLE);
	ts_client_result_clear(&res);
	CHECK_MSG(time(NULL) - t0 <= 15, "unavailable within http_timeout");
	after = ts_test_read_file(path, &la);
	CHECK_MSG(la == lb && memcmp(before, after, la) == 0, "record byte for byte unchanged");
	free(after);

	/* Then a server that stalls: the port accepts connections (the kernel
	 * completes the handshake into the backlog) but nothing ever answers. */
	{
		char cfg_stall[800];
		struct sockaddr_in sa = {.sin_family = AF_INET};
		int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		snprintf(cfg_stall, sizeof(cfg_stall), "%s/stall.conf", idp.dir);
		snprintf(extra, sizeof(extra), "keystore_dir = %s\nhttp_timeout = 3\n", ks_main);
		write_config(cfg_stall, "conf", extra);
		sa.sin_port = htons((uint16_t)idp.port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		CHECK(lfd >= 0);
		CHECK(setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
		CHECK_MSG(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind the IdP's port");
		CHECK(listen(lfd, 16) == 0);
		t0 = time(NULL);
		CHECK_INT(call(cfg_stall, TS_MSG_REVALIDATE, "alice", &res), TS_E_UNAVAILABLE);
		ts_client_result_clear(&res);
		CHECK_MSG(time(NULL) - t0 <= 3 * 2 + 3, "stalled server: unavailable within http_timeout");
		CHECK_MSG(time(NULL) - t0 >= 2, "the stall was really waited out");
		close(lfd);
		after = ts_test_read_file(path, &la);
		CHECK_MSG(la == lb && memcmp(before, after, la) == 0,
			  "record byte for byte unchanged after the stall");
		free(after);
	}

	CHECK_INT(call(cfg_grace, TS_MSG_REVALIDATE, "alice", &res), 0);
	CHECK_MSG(strstr(res.message, "offline_grace") && strstr(res.message, "unreachable"),
	          "offline message: %s", res.message);
	ts_client_result_clear(&res);
	after = ts_test_read_file(path, &la);
	CHECK_MSG(la == lb && memcmp(before, after, la) == 0, "record unchanged under grace");
	free(after);
	/* a needs-login record gets no grace: bob's (his account was
	 * disabled in test_password_and_token, his refresh refused) */
	CHECK_INT(call(cfg_grace, TS_MSG_STATUS, "bob", &res), 0);
	CHECK_INT(res.state, TS_STATE_NEEDS_LOGIN);
	ts_client_result_clear(&res);
	CHECK_INT(call(cfg_grace, TS_MSG_REVALIDATE, "bob", &res), TS_E_NEEDS_LOGIN);
	CHECK_STR(res.message, "sign-in required: the server refused the refresh token "
	                       "(invalid_grant: grant request is invalid); run `tokenseal login` or log in again");
	ts_client_result_clear(&res);
	free(before);
}

int main(int argc, char **argv)
{
	char extra[1200];
	FILE *f;

	if (argc < 2)
		TS_SKIP("usage: test_broker_idp PATH-TO-tokenseal-broker");
	if (!getpwnam("alice") || !getpwnam("bob") || !getpwnam("carol"))
		TS_SKIP("local users alice/bob/carol missing: scripts/test creates them");
	if (getuid() != 0)
		TS_SKIP("needs root (the broker acts for alice, bob and carol)");
	CHECK(ts_strlcpy(broker_bin, argv[1], sizeof(broker_bin)) == 0);
	CHECK(ts_idp_start(&idp, 3600) == 0);

	snprintf(logfile, sizeof(logfile), "%s/broker.log", ts_test_tmpdir());
	snprintf(wrapper, sizeof(wrapper), "%s/broker-wrapper", ts_test_tmpdir());
	f = fopen(wrapper, "w");
	CHECK(f);
	fprintf(f, "#!/bin/sh\nexec '%s' --debug \"$@\" 2>>'%s'\n", broker_bin, logfile);
	CHECK(fclose(f) == 0);
	CHECK(chmod(wrapper, 0755) == 0);

	snprintf(cfg_main, sizeof(cfg_main), "%s/main.conf", idp.dir);
	snprintf(ks_main, sizeof(ks_main), "%s/keystore", idp.dir);
	snprintf(extra, sizeof(extra),
	         "login_methods = device\n[service test]\nauth_with_stored_token = yes\n");
	write_config(cfg_main, "conf", extra);
	snprintf(cfg_win, sizeof(cfg_win), "%s/window.conf", idp.dir);
	write_config(cfg_win, "conf", "login_methods = device\nrefresh_window = 3599\n");
	snprintf(cfg_win1, sizeof(cfg_win1), "%s/window1.conf", idp.dir);
	write_config(cfg_win1, "conf",
	             "login_methods = device\nrefresh_window = 3599\nhttp_timeout = 1\n");

	RUN(test_device_login);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_plain_use_no_write);
	RUN(test_discovery_cache);
	RUN(test_revoked_access_token);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_stale_copy);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_fifty_concurrent);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_clock_skew);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_revoked_grant);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_rollback_healed_by_login);
	RUN(test_config_mismatch);
	RUN(test_device_edges);
	RUN(test_password_and_token);
	RUN(test_identity_device);
	RUN(test_logout_signed_out);
	RUN(test_last_session_signed_out);
	RUN(test_sessions_other_boot);
	RUN(test_subject_pinned);
	RUN(test_window_refresh_first);
	RUN(test_early_refresh_lock_timeout);
	RUN(test_early_refresh_invalid_grant);
	RUN(test_device_silent);
	RUN(test_device_remote);
	ts_leak_scan_file("the broker's log", logfile);
	RUN(test_config_reported);
	RUN(test_server_down);
	ts_leak_scan_file("the broker's log", logfile);
	return ts_test_done();
}
