#!/usr/bin/env bash
# e2e.su: "su alice" run by bob (real uid bob) while alice holds a valid
# record, with auth_with_stored_token = yes even in su's section: bob is
# prompted with a device sign-in (the stored token proves only that alice
# signed in earlier, not who is asking) and does not get in: not when he
# leaves it (denied at the IdP), not when he approves it as himself
# (identity mismatch). Alice's record is untouched and still valid.
E2E_SRC=$1 E2E_DIR=$2
. "$E2E_SRC/tests/e2e/lib.sh"
e2e_preflight
e2e_enter su "$@"

e2e_config private <<'CONF'
[service su]
auth_with_stored_token = yes
device_timeout = 30
CONF
e2e_pam_service su <<'PAM'
auth     sufficient pam_rootok.so
auth     [success=done authinfo_unavail=ignore default=die] pam_tokenseal.so
auth     requisite pam_deny.so
account  required pam_tokenseal.so
account  required pam_permit.so
session  required pam_permit.so
PAM

e2e_signin alice || exit 1
rec=$(e2e_record alice)
before=$(sha256sum "$rec")

# su_bob NAME APPROVE LOGIN: bob runs "su alice -c 'id -un'" on a pty; the
# code (if shown) is denied, or approved at the IdP as LOGIN
su_bob() {
	E2E_USER=$3 e2e_expect_device "$S/logs/su-$1.log" "$2" \
		setpriv --reuid=bob --regid=bob --init-groups --reset-env -- \
		su alice -c 'echo E2E-SU-RAN-$((6*7)) as $(/usr/bin/id -un)'
}

e2e_log "1. bob runs su alice and denies the sign-in"
su_bob deny deny bob; rc=$?
grep -q 'E2E-CODE-SHOWN' "$S/logs/su-deny.log" || e2e_fail "bob was not prompted with a sign-in (stored token used?)"
[ $rc = 1 ] || e2e_fail "su by bob (denied): exit $rc, want 1"
grep -q 'E2E-SU-RAN-42' "$S/logs/su-deny.log" && e2e_fail "bob got in as alice"
# access_denied -> PAM_MAXTRIES (docs/pam.md)
grep -q 'the sign-in was denied at' "$S/logs/su-deny.log" || e2e_fail "bob was not told the sign-in was denied"
grep -q 'su: Have exhausted maximum number of retries' "$S/logs/su-deny.log" ||
	e2e_fail "su did not fail with PAM_MAXTRIES"

e2e_log "2. bob approves the sign-in as himself: identity mismatch, refused"
su_bob mismatch yes bob; rc=$?
grep -q 'E2E-CODE-SHOWN' "$S/logs/su-mismatch.log" || e2e_fail "bob was not prompted with a sign-in"
[ $rc = 1 ] || e2e_fail "su by bob (approved as bob): exit $rc, want 1"
grep -q 'E2E-SU-RAN-42' "$S/logs/su-mismatch.log" && e2e_fail "bob got in as alice with his own sign-in"
grep -q 'identity mismatch: the server signed in "bob", but this login is for "alice"' "$S/logs/su-mismatch.log" ||
	e2e_fail "bob was not told of the identity mismatch"
grep -q 'su: Authentication failure' "$S/logs/su-mismatch.log" || e2e_fail "su did not say Authentication failure"
grep -q 'identity mismatch' "$S/logs/syslog.log" || e2e_fail "no identity-mismatch line in the broker log"

[ "$(sha256sum "$rec")" = "$before" ] || e2e_fail "alice's record changed through bob's attempts"
pamtester ts-e2e-login alice acct_mgmt >"$S/logs/pamtester-after.log" 2>&1 ||
	e2e_fail "alice's record is no longer valid after bob's attempts"
e2e_finish "su alice by bob: prompted, never let in on alice's stored token"
