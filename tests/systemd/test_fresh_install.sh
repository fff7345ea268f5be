#!/bin/bash
# SPDX-License-Identifier: MIT
# test_fresh_install.sh SRC BUILD PKGDIR (label systemd; root): issue 17's
# "from package to first login" in a fresh Debian 12 container with systemd
# as PID 1, following docs/quick-start.md step by step (fresh_main.sh):
# apt install of the three .debs with the shipped configuration (no failed
# maintainer script; doctor says "not configured yet"; with the profile on,
# local logins are unaffected and an identity-provider user's account phase
# is ignored), the configuration written as the guide says against the
# test IdP on the host (its CA in the system's trust store, as a real
# provider's would be), keystore init and a clean doctor, pam-auth-update
# and the sshd settings, alice's first login over systemd's sshd with the
# device sign-in (approved at the IdP from the host), then the roll back:
# pam-auth-update --disable, apt remove, apt purge; /etc/pam.d and
# /etc/nsswitch.conf are byte for byte what they were before the install,
# nothing of tokenseal is left, and local logins still work. SKIPPED when
# debootstrap or systemd-nspawn cannot run, or the Debian archive is
# unreachable for the first build of the tree.
set -uo pipefail
src=$1 build=$2 pkgdir=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/systemd/lib.sh
. "$here/lib.sh"

ct_preflight
for t in node openssl python3; do
	command -v $t >/dev/null || ct_skip "$t is missing (the test IdP needs it)"
done
[ -d "$src/tests/fixtures/idp/node_modules/oidc-provider" ] ||
	ct_skip "node_modules missing in tests/fixtures/idp (npm ci there)"
arch=$(dpkg --print-architecture)
debs=()
for p in tokenseal libpam-tokenseal libnss-tokenseal; do
	f=$(ls -t "$pkgdir"/${p}_*_"$arch".deb 2>/dev/null | head -n 1)
	[ -n "$f" ] || { echo "FAIL: no $p .deb in $pkgdir (the package.build_deb fixture builds them)"; exit 1; }
	debs+=("$f")
done

# The steps fresh_main.sh runs are the guide's: each command must still be
# in docs/quick-start.md as written (a changed guide needs a changed test)
qs=$src/docs/quick-start.md
# (each step as a whole: not followed by more of a name or an option)
python3 -c '
import re, sys
doc = open(sys.argv[1]).read()
bad = [s for s in sys.stdin.read().splitlines()
       if not re.search(re.escape(s) + r"(?![-\w./])", doc)]
for s in bad:
    print("FAIL: docs/quick-start.md no longer says: " + s)
sys.exit(1 if bad else 0)' "$qs" <<'STEPS' || exit 1
apt install ./tokenseal_*.deb ./libpam-tokenseal_*.deb ./libnss-tokenseal_*.deb
issuer = https://idp.example.org/realms/main
client_id = tokenseal-host
client_secret_file = /etc/tokenseal/client.secret
username_claim = preferred_username
install -m 0600 -o root -g root /dev/null /etc/tokenseal/client.secret
printf '%s' 'THE-SECRET' > /etc/tokenseal/client.secret
tokenseal keystore init
tokenseal doctor
pam-auth-update --enable tokenseal
`/etc/ssh/sshd_config.d/tokenseal.conf`
UsePAM yes
KbdInteractiveAuthentication yes
LoginGraceTime 180
ssh alice@host
pam-auth-update --disable tokenseal
rm /etc/ssh/sshd_config.d/tokenseal.conf && systemctl reload ssh
apt remove tokenseal libpam-tokenseal libnss-tokenseal
apt purge tokenseal
STEPS

SECONDS=0
cache=$build/systemd-ct
ct_base "$cache"
ct_tree "$cache/fresh"
work=$cache/fresh-work
rm -rf "$work"
mkdir -p "$work"
chmod 0700 "$work"
idp_dir=$work/idp
cleanup() {
	ct_approver_stop
	"$src/tests/fixtures/idp/stop" --state-dir "$idp_dir" >/dev/null 2>&1 || true
	ct_untree "$cache/fresh"
}
trap cleanup EXIT

# carol and dave (local passwords), alice (no local password: the IdP's)
chroot "$CT_ROOT" sh -e -c '
	for u in carol dave alice; do useradd -m -s /bin/bash $u; done
	printf "carol:carol-pw\ndave:dave-pw\nroot:root-pw\n" | chpasswd' ||
	{ echo "FAIL: cannot create the users in the container"; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'Port %s\nListenAddress 127.0.0.1\nPasswordAuthentication yes\nPermitRootLogin yes\n' "$port" \
	>"$CT_ROOT/etc/ssh/sshd_config.d/ts-test.conf"
ls "$CT_ROOT"/etc/ssh/ssh_host_*_key >/dev/null 2>&1 ||
	chroot "$CT_ROOT" ssh-keygen -A >/dev/null

"$src/tests/fixtures/idp/start" --state-dir "$idp_dir" --watch-pid $$ --max-lifetime 900 \
	>"$work/idp-start.log" 2>&1 || { cat "$work/idp-start.log"; echo "FAIL: the test IdP did not start"; exit 1; }
# shellcheck disable=SC1091
. "$idp_dir/env"
# the IdP's CA is trusted by the system, as a real provider's would be:
# the configuration is then exactly the guide's
install -m 0644 "$TS_IDP_CA" "$CT_ROOT/usr/local/share/ca-certificates/ts-test-idp.crt"
chroot "$CT_ROOT" update-ca-certificates >/dev/null 2>&1 ||
	{ echo "FAIL: update-ca-certificates failed in the container"; exit 1; }
mkdir -p "$CT_ROOT/ts-test/idp" "$CT_ROOT/ts-test/debs"
install -m 0600 "$TS_IDP_CONF_SECRET_FILE" "$CT_ROOT/ts-test/idp/client-secret"
cp "${debs[@]}" "$CT_ROOT/ts-test/debs/"
printf 'SSH_PORT=%s\nISSUER=%s\n' "$port" "$TS_IDP_ISSUER" >"$CT_ROOT/ts-test/params"

ct_run_at_boot "$here/fresh_main.sh"
ct_approver_start "$src" "$idp_dir"
prep=$SECONDS
ct_boot 400 "$work/console.log"
ct_approver_stop
ct_log "preparation ${prep}s, boot to power-off $((SECONDS - prep))s"

res=$CT_OUT/results
if [ ! -e "$CT_OUT/started" ] && [ -z "$(ct_journal -q -n 1 2>/dev/null)" ]; then
	ct_skip "systemd-nspawn could not boot the container: $(tail -n 3 "$work/console.log" | tr '\n' ' ')"
fi
if [ ! -s "$res" ]; then
	tail -n 40 "$work/console.log"
	echo "FAIL: the container test wrote no results (console: $work/console.log)"
	exit 1
fi
cat "$res"
fails=$(grep -c '^FAIL' "$res")
passes=$(grep -c '^PASS' "$res")
if [ ! -e "$CT_OUT/DONE" ]; then
	echo "FAIL: the container test did not run to its end (console: $work/console.log)"
	fails=$((fails + 1))
fi
echo "$passes passed, $fails failed in ${SECONDS}s (logs: $CT_OUT, $work)"
# every check must have run: fewer passes means some were never reached
want=63
[ "$passes" -ge "$want" ] || echo "FAIL: $passes checks passed, want $want (some were never reached)"
[ "$fails" -eq 0 ] && [ "$passes" -ge "$want" ] || exit 1
echo PASS
