# The session phase and stored-token auth of issue 4 through libpam (label
# pam and idp): the real pam_tokenseal.so under pam_wrapper, the real
# tokenseal-broker and the real test IdP. Needs root, the users alice, bob
# and carol and the IdP's node_modules (SKIPPED otherwise). The config is
# written by the test; one service per behaviour, each a [service] section
# (helpers: 00-pam-services.cmake).
if(NOT TARGET pam_tokenseal OR NOT TARGET tokenseal-broker)
	return()
endif()

set(_tss_dir ${CMAKE_CURRENT_BINARY_DIR}/pamsession)
file(MAKE_DIRECTORY ${_tss_dir}/conf)
ts_pam_services(DIR ${_tss_dir} CONF ${_tss_dir}/conf/session.conf
	PHASES auth account session
	SERVICES tss-stored tss-nostored tss-pw tss-fresh tss-fresh-out tss-logout tss-last
	tss-never)

ts_add_unit_test(NAME test_pam_session LABELS pam idp TIMEOUT 300
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pam_session.c ${CMAKE_CURRENT_LIST_DIR}/pam_harness.c
		${PROJECT_SOURCE_DIR}/pam_module/pam_result.c
	LIBS ts_common PkgConfig::PAM
	ARGS $<TARGET_FILE:tokenseal-broker>)
target_include_directories(test_pam_session PRIVATE ${PROJECT_SOURCE_DIR}/pam_module)
add_dependencies(test_pam_session pam_tokenseal tokenseal-broker)
ts_pam_wrapper_env(TEST pam.test_pam_session DIR ${_tss_dir}
	ENV TS_PAM_SESSION_CONF=${_tss_dir}/conf/session.conf)
# The same suite served by the broker daemon (test_pam_session_daemon).
ts_pam_daemon_twin(TEST pam.test_pam_session TARGET test_pam_session TIMEOUT 300
	ARGS $<TARGET_FILE:tokenseal-broker>)
