# common/ts_proto.c: the broker protocol (framing, messages, frame I/O).
ts_add_unit_test(NAME test_proto SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_proto.c LIBS ts_common)
