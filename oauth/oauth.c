/* SPDX-License-Identifier: MIT */
/*
 * The HTTP side of oauth/: one libcurl easy handle per client (keep-alive),
 * HTTPS only (loopback http:// when the config allows it), no redirects,
 * capped bodies, timeouts from http_timeout, and one error taxonomy for
 * every answer (oauth.h). Library code: logs at debug level only, and never
 * a secret.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "oauth_internal.h"
#include "oauth_testing.h"
#include "ts_error.h"
#include "ts_time.h"
#include "ts_file.h"
#include "ts_log.h"
#include "ts_mem.h"

#define OAUTH_SECRET_FILE_MAX 4096
#define OAUTH_DEFAULT_MAX_RESPONSE (64 * 1024)
#define OAUTH_DEFAULT_TIMEOUT 10
#define OAUTH_MAX_POLL_INTERVAL 300
#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

struct oauth_client {
	struct ts_config cfg; /* copy with discovered endpoints filled in */
	bool discovered;
	bool discovery_supplied; /* from oauth_set_discovery(), not fetched */
	char *discovery_doc;     /* the document this client fetched (public) */
	size_t discovery_len;
	char *secret; /* NULL: public client */
	CURL *curl;
	long skew;
	double time_scale; /* tests only (oauth_testing.h); 1.0 in production */
};

/* A growable, capped buffer; its contents are wiped when released. */
struct sbuf {
	char *p;
	size_t len, cap, max;
	bool too_big;
};

struct http_resp {
	long status;
	struct sbuf body;
	char content_type[128];
	char www_auth[512];
	char location[TS_URL_MAX];
	long retry_after;
	time_t date;
};

static void sbuf_done(struct sbuf *b)
{
	b->p = ts_erase_free(b->p, b->cap);
	b->len = b->cap = 0;
}

static int sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->max && b->len + n > b->max) {
		b->too_big = true;
		return -E2BIG;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = malloc(cap);
		if (!p)
			return -ENOMEM;
		if (b->len)
			memcpy(p, b->p, b->len);
		ts_erase_free(b->p, b->cap); /* never leave a copy behind */
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int sbuf_str(struct sbuf *b, const char *s)
{
	return sbuf_add(b, s, strlen(s));
}

/* Append key=value (form-urlencoded; RFC 6749 App. B) with '&' as needed. */
static int form_add(CURL *curl, struct sbuf *b, const char *key, const char *value)
{
	char *esc;
	int r;

	esc = curl_easy_escape(curl, value, 0);
	if (!esc)
		return -ENOMEM;
	r = sbuf_str(b, b->len ? "&" : "");
	if (r >= 0)
		r = sbuf_str(b, key);
	if (r >= 0)
		r = sbuf_str(b, "=");
	if (r >= 0)
		r = sbuf_str(b, esc);
	ts_wipe_str(esc);
	curl_free(esc);
	return r;
}

static void resp_done(struct http_resp *r)
{
	sbuf_done(&r->body);
}

static long long mono_ms(void)
{
	return (long long)ts_monotonic_ms();
}

static void sleep_ms(long long ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
	                      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int oauth_global_init(void)
{
	static bool done;

	if (done)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	done = true;
	return 0;
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
	return c->skew;
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
	c->curl = curl_easy_init();
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
		curl_easy_cleanup(c->curl);
	c->secret = ts_erase_free_str(c->secret);
	free(c->discovery_doc);
	ts_wipe(c, sizeof(*c));
	free(c);
	return NULL;
}

/* ---- HTTP ---------------------------------------------------------------- */

static bool url_allowed(const struct oauth_client *c, const char *url, bool *ret_http)
{
	static const char *const loop[] = {"http://127.0.0.1", "http://[::1]"};

	*ret_http = false;
	if (strncasecmp(url, "https://", 8) == 0 && url[8])
		return true;
	if (!c->cfg.allow_loopback_http)
		return false;
	for (size_t i = 0; i < TS_ARRAY_SIZE(loop); i++) {
		size_t n = strlen(loop[i]);
		if (strncasecmp(url, loop[i], n) == 0 &&
		    (url[n] == '\0' || url[n] == ':' || url[n] == '/')) {
			*ret_http = true;
			return true;
		}
	}
	return false;
}

/* url for a message, sanitised, up to the first of stop: without any
 * userinfo (user:password@ is not ours to print). */
static void url_text(char *out, size_t outlen, const char *url, const char *stop)
{
	const char *p = strstr(url, "://"), *host = p ? p + 3 : url;
	size_t an = strcspn(host, "/?#"), o;

	for (size_t i = an; i > 0; i--)
		if (host[i - 1] == '@') {
			host += i;
			break;
		}
	ts_sanitize_text(out, outlen, url, (size_t)(p ? p + 3 - url : 0));
	o = strlen(out);
	ts_sanitize_text(out + o, outlen - o, host, strcspn(host, stop));
}

/* scheme://host[:port] of url */
static void url_origin(char *out, size_t outlen, const char *url)
{
	url_text(out, outlen, url, "/?#");
}

/* endpoint url without query, for messages */
static void url_shown(char *out, size_t outlen, const char *url)
{
	url_text(out, outlen, url, "?#");
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct http_resp *r = ud;
	size_t n = size * nmemb;

	if (sbuf_add(&r->body, ptr, n) < 0)
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	return n;
}

static void header_value(char *out, size_t outlen, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	ts_sanitize_text(out, outlen, v, n);
}

static bool header_is(const char *line, size_t n, const char *name, const char **ret_v,
                      size_t *ret_n)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return false;
	*ret_v = line + k + 1;
	*ret_n = n - k - 1;
	return true;
}

static size_t header_cb(char *line, size_t size, size_t nmemb, void *ud)
{
	struct http_resp *r = ud;
	size_t n = size * nmemb;
	const char *v;
	size_t vn;
	char tmp[128];

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue): forget the old headers */
		r->content_type[0] = r->www_auth[0] = r->location[0] = '\0';
		r->retry_after = 0;
		r->date = 0;
	} else if (header_is(line, n, "Content-Type", &v, &vn)) {
		header_value(r->content_type, sizeof(r->content_type), v, vn);
	} else if (header_is(line, n, "WWW-Authenticate", &v, &vn)) {
		header_value(r->www_auth, sizeof(r->www_auth), v, vn);
	} else if (header_is(line, n, "Location", &v, &vn)) {
		header_value(r->location, sizeof(r->location), v, vn);
	} else if (header_is(line, n, "Date", &v, &vn)) {
		header_value(tmp, sizeof(tmp), v, vn);
		r->date = curl_getdate(tmp, NULL);
		if (r->date < 0)
			r->date = 0;
	} else if (header_is(line, n, "Retry-After", &v, &vn)) {
		char *end;
		long s;
		header_value(tmp, sizeof(tmp), v, vn);
		errno = 0;
		s = strtol(tmp, &end, 10);
		if (!errno && end != tmp && !*end && s >= 0 && s <= 86400) {
			r->retry_after = s;
		} else {
			time_t t = curl_getdate(tmp, NULL);
			time_t now = time(NULL);
			if (t > now && t - now <= 86400)
				r->retry_after = (long)(t - now);
		}
	}
	return n;
}

