# `tokenseal token` under the access policy (issue 16): the real command in
# exec mode against the real test IdP (root).
if(TARGET tokenseal AND TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_cli_policy
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_policy.c ${CMAKE_CURRENT_LIST_DIR}/cli_run.c
		LIBS ts_broker ts_keystore ts_oauth ts_common PkgConfig::JANSSON
		LABELS cli idp
		TIMEOUT 300
		ARGS $<TARGET_FILE:tokenseal> $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_cli_policy tokenseal tokenseal-broker)
endif()
