# Issue 17, provider profiles: the broker's handling of providers' answers
# (Entra ID's userinfo without a user name, Keycloak's introspection
# without the audience mapper) against the real tokenseal-broker and the
# real test IdP (its per-account extra claims shape the answers).
if(TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_broker_provider_answers
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_broker_provider_answers.c
		LIBS ts_broker ts_common
		LABELS idp
		TIMEOUT 300
		ARGS $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_broker_provider_answers tokenseal-broker)
endif()