static bool is_json_type(const char *ct)
{
	size_t n = strcspn(ct, ";");
	char t[128];

	while (n > 0 && ct[n - 1] == ' ')
		n--;
	if (n >= sizeof(t))
		return false;
	memcpy(t, ct, n);
	t[n] = '\0';
	if (strcasecmp(t, "application/json") == 0)
		return true;
	return n > 5 && strncasecmp(t, "application/", 12) == 0 &&
	       strcasecmp(t + n - 5, "+json") == 0;
}

/* base64 (standard, padded) of in into a new string. */
static char *b64(const char *in, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)(unsigned char)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)(unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		*o++ = tab[(v >> 18) & 63];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* "Authorization: Basic base64(urlenc(id):urlenc(secret))" (RFC 6749 §2.3.1). */
static int basic_header(struct oauth_client *c, char **ret)
{
	struct sbuf b = {0}, h = {0};
	char *id = NULL, *sec = NULL, *enc = NULL;
	int r = -ENOMEM;

	id = curl_easy_escape(c->curl, c->cfg.client_id, 0);
	sec = curl_easy_escape(c->curl, c->secret, 0);
	if (!id || !sec)
		goto out;
	if (sbuf_str(&b, id) < 0 || sbuf_str(&b, ":") < 0 || sbuf_str(&b, sec) < 0)
		goto out;
	enc = b64(b.p, b.len);
	if (!enc)
		goto out;
	if (sbuf_str(&h, "Authorization: Basic ") < 0 || sbuf_str(&h, enc) < 0)
		goto out;
	*ret = TS_TAKE_PTR(h.p);
	r = 0;
out:
	if (sec) {
		ts_wipe_str(sec);
		curl_free(sec);
	}
	curl_free(id);
	ts_erase_free_str(enc);
	sbuf_done(&b);
	sbuf_done(&h);
	return r;
}

static void slist_wipe_free(struct curl_slist *l)
{
	for (struct curl_slist *i = l; i; i = i->next)
		ts_wipe_str(i->data);
	curl_slist_free_all(l);
}

static int curl_class(CURLcode cc)
{
	switch (cc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
		return TS_E_SERVER_CONFIG;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return TS_E_UNAVAILABLE;
	}
}

struct http_req {
	const char *what; /* "token endpoint", ... for messages */
	const char *url;
	const char *form; /* NULL: GET */
	size_t form_len;
	const char *bearer; /* access token for an Authorization header */
	bool client_auth;   /* client_secret_basic when the client has a secret */
};

/* Perform one request. Transport failures, redirects, 429 and 5xx are turned
 * into the taxonomy here; any other HTTP answer is returned as 0 with resp
 * filled in for the caller to interpret. */
static int http_do(struct oauth_client *c, const struct http_req *q, struct http_resp *resp,
                   struct oauth_error *err)
{
	struct curl_slist *hdrs = NULL, *n;
	char errbuf[CURL_ERROR_SIZE] = "", shown[TS_URL_MAX], *auth = NULL;
	unsigned timeout = c->cfg.http_timeout;
	CURLcode cc;
	bool http;
	int r;

	url_shown(shown, sizeof(shown), q->url);
	if (!url_allowed(c, q->url, &http))
		return oauth_fail(err, TS_E_SERVER_CONFIG,
		                  "refusing the %s %s: only https:// is allowed (http:// only to "
		                  "127.0.0.1 or [::1] with allow_loopback_http)",
		                  q->what, shown);
	if (c->cfg.ca_file[0] && access(c->cfg.ca_file, R_OK) < 0)
		return oauth_fail(err, TS_E_SERVER_CONFIG,
		                  "cannot read the CA file %s (ca_file): %s", c->cfg.ca_file,
		                  strerror(errno));

	memset(resp, 0, sizeof(*resp));
	resp->body.max = c->cfg.max_response_size;

	n = curl_slist_append(hdrs, "Accept: application/json");
	if (!n)
		goto nomem;
	hdrs = n;
	if (q->bearer) {
		struct sbuf b = {0};
		if (sbuf_str(&b, "Authorization: Bearer ") < 0 || sbuf_str(&b, q->bearer) < 0) {
			sbuf_done(&b);
			goto nomem;
		}
		auth = TS_TAKE_PTR(b.p);
	} else if (q->client_auth && c->secret) {
		if (basic_header(c, &auth) < 0)
			goto nomem;
	}
	if (auth) {
		n = curl_slist_append(hdrs, auth);
		auth = ts_erase_free_str(auth);
		if (!n)
			goto nomem;
		hdrs = n;
	}
	if (q->form) {
		n = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
		if (!n)
			goto nomem;
		hdrs = n;
	}

	curl_easy_reset(c->curl); /* keeps the connection cache: keep-alive */
	curl_easy_setopt(c->curl, CURLOPT_URL, q->url);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, http ? "http" : "https");
	curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, (long)timeout);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, (long)timeout);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT,
	                 "tokenseal/"
	                 "0.1");
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->cfg.max_response_size);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, resp);
	if (c->cfg.ca_file[0]) {
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->cfg.ca_file);
	} else {
		/* the hashed folder, not the 200 KB bundle: ~50 ms per process */
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, (char *)NULL);
		curl_easy_setopt(c->curl, CURLOPT_CAPATH, "/etc/ssl/certs");
	}
	if (q->form) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, q->form);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->form_len);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	}

	cc = curl_easy_perform(c->curl);
	/* the handle must not keep pointers to our buffers */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, (char *)NULL);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, (char *)NULL);
	slist_wipe_free(hdrs);
	hdrs = NULL;
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	ts_log_debug("oauth: %s %s -> curl %d, HTTP %ld, %zu bytes", q->form ? "POST" : "GET",
	             shown, (int)cc, resp->status, resp->body.len);
	if (resp->date > 0)
		c->skew = (long)(resp->date - time(NULL));

	if (resp->body.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		r = oauth_fail(err, TS_E_BAD_ANSWER,
		               "the %s %s sent a response larger than %u bytes; refusing it",
		               q->what, shown, c->cfg.max_response_size);
		goto fail;
	}
	if (cc != CURLE_OK) {
		const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
		char detail[CURL_ERROR_SIZE];
		ts_sanitize_text(detail, sizeof(detail), why, strlen(why));
		r = curl_class(cc);
		if (cc == CURLE_OPERATION_TIMEDOUT)
			oauth_fail(err, r, "connection to %s: timed out after %u s", shown,
			           timeout);
		else if (r == TS_E_SERVER_CONFIG)
			oauth_fail(err, r,
			           "connection to %s: %s (check the issuer URL and ca_file)", shown,
			           detail);
		else
			oauth_fail(err, r, "connection to %s: %s", shown, detail);
		resp->status = 0;
		goto fail;
	}
	if (err)
		err->http_status = resp->status;
	if (resp->status >= 300 && resp->status < 400) {
		char origin[TS_URL_MAX];
		url_origin(origin, sizeof(origin), resp->location[0] ? resp->location : "(none)");
		r = oauth_fail(err, TS_E_BAD_ANSWER,
		               "the %s %s answered HTTP %ld, a redirect to %s; redirects are not "
		               "followed",
		               q->what, shown, resp->status, origin);
		goto fail;
	}
	if (resp->status == 429 || resp->status >= 500) {
		if (err)
			err->retry_after = resp->retry_after;
		if (resp->retry_after)
			r = oauth_fail(
			    err, TS_E_UNAVAILABLE,
			    "the %s %s is temporarily unavailable: HTTP %ld, retry after "
			    "%ld s",
			    q->what, shown, resp->status, resp->retry_after);
		else
			r = oauth_fail(err, TS_E_UNAVAILABLE,
			               "the %s %s is temporarily unavailable: HTTP %ld", q->what,
			               shown, resp->status);
		goto fail;
	}
	if (resp->status < 200) {
		r = oauth_fail(err, TS_E_BAD_ANSWER, "the %s %s answered HTTP %ld", q->what, shown,
		               resp->status);
		goto fail;
	}
	return 0;
