# The lifecycle engine's pure decision logic (no server, no keystore).
ts_add_unit_test(NAME test_lifecycle
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lifecycle.c ${PROJECT_SOURCE_DIR}/broker/lifecycle.c
		${PROJECT_SOURCE_DIR}/broker/record_json.c
	LIBS ts_oauth ts_common PkgConfig::JANSSON
	LABELS unit)
target_include_directories(test_lifecycle PRIVATE ${PROJECT_SOURCE_DIR}/broker
	${PROJECT_SOURCE_DIR}/oauth)
