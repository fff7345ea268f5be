/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts_test.h"

unsigned ts_test_checks;
static char tmpdir[512];
static pid_t tmpdir_owner;

void ts_test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void ts_test_skip(const char *fmt, ...)
{
	va_list ap;

	printf("SKIPPED: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	exit(TS_SKIP_CODE);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

static void rm_tmpdir(void)
{
	if (tmpdir[0] && getpid() == tmpdir_owner && !getenv("TS_TEST_KEEP"))
		(void)nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *ts_test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir[0])
		return tmpdir;
	snprintf(tmpdir, sizeof(tmpdir), "%s/tokenseal-test.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		exit(1);
	}
	tmpdir_owner = getpid();
	atexit(rm_tmpdir);
	return tmpdir;
}

void ts_test_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
	int fd;

	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fchmod(fd, (mode_t)mode) < 0) {
		fprintf(stderr, "write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	close(fd);
}

char *ts_test_read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fprintf(stderr, "read %s: %s\n", path, strerror(errno));
		exit(1);
	}
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "read %s failed\n", path);
		exit(1);
	}
	buf[n] = 0;
	fclose(f);
	if (ret_len)
		*ret_len = (size_t)n;
	return buf;
}

int ts_test_done(void)
{
	if (ts_test_checks == 0) {
		fprintf(stderr, "FAIL: the test made no checks\n");
		return 1;
	}
	fprintf(stderr, "ok: %u checks\n", ts_test_checks);
	return 0;
}

int ts_test_run_capture(const char *const argv[], const char *const envp[], char *out,
                        size_t outlen)
{
	char *const *av, *const *ev;
	int p[2], st = 0;
	ssize_t n, got = 0;
	pid_t pid;

	CHECK(outlen > 0);
	CHECK(pipe(p) == 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		/* execve's historical prototype */
		memcpy(&av, &argv, sizeof(av));
		memcpy(&ev, &envp, sizeof(ev));
		execve(argv[0], av, ev);
		_exit(127);
	}
	close(p[1]);
	while (got < (ssize_t)outlen - 1 &&
	       (n = read(p[0], out + got, outlen - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	if (got > 0 && out[got - 1] == '\n')
		out[got - 1] = '\0';
	close(p[0]);
	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
