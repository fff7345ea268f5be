#!/usr/bin/env bash
# test_deb_contents.sh SRC PKGDIR: the .debs hold exactly what they should,
# with the right owner and mode, no setuid/setgid bit anywhere, the example
# config as the only conffile, a pam-auth-update profile that is off by
# default, and maintainer scripts that never touch /etc/pam.d or
# /etc/nsswitch.conf themselves.
set -uo pipefail
src=$1 dir=$2
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
arch=$(dpkg --print-architecture)
version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)

deb() { echo "$dir/${1}_${version}_${arch}.deb"; }
for p in tokenseal libpam-tokenseal libnss-tokenseal; do
	[ -f "$(deb $p)" ] || { echo "FAIL: $(deb $p) was not built"; exit 1; }
done

# "MODE OWNER PATH" of every non-directory entry
entries() { dpkg-deb -c "$(deb "$1")" | awk '$1 !~ /^d/ { print $1, $2, $6 }' | sort; }

# expected entries; optional ones (the CLI, its page, the units) when built
expect_pkg() {
	local p=$1; shift
	local want got extra
	want=$(printf '%s\n' "$@" | sort)
	got=$(entries "$p")
	extra=$(comm -13 <(echo "$want") <(echo "$got") |
		grep -Ev ' \./usr/share/doc/'"$p"'/(changelog\.Debian\.gz|copyright)$' |
		grep -Ev '^-rwxr-xr-x root/root \./usr/bin/tokenseal$|^-rw-r--r-- root/root \./usr/share/man/man[1-8]/[^/]+\.[1-8]\.gz$|^-rw-r--r-- root/root \./lib/systemd/system/tokenseal-broker\.(socket|service)$|^-rw-r--r-- root/root \./usr/share/bash-completion/completions/tokenseal$' |
		grep -Ev '^lrwxrwxrwx root/root \./etc/systemd/' || true)
	[ "$p" = tokenseal ] || extra=$(grep -Ev 'usr/bin/tokenseal|man1/|systemd' <<<"$extra" || true)
	local missing
	missing=$(comm -23 <(echo "$want") <(echo "$got"))
	[ -z "$missing" ] || bad "$p lacks (or has another mode/owner for): $missing"
	[ -z "$extra" ] || bad "$p holds unexpected entries: $extra"
	# the optional entries belong to tokenseal only
	if [ "$p" != tokenseal ] && grep -Eq 'usr/bin/tokenseal|/man1/|systemd' <<<"$got"; then
		bad "$p holds what belongs to tokenseal: $(grep -E 'usr/bin/tokenseal|/man1/|systemd' <<<"$got")"
	fi
}

expect_pkg tokenseal \
	"-rw-r--r-- root/root ./etc/tokenseal/tokenseal.conf" \
	"-rwxr-xr-x root/root ./usr/libexec/tokenseal/tokenseal-broker" \
	"-rw-r--r-- root/root ./usr/share/man/man5/tokenseal.conf.5.gz" \
	"-rw-r--r-- root/root ./usr/share/man/man8/tokenseal-broker.8.gz" \
	"-rw-r--r-- root/root ./usr/share/doc/tokenseal/changelog.Debian.gz" \
	"-rw-r--r-- root/root ./usr/share/doc/tokenseal/copyright"
expect_pkg libpam-tokenseal \
	"-rw-r--r-- root/root ./usr/lib/$ma/security/pam_tokenseal.so" \
	"-rw-r--r-- root/root ./usr/share/man/man8/pam_tokenseal.8.gz" \
	"-rw-r--r-- root/root ./usr/share/pam-configs/tokenseal" \
	"-rw-r--r-- root/root ./usr/share/doc/libpam-tokenseal/changelog.Debian.gz" \
	"-rw-r--r-- root/root ./usr/share/doc/libpam-tokenseal/copyright"
expect_pkg libnss-tokenseal \
	"-rw-r--r-- root/root ./usr/lib/$ma/libnss_tokenseal.so.2" \
	"-rw-r--r-- root/root ./usr/share/man/man8/nss_tokenseal.8.gz" \
	"-rw-r--r-- root/root ./usr/share/doc/libnss-tokenseal/changelog.Debian.gz" \
	"-rw-r--r-- root/root ./usr/share/doc/libnss-tokenseal/copyright"

