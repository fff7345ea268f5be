# Helpers for the pam_wrapper tests of lifecycle.cmake and session.cmake
# (named so it sorts, and is included, before them; on its own it only
# looks up pam_wrapper and pam_deny.so and defines two functions).
find_library(TS_PAM_WRAPPER_LIB NAMES pam_wrapper)
find_file(TS_PAM_DENY_SO pam_deny.so
	PATHS /lib/x86_64-linux-gnu/security /usr/lib/x86_64-linux-gnu/security
	/lib64/security /usr/lib64/security /lib/security NO_DEFAULT_PATH)

# pam_wrapper gives each process that loads it one of 62 folders /tmp/pam.X
# for its lifetime, machine-wide, and a process that finds none exits in its
# constructor. The 50 concurrent PAM transactions of test_pam_lifecycle take
# most of them, so the tests under pam_wrapper run one at a time (every one
# sets this RESOURCE_LOCK), beside the tests that do not use it.
set(TS_PAM_WRAPPER_LOCK pam_wrapper_tmp_dirs)

# ts_pam_services(DIR dir CONF config PHASES auth account [session]
#                 SERVICES name...)
# Writes DIR/services/NAME for each NAME: per phase, the real pam_tokenseal
# (config=CONF debug) passing every result through, except PAM_IGNORE,
# which falls to pam_deny, so an ignore is told apart from a success.
function(ts_pam_services)
	cmake_parse_arguments(S "" "DIR;CONF" "PHASES;SERVICES" ${ARGN})
	set(_ctl "[success=done ignore=ignore default=die]")
	set(_content "")
	foreach(phase ${S_PHASES})
		string(LENGTH "${phase}" _len)
		math(EXPR _pad "9 - ${_len}")
		string(REPEAT " " ${_pad} _sp)
		string(APPEND _content
"${phase}${_sp}${_ctl} $<TARGET_FILE:pam_tokenseal> config=${S_CONF} debug
${phase}${_sp}required ${TS_PAM_DENY_SO}
")
	endforeach()
	foreach(svc ${S_SERVICES})
		file(GENERATE OUTPUT ${S_DIR}/services/${svc} CONTENT "${_content}")
	endforeach()
endfunction()

# ts_pam_wrapper_env(TEST test DIR dir [ENV K=V...])
# Runs TEST under pam_wrapper with the services of DIR/services (and, under
# TOKENSEAL_SANITIZE, the ASan/LSan settings pam_wrapper needs), or says it
# will be SKIPPED when pam_wrapper or pam_deny.so is missing.
function(ts_pam_wrapper_env)
	cmake_parse_arguments(W "" "TEST;DIR" "ENV" ${ARGN})
	if(NOT TS_PAM_WRAPPER_LIB OR NOT TS_PAM_DENY_SO)
		message(STATUS "pam_wrapper or pam_deny.so not found: ${W_TEST} will be SKIPPED")
		return()
	endif()
	# PAM_WRAPPER_DISABLE_DEEPBIND: with RTLD_DEEPBIND the module binds
	# pam_syslog to libpam's own, and its lines never reach pam_wrapper's
	# log: the tests that read the module's log (leak scans, "daemon not
	# used") would read an empty one
	set(_env LD_PRELOAD=${TS_PAM_WRAPPER_LIB} PAM_WRAPPER=1
		PAM_WRAPPER_SERVICE_DIR=${W_DIR}/services PAM_WRAPPER_DEBUGLEVEL=3
		PAM_WRAPPER_DISABLE_DEEPBIND=1 ${W_ENV})
	if(TOKENSEAL_SANITIZE)
		# pam_wrapper's constructor leaks a strdup; leaks of the module
		# itself are still reported
		file(WRITE ${W_DIR}/lsan.supp "leak:libpam_wrapper.so\n")
		list(APPEND _env UID_WRAPPER_DISABLE_DEEPBIND=1
			ASAN_OPTIONS=verify_asan_link_order=0
			LSAN_OPTIONS=suppressions=${W_DIR}/lsan.supp:print_suppressions=0)
	endif()
	set_tests_properties(${W_TEST} PROPERTIES ENVIRONMENT "${_env}"
		RESOURCE_LOCK ${TS_PAM_WRAPPER_LOCK})
endfunction()

# ts_pam_daemon_twin(TEST pam.name TARGET target TIMEOUT s [ARGS a...])
# Registers pam.name_daemon (labels pam, idp, daemon): the same test binary
# with the same environment (and RESOURCE_LOCK) as pam.name, plus
# TS_TEST_DAEMON=1: the test starts a `tokenseal-broker --daemon
# --foreground --debug` for each of its configs and points broker_path at a
# program that fails, so every request must be served by the daemon.
# Call it after the ENVIRONMENT of pam.name is set.
function(ts_pam_daemon_twin)
	cmake_parse_arguments(D "" "TEST;TARGET;TIMEOUT" "ARGS" ${ARGN})
	add_test(NAME ${D_TEST}_daemon COMMAND $<TARGET_FILE:${D_TARGET}> ${D_ARGS})
	get_test_property(${D_TEST} ENVIRONMENT _env)
	if(NOT _env)
		set(_env "")
	endif()
	list(APPEND _env TS_TEST_DAEMON=1)
	set_tests_properties(${D_TEST}_daemon PROPERTIES LABELS "pam;idp;daemon"
		TIMEOUT ${D_TIMEOUT} SKIP_RETURN_CODE 77 ENVIRONMENT "${_env}"
		RESOURCE_LOCK ${TS_PAM_WRAPPER_LOCK})
endfunction()
