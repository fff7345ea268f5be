/* SPDX-License-Identifier: MIT */
/*
 * bench_resolve_user.so, LD_PRELOADed into pamtester for row 6's variant:
 * its constructor resolves TOKENSEAL_BENCH_USER through NSS (getpwnam)
 * before main, as sshd, sudo, su and login have each resolved the user
 * before they start PAM; pamtester has not, so in the row itself the
 * module's own getpwnam_r pays for glibc's NSS set-up (nsswitch.conf, the
 * files module's code, /etc/passwd's stdio buffer). Preloaded on both sides
 * (pam_tokenseal and the pam_permit floor).
 */
#include <pwd.h>
#include <stdlib.h>

__attribute__((constructor)) static void resolve_user(void)
{
	const char *user = getenv("TOKENSEAL_BENCH_USER");

	if (user && user[0])
		(void)getpwnam(user);
}
