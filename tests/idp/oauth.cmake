# oauth/ against the real IdP, the fault endpoint, and local failures (label idp).
if(TARGET ts_oauth)
	find_package(Threads REQUIRED)
	foreach(t idp faults local clientauth)
		ts_add_unit_test(NAME test_oauth_${t}
			SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_oauth_${t}.c
				${CMAKE_CURRENT_LIST_DIR}/test_oauth_util.c
			LIBS ts_oauth Threads::Threads LABELS idp TIMEOUT 300)
		target_include_directories(test_oauth_${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
	endforeach()
	# what a refresh sends (no scope) and keeps (the refresh token), against a
	# local one-shot server that records the request (issue 17)
	ts_add_unit_test(NAME test_oauth_refresh_form
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_oauth_refresh_form.c
			${CMAKE_CURRENT_LIST_DIR}/test_oauth_util.c
		LIBS ts_oauth Threads::Threads LABELS unit TIMEOUT 60)
	target_include_directories(test_oauth_refresh_form PRIVATE ${CMAKE_CURRENT_LIST_DIR})
	# the form encoding and client_secret_basic credentials (RFC 6749 §2.3.1)
	ts_add_unit_test(NAME test_oauth_formenc
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_oauth_formenc.c
		LIBS ts_oauth LABELS unit)
endif()
