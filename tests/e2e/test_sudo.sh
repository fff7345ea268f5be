#!/usr/bin/env bash
# e2e.sudo: the real sudo (PAM service ts-e2e-sudo via sudoers' pam_service,
# timestamp_timeout=0, sudo -k) with auth_with_stored_token = yes in its
# section, run by alice (setpriv: real uid alice) on a pty:
#   fresh tokens            -> no prompt, the command runs
#   access tokens revoked   -> no prompt, the command runs, one refresh
#   grant revoked           -> the device sign-in text is shown despite
#                              sudo's PAM_SILENT; approving it heals: the
#                              command runs, and the next sudo needs no prompt
E2E_SRC=$1 E2E_DIR=$2
. "$E2E_SRC/tests/e2e/lib.sh"
e2e_preflight
command -v sudo >/dev/null || e2e_skip "sudo is missing"
e2e_enter sudo "$@"

e2e_config private <<'CONF'
[service ts-e2e-sudo]
auth_with_stored_token = yes
device_timeout = 60
CONF
e2e_pam_service ts-e2e-sudo <<'PAM'
auth     sufficient pam_tokenseal.so
auth     requisite pam_deny.so
account  required pam_tokenseal.so
account  required pam_permit.so
session  required pam_permit.so
PAM
# a private sudoers (root:root 0440) over /etc/sudoers
cat >"$S/etc/sudoers" <<EOF2
Defaults env_reset
Defaults timestamp_timeout=0
Defaults pam_service=ts-e2e-sudo
Defaults !lecture
Defaults passwd_tries=1
Defaults logfile=$S/logs/sudo.log
Defaults !syslog
Defaults loglinelen=0
root  ALL=(ALL:ALL) ALL
alice ALL=(ALL:ALL) ALL
EOF2
chmod 0440 "$S/etc/sudoers"
mount --bind "$S/etc/sudoers" /etc/sudoers
visudo -c -f /etc/sudoers >/dev/null || { e2e_fail "visudo refused the test sudoers"; exit 1; }

e2e_signin alice || exit 1
e2e_ctl reset-counters

# sudo_alice NAME APPROVE: alice runs "sudo -k id -un" on a pty
sudo_alice() {
	E2E_USER=alice e2e_expect_device "$S/logs/sudo-$1.log" "$2" \
		setpriv --reuid=alice --regid=alice --init-groups --reset-env -- \
		sudo -k /usr/bin/id -un
}
ran_as_root() { grep -qx $'root\r\\?' "$S/logs/sudo-$1.log" || grep -q '^root' "$S/logs/sudo-$1.log"; }
prompted() { grep -q 'E2E-CODE-SHOWN\|[Pp]assword' "$S/logs/sudo-$1.log"; }

e2e_log "1. fresh tokens: no prompt, success"
sudo_alice fresh no; rc=$?
[ $rc = 0 ] || e2e_fail "sudo with fresh tokens: exit $rc, want 0"
ran_as_root fresh || e2e_fail "sudo did not run the command as root"
prompted fresh && e2e_fail "sudo prompted although alice's tokens are fresh"
[ "$(e2e_count token:refresh_token)" = 0 ] || e2e_fail "fresh tokens were refreshed"

e2e_log "2. access tokens revoked early: success after one refresh, no prompt"
e2e_ctl revoke-access-tokens alice
sudo_alice revoked no; rc=$?
[ $rc = 0 ] || e2e_fail "sudo after early revocation: exit $rc, want 0"
prompted revoked && e2e_fail "sudo prompted after an early revocation (a refresh heals it)"
[ "$(e2e_count token:refresh_token)" = 1 ] ||
	e2e_fail "refreshes after early revocation: $(e2e_count token:refresh_token), want 1"

e2e_log "3. grant revoked: the device sign-in is shown despite PAM_SILENT; approving heals"
e2e_ctl revoke-grant alice
sudo_alice grant yes; rc=$?
grep -q 'E2E-CODE-SHOWN' "$S/logs/sudo-grant.log" ||
	e2e_fail "sudo did not show the device sign-in text (PAM_SILENT swallowed it?)"
grep -q 'E2E-APPROVED' "$S/logs/sudo-grant.log" || e2e_fail "the code was not approved"
[ $rc = 0 ] || e2e_fail "sudo after a new device sign-in: exit $rc, want 0"
ran_as_root grant || e2e_fail "sudo did not run the command after the new sign-in"

e2e_log "4. healed: the next sudo needs no prompt"
sudo_alice healed no; rc=$?
[ $rc = 0 ] || e2e_fail "sudo after healing: exit $rc, want 0"
prompted healed && e2e_fail "sudo prompted again after the new sign-in"
grep -q 'alice : .*COMMAND=/usr/bin/id -un' "$S/logs/sudo.log" ||
	e2e_fail "sudo's log has no entry for alice's command"
e2e_finish "sudo: stored token, early revocation healed by a refresh, revoked grant healed by a device sign-in shown despite PAM_SILENT"