nomem:
	slist_wipe_free(hdrs);
	ts_erase_free_str(auth);
	return oauth_fail(err, -ENOMEM, "out of memory");
fail:
	resp_done(resp);
	return r;
}

/* ---- messages ------------------------------------------------------------- */

/* Whether text repeats one of the credentials we sent or the client secret. */
static bool has_credential(const struct oauth_client *c, const char *text,
                           const char *const *secrets, size_t n_secrets)
{
	for (size_t i = 0; i < n_secrets; i++)
		if (secrets[i] && strlen(secrets[i]) >= 4 && strstr(text, secrets[i]))
			return true;
	return c->secret && strstr(text, c->secret);
}

/* Final touch on every error: prefix the issuer, and withhold the server's
 * text if it repeats any credential we sent (it must never reach a log). */
static int finish(struct oauth_client *c, struct oauth_error *err, int r,
                  const char *const *secrets, size_t n_secrets)
{
	char msg[OAUTH_MSG_MAX], issuer[TS_URL_MAX];
	bool leak;

	if (r >= 0 || !err)
		return r;
	err->code = r;
	leak = has_credential(c, err->error, secrets, n_secrets);
	if (leak)
		err->error[0] = '\0';
	if (leak || has_credential(c, err->message, secrets, n_secrets) ||
	    has_credential(c, err->description, secrets, n_secrets)) {
		err->description[0] = '\0';
		(void)snprintf(err->message, sizeof(err->message),
		               "%s (details withheld: the server's text contained a credential)",
		               oauth_class_text(r));
	}
	if (!err->message[0])
		(void)snprintf(err->message, sizeof(err->message), "%s", oauth_class_text(r));
	if (strncmp(err->message, "connection to ", 14) != 0 && c->cfg.issuer[0]) {
		url_shown(issuer, sizeof(issuer), c->cfg.issuer);
		if (!strstr(err->message, issuer)) {
			size_t il = strnlen(issuer, sizeof(msg) - 3);
			memcpy(msg, issuer, il);
			memcpy(msg + il, ": ", 2);
			ts_sanitize_text(msg + il + 2, sizeof(msg) - il - 2, err->message,
			                 strlen(err->message));
			memcpy(err->message, msg, sizeof(msg));
		}
	}
	return r;
}

