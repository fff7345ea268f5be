/* SPDX-License-Identifier: MIT */
/*
 * `tokenseal doctor [--json]`: its options, the order of the checks, and
 * the exit code (tokenseal(1)): 0 without a failed check (warnings
 * allowed), 4 when a check fails that the configuration or the host must
 * fix, else 5 when a keystore check fails, else 3 when the server or the
 * tokenseal service cannot be reached.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"
#include "ts_error.h"

const char cli_doctor_usage[] = "doctor [--json]";
const char cli_doctor_help[] =
    "Check the configuration file, the server (discovery, TLS, clock) and what it\n"
    "offers this configuration (device login, grant types, client authentication,\n"
    "introspection or userinfo, revocation, offline_access), the keystore, the PAM\n"
    "stacks, nsswitch.conf and sshd; print each check as ok, warn, fail or skip\n"
    "with its fix. Exit 0 without a fail (warnings allowed), 4 when a check fails\n"
    "that the configuration or the host must fix, else 5 when a keystore check\n"
    "fails, else 3 when the server or the tokenseal service cannot be reached.\n"
    "  --json    one JSON object with every check (schema 1, see tokenseal(1))\n";

static void quiet(void *ctx, int priority, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)priority;
	(void)fmt;
	(void)ap;
}

/* The broker's checks: the server, the keystore, the access policy. */
static void broker_checks(struct doctor *d)
{
	const struct cli *c = d->c;
	struct ts_client_request rq = {.type = TS_MSG_DOCTOR};
	struct ts_client_result res;
	json_t *doc, *checks, *v;
	size_t i;
	int r;

	rq.user = c->user;
	rq.flags = TS_FLAG_NONINTERACTIVE;
	r = cli_broker_call(c, &rq, NULL, &res);
	if (r == TS_E_NO_SERVICE) {
		cli_doctor_line(d, "fail", "broker", "systemctl start tokenseal-broker.socket",
		                "%s", CLI_NO_SERVICE_MSG);
		doc_set_exit(d, CLI_EXIT_UNAVAILABLE);
		return;
	}
	if (r < 0 || (res.code != 0 && !res.status_json)) {
		cli_doctor_line(d, "fail", "broker", "see the message; ask the administrator", "%s",
		                r < 0 ? ts_strerror(r) : res.message);
		doc_set_exit(d, cli_exit_for(r < 0 ? r : res.code, TS_STATE_NONE));
		if (r >= 0)
			ts_client_result_clear(&res);
		return;
	}
	/* with a configuration that cannot be used, root's broker sends one
	 * failed check per problem, each with what to change */
	if (res.code != 0)
		cli_doctor_line(d, "fail", "broker", NULL, "%s", res.message);
	doc = json_loads(res.status_json ? res.status_json : "", 0, NULL);
	checks = json_object_get(doc, "checks");
	json_array_foreach(checks, i, v)
	{
		const char *lv = json_string_value(json_object_get(v, "level"));
		const char *nm = json_string_value(json_object_get(v, "name"));
		const char *dt = json_string_value(json_object_get(v, "detail"));
		const char *fx = json_string_value(json_object_get(v, "fix"));

		if (lv && nm && !strcmp(lv, "data") && !strcmp(nm, "discovery-document")) {
			json_t *dd = json_object_get(v, "document");

			if (json_is_object(dd) && !d->discovery)
				d->discovery = json_incref(dd);
			continue;
		}
		if (!lv || !nm || !dt)
			continue;
		cli_doctor_line(d, lv, nm, fx, "%s", dt);
		if (json_is_true(json_object_get(v, "unreachable")))
			doc_set_exit(d, CLI_EXIT_UNAVAILABLE);
		if (!strcmp(nm, "discovery") && !strcmp(lv, "ok"))
			d->server_answered = true;
	}
	json_decref(doc);
	ts_client_result_clear(&res);
}

int cli_doctor_main(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	static const struct ts_config_report no_report = {quiet, NULL};
	struct doctor d = {.c = c};
	struct ts_config_problems probs;
	char fix[600];
	bool json = false;
	int o, x;

	/* a usage error under --json gets the error object of the other verbs
	 * (main leaves doctor's JSON to doctor) */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		json = json || strcmp(argv[i], "--json") == 0;
	while ((o = getopt_long(argc, argv, "+:h", lo, NULL)) != -1) {
		switch (o) {
		case 'j':
			d.json = true;
			break;
		case 'h':
			printf("usage: tokenseal %s\n\n%s", cli_doctor_usage, cli_doctor_help);
			return CLI_EXIT_OK;
		default:
			cli_err("%s: unknown option \"%s\"", "doctor", argv[optind - 1]);
			fprintf(stderr, "usage: tokenseal %s\n", cli_doctor_usage);
			if (json)
				cli_json_error(stdout, DOC_EXIT_USAGE);
			return DOC_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_err("%s: unexpected argument \"%s\"", "doctor", argv[optind]);
		fprintf(stderr, "usage: tokenseal %s\n", cli_doctor_usage);
		if (json)
			cli_json_error(stdout, DOC_EXIT_USAGE);
		return DOC_EXIT_USAGE;
	}
	/* a file that does not load is what doctor is for: root sees each
	 * problem with its fix here (the broker it names is not known then);
	 * others go on with the defaults (the default socket) */
	ts_config_defaults(&c->cfg);
	ts_config_problems_init(&probs, &no_report);
	if (ts_config_load(&c->cfg, c->config_path, NULL, &probs.rep) < 0)
		ts_config_defaults(&c->cfg);
	else
		c->cfg_ok = true;
	doc_local(&d);
	if (!c->cfg_ok && c->root) {
		for (unsigned i = 0; i < ts_config_problems_kept(&probs); i++) {
			ts_config_problem_fix(probs.text[i], c->config_path, fix, sizeof(fix));
			cli_doctor_line(&d, "fail", "config", fix, "%s", probs.text[i]);
		}
		cli_doctor_line(&d, "skip", "server", NULL,
		                "not asked: the configuration does not load");
	} else {
		broker_checks(&d);
	}
	doc_find_services(&d);
	doc_probes(&d);
	doc_lint_pam(&d);
	doc_lint_nsswitch(&d);
	doc_lint_sshd(&d);
	doc_print(&d, stdout);
	x = (int)doc_exit(&d);
	doc_free(&d);
	return x;
}
