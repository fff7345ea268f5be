/* SPDX-License-Identifier: MIT */
/*
 * What an unusable configuration means for one request (serve_config.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "serve_config.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_paths.h"

/* Config problems go where the broker's log goes (syslog, or stderr with
 * --debug): in exec mode the broker's own stderr is /dev/null. */
TS_PRINTF(3, 0)
static void config_log(void *ctx, int priority, const char *fmt, va_list ap)
{
	(void)ctx;
	ts_vlog(priority, fmt, ap);
}

static const struct ts_config_report config_report = {config_log, NULL};

/* How much of a refused file the lenient scan reads at most. */
#define SCAN_MAX (16 * TS_CONFIG_MAX_SIZE)

/* The value of a top-level "KEY = /PATH" line of path (the last one),
 * read leniently (the file did not load): into out, else out stays empty.
 * Only a regular file, and at most SCAN_MAX bytes of it: the file was
 * refused and may be a FIFO nobody writes to (open would block the login
 * forever), a link to /dev/zero (an endless read) or anything else. */
static void scan_path_key(const char *path, const char *key, char *out, size_t outlen)
{
	char line[TS_CONFIG_LINE_MAX + 2];
	size_t kl = strlen(key), total = 0;
	struct stat sb;
	FILE *f;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	out[0] = '\0';
	if (fd < 0)
		return;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || !(f = fdopen(fd, "r"))) {
		close(fd);
		return;
	}
	while (total < SCAN_MAX && fgets(line, sizeof(line), f)) {
		total += strlen(line) + 1;
		char *s = line, *e;

		s += strspn(s, " \t");
		if (*s == '[')
			break; /* sections cannot set them */
		if (strncmp(s, key, kl) != 0)
			continue;
		s += kl;
		s += strspn(s, " \t");
		if (*s != '=')
			continue;
		s++;
		s += strspn(s, " \t");
		e = s + strcspn(s, " \t\r\n#");
		if (*s == '/' && (size_t)(e - s) < outlen) {
			memcpy(out, s, (size_t)(e - s));
			out[e - s] = '\0';
		}
	}
	fclose(f);
}

int ts_serve_config_load(const char *path, const char *service, struct ts_config *cfg,
                         struct ts_cfg_status *st)
{
	unsigned kept;
	int r;

	st->path = path;
	st->stage = TS_CFG_OK;
	st->unconfigured = false;
	st->file_keystore_dir[0] = st->file_nss_cache[0] = '\0';
	ts_config_defaults(cfg);
	ts_config_problems_init(&st->problems, &config_report);
	r = ts_config_load(cfg, path, service, &st->problems.rep);
	if (r < 0) {
		st->stage = r == TS_E_CONFIG ? TS_CFG_PARSE : TS_CFG_READ;
		scan_path_key(path, "keystore_dir", st->file_keystore_dir,
		              sizeof(st->file_keystore_dir));
		scan_path_key(path, "nss_cache", st->file_nss_cache, sizeof(st->file_nss_cache));
		return TS_E_CONFIG;
	}
	/* validation is kept, not logged yet: the shipped file (issuer and
	 * client_id not set) is a state, not an error to log on every login */
	ts_config_problems_init(&st->problems, NULL);
	st->unconfigured = !cfg->issuer[0] && !cfg->client_id[0];
	r = ts_config_validate(cfg, path, &st->problems.rep);
	if (r < 0) {
		st->stage = TS_CFG_INVALID;
		kept = ts_config_problems_kept(&st->problems);
		for (unsigned i = 0; i < kept && !st->unconfigured; i++)
			ts_log(LOG_ERR, "%s", st->problems.text[i]);
		return TS_E_CONFIG;
	}
	ts_config_problems_init(&st->problems, &config_report);
	r = ts_config_check_paths(cfg, path, &st->problems.rep);
	if (r < 0) {
		st->stage = TS_CFG_PATHS;
		return TS_E_CONFIG;
	}
	return 0;
}

bool ts_serve_has_record(const char *keystore_dir, uid_t uid)
{
	char p[TS_PATH_MAX + 64];
	struct stat sb;
	int n;

	n = snprintf(p, sizeof(p), "%s/users/%u.seal", keystore_dir, (unsigned)uid);
	if (n < 0 || (size_t)n >= sizeof(p))
		return true;
	if (lstat(p, &sb) == 0)
		return true;
	/* ENOENT (no record, or no keystore at all) and ENOTDIR are a clear
	 * "no"; EACCES, EIO, ELOOP... are not */
	return !(errno == ENOENT || errno == ENOTDIR);
}

