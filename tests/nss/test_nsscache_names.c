/* SPDX-License-Identifier: MIT */
/*
 * Attacks on the NSS user cache's names and uids (issue 15 §2, §3), on the
 * writer and reader directly:
 *   - the built-in list of system and privileged names and
 *     nss_reserved_names: never published (sudo, admin, wheel, root,
 *     postgres, systemd-*, _apt, case variants);
 *   - uid pinning: a name nss_resolve_unknown matches shows exactly its
 *     name-hash uid or none. A colliding name that signs in first (found by
 *     search, as the review did in under 0.1 s) does not move the victim to
 *     another uid: the victim resolves to nothing and its sign-in fails
 *     (-EEXIST), so the uid it was shown never changes owner;
 *   - the writer's taken hook (other NSS sources, subordinate id ranges)
 *     is honoured by every new uid;
 *   - a v1 file (before namespace safety) is still read.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_error.h"
#include "ts_nsscache.h"
#include "ts_test.h"

static const struct ts_nsscache_settings base = {.issuer = "https://idp.example",
                                                 .uid_min = 2001000000,
                                                 .uid_max = 2001009999,
                                                 .home_template = "/home/%u",
                                                 .shell = "/bin/bash",
                                                 .resolve_unknown = "[a-z0-9]+\\.ext"};

static struct ts_nsscache *mk(const struct ts_nsscache_settings *s)
{
	struct ts_nsscache *c = NULL;

	CHECK_INT(ts_nsscache_new(&c, s), 0);
	return c;
}

static uint8_t *image(const struct ts_nsscache *c, size_t *len, struct ts_nsscache_view *v)
{
	uint8_t *buf = NULL;

	CHECK_INT(ts_nsscache_serialize(c, &buf, len), 0);
	CHECK_INT(ts_nsscache_view_open(v, buf, *len), 0);
	return buf;
}

static void test_reserved(void)
{
	static const char *const bad[] = {"root",   "sudo",     "admin",   "wheel",
	                                  "adm",    "staff",    "shadow",  "disk",
	                                  "docker", "lxd",      "postgres", "nobody",
	                                  "nogroup", "www-data", "systemd-journal",
	                                  "systemd-anything", "_apt", "Sudo", "ROOT",
	                                  "kvm", "input", "sshd", "operator", "tty"};
	static const char *const good[] = {"alice", "idp.sudo", "sudo.ext", "rootkit",
	                                   "wheels", "ext-admin", "systemd"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_MSG(ts_nsscache_name_reserved(bad[i], NULL), "%s is reserved", bad[i]);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK_MSG(!ts_nsscache_name_reserved(good[i], NULL), "%s is not", good[i]);
	/* nss_reserved_names: names and prefixes, commas or blanks */
	CHECK(ts_nsscache_name_reserved("build", "corp-*, build  oncall"));
	CHECK(ts_nsscache_name_reserved("corp-ops", "corp-*, build  oncall"));
	CHECK(ts_nsscache_name_reserved("ONCALL", "corp-*, build  oncall"));
	CHECK(!ts_nsscache_name_reserved("corp", "corp-*, build  oncall"));
	CHECK(!ts_nsscache_name_reserved("builder", "corp-*, build  oncall"));
	CHECK(ts_nsscache_reserved_list_valid(""));
	CHECK(ts_nsscache_reserved_list_valid("corp-*, build  oncall"));
	CHECK(!ts_nsscache_reserved_list_valid("*"));
	CHECK(!ts_nsscache_reserved_list_valid("a:b"));
	CHECK(!ts_nsscache_reserved_list_valid("ok, -bad"));
	/* stored in the file, read back by the module's view */
	{
		struct ts_nsscache_settings s = base;
		struct ts_nsscache *c;
		struct ts_nsscache_view v;
		size_t len;
		uint8_t *img;

		s.reserved_names = "corp-*, build";
		c = mk(&s);
		img = image(c, &len, &v);
		CHECK_STR(v.reserved_names, "corp-*, build");
		CHECK_INT(v.version, TS_NSSCACHE_VERSION);
		free(img);
		ts_nsscache_free(c);
		s.reserved_names = "*";
		CHECK_INT(ts_nsscache_new(&c, &s), -EINVAL);
	}
}

/* Every name of docs/nss.md's built-in list, in any case: the lists are
 * searched by halves, so one name out of order would be missed. */
