/* SPDX-License-Identifier: MIT */
/*
 * The local checks of `tokenseal doctor`: the configuration file, which
 * PAM stacks use the module, the daemon's socket and its unit; and the
 * services that use tokenseal (PAM stacks and [service NAME] sections),
 * each with its own view of the configuration, for the probes and lints.
 * The server and keystore checks come from the broker (TS_MSG_DOCTOR).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "doctor.h"

static void check_config(struct doctor *d)
{
	const struct cli *c = d->c;
	struct stat st;

	if (stat(c->config_path, &st) < 0) {
		cli_doctor_line(d, "fail", "config", "create it (see tokenseal.conf(5))", "%s: %s",
		                c->config_path, strerror(errno));
		return;
	}
	if (st.st_uid != 0 || (st.st_mode & 022) || !S_ISREG(st.st_mode))
		cli_doctor_line(d, "fail", "config", "chown root:root and chmod 0644 the file",
		                "%s is owned by uid %u with mode %04o (must be root's and "
		                "writable by root only)",
		                c->config_path, (unsigned)st.st_uid,
		                (unsigned)(st.st_mode & 07777));
	else if (!c->cfg_ok)
		cli_doctor_line(d, "fail", "config",
		                c->root ? "the lines below name each problem and its fix"
		                        : "ask the administrator (root's `tokenseal doctor` names "
		                          "each problem and its fix)",
		                "%s does not parse", c->config_path);
	else
		cli_doctor_line(d, "ok", "config", NULL, "%s is root's, mode %04o", c->config_path,
		                (unsigned)(st.st_mode & 07777));
}

static bool file_mentions(int dirfd, const char *name, const char *needle)
{
	char buf[8192];
	ssize_t k;
	size_t got = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return false;
	while (got < sizeof(buf) - 1 && (k = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)k;
	close(fd);
	buf[got] = '\0';
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line != '#' && strstr(line, needle))
			return true;
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

static void check_pam(struct doctor *d)
{
	char list[512] = "";
	unsigned count = 0;
	struct dirent *de;
	DIR *dir = opendir(DOC_PAM_DIR);

	if (!dir) {
		cli_doctor_line(d, "warn", "pam", "install Linux-PAM", "%s: %s", DOC_PAM_DIR,
		                strerror(errno));
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		size_t l = strlen(list);

		if (de->d_name[0] == '.' ||
		    !file_mentions(dirfd(dir), de->d_name, "pam_tokenseal.so"))
			continue;
		count++;
		if (l + strlen(de->d_name) + 3 < sizeof(list))
			snprintf(list + l, sizeof(list) - l, "%s%s", l ? ", " : "", de->d_name);
	}
	closedir(dir);
	if (count)
		cli_doctor_line(d, "ok", "pam", NULL, "pam_tokenseal.so is used by %s", list);
	else
		cli_doctor_line(d, "warn", "pam",
		                "`pam-auth-update --enable tokenseal`, or add it to a service "
		                "(pam_tokenseal(8))",
		                "no PAM stack in %s uses pam_tokenseal.so", DOC_PAM_DIR);
}

static void check_socket(struct doctor *d)
{
	const struct cli *c = d->c;
	const char *p = c->cfg.socket_path;
	struct stat st;

	if (lstat(p, &st) < 0) {
		cli_doctor_line(d, "warn", "socket", "systemctl start tokenseal-broker.socket",
		                "%s is absent: the tokenseal service is not running (root still "
		                "works through exec mode)",
		                p);
		return;
	}
	if (!S_ISSOCK(st.st_mode) || st.st_uid != 0)
		cli_doctor_line(d, "fail", "socket",
		                "remove it and restart tokenseal-broker.socket",
		                "%s is not a socket owned by root (uid %u, mode %04o): clients "
		                "refuse it",
		                p, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	else
		cli_doctor_line(d, "ok", "socket", NULL, "%s is root's socket", p);
}

static bool systemd_is_pid1(void)
{
	struct stat st;

	/* sd_booted(3): this folder exists only when systemd is the init */
	return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

