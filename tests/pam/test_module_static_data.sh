#!/bin/sh
# pam_tokenseal.so holds no writable static data of its own: every object
# symbol in a writable section (.data, .bss, .tdata, .tbss) must be one of the
# C runtime's (crtstuff: completed.0, __dso_handle, __TMC_END__), and in a sanitizer build the
# instrumentation's own (__odr_asan.*, __asan_*). Const
# tables with relocations live in .data.rel.ro, which is read-only after
# relocation: proved by a GNU_RELRO segment and BIND_NOW.
so=$1
[ -f "$so" ] || { echo "FAIL: $so missing"; exit 1; }
command -v objdump >/dev/null || { echo "SKIPPED: objdump not installed"; exit 77; }
status=0
# objdump -t: "addr flags section size name"; keep object symbols (O) and
# section symbols-free lines in exactly the writable data sections.
bad=$(objdump -t "$so" | awk '
	$0 ~ / O / {
		for (i = 1; i <= NF; i++) if ($i == "O") { sec = $(i+1); name = $NF }
		if (sec == ".data" || sec == ".bss" || sec == ".tdata" || sec == ".tbss" ||
		    sec ~ /^\.data\.[^r]/ || sec ~ /^\.bss\./)
			print sec, name
	}' | grep -Ev ' (completed\.[0-9]+|__dso_handle|__TMC_END__|__odr_asan\..*|__asan_.*|___asan_.*)$')
if [ -n "$bad" ]; then
	echo "FAIL: writable static data in the module:"
	echo "$bad"
	status=1
fi
# nm agrees: no D/B/d/b symbols except the crt ones (and linker-defined
# section bounds, which are not objects)
nmbad=$(nm --defined-only "$so" | awk '$2 ~ /^[dDbB]$/ { print $3 }' |
	grep -Ev '^(completed\.[0-9]+|__dso_handle|__TMC_END__|_edata|_end|__bss_start|__odr_asan\..*|__asan_.*|___asan_.*)$')
# .data.rel.ro symbols (const tables with relocations) and the linker's
# .dynamic/.got/.init_array/.fini_array entries are 'd' in nm: accept them only
# in those sections, which GNU_RELRO + BIND_NOW make read-only at run time
for s in $nmbad; do
	sec=$(objdump -t "$so" | awk -v n="$s" '$NF == n { print $(NF-2); exit }')
	case $sec in
	.data.rel.ro*|.dynamic|.got|.init_array|.fini_array) ;;
	*) echo "FAIL: $s in $sec"; status=1 ;;
	esac
done
readelf -l "$so" | grep -q GNU_RELRO || { echo "FAIL: no GNU_RELRO segment"; status=1; }
readelf -d "$so" | grep -Eq 'BIND_NOW|FLAGS.*NOW' || { echo "FAIL: not linked with -z now"; status=1; }
[ $status -eq 0 ] && echo "ok: no writable static data (crt symbols only)"
exit $status
