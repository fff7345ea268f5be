# The token lifecycle of issue 4 through libpam (label pam and idp): the real
# pam_tokenseal.so under pam_wrapper, the real tokenseal-broker and the real
# test IdP. Needs root, the users alice, bob and carol and the IdP's
# node_modules (SKIPPED otherwise). The configs are written by the test; the
# services are generated here (helpers: 00-pam-services.cmake).
if(NOT TARGET pam_tokenseal OR NOT TARGET tokenseal-broker)
	return()
endif()

set(_tsl_dir ${CMAKE_CURRENT_BINARY_DIR}/pamlife)
file(MAKE_DIRECTORY ${_tsl_dir}/conf)
ts_pam_services(DIR ${_tsl_dir} CONF ${_tsl_dir}/conf/life.conf PHASES auth account
	SERVICES tsl-main tsl-deadline tsl-password tsl-token)
ts_pam_services(DIR ${_tsl_dir} CONF ${_tsl_dir}/conf/grace.conf PHASES auth account
	SERVICES tsl-grace)
ts_pam_services(DIR ${_tsl_dir} CONF ${_tsl_dir}/conf/slowdown.conf PHASES auth account
	SERVICES tsl-slowdown)
ts_pam_services(DIR ${_tsl_dir} CONF ${_tsl_dir}/conf/expired.conf PHASES auth account
	SERVICES tsl-expired)

ts_add_unit_test(NAME test_pam_lifecycle LABELS pam idp TIMEOUT 400
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pam_lifecycle.c ${CMAKE_CURRENT_LIST_DIR}/pam_harness.c
	LIBS ts_common PkgConfig::PAM
	ARGS $<TARGET_FILE:tokenseal-broker>)
add_dependencies(test_pam_lifecycle pam_tokenseal tokenseal-broker)
ts_pam_wrapper_env(TEST pam.test_pam_lifecycle DIR ${_tsl_dir}
	ENV TS_PAM_LIFE_CONF=${_tsl_dir}/conf/life.conf
	TS_PAM_LIFE_GRACE_CONF=${_tsl_dir}/conf/grace.conf
	TS_PAM_LIFE_SLOWDOWN_CONF=${_tsl_dir}/conf/slowdown.conf
	TS_PAM_LIFE_EXPIRED_CONF=${_tsl_dir}/conf/expired.conf)
# The same suite served by the broker daemon (test_pam_lifecycle_daemon).
ts_pam_daemon_twin(TEST pam.test_pam_lifecycle TARGET test_pam_lifecycle TIMEOUT 400
	ARGS $<TARGET_FILE:tokenseal-broker>)