/* ---- discovery ------------------------------------------------------------ */

static bool all_overridden(const struct ts_config *cfg)
{
	return cfg->token_endpoint[0] && cfg->device_authorization_endpoint[0] &&
	       cfg->userinfo_endpoint[0] && cfg->introspection_endpoint[0] &&
	       cfg->revocation_endpoint[0];
}

static int discover(struct oauth_client *c, struct oauth_error *err)
{
	struct http_resp resp;
	struct ts_config tmp;
	char url[TS_URL_MAX + 64], shown[TS_URL_MAX + 64];
	size_t n = strlen(c->cfg.issuer);
	struct http_req q = {.what = "discovery document"};
	int r;

	if (c->discovered || all_overridden(&c->cfg))
		return 0;
	if (!n)
		return oauth_fail(err, TS_E_SERVER_CONFIG,
		                  "no issuer is configured and not every endpoint is set");
	while (n > 0 && c->cfg.issuer[n - 1] == '/')
		n--;
	(void)snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration", (int)n,
	               c->cfg.issuer);
	q.url = url;
	url_shown(shown, sizeof(shown), url);
	r = http_do(c, &q, &resp, err);
	if (r < 0)
		return r;
	if (resp.status == 404) {
		r = oauth_fail(err, TS_E_SERVER_CONFIG,
		               "no discovery document at %s (HTTP 404): check issuer, or set the "
		               "endpoints in the config",
		               shown);
		goto out;
	}
	if (resp.status != 200) {
		r = oauth_fail(err, TS_E_BAD_ANSWER, "the discovery document %s answered HTTP %ld",
		               shown, resp.status);
		goto out;
	}
	if (!is_json_type(resp.content_type)) {
		r = oauth_fail(err, TS_E_BAD_ANSWER,
		               "the discovery document %s has content type \"%s\", not JSON",
		               shown, resp.content_type);
		goto out;
	}
	tmp = c->cfg;
	r = oauth_parse_discovery(&tmp, c->cfg.issuer, resp.body.p, resp.body.len, err);
	if (r < 0)
		goto out;
	c->cfg = tmp;
	c->discovered = true;
	/* kept for oauth_fetched_discovery(): metadata, no secret in it */
	c->discovery_doc = malloc(resp.body.len + 1);
	if (c->discovery_doc) {
		memcpy(c->discovery_doc, resp.body.p, resp.body.len);
		c->discovery_doc[resp.body.len] = '\0';
		c->discovery_len = resp.body.len;
	}
out:
	resp_done(&resp);
	return r;
}

int oauth_discover(struct oauth_client *c, struct oauth_error *err)
{
	oauth_error_reset(err);
	return finish(c, err, discover(c, err), NULL, 0);
}

int oauth_set_discovery(struct oauth_client *c, const char *doc, size_t len,
                        struct oauth_error *err)
{
	struct ts_config tmp;
	int r;

	oauth_error_reset(err);
	if (c->discovered)
		return 0;
	if (len > c->cfg.max_response_size)
		return finish(c, err,
		              oauth_fail(err, TS_E_TOO_BIG,
		                         "a discovery document of %zu bytes is larger than %u", len,
		                         c->cfg.max_response_size),
		              NULL, 0);
	tmp = c->cfg;
	r = oauth_parse_discovery(&tmp, c->cfg.issuer, doc, len, err);
	if (r < 0)
		return finish(c, err, r, NULL, 0);
	c->cfg = tmp;
	c->discovered = true;
	c->discovery_supplied = true;
	return 0;
}

const char *oauth_fetched_discovery(const struct oauth_client *c, size_t *ret_len)
{
	*ret_len = c->discovery_len;
	return c->discovery_doc;
}

bool oauth_discovery_supplied(const struct oauth_client *c)
{
	return c->discovery_supplied;
}

/* The endpoint at offset off of the config, discovering when it is empty. */
static int endpoint(struct oauth_client *c, const char *name, const char *ep,
                    struct oauth_error *err)
{
	int r;

