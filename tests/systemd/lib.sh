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
#   ct_tree DIR                  a fresh tree on the base in DIR (an overlay
#                                mounted on DIR/root, else a copy); sets CT_ROOT
#   ct_untree DIR                unmount it (its files stay in DIR/upper)
#   ct_run_at_boot SCRIPT        install SCRIPT as /ts-test/main.sh, run by a
#                                unit at boot that powers the container off
#                                when it ends (either way)
#   ct_boot TIMEOUT LOG          boot CT_ROOT, wait until it powers off
#   ct_journal ARGS...           journalctl on the container's journal
#   ct_approver_start SRC IDPDIR approve device codes the container asks for
#   ct_approver_stop             (node and the test IdP run on the host only)
#
# A script inside asks for an approval with ct-approve (installed by
# ct_run_at_boot as /ts-test/ct-approve CODE LOGIN PASSWORD): it writes
# /ts-test/out/approve/N.req, the host's approver runs the IdP's
# approve-device and answers N.ok or N.fail.
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
	local dir=$1
	ct_untree "$dir"
	rm -rf "$dir"
	mkdir -p "$dir/upper" "$dir/work" "$dir/root"
	# an overlay on the base (instant; a copy of its 300 MB takes a minute
	# on a busy disk), else a copy
	if mount -t overlay overlay -o "lowerdir=$CT_BASE,upperdir=$dir/upper,workdir=$dir/work" \
		"$dir/root" 2>/dev/null; then
		CT_ROOT=$dir/root
	else
		rm -rf "$dir/root"
		cp -a --reflink=auto "$CT_BASE" "$dir/root" || { echo "FAIL: cannot copy the base tree"; exit 1; }
		CT_ROOT=$dir/root
	fi
	rm -rf "$CT_ROOT/ts-test"
	mkdir -p "$CT_ROOT/ts-test/out"
	CT_OUT=$CT_ROOT/ts-test/out
	# a journal on disk, readable from the host afterwards
	mkdir -p "$CT_ROOT/var/log/journal"
	# no getty on the pipe console, a quiet boot
	ln -sf /dev/null "$CT_ROOT/etc/systemd/system/console-getty.service"
	echo ts-ct >"$CT_ROOT/etc/hostname"
}

# ct_untree DIR: unmount the overlay of DIR (the tree's files stay in
# DIR/upper: the test's findings are DIR/upper/ts-test/out)
ct_untree() {
	if mountpoint -q "$1/root" 2>/dev/null; then
		umount "$1/root" 2>/dev/null || umount -l "$1/root"
	fi
}

ct_run_at_boot() {
	install -m 0755 "$1" "$CT_ROOT/ts-test/main.sh"
	mkdir -p "$CT_OUT/approve"
	cat >"$CT_ROOT/ts-test/ct-approve" <<-'EOF'
		#!/bin/sh
		# ct-approve CODE LOGIN PASSWORD: the host's approver approves CODE
		d=/ts-test/out/approve n=$$.$(date +%s%N)
		printf '%s %s %s\n' "$1" "$2" "$3" >"$d/$n.tmp" && mv "$d/$n.tmp" "$d/$n.req"
		i=0
		while [ $i -lt 300 ]; do
			[ -e "$d/$n.ok" ] && exit 0
			[ -e "$d/$n.fail" ] && { cat "$d/$n.fail" >&2; exit 1; }
			sleep 0.1; i=$((i + 1))
		done
		echo "ct-approve: no answer from the host's approver in 30 s" >&2
		exit 1
	EOF
	chmod 0755 "$CT_ROOT/ts-test/ct-approve"
	install -m 0644 "$(dirname "${BASH_SOURCE[0]}")/ct_device.exp" "$CT_ROOT/ts-test/ct_device.exp"
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

ct_approver_start() {
	local src=$1 idp=$2
	(
		while :; do
			for r in "$CT_OUT"/approve/*.req; do
				[ -e "$r" ] || continue
				read -r code login pw <"$r"
				if "$src/tests/fixtures/idp/approve-device" --state-dir "$idp" \
					--user-code "$code" --login "$login" --password "$pw" >"${r%.req}.log" 2>&1; then
					mv "${r%.req}.log" "${r%.req}.ok"
				else
					mv "${r%.req}.log" "${r%.req}.fail"
				fi
				rm -f "$r"
			done
			sleep 0.2
		done
	) &
	CT_APPROVER=$!
}

ct_approver_stop() {
	[ -n "${CT_APPROVER:-}" ] && kill "$CT_APPROVER" 2>/dev/null
	CT_APPROVER=
}