# no setuid/setgid bit in any package, debug symbols included
for f in "$dir"/*_"$version"_*.deb; do
	s=$(dpkg-deb -c "$f" | awk 'substr($1,4,1) ~ /[sS]/ || substr($1,7,1) ~ /[sS]/')
	[ -z "$s" ] || bad "setuid/setgid entry in $(basename "$f"): $s"
done

# the CLI, when built, is in /usr/bin of tokenseal (not in libexec)
if [ -x "$(dirname "$dir")/cli/tokenseal" ] || [ -d "$src/cli" ]; then
	entries tokenseal | grep -q ' \./usr/bin/tokenseal$' ||
		bad "the tokenseal CLI exists in this tree but is not in the tokenseal package"
	entries tokenseal | grep -q '^-rw-r--r-- root/root \./usr/share/bash-completion/completions/tokenseal$' || bad "the CLI's bash completion is not in the tokenseal package"
fi

# the conffile: only the config, byte-identical to the example (no secrets)
ctl=$(mktemp -d)
trap 'rm -rf "$ctl"' EXIT
for p in tokenseal libpam-tokenseal libnss-tokenseal; do
	mkdir -p "$ctl/$p"
	dpkg-deb -e "$(deb $p)" "$ctl/$p/DEBIAN"
	dpkg-deb -x "$(deb $p)" "$ctl/$p/root"
done
[ "$(cat "$ctl/tokenseal/DEBIAN/conffiles")" = /etc/tokenseal/tokenseal.conf ] ||
	bad "tokenseal conffiles: '$(cat "$ctl/tokenseal/DEBIAN/conffiles")', want /etc/tokenseal/tokenseal.conf"
cmp -s "$ctl/tokenseal/root/etc/tokenseal/tokenseal.conf" "$src/docs/tokenseal.conf.example" ||
	bad "/etc/tokenseal/tokenseal.conf differs from docs/tokenseal.conf.example"
if grep -Eiq '^[[:space:]]*(client_secret|password|token)[[:space:]]*=' \
	"$ctl/tokenseal/root/etc/tokenseal/tokenseal.conf"; then
	bad "the packaged config sets a secret inline"
fi
for p in libpam-tokenseal libnss-tokenseal; do
	[ ! -e "$ctl/$p/DEBIAN/conffiles" ] || bad "$p has conffiles: $(cat "$ctl/$p/DEBIAN/conffiles")"
done

# the pam-auth-update profile: off until pam-auth-update --enable tokenseal
prof=$ctl/libpam-tokenseal/root/usr/share/pam-configs/tokenseal
grep -qx 'Default: no' "$prof" || bad "the pam-configs profile is not 'Default: no'"
grep -q 'pam_tokenseal.so' "$prof" || bad "the pam-configs profile does not name pam_tokenseal.so"

# maintainer scripts
ms=$ctl/tokenseal/DEBIAN
grep -q 'mkdir -m 0700 "$keystore_dir"' "$ms/postinst" && grep -q 'chmod 0700 "$keystore_dir"' "$ms/postinst" ||
	bad "tokenseal postinst does not make the keystore folder root-only"
grep -q 'keystore init' "$ms/postinst" || bad "tokenseal postinst does not run tokenseal keystore init"
grep -q 'rm -rf /var/lib/tokenseal /var/lib/tokenseal-nss' "$ms/postrm" ||
	bad "tokenseal postrm does not purge the keystore and the NSS cache"
grep -q 'pam-auth-update --package --remove tokenseal' "$ctl/libpam-tokenseal/DEBIAN/prerm" ||
	bad "libpam-tokenseal prerm does not remove the profile"
if entries tokenseal | grep -q 'tokenseal-broker.socket'; then
	grep -q 'deb-systemd-helper.*enable.*tokenseal-broker.socket\|tokenseal-broker.socket' "$ms/postinst" ||
		bad "the socket unit is shipped but not enabled in postinst"
fi
for p in tokenseal libpam-tokenseal libnss-tokenseal; do
	# (comments aside)
	if grep -v '^[[:space:]]*#' "$ctl/$p/DEBIAN"/*inst "$ctl/$p/DEBIAN"/*rm 2>/dev/null | grep -q nsswitch; then
		bad "a $p maintainer script mentions nsswitch.conf (never edit it)"
	fi
	if grep -v '^[[:space:]]*#' "$ctl/$p/DEBIAN"/*inst "$ctl/$p/DEBIAN"/*rm 2>/dev/null |
		grep -Eq '(>|sed -i|cp |mv |rm ).*/etc/pam\.d'; then
		bad "a $p maintainer script writes /etc/pam.d directly"
	fi
done
# the /var/lib/tokenseal folder is made by postinst, not shipped (dpkg would
# reset its mode to 0755 on every upgrade)
entries tokenseal | grep -q 'var/lib' && bad "tokenseal ships a /var/lib entry"
dpkg-deb -c "$(deb tokenseal)" | grep -q ' \./var/lib/tokenseal/$' && bad "tokenseal ships /var/lib/tokenseal"

# Depends: the PAM module needs the broker of the same version
dpkg-deb -f "$(deb libpam-tokenseal)" Depends | grep -q "tokenseal (= $version)" ||
	bad "libpam-tokenseal does not depend on tokenseal (= $version)"
for p in libpam-tokenseal libnss-tokenseal; do
	[ "$(dpkg-deb -f "$(deb $p)" Multi-Arch)" = same ] || bad "$p is not Multi-Arch: same"
	# in-process modules: no libcurl, jansson or libsodium
	if dpkg-deb -f "$(deb $p)" Depends | grep -Eq 'libcurl|libjansson|libsodium'; then
		bad "$p depends on a heavy library: $(dpkg-deb -f "$(deb $p)" Depends)"
	fi
done

[ $fail = 0 ] && echo "ok: the .debs hold what they should"
exit $fail
