#!/usr/bin/env bash
# build.sh deb|rpm SRC OUT: scripts/build-packages --deb|--rpm --out OUT,
# SKIPPED when the build tools are missing.
set -euo pipefail
kind=$1 src=$2 out=$3
case $kind in
deb)
	for t in dpkg-buildpackage dh; do
		command -v $t >/dev/null || { echo "SKIPPED: $t is missing (apt-get install dpkg-dev debhelper)"; exit 77; }
	done
	if ! dpkg-checkbuilddeps "$src/packaging/debian/control" 2>/tmp/ts-pkg-deps.$$; then
		echo "SKIPPED: build dependencies missing: $(cat /tmp/ts-pkg-deps.$$)"; rm -f /tmp/ts-pkg-deps.$$; exit 77
	fi
	rm -f /tmp/ts-pkg-deps.$$
	;;
rpm)
	command -v rpmbuild >/dev/null || { echo "SKIPPED: rpmbuild is missing (apt-get install rpm)"; exit 77; }
	;;
*) echo "usage: build.sh deb|rpm SRC OUT" >&2; exit 2 ;;
esac
exec "$src/scripts/build-packages" --"$kind" --out "$out"
