# The access policy (issue 16) through the real tokenseal-broker against the
# real test IdP; the fail-closed answers (groups unknown) are the attacks.
if(TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_broker_policy
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_broker_policy.c
		LIBS ts_broker ts_common
		LABELS idp
		TIMEOUT 600
		ARGS $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_broker_policy tokenseal-broker)
	ts_add_unit_test(NAME test_broker_policy_fail_closed
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_broker_policy.c
		LIBS ts_broker ts_common
		LABELS idp attack
		TIMEOUT 600
		ARGS $<TARGET_FILE:tokenseal-broker> fail-closed)
	add_dependencies(test_broker_policy_fail_closed tokenseal-broker)
endif()
