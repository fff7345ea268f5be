/* SPDX-License-Identifier: MIT */
/*
 * The NSS user cache: the parts the module needs (names, the uid hash, the
 * regex, home templates) and the reader (see ts_nsscache.h). The writer is
 * ts_nsscache_write.c, linked by the broker only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_error.h"
#include "ts_nsscache.h"
#include "ts_nsscache_format.h"
#include "ts_sha256.h"

const uint8_t ts_nsscache_magic[8] = {0x89, 'T', 'S', 'N', 'S', 'S', '\r', '\n'};

/* ---------------------------------------------------------------- shared */

bool ts_nsscache_name_valid(const char *name)
{
	size_t n = 0;
	bool digits_only = true;

	if (name[0] == '-' || name[0] == '.' || name[0] == '\0')
		return false;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;
		if (n >= TS_NSSCACHE_NAME_MAX)
			return false;
		if (c >= '0' && c <= '9')
			continue;
		digits_only = false;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
		    c == '-' || c == '@')
			continue;
		return false;
	}
	return !digits_only;
}

/*
 * The built-in names never published (docs/nss.md keeps the same list):
 * root and the privileged groups; Debian's base-passwd users and groups and
 * Fedora's setup package; the accounts common packages create with
 * `adduser --system` / `useradd -r` (a name taken by an IdP user before the
 * package is installed would make the package adopt that user).
 *
 * Each list is sorted (strcmp order, lower case, every name shorter than
 * BUILTIN_NAME_MAX) and searched by halves: the module checks every member
 * of a group it answers, and a linear walk of the ~150 names (strlen and a
 * compare each) was 94% of a getgrnam of 1000 members (docs/performance.md,
 * row 8). tests/nss/test_nsscache_names.c checks every name is found.
 */
#define BUILTIN_NAME_MAX 32

/* privileged: membership or the name gives root or the hardware */
static const char *const builtin_privileged[] = {
    "adm", "admin", "administrator", "admins", "audio", "bluetooth", "cdrom", "dialout", "disk",
    "docker", "floppy", "ftp", "halt", "incus", "incus-admin", "input", "kmem", "kvm",
    "libvirt", "libvirt-qemu", "lock", "lpadmin", "lxd", "mem", "netdev", "operator", "pcap",
    "plugdev", "podman", "printadmin", "render", "root", "sambashare", "scanner", "sgx",
    "shadow", "shutdown", "ssh_keys", "ssl-cert", "staff", "sudo", "sudoers", "systemd-journal",
    "tape", "tcpdump", "toor", "tss", "tty", "utmp", "video", "wheel", "wireshark",
};

/* Debian base-passwd and Fedora setup */
static const char *const builtin_base[] = {
    "avahi", "backup", "bin", "chrony", "clevis", "colord", "cups", "daemon", "dbus", "dip",
    "dnsmasq", "fax", "games", "gdm", "geoclue", "gnats", "irc", "landscape", "lightdm", "list",
    "lp", "mail", "man", "messagebus", "news", "nfsnobody", "nobody", "nogroup", "nscd",
    "nslcd", "ntp", "polkitd", "pollinate", "proxy", "pulse", "rpc", "rpcuser", "rtkit",
    "saned", "sasl", "sddm", "src", "ssh", "sshd", "sssd", "statd", "sync", "sys", "syslog",
    "unbound", "usbmux", "users", "utempter", "uucp", "uuidd", "voice", "www-data",
};

/* accounts common server packages create */
static const char *const builtin_packages[] = {
    "apache", "bind", "containerd", "dovecot", "elasticsearch", "exim", "git", "gitlab",
    "grafana", "haproxy", "httpd", "influxdb", "jenkins", "kerberos", "ldap", "mariadb",
    "memcache", "memcached", "mongodb", "mysql", "nagios", "named", "nextcloud", "nginx",
    "ollama", "openldap", "postfix", "postgres", "prometheus", "qemu", "rabbitmq", "redis",
    "smmsp", "squid", "tokenseal", "tomcat", "varnish", "vboxusers", "zabbix",
};

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* name equals item[0..n) (or starts with it when prefix), ASCII letters
 * without case */
static bool name_matches(const char *name, const char *item, size_t n, bool prefix)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (name[i] == '\0' || lower(name[i]) != lower(item[i]))
			return false;
	return prefix || name[i] == '\0';
}

static bool is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n';
}

static int cmp_name(const void *key, const void *item)
{
	return strcmp(key, *(const char *const *)item);
}

