# Packages (label package): build the .debs and .rpms from this tree with
# scripts/build-packages into <build>/packages, then check them. The builds
# are fixtures, so the checks (and the e2e tests, tests/e2e/) wait for them.
set(TS_PKG_OUT ${PROJECT_BINARY_DIR}/packages)
set(TS_PKG_DIR ${CMAKE_CURRENT_SOURCE_DIR}/package)

ts_add_script_test(NAME build_deb LABELS package TIMEOUT 900
	COMMAND ${TS_PKG_DIR}/build.sh deb ${PROJECT_SOURCE_DIR} ${TS_PKG_OUT})
set_tests_properties(package.build_deb PROPERTIES FIXTURES_SETUP ts_deb)
ts_add_script_test(NAME deb_contents LABELS package TIMEOUT 120
	COMMAND ${TS_PKG_DIR}/test_deb_contents.sh ${PROJECT_SOURCE_DIR} ${TS_PKG_OUT})
ts_add_script_test(NAME deb_lintian LABELS package TIMEOUT 300
	COMMAND ${TS_PKG_DIR}/test_deb_lintian.sh ${PROJECT_SOURCE_DIR} ${TS_PKG_OUT})
set_tests_properties(package.deb_contents package.deb_lintian PROPERTIES
	FIXTURES_REQUIRED ts_deb)

ts_add_script_test(NAME build_rpm LABELS package TIMEOUT 900
	COMMAND ${TS_PKG_DIR}/build.sh rpm ${PROJECT_SOURCE_DIR} ${TS_PKG_OUT})
set_tests_properties(package.build_rpm PROPERTIES FIXTURES_SETUP ts_rpm)
ts_add_script_test(NAME rpm_contents LABELS package TIMEOUT 120
	COMMAND ${TS_PKG_DIR}/test_rpm.sh ${PROJECT_SOURCE_DIR} ${TS_PKG_OUT})
set_tests_properties(package.rpm_contents PROPERTIES FIXTURES_REQUIRED ts_rpm)