/* The kind of problem, for users who are not the administrator. */
static const char *stage_kind(enum ts_cfg_stage s)
{
	switch (s) {
	case TS_CFG_READ:
		return "the file is missing, unreadable or not safe";
	case TS_CFG_PARSE:
		return "a line of it does not parse";
	case TS_CFG_INVALID:
		return "a setting is missing or not valid";
	case TS_CFG_PATHS:
		return "a file it names is missing or not safe";
	default:
		return "unusable";
	}
}

/* Root's DOCTOR: one failed check per problem, each with its fix. */
static void doctor_checks(const struct ts_cfg_status *st, struct ts_outcome *out)
{
	json_t *o = json_object(), *a = json_array();
	unsigned kept = ts_config_problems_kept(&st->problems);
	char fix[600];

	if (!o || !a) {
		json_decref(o);
		json_decref(a);
		return;
	}
	for (unsigned i = 0; i < kept; i++) {
		json_t *c = json_object();

		ts_config_problem_fix(st->problems.text[i], st->path, fix, sizeof(fix));
		json_object_set_new(c, "name", json_string("config"));
		json_object_set_new(c, "level", json_string("fail"));
		json_object_set_new(c, "detail", json_string(st->problems.text[i]));
		json_object_set_new(c, "fix", json_string(fix));
		json_array_append_new(a, c);
	}
	if (st->problems.count > kept) {
		json_t *c = json_object();
		char more[128];

		snprintf(more, sizeof(more), "%u more problems are in the broker's log",
		         st->problems.count - kept);
		json_object_set_new(c, "name", json_string("config"));
		json_object_set_new(c, "level", json_string("fail"));
		json_object_set_new(c, "detail", json_string(more));
		json_object_set_new(c, "fix", json_string("journalctl -t tokenseal-broker"));
		json_array_append_new(a, c);
	}
	json_object_set_new(o, "checks", a);
	free(out->status_json);
	out->status_json = json_dumps(o, JSON_COMPACT);
	json_decref(o);
}

/* out->message, cut to fit (the parts are bounded, the sum may not be). */
TS_PRINTF(2, 3)
static void out_msg(struct ts_outcome *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
}

void ts_serve_config_refuse(const struct ts_cfg_status *st, const struct ts_config *cfg,
                            const struct ts_request *req, bool uid_known, bool root_request,
                            uid_t peer_uid, struct ts_outcome *out)
{
	/* the file's keystore_dir (as far as it parsed), the compiled default,
	 * and a line of a file that did not parse: a record in any of them
	 * counts */
	bool record = !root_request && uid_known &&
	              (ts_serve_has_record(cfg->keystore_dir, req->uid) ||
	               ts_serve_has_record(TS_DEFAULT_KEYSTORE_DIR, req->uid) ||
	               (st->file_keystore_dir[0] &&
	                ts_serve_has_record(st->file_keystore_dir, req->uid)));
	const char *who = req->user_log ? req->user_log : "?";
	const char *first = st->problems.count ? st->problems.text[0] : stage_kind(st->stage);
	char more[64] = "";

	out->code = record || (root_request && !st->unconfigured) ? TS_E_CONFIG
	                                                          : TS_E_NOT_CONFIGURED;
	out->state = TS_STATE_NONE;
	if (st->problems.count > 1)
		snprintf(more, sizeof(more), " (and %u more)", st->problems.count - 1);
	if (st->unconfigured && record)
		out_msg(out, "tokenseal is not configured yet: set issuer and client_id in %.300s; %.100s "
		        "has a stored sign-in and is refused until then",
		        st->path, who);
	else if (st->unconfigured)
		out_msg(out, "tokenseal is not configured yet: set issuer and client_id in %.300s",
		        st->path);
	else if (peer_uid != 0)
		out_msg(out, "configuration problem in %.300s (%s); ask the administrator", st->path,
		        stage_kind(st->stage));
	else if (root_request)
		out_msg(out, "configuration problem: %.300s%s; `tokenseal doctor` shows how to fix it",
		        first, more);
	else if (record)
		out_msg(out, "configuration problem: %.300s%s; %.100s has a tokenseal sign-in and is "
		        "refused until it is fixed",
		        first, more, who);
	else
		out_msg(out, "configuration problem: %.300s%s; %.100s has no tokenseal sign-in, so "
		        "tokenseal stays out of the way",
		        first, more, who);
	if (req->type == TS_MSG_DOCTOR && peer_uid == 0)
		doctor_checks(st, out);
}
