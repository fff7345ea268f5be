/* SPDX-License-Identifier: MIT */
/*
 * Lints of `tokenseal doctor`: the PAM stacks that name pam_tokenseal.so
 * (a line that locks root out, an account line that cancels tokenseal's
 * refusals; docs/pam.md has the stacks known to be good) and
 * nsswitch.conf (tokenseal listed, after files, while the NSS cache is on).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor.h"

/* ---- reading a stack ---- */

static char *next_word(char **p)
{
	char *s = *p, *w;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return NULL;
	w = s;
	if (*s == '[') {
		char *e = strchr(s, ']');

		s = e ? e + 1 : s + strlen(s);
	} else {
		while (*s && *s != ' ' && *s != '\t')
			s++;
	}
	if (*s)
		*s++ = '\0';
	*p = s;
	return w;
}

static bool copy(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

int doc_pam_read(const char *dir, const char *name, struct doc_pam_line *l, int max)
{
	char path[TS_PATH_MAX + TS_NAME_MAX], line[1024];
	unsigned no = 0;
	int n = 0;
	FILE *f;

	if (strchr(name, '/') ||
	    snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -EINVAL;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (n < max && fgets(line, sizeof(line), f)) {
		char *p = line, *type, *ctl, *mod;
		struct doc_pam_line *o = &l[n];

		no++;
		line[strcspn(line, "#\r\n")] = '\0';
		if (!(type = next_word(&p)))
			continue;
		memset(o, 0, sizeof(*o));
		o->lineno = no;
		if (!strcmp(type, "@include")) {
			mod = next_word(&p);
			if (mod && copy(o->module, sizeof(o->module), mod)) {
				o->include = true;
				n++;
			}
			continue;
		}
		if (type[0] == '-')
			type++;
		ctl = next_word(&p);
		mod = next_word(&p);
		if (!ctl || !mod || !copy(o->type, sizeof(o->type), type) ||
		    !copy(o->control, sizeof(o->control), ctl) ||
		    !copy(o->module, sizeof(o->module), mod))
			continue;
		o->include = !strcmp(ctl, "include") || !strcmp(ctl, "substack");
		n++;
	}
	fclose(f);
	return n;
}

static const char *base(const char *m)
{
	const char *s = strrchr(m, '/');

	return s ? s + 1 : m;
}

bool doc_pam_is_tokenseal(const struct doc_pam_line *l)
{
	return !l->include && !strcmp(base(l->module), "pam_tokenseal.so");
}

/* What control does with the PAM code named value ("ignore",
 * "perm_denied", "success"): "ok", "done", "ignore", "bad", "die", "reset"
 * or a jump count, into act. Keywords as pam.conf(5) defines them; a value
 * a bracket does not name takes default's action, else bad. */
static void action(const char *control, const char *value, char *act, size_t len)
{
	static const struct {
		const char *kw, *br;
	} kws[] = {
	    {"required", "[success=ok new_authtok_reqd=ok ignore=ignore default=bad]"},
	    {"requisite", "[success=ok new_authtok_reqd=ok ignore=ignore default=die]"},
	    {"sufficient", "[success=done new_authtok_reqd=done default=ignore]"},
	    {"optional", "[success=ok new_authtok_reqd=ok default=ignore]"},
	};
	const char *br = control, *p;
	char dflt[32] = "bad";
	size_t vl = strlen(value);

	for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++)
		if (!strcmp(control, kws[i].kw))
			br = kws[i].br;
	copy(act, len, "");
	for (p = br + (br[0] == '['); *p && *p != ']';) {
		size_t k = strcspn(p, " \t]"), eq = strcspn(p, "=");

		if (eq < k) {
			char v[32];
			size_t al = k - eq - 1 < sizeof(v) - 1 ? k - eq - 1 : sizeof(v) - 1;

			memcpy(v, p + eq + 1, al);
			v[al] = '\0';
			if (eq == vl && !strncmp(p, value, vl) && !act[0])
				copy(act, len, v);
			else if (eq == 7 && !strncmp(p, "default", 7))
				copy(dflt, sizeof(dflt), v);
		}
		p += k;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (!act[0])
		copy(act, len, dflt);
}

static bool is_jump(const char *act)
{
	return act[0] >= '1' && act[0] <= '9';
}

/* ---- the PAM lints ---- */

static void lint_stack(struct doctor *d, const char *file, const struct doc_pam_line *l, int n,
                       unsigned *problems)
{
	char name[64], act[32];
	int other_auth = 0, other_account = 0, ts_auth = -1, ts_account = -1;

	snprintf(name, sizeof(name), "pam:%.59s", file);
	for (int i = 0; i < n; i++) {
		bool ts = doc_pam_is_tokenseal(&l[i]);
		bool deny = !strcmp(base(l[i].module), "pam_deny.so");
		bool any = l[i].include && !l[i].type[0]; /* @include FILE */

		if (!strcmp(l[i].type, "auth") || (any && strstr(l[i].module, "auth"))) {
			if (ts && ts_auth < 0)
				ts_auth = i;
			else if (!ts && !deny)
				other_auth++;
		}
		if (!strcmp(l[i].type, "account") || (any && strstr(l[i].module, "account"))) {
			if (ts && ts_account < 0)
				ts_account = i;
			else if (!ts && !deny)
				other_account++;
		}
	}
	for (int i = 0; i < n; i++) {
		const struct doc_pam_line *t = &l[i];

		if (!doc_pam_is_tokenseal(t))
			continue;
		if (!strcmp(t->type, "auth")) {
			bool before = false;

			action(t->control, "ignore", act, sizeof(act));
			if (!strcmp(act, "die") || !strcmp(act, "bad")) {
				(*problems)++;
				cli_doctor_line(
				    d, "fail", name,
				    "add ignore=ignore to the control, e.g. [success=done "
				    "ignore=ignore default=die] (docs/pam.md)",
				    "%s/%s line %u: `auth %s pam_tokenseal.so` turns PAM_IGNORE "
				    "(root, system accounts, uids tokenseal does not serve) into "
				    "a failure (%s): root cannot log in through this stack",
				    DOC_PAM_DIR, file, t->lineno, t->control, act);
				continue;
			}
			for (int j = 0; j < i; j++) {
				char s[32];

				if (strcmp(l[j].type, "auth") || doc_pam_is_tokenseal(&l[j]))
					continue;
				action(l[j].control, "success", s, sizeof(s));
				before = before || !strcmp(s, "done") || is_jump(s);
			}
			if (!before &&
			    (!strcmp(t->control, "required") || !strcmp(t->control, "requisite"))) {
				(*problems)++;
				cli_doctor_line(
				    d, "warn", name,
				    "let the local password decide first, or use a stack of "
				    "docs/pam.md",
				    "%s/%s line %u: `auth %s pam_tokenseal.so` with no line "
				    "before it that lets a local password in: every local user "
				    "in min_uid..max_uid must also pass tokenseal, and one the "
				    "identity provider does not know is refused even with the "
				    "right password",
				    DOC_PAM_DIR, file, t->lineno, t->control);
			}
		} else if (!strcmp(t->type, "account")) {
			action(t->control, "perm_denied", act, sizeof(act));
			if (!strcmp(act, "ignore")) {
				(*problems)++;
				cli_doctor_line(
				    d, "fail", name,
				    "make it `account required pam_tokenseal.so` (docs/pam.md)",
				    "%s/%s line %u: `account %s pam_tokenseal.so` ignores "
				    "tokenseal's refusals (PAM_PERM_DENIED: revoked, signed out, "
				    "access policy): those users still get in",
				    DOC_PAM_DIR, file, t->lineno, t->control);
			} else if (is_jump(act)) {
				(*problems)++;
				cli_doctor_line(
				    d, "warn", name,
				    "make it `account required pam_tokenseal.so` (docs/pam.md)",
				    "%s/%s line %u: `account %s pam_tokenseal.so` jumps over %s "
				    "lines when tokenseal refuses: unless they end in pam_deny, "
				    "the refusal is lost",
				    DOC_PAM_DIR, file, t->lineno, t->control, act);
			}
		}
	}
	if (ts_auth >= 0 && !other_auth) {
		(*problems)++;
		cli_doctor_line(
		    d, "fail", name,
		    "add the local password (pam_unix.so, or include common-auth) as in "
		    "docs/pam.md",
		    "%s/%s: pam_tokenseal.so is its only auth module, and it steps aside for "
		    "root and system accounts: they cannot log in through this stack",
		    DOC_PAM_DIR, file);
	}
	if (ts_account >= 0 && !other_account) {
		(*problems)++;
		cli_doctor_line(
		    d, "fail", name,
		    "add `account include common-account` (or pam_unix.so) as in docs/pam.md",
		    "%s/%s: pam_tokenseal.so is its only account module, and it steps aside "
		    "for root and system accounts: their account phase fails",
		    DOC_PAM_DIR, file);
	}
}

void doc_lint_pam(struct doctor *d)
{
	struct doc_pam_line *l = calloc(DOC_PAM_LINES_MAX, sizeof(*l));
	unsigned stacks = 0, problems = 0;
	struct dirent *de;
	DIR *dir;

	if (!l)
		return;
	dir = opendir(DOC_PAM_DIR);
	while (dir && (de = readdir(dir)) != NULL) {
		bool ts = false;
		int n;

		if (de->d_name[0] == '.')
			continue;
		n = doc_pam_read(DOC_PAM_DIR, de->d_name, l, DOC_PAM_LINES_MAX);
		for (int i = 0; i < n; i++)
			ts = ts || doc_pam_is_tokenseal(&l[i]);
		if (!ts)
			continue;
		stacks++;
		lint_stack(d, de->d_name, l, n, &problems);
	}
	if (dir)
		closedir(dir);
	free(l);
	if (stacks && !problems)
		cli_doctor_line(
		    d, "ok", "pam-stacks", NULL,
		    "%u stacks use pam_tokenseal.so; none locks root out or ignores its "
		    "refusals",
		    stacks);
}

/* ---- nsswitch.conf ---- */

static void lint_db(struct doctor *d, const char *db, const char *srcs, bool on, const char *why)
{
	char name[32], buf[512], *p = buf, *w;
	int files = -1, ts = -1, i = 0;

	snprintf(name, sizeof(name), "nsswitch-%s", db);
	if (!srcs) {
		cli_doctor_line(
		    d, on ? "warn" : "skip", name,
		    on ? "add the line `passwd: files tokenseal` / `group: files tokenseal`" : NULL,
		    "%s has no %s: line%s", DOC_NSSWITCH, db,
		    on ? "" : " (the NSS cache is off: nothing to list)");
		return;
	}
	copy(buf, sizeof(buf), srcs);
	while ((w = next_word(&p))) {
		if (w[0] == '[')
			continue;
		if (!strcmp(w, "files") || !strcmp(w, "compat"))
			files = files < 0 ? i : files;
		if (!strcmp(w, "tokenseal"))
			ts = ts < 0 ? i : ts;
		i++;
	}
	if (on && ts < 0)
		cli_doctor_line(
		    d, "warn", name, "add tokenseal after files on that line (docs/nss.md)",
		    "%s: `%s: %s` does not list tokenseal while the NSS cache is on: %s",
		    DOC_NSSWITCH, db, srcs, why);
	else if (ts >= 0 && files >= 0 && ts < files)
		cli_doctor_line(d, "warn", name,
		                "put tokenseal after files on that line (docs/nss.md)",
		                "%s: `%s: %s` asks tokenseal before files: local accounts must be "
		                "found first",
		                DOC_NSSWITCH, db, srcs);
	else if (ts >= 0)
		cli_doctor_line(d, "ok", name, NULL, "%s: `%s: %s`%s", DOC_NSSWITCH, db, srcs,
		                on ? "" : " (the NSS cache is off: tokenseal answers nothing)");
	else
		cli_doctor_line(d, "skip", name, NULL,
		                "%s: `%s: %s` (the NSS cache is off: nothing to list)",
		                DOC_NSSWITCH, db, srcs);
}

void doc_lint_nsswitch(struct doctor *d)
{
	char line[1024], pw[512] = "", gr[512] = "";
	bool has_pw = false, has_gr = false, on = ts_config_nss_cache_on(&d->c->cfg);
	FILE *f = fopen(DOC_NSSWITCH, "re");

	if (!f) {
		cli_doctor_line(d, on ? "warn" : "skip", "nsswitch",
		                on ? "create it (nsswitch.conf(5))" : NULL, "%s: %s", DOC_NSSWITCH,
		                strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		line[strcspn(line, "#\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (!strncmp(p, "passwd:", 7) && !has_pw) {
			has_pw = true;
			copy(pw, sizeof(pw), p + 7 + strspn(p + 7, " \t"));
		} else if (!strncmp(p, "group:", 6) && !has_gr) {
			has_gr = true;
			copy(gr, sizeof(gr), p + 6 + strspn(p + 6, " \t"));
		}
	}
	fclose(f);
	lint_db(d, "passwd", has_pw ? pw : NULL, on,
	        "identity-provider users with no local account are unknown to sshd and id");
	lint_db(d, "group", has_gr ? gr : NULL, on,
	        "the users' own groups and the groups the cache publishes are unknown");
}
