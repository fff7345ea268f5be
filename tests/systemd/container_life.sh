# shellcheck shell=bash disable=SC2154
# Sourced by container_main.sh inside the booted container (phase c's
# configuration is in place, alice has a record): two more phases.
#   e  sshd (systemd's ssh.service) and sudo, end to end
#   l  the service's life under systemd: the sandbox probed from inside,
#      idle exit and re-activation, a frozen and a SIGKILLed daemon, a
#      restart and a stop with a request in flight

phase_e() {
	local rec0 rc
	# alice over sshd: keyboard-interactive, pam_unix's password prompt
	# answered empty (she has no local password), then the device sign-in,
	# approved at the IdP from the host; the command runs as alice
	rec0=$(sha256sum <"$rec")
	expect /ts-test/ct_device.exp $OUT/ssh-alice.log alice \
		ssh -tt -p "$SSH_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o PreferredAuthentications=keyboard-interactive -o PubkeyAuthentication=no \
		-o LogLevel=ERROR alice@127.0.0.1 'echo CT-LOGIN-OK user=$(id -un)'
	rc=$?
	grep -q CT-APPROVED $OUT/ssh-alice.log && pass e.ssh-alice-device-approved ||
		fail e.ssh-alice-device-approved "$(grep -a 'CT-' $OUT/ssh-alice.log | tr '\n' ' ')"
	[ $rc -eq 0 ] && grep -q 'CT-LOGIN-OK user=alice' $OUT/ssh-alice.log && pass e.ssh-alice ||
		fail e.ssh-alice "exit $rc: $(tail -n 5 $OUT/ssh-alice.log)"
	journalctl -u ssh -q --no-pager | grep -q 'Accepted keyboard-interactive/pam for alice' &&
		pass e.sshd-accepted || fail e.sshd-accepted "ssh.service did not log alice's login"
	[ "$(sha256sum <"$rec")" != "$rec0" ] && pass e.ssh-new-record ||
		fail e.ssh-new-record "the device sign-in over sshd stored nothing new"
	# sudo by alice (her real uid), auth_with_stored_token = yes: pam_unix's
	# prompt answered empty, then her stored tokens decide; no new sign-in
	echo 'alice ALL=(ALL:ALL) ALL' >/etc/sudoers.d/ts-alice
	chmod 0440 /etc/sudoers.d/ts-alice
	expect /ts-test/ct_device.exp $OUT/sudo-alice.log alice \
		setpriv --reuid=alice --regid=alice --init-groups --reset-env -- sudo -k /usr/bin/id -un
	rc=$?
	[ $rc -eq 0 ] && grep -q '^root' $OUT/sudo-alice.log && pass e.sudo-alice ||
		fail e.sudo-alice "exit $rc: $(tail -n 5 $OUT/sudo-alice.log)"
	grep -q CT-CODE-SHOWN $OUT/sudo-alice.log && fail e.sudo-stored "sudo asked for a new sign-in" ||
		pass e.sudo-stored
	# carol: no sudo rule, no tokenseal record, her right password: refused
	CT_ANSWER=carol-pw expect /ts-test/ct_device.exp $OUT/sudo-carol.log carol \
		setpriv --reuid=carol --regid=carol --init-groups --reset-env -- sudo -k /usr/bin/id -un
	rc=$?
	[ $rc -ne 0 ] && ! grep -q '^root' $OUT/sudo-carol.log && pass e.sudo-carol-refused ||
		fail e.sudo-carol-refused "carol ran sudo: $(tail -n 3 $OUT/sudo-carol.log)"
}

cursor_now() { journalctl -n 0 --show-cursor -q | sed -n 's/^-- cursor: //p'; }
since() { journalctl --after-cursor="$1" -q --no-pager "${@:2}"; }

# The sandbox, probed by sandbox_probe.sh as an ExecStartPost= of the
# service (its own sandbox, credentials and system call filter) and, as the
# control, by plain root.
l_sandbox() {
	local probe=/var/lib/tokenseal/.ts-probe k
	if [ ! -s $probe ]; then
		fail l.sandbox-probe "the ExecStartPost= probe wrote nothing: $(journalctl -u $svc -n 5 -q --no-pager)"
		return
	fi
	cp $probe $OUT/probe-service.txt
	rm -f $probe
	[ ! -e /tmp/.ts-probe-tmp ] && pass l.sandbox-private-tmp ||
		fail l.sandbox-private-tmp "the service's /tmp file is in the host's /tmp"
	bash /ts-test/sandbox_probe.sh $OUT/probe-root.txt
	rm -f /tmp/.ts-probe-tmp
	probe=$OUT/probe-service.txt
	for k in read-shadow read-gshadow read-hostkey read-sudoers system-bus systemd-private \
		write-etc write-usr write-var-lib write-var-log write-run write-root-home write-home; do
		if ! grep -qx "$k yes" $OUT/probe-root.txt; then
			fail "l.sandbox-$k" "the control (plain root) cannot do it either: the probe proves nothing"
		elif grep -qx "$k no" $probe; then
			pass "l.sandbox-$k"
		else
			fail "l.sandbox-$k" "the service can: $(grep "^$k " $probe)"
		fi
	done
	for k in write-state write-nss write-tmp caps-none uid-root; do
		grep -qx "$k yes" $probe && pass "l.sandbox-$k" || fail "l.sandbox-$k" "$(grep "^$k " $probe)"
	done
}

