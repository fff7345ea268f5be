/* SPDX-License-Identifier: MIT */
/*
 * ts_proto_test_peer: a PROTOCOL TEST PEER, not a broker. It stands where
 * tokenseal-broker would be exec'd (stdin/stdout = the protocol pipe), reads
 * one request and plays a scripted conversation, so the tests of
 * common/ts_client.c and of pam_tokenseal.so can prove the relay without
 * the real broker, network or keystore.
 *
 * The script is named by $TS_PEER_SCRIPT, or else by the first line of the
 * file "<config>.peer" (config = the --config argument):
 *   relay           INFO (echoes the request), ERROR, PROMPT echo on,
 *                   PROMPT echo off, INFO with both answers, RESULT 0
 *   noninteractive  PROMPT; RESULT TS_E_INTERACTION when the ANSWER has no
 *                   value, else 0
 *   result:<code>   RESULT <code> with the message "peer says <code>"
 *   env             RESULT 0 whose message describes argv, environ, fds
 *   type            RESULT TS_E_NEEDS_LOGIN whose message describes the
 *                   request (type, user, service, flags)
 *   hang            read the request, then sleep
 *   die             half a frame, then exit
 *   garbage         a frame of the wrong protocol version
 *   notext          an INFO without its TEXT field, then RESULT 0
 *   prompt-notext   a PROMPT without its TEXT field, then RESULT 0
 *   exit            read the request, exit without answering
 *   slow:<ms>       wait <ms> milliseconds (a device login waiting for its
 *                   approval sends nothing), then RESULT 0 "slow done"
 *   ids             RESULT 0 "uids=R,E,S gids=R,E,S secure=N" (N: AT_SECURE)
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

#include "ts_error.h"
#include "ts_proto.h"

extern char **environ;

#define TIMEOUT 10000

static void put(struct ts_msg_builder *b)
{
	const uint8_t *frame;
	size_t len;

	if (ts_msg_finish(b, &frame, &len) < 0 || ts_proto_write(1, frame, len, TIMEOUT) < 0)
		_exit(3);
	ts_msg_builder_clear(b);
}

static void text(uint8_t type, const char *t)
{
	struct ts_msg_builder b;

	ts_msg_begin(&b, type);
	ts_msg_add_str(&b, TS_F_TEXT, t);
	put(&b);
}

static void result(int code, const char *msg, const char *token)
{
	struct ts_msg_builder b;

	ts_msg_begin(&b, TS_MSG_RESULT);
	ts_msg_add_int(&b, TS_F_CODE, code);
	ts_msg_add_int(&b, TS_F_STATE, code == 0 ? TS_STATE_VALID : TS_STATE_NEEDS_LOGIN);
	ts_msg_add_str(&b, TS_F_MESSAGE, msg);
	ts_msg_add_str(&b, TS_F_TOKEN, token);
	if (token)
		ts_msg_add_int(&b, TS_F_EXPIRES, 3600);
	put(&b);
}

/* PROMPT, then the answer into out ("(none)" when absent). */
static void ask(const char *q, int echo, char *out, size_t outlen)
{
	struct ts_msg_builder b;
	struct ts_msg m;

	ts_msg_begin(&b, TS_MSG_PROMPT);
	ts_msg_add_str(&b, TS_F_TEXT, q);
	ts_msg_add_int(&b, TS_F_ECHO, echo);
	put(&b);
	if (ts_proto_read(0, &m, TIMEOUT) < 0 || m.type != TS_MSG_ANSWER)
		_exit(4);
	if (ts_msg_get_str(&m, TS_F_ANSWER, out, outlen) == -ENOENT)
		snprintf(out, outlen, "(none)");
	ts_msg_clear(&m);
}

static void script_name(int argc, char **argv, char *out, size_t outlen)
{
	const char *e = getenv("TS_PEER_SCRIPT");
	char path[4096];
	FILE *f;

	out[0] = '\0';
	if (e) {
		snprintf(out, outlen, "%s", e);
		return;
	}
	if (argc >= 3 && strcmp(argv[1], "--config") == 0) {
		snprintf(path, sizeof(path), "%s.peer", argv[2]);
		f = fopen(path, "r");
		if (f) {
			if (fgets(out, (int)outlen, f))
				out[strcspn(out, "\n")] = '\0';
			fclose(f);
		}
	}
}

static void describe_env(int argc, char **argv, char *out, size_t outlen)
{
	char fds[128] = "", errlink[256] = "";
	size_t nenv = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	ssize_t n;

	for (char **p = environ; p && *p; p++)
		nenv++;
	if (d) {
		while ((e = readdir(d))) {
			char buf[300];
			if (e->d_name[0] == '.' || strtol(e->d_name, NULL, 10) == dirfd(d))
				continue;
			snprintf(buf, sizeof(buf), "%s%s", fds[0] ? "," : "", e->d_name);
			if (strlen(fds) + strlen(buf) < sizeof(fds))
				memcpy(fds + strlen(fds), buf, strlen(buf) + 1);
		}
		closedir(d);
	}
	n = readlink("/proc/self/fd/2", errlink, sizeof(errlink) - 1);
	if (n > 0)
		errlink[n] = '\0';
	snprintf(out, outlen, "argc=%d argv0=%s argv1=%s argv2=%s env=%zu fds=%s stderr=%s", argc,
	         argv[0], argc > 1 ? argv[1] : "-", argc > 2 ? argv[2] : "-", nenv, fds, errlink);
}

