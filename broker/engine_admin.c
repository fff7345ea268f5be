/* SPDX-License-Identifier: MIT */
/*
 * Administration requests that are not a use of one user's tokens:
 * KEYSTORE (init, verify, rotate-key, forget; root only) and DOCTOR (the
 * server and keystore checks of `tokenseal doctor`).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <jansson.h>

#include "discovery_cache.h"
#include "ks.h"
#include "lifecycle.h"
#include "nss_update.h"
#include "policy.h"
#include "ts_error.h"
#include "ts_file.h"
#include "ts_log.h"
#include "ts_mem.h"

static int set_msg(struct ts_outcome *o, int code, const char *fmt, ...) TS_PRINTF(3, 4);

static int set_msg(struct ts_outcome *o, int code, const char *fmt, ...)
{
	va_list ap;

	o->code = code;
	va_start(ap, fmt);
	vsnprintf(o->message, sizeof(o->message), fmt, ap);
	va_end(ap);
	return code;
}

static void ks_opts(const struct ts_config *cfg, struct ks_open_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->lock_timeout_ms = (cfg->http_timeout * 3 + 5) * 1000;
}

static int open_ks(const struct ts_config *cfg, struct ks **ret, struct ts_outcome *out)
{
	struct ks_open_opts o;
	int r;

	ks_opts(cfg, &o);
	r = ks_open(ret, cfg->keystore_dir, cfg->key_file, &o);
	if (r == -ENOENT)
		return set_msg(out, TS_E_NO_KEY,
		               "the keystore %.200s is not initialised; run `tokenseal keystore "
		               "init`",
		               cfg->keystore_dir);
	if (r == TS_E_NO_KEY)
		return set_msg(out, r,
		               "the keystore key %.200s is missing or unreadable; nothing was "
		               "changed; restore it from a backup",
		               cfg->key_file);
	if (r < 0)
		return set_msg(out, r, "cannot open the keystore %.200s: %s", cfg->keystore_dir,
		               ts_strerror(r));
	return 0;
}

static int ks_init_op(const struct ts_config *cfg, struct ts_outcome *out)
{
	struct ks_open_opts o;
	struct stat st;
	bool had_key = lstat(cfg->key_file, &st) == 0;
	int r;

	ks_opts(cfg, &o);
	r = ks_init(cfg->keystore_dir, cfg->key_file, &o);
	if (r == TS_E_NO_KEY)
		return set_msg(out, r,
		               "records exist in %.200s but the key %.200s is missing: no new key "
		               "was created (it would make every record unreadable); restore the "
		               "key file from a backup",
		               cfg->keystore_dir, cfg->key_file);
	if (r < 0)
		return set_msg(out, r, "cannot initialise the keystore %.200s: %s",
		               cfg->keystore_dir, ts_strerror(r));
	/* the NSS cache carries nss_resolve_unknown: write it before any
	 * sign-in (a failure is a logged warning, never init's) */
	(void)ts_nss_prepare(cfg);
	if (had_key)
		return set_msg(out, 0, "key already present in %.200s; nothing was changed",
		               cfg->key_file);
	return set_msg(out, 0, "created the keystore %.200s and a new key in %.200s",
	               cfg->keystore_dir, cfg->key_file);
}

/* The leftovers beside path (ts_sweep_temp_beside): added to *n. A folder
 * that cannot be opened or written (the daemon sees /etc/tokenseal
 * read-only) is skipped: `keystore verify` sweeps it. */
static void sweep_beside(const char *path, unsigned *n)
{
	unsigned k = 0;

	if (ts_sweep_temp_beside(path, TS_LEFTOVER_MIN_AGE, &k) < 0)
		ts_log_debug("broker: the folder of %s not swept", path);
	*n += k;
}

/* The sweep of ts_sweep_leftovers in an open keystore: its records and
 * generations, and beside the discovery cache, the NSS user cache and the
 * key file, by their own names only (/etc/tokenseal and an administrator's
 * nss_cache folder hold other files). */
static unsigned sweep_open(const struct ts_config *cfg, struct ks *ks)
{
	char discovery[TS_PATH_MAX + 32];
	unsigned n = 0;

	if (ks_sweep_temp(ks, TS_LEFTOVER_MIN_AGE, &n) < 0)
		ts_log_debug("broker: the keystore's folders could not all be swept");
	if (ts_discovery_cache_path(cfg, discovery, sizeof(discovery)) == 0)
		sweep_beside(discovery, &n);
	if (ts_config_nss_cache_on(cfg))
		sweep_beside(cfg->nss_cache, &n);
	sweep_beside(cfg->key_file, &n);
	if (n)
		ts_log(LOG_INFO,
		       "removed %u temporary file(s) of writes cut short (older than %d s) from "
		       "%.200s, the NSS cache's and the key file's folders",
		       n, TS_LEFTOVER_MIN_AGE, cfg->keystore_dir);
	return n;
}

