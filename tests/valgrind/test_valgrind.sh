#!/bin/sh
# valgrind memcheck over the broker, the PAM module, the NSS module and the
# command (issue 18, label valgrind), against the real test IdP:
#   - the PAM module in pamtester under pam_wrapper: a password login, then
#     account, open_session and close_session (revoke_on = logout);
#   - the broker in exec mode (every request of the module and the command
#     runs it through a wrapper that starts it under valgrind): login, use,
#     refresh, status, logout;
#   - the command: status, token, refresh --force, logout;
#   - the NSS module in getent under nss_wrapper, over a cache with users
#     and their server groups written by nsscache_tool (the broker's writer
#     API; the broker itself publishes no name a local account has, and the
#     test users are local): passwd by name, group enumeration (long: by
#     uid, passwd enumeration, id).
# Every process runs under valgrind --error-exitcode=99 --leak-check=full
# --errors-for-leak-kinds=definite with tests/valgrind/valgrind.supp, and
# every valgrind log must stay empty (-q: only reports are written). CI
# runs this short set; TS_TEST_LONG=1 adds the daemon (tokenseal-broker
# --daemon under valgrind serving status, refresh and a PAM use, then
# SIGTERM), `tokenseal token` and more NSS lookups.
# Usage: test_valgrind.sh BROKER CLI PAM_MODULE NSS_MODULE PAM_WRAPPER_LIB NSS_WRAPPER_LIB
#        NSSCACHE_TOOL
set -u
broker=$1 cli=$2 pammod=$3 nssmod=$4 pamwrap=$5 nsswrap=$6 tool=$7
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
supp=$here/valgrind.supp
long=${TS_TEST_LONG:-0}
if [ "$long" = 1 ]; then
	echo "valgrind: the long set (TS_TEST_LONG=1: + the daemon, token, more NSS lookups)"
else
	echo "valgrind: the CI set (TS_TEST_LONG=1 adds the daemon, token, more NSS lookups)"
fi

skip() { echo "SKIPPED: $*"; exit 77; }
[ "${TS_SANITIZE:-0}" = 1 ] && skip "an ASan+UBSan build: valgrind runs in the plain build"
[ "$(id -u)" -eq 0 ] || skip "needs root (the broker acts for alice)"
command -v valgrind >/dev/null || skip "valgrind not installed (apt-get install valgrind)"
command -v pamtester >/dev/null || skip "pamtester not installed"
command -v getent >/dev/null || skip "getent not installed"
getent passwd alice >/dev/null || skip "local user alice missing: scripts/test creates it"
[ -f "$pamwrap" ] || skip "pam_wrapper not found (libpam-wrapper)"
[ -f "$nsswrap" ] || skip "nss_wrapper not found (libnss-wrapper)"
[ -d "$top/tests/fixtures/idp/node_modules" ] ||
	skip "the test IdP's node_modules are missing: run npm ci in tests/fixtures/idp; scripts/test does"

tmp=$(mktemp -d /tmp/tokenseal-valgrind.XXXXXX) || exit 1
idp=$tmp/idp
daemon_pid=
cleanup() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null
	"$top/tests/fixtures/idp/stop" --state-dir "$idp" >/dev/null 2>&1
	[ "${TS_VG_KEEP:-0}" = 1 ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

mkdir -p "$tmp/vg" "$tmp/services" "$idp"
"$top/tests/fixtures/idp/start" --state-dir "$idp" --watch-pid $$ >"$tmp/idp-start.log" 2>&1 ||
	{ cat "$tmp/idp-start.log"; echo "FAIL: the test IdP did not start"; exit 1; }
. "$idp/env"

vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite --num-callers=30 --suppressions=$supp"

# the broker, under valgrind whenever the module or the command runs it
cat >"$tmp/broker-vg" <<EOF
#!/bin/sh -p
exec $(echo $vg) --log-file=$tmp/vg/broker.%p.log '$broker' --debug "\$@" 2>>'$tmp/broker.log'
EOF
chmod 0755 "$tmp/broker-vg"

conf=$tmp/tokenseal.conf
cat >"$conf" <<EOF
issuer = $TS_IDP_ISSUER
client_id = $TS_IDP_CONF_CLIENT
client_secret_file = $TS_IDP_CONF_SECRET_FILE
ca_file = $TS_IDP_CA
keystore_dir = $tmp/keystore
key_file = $tmp/keystore.key
socket_path = $tmp/no-daemon.sock
nss_cache = $tmp/nss/users.cache
broker_path = $tmp/broker-vg
login_methods = password
revoke_on = logout
debug = yes
http_timeout = 60
EOF
chmod 0644 "$conf"
for phase in auth account session; do
	printf '%-8s required %s config=%s debug\n' "$phase" "$pammod" "$conf"
done >"$tmp/services/tokenseal-vg"

# pamtester (and what it runs) under valgrind, pam_wrapper preloaded into
# pamtester only (env is the first image valgrind traces; the broker
# wrapper is a shell script, not traced: it starts its own valgrind)
pam() {
	_what=$1
	shift
	printf 'alice-pw\n' | $vg --log-file="$tmp/vg/pam-$_what.%p.log" --trace-children=yes \
		--trace-children-skip='*/sh,*/dash,*/bash,*/broker-vg' \
		/usr/bin/env LD_PRELOAD="$pamwrap" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$tmp/services" \
		PAM_WRAPPER_DISABLE_DEEPBIND=1 PAM_WRAPPER_DEBUGLEVEL=2 \
		pamtester -v tokenseal-vg alice "$@" >"$tmp/pam-$_what.out" 2>&1
	_rc=$?
	[ $_rc -eq 0 ] || { cat "$tmp/pam-$_what.out"; fail "pamtester $_what: exit $_rc"; }
}
cli() {
	$vg --log-file="$tmp/vg/cli-$1.%p.log" env TOKENSEAL_CONFIG="$conf" "$cli" "$@" --user alice \
		>"$tmp/cli-$1.out" 2>&1
	_rc=$?
	[ $_rc -eq 0 ] || { cat "$tmp/cli-$1.out"; fail "tokenseal $1: exit $_rc"; }
}
nss() {
	_want=$1
	shift
	_got=$($vg --log-file="$tmp/vg/nss-$1.%p.log" --trace-children=yes /usr/bin/env \
		LD_PRELOAD="$nsswrap" NSS_WRAPPER_PASSWD="$tmp/passwd" NSS_WRAPPER_GROUP="$tmp/group" \
		NSS_WRAPPER_MODULE_SO_PATH="$nssmod" NSS_WRAPPER_MODULE_FN_PREFIX=tokenseal \
		TOKENSEAL_NSS_CACHE="$tmp/nss/users.cache" NSS_WRAPPER_DISABLE_DEEPBIND=1 \
		getent "$@" 2>&1)
	_rc=$?
	[ $_rc -eq 0 ] || fail "getent $*: exit $_rc"
	case "$_got" in *"$_want"*) ;; *) fail "getent $*: [$_got], wanted [$_want]" ;; esac
}

