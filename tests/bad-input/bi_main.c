/* SPDX-License-Identifier: MIT */
/*
 * The bad-input catalogue's runner: badinput BROKER CASES_DIR [--attack |
 * --no-attack] [--table FILE] [CASE...]. Starts the real test IdP, the fault
 * injector (its `canned` case) and a broker daemon once, signs alice and bob
 * in, then runs every case folder of CASES_DIR (those with `attack: yes`
 * only with --attack, the others only with --no-attack; both without
 * either), each from the same pristine state. See README.md.
 */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bi.h"
#include "ts_daemon.h"
#include "ts_error.h"
#include "ts_test.h"

struct bi_world W;

static const struct {
	int code;
	const char *name;
} names[] = {
#define N(x)                                                                                       \
	{                                                                                          \
		x, #x                                                                              \
	}
    {0, "OK"},
    N(TS_E_CORRUPT),
    N(TS_E_ROLLBACK),
    N(TS_E_CONFLICT),
    N(TS_E_BAD_OWNER),
    N(TS_E_BAD_MODE),
    N(TS_E_NOT_REGULAR),
    N(TS_E_TOO_BIG),
    N(TS_E_LOCK_TIMEOUT),
    N(TS_E_NO_KEY),
    N(TS_E_KEY_ID),
    N(TS_E_QUARANTINED),
    N(TS_E_MISMATCH),
    N(TS_E_CONFIG),
    N(TS_E_IPC),
    N(TS_E_REJECTED_TOKEN),
    N(TS_E_NEEDS_LOGIN),
    N(TS_E_SERVER_CONFIG),
    N(TS_E_UNAVAILABLE),
    N(TS_E_BAD_ANSWER),
    N(TS_E_IDENTITY_CHANGED),
    N(TS_E_DENIED),
    N(TS_E_EXPIRED),
    N(TS_E_IDENTITY_MISMATCH),
    N(TS_E_INTERACTION),
    N(TS_E_NO_RECORD),
    N(TS_E_PERM),
    N(TS_E_SUBJECT_PINNED),
    N(TS_E_FOREIGN_TOKEN),
    N(TS_E_SIGNED_OUT),
    N(TS_E_NOT_SAVED),
    N(TS_E_NOT_SERVED),
    N(TS_E_NO_SERVICE),
    N(TS_E_NOT_CONFIGURED),
    N(TS_E_POLICY),
    N(TS_E_BUSY),
#undef N
    {-ENOENT, "-ENOENT"},
    {-EINVAL, "-EINVAL"},
    {-EPERM, "-EPERM"},
    {-EACCES, "-EACCES"},
    {-ENOSPC, "-ENOSPC"},
    {-ETIMEDOUT, "-ETIMEDOUT"},
    {-EPROTO, "-EPROTO"},
    {-ENAMETOOLONG, "-ENAMETOOLONG"},
    {-E2BIG, "-E2BIG"},
    {-EMSGSIZE, "-EMSGSIZE"},
};

const char *bi_code_name(int code)
{
	static char other[32];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].name;
	snprintf(other, sizeof(other), "%d", code);
	return other;
}

const char *bi_get(const struct bi_case *c, const char *key)
{
	for (size_t i = c->n; i-- > 0;)
		if (strcmp(c->keys[i], key) == 0)
			return c->vals[i];
	return NULL;
}

bool bi_yes(const struct bi_case *c, const char *key, bool def)
{
	const char *v = bi_get(c, key);

	return v ? strcmp(v, "yes") == 0 : def;
}

int bi_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- case files ---------------------------------------------------------- */

static const char *const required[] = {"kind", "input", "expect-class", "expect-message",
                                       "changes-record"};

/* Every key a case may use (README.md): a typo is an error, never a
 * silently ignored input. */