static void test_builtin_list(void)
{
	static const char *const doc[] = {
	    "list", "root", "toor", "admin", "admins", "administrator", "sudo", "sudoers",
	    "wheel", "adm", "staff", "shadow", "disk", "kmem", "mem", "docker", "lxd", "incus",
	    "incus-admin", "libvirt", "libvirt-qemu", "kvm", "podman", "lpadmin", "sambashare",
	    "ssl-cert", "ssh_keys", "tty", "utmp", "input", "render", "video", "audio",
	    "netdev", "plugdev", "dialout", "tape", "cdrom", "floppy", "operator", "wireshark",
	    "tcpdump", "pcap", "bluetooth", "scanner", "printadmin", "sgx", "tss", "ftp",
	    "halt", "shutdown", "lock", "daemon", "bin", "sys", "sync", "games", "man", "lp",
	    "mail", "news", "uucp", "proxy", "www-data", "backup", "irc", "gnats", "nobody",
	    "nogroup", "nfsnobody", "users", "fax", "voice", "dip", "src", "sasl", "sshd",
	    "ssh", "messagebus", "dbus", "polkitd", "syslog", "uuidd", "nscd", "nslcd", "sssd",
	    "chrony", "ntp", "avahi", "colord", "cups", "saned", "pulse", "rtkit", "geoclue",
	    "gdm", "lightdm", "sddm", "usbmux", "dnsmasq", "landscape", "pollinate", "statd",
	    "rpc", "rpcuser", "unbound", "clevis", "utempter", "postgres", "mysql", "mariadb",
	    "redis", "nginx", "apache", "httpd", "memcache", "memcached", "mongodb", "git",
	    "gitlab", "jenkins", "elasticsearch", "rabbitmq", "named", "bind", "postfix",
	    "dovecot", "exim", "smmsp", "squid", "haproxy", "varnish", "zabbix", "nagios",
	    "prometheus", "grafana", "influxdb", "containerd", "qemu", "vboxusers", "openldap",
	    "ldap", "kerberos", "tomcat", "nextcloud", "ollama", "tokenseal",
	};
	char up[64], longer[64];

	CHECK_INT(TS_ARRAY_SIZE(doc), 147);
	for (size_t i = 0; i < TS_ARRAY_SIZE(doc); i++) {
		size_t n = strlen(doc[i]);

		CHECK_MSG(ts_nsscache_name_reserved(doc[i], NULL), "%s is reserved", doc[i]);
		for (size_t k = 0; k <= n; k++)
			up[k] = doc[i][k] >= 'a' && doc[i][k] <= 'z' ? (char)(doc[i][k] - 32) : doc[i][k];
		CHECK_MSG(ts_nsscache_name_reserved(up, NULL), "%s is reserved", up);
		/* a longer name is another name */
		snprintf(longer, sizeof(longer), "%sqz", doc[i]);
		CHECK_MSG(!ts_nsscache_name_reserved(longer, NULL), "%s is not", longer);
		snprintf(longer, sizeof(longer), "qz%s", doc[i]);
		CHECK_MSG(!ts_nsscache_name_reserved(longer, NULL), "%s is not", longer);
	}
	/* longer than any built-in name, with one as a prefix */
	CHECK(!ts_nsscache_name_reserved("administrator-of-the-whole-building-a", NULL));
	CHECK(ts_nsscache_name_reserved("systemd-of-the-whole-building-and-more-a", NULL));
}

/* A name with the same name-hash uid as victim (the review's attack). */
static void colliding_name(const char *victim, char *out, size_t outlen)
{
	char key[300];
	uint32_t want;

	snprintf(key, sizeof(key), "name:%s", victim);
	want = ts_nsscache_hash_uid(base.issuer, key, base.uid_min, base.uid_max);
	for (unsigned i = 0; i < 10000000; i++) {
		snprintf(out, outlen, "x%u.ext", i);
		snprintf(key, sizeof(key), "name:%s", out);
		if (strcmp(out, victim) != 0 &&
		    ts_nsscache_hash_uid(base.issuer, key, base.uid_min, base.uid_max) == want)
			return;
	}
	CHECK_MSG(false, "no name collides with %s", victim);
}

static void test_pinned_uid(void)
{
	struct ts_nsscache *c = mk(&base);
	struct ts_nsscache_view v;
	struct ts_nsscache_info info;
	char attacker[64];
	uint32_t shown = 0, got = 0, later = 0;
	size_t len;
	uint8_t *img;

	img = image(c, &len, &v);
	CHECK_INT(ts_nsscache_view_unknown_uid(&v, "bob.ext", &shown), 0);
	free(img);
	colliding_name("bob.ext", attacker, sizeof(attacker));
	fprintf(stderr, "   %s collides with bob.ext on uid %u\n", attacker, (unsigned)shown);
	/* the attacker signs in first and takes the uid bob was shown */
	CHECK_INT(ts_nsscache_upsert(c, "sub-attacker", attacker, NULL, &got), 0);
	CHECK_INT(got, shown);
	/* bob is never shown another uid, and never signs in under one */
	img = image(c, &len, &v);
	CHECK_INT(ts_nsscache_view_unknown_uid(&v, "bob.ext", &later), -EEXIST);
	free(img);
	CHECK_INT(ts_nsscache_upsert(c, "sub-bob", "bob.ext", NULL, &got), -EEXIST);
	CHECK_INT(ts_nsscache_find(c, "bob.ext", &info), -ENOENT);
	ts_nsscache_free(c);

	/* the other order: bob first, then the attacker gets nothing */
	c = mk(&base);
	CHECK_INT(ts_nsscache_upsert(c, "sub-bob", "bob.ext", NULL, &got), 0);
	CHECK_INT(got, shown);
	CHECK_INT(ts_nsscache_upsert(c, "sub-attacker", attacker, NULL, &got), -EEXIST);
	ts_nsscache_free(c);
}

