/* SPDX-License-Identifier: MIT */
/*
 * The oauth/ client object: one per configuration, holding the config copy
 * (discovered endpoints filled in), the client secret, the libcurl handle
 * and the last clock-skew estimate. The requests live in the files listed in
 * oauth_internal.h.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "oauth_internal.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "oauth_testing.h"
#include "ts_file.h"
#include "ts_time.h"

/*
 * OpenSSL, libcurl's TLS library on Debian and Fedora, decrypts an answer in
 * place in its record buffer and frees that unwiped: an idle daemon was seen
 * holding a refresh token there. Its allocator becomes ours too, when it is
 * the TLS library of this process: looked up, not linked (tokenseal does not
 * depend on OpenSSL; with another backend there is no such symbol and
 * nothing to do). OpenSSL takes it only before its first allocation, so
 * before curl_global_init.
 */
typedef int (*crypto_set_mem_fn)(void *(*m)(size_t, const char *, int),
                                 void *(*r)(void *, size_t, const char *, int),
                                 void (*f)(void *, const char *, int));

static void *ossl_malloc(size_t n, const char *file, int line)
{
	(void)file, (void)line;
	return malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file, (void)line;
	return ts_realloc_wiped(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file, (void)line;
	ts_free_wiped(p);
}

static bool openssl_wipe_on_free(void)
{
	void *sym = dlsym(RTLD_DEFAULT, "CRYPTO_set_mem_functions");
	crypto_set_mem_fn set;

	if (!sym)
		return false;
	memcpy(&set, &sym, sizeof(set));
	return set(ossl_malloc, ossl_realloc, ossl_free) == 1;
}

static bool openssl_wiped;

bool oauth_global_tls_wiped(void)
{
	return openssl_wiped;
}

int oauth_global_init(void)
{
	static bool done;

	if (done)
		return 0;
	/* every buffer libcurl, jansson and OpenSSL give back is wiped: they
	 * hold the tokens, codes and secrets of requests and answers */
	json_set_alloc_funcs(malloc, ts_free_wiped);
	openssl_wiped = openssl_wipe_on_free();
	if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, ts_free_wiped, ts_realloc_wiped,
	                         strdup, calloc) != CURLE_OK)
		return -EIO;
	done = true;
	return 0;
}

/*
 * Warm connections for a long-lived process (the daemon). libcurl keeps a
 * connection cache per easy handle, and a handle may be used by one thread
 * at a time; sharing the connection cache itself between concurrent
 * threads (CURL_LOCK_DATA_CONNECT) is documented as unsupported in the
 * libcurl this project builds against (7.88). So: freed clients hand their
 * easy handle, with its open keep-alive connections, back to a small pool,
 * and the next client takes the most recently used one. TLS sessions and
 * the DNS cache go into a CURLSH with a mutex per data kind, so a handle
 * that has to connect afresh resumes a TLS session. Off (exec mode: one
 * request per process) unless oauth_global_share_enable() was called.
 * The pool holds as many handles as the daemon serves requests at once in
 * practice: with 16, 50 concurrent uses threw away 34 handles a round and
 * connected afresh (a TCP connection and a resumed TLS handshake on both
 * sides): 2.17 ms of CPU per use on the host against 1.50 ms with 64, and
 * 900 against 1260 uses/s on 2 cores (bench row 3c). Idle handles keep at
 * most one connection each; the server closes those it finds idle.
 */
#define OAUTH_POOL_MAX 64

static CURLSH *share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static CURL *pool[OAUTH_POOL_MAX];
static size_t npool;
static int64_t pool_last_put; /* ts_monotonic_ms() */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	(void)h;
	(void)access;
	(void)ud;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	(void)h;
	(void)ud;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&share_locks[data]);
}

int oauth_global_share_enable(void)
{
	CURLSH *sh;
	int r;

	if (share)
		return 0;
	r = oauth_global_init();
	if (r < 0)
		return r;
	for (size_t i = 0; i < TS_ARRAY_SIZE(share_locks); i++)
		if (pthread_mutex_init(&share_locks[i], NULL) != 0)
			return -ENOMEM;
	sh = curl_share_init();
	if (!sh)
		return -ENOMEM;
	if (curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK) {
		curl_share_cleanup(sh);
		return -EIO;
	}
	share = sh;
	return 0;
}

CURLSH *oauth_share(void)
{
	return share;
}

/* A handle for a new client: a pooled (warm) one when sharing is on. */
static CURL *handle_get(void)
{
	CURL *h = NULL;

	if (share) {
		pthread_mutex_lock(&pool_lock);
		if (npool > 0)
			h = pool[--npool];
		pthread_mutex_unlock(&pool_lock);
	}
	return h ? h : curl_easy_init();
}

