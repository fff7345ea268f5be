/* SPDX-License-Identifier: MIT */
/*
 * The secrets scan of tests/secrets: a list of the exact secret values a
 * test knows (tokens the test IdP issued, its client secret, passwords),
 * counted in files, in directory trees (files changed since a time) and in
 * the argv and environment of every process, sampled from /proc by a child
 * for as long as the test runs. Exact matches only: the process samples and
 * temp files of a shared machine hold plenty of token-like text that is not
 * ours, and every value we look for is one we know.
 */
#ifndef TS_SECRETS_SCAN_H
#define TS_SECRETS_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Remember a secret and what it is ("refresh token", "password"). A shared
 * one (the test users' fixed passwords, in other tests' files on a shared
 * machine too) is looked for in the test's own processes, logs and folder,
 * not in every temp file of the machine. */
void sc_add(const char *kind, const char *value);
void sc_add_shared(const char *kind, const char *value);
size_t sc_count(const char *kind);
/* Forget every secret. */
void sc_reset(void);

/* Every remembered secret found in the len bytes at buf; each hit is
 * printed with where and what kind (never the value). */
unsigned sc_scan_buf(const char *where, const char *buf, size_t len);
unsigned sc_scan_file(const char *where, const char *path);

/* Every writable private mapping of the live process pid (its heap, its
 * threads' arenas and stacks, libraries' data), read through
 * /proc/PID/mem; *bytes gets the amount read. */
unsigned sc_scan_memory(pid_t pid, const char *where, size_t *bytes);

/* Regular files under dir (recursively, not into skip prefixes) whose
 * mtime or ctime is at or after since; shared secrets only when
 * shared_too; *files counts those read. */
unsigned sc_scan_tree(const char *dir, time_t since, const char *const *skip, bool shared_too,
                      unsigned *files);

/* The /proc sampler: a child that reads /proc/PID/cmdline and
 * /proc/PID/environ of every process (but those whose command line holds
 * one of the skip strings: the test's own IdP tools) every millisecond or
 * two and appends each new (pid, content) pair to out_path. */
struct sc_sampler {
	pid_t pid;
	char path[700];
	struct sc_sampler_stats *stats; /* shared with the child */
};
struct sc_sampler_stats {
	unsigned long sweeps;  /* passes over /proc */
	unsigned long records; /* distinct samples written */
	unsigned long brokers; /* distinct samples of a tokenseal-broker process */
};
void sc_sampler_start(struct sc_sampler *s, const char *out_path, const char *const *skip);
void sc_sampler_stop(struct sc_sampler *s);

#endif
