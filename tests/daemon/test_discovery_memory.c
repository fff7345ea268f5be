/* SPDX-License-Identifier: MIT */
/*
 * The daemon's in-memory discovery cache (broker/discovery_cache.c with
 * ts_discovery_cache_memory_enable): the document a use read from the file
 * stays in memory under the file's rules: used while younger than
 * TS_DISCOVERY_CACHE_TTL (counted from when it was fetched, i.e. the file's
 * mtime), dropped when older, and forgotten after a suspect result. No
 * network: the document is written by the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "discovery_cache.h"
#include "oauth.h"
#include "ts_config.h"
#include "ts_mem.h"
#include "ts_test.h"

static struct ts_config cfg;
static char path[1024];

static const char doc[] = "{\"issuer\":\"https://idp.example\","
                          "\"token_endpoint\":\"https://idp.example/token\","
                          "\"introspection_endpoint\":\"https://idp.example/introspect\","
                          "\"userinfo_endpoint\":\"https://idp.example/userinfo\"}";

static void write_doc(time_t mtime)
{
	struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};

	(void)unlink(path);
	ts_test_write_file(path, doc, strlen(doc), 0644);
	CHECK_INT(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Load into a fresh client at now: the result, and whether it took it. */
static int load(time_t now)
{
	struct oauth_error err;
	struct oauth_client *oc = NULL;
	int r;

	CHECK_INT(oauth_client_new(&oc, &cfg, &err), 0);
	r = ts_discovery_cache_load(&cfg, oc, now);
	CHECK_INT(oauth_discovery_supplied(oc), r == 0);
	oauth_client_free(oc);
	return r;
}

static void suspect_result(time_t now)
{
	struct oauth_error err;
	struct oauth_client *oc = NULL;

	CHECK_INT(oauth_client_new(&oc, &cfg, &err), 0);
	CHECK_INT(ts_discovery_cache_load(&cfg, oc, now), 0);
	ts_discovery_cache_update(&cfg, oc, true);
	oauth_client_free(oc);
}

int main(void)
{
	time_t now = time(NULL);

	ts_config_defaults(&cfg);
	CHECK(ts_strlcpy(cfg.issuer, "https://idp.example", sizeof(cfg.issuer)) == 0);
	CHECK(ts_strlcpy(cfg.client_id, "c", sizeof(cfg.client_id)) == 0);
	CHECK(ts_strlcpy(cfg.keystore_dir, ts_test_tmpdir(), sizeof(cfg.keystore_dir)) == 0);
	snprintf(path, sizeof(path), "%s/" TS_DISCOVERY_CACHE_NAME, ts_test_tmpdir());
	CHECK_INT(oauth_global_init(), 0);
	ts_discovery_cache_memory_enable();

	/* an out-of-date file is not taken, nor kept in memory */
	write_doc(now - TS_DISCOVERY_CACHE_TTL - 10);
	CHECK_INT(load(now), -ESTALE);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(load(now), -ENOENT);

	/* read from the file once, then from memory with the file gone */
	write_doc(now - 100);
	CHECK_INT(load(now), 0);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(load(now), 0);
	CHECK_INT(load(now - 100 + TS_DISCOVERY_CACHE_TTL), 0);
	/* past the TTL counted from the fetch: dropped, and gone for good */
	CHECK_INT(load(now - 100 + TS_DISCOVERY_CACHE_TTL + 1), -ENOENT);
	CHECK_INT(load(now), -ENOENT);

	/* a suspect result forgets it (and a root broker removes the file) */
	write_doc(now);
	CHECK_INT(load(now), 0);
	CHECK_INT(unlink(path), 0);
	suspect_result(now);
	CHECK_INT(load(now), -ENOENT);
	return ts_test_done();
}
