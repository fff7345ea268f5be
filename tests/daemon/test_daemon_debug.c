/* SPDX-License-Identifier: MIT */
/*
 * `debug = yes` in a [service NAME] section turns on the broker's debug
 * lines for that service's requests only (docs/debugging.md): the real
 * daemon, started without --debug in the foreground (its log on standard
 * error), serves one request for service sudo and one for sshd, and only
 * the sshd one leaves a debug line. A root caller's debug flag (the PAM
 * module's `debug` argument) does the same; an ordinary user's does not.
 * No identity server is needed: the requests are for a user without a
 * record. Root required (SKIPPED otherwise).
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ts_client.h"
#include "ts_daemon.h"
#include "ts_error.h"
#include "ts_proto.h"
#include "ts_test.h"

static const char *broker_bin;
static char cfg[900], sock[900], log_path[900];

static void request(const char *service, uint32_t flags)
{
	struct ts_client_opts o = {.broker_path = "/nonexistent",
	                           .config_path = cfg,
	                           .socket_path = sock,
	                           .mode = TS_CLIENT_SOCKET_ONLY,
	                           .timeout_ms = 30000};
	struct ts_client_request req = {
	    .type = TS_MSG_REVALIDATE, .user = "alice", .service = service, .flags = flags};
	struct ts_client_result res;

	memset(&res, 0, sizeof(res));
	CHECK_INT(ts_client_call(&o, &req, NULL, &res), 0);
	CHECK_MSG(res.via_daemon, "served by the daemon");
	fprintf(stderr, "   service %s flags %u: code %d %s\n", service, (unsigned)flags, res.code,
	        res.message);
	ts_client_result_clear(&res);
}

static bool logged(const char *service)
{
	char want[256];

	snprintf(want, sizeof(want), "broker: revalidate for alice (service %s) from uid 0",
	         service);
	return ts_daemon_file_has(log_path, want);
}

static void test_per_service_debug(void)
{
	struct ts_daemon d;
	char text[2400];

	snprintf(cfg, sizeof(cfg), "%s/debug.conf", ts_test_tmpdir());
	ts_daemon_socket_for(cfg, sock, sizeof(sock));
	snprintf(log_path, sizeof(log_path), "%s/debug.log", ts_test_tmpdir());
	snprintf(text, sizeof(text),
	         "issuer = https://127.0.0.1:9/not-asked\nclient_id = debug-test\n"
	         "keystore_dir = %s/keystore\nkey_file = %s/master.key\nsocket_path = %s\n"
	         "nss_cache = none\n"
	         "[service sshd]\ndebug = yes\n",
	         ts_test_tmpdir(), ts_test_tmpdir(), sock);
	ts_test_write_file(cfg, text, strlen(text), 0644);
	CHECK_INT(ts_daemon_start_nodebug(&d, broker_bin, cfg, sock, log_path), 0);

	request("sudo", 0);
	CHECK_MSG(!logged("sudo"), "no debug line for a service without debug = yes");
	request("sshd", 0);
	CHECK_MSG(logged("sshd"), "a debug line for [service sshd] debug = yes (%s)", log_path);
	/* a root caller's flag (pam_tokenseal.so debug) */
	request("login", TS_FLAG_DEBUG);
	CHECK_MSG(logged("login"), "a debug line for a root caller's debug flag");
	/* the switch is per request: the next sudo request has none again */
	request("sudo", 0);
	CHECK_MSG(!logged("sudo"), "debug stays off for sudo after another service's request");
	CHECK_MSG(WIFEXITED(ts_daemon_stop(&d)), "the daemon stopped");
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	broker_bin = argv[1];
	if (getuid() != 0)
		TS_SKIP("needs root (the daemon serves as root)");
	if (!getpwnam("alice"))
		TS_SKIP("needs the local test user alice (scripts/test creates it)");
	CHECK_INT(chmod(ts_test_tmpdir(), 0755), 0);
	RUN(test_per_service_debug);
	return ts_test_done();
}