# idle exit: no connection for 3 s -> the daemon leaves, cleanly; the
# socket stays and the next use starts it again
l_idle() { # l_idle CURSOR: the journal from before the daemon's start
	local cursor=$1 st
	for _ in $(seq 1 40); do [ "$(systemctl is-active $svc)" != active ] && break; sleep 0.25; done
	st="$(systemctl is-active $svc) $(systemctl show -p Result --value $svc)"
	[ "$st" = "inactive success" ] && pass l.idle-exit || fail l.idle-exit "after 10 s: $st"
	since "$cursor" -u $svc | grep -q 'no connection for 3 s: exiting' &&
		pass l.idle-exit-logged || fail l.idle-exit-logged "the daemon did not log its idle exit"
	[ "$(systemctl is-active tokenseal-broker.socket)" = active ] && pass l.socket-stays ||
		fail l.socket-stays "the socket is $(systemctl is-active tokenseal-broker.socket)"
	check l.reactivated-su-alice su alice -c true
	since "$cursor" -u $svc | grep -q 'serving on the socket passed by systemd' &&
		pass l.reactivated || fail l.reactivated "the socket did not start the daemon again"
}

# a frozen daemon (SIGSTOP): a root caller (su, alice's account phase)
# falls back to exec mode within its deadline; then SIGKILL: systemd starts
# the service again (Restart=on-failure) and it serves
l_kill() {
	local pid p n0 n1 cursor t0 ms
	su alice -c true >/dev/null 2>&1 # the daemon up
	pid=$(systemctl show -p MainPID --value $svc)
	n0=$(systemctl show -p NRestarts --value $svc)
	if [ -z "$pid" ] || [ "$pid" = 0 ]; then
		fail l.frozen "no daemon pid after su alice"
		return
	fi
	cursor=$(cursor_now)
	kill -STOP "$pid"
	t0=$(date +%s%N)
	check l.frozen-su-alice timeout 20 su alice -c true
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "frozen daemon: su alice took $ms ms" >>$OUT/timings.txt
	# su's account, open and close session each wait at most the connect
	# timeout (1.5 s) and the first-reply deadline (2 s), then run in exec
	# mode: ~6 s here; a daemon waited on for its frame timeout takes 180 s
	[ $ms -lt 15000 ] && pass l.frozen-fallback-prompt || fail l.frozen-fallback-prompt "took $ms ms"
	since "$cursor" | grep -q 'served by exec mode' &&
		pass l.frozen-exec-mode || fail l.frozen-exec-mode "su did not log the fall back to exec mode"
	check l.frozen-su-root su root -c true
	kill -KILL "$pid"
	p=$pid
	for _ in $(seq 1 40); do
		p=$(systemctl show -p MainPID --value $svc)
		[ "$p" != 0 ] && [ "$p" != "$pid" ] && break
		sleep 0.25
	done
	n1=$(systemctl show -p NRestarts --value $svc)
	[ "$n1" -gt "$n0" ] && [ "$p" != 0 ] && [ "$p" != "$pid" ] && pass l.sigkill-restarted ||
		fail l.sigkill-restarted "NRestarts $n0 -> $n1, MainPID $pid -> $p"
	cursor=$(cursor_now)
	check l.after-kill-su-alice su alice -c true
	since "$cursor" | grep -q 'served by exec mode' &&
		fail l.after-kill-daemon-serves "the restarted daemon did not serve su" ||
		pass l.after-kill-daemon-serves
}

# alice_login LOG: alice's own `tokenseal login` (her CLI has only the
# socket: the request waits for approval inside the daemon); the code it
# shows goes to LOG.code
alice_login() {
	runuser -u alice -- expect -c "
		set timeout 60
		log_file -noappend $1
		spawn tokenseal login --device
		expect {
			-re {enter the code ([A-Z0-9-]+)} {
				set f [open $1.code w]; puts \$f \$expect_out(1,string); close \$f
				exp_continue
			}
			eof { }
			timeout { exit 124 }
		}
		exit [lindex [wait] 3]"
}
wait_code() { for _ in $(seq 1 80); do [ -s "$1.code" ] && return 0; sleep 0.25; done; return 1; }

