/* SPDX-License-Identifier: MIT */
/*
 * Shared by bench/per_use.c (the set-up, the per-use rows) and bench/load.c
 * (open-connection introspections, the TLS handshake's share, throughput and
 * the burst after a revocation). Benchmarks only: never linked into tokenseal.
 */
#ifndef TS_BENCH_H
#define TS_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#include "ts_idp.h"

extern struct ts_idp idp;
extern char introspection_url[512], token_url[512], client_auth[512];
extern char sock[700], cfg_daemon[700];

double now_ms(void);
/* run argv (env: extra "K=V", input: stdin, out: stdout) and return its wall
 * time in ms, or -1 when it did not exit 0 (bench/per_use.c) */
double run(char *const argv[], char *const env[], const char *input, char *out, size_t outlen,
           bool keep_stderr);
double median(double *v, size_t n);
/* the p-th percentile (0..100) of v (sorted in place) */
double percentile(double *v, size_t n, double p);
/* one machine-readable table row for bench/run (ratio computed here; a
 * floor <= 0 prints "-" for floor and ratio) */
void row(const char *id, const char *what, double measured, double floor, const char *unit,
         const char *target, const char *note);

/* bench/load.c */
/* a "Key:" value of /proc/PID/status in KiB, or -1 */
long vm_kib(int pid, const char *key);
/* base64 of in (out must hold 4/3 of it + 1) */
void base64(const char *in, char *out, size_t outlen);
/* median ms of one introspection of token on a kept-alive connection */
double warm_introspection_ms(const char *token, size_t rounds);
/* median ms of a real refresh-grant round trip (rotating refresh token) on a
 * kept-alive connection, for the IdP-only account ext-zed (its own grant,
 * from the password grant: never one of tokenseal's records) */
double warm_refresh_ms(size_t rounds);
/* TLS handshake (appconnect - connect) of a new connection: full, and
 * resumed from libcurl's in-process session cache; medians in ms */
void tls_handshake_ms(const char *token, size_t rounds, double *full, double *resumed);
/* the server's own introspection rate under wrk (keep-alive, callers
 * connections, secs seconds): requests/s, or -1 without wrk; failed wrk
 * requests, wrk's p50/p99 in ms */
double server_rate(const char *token, int callers, double secs, long *failed, double *p50,
                   double *p99);
/* callers threads sending REVALIDATE to the daemon for secs seconds, caller
 * i for user who[i % nwho]; returns uses/s, fills p50/p99 in ms and
 * failures */
double daemon_load(const char *const *who, size_t nwho, int callers, double secs, double *p50,
                   double *p99, long *failures);
/* n concurrent REVALIDATE uses released at once; p99 (ms), failures */
void daemon_burst(int n, double *p50, double *p99, long *failures);

/* row 5: requests/s per 1000 hosts at three use rates, cache 0 and 30 s,
 * from per_use0 requests for n uses (cache 0) and per_use30 (cache 30) */
void fleet_rows(long per_use0, long per_use30, int n);

#endif