start=$(date +%s)
# ---- the PAM module and the broker (exec mode) ----
pam login authenticate acct_mgmt open_session
# ---- the command (exec mode, root acting for alice) ----
cli status
[ "$long" = 1 ] && cli token
cli refresh --force
# ---- the NSS module ----
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tmp/passwd"
printf 'root:x:0:\n' >"$tmp/group"
mkdir -p "$tmp/nss"
"$tool" "$tmp/nss/users.cache" --add 'sub-x:ext-xavier:Xavier' --add sub-y:ext-yve \
	--groups ext-xavier:linux-users,admins --groups ext-yve:linux-users >"$tmp/tool.out" ||
	fail "nsscache_tool could not write the cache"
ux=$(awk '$1 == "ext-xavier" { print $2 }' "$tmp/tool.out")
nss "ext-xavier:*:$ux:" passwd ext-xavier
nss "linux-users:" group
if [ "$long" = 1 ]; then
	nss "ext-xavier:*:$ux:" passwd "$ux"
	nss "ext-yve:*:" passwd
	nss "ext-xavier " initgroups ext-xavier
fi
# ---- the daemon (long set) ----
if [ "$long" = 1 ]; then
	sock=$tmp/d.sock
	sed -i "s|^socket_path = .*|socket_path = $sock|" "$conf"
	$vg --log-file="$tmp/vg/daemon.%p.log" "$broker" --daemon --foreground --debug --config "$conf" \
		>>"$tmp/daemon.log" 2>&1 &
	daemon_pid=$!
	i=0
	until grep -q "serving on" "$tmp/daemon.log" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 600 ] || { cat "$tmp/daemon.log"; fail "the daemon did not start"; break; }
		sleep 0.1
	done
	cli status
	cli refresh --force
	pam use acct_mgmt open_session
	kill -TERM "$daemon_pid"
	wait "$daemon_pid" || fail "the daemon under valgrind: exit $?"
	daemon_pid=
	sed -i "s|^socket_path = .*|socket_path = $tmp/no-daemon.sock|" "$conf"
fi
# ---- logout: the session's close (revoke_on = logout), exec mode ----
pam logout close_session
grep -q "signed out\|revoked" "$tmp/broker.log" || fail "the close_session logout left no trace in the broker log"

# ---- every valgrind log: no error, no definite leak ----
n=0 nb=0
for log in "$tmp"/vg/*.log; do
	[ -f "$log" ] || continue
	n=$((n + 1))
	case $log in */broker.*) nb=$((nb + 1)) ;; esac
	# -q: valgrind writes nothing but a report (an error, a definite leak)
	if [ -s "$log" ]; then
		echo "--- $log"
		cat "$log"
		fail "valgrind reported errors in $(basename "$log")"
	fi
done
echo "valgrind: $n processes checked ($nb broker runs) in $(($(date +%s) - start)) s"
[ $nb -ge 5 ] || fail "only $nb broker runs were checked under valgrind"
[ $n -ge 9 ] || fail "only $n valgrind logs"
if [ $fails -ne 0 ]; then
	echo "--- broker log (tail)"
	tail -40 "$tmp/broker.log"
	echo "FAIL: $fails problems"
	exit 1
fi
echo "PASS: zero valgrind reports"
