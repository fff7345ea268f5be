#!/bin/bash
# Runs inside a fresh container (systemd is PID 1), as the ts-test unit
# (test_fresh_install.sh): docs/quick-start.md from the package to the first
# login and back, each step as the guide writes it. One line per finding in
# /ts-test/out/results ("PASS name" / "FAIL name: why"); /ts-test/out/DONE
# marks a run that got to its end.
set -u
T=/ts-test
OUT=$T/out
R=$OUT/results
. "$T/params" # SSH_PORT, ISSUER
: >"$R"
touch $OUT/started
pass() { echo "PASS $1" >>"$R"; echo "PASS $1"; }
fail() { echo "FAIL $1: $2" | tr '\n' ' ' | sed 's/ $/\n/' >>"$R"; echo "FAIL $1: $2"; }
check() { # check NAME CMD...: PASS when CMD succeeds, else FAIL with its output
	local name=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then pass "$name"; else fail "$name" "exit $rc: $(echo "$out" | tail -n 3)"; fi
	return $rc
}
ok() { # ok NAME WHY CMD...: PASS when CMD (a test) holds, else FAIL with WHY
	local name=$1 why=$2
	shift 2
	if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "$why"; fi
}
conf=/etc/tokenseal/tokenseal.conf
export DEBIAN_FRONTEND=noninteractive

