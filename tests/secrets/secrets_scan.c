/* SPDX-License-Identifier: MIT */
/* The secrets scan (secrets_scan.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "secrets_scan.h"
#include "ts_leak.h"
#include "ts_test.h"

#define SC_MAX 4096
#define SC_FILE_MAX (16u << 20) /* bytes of one file read */
#define SC_PROC_MAX (256u << 10)

static struct {
	char *kind, *value;
	bool shared; /* the same value elsewhere on the machine (a test password) */
} secrets[SC_MAX];
static bool unique_only; /* the tree scan outside the test's own folder */
static size_t n_secrets;

static void add(const char *kind, const char *value, bool shared)
{
	if (!value || strlen(value) < 6)
		return; /* nothing real is that short; a short needle would match noise */
	for (size_t i = 0; i < n_secrets; i++)
		if (strcmp(secrets[i].value, value) == 0)
			return;
	CHECK(n_secrets < SC_MAX);
	secrets[n_secrets].kind = strdup(kind);
	secrets[n_secrets].value = strdup(value);
	CHECK(secrets[n_secrets].kind && secrets[n_secrets].value);
	secrets[n_secrets].shared = shared;
	n_secrets++;
}

void sc_add(const char *kind, const char *value)
{
	add(kind, value, false);
}

void sc_add_shared(const char *kind, const char *value)
{
	add(kind, value, true);
}

void sc_reset(void)
{
	for (size_t i = 0; i < n_secrets; i++) {
		free(secrets[i].kind);
		free(secrets[i].value);
	}
	n_secrets = 0;
}

size_t sc_count(const char *kind)
{
	size_t n = 0;

	for (size_t i = 0; i < n_secrets; i++)
		n += strcmp(secrets[i].kind, kind) == 0;
	return n;
}

/* In a /proc samples file: the "== pid N cmdline|environ" header of the
 * record holding the byte at off, and that pid's command line (its secret
 * bytes masked), so a leak names its process. */
static void show_sample(const char *buf, size_t len, size_t off, const char *value)
{
	size_t h = off, vl = strlen(value);

	while (h > 0 && !(buf[h - 1] == '\n' && h + 7 <= len && memcmp(buf + h, "== pid ", 7) == 0))
		h--;
	if (h + 7 > len || memcmp(buf + h, "== pid ", 7) != 0)
		return;
	fprintf(stderr, "      in: %.*s\n", (int)strcspn(buf + h, "\n"), buf + h);
	/* the record's cmdline: the header for "cmdline" of the same pid before */
	char pid[32];
	size_t pl = strspn(buf + h + 7, "0123456789");
	if (pl == 0 || pl >= sizeof(pid))
		return;
	memcpy(pid, buf + h + 7, pl);
	pid[pl] = '\0';
	for (size_t c = h + 1; c-- > 0;) {
		char want[96];
		size_t wl = (size_t)snprintf(want, sizeof(want), "== pid %s cmdline", pid);
		if ((c == 0 || buf[c - 1] == '\n') && c + wl <= len && memcmp(buf + c, want, wl) == 0) {
			const char *body = memchr(buf + c, '\n', len - c);
			fprintf(stderr, "      command line:");
			for (const char *p = body ? body + 1 : buf + len; p < buf + len && *p != '\n';) {
				if ((size_t)(buf + len - p) >= vl && memcmp(p, value, vl) == 0) {
					fputs("<secret>", stderr);
					p += vl;
				} else {
					fputc(*p ? *p : ' ', stderr);
					p++;
				}
			}
			fputc('\n', stderr);
			return;
		}
	}
}

unsigned sc_scan_buf(const char *where, const char *buf, size_t len)
{
	unsigned hits = 0;

	for (size_t i = 0; i < n_secrets; i++) {
		if (unique_only && secrets[i].shared)
			continue;
		if (ts_contains(buf, len, secrets[i].value)) {
			const char *at = memmem(buf, len, secrets[i].value, strlen(secrets[i].value));

			if (at && len > 7 && memcmp(buf, "== pid ", 7) == 0)
				show_sample(buf, len, (size_t)(at - buf), secrets[i].value);
			fprintf(stderr, "   %s: a %s (%zu bytes) in %s\n",
			        strcmp(secrets[i].kind, "canary") == 0 ? "found" : "LEAK",
			        secrets[i].kind, strlen(secrets[i].value), where);
			hits++;
		}
	}
	return hits;
}