static const char *const known[] = {"kind",
                                    "input",
                                    "expect-class",
                                    "expect-message",
                                    "changes-record",
                                    "attack",
                                    "op",
                                    "user",
                                    "method",
                                    "answer",
                                    "config",
                                    "config-extra",
                                    "config-file",
                                    "ks",
                                    "nss-full",
                                    "race-symlink",
                                    "keep",
                                    "check-mode",
                                    "check-empty",
                                    "make-dir",
                                    "conv-lacks",
                                    "nss-lacks",
                                    "idp-claims",
                                    "idp-many-groups",
                                    "idp-claims-where",
                                    "target",
                                    "peer",
                                    "frame",
                                    "half-close",
                                    "silent-peers",
                                    "silent-bytes",
                                    "timeout-ms",
                                    "skip-under-asan",
                                    "caller-env",
                                    "caller-env2",
                                    "caller-env3",
                                    "caller-env4",
                                    "caller-umask",
                                    "caller-rlimit",
                                    "caller-ignore",
                                    "caller-close-stdio",
                                    "caller-no-config",
                                    "canned-route",
                                    "canned-grant",
                                    "canned-status",
                                    "canned-type",
                                    "canned-location",
                                    "canned-body",
                                    "canned2-route",
                                    "canned2-grant",
                                    "canned2-status",
                                    "canned2-type",
                                    "canned2-location",
                                    "canned2-body"};

static bool known_key(const char *k)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i], k) == 0)
			return true;
	return false;
}

static int parse_case(struct bi_case *c, const char *dir, const char *name)
{
	char path[900], line[8192];
	FILE *f;

	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "%s/%s", dir, name);
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(path, sizeof(path), "%s/case", c->dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *colon, *v, *end = line + strlen(line);

		while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
			*--end = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		colon = strchr(line, ':');
		if (!colon || c->n == BI_KEYS_MAX) {
			fclose(f);
			fprintf(stderr, "%s: bad line: %s\n", path, line);
			return -EINVAL;
		}
		*colon = '\0';
		if (!known_key(line)) {
			fclose(f);
			fprintf(stderr, "%s: unknown key \"%s\" (README.md lists them)\n", path,
			        line);
			return -EINVAL;
		}
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		c->keys[c->n] = strdup(line);
		c->vals[c->n] = strdup(v);
		c->n++;
	}
	fclose(f);
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!bi_get(c, required[i])) {
			fprintf(stderr, "%s: no \"%s:\" line\n", path, required[i]);
			return -EINVAL;
		}
	return 0;
}

static void free_case(struct bi_case *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->keys[i]);
		free(c->vals[i]);
	}
	c->n = 0;
}

/* ---- one case ---------------------------------------------------------- */

static void make_pristine(void);

