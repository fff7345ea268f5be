# The broker protocol decoder (common/ts_proto.c), replayed over a corpus of
# valid frames for every message type plus malformed ones.
ts_add_fuzz(NAME fuzz_proto SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_proto.c LIBS ts_common
	CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/proto)
