# oauth/ parsers under libFuzzer (TOKENSEAL_FUZZ=ON) and as corpus replays (label fuzz).
if(TARGET ts_oauth)
	foreach(t token introspection discovery device idclaims groups)
		ts_add_fuzz(NAME fuzz_oauth_${t}
			SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_oauth_${t}.c
			LIBS ts_oauth
			CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/oauth_${t})
	endforeach()
endif()
