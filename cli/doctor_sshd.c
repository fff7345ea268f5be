/* SPDX-License-Identifier: MIT */
/*
 * The sshd lints of `tokenseal doctor`, when /etc/pam.d/sshd uses
 * pam_tokenseal.so: UsePAM, KbdInteractiveAuthentication (the device login
 * runs in the PAM conversation) and LoginGraceTime against device_timeout.
 * The settings come from `sshd -T` (root; what sshd would really use),
 * else from sshd_config read as sshd does for the global section: the
 * first value of a keyword wins, Include is followed, Match ends it.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "doctor.h"

struct sshd_set {
	char usepam[16], kbdint[16], grace[32];
	char from[TS_PATH_MAX + 16];
};

static void take(char *dst, size_t len, const char *v)
{
	if (dst[0] || strlen(v) >= len)
		return; /* the first value wins */
	memcpy(dst, v, strlen(v) + 1);
}

/* One "Keyword value" line (keyword case-insensitive, "=" allowed). */
static void set_line(struct sshd_set *s, char *line)
{
	char *k = line, *v;

	line[strcspn(line, "#\r\n")] = '\0';
	while (*k == ' ' || *k == '\t')
		k++;
	v = k + strcspn(k, " \t=");
	if (!*v)
		return;
	*v++ = '\0';
	v += strspn(v, " \t=");
	v[strcspn(v, " \t")] = '\0';
	if (!strcasecmp(k, "usepam"))
		take(s->usepam, sizeof(s->usepam), v);
	else if (!strcasecmp(k, "kbdinteractiveauthentication") ||
	         !strcasecmp(k, "challengeresponseauthentication"))
		take(s->kbdint, sizeof(s->kbdint), v);
	else if (!strcasecmp(k, "logingracetime"))
		take(s->grace, sizeof(s->grace), v);
}

/* false at Match: the global section ends there. */
static bool read_file(struct sshd_set *s, const char *path, unsigned depth)
{
	char line[1024];
	FILE *f = fopen(path, "re");
	bool go = true;

	if (!f)
		return true;
	while (go && fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");

		if (!strncasecmp(p, "match", 5) && (p[5] == ' ' || p[5] == '\t')) {
			go = false;
		} else if (!strncasecmp(p, "include", 7) && (p[7] == ' ' || p[7] == '\t') &&
		           depth < 4) {
			char pat[TS_PATH_MAX], *w = p + 8, *save = NULL;

			w[strcspn(w, "#\r\n")] = '\0';
			for (char *t = strtok_r(w, " \t", &save); t && go;
			     t = strtok_r(NULL, " \t", &save)) {
				glob_t g;

				/* relative names are under /etc/ssh */
				snprintf(pat, sizeof(pat), "%s%s", t[0] == '/' ? "" : "/etc/ssh/",
				         t);
				if (glob(pat, 0, NULL, &g) != 0)
					continue;
				for (size_t i = 0; i < g.gl_pathc && go; i++)
					go = read_file(s, g.gl_pathv[i], depth + 1);
				globfree(&g);
			}
		} else {
			set_line(s, line);
		}
	}
	fclose(f);
	return go;
}

