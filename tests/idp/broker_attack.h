/* SPDX-License-Identifier: MIT */
/*
 * Shared by test_broker_attack.c (the attack group and main) and
 * broker_attack_regress.c (the regress group).
 */
#ifndef TS_TEST_BROKER_ATTACK_H
#define TS_TEST_BROKER_ATTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ts_client.h"
#include "ts_idp.h"
#include "ts_proto.h"

extern struct ts_idp idp;
extern char broker_bin[512], example[1024], cfg[700], ksdir[700], logfile[700], dbg[800];
extern char self_bin[4096], nss_wrapper[1024], missing[200];

struct call_req {
	enum ts_msg_type type;
	const char *user, *service, *method, *rhost, *password;
	uint32_t flags;
};

uid_t uid_of(const char *user);
/* One request through broker (exec mode) with config; 0 or the client's error. */
int call_as(const char *broker, const char *config, const struct call_req *q,
            struct ts_client_result *res);
/* One non-interactive request: its code, the message into msg (may be NULL). */
int ask(const char *config, enum ts_msg_type type, const char *user, char *msg, size_t msglen);
/* DIR/NAME.conf for client, with this test's keystore and login_methods, then more. */
void config_with(char *path, size_t len, const char *name, const char *client, const char *more);
/* A record of user in the compiled-in keystore (the broker looks there too). */
bool default_record(const char *user);
/* The code a user without a record in the test's keystore gets. */
int no_record_code(const char *user);
/* ts_broker_serve_one in process for peer uid peer: the code, message into msg. */
int peer_ask_type(const char *config, uid_t peer, enum ts_msg_type type, const char *user,
                  char *msg, size_t msglen);

void broker_regress_run(void);
int erange_child(const char *config);

#endif