	if (ep[0])
		return 0;
	r = discover(c, err);
	if (r < 0)
		return r;
	if (!ep[0])
		return oauth_fail(err, TS_E_SERVER_CONFIG,
		                  "the server offers no %s (not in its discovery document, not set "
		                  "in the config)",
		                  name);
	return 0;
}

/* ---- requests at the token endpoint --------------------------------------- */

static int add_client_id(struct oauth_client *c, struct sbuf *form)
{
	if (c->secret)
		return 0; /* client_secret_basic */
	return form_add(c->curl, form, "client_id", c->cfg.client_id);
}

/* POST form to an endpoint expecting a JSON body; JSON checked. */
static int post_json(struct oauth_client *c, const char *what, const char *url, struct sbuf *form,
                     struct http_resp *resp, struct oauth_error *err)
{
	struct http_req q = {
	    .what = what,
	    .url = url,
	    .form = form->p ? form->p : "",
	    .form_len = form->len,
	    .client_auth = true,
	};
	char shown[TS_URL_MAX];
	int r;

	r = http_do(c, &q, resp, err);
	if (r < 0)
		return r;
	if (!is_json_type(resp->content_type)) {
		url_shown(shown, sizeof(shown), url);
		if (resp->status == 401)
			r = oauth_fail(err, TS_E_SERVER_CONFIG,
			               "the %s %s refused the client's authentication (HTTP 401)",
			               what, shown);
		else
			r = oauth_fail(err, TS_E_BAD_ANSWER,
			               "the %s %s answered HTTP %ld with content type \"%s\", not "
			               "JSON",
			               what, shown, resp->status,
			               resp->content_type[0] ? resp->content_type : "(none)");
		resp_done(resp);
		return r;
	}
	return 0;
}

static int token_request(struct oauth_client *c, struct sbuf *form, struct oauth_tokens *ret,
                         struct oauth_error *err)
{
	struct http_resp resp;
	struct oauth_tokens t = {0};
	time_t sent = time(NULL);
	int r;

	r = endpoint(c, "token endpoint", c->cfg.token_endpoint, err);
	if (r < 0)
		return r;
	r = post_json(c, "token endpoint", c->cfg.token_endpoint, form, &resp, err);
	if (r < 0)
		return r;
	r = oauth_parse_token_response(&t, resp.status, resp.body.p, resp.body.len, err);
	if (r >= 0) {
		t.obtained_local = sent;
		t.server_date = resp.date;
		*ret = t;
	} else if (err) {
		err->http_status = resp.status;
	}
	resp_done(&resp);
	return r;
}

int oauth_password_grant(struct oauth_client *c, const char *user, const char *password,
                         struct oauth_tokens *ret, struct oauth_error *err)
{
	struct sbuf form = {0};
	const char *secrets[] = {password};
	int r;

	oauth_error_reset(err);
	if ((r = form_add(c->curl, &form, "grant_type", "password")) < 0 ||
	    (r = form_add(c->curl, &form, "username", user)) < 0 ||
	    (r = form_add(c->curl, &form, "password", password)) < 0 ||
	    (c->cfg.scopes[0] && (r = form_add(c->curl, &form, "scope", c->cfg.scopes)) < 0) ||
	    (r = add_client_id(c, &form)) < 0)
		goto out;
	r = token_request(c, &form, ret, err);
out:
	sbuf_done(&form);
	return finish(c, err, r, secrets, 1);
}

static bool claims_equal(const struct oauth_id_claims *a, const struct oauth_id_claims *b)
{
	return strcmp(a->iss, b->iss) == 0 && strcmp(a->sub, b->sub) == 0 &&
	       strcmp(a->aud, b->aud) == 0;
}

int oauth_refresh(struct oauth_client *c, const char *refresh_token,
                  const struct oauth_id_claims *prev_id, struct oauth_tokens *ret,
                  struct oauth_error *err)
{
	struct sbuf form = {0};
	struct oauth_tokens t = {0};
	const char *secrets[] = {refresh_token};
	int r;

	oauth_error_reset(err);
	if ((r = form_add(c->curl, &form, "grant_type", "refresh_token")) < 0 ||
	    (r = form_add(c->curl, &form, "refresh_token", refresh_token)) < 0 ||
	    (r = add_client_id(c, &form)) < 0)
		goto out;
	r = token_request(c, &form, &t, err);
	if (r < 0)
		goto out;
	if (prev_id && prev_id->present && t.id.present && !claims_equal(prev_id, &t.id)) {
		char a[64], b[64];
		ts_sanitize_text(a, sizeof(a), prev_id->sub, strlen(prev_id->sub));
		ts_sanitize_text(b, sizeof(b), t.id.sub, strlen(t.id.sub));
		oauth_tokens_clear(&t);
		r = oauth_fail(err, TS_E_IDENTITY_CHANGED,
		               "the refreshed id_token names another identity (iss/sub/aud "
		               "changed: subject \"%s\" became \"%s\"); refusing it, sign-in "
		               "required",
		               a, b);
		goto out;
	}
	if (!t.refresh_token) {
		/* RFC 6749 §6: no new refresh token, the old one stays valid */
		t.refresh_token = ts_strdup_secret(refresh_token);
		if (!t.refresh_token) {
			oauth_tokens_clear(&t);
			r = -ENOMEM;
			goto out;
		}
	}
	*ret = t;
	r = 0;
out:
	sbuf_done(&form);
	return finish(c, err, r, secrets, 1);
}

