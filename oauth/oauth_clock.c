/* SPDX-License-Identifier: MIT */
/*
 * The clock side of a TLS failure (oauth_clock.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "oauth_clock.h"
#include "oauth_internal.h"

bool oauth_cert_time_problem(CURL *h, CURLcode cc, const char *why)
{
	long vr = 0;

	if (cc != CURLE_PEER_FAILED_VERIFICATION && cc != CURLE_SSL_CERTPROBLEM)
		return false;
	/* OpenSSL's X509_V_ERR_CERT_NOT_YET_VALID (9) and _HAS_EXPIRED (10) */
	if (curl_easy_getinfo(h, CURLINFO_SSL_VERIFYRESULT, &vr) == CURLE_OK &&
	    (vr == 9 || vr == 10))
		return true;
	/* the text of libcurl's TLS backend (OpenSSL, GnuTLS) */
	return strstr(why, "not yet valid") || strstr(why, "has expired") ||
	       strstr(why, "not yet activated");
}

/* Only the Date header of the answer. */
static size_t date_cb(char *line, size_t size, size_t nmemb, void *ud)
{
	time_t *date = ud;
	size_t n = size * nmemb;
	char tmp[128];

	if (n > 5 && n < sizeof(tmp) && strncasecmp(line, "Date:", 5) == 0) {
		memcpy(tmp, line + 5, n - 5);
		tmp[n - 5] = '\0';
		tmp[strcspn(tmp, "\r\n")] = '\0';
		*date = curl_getdate(tmp, NULL);
	}
	return n;
}

/* The server's clock, for the message only: a HEAD of origin whose
 * certificate is not verified (its dates are what failed), with no
 * credential, no body and no redirect; only the Date header is read.
 * 0 when there is none. */
static time_t unverified_server_date(const char *origin, unsigned timeout_s)
{
	time_t date = 0;
	CURL *h = curl_easy_init();

	if (!h)
		return 0;
	curl_easy_setopt(h, CURLOPT_URL, origin);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_s * 1000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_s * 1000L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, date_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &date);
	(void)curl_easy_perform(h);
	curl_easy_cleanup(h);
	return date > 0 ? date : 0;
}

static void utc_text(char *out, size_t outlen, time_t t)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, outlen, "%lld", (long long)t);
}

int oauth_clock_fail(struct oauth_error *err, int code, const char *origin, const char *shown,
                     const char *detail, unsigned timeout_s)
{
	time_t server = unverified_server_date(origin, timeout_s);
	char here[64], there[64];

	utc_text(here, sizeof(here), time(NULL));
	if (err)
		err->clock_suspect = true;
	if (server > 0) {
		utc_text(there, sizeof(there), server);
		return oauth_fail(err, code,
		                  "connection to %s: %s: this host's clock may be wrong: it says %s, "
		                  "the server says %s (unverified); set the time (timedatectl, NTP)",
		                  shown, detail, here, there);
	}
	return oauth_fail(err, code,
	                  "connection to %s: %s: this host's clock may be wrong (it says %s); "
	                  "check the time (timedatectl, NTP), else the server's certificate is "
	                  "out of date",
	                  shown, detail, here);
}