static uint32_t hooked;
static unsigned hook_calls;

static bool hook(void *ctx, uint32_t uid)
{
	(void)ctx;
	hook_calls++;
	return uid == hooked;
}

/* The taken hook (another source's uid, a subuid range): a name-hash uid
 * it holds is refused, a subject-hash uid moves past it. */
static void test_taken_hook(void)
{
	struct ts_nsscache_settings s = base;
	struct ts_nsscache *c = mk(&base);
	uint32_t got = 0;

	hooked = ts_nsscache_hash_uid(base.issuer, "name:carol.ext", base.uid_min, base.uid_max);
	ts_nsscache_set_taken_hook(c, hook, NULL);
	CHECK_INT(ts_nsscache_upsert(c, "sub-carol", "carol.ext", NULL, &got), -EEXIST);
	CHECK(hook_calls > 0);
	ts_nsscache_free(c);

	s.resolve_unknown = "";
	c = mk(&s);
	hooked = ts_nsscache_hash_uid(base.issuer, "sub-dan", base.uid_min, base.uid_max);
	ts_nsscache_set_taken_hook(c, hook, NULL);
	CHECK_INT(ts_nsscache_upsert(c, "sub-dan", "dan", NULL, &got), 0);
	CHECK(got != hooked);
	CHECK_INT(got, hooked == base.uid_max ? base.uid_min : hooked + 1);
	ts_nsscache_free(c);
}

/* The per-user group flag: on for a new entry (gid 0), off where the broker
 * says the name is not free, kept
 * in the file; a v1 file (every per-user group published) still reads. */
static void test_group_flag_and_v1(void)
{
	struct ts_nsscache *c = mk(&base), *d = NULL;
	struct ts_nsscache_view v;
	struct ts_nsscache_entry e;
	struct ts_nsscache_info info;
	size_t len;
	uint8_t *img;

	CHECK_INT(ts_nsscache_upsert(c, "sub-a", "ann", NULL, NULL), 0);
	CHECK_INT(ts_nsscache_upsert(c, "sub-b", "ben", NULL, NULL), 0);
	CHECK_INT(ts_nsscache_set_user_group(c, "ben", false), 0);
	CHECK_INT(ts_nsscache_set_user_group(c, "nobody-here", true), -ENOENT);
	img = image(c, &len, &v);
	CHECK_INT(ts_nsscache_view_by_name(&v, "ann", &e), 0);
	CHECK(e.flags & TS_NSSCACHE_F_GROUP);
	CHECK_INT(ts_nsscache_view_by_name(&v, "ben", &e), 0);
	CHECK(!(e.flags & TS_NSSCACHE_F_GROUP));
	CHECK_INT(ts_nsscache_parse(&d, img, len, NULL), 0);
	CHECK_INT(ts_nsscache_find(d, "ann", &info), 0);
	CHECK(info.user_group);
	ts_nsscache_free(d);
	free(img);
	/* a v1 file written before namespace safety (the fuzz corpus keeps
	 * one): read, every per-user group published, rewritten as v2 */
	{
		uint8_t *v1 = NULL, *again = NULL;
		size_t n1 = 0, n2 = 0;
		struct ts_nsscache_view w;
		FILE *f = fopen(TS_NSSCACHE_V1_SAMPLE, "rb");

		CHECK(f != NULL);
		v1 = malloc(1 << 16);
		CHECK(v1 != NULL);
		if (f && v1) {
			n1 = fread(v1, 1, 1 << 16, f);
			fclose(f);
		}
		CHECK_INT(ts_nsscache_view_open(&v, v1, n1), 0);
		CHECK_INT(v.version, 1);
		CHECK_STR(v.reserved_names, "");
		CHECK(v.n_active > 0);
		CHECK_INT(ts_nsscache_view_at(&v, 0, &e), 0);
		CHECK(e.flags & TS_NSSCACHE_F_GROUP);
		CHECK_INT(ts_nsscache_parse(&d, v1, n1, NULL), 0);
		CHECK_INT(ts_nsscache_serialize(d, &again, &n2), 0);
		CHECK_INT(ts_nsscache_view_open(&w, again, n2), 0);
		CHECK_INT(w.version, TS_NSSCACHE_VERSION);
		CHECK_INT(w.n_entries, v.n_entries);
		free(again);
		ts_nsscache_free(d);
		free(v1);
	}
	ts_nsscache_free(c);
}

