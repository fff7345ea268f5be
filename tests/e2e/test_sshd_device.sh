#!/usr/bin/env bash
# e2e.sshd_device: a real sshd (loopback port, own host key, UsePAM yes,
# keyboard-interactive only, PAM service "ts-e2e-sshd" from the installed
# pam_tokenseal.so); alice signs in with the device flow: ssh runs on a pty,
# the code is read from the prompt and approved at the test IdP, the command
# runs as alice, and the package's keystore (/var/lib/tokenseal) now holds
# alice's sealed record (root:root 0600) and the broker made the master key.
# The stack is the sshd stack docs/pam.md and pam_tokenseal(8) print (the
# local password first, then tokenseal with ignore=ignore): root and carol
# (a local user tokenseal never signed in) log in over the same sshd with
# their passwords and are never shown a device login; alice, who has no
# local password, answers the password prompt with an empty line first.
E2E_SRC=$1 E2E_DIR=$2
. "$E2E_SRC/tests/e2e/lib.sh"
e2e_preflight
e2e_enter sshd_device "$@"

# a short device_timeout: a code that is never shown fails fast
e2e_config default <<'CONF'
[service ts-e2e-sshd]
device_timeout = 30
CONF
e2e_pam_service ts-e2e-sshd <<'PAM'
auth     [success=done default=ignore] pam_unix.so
auth     [success=done ignore=ignore default=die] pam_tokenseal.so
auth     requisite pam_deny.so
account  required pam_tokenseal.so
account  required pam_unix.so
session  optional pam_tokenseal.so
session  required pam_permit.so
PAM
e2e_local_passwords
E2E_SSHD_PERMIT_ROOT=yes e2e_sshd ts-e2e-sshd <<'CFG'
AuthenticationMethods keyboard-interactive
CFG

# root and carol: the local password decides, tokenseal steps aside
for u in root carol; do
	if [ $u = root ]; then pw=$E2E_ROOT_PW; else pw=$E2E_CAROL_PW; fi
	E2E_ANSWER=$pw E2E_TIMEOUT=40 e2e_expect_device "$S/logs/ssh-$u.log" no \
		ssh $(e2e_ssh_opts) -o PreferredAuthentications=keyboard-interactive -o PubkeyAuthentication=no \
		$u@127.0.0.1 'echo E2E-LOGIN-OK user=$(id -un)'
	rc=$?
	[ $rc = 0 ] || e2e_fail "ssh as $u with $u's password exited $rc, want 0 (locked out?)"
	grep -q "E2E-LOGIN-OK user=$u" "$S/logs/ssh-$u.log" || e2e_fail "the remote command did not run as $u"
	grep -q 'E2E-CODE-SHOWN' "$S/logs/ssh-$u.log" &&
		e2e_fail "$u was shown a device login (tokenseal did not step aside)"
	grep -q "Accepted keyboard-interactive/pam for $u" "$S/logs/sshd.log" ||
		e2e_fail "sshd did not log the keyboard-interactive/pam login of $u"
done

rec=$(e2e_record alice)
[ ! -e "$rec" ] || e2e_fail "alice already has a record before the login: $rec"
E2E_TIMEOUT=45 E2E_USER=alice e2e_expect_device "$S/logs/ssh-client.log" yes \
	ssh $(e2e_ssh_opts) -o PreferredAuthentications=keyboard-interactive -o PubkeyAuthentication=no \
	alice@127.0.0.1 'echo E2E-LOGIN-OK user=$(id -un)'
rc=$?
if ! grep -q 'E2E-CODE-SHOWN' "$S/logs/ssh-client.log"; then
	e2e_fail "ssh never showed the device code"
	# OpenSSH (auth-pam.c, sshpam_query) holds PAM_TEXT_INFO messages of a
	# keyboard-interactive conversation until the next prompt or the end of
	# pam_authenticate, so a device text sent as INFO reaches the user only
	# after the code expired
	if grep -q 'Postponed keyboard-interactive for alice' "$S/logs/sshd.log"; then
		echo "diagnosis: sshd postponed keyboard-interactive and showed nothing: the device text must reach sshd as a prompt (PAM_PROMPT_ECHO_ON), not as PAM_TEXT_INFO"
	fi
fi
grep -q 'E2E-APPROVED' "$S/logs/ssh-client.log" || e2e_fail "the code was not approved at the IdP"
[ $rc = 0 ] || e2e_fail "ssh exited $rc, want 0"
# sshd runs a keyboard-interactive pam_authenticate in a forked child, so
# what the module remembered there with pam_set_data is gone when the parent
# calls pam_setcred: a PAM_IGNORE from setcred then fails the login
if grep -q 'PAM: pam_setcred(): Permission denied' "$S/logs/sshd.log"; then
	echo "diagnosis: sshd's pam_setcred failed after a successful keyboard-interactive auth: pam_sm_setcred must not depend on state set during auth (sshd authenticates in a forked child)"
fi
grep -q 'E2E-LOGIN-OK user=alice' "$S/logs/ssh-client.log" || e2e_fail "the remote command did not run as alice"
[ "$(stat -c '%U:%G %a' "$rec" 2>/dev/null)" = "root:root 600" ] ||
	e2e_fail "alice's record $rec: $(stat -c '%U:%G %a' "$rec" 2>&1), want root:root 600"
[ "$(stat -c '%U:%G %a' /etc/tokenseal/master.key 2>/dev/null)" = "root:root 600" ] ||
	e2e_fail "master key: $(stat -c '%U:%G %a' /etc/tokenseal/master.key 2>&1), want root:root 600"
[ "$(stat -c '%U:%G %a' /var/lib/tokenseal)" = "root:root 700" ] ||
	e2e_fail "/var/lib/tokenseal: $(stat -c '%U:%G %a' /var/lib/tokenseal)"
[ "$(e2e_count 'token:urn:ietf:params:oauth:grant-type:device_code')" -ge 1 ] ||
	e2e_fail "the IdP saw no device-code poll"
grep -q 'Accepted keyboard-interactive/pam for alice' "$S/logs/sshd.log" ||
	e2e_fail "sshd did not log the keyboard-interactive/pam login"
# the package's keystore is shared by the tests that follow (the daemon twin
# of this one starts from no record too)
rm -f "$rec"
e2e_finish "alice signed in over ssh with the device flow; her record is in /var/lib/tokenseal"
