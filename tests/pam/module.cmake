# pam_tokenseal.so (label pam): exports, link footprint, no static data, the
# result mapping, and the real module driven through libpam under pam_wrapper
# against a missing broker and against ts_proto_test_peer (a protocol test
# peer from tests/unit/fake_peer.c, not the broker).
if(NOT TARGET pam_tokenseal)
	return()
endif()

ts_add_unit_test(NAME test_pam_result LABELS pam unit
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pam_result.c
		${PROJECT_SOURCE_DIR}/pam_module/pam_result.c
	LIBS ts_common PkgConfig::PAM)
target_include_directories(test_pam_result PRIVATE ${PROJECT_SOURCE_DIR}/pam_module)

ts_add_unit_test(NAME test_module_dlopen LABELS pam
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_module_dlopen.c LIBS ts_common ${CMAKE_DL_LIBS})
target_compile_definitions(test_module_dlopen PRIVATE
	TS_PAM_MODULE_PATH="$<TARGET_FILE:pam_tokenseal>")
add_dependencies(test_module_dlopen pam_tokenseal)

set(_ts_pam_script_env "")
if(TOKENSEAL_SANITIZE)
	set(_ts_pam_script_env TS_SANITIZE=1)
endif()
ts_add_script_test(NAME module_link_footprint LABELS pam
	COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_module_link.sh $<TARGET_FILE:pam_tokenseal>
	ENV ${_ts_pam_script_env})
ts_add_script_test(NAME module_static_data LABELS pam
	COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_module_static_data.sh
		$<TARGET_FILE:pam_tokenseal>)

# pam_wrapper: service files and configs generated in the build tree.
find_library(TS_PAM_WRAPPER_LIB NAMES pam_wrapper)
find_file(TS_PAM_DENY_SO pam_deny.so
	PATHS /lib/x86_64-linux-gnu/security /usr/lib/x86_64-linux-gnu/security
	/lib64/security /usr/lib64/security /lib/security NO_DEFAULT_PATH)
set(_pamdir ${CMAKE_CURRENT_BINARY_DIR}/pam)
set(_mod $<TARGET_FILE:pam_tokenseal>)
set(_peer $<TARGET_FILE:ts_proto_test_peer>)
# socket_path names a socket no daemon listens on (never the host's
# /run/tokenseal/broker.sock): every request falls to exec mode.
set(_nosock "socket_path = ${_pamdir}/no-daemon.sock\n")
file(GENERATE OUTPUT ${_pamdir}/conf/missing.conf
	CONTENT "broker_path = /nonexistent/tokenseal-broker\n${_nosock}")
file(GENERATE OUTPUT ${_pamdir}/conf/peer.conf CONTENT "broker_path = ${_peer}\n${_nosock}")
file(GENERATE OUTPUT ${_pamdir}/conf/req.conf
	CONTENT "broker_path = ${_peer}\nrequire_token = yes\n${_nosock}")
file(GENERATE OUTPUT ${_pamdir}/conf/svc.conf CONTENT "broker_path = ${_peer}\n${_nosock}")
# Each tokenseal line passes every result through, except PAM_IGNORE, which
# falls to pam_deny (PAM_AUTH_ERR in account, PAM_SESSION_ERR in session), so
# the test can tell an ignore from a refusal.
# dyn.conf is written by the test itself, case by case.
foreach(svc missing peer req svc login dyn)
	set(_args "config=${_pamdir}/conf/${svc}.conf")
	if(svc STREQUAL "missing")
		string(APPEND _args " bogus_option")
	elseif(svc STREQUAL "svc")
		string(APPEND _args " service=sudo-i debug")
	endif()
	set(_ctl "[success=done ignore=ignore default=die]")
	file(GENERATE OUTPUT ${_pamdir}/services/tokenseal-${svc} CONTENT
"auth     ${_ctl} ${_mod} ${_args}
auth     required ${TS_PAM_DENY_SO}
account  ${_ctl} ${_mod} ${_args}
account  required ${TS_PAM_DENY_SO}
session  ${_ctl} ${_mod} ${_args}
session  required ${TS_PAM_DENY_SO}
password ${_ctl} ${_mod} ${_args}
password required ${TS_PAM_DENY_SO}
")
endforeach()

# tokenseal as the only module of every stack (sshd with tokenseal alone in
# auth): nothing after it turns a PAM_IGNORE into a code.
file(GENERATE OUTPUT ${_pamdir}/services/tokenseal-only CONTENT
"auth     required ${_mod} config=${_pamdir}/conf/peer.conf
account  required ${_mod} config=${_pamdir}/conf/peer.conf
session  required ${_mod} config=${_pamdir}/conf/peer.conf
")

# Not run a second time in daemon mode (nor test_pam_result, the dlopen,
# link and static-data checks): they test the module's own code and its exec
# path against ts_proto_test_peer, a protocol peer that is no daemon; the
# module's socket side is covered by test_client_socket.
ts_add_unit_test(NAME test_module_pam LABELS pam
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_module_pam.c LIBS ts_common PkgConfig::PAM)
target_compile_definitions(test_module_pam PRIVATE TS_PEER_PATH="$<TARGET_FILE:ts_proto_test_peer>")
add_dependencies(test_module_pam pam_tokenseal ts_proto_test_peer)
if(TS_PAM_WRAPPER_LIB AND TS_PAM_DENY_SO)
	set(_env LD_PRELOAD=${TS_PAM_WRAPPER_LIB} PAM_WRAPPER=1
		PAM_WRAPPER_SERVICE_DIR=${_pamdir}/services PAM_WRAPPER_DEBUGLEVEL=2
		TS_PAM_CONF_DIR=${_pamdir}/conf)
	if(TOKENSEAL_SANITIZE)
		# this pam_wrapper build reads the uid_wrapper spelling of the switch
		list(APPEND _env PAM_WRAPPER_DISABLE_DEEPBIND=1 UID_WRAPPER_DISABLE_DEEPBIND=1
			ASAN_OPTIONS=verify_asan_link_order=0)
	endif()
	set_tests_properties(pam.test_module_pam PROPERTIES ENVIRONMENT "${_env}"
		RESOURCE_LOCK ${TS_PAM_WRAPPER_LOCK})
else()
	message(STATUS "pam_wrapper or pam_deny.so not found: pam.test_module_pam will be SKIPPED")
endif()

# The real broker and the real test IdP behind the real module (label pam and
# idp; needs root, the users alice and bob, and the IdP's node_modules:
# SKIPPED otherwise). The service's config is written by the test.
if(TARGET tokenseal-broker)
	ts_add_unit_test(NAME test_pam_login LABELS pam idp TIMEOUT 600
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pam_login.c LIBS ts_common PkgConfig::PAM
		ARGS $<TARGET_FILE:tokenseal-broker>)
	add_dependencies(test_pam_login pam_tokenseal tokenseal-broker)
	if(TS_PAM_WRAPPER_LIB AND TS_PAM_DENY_SO)
		set_tests_properties(pam.test_pam_login PROPERTIES ENVIRONMENT
			"${_env};TS_PAM_LOGIN_CONF=${_pamdir}/conf/login.conf"
			RESOURCE_LOCK ${TS_PAM_WRAPPER_LOCK})
		# the same test served by the broker daemon
		ts_pam_daemon_twin(TEST pam.test_pam_login TARGET test_pam_login TIMEOUT 600
			ARGS $<TARGET_FILE:tokenseal-broker>)
	endif()
endif()
