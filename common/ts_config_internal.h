/* SPDX-License-Identifier: MIT */
/*
 * Private to the configuration code (ts_config.c: the key table and the
 * parser; ts_config_check.c: validation, identity mapping, whole-path
 * checks). Nothing else includes this.
 */
#ifndef TS_CONFIG_INTERNAL_H
#define TS_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "ts_config.h"
#include "ts_macros.h"

enum key_type {
	KT_STRING, /* free text, no control characters */
	KT_PATH,   /* a file or folder; absolute (checked by validate) */
	KT_URL,    /* https:// URL (checked by validate) */
	KT_BOOL,
	KT_UINT,
	KT_ENUM,
	KT_METHODS, /* login_methods */
	KT_USERMAP, /* username_map */
};

/* Where a key may be set. */
enum key_scope {
	ANY, /* the top level, and overridden in [service NAME] */
	TOP, /* the top level only */
	SVC, /* [service NAME] sections only */
};

struct key_def {
	const char *name;
	enum key_type type;
	enum key_scope scope;
	size_t offset;
	size_t size; /* of the field: strings must fit with their NUL */
	unsigned min, max;
	bool zero_ok;                  /* KT_UINT: 0 allowed besides min..max */
	const char *const *enum_names; /* KT_ENUM: index = enum value */
	const char *def;               /* default, parsed like a value; NULL = empty */
	const char *desc;
};

/* username_map: "strip-suffix:SUFFIX" */
#define STRIP_SUFFIX "strip-suffix:"

extern const struct key_def ts_config_keys[];
extern const size_t ts_config_n_keys;

/* A problem, to the report callback (or stderr when there is none). */
void cfg_report(const struct ts_config_report *rep, int prio, const char *fmt, ...)
    TS_PRINTF(3, 4);

/* ts_config_parse; in_place: parse into c itself, which then holds the
 * defaults (ts_config_defaults) again on any error, rather than into a
 * copy that leaves c as it was (ts_config_load_fresh). */
int cfg_parse(struct ts_config *c, const char *buf, size_t len, const char *service,
              const char *origin, const struct ts_config_report *rep, bool in_place)
	TS_WUR TS_NONNULL(1, 2, 5);

/* The closing line of a parse that failed (ts_config.c): a count, not a
 * problem of its own, so ts_config_problems leaves it out. */
#define TS_CONFIG_SUMMARY_FMT "%s: %u error%s, configuration not loaded"

/* s (len bytes) sanitised and cut for a message. */
#define SHOW_MAX 80
const char *cfg_show(char out[SHOW_MAX], const char *s, size_t len);

#endif
