/* SPDX-License-Identifier: MIT */
/*
 * bench_rusage OUT PROG [ARGS...]: run PROG, then write "MAXRSS_KIB CPU_US"
 * (its peak resident set and user+system CPU, from wait4) to the file OUT;
 * exit with PROG's status. A small process of its own, so that PROG's peak
 * RSS is not the big benchmark's: a forked child's RSS starts as its
 * parent's, and exec keeps that peak in ru_maxrss.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	pid_t pid;
	FILE *f;
	int st;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_rusage OUT PROG [ARGS...]\n");
		return 2;
	}
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		execv(argv[2], argv + 2);
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) != pid)
		return 1;
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "%ld %ld\n", ru.ru_maxrss,
	        (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec +
	            ru.ru_stime.tv_usec);
	if (fclose(f) != 0)
		return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
