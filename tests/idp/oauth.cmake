# oauth/ against the real IdP, the fault endpoint, and local failures (label idp).
if(TARGET ts_oauth)
	find_package(Threads REQUIRED)
	foreach(t idp faults local)
		ts_add_unit_test(NAME test_oauth_${t}
			SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_oauth_${t}.c
				${CMAKE_CURRENT_LIST_DIR}/test_oauth_util.c
			LIBS ts_oauth Threads::Threads LABELS idp TIMEOUT 300)
		target_include_directories(test_oauth_${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
	endforeach()
endif()