unsigned sc_scan_memory(pid_t pid, const char *where, size_t *bytes)
{
	char path[64], line[512], what[700];
	unsigned hits = 0;
	FILE *maps;
	int mem;

	*bytes = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "re");
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	CHECK_MSG(maps && mem >= 0, "read the memory of pid %d", (int)pid);
	if (!maps || mem < 0)
		goto out;
	while (fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8], name[400] = "";
		char *buf;
		ssize_t n;

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %399[^\n]", &lo, &hi, perms, name) < 3)
			continue;
		/* private writable memory; not the kernel's [vvar]/[vsyscall] */
		if (perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p' ||
		    (name[0] == '[' && strcmp(name, "[heap]") != 0 && strcmp(name, "[stack]") != 0))
			continue;
		if (hi - lo > (512ul << 20))
			continue; /* ASan's shadow and the like: reserved, not data */
		buf = malloc(hi - lo);
		CHECK(buf);
		if (!buf)
			break;
		n = pread(mem, buf, hi - lo, (off_t)lo);
		if (n > 0) {
			snprintf(what, sizeof(what), "%s: %lx-%lx %s", where, lo, hi,
			         name[0] ? name : "(anonymous)");
			hits += sc_scan_buf(what, buf, (size_t)n);
			*bytes += (size_t)n;
		}
		free(buf);
	}
out:
	if (maps)
		fclose(maps);
	if (mem >= 0)
		close(mem);
	return hits;
}

static char *read_fd(int fd, size_t max, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);

	while (buf) {
		ssize_t k;

		if (len == cap) {
			char *n = cap < max ? realloc(buf, cap * 2) : NULL;
			if (!n)
				break;
			buf = n;
			cap *= 2;
		}
		k = read(fd, buf + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	*ret_len = len;
	return buf;
}

unsigned sc_scan_file(const char *where, const char *path)
{
	size_t len = 0;
	unsigned hits;
	char *buf, label[1400];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);

	if (fd < 0)
		return 0;
	buf = read_fd(fd, SC_FILE_MAX, &len);
	close(fd);
	if (!buf)
		return 0;
	snprintf(label, sizeof(label), "%s (%s)", where, path);
	hits = sc_scan_buf(label, buf, len);
	free(buf);
	return hits;
}

static bool skipped(const char *path, const char *const *skip)
{
	for (size_t i = 0; skip && skip[i]; i++)
		if (strncmp(path, skip[i], strlen(skip[i])) == 0)
			return true;
	return false;
}

static unsigned scan_tree(const char *dir, time_t since, const char *const *skip, unsigned *files,
                          int depth)
{
	unsigned hits = 0;
	struct dirent *e;
	DIR *d;

	if (depth > 8 || skipped(dir, skip) || !(d = opendir(dir)))
		return 0;
	while ((e = readdir(d))) {
		char p[1024];
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (skipped(p, skip) || lstat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			hits += scan_tree(p, since, skip, files, depth + 1);
		} else if (S_ISREG(st.st_mode) && (st.st_mtime >= since || st.st_ctime >= since)) {
			(*files)++;
			hits += sc_scan_file("a temp file", p);
		}
	}
	closedir(d);
	return hits;
}

unsigned sc_scan_tree(const char *dir, time_t since, const char *const *skip, bool shared_too,
                      unsigned *files)
{
	unsigned hits;

	unique_only = !shared_too;
	hits = scan_tree(dir, since, skip, files, 0);
	unique_only = false;
	return hits;
}

/* ---- the /proc sampler ------------------------------------------------------ */

#define SEEN_SLOTS (1u << 16)

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

static bool seen_add(uint64_t *seen, uint64_t h)
{
	h |= 1; /* 0 marks an empty slot */
	for (uint32_t i = (uint32_t)h & (SEEN_SLOTS - 1), k = 0; k < SEEN_SLOTS;
	     i = (i + 1) & (SEEN_SLOTS - 1), k++) {
		if (seen[i] == h)
			return false;
		if (!seen[i]) {
			seen[i] = h;
			return true;
		}
	}
	return false; /* full: treat as seen */
}

static char *proc_read(const char *pid, const char *what, size_t *len)
{
	char p[64];
	char *buf;
	int fd;

	snprintf(p, sizeof(p), "/proc/%s/%s", pid, what);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = read_fd(fd, SC_PROC_MAX, len);
	close(fd);
	return buf;
}

static pid_t pid_of(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *end ? -1 : (pid_t)v;
}

static volatile sig_atomic_t sampler_stop;

static void on_term(int sig)
{
	(void)sig;
	sampler_stop = 1;
}

#define PROCS_MAX 8192

