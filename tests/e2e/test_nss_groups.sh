#!/usr/bin/env bash
# e2e.nss_groups: an identity-provider group becomes a local Linux group
# through the installed NSS module (initgroups), and the real sudo's %group
# rule follows the server's membership. In a private mount namespace: a
# local group tsadmins in a private /etc/group, "group: files tokenseal" in
# a private nsswitch.conf, a private NSS cache folder, group_map =
# linux-admins = tsadmins, and a private sudoers whose only rule for alice
# is "%tsadmins ALL=(ALL) NOPASSWD: ALL" (PAM service ts-e2e-sudo, account
# phase pam_tokenseal).
#   the IdP puts alice (a local account) in linux-admins; she signs in
#     -> id alice shows tsadmins, /etc/group is unchanged, and sudo -n run
#        by alice (a fresh process: setpriv --init-groups) runs as root
#   the IdP drops linux-admins; her next use (an account check)
#     -> id alice no longer shows tsadmins, and sudo -n is refused
E2E_SRC=$1 E2E_DIR=$2
. "$E2E_SRC/tests/e2e/lib.sh"
e2e_preflight
command -v sudo >/dev/null || e2e_skip "sudo is missing"
command -v pamtester >/dev/null || e2e_skip "pamtester is missing (scripts/test installs it)"
e2e_enter nss_groups "$@"

# a gid no source of the host knows, outside every tokenseal range
gid=4711
while getent group $gid >/dev/null || getent passwd $gid >/dev/null; do gid=$((gid + 1)); done
getent group tsadmins >/dev/null && { e2e_fail "the host already has a group tsadmins"; exit 1; }
echo "tsadmins:x:$gid:" | e2e_nss_groups
group_sum=$(sha256sum </etc/group)

e2e_config private <<'CONF'
revoke_on = never
group_map = linux-admins = tsadmins
CONF
e2e_pam_service ts-e2e-sudo <<'PAM'
auth     requisite pam_deny.so
account  required pam_tokenseal.so
account  required pam_permit.so
session  required pam_permit.so
PAM
e2e_sudoers ts-e2e-sudo <<'SUDO'
%tsadmins ALL=(ALL:ALL) NOPASSWD: ALL
SUDO

# sudo_alice NAME: alice (real uid, her groups from initgroups now) runs
# "sudo -n id -un"; its output in $S/logs/sudo-NAME.log
sudo_alice() {
	e2e_as alice sudo -n -u root /usr/bin/id -un </dev/null >"$S/logs/sudo-$1.log" 2>&1
}
# sudo's own verdict on alice's rules (run by root, groups from NSS)
sudo_rules() { sudo -n -l -U alice </dev/null >"$S/logs/sudo-l-$1.log" 2>&1; }
has_tsadmins() { id -Gn alice | tr ' ' '\n' | grep -qx tsadmins; }

e2e_log "0. before any sign-in: alice is not in tsadmins, sudo is refused"
has_tsadmins && e2e_fail "id alice shows tsadmins before the IdP said anything: $(id alice)"
sudo_alice before && e2e_fail "sudo ran for alice before she was in tsadmins: $(cat "$S/logs/sudo-before.log")"

e2e_log "1. the IdP puts alice in linux-admins; she signs in: tsadmins, sudo runs"
e2e_set_claims alice '{"groups":["linux-users","linux-admins"]}'
e2e_signin alice || exit 1
has_tsadmins || e2e_fail "id alice after her sign-in: $(id alice), want tsadmins ($gid) in it"
e2e_as alice id -Gn | tr ' ' '\n' | grep -qx tsadmins ||
	e2e_fail "a fresh process of alice (initgroups) lacks tsadmins: $(e2e_as alice id)"
[ "$(sha256sum </etc/group)" = "$group_sum" ] || e2e_fail "/etc/group changed: $(grep tsadmins /etc/group)"
getent group tsadmins | grep -q alice &&
	e2e_fail "getent group tsadmins lists alice: the module answered a local group ($(getent group tsadmins))"
sudo_alice member; rc=$?
[ $rc = 0 ] && grep -qx root "$S/logs/sudo-member.log" ||
	e2e_fail "sudo through %tsadmins: exit $rc, $(cat "$S/logs/sudo-member.log"), want root"
grep -q 'alice : .*COMMAND=/usr/bin/id -un' "$S/logs/sudo.log" ||
	e2e_fail "sudo's log has no entry for alice's command"
sudo_rules member
grep -q 'NOPASSWD: ALL' "$S/logs/sudo-l-member.log" ||
	e2e_fail "sudo -l -U alice does not list the %tsadmins rule: $(cat "$S/logs/sudo-l-member.log")"

e2e_log "2. the IdP drops linux-admins; her next use removes tsadmins, sudo is refused"
e2e_set_claims alice '{"groups":["linux-users"]}'
has_tsadmins || e2e_fail "tsadmins went away before alice's next use (the cache follows server answers)"
pamtester ts-e2e-login alice acct_mgmt </dev/null >"$S/logs/acct-dropped.log" 2>&1 ||
	e2e_fail "alice's account check after the drop failed: $(cat "$S/logs/acct-dropped.log")"
has_tsadmins && e2e_fail "id alice after the IdP dropped linux-admins and her next use: $(id alice)"
e2e_as alice id -Gn | tr ' ' '\n' | grep -qx tsadmins &&
	e2e_fail "a fresh process of alice still gets tsadmins: $(e2e_as alice id)"
sudo_alice dropped; rc=$?
[ $rc != 0 ] || e2e_fail "sudo ran for alice after the IdP dropped linux-admins: $(cat "$S/logs/sudo-dropped.log")"
grep -qx root "$S/logs/sudo-dropped.log" && e2e_fail "the command ran as root after the drop"
[ "$(grep -c 'alice : .*COMMAND=/usr/bin/id -un' "$S/logs/sudo.log")" = 1 ] ||
	e2e_fail "sudo logged another command of alice after the drop: $(cat "$S/logs/sudo.log")"
sudo_rules dropped
grep -q 'NOPASSWD' "$S/logs/sudo-l-dropped.log" &&
	e2e_fail "sudo -l -U alice still lists the %tsadmins rule after the drop: $(cat "$S/logs/sudo-l-dropped.log")"
grep -q 'not allowed to run sudo' "$S/logs/sudo-l-dropped.log" ||
	e2e_fail "sudo -l -U alice after the drop: $(cat "$S/logs/sudo-l-dropped.log"), want 'not allowed to run sudo'"
[ -e "$(e2e_record alice)" ] || e2e_fail "alice's record is gone (a group change is no credential problem)"
[ "$(sha256sum </etc/group)" = "$group_sum" ] || e2e_fail "/etc/group changed after the drop"

e2e_log "3. the IdP gives linux-admins back: her next use restores tsadmins"
e2e_set_claims alice '{"groups":["linux-admins"]}'
pamtester ts-e2e-login alice acct_mgmt </dev/null >"$S/logs/acct-back.log" 2>&1 ||
	e2e_fail "alice's account check after the re-add failed: $(cat "$S/logs/acct-back.log")"
sudo_alice back; rc=$?
[ $rc = 0 ] && grep -qx root "$S/logs/sudo-back.log" ||
	e2e_fail "sudo after linux-admins came back: exit $rc, $(cat "$S/logs/sudo-back.log")"
e2e_finish "an IdP group mapped to a local group reaches id and sudo's %group rule through the NSS module, and leaves at the next use after the server drops it"
