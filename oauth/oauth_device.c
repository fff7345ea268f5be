/* SPDX-License-Identifier: MIT */
/*
 * The device authorization grant (RFC 8628): codes, then polls that honour
 * interval, slow_down, back-off and every deadline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "oauth_internal.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_time.h"

#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

/* ---- device authorization grant (RFC 8628) -------------------------------- */

int oauth_device_start(struct oauth_client *c, struct oauth_device *dev, struct oauth_error *err)
{
	struct sbuf form = {0};
	struct http_resp resp;
	struct oauth_device d = {0};
	int r;

	oauth_error_reset(err);
	r = oauth_endpoint(c, "device authorization endpoint", c->cfg.device_authorization_endpoint, err);
	if (r < 0)
		goto out;
	if ((c->cfg.scopes[0] && (r = oauth_form_add(c->curl, &form, "scope", c->cfg.scopes)) < 0) ||
	    (r = oauth_add_client_auth(c, &form, err)) < 0)
		goto out;
	r = oauth_post_json(c, "device authorization endpoint", c->cfg.device_authorization_endpoint,
	                    &form, OAUTH_RETRY_NONE, &resp, err);
	if (r < 0)
		goto out;
	if (resp.status != 200)
		r = oauth_error_answer("device authorization endpoint", &resp, err);
	else
		r = oauth_parse_device_response(&d, resp.body.p, resp.body.len, err);
	oauth_resp_done(&resp);
	oauth_auth_note(c, r, err);
	if (r < 0)
		goto out;
	d.started = time(NULL);
	d.started_mono_ms = (long long)ts_monotonic_ms();
	*dev = d;
out:
	oauth_buf_done(&form);
	return oauth_finish(c, err, r, NULL, 0);
}

/* After a poll that did not yield tokens: 1 to poll again at once (pending),
 * 0 to poll again after a note (interval adjusted: slow_down, back-off,
 * Retry-After), else the final result r with its message. */
static int poll_again(unsigned *interval, int r, struct oauth_error *err)
{
	if (strcmp(err->error, "authorization_pending") == 0)
		return 1;
	if (strcmp(err->error, "slow_down") == 0) {
		/* RFC 8628 §3.5: +5 s for this and every later poll */
		*interval += 5;
		return 0;
	}
	if (r == TS_E_UNAVAILABLE && !err->error[0]) {
		/* connection failure, 5xx, 429: poll less often */
		*interval = *interval * 2 > OAUTH_MAX_POLL_INTERVAL ? OAUTH_MAX_POLL_INTERVAL
		                                                    : *interval * 2;
		if (err->retry_after > (long)*interval)
			*interval = (unsigned)(err->retry_after > OAUTH_MAX_POLL_INTERVAL
			                           ? OAUTH_MAX_POLL_INTERVAL
			                           : err->retry_after);
		return 0;
	}
	if (r == TS_E_DENIED)
		(void)snprintf(err->message, sizeof(err->message),
		               "the sign-in was denied at the server (%s)", err->error);
	else if (r == TS_E_EXPIRED)
		(void)snprintf(err->message, sizeof(err->message),
		               "the sign-in code expired before the sign-in was completed (%s)",
		               err->error);
	return r;
}

int oauth_device_poll(struct oauth_client *c, struct oauth_device *dev, time_t deadline,
                      oauth_device_tick_fn tick, void *ctx, struct oauth_tokens *ret,
                      struct oauth_error *err)
{
	struct sbuf form = {0};
	const char *secrets[] = {dev->device_code};
	unsigned interval = dev->interval ? dev->interval : 5;
	long long start = dev->started_mono_ms ? dev->started_mono_ms : (long long)ts_monotonic_ms();
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
	if ((r = oauth_form_add(c->curl, &form, "grant_type", DEVICE_GRANT)) < 0 ||
	    (r = oauth_form_add(c->curl, &form, "device_code", dev->device_code)) < 0 ||
	    (r = oauth_add_client_auth(c, &form, err)) < 0)
		goto out;

	for (;;) {
		long long wait_ms = (long long)((double)interval * 1000.0 * c->time_scale);
		long long now = (long long)ts_monotonic_ms();
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
		oauth_sleep_ms(wait_ms);

		r = oauth_token_request(c, &form, NULL, OAUTH_RETRY_NONE, ret, err);
		if (r >= 0 || (r = poll_again(&interval, r, err)) < 0)
			goto out;
		if (r == 1)
			continue;
		ts_log_debug("oauth: device login: %s, next poll in %u s",
		             err->error[0] ? err->error : "retrying", interval);
		oauth_error_reset(err);
	}
out:
	oauth_buf_done(&form);
	return oauth_finish(c, err, r, secrets, 1);
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
		return oauth_finish(c, err, oauth_fail(err, -ECANCELED, "the sign-in was cancelled"),
		              NULL, 0);
	return oauth_device_poll(c, dev, deadline, tick, ctx, ret, err);
}
