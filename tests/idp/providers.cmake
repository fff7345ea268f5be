# Issue 17, provider profiles: the sign-in, revalidation, early-revocation,
# needs-login and logout scenarios (and a replayed refresh token where the
# provider rotates) under each provider's profile of the test IdP
# (tests/fixtures/idp/imitations.mjs), against the real tokenseal-broker.
# One CTest entry per profile: idp.test_providers_<profile>.
if(TARGET tokenseal-broker)
	add_executable(test_providers ${CMAKE_CURRENT_LIST_DIR}/test_providers.c
		${CMAKE_CURRENT_LIST_DIR}/broker_call.c)
	target_link_libraries(test_providers PRIVATE ts_broker ts_common ts_testlib ts_warnings)
	add_dependencies(test_providers tokenseal-broker)
	foreach(p entra google keycloak okta authentik)
		add_test(NAME idp.test_providers_${p}
			COMMAND test_providers $<TARGET_FILE:tokenseal-broker> ${p})
		set_tests_properties(idp.test_providers_${p} PROPERTIES
			LABELS "idp;providers" TIMEOUT 120 SKIP_RETURN_CODE 77)
	endforeach()
endif()
