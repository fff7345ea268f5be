#!/bin/sh
# libnss_tokenseal.so.2 under nss_wrapper, through the real tools: getent
# passwd NAME / UID, enumeration, groups, id NAME, nss_resolve_unknown, a
# cache of 10 000 users, uid stability across rebuilds, collisions and
# tombstones, a damaged cache. Caches are built with nsscache_tool (the
# writer API the broker uses) and found through TOKENSEAL_NSS_CACHE.
# Usage: test_nss_getent.sh NSSCACHE_TOOL  (CTest sets the nss_wrapper env)
tool=$1
case $LD_PRELOAD in
*nss_wrapper*) ;;
*) echo "SKIPPED: not run under nss_wrapper (libnss-wrapper not installed)"; exit 77 ;;
esac
for t in getent id; do
	command -v $t >/dev/null || { echo "SKIPPED: $t not installed"; exit 77; }
done
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
export TOKENSEAL_NSS_CACHE="$tmp/nss/users.cache"
unset _TOKENSEAL_NSS_LOOP
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# expect "what" "wanted output" command...
expect() {
	_what=$1 _want=$2
	shift 2
	_got=$("$@" 2>&1)
	[ "$_got" = "$_want" ] || fail "$_what: got [$_got], wanted [$_want]"
}

out=$("$tool" "$TOKENSEAL_NSS_CACHE" --regex 'ext-[a-z]+' --shell /bin/sh \
	--add 'sub-a:alice:Alice Example' --add sub-b:bob --add sub-c:carol) || exit 1
ua=$(echo "$out" | awk '$1 == "alice" { print $2 }')
ub=$(echo "$out" | awk '$1 == "bob" { print $2 }')
uc=$(echo "$out" | awk '$1 == "carol" { print $2 }')
echo "alice=$ua bob=$ub carol=$uc"

# by name, by uid
expect "passwd alice" "alice:*:$ua:$ua:Alice Example:/home/alice:/bin/sh" getent passwd alice
expect "passwd uid" "bob:*:$ub:$ub::/home/bob:/bin/sh" getent passwd "$ub"
expect "group name" "carol:*:$uc:" getent group carol
expect "group gid" "alice:*:$ua:" getent group "$ua"
expect "id" "uid=$ua(alice) gid=$ua(alice) groups=$ua(alice)" id alice
expect "id -un" "bob" id -un "$ub"
# local accounts still come first and stay themselves
expect "root" "root:x:0:0:root:/root:/bin/sh" getent passwd root
# unknown names, invalid names: exit 2 (not found), nothing printed
getent passwd nobody-such >/dev/null; [ $? -eq 2 ] || fail "unknown name found"
getent passwd 'a:b' >/dev/null; [ $? -eq 2 ] || fail "invalid name found"
getent group ext-new >/dev/null; [ $? -eq 2 ] || fail "regex resolves groups"

# enumeration: local first, then the cache in uid order
want=$(printf 'alice %s\nbob %s\ncarol %s\n' "$ua" "$ub" "$uc" | sort -k2 -n | cut -d' ' -f1)
expect "enumerate" "root
$want" sh -c 'getent passwd | cut -d: -f1'
expect "enumerate groups" "root
$want" sh -c 'getent group | cut -d: -f1'

# nss_resolve_unknown: a matching name resolves before its first login, and
# the first login keeps the uid it was shown
pre=$(getent passwd ext-dave) || fail "ext-dave does not resolve"
ud=$(echo "$pre" | cut -d: -f3)
expect "pre-resolved" "ext-dave:*:$ud:$ud::/home/ext-dave:/bin/sh" echo "$pre"
out=$("$tool" "$TOKENSEAL_NSS_CACHE" --load --regex 'ext-[a-z]+' --shell /bin/sh \
	--add 'sub-d:ext-dave:Dave') || exit 1
expect "first login keeps the shown uid" "ext-dave $ud" echo "$out"
expect "after login" "ext-dave:*:$ud:$ud:Dave:/home/ext-dave:/bin/sh" getent passwd ext-dave
expect "now has a group" "ext-dave:*:$ud:" getent group ext-dave

# stability: a second login, a rebuild from the file and from nothing
"$tool" "$TOKENSEAL_NSS_CACHE" --load --add sub-a:alice >/dev/null || exit 1
expect "after reload" "$ua" sh -c 'getent passwd alice | cut -d: -f3'
"$tool" "$TOKENSEAL_NSS_CACHE" --add sub-c:carol --add sub-b:bob --add sub-a:alice >/dev/null || exit 1
expect "rebuilt from nothing" "$ua $ub $uc" sh -c \
	'echo $(getent passwd alice bob carol | cut -d: -f3)'

# tombstones: the name is gone, its uid never comes back for someone else
"$tool" "$TOKENSEAL_NSS_CACHE" --load --tombstone bob --add sub-new:bob >/dev/null || exit 1
nb=$(getent passwd bob | cut -d: -f3)
[ -n "$nb" ] && [ "$nb" != "$ub" ] || fail "new bob got the tombstone's uid ($nb)"
getent passwd "$ub" >/dev/null; [ $? -eq 2 ] || fail "tombstone uid resolves"