/* `sshd -T`: 0 when it answered. */
static int sshd_t(struct sshd_set *s)
{
	static const char *const bins[] = {"/usr/sbin/sshd", "/usr/bin/sshd", NULL};
	char out[65536];
	size_t got = 0;
	ssize_t k;
	int p[2], st = 0;
	pid_t pid;
	const char *bin = NULL;

	for (size_t i = 0; bins[i] && !bin; i++)
		if (access(bins[i], X_OK) == 0)
			bin = bins[i];
	if (!bin || pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		dup2(p[1], STDOUT_FILENO);
		if (nul >= 0) {
			dup2(nul, STDIN_FILENO);
			dup2(nul, STDERR_FILENO);
		}
		execl(bin, "sshd", "-T", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (pid > 0 && got < sizeof(out) - 1 &&
	       (k = read(p[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)k;
	close(p[0]);
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	out[got] = '\0';
	for (char *line = out, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		set_line(s, line);
	}
	snprintf(s->from, sizeof(s->from), "`%s -T`", bin);
	return 0;
}

/* LoginGraceTime in seconds ("120", "2m", "1h30m"); -1 when unreadable. */
static long grace_seconds(const char *v)
{
	long total = 0;

	if (!v[0])
		return 120; /* sshd's default */
	while (*v) {
		char *end;
		long n = strtol(v, &end, 10);

		if (end == v || n < 0)
			return -1;
		switch (*end) {
		case '\0':
		case 's':
		case 'S':
			break;
		case 'm':
		case 'M':
			n *= 60;
			break;
		case 'h':
		case 'H':
			n *= 3600;
			break;
		default:
			return -1;
		}
		total += n;
		v = *end ? end + 1 : end;
	}
	return total;
}

void doc_lint_sshd(struct doctor *d)
{
	const struct doc_service *svc = doc_service(d, "sshd");
	struct sshd_set s = {0};
	bool device = false;
	long grace;

	if (!svc || !svc->pam) {
		cli_doctor_line(d, "skip", "sshd", NULL, "%s/sshd does not use pam_tokenseal.so",
		                DOC_PAM_DIR);
		return;
	}
	if (!d->c->root || sshd_t(&s) < 0) {
		memset(&s, 0, sizeof(s));
		if (access(DOC_SSHD_CONFIG, R_OK) < 0) {
			cli_doctor_line(d, "skip", "sshd", NULL, "%s: %s", DOC_SSHD_CONFIG,
			                strerror(errno));
			return;
		}
		(void)read_file(&s, DOC_SSHD_CONFIG, 0);
		snprintf(s.from, sizeof(s.from), "%s", DOC_SSHD_CONFIG);
	}
	for (size_t i = 0; i < svc->cfg.n_login_methods; i++)
		device = device || svc->cfg.login_methods[i] == TS_LOGIN_DEVICE;

	if (!strcasecmp(s.usepam, "yes"))
		cli_doctor_line(d, "ok", "sshd-usepam", NULL, "UsePAM yes (%s)", s.from);
	else
		cli_doctor_line(
		    d, "fail", "sshd-usepam", "set `UsePAM yes` in " DOC_SSHD_CONFIG,
		    "UsePAM is %s (%s): sshd never asks PAM, so tokenseal neither signs "
		    "anyone in nor checks them",
		    s.usepam[0] ? s.usepam : "not set (sshd's default is no)", s.from);
	if (!device) {
		cli_doctor_line(d, "skip", "sshd-device-login", NULL,
		                "login_methods for sshd does not include device");
		return;
	}
	if (!s.kbdint[0] || !strcasecmp(s.kbdint, "yes"))
		cli_doctor_line(
		    d, "ok", "sshd-kbdinteractive", NULL,
		    "KbdInteractiveAuthentication yes (%s): the device login can be shown", s.from);
	else
		cli_doctor_line(
		    d, "fail", "sshd-kbdinteractive",
		    "set `KbdInteractiveAuthentication yes` in " DOC_SSHD_CONFIG,
		    "KbdInteractiveAuthentication %s (%s): the device login runs in the PAM "
		    "conversation, which sshd then never shows; ssh users cannot sign in",
		    s.kbdint, s.from);
	grace = grace_seconds(s.grace);
	if (grace < 0)
		cli_doctor_line(d, "warn", "sshd-logingracetime",
		                "see sshd_config(5) for the time format",
		                "LoginGraceTime '%s' (%s) cannot be read", s.grace, s.from);
	else if (grace != 0 && (unsigned long)grace < svc->cfg.device_timeout)
		cli_doctor_line(
		    d, "warn", "sshd-logingracetime",
		    "set LoginGraceTime to at least device_timeout (or 0), or lower "
		    "device_timeout in [service sshd]",
		    "LoginGraceTime is %ld s (%s) but device_timeout is %u s: sshd drops the "
		    "connection while a device login still waits for approval",
		    grace, s.from, svc->cfg.device_timeout);
	else
		cli_doctor_line(d, "ok", "sshd-logingracetime", NULL,
		                "LoginGraceTime %ld s (%s) covers device_timeout %u s", grace,
		                s.from, svc->cfg.device_timeout);
}
