/* SPDX-License-Identifier: MIT */
/*
 * An LD_PRELOAD library for the catalogue's "host process with LD_PRELOAD"
 * case: loaded into a tokenseal-broker it appends a line to BI_PRELOAD_MARK,
 * which the case checks stays absent (the client starts the broker with an
 * empty environment).
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void mark(void)
{
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int fd;

	if (n <= 0)
		return;
	exe[n] = '\0';
	if (!strstr(exe, "tokenseal-broker"))
		return;
	fd = open(BI_PRELOAD_MARK, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		ssize_t w = write(fd, "loaded into tokenseal-broker\n", 29);

		(void)w; /* best effort: an absent mark fails nothing here */
		close(fd);
	}
}