su_as_dave() { # su_as_dave USER PASSWORD: the setuid su run by dave
	runuser -u dave -- expect -c "
		set timeout 60
		spawn su $1 -c true
		expect {
			-re {[Pp]assword: ?$} { send \"$2\r\" }
			timeout { exit 124 }
		}
		expect eof
		exit [lindex [wait] 3]"
}
ssh_pw() { # ssh_pw USER PASSWORD: sshd (ssh.service) with a password
	sshpass -p "$2" ssh -p "$SSH_PORT" -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o PreferredAuthentications=password,keyboard-interactive \
		-o PubkeyAuthentication=no -o ConnectTimeout=20 -o LogLevel=ERROR "$1@127.0.0.1" true
}
local_logins() { # the logins no state of tokenseal may break
	check "$1.su-root" su root -c true
	check "$1.su-carol-by-dave" su_as_dave carol carol-pw
	check "$1.ssh-carol" ssh_pw carol carol-pw
	check "$1.ssh-root" ssh_pw root root-pw
}
sums() { # the PAM stacks and nsswitch.conf, byte for byte
	find /etc/pam.d -type f -print0 | sort -z | xargs -0 sha256sum
	sha256sum /etc/nsswitch.conf
}
sums >$OUT/sums-before

# ---- 1. Install ------------------------------------------------------------------
cd $T/debs || exit 1
apt install -y ./tokenseal_*.deb ./libpam-tokenseal_*.deb ./libnss-tokenseal_*.deb \
	>$OUT/apt-install.log 2>&1
rc=$?
cd / || exit 1
[ $rc -eq 0 ] && pass 1.apt-install || fail 1.apt-install "exit $rc: $(tail -n 5 $OUT/apt-install.log)"
# no failed or half-configured maintainer script
ok 1.dpkg-audit "dpkg --audit: $(dpkg --audit 2>&1 | head -n 3)" test -z "$(dpkg --audit 2>&1)"
st=$(dpkg-query -W -f '${Status}\n' tokenseal libpam-tokenseal libnss-tokenseal 2>&1 | sort -u)
ok 1.installed "dpkg status: $st" test "$st" = "install ok installed"
ok 1.socket-enabled "tokenseal-broker.socket is $(systemctl is-enabled tokenseal-broker.socket 2>&1)" \
	test "$(systemctl is-enabled tokenseal-broker.socket 2>&1)" = enabled
ok 1.socket-listening "tokenseal-broker.socket is $(systemctl is-active tokenseal-broker.socket 2>&1)" \
	test -S /run/tokenseal/broker.sock
ok 1.no-key "the package made a key with the shipped configuration" test ! -e /etc/tokenseal/master.key
# "as shipped ... tokenseal doctor says so"
out=$(tokenseal doctor 2>&1)
echo "$out" >$OUT/doctor-shipped.log
echo "$out" | grep -q "tokenseal is not configured yet: set issuer and client_id in $conf" &&
	pass 1.doctor-not-configured || fail 1.doctor-not-configured "$out"
# "every PAM phase answers PAM_IGNORE": the profile on, nobody is affected
check 1.pam-auth-update-unconfigured pam-auth-update --enable tokenseal
ok 1.profile-on "pam_tokenseal is not in common-account" grep -q pam_tokenseal /etc/pam.d/common-account
local_logins 1
# alice has no local password: only her account phase can be run; the
# module must ignore it (pam_unix's account then decides)
check 1.alice-account-ignored pamtester -v login alice acct_mgmt
ok 1.no-failed-units "failed units: $(systemctl --failed --no-legend 2>&1)" \
	test -z "$(systemctl --failed --no-legend --plain 2>/dev/null)"

# ---- 3. Configure ------------------------------------------------------------------
# "Edit /etc/tokenseal/tokenseal.conf": the shipped file has each of the
# guide's lines commented out; an administrator writes them there
cp -a $conf $OUT/shipped.conf
secret=$(cat $T/idp/client-secret)
sed -i -e "s|^# issuer = .*|issuer = $ISSUER|" \
	-e 's|^# client_id = .*|client_id = tokenseal-conf|' \
	-e 's|^# client_secret_file = /etc/tokenseal/client.secret.*|client_secret_file = /etc/tokenseal/client.secret|' \
	-e 's|^# username_claim = preferred_username.*|username_claim = preferred_username|' $conf
n=$(grep -c -E '^(issuer|client_id|client_secret_file|username_claim) = ' $conf)
ok 3.edited "the shipped file lacks one of the guide's four lines ($n of 4 written)" test "$n" = 4
# the secret, as the guide writes it
install -m 0600 -o root -g root /dev/null /etc/tokenseal/client.secret
printf '%s' "$secret" >/etc/tokenseal/client.secret
ok 3.secret-mode "$(stat -c '%a %U' /etc/tokenseal/client.secret)" \
	test "$(stat -c '%a %U' /etc/tokenseal/client.secret)" = "600 root"

# ---- 4. Create the keystore key and check --------------------------------------------
check 4.keystore-init tokenseal keystore init
ok 4.key "$(ls -l /etc/tokenseal 2>&1)" test "$(stat -c '%a %U' /etc/tokenseal/master.key 2>&1)" = "600 root"
out=$(tokenseal doctor 2>&1)
rc=$?
echo "$out" >$OUT/doctor-configured.log
# the guide: go on when the configuration, server and keystore checks pass;
# sshd's settings are step 5's (Debian's sshd_config says
# KbdInteractiveAuthentication no), and doctor is run again before the first
# login
early=$(echo "$out" | grep '^fail' | grep -v '^fail  *sshd-')
{ [ $rc -eq 0 ] || [ $rc -eq 4 ]; } && [ -z "$early" ] && pass 4.doctor ||
	fail 4.doctor "exit $rc: $(echo "$early" | head -n 3)"

# ---- 5. Turn it on for logins --------------------------------------------------------
check 5.pam-auth-update pam-auth-update --enable tokenseal
for f in common-auth common-account common-session; do
	ok "5.$f" "pam_tokenseal is not in $f" grep -q pam_tokenseal /etc/pam.d/$f
done
# the guide's sshd settings, where sshd reads them before Debian's own file
printf 'UsePAM yes\nKbdInteractiveAuthentication yes\nLoginGraceTime 180\n' \
	>/etc/ssh/sshd_config.d/tokenseal.conf
check 5.sshd-config sshd -t
ok 5.sshd-kbdint "sshd -T: $(sshd -T 2>&1 | grep -i kbdinteractive)" \
	sh -c 'sshd -T | grep -qx "kbdinteractiveauthentication yes"'
check 5.ssh-reload systemctl reload ssh
sleep 0.5

# ---- 7. First login ---------------------------------------------------------------------
# "Check once more": now with the PAM stacks, nsswitch and sshd's settings
out=$(tokenseal doctor 2>&1)
rc=$?
echo "$out" >$OUT/doctor-before-login.log
[ $rc -eq 0 ] && ! echo "$out" | grep -q '^fail' && pass 7.doctor ||
	fail 7.doctor "exit $rc: $(echo "$out" | grep '^fail' | head -n 3)"
expect /ts-test/ct_device.exp $OUT/ssh-alice.log alice \
	ssh -tt -p "$SSH_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o PreferredAuthentications=keyboard-interactive -o PubkeyAuthentication=no \
	-o LogLevel=ERROR alice@127.0.0.1 'echo CT-LOGIN-OK user=$(id -un); tokenseal status; echo CT-STATUS=$?'
rc=$?
ok 7.device-shown "no device sign-in text: $(tail -n 5 $OUT/ssh-alice.log)" grep -q CT-CODE-SHOWN $OUT/ssh-alice.log
ok 7.approved "$(grep -a CT-APPROVE $OUT/ssh-alice.log)" grep -q CT-APPROVED $OUT/ssh-alice.log
[ $rc -eq 0 ] && grep -q 'CT-LOGIN-OK user=alice' $OUT/ssh-alice.log && pass 7.ssh-alice ||
	fail 7.ssh-alice "exit $rc: $(tail -n 5 $OUT/ssh-alice.log)"
uid=$(id -u alice)
ok 7.record "no sealed record for alice" test -s /var/lib/tokenseal/users/$uid.seal
# "tokenseal status shows her record": hers, in her session
ok 7.status-in-session "$(grep -a -A3 CT-LOGIN-OK $OUT/ssh-alice.log | tr '\r\n' '  ')" \
	grep -q 'CT-STATUS=0' $OUT/ssh-alice.log
# her last session ended: revoke_on = last-session (the default) signs her
# out once sshd has closed it (after the client is gone)
for _ in $(seq 1 40); do
	out=$(tokenseal status --user alice 2>&1)
	echo "$out" | grep -q 'alice signed out of' && break
	sleep 0.25
done
echo "$out" | grep -q 'alice signed out of' && pass 7.signed-out-after-last-session ||
	fail 7.signed-out-after-last-session "$out"
ok 7.daemon "the socket did not start the service" test "$(systemctl is-active tokenseal-broker.service)" = active
local_logins 7

# ---- 9. Roll back and uninstall -------------------------------------------------------
check 9.pam-auth-update-disable pam-auth-update --disable tokenseal
ok 9.profile-off "pam_tokenseal still in /etc/pam.d: $(grep -l pam_tokenseal /etc/pam.d/* 2>&1)" \
	test -z "$(grep -l pam_tokenseal /etc/pam.d/* 2>/dev/null)"
local_logins 9a
rm /etc/ssh/sshd_config.d/tokenseal.conf && systemctl reload ssh
apt remove -y tokenseal libpam-tokenseal libnss-tokenseal >$OUT/apt-remove.log 2>&1
rc=$?
[ $rc -eq 0 ] && pass 9.apt-remove || fail 9.apt-remove "exit $rc: $(tail -n 5 $OUT/apt-remove.log)"
ok 9.remove-keeps-records "apt remove deleted alice's record" test -s /var/lib/tokenseal/users/$uid.seal
apt purge -y tokenseal >$OUT/apt-purge.log 2>&1
rc=$?
[ $rc -eq 0 ] && pass 9.apt-purge || fail 9.apt-purge "exit $rc: $(tail -n 5 $OUT/apt-purge.log)"
ok 9.dpkg-audit "dpkg --audit: $(dpkg --audit 2>&1 | head -n 3)" test -z "$(dpkg --audit 2>&1)"
left=$(dpkg-query -W -f '${Package} ${db:Status-Abbrev}\n' tokenseal libpam-tokenseal libnss-tokenseal 2>/dev/null |
	grep -v ' un *$')
ok 9.packages-gone "still known to dpkg: $left" test -z "$left"
for p in /var/lib/tokenseal /var/lib/tokenseal-nss /run/tokenseal /etc/tokenseal/master.key \
	/usr/libexec/tokenseal /etc/tokenseal/tokenseal.conf; do
	ok "9.gone$p" "$p is still there" test ! -e $p
done
ok 9.units-gone "tokenseal units still loaded: $(systemctl list-units --all --no-legend 'tokenseal*' 2>&1)" \
	test -z "$(systemctl list-units --all --no-legend --plain 'tokenseal*' 2>/dev/null)"
sums >$OUT/sums-after
d=$(diff $OUT/sums-before $OUT/sums-after)
ok 9.pam-d-as-before "changed: $d" test -z "$d"
local_logins 9b
ok 9.no-failed-units "failed units: $(systemctl --failed --no-legend 2>&1)" \
	test -z "$(systemctl --failed --no-legend --plain 2>/dev/null)"

journalctl -b -q --no-pager >$OUT/journal.log 2>&1
touch $OUT/DONE
exit 0