/* name is one of the "|"-separated list */
static bool class_in(const char *name, const char *list)
{
	size_t n = strlen(name);

	for (const char *p = list; p;) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);

		if (l == n && strncmp(p, name, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

static void run_case(struct bi_case *c)
{
	const char *want_class = bi_get(c, "expect-class");
	const char *want_msg = bi_get(c, "expect-message");
	const char *changes = bi_get(c, "changes-record");
	const char *op = bi_get(c, "op") ? bi_get(c, "op") : "";
	char config[700], *before = NULL, *after = NULL;
	bool on_canned;
	struct timespec t0, t1;
	regex_t re;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	bi_restore_state();
	(void)bi_sh("rm -f '%s'/* '%s'", W.asan_dir, W.case_log);
	snprintf(config, sizeof(config), "%s",
	         strcmp(bi_get(c, "kind"), "server") == 0 && !bi_get(c, "idp-claims") &&
	                 !bi_get(c, "idp-many-groups")
	             ? W.cfg_canned
	             : W.cfg_idp);
	if (bi_get(c, "config"))
		snprintf(config, sizeof(config), "%s",
		         strcmp(bi_get(c, "config"), "canned") == 0 ? W.cfg_canned : W.cfg_idp);
	on_canned = strcmp(config, W.cfg_canned) == 0;
#if defined(__SANITIZE_ADDRESS__)
	if (bi_get(c, "skip-under-asan")) {
		snprintf(c->why, sizeof(c->why), "%s", bi_get(c, "skip-under-asan"));
		c->skipped = true;
		goto out;
	}
#endif
	if (bi_get(c, "make-dir"))
		CHECK_INT(bi_sh("mkdir -p -m 0777 '%s/%s'", W.dir, bi_get(c, "make-dir")), 0);
	if (bi_setup(c, config, sizeof(config)) < 0)
		goto out;
	before = bi_snapshot();
	bi_race_start(c, config);
	if (bi_get(c, "caller-env") || bi_get(c, "caller-umask") || bi_get(c, "caller-rlimit") ||
	    bi_get(c, "caller-ignore") || bi_get(c, "caller-close-stdio"))
		bi_talk_caller(c, config);
	else
		bi_talk(c, config);
	bi_race_stop();
	if (c->why[0])
		goto out;
	after = bi_snapshot();
	if (!c->got_result && class_in("CLOSED", want_class)) {
		/* the broker closed the connection without a RESULT, as expected */
	} else if (!c->got_result) {
		snprintf(c->why, sizeof(c->why), "no RESULT, expected %s", want_class);
	} else if (!class_in(bi_code_name(c->code), want_class)) {
		snprintf(c->why, sizeof(c->why), "%s, expected %s (message: %.300s)",
		         bi_code_name(c->code), want_class, c->message);
	}
	if (!c->why[0] && c->got_result) {
		r = regcomp(&re, want_msg, REG_EXTENDED | REG_NOSUB);
		CHECK_MSG(r == 0, "%s: expect-message is no regex: %s", c->name, want_msg);
		if (r == 0 && regexec(&re, c->message, 0, NULL, 0) != 0)
			snprintf(c->why, sizeof(c->why),
			         "message \"%.400s\" does not match /%.100s/", c->message,
			         want_msg);
		if (r == 0)
			regfree(&re);
	}
	if (!c->why[0] && strcmp(changes, "no") == 0 && strcmp(before, after) != 0) {
		bi_print_diff(before, after);
		snprintf(c->why, sizeof(c->why), "the keystore or the NSS cache changed");
	}
	if (!c->why[0] && strcmp(changes, "yes") == 0 && strcmp(before, after) == 0)
		snprintf(c->why, sizeof(c->why), "changes-record: yes, but nothing changed");
	if (!c->why[0] && bi_get(c, "keep"))
		bi_check_kept(c, before, after);
	if (!c->why[0] && bi_get(c, "check-mode")) {
		char frag[80];
		const char *l;

		snprintf(frag, sizeof(frag), "/ks-idp/users/%u.seal %s ", (unsigned)W.alice,
		         bi_get(c, "check-mode"));
		l = strstr(after, frag);
		if (!l)
			snprintf(c->why, sizeof(c->why), "alice's record is not mode %s: %.500s",
			         bi_get(c, "check-mode"), after);
	}
	if (!c->why[0] && bi_get(c, "conv-lacks")) {
		char *needle;
		size_t nl;

		bi_decode(bi_get(c, "conv-lacks"), &needle, &nl);
		if (nl && memmem(c->conv, c->conv_len, needle, nl))
			snprintf(c->why, sizeof(c->why),
			         "the conversation showed the server's raw bytes \"%s\"",
			         bi_get(c, "conv-lacks"));
		else if (!c->conv_len && c->got_result && c->code == 0)
			snprintf(c->why, sizeof(c->why),
			         "conv-lacks: the conversation showed nothing");
		free(needle);
	}
	if (!c->why[0] && bi_get(c, "nss-lacks"))
		bi_check_nss_lacks(c);
	if (!c->why[0] && bi_get(c, "check-empty"))
		bi_check_empty(c);
	if (!c->why[0])
		bi_crash_traces(c->why, sizeof(c->why));
	if (!c->why[0] && W.daemon_pid > 0 && kill(W.daemon_pid, 0) != 0)
		snprintf(c->why, sizeof(c->why), "the daemon is gone (log %s)", W.daemon_log);
out:
	bi_teardown(c);
	/* a case that may have spent alice's refresh token at the IdP: a new
	 * pristine state for the next one */
	if (!on_canned &&
	    (strcmp(op, "refresh") == 0 || !before || !after || strcmp(before, after) != 0)) {
		bi_restore_state();
		make_pristine();
	}
	free(before);
	free(after);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	c->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "%s %-40s %s %.1fs %s\n",
	        c->skipped  ? "SKIP"
	        : c->why[0] ? "FAIL"
	                    : "ok  ",
	        c->name, c->got_result ? bi_code_name(c->code) : "(no result)", c->seconds, c->why);
	if (c->got_result)
		fprintf(stderr, "     message: %.300s\n", c->message);
}

/* ---- the world --------------------------------------------------------- */

static void write_text(const char *path, const char *text)
{
	ts_test_write_file(path, text, strlen(text), 0644);
}

static void canned_config(const char *path, const char *ks)
{
	char text[8192], issuer[300];

	CHECK_INT(ts_faults_issuer(&W.faults, "canned", issuer, sizeof(issuer)), 0);
	snprintf(text, sizeof(text),
	         "issuer = %s\nclient_id = tokenseal-conf\nclient_secret_file = %s\nca_file = %s\n"
	         "keystore_dir = %s\nkey_file = %s.key\nsocket_path = %s/unused.sock\n"
	         "login_methods = password, device, token\nhttp_timeout = 3\n"
	         "max_response_size = 1048576\ndevice_timeout = 10\n"
	         "nss_cache = %s/users.cache\nnss_uid_min = 3000000\nnss_uid_max = 3099999\n"
	         "nss_resolve_unknown = ext-[a-z]+\ngroups_claim = groups\n",
	         issuer, W.idp.secret_file, W.faults.ca, ks, ks, W.dir, W.nss_dir);
	write_text(path, text);
}

static void idp_config(const char *path, const char *ks, const char *more)
{
	char extra[2048];

	snprintf(
	    extra, sizeof(extra),
	    "keystore_dir = %s\nkey_file = %s.key\nlogin_methods = password, device, token\n"
	    "http_timeout = 3\nnss_cache = %s/users.cache\nnss_uid_min = 3000000\n"
	    "nss_uid_max = 3099999\nnss_resolve_unknown = ext-[a-z]+\ngroups_claim = groups\n%s",
	    ks, ks, W.nss_dir, more);
	CHECK_INT(ts_idp_write_config(&W.idp, path, "conf", extra), 0);
}

/* One request of the world's setup through the case machinery. */
static int setup_call(const char *config, const char *op, const char *user, const char *pw)
{
	static struct bi_case c;
	const char *k[] = {"op", "user", "answer", "method"};
	const char *v[] = {op, user, pw, "password"};

	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < 4; i++)
		if (v[i]) {
			c.keys[c.n] = strdup(k[i]);
			c.vals[c.n++] = strdup(v[i]);
		}
	bi_talk(&c, config);
	free_case(&c);
	CHECK_MSG(c.got_result, "setup %s %s: %s", op, user, c.why);
	fprintf(stderr, "   setup %s %s: %s %s\n", op, user, bi_code_name(c.code), c.message);
	return c.code;
}

