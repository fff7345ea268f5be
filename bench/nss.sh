#!/bin/sh
# bench/nss: libnss_tokenseal.so.2 over a cache of N users beside glibc's
# `files` module over an /etc/passwd with the same N users, both through
# glibc's real NSS dispatch, in one run:
#   (a) many lookups of random names in one process (ns per lookup)
#   (b) the first lookup in a fresh process (median of R processes)
# Each side runs in a private mount namespace (unshare -m) with a test
# passwd and nsswitch.conf bind-mounted over the real ones; the module is
# found through LD_LIBRARY_PATH and the cache through TOKENSEAL_NSS_CACHE.
# With G groups (each user in PER of them; /etc/group bind-mounted too):
#   (c) getgrnam of random groups, (d) getgrouplist (initgroups) of random
#       users, LOOKUPS / 10 of each in one process
# Prints the ratios tokenseal/files (target <= 0.5) and "ROW" lines for
# bench/run; never fails on a ratio.
# Needs root and unshare: SKIPPED (exit 77) otherwise.
# Usage: nss.sh BENCH_NSS MODULE_DIR [N [LOOKUPS [R [G [PER]]]]]
bench=$1 moddir=$2 n=${3:-10000} loops=${4:-20000} runs=${5:-31} g=${6:-0} per=${7:-0}
gloops=$((loops / 10))
[ -x "$bench" ] && [ -f "$moddir/libnss_tokenseal.so.2" ] || { echo "FAIL: usage"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: needs root (bind mounts over /etc/passwd)"; exit 77; }
command -v unshare >/dev/null || { echo "SKIPPED: unshare not installed"; exit 77; }
unshare -m true 2>/dev/null || { echo "SKIPPED: unshare -m not permitted here"; exit 77; }
if [ -S /var/run/nscd/socket ] || [ -S /run/nscd/socket ]; then
	echo "note: nscd is running; glibc may answer from it (both sides alike)"
fi
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
if [ "$g" -gt 0 ]; then
	"$bench" make "$dir" "$n" "$g" "$per" || { echo "FAIL: bench_nss make"; exit 1; }
else
	"$bench" make "$dir" "$n" || { echo "FAIL: bench_nss make"; exit 1; }
fi
echo "cache: $(wc -c <"$dir/users.cache") bytes, passwd: $(wc -c <"$dir/passwd.big") bytes, $n users"

# side NAME: run the lookups with that side's passwd and nsswitch.conf
side() {
	if [ "$1" = files ]; then passwd=$dir/passwd.big; else passwd=/etc/passwd; fi
	group=/etc/group
	[ "$1" = files ] && [ "$g" -gt 0 ] && group=$dir/group.big
	unshare -m sh -c '
		set -e
		mount --make-rprivate /
		mount --bind "$1" /etc/nsswitch.conf
		[ "$2" = /etc/passwd ] || mount --bind "$2" /etc/passwd
		[ "$3" = /etc/group ] || mount --bind "$3" /etc/group
		shift 3
		exec "$@"' sh "$dir/nsswitch.$1" "$passwd" "$group" \
		env LD_LIBRARY_PATH="$moddir" TOKENSEAL_NSS_CACHE="$dir/users.cache" \
		sh -c '
		b=$1 n=$2 loops=$3 runs=$4 g=$5 per=$6 gloops=$7
		echo "many $("$b" many "$n" "$loops")" || exit 1
		if [ "$g" -gt 0 ]; then
			echo "getgr $("$b" getgr "$g" "$gloops")" || exit 1
			echo "initgroups $("$b" initgroups "$n" "$per" "$gloops")" || exit 1
		fi
		i=0
		while [ $i -lt "$runs" ]; do
			"$b" first "$n" $((i + 1)) || exit 1
			i=$((i + 1))
		done | sort -n | awk "{ v[NR] = \$1 } END { print \"first\", v[int((NR + 1) / 2)] }"
		' sh "$bench" "$n" "$loops" "$runs" "$g" "$per" "$gloops"
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
awk -v fm="$fm" -v tm="$tm" -v ff="$ff" -v tf="$tf" -v n="$n" 'BEGIN {
	printf "many-lookups ratio: %.3f (target <= 0.5)\n", tm / fm
	printf "first-lookup ratio: %.3f (target <= 0.5)\n", tf / ff
	printf "ROW\t8\tNSS getpwnam, %d users, one process / nss_files\t%.0f ns\t%.0f ns\t%.3f\t<= 0.5\tsame users in /etc/passwd\n", n, tm, fm, tm / fm
	printf "ROW\t8\tNSS getpwnam, first lookup of a fresh process / nss_files\t%.0f ns\t%.0f ns\t%.3f\t<= 0.5\tmedian of fresh processes\n", tf, ff, tf / ff
}'
if [ "$g" -gt 0 ]; then
	fg=$(echo "$files" | awk '$1 == "getgr" { print $2 }')
	fi=$(echo "$files" | awk '$1 == "initgroups" { print $2 }')
	tg=$(echo "$ts" | awk '$1 == "getgr" { print $2 }')
	ti=$(echo "$ts" | awk '$1 == "initgroups" { print $2 }')
	[ -n "$fg" ] && [ -n "$fi" ] && [ -n "$tg" ] && [ -n "$ti" ] || { echo "FAIL: no group timings"; exit 1; }
	echo "(c) $gloops getgrnam: files $fg ns/lookup, tokenseal $tg ns/lookup"
	echo "(d) $gloops getgrouplist: files $fi ns/lookup, tokenseal $ti ns/lookup"
	awk -v fg="$fg" -v tg="$tg" -v fi="$fi" -v ti="$ti" -v n="$n" -v g="$g" -v per="$per" 'BEGIN {
	printf "ROW\t8\tNSS getgrnam, %d users x %d groups / nss_files\t%.0f ns\t%.0f ns\t%.3f\t<= 0.5\teach user in %d groups, %d members a group\n", n, g, tg, fg, tg / fg, per, n * per / g
	printf "ROW\t8\tNSS initgroups (getgrouplist), %d users x %d groups / nss_files\t%.0f ns\t%.0f ns\t%.3f\t<= 0.5\tsame data in /etc/group\n", n, g, ti, fi, ti / fi
	}'
fi
