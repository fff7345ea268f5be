/* SPDX-License-Identifier: MIT */
/*
 * The system trust store, with ca_file unset (label cli, idp): which folder
 * the broker trusts on a Fedora/RHEL host and on a Debian one, proven with
 * the real `tokenseal doctor --json` (exec mode, the real broker) against
 * the real test IdP, whose certificate chains to a CA of its own. Each run is
 * in a private mount namespace: /etc is an overlay (so /etc/pki can exist on
 * this Debian host without touching it), /etc/ssl/certs an empty tmpfs, and
 * the folders under test are bind-mounted fixtures made by `openssl rehash`
 * from the test CA (the layout update-ca-trust and update-ca-certificates
 * leave: PEM files and HASH.0 links).
 *
 *   fedora        the CA in /etc/pki/ca-trust/extracted/pem/directory-hash,
 *                 none in /etc/ssl/certs: trusted, doctor names that folder
 *   fedora-other  that folder holds another CA, /etc/ssl/certs the test CA:
 *                 not trusted (the Fedora folder is the one used; Fedora's
 *                 /etc/ssl/certs holds only bundles, never asked)
 *   debian        no /etc/pki, the CA in /etc/ssl/certs: trusted, named
 *
 * argv[1]: tokenseal, argv[2]: tokenseal-broker.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "ts_idp.h"
#include "ts_test.h"

#define FEDORA_DIR "/etc/pki/ca-trust/extracted/pem/directory-hash"

enum layout { FEDORA, FEDORA_OTHER, DEBIAN };

static struct ts_idp idp;
static const char *cli_bin;
static char cfg[700], top[700];

/* the child's exit statuses of a failed namespace setup */
#define EXIT_NO_OVERLAY 80
#define EXIT_SETUP 81

static void sh(const char *cmd)
{
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};

	CHECK_MSG(ts_idp_run(argv, NULL, 0) == 0, "%s", cmd);
}

/* top/NAME: a hashed folder holding ca (PEM) */
static void hashed_folder(const char *name, const char *ca)
{
	char cmd[2400];

	snprintf(cmd, sizeof(cmd),
	         "set -e; d='%s/%s'; mkdir -p \"$d\"; cp '%s' \"$d/tokenseal-test.pem\"; "
	         "openssl rehash \"$d\"; ls \"$d\" | grep -q '\\.0$'",
	         top, name, ca);
	sh(cmd);
}

static _Noreturn void child(enum layout l)
{
	static char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	char env[800], opts[2400], src[900];
	const char *deb = l == FEDORA ? NULL : "ca-test";

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		_exit(EXIT_SETUP);
	snprintf(opts, sizeof(opts), "lowerdir=/etc,upperdir=%s/upper,workdir=%s/work", top, top);
	if (mount("overlay", "/etc", "overlay", 0, opts) < 0)
		_exit(EXIT_NO_OVERLAY);
	if (mount("tmpfs", "/etc/ssl/certs", "tmpfs", 0, "mode=0755") < 0)
		_exit(EXIT_SETUP);
	if (deb) {
		snprintf(src, sizeof(src), "%s/%s", top, deb);
		if (mount(src, "/etc/ssl/certs", NULL, MS_BIND, NULL) < 0)
			_exit(EXIT_SETUP);
	}
	if (l != DEBIAN) {
		snprintf(src, sizeof(src), "%s/%s", top, l == FEDORA ? "ca-test" : "ca-other");
		if (mkdir("/etc/pki", 0755) < 0 || mkdir("/etc/pki/ca-trust", 0755) < 0 ||
		    mkdir("/etc/pki/ca-trust/extracted", 0755) < 0 ||
		    mkdir("/etc/pki/ca-trust/extracted/pem", 0755) < 0 || mkdir(FEDORA_DIR, 0755) < 0 ||
		    mount(src, FEDORA_DIR, NULL, MS_BIND, NULL) < 0)
			_exit(EXIT_SETUP);
	} else if (access("/etc/pki", F_OK) == 0) {
		_exit(EXIT_SETUP); /* a host with /etc/pki: not the Debian layout */
	}
	snprintf(env, sizeof(env), "TOKENSEAL_CONFIG=%s", cfg);
	execle(cli_bin, "tokenseal", "doctor", "--json", (char *)NULL,
	       (char *const[]){env, path_env, NULL});
	_exit(EXIT_SETUP);
}

