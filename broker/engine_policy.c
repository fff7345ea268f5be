/* SPDX-License-Identifier: MIT */
/*
 * The access policy on every use (policy.h, docs/access-control.md): from
 * the server answer that revalidated the token, from the groups stored with
 * the answer revalidate_cache reuses, and at sign-in from the id_token.
 * A refusal destroys nothing: membership is not a credential problem, so
 * the record stays as it was; it is logged with the groups seen. The NSS
 * cache still gets the groups the answer carried (a policy of one service
 * must not take the groups of the person's other sessions), none when they
 * are unknown.
 */
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"
#include "nss_update.h"
#include "policy.h"
#include "ts_error.h"
#include "ts_log.h"

const struct oauth_groups *eng_stored_groups(const struct ts_engine *e,
                                             const struct ts_record *rec)
{
	if (rec->groups.state == OAUTH_GROUPS_NOT_READ ||
	    strcmp(rec->groups_claim, e->cfg->groups_claim) != 0)
		return NULL;
	return &rec->groups;
}

bool eng_policy_cache_usable(const struct ts_engine *e, const struct ts_record *rec)
{
	return !ts_policy_needs_groups(e->cfg) || eng_stored_groups(e, rec) != NULL;
}

void eng_record_set_groups(const struct ts_engine *e, struct ts_record *rec,
                           const struct oauth_groups *g)
{
	if (!g || g->state == OAUTH_GROUPS_NOT_READ) {
		oauth_groups_reset(&rec->groups);
		rec->groups_claim[0] = '\0';
		return;
	}
	rec->groups = *g;
	snprintf(rec->groups_claim, sizeof(rec->groups_claim), "%s", e->cfg->groups_claim);
}

void eng_publish_groups(struct ts_engine *e, const struct ts_request *req,
                        const struct oauth_groups *g)
{
	const char *v[OAUTH_GROUPS_MAX];
	size_t n = 0;

	if (g && g->state == OAUTH_GROUPS_OK)
		for (const char *p = oauth_groups_next(g, NULL); p && n < OAUTH_GROUPS_MAX;
		     p = oauth_groups_next(g, p))
			v[n++] = p;
	/* the cache logs its own problems; never the use's */
	(void)ts_nss_record_groups(e->cfg, req->user, n ? v : NULL, n);
}

int eng_policy_check(struct ts_engine *e, const struct ts_request *req,
                     const struct oauth_groups *g, enum ts_state st, struct ts_outcome *out)
{
	char msg[TS_MESSAGE_MAX], logmsg[TS_MESSAGE_MAX], seen[640];

	if (ts_policy_check(e->cfg, req->user, g, msg, sizeof(msg)) == 0)
		return 0;
	/* the same sentence with the name as log lines show it, and what the
	 * server said (sanitised, bounded) */
	if (ts_policy_check(e->cfg, eng_log_user(req), g, logmsg, sizeof(logmsg)) == 0)
		snprintf(logmsg, sizeof(logmsg), "%s", msg); /* not reached: same lists */
	ts_policy_groups_text(g, seen, sizeof(seen));
	ts_log(LOG_NOTICE, "broker: access policy refuses %s (service %s): %s; groups seen: %s",
	       eng_log_user(req), req->service ? req->service : "-", logmsg, seen);
	eng_publish_groups(e, req, g);
	eng_set_msg(out, TS_E_POLICY, st, "%s", msg);
	return TS_E_POLICY;
}