#define IN_LIST(l, list) \
	(bsearch(l, list, sizeof(list) / sizeof(list[0]), sizeof(list[0]), cmp_name) != NULL)

bool ts_nsscache_name_reserved(const char *name, const char *extra)
{
	char l[BUILTIN_NAME_MAX];
	size_t len;

	for (len = 0; len < sizeof(l) && name[len]; len++)
		l[len] = lower(name[len]);
	if (len < sizeof(l)) { /* longer: on no built-in list */
		l[len] = '\0';
		if (IN_LIST(l, builtin_privileged) || IN_LIST(l, builtin_base) ||
		    IN_LIST(l, builtin_packages))
			return true;
	}
	if (name[0] == '_' || name_matches(name, "systemd-", 8, true))
		return true;
	for (const char *p = extra; p && *p;) {
		size_t n = 0;
		bool prefix;

		while (is_sep(*p))
			p++;
		while (p[n] && !is_sep(p[n]))
			n++;
		if (n == 0)
			break;
		prefix = p[n - 1] == '*';
		if (name_matches(name, p, prefix ? n - 1 : n, prefix))
			return true;
		p += n;
	}
	return false;
}

bool ts_nsscache_reserved_list_valid(const char *list)
{
	char item[TS_NSSCACHE_NAME_MAX + 2];

	if (strnlen(list, TS_NSSCACHE_RESERVED_NAMES_MAX + 1) > TS_NSSCACHE_RESERVED_NAMES_MAX)
		return false;
	for (const char *p = list; *p;) {
		size_t n = 0;

		while (is_sep(*p))
			p++;
		while (p[n] && !is_sep(p[n]))
			n++;
		if (n == 0)
			break;
		if (n > TS_NSSCACHE_NAME_MAX + 1)
			return false;
		memcpy(item, p, n);
		item[n] = '\0';
		if (item[n - 1] == '*')
			item[n - 1] = '\0';
		/* a bare "*" (every name) is refused: nss_cache = none says that */
		if (!ts_nsscache_name_valid(item))
			return false;
		p += n;
	}
	return true;
}

uint32_t ts_nsscache_hash_uid(const char *issuer, const char *key, uint32_t uid_min,
                              uint32_t uid_max)
{
	static const char domain[] = "tokenseal-nss-uid";
	size_t li = strnlen(issuer, TS_NSSCACHE_ISSUER_MAX);
	size_t lk = strnlen(key, TS_NSSCACHE_SUBJECT_MAX + 8);
	uint8_t buf[sizeof(domain) + TS_NSSCACHE_ISSUER_MAX + 1 + TS_NSSCACHE_SUBJECT_MAX + 8];
	uint8_t d[TS_SHA256_BYTES];
	uint64_t h = 0, span;
	size_t n = 0;

	memcpy(buf, domain, sizeof(domain)); /* with its NUL */
	n += sizeof(domain);
	memcpy(buf + n, issuer, li);
	n += li;
	buf[n++] = 0;
	memcpy(buf + n, key, lk);
	n += lk;
	ts_sha256(d, buf, n);
	for (int i = 0; i < 8; i++)
		h = h << 8 | d[i];
	if (uid_max < uid_min)
		return uid_min;
	span = (uint64_t)uid_max - uid_min + 1;
	return (uint32_t)(uid_min + h % span);
}

/* First free uid from start, wrapping inside [lo, hi]. At most n_taken + 4
 * steps can hit taken or special uids, so the loop is bounded by that. */
int ts_nsscache_probe(uint32_t start, uint32_t lo, uint32_t hi, size_t n_taken, taken_fn taken,
                      const void *ctx, uint32_t *ret_uid)
{
	uint64_t span = (uint64_t)hi - lo + 1, steps = (uint64_t)n_taken + 5;
	uint32_t uid = start;

	if (hi < lo || start < lo || start > hi)
		return -EINVAL;
	if (steps > span)
		steps = span;
	for (uint64_t i = 0; i < steps; i++) {
		if (!uid_special(uid) && !taken(ctx, uid)) {
			*ret_uid = uid;
			return 0;
		}
		uid = uid == hi ? lo : uid + 1;
	}
	return -ENOSPC;
}

