# The token lifecycle of issue 4 through libpam (label pam and idp): the real
# pam_tokenseal.so under pam_wrapper, the real tokenseal-broker and the real
# test IdP. Needs root, the users alice, bob and carol and the IdP's
# node_modules (SKIPPED otherwise). The configs are written by the test; the
# services are generated here (this fragment is included before module.cmake,
# so it finds pam_wrapper and pam_deny.so itself).
if(NOT TARGET pam_tokenseal OR NOT TARGET tokenseal-broker)
	return()
endif()

find_library(TS_PAM_WRAPPER_LIB NAMES pam_wrapper)
find_file(TS_PAM_DENY_SO pam_deny.so
	PATHS /lib/x86_64-linux-gnu/security /usr/lib/x86_64-linux-gnu/security
	/lib64/security /usr/lib64/security /lib/security NO_DEFAULT_PATH)

set(_tsl_dir ${CMAKE_CURRENT_BINARY_DIR}/pamlife)
file(MAKE_DIRECTORY ${_tsl_dir}/conf)
# Each tokenseal line passes every result through, except PAM_IGNORE, which
# falls to pam_deny, so an ignore is told apart from a success.
foreach(svc main deadline password token grace)
	if(svc STREQUAL "grace")
		set(_args "config=${_tsl_dir}/conf/grace.conf")
	else()
		set(_args "config=${_tsl_dir}/conf/life.conf")
	endif()
	set(_ctl "[success=done ignore=ignore default=die]")
	file(GENERATE OUTPUT ${_tsl_dir}/services/tsl-${svc} CONTENT
"auth     ${_ctl} $<TARGET_FILE:pam_tokenseal> ${_args} debug
auth     required ${TS_PAM_DENY_SO}
account  ${_ctl} $<TARGET_FILE:pam_tokenseal> ${_args} debug
account  required ${TS_PAM_DENY_SO}
")
endforeach()

ts_add_unit_test(NAME test_pam_lifecycle LABELS pam idp TIMEOUT 400
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pam_lifecycle.c LIBS ts_common PkgConfig::PAM
	ARGS $<TARGET_FILE:tokenseal-broker>)
add_dependencies(test_pam_lifecycle pam_tokenseal tokenseal-broker)
if(TS_PAM_WRAPPER_LIB AND TS_PAM_DENY_SO)
	set(_tsl_env LD_PRELOAD=${TS_PAM_WRAPPER_LIB} PAM_WRAPPER=1
		PAM_WRAPPER_SERVICE_DIR=${_tsl_dir}/services PAM_WRAPPER_DEBUGLEVEL=3
		TS_PAM_LIFE_CONF=${_tsl_dir}/conf/life.conf
		TS_PAM_LIFE_GRACE_CONF=${_tsl_dir}/conf/grace.conf)
	if(TOKENSEAL_SANITIZE)
		# pam_wrapper's constructor leaks a strdup; leaks of the module
		# itself are still reported
		file(WRITE ${_tsl_dir}/lsan.supp "leak:libpam_wrapper.so\n")
		list(APPEND _tsl_env PAM_WRAPPER_DISABLE_DEEPBIND=1 UID_WRAPPER_DISABLE_DEEPBIND=1
			ASAN_OPTIONS=verify_asan_link_order=0
			LSAN_OPTIONS=suppressions=${_tsl_dir}/lsan.supp:print_suppressions=0)
	endif()
	set_tests_properties(pam.test_pam_lifecycle PROPERTIES ENVIRONMENT "${_tsl_env}")
else()
	message(STATUS "pam_wrapper or pam_deny.so not found: pam.test_pam_lifecycle will be SKIPPED")
endif()
