# Small helpers shared by every CMakeLists.txt in the tree.

function(ts_add_subdirectory_if_present dir)
	if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/CMakeLists.txt)
		add_subdirectory(${dir})
	endif()
endfunction()

# ts_add_unit_test(NAME name SOURCES a.c b.c LIBS lib... [LABELS l...] [TIMEOUT s]
#                  [ENV K=V...])
# Builds tests/<name> and registers it in CTest under "<label>.<name>".
# A test that cannot run here prints "SKIPPED: reason" and exits 77; CTest
# reports it as skipped (SKIP_RETURN_CODE), never as passed.
function(ts_add_unit_test)
	cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ENV;ARGS" ${ARGN})
	if(NOT T_LABELS)
		set(T_LABELS unit)
	endif()
	if(NOT T_TIMEOUT)
		set(T_TIMEOUT 120)
	endif()
	add_executable(${T_NAME} ${T_SOURCES})
	target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} ts_testlib ts_warnings)
	list(GET T_LABELS 0 first_label)
	add_test(NAME ${first_label}.${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
	set_tests_properties(${first_label}.${T_NAME} PROPERTIES
		LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77)
	if(T_ENV)
		set_tests_properties(${first_label}.${T_NAME} PROPERTIES ENVIRONMENT "${T_ENV}")
	endif()
endfunction()

# ts_add_script_test(NAME name COMMAND cmd args... [LABELS l...] [TIMEOUT s] [ENV K=V...])
function(ts_add_script_test)
	cmake_parse_arguments(T "" "NAME;TIMEOUT" "COMMAND;LABELS;ENV" ${ARGN})
	if(NOT T_TIMEOUT)
		set(T_TIMEOUT 300)
	endif()
	list(GET T_LABELS 0 first_label)
	add_test(NAME ${first_label}.${T_NAME} COMMAND ${T_COMMAND})
	set_tests_properties(${first_label}.${T_NAME} PROPERTIES
		LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77)
	if(T_ENV)
		set_tests_properties(${first_label}.${T_NAME} PROPERTIES ENVIRONMENT "${T_ENV}")
	endif()
endfunction()

# ts_add_fuzz(NAME name SOURCE fuzz_x.c LIBS lib... CORPUS dir)
# Always builds <name>_replay: a plain program that feeds every file of the
# seed corpus to LLVMFuzzerTestOneInput, registered as CTest "fuzz.<name>".
# With -DTOKENSEAL_FUZZ=ON and clang, also builds <name> with -fsanitize=fuzzer.
function(ts_add_fuzz)
	cmake_parse_arguments(F "" "NAME;SOURCE;CORPUS" "LIBS" ${ARGN})
	add_executable(${F_NAME}_replay ${F_SOURCE} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.c)
	target_link_libraries(${F_NAME}_replay PRIVATE ${F_LIBS} ts_warnings)
	add_test(NAME fuzz.${F_NAME} COMMAND ${F_NAME}_replay ${F_CORPUS})
	set_tests_properties(fuzz.${F_NAME} PROPERTIES LABELS fuzz TIMEOUT 300)
	if(TOKENSEAL_FUZZ)
		if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
			message(FATAL_ERROR "TOKENSEAL_FUZZ=ON needs clang (CC=clang)")
		endif()
		add_executable(${F_NAME} ${F_SOURCE})
		target_compile_options(${F_NAME} PRIVATE -fsanitize=fuzzer,address,undefined)
		target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer,address,undefined)
		target_link_libraries(${F_NAME} PRIVATE ${F_LIBS} ts_warnings)
	endif()
endfunction()
