#!/usr/bin/env bash
# e2e.sshd_pubkey: sshd with "AuthenticationMethods publickey": auth never
# runs, the account phase of pam_tokenseal.so asks the server on each login.
# alice (signed in with the device flow) logs in with her key; after the IdP
# revoked only her access tokens the login still succeeds and the IdP saw
# exactly one refresh; after it revoked her grant, the login is refused in
# the account phase with the sign-in-required message.
E2E_SRC=$1 E2E_DIR=$2
. "$E2E_SRC/tests/e2e/lib.sh"
e2e_preflight
e2e_enter sshd_pubkey "$@"

# revoke_on = never: with the default (last-session) closing the first ssh
# session would sign alice out, which e2e.sshd_logout covers
e2e_config private <<'CONF'
revoke_on = never
CONF
e2e_pam_service ts-e2e-sshd <<'PAM'
auth     requisite pam_deny.so
account  required pam_tokenseal.so
account  required pam_permit.so
session  optional pam_tokenseal.so
session  required pam_permit.so
PAM
e2e_sshd ts-e2e-sshd <<'CFG'
AuthenticationMethods publickey
KbdInteractiveAuthentication no
CFG
ssh-keygen -q -t ed25519 -N '' -f "$S/alice_key" >/dev/null
install -m 0644 "$S/alice_key.pub" "$S/authorized_keys/alice"

ssh_alice() {
	# shellcheck disable=SC2046
	ssh $(e2e_ssh_opts) -o BatchMode=yes -o IdentitiesOnly=yes -i "$S/alice_key" \
		-o PreferredAuthentications=publickey alice@127.0.0.1 'echo E2E-LOGIN-OK user=$(id -un)' \
		</dev/null >"$S/logs/ssh-$1.log" 2>&1
}

e2e_signin alice || exit 1
e2e_ctl reset-counters

e2e_log "1. fresh tokens: the key login succeeds, no refresh"
ssh_alice fresh; rc=$?
[ $rc = 0 ] && grep -q 'E2E-LOGIN-OK user=alice' "$S/logs/ssh-fresh.log" ||
	e2e_fail "key login with fresh tokens: exit $rc, $(cat "$S/logs/ssh-fresh.log")"
[ "$(e2e_count token:refresh_token)" = 0 ] || e2e_fail "fresh tokens were refreshed"
[ "$(e2e_count introspection)" -ge 1 ] || e2e_fail "the account phase did not ask the server (introspection 0)"

e2e_log "2. the IdP revokes alice's access tokens: one refresh, login succeeds"
e2e_ctl revoke-access-tokens alice
ssh_alice revoked; rc=$?
[ $rc = 0 ] && grep -q 'E2E-LOGIN-OK user=alice' "$S/logs/ssh-revoked.log" ||
	e2e_fail "key login after early revocation: exit $rc, $(cat "$S/logs/ssh-revoked.log")"
[ "$(e2e_count token:refresh_token)" = 1 ] ||
	e2e_fail "refreshes after early revocation: $(e2e_count token:refresh_token), want 1"

e2e_log "3. the IdP revokes alice's grant: refused in the account phase"
e2e_ctl revoke-grant alice
ssh_alice grant; rc=$?
[ $rc = 255 ] || e2e_fail "key login after the grant was revoked: exit $rc, want 255 (refused)"
grep -q 'E2E-LOGIN-OK' "$S/logs/ssh-grant.log" && e2e_fail "the command ran although the grant was revoked"
grep -q 'Access denied for user alice by PAM account configuration' "$S/logs/sshd.log" ||
	e2e_fail "sshd did not refuse alice in the PAM account phase"
grep -q 'pam_tokenseal(ts-e2e-sshd:account).*sign-in required' "$S/logs/syslog.log" ||
	e2e_fail "no sign-in-required message from pam_tokenseal's account phase in the log"
e2e_finish "publickey + account phase: early revocation healed with one refresh, a revoked grant refused"
