#!/bin/sh
# bench/nss: libnss_tokenseal.so.2 over a cache of N users beside glibc's
# `files` module over an /etc/passwd with the same N users, both through
# glibc's real NSS dispatch, in one run:
#   (a) many lookups of random names in one process (ns per lookup)
#   (b) the first lookup in a fresh process (median of R processes)
# Each side runs in a private mount namespace (unshare -m) with a test
# passwd and nsswitch.conf bind-mounted over the real ones; the module is
# found through LD_LIBRARY_PATH and the cache through TOKENSEAL_NSS_CACHE.
# Prints the ratios tokenseal/files (target <= 0.5); never fails on a ratio.
# Needs root and unshare: SKIPPED (exit 77) otherwise.
# Usage: nss.sh BENCH_NSS MODULE_DIR [N [LOOKUPS [R]]]
bench=$1 moddir=$2 n=${3:-10000} loops=${4:-20000} runs=${5:-31}
[ -x "$bench" ] && [ -f "$moddir/libnss_tokenseal.so.2" ] || { echo "FAIL: usage"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: needs root (bind mounts over /etc/passwd)"; exit 77; }
command -v unshare >/dev/null || { echo "SKIPPED: unshare not installed"; exit 77; }
unshare -m true 2>/dev/null || { echo "SKIPPED: unshare -m not permitted here"; exit 77; }
if [ -S /var/run/nscd/socket ] || [ -S /run/nscd/socket ]; then
	echo "note: nscd is running; glibc may answer from it (both sides alike)"
fi
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
"$bench" make "$dir" "$n" || { echo "FAIL: bench_nss make"; exit 1; }
echo "cache: $(wc -c <"$dir/users.cache") bytes, passwd: $(wc -c <"$dir/passwd.big") bytes, $n users"

# side NAME: run the lookups with that side's passwd and nsswitch.conf
side() {
	if [ "$1" = files ]; then passwd=$dir/passwd.big; else passwd=/etc/passwd; fi
	unshare -m sh -c '
		set -e
		mount --make-rprivate /
		mount --bind "$1" /etc/nsswitch.conf
		[ "$2" = /etc/passwd ] || mount --bind "$2" /etc/passwd
		shift 2
		exec "$@"' sh "$dir/nsswitch.$1" "$passwd" \
		env LD_LIBRARY_PATH="$moddir" TOKENSEAL_NSS_CACHE="$dir/users.cache" \
		sh -c '
		b=$1 n=$2 loops=$3 runs=$4
		echo "many $("$b" many "$n" "$loops")" || exit 1
		i=0
		while [ $i -lt "$runs" ]; do
			"$b" first "$n" $((i + 1)) || exit 1
			i=$((i + 1))
		done | sort -n | awk "{ v[NR] = \$1 } END { print \"first\", v[int((NR + 1) / 2)] }"
		' sh "$bench" "$n" "$loops" "$runs"
}
files=$(side files) || { echo "FAIL: files side: $files"; exit 1; }
ts=$(side tokenseal) || { echo "FAIL: tokenseal side: $ts"; exit 1; }
fm=$(echo "$files" | awk '$1 == "many" { print $2 }')
ff=$(echo "$files" | awk '$1 == "first" { print $2 }')
tm=$(echo "$ts" | awk '$1 == "many" { print $2 }')
tf=$(echo "$ts" | awk '$1 == "first" { print $2 }')
[ -n "$fm" ] && [ -n "$ff" ] && [ -n "$tm" ] && [ -n "$tf" ] || { echo "FAIL: no timings"; exit 1; }
echo "(a) $loops lookups in one process: files $fm ns/lookup, tokenseal $tm ns/lookup"
echo "(b) first lookup in a fresh process (median of $runs): files $ff ns, tokenseal $tf ns"
awk -v fm="$fm" -v tm="$tm" -v ff="$ff" -v tf="$tf" 'BEGIN {
	printf "many-lookups ratio: %.3f (target <= 0.5)\n", tm / fm
	printf "first-lookup ratio: %.3f (target <= 0.5)\n", tf / ff
}'