unsigned ts_sweep_leftovers(const struct ts_config *cfg)
{
	struct ks_open_opts o;
	struct ks *ks = NULL;
	unsigned n;

	ks_opts(cfg, &o);
	if (ks_open(&ks, cfg->keystore_dir, cfg->key_file, &o) < 0)
		return 0;
	n = sweep_open(cfg, ks);
	ks_close(ks);
	return n;
}

static int ks_verify_op(const struct ts_config *cfg, struct ts_outcome *out)
{
	struct ks *ks = NULL;
	unsigned ok = 0, bad = 0, swept;
	char also[160] = "";
	int r;

	r = open_ks(cfg, &ks, out);
	if (r < 0)
		return r;
	r = ks_verify_all(ks, &ok, &bad);
	swept = r < 0 ? 0 : sweep_open(cfg, ks);
	ks_close(ks);
	if (r < 0)
		return set_msg(out, r, "cannot verify the keystore %.200s: %s", cfg->keystore_dir,
		               ts_strerror(r));
	if (swept)
		snprintf(also, sizeof(also),
		         "; removed %u temporary file(s) left by writes cut short", swept);
	if (bad)
		return set_msg(out, TS_E_CORRUPT,
		               "%u records open, %u do not (the broker quarantines them at their "
		               "next use; those users sign in again)%s",
		               ok, bad, also);
	return set_msg(out, 0, "%u records open, none damaged%s", ok, also);
}

static int ks_rotate_op(const struct ts_config *cfg, struct ts_outcome *out)
{
	struct ks *ks = NULL;
	uint32_t id = 0;
	unsigned n = 0;
	int r;

	r = open_ks(cfg, &ks, out);
	if (r < 0)
		return r;
	r = ks_rotate_key(ks, &id, &n);
	ks_close(ks);
	if (r < 0)
		return set_msg(out, r,
		               "key rotation failed: %s; records sealed under the old key "
		               "still open; run it again",
		               ts_strerror(r));
	return set_msg(out, 0, "new key id %u; %u records re-sealed", (unsigned)id, n);
}

/*
 * forget USER: the subject pinned to a local account (DESIGN §5) lives in
 * its signed-out or needs-login record; deleting that record releases it.
 * A signed-in record is refused: `tokenseal logout --user USER` first.
 */
static int ks_forget_op(const struct ts_config *cfg, const struct ts_request *req,
                        struct ts_outcome *out)
{
	struct ks_identity id = {req->uid, req->user, cfg->issuer, cfg->client_id};
	struct ks *ks = NULL;
	struct ks_lock *l = NULL;
	struct ks_blob *b = NULL;
	struct ts_record rec = {0};
	int r;

	r = open_ks(cfg, &ks, out);
	if (r < 0)
		return r;
	r = ks_lock(ks, req->uid, &l);
	if (r < 0) {
		set_msg(out, r, "keystore problem: %s", ts_strerror(r));
		goto out;
	}
	r = ks_read_locked(ks, l, &id, &b);
	if (r == TS_E_NO_RECORD || r == -ENOENT) {
		(void)ts_nss_forget(cfg, req->user);
		set_msg(out, 0, "%s has no record; nothing is pinned", req->user);
		r = 0;
		goto out;
	}
	if (r >= 0) {
		r = ts_record_from_json(&rec, b->payload, b->len);
		if (r >= 0 && rec.state == TS_REC_VALID) {
			set_msg(out, -EBUSY,
			        "%s is signed in; run `tokenseal logout --user %s` first, then "
			        "forget",
			        req->user, req->user);
			r = -EBUSY;
			goto out;
		}
	}
	/* signed out, needs-login, or unreadable (mismatch, corrupt,
	 * rollback): the record goes, and with it the pinned subject */
	r = ks_delete(ks, l, &id, 0);
	if (r < 0 && r != TS_E_NO_RECORD && r != -ENOENT) {
		set_msg(out, r, "could not delete the record of %s: %s", req->user, ts_strerror(r));
		goto out;
	}
	/* the NSS uid becomes a tombstone: never handed to someone else */
	(void)ts_nss_forget(cfg, req->user);
	r = set_msg(out, 0,
	            "released %s: the next sign-in may be made by any identity the server "
	            "vouches for as %s",
	            req->user, req->user);
out:
	ts_record_clear(&rec);
	ks_blob_free(b);
	ks_unlock(l);
	ks_close(ks);
	return r;
}

