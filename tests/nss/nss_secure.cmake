# The NSS module's recursion guard in a secure-execution process (issue 15
# §5, labels nss and attack): _TOKENSEAL_NSS_LOOP hides nothing from a
# process the kernel started with AT_SECURE (the test re-executes itself
# with a real uid that is not its effective one, as a setuid program runs;
# no setuid binary is installed). Needs root (SKIPPED otherwise).
if(NOT TARGET nss_tokenseal)
	return()
endif()
ts_add_unit_test(NAME test_nss_secure LABELS nss attack
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_nss_secure.c LIBS ${CMAKE_DL_LIBS})
target_compile_definitions(test_nss_secure PRIVATE
	TS_NSS_MODULE_PATH="$<TARGET_FILE:nss_tokenseal>")
# exports lstat, so the module's look at its cache is seen by the test
set_target_properties(test_nss_secure PROPERTIES ENABLE_EXPORTS ON)
add_dependencies(test_nss_secure nss_tokenseal)
