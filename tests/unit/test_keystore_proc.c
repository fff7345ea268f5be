/* SPDX-License-Identifier: MIT */
/*
 * keystore/ across processes: a writer killed between write and rename, a
 * delete killed before its unlink,
 * 20 processes incrementing one counter under the lock, lock timeout, a
 * reader without the lock next to a writer.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ks.h"
#include "ts_error.h"
#include "ts_test.h"

static const struct ks_identity alice = {
    .uid = 1000, .user = "alice", .issuer = "https://idp.example", .client_id = "tokenseal"};

static char dir[600], keyfile[600];
static unsigned case_no;

static void fresh_paths(void)
{
	struct ks *ks = NULL;

	case_no++;
	snprintf(dir, sizeof(dir), "%s/ks%u", ts_test_tmpdir(), case_no);
	snprintf(keyfile, sizeof(keyfile), "%s/key%u", ts_test_tmpdir(), case_no);
	CHECK_INT(ks_init(dir, keyfile, NULL), 0);
	CHECK_INT(ks_open(&ks, dir, keyfile, NULL), 0);
	ks_close(ks);
}

static struct ks *open_ks(const struct ks_open_opts *o)
{
	struct ks *ks = NULL;

	CHECK_INT(ks_open(&ks, dir, keyfile, o), 0);
	return ks;
}

static void die_now(void *ctx)
{
	(void)ctx;
	raise(SIGKILL);
}

static unsigned count_users_entries(void)
{
	char p[700];
	DIR *d;
	struct dirent *de;
	unsigned n = 0;

	snprintf(p, sizeof(p), "%s/users", dir);
	d = opendir(p);
	CHECK(d != NULL);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_killed_writer(void)
{
	struct ks *ks;
	struct ks_lock *l = NULL;
	struct ks_blob *b = NULL;
	uint64_t g = 0;
	int status = 0;
	pid_t pid;

	fresh_paths();
	ks = open_ks(NULL);
	CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
	CHECK_INT(ks_write(ks, l, &alice, "previous", 8, 0, &g), 0);
	l = ks_unlock(l);

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct ks_open_opts o = {.before_rename = die_now};
		struct ks *cks = NULL;
		struct ks_lock *cl = NULL;
		uint64_t cg = 0;

		if (ks_open(&cks, dir, keyfile, &o) < 0 || ks_lock(cks, alice.uid, &cl) < 0)
			_exit(3);
		(void)!ks_write(cks, cl, &alice, "next", 4, 1, &cg);
		_exit(4); /* not reached: the hook kills us */
	}
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* the previous record is intact, and the lock died with the writer */
	CHECK_INT(ks_read(ks, &alice, &b), 0);
	CHECK_INT(b->generation, 1);
	CHECK(b->len == 8 && memcmp(b->payload, "previous", 8) == 0);
	b = ks_blob_free(b);
	/* the temp file is there, but nobody takes it for a record */
	CHECK_INT(count_users_entries(), 2);
	{
		unsigned ok = 0, bad = 0;
		CHECK_INT(ks_verify_all(ks, &ok, &bad), 0);
		CHECK_INT(ok, 1);
		CHECK_INT(bad, 0);
	}
	CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
	CHECK_INT(ks_write(ks, l, &alice, "next", 4, 1, &g), 0);
	CHECK_INT(g, 2);
	ks_unlock(l);
	CHECK_INT(ks_read(ks, &alice, &b), 0);
	CHECK(b->len == 4 && memcmp(b->payload, "next", 4) == 0);
	ks_blob_free(b);
	ks_close(ks);
}

/*
 * unlinkat() as the keystore (linked statically into this program) sees it:
 * when kill_at_record_unlink is set, the process dies the moment it is about
 * to remove a users/<uid>.seal, i.e. in the middle of ks_delete().
 */
static volatile int kill_at_record_unlink;

int unlinkat(int dirfd, const char *name, int flags)
{
	static int (*real)(int, const char *, int);
	size_t n = strlen(name);

	if (kill_at_record_unlink && n > 5 && strcmp(name + n - 5, ".seal") == 0)
		raise(SIGKILL);
	if (!real)
		real = (int (*)(int, const char *, int))dlsym(RTLD_NEXT, "unlinkat");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(dirfd, name, flags);
}

