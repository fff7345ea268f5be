# The device login's terminal QR code (broker/qr.c).
ts_add_unit_test(NAME test_qr SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_qr.c LIBS ts_broker)
