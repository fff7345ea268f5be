# common/ts_client.c in daemon mode (labels daemon and idp): the real
# tokenseal-broker --daemon, hostile and broken listeners, the killed-daemon
# fallback to exec mode. Needs root, the users alice and bob and the IdP's
# node_modules (SKIPPED otherwise). No pam_wrapper.
if(NOT TARGET tokenseal-broker)
	return()
endif()
ts_add_unit_test(NAME test_client_socket LABELS daemon idp TIMEOUT 300
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_socket.c LIBS ts_common
	ARGS $<TARGET_FILE:tokenseal-broker>)
add_dependencies(test_client_socket tokenseal-broker)
