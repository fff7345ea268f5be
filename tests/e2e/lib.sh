# tests/e2e/lib.sh: shared by the end-to-end tests (sourced; bash).
#
# Each test runs as root on the host where e2e.install installed the .debs
# (marker: $E2E_DIR/installed). It re-executes itself in a private mount
# namespace (unshare -m), where /etc/pam.d, /etc/tokenseal/tokenseal.conf
# and (for sudo) /etc/sudoers are bind-mounted private copies, so nothing in
# /etc changes on the host. It starts its own test authorization server
# (tests/fixtures/idp) in a state dir $S, and collects the logs of sshd,
# sudo, su and the broker (syslog, caught on /dev/log) in $S/logs/, which
# e2e_check_logs searches for tokens, passwords and the client secret.
#
# Daemon mode (E2E_DAEMON=1, the *_daemon twins of the tests): e2e_config
# also starts the installed "tokenseal-broker --daemon --foreground" on
# $S/broker.sock, the socket_path of the test config (systemd is not PID 1
# in CI, so the socket unit cannot start it), and e2e_finish fails unless the
# daemon served the test's requests.

set -uo pipefail
: "${E2E_SRC:?}" "${E2E_DIR:?}"
E2E_IDP=$E2E_SRC/tests/fixtures/idp
E2E_BROKER=/usr/libexec/tokenseal/tokenseal-broker

e2e_skip() { echo "SKIPPED: $*"; exit 77; }
e2e_fail() { echo "FAIL: $*"; E2E_FAILED=1; }
e2e_log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }

# e2e_preflight: root, the installed packages, the tools.
e2e_preflight() {
	[ "$(id -u)" -eq 0 ] || e2e_skip "needs root (installs the .debs and runs sshd, sudo and su)"
	[ -e "$E2E_DIR/installed" ] ||
		e2e_skip "the packages are not installed by e2e.install (see its output: not root, build failed, or tokenseal was already installed)"
	for t in unshare expect python3 node openssl; do
		command -v $t >/dev/null || e2e_skip "$t is missing (scripts/test installs it)"
	done
	[ -d "$E2E_IDP/node_modules/oidc-provider" ] ||
		e2e_skip "node_modules missing: run npm ci in tests/fixtures/idp (scripts/test does)"
	for u in alice bob; do
		getent passwd $u >/dev/null || e2e_skip "local user $u missing (scripts/test creates it)"
	done
}

# e2e_enter NAME: re-exec the calling script in a private mount namespace,
# then set up $S (state), the IdP, the logs and the private /etc copies.
e2e_enter() {
	local name=$1; shift
	if [ -z "${E2E_IN_NS:-}" ]; then
		export E2E_IN_NS=1
		exec unshare -m --propagation private -- "$BASH" "$0" "$@"
	fi
	E2E_FAILED=0
	S=$(mktemp -d "/tmp/ts-e2e-$name.XXXXXX")
	chmod 0700 "$S"
	mkdir -p "$S/logs" "$S/etc"
	E2E_PIDS=()
	E2E_DEVLOG_CREATED=0
	trap e2e_cleanup EXIT
	e2e_syslog
	e2e_log "state: $S"
	"$E2E_IDP/start" --state-dir "$S/idp" --watch-pid $$ --max-lifetime 900 >"$S/logs/idp-start.log" 2>&1 ||
		{ cat "$S/logs/idp-start.log"; e2e_fail "the test IdP did not start"; exit 1; }
	# shellcheck disable=SC1091
	. "$S/idp/env"
	# private /etc/pam.d
	cp -a /etc/pam.d "$S/etc/pam.d"
	mount --bind "$S/etc/pam.d" /etc/pam.d
}

# syslog: the broker and pam_tokenseal log with syslog(3); catch /dev/log.
e2e_syslog() {
	local sock=$S/devlog
	python3 - "$sock" "$S/logs/syslog.log" "$S/syslog-others.txt" <<'PY' &
# keep what processes of this mount namespace log (our sshd, sudo, su,
# broker); what other tests on the host log goes to a file left unchecked
import os, socket, struct, sys
path, out, others = sys.argv[1:4]
mine = os.readlink("/proc/self/ns/mnt")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as f, open(others, "ab", buffering=0) as g:
    while True:
        data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
        pid = 0
        for lvl, typ, val in anc:
            if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", val[:12])[0]
        try:
            ours = os.readlink("/proc/%d/ns/mnt" % pid) == mine
        except OSError:
            ours = True  # gone already: checked, to be safe
        (f if ours else g).write(data.rstrip(b"\n") + b"\n")
PY
	E2E_PIDS+=($!)
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	if [ -e /dev/log ]; then
		mount --bind "$sock" /dev/log
	else
		# no syslog on this host: our socket stands in while the test runs
		ln -s "$sock" /dev/log && E2E_DEVLOG_CREATED=1
	fi
}

