# The broker writes the NSS user cache after a sign-in: the real broker
# against the real test IdP, read back through the real libnss_tokenseal.so.2
# under nss_wrapper (SKIPPED without it).
if(TARGET tokenseal-broker AND TARGET nss_tokenseal)
	find_library(TS_NSS_WRAPPER_LIB NAMES nss_wrapper)
	set(_ts_wrapper "${TS_NSS_WRAPPER_LIB}")
	if(NOT TS_NSS_WRAPPER_LIB)
		set(_ts_wrapper "")
	endif()
	ts_add_unit_test(NAME test_broker_nss
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_broker_nss.c
		LIBS ts_broker ts_common
		LABELS idp nss
		TIMEOUT 300
		ARGS $<TARGET_FILE:tokenseal-broker> $<TARGET_FILE:nss_tokenseal> "${_ts_wrapper}")
	add_dependencies(test_broker_nss tokenseal-broker nss_tokenseal)
endif()

# Attacks on the NSS namespace (issue 15 §2, §3): identity-provider users
# named like system, privileged or local names, a name a package creates
# later, uid pinning, uids other sources hold; the broker and getent/id see
# nss_wrapper's passwd and group as the host's other sources.
if(TARGET tokenseal-broker AND TARGET nss_tokenseal)
	ts_add_unit_test(NAME test_broker_nss_attack
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_broker_nss_attack.c
		LIBS ts_broker ts_common
		LABELS idp nss attack
		TIMEOUT 300
		ARGS $<TARGET_FILE:tokenseal-broker> $<TARGET_FILE:nss_tokenseal> "${_ts_wrapper}")
	add_dependencies(test_broker_nss_attack tokenseal-broker nss_tokenseal)
endif()
