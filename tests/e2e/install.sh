#!/usr/bin/env bash
# e2e.install SRC E2E_DIR PKGDIR: record sha256 of /etc/pam.d and
# /etc/nsswitch.conf, then install the freshly built .debs with dpkg -i
# (apt-get -f for missing dependencies) and check what postinst did:
# /var/lib/tokenseal root:root 0700, no key yet (no CLI: the broker makes it),
# the same after running postinst a second time, and no PAM stack changed.
set -uo pipefail
src=$1 dir=$2 pkgs=$3
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: needs root (dpkg -i)"; exit 77; }
mkdir -p "$dir"
fresh=0
if [ ! -e "$dir/installed" ]; then
	fresh=1
	for p in tokenseal libpam-tokenseal libnss-tokenseal; do
		if dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'installed'; then
			echo "SKIPPED: $p is already installed on this host; the e2e tests install and purge their own (dpkg --purge $p first)"
			exit 77
		fi
	done
	[ ! -e /var/lib/tokenseal ] && [ ! -e /etc/tokenseal ] ||
		{ echo "SKIPPED: /var/lib/tokenseal or /etc/tokenseal exists (left by an earlier install?)"; exit 77; }
	"$src/tests/e2e/etc-sums.sh" >"$dir/before.sha256"
fi
version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
debs=()
for p in tokenseal libpam-tokenseal libnss-tokenseal; do
	debs+=("$pkgs/${p}_${version}_${arch}.deb")
	[ -f "${debs[-1]}" ] || { echo "FAIL: ${debs[-1]} was not built"; exit 1; }
done
touch "$dir/installed"
if ! DEBIAN_FRONTEND=noninteractive dpkg -i "${debs[@]}" </dev/null; then
	echo "dpkg -i failed; apt-get -f install for the dependencies"
	DEBIAN_FRONTEND=noninteractive apt-get install -f -y -qq </dev/null ||
		{ echo "FAIL: the .debs could not be installed"; exit 1; }
fi
fail=0
for p in tokenseal libpam-tokenseal libnss-tokenseal; do
	dpkg-query -W -f='${Status}\n' $p | grep -qx 'install ok installed' ||
		{ echo "FAIL: $p: $(dpkg-query -W -f='${Status}' $p)"; fail=1; }
done
check_state() {
	[ "$(stat -c '%U:%G %a' /var/lib/tokenseal 2>&1)" = "root:root 700" ] ||
		{ echo "FAIL: /var/lib/tokenseal: $(stat -c '%U:%G %a' /var/lib/tokenseal 2>&1), want root:root 700"; fail=1; }
	[ "$(stat -c '%U:%G %a' /etc/tokenseal/tokenseal.conf 2>&1)" = "root:root 644" ] ||
		{ echo "FAIL: /etc/tokenseal/tokenseal.conf: $(stat -c '%U:%G %a' /etc/tokenseal/tokenseal.conf 2>&1)"; fail=1; }
	# (a reinstall over an earlier run's install may find the key a test made)
	if [ $fresh = 1 ] && ! command -v tokenseal >/dev/null && [ -e /etc/tokenseal/master.key ]; then
		echo "FAIL: a master key exists without the CLI (postinst must create nothing)"; fail=1
	fi
	find /usr/libexec/tokenseal /usr/lib/*/security/pam_tokenseal.so /usr/lib/*/libnss_tokenseal.so.2 \
		-perm /6000 | grep . && { echo "FAIL: setuid/setgid bit on an installed file"; fail=1; }
	if ! cmp -s <("$src/tests/e2e/etc-sums.sh") "$dir/before.sha256"; then
		echo "FAIL: installing changed /etc/pam.d or /etc/nsswitch.conf:"
		diff <("$src/tests/e2e/etc-sums.sh") "$dir/before.sha256"
		fail=1
	fi
}
check_state
# postinst is idempotent and repairs the keystore's mode: a second run
# leaves the same state (e2e.purge checks that it leaves a key untouched)
chmod 0755 /var/lib/tokenseal
DEBIAN_FRONTEND=noninteractive /var/lib/dpkg/info/tokenseal.postinst configure "$version" ||
	{ echo "FAIL: postinst configure (second run) failed"; fail=1; }
check_state
[ $fail = 0 ] && echo "ok: installed; keystore root-only; no PAM or NSS file changed"
exit $fail
