/* SPDX-License-Identifier: MIT */
/*
 * bench/load: the parts of bench/per-use that keep a connection or many
 * callers open: one introspection (and one refresh-grant round trip) on a
 * kept-alive connection (the warm floor), the TLS handshake with and without
 * resumption (what a cross-process session cache could save in exec mode),
 * the daemon's throughput with concurrent callers and the burst of uses just
 * after a revocation.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench.h"
#include "ts_client.h"
#include "ts_mem.h"
#include "ts_test.h"

#define WRK "/usr/bin/wrk"

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

static CURL *easy(const char *url, const char *body)
{
	CURL *c = curl_easy_init();

	CHECK(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, idp.ca);
	curl_easy_setopt(c, CURLOPT_USERPWD, client_auth);
	curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	return c;
}

static void perform(CURL *c, long want)
{
	long status = 0;
	CURLcode rc = curl_easy_perform(c);

	CHECK_MSG(rc == CURLE_OK, "curl: %s", curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	CHECK_MSG(status == want, "HTTP %ld, expected %ld", status, want);
}

static double timed_rounds(const char *url, const char *body, long want, size_t rounds)
{
	double *v = calloc(rounds, sizeof(*v)), m;
	CURL *c = easy(url, body);

	CHECK(v);
	perform(c, want); /* opens the connection */
	for (size_t i = 0; i < rounds; i++) {
		double t0 = now_ms();

		perform(c, want);
		v[i] = now_ms() - t0;
	}
	curl_easy_cleanup(c);
	m = median(v, rounds);
	free(v);
	return m;
}

double warm_introspection_ms(const char *token, size_t rounds)
{
	char body[8192];
	double m;

	snprintf(body, sizeof(body), "token=%s", token);
	m = timed_rounds(introspection_url, body, 200, rounds);
	ts_wipe(body, sizeof(body));
	return m;
}

struct answer {
	char buf[16384];
	size_t len;
};

static size_t keep(char *p, size_t size, size_t n, void *ud)
{
	struct answer *a = ud;
	size_t k = size * n;

	if (a->len + k >= sizeof(a->buf))
		return 0;
	memcpy(a->buf + a->len, p, k);
	a->len += k;
	a->buf[a->len] = '\0';
	return k;
}

/* the "refresh_token" of a token answer into rt */
static void take_refresh_token(const struct answer *a, char *rt, size_t rtlen)
{
	const char *p = strstr(a->buf, "\"refresh_token\":\""), *q;

	CHECK_MSG(p, "no refresh_token in the token answer");
	p += strlen("\"refresh_token\":\"");
	q = strchr(p, '"');
	CHECK(q && (size_t)(q - p) < rtlen);
	memcpy(rt, p, (size_t)(q - p));
	rt[q - p] = '\0';
}

double warm_refresh_ms(size_t rounds)
{
	static struct answer a;
	double *v = calloc(rounds, sizeof(*v)), m;
	char rt[4096], body[4200];
	CURL *c = easy(token_url, "grant_type=password&username=ext-zed&password=ext-zed-pw"
	                          "&scope=openid%20offline_access");

	CHECK(v);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	a.len = 0;
	perform(c, 200); /* opens the connection: a grant of its own */
	take_refresh_token(&a, rt, sizeof(rt));
	for (size_t i = 0; i < rounds; i++) {
		double t0;

		snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s", rt);
		curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
		a.len = 0;
		t0 = now_ms();
		perform(c, 200);
		v[i] = now_ms() - t0;
		take_refresh_token(&a, rt, sizeof(rt)); /* rotated */
	}
	ts_wipe(rt, sizeof(rt));
	ts_wipe(body, sizeof(body));
	ts_wipe(a.buf, sizeof(a.buf));
	curl_easy_cleanup(c);
	m = median(v, rounds);
	free(v);
	return m;
}

