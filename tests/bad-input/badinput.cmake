# The bad-input catalogue (issue 18): one folder per case under
# tests/bad-input/<case>/ with a `case` file; one runner, two CTest entries:
# badinput.badinput (every case without `attack: yes`) and
# badinput.attack (the attack-like ones; labels badinput and attack).
# `badinput BROKER DIR --table FILE` writes the Markdown summary
# (scripts/badinput-table regenerates the one in docs/testing.md).
if(TARGET tokenseal-broker)
	set(_bi ${CMAKE_CURRENT_LIST_DIR})
	set(_bi_preload_dir ${CMAKE_CURRENT_BINARY_DIR}/badinput-preload.d)
	add_library(badinput_preload SHARED ${_bi}/preload.c)
	target_compile_definitions(badinput_preload PRIVATE
		BI_PRELOAD_MARK="${_bi_preload_dir}/mark")
	target_link_libraries(badinput_preload PRIVATE ts_warnings)
	ts_add_unit_test(NAME badinput
		SOURCES ${_bi}/bi_main.c ${_bi}/bi_state.c ${_bi}/bi_talk.c ${_bi}/bi_setup.c ${_bi}/bi_caller.c
		LIBS ts_common PkgConfig::CURL
		LABELS badinput
		TIMEOUT 300
		ARGS $<TARGET_FILE:tokenseal-broker> ${_bi} --no-attack)
	target_compile_definitions(badinput PRIVATE
		BI_PRELOAD="$<TARGET_FILE:badinput_preload>" BI_PRELOAD_DIR="${_bi_preload_dir}")
	add_dependencies(badinput tokenseal-broker badinput_preload)
	add_test(NAME badinput.attack
		COMMAND badinput $<TARGET_FILE:tokenseal-broker> ${_bi} --attack)
	set_tests_properties(badinput.attack PROPERTIES
		LABELS "badinput;attack" TIMEOUT 300 SKIP_RETURN_CODE 77)
endif()
