#!/usr/bin/env bash
# e2e.purge SRC E2E_DIR: the end of the e2e run (a CTest cleanup fixture, so
# it runs when a test failed too). postinst run again leaves the master key
# byte-identical; "dpkg --remove" keeps the key and the keystore; "dpkg
# --purge" deletes them and the NSS cache, and /etc/pam.d and
# /etc/nsswitch.conf are byte-identical to before the install.
set -uo pipefail
src=$1 dir=$2
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: needs root (dpkg --purge)"; exit 77; }
[ -e "$dir/installed" ] || { echo "SKIPPED: e2e.install did not install the packages"; exit 77; }
fail=0
bad() { echo "FAIL: $*"; fail=1; }
version=$(dpkg-query -W -f='${Version}' tokenseal 2>/dev/null)
key=/etc/tokenseal/master.key
if [ -e $key ]; then
	before=$(sha256sum $key)
	DEBIAN_FRONTEND=noninteractive /var/lib/dpkg/info/tokenseal.postinst configure "$version" ||
		bad "postinst configure (again) failed"
	[ "$(sha256sum $key)" = "$before" ] || bad "postinst changed the existing master key"
	had_key=1
else
	echo "note: no master key (the e2e tests that make one did not run)"
	had_key=0
fi
export DEBIAN_FRONTEND=noninteractive
dpkg --remove libnss-tokenseal libpam-tokenseal tokenseal </dev/null || bad "dpkg --remove failed"
[ -d /var/lib/tokenseal ] || bad "dpkg --remove deleted the keystore"
[ $had_key = 0 ] || [ -e $key ] || bad "dpkg --remove deleted the master key"
[ ! -e /usr/libexec/tokenseal/tokenseal-broker ] || bad "dpkg --remove left the broker"
dpkg --purge libnss-tokenseal libpam-tokenseal tokenseal </dev/null || bad "dpkg --purge failed"
for p in tokenseal libpam-tokenseal libnss-tokenseal; do
	if dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -qv 'not-installed'; then
		bad "$p is still known to dpkg: $(dpkg-query -W -f='${Status}' $p)"
	fi
done
for f in /var/lib/tokenseal /var/lib/tokenseal-nss $key /etc/tokenseal; do
	[ ! -e $f ] || bad "$f is still there after the purge"
done
if ! cmp -s <("$src/tests/e2e/etc-sums.sh") "$dir/before.sha256"; then
	bad "/etc/pam.d or /etc/nsswitch.conf differ from before the install:"
	diff "$dir/before.sha256" <("$src/tests/e2e/etc-sums.sh")
fi
rm -f "$dir/installed"
[ $fail = 0 ] && echo "ok: removed keeps the keys, purged removes them; /etc/pam.d and nsswitch.conf byte-identical"
exit $fail
