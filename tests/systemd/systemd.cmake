# Under a real systemd (label systemd). keystore_exec: root's keystore verbs
# never go to the sandboxed service (no container needed). container: the
# .debs (the package.build_deb fixture) installed and used in a Debian 12
# container booted with systemd as PID 1 (root, debootstrap, systemd-nspawn;
# the first run debootstraps the tree into <build>/systemd-ct, later runs
# reuse it).
if(TARGET tokenseal AND TARGET tokenseal-broker)
	ts_add_script_test(NAME keystore_exec LABELS systemd cli TIMEOUT 120
		COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_keystore_exec.sh
			$<TARGET_FILE:tokenseal> $<TARGET_FILE:tokenseal-broker>)
endif()
ts_add_script_test(NAME container LABELS systemd attack TIMEOUT 1500
	COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_container.sh ${PROJECT_SOURCE_DIR}
		${PROJECT_BINARY_DIR} ${PROJECT_BINARY_DIR}/packages)
set_tests_properties(systemd.container PROPERTIES FIXTURES_REQUIRED ts_deb RUN_SERIAL TRUE)
# fresh_install: docs/quick-start.md from the package to the first login and
# back (issue 17), in a container of its own.
ts_add_script_test(NAME fresh_install LABELS systemd TIMEOUT 600
	COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_fresh_install.sh ${PROJECT_SOURCE_DIR}
		${PROJECT_BINARY_DIR} ${PROJECT_BINARY_DIR}/packages)
set_tests_properties(systemd.fresh_install PROPERTIES FIXTURES_REQUIRED ts_deb RUN_SERIAL TRUE)
