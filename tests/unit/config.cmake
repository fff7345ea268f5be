# Configuration parser (common/ts_config.c): behaviour and the man page check.
ts_add_unit_test(NAME test_config
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_config.c
	LIBS ts_common LABELS unit)
# Every key of the table is documented in tokenseal.conf(5) and the example
# file, and the example file parses cleanly.
ts_add_unit_test(NAME test_config_doc
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_config_doc.c
	LIBS ts_common LABELS unit
	ARGS ${PROJECT_SOURCE_DIR}/docs/man/tokenseal.conf.5
	     ${PROJECT_SOURCE_DIR}/docs/tokenseal.conf.example)
# The configuration's problems kept for the caller, and doctor's fix for each.
ts_add_unit_test(NAME test_config_problems
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_config_problems.c
	LIBS ts_common LABELS unit)
