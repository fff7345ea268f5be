# libnss_tokenseal.so.2 and the user cache (label nss).
if(NOT TARGET nss_tokenseal)
	return()
endif()

# Builds caches with the writer API, for the script tests and bench/nss.
add_executable(nsscache_tool ${CMAKE_CURRENT_LIST_DIR}/nsscache_tool.c)
target_link_libraries(nsscache_tool PRIVATE ts_common ts_warnings)

# The writer and reader directly: stability, collisions, tombstones, the
# nss_resolve_unknown rule, validation, damaged images, 10 000 users.
ts_add_unit_test(NAME test_nsscache LABELS nss unit
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_nsscache.c LIBS ts_common)
