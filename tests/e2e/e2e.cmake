# End-to-end tests (label e2e; root): the freshly built .debs are installed
# with dpkg -i (e2e.install, a fixture), real sshd, sudo and su log users in
# through the installed pam_tokenseal.so against the bundled test IdP, and
# e2e.purge (the fixture's cleanup, so it runs even after a failure) purges
# them. The tests share the host, so they never run at the same time
# (RESOURCE_LOCK). See tests/e2e/README.md.
set(TS_E2E_DIR ${PROJECT_BINARY_DIR}/e2e)
set(TS_E2E_SRC ${CMAKE_CURRENT_SOURCE_DIR}/e2e)

ts_add_script_test(NAME install LABELS e2e TIMEOUT 300
	COMMAND ${TS_E2E_SRC}/install.sh ${PROJECT_SOURCE_DIR} ${TS_E2E_DIR} ${PROJECT_BINARY_DIR}/packages)
set_tests_properties(e2e.install PROPERTIES FIXTURES_REQUIRED ts_deb FIXTURES_SETUP ts_e2e)
ts_add_script_test(NAME purge LABELS e2e TIMEOUT 300
	COMMAND ${TS_E2E_SRC}/purge.sh ${PROJECT_SOURCE_DIR} ${TS_E2E_DIR})
set_tests_properties(e2e.purge PROPERTIES FIXTURES_CLEANUP ts_e2e)

foreach(t sshd_device sshd_pubkey sshd_logout sudo su nss_user)
	if(EXISTS ${TS_E2E_SRC}/test_${t}.sh)
		ts_add_script_test(NAME ${t} LABELS e2e TIMEOUT 400
			COMMAND ${TS_E2E_SRC}/test_${t}.sh ${PROJECT_SOURCE_DIR} ${TS_E2E_DIR})
		set_tests_properties(e2e.${t} PROPERTIES FIXTURES_REQUIRED ts_e2e)
	endif()
endforeach()
# the access policy and the IdP's groups as Linux groups (issue 16); a
# member removed from a group at the server trying sudo or ssh again is an
# attack, so these carry the attack label too
foreach(t nss_groups policy)
	ts_add_script_test(NAME ${t} LABELS e2e attack TIMEOUT 300
		COMMAND ${TS_E2E_SRC}/test_${t}.sh ${PROJECT_SOURCE_DIR} ${TS_E2E_DIR})
	set_tests_properties(e2e.${t} PROPERTIES FIXTURES_REQUIRED ts_e2e)
endforeach()
# the same logins served by the broker daemon instead of exec mode
foreach(t sshd_device sshd_pubkey sudo nss_groups policy)
	if(EXISTS ${TS_E2E_SRC}/test_${t}.sh)
		ts_add_script_test(NAME ${t}_daemon LABELS e2e daemon TIMEOUT 400 ENV E2E_DAEMON=1
			COMMAND ${TS_E2E_SRC}/test_${t}.sh ${PROJECT_SOURCE_DIR} ${TS_E2E_DIR})
		set_tests_properties(e2e.${t}_daemon PROPERTIES FIXTURES_REQUIRED ts_e2e
			RESOURCE_LOCK ts_e2e_host)
	endif()
endforeach()
set_tests_properties(e2e.install e2e.purge PROPERTIES RESOURCE_LOCK ts_e2e_host)
foreach(t sshd_device sshd_pubkey sshd_logout sudo su nss_user nss_groups policy)
	if(TEST e2e.${t})
		set_tests_properties(e2e.${t} PROPERTIES RESOURCE_LOCK ts_e2e_host)
	endif()
endforeach()
