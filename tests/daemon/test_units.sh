#!/bin/sh
# SPDX-License-Identifier: MIT
# packaging/systemd: both units pass `systemd-analyze verify` (with ExecStart
# pointing at the build's broker, since nothing is installed here), the
# service keeps the hardening tokenseal-broker(8) documents, and its
# `systemd-analyze security` exposure stays at or below 1.6 (offline: systemd
# is not PID 1 here). A unit whose ExecStart does not exist must fail verify,
# so the check is not vacuous. --man=no: the man page is not installed here
# (the installed package has it for Documentation=man:tokenseal-broker(8)).
set -u
src=$1 broker=$2
units=$src/packaging/systemd
fail() { echo "FAIL: $*"; exit 1; }
command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIPPED: systemd-analyze is not installed"; exit 77; }
[ -x "$broker" ] || fail "no broker at $broker"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/ok" "$tmp/bad"

grep -qx 'ExecStart=/usr/libexec/tokenseal/tokenseal-broker --daemon --idle-exit 600' \
	"$units/tokenseal-broker.service" || fail "ExecStart is not the installed broker path"
sed "s#/usr/libexec/tokenseal/tokenseal-broker#$broker#" "$units/tokenseal-broker.service" \
	>"$tmp/ok/tokenseal-broker.service"
cp "$units/tokenseal-broker.socket" "$tmp/ok/"

out=$(cd "$tmp/ok" && systemd-analyze verify --man=no tokenseal-broker.socket tokenseal-broker.service 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "systemd-analyze verify: status $rc: $out"
[ -z "$out" ] || fail "systemd-analyze verify complained: $out"
echo "verify: both units clean"

sed 's#^ExecStart=.*#ExecStart=/nonexistent/tokenseal-broker --daemon#' \
	"$tmp/ok/tokenseal-broker.service" >"$tmp/bad/tokenseal-broker.service"
cp "$units/tokenseal-broker.socket" "$tmp/bad/"
if (cd "$tmp/bad" && systemd-analyze verify --man=no tokenseal-broker.service >/dev/null 2>&1); then
	fail "verify accepted a unit whose ExecStart does not exist"
fi

for want in 'Type=notify' 'ProtectSystem=strict' \
	'StateDirectory=tokenseal' 'StateDirectoryMode=0700' 'ReadWritePaths=-/var/lib/tokenseal-nss' \
	'InaccessiblePaths=-/etc/shadow -/etc/shadow- -/etc/gshadow -/etc/gshadow-' \
	'InaccessiblePaths=-/etc/ssh -/etc/sudoers -/etc/sudoers.d' \
	'InaccessiblePaths=-/run/dbus -/run/systemd/private' 'ReadOnlyPaths=/run' 'NoNewPrivileges=yes' \
	'PrivateTmp=yes' 'ProtectHome=yes' 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
	'CapabilityBoundingSet=' 'SystemCallFilter=@system-service'; do
	grep -qxF "$want" "$units/tokenseal-broker.service" || fail "the service lacks $want"
done
# the master key is made before each start, outside the sandbox ('+'), a
# failure ignored ('-'); by root's CLI, whose keystore verbs use exec mode
# (through this socket, the start would wait on itself)
grep -qxF "ExecStartPre=+-/bin/sh -c 'exec /usr/bin/tokenseal keystore init >/dev/null'" \
	"$units/tokenseal-broker.service" || fail "the service does not make a missing key before it starts"
for want in 'ListenStream=/run/tokenseal/broker.sock' 'SocketMode=0666' 'DirectoryMode=0755'; do
	grep -qxF "$want" "$units/tokenseal-broker.socket" || fail "the socket lacks $want"
done
grep -q '^PrivateUsers=yes' "$units/tokenseal-broker.service" &&
	fail "PrivateUsers=yes would turn every caller's uid into nobody"
# exactly the state it needs: no other writable path (/etc/tokenseal, which
# holds the configuration, above all), and nothing the daemon itself uses
# (the notify socket, the journal, userdb lookups) hidden
rw=$(grep -E '^(ReadWritePaths|StateDirectory|CacheDirectory|LogsDirectory|RuntimeDirectory|ConfigurationDirectory)=' \
	"$units/tokenseal-broker.service" | sort | tr '\n' ' ')
[ "$rw" = 'ReadWritePaths=-/var/lib/tokenseal-nss StateDirectory=tokenseal ' ] ||
	fail "writable paths are not exactly the keystore and the NSS cache folder: $rw"
grep -E '^InaccessiblePaths=.*(/run/systemd/notify|/run/systemd/journal|/run/systemd/userdb|/etc/tokenseal|/etc/passwd|/etc/group|/etc/nsswitch)' \
	"$units/tokenseal-broker.service" && fail "InaccessiblePaths= hides what the daemon uses"

sec=$(cd "$tmp/ok" && systemd-analyze security --offline=yes --threshold=16 \
	tokenseal-broker.service 2>&1)
rc=$?
echo "$sec" | tail -n 1
[ $rc -eq 0 ] || fail "exposure above 1.6: $(echo "$sec" | grep '✗')"
echo "PASS"