/* Back to the pool with its connections (options reset: no pointer into
 * the freed client survives), or cleaned up. */
static void handle_put(CURL *h)
{
	if (share) {
		curl_easy_reset(h);
		pthread_mutex_lock(&pool_lock);
		if (npool < OAUTH_POOL_MAX) {
			pool[npool++] = h;
			pool_last_put = ts_monotonic_ms();
			h = NULL;
		}
		pthread_mutex_unlock(&pool_lock);
	}
	if (h)
		curl_easy_cleanup(h);
}

size_t oauth_global_pool_trim(void)
{
	CURL *h[OAUTH_POOL_MAX];
	size_t n;

	pthread_mutex_lock(&pool_lock);
	n = npool;
	memcpy(h, pool, n * sizeof(h[0]));
	npool = 0;
	pthread_mutex_unlock(&pool_lock);
	for (size_t i = 0; i < n; i++)
		curl_easy_cleanup(h[i]);
	return n;
}

int64_t oauth_global_pool_last_put(void)
{
	int64_t t;

	pthread_mutex_lock(&pool_lock);
	t = npool ? pool_last_put : 0;
	pthread_mutex_unlock(&pool_lock);
	return t;
}

int oauth_client_set_time_scale(struct oauth_client *c, double scale)
{
	if (!(scale > 0.0 && scale <= 1.0))
		return -EINVAL;
	c->time_scale = scale;
	return 0;
}

long oauth_clock_skew(const struct oauth_client *c)
{
	return c->have_skew ? c->skew : 0;
}

bool oauth_clock_skew_known(const struct oauth_client *c, long *ret_skew)
{
	if (!c->have_skew)
		return false;
	if (ret_skew)
		*ret_skew = c->skew;
	return true;
}

/* Every request goes to the configured server (its issuer's discovery
 * document or an endpoint of the config or of that document): the latest
 * Date within OAUTH_SKEW_MAX replaces the estimate, so a clock that was
 * fixed is seen at the next answer; one further off is a broken header or
 * proxy and is ignored. */
void oauth_note_date(struct oauth_client *c, time_t date, time_t now)
{
	long long d = (long long)date - (long long)now;

	if (date <= 0 || d > OAUTH_SKEW_MAX || d < -OAUTH_SKEW_MAX)
		return;
	c->skew = (long)d;
	c->have_skew = true;
}

static int read_secret(const char *path, char **ret, struct oauth_error *err)
{
	/* the secret must not be readable by anyone but its owner */
	struct ts_file_policy pol = ts_file_policy_private(OAUTH_SECRET_FILE_MAX);
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = ts_read_file(path, &pol, &buf, &len);
	if (r < 0)
		return oauth_fail(err, TS_E_SERVER_CONFIG,
		                  "cannot use the client secret file %s: %s", path,
		                  r == -ENOENT ? "it does not exist" : ts_strerror(r));
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
	                   buf[len - 1] == '\t'))
		buf[--len] = '\0';
	if (len == 0 || strlen((char *)buf) != len) {
		ts_erase_free(buf, len);
		return oauth_fail(err, TS_E_SERVER_CONFIG,
		                  "the client secret file %s is empty or not text", path);
	}
	*ret = (char *)buf;
	return 0;
}

int oauth_client_new(struct oauth_client **ret, const struct ts_config *cfg,
                     struct oauth_error *err)
{
	struct oauth_client *c;
	int r;

	oauth_error_reset(err);
	r = oauth_global_init();
	if (r < 0)
		return oauth_fail(err, r, "libcurl could not be initialised");
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->time_scale = 1.0;
	if (!c->cfg.http_timeout)
		c->cfg.http_timeout = OAUTH_DEFAULT_TIMEOUT;
	if (!c->cfg.max_response_size)
		c->cfg.max_response_size = OAUTH_DEFAULT_MAX_RESPONSE;
	if (cfg->client_secret_file[0]) {
		r = read_secret(cfg->client_secret_file, &c->secret, err);
		if (r < 0)
			goto fail;
	}
	c->curl = handle_get();
	if (!c->curl) {
		r = oauth_fail(err, -ENOMEM, "libcurl could not create a handle");
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	oauth_client_free(c);
	return r;
}

struct oauth_client *oauth_client_free(struct oauth_client *c)
{
	if (!c)
		return NULL;
	if (c->curl)
		handle_put(c->curl);
	c->secret = ts_erase_free_str(c->secret);
	free(c->discovery_doc);
	ts_wipe(c, sizeof(*c));
	free(c);
	return NULL;
}