void tls_handshake_ms(const char *token, size_t rounds, double *full, double *resumed)
{
	double *f = calloc(rounds, sizeof(*f)), *r = calloc(rounds, sizeof(*r));
	char body[8192];

	CHECK(f && r);
	snprintf(body, sizeof(body), "token=%s", token);
	for (size_t i = 0; i < rounds; i++) {
		CURLSH *sh = curl_share_init();
		curl_off_t c1, a1, c2, a2;
		CURL *c;

		CHECK(sh);
		curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
		/* first connection: a full handshake, its session kept in sh */
		c = easy(introspection_url, body);
		curl_easy_setopt(c, CURLOPT_SHARE, sh);
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
		perform(c, 200);
		curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &c1);
		curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &a1);
		curl_easy_cleanup(c);
		/* second, new connection: resumes the session (TLS 1.3 ticket) */
		c = easy(introspection_url, body);
		curl_easy_setopt(c, CURLOPT_SHARE, sh);
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
		perform(c, 200);
		curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &c2);
		curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &a2);
		curl_easy_cleanup(c);
		curl_share_cleanup(sh);
		f[i] = (double)(a1 - c1) / 1e3;
		r[i] = (double)(a2 - c2) / 1e3;
	}
	ts_wipe(body, sizeof(body));
	*full = median(f, rounds);
	*resumed = median(r, rounds);
	free(f);
	free(r);
}

long vm_kib(int pid, const char *key)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	CHECK(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':')
			v = strtol(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	return v;
}

void base64(const char *in, char *out, size_t outlen)
{
	static const char b[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), o = 0;

	CHECK((n + 2) / 3 * 4 < outlen);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)(unsigned char)in[i] << 16;

		v |= i + 1 < n ? (unsigned)(unsigned char)in[i + 1] << 8 : 0;
		v |= i + 2 < n ? (unsigned)(unsigned char)in[i + 2] : 0;
		out[o++] = b[v >> 18 & 63];
		out[o++] = b[v >> 12 & 63];
		out[o++] = i + 1 < n ? b[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b[v & 63] : '=';
	}
	out[o] = '\0';
}

/* wrk's "  NN%  1.23ms" latency line, in ms (-1 when absent) */
static double wrk_percentile(const char *out, const char *pct)
{
	char key[16], unit[8] = "";
	const char *p;
	double v;

	snprintf(key, sizeof(key), " %s ", pct);
	p = strstr(out, key);
	if (!p || sscanf(p + strlen(key), "%lf%7s", &v, unit) != 2)
		return -1;
	if (strcmp(unit, "us") == 0)
		return v / 1e3;
	if (strcmp(unit, "s") == 0)
		return v * 1e3;
	if (strcmp(unit, "m") == 0)
		return v * 60e3;
	return v; /* ms */
}

double server_rate(const char *token, int callers, double secs, long *failed, double *p50,
                          double *p99)
{
	static char wrk[] = WRK, t2[] = "-t2", s[] = "-s", lat[] = "--latency";
	char script[700], auth[1024], conns[32], dur[32], out[8192], *p;
	char *argv[] = {wrk, t2, lat, conns, dur, s, script, introspection_url, NULL};
	double rate;
	FILE *f;
	int fd;

	if (access(WRK, X_OK) != 0)
		return -1;
	snprintf(script, sizeof(script), "%s/wrk.lua", idp.dir);
	snprintf(conns, sizeof(conns), "-c%d", callers);
	snprintf(dur, sizeof(dur), "-d%ds", (int)(secs + 0.5));
	base64(client_auth, auth, sizeof(auth));
	fd = open(script, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && (f = fdopen(fd, "w")) != NULL);
	fprintf(f, "wrk.method = \"POST\"\nwrk.body = \"token=%s\"\n"
	           "wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n"
	           "wrk.headers[\"Authorization\"] = \"Basic %s\"\n", token, auth);
	CHECK(fclose(f) == 0);
	ts_wipe(auth, sizeof(auth));
	CHECK_MSG(run(argv, NULL, NULL, out, sizeof(out), false) >= 0, "wrk failed");
	CHECK(truncate(script, 0) == 0 && unlink(script) == 0);
	p = strstr(out, "Requests/sec:");
	CHECK_MSG(p, "no Requests/sec in wrk's output: %.300s", out);
	rate = strtod(p + strlen("Requests/sec:"), NULL);
	*p50 = wrk_percentile(out, "50%");
	*p99 = wrk_percentile(out, "99%");
	*failed = 0;
	if ((p = strstr(out, "Non-2xx or 3xx responses:")))
		*failed += strtol(p + strlen("Non-2xx or 3xx responses:"), NULL, 10);
	if (strstr(out, "Socket errors:"))
		*failed += 1;
	return rate;
}

/* ---- the daemon under concurrent callers ---- */

