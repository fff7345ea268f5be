/* SPDX-License-Identifier: MIT */
/* The test builds' fault hook (ts_test_hook.h); empty in other builds. */
#include "ts_test_hook.h"

#ifdef TOKENSEAL_TEST_HOOKS
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char hook_step[64];
static int hook_signal = SIGKILL; /* 0: sleep */

__attribute__((constructor)) static void hook_read(void)
{
	const char *v = getenv("TOKENSEAL_TEST_HOOK");
	size_t n;

	if (!v || !v[0])
		return;
	n = strcspn(v, ":");
	if (n >= sizeof(hook_step))
		return;
	memcpy(hook_step, v, n);
	hook_step[n] = '\0';
	if (v[n] == ':' && strcmp(v + n + 1, "stop") == 0)
		hook_signal = SIGSTOP;
	else if (v[n] == ':' && strcmp(v + n + 1, "sleep") == 0)
		hook_signal = 0;
}

void ts_test_hook(const char *step)
{
	static const struct timespec half = {0, 500000000};

	if (!hook_step[0] || strcmp(step, hook_step) != 0)
		return;
	if (hook_signal)
		(void)kill(getpid(), hook_signal);
	else
		(void)nanosleep(&half, NULL);
}

void ts_test_hook_cb(void *step)
{
	ts_test_hook(step);
}
#else
typedef int ts_test_hook_unused; /* an empty translation unit is not ISO C */
#endif
