# The access policy of issue 16 through libpam (labels pam and idp): the real
# pam_tokenseal.so under pam_wrapper, the real tokenseal-broker and the real
# test IdP, per service (tsp-sshd, tsp-sudo, tsp-deny). Needs root, the users
# alice, bob and carol and the IdP's node_modules (SKIPPED otherwise). The
# config is written by the test; the services are generated here.
if(NOT TARGET pam_tokenseal OR NOT TARGET tokenseal-broker)
	return()
endif()

set(_tsp_dir ${CMAKE_CURRENT_BINARY_DIR}/pampolicy)
file(MAKE_DIRECTORY ${_tsp_dir}/conf)
ts_pam_services(DIR ${_tsp_dir} CONF ${_tsp_dir}/conf/policy.conf PHASES auth account
	SERVICES tsp-sshd tsp-sudo tsp-deny)

ts_add_unit_test(NAME test_pam_policy LABELS pam idp TIMEOUT 300
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pam_policy.c ${CMAKE_CURRENT_LIST_DIR}/pam_harness.c
	LIBS ts_common PkgConfig::PAM
	ARGS $<TARGET_FILE:tokenseal-broker>)
add_dependencies(test_pam_policy pam_tokenseal tokenseal-broker)
ts_pam_wrapper_env(TEST pam.test_pam_policy DIR ${_tsp_dir}
	ENV TS_PAM_POLICY_CONF=${_tsp_dir}/conf/policy.conf)
# The same served by the broker daemon (test_pam_policy_daemon).
ts_pam_daemon_twin(TEST pam.test_pam_policy TARGET test_pam_policy TIMEOUT 300
	ARGS $<TARGET_FILE:tokenseal-broker>)