int ts_nsscache_regex_compile(regex_t *ret, const char *ere)
{
	size_t n = strnlen(ere, TS_NSSCACHE_REGEX_MAX + 1);
	char buf[TS_NSSCACHE_REGEX_MAX + 8];
	int r;

	if (n == 0 || n > TS_NSSCACHE_REGEX_MAX)
		return -EINVAL;
	r = snprintf(buf, sizeof(buf), "^(%s)$", ere);
	if (r < 0 || (size_t)r >= sizeof(buf))
		return -EINVAL;
	r = regcomp(ret, buf, REG_EXTENDED | REG_NOSUB);
	if (r == REG_ESPACE)
		return -ENOMEM;
	return r == 0 ? 0 : -EINVAL;
}

/* absolute, at most TS_NSSCACHE_PATH_MAX bytes, no control character or
 * ':'; '%' only in a template */
static bool path_valid(const char *p, bool is_template)
{
	size_t n = strnlen(p, TS_NSSCACHE_PATH_MAX + 1);

	if (p[0] != '/' || n > TS_NSSCACHE_PATH_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f || c == ':' || (!is_template && c == '%'))
			return false;
	}
	return true;
}

bool ts_nsscache_home_template_valid(const char *tpl)
{
	if (!path_valid(tpl, true))
		return false;
	for (const char *p = tpl; *p; p++)
		if (*p == '%' && p[1] != 'u' && p[1] != 'U' && p[1] != '%')
			return false;
		else if (*p == '%')
			p++;
	return true;
}

bool ts_nsscache_shell_valid(const char *shell)
{
	return path_valid(shell, false);
}

int ts_nsscache_expand_home(char *out, size_t outlen, const char *tpl, const char *name,
                            uint32_t uid)
{
	size_t n = 0;

	if (outlen == 0)
		return -ENAMETOOLONG;
	for (const char *p = tpl; *p; p++) {
		char num[16];
		const char *add = num;
		size_t k;

		if (*p != '%') {
			num[0] = *p, num[1] = 0;
		} else if (p[1] == 'u') {
			add = name, p++;
		} else if (p[1] == 'U') {
			(void)snprintf(num, sizeof(num), "%u", uid), p++;
		} else {
			num[0] = '%', num[1] = 0;
			if (p[1] == '%')
				p++;
		}
		k = strlen(add);
		if (k >= outlen - n)
			return -ENAMETOOLONG;
		memcpy(out + n, add, k);
		n += k;
	}
	out[n] = 0;
	return 0;
}

/* ---------------------------------------------------------------- reader */

/* A string ref at p: (offset into the strings area, length); the string must
 * lie inside it, end in a NUL and hold no other NUL. */
static int get_string(const struct ts_nsscache_view *v, const uint8_t *p, const char **ret,
                      size_t *ret_len)
{
	uint32_t off = get32(p), len = get32(p + 4);
	const char *s;

	if (off >= v->strings_size || len >= v->strings_size - off)
		return TS_E_CORRUPT;
	s = (const char *)v->base + v->strings_off + off;
	if (s[len] != '\0' || strnlen(s, len) != len)
		return TS_E_CORRUPT;
	*ret = s;
	if (ret_len)
		*ret_len = len;
	return 0;
}

/* [off, off + count * width) inside [header, size) */
static bool table_ok_h(size_t size, uint32_t header, uint32_t off, uint32_t count, uint32_t width)
{
	uint64_t end = (uint64_t)off + (uint64_t)count * width;

	return off >= header && end <= size;
}
#define table_ok(size, off, count, width) table_ok_h(size, v.header_size, off, count, width)

