# The session phase and stored-token auth of issue 4 through libpam (label
# pam and idp): the real pam_tokenseal.so under pam_wrapper, the real
# tokenseal-broker and the real test IdP. Needs root, the users alice, bob
# and carol and the IdP's node_modules (SKIPPED otherwise). The config is
# written by the test; one service per behaviour, each a [service] section.
if(NOT TARGET pam_tokenseal OR NOT TARGET tokenseal-broker)
	return()
endif()

find_library(TS_PAM_WRAPPER_LIB NAMES pam_wrapper)
find_file(TS_PAM_DENY_SO pam_deny.so
	PATHS /lib/x86_64-linux-gnu/security /usr/lib/x86_64-linux-gnu/security
	/lib64/security /usr/lib64/security /lib/security NO_DEFAULT_PATH)

set(_tss_dir ${CMAKE_CURRENT_BINARY_DIR}/pamsession)
file(MAKE_DIRECTORY ${_tss_dir}/conf)
# Each tokenseal line passes every result through, except PAM_IGNORE, which
# falls to pam_deny, so an ignore is told apart from a success.
foreach(svc stored nostored pw fresh fresh-out logout last never)
	set(_args "config=${_tss_dir}/conf/session.conf")
	set(_ctl "[success=done ignore=ignore default=die]")
	file(GENERATE OUTPUT ${_tss_dir}/services/tss-${svc} CONTENT
"auth     ${_ctl} $<TARGET_FILE:pam_tokenseal> ${_args} debug
auth     required ${TS_PAM_DENY_SO}
account  ${_ctl} $<TARGET_FILE:pam_tokenseal> ${_args} debug
account  required ${TS_PAM_DENY_SO}
session  ${_ctl} $<TARGET_FILE:pam_tokenseal> ${_args} debug
session  required ${TS_PAM_DENY_SO}
")
endforeach()

ts_add_unit_test(NAME test_pam_session LABELS pam idp TIMEOUT 300
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pam_session.c LIBS ts_common PkgConfig::PAM
	ARGS $<TARGET_FILE:tokenseal-broker>)
add_dependencies(test_pam_session pam_tokenseal tokenseal-broker)
if(TS_PAM_WRAPPER_LIB AND TS_PAM_DENY_SO)
	set(_tss_env LD_PRELOAD=${TS_PAM_WRAPPER_LIB} PAM_WRAPPER=1
		PAM_WRAPPER_SERVICE_DIR=${_tss_dir}/services PAM_WRAPPER_DEBUGLEVEL=3
		TS_PAM_SESSION_CONF=${_tss_dir}/conf/session.conf)
	if(TOKENSEAL_SANITIZE)
		# pam_wrapper's constructor leaks a strdup; leaks of the module
		# itself are still reported
		file(WRITE ${_tss_dir}/lsan.supp "leak:libpam_wrapper.so\n")
		list(APPEND _tss_env PAM_WRAPPER_DISABLE_DEEPBIND=1 UID_WRAPPER_DISABLE_DEEPBIND=1
			ASAN_OPTIONS=verify_asan_link_order=0
			LSAN_OPTIONS=suppressions=${_tss_dir}/lsan.supp:print_suppressions=0)
	endif()
	set_tests_properties(pam.test_pam_session PROPERTIES ENVIRONMENT "${_tss_env}")
else()
	message(STATUS "pam_wrapper or pam_deny.so not found: pam.test_pam_session will be SKIPPED")
endif()
