# libFuzzer targets for the bounded parsers of issue 18 beyond the first
# ones (config, record, nsscache, oauth, proto): the groups_claim path
# syntax, the URL rule, the access policy, the identity binding with
# username_map, and a user's conversation answer from the terminal to the
# broker. Each seed corpus is replayed as the CTest test fuzz.<name> (label
# fuzz); scripts/fuzz-long runs them under libFuzzer.
ts_add_fuzz(NAME fuzz_claim_path
	SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_claim_path.c
	LIBS ts_common
	CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/claim_path)
ts_add_fuzz(NAME fuzz_url
	SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_url.c
	LIBS ts_common
	CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/url)
if(TARGET ts_broker)
	ts_add_fuzz(NAME fuzz_policy
		SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_policy.c
		LIBS ts_broker
		CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/policy)
	ts_add_fuzz(NAME fuzz_identity
		SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_identity.c
		LIBS ts_broker
		CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/identity)
endif()
if(TARGET ts_cli)
	ts_add_fuzz(NAME fuzz_conv_answer
		SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_conv_answer.c
		LIBS ts_cli
		CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/conv_answer)
endif()
if(TARGET ts_broker)
	# the stored record's JSON codec (broker/record_json.c): decode, and a
	# decoded record survives encode + decode unchanged
	ts_add_fuzz(NAME fuzz_record_json
		SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_record_json.c
		LIBS ts_broker
		CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/record_json)
endif()
