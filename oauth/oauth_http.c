/* SPDX-License-Identifier: MIT */
/*
 * The HTTP side of oauth/: one libcurl easy handle per client (keep-alive),
 * HTTPS only (loopback http:// when the config allows it), no redirects,
 * capped bodies, timeouts from http_timeout. Transport failures, redirects,
 * 429 and 5xx become the taxonomy of oauth.h here. Library code: logs at
 * debug level only, and never a secret.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sys/stat.h>

#include "oauth_clock.h"
#include "oauth_internal.h"
#include "oauth_testing.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_time.h"
#include "ts_url.h"
#include <unistd.h>

void oauth_buf_done(struct sbuf *b)
{
	b->p = ts_erase_free(b->p, b->cap);
	b->len = b->cap = 0;
}

int oauth_buf_add(struct sbuf *b, const char *s, size_t n)
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

int oauth_buf_str(struct sbuf *b, const char *s)
{
	return oauth_buf_add(b, s, strlen(s));
}

/* Append key=value (form-urlencoded; RFC 6749 App. B) with '&' as needed. */
int oauth_form_add(CURL *curl, struct sbuf *b, const char *key, const char *value)
{
	(void)curl;
	if (oauth_buf_str(b, b->len ? "&" : "") < 0 || oauth_form_encode(b, key) < 0 ||
	    oauth_buf_str(b, "=") < 0 || oauth_form_encode(b, value) < 0)
		return -ENOMEM;
	return 0;
}

void oauth_resp_done(struct http_resp *r)
{
	oauth_buf_done(&r->body);
}

void oauth_sleep_ms(long long ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
	                      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The one URL rule (ts_url.h); *ret_http: the request goes out as http://. */
static bool url_allowed(const struct oauth_client *c, const char *url, bool *ret_http,
                        char *why, size_t whylen)
{
	*ret_http = false;
	if (ts_url_check(url, c->cfg.allow_loopback_http, why, whylen) < 0)
		return false;
	*ret_http = strncasecmp(url, "http://", 7) == 0;
	return true;
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
void oauth_url_shown(char *out, size_t outlen, const char *url)
{
	url_text(out, outlen, url, "?#");
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct http_resp *r = ud;
	size_t n = size * nmemb;

	if (oauth_buf_add(&r->body, ptr, n) < 0)
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

bool oauth_is_json_type(const char *ct)
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

/* The request headers: Accept, the credential (Bearer or Basic) and the
 * form's Content-Type. NULL when out of memory. */
static struct curl_slist *request_headers(struct oauth_client *c, const struct http_req *q)
{
	struct curl_slist *hdrs = NULL, *n;
	char *auth = NULL;

	n = curl_slist_append(hdrs, "Accept: application/json");
	if (!n)
		goto nomem;
	hdrs = n;
	if (q->bearer) {
		struct sbuf b = {0};
		if (oauth_buf_str(&b, "Authorization: Bearer ") < 0 ||
		    oauth_buf_str(&b, q->bearer) < 0) {
			oauth_buf_done(&b);
			goto nomem;
		}
		auth = TS_TAKE_PTR(b.p);
	} else if (q->client_auth && oauth_sends_basic(c)) {
		if (oauth_basic_header(c, &auth) < 0)
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
	return hdrs;
nomem:
	slist_wipe_free(hdrs);
	ts_erase_free_str(auth);
	return NULL;
}

/* CAPATH-style (OpenSSL c_rehash) folders of the system trust store, in
 * order: Fedora/RHEL 9 (ca-certificates' directory-hash; their
 * /etc/pki/tls/certs and the /etc/ssl/certs symlink to it hold only
 * bundles), then Debian/Ubuntu/SUSE/Arch (/etc/ssl/certs, hash links). */
static const char *const system_capaths[] = {
    "/etc/pki/ca-trust/extracted/pem/directory-hash",
    "/etc/ssl/certs",
};

const char *oauth_capath_pick(const char *const *dirs, size_t n)
{
	struct stat st;

	for (size_t i = 0; i < n; i++)
		if (stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode) &&
		    faccessat(AT_FDCWD, dirs[i], X_OK, AT_EACCESS) == 0)
			return dirs[i];
	return NULL;
}

const char *oauth_system_capath(void)
{
	return oauth_capath_pick(system_capaths, TS_ARRAY_SIZE(system_capaths));
}

/* Every option of one request on the client's (reset) handle. */
static void set_options(struct oauth_client *c, const struct http_req *q, bool http,
                        struct curl_slist *hdrs, char *errbuf, struct http_resp *resp)
{
	long long timeout = q->timeout_ms > 0 ? q->timeout_ms : (long long)c->cfg.http_timeout * 1000;

	curl_easy_reset(c->curl); /* keeps the connection cache: keep-alive */
	if (oauth_share())
		curl_easy_setopt(c->curl, CURLOPT_SHARE, oauth_share());
	curl_easy_setopt(c->curl, CURLOPT_URL, q->url);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, http ? "http" : "https");
	curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)timeout);
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
		const char *capath = oauth_system_capath();
		/* the hashed folder, not the 200 KB bundle: ~50 ms per process;
		 * without one, libcurl's built-in default (the easy_reset above) */
		if (capath) {
			curl_easy_setopt(c->curl, CURLOPT_CAINFO, (char *)NULL);
			curl_easy_setopt(c->curl, CURLOPT_CAPATH, capath);
		}
	}
	if (q->form) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, q->form);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->form_len);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	}
}