# a collision in a range of 4: the second subject takes the next slot, and
# keeps it across rebuilds of the file
small="$tmp/small/users.cache"
out=$(TOKENSEAL_NSS_CACHE=$small "$tool" "$small" --range 5000-5003 \
	--add s0:u0 --add s1:u1 --add s2:u2 --add s3:u3) || exit 1
n=$(echo "$out" | awk '{ print $2 }' | sort -u | wc -l)
[ "$n" -eq 4 ] || fail "4 subjects in 4 slots got $n distinct uids: $out"
TOKENSEAL_NSS_CACHE=$small "$tool" "$small" --load --range 5000-5003 --tombstone u2 >/dev/null
out2=$(TOKENSEAL_NSS_CACHE=$small "$tool" "$small" --load --range 5000-5003 \
	--add s3:u3 --add s0:u0 --add s1:u1) || exit 1
[ "$(echo "$out2" | sort)" = "$(echo "$out" | grep -v '^u2 ' | sort)" ] ||
	fail "uids moved after a rebuild: [$out] then [$out2]"
TOKENSEAL_NSS_CACHE=$small "$tool" "$small" --load --range 5000-5003 --add s9:u9 \
	>/dev/null 2>&1 && fail "a fifth subject got a uid in a full range (tombstone reused)"

# a fixed primary gid (nss_gid): passwd carries it, the module answers no groups
fixed="$tmp/fixed/users.cache"
"$tool" "$fixed" --gid 100 --home /srv/home/%U --add s1:gina >/dev/null || exit 1
ug=$(TOKENSEAL_NSS_CACHE=$fixed getent passwd gina | cut -d: -f3)
expect "fixed gid" "gina:*:$ug:100::/srv/home/$ug:/bin/bash" \
	env TOKENSEAL_NSS_CACHE="$fixed" getent passwd gina
TOKENSEAL_NSS_CACHE=$fixed getent group gina >/dev/null; [ $? -eq 2 ] || fail "fixed gid: group answered"
TOKENSEAL_NSS_CACHE=$fixed getent group "$ug" >/dev/null; [ $? -eq 2 ] || fail "fixed gid: gid answered"

# 10 000 users
big="$tmp/big/users.cache"
"$tool" "$big" --users 10000 --passwd "$tmp/big.passwd" || exit 1
n=$(TOKENSEAL_NSS_CACHE=$big getent passwd | grep -c '^user')
[ "$n" -eq 10000 ] || fail "enumerated $n of 10000 users"
for i in 0 1 4242 9999; do
	want=$(grep "^user$i:" "$tmp/big.passwd" | sed 's/:x:/:*:/')
	expect "user$i of 10000" "$want" env TOKENSEAL_NSS_CACHE="$big" getent passwd user$i
done

# a damaged cache: NOTFOUND (exit 2), no crash
head -c 100 "$big" >"$tmp/trunc.cache"
TOKENSEAL_NSS_CACHE=$tmp/trunc.cache getent passwd user1 >/dev/null
[ $? -eq 2 ] || fail "truncated cache answered"
printf 'garbage' >"$tmp/garbage.cache"
TOKENSEAL_NSS_CACHE=$tmp/garbage.cache getent passwd user1 >/dev/null
[ $? -eq 2 ] || fail "garbage cache answered"

# issue 15 (attack): names the broker never writes (a cache from an older
# version, or a tampered writer) are never answered. The other sources here
# are nss_wrapper's files, with a local group devops.
bad="$tmp/bad/users.cache"
printf 'root:x:0:\ndevops:x:1500:\n' >"$tmp/group"
out=$("$tool" "$bad" --add s1:sudo --add s2:wheel --add s3:systemd-x --add s4:devops \
	--add s5:okuser) || exit 1
ok=$(echo "$out" | awk '$1 == "okuser" { print $2 }')
nb() { env NSS_WRAPPER_GROUP="$tmp/group" TOKENSEAL_NSS_CACHE="$bad" "$@"; }
for n in sudo wheel systemd-x devops; do
	u=$(echo "$out" | awk -v n=$n '$1 == n { print $2 }')
	nb getent passwd $n >/dev/null; [ $? -eq 2 ] || fail "cache user $n answered by name"
	nb getent passwd "$u" >/dev/null; [ $? -eq 2 ] || fail "cache user $n answered by uid"
	nb getent group "$u" >/dev/null; [ $? -eq 2 ] || fail "cache group $n answered by gid"
done
expect "a local group keeps its name" "devops:x:1500:" nb getent group devops
expect "id of a cache user: no privileged group" "uid=$ok(okuser) gid=$ok(okuser) groups=$ok(okuser)" \
	nb id okuser
nb getent group | grep -E '^(sudo|wheel|systemd-x):' && fail "enumeration shows a reserved group"

# the recursion guard
_TOKENSEAL_NSS_LOOP=1 getent passwd alice >/dev/null
[ $? -eq 2 ] || fail "the recursion guard did not stop the lookup"

[ $fails -eq 0 ] && echo "ok: getent and id through the real module"
[ $fails -eq 0 ]