/* alice's idp record with a live refresh token (a refresh the server
 * answered consumes it: the server rotates refresh tokens and revokes the
 * grant when an old one comes back), an older generation of it beside,
 * and the whole state saved as the pristine copy every case starts from. */
static void make_pristine(void)
{
	char path[900];

	CHECK_INT(setup_call(W.cfg_idp, "login", "alice", "alice-pw"), 0);
	snprintf(path, sizeof(path), "%s/users/%u.seal", W.ks_idp, (unsigned)W.alice);
	CHECK_INT(bi_sh("cp -a '%s' '%s'", path, W.old_alice_idp), 0);
	CHECK_INT(setup_call(W.cfg_idp, "refresh", "alice", NULL), 0);
	CHECK_INT(bi_sh("rm -rf '%s' && cp -a '%s' '%s'", W.pristine, W.state, W.pristine), 0);
}

static void world(const char *broker)
{
	char path[900];
	const char *tmp = ts_test_tmpdir();

	CHECK_MSG(realpath(broker, W.broker), "realpath %s: %s", broker, strerror(errno));
	snprintf(W.dir, sizeof(W.dir), "%s", tmp);
	snprintf(W.state, sizeof(W.state), "%s/state", tmp);
	snprintf(W.pristine, sizeof(W.pristine), "%s/pristine", tmp);
	snprintf(W.ks_idp, sizeof(W.ks_idp), "%s/ks-idp", W.state);
	snprintf(W.ks_canned, sizeof(W.ks_canned), "%s/ks-canned", W.state);
	snprintf(W.ks_other, sizeof(W.ks_other), "%s/ks-other", W.state);
	snprintf(W.nss_dir, sizeof(W.nss_dir), "%s/nss", W.state);
	snprintf(W.asan_dir, sizeof(W.asan_dir), "%s/asan", tmp);
	snprintf(W.case_log, sizeof(W.case_log), "%s/case.log", tmp);
	snprintf(W.old_alice_idp, sizeof(W.old_alice_idp), "%s/old-alice.seal", tmp);
	CHECK(mkdir(W.state, 0755) == 0 && mkdir(W.asan_dir, 0755) == 0);
	CHECK(mkdir(W.nss_dir, 0755) == 0);
	CHECK_INT(bi_sh("rm -rf '%s' && mkdir -p '%s'", BI_PRELOAD_DIR, BI_PRELOAD_DIR), 0);
	W.alice = getpwnam("alice") ? getpwnam("alice")->pw_uid : 0;
	W.bob = getpwnam("bob") ? getpwnam("bob")->pw_uid : 0;
	if (!W.alice || !W.bob)
		TS_SKIP("needs the local test users alice and bob (scripts/test creates them)");

	CHECK_INT(ts_idp_start(&W.idp, 0), 0);
	CHECK_INT(ts_faults_start(&W.faults), 0);
	snprintf(W.cfg_idp, sizeof(W.cfg_idp), "%s/idp.conf", tmp);
	snprintf(W.cfg_canned, sizeof(W.cfg_canned), "%s/canned.conf", tmp);
	snprintf(W.cfg_daemon, sizeof(W.cfg_daemon), "%s/daemon.conf", tmp);
	idp_config(W.cfg_idp, W.ks_idp, "");
	canned_config(W.cfg_canned, W.ks_canned);
	ts_daemon_socket_for(W.cfg_daemon, W.socket, sizeof(W.socket));
	snprintf(path, sizeof(path), "socket_path = %s\n", W.socket);
	/* the folders above the socket: searchable by alice (the peer cases) */
	CHECK(chmod(tmp, 0711) == 0);
	idp_config(W.cfg_daemon, W.ks_idp, path);

	CHECK_INT(setup_call(W.cfg_idp, "login", "alice", "alice-pw"), 0);
	CHECK_INT(setup_call(W.cfg_idp, "login", "bob", "bob-pw"), 0);
	/* an identity-provider-only user: the NSS cache holds ext-zed */
	CHECK_INT(setup_call(W.cfg_idp, "login", "ext-zed", "ext-zed-pw"), 0);
	CHECK_INT(setup_call(W.cfg_canned, "login", "alice", "any-pw"), 0);
	/* alice's record sealed under another master key */
	snprintf(path, sizeof(path), "%s/other.conf", tmp);
	idp_config(path, W.ks_other, "");
	CHECK_INT(setup_call(path, "login", "alice", "alice-pw"), 0);
	make_pristine();

	snprintf(W.daemon_log, sizeof(W.daemon_log), "%s/daemon.log", tmp);
	{
		struct ts_daemon d;

		char sdir[700], *slash;

		CHECK_INT(ts_daemon_start(&d, W.broker, W.cfg_daemon, W.socket, W.daemon_log), 0);
		W.daemon_pid = d.pid;
		snprintf(sdir, sizeof(sdir), "%s", W.socket);
		slash = strrchr(sdir, '/');
		if (slash)
			*slash = '\0';
		CHECK(chmod(sdir, 0711) == 0);
	}
}

