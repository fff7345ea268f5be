# libnss_tokenseal.so.2 and the user cache (label nss).
if(NOT TARGET nss_tokenseal)
	return()
endif()

# Builds caches with the writer API, for the script tests and bench/nss.
add_executable(nsscache_tool ${CMAKE_CURRENT_LIST_DIR}/nsscache_tool.c)
target_link_libraries(nsscache_tool PRIVATE ts_common ts_warnings)
