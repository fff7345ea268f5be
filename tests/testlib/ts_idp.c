/* SPDX-License-Identifier: MIT */
/*
 * Start/stop the test IdP and the fault injector from C tests by running the
 * scripts in tests/fixtures (posix_spawn, no shell, so no quoting issues).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts_idp.h"
#include "ts_test.h"

extern char **environ;

#define FIXTURES TS_SOURCE_DIR "/tests/fixtures"
#define MAX_SERVERS 16

/* Servers still running, stopped at exit (the structs may be gone by then). */
static struct {
	char stop[600];
	char dir[512];
} running[MAX_SERVERS];
static int atexit_done;
static pid_t owner; /* forked children that exit() must not stop our servers */

/* The environment for helpers (servers, ctl, curl): ours without
 * LD_PRELOAD and the *_WRAPPER variables. Under pam_wrapper every process
 * that loads it takes one of its 62 temp folders (/tmp/pam.X) for its
 * lifetime, and a process that finds none exits in its constructor: with
 * two PAM tests in parallel, helpers that inherit it made whole commands
 * vanish ("Cannot find module '/ctl.mjs'": dirname died). NULL on ENOMEM. */
static char **helper_env(void)
{
	size_t n = 0, k = 0;
	char **env;

	for (char **e = environ; e && *e; e++)
		n++;
	env = calloc(n + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, "LD_PRELOAD=", 11) == 0 || strncmp(*e, "PAM_WRAPPER", 11) == 0 ||
		    strncmp(*e, "NSS_WRAPPER", 11) == 0)
			continue;
		env[k++] = *e;
	}
	return env;
}

/* posix_spawn wants char *const argv[]; ours are string literals. */
static int spawn(pid_t *pid, const posix_spawn_file_actions_t *fa, const char *const argv[])
{
	union {
		const char *const *c;
		char *const *m;
	} u = { .c = argv };
	char **env = helper_env();
	int r;

	if (!env)
		return ENOMEM;
	r = posix_spawn(pid, argv[0], fa, NULL, u.m, env);
	free(env);
	return r;
}

static void stop_all(void)
{
	if (getpid() != owner)
		return;
	for (size_t i = 0; i < MAX_SERVERS; i++) {
		if (running[i].dir[0]) {
			const char *argv[] = { running[i].stop, "--state-dir", running[i].dir, NULL };
			pid_t pid;
			int st;

			if (spawn(&pid, NULL, argv) == 0)
				(void)waitpid(pid, &st, 0);
			running[i].dir[0] = 0;
		}
	}
}

static void remember(const char *stop, const char *dir)
{
	if (!atexit_done) {
		/* after ts_test_tmpdir()'s handler, so it runs first */
		owner = getpid();
		atexit(stop_all);
		atexit_done = 1;
	}
	for (size_t i = 0; i < MAX_SERVERS; i++) {
		if (!running[i].dir[0]) {
			snprintf(running[i].stop, sizeof(running[i].stop), "%s", stop);
			snprintf(running[i].dir, sizeof(running[i].dir), "%s", dir);
			return;
		}
	}
	fprintf(stderr, "ts_idp: more than %d servers; one will not be stopped at exit\n",
		MAX_SERVERS);
}

static void forget(const char *dir)
{
	for (size_t i = 0; i < MAX_SERVERS; i++)
		if (running[i].dir[0] && strcmp(running[i].dir, dir) == 0)
			running[i].dir[0] = 0;
}

static int in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n > 0 && (size_t)snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog) <
				     sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return 1;
		path += n;
		if (*path == ':')
			path++;
	}
	return 0;
}

/*
 * Run argv; stdout goes to out (NUL-terminated, may be NULL = inherited).
 * Returns the exit status, or -1 if it could not run or was killed.
 */
