/* SPDX-License-Identifier: MIT */
/* pam_tokenseal.so: loads with RTLD_NOW (every symbol resolves), exports the
 * six pam_sm_* functions, and nothing of its insides. */
#include <dlfcn.h>

#include <security/_pam_types.h>

#include "ts_test.h"

#ifndef TS_PAM_MODULE_PATH
#error "TS_PAM_MODULE_PATH must name the built module"
#endif

typedef int (*sm_fn)(void *pamh, int flags, int argc, const char **argv);

int main(void)
{
	static const char *const exported[] = {
	    "pam_sm_authenticate", "pam_sm_setcred",       "pam_sm_acct_mgmt",
	    "pam_sm_open_session", "pam_sm_close_session", "pam_sm_chauthtok",
	};
	/* internals of the module and of the static libraries it links */
	static const char *const hidden[] = {
	    "pts_run",        "pts_result_to_pam", "ts_client_call", "ts_msg_decode",
	    "ts_config_load", "ts_proto_read",     "ts_vlog",        "ts_sanitize_text",
	};
	void *h = dlopen(TS_PAM_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);

	CHECK_MSG(h != NULL, "dlopen: %s", dlerror());
	for (size_t i = 0; i < TS_ARRAY_SIZE(exported); i++)
		CHECK_MSG(dlsym(h, exported[i]) != NULL, "%s is not exported", exported[i]);
	for (size_t i = 0; i < TS_ARRAY_SIZE(hidden); i++)
		CHECK_MSG(dlsym(h, hidden[i]) == NULL, "%s is exported", hidden[i]);

	/* setcred and chauthtok are documented as PAM_IGNORE and touch nothing
	 * (not even the handle) */
	sm_fn setcred = (sm_fn)dlsym(h, "pam_sm_setcred");
	sm_fn chauthtok = (sm_fn)dlsym(h, "pam_sm_chauthtok");
	CHECK(setcred && chauthtok);
	CHECK_INT(setcred(NULL, 0, 0, NULL), PAM_IGNORE);
	CHECK_INT(chauthtok(NULL, 0, 0, NULL), PAM_IGNORE);
	CHECK_INT(dlclose(h), 0);
	return ts_test_done();
}