/* OIDC scopes mean nothing to a client-credentials token: drop them. */
static int cc_scopes(const char *in, struct sbuf *out)
{
	static const char *const oidc[] = {"openid", "offline_access", "profile",
	                                   "email",  "address",        "phone"};
	const char *p = in;

	while (*p) {
		size_t n;
		bool skip = false;
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (!n)
			break;
		for (size_t i = 0; i < TS_ARRAY_SIZE(oidc); i++)
			if (strlen(oidc[i]) == n && strncmp(p, oidc[i], n) == 0)
				skip = true;
		if (!skip) {
			if ((out->len && sbuf_str(out, " ") < 0) || sbuf_add(out, p, n) < 0)
				return -ENOMEM;
		}
		p += n;
	}
	return 0;
}

int oauth_client_credentials(struct oauth_client *c, struct oauth_tokens *ret,
                             struct oauth_error *err)
{
	struct sbuf form = {0}, sc = {0};
	int r;

	oauth_error_reset(err);
	if (!c->secret) {
		r = oauth_fail(err, TS_E_SERVER_CONFIG,
		               "client credentials need a client secret (client_secret_file)");
		goto out;
	}
	if ((r = cc_scopes(c->cfg.scopes, &sc)) < 0 ||
	    (r = form_add(c->curl, &form, "grant_type", "client_credentials")) < 0 ||
	    (sc.len && (r = form_add(c->curl, &form, "scope", sc.p)) < 0))
		goto out;
	r = token_request(c, &form, ret, err);
out:
	sbuf_done(&form);
	sbuf_done(&sc);
	return finish(c, err, r, NULL, 0);
}

/* A non-200 answer: the OAuth error in its JSON body, else TS_E_BAD_ANSWER. */
static int error_answer(const char *what, const struct http_resp *resp, struct oauth_error *err)
{
	json_t *j = oauth_json_load(resp->body.p, resp->body.len, err);
	int r = j ? oauth_json_error(j, resp->status, err) : TS_E_BAD_ANSWER;

	json_decref(j);
	if (r == 0)
		r = oauth_fail(err, TS_E_BAD_ANSWER, "the %s answered HTTP %ld", what, resp->status);
	return r;
}

/* ---- device authorization grant (RFC 8628) -------------------------------- */

int oauth_device_start(struct oauth_client *c, struct oauth_device *dev, struct oauth_error *err)
{
	struct sbuf form = {0};
	struct http_resp resp;
	struct oauth_device d = {0};
	int r;

	oauth_error_reset(err);
	r = endpoint(c, "device authorization endpoint", c->cfg.device_authorization_endpoint, err);
	if (r < 0)
		goto out;
	if ((c->cfg.scopes[0] && (r = form_add(c->curl, &form, "scope", c->cfg.scopes)) < 0) ||
	    (r = add_client_id(c, &form)) < 0)
		goto out;
	r = post_json(c, "device authorization endpoint", c->cfg.device_authorization_endpoint,
	              &form, &resp, err);
	if (r < 0)
		goto out;
	if (resp.status != 200)
		r = error_answer("device authorization endpoint", &resp, err);
	else
		r = oauth_parse_device_response(&d, resp.body.p, resp.body.len, err);
	resp_done(&resp);
	if (r < 0)
		goto out;
	d.started = time(NULL);
	d.started_mono_ms = mono_ms();
	*dev = d;
out:
	sbuf_done(&form);
	return finish(c, err, r, NULL, 0);
}

int oauth_device_poll(struct oauth_client *c, struct oauth_device *dev, time_t deadline,
                      oauth_device_tick_fn tick, void *ctx, struct oauth_tokens *ret,
                      struct oauth_error *err)
{
	struct sbuf form = {0};
	const char *secrets[] = {dev->device_code};
	unsigned interval = dev->interval ? dev->interval : 5;
	long long start = dev->started_mono_ms ? dev->started_mono_ms : mono_ms();
	long long deadline_ms = (long long)deadline * 1000;
	struct oauth_error local;
	int r;

	if (!err)
		err = &local; /* the poll needs the server's error code */
	oauth_error_reset(err);
	if (!dev->device_code) {
		r = oauth_fail(err, -EINVAL, "no device login was started");
		goto out;
	}
	if ((r = form_add(c->curl, &form, "grant_type", DEVICE_GRANT)) < 0 ||
	    (r = form_add(c->curl, &form, "device_code", dev->device_code)) < 0 ||
	    (r = add_client_id(c, &form)) < 0)
		goto out;