int ts_nsscache_view_open(struct ts_nsscache_view *ret, const void *data, size_t size)
{
	struct ts_nsscache_view v = {.base = data, .size = size};
	const uint8_t *h = data;
	int r;

	if (size > TS_NSSCACHE_MAX_SIZE)
		return TS_E_TOO_BIG;
	if (!data || size < TS_NSSCACHE_HEADER_SIZE ||
	    memcmp(h + H_MAGIC, ts_nsscache_magic, sizeof(ts_nsscache_magic)) ||
	    get32(h + H_VERSION) < TS_NSSCACHE_VERSION_MIN ||
	    get32(h + H_VERSION) > TS_NSSCACHE_VERSION || get64(h + H_TOTAL_SIZE) != size)
		return TS_E_CORRUPT;
	v.version = get32(h + H_VERSION);
	v.header_size = v.version >= 2 ? TS_NSSCACHE_HEADER_SIZE : TS_NSSCACHE_HEADER_SIZE_V1;
	v.entry_size = v.version >= 2 ? TS_NSSCACHE_ENTRY_SIZE : TS_NSSCACHE_ENTRY_SIZE_V1;
	if (get32(h + H_HEADER_SIZE) != v.header_size || size < v.header_size)
		return TS_E_CORRUPT;
	v.generation = get64(h + H_GENERATION);
	v.uid_min = get32(h + H_UID_MIN);
	v.uid_max = get32(h + H_UID_MAX);
	v.gid = get32(h + H_GID);
	v.n_entries = get32(h + H_N_ENTRIES);
	v.n_active = get32(h + H_N_ACTIVE);
	v.n_reserved = get32(h + H_N_RESERVED);
	v.entries_off = get32(h + H_ENTRIES_OFF);
	v.name_index_off = get32(h + H_NAME_INDEX_OFF);
	v.uid_index_off = get32(h + H_UID_INDEX_OFF);
	v.reserved_off = get32(h + H_RESERVED_OFF);
	v.strings_off = get32(h + H_STRINGS_OFF);
	v.strings_size = get32(h + H_STRINGS_SIZE);
	if (v.uid_min == 0 || v.uid_max < v.uid_min || v.n_active > v.n_entries ||
	    v.n_entries > TS_NSSCACHE_MAX_ENTRIES || v.n_reserved > TS_NSSCACHE_MAX_RESERVED ||
	    !table_ok(size, v.entries_off, v.n_entries, v.entry_size) ||
	    !table_ok(size, v.name_index_off, v.n_active, 4) ||
	    !table_ok(size, v.uid_index_off, v.n_entries, 4) ||
	    !table_ok(size, v.reserved_off, v.n_reserved, 4) ||
	    !table_ok(size, v.strings_off, v.strings_size, 1) || v.strings_size == 0)
		return TS_E_CORRUPT;
	if ((r = get_string(&v, h + H_ISSUER, &v.issuer, NULL)) < 0 ||
	    (r = get_string(&v, h + H_HOME_TEMPLATE, &v.home_template, NULL)) < 0 ||
	    (r = get_string(&v, h + H_SHELL, &v.shell, NULL)) < 0 ||
	    (r = get_string(&v, h + H_RESOLVE, &v.resolve_unknown, NULL)) < 0)
		return r;
	v.reserved_names = "";
	if (v.version >= 2) {
		if ((r = get_string(&v, h + H_RESERVED_NAMES, &v.reserved_names, NULL)) < 0)
			return r;
		v.n_groups = get32(h + H_N_GROUPS);
		v.groups_off = get32(h + H_GROUPS_OFF);
		v.group_name_index_off = get32(h + H_GROUP_NAME_INDEX_OFF);
		v.group_gid_index_off = get32(h + H_GROUP_GID_INDEX_OFF);
		v.n_links = get32(h + H_N_LINKS);
		v.user_links_off = get32(h + H_USER_LINKS_OFF);
		v.group_links_off = get32(h + H_GROUP_LINKS_OFF);
		if (v.n_groups > TS_NSSCACHE_MAX_GROUPS || v.n_links > TS_NSSCACHE_MAX_LINKS ||
		    !table_ok(size, v.groups_off, v.n_groups, TS_NSSCACHE_GROUP_SIZE) ||
		    !table_ok(size, v.group_name_index_off, v.n_groups, 4) ||
		    !table_ok(size, v.group_gid_index_off, v.n_groups, 4) ||
		    !table_ok(size, v.user_links_off, v.n_links, 4) ||
		    !table_ok(size, v.group_links_off, v.n_links, 4))
			return TS_E_CORRUPT;
	}
	*ret = v;
	return 0;
}

/* a state an entry of this file's version may have */
static bool state_ok(const struct ts_nsscache_view *v, uint32_t state)
{
	return state == TS_NSSCACHE_ACTIVE || state == TS_NSSCACHE_TOMBSTONE ||
	       (state == TS_NSSCACHE_MEMBER && v->version >= 2);
}

/* Entry k's bytes and its state, checked: TS_E_CORRUPT when k is out of
 * range or the state is not one this cache may hold. */
static int entry_raw(const struct ts_nsscache_view *v, uint32_t k, const uint8_t **ret_p,
                     uint32_t *ret_state)
{
	const uint8_t *p;

	if (k >= v->n_entries)
		return TS_E_CORRUPT;
	p = v->base + v->entries_off + (size_t)k * v->entry_size;
	*ret_state = get32(p + E_STATE);
	if (!state_ok(v, *ret_state))
		return TS_E_CORRUPT;
	*ret_p = p;
	return 0;
}

