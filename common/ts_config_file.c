/* SPDX-License-Identifier: MIT */
/*
 * Reading the configuration file: its owner, mode and size are checked
 * before a byte of it is parsed (ts_config_parse, ts_config.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ts_config.h"
#include "ts_config_internal.h"
#include "ts_error.h"
#include "ts_file.h"
#include "ts_log.h"
#include "ts_mem.h"

static void report_open_error(const char *path, int r, const struct ts_config_report *rep)
{
	struct stat st;
	bool have = lstat(path, &st) == 0;

	switch (r) {
	case -ENOENT:
		cfg_report(rep, LOG_ERR, "%s: not found", path);
		break;
	case TS_E_NOT_REGULAR:
		cfg_report(rep, LOG_ERR,
		       "%s: refused: not a regular file (a symlink or a special file); the "
		       "configuration must be a regular file",
		       path);
		break;
	case TS_E_BAD_OWNER:
		if (have)
			cfg_report(rep, LOG_ERR,
			       "%s: refused: owned by uid %u, not by root; run chown root %s", path,
			       (unsigned)st.st_uid, path);
		else
			cfg_report(rep, LOG_ERR, "%s: refused: not owned by root; run chown root %s",
			       path, path);
		break;
	case TS_E_BAD_MODE:
		if (have)
			cfg_report(rep, LOG_ERR,
			       "%s: refused: group- or world-writable (mode 0%03o); run chmod go-w "
			       "%s",
			       path, (unsigned)(st.st_mode & 07777), path);
		else
			cfg_report(rep, LOG_ERR,
			       "%s: refused: group- or world-writable; run chmod go-w %s", path,
			       path);
		break;
	case TS_E_TOO_BIG:
		cfg_report(rep, LOG_ERR, "%s: refused: larger than %d bytes", path, TS_CONFIG_MAX_SIZE);
		break;
	default:
		cfg_report(rep, LOG_ERR, "%s: cannot read: %s", path, ts_strerror(r));
		break;
	}
}

static int load(struct ts_config *c, const char *path, const char *service,
                const struct ts_config_report *rep, bool in_place)
{
	struct ts_file_policy pol = ts_file_policy_public(TS_CONFIG_MAX_SIZE);
	_cleanup_close_ int fd = -1;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = ts_open_checked(path, O_RDONLY, &pol, &fd, NULL);
	if (r < 0) {
		report_open_error(path, r, rep);
		return r;
	}
	r = ts_read_all(fd, TS_CONFIG_MAX_SIZE, &buf, &len);
	if (r < 0) {
		report_open_error(path, r, rep);
		return r;
	}
	r = cfg_parse(c, (const char *)buf, len, service, path, rep, in_place);
	ts_erase_free(buf, len);
	return r;
}

int ts_config_load(struct ts_config *c, const char *path, const char *service,
                   const struct ts_config_report *rep)
{
	return load(c, path, service, rep, false);
}

int ts_config_load_fresh(struct ts_config *c, const char *path, const char *service,
                         const struct ts_config_report *rep)
{
	ts_config_defaults(c);
	return load(c, path, service, rep, true);
}