	for (;;) {
		long long wait_ms = (long long)((double)interval * 1000.0 * c->time_scale);
		long long now = mono_ms();
		long long expires_ms =
		    start + (long long)((double)dev->expires_in * 1000.0 * c->time_scale);

		if (dev->expires_in > 0 && now + wait_ms > expires_ms) {
			r = oauth_fail(err, TS_E_EXPIRED,
			               "the sign-in code expired before the sign-in was completed "
			               "(it is valid for %lld s)",
			               (long long)dev->expires_in);
			goto out;
		}
		if (deadline > 0 && now + wait_ms > deadline_ms) {
			r = oauth_fail(err, TS_E_EXPIRED,
			               "the sign-in was not completed within the %lld s allowed",
			               (long long)((deadline_ms - start + 999) / 1000));
			goto out;
		}
		if (tick && tick(ctx, interval) != 0) {
			r = oauth_fail(err, -ECANCELED, "the sign-in was cancelled");
			goto out;
		}
		sleep_ms(wait_ms);

		r = token_request(c, &form, ret, err);
		if (r >= 0)
			goto out;
		if (strcmp(err->error, "authorization_pending") == 0) {
			continue;
		} else if (strcmp(err->error, "slow_down") == 0) {
			/* RFC 8628 §3.5: +5 s for this and every later poll */
			interval += 5;
		} else if (r == TS_E_UNAVAILABLE && !err->error[0]) {
			/* connection failure, 5xx, 429: poll less often */
			interval = interval * 2 > OAUTH_MAX_POLL_INTERVAL ? OAUTH_MAX_POLL_INTERVAL
			                                                  : interval * 2;
			if (err->retry_after > (long)interval)
				interval = (unsigned)(err->retry_after > OAUTH_MAX_POLL_INTERVAL
				                          ? OAUTH_MAX_POLL_INTERVAL
				                          : err->retry_after);
		} else {
			if (r == TS_E_DENIED)
				(void)snprintf(err->message, sizeof(err->message),
				               "the sign-in was denied at the server (%s)",
				               err->error);
			else if (r == TS_E_EXPIRED)
				(void)snprintf(err->message, sizeof(err->message),
				               "the sign-in code expired before the sign-in was "
				               "completed (%s)",
				               err->error);
			goto out;
		}
		ts_log_debug("oauth: device login: %s, next poll in %u s",
		             err->error[0] ? err->error : "retrying", interval);
		oauth_error_reset(err);
	}
out:
	sbuf_done(&form);
	return finish(c, err, r, secrets, 1);
}

int oauth_device_login(struct oauth_client *c, struct oauth_device *dev, oauth_device_show_fn show,
                       oauth_device_tick_fn tick, void *ctx, time_t deadline,
                       struct oauth_tokens *ret, struct oauth_error *err)
{
	int r;

	r = oauth_device_start(c, dev, err);
	if (r < 0)
		return r;
	if (show && show(ctx, dev) != 0)
		return finish(c, err, oauth_fail(err, -ECANCELED, "the sign-in was cancelled"),
		              NULL, 0);
	return oauth_device_poll(c, dev, deadline, tick, ctx, ret, err);
}

/* ---- revalidation ---------------------------------------------------------- */

int oauth_introspect(struct oauth_client *c, const char *token, struct oauth_identity *ret,
                     struct oauth_error *err)
{
	struct sbuf form = {0};
	struct http_resp resp;
	const char *secrets[] = {token};
	int r;

	oauth_error_reset(err);
	if (!c->secret) {
		r = oauth_fail(err, TS_E_SERVER_CONFIG,
		               "introspection needs a client secret (client_secret_file); use "
		               "revalidate = userinfo for a public client");
		goto out;
	}
	r = endpoint(c, "introspection endpoint", c->cfg.introspection_endpoint, err);
	if (r < 0)
		goto out;
	if ((r = form_add(c->curl, &form, "token", token)) < 0 ||
	    (r = form_add(c->curl, &form, "token_type_hint", "access_token")) < 0)
		goto out;
	r = post_json(c, "introspection endpoint", c->cfg.introspection_endpoint, &form, &resp,
	              err);
	if (r < 0)
		goto out;
	if (resp.status != 200) {
		r = error_answer("introspection endpoint", &resp, err);
		/* our client was refused, not the token */
		if (r == TS_E_REJECTED_TOKEN || r == TS_E_NEEDS_LOGIN)
			r = TS_E_SERVER_CONFIG;
	} else {
		r = oauth_parse_introspection(ret, c->cfg.username_claim, resp.body.p,
		                              resp.body.len, err);
		if (r >= 0 || r == TS_E_REJECTED_TOKEN)
			ret->server_date = resp.date;
		/* an OAuth error here is about our client, never the user's grant */
		if (r == TS_E_NEEDS_LOGIN || (r == TS_E_REJECTED_TOKEN && err && err->error[0])) {
			r = TS_E_SERVER_CONFIG;
			if (err)
				(void)snprintf(err->message, sizeof(err->message),
				               "the introspection endpoint refused the client's "
				               "request: %s%s%.256s%s",
				               err->error, err->description[0] ? " (" : "",
				               err->description, err->description[0] ? ")" : "");
		}
	}
	resp_done(&resp);
out:
	sbuf_done(&form);
	return finish(c, err, r, secrets, 1);
}

/* value of param="..." (or param=token) in a WWW-Authenticate header */
static void auth_param(char *out, size_t outlen, const char *hdr, const char *param)
{
	size_t pn = strlen(param);
	const char *p = hdr;

	out[0] = '\0';
	while ((p = strcasestr(p, param))) {
		bool start = p == hdr || p[-1] == ' ' || p[-1] == ',';
		p += pn;
		if (!start || *p != '=')
			continue;
		p++;
		if (*p == '"') {
			p++;
			ts_sanitize_text(out, outlen, p, strcspn(p, "\""));
		} else {
			ts_sanitize_text(out, outlen, p, strcspn(p, " ,"));
		}
		return;
	}
}