#define LAT_MAX 400000
static double *lat;
static atomic_size_t nlat;
static atomic_long nfail;
static atomic_int go;
static double deadline;
static const char *const *users;
static size_t n_users;
static bool looping;

static bool one_use(const char *user)
{
	struct ts_client_opts o = {.socket_path = sock,
	                           .config_path = cfg_daemon,
	                           .mode = TS_CLIENT_SOCKET_ONLY};
	struct ts_client_request rq = {.type = TS_MSG_REVALIDATE,
	                               .user = user,
	                               .service = "bench",
	                               .flags = TS_FLAG_NONINTERACTIVE};
	struct ts_client_result res;
	double t0 = now_ms();
	bool ok;

	memset(&res, 0, sizeof(res));
	ok = ts_client_call(&o, &rq, NULL, &res) == 0 && res.code == 0;
	ts_client_result_clear(&res);
	if (ok) {
		size_t i = atomic_fetch_add(&nlat, 1);

		if (i < LAT_MAX)
			lat[i] = now_ms() - t0;
	} else {
		atomic_fetch_add(&nfail, 1);
	}
	return ok;
}

static void *caller(void *arg)
{
	const char *user = users[(size_t)(uintptr_t)arg % n_users];

	while (!atomic_load(&go))
		;
	do
		(void)one_use(user);
	while (looping && now_ms() < deadline);
	return NULL;
}

static void run_callers(int n, bool loop, double secs, double *elapsed)
{
	pthread_t *t = calloc((size_t)n, sizeof(*t));
	double t0;

	CHECK(t);
	if (!lat)
		lat = calloc(LAT_MAX, sizeof(*lat));
	CHECK(lat);
	atomic_store(&nlat, 0);
	atomic_store(&nfail, 0);
	atomic_store(&go, 0);
	looping = loop;
	for (int i = 0; i < n; i++)
		CHECK(pthread_create(&t[i], NULL, caller, (void *)(uintptr_t)i) == 0);
	t0 = now_ms();
	deadline = t0 + secs * 1e3;
	atomic_store(&go, 1);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	*elapsed = (now_ms() - t0) / 1e3;
	free(t);
}

static void summary(double *p50, double *p99, long *failures)
{
	size_t n = atomic_load(&nlat);

	if (n > LAT_MAX)
		n = LAT_MAX;
	*p50 = n ? percentile(lat, n, 50) : -1;
	*p99 = n ? percentile(lat, n, 99) : -1;
	*failures = atomic_load(&nfail);
}

double daemon_load(const char *const *who, size_t nwho, int callers, double secs, double *p50,
                   double *p99, long *failures)
{
	double elapsed;

	users = who;
	n_users = nwho;
	run_callers(callers, true, secs, &elapsed);
	summary(p50, p99, failures);
	return (double)atomic_load(&nlat) / elapsed;
}

void daemon_burst(int n, double *p50, double *p99, long *failures)
{
	static const char *const alice[] = {"alice"};
	double elapsed;

	users = alice;
	n_users = 1;
	run_callers(n, false, 0, &elapsed);
	summary(p50, p99, failures);
}

/* ---- row 5: the fleet table, from measured requests per use ---- */

void fleet_rows(long per_use0, long per_use30, int n)
{
	static const struct {
		const char *label;
		double rate; /* uses per second per host */
	} r[] = {{"1 use/host/min", 1.0 / 60}, {"1 use/host/10 s", 0.1}, {"1 use/host/s", 1.0}};
	char what[128], note[200];

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		double q0 = 1000 * r[i].rate * (double)per_use0 / n;
		double q30 = 1000 * (r[i].rate < 1.0 / 30 ? r[i].rate : 1.0 / 30) *
		             (double)per_use0 / n;

		snprintf(what, sizeof(what), "fleet: req/s per 1000 hosts, %s, cache 0", r[i].label);
		snprintf(note, sizeof(note), "%ld req per %d uses measured; revocation seen at the next use",
		         per_use0, n);
		row("5", what, q0, 0, "req/s", "-", note);
		snprintf(what, sizeof(what), "fleet: req/s per 1000 hosts, %s, cache 30", r[i].label);
		snprintf(note, sizeof(note),
		         "%ld req per %d uses in 30 s measured; revocation seen up to 30 s late", per_use30,
		         n);
		row("5", what, q30, 0, "req/s", "-", note);
	}
}
