# `tokenseal doctor` (issue 17): the capability probes against the real
# test IdP (and a plain-http issuer), the PAM / nsswitch / sshd lints on
# fixture files bind-mounted in a private mount namespace (root), --json and
# the exit codes.
if(TARGET tokenseal AND TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_cli_doctor
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_doctor.c
		LIBS ts_common PkgConfig::JANSSON
		LABELS cli idp
		TIMEOUT 120
		ARGS $<TARGET_FILE:tokenseal> $<TARGET_FILE:tokenseal-broker>
			${PROJECT_SOURCE_DIR}/docs/pam.md)
	add_dependencies(test_cli_doctor tokenseal tokenseal-broker)
endif()
