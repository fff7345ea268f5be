# Self-test of the test IdP and the fault injector (tests/fixtures); label idp.
# Skipped (exit 77) when node, openssl, curl or tests/fixtures/idp/node_modules
# (npm ci) are missing.
ts_add_unit_test(NAME test_fixture
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fixture.c
	LIBS ts_common
	LABELS idp
	TIMEOUT 240)
