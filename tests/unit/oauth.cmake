# oauth/ parsers, without a server (label unit).
if(TARGET ts_oauth)
	ts_add_unit_test(NAME test_oauth_parse
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_oauth_parse.c
		LIBS ts_oauth LABELS unit)
endif()
