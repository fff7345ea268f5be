#!/usr/bin/env bash
# test_deb_lintian.sh SRC PKGDIR: lintian on the built .debs reports no
# error, and every warning it reports is one packaging/README.md lists (with
# its reason) in the "Kept lintian warnings" table: a new warning fails
# until it is fixed or explained there.
set -uo pipefail
src=$1 dir=$2
command -v lintian >/dev/null || { echo "SKIPPED: lintian is missing (apt-get install lintian)"; exit 77; }
version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
changes=$dir/tokenseal_${version}_${arch}.changes
[ -f "$changes" ] || { echo "FAIL: $changes was not built"; exit 1; }

out=$(lintian --tag-display-limit 0 "$changes" 2>&1 | grep -v '^running with root privileges')
echo "$out"
fail=0
if grep -q '^E: ' <<<"$out"; then
	echo "FAIL: lintian reports errors"
	fail=1
fi
# tags listed in the README table: | `tag` | package | reason |
kept=$(sed -n '/^#* *Kept lintian warnings/,/^## /p' "$src/packaging/README.md" |
	sed -n 's/^| `\([a-z0-9.+-]*\)` | `\([a-z0-9.+-]*\)` |.*/\2 \1/p')
while read -r pkg tag; do
	[ -n "$tag" ] || continue
	if ! grep -qx "$pkg $tag" <<<"$kept"; then
		echo "FAIL: lintian warning $tag on $pkg is not listed in packaging/README.md"
		fail=1
	fi
done < <(sed -n 's/^W: \([^:]*\): \([a-z0-9.+-]*\).*/\1 \2/p' <<<"$out" | sort -u)
[ $fail = 0 ] && echo "ok: lintian reports no error, and every warning kept is explained"
exit $fail