/* The processes of the test: its own pid's descendants, from one read of
 * /proc/PID/stat each (the parent pid is the field after the ")" of the
 * name). Other processes of a shared machine are not ours to judge (the
 * test users' fixed passwords are in other tests' command lines). */
static size_t ours(pid_t root, pid_t *out, size_t max)
{
	static pid_t pid[PROCS_MAX], ppid[PROCS_MAX];
	size_t n = 0, k = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool grew = true;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < PROCS_MAX) {
		char p[300], buf[512];
		const char *rp;
		ssize_t r;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/stat", e->d_name);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = '\0';
		rp = strrchr(buf, ')');
		if (!rp || strlen(rp) < 5)
			continue;
		pid[n] = pid_of(e->d_name);
		ppid[n] = (pid_t)strtol(rp + 4, NULL, 10); /* ") S PPID" */
		n++;
	}
	closedir(d);
	out[k++] = root;
	while (grew) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			bool child = false, known = false;

			for (size_t j = 0; j < k; j++) {
				known |= out[j] == pid[i];
				child |= out[j] == ppid[i];
			}
			if (child && !known && k < max) {
				out[k++] = pid[i];
				grew = true;
			}
		}
	}
	return k;
}

static void sampler_sweep(FILE *out, uint64_t *seen, struct sc_sampler_stats *st,
                          const char *const *skip, pid_t self, pid_t root)
{
	static pid_t mine[PROCS_MAX];
	size_t n = ours(root, mine, PROCS_MAX);

	for (size_t m = 0; m < n; m++) {
		size_t cl = 0, el = 0;
		char *cmd, *env, name[32];
		bool skip_it = false;

		if (mine[m] == self)
			continue;
		snprintf(name, sizeof(name), "%d", (int)mine[m]);
		cmd = proc_read(name, "cmdline", &cl);
		if (!cmd)
			continue;
		for (size_t i = 0; skip && skip[i]; i++)
			skip_it |= ts_contains(cmd, cl, skip[i]);
		env = skip_it ? NULL : proc_read(name, "environ", &el);
		if (!skip_it) {
			uint64_t h = fnv(fnv(fnv(1469598103934665603ull, name, strlen(name)), cmd, cl),
			                 env ? env : "", el);
			if (seen_add(seen, h)) {
				fprintf(out, "== pid %s cmdline (%zu bytes)\n", name, cl);
				fwrite(cmd, 1, cl, out);
				fprintf(out, "\n== pid %s environ (%zu bytes)\n", name, el);
				if (env)
					fwrite(env, 1, el, out);
				fputc('\n', out);
				st->records++;
				if (ts_contains(cmd, cl, "tokenseal-broker"))
					st->brokers++;
			}
		}
		free(cmd);
		free(env);
	}
	st->sweeps++;
	fflush(out);
}

void sc_sampler_start(struct sc_sampler *s, const char *out_path, const char *const *skip)
{
	int ready[2];
	char c;

	snprintf(s->path, sizeof(s->path), "%s", out_path);
	s->stats = mmap(NULL, sizeof(*s->stats), PROT_READ | PROT_WRITE,
	                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(s->stats != MAP_FAILED);
	memset(s->stats, 0, sizeof(*s->stats));
	CHECK(pipe(ready) == 0);
	s->pid = fork();
	CHECK(s->pid >= 0);
	if (s->pid == 0) {
		struct sigaction sa = {.sa_handler = on_term};
		const struct timespec nap = {0, 1000000};
		uint64_t *seen = calloc(SEEN_SLOTS, sizeof(*seen));
		FILE *out = fopen(out_path, "we");
		pid_t parent = getppid();

		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		close(ready[0]);
		if (!seen || !out)
			_exit(1);
		/* one sweep before the test goes on: what ran before is seen too */
		sampler_sweep(out, seen, s->stats, skip, getpid(), parent);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		close(ready[1]);
		while (!sampler_stop && getppid() == parent) { /* not past the test */
			sampler_sweep(out, seen, s->stats, skip, getpid(), parent);
			nanosleep(&nap, NULL);
		}
		sampler_sweep(out, seen, s->stats, skip, getpid(), parent);
		fclose(out);
		_exit(0);
	}
	close(ready[1]);
	CHECK_MSG(read(ready[0], &c, 1) == 1, "the /proc sampler started");
	close(ready[0]);
}

void sc_sampler_stop(struct sc_sampler *s)
{
	int st = 0;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	CHECK(waitpid(s->pid, &st, 0) == s->pid);
	s->pid = -1;
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the /proc sampler ended cleanly (%d)", st);
}