/* Groups at scale (issue 16 bounds): 10 000 users with 100 of 300 groups
 * each (a million memberships), a local member, round trip, lookups. */
static void test_groups_scale(void)
{
	struct ts_nsscache_settings s = base;
	struct ts_nsscache *c, *d = NULL;
	struct ts_nsscache_group_ref refs[101];
	static char names[300][16];
	struct ts_nsscache_view v;
	struct ts_nsscache_entry e;
	struct ts_nsscache_group g;
	size_t len;
	uint8_t *img;

	s.uid_max = s.uid_min + 999999;
	s.resolve_unknown = "";
	c = mk(&s);
	for (int i = 0; i < 300; i++)
		snprintf(names[i], sizeof(names[i]), "grp%d", i);
	for (int u = 0; u < 10000; u++) {
		char sub[32], name[32];
		snprintf(sub, sizeof(sub), "s%d", u);
		snprintf(name, sizeof(name), "user%d", u);
		CHECK_INT(ts_nsscache_upsert(c, sub, name, NULL, NULL), 0);
		for (int j = 0; j < 100; j++)
			refs[j] = (struct ts_nsscache_group_ref){.name = names[(u + j * 3) % 300]};
		CHECK_INT(ts_nsscache_set_groups(c, name, refs, 100), 1);
	}
	/* a local account (uid 1001) in a local group (gid 27) and grp0 */
	CHECK_INT(ts_nsscache_set_member(c, "alice", 1001), 0);
	refs[0] = (struct ts_nsscache_group_ref){.name = "sudo", .local = true, .gid = 27};
	refs[1] = (struct ts_nsscache_group_ref){.name = "grp0"};
	CHECK_INT(ts_nsscache_set_groups(c, "alice", refs, 2), 1);
	CHECK_INT(ts_nsscache_set_groups(c, "alice", refs, 2), 0); /* same set */
	CHECK_INT(ts_nsscache_set_groups(c, "nobody-here", refs, 2), -ENOENT);
	/* a member entry makes way for a cache user of that name */
	CHECK_INT(ts_nsscache_set_member(c, "gone", 1002), 0);
	CHECK_INT(ts_nsscache_drop_member(c, "gone"), 0);
	CHECK_INT(ts_nsscache_drop_member(c, "gone"), -ENOENT);
	{ /* over the per-user bound */
		struct ts_nsscache_group_ref *many = calloc(1025, sizeof(*many));
		CHECK(many != NULL);
		for (int j = 0; many && j < 1025; j++)
			many[j].name = names[j % 300];
		if (many)
			CHECK_INT(ts_nsscache_set_groups(c, "user1", many, 1025), -E2BIG);
		free(many);
	}
	img = image(c, &len, &v);
	fprintf(stderr, "   10000 users x 100 groups: %zu bytes, %u links\n", len, v.n_links);
	CHECK(len < TS_NSSCACHE_MAX_SIZE);
	CHECK_INT(v.n_groups, 301);
	CHECK_INT(v.n_links, 1000002);
	CHECK_INT(ts_nsscache_view_by_name(&v, "user42", &e), 0);
	CHECK_INT(e.n_groups, 100);
	CHECK_INT(ts_nsscache_view_by_name(&v, "alice", &e), 0);
	CHECK_INT(e.state, TS_NSSCACHE_MEMBER);
	CHECK_INT(e.n_groups, 2);
	CHECK_INT(ts_nsscache_view_group_by_name(&v, "sudo", &g), 0);
	CHECK(g.flags & TS_NSSCACHE_G_LOCAL);
	CHECK_INT(g.gid, 27);
	CHECK_INT(ts_nsscache_view_group_by_name(&v, "grp0", &g), 0);
	CHECK(g.n_members > 3000);
	{ /* stored gids: a reload keeps them */
		struct ts_nsscache_group h;
		CHECK_INT(ts_nsscache_parse(&d, img, len, NULL), 0);
		free(img);
		img = image(d, &len, &v);
		CHECK_INT(ts_nsscache_view_group_by_name(&v, "grp0", &h), 0);
		CHECK_INT(h.gid, g.gid);
		CHECK_INT(ts_nsscache_view_group_by_gid(&v, g.gid, &h), 0);
		CHECK_STR(h.name, "grp0");
		ts_nsscache_free(d);
	}
	free(img);
	ts_nsscache_free(c);
}

int main(void)
{
	RUN(test_reserved);
	RUN(test_builtin_list);
	RUN(test_pinned_uid);
	RUN(test_taken_hook);
	RUN(test_group_flag_and_v1);
	RUN(test_groups_scale);
	return ts_test_done();
}
