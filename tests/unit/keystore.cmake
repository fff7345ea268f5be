# keystore/: format, AEAD binding, bit flips, rollback, modes, CAS, rotation.
ts_add_unit_test(NAME test_keystore
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_keystore.c
	LIBS ts_keystore LABELS unit TIMEOUT 300)
# Several processes: killed writer, 20 writers under the lock, lock timeout.
ts_add_unit_test(NAME test_keystore_proc
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_keystore_proc.c
	LIBS ts_keystore LABELS unit TIMEOUT 300)
# Wrong owner: needs root (chown); skipped with the reason otherwise.
ts_add_unit_test(NAME test_keystore_owner
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_keystore_owner.c
	LIBS ts_keystore LABELS unit)
# Configuration never destroys a credential: no new key over records, bad
# key files kept, unknown key ids and mismatched identities left in place.
ts_add_unit_test(NAME test_keystore_config
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_keystore_config.c
	LIBS ts_keystore LABELS unit)
