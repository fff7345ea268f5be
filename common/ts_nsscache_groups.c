/* SPDX-License-Identifier: MIT */
/*
 * group_map (tokenseal.conf): "IDP-GROUP = LOCAL-NAME, IDP-GROUP = LOCAL-NAME".
 * Items are separated by commas; blanks around each side are dropped; the
 * identity provider's value is matched exactly (bytes, case included), the
 * local name must be a name the cache accepts. An identity provider value
 * cannot contain ',' or '='. See ts_nsscache.h.
 */
#include <string.h>

#include "ts_nsscache.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The item at *p: its two sides (trimmed, not NUL-terminated), *p moved past
 * it. false at the end of the map; *ret_ok false for a malformed item. */
static bool next_item(const char **p, const char **k, size_t *kn, const char **v, size_t *vn,
                      bool *ret_ok)
{
	const char *s = *p, *end, *eq;

	while (*s == ',' || blank(*s))
		s++;
	if (!*s)
		return false;
	end = strchr(s, ',');
	if (!end)
		end = s + strlen(s);
	*p = end;
	eq = memchr(s, '=', (size_t)(end - s));
	*ret_ok = eq != NULL;
	if (!eq)
		return true;
	*k = s;
	*kn = (size_t)(eq - s);
	while (*kn > 0 && blank((*k)[*kn - 1]))
		(*kn)--;
	*v = eq + 1;
	while (*v < end && blank(**v))
		(*v)++;
	*vn = (size_t)(end - *v);
	while (*vn > 0 && blank((*v)[*vn - 1]))
		(*vn)--;
	*ret_ok = *kn > 0 && *vn > 0 && *vn <= TS_NSSCACHE_NAME_MAX && !memchr(*v, '=', *vn);
	return true;
}

bool ts_nsscache_group_map_valid(const char *map)
{
	const char *p = map, *k, *v;
	size_t kn, vn;
	bool ok;

	while (next_item(&p, &k, &kn, &v, &vn, &ok)) {
		char name[TS_NSSCACHE_NAME_MAX + 1];
		const char *q = p, *k2, *v2;
		size_t kn2, vn2;
		bool ok2;

		if (!ok)
			return false;
		memcpy(name, v, vn);
		name[vn] = '\0';
		if (!ts_nsscache_name_valid(name))
			return false;
		/* an identity provider value maps to one name only */
		while (next_item(&q, &k2, &kn2, &v2, &vn2, &ok2))
			if (ok2 && kn2 == kn && memcmp(k2, k, kn) == 0)
				return false;
	}
	return true;
}

bool ts_nsscache_group_map_lookup(const char *map, const char *value, char *out, size_t outlen)
{
	const char *p = map, *k, *v;
	size_t kn, vn, n = strlen(value);
	bool ok;

	while (next_item(&p, &k, &kn, &v, &vn, &ok))
		if (ok && kn == n && memcmp(k, value, n) == 0 && vn < outlen) {
			memcpy(out, v, vn);
			out[vn] = '\0';
			return true;
		}
	return false;
}