/* A delete killed before its unlink leaves the record in place: it must
 * read as refused (the counter was raised first), so a saved copy of a
 * deleted record can never pass for the current one, and the next login
 * can replace it. */
static void test_killed_deleter(void)
{
	struct ks *ks;
	struct ks_lock *l = NULL;
	struct ks_blob *b = NULL;
	uint64_t g = 0;
	int status = 0;
	pid_t pid;

	fresh_paths();
	ks = open_ks(NULL);
	CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
	CHECK_INT(ks_write(ks, l, &alice, "one", 3, 0, &g), 0);
	CHECK_INT(ks_write(ks, l, &alice, "two", 3, 1, &g), 0);
	CHECK_INT(g, 2);
	l = ks_unlock(l);

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct ks *cks = NULL;
		struct ks_lock *cl = NULL;

		if (ks_open(&cks, dir, keyfile, NULL) < 0 || ks_lock(cks, alice.uid, &cl) < 0)
			_exit(3);
		kill_at_record_unlink = 1;
		(void)!ks_delete(cks, cl, &alice, 2);
		_exit(4); /* not reached: the unlink kills us */
	}
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK_INT(count_users_entries(), 1); /* the record is still there ... */
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_ROLLBACK); /* ... and refused */
	CHECK(b == NULL);
	/* the next login moves it aside and writes above it */
	CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
	CHECK_INT(ks_quarantine_rollback(ks, l, &alice), 0);
	CHECK_INT(ks_write(ks, l, &alice, "three", 5, 0, &g), 0);
	CHECK(g > 2);
	l = ks_unlock(l);
	CHECK_INT(ks_read(ks, &alice, &b), 0);
	CHECK(b->len == 5 && memcmp(b->payload, "three", 5) == 0);
	ks_blob_free(b);
	ks_close(ks);
}

#define NPROC 20
#define NITER 25

static int increment_loop(void)
{
	struct ks_open_opts o = {.lock_timeout_ms = 60000};
	struct ks *ks = NULL;

	if (ks_open(&ks, dir, keyfile, &o) < 0)
		return 10;
	for (int i = 0; i < NITER; i++) {
		struct ks_lock *l = NULL;
		struct ks_blob *b = NULL;
		uint64_t counter = 0, expect = 0, g = 0;
		char buf[32];
		int r, n;

		if (ks_lock(ks, alice.uid, &l) < 0)
			return 11;
		r = ks_read(ks, &alice, &b);
		if (r == 0) {
			char tmp[32];
			if (b->len >= sizeof(tmp))
				return 12;
			memcpy(tmp, b->payload, b->len);
			tmp[b->len] = '\0';
			if (sscanf(tmp, "%" SCNu64, &counter) != 1)
				return 13;
			expect = b->generation;
			ks_blob_free(b);
		} else if (r != TS_E_NO_RECORD) {
			return 14;
		}
		n = snprintf(buf, sizeof(buf), "%" PRIu64, counter + 1);
		if (ks_write(ks, l, &alice, buf, (size_t)n, expect, &g) < 0)
			return 15;
		ks_unlock(l);
	}
	ks_close(ks);
	return 0;
}

