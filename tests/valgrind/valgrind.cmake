# valgrind memcheck (issue 18, label valgrind): the broker (exec mode), the
# PAM module (pamtester under pam_wrapper), the NSS module (getent under
# nss_wrapper) and the command against the real test IdP, zero reports.
# TS_TEST_LONG=1 adds the daemon. Needs root, valgrind, pamtester, the
# wrappers and the IdP's node_modules (SKIPPED otherwise).
if(NOT TARGET tokenseal-broker OR NOT TARGET tokenseal OR NOT TARGET pam_tokenseal
		OR NOT TARGET nss_tokenseal OR NOT TARGET nsscache_tool)
	return()
endif()
find_library(TS_VG_PAM_WRAPPER_LIB NAMES pam_wrapper)
find_library(TS_VG_NSS_WRAPPER_LIB NAMES nss_wrapper)
if(NOT TS_VG_PAM_WRAPPER_LIB)
	set(TS_VG_PAM_WRAPPER_LIB /nonexistent/libpam_wrapper.so)
endif()
if(NOT TS_VG_NSS_WRAPPER_LIB)
	set(TS_VG_NSS_WRAPPER_LIB /nonexistent/libnss_wrapper.so)
endif()
# valgrind cannot run ASan binaries: the sanitizer build says SKIPPED
set(_ts_vg_env "")
if(TOKENSEAL_SANITIZE)
	set(_ts_vg_env TS_SANITIZE=1)
endif()
ts_add_script_test(NAME memcheck LABELS valgrind TIMEOUT 600
	COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_valgrind.sh $<TARGET_FILE:tokenseal-broker>
		$<TARGET_FILE:tokenseal> $<TARGET_FILE:pam_tokenseal> $<TARGET_FILE:nss_tokenseal>
		${TS_VG_PAM_WRAPPER_LIB} ${TS_VG_NSS_WRAPPER_LIB} $<TARGET_FILE:nsscache_tool>
	ENV ${_ts_vg_env})
# pamtester under pam_wrapper takes one of pam_wrapper's machine-wide folders
set_tests_properties(valgrind.memcheck PROPERTIES RESOURCE_LOCK ${TS_PAM_WRAPPER_LOCK})