int ts_nsscache_entry_at(const struct ts_nsscache_view *v, uint32_t k,
                         struct ts_nsscache_entry *ret)
{
	struct ts_nsscache_entry e;
	const uint8_t *p;
	uint32_t state;
	int r;

	r = entry_raw(v, k, &p, &state);
	if (r < 0)
		return r;
	e.uid = get32(p + E_UID);
	e.gid = get32(p + E_GID);
	e.state = (enum ts_nsscache_state)state;
	e.flags = get32(p + E_FLAGS);
	if (v->version < 2) /* v1 published every per-user group */
		e.flags = (e.flags & TS_NSSCACHE_F_BY_NAME) | (v->gid ? 0 : TS_NSSCACHE_F_GROUP);
	e.subject_hash = p + E_SUBJECT;
	e.groups_first = e.n_groups = 0;
	if (v->version >= 2) {
		e.groups_first = get32(p + E_GROUPS_FIRST);
		e.n_groups = get32(p + E_N_GROUPS);
		if (e.groups_first > v->n_links || e.n_groups > v->n_links - e.groups_first)
			return TS_E_CORRUPT;
	}
	if ((r = get_string(v, p + E_NAME, &e.name, &e.name_len)) < 0 ||
	    (r = get_string(v, p + E_GECOS, &e.gecos, &e.gecos_len)) < 0 ||
	    (r = get_string(v, p + E_HOME, &e.home, &e.home_len)) < 0 ||
	    (r = get_string(v, p + E_SHELL, &e.shell, &e.shell_len)) < 0)
		return r;
	*ret = e;
	return 0;
}

uint32_t ts_nsscache_index_get(const struct ts_nsscache_view *v, uint32_t table, uint32_t i)
{
	return get32(v->base + table + (size_t)i * 4);
}

int ts_nsscache_view_by_name(const struct ts_nsscache_view *v, const char *name,
                             struct ts_nsscache_entry *ret)
{
	uint32_t lo = 0, hi = v->n_active;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		struct ts_nsscache_entry e;
		int r = ts_nsscache_entry_at(v, ts_nsscache_index_get(v, v->name_index_off, mid),
		                             &e),
		    c;

		if (r < 0)
			return r;
		c = strcmp(name, e.name);
		if (c == 0) {
			if (e.state != TS_NSSCACHE_ACTIVE && e.state != TS_NSSCACHE_MEMBER)
				return TS_E_CORRUPT;
			*ret = e;
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -ENOENT;
}

int ts_nsscache_view_by_uid(const struct ts_nsscache_view *v, uint32_t uid,
                            struct ts_nsscache_entry *ret)
{
	uint32_t lo = 0, hi = v->n_entries;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		struct ts_nsscache_entry e;
		int r =
		    ts_nsscache_entry_at(v, ts_nsscache_index_get(v, v->uid_index_off, mid), &e);

