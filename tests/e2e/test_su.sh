#!/usr/bin/env bash
# e2e.su: "su alice" run by bob (real uid bob) while alice holds a valid
# record, with auth_with_stored_token = yes even in su's section: bob is
# prompted with a device sign-in (the stored token proves only that alice
# signed in earlier, not who is asking) and does not get in: not when he
# leaves it (denied at the IdP), not when he approves it as himself
# (identity mismatch). Alice's record is untouched and still valid.
# The stack is the one docs/pam.md and pam_tokenseal(8) print (the local
# password first, then tokenseal with ignore=ignore): bob also becomes root
# and carol (a local user tokenseal never signed in) with their passwords,
# and is never shown a device login for them.
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
auth     [success=done default=ignore] pam_unix.so
auth     [success=done ignore=ignore default=die] pam_tokenseal.so
auth     requisite pam_deny.so
account  required pam_tokenseal.so
account  required pam_unix.so
session  required pam_permit.so
PAM
e2e_local_passwords

e2e_signin alice || exit 1
rec=$(e2e_record alice)
before=$(sha256sum "$rec")

# su_bob NAME APPROVE LOGIN [TARGET]: bob runs "su TARGET -c 'id -un'"
# (TARGET alice by default) on a pty; the code (if shown) is denied, or
# approved at the IdP as LOGIN; a password prompt gets $E2E_ANSWER (empty
# by default: alice has no local password)
su_bob() {
	E2E_USER=$3 e2e_expect_device "$S/logs/su-$1.log" "$2" \
		setpriv --reuid=bob --regid=bob --init-groups --reset-env -- \
		su "${4:-alice}" -c 'echo E2E-SU-RAN-$((6*7)) as $(/usr/bin/id -un)'
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

# the local password users: the password decides, tokenseal steps aside
for target in root carol; do
	e2e_log "3. bob runs su $target with $target's password"
	if [ $target = root ]; then pw=$E2E_ROOT_PW; else pw=$E2E_CAROL_PW; fi
	E2E_ANSWER=$pw E2E_TIMEOUT=40 su_bob "$target" no bob "$target"; rc=$?
	[ $rc = 0 ] || e2e_fail "su $target by bob with $target's password: exit $rc, want 0 (locked out?)"
	grep -q "E2E-SU-RAN-42 as $target" "$S/logs/su-$target.log" ||
		e2e_fail "su $target did not run the command as $target"
	grep -q 'E2E-CODE-SHOWN' "$S/logs/su-$target.log" &&
		e2e_fail "$target was shown a device login (tokenseal did not step aside)"
	E2E_ANSWER=not-the-password E2E_TIMEOUT=60 su_bob "$target-wrong" deny bob "$target"; rc=$?
	[ $rc != 0 ] || e2e_fail "su $target by bob with a wrong password got in"
	grep -q 'E2E-SU-RAN-42' "$S/logs/su-$target-wrong.log" && e2e_fail "su $target with a wrong password ran the command"
done

[ "$(sha256sum "$rec")" = "$before" ] || e2e_fail "alice's record changed through bob's attempts"
pamtester ts-e2e-login alice acct_mgmt >"$S/logs/pamtester-after.log" 2>&1 ||
	e2e_fail "alice's record is no longer valid after bob's attempts"
e2e_finish "su alice by bob: prompted, never let in on alice's stored token; su root and su carol with their passwords"