e2e_cleanup() {
	local rc=$?
	set +e
	for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ -f "$S/sshd.pid" ] && kill "$(cat "$S/sshd.pid")" 2>/dev/null
	"$E2E_IDP/stop" --state-dir "$S/idp" >/dev/null 2>&1
	if [ "$E2E_DEVLOG_CREATED" = 1 ] && [ "$(readlink /dev/log)" = "$S/devlog" ]; then
		rm -f /dev/log
	fi
	[ "${E2E_RUNSSHD_CREATED:-0}" = 1 ] && rmdir /run/sshd 2>/dev/null
	if [ "${E2E_KEEP:-0}" = 1 ] || [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		echo "logs kept in $S/logs:"
		for f in "$S"/logs/*; do echo "---- $f"; tail -n 60 "$f"; done
		# keep the logs only: no secret (client secret, keys, keystore) stays
		find "$S" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
	else
		rm -rf "$S"
	fi
	exit $rc
}

# e2e_config [KEYSTORE]: the test config over /etc/tokenseal/tokenseal.conf.
# KEYSTORE "default": the package's /var/lib/tokenseal and master key;
# otherwise a private keystore in $S. Extra lines on stdin.
e2e_config() {
	local ks=${1:-private}
	{
		echo "issuer = $TS_IDP_ISSUER"
		echo "client_id = $TS_IDP_CONF_CLIENT"
		echo "client_secret_file = $TS_IDP_CONF_SECRET_FILE"
		echo "ca_file = $TS_IDP_CA"
		echo "socket_path = $S/broker.sock"
		if [ "$ks" != default ]; then
			echo "keystore_dir = $S/keystore"
			echo "key_file = $S/keystore.key"
		fi
		echo "login_methods = device"
		echo "device_timeout = 60"
		cat
	} >"$S/etc/tokenseal.conf"
	chmod 0644 "$S/etc/tokenseal.conf"
	mount --bind "$S/etc/tokenseal.conf" /etc/tokenseal/tokenseal.conf
	if [ "$ks" = default ]; then
		E2E_KEYSTORE=/var/lib/tokenseal
	else
		E2E_KEYSTORE=$S/keystore
	fi
	[ "${E2E_DAEMON:-0}" = 1 ] && e2e_start_daemon
	return 0
}

# e2e_start_daemon: the installed broker in daemon mode on the test config's
# socket, its --debug log in $S/logs/daemon.log (checked for secrets too).
e2e_start_daemon() {
	"$E2E_BROKER" --daemon --foreground --debug --config /etc/tokenseal/tokenseal.conf \
		>>"$S/logs/daemon.log" 2>&1 &
	E2E_PIDS+=($!)
	for _ in $(seq 1 100); do
		[ -S "$S/broker.sock" ] && return 0
		sleep 0.1
	done
	e2e_fail "the broker daemon did not start (see daemon.log)"
	exit 1
}

e2e_pam_service() { cat >"/etc/pam.d/$1"; chmod 0644 "/etc/pam.d/$1"; }

e2e_count() { "$E2E_IDP/ctl" --state-dir "$S/idp" count "$1"; }
e2e_ctl() { "$E2E_IDP/ctl" --state-dir "$S/idp" "$@" >>"$S/logs/idp-ctl.log" 2>&1; }
e2e_record() { echo "$E2E_KEYSTORE/users/$(id -u "$1").seal"; }

# ---- sshd ---------------------------------------------------------------------
# e2e_sshd SERVICE [sshd_config lines on stdin]: sshd on a free loopback
# port, its own host key, named SERVICE (a symlink) so PAM uses
# /etc/pam.d/SERVICE. Sets E2E_SSH_PORT.
e2e_sshd() {
	local svc=$1
	[ -x /usr/sbin/sshd ] || e2e_skip "sshd is missing (apt-get install openssh-server)"
	command -v ssh >/dev/null || e2e_skip "ssh is missing (apt-get install openssh-client)"
	# sshd's privilege separation needs /run/sshd; made here, removed after
	if [ ! -d /run/sshd ]; then
		mkdir -m 0755 /run/sshd && E2E_RUNSSHD_CREATED=1
	fi
	ssh-keygen -q -t ed25519 -N '' -f "$S/host_key" >/dev/null
	E2E_SSH_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$S/authorized_keys"
	chmod 0755 "$S" "$S/authorized_keys"
	{
		echo "Port $E2E_SSH_PORT"
		echo "ListenAddress 127.0.0.1"
		echo "HostKey $S/host_key"
		echo "PidFile $S/sshd.pid"
		echo "UsePAM yes"
		echo "PermitRootLogin ${E2E_SSHD_PERMIT_ROOT:-no}"
		echo "PasswordAuthentication no"
		echo "KbdInteractiveAuthentication yes"
		echo "AuthorizedKeysFile $S/authorized_keys/%u"
		echo "StrictModes no"   # the key file lives under /tmp (1777)
		echo "PrintMotd no"
		echo "PrintLastLog no"
		echo "LogLevel DEBUG1"
		echo "LoginGraceTime 100"
		echo "MaxStartups 10"
		cat
	} >"$S/sshd_config"
	ln -s /usr/sbin/sshd "$S/$svc"
	"$S/$svc" -t -f "$S/sshd_config" || { e2e_fail "sshd -t refused the config"; exit 1; }
	"$S/$svc" -f "$S/sshd_config" -E "$S/logs/sshd.log"
	for _ in $(seq 50); do [ -s "$S/sshd.pid" ] && break; sleep 0.1; done
	[ -s "$S/sshd.pid" ] || { e2e_fail "sshd did not start"; exit 1; }
}

e2e_ssh_opts() {
	echo "-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=no -o ConnectTimeout=10 -p $E2E_SSH_PORT"
}

# e2e_expect_device LOGFILE APPROVE(yes|no) COMMAND...: run COMMAND on a pty;
# when the device sign-in text appears, read the code, approve it at the IdP
# as $E2E_USER (yes) and press Enter if asked; exit status of COMMAND.
# The code and the transcript land in LOGFILE.
e2e_expect_device() {
	local log=$1 approve=$2; shift 2
	E2E_USER=${E2E_USER:-alice} E2E_APPROVE=$approve E2E_IDPDIR=$S/idp E2E_IDPTOOL=$E2E_IDP \
		expect -f "$E2E_SRC/tests/e2e/device.exp" -- "$log" "$@"
}

# ---- log check -------------------------------------------------------------------
# No token, password or client secret in any log: the client secret, the
# admin key and the users' passwords verbatim; token-shaped strings (the
# IdP's opaque tokens are 43 characters of base64url) other than sshd's key
# fingerprints; and words that only a leaked HTTP body or header would hold.
e2e_check_logs() {
	local f secret
	secret=$(cat "$TS_IDP_CONF_SECRET_FILE")
	for f in "$S"/logs/*.log; do
		case $f in */idp.log|*/idp-start.log|*/idp-ctl.log) continue ;; esac
		[ -f "$f" ] || continue
		if grep -qF "$secret" "$f"; then e2e_fail "the client secret appears in $(basename "$f")"; fi
		if grep -qF "$(cat "$TS_IDP_ADMIN_KEY_FILE")" "$f"; then e2e_fail "the IdP admin key appears in $(basename "$f")"; fi
		for pw in alice-pw bob-pw carol-pw "$E2E_ROOT_PW" "$E2E_CAROL_PW"; do
			if grep -qF "$pw" "$f"; then e2e_fail "a password ($pw) appears in $(basename "$f")"; fi
		done
		if grep -Eiq 'Bearer [A-Za-z0-9]|refresh_token=|access_token=|"access_token"|"refresh_token"|device_code=' "$f"; then
			e2e_fail "token material appears in $(basename "$f"): $(grep -Eio '.{0,40}(Bearer|refresh_token|access_token|device_code).{0,20}' "$f" | head -3)"
		fi
		if sed -E 's/SHA256:[A-Za-z0-9+\/]{43}//g' "$f" | grep -Eq '(^|[^A-Za-z0-9_-])[A-Za-z0-9_-]{43}([^A-Za-z0-9_-]|$)'; then
			e2e_fail "a token-shaped string appears in $(basename "$f"): $(sed -E 's/SHA256:[A-Za-z0-9+\/]{43}//g' "$f" | grep -Eo '(^|[^A-Za-z0-9_-])[A-Za-z0-9_-]{43}([^A-Za-z0-9_-]|$)' | head -2 | cut -c1-12)..."
		fi
	done
}

