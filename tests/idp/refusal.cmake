# Issue 17, provider profiles: a refresh answered invalid_request decided
# with evidence (needs-login vs configuration error, no retry storm), and a
# server without a revocation endpoint at logout and revoke_on, against the
# real tokenseal-broker and the real test IdP with its imitation switches.
if(TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_broker_refusal
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_broker_refusal.c ${CMAKE_CURRENT_LIST_DIR}/broker_call.c
		LIBS ts_broker ts_common
		LABELS idp
		TIMEOUT 300
		ARGS $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_broker_refusal tokenseal-broker)
endif()
