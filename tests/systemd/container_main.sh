#!/bin/bash
# Runs inside the booted container (systemd is PID 1), as the ts-test unit:
# installs the three .debs with dpkg (their maintainer scripts against a
# live systemd), enables the profile and the socket, then checks logins in
# four states of /etc/tokenseal/tokenseal.conf (test_container.sh):
#   a  the shipped file          b  the shipped file with a typo
#   c  configured against the test IdP on the host (alice signs in)
#   e  c, then sshd (systemd's ssh.service) and sudo end to end
#   l  c, the service's life: sandbox probe, idle exit, SIGSTOP/SIGKILL,
#      restart and stop with a request in flight (container_life.sh)
#   d  c with a typo
# Every finding is one line in /ts-test/out/results: "PASS name" or
# "FAIL name: why"; /ts-test/out/DONE marks a run that got to its end.
set -u
T=/ts-test
OUT=$T/out
R=$OUT/results
. "$T/params" # SSH_PORT, and the test IdP's ISSUER
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
conf=/etc/tokenseal/tokenseal.conf
svc=tokenseal-broker.service

# su as an ordinary user (dave) to USER with PASSWORD: the real setuid su,
# its password prompt answered by expect
su_as_dave() {
	runuser -u dave -- expect -c "
		set timeout 60
		log_user 1
		spawn su $1 -c true
		expect {
			-re {[Pp]assword: ?$} { send \"$2\r\" }
			timeout { exit 124 }
		}
		expect eof
		lassign [wait] pid spawnid os_error value
		exit \$value"
}
ssh_login() { # ssh_login USER PASSWORD: sshd (systemd's ssh.service) with a password
	sshpass -p "$2" ssh -p "$SSH_PORT" -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o PreferredAuthentications=password,keyboard-interactive \
		-o PubkeyAuthentication=no -o ConnectTimeout=20 -o LogLevel=ERROR "$1@127.0.0.1" true
}

# The four logins no configuration of tokenseal may ever break.
everyone_passes() {
	local p=$1
	check "$p.su-root" su root -c true
	check "$p.su-nobody" su -s /bin/sh nobody -c true
	check "$p.su-carol-by-dave" su_as_dave carol carol-pw
	check "$p.ssh-carol" ssh_login carol carol-pw
	check "$p.ssh-root" ssh_login root root-pw
}

# ---- install ----------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
if dpkg -i $T/debs/*.deb >$OUT/dpkg.log 2>&1; then
	pass install.dpkg
else
	# a dependency the base tree lacks: let apt resolve it (network)
	if apt-get -f install -y >>$OUT/dpkg.log 2>&1; then pass install.dpkg-apt; else
		fail install.dpkg "$(tail -n 5 $OUT/dpkg.log)"
	fi
fi
for p in tokenseal libpam-tokenseal libnss-tokenseal; do
	st=$(dpkg-query -W -f '${Status}' $p 2>/dev/null)
	[ "$st" = "install ok installed" ] && pass "install.$p" || fail "install.$p" "status: $st"
done
check install.pam-auth-update pam-auth-update --enable tokenseal
grep -q pam_tokenseal /etc/pam.d/common-account &&
	pass install.common-account || fail install.common-account "pam_tokenseal not in common-account"
check install.socket systemctl enable --now tokenseal-broker.socket
[ -d /var/lib/tokenseal ] && [ "$(stat -c '%a %U' /var/lib/tokenseal)" = "700 root" ] &&
	pass install.keystore-dir || fail install.keystore-dir "$(stat -c '%a %U' /var/lib/tokenseal 2>&1)"
[ "$(stat -c '%a %U' /var/lib/tokenseal-nss 2>&1)" = "755 root" ] &&
	pass install.nss-dir || fail install.nss-dir "$(stat -c '%a %U' /var/lib/tokenseal-nss 2>&1)"
# the shipped file is not configured: no key made at install
[ ! -e /etc/tokenseal/master.key ] && pass install.no-key-unconfigured ||
	fail install.no-key-unconfigured "postinst made a key with the shipped configuration"
cp -a "$conf" $OUT/shipped.conf

# ---- a: the shipped configuration ---------------------------------------------
everyone_passes a

# ---- b: the shipped configuration with a typo ----------------------------------
cp -a $OUT/shipped.conf "$conf"
printf 'http_timout = 10\nrevalidate = sometimes\nthis line is no setting\n' >>"$conf"
everyone_passes b

# ---- c: configured against the test IdP ------------------------------------------
install -m 0644 $T/idp/ca.pem /etc/tokenseal/idp-ca.pem
install -m 0600 $T/idp/client-secret /etc/tokenseal/client.secret
cat >"$conf" <<EOF
issuer = $ISSUER
client_id = tokenseal-conf
client_secret_file = /etc/tokenseal/client.secret
ca_file = /etc/tokenseal/idp-ca.pem
login_methods = device, password
revoke_on = never

[service sudo]
auth_with_stored_token = yes
EOF
cp -a "$conf" $OUT/configured.conf
systemctl stop $svc # a daemon the phases above started, if any: a fresh one
[ "$(systemctl is-active $svc)" != active ] && pass c.daemon-stopped ||
	fail c.daemon-stopped "$(systemctl is-active $svc)"
[ ! -e /etc/tokenseal/master.key ] && pass c.no-key-yet ||
	fail c.no-key-yet "a key exists before the first configured start"
cursor=$(journalctl -n 0 --show-cursor -q | sed -n 's/^-- cursor: //p')
# alice signs in through root's CLI: the socket starts the daemon, whose
# start (ExecStartPre=+, outside the sandbox) makes the missing key
expect -c '
	set timeout 60
	spawn tokenseal login --password --user alice
	expect {
		-re {[Pp]assword[^\n]*: ?$} { send "alice-pw\r" }
		timeout { exit 124 }
	}
	expect eof
	exit [lindex [wait] 3]' >$OUT/login-alice.log 2>&1
rc=$?
[ $rc -eq 0 ] && pass c.login-alice || fail c.login-alice "exit $rc: $(tail -n 3 $OUT/login-alice.log)"
[ "$(systemctl is-active $svc)" = active ] && pass c.socket-activated ||
	fail c.socket-activated "$svc is $(systemctl is-active $svc) after the first use"
journalctl --after-cursor="$cursor" -u $svc -q --no-pager >$OUT/journal-c.log 2>&1
grep -q 'serving on the socket passed by systemd' $OUT/journal-c.log && pass c.daemon-socket-activation ||
	fail c.daemon-socket-activation "the daemon did not log serving systemd's socket"
grep -q 'Read-only file system' $OUT/journal-c.log &&
	fail c.daemon-no-erofs "$(grep 'Read-only file system' $OUT/journal-c.log | head -n 2)" ||
	pass c.daemon-no-erofs
[ -s /etc/tokenseal/master.key ] && [ "$(stat -c '%a %U' /etc/tokenseal/master.key)" = "600 root" ] &&
	pass c.key-created || fail c.key-created "$(ls -l /etc/tokenseal 2>&1)"
uid=$(id -u alice)
rec=/var/lib/tokenseal/users/$uid.seal
[ -s "$rec" ] && pass c.keystore-record || fail c.keystore-record "no $rec: $(ls -lR /var/lib/tokenseal 2>&1 | head)"
[ -s /var/lib/tokenseal-nss/users.cache ] &&
	[ "$(stat -c %a /var/lib/tokenseal-nss/users.cache)" = 644 ] && pass c.nss-cache ||
	fail c.nss-cache "$(ls -l /var/lib/tokenseal-nss 2>&1)"
[ "$(stat -c '%a %U' /var/lib/tokenseal)" = "700 root" ] && pass c.keystore-mode ||
	fail c.keystore-mode "$(stat -c '%a %U' /var/lib/tokenseal)"
[ "$(stat -c '%a %U' /var/lib/tokenseal-nss)" = "755 root" ] && pass c.nss-dir-mode ||
	fail c.nss-dir-mode "$(stat -c '%a %U' /var/lib/tokenseal-nss)"
# the account phase of a user with a record, served by the daemon
pid=$(systemctl show -p MainPID --value $svc)
check c.su-alice su alice -c true
check c.status-alice tokenseal status --user alice
everyone_passes c
# the sandbox, seen from inside the running daemon's mount namespace
if [ -n "$pid" ] && [ "$pid" != 0 ]; then
	ns() { nsenter -t "$pid" -m -- "$@"; }
	ns test -s /etc/shadow && fail c.sandbox-shadow "the daemon can read /etc/shadow" ||
		pass c.sandbox-shadow
	k=$(ls /etc/ssh/ssh_host_*_key | head -n 1)
	ns test -s "$k" && fail c.sandbox-hostkey "the daemon can read $k" || pass c.sandbox-hostkey
	ns test -S /run/dbus/system_bus_socket && fail c.sandbox-dbus "the system bus is reachable" ||
		pass c.sandbox-dbus
	# a hidden socket stays a socket node, with mode 0000 (the daemon has no
	# CAP_DAC_OVERRIDE to pass that; nsenter's root here has)
	m=$(ns stat -c %a /run/systemd/private 2>/dev/null)
	[ "$m" = 0 ] && pass c.sandbox-private || fail c.sandbox-private "systemd's private bus is mode $m"
	ns touch /etc/tokenseal/x 2>/dev/null && fail c.sandbox-etc "the daemon can write /etc/tokenseal" ||
		pass c.sandbox-etc
	ns touch /var/lib/tokenseal/.w /var/lib/tokenseal-nss/.w && pass c.sandbox-state-rw ||
		fail c.sandbox-state-rw "the daemon cannot write its state"
	rm -f /var/lib/tokenseal/.w /var/lib/tokenseal-nss/.w /etc/tokenseal/x
	ns test -S /run/systemd/notify && ns test -S /run/systemd/journal/dev-log &&
		pass c.sandbox-notify-journal || fail c.sandbox-notify-journal "notify or journal socket hidden"
else
	fail c.sandbox "no daemon pid"
fi
# root's keystore verbs while the daemon runs (exec mode, not the sandbox)
kid0=$(tokenseal keystore verify 2>&1)
check c.keystore-init-while-running tokenseal keystore init
check c.keystore-rotate-while-running tokenseal keystore rotate-key
check c.keystore-verify-while-running tokenseal keystore verify
[ "$(systemctl show -p MainPID --value $svc)" = "$pid" ] && pass c.daemon-kept ||
	fail c.daemon-kept "the daemon restarted or stopped"
check c.su-alice-after-rotate su alice -c true
systemd-analyze security --no-pager $svc >$OUT/security.txt 2>&1
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' $OUT/security.txt)
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 1.6) }' && pass c.security-score ||
	fail c.security-score "systemd-analyze security: ${score:-no score} (at most 1.6)"
echo "keystore before rotate: $kid0" >>$OUT/keystore.txt

# ---- e: sshd and sudo end to end; l: the service's life (container_life.sh) ----
. $T/container_life.sh
phase_e
phase_l

# ---- d: the configured file with a typo ---------------------------------------------
cp -a $OUT/configured.conf "$conf"
sed -i '1i revalidate = sometimes' "$conf"
cursor=$(journalctl -n 0 --show-cursor -q | sed -n 's/^-- cursor: //p')
out=$(su alice -c true 2>&1)
rc=$?
journalctl --after-cursor="$cursor" -q --no-pager >$OUT/journal-d.log 2>&1
if [ $rc -ne 0 ]; then pass d.alice-refused; else fail d.alice-refused "su alice passed with a broken config"; fi
if echo "$out" | grep -q "revalidate.*sometimes" || grep -q "revalidate.*sometimes" $OUT/journal-d.log; then
	pass d.alice-problem-named
else
	fail d.alice-problem-named "neither su nor the journal names the bad key: $out"
fi
everyone_passes d

cp -a "$conf" $OUT/broken.conf
journalctl -b -q --no-pager >$OUT/journal.log 2>&1
touch $OUT/DONE
exit 0
