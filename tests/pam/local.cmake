# The module's local decision (issue 15 §0/§1, labels pam and attack): root,
# a system account and nobody get PAM_IGNORE in every phase with the config
# missing, unparseable and valid, and neither the broker (a program that
# records that it ran) nor the daemon's socket (a listener that records a
# connect) is ever touched; the bounds come from the file when it parses.
# Also ERANGE from getpwnam_r (a long gecos, issue 15 §5). Under
# pam_wrapper and nss_wrapper (passwd file generated below); root needed for
# the broker and socket checks (SKIPPED otherwise).
if(NOT TARGET pam_tokenseal)
	return()
endif()
find_library(TS_NSS_WRAPPER_LIB NAMES nss_wrapper)
find_file(TS_PAM_DEBUG_SO pam_debug.so
	PATHS /lib/x86_64-linux-gnu/security /usr/lib/x86_64-linux-gnu/security
	/lib64/security /usr/lib64/security /lib/security NO_DEFAULT_PATH)

set(_ldir ${CMAKE_CURRENT_BINARY_DIR}/local)
# A gecos longer than both buffers the module used to try (1 KiB, 4 KiB).
string(REPEAT "g" 6000 _long)
file(WRITE ${_ldir}/passwd
"root:x:0:0:${_long}:/root:/bin/sh
sysacct:x:120:120:a system account:/:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
alice:x:1001:1001:alice:/home/alice:/bin/sh
highuid:x:62000:62000:above the default max_uid:/home/highuid:/bin/sh
longgecos:x:1500:1500:${_long}:/home/longgecos:/bin/sh
")
file(WRITE ${_ldir}/group "root:x:0:\nnogroup:x:65534:\nalice:x:1001:\nlonggecos:x:1500:\n")

# Every phase (and setcred): the module passes every result through, except
# PAM_IGNORE, which falls to pam_debug answering PAM_CRED_INSUFFICIENT, a
# code the module never returns: an ignore is told apart from everything.
set(_ctl "[success=done ignore=ignore default=die]")
set(_dbg "${TS_PAM_DEBUG_SO} auth=cred_insufficient cred=cred_insufficient acct=cred_insufficient open_session=cred_insufficient close_session=cred_insufficient")
foreach(conf missing garbage valid peer)
	set(_m "$<TARGET_FILE:pam_tokenseal> config=${_ldir}/conf/${conf}.conf debug")
	file(GENERATE OUTPUT ${_ldir}/services/local-${conf} CONTENT
"auth     ${_ctl} ${_m}
auth     required ${_dbg}
account  ${_ctl} ${_m}
account  required ${_dbg}
session  ${_ctl} ${_m}
session  required ${_dbg}
")
endforeach()

ts_add_unit_test(NAME test_pam_local LABELS pam attack TIMEOUT 180
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pam_local.c LIBS ts_common PkgConfig::PAM)
target_compile_definitions(test_pam_local PRIVATE
	TS_PEER_PATH="$<TARGET_FILE:ts_proto_test_peer>" TS_LOCAL_DIR="${_ldir}")
add_dependencies(test_pam_local pam_tokenseal ts_proto_test_peer)
if(TS_PAM_WRAPPER_LIB AND TS_PAM_DENY_SO AND TS_NSS_WRAPPER_LIB AND TS_PAM_DEBUG_SO)
	ts_pam_wrapper_env(TEST pam.test_pam_local DIR ${_ldir} ENV
		NSS_WRAPPER_PASSWD=${_ldir}/passwd NSS_WRAPPER_GROUP=${_ldir}/group)
	# both wrappers (ts_pam_wrapper_env set LD_PRELOAD to pam_wrapper alone)
	get_test_property(pam.test_pam_local ENVIRONMENT _env)
	list(TRANSFORM _env REPLACE "^LD_PRELOAD=(.*)$" "LD_PRELOAD=\\1:${TS_NSS_WRAPPER_LIB}")
	set_tests_properties(pam.test_pam_local PROPERTIES ENVIRONMENT "${_env}")
else()
	message(STATUS "pam_wrapper, nss_wrapper or pam_debug.so not found: pam.test_pam_local will be SKIPPED")
endif()
