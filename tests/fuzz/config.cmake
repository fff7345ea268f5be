# libFuzzer target for the configuration parser; the seed corpus is replayed
# as the plain CTest test fuzz.fuzz_config.
ts_add_fuzz(NAME fuzz_config
	SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.c
	LIBS ts_common
	CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/config)
