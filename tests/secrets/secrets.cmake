# The secrets scan (issue 18, label secrets): a login, uses, refreshes and
# logouts through the real pam_tokenseal.so under pam_wrapper and the real
# tokenseal command, every debug log on, then no token, device code, client
# secret or password in any log, argv, environment or temp file. Exec mode
# (secrets.test_secrets) and the daemon (secrets.test_secrets_daemon). Needs
# root, the users alice, bob and carol, pam_wrapper and the IdP's
# node_modules (SKIPPED otherwise).
if(NOT TARGET pam_tokenseal OR NOT TARGET tokenseal-broker OR NOT TARGET tokenseal)
	return()
endif()

set(_tsec_dir ${CMAKE_CURRENT_BINARY_DIR}/secrets)
file(MAKE_DIRECTORY ${_tsec_dir}/conf)
ts_pam_services(DIR ${_tsec_dir} CONF ${_tsec_dir}/conf/secrets.conf
	PHASES auth account session SERVICES sec-pw sec-dev)

ts_add_unit_test(NAME test_secrets LABELS secrets TIMEOUT 120
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_secrets.c ${CMAKE_CURRENT_LIST_DIR}/secrets_scan.c
		${PROJECT_SOURCE_DIR}/tests/pam/pam_harness.c
		${PROJECT_SOURCE_DIR}/tests/cli/cli_run.c
	LIBS ts_broker ts_keystore ts_oauth ts_common PkgConfig::PAM PkgConfig::JANSSON
	ARGS $<TARGET_FILE:tokenseal-broker> $<TARGET_FILE:tokenseal>)
target_include_directories(test_secrets PRIVATE ${PROJECT_SOURCE_DIR}/tests/pam
	${PROJECT_SOURCE_DIR}/tests/cli ${PROJECT_SOURCE_DIR}/pam_module)
add_dependencies(test_secrets pam_tokenseal tokenseal-broker tokenseal)
ts_pam_wrapper_env(TEST secrets.test_secrets DIR ${_tsec_dir}
	ENV TS_SECRETS_CONF=${_tsec_dir}/conf/secrets.conf PAM_WRAPPER_DISABLE_DEEPBIND=1)
# The daemon twin: every request served by tokenseal-broker --daemon.
add_test(NAME secrets.test_secrets_daemon COMMAND $<TARGET_FILE:test_secrets>
	$<TARGET_FILE:tokenseal-broker> $<TARGET_FILE:tokenseal>)
get_test_property(secrets.test_secrets ENVIRONMENT _tsec_env)
if(NOT _tsec_env)
	set(_tsec_env "")
endif()
list(APPEND _tsec_env TS_TEST_DAEMON=1)
set_tests_properties(secrets.test_secrets_daemon PROPERTIES LABELS "secrets;daemon"
	TIMEOUT 120 SKIP_RETURN_CODE 77 ENVIRONMENT "${_tsec_env}"
	RESOURCE_LOCK ${TS_PAM_WRAPPER_LOCK})
