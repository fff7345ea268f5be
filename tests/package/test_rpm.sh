#!/usr/bin/env bash
# test_rpm.sh SRC PKGDIR: the .rpms (Fedora/RHEL layout) hold exactly what
# they should with the right modes and no setuid/setgid bit (rpm -qlvp);
# installed into a scratch root (rpm --root DIR --nodeps -i, with a dash and
# libc copied in so the scriptlets run) the files land with those modes, the
# keystore folder is root-only, and every scriptlet succeeds.
set -uo pipefail
src=$1 dir=$2
command -v rpm >/dev/null || { echo "SKIPPED: rpm is missing (apt-get install rpm)"; exit 77; }
version=$(sed -n 's/^project(tokenseal VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
fail=0
bad() { echo "FAIL: $*"; fail=1; }
rpmf() { echo "$dir/$1-$version-1.x86_64.rpm"; }
for p in tokenseal tokenseal-pam tokenseal-nss; do
	[ -f "$(rpmf $p)" ] || { echo "FAIL: $(rpmf $p) was not built"; exit 1; }
done
q() { rpm "$@" 2>/dev/null; }

# "MODE OWNER GROUP PATH" of each entry, build-id links aside
list() { q -qlvp "$(rpmf "$1")" | awk '$NF !~ /\.build-id/ && $0 !~ /\.build-id/ { print $1, $3, $4, $NF }' | sort; }
expect_rpm() {
	local p=$1; shift
	local want got
	want=$(printf '%s\n' "$@" | sort)
	got=$(list "$p" | grep -Ev ' /usr/bin/tokenseal$| /usr/share/man/man1/| /usr/lib/systemd/system/tokenseal-broker\.(socket|service)$| /usr/share/bash-completion/completions/tokenseal$')
	[ "$want" = "$got" ] || bad "$p: want
$want
got
$got"
}
expect_rpm tokenseal \
	"drwxr-xr-x root root /etc/tokenseal" \
	"-rw-r--r-- root root /etc/tokenseal/tokenseal.conf" \
	"drwxr-xr-x root root /usr/libexec/tokenseal" \
	"-rwxr-xr-x root root /usr/libexec/tokenseal/tokenseal-broker" \
	"-rw-r--r-- root root /usr/share/man/man5/tokenseal.conf.5.gz" \
	"-rw-r--r-- root root /usr/share/man/man8/tokenseal-broker.8.gz" \
	"drwx------ root root /var/lib/tokenseal" \
	"drwxr-xr-x root root /var/lib/tokenseal-nss"
expect_rpm tokenseal-pam \
	"-rwxr-xr-x root root /usr/lib64/security/pam_tokenseal.so" \
	"-rw-r--r-- root root /usr/share/man/man8/pam_tokenseal.8.gz"
expect_rpm tokenseal-nss \
	"-rwxr-xr-x root root /usr/lib64/libnss_tokenseal.so.2" \
	"-rw-r--r-- root root /usr/share/man/man8/nss_tokenseal.8.gz"
for p in tokenseal tokenseal-pam tokenseal-nss; do
	s=$(q -qlvp "$(rpmf $p)" | awk 'substr($1,4,1) ~ /[sS]/ || substr($1,7,1) ~ /[sS]/')
	[ -z "$s" ] || bad "setuid/setgid entry in $p: $s"
done
[ "$(q -qp --configfiles "$(rpmf tokenseal)")" = /etc/tokenseal/tokenseal.conf ] ||
	bad "config files of tokenseal: $(q -qp --configfiles "$(rpmf tokenseal)")"
scripts=$(q -qp --scripts "$(rpmf tokenseal)")
grep -q 'tokenseal keystore init' <<<"$scripts" || bad "%post does not run tokenseal keystore init"
grep -q 'tokenseal-broker.socket' <<<"$scripts" || bad "no systemd scriptlet for tokenseal-broker.socket"
for p in tokenseal-pam tokenseal-nss; do
	q -qp --scripts "$(rpmf $p)" | grep -Eq 'nsswitch|pam\.d|authselect' &&
		bad "$p scriptlets touch the PAM or NSS configuration"
done

# ---- install into a scratch root ------------------------------------------------
root=$(mktemp -d /tmp/ts-rpmroot.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/usr/bin" "$root/lib64" "$root/tmp" "$root/var/lib/rpm"
cp /bin/dash "$root/bin/sh"
for lib in $(ldd /bin/dash | grep -o '/[^ ]*'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
rpm --root "$root" --dbpath /var/lib/rpm --initdb
log=$root/../$(basename "$root").log
if ! rpm --root "$root" --dbpath /var/lib/rpm --nodeps -i \
	"$(rpmf tokenseal)" "$(rpmf tokenseal-pam)" "$(rpmf tokenseal-nss)" >"$log" 2>&1; then
	cat "$log"; bad "rpm -i into the scratch root failed"
fi
grep -i 'scriptlet failed\|error:' "$log" && bad "a scriptlet failed in the scratch root"
rm -f "$log"
st() { stat -c '%A %U %G' "$root$1" 2>/dev/null || echo "missing"; }
for e in "drwx------ root root /var/lib/tokenseal" \
	"-rw-r--r-- root root /etc/tokenseal/tokenseal.conf" \
	"-rwxr-xr-x root root /usr/libexec/tokenseal/tokenseal-broker" \
	"-rwxr-xr-x root root /usr/lib64/security/pam_tokenseal.so" \
	"-rwxr-xr-x root root /usr/lib64/libnss_tokenseal.so.2"; do
	path=${e##* }
	[ "$(st "$path")" = "${e% *}" ] || bad "$path in the scratch root: $(st "$path"), want ${e% *}"
done
s=$(find "$root" -perm /6000)
[ -z "$s" ] || bad "setuid/setgid files in the scratch root: $s"
cmp -s "$root/etc/tokenseal/tokenseal.conf" "$src/docs/tokenseal.conf.example" ||
	bad "the installed config differs from docs/tokenseal.conf.example"
[ "$(rpm --root "$root" --dbpath /var/lib/rpm -qa 2>/dev/null | sort | tr '\n' ' ')" = \
	"tokenseal-$version-1.x86_64 tokenseal-nss-$version-1.x86_64 tokenseal-pam-$version-1.x86_64 " ] ||
	bad "rpm -qa in the scratch root: $(rpm --root "$root" --dbpath /var/lib/rpm -qa 2>/dev/null)"
# erase: the packaged files go (the scriptlets run again)
rpm --root "$root" --dbpath /var/lib/rpm --nodeps -e tokenseal-nss tokenseal-pam tokenseal \
	>/dev/null 2>&1 || bad "rpm -e in the scratch root failed"
[ ! -e "$root/usr/libexec/tokenseal/tokenseal-broker" ] || bad "rpm -e left the broker"
[ $fail = 0 ] && echo "ok: the .rpms hold what they should and install cleanly"
exit $fail
