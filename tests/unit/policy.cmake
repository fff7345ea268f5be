# The access policy's decisions and the groups claim reader (label unit).
if(TARGET ts_broker)
	ts_add_unit_test(NAME test_policy
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_policy.c
		LIBS ts_broker ts_oauth ts_common PkgConfig::JANSSON
		LABELS unit)
endif()
