# The NSS user cache reader and the writer's parse (common/ts_nsscache.c):
# what libnss_tokenseal.so.2 runs in every process over a world-readable file.
ts_add_fuzz(NAME fuzz_nsscache
	SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_nsscache.c
	LIBS ts_common
	CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/nsscache)
