# The real tokenseal-broker binary against the real test IdP, driven through
# ts_client_call exactly as the PAM module and the CLI drive it.
if(TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_broker_idp
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_broker_idp.c
		LIBS ts_broker ts_common
		LABELS idp
		TIMEOUT 900
		ARGS $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_broker_idp tokenseal-broker)
endif()

# The exec-mode privilege boundary: root-only exec mode, sudo's shape,
# config honoured for root callers, inherited rlimits and signals reset.
if(TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_broker_exec
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_broker_exec.c
		LIBS ts_broker ts_keystore ts_common
		LABELS idp
		TIMEOUT 300
		ARGS $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_broker_exec tokenseal-broker)
endif()
