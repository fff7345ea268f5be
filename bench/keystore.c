/* SPDX-License-Identifier: MIT */
/*
 * bench_keystore [iterations] [rounds]: for a 2 KiB payload, time per
 * operation of
 *   (a) ks_read (open + checks + read + unseal + rollback check)
 *   (b) the floor: open + read() of the same file + raw
 *       crypto_aead_xchacha20poly1305_ietf_decrypt of the same bytes
 *   (c) ks_write (seal + atomic write, fsync-dominated) under a held lock
 *   (d) the floor: write + fsync + rename + fsync(dir) of the same bytes
 * and the ratios read/floor (target <= 2.0) and write/floor. Median of
 * several rounds after a warm-up; CLOCK_MONOTONIC. Never fails on a ratio.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ks.h"
#include "ts_error.h"

#define PAYLOAD 2048
#define MAX_ROUNDS 31

static const struct ks_identity id = {
    .uid = 1000, .user = "alice", .issuer = "https://idp.example", .client_id = "tokenseal"};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static unsigned long parse_arg(const char *s, unsigned long def, unsigned long max)
{
	char *end = NULL;
	unsigned long v;

	if (!s)
		return def;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !end || *end || v == 0 || v > max) {
		fprintf(stderr, "bad number: %s\n", s);
		exit(2);
	}
	return v;
}

static int die(const char *what, int r)
{
	fprintf(stderr, "bench_keystore: %s: %s\n", what, ts_strerror(r));
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned long iters = parse_arg(argc > 1 ? argv[1] : NULL, 2000, 10000000);
	int rounds = (int)parse_arg(argc > 2 ? argv[2] : NULL, 7, MAX_ROUNDS);
	unsigned long witers = iters / 20 ? iters / 20 : 1;
	char base[] = "/tmp/tokenseal-bench.XXXXXX", dir[256], keyfile[256], rec[300];
	double a[MAX_ROUNDS], b[MAX_ROUNDS], c[MAX_ROUNDS], d[MAX_ROUNDS];
	static uint8_t payload[PAYLOAD], file[KS_RECORD_MAX], pt[KS_RECORD_MAX];
	uint8_t subkey[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	struct ks_open_opts o = {0};
	struct ks *ks = NULL;
	struct ks_lock *l = NULL;
	uint64_t gen = 0;
	size_t flen;
	double ra, rb, rc, rd;
	int r;

	if (sodium_init() < 0 || !mkdtemp(base))
		return 1;
	snprintf(dir, sizeof(dir), "%s/ks", base);
	snprintf(keyfile, sizeof(keyfile), "%s/key", base);
	snprintf(rec, sizeof(rec), "%s/users/%u.seal", dir, (unsigned)id.uid);
	if ((r = ks_init(dir, keyfile, &o)) < 0)
		die("ks_init", r);
	if ((r = ks_open(&ks, dir, keyfile, &o)) < 0)
		die("ks_open", r);
	randombytes_buf(payload, sizeof(payload));
	if ((r = ks_lock(ks, id.uid, &l)) < 0)
		die("ks_lock", r);
	if ((r = ks_write(ks, l, &id, payload, sizeof(payload), 0, &gen)) < 0)
		die("ks_write", r);

	/* the floor's inputs: the same sealed file, a subkey derived once */
	{
		int fd = open(rec, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, file, sizeof(file)) : -1;
		if (n <= 0)
			return 1;
		flen = (size_t)n;
		close(fd);
	}
	/* the same per-user key ks_read uses, derived once outside the loop */
	{
		char kbuf[256];
		uint8_t master[crypto_kdf_KEYBYTES];
		size_t bl = 0;
		int fd = open(keyfile, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, kbuf, sizeof(kbuf) - 1) : -1;

		if (n < 66 || strncmp(kbuf, "1:", 2) != 0 ||
		    sodium_hex2bin(master, sizeof(master), kbuf + 2, 64, NULL, &bl, NULL) != 0)
			return 1;
		close(fd);
		crypto_kdf_derive_from_key(subkey, sizeof(subkey), id.uid, "tsealusr", master);
		sodium_memzero(master, sizeof(master));
		sodium_memzero(kbuf, sizeof(kbuf));
	}

	for (int round = -1; round < rounds; round++) {
		double t0;
		unsigned long n = round < 0 ? iters / 4 + 1 : iters;

		t0 = now_ns();
		for (unsigned long i = 0; i < n; i++) {
			struct ks_blob *blob = NULL;
			if ((r = ks_read(ks, &id, &blob)) < 0)
				die("ks_read", r);
			ks_blob_free(blob);
		}
		if (round >= 0)
			a[round] = (now_ns() - t0) / (double)n;

		t0 = now_ns();
		for (unsigned long i = 0; i < n; i++) {
			unsigned long long ml = 0;
			size_t hl = flen - PAYLOAD - 16;
			int fd = open(rec, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			struct stat st;
			ssize_t got;

			if (fd < 0 || fstat(fd, &st) < 0)
				return 1;
			got = read(fd, file, sizeof(file));
			close(fd);
			if (got != (ssize_t)flen)
				return 1;
			if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &ml, NULL, file + hl,
			                                               flen - hl, file, hl,
			                                               file + hl - 24, subkey) != 0)
				return 1;
		}
		if (round >= 0)
			b[round] = (now_ns() - t0) / (double)n;

		n = round < 0 ? 2 : witers;
		t0 = now_ns();
		for (unsigned long i = 0; i < n; i++)
			if ((r = ks_write(ks, l, &id, payload, sizeof(payload), gen, &gen)) < 0)
				die("ks_write", r);
		if (round >= 0)
			c[round] = (now_ns() - t0) / (double)n;

		t0 = now_ns();
		for (unsigned long i = 0; i < n; i++) {
			char tmp[320], fl[320];
			int fd, dfd;

			snprintf(tmp, sizeof(tmp), "%s/floor.tmp", base);
			snprintf(fl, sizeof(fl), "%s/floor", base);
			fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if (fd < 0 || write(fd, file, flen) != (ssize_t)flen || fsync(fd) < 0)
				return 1;
			close(fd);
			if (rename(tmp, fl) < 0)
				return 1;
			dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd < 0 || fsync(dfd) < 0)
				return 1;
			close(dfd);
		}
		if (round >= 0)
			d[round] = (now_ns() - t0) / (double)n;
	}
	ks_unlock(l);
	ks_close(ks);

	ra = median(a, rounds);
	rb = median(b, rounds);
	rc = median(c, rounds);
	rd = median(d, rounds);
	printf("keystore benchmark, %d-byte payload, %lu reads / %lu writes per round, "
	       "median of %d rounds\n",
	       PAYLOAD, iters, witers, rounds);
	printf("  ks_read (open+unseal)          %12.0f ns/op\n", ra);
	printf("  floor: read() + raw decrypt    %12.0f ns/op\n", rb);
	printf("  ks_write (seal+atomic write)   %12.0f ns/op\n", rc);
	printf("  floor: write+fsync+rename      %12.0f ns/op\n", rd);
	printf("read ratio: %.2f (target <= 2.00): %s\n", ra / rb,
	       ra / rb <= 2.0 ? "PASS" : "ABOVE TARGET");
	printf("write ratio: %.2f (ks_write also writes the anti-rollback state file: "
	       "one slot in place, fdatasync)\n",
	       rc / rd);
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", base);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", base);
	}
	sodium_memzero(subkey, sizeof(subkey));
	return 0;
}
