/* SPDX-License-Identifier: MIT */
/*
 * The local half of `tokenseal doctor`: the configuration file, the PAM
 * stacks that use the module, the daemon's socket and its unit. The
 * server and keystore checks come from the broker (TS_MSG_DOCTOR).
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

#include "cli.h"

#define PAM_DIR "/etc/pam.d"

void cli_doctor_line(const struct cli *c, struct cli_doctor_count *n, const char *level,
                     const char *name, const char *fix, const char *fmt, ...)
{
	const char *col = "";
	va_list ap;

	if (!strcmp(level, "fail")) {
		n->fail++;
		if (!strncmp(name, "keystore", 8))
			n->fail_keystore++;
		col = "\033[31m";
	} else if (!strcmp(level, "warn")) {
		n->warn++;
		col = "\033[33m";
	} else {
		col = "\033[32m";
	}
	if (c->color && isatty(STDOUT_FILENO))
		printf("%s%-4s\033[0m  %-20s  ", col, level, name);
	else
		printf("%-4s  %-20s  ", level, name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (strcmp(level, "ok") && fix && fix[0])
		printf("      %-20s  fix: %s\n", "", fix);
}

static void check_config(const struct cli *c, struct cli_doctor_count *n)
{
	struct stat st;

	if (stat(c->config_path, &st) < 0) {
		cli_doctor_line(c, n, "fail", "config", "create it (see tokenseal.conf(5))",
		                "%s: %s", c->config_path, strerror(errno));
		return;
	}
	if (st.st_uid != 0 || (st.st_mode & 022) || !S_ISREG(st.st_mode))
		cli_doctor_line(c, n, "fail", "config", "chown root:root and chmod 0644 the file",
		                "%s is owned by uid %u with mode %04o (must be root's and "
		                "writable by root only)",
		                c->config_path, (unsigned)st.st_uid,
		                (unsigned)(st.st_mode & 07777));
	else if (!c->cfg_ok)
		cli_doctor_line(c, n, "fail", "config",
		                c->root ? "the lines below name each problem and its fix"
		                        : "ask the administrator (root's `tokenseal doctor` names "
		                          "each problem and its fix)",
		                "%s does not parse", c->config_path);
	else
		cli_doctor_line(c, n, "ok", "config", NULL, "%s is root's, mode %04o",
		                c->config_path, (unsigned)(st.st_mode & 07777));
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

static void check_pam(const struct cli *c, struct cli_doctor_count *n)
{
	char list[512] = "";
	unsigned count = 0;
	struct dirent *de;
	DIR *d = opendir(PAM_DIR);

	if (!d) {
		cli_doctor_line(c, n, "warn", "pam", "install Linux-PAM", "%s: %s", PAM_DIR,
		                strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(list);

		if (de->d_name[0] == '.' ||
		    !file_mentions(dirfd(d), de->d_name, "pam_tokenseal.so"))
			continue;
		count++;
		if (l + strlen(de->d_name) + 3 < sizeof(list))
			snprintf(list + l, sizeof(list) - l, "%s%s", l ? ", " : "", de->d_name);
	}
	closedir(d);
	if (count)
		cli_doctor_line(c, n, "ok", "pam", NULL, "pam_tokenseal.so is used by %s", list);
	else
		cli_doctor_line(c, n, "warn", "pam",
		                "`pam-auth-update --enable tokenseal`, or add it to a service "
		                "(pam_tokenseal(8))",
		                "no PAM stack in %s uses pam_tokenseal.so", PAM_DIR);
}

static void check_socket(const struct cli *c, struct cli_doctor_count *n)
{
	const char *p = c->cfg.socket_path;
	struct stat st;

	if (lstat(p, &st) < 0) {
		cli_doctor_line(c, n, "warn", "socket", "systemctl start tokenseal-broker.socket",
		                "%s is absent: the tokenseal service is not running (root still "
		                "works through exec mode)",
		                p);
		return;
	}
	if (!S_ISSOCK(st.st_mode) || st.st_uid != 0)
		cli_doctor_line(c, n, "fail", "socket",
		                "remove it and restart tokenseal-broker.socket",
		                "%s is not a socket owned by root (uid %u, mode %04o): clients "
		                "refuse it",
		                p, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	else
		cli_doctor_line(c, n, "ok", "socket", NULL, "%s is root's socket", p);
}

static bool systemd_is_pid1(void)
{
	struct stat st;

	/* sd_booted(3): this folder exists only when systemd is the init */
	return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

static void check_unit(const struct cli *c, struct cli_doctor_count *n)
{
	char out[64] = "";
	int p[2], st = 0;
	ssize_t k;
	pid_t pid;

	if (!systemd_is_pid1()) {
		cli_doctor_line(c, n, "warn", "unit",
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
		cli_doctor_line(c, n, "ok", "unit", NULL, "tokenseal-broker.socket is %s", out);
	else
		cli_doctor_line(c, n, "warn", "unit",
		                "systemctl enable --now tokenseal-broker.socket",
		                "tokenseal-broker.socket is %s", out[0] ? out : "not known");
}

void cli_doctor_local(const struct cli *c, struct cli_doctor_count *n)
{
	check_config(c, n);
	check_pam(c, n);
	check_socket(c, n);
	check_unit(c, n);
	fflush(stdout);
}
