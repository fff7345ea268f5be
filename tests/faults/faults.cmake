# Issue 18 "Faults" (label faults): the real broker against the real test IdP
# behind the fault injector's proxy (tests/fixtures/faults, README "Proxy").
# Root and the local test users required (SKIPPED otherwise).
if(TARGET tokenseal-broker)
	add_library(ts_faults_lib STATIC ${CMAKE_CURRENT_LIST_DIR}/faults_lib.c)
	target_link_libraries(ts_faults_lib PUBLIC ts_broker ts_keystore ts_common ts_testlib
		PRIVATE ts_warnings)
	target_include_directories(ts_faults_lib PUBLIC ${CMAKE_CURRENT_LIST_DIR})

	# Crash consistency: SIGKILL at every hooked step of a refresh (needs
	# -DTOKENSEAL_TEST_HOOKS=ON, SKIPPED without), exec mode and the daemon.
	ts_add_unit_test(NAME test_faults_crash
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_faults_crash.c
		LIBS ts_faults_lib
		LABELS faults
		TIMEOUT 300
		ARGS $<TARGET_FILE:tokenseal-broker> exec)
	add_dependencies(test_faults_crash tokenseal-broker)
	add_test(NAME faults.test_faults_crash_daemon
		COMMAND test_faults_crash $<TARGET_FILE:tokenseal-broker> daemon)
	set_tests_properties(faults.test_faults_crash_daemon PROPERTIES
		LABELS faults TIMEOUT 300 SKIP_RETURN_CODE 77)
endif()

# Server faults in every phase through the proxy (exec mode).
if(TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_faults_broker
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_faults_broker.c
		LIBS ts_faults_lib
		LABELS faults
		TIMEOUT 300
		ARGS $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_faults_broker tokenseal-broker)
endif()

# Load: 40 concurrent account checks for 12 s over 20 users (TS_TEST_LONG=1:
# 200 for 60 s), access tokens of 5 s, a flooding local user (daemon); exec
# mode and the daemon. The 20 users come from nss_wrapper (SKIPPED without).
if(TARGET tokenseal-broker)
	find_package(Threads REQUIRED)
	find_library(TS_NSS_WRAPPER_LIB NAMES nss_wrapper)
	set(_ts_nssw_load "${TS_NSS_WRAPPER_LIB}")
	if(NOT TS_NSS_WRAPPER_LIB)
		set(_ts_nssw_load "")
	endif()
	ts_add_unit_test(NAME test_faults_load
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_faults_load.c
		LIBS ts_faults_lib Threads::Threads
		LABELS faults
		TIMEOUT 300
		ARGS $<TARGET_FILE:tokenseal-broker> exec "${_ts_nssw_load}")
	add_dependencies(test_faults_load tokenseal-broker)
	add_test(NAME faults.test_faults_load_daemon
		COMMAND test_faults_load $<TARGET_FILE:tokenseal-broker> daemon "${_ts_nssw_load}")
	set_tests_properties(faults.test_faults_load_daemon PROPERTIES
		LABELS faults TIMEOUT 300 SKIP_RETURN_CODE 77)
endif()

# Server faults during the daemon's background refresh (issue 18): the
# pause, its bounds and Retry-After, the record untouched, recovery.
if(TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_faults_background
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_faults_background.c
		LIBS ts_faults_lib
		LABELS faults
		TIMEOUT 400
		ARGS $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_faults_background tokenseal-broker)
endif()

# A slow introspection: a refreshed token that ran out while its check
# waited is refreshed again, not taken for Keycloak's audience rule.
if(TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_faults_slow
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_faults_slow.c
		LIBS ts_faults_lib
		LABELS faults
		TIMEOUT 300
		ARGS $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_faults_slow tokenseal-broker)
endif()
