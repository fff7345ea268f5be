ts_add_unit_test(NAME test_common SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_common.c LIBS ts_common)
