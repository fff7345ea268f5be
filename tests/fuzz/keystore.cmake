# The sealed record parser (keystore/ks_format.c ks_record_open).
ts_add_fuzz(NAME fuzz_record
	SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_record.c
	LIBS ts_keystore
	CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/record)