/* A transfer that did not complete: the taxonomy class and its message. */
static int transport_failure(struct oauth_client *c, CURLcode cc, const char *errbuf,
                             const char *url, const char *shown, struct oauth_error *err)
{
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
	char detail[CURL_ERROR_SIZE], origin[TS_URL_MAX];
	int r = curl_class(cc);

	ts_sanitize_text(detail, sizeof(detail), why, strlen(why));
	if (r == TS_E_SERVER_CONFIG && oauth_cert_time_problem(c->curl, cc, why)) {
		url_origin(origin, sizeof(origin), url);
		oauth_clock_fail(err, r, origin, shown, detail, c->cfg.http_timeout);
	} else if (cc == CURLE_OPERATION_TIMEDOUT)
		oauth_fail(err, r, "connection to %s: timed out after %u s", shown,
		           c->cfg.http_timeout);
	else if (r == TS_E_SERVER_CONFIG)
		oauth_fail(err, r, "connection to %s: %s (check the issuer URL and ca_file)", shown,
		           detail);
	else
		oauth_fail(err, r, "connection to %s: %s", shown, detail);
	return r;
}

/* A completed transfer: redirects, 429, 5xx and 1xx become the taxonomy;
 * anything else is 0 for the caller. */
static int status_class(const struct http_req *q, const struct http_resp *resp,
                        const char *shown, struct oauth_error *err)
{
	if (err)
		err->http_status = resp->status;
	if (resp->status >= 300 && resp->status < 400) {
		char origin[TS_URL_MAX];
		url_origin(origin, sizeof(origin), resp->location[0] ? resp->location : "(none)");
		return oauth_fail(err, TS_E_BAD_ANSWER,
		                  "the %s %s answered HTTP %ld, a redirect to %s; redirects are not "
		                  "followed",
		                  q->what, shown, resp->status, origin);
	}
	if (resp->status == 429 || resp->status >= 500) {
		if (err)
			err->retry_after = resp->retry_after;
		if (resp->retry_after)
			return oauth_fail(err, TS_E_UNAVAILABLE,
			                  "the %s %s is temporarily unavailable: HTTP %ld, retry after "
			                  "%ld s",
			                  q->what, shown, resp->status, resp->retry_after);
		return oauth_fail(err, TS_E_UNAVAILABLE,
		                  "the %s %s is temporarily unavailable: HTTP %ld", q->what, shown,
		                  resp->status);
	}
	if (resp->status < 200)
		return oauth_fail(err, TS_E_BAD_ANSWER, "the %s %s answered HTTP %ld", q->what,
		                  shown, resp->status);
	return 0;
}

int oauth_http_do(struct oauth_client *c, const struct http_req *q, struct http_resp *resp,
                  struct oauth_error *err)
{
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE] = "", shown[TS_URL_MAX], why[160];
	CURLcode cc;
	bool http;
	int r;

	oauth_url_shown(shown, sizeof(shown), q->url);
	if (!url_allowed(c, q->url, &http, why, sizeof(why)))
		return oauth_fail(err, TS_E_SERVER_CONFIG, "refusing the %s %s: %s", q->what, shown,
		                  why);
	if (c->cfg.ca_file[0] && faccessat(AT_FDCWD, c->cfg.ca_file, R_OK, AT_EACCESS) < 0)
		return oauth_fail(err, TS_E_SERVER_CONFIG,
		                  "cannot read the CA file %s (ca_file): %s", c->cfg.ca_file,
		                  ts_strerror(-errno));

	memset(resp, 0, sizeof(*resp));
	resp->body.max = c->cfg.max_response_size;
	hdrs = request_headers(c, q);
	if (!hdrs)
		return oauth_fail(err, -ENOMEM, "out of memory");
	set_options(c, q, http, hdrs, errbuf, resp);

	cc = curl_easy_perform(c->curl);
	/* the handle must not keep pointers to our buffers */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, (char *)NULL);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, (char *)NULL);
	slist_wipe_free(hdrs);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	{
		long sent = 0;
		curl_easy_getinfo(c->curl, CURLINFO_REQUEST_SIZE, &sent);
		resp->sent = sent > 0 || resp->status > 0;
		if (err)
			err->sent = resp->sent;
	}
	ts_log_debug("oauth: %s %s -> curl %d, HTTP %ld, %zu bytes", q->form ? "POST" : "GET",
	             shown, (int)cc, resp->status, resp->body.len);
	if (resp->date > 0)
		oauth_note_date(c, resp->date, time(NULL));

	if (resp->body.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		r = oauth_fail(err, TS_E_BAD_ANSWER,
		               "the %s %s sent a response larger than %u bytes; refusing it",
		               q->what, shown, c->cfg.max_response_size);
		goto fail;
	}
	if (cc != CURLE_OK) {
		r = transport_failure(c, cc, errbuf, q->url, shown, err);
		resp->status = 0;
		goto fail;
	}
	r = status_class(q, resp, shown, err);
	if (r < 0)
		goto fail;
	return 0;
