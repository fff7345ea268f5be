#!/bin/sh
# pam_tokenseal.so links libc and libpam only: no libcurl, jansson,
# libsodium, OpenSSL (readelf -d and ldd).
so=$1
[ -f "$so" ] || { echo "FAIL: $so missing"; exit 1; }
command -v readelf >/dev/null || { echo "SKIPPED: readelf not installed"; exit 77; }
needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "NEEDED: $needed"
status=0
for lib in $needed; do
	case $lib in
	libc.so.*|libpam.so.*) ;;
	libasan.so.*|libubsan.so.*) [ -n "$TS_SANITIZE" ] || { echo "FAIL: $lib"; status=1; } ;;
	*) echo "FAIL: unexpected dependency $lib"; status=1 ;;
	esac
done
echo "$needed" | grep -q '^libpam\.so\.' || { echo "FAIL: libpam not linked"; status=1; }
# the whole closure, as the dynamic loader resolves it
closure=$(ldd "$so") || { echo "FAIL: ldd $so"; exit 1; }
echo "$closure"
if echo "$closure" | grep -Ei 'libcurl|libjansson|libsodium|libssl|libcrypto|libpthread|libqrencode'; then
	echo "FAIL: heavy library in the module's closure"
	status=1
fi
[ $status -eq 0 ] && echo "ok: libc and libpam only"
exit $status
