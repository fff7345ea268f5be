#!/usr/bin/env bash
# e2e.sshd_logout: after "tokenseal logout" (the CLI, as root for alice), a
# publickey ssh login of alice is refused in the account phase, not waved
# through (signed out is not "no record").
E2E_SRC=$1 E2E_DIR=$2
. "$E2E_SRC/tests/e2e/lib.sh"
e2e_preflight
command -v tokenseal >/dev/null || e2e_skip "needs the tokenseal CLI (issue 8)"
e2e_enter sshd_logout "$@"

e2e_config private </dev/null
e2e_pam_service ts-e2e-sshd <<'PAM'
auth     requisite pam_deny.so
account  required pam_tokenseal.so
account  required pam_permit.so
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
		alice@127.0.0.1 'echo E2E-LOGIN-OK' </dev/null >"$S/logs/ssh-$1.log" 2>&1
}
e2e_signin alice || exit 1
ssh_alice before || e2e_fail "key login before logout failed: $(cat "$S/logs/ssh-before.log")"
tokenseal logout --user alice >"$S/logs/cli-logout.log" 2>&1 ||
	e2e_fail "tokenseal logout --user alice: exit $?, $(cat "$S/logs/cli-logout.log")"
ssh_alice after; rc=$?
[ $rc = 255 ] || e2e_fail "key login after logout: exit $rc, want 255 (refused)"
grep -q 'Access denied for user alice by PAM account configuration' "$S/logs/sshd.log" ||
	e2e_fail "sshd did not refuse alice in the PAM account phase after logout"
e2e_finish "after tokenseal logout a key login is refused in the account phase"