int oauth_userinfo(struct oauth_client *c, const char *token, struct oauth_identity *ret,
                   struct oauth_error *err)
{
	struct http_resp resp;
	struct oauth_identity id = {0};
	const char *secrets[] = {token};
	struct http_req q = {.what = "userinfo endpoint", .bearer = token};
	json_t *j = NULL;
	int r;

	oauth_error_reset(err);
	r = endpoint(c, "userinfo endpoint", c->cfg.userinfo_endpoint, err);
	if (r < 0)
		goto out;
	q.url = c->cfg.userinfo_endpoint;
	r = http_do(c, &q, &resp, err);
	if (r < 0)
		goto out;
	if (resp.status == 401 || resp.status == 403) {
		char e[OAUTH_ERROR_MAX], d[OAUTH_DESC_MAX];
		auth_param(e, sizeof(e), resp.www_auth, "error");
		auth_param(d, sizeof(d), resp.www_auth, "error_description");
		if (err) {
			memcpy(err->error, e, sizeof(e));
			memcpy(err->description, d, sizeof(d));
		}
		if (resp.status == 401)
			r = oauth_fail(
			    err, TS_E_REJECTED_TOKEN,
			    "the server rejected the token at the userinfo endpoint (HTTP "
			    "401%s%s%s%s)",
			    e[0] ? ", " : "", e, d[0] ? ": " : "", d);
		else
			r = oauth_fail(
			    err, TS_E_SERVER_CONFIG,
			    "the userinfo endpoint refused access (HTTP 403 %s%s%s): the "
			    "configured scopes do not include what it needs (add openid "
			    "to scopes)",
			    e[0] ? e : "forbidden", d[0] ? ": " : "", d);
		if (err)
			err->http_status = resp.status;
		goto done;
	}
	if (resp.status != 200 || !is_json_type(resp.content_type)) {
		r = oauth_fail(err, TS_E_BAD_ANSWER,
		               "the userinfo endpoint answered HTTP %ld with content type \"%s\"",
		               resp.status, resp.content_type[0] ? resp.content_type : "(none)");
		goto done;
	}
	j = oauth_json_load(resp.body.p, resp.body.len, err);
	if (!j) {
		r = TS_E_BAD_ANSWER;
		goto done;
	}
	r = oauth_json_str(j, "sub", id.sub, sizeof(id.sub), err);
	if (r == 0 || (r > 0 && !id.sub[0]))
		r = oauth_fail(err, TS_E_BAD_ANSWER, "the userinfo answer has no \"sub\"");
	if (r < 0)
		goto done;
	if (c->cfg.username_claim[0]) {
		r = oauth_json_str(j, c->cfg.username_claim, id.username, sizeof(id.username), err);
		if (r < 0)
			goto done;
	}
	id.active = true;
	id.server_date = resp.date;
	*ret = id;
	r = 0;
done:
	json_decref(j);
	resp_done(&resp);
out:
	return finish(c, err, r, secrets, 1);
}

int oauth_revalidate(struct oauth_client *c, const char *token, struct oauth_identity *ret,
                     struct oauth_error *err)
{
	bool intro;

	switch (c->cfg.revalidate) {
	case TS_REVALIDATE_INTROSPECTION:
		intro = true;
		break;
	case TS_REVALIDATE_USERINFO:
		intro = false;
		break;
	case TS_REVALIDATE_AUTO:
	default:
		if (!c->secret) {
			intro = false;
			break;
		}
		oauth_error_reset(err);
		if (!c->cfg.introspection_endpoint[0]) {
			int r = discover(c, err);
			if (r < 0)
				return finish(c, err, r, NULL, 0);
		}
		intro = c->cfg.introspection_endpoint[0] != '\0';
		break;
	}
	return intro ? oauth_introspect(c, token, ret, err) : oauth_userinfo(c, token, ret, err);
}

/* ---- revocation (RFC 7009) -------------------------------------------------- */

int oauth_revoke(struct oauth_client *c, const char *token, const char *hint,
                 struct oauth_error *err)
{
	struct sbuf form = {0};
	struct http_resp resp;
	struct http_req q = {.what = "revocation endpoint", .client_auth = true};
	const char *secrets[] = {token};
	int r;

	oauth_error_reset(err);
	r = endpoint(c, "revocation endpoint", c->cfg.revocation_endpoint, err);
	if (r < 0)
		goto out;
	if ((r = form_add(c->curl, &form, "token", token)) < 0 ||
	    (hint && (r = form_add(c->curl, &form, "token_type_hint", hint)) < 0) ||
	    (r = add_client_id(c, &form)) < 0)
		goto out;
	q.url = c->cfg.revocation_endpoint;
	q.form = form.p;
	q.form_len = form.len;
	r = http_do(c, &q, &resp, err);
	if (r < 0)
		goto out;
	if (resp.status == 200) {
		r = 0; /* whatever the body says (RFC 7009 §2.2) */
	} else if (is_json_type(resp.content_type)) {
		r = error_answer("revocation endpoint", &resp, err);
	} else if (resp.status == 401) {
		r = oauth_fail(err, TS_E_SERVER_CONFIG,
		               "the revocation endpoint refused the client's authentication (HTTP "
		               "401)");
	} else {
		r = oauth_fail(err, TS_E_BAD_ANSWER, "the revocation endpoint answered HTTP %ld",
		               resp.status);
	}
	resp_done(&resp);
out:
	sbuf_done(&form);
	return finish(c, err, r, secrets, 1);
}
