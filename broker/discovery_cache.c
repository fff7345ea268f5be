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
 *
 * The daemon (ts_discovery_cache_memory_enable) also keeps each issuer's
 * document in memory with the time it was fetched: same TTL, same removal
 * after a suspect result, and the file as the fallback and the copy that
 * exec-mode brokers share.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

/* ---- memory (daemon) -------------------------------------------------- */

#define MEM_ENTRIES 8

struct mem_entry {
	char issuer[TS_URL_MAX];
	char *doc;
	size_t len;
	time_t fetched; /* local time of the fetch (or of the file it came from) */
};

static bool mem_on;
static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mem_entry mem[MEM_ENTRIES];

void ts_discovery_cache_memory_enable(void)
{
	mem_on = true;
}

static bool fresh(time_t fetched, time_t now)
{
	return fetched <= now + 60 && now - fetched <= TS_DISCOVERY_CACHE_TTL;
}

/* Call with mem_lock held. */
static struct mem_entry *mem_find(const char *issuer)
{
	for (size_t i = 0; i < MEM_ENTRIES; i++)
		if (mem[i].doc && strcmp(mem[i].issuer, issuer) == 0)
			return &mem[i];
	return NULL;
}

static void mem_drop(struct mem_entry *e)
{
	free(e->doc);
	memset(e, 0, sizeof(*e));
}

/* Remember doc for issuer (replacing the entry, else a free or the oldest). */
static void mem_put(const char *issuer, const char *doc, size_t len, time_t fetched)
{
	struct mem_entry *e;
	char *copy;

	if (!mem_on || strlen(issuer) >= sizeof(mem[0].issuer))
		return;
	copy = malloc(len + 1);
	if (!copy)
		return;
	memcpy(copy, doc, len);
	copy[len] = '\0';
	pthread_mutex_lock(&mem_lock);
	e = mem_find(issuer);
	for (size_t i = 0; !e && i < MEM_ENTRIES; i++)
		if (!mem[i].doc)
			e = &mem[i];
	if (!e) {
		e = &mem[0];
		for (size_t i = 1; i < MEM_ENTRIES; i++)
			if (mem[i].fetched < e->fetched)
				e = &mem[i];
	}
	mem_drop(e);
	memcpy(e->issuer, issuer, strlen(issuer) + 1); /* length checked above */
	e->doc = copy;
	e->len = len;
	e->fetched = fetched;
	pthread_mutex_unlock(&mem_lock);
}

/* 0 when memory had a fresh document for cfg's issuer and oc took it; 1
 * when memory has nothing usable (an out-of-date entry is dropped); a
 * negative error when oc refused it (dropped too). */
static int mem_load(const struct ts_config *cfg, struct oauth_client *oc, time_t now)
{
	struct oauth_error err;
	struct mem_entry *e;
	int r = 1;

	if (!mem_on)
		return 1;
	pthread_mutex_lock(&mem_lock);
	e = mem_find(cfg->issuer);
	if (e && !fresh(e->fetched, now)) {
		ts_log_debug("broker: discovery document of %s in memory is out of date",
		             cfg->issuer);
		mem_drop(e);
	} else if (e) {
		r = oauth_set_discovery(oc, e->doc, e->len, &err);
		if (r < 0) {
			ts_log_debug("broker: discovery document in memory ignored: %s",
			             err.message);
			mem_drop(e);
		}
	}
	pthread_mutex_unlock(&mem_lock);
	return r;
}

static void mem_forget(const char *issuer)
{
	struct mem_entry *e;

	if (!mem_on)
		return;
	pthread_mutex_lock(&mem_lock);
	e = mem_find(issuer);
	if (e)
		mem_drop(e);
	pthread_mutex_unlock(&mem_lock);
}

/* ---- file -------------------------------------------------------------- */

int ts_discovery_cache_path(const struct ts_config *cfg, char *buf, size_t len)
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

	r = mem_load(cfg, oc, now);
	if (r <= 0)
		return r;
	r = ts_discovery_cache_path(cfg, path, sizeof(path));
	if (r < 0)
		return r;
	r = ts_open_checked(path, O_RDONLY, &pol, &fd, &st);
	if (r < 0) {
		if (r != -ENOENT)
			ts_log_debug("broker: discovery cache %s ignored: %s", path, ts_strerror(r));
		return r;
	}
	if (!fresh(st.st_mtime, now)) {
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
	else
		mem_put(cfg->issuer, (const char *)buf, len, st.st_mtime);
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
	/* created by root (checked below) with group 0 (the broker dropped
	 * every other id): no fchown, which the service's seccomp filter and
	 * empty capability set would refuse */
	const struct ts_atomic_opts ao = {.mode = 0644, .uid = (uid_t)-1, .gid = (gid_t)-1};
	char path[TS_PATH_MAX + 32];
	const char *doc;
	size_t len = 0;
	int r;

	if (oauth_discovery_supplied(oc) && suspect)
		mem_forget(cfg->issuer);
	doc = oauth_fetched_discovery(oc, &len);
	if (doc && !oauth_discovery_supplied(oc))
		mem_put(cfg->issuer, doc, len, time(NULL));
	if (geteuid() != 0 || ts_discovery_cache_path(cfg, path, sizeof(path)) < 0)
		return;
	if (oauth_discovery_supplied(oc)) {
		if (suspect && unlink(path) == 0)
			ts_log_debug("broker: discovery cache %s removed: the server may have "
			             "changed",
			             path);
		return;
	}
	if (!doc)
		return;
	r = ts_atomic_write(path, doc, len, &ao);
	if (r < 0)
		ts_log_debug("broker: discovery cache %s not written: %s", path, ts_strerror(r));
}
