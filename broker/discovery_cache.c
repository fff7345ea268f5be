/* SPDX-License-Identifier: MIT */
/*
 * The discovery document, kept between broker runs in
 * <keystore_dir>/discovery.json. In exec mode every use is a new process;
 * without this, each sudo would fetch the document before its one
 * revalidation request (two round trips instead of one).
 *
 * Only a broker running as root writes the file (0644, root-owned, atomic).
 * Any broker reads it only when it is root-owned, not group- or
 * world-writable, a regular file no larger than the response cap, and younger
 * than TS_DISCOVERY_CACHE_TTL; the document is then checked exactly like a
 * fetched one (issuer identical to the configured one). When a request fails
 * in a way that a changed server could explain (unreachable, malformed
 * answer, server configuration), a root broker removes the file, so the next
 * use fetches afresh. The document holds no secret.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "discovery_cache.h"
#include "ts_error.h"
#include "ts_file.h"
#include "ts_log.h"
#include "ts_mem.h"

static int cache_path(const struct ts_config *cfg, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/" TS_DISCOVERY_CACHE_NAME, cfg->keystore_dir);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int ts_discovery_cache_load(const struct ts_config *cfg, struct oauth_client *oc, time_t now)
{
	const struct ts_file_policy pol =
	    ts_file_policy_public(cfg->max_response_size ? cfg->max_response_size : 64 * 1024);
	struct oauth_error err;
	struct stat st;
	char path[TS_PATH_MAX + 32];
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd = -1, r;

	r = cache_path(cfg, path, sizeof(path));
	if (r < 0)
		return r;
	r = ts_open_checked(path, O_RDONLY, &pol, &fd, &st);
	if (r < 0) {
		if (r != -ENOENT)
			ts_log_debug("broker: discovery cache %s ignored: %s", path, ts_strerror(r));
		return r;
	}
	if (st.st_mtime > now + 60 || now - st.st_mtime > TS_DISCOVERY_CACHE_TTL) {
		ts_log_debug("broker: discovery cache %s is out of date", path);
		close(fd);
		return -ESTALE;
	}
	r = ts_read_all(fd, pol.max_size, &buf, &len);
	close(fd);
	if (r < 0)
		return r;
	r = oauth_set_discovery(oc, (const char *)buf, len, &err);
	if (r < 0)
		ts_log_debug("broker: discovery cache %s ignored: %s", path, err.message);
	buf = ts_erase_free(buf, len);
	return r;
}

bool ts_discovery_cache_suspect(int code, bool unavailable)
{
	return unavailable || code == TS_E_UNAVAILABLE || code == TS_E_BAD_ANSWER ||
	       code == TS_E_SERVER_CONFIG;
}

void ts_discovery_cache_update(const struct ts_config *cfg, const struct oauth_client *oc,
                               bool suspect)
{
	const struct ts_atomic_opts ao = {.mode = 0644, .uid = 0, .gid = 0};
	char path[TS_PATH_MAX + 32];
	const char *doc;
	size_t len = 0;
	int r;

	if (geteuid() != 0 || cache_path(cfg, path, sizeof(path)) < 0)
		return;
	if (oauth_discovery_supplied(oc)) {
		if (suspect && unlink(path) == 0)
			ts_log_debug("broker: discovery cache %s removed: the server may have "
			             "changed",
			             path);
		return;
	}
	doc = oauth_fetched_discovery(oc, &len);
	if (!doc)
		return;
	r = ts_atomic_write(path, doc, len, &ao);
	if (r < 0)
		ts_log_debug("broker: discovery cache %s not written: %s", path, ts_strerror(r));
}
