# shellcheck shell=bash disable=SC2034
# tests/systemd/lib.sh: boot a Debian 12 container with a real systemd as
# PID 1 and run a test script inside it (sourced; bash). Reusable by every
# test that needs the units under the init system they were written for.
#
#   ct_preflight                 root, debootstrap, systemd-nspawn (else SKIPPED)
#   ct_base CACHE                a debootstrapped bookworm tree, cached in CACHE
#                                (rebuilt only when CT_INCLUDE changes; SKIPPED
#                                when it must be built and the archive is
#                                unreachable); sets CT_BASE
#   ct_tree DIR                  a fresh copy of the base in DIR; sets CT_ROOT
#   ct_run_at_boot SCRIPT        install SCRIPT as /ts-test/main.sh, run by a
#                                unit at boot that powers the container off
#                                when it ends (either way)
#   ct_boot TIMEOUT LOG          boot CT_ROOT, wait until it powers off
#   ct_journal ARGS...           journalctl on the container's journal
#
# Inside, the script writes its findings to /ts-test/out/ (CT_OUT on the
# host, after the boot). The container shares the host's network (no
# --private-network), so a server on the host's 127.0.0.1 is reachable.

CT_SUITE=bookworm
CT_MIRROR=${CT_MIRROR:-http://deb.debian.org/debian}
# systemd as PID 1, sshd and sudo managed by it, PAM tools, what the .debs
# need at run time (so dpkg -i needs no network), expect for su prompts
CT_INCLUDE=${CT_INCLUDE:-systemd,systemd-sysv,dbus,openssh-server,sudo,libpam-runtime,pamtester,sshpass,expect,libcurl4,libsodium23,libjansson4,libqrencode4,ca-certificates,procps,util-linux}

ct_skip() { echo "SKIPPED: $*"; exit 77; }
ct_log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }

ct_preflight() {
	[ "$(id -u)" -eq 0 ] || ct_skip "needs root (debootstrap and systemd-nspawn)"
	command -v debootstrap >/dev/null || ct_skip "debootstrap is missing (apt-get install debootstrap)"
	command -v systemd-nspawn >/dev/null ||
		ct_skip "systemd-nspawn is missing (apt-get install systemd-container)"
	[ -r /proc/self/ns/mnt ] || ct_skip "no mount namespaces here"
}

ct_base() {
	local cache=$1 stamp
	CT_BASE=$cache/base-$CT_SUITE
	stamp="$CT_SUITE $CT_INCLUDE"
	if [ -d "$CT_BASE" ] && [ "$(cat "$CT_BASE/.ts-stamp" 2>/dev/null)" = "$stamp" ]; then
		ct_log "base tree: cached $CT_BASE"
		return 0
	fi
	command -v curl >/dev/null || ct_skip "curl is missing (needed to check the Debian archive)"
	curl -fsS -m 15 -o /dev/null "$CT_MIRROR/dists/$CT_SUITE/Release" ||
		ct_skip "the Debian archive $CT_MIRROR is unreachable (debootstrap needs it once)"
	mkdir -p "$cache"
	rm -rf "$CT_BASE" "$CT_BASE.tmp"
	ct_log "base tree: debootstrap $CT_SUITE into $CT_BASE (once; a few minutes)"
	if ! debootstrap --variant=minbase --include="$CT_INCLUDE" "$CT_SUITE" "$CT_BASE.tmp" \
		"$CT_MIRROR" >"$cache/debootstrap.log" 2>&1; then
		tail -n 20 "$cache/debootstrap.log"
		echo "FAIL: debootstrap failed (log: $cache/debootstrap.log)"
		exit 1
	fi
	echo "$stamp" >"$CT_BASE.tmp/.ts-stamp"
	mv "$CT_BASE.tmp" "$CT_BASE"
}

ct_tree() {
	CT_ROOT=$1
	rm -rf "$CT_ROOT"
	cp -a --reflink=auto "$CT_BASE" "$CT_ROOT" || { echo "FAIL: cannot copy the base tree"; exit 1; }
	rm -rf "$CT_ROOT/ts-test"
	mkdir -p "$CT_ROOT/ts-test/out"
	CT_OUT=$CT_ROOT/ts-test/out
	# a journal on disk, readable from the host afterwards
	mkdir -p "$CT_ROOT/var/log/journal"
	# no getty on the pipe console, a quiet boot
	ln -sf /dev/null "$CT_ROOT/etc/systemd/system/console-getty.service"
	echo ts-ct >"$CT_ROOT/etc/hostname"
}

ct_run_at_boot() {
	install -m 0755 "$1" "$CT_ROOT/ts-test/main.sh"
	cat >"$CT_ROOT/etc/systemd/system/ts-test.service" <<-'EOF'
		[Unit]
		Description=tokenseal container test
		After=multi-user.target
		SuccessAction=poweroff
		FailureAction=poweroff

		[Service]
		Type=oneshot
		ExecStart=/bin/bash /ts-test/main.sh
		StandardOutput=journal+console
		StandardError=journal+console
		TimeoutStartSec=540

		[Install]
		WantedBy=default.target
	EOF
	mkdir -p "$CT_ROOT/etc/systemd/system/default.target.wants"
	ln -sf ../ts-test.service "$CT_ROOT/etc/systemd/system/default.target.wants/ts-test.service"
}

ct_boot() {
	local t=$1 log=$2 rc
	ct_log "booting the container (console: $log)"
	timeout --kill-after=10 "$t" systemd-nspawn -q --register=no --keep-unit -D "$CT_ROOT" \
		-b --console=pipe </dev/null >"$log" 2>&1
	rc=$?
	ct_log "the container powered off (status $rc)"
	return $rc
}

ct_journal() { journalctl -D "$CT_ROOT/var/log/journal" --no-pager "$@"; }
