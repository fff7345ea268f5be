/* SPDX-License-Identifier: MIT */
/*
 * Private to libnss_tokenseal.so.2: the state and helpers the passwd side
 * (nss_tokenseal.c) and the group side (nss_group.c) share. Hidden symbols.
 */
#ifndef TS_NSS_INTERNAL_H
#define TS_NSS_INTERNAL_H

#include <nss.h>
#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ts_macros.h"
#include "ts_nsscache.h"

#define NSS_FN(f) TS_EXPORT enum nss_status _nss_tokenseal_##f

struct map {
	unsigned refs;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
	void *mem;
	size_t len;
	bool ok; /* view is valid */
	bool have_regex;
	bool logged;
	struct ts_nsscache_view view;
	regex_t regex;
};

struct cursor {
	struct map *map;
	uint32_t pos;
};

struct nss_state_s {
	pthread_mutex_t lock;
	struct map *cur;
	struct cursor pw, gr;
};

/* The current mapping, the enumeration cursors; under .lock. */
extern struct nss_state_s nss_state;

struct out {
	char *buf;
	size_t left;
};

/* Copy s (n bytes and a NUL) into o (the caller checked the room). */
char *nss_put(struct out *o, const char *s, size_t n);

/* The current mapping (no new reference), or NULL. Under the lock. */
struct map *nss_current(void);

/* The recursion guards (_TOKENSEAL_NSS_LOOP, or this thread's own check). */
bool nss_guard_set(void);

/* An answer kept only when its name (and uid when check_uid) is nobody
 * else's; called without the lock. */
enum nss_status nss_vet(enum nss_status st, const char *name, bool check_uid, uint32_t uid);

/* The reserved lists (built-in and the file's). */
bool nss_reserved(const struct map *m, const char *name);

/* errno back to saved, ERANGE with TRYAGAIN. */
enum nss_status nss_finish(enum nss_status st, int saved, int *errnop);

void nss_log_entry_damage(struct map *m, int r);

/* Enumeration cursors (under the lock, but nss_ent_reset takes it). */
void nss_cursor_start(struct cursor *c);
void nss_cursor_end(struct cursor *c);
int nss_cursor_peek(struct cursor *c, bool groups, struct ts_nsscache_entry *ret);
enum nss_status nss_ent_reset(struct cursor *c, bool start);

#endif