int ts_admin_keystore(const struct ts_config *cfg, const struct ts_request *req,
                      struct ts_outcome *out)
{
	const char *op = req->method ? req->method : "";

	out->state = TS_STATE_NONE;
	if (strcmp(op, "init") == 0)
		return ks_init_op(cfg, out);
	if (strcmp(op, "verify") == 0)
		return ks_verify_op(cfg, out);
	if (strcmp(op, "rotate-key") == 0)
		return ks_rotate_op(cfg, out);
	if (strcmp(op, "forget") == 0)
		return ks_forget_op(cfg, req, out);
	return set_msg(out, TS_E_IPC, "unknown keystore operation");
}

/* ---- doctor ------------------------------------------------------------ */

static void check(json_t *a, const char *name, const char *level, const char *fix, const char *fmt,
                  ...) TS_PRINTF(5, 6);

static void check(json_t *a, const char *name, const char *level, const char *fix, const char *fmt,
                  ...)
{
	char detail[768];
	json_t *o = json_object();
	va_list ap;

	if (!o)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "level", json_string(level));
	json_object_set_new(o, "detail", json_string(detail));
	json_object_set_new(o, "fix", json_string(fix ? fix : ""));
	json_array_append_new(a, o);
}

#define TS_FS_NFS 0x6969
#define TS_FS_FUSE 0x65735546
#define TS_FS_SMB 0x517B
#define TS_FS_CIFS 0xFF534D42
#define TS_FS_SMB2 0xFE534D42
#define TS_FS_9P 0x01021997
#define TS_FS_CEPH 0x00c36400

/* The discovery document itself, as a check named "discovery-document"
 * whose "document" member `tokenseal doctor` reads the capabilities from
 * (it prints no line for it). */
static void doctor_discovery(const struct oauth_client *oc, json_t *a)
{
	size_t len = 0;
	const char *doc = oauth_fetched_discovery(oc, &len);
	json_t *d = doc ? json_loadb(doc, len, 0, NULL) : NULL;
	json_t *o;

	if (!json_is_object(d)) {
		json_decref(d);
		return;
	}
	o = json_object();
	if (!o) {
		json_decref(d);
		return;
	}
	json_object_set_new(o, "name", json_string("discovery-document"));
	json_object_set_new(o, "level", json_string("data"));
	json_object_set_new(o, "document", d);
	json_array_append_new(a, o);
}

/* One live check where it is safe: revoke a token the server never issued
 * (32 random bytes). RFC 7009 §2.2 answers that with 200 once the client
 * has authenticated, and it changes nothing at the server; so this says
 * whether the server accepts this client's id, secret and method. */
static void doctor_client_auth(struct oauth_client *oc, json_t *a)
{
	unsigned char rnd[32];
	char tok[sizeof(rnd) * 2 + 1];
	struct oauth_error err = {0};
	int r;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(tok + 2 * i, 3, "%02x", rnd[i]);
	r = oauth_revoke(oc, tok, "refresh_token", &err);
	if (r == 0)
		check(a, "client-auth-live", "ok", NULL,
		      "the server accepted this client's authentication (the revocation of a "
		      "token it never issued)");
	else if (r == -EOPNOTSUPP)
		check(a, "client-auth-live", "skip", NULL,
		      "not tried: the server has no revocation endpoint to try it on");
	else if (r == TS_E_SERVER_CONFIG)
		check(a, "client-auth-live", "fail",
		      "check client_id, the secret in client_secret_file and client_auth against "
		      "the client's registration at the server",
		      "the server refused this client's authentication: %s",
		      err.message[0] ? err.message : ts_strerror(r));
	else
		check(a, "client-auth-live", "warn", "run doctor again; see the message",
		      "not confirmed: the revocation endpoint answered: %s",
		      err.message[0] ? err.message : ts_strerror(r));
}