		if (r < 0)
			return r;
		if (e.uid == uid) {
			*ret = e;
			return 0;
		}
		if (uid < e.uid)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -ENOENT;
}

int ts_nsscache_view_at(const struct ts_nsscache_view *v, uint32_t i, struct ts_nsscache_entry *ret)
{
	if (i >= v->n_entries)
		return -ENOENT;
	return ts_nsscache_entry_at(v, ts_nsscache_index_get(v, v->uid_index_off, i), ret);
}

static bool reserved_has(const struct ts_nsscache_view *v, uint32_t uid)
{
	uint32_t lo = 0, hi = v->n_reserved;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2,
		         x = ts_nsscache_index_get(v, v->reserved_off, mid);
		if (x == uid)
			return true;
		if (uid < x)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

bool ts_nsscache_view_uid_taken(const struct ts_nsscache_view *v, uint32_t uid)
{
	struct ts_nsscache_entry e;
	int r;

	if (uid_special(uid) || reserved_has(v, uid))
		return true;
	r = ts_nsscache_view_by_uid(v, uid, &e);
	return r != -ENOENT;
}

int ts_nsscache_view_unknown_uid(const struct ts_nsscache_view *v, const char *name,
                                 uint32_t *ret_uid)
{
	char key[TS_NSSCACHE_NAME_MAX + 8];
	uint32_t uid;
	int r;

	if (!ts_nsscache_name_valid(name))
		return -EINVAL;

	r = snprintf(key, sizeof(key), "name:%s", name);
	if (r < 0 || (size_t)r >= sizeof(key))
		return -EINVAL;
	uid = ts_nsscache_hash_uid(v->issuer, key, v->uid_min, v->uid_max);
	if (ts_nsscache_view_uid_taken(v, uid))
		return -EEXIST;
	*ret_uid = uid;
	return 0;
}

/* ---------------------------------------------------------------- groups */

int ts_nsscache_view_group_at(const struct ts_nsscache_view *v, uint32_t k,
                              struct ts_nsscache_group *ret)
{
	struct ts_nsscache_group g;
	const uint8_t *p;
	int r;

	if (k >= v->n_groups)
		return -ENOENT;
	p = v->base + v->groups_off + (size_t)k * TS_NSSCACHE_GROUP_SIZE;
	g.number = k;
	g.gid = get32(p + G_GID);
	g.flags = get32(p + G_FLAGS);
	g.members_first = get32(p + G_FIRST);
	g.n_members = get32(p + G_COUNT);
	if (g.members_first > v->n_links || g.n_members > v->n_links - g.members_first)
		return TS_E_CORRUPT;
	r = get_string(v, p + G_NAME, &g.name, &g.name_len);
	if (r < 0)
		return r;
	*ret = g;
	return 0;
}

int ts_nsscache_view_group_by_name(const struct ts_nsscache_view *v, const char *name,
                                   struct ts_nsscache_group *ret)
{
	uint32_t lo = 0, hi = v->n_groups;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		struct ts_nsscache_group g;
		int c, r = ts_nsscache_view_group_at(
		           v, ts_nsscache_index_get(v, v->group_name_index_off, mid), &g);

		if (r < 0)
			return r == -ENOENT ? TS_E_CORRUPT : r;
		c = strcmp(name, g.name);
		if (c == 0) {
			*ret = g;
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -ENOENT;
}

int ts_nsscache_view_group_by_gid(const struct ts_nsscache_view *v, uint32_t gid,
                                  struct ts_nsscache_group *ret)
{
	uint32_t lo = 0, hi = v->n_groups;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		struct ts_nsscache_group g;
		int r = ts_nsscache_view_group_at(
		    v, ts_nsscache_index_get(v, v->group_gid_index_off, mid), &g);

		if (r < 0)
			return r == -ENOENT ? TS_E_CORRUPT : r;
		if (g.gid == gid) {
			*ret = g;
			return 0;
		}
		if (gid < g.gid)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -ENOENT;
}

int ts_nsscache_view_user_group(const struct ts_nsscache_view *v,
                                const struct ts_nsscache_entry *e, uint32_t i,
                                struct ts_nsscache_group *ret)
{
	int r;

	if (i >= e->n_groups)
		return -ENOENT;
	r = ts_nsscache_view_group_at(
	    v, ts_nsscache_index_get(v, v->user_links_off, e->groups_first + i), ret);
	return r == -ENOENT ? TS_E_CORRUPT : r;
}

int ts_nsscache_view_group_member(const struct ts_nsscache_view *v,
                                  const struct ts_nsscache_group *g, uint32_t i,
                                  struct ts_nsscache_entry *ret)
{
	uint32_t k;

	if (i >= g->n_members)
		return -ENOENT;
	k = ts_nsscache_index_get(v, v->group_links_off, g->members_first + i);
	return ts_nsscache_entry_at(v, k, ret);
}

int ts_nsscache_view_group_member_name(const struct ts_nsscache_view *v,
                                       const struct ts_nsscache_group *g, uint32_t i,
                                       enum ts_nsscache_state *ret_state, const char **ret_name,
                                       size_t *ret_len)
{
	const uint8_t *p;
	uint32_t k, state;
	int r;

	if (i >= g->n_members)
		return -ENOENT;
	k = ts_nsscache_index_get(v, v->group_links_off, g->members_first + i);
	r = entry_raw(v, k, &p, &state);
	if (r < 0)
		return r;
	r = get_string(v, p + E_NAME, ret_name, ret_len);
	if (r < 0)
		return r;
	*ret_state = (enum ts_nsscache_state)state;
	return 0;
}

bool ts_nsscache_subid_has(const char *path, uint32_t uid)
{
	char line[1024];
	bool hit = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	while (!hit && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':'), *end;
		unsigned long long start, count;

		if (!p)
			continue;
		errno = 0;
		start = strtoull(p + 1, &end, 10);
		if (errno || end == p + 1 || *end != ':')
			continue;
		count = strtoull(end + 1, &p, 10);
		if (errno || p == end + 1)
			continue;
		hit = uid >= start && uid - start < count;
	}
	fclose(f);
	return hit;
}