e2e_finish() {
	e2e_check_logs
	if [ "${E2E_DAEMON:-0}" = 1 ] && ! grep -q "connection from uid 0" "$S/logs/daemon.log"; then
		e2e_fail "daemon mode, but the daemon served no request (see daemon.log)"
	fi
	if [ "$E2E_FAILED" = 0 ]; then
		echo "ok: $*"
		exit 0
	fi
	exit 1
}

# e2e_signin USER: USER signs in with the device flow through the installed
# module on a real libpam (pamtester, PAM service ts-e2e-login: auth and
# account), approving the code at the IdP as USER. Leaves USER's record.
e2e_signin() {
	local u=$1
	[ -e /etc/pam.d/ts-e2e-login ] || e2e_pam_service ts-e2e-login <<'PAM'
auth     required pam_tokenseal.so
account  required pam_tokenseal.so
PAM
	E2E_USER=$u e2e_expect_device "$S/logs/signin-$u.log" yes \
		pamtester -v ts-e2e-login "$u" authenticate acct_mgmt >/dev/null
	local rc=$?
	[ $rc = 0 ] && [ -e "$(e2e_record "$u")" ] ||
		{ e2e_fail "$u could not sign in through pamtester (exit $rc)"; return 1; }
}

# e2e_local_passwords: root and carol (a local user tokenseal never signed
# in) get the passwords $E2E_ROOT_PW and $E2E_CAROL_PW in a private copy of
# /etc/shadow bind-mounted in this test's mount namespace: the host's
# /etc/shadow is never changed, and the copy is gone when the test ends.
E2E_ROOT_PW=root-e2e-pw
E2E_CAROL_PW=carol-e2e-pw
e2e_local_passwords() {
	getent passwd carol >/dev/null || e2e_skip "local user carol missing (scripts/test creates it)"
	command -v openssl >/dev/null || e2e_skip "openssl is missing"
	local rh ch
	rh=$(openssl passwd -6 "$E2E_ROOT_PW") && ch=$(openssl passwd -6 "$E2E_CAROL_PW") ||
		{ e2e_fail "openssl passwd failed"; exit 1; }
	awk -F: -v OFS=: -v rh="$rh" -v ch="$ch" \
		'$1 == "root" { $2 = rh } $1 == "carol" { $2 = ch } { print }' /etc/shadow >"$S/etc/shadow"
	chown --reference=/etc/shadow "$S/etc/shadow"
	chmod --reference=/etc/shadow "$S/etc/shadow"
	grep -q '^carol:\$6\$' "$S/etc/shadow" || { e2e_fail "carol has no shadow entry"; exit 1; }
	mount --bind "$S/etc/shadow" /etc/shadow
}

