# The leak scanner the broker and PAM tests rely on must itself catch leaks.
ts_add_unit_test(NAME test_leak SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_leak.c LIBS ts_common)
