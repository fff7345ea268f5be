#!/bin/sh
# libnss_tokenseal.so.2 links libc only (readelf -d and ldd: no libcurl,
# jansson, libsodium, OpenSSL, libpam, libpthread), carries its soname,
# exports exactly the _nss_tokenseal_* entry points (nm -D), and holds no
# writable static data but the one state struct under its mutex (nss_state)
# and the C runtime's own symbols.
so=$1
[ -f "$so" ] || { echo "FAIL: $so missing"; exit 1; }
for t in readelf nm objdump; do
	command -v $t >/dev/null || { echo "SKIPPED: $t not installed"; exit 77; }
done
status=0
needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "NEEDED: $needed"
for lib in $needed; do
	case $lib in
	libc.so.*) ;;
	libasan.so.*|libubsan.so.*) [ -n "$TS_SANITIZE" ] || { echo "FAIL: $lib"; status=1; } ;;
	*) echo "FAIL: unexpected dependency $lib"; status=1 ;;
	esac
done
closure=$(ldd "$so") || { echo "FAIL: ldd $so"; exit 1; }
if echo "$closure" | grep -Ei 'libcurl|libjansson|libsodium|libssl|libcrypto|libpthread|libpam'; then
	echo "FAIL: heavy library in the module's closure"
	status=1
fi
readelf -d "$so" | grep -q 'SONAME.*\[libnss_tokenseal\.so\.2\]' ||
	{ echo "FAIL: soname is not libnss_tokenseal.so.2"; status=1; }
# the dynamic symbol table: defined functions/objects must all be _nss_tokenseal_*
exported=$(nm -D --defined-only "$so" | awk '{ print $3 }' | sort)
echo "exported:" $exported
want="_nss_tokenseal_endgrent _nss_tokenseal_endpwent _nss_tokenseal_getgrent_r
_nss_tokenseal_getgrgid_r _nss_tokenseal_getgrnam_r _nss_tokenseal_getpwent_r
_nss_tokenseal_getpwnam_r _nss_tokenseal_getpwuid_r _nss_tokenseal_initgroups_dyn
_nss_tokenseal_setgrent _nss_tokenseal_setpwent"
[ "$(echo $exported)" = "$(echo $want)" ] || { echo "FAIL: exports differ from: " $want; status=1; }
# writable static data: only nss_state (and crt symbols)
bad=$(objdump -t "$so" | awk '
	$0 ~ / O / {
		for (i = 1; i <= NF; i++) if ($i == "O") { sec = $(i+1); name = $NF }
		if (sec == ".data" || sec == ".bss" || sec == ".tdata" || sec == ".tbss" ||
		    sec ~ /^\.data\.[^r]/ || sec ~ /^\.bss\./)
			print sec, name
	}' | grep -Ev ' (completed\.[0-9]+|__dso_handle|__TMC_END__|nss_state)$')
if [ -n "$bad" ]; then
	echo "FAIL: writable static data beyond nss_state:"
	echo "$bad"
	status=1
fi
readelf -l "$so" | grep -q GNU_RELRO || { echo "FAIL: no GNU_RELRO segment"; status=1; }
readelf -d "$so" | grep -Eq 'BIND_NOW|FLAGS.*NOW' || { echo "FAIL: not linked with -z now"; status=1; }
[ $status -eq 0 ] && echo "ok: libc only, _nss_tokenseal_* only, nss_state only"
exit $status