int main(int argc, char **argv)
{
	char script[64], a1[256], a2[256], line[1024];
	char user[128] = "", service[128] = "", rhost[128] = "", tty[128] = "", method[64] = "";
	int64_t flags = -1;
	struct ts_msg req;

	script_name(argc, argv, script, sizeof(script));
	if (ts_proto_read(0, &req, TIMEOUT) < 0)
		return 2;
	if (strcmp(script, "garbage") == 0) {
		static const uint8_t bad[] = {0, 0, 0, 2, 99, 64};
		ts_msg_clear(&req);
		if (write(1, bad, sizeof(bad)) < 0)
			return 3;
		return 0;
	}
	/* absent optional fields stay empty; a malformed one ends the peer */
	if (ts_msg_get_str(&req, TS_F_USER, user, sizeof(user)) < -ENOENT ||
	    ts_msg_get_str(&req, TS_F_SERVICE, service, sizeof(service)) < -ENOENT ||
	    ts_msg_get_str(&req, TS_F_RHOST, rhost, sizeof(rhost)) < -ENOENT ||
	    ts_msg_get_str(&req, TS_F_TTY, tty, sizeof(tty)) < -ENOENT ||
	    ts_msg_get_str(&req, TS_F_METHOD, method, sizeof(method)) < -ENOENT ||
	    ts_msg_get_int(&req, TS_F_FLAGS, &flags) < -ENOENT)
		return 2;

	if (strcmp(script, "relay") == 0) {
		snprintf(line, sizeof(line),
		         "request type=%u user=%s service=%s flags=%lld rhost=%s tty=%s method=%s",
		         req.type, user, service, (long long)flags, rhost, tty, method);
		text(TS_MSG_INFO, line);
		text(TS_MSG_ERROR, "an error line");
		ask("Code: ", 1, a1, sizeof(a1));
		ask("Password: ", 0, a2, sizeof(a2));
		snprintf(line, sizeof(line), "answers: %s|%s", a1, a2);
		text(TS_MSG_INFO, line);
		result(0, "done", "tok-123");
	} else if (strcmp(script, "noninteractive") == 0) {
		snprintf(line, sizeof(line), "request type=%u user=%s flags=%lld", req.type, user,
		         (long long)flags);
		text(TS_MSG_INFO, line);
		ask("Code: ", 1, a1, sizeof(a1));
		if (strcmp(a1, "(none)") == 0)
			result(TS_E_INTERACTION, "interaction required but not possible", NULL);
		else
			result(0, a1, NULL);
	} else if (strncmp(script, "result:", 7) == 0) {
		char *end;
		long code = strtol(script + 7, &end, 10);
		snprintf(line, sizeof(line), "peer says %ld", code);
		result((int)code, line, NULL);
	} else if (strcmp(script, "type") == 0) {
		snprintf(line, sizeof(line), "type=%u user=%s service=%s flags=%lld", req.type,
		         user, service, (long long)flags);
		result(TS_E_NEEDS_LOGIN, line, NULL);
	} else if (strcmp(script, "env") == 0) {
		describe_env(argc, argv, line, sizeof(line));
		result(0, line, NULL);
	} else if (strcmp(script, "hang") == 0) {
		sleep(30);
	} else if (strcmp(script, "die") == 0) {
		static const uint8_t half[] = {0, 0, 0, 40, 1, 32, 0, 16};
		if (write(1, half, sizeof(half)) < 0)
			return 3;
	} else if (strcmp(script, "notext") == 0) {
		text(TS_MSG_INFO, NULL);
		result(0, "done", NULL);
	} else if (strcmp(script, "prompt-notext") == 0) {
		struct ts_msg_builder b;

		ts_msg_begin(&b, TS_MSG_PROMPT);
		ts_msg_add_int(&b, TS_F_ECHO, 1);
		put(&b);
		result(0, "done", NULL);
	} else if (strncmp(script, "slow:", 5) == 0) {
		long ms = strtol(script + 5, NULL, 10);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		result(0, "slow done", NULL);
	} else if (strcmp(script, "ids") == 0) {
		uid_t ru, eu, su;
		gid_t rg, eg, sg;

		if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
			return 3;
		snprintf(line, sizeof(line), "uids=%u,%u,%u gids=%u,%u,%u secure=%lu", (unsigned)ru,
		         (unsigned)eu, (unsigned)su, (unsigned)rg, (unsigned)eg, (unsigned)sg,
		         getauxval(AT_SECURE));
		result(0, line, NULL);
	} else if (strcmp(script, "exit") == 0) {
		/* nothing */
	} else {
		result(TS_E_IPC, "unknown peer script", NULL);
	}
	ts_msg_clear(&req);
	return 0;
}
