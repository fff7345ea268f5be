/* SPDX-License-Identifier: MIT */
/*
 * The lost-answer case of a refresh (issue 18): with rotating refresh
 * tokens, a refresh whose answer never reached the record (the broker killed
 * after the server rotated, an answer cut off after the request was sent)
 * leaves a superseded refresh token stored; the server refuses it at the
 * next refresh, and that refusal is reported as what it is. The marker is
 * the keystore's state/<uid>.pending (ks_pending_*), set before every
 * refresh request, cleared when the request never went out (connection
 * refused or timed out), the server answered with an error status (it
 * refused: nothing rotated) or the refreshed record is stored. A 2xx cut
 * off or unreadable, a reset or a timeout after sending leave it. Best
 * effort: a marker that cannot be written changes only a message.
 */
#include "engine_internal.h"
#include "ks.h"
#include "ts_log.h"

bool eng_lost_begin(struct ts_engine *e, const struct ts_request *req)
{
	bool earlier = ks_pending_get(e->ks, req->uid);

	if (earlier)
		ts_log_debug("broker: %s: the outcome of an earlier refresh is unknown (its answer "
		             "was not stored)",
		             eng_log_user(req));
	(void)ks_pending_set(e->ks, req->uid);
	return earlier;
}

void eng_lost_end(struct ts_engine *e, const struct ts_request *req, bool known)
{
	if (known)
		(void)ks_pending_clear(e->ks, req->uid);
}

const char *eng_lost_reason(bool earlier)
{
	return earlier ? "the server refused the refresh token (invalid_grant): the answer to an "
	                 "earlier refresh was lost"
	               : "the server refused the refresh token (invalid_grant)";
}
