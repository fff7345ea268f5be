#!/bin/sh
# SPDX-License-Identifier: MIT
# tokenseal keystore init | verify | rotate-key | forget run by root never go
# to the daemon's socket: the service sees /etc read-only
# (ProtectSystem=strict), so it could not create or replace the master key,
# and root's own tool must not depend on the service. A listener on the
# configured socket_path counts every connection (and drops it, so a request
# that reached it falls back to exec mode and would still succeed): the
# keystore verbs must leave it at zero and do their work in exec mode, while
# `tokenseal status` does connect (the listener is a socket the CLI uses).
# Needs root (exec mode serves root callers only).
set -u
cli=$1 broker=$2
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: needs root (exec mode serves root callers only)"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIPPED: python3 is missing"; exit 77; }
[ -x "$cli" ] && [ -x "$broker" ] || fail "no tokenseal at $cli or no broker at $broker"

t=$(mktemp -d /tmp/ts-ks-exec.XXXXXX) || exit 1
lpid=
cleanup() { [ -n "$lpid" ] && kill "$lpid" 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT
chmod 0755 "$t"
mkdir -m 0755 "$t/run" "$t/etc"
cat >"$t/etc/tokenseal.conf" <<EOF
issuer = https://127.0.0.1:9/
client_id = tokenseal-test
keystore_dir = $t/keystore
key_file = $t/etc/master.key
nss_cache = $t/nss/users.cache
socket_path = $t/run/broker.sock
broker_path = $broker
EOF
chmod 0644 "$t/etc/tokenseal.conf"
export TOKENSEAL_CONFIG="$t/etc/tokenseal.conf"

python3 - "$t/run/broker.sock" "$t/connections" <<'PY' &
import os, socket, sys
path, log = sys.argv[1:3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o666)
s.listen(16)
while True:
    c, _ = s.accept()
    with open(log, "a") as f:
        f.write("connection\n")
    c.close()
PY
lpid=$!
for _ in $(seq 1 50); do [ -S "$t/run/broker.sock" ] && break; sleep 0.1; done
[ -S "$t/run/broker.sock" ] || fail "the listener did not start"
: >"$t/connections"

conns() { wc -l <"$t/connections" | tr -d ' '; }

for op in init verify rotate-key verify "forget nosuchuser-xyz"; do
	# shellcheck disable=SC2086
	out=$("$cli" keystore $op 2>&1)
	rc=$?
	case $op in
	forget*) ;; # an unknown user is the broker's answer, not the transport's
	*) [ $rc -eq 0 ] || fail "keystore $op: exit $rc: $out" ;;
	esac
	[ "$(conns)" -eq 0 ] || fail "keystore $op went to the daemon's socket ($(conns) connection(s)): $out"
	echo "keystore $op: exit $rc, served in exec mode: $out"
done
[ -s "$t/etc/master.key" ] || fail "keystore init created no key in $t/etc/master.key"
[ "$(stat -c %a "$t/keystore")" = 700 ] || fail "keystore folder mode $(stat -c %a "$t/keystore")"

# the control: another verb of root's CLI does use this socket
"$cli" status --user root >/dev/null 2>&1
[ "$(conns)" -ge 1 ] || fail "tokenseal status never connected to the listener: the check above proves nothing"
echo "status: $(conns) connection(s) to the socket, as expected"
echo PASS
