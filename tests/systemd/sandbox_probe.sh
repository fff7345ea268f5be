#!/bin/bash
# sandbox_probe.sh OUT: what a process can do, one "NAME yes|no" line each,
# written to OUT. container_main.sh runs it as an ExecStartPost= of a
# test-only drop-in of tokenseal-broker.service (so with exactly the
# service's sandbox, credentials and system call filter: what a compromised
# daemon could do) and once as plain root (the control: every "no" the
# service must show is a "yes" there, so the probe can see it). Always
# exits 0 (a failing ExecStartPost= would fail the service's start).
out=$1
try() { # try NAME CMD...
	local n=$1
	shift
	if "$@" >/dev/null 2>&1; then echo "$n yes"; else echo "$n no"; fi
}
w() { touch "$1/.ts-probe-w" && rm -f "$1/.ts-probe-w"; }
hostkey=$(ls /etc/ssh/ssh_host_*_key 2>/dev/null | head -n 1)
{
	try read-shadow head -c 1 /etc/shadow
	try read-gshadow head -c 1 /etc/gshadow
	try read-hostkey head -c 1 "${hostkey:-/etc/ssh/ssh_host_ed25519_key}"
	try read-sudoers head -c 1 /etc/sudoers
	try system-bus dbus-send --system --print-reply --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.GetId
	try systemd-private test -w /run/systemd/private
	try write-etc w /etc/tokenseal
	try write-usr w /usr/lib
	try write-var-lib w /var/lib
	try write-var-log w /var/log
	try write-run w /run
	try write-root-home w /root
	try write-home w /home/carol
	try write-state w /var/lib/tokenseal
	try write-nss w /var/lib/tokenseal-nss
	# /tmp is the service's own (PrivateTmp=): the host's /tmp never sees it
	try write-tmp touch /tmp/.ts-probe-tmp
	try caps-none grep -qE '^CapEff:[[:space:]]*0+$' /proc/self/status
	try uid-root test "$(id -u)" = 0
} >"$out.tmp" 2>&1
mv "$out.tmp" "$out"
exit 0