static void check_unit(struct doctor *d)
{
	char out[64] = "";
	int p[2], st = 0;
	ssize_t k;
	pid_t pid;

	if (!systemd_is_pid1()) {
		cli_doctor_line(d, "warn", "unit",
		                "start `tokenseal-broker --daemon` by other means, or rely on exec "
		                "mode (root only)",
		                "systemd is not running");
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execl("/bin/systemctl", "systemctl", "is-active", "tokenseal-broker.socket",
		      (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	k = pid > 0 ? read(p[0], out, sizeof(out) - 1) : -1;
	close(p[0]);
	if (pid > 0)
		(void)waitpid(pid, &st, 0);
	out[k > 0 ? k : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	if (pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		cli_doctor_line(d, "ok", "unit", NULL, "tokenseal-broker.socket is %s", out);
	else
		cli_doctor_line(d, "warn", "unit", "systemctl enable --now tokenseal-broker.socket",
		                "tokenseal-broker.socket is %s", out[0] ? out : "not known");
}

void doc_local(struct doctor *d)
{
	check_config(d);
	check_pam(d);
	check_socket(d);
	check_unit(d);
}

/* ---- the services that use tokenseal ---- */

static bool pam_uses(const char *name, unsigned depth)
{
	struct doc_pam_line *l = calloc(DOC_PAM_LINES_MAX, sizeof(*l));
	bool uses = false;
	int k;

	if (!l)
		return false;
	k = doc_pam_read(DOC_PAM_DIR, name, l, DOC_PAM_LINES_MAX);
	for (int i = 0; i < k && !uses; i++) {
		if (l[i].include && depth < 4 && !strchr(l[i].module, '/'))
			uses = pam_uses(l[i].module, depth + 1);
		else if (!l[i].include)
			uses = doc_pam_is_tokenseal(&l[i]);
	}
	free(l);
	return uses;
}

bool doc_pam_uses(const char *name)
{
	return pam_uses(name, 0);
}

static struct doc_service *add_service(struct doctor *d, const char *name)
{
	struct doc_service *s;

	for (size_t i = 0; i < d->nsvc; i++)
		if (!strcmp(d->svc[i].name, name))
			return &d->svc[i];
	if (d->nsvc >= DOC_SERVICES_MAX || strlen(name) >= sizeof(s->name))
		return NULL;
	s = &d->svc[d->nsvc++];
	memset(s, 0, sizeof(*s));
	memcpy(s->name, name, strlen(name) + 1);
	return s;
}

static void no_report(void *ctx, int priority, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)priority;
	(void)fmt;
	(void)ap;
}

/* "[service NAME]" lines of the configuration file. */
static void config_sections(struct doctor *d)
{
	char line[TS_CONFIG_LINE_MAX];
	FILE *f = fopen(d->c->config_path, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *e;
		struct doc_service *s;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "[service ", 9))
			continue;
		p += 9;
		while (*p == ' ')
			p++;
		e = strchr(p, ']');
		if (!e || e == p)
			continue;
		while (e > p && e[-1] == ' ')
			e--;
		*e = '\0';
		if ((s = add_service(d, p)))
			s->section = true;
	}
	fclose(f);
}

void doc_find_services(struct doctor *d)
{
	static const struct ts_config_report quiet = {no_report, NULL};
	struct dirent *de;
	DIR *dir;

	d->svc = calloc(DOC_SERVICES_MAX, sizeof(*d->svc));
	if (!d->svc)
		return;
	dir = opendir(DOC_PAM_DIR);
	while (dir && (de = readdir(dir)) != NULL) {
		struct doc_service *s;

		/* Debian's common-* files are included by services, not services */
		if (de->d_name[0] == '.' || !strncmp(de->d_name, "common-", 7) ||
		    !doc_pam_uses(de->d_name))
			continue;
		if ((s = add_service(d, de->d_name)))
			s->pam = true;
	}
	if (dir)
		closedir(dir);
	if (d->c->cfg_ok)
		config_sections(d);
	for (size_t i = 0; i < d->nsvc; i++) {
		struct ts_config *cfg = &d->svc[i].cfg;

		ts_config_defaults(cfg);
		if (!d->c->cfg_ok ||
		    ts_config_load(cfg, d->c->config_path, d->svc[i].name, &quiet) < 0)
			*cfg = d->c->cfg;
	}
}

const struct doc_service *doc_service(const struct doctor *d, const char *name)
{
	for (size_t i = 0; i < d->nsvc; i++)
		if (!strcmp(d->svc[i].name, name))
			return &d->svc[i];
	return NULL;
}
