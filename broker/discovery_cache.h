/* SPDX-License-Identifier: MIT */
/*
 * The discovery document kept between broker runs (discovery_cache.c):
 * <keystore_dir>/discovery.json, written by a root broker only.
 */
#ifndef TS_BROKER_DISCOVERY_CACHE_H
#define TS_BROKER_DISCOVERY_CACHE_H

#include <stdbool.h>
#include <time.h>

#include "oauth.h"
#include "ts_config.h"
#include "ts_macros.h"

#define TS_DISCOVERY_CACHE_NAME "discovery.json"
#define TS_DISCOVERY_CACHE_TTL 3600 /* seconds */

/* For the daemon, from main before any thread starts: keep the documents
 * in memory too (per issuer, thread-safe), under the same rules as the file
 * (TTL from when it was fetched, dropped after a suspect result), so a use
 * reads no file. The file is still read when memory has nothing, and still
 * written. */
void ts_discovery_cache_memory_enable(void);

/* The cache file, <keystore_dir>/discovery.json: 0 or -ENAMETOOLONG. */
int ts_discovery_cache_path(const struct ts_config *cfg, char *buf, size_t len) TS_WUR
	TS_NONNULL(1, 2);

/* Give oc the cached document if it is trustworthy and fresh at now (local
 * time). 0 when used; a negative error (-ENOENT, -ESTALE, a file-policy or
 * parse error) when not, and oc fetches as usual. */
int ts_discovery_cache_load(const struct ts_config *cfg, struct oauth_client *oc, time_t now)
    TS_NONNULL(1, 2);

/* Whether a request's result (code, and whether the server was found
 * unreachable even if offline_grace made it a success) could come from a
 * server whose endpoints moved: unavailable, protocol or server-config. */
bool ts_discovery_cache_suspect(int code, bool unavailable);

/* After a request: remember in memory (when enabled) and, as root only, store the document oc fetched, or remove
 * the cached one it used when the result was suspect. */
void ts_discovery_cache_update(const struct ts_config *cfg, const struct oauth_client *oc,
                               bool suspect) TS_NONNULL(1, 2);

#endif
