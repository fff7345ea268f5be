/* SPDX-License-Identifier: MIT */
/*
 * The engine's record load/store: sealed records read and written under
 * the user's keystore lock, compare-and-swap on the generation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"
#include "ts_error.h"
#include "ts_log.h"
#include "ts_mem.h"
#include "ts_time.h"

void eng_ks_id(const struct ts_engine *e, const struct ts_request *req, struct ks_identity *id)
{
	id->uid = req->uid;
	id->user = req->user;
	id->issuer = e->cfg->issuer;
	id->client_id = e->cfg->client_id;
}

/* Read and parse the stored record. TS_E_NO_RECORD when none. l: the
 * user's lock when held (a corrupt record is then quarantined), else NULL. */
int eng_load(struct ts_engine *e, const struct ts_request *req, struct ks_lock *l,
             struct ts_record *ret, uint64_t *ret_gen)
{
	struct ks_identity id;
	struct ks_blob *b = NULL;
	int r;

	eng_ks_id(e, req, &id);
	r = l ? ks_read_locked(e->ks, l, &id, &b) : ks_read(e->ks, &id, &b);
	if (r < 0)
		return r;
	r = ts_record_from_json(ret, b->payload, b->len);
	if (r >= 0)
		*ret_gen = b->generation;
	ks_blob_free(b);
	return r;
}

/*
 * A read without the lock can race a writer: the new generation is already
 * recorded while this reader still holds the previous file, which the
 * keystore refuses as a rollback. Read again under the lock, where no writer
 * runs, before believing it.
 */
int eng_load_unlocked(struct ts_engine *e, const struct ts_request *req, struct ts_record *ret,
                         uint64_t *ret_gen)
{
	struct ks_lock *l = NULL;
	int r;

	r = eng_load(e, req, NULL, ret, ret_gen);
	if (r != TS_E_ROLLBACK)
		return r;
	r = ks_lock(e->ks, req->uid, &l);
	if (r < 0)
		return r;
	r = eng_load(e, req, l, ret, ret_gen);
	ks_unlock(l);
	return r;
}

int eng_store(struct ts_engine *e, const struct ts_request *req, struct ks_lock *l,
                 const struct ts_record *rec, uint64_t expected, uint64_t *ret_gen)
{
	struct ks_identity id;
	char *json = NULL;
	size_t len = 0;
	uint64_t g = 0;
	int r;

	eng_ks_id(e, req, &id);
	r = ts_record_to_json(rec, &json, &len);
	if (r < 0)
		return r;
	r = ks_write(e->ks, l, &id, json, len, expected, &g);
	ts_erase_free(json, len);
	if (r >= 0 && ret_gen)
		*ret_gen = g;
	return r;
}

/* Mark the record needs-login (under the held lock); keeps it in place. */
int eng_mark_needs_login(struct ts_engine *e, const struct ts_request *req, struct ks_lock *l,
                            struct ts_record *cur, uint64_t gen, const char *reason)
{
	int r;

	cur->state = TS_REC_NEEDS_LOGIN;
	snprintf(cur->reason, sizeof(cur->reason), "%s", reason);
	cur->last_error = TS_E_NEEDS_LOGIN;
	cur->last_error_at = eng_server_now(e, cur->skew);
	ts_secret_hash_hex(cur->needs_login_rt_hash, cur->refresh_token ? cur->refresh_token : "");
	r = eng_store(e, req, l, cur, gen, NULL);
	/* a needs-login record publishes no groups */
	eng_publish_groups(e, req, NULL);
	return r;
}

void eng_record_fill_tokens(struct ts_engine *e, struct ts_record *rec, struct oauth_tokens *t,
                            struct ts_outcome *out)
{
	int64_t skew = eng_current_skew(e, rec->skew);

	if (t->warnings[0])
		snprintf(out->answer_warnings, sizeof(out->answer_warnings), "%s", t->warnings);
	ts_erase_free_str(rec->access_token);
	rec->access_token = TS_TAKE_PTR(t->access_token);
	if (t->refresh_token) {
		ts_erase_free_str(rec->refresh_token);
		rec->refresh_token = TS_TAKE_PTR(t->refresh_token);
	}
	if (t->id.present)
		rec->id = t->id;
	rec->skew = skew;
	rec->obtained_at =
	    t->server_date > 0 ? (int64_t)t->server_date : (int64_t)t->obtained_local + skew;
	rec->expires_in = t->expires_in > 0 ? t->expires_in : OAUTH_DEFAULT_EXPIRES_IN;
	rec->state = TS_REC_VALID;
	rec->reason[0] = '\0';
	rec->needs_login_rt_hash[0] = '\0';
}

int eng_store_login(struct ts_engine *e, const struct ts_request *req, struct ts_record *rec)
{
	struct ks_lock *l = NULL;
	int r;

	r = ks_lock(e->ks, req->uid, &l);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < TS_CAS_RETRIES; i++) {
		struct ts_record cur = {0};
		uint64_t gen = 0;

		r = eng_load(e, req, l, &cur, &gen);
		if (r == TS_E_ROLLBACK) {
			/* Read under the lock, so genuine: an older copy put
			 * back, or a logout interrupted by a crash. The user
			 * has just signed in afresh; that record goes to the
			 * quarantine folder and this login replaces it. */
			struct ks_identity id;

			eng_ks_id(e, req, &id);
			r = ks_quarantine_rollback(e->ks, l, &id);
			if (r < 0 && r != TS_E_NO_RECORD && r != -EAGAIN)
				break;
			ts_log(LOG_WARNING,
			       "broker: %s: the stored record was older than the keystore's "
			       "counter (a restored copy, or an interrupted logout); moved to "
			       "quarantine, replaced by this login",
			       eng_log_user(req));
			r = TS_E_CONFLICT; /* what is left if no retry remains */
			continue;
		}
		if (r == TS_E_MISMATCH) {
			/* a record of another issuer/client (or user name): the
			 * person has just signed in here afresh, so this login
			 * replaces it (configuration alone never does) */
			struct ks_header_info h;

			r = ks_read_header(e->ks, req->uid, &h);
			if (r < 0)
				break;
			gen = h.generation;
			ts_log(LOG_NOTICE,
			       "broker: %s: a sign-in at %s replaces the record made at %s",
			       eng_log_user(req), e->cfg->issuer, h.issuer);
		} else if (r == TS_E_NO_RECORD || r == TS_E_QUARANTINED || r == -ENOENT)
			gen = 0;
		else if (r < 0)
			break;
		else
			rec->sessions = cur.sessions;
		ts_record_clear(&cur);
		r = eng_store(e, req, l, rec, gen, NULL);
		if (r != TS_E_CONFLICT)
			break;
	}
	ks_unlock(l);
	return r;
}

