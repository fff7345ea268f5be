# The tokenseal command (label cli): the exit-code table as a unit test,
# and every verb against the real test IdP (root; the CLI in exec mode).
if(NOT TARGET tokenseal)
	return()
endif()

ts_add_unit_test(NAME test_cli_exit
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_exit.c
	LIBS ts_cli
	LABELS cli unit)

if(TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_cli
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli.c ${CMAKE_CURRENT_LIST_DIR}/cli_run.c
		LIBS ts_cli ts_broker ts_keystore ts_oauth ts_common PkgConfig::JANSSON
		LABELS cli idp
		TIMEOUT 600
		ARGS $<TARGET_FILE:tokenseal> $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_cli tokenseal tokenseal-broker)
endif()

# Isolation between two real local users through the real daemon (root).
if(TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_isolation
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_isolation.c ${CMAKE_CURRENT_LIST_DIR}/cli_run.c
		LIBS ts_broker ts_keystore ts_oauth ts_common PkgConfig::JANSSON
		LABELS cli daemon idp
		TIMEOUT 300
		ARGS $<TARGET_FILE:tokenseal> $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_isolation tokenseal tokenseal-broker)
endif()

# Root's CLI with a configuration the broker cannot use: the problem itself
# in status and keystore, one fix per problem in doctor, the shipped
# example "not configured yet".
if(TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_cli_config
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_config.c ${CMAKE_CURRENT_LIST_DIR}/cli_run.c
		LIBS ts_broker ts_keystore ts_oauth ts_common
		LABELS cli idp
		TIMEOUT 300
		ARGS $<TARGET_FILE:tokenseal> $<TARGET_FILE:tokenseal-broker>
			${PROJECT_SOURCE_DIR}/docs/tokenseal.conf.example)
	add_dependencies(test_cli_config tokenseal tokenseal-broker)
endif()

# What the command prints and how it exits: an exit code per class (usage
# and permission included), --json on every verb, status --all, colour on
# a terminal and not into a pipe.
if(TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_cli_output
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_output.c ${CMAKE_CURRENT_LIST_DIR}/cli_run.c
		LIBS ts_broker ts_keystore ts_oauth ts_common PkgConfig::JANSSON
		LABELS cli idp
		TIMEOUT 120
		ARGS $<TARGET_FILE:tokenseal> $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_cli_output tokenseal tokenseal-broker)
endif()

# The bash completion the packages install.
ts_add_script_test(NAME test_completion LABELS cli TIMEOUT 60
	COMMAND ${CMAKE_CURRENT_LIST_DIR}/test_completion.sh $<TARGET_FILE:tokenseal>
		${PROJECT_SOURCE_DIR}/cli/completion/tokenseal.bash)