l_inflight() {
	local lp sp rc t0 d=/tmp/ts-life p n0 n bad
	rm -rf $d
	mkdir -m 0777 $d
	# 1. restart while it waits: the daemon gives it its grace, then cuts
	#    it; alice is told, her record is byte for byte what it was
	cp -a "$rec" $OUT/rec-before
	alice_login $d/l1.log &
	lp=$!
	if wait_code $d/l1.log; then
		t0=$(date +%s)
		check l.restart-in-flight systemctl restart $svc
		echo "restart with a request in flight: $(($(date +%s) - t0)) s" >>$OUT/timings.txt
		wait $lp
		rc=$?
		[ $rc -ne 0 ] && pass l.restart-client-told || fail l.restart-client-told "alice's login exited 0"
		cmp -s "$rec" $OUT/rec-before && pass l.restart-record-intact ||
			fail l.restart-record-intact "alice's record changed"
		check l.restart-keystore-verify tokenseal keystore verify
		check l.restart-su-alice su alice -c true
	else
		kill $lp 2>/dev/null
		fail l.restart-in-flight "alice's login showed no code: $(tail -n 3 $d/l1.log)"
	fi
	# 2. stop while it waits, approved during the stop's grace: the request
	#    ends as it would have, the record whole and new
	alice_login $d/l2.log &
	lp=$!
	if wait_code $d/l2.log; then
		systemctl stop $svc &
		sp=$!
		sleep 0.5
		check l.stop-approve /ts-test/ct-approve "$(cat $d/l2.log.code)" alice alice-pw
		wait $sp
		wait $lp
		rc=$?
		[ $rc -eq 0 ] && pass l.stop-request-finished ||
			fail l.stop-request-finished "exit $rc: $(tail -n 3 $d/l2.log)"
		cmp -s "$rec" $OUT/rec-before && fail l.stop-record-new "alice's record did not change" ||
			pass l.stop-record-new
		check l.stop-keystore-verify tokenseal keystore verify
		check l.stop-status-alice tokenseal status --user alice
	else
		kill $lp 2>/dev/null
		fail l.stop-in-flight "alice's login showed no code: $(tail -n 3 $d/l2.log)"
	fi
	# 3. SIGKILL while it waits: no grace at all; the record is byte for
	#    byte what it was (the stop above stored a new one), systemd
	#    restarts the service
	cp -a "$rec" $OUT/rec-before
	alice_login $d/l3.log &
	lp=$!
	if wait_code $d/l3.log; then
		p=$(systemctl show -p MainPID --value $svc)
		n0=$(systemctl show -p NRestarts --value $svc)
		kill -KILL "$p"
		wait $lp
		rc=$?
		[ $rc -ne 0 ] && pass l.kill-client-told || fail l.kill-client-told "alice's login exited 0"
		cmp -s "$rec" $OUT/rec-before && pass l.kill-record-intact ||
			fail l.kill-record-intact "alice's record changed"
		check l.kill-keystore-verify tokenseal keystore verify
		check l.kill-su-alice su alice -c true
		[ "$(systemctl show -p NRestarts --value $svc)" -gt "$n0" ] && pass l.kill-restarted ||
			fail l.kill-restarted "NRestarts stayed $n0"
	else
		kill $lp 2>/dev/null
		fail l.kill-in-flight "alice's login showed no code: $(tail -n 3 $d/l3.log)"
	fi
	# 4. restarts under load: root's callers (su, alice's account and
	#    session phases) never fail while the service restarts twice
	(
		end=$((SECONDS + 5)) n=0 bad=0
		while [ $SECONDS -lt $end ]; do
			su alice -c true >/dev/null 2>&1 || bad=$((bad + 1))
			n=$((n + 1))
		done
		echo "$n $bad" >$d/load
	) &
	lp=$!
	sleep 1
	systemctl restart $svc
	sleep 1.5
	systemctl restart $svc
	wait $lp
	read -r n bad <$d/load
	echo "restarts under load: $n su alice, $bad failed" >>$OUT/timings.txt
	[ "$bad" = 0 ] && [ "$n" -gt 3 ] && pass l.restart-under-load ||
		fail l.restart-under-load "$bad of $n su alice failed during two restarts"
	check l.load-keystore-verify tokenseal keystore verify
	for u in $svc tokenseal-broker.socket; do
		systemctl is-failed -q $u && fail "l.not-failed-$u" "$(systemctl status $u --no-pager 2>&1 | tail -n 3)" ||
			pass "l.not-failed-$u"
	done
	cp $d/*.log $OUT/ 2>/dev/null
}

phase_l() {
	local dropin=/etc/systemd/system/$svc.d cursor
	# A test-only drop-in: idle exit after 3 s (the unit's 600 s would make
	# the test wait ten minutes) and the sandbox probe as ExecStartPost=
	mkdir -p $dropin
	cat >$dropin/ts-test.conf <<-'EOF'
		[Service]
		ExecStart=
		ExecStart=/usr/libexec/tokenseal/tokenseal-broker --daemon --idle-exit 3
		ExecStartPost=/bin/bash /ts-test/sandbox_probe.sh /var/lib/tokenseal/.ts-probe
	EOF
	systemctl daemon-reload
	rm -f /var/lib/tokenseal/.ts-probe /tmp/.ts-probe-tmp
	cursor=$(cursor_now)
	check l.restart systemctl restart $svc
	l_sandbox
	l_idle "$cursor"
	l_kill
	l_inflight
	rm -f $dropin/ts-test.conf
	systemctl daemon-reload
	everyone_passes l
}
