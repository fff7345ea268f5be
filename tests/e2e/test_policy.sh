#!/usr/bin/env bash
# e2e.policy: the access policy per PAM service through the real sshd
# (publickey: only the account phase runs) and the real sudo (NOPASSWD: only
# the account phase runs), both with "account required pam_tokenseal.so":
#   [service ts-e2e-sshd] allow_groups = linux-users
#   [service ts-e2e-sudo] allow_groups = linux-admins
# alice signs in once (service ts-e2e-login: no policy), in linux-users only:
#   ssh    -> allowed
#   sudo   -> refused in the account phase, the policy message logged,
#             her record kept
# the IdP adds linux-admins -> the very next sudo runs (no new sign-in)
# the IdP removes linux-users -> the very next ssh is refused in the account
#   phase (no new sign-in, no cache delay: each use asked the server), while
#   sudo still runs
E2E_SRC=$1 E2E_DIR=$2
. "$E2E_SRC/tests/e2e/lib.sh"
e2e_preflight
command -v sudo >/dev/null || e2e_skip "sudo is missing"
e2e_enter policy "$@"

e2e_config private <<'CONF'
revoke_on = never
[service ts-e2e-sshd]
allow_groups = linux-users
[service ts-e2e-sudo]
allow_groups = linux-admins
CONF
e2e_pam_service ts-e2e-sshd <<'PAM'
auth     requisite pam_deny.so
account  required pam_tokenseal.so
account  required pam_permit.so
session  required pam_permit.so
PAM
e2e_pam_service ts-e2e-sudo <<'PAM'
auth     requisite pam_deny.so
account  required pam_tokenseal.so
account  required pam_permit.so
session  required pam_permit.so
PAM
e2e_sudoers ts-e2e-sudo <<'SUDO'
alice ALL=(ALL:ALL) NOPASSWD: ALL
SUDO
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
ssh_ok() { grep -q 'E2E-LOGIN-OK user=alice' "$S/logs/ssh-$1.log"; }
sudo_alice() {
	e2e_as alice sudo -n -u root /usr/bin/id -un </dev/null >"$S/logs/sudo-$1.log" 2>&1
}
sudo_ok() { grep -qx root "$S/logs/sudo-$1.log"; }
# asked NAME: the use before it asked the server (introspection count grew)
introspected=0
asked() {
	local n
	n=$(e2e_count introspection)
	[ "$n" -gt "$introspected" ] || e2e_fail "$1 did not ask the server (introspection $introspected -> $n)"
	introspected=$n
}
# the broker's lines: syslog in exec mode, daemon.log in daemon mode
# (grep -q: a match in either is success, whether or not the other exists)
in_broker_log() { grep -q "$1" "$S/logs/syslog.log" "$S/logs/daemon.log" 2>/dev/null; }
refused_log() { # refused_log SERVICE GROUP: the broker's policy line for alice
	in_broker_log "access policy refuses alice (service $1): .*allow_groups = $2"
}

e2e_set_claims alice '{"groups":["linux-users"]}'
e2e_signin alice || exit 1
record=$(e2e_record alice)
e2e_ctl reset-counters

e2e_log "1. alice in linux-users only: ssh is allowed"
ssh_alice users; rc=$?
[ $rc = 0 ] && ssh_ok users || e2e_fail "ssh for a member of linux-users: exit $rc, $(cat "$S/logs/ssh-users.log")"
asked "ssh (linux-users)"

e2e_log "2. sudo (allow_groups = linux-admins) is refused in the account phase"
sudo_alice users; rc=$?
[ $rc != 0 ] || e2e_fail "sudo ran for alice, who is not in linux-admins: $(cat "$S/logs/sudo-users.log")"
sudo_ok users && e2e_fail "the command ran as root although the policy refuses alice for sudo"
refused_log ts-e2e-sudo linux-admins ||
	e2e_fail "no 'access policy refuses alice (service ts-e2e-sudo)' line naming allow_groups = linux-admins in the log"
grep -q "pam_tokenseal(ts-e2e-sudo:account).*user alice: the host's access policy does not allow this user" "$S/logs/syslog.log" ||
	e2e_fail "pam_tokenseal's account phase of ts-e2e-sudo logged no policy refusal"
in_broker_log 'groups seen: \[linux-users\]' || e2e_fail "the refusal does not log the groups the server sent"
grep -q 'PAM account management error: Permission denied' "$S/logs/sudo-users.log" &&
	grep -q 'alice : PAM account management error: Permission denied' "$S/logs/sudo.log" ||
	e2e_fail "sudo did not fail in the PAM account phase (PAM_PERM_DENIED): $(cat "$S/logs/sudo-users.log")"
[ -e "$record" ] || e2e_fail "the refusal destroyed alice's record (membership is no credential problem)"
asked "sudo (refused)"

e2e_log "3. the IdP adds linux-admins: the very next sudo runs, no new sign-in"
e2e_set_claims alice '{"groups":["linux-users","linux-admins"]}'
sudo_alice admins; rc=$?
[ $rc = 0 ] && sudo_ok admins || e2e_fail "sudo right after the IdP added linux-admins: exit $rc, $(cat "$S/logs/sudo-admins.log")"
grep -q 'alice : .*COMMAND=/usr/bin/id -un' "$S/logs/sudo.log" || e2e_fail "sudo's log has no entry for alice's command"
asked "sudo (linux-admins added)"

e2e_log "4. the IdP removes linux-users: the very next ssh is refused in the account phase"
e2e_set_claims alice '{"groups":["linux-admins"]}'
ssh_alice admins; rc=$?
[ $rc = 255 ] || e2e_fail "ssh right after the IdP removed linux-users: exit $rc, want 255 (refused)"
ssh_ok admins && e2e_fail "the command ran over ssh although alice left linux-users"
grep -q 'Access denied for user alice by PAM account configuration' "$S/logs/sshd.log" ||
	e2e_fail "sshd did not refuse alice in the PAM account phase"
refused_log ts-e2e-sshd linux-users ||
	e2e_fail "no 'access policy refuses alice (service ts-e2e-sshd)' line naming allow_groups = linux-users in the log"
grep -q "pam_tokenseal(ts-e2e-sshd:account).*user alice: the host's access policy does not allow this user" "$S/logs/syslog.log" ||
	e2e_fail "pam_tokenseal's account phase of ts-e2e-sshd logged no policy refusal"
asked "ssh (linux-users removed)"

e2e_log "5. per service: sudo still runs for alice (linux-admins)"
sudo_alice still; rc=$?
[ $rc = 0 ] && sudo_ok still || e2e_fail "sudo after the ssh refusal: exit $rc, $(cat "$S/logs/sudo-still.log")"
asked "sudo (after the ssh refusal)"

for k in device_authorization 'token:urn:ietf:params:oauth:grant-type:device_code' token:password; do
	[ "$(e2e_count "$k")" = 0 ] || e2e_fail "a new sign-in happened ($k: $(e2e_count "$k")); membership changes need none"
done
[ -e "$record" ] || e2e_fail "alice's record is gone after the refusals"
e2e_finish "per-service policy through real sshd and sudo: group changes at the server apply at the very next use, in the account phase, with no new sign-in"
