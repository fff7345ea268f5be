# common/ts_client.c against a PROTOCOL TEST PEER (tests/unit/fake_peer.c),
# not the broker: it plays scripted conversations over the exec-mode pipes.
add_executable(ts_proto_test_peer ${CMAKE_CURRENT_LIST_DIR}/fake_peer.c)
target_link_libraries(ts_proto_test_peer PRIVATE ts_common ts_warnings)
ts_add_unit_test(NAME test_client SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client.c LIBS ts_common)
target_compile_definitions(test_client PRIVATE TS_PEER_PATH="$<TARGET_FILE:ts_proto_test_peer>")
add_dependencies(test_client ts_proto_test_peer)

# The root caller's fallback (issue 15 §1, labels unit and attack): a daemon
# that accepts and never answers, one whose listen queue is full, one that
# reads a session request and answers late; the exec-mode broker of sudo's
# shape runs with every id root (no AT_SECURE). Needs root (SKIPPED else).
ts_add_unit_test(NAME test_client_root LABELS unit attack TIMEOUT 180
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_root.c LIBS ts_common)
target_compile_definitions(test_client_root PRIVATE
	TS_PEER_PATH="$<TARGET_FILE:ts_proto_test_peer>")
add_dependencies(test_client_root ts_proto_test_peer)