fail:
	oauth_resp_done(resp);
	return r;
}

/* POST form to an endpoint expecting a JSON body; JSON checked. */
/* Whether a transient failure of mode may be tried again. */
static bool may_retry(enum oauth_retry mode, const struct http_resp *resp)
{
	if (mode == OAUTH_RETRY_ANY)
		return true;
	if (mode == OAUTH_RETRY_UNSENT)
		return resp->status == 429 || resp->status >= 500 || !resp->sent;
	return false;
}

int oauth_http_retry(struct oauth_client *c, const struct http_req *q, enum oauth_retry mode,
                     struct http_resp *resp, struct oauth_error *err)
{
	long long deadline = (long long)ts_monotonic_ms() + (long long)c->cfg.http_timeout * 1000;
	long long backoff = OAUTH_RETRY_FIRST_MS;
	struct http_req a = *q;
	int r;

	for (unsigned attempt = 1;; attempt++) {
		long long now = (long long)ts_monotonic_ms(), wait;

		a.timeout_ms = deadline - now;
		if (a.timeout_ms < 1)
			a.timeout_ms = 1;
		r = oauth_http_do(c, &a, resp, err);
		if (r != TS_E_UNAVAILABLE || attempt >= OAUTH_RETRY_MAX_ATTEMPTS ||
		    !may_retry(mode, resp))
			return r;
		wait = backoff;
		if (resp->retry_after * 1000LL > wait)
			wait = resp->retry_after * 1000LL;
		now = (long long)ts_monotonic_ms();
		if (now + wait + OAUTH_RETRY_MIN_ATTEMPT_MS > deadline)
			return r; /* err still says what happened (and Retry-After) */
		ts_log_debug("oauth: the %s: %s; attempt %u in %lld ms", q->what,
		             err ? err->message : "temporarily unavailable", attempt + 1, wait);
		oauth_sleep_ms(wait);
		backoff *= 2;
		oauth_error_reset(err);
	}
}

int oauth_post(struct oauth_client *c, const char *what, const char *url, struct sbuf *form,
               enum oauth_retry mode, struct http_resp *resp, struct oauth_error *err)
{
	struct http_req q = {
	    .what = what,
	    .url = url,
	    .form = form->p ? form->p : "",
	    .form_len = form->len,
	    .client_auth = true,
	};

	return oauth_http_retry(c, &q, mode, resp, err);
}

int oauth_check_json(const char *what, const char *url, struct http_resp *resp,
                     struct oauth_error *err)
{
	char shown[TS_URL_MAX];
	int r;

	if (oauth_is_json_type(resp->content_type))
		return 0;
	oauth_url_shown(shown, sizeof(shown), url);
	if (resp->status == 401)
		r = oauth_fail(err, TS_E_SERVER_CONFIG,
		               "the %s %s refused the client's authentication (HTTP 401)", what,
		               shown);
	else
		r = oauth_fail(err, TS_E_BAD_ANSWER,
		               "the %s %s answered HTTP %ld with content type \"%s\", not JSON", what,
		               shown, resp->status,
		               resp->content_type[0] ? resp->content_type : "(none)");
	oauth_resp_done(resp);
	return r;
}

int oauth_post_json(struct oauth_client *c, const char *what, const char *url, struct sbuf *form,
                    enum oauth_retry mode, struct http_resp *resp, struct oauth_error *err)
{
	int r = oauth_post(c, what, url, form, mode, resp, err);

	return r < 0 ? r : oauth_check_json(what, url, resp, err);
}