static void doctor_server(const struct ts_config *cfg, json_t *a)
{
	struct oauth_client *oc = NULL;
	struct oauth_error err = {0};
	long skew = 0;
	int r;

	r = oauth_client_new(&oc, cfg, &err);
	if (r >= 0)
		r = oauth_discover(oc, &err);
	if (r == TS_E_UNAVAILABLE) {
		check(a, "discovery", "fail", "check the network and that the server runs",
		      "%s is unreachable: %s", cfg->issuer,
		      err.message[0] ? err.message : ts_strerror(r));
		/* `tokenseal doctor` exits 3 for this one */
		json_object_set_new(json_array_get(a, json_array_size(a) - 1), "unreachable",
		                    json_true());
		check(a, "tls", "warn", "run doctor again once the server answers",
		      "not checked: no answer from the server");
	} else if (r < 0) {
		check(a, "discovery", "fail",
		      "check issuer (exact, with or without the trailing slash the server uses) "
		      "and ca_file in the configuration",
		      "%s", err.message[0] ? err.message : ts_strerror(r));
		check(a, "tls", "warn", "see discovery", "not confirmed (discovery failed)");
	} else {
		check(a, "discovery", "ok", NULL, "%s answers discovery with the same issuer",
		      cfg->issuer);
		if (strncmp(cfg->issuer, "https://", 8) != 0)
			check(a, "tls", "warn",
			      "use the server's https:// issuer; plain http is for a server on "
			      "this host only",
			      "%s is plain http, not TLS: allowed only because "
			      "allow_loopback_http = yes and the server is on this host",
			      cfg->issuer);
		else if (cfg->ca_file[0])
			check(a, "tls", "ok", NULL, "the server's certificate is trusted (%s)",
			      cfg->ca_file);
		else
			check(a, "tls", "ok", NULL,
			      "the server's certificate is trusted (system trust store: %s)",
			      oauth_system_capath() ? oauth_system_capath()
			                            : "libcurl's built-in default");
		doctor_discovery(oc, a);
		doctor_client_auth(oc, a);
	}
	if (oc && oauth_clock_skew_known(oc, &skew)) {
		if (skew > TS_SKEW_WARN_SECONDS || skew < -TS_SKEW_WARN_SECONDS)
			check(a, "clock", "warn",
			      "synchronise this host's clock (systemd-timesyncd, chrony)",
			      "this host's clock is %ld s off from the server's; expiry follows "
			      "the server's time",
			      -skew);
		else
			check(a, "clock", "ok", NULL, "within %ld s of the server's clock",
			      skew < 0 ? -skew : skew);
	} else {
		check(a, "clock", "warn", "run doctor again once the server answers",
		      "not measured: no Date header from the server");
	}
	oauth_client_free(oc);
}