/* A table cell: "|" escaped, at most len - 1 bytes. */
static const char *cell(char *out, size_t len, const char *in)
{
	size_t k = 0;

	for (const char *p = in ? in : ""; *p && k + 3 < len; p++) {
		if (*p == '|')
			out[k++] = '\\';
		out[k++] = *p;
	}
	out[k] = '\0';
	return out;
}

static void print_table(FILE *f, struct bi_case *cs, size_t n)
{
	fprintf(f, "| case | kind | input | expected class | message (regex) | record | labels | "
	           "result |\n"
	           "|---|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		struct bi_case *c = &cs[i];
		const char *ch = bi_get(c, "changes-record");
		char in[600], cls[300], msg[600];

		fprintf(f, "| `%s` | %s | %s | %s | `%s` | %s | %s | %s |\n", c->name,
		        bi_get(c, "kind"), cell(in, sizeof(in), bi_get(c, "input")),
		        cell(cls, sizeof(cls), bi_get(c, "expect-class")),
		        cell(msg, sizeof(msg), bi_get(c, "expect-message")),
		        strcmp(ch, "yes") == 0  ? "changed"
		        : strcmp(ch, "no") == 0 ? "unchanged"
		                                : "may change",
		        bi_yes(c, "attack", false) ? "badinput, attack" : "badinput",
		        c->skipped  ? "skipped"
		        : c->why[0] ? "**FAILED**"
		                    : "pass");
	}
	fprintf(f, "\n%zu cases.\n", n);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	static struct bi_case cases[400];
	char *list[400];
	const char *table = NULL;
	size_t n = 0, nl = 0, failed = 0, skipped = 0;
	int attack = -1, i;
	DIR *d;
	struct dirent *de;

	if (argc < 3) {
		fprintf(stderr, "usage: badinput BROKER CASES_DIR [--attack|--no-attack] "
		                "[--table FILE] [CASE...]\n");
		return 2;
	}
	if (geteuid() != 0)
		TS_SKIP("needs root (exec mode serves root callers; the cases chown and mount)");
	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--attack") == 0)
			attack = 1;
		else if (strcmp(argv[i], "--no-attack") == 0)
			attack = 0;
		else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc)
			table = argv[++i];
		else
			list[nl++] = strdup(argv[i]);
	}
	if (nl == 0) {
		d = opendir(argv[2]);
		CHECK(d);
		while (d && (de = readdir(d)) && nl < 400)
			if (de->d_name[0] != '.' && de->d_type == DT_DIR)
				list[nl++] = strdup(de->d_name);
		if (d)
			closedir(d);
		qsort(list, nl, sizeof(list[0]), by_name);
	}
	for (size_t k = 0; k < nl; k++) {
		CHECK_INT(parse_case(&cases[n], argv[2], list[k]), 0);
		if (attack >= 0 && bi_yes(&cases[n], "attack", false) != (attack == 1)) {
			free_case(&cases[n]);
			continue;
		}
		n++;
	}
	fprintf(stderr, "badinput: %zu cases from %s\n", n, argv[2]);
	world(argv[1]);
	for (size_t k = 0; k < n; k++) {
		run_case(&cases[k]);
		failed += !cases[k].skipped && cases[k].why[0];
		skipped += cases[k].skipped;
	}
	if (table) {
		FILE *f = fopen(table, "we");

		CHECK(f);
		if (f) {
			print_table(f, cases, n);
			fclose(f);
		}
	}
	for (size_t k = 0; k < n; k++)
		if (cases[k].why[0])
			fprintf(stderr, "%s %s: %s\n",
			        cases[k].skipped ? "SKIPPED:" : "FAILED:", cases[k].name,
			        cases[k].why);
	fprintf(stderr, "badinput: %zu cases, %zu failed, %zu skipped\n", n, failed, skipped);
	CHECK_MSG(failed == 0, "%zu of %zu cases failed", failed, n);
	for (size_t k = 0; k < n; k++)
		free_case(&cases[k]);
	for (size_t k = 0; k < nl; k++)
		free(list[k]);
	return ts_test_done();
}
