/* SPDX-License-Identifier: MIT */
/*
 * `tokenseal doctor` inside the CLI: the checks collected in one list
 * (doctor_out.c prints them as text or as one JSON object), the local
 * checks (doctor_local.c), the server's capabilities read from its
 * discovery document as the broker fetched it (doctor_probes.c), and the
 * lints of the PAM stacks, nsswitch.conf (doctor_lint.c) and sshd
 * (doctor_sshd.c). The CLI speaks no HTTP: everything from the server comes
 * through the broker's TS_MSG_DOCTOR answer.
 */
#ifndef TS_CLI_DOCTOR_H
#define TS_CLI_DOCTOR_H

#include <jansson.h>

#include "cli.h"

#define DOC_PAM_DIR "/etc/pam.d"
#define DOC_NSSWITCH "/etc/nsswitch.conf"
#define DOC_SSHD_CONFIG "/etc/ssh/sshd_config"
#define DOC_SERVICES_MAX 32
/* A mistyped option or argument: CLI_EXIT_USAGE (64) where the CLI has it. */
#define DOC_EXIT_USAGE CLI_EXIT_USAGE

struct doc_check {
	char *name, *status, *message, *fix; /* status: ok, warn, fail, skip */
	enum cli_exit exit;                  /* what a fail means for the exit code */
};

/* A PAM service that uses tokenseal, with its configuration (the top
 * level and its [service NAME] section). */
struct doc_service {
	char name[TS_NAME_MAX];
	struct ts_config cfg;
	bool pam;     /* /etc/pam.d/NAME uses pam_tokenseal.so (maybe through include) */
	bool section; /* the file has a [service NAME] section */
};

struct doctor {
	const struct cli *c;
	bool json;
	struct doc_check *v;
	size_t n, cap;
	json_t *discovery; /* the server's discovery document, or NULL */
	bool server_answered;
	struct doc_service *svc;
	size_t nsvc;
};

/* doctor_out.c */
void cli_doctor_line(struct doctor *d, const char *status, const char *name, const char *fix,
                     const char *fmt, ...) TS_PRINTF(5, 6) TS_NONNULL(1, 2, 3, 5);
/* The exit class of the check added last (default: 5 for keystore-*, else 4). */
void doc_set_exit(struct doctor *d, enum cli_exit x) TS_NONNULL(1);
enum cli_exit doc_exit(const struct doctor *d) TS_NONNULL(1);
void doc_print(const struct doctor *d, FILE *f) TS_NONNULL(1, 2);
void doc_free(struct doctor *d) TS_NONNULL(1);

/* doctor_local.c: the configuration file, the socket, the unit */
void doc_local(struct doctor *d) TS_NONNULL(1);
/* The services that use tokenseal: PAM stacks and [service] sections. */
void doc_find_services(struct doctor *d) TS_NONNULL(1);
/* Whether /etc/pam.d/name uses pam_tokenseal.so, directly or through
 * include, substack or @include. */
bool doc_pam_uses(const char *name) TS_NONNULL(1);
/* The service, or NULL. */
const struct doc_service *doc_service(const struct doctor *d, const char *name) TS_NONNULL(1, 2);

/* doctor_probes.c */
void doc_probes(struct doctor *d) TS_NONNULL(1);

/* doctor_lint.c: one line of a PAM stack ("-" and "@include" folded in) */
#define DOC_PAM_LINES_MAX 128
struct doc_pam_line {
	unsigned lineno;
	char type[16];     /* auth, account, session, password */
	char control[256]; /* required, ..., or "[value=action ...]" */
	char module[256];  /* the module, or the file of include/substack/@include */
	bool include;
};
/* The lines of dir/name; the count, or -errno. */
int doc_pam_read(const char *dir, const char *name, struct doc_pam_line *l, int max)
    TS_NONNULL(1, 2, 3);
bool doc_pam_is_tokenseal(const struct doc_pam_line *l) TS_NONNULL(1);
void doc_lint_pam(struct doctor *d) TS_NONNULL(1);
void doc_lint_nsswitch(struct doctor *d) TS_NONNULL(1);

/* doctor_sshd.c */
void doc_lint_sshd(struct doctor *d) TS_NONNULL(1);

#endif
