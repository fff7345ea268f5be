# libnss_tokenseal.so.2 and the user cache (label nss).
if(NOT TARGET nss_tokenseal)
	return()
endif()

# Builds caches with the writer API, for the script tests and bench/nss.
add_executable(nsscache_tool ${CMAKE_CURRENT_LIST_DIR}/nsscache_tool.c)
target_link_libraries(nsscache_tool PRIVATE ts_common ts_warnings)

# The writer and reader directly: stability, collisions, tombstones, the
# nss_resolve_unknown rule, validation, damaged images, 10 000 users.
ts_add_unit_test(NAME test_nsscache LABELS nss unit
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_nsscache.c LIBS ts_common)

# Attacks on names and uids (issue 15): the reserved lists, uid pinning
# against a colliding name, the writer's taken hook, v1 files still read.
ts_add_unit_test(NAME test_nsscache_names LABELS nss unit attack
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_nsscache_names.c LIBS ts_common)
target_compile_definitions(test_nsscache_names PRIVATE
	TS_NSSCACHE_V1_SAMPLE="${CMAKE_CURRENT_LIST_DIR}/../fuzz/corpus/nsscache/small.cache")

# nss_wrapper loads a custom module only when its own passwd and group files
# are set too: one local account each, generated in the build tree.
find_library(TS_NSS_WRAPPER_LIB NAMES nss_wrapper)
set(_nssdir ${CMAKE_CURRENT_BINARY_DIR}/nss)
file(WRITE ${_nssdir}/passwd "root:x:0:0:root:/root:/bin/sh\n")
file(WRITE ${_nssdir}/group "root:x:0:\n")
set(_ts_nss_env "")
if(TS_NSS_WRAPPER_LIB)
	set(_ts_nss_env LD_PRELOAD=${TS_NSS_WRAPPER_LIB}
		NSS_WRAPPER_PASSWD=${_nssdir}/passwd NSS_WRAPPER_GROUP=${_nssdir}/group
		NSS_WRAPPER_MODULE_SO_PATH=$<TARGET_FILE:nss_tokenseal>
		NSS_WRAPPER_MODULE_FN_PREFIX=tokenseal)
	if(TOKENSEAL_SANITIZE)
		list(APPEND _ts_nss_env NSS_WRAPPER_DISABLE_DEEPBIND=1
			ASAN_OPTIONS=verify_asan_link_order=0)
	endif()
else()
	message(STATUS "nss_wrapper not found: the nss tests through libc will be SKIPPED")
endif()

# The real module: dlopen + exports, the glibc contract called directly, and
# through libc under nss_wrapper: ERANGE and 8 threads against a writer.
ts_add_unit_test(NAME test_nss_module LABELS nss TIMEOUT 120
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_nss_module.c LIBS ts_common ${CMAKE_DL_LIBS})
target_compile_definitions(test_nss_module PRIVATE
	TS_NSS_MODULE_PATH="$<TARGET_FILE:nss_tokenseal>")
target_link_libraries(test_nss_module PRIVATE pthread)
# exports __syslog_chk, so the module's log lines are counted by the test
set_target_properties(test_nss_module PROPERTIES ENABLE_EXPORTS ON)
add_dependencies(test_nss_module nss_tokenseal)
if(_ts_nss_env)
	set_tests_properties(nss.test_nss_module PROPERTIES ENVIRONMENT "${_ts_nss_env}")
endif()

# getent and id through the real module under nss_wrapper.
ts_add_script_test(NAME nss_getent LABELS nss attack TIMEOUT 300
	COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_nss_getent.sh $<TARGET_FILE:nsscache_tool>
	ENV ${_ts_nss_env})

# Link footprint (libc only), exports (_nss_tokenseal_* only), static data.
set(_ts_nss_link_env "")
if(TOKENSEAL_SANITIZE)
	set(_ts_nss_link_env TS_SANITIZE=1)
endif()
ts_add_script_test(NAME nss_link LABELS nss
	COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_nss_link.sh $<TARGET_FILE:nss_tokenseal>
	ENV ${_ts_nss_link_env})

# Identity provider groups as Linux groups (issue 16): ts_nss_record_groups
# writes the cache, `id` and `getent group` read it through the real module.
# This process's own lookups (the broker code) see nss_wrapper's files only
# (no module), which the test writes at its start.
if(TARGET ts_broker)
	set(_grpdir ${CMAKE_CURRENT_BINARY_DIR}/nss-groups)
	file(MAKE_DIRECTORY ${_grpdir})
	ts_add_unit_test(NAME test_nss_groups LABELS nss attack TIMEOUT 120
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_nss_groups.c LIBS ts_broker ts_common ${CMAKE_DL_LIBS}
		ARGS "${TS_NSS_WRAPPER_LIB}" $<TARGET_FILE:nss_tokenseal>)
	add_dependencies(test_nss_groups nss_tokenseal)
	if(TS_NSS_WRAPPER_LIB)
		set(_grp_env "LD_PRELOAD=${TS_NSS_WRAPPER_LIB}" "NSS_WRAPPER_PASSWD=${_grpdir}/passwd"
			"NSS_WRAPPER_GROUP=${_grpdir}/group")
		if(TOKENSEAL_SANITIZE)
			list(APPEND _grp_env NSS_WRAPPER_DISABLE_DEEPBIND=1 ASAN_OPTIONS=verify_asan_link_order=0)
		endif()
		set_tests_properties(nss.test_nss_groups PROPERTIES ENVIRONMENT "${_grp_env}")
	endif()
endif()
