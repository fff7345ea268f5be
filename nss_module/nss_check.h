/* SPDX-License-Identifier: MIT */
/*
 * Private to libnss_tokenseal.so.2: the other NSS sources, asked through
 * the process's own getpwnam_r/getgrnam_r/getpwuid_r/getgrgid_r (from its
 * global scope, so an interposer such as nss_wrapper is honoured) with this
 * module kept out by a thread-local guard.
 */
#ifndef TS_NSS_CHECK_H
#define TS_NSS_CHECK_H

#include <stdbool.h>
#include <stdint.h>

/* Non-zero while this thread asks the other sources: every entry point of
 * the module answers NOTFOUND at once. */
extern __thread unsigned nss_in_check __attribute__((tls_model("initial-exec")));

/* Whether another source knows name as a user or a group (a failing
 * source or an answer over 4 KiB counts as known). */
bool nss_name_elsewhere(const char *name);

/* Whether another source has uid as a uid or a gid, or a range of
 * /etc/subuid or /etc/subgid holds it (TOKENSEAL_NSS_SUBID_DIR, read with
 * secure_getenv, replaces /etc for the tests). */
bool nss_uid_elsewhere(uint32_t uid);

#endif