/* doctor --json under layout l: the message of check name, its status in st */
static void doctor(enum layout l, const char *name, char *st, size_t stlen, char *msg,
                   size_t msglen)
{
	static char out[262144];
	char cmd[3200];
	size_t got = 0, i;
	ssize_t k;
	int p[2], status = 0, code;
	pid_t pid;
	json_t *j, *v;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/upper' '%s/work' && mkdir '%s/upper' '%s/work'", top,
	         top, top, top);
	sh(cmd);
	CHECK(pipe(p) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		child(l);
	}
	close(p[1]);
	while (got < sizeof(out) - 1 && (k = read(p[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)k;
	close(p[0]);
	out[got] = '\0';
	CHECK(waitpid(pid, &status, 0) == pid);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (code == EXIT_NO_OVERLAY)
		TS_SKIP("cannot mount an overlay over /etc in a mount namespace (overlayfs)");
	CHECK_MSG(code != EXIT_SETUP, "the namespace setup failed");
	j = json_loads(out, 0, NULL);
	CHECK_MSG(json_is_object(j), "doctor --json printed no JSON object: %s", out);
	snprintf(st, stlen, "(none)");
	msg[0] = '\0';
	json_array_foreach(json_object_get(j, "checks"), i, v)
	{
		const char *n = json_string_value(json_object_get(v, "name"));

		if (n && strcmp(n, name) == 0) {
			snprintf(st, stlen, "%s", json_string_value(json_object_get(v, "status")));
			snprintf(msg, msglen, "%s", json_string_value(json_object_get(v, "message")));
		}
	}
	json_decref(j);
}

/* Under layout l the server is trusted, through folder, which doctor names. */
static void trusted_through(enum layout l, const char *label, const char *folder)
{
	char st[16], msg[1024], want[300];

	doctor(l, "tls", st, sizeof(st), msg, sizeof(msg));
	fprintf(stderr, "   %s: tls %s: %s\n", label, st, msg);
	CHECK_STR(st, "ok");
	snprintf(want, sizeof(want), "system trust store: %s", folder);
	CHECK_MSG(strstr(msg, want), "names the folder: %s", msg);
	doctor(l, "discovery", st, sizeof(st), msg, sizeof(msg));
	CHECK_STR(st, "ok");
}

static void test_fedora(void)
{
	trusted_through(FEDORA, "fedora", FEDORA_DIR);
}

static void test_fedora_other(void)
{
	char st[16], msg[1024];

	doctor(FEDORA_OTHER, "discovery", st, sizeof(st), msg, sizeof(msg));
	fprintf(stderr, "   fedora-other: discovery %s: %s\n", st, msg);
	CHECK_STR(st, "fail");
	CHECK_MSG(strstr(msg, "certificate"), "a certificate problem: %s", msg);
}

static void test_debian(void)
{
	trusted_through(DEBIAN, "debian", "/etc/ssl/certs");
}

int main(int argc, char **argv)
{
	char extra[1200], cmd[2000];

	if (argc != 3)
		TS_SKIP("usage: test_cli_trust TOKENSEAL TOKENSEAL-BROKER");
	if (geteuid() != 0)
		TS_SKIP("needs root (mount namespaces; the CLI runs the broker in exec mode)");
	if (access("/usr/bin/openssl", X_OK) != 0)
		TS_SKIP("needs /usr/bin/openssl (openssl rehash)");
	cli_bin = argv[1];
	CHECK_INT(ts_idp_start(&idp, 0), 0);
	snprintf(cfg, sizeof(cfg), "%s/tokenseal.conf", idp.dir);
	snprintf(top, sizeof(top), "%s/trust", ts_test_tmpdir());
	CHECK(mkdir(top, 0755) == 0 || errno == EEXIST);
	/* ca_file unset: the system trust store */
	snprintf(extra, sizeof(extra), "broker_path = %s\nca_file =\n", argv[2]);
	CHECK_INT(ts_idp_write_config(&idp, cfg, "conf", extra), 0);
	hashed_folder("ca-test", idp.ca);
	/* another CA: a fresh self-signed one */
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
	         "-subj /CN=not-the-test-ca -keyout '%s/other.key' -out '%s/other.pem' "
	         ">/dev/null 2>&1",
	         top, top);
	sh(cmd);
	snprintf(cmd, sizeof(cmd), "%s/other.pem", top);
	hashed_folder("ca-other", cmd);

	RUN(test_fedora);
	RUN(test_fedora_other);
	RUN(test_debian);
	return ts_test_done();
}
