# The system trust store with ca_file unset: the Fedora/RHEL and Debian
# folders, each laid out in a private mount namespace (an overlay over /etc,
# root), proven with `tokenseal doctor --json` against the real test IdP.
if(TARGET tokenseal AND TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_cli_trust
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_trust.c
		LIBS ts_common PkgConfig::JANSSON
		LABELS cli idp
		TIMEOUT 120
		ARGS $<TARGET_FILE:tokenseal> $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_cli_trust tokenseal tokenseal-broker)
endif()
