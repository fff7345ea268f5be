# Every PAM stack printed in docs/ and docs/man/ is run as printed (issue 15
# §4; tests/pam/doc_stacks.py, test_doc_stacks.c):
#  pam.doc_stack_markers (labels pam, docs, attack): every stack carries a
#    pam-stack marker saying what its text promises for root, carol and
#    alice, root=password is the only promise for root, and no
#    pam_tokenseal.so control anywhere in the docs sends PAM_IGNORE to
#    default=die/bad without ignore=. No root needed.
#  pam.doc_stacks (labels pam, attack, docs, idp): each stack, and the shipped
#    pam-auth-update profile assembled by pam-auth-update itself, runs under
#    pam_wrapper with the real libpam, the built pam_tokenseal.so, pam_matrix
#    in place of pam_unix, the real broker and the real test IdP; root,
#    carol (local password, no record) and alice (IdP user) get what the
#    text says. Needs root and pam-auth-update (SKIPPED otherwise).
if(NOT TARGET pam_tokenseal OR NOT TARGET tokenseal-broker)
	return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
	message(STATUS "python3 not found: the pam.doc_stacks tests are not registered")
	return()
endif()
set(_tds_py ${CMAKE_CURRENT_LIST_DIR}/doc_stacks.py)

ts_add_script_test(NAME doc_stack_markers LABELS pam docs attack TIMEOUT 60
	COMMAND ${Python3_EXECUTABLE} ${_tds_py} check ${PROJECT_SOURCE_DIR})

find_library(TS_PAM_WRAPPER_LIB NAMES pam_wrapper)
find_file(TS_PAM_MATRIX_SO pam_matrix.so
	PATHS /usr/lib/x86_64-linux-gnu/pam_wrapper /usr/lib64/pam_wrapper /usr/lib/pam_wrapper
	NO_DEFAULT_PATH)

# the driver runs this once per stack (not a CTest test of its own)
add_executable(test_doc_stacks ${CMAKE_CURRENT_LIST_DIR}/test_doc_stacks.c
	${CMAKE_CURRENT_LIST_DIR}/pam_harness.c)
target_link_libraries(test_doc_stacks PRIVATE ts_common PkgConfig::PAM ts_testlib ts_warnings)
add_dependencies(test_doc_stacks pam_tokenseal tokenseal-broker)

if(NOT TS_PAM_WRAPPER_LIB OR NOT TS_PAM_MATRIX_SO)
	message(STATUS "pam_wrapper or pam_matrix.so not found: pam.doc_stacks will be SKIPPED")
	ts_add_script_test(NAME doc_stacks LABELS pam attack docs idp
		COMMAND sh -c "echo 'SKIPPED: needs libpam_wrapper and pam_matrix.so'; exit 77")
	return()
endif()
ts_add_script_test(NAME doc_stacks LABELS pam attack docs idp TIMEOUT 900
	COMMAND ${Python3_EXECUTABLE} ${_tds_py} run ${PROJECT_SOURCE_DIR}
		--work ${CMAKE_CURRENT_BINARY_DIR}/docstacks
		--module $<TARGET_FILE:pam_tokenseal> --broker $<TARGET_FILE:tokenseal-broker>
		--test $<TARGET_FILE:test_doc_stacks>
		--pam-wrapper ${TS_PAM_WRAPPER_LIB} --pam-matrix ${TS_PAM_MATRIX_SO})
set_tests_properties(pam.doc_stacks PROPERTIES RESOURCE_LOCK ${TS_PAM_WRAPPER_LOCK})
if(TOKENSEAL_SANITIZE)
	# the driver passes its environment on to each pam_wrapper run: the
	# ASan/LSan settings pam_wrapper needs (as ts_pam_wrapper_env sets them)
	file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/docstacks-lsan.supp "leak:libpam_wrapper.so\n")
	set_tests_properties(pam.doc_stacks PROPERTIES ENVIRONMENT
		"PAM_WRAPPER_DISABLE_DEEPBIND=1;UID_WRAPPER_DISABLE_DEEPBIND=1;ASAN_OPTIONS=verify_asan_link_order=0;LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_BINARY_DIR}/docstacks-lsan.supp:print_suppressions=0")
endif()
