#!/usr/bin/env bash
# e2e.nss_user: an IdP-only user (carol, hidden from a private /etc/passwd
# and /etc/shadow in the namespace) resolves through the installed
# libnss_tokenseal.so.2 ("passwd: files tokenseal" in a private
# nsswitch.conf): she signs in, the broker writes the NSS cache, getent shows
# her cached uid, and a publickey ssh login runs "id" with that uid.
E2E_SRC=$1 E2E_DIR=$2
. "$E2E_SRC/tests/e2e/lib.sh"
e2e_preflight
grep -q /var/lib/tokenseal-nss "$E2E_BROKER" 2>/dev/null ||
	e2e_skip "needs the NSS cache wiring (issue 9): the installed broker does not write /var/lib/tokenseal-nss"
e2e_enter nss_user "$@"

grep -v '^carol:' /etc/passwd >"$S/etc/passwd"
grep -v '^carol:' /etc/shadow >"$S/etc/shadow"
grep -v '^carol:' /etc/group >"$S/etc/group"
chmod 0644 "$S/etc/passwd" "$S/etc/group"; chmod 0640 "$S/etc/shadow"
sed -E 's/^(passwd|group):.*/\1: files tokenseal/' /etc/nsswitch.conf >"$S/etc/nsswitch.conf"
for f in passwd shadow group nsswitch.conf; do mount --bind "$S/etc/$f" "/etc/$f"; done
getent passwd carol >/dev/null 2>&1 && [ ! -s /var/lib/tokenseal-nss/users.cache ] &&
	{ e2e_fail "carol resolves before any sign-in"; }

e2e_config private <<'CONF'
nss_resolve_unknown = ^carol$
revoke_on = never
CONF
e2e_pam_service ts-e2e-sshd <<'PAM'
auth     requisite pam_deny.so
account  required pam_tokenseal.so
session  required pam_permit.so
PAM
e2e_sshd ts-e2e-sshd <<'CFG'
AuthenticationMethods publickey
KbdInteractiveAuthentication no
CFG
ssh-keygen -q -t ed25519 -N '' -f "$S/carol_key" >/dev/null
install -m 0644 "$S/carol_key.pub" "$S/authorized_keys/carol"

e2e_signin carol || exit 1
uid=$(getent passwd carol | cut -d: -f3)
[ -n "$uid" ] || e2e_fail "getent passwd carol finds nothing after her sign-in"
# shellcheck disable=SC2046
ssh $(e2e_ssh_opts) -o BatchMode=yes -o IdentitiesOnly=yes -i "$S/carol_key" carol@127.0.0.1 \
	'echo E2E-ID $(id -u) $(id -un)' </dev/null >"$S/logs/ssh-carol.log" 2>&1 ||
	e2e_fail "carol's key login failed: $(cat "$S/logs/ssh-carol.log")"
grep -q "E2E-ID $uid carol" "$S/logs/ssh-carol.log" ||
	e2e_fail "id over ssh: $(grep E2E-ID "$S/logs/ssh-carol.log"), want uid $uid (the cached one)"
e2e_finish "an IdP-only user resolves through the NSS module and logs in over ssh with the cached uid"
