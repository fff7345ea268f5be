/* SPDX-License-Identifier: MIT */
/*
 * The broker's configuration for one request, and what a configuration
 * that cannot be used means for that request (issue 15 §0): a user
 * tokenseal never signed in is never refused because of tokenseal's own
 * configuration (TS_E_NOT_CONFIGURED: PAM_IGNORE in every phase); a user
 * with a record fails closed (TS_E_CONFIG) with a message naming the
 * problem. Private to serve.c.
 */
#ifndef TS_BROKER_SERVE_CONFIG_H
#define TS_BROKER_SERVE_CONFIG_H

#include <stdbool.h>
#include <sys/types.h>

#include "lifecycle.h"
#include "ts_config.h"

enum ts_cfg_stage {
	TS_CFG_OK,
	TS_CFG_READ,	/* the file: missing, unsafe, unreadable, too big */
	TS_CFG_PARSE,	/* a line does not parse */
	TS_CFG_INVALID, /* ts_config_validate */
	TS_CFG_PATHS,	/* ts_config_check_paths: a file it names */
};

struct ts_cfg_status {
	const char *path;
	enum ts_cfg_stage stage;
	bool unconfigured; /* parsed, and issuer and client_id both unset */
	/* a file that did not parse (or was refused): its top-level
	 * keystore_dir line, read leniently, only as one more place to look
	 * for a record (never fewer places: fail closed) */
	char file_keystore_dir[TS_PATH_MAX];
	char file_nss_cache[TS_PATH_MAX]; /* the same for nss_cache (read only) */
	struct ts_config_problems problems;
};

/* Defaults, then path (with service's section), validated and its paths
 * checked. 0, or TS_E_CONFIG with st saying where it stopped; cfg then
 * holds what parsed (or the defaults when nothing did: keystore_dir is
 * always usable for the record check). Problems go to the broker's log. */
int ts_serve_config_load(const char *path, const char *service, struct ts_config *cfg,
                         struct ts_cfg_status *st) TS_WUR TS_NONNULL(1, 3, 4);

/* Whether uid has a record in keystore_dir (any state): a read-only
 * existence check that creates nothing. Anything but a clear "no" counts
 * as a record (fail closed). */
bool ts_serve_has_record(const char *keystore_dir, uid_t uid) TS_NONNULL(1);

/* Fill out for req under the unusable configuration st: TS_E_NOT_CONFIGURED
 * for a user with no record (uid_known false: no record can be found),
 * TS_E_CONFIG for one with a record and for root-only requests
 * (root_request). Root peers get the specific problem, others its kind.
 * For root's DOCTOR, out->status_json lists each problem with its fix. */
void ts_serve_config_refuse(const struct ts_cfg_status *st, const struct ts_config *cfg,
                            const struct ts_request *req, bool uid_known, bool root_request,
                            uid_t peer_uid, struct ts_outcome *out) TS_NONNULL(1, 2, 3, 7);

#endif