static void test_no_lost_update(void)
{
	pid_t pids[NPROC];
	struct ks *ks;
	struct ks_blob *b = NULL;

	fresh_paths();
	for (int i = 0; i < NPROC; i++) {
		pids[i] = fork();
		CHECK(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(increment_loop());
	}
	for (int i = 0; i < NPROC; i++) {
		int status = 0;
		CHECK_INT(waitpid(pids[i], &status, 0), pids[i]);
		CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %d status %d", i,
		          status);
	}
	ks = open_ks(NULL);
	CHECK_INT(ks_read(ks, &alice, &b), 0);
	CHECK_INT(b->len, 3);
	CHECK(memcmp(b->payload, "500", 3) == 0);
	CHECK_INT(b->generation, NPROC * NITER);
	ks_blob_free(b);
	ks_close(ks);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_lock_timeout(void)
{
	struct ks_open_opts o = {.lock_timeout_ms = 300};
	int ready[2], release[2];
	struct ks *ks;
	struct ks_lock *l = NULL;
	double t0, el;
	char c = 0;
	pid_t pid;
	int status = 0;

	fresh_paths();
	CHECK_INT(pipe(ready), 0);
	CHECK_INT(pipe(release), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct ks *cks = NULL;
		struct ks_lock *cl = NULL;
		char x = 0;

		close(ready[0]);
		close(release[1]);
		if (ks_open(&cks, dir, keyfile, NULL) < 0 || ks_lock(cks, alice.uid, &cl) < 0)
			_exit(3);
		if (write(ready[1], "r", 1) != 1)
			_exit(4);
		if (read(release[0], &x, 1) < 0)
			_exit(5);
		ks_unlock(cl);
		ks_close(cks);
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	CHECK_INT(read(ready[0], &c, 1), 1);
	ks = open_ks(&o);
	t0 = now_s();
	CHECK_INT(ks_lock(ks, alice.uid, &l), TS_E_LOCK_TIMEOUT);
	el = now_s() - t0;
	CHECK_MSG(el >= 0.29 && el < 3.0, "timed out after %.3f s, bound 0.3 s", el);
	CHECK(l == NULL);
	/* another user's lock is independent */
	CHECK_INT(ks_lock(ks, alice.uid + 1, &l), 0);
	l = ks_unlock(l);
	CHECK_INT(write(release[1], "go", 1), 1);
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
	ks_unlock(l);
	close(ready[0]);
	close(release[1]);
	ks_close(ks);
}

/* ks_read without the lock (ks.h allows it) while another process keeps
 * writing under it: a reader never mistakes a newer write for a rollback
 * (the writer puts the record before the state, so the reader must read the
 * state before the record). */
#define READER_WRITES 3000

static void test_unlocked_reader(void)
{
	struct ks *ks;
	unsigned reads = 0, rollbacks = 0, other = 0;
	int status = 0, w;
	pid_t pid;

	fresh_paths();
	ks = open_ks(NULL);
	{
		struct ks_lock *l = NULL;
		uint64_t g = 0;
		CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
		CHECK_INT(ks_write(ks, l, &alice, "0", 1, 0, &g), 0);
		ks_unlock(l);
	}
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct ks *cks = NULL;

		if (ks_open(&cks, dir, keyfile, NULL) < 0)
			_exit(3);
		for (uint64_t gen = 1; gen <= READER_WRITES; gen++) {
			struct ks_lock *cl = NULL;
			uint64_t g = 0;

			if (ks_lock(cks, alice.uid, &cl) < 0 ||
			    ks_write(cks, cl, &alice, "x", 1, gen, &g) < 0)
				_exit(4);
			ks_unlock(cl);
		}
		ks_close(cks);
		_exit(0);
	}
	while ((w = waitpid(pid, &status, WNOHANG)) == 0) {
		struct ks_blob *b = NULL;
		int r = ks_read(ks, &alice, &b);

		reads++;
		if (r == TS_E_ROLLBACK)
			rollbacks++;
		else if (r < 0)
			other++;
		ks_blob_free(b);
	}
	CHECK_INT(w, pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_MSG(rollbacks == 0 && other == 0, "%u of %u unlocked reads failed (%u as rollback)",
	          rollbacks + other, reads, rollbacks);
	CHECK(reads > 0);
	ks_close(ks);
}

int main(int argc, char **argv)
{
	/* optional argument: run only the named case */
	const char *only = argc > 1 ? argv[1] : NULL;

	if (!only || strcmp(only, "killed_writer") == 0)
		RUN(test_killed_writer);
	if (!only || strcmp(only, "killed_deleter") == 0)
		RUN(test_killed_deleter);
	if (!only || strcmp(only, "lock_timeout") == 0)
		RUN(test_lock_timeout);
	if (!only || strcmp(only, "no_lost_update") == 0)
		RUN(test_no_lost_update);
	if (!only || strcmp(only, "unlocked_reader") == 0)
		RUN(test_unlocked_reader);
	return ts_test_done();
}
