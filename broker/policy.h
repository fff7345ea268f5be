/* SPDX-License-Identifier: MIT */
/*
 * The access policy (docs/access-control.md, DESIGN.md §4): who may use
 * this host, from allow_users, allow_groups and deny_groups (a [service
 * NAME] list replaces the top level's) and the groups the server's answer
 * carries. Pure: no I/O, no logging; the engine (engine_policy.c) applies
 * it on every use.
 *
 *  - deny_groups wins: a user in one of them is refused whatever the allow
 *    lists say;
 *  - empty allow_users and allow_groups: everyone the server vouches for;
 *  - otherwise the user must be in allow_users or in one of allow_groups;
 *  - groups unknown (the claim absent, an overage marker, the wrong type,
 *    over the bounds) is never "no groups": a policy that needs groups
 *    (allow_groups or deny_groups set) refuses. A policy with only
 *    allow_users needs no groups.
 * Values are matched exactly, as strings (case-sensitive).
 */
#ifndef TS_POLICY_H
#define TS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "oauth.h"
#include "ts_config.h"
#include "ts_macros.h"

/* Does the policy read groups (allow_groups or deny_groups set)? */
bool ts_policy_needs_groups(const struct ts_config *cfg) TS_NONNULL(1);

/* Is any part of the policy set? */
bool ts_policy_set(const struct ts_config *cfg) TS_NONNULL(1);

/* Is value an item of the comma list (items trimmed of blanks)? */
bool ts_policy_list_has(const char *list, const char *value) TS_NONNULL(1, 2);

/* Check user with groups g (g may be NULL when the answer carried none to
 * read: "unknown"). 0 when allowed; TS_E_POLICY with a sentence for the
 * user and the log in msg ("alice is not in any group allowed to log in to
 * this host (allow_groups = linux-users, admins)", "alice is in a denied
 * group (deny_groups = contractors: contractors)", "alice's groups are
 * unknown: ..."). */
int ts_policy_check(const struct ts_config *cfg, const char *user, const struct oauth_groups *g,
                    char *msg, size_t msglen) TS_WUR TS_NONNULL(1, 2, 4);

/* The groups seen, for a log line: "[a, b, c] (+12 more)", "none",
 * "unknown (absent)"; sanitised (printable ASCII) and cut to len. */
void ts_policy_groups_text(const struct oauth_groups *g, char *out, size_t len) TS_NONNULL(2);

#endif