int ts_idp_run(const char *const argv[], char *out, size_t outlen)
{
	posix_spawn_file_actions_t fa;
	int pfd[2] = { -1, -1 };
	pid_t pid;
	int st, r;
	size_t got = 0;

	if (out) {
		if (outlen == 0 || pipe2(pfd, O_CLOEXEC) < 0)
			return -1;
		out[0] = 0;
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		if (out) {
			close(pfd[0]);
			close(pfd[1]);
		}
		return -1;
	}
	if (out)
		(void)posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
	r = spawn(&pid, &fa, argv);
	posix_spawn_file_actions_destroy(&fa);
	if (out)
		close(pfd[1]);
	if (r != 0) {
		fprintf(stderr, "ts_idp: cannot run %s: %s\n", argv[0], strerror(r));
		if (out)
			close(pfd[0]);
		return -1;
	}
	if (out) {
		for (;;) {
			char tmp[4096];
			ssize_t n = read(pfd[0], tmp, sizeof(tmp));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			for (ssize_t i = 0; i < n && got + 1 < outlen; i++)
				out[got++] = tmp[i];
		}
		out[got] = 0;
		close(pfd[0]);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Value of KEY= in DIR/env into buf; 0 or -ENOENT. */
static int env_get(const char *dir, const char *key, char *buf, size_t len)
{
	char path[600], line[1024];
	size_t klen = strlen(key);
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "%s/env", dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			char *v = line + klen + 1;

			v[strcspn(v, "\r\n")] = 0;
			if ((size_t)snprintf(buf, len, "%s", v) >= len) {
				r = -ENAMETOOLONG;
				break;
			}
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

static int env_int(const char *dir, const char *key, int *ret)
{
	char buf[32], *end;
	long v;
	int r = env_get(dir, key, buf, sizeof(buf));

	if (r < 0)
		return r;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || *end || v <= 0 || v > INT_MAX)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

static int new_state_dir(char *buf, size_t len, const char *what)
{
	static unsigned n;

	for (;;) {
		if ((size_t)snprintf(buf, len, "%s/%s-%u", ts_test_tmpdir(), what, n++) >= len)
			return -ENAMETOOLONG;
		if (mkdir(buf, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
}

static void need_tools(void)
{
	if (!in_path("node"))
		TS_SKIP("node is not installed (the test IdP needs node 20)");
	if (!in_path("openssl"))
		TS_SKIP("openssl is not installed (the test IdP generates its CA with it)");
}

int ts_idp_start(struct ts_idp *idp, unsigned at_ttl)
{
	struct ts_idp t = { 0 };
	char ttl[16], watch[16];
	int r;

	need_tools();
	if (access(FIXTURES "/idp/node_modules/oidc-provider/package.json", R_OK) != 0)
		TS_SKIP("tests/fixtures/idp/node_modules is missing: run npm ci in "
			"tests/fixtures/idp; scripts/test does");
	r = new_state_dir(t.dir, sizeof(t.dir), "idp");
	if (r < 0)
		return r;
	snprintf(ttl, sizeof(ttl), "%u", at_ttl ? at_ttl : 3600);
	snprintf(watch, sizeof(watch), "%ld", (long)getpid());
	{
		const char *argv[] = { FIXTURES "/idp/start", "--state-dir", t.dir,
				 "--at-ttl", ttl, "--watch-pid", watch, NULL };

		remember(FIXTURES "/idp/stop", t.dir);
		if (ts_idp_run(argv, NULL, 0) != 0) {
			fprintf(stderr, "ts_idp_start: the IdP did not start (state %s)\n", t.dir);
			return -EIO;
		}
	}
	if (env_get(t.dir, "TS_IDP_ISSUER", t.issuer, sizeof(t.issuer)) < 0 ||
	    env_get(t.dir, "TS_IDP_CA", t.ca, sizeof(t.ca)) < 0 ||
	    env_get(t.dir, "TS_IDP_CONF_CLIENT", t.conf_client, sizeof(t.conf_client)) < 0 ||
	    env_get(t.dir, "TS_IDP_CONF_SECRET_FILE", t.secret_file, sizeof(t.secret_file)) < 0 ||
	    env_get(t.dir, "TS_IDP_PUBLIC_CLIENT", t.public_client, sizeof(t.public_client)) < 0 ||
	    env_int(t.dir, "TS_IDP_PORT", &t.port) < 0 || env_int(t.dir, "TS_IDP_PID", &t.pid) < 0) {
		fprintf(stderr, "ts_idp_start: bad %s/env\n", t.dir);
		return -EINVAL;
	}
	*idp = t;
	return 0;
}

void ts_idp_stop(struct ts_idp *idp)
{
	const char *argv[] = { FIXTURES "/idp/stop", "--state-dir", idp->dir, NULL };

	if (!idp->dir[0])
		return;
	(void)ts_idp_run(argv, NULL, 0);
	forget(idp->dir);
	idp->pid = 0;
}

int ts_idp_ctl(struct ts_idp *idp, const char *cmd, const char *arg)
{
	const char *argv[] = { FIXTURES "/idp/ctl", "--state-dir", idp->dir,
			 cmd, arg, NULL };

	return ts_idp_run(argv, NULL, 0);
}

/* ---- access policy (issue 16) ---- */
int ts_idp_set_claims(struct ts_idp *idp, const char *user, const char *json, const char *where)
{
	const char *argv[] = { FIXTURES "/idp/ctl", "--state-dir", idp->dir, "set-claims",
			 user, json, where, NULL };

	return ts_idp_run(argv, NULL, 0);
}

int ts_idp_set_many_groups(struct ts_idp *idp, const char *user, unsigned many, const char *where)
{
	char n[16];
	const char *argv[] = { FIXTURES "/idp/ctl", "--state-dir", idp->dir, "set-many-groups",
			 user, n, where, NULL };

	(void)snprintf(n, sizeof(n), "%u", many);
	return ts_idp_run(argv, NULL, 0);
}

static long parse_count(const char *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(out, &end, 10);
	if (errno || end == out || (*end && *end != '\n') || v < 0)
		return -1;
	return v;
}

long ts_idp_count(struct ts_idp *idp, const char *key)
{
	char out[64];
	const char *argv[] = { FIXTURES "/idp/ctl", "--state-dir", idp->dir,
			 "count", key, NULL };

	if (ts_idp_run(argv, out, sizeof(out)) != 0)
		return -1;
	return parse_count(out);
}

int ts_idp_approve_device(struct ts_idp *idp, const char *user_code, const char *login,
			  const char *password, int deny)
{
	const char *argv[] = { FIXTURES "/idp/approve-device",
			 "--state-dir",
			 idp->dir,
			 "--user-code",
			 user_code,
			 "--login",
			 login,
			 "--password",
			 password,
			 deny ? "--deny" : NULL,
			 NULL };

	return ts_idp_run(argv, NULL, 0);
}

int ts_idp_write_config(struct ts_idp *idp, const char *path, const char *client,
			const char *extra)
{
	int conf = strcmp(client, "conf") == 0;
	FILE *f;
	int fd, r = 0;

	if (!conf && strcmp(client, "public") != 0)
		return -EINVAL;
	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0644) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		return r;
	}
	fprintf(f, "# written by ts_idp_write_config for the test IdP in %s\n", idp->dir);
	fprintf(f, "issuer = %s\n", idp->issuer);
	fprintf(f, "client_id = %s\n", conf ? idp->conf_client : idp->public_client);
	if (conf)
		fprintf(f, "client_secret_file = %s\n", idp->secret_file);
	if (!extra || !strstr(extra, "ca_file")) /* a test of the system trust store */
		fprintf(f, "ca_file = %s\n", idp->ca);
	fprintf(f, "keystore_dir = %s/keystore\n", idp->dir);
	fprintf(f, "key_file = %s/keystore.key\n", idp->dir);
	/* never the host's daemon at the default /run/tokenseal/broker.sock:
	 * a test that wants one starts its own here (a later line wins) */
	/* (only when extra does not set them: the parser warns of a repeat) */
	if (!extra || !strstr(extra, "socket_path"))
		fprintf(f, "socket_path = %s/broker.sock\n", idp->dir);
	if (!extra || !strstr(extra, "nss_cache")) /* never /var/lib */
		fprintf(f, "nss_cache = %s/nss/users.cache\n", idp->dir);
	if (extra && *extra) {
		fputs(extra, f);
		if (extra[strlen(extra) - 1] != '\n')
			fputc('\n', f);
	}
	if (ferror(f))
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	return r;
}

int ts_faults_start(struct ts_faults *f)
{
	struct ts_faults t = { 0 };
	char watch[16];
	int r;

	need_tools();
	r = new_state_dir(t.dir, sizeof(t.dir), "faults");
	if (r < 0)
		return r;
	snprintf(watch, sizeof(watch), "%ld", (long)getpid());
	{
		const char *argv[] = { FIXTURES "/faults/start", "--state-dir", t.dir,
				 "--watch-pid", watch, NULL };

		remember(FIXTURES "/faults/stop", t.dir);
		if (ts_idp_run(argv, NULL, 0) != 0) {
			fprintf(stderr, "ts_faults_start: the fault server did not start (state %s)\n",
				t.dir);
			return -EIO;
		}
	}
	if (env_get(t.dir, "TS_FAULTS_BASE", t.base, sizeof(t.base)) < 0 ||
	    env_get(t.dir, "TS_FAULTS_CA", t.ca, sizeof(t.ca)) < 0 ||
	    env_int(t.dir, "TS_FAULTS_PID", &t.pid) < 0) {
		fprintf(stderr, "ts_faults_start: bad %s/env\n", t.dir);
		return -EINVAL;
	}
	*f = t;
	return 0;
}

void ts_faults_stop(struct ts_faults *f)
{
	const char *argv[] = { FIXTURES "/faults/stop", "--state-dir", f->dir, NULL };

	if (!f->dir[0])
		return;
	(void)ts_idp_run(argv, NULL, 0);
	forget(f->dir);
	f->pid = 0;
}

int ts_faults_issuer(const struct ts_faults *f, const char *name, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/case/%s", f->base, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

long ts_faults_requests(struct ts_faults *f, const char *name, const char *kind)
{
	char out[8192], key[64];
	const char *argv[] = {FIXTURES "/faults/stats", "--state-dir", f->dir, name, NULL};
	const char *p;

	if (ts_idp_run(argv, out, sizeof(out)) != 0)
		return -1;
	snprintf(key, sizeof(key), "\"%s\":", kind);
	p = strstr(out, "\"requests\"");
	p = p ? strstr(p, key) : NULL;
	return p ? strtol(p + strlen(key), NULL, 10) : 0;
}

long ts_faults_polls(struct ts_faults *f, const char *name)
{
	char out[64];
	const char *argv[] = { FIXTURES "/faults/stats", "--state-dir", f->dir,
			 name, "polls", NULL };

	if (ts_idp_run(argv, out, sizeof(out)) != 0)
		return -1;
	return parse_count(out);
}