static void doctor_disk(const struct ts_config *cfg, json_t *a)
{
	struct statfs fs;
	struct stat st;

	if (stat(cfg->keystore_dir, &st) < 0) {
		check(a, "keystore-folder", "warn", "run `tokenseal keystore init` as root",
		      "%s does not exist yet", cfg->keystore_dir);
		return;
	}
	if (statfs(cfg->keystore_dir, &fs) == 0) {
		unsigned long t = (unsigned long)fs.f_type;

		if (t == TS_FS_NFS || t == TS_FS_FUSE || t == TS_FS_SMB || t == TS_FS_CIFS ||
		    t == TS_FS_SMB2 || t == TS_FS_9P || t == TS_FS_CEPH)
			check(a, "keystore-disk", "fail",
			      "put keystore_dir on a local disk (e.g. /var/lib/tokenseal)",
			      "%s is on a network or FUSE file system (type 0x%lx): locks and "
			      "atomic renames are not reliable there",
			      cfg->keystore_dir, t);
		else
			check(a, "keystore-disk", "ok", NULL, "%s is on a local file system",
			      cfg->keystore_dir);
	}
	if (st.st_uid != 0 || (st.st_mode & 077) != 0 || !S_ISDIR(st.st_mode))
		check(a, "keystore-permissions", "fail",
		      "chown root:root and chmod 0700 the keystore folder",
		      "%s is owned by uid %u with mode %04o (must be root, 0700)",
		      cfg->keystore_dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	else
		check(a, "keystore-permissions", "ok", NULL, "%s is root's, mode %04o",
		      cfg->keystore_dir, (unsigned)(st.st_mode & 07777));
}

static bool uid_of_name(const char *name, uid_t *ret)
{
	char *end = NULL;
	unsigned long v;

	if (name[0] < '0' || name[0] > '9')
		return false;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (errno || !end || strcmp(end, ".seal") != 0 || v > UINT_MAX - 1)
		return false;
	*ret = (uid_t)v;
	return true;
}

/* Records whose header names another issuer or client than the config. */
static void doctor_records(const struct ts_config *cfg, struct ks *ks, const struct ts_request *req,
                           bool root, json_t *a)
{
	char path[TS_PATH_MAX + 16], list[256] = "";
	unsigned n = 0, bad = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/users", cfg->keystore_dir);
	d = opendir(path);
	if (!d) {
		check(a, "records", "ok", NULL, "no records yet");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct ks_header_info h;
		uid_t uid;

		if (!uid_of_name(de->d_name, &uid) || (!root && uid != req->uid))
			continue;
		n++;
		if (ks_read_header(ks, uid, &h) < 0) {
			bad++;
			continue;
		}
		if (strcmp(h.issuer, cfg->issuer) != 0 ||
		    strcmp(h.client_id, cfg->client_id) != 0) {
			size_t l = strlen(list);

			bad++;
			if (l + 16 < sizeof(list))
				snprintf(list + l, sizeof(list) - l, "%s%u", l ? " " : "",
				         (unsigned)uid);
		}
	}
	closedir(d);
	if (bad)
		check(a, "records", "warn",
		      "fix issuer or client_id in the configuration, or let those users sign in "
		      "again (the new sign-in replaces the record)",
		      "%u of %u records were made for another issuer or client, or do not "
		      "parse (uids %s)",
		      bad, n, list[0] ? list : "-");
	else
		check(a, "records", "ok", NULL, "%u records match the configuration", n);
}

/* The asking user's NSS cache entry (what sshd and `id` see). */
static void doctor_nss(const struct ts_config *cfg, const struct ts_request *req, json_t *a)
{
	struct ts_nss_user u = {0};
	char text[160];
	int r = ts_nss_describe(cfg, req->user, &u);

	if (r < 0) {
		check(a, "nss-cache", "warn",
		      "the next sign-in rebuilds it; check the broker's log for why",
		      "%s cannot be read: %s", cfg->nss_cache, ts_strerror(r));
		return;
	}
	ts_nss_user_text(&u, text, sizeof(text));
	check(a, "nss-cache", "ok", NULL, "%s: %s", req->user, text);
}

/* The access policy (docs/access-control.md) of the top level. */
static void doctor_policy(const struct ts_config *cfg, json_t *a)
{
	if (ts_policy_needs_groups(cfg) &&
	    (!cfg->groups_claim[0] || oauth_claim_path_check(cfg->groups_claim) < 0)) {
		check(a, "access-policy", "fail",
		      "set groups_claim to a claim name or dotted path (realm_access.roles)",
		      "allow_groups or deny_groups is set but groups_claim '%.200s' is not a claim "
		      "name or dotted path: every user is refused",
		      cfg->groups_claim);
		return;
	}
	if (!ts_policy_set(cfg) && cfg->nss_resolve_unknown[0]) {
		check(a, "access-policy", "warn",
		      "set allow_groups (or allow_users) to who may log in; see "
		      "docs/access-control.md",
		      "allow_users and allow_groups are empty while nss_resolve_unknown is set: "
		      "anyone the identity provider vouches for whose name matches it can log in");
		return;
	}
	if (!ts_policy_set(cfg)) {
		check(a, "access-policy", "ok", NULL,
		      "no allow or deny lists at the top level: everyone the identity provider "
		      "vouches for may log in ([service] sections may differ)");
		return;
	}
	check(a, "access-policy", "ok", NULL,
	      "allow_users, allow_groups or deny_groups set at the top level (groups from "
	      "'%.200s'; [service] sections may differ)",
	      cfg->groups_claim);
}

int ts_admin_doctor(const struct ts_config *cfg, const struct ts_request *req, bool root,
                    struct ts_outcome *out)
{
	json_t *o = json_object(), *a = json_array();
	struct ks *ks = NULL;
	struct ks_open_opts ko;
	int r;

	if (!o || !a) {
		json_decref(o);
		json_decref(a);
		return set_msg(out, -ENOMEM, "out of memory");
	}
	doctor_server(cfg, a);
	doctor_disk(cfg, a);
	doctor_policy(cfg, a);
	ks_opts(cfg, &ko);
	r = ks_open(&ks, cfg->keystore_dir, cfg->key_file, &ko);
	if (r == 0) {
		check(a, "keystore-key", "ok", NULL, "key %s loaded (key id %u)", cfg->key_file,
		      (unsigned)ks_current_key_id(ks));
		doctor_records(cfg, ks, req, root, a);
		doctor_nss(cfg, req, a);
	} else if (r == -ENOENT) {
		check(a, "keystore-key", "warn", "run `tokenseal keystore init` as root",
		      "the keystore is not initialised yet");
	} else {
		check(a, "keystore-key", "fail",
		      "restore the key file from a backup (root:root 0600); never create a new "
		      "one while records exist",
		      "the key %s cannot be used: %s", cfg->key_file, ts_strerror(r));
	}
	ks_close(ks);
	json_object_set_new(o, "checks", a);
	out->status_json = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	out->state = TS_STATE_NONE;
	if (!out->status_json)
		return set_msg(out, -ENOMEM, "out of memory");
	return set_msg(out, 0, "checks done");
}