# e2e_as USER CMD...: run CMD with USER's real and effective ids (a setuid
# program like sudo or su then runs as that user would start it).
e2e_as() {
	local u=$1; shift
	setpriv --reuid="$u" --regid="$u" --init-groups --reset-env -- "$@"
}

# ---- groups and the access policy (issue 16) ------------------------------------
# e2e_set_claims USER JSON: the test IdP puts these claims (e.g.
# {"groups":["linux-users"]}) into USER's introspection, userinfo and
# id_token answers from the next answer on; fails the test when it refuses.
e2e_set_claims() {
	e2e_ctl set-claims "$1" "$2" || { e2e_fail "the test IdP refused set-claims $1 $2"; exit 1; }
}

# e2e_nss_groups: the installed NSS module answers groups in this namespace:
# a private nsswitch.conf ("group: files tokenseal"), a private /etc/group
# (lines on stdin appended, e.g. a local group the test maps to) and a
# private, empty NSS cache folder over /var/lib/tokenseal-nss (root 0755, the
# broker's and the module's fixed path), so neither the host's groups nor
# what other tests left in the package's cache are touched or seen.
e2e_nss_groups() {
	[ -d /var/lib/tokenseal-nss ] || { e2e_fail "/var/lib/tokenseal-nss is missing after the install"; exit 1; }
	{ cat /etc/group; cat; } >"$S/etc/group"
	chmod 0644 "$S/etc/group"
	sed -E 's/^group:.*/group: files tokenseal/' /etc/nsswitch.conf >"$S/etc/nsswitch.conf"
	chmod 0644 "$S/etc/nsswitch.conf"
	mkdir -m 0755 "$S/nss-cache"
	chmod 0755 "$S"
	mount --bind "$S/etc/group" /etc/group
	mount --bind "$S/etc/nsswitch.conf" /etc/nsswitch.conf
	mount --bind "$S/nss-cache" /var/lib/tokenseal-nss
}

# e2e_sudoers SERVICE: a private sudoers (root:root 0440) over /etc/sudoers,
# PAM service SERVICE, no timestamp, its log in $S/logs/sudo.log; the rules
# on stdin.
e2e_sudoers() {
	{
		echo "Defaults env_reset"
		echo "Defaults timestamp_timeout=0"
		echo "Defaults pam_service=$1"
		echo "Defaults !lecture"
		echo "Defaults passwd_tries=1"
		echo "Defaults logfile=$S/logs/sudo.log"
		echo "Defaults !syslog"
		echo "Defaults loglinelen=0"
		echo "root  ALL=(ALL:ALL) ALL"
		cat
	} >"$S/etc/sudoers"
	chmod 0440 "$S/etc/sudoers"
	mount --bind "$S/etc/sudoers" /etc/sudoers
	visudo -c -f /etc/sudoers >/dev/null || { e2e_fail "visudo refused the test sudoers"; exit 1; }
}
