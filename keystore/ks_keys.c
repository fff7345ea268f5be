/* SPDX-License-Identifier: MIT */
/*
 * Master keys: the key file (parse, load, reload when it changed, save) and
 * per-user key derivation.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ks_internal.h"
#include "ts_error.h"
#include "ts_mem.h"

const struct ks_key *ks_key_find(const struct ks *ks, uint32_t id)
{
	for (size_t i = 0; i < ks->nkeys; i++)
		if (ks->keys[i].id == id)
			return &ks->keys[i];
	return NULL;
}

int ks_derive(uint8_t out[KS_KEYBYTES], const struct ks_key *k, uid_t uid, const char *ctx)
{
	return crypto_kdf_derive_from_key(out, KS_KEYBYTES, (uint64_t)uid, ctx, k->key) == 0 ? 0
	                                                                                     : -EIO;
}

/* ---- master keys ------------------------------------------------------ */

struct ks_key *ks_keys_free(struct ks_key *keys)
{
	if (keys)
		sodium_free(keys);
	return NULL;
}

static int parse_u32(const char *s, size_t len, uint32_t *ret)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0 || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

/* Key file: lines "<key id>:<64 hex digits>", '#' comments and blank lines
 * ignored, at most KS_KEYS_MAX keys, ids unique. */
static int keys_parse(const uint8_t *buf, size_t len, struct ks_key **ret_keys, size_t *ret_n,
                      uint32_t *ret_current)
{
	struct ks_key *keys;
	size_t n = 0, pos = 0;
	uint32_t current = 0;
	int r = TS_E_NO_KEY;

	keys = sodium_malloc(sizeof(*keys) * KS_KEYS_MAX);
	if (!keys)
		return -ENOMEM;
	while (pos < len) {
		const char *line = (const char *)buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - line) : len - pos;
		const char *colon;
		size_t hexlen, binlen;
		uint32_t id;

		pos += ll + (nl ? 1 : 0);
		while (ll > 0 &&
		       (line[ll - 1] == ' ' || line[ll - 1] == '\t' || line[ll - 1] == '\r'))
			ll--;
		if (ll == 0 || line[0] == '#')
			continue;
		colon = memchr(line, ':', ll);
		if (!colon || n >= KS_KEYS_MAX)
			goto fail;
		if (parse_u32(line, (size_t)(colon - line), &id) < 0)
			goto fail;
		hexlen = ll - (size_t)(colon - line) - 1;
		if (hexlen != 2 * KS_KEYBYTES)
			goto fail;
		for (size_t i = 0; i < n; i++)
			if (keys[i].id == id)
				goto fail;
		if (sodium_hex2bin(keys[n].key, KS_KEYBYTES, colon + 1, hexlen, NULL, &binlen,
		                   NULL) != 0 ||
		    binlen != KS_KEYBYTES)
			goto fail;
		keys[n].id = id;
		if (id > current)
			current = id;
		n++;
	}
	if (n == 0)
		goto fail;
	sodium_mprotect_readonly(keys);
	*ret_keys = keys;
	*ret_n = n;
	*ret_current = current;
	return 0;
fail:
	sodium_free(keys);
	return r;
}

int ks_keys_load(struct ks *ks)
{
	struct ts_file_policy pol = ts_file_policy_private(KS_KEYFILE_MAX);
	_cleanup_close_ int fd = -1;
	struct ks_key *keys = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;
	uint32_t current = 0;
	struct stat st;
	int r;

	r = ts_open_checked(ks->key_file, O_RDONLY, &pol, &fd, &st);
	if (r == -ENOENT)
		return TS_E_NO_KEY;
	if (r < 0)
		return r;
	r = ts_read_all(fd, KS_KEYFILE_MAX, &buf, &len);
	if (r < 0)
		return r;
	r = keys_parse(buf, len, &keys, &n, &current);
	ts_erase_free(buf, len + 1);
	if (r < 0)
		return r;
	ks_keys_free(ks->keys);
	ks->keys = keys;
	ks->nkeys = n;
	ks->current = current;
	ks->key_st = st;
	ks->have_key_st = true;
	/* verified generations were verified under the old key set */
	memset(ks->gen_cache, 0, sizeof(ks->gen_cache));
	return 0;
}

/* Reload the key file when it changed on disk since it was loaded. */
int ks_keys_maybe_reload(struct ks *ks)
{
	struct stat st;

	if (!ks->key_file)
		return 0;
	if (fstatat(AT_FDCWD, ks->key_file, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (ks->have_key_st && st.st_ino == ks->key_st.st_ino && st.st_dev == ks->key_st.st_dev &&
	    st.st_size == ks->key_st.st_size && st.st_mtim.tv_sec == ks->key_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == ks->key_st.st_mtim.tv_nsec)
		return 0;
	return ks_keys_load(ks);
}

/* "<id>:<hex>\n" per key into a new sodium_malloc buffer. */
static int keys_format(const struct ks_key *keys, size_t n, char **ret_buf, size_t *ret_len)
{
	const size_t line = 10 + 1 + 2 * KS_KEYBYTES + 1;
	size_t cap = line * n + 1, len = 0;
	char *buf;

	buf = sodium_malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + len, cap - len, "%u:", keys[i].id);

		if (w < 0 || (size_t)w >= cap - len) {
			sodium_free(buf);
			return -EOVERFLOW;
		}
		len += (size_t)w;
		sodium_bin2hex(buf + len, cap - len, keys[i].key, KS_KEYBYTES);
		len += 2 * KS_KEYBYTES;
		buf[len++] = '\n';
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int ks_keys_save(const char *path, const struct ks_key *keys, size_t n)
{
	struct ts_atomic_opts ao = {.mode = 0600, .uid = (uid_t)-1, .gid = (gid_t)-1};
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = keys_format(keys, n, &buf, &len);
	if (r < 0)
		return r;
	r = ts_atomic_write(path, buf, len, &ao);
	sodium_free(buf);
	return r;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Write data to a temp file beside path and link(2) it into place: the new
 * file appears whole or not at all, and never replaces one that exists
 * (-EEXIST). */
static int create_exclusive(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	_cleanup_close_ int fd = -1, dfd = -1;
	const char *slash;
	int n, r = 0;

	n = snprintf(tmp, sizeof(tmp), "%s.new.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0 ||
	    linkat(AT_FDCWD, tmp, AT_FDCWD, path, 0) < 0)
		r = -errno;
	(void)unlink(tmp);
	if (r < 0)
		return r;
	slash = strrchr(path, '/');
	n = slash ? snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path)
	          : snprintf(dir, sizeof(dir), ".");
	if (n < 0 || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		(void)fsync(dfd);
	return 0;
}

int ks_keys_create(const char *key_file)
{
	struct ks_key *k;
	char *buf = NULL;
	size_t len = 0;
	int r;

	k = sodium_malloc(sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->id = 1;
	crypto_kdf_keygen(k->key);
	r = keys_format(k, 1, &buf, &len);
	sodium_free(k);
	if (r < 0)
		return r;
	r = create_exclusive(key_file, buf, len);
	sodium_free(buf);
	/* created meanwhile by another init: that key stands */
	return r == -EEXIST ? 0 : r;
}
