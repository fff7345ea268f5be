/* SPDX-License-Identifier: MIT */
/*
 * The transport choice, in one place (DESIGN.md §2): an ordinary user
 * reaches the broker only through the daemon's socket; root uses the
 * socket when a daemon answers there, else exec mode with --config
 * (ts_client's TS_CLIENT_AUTO: a daemon that dies before its answer is
 * replaced by exec mode); an ordinary user's call without a usable socket
 * is TS_E_NO_SERVICE.
 *
 * Root's keystore requests (init, verify, rotate-key, forget) always run in
 * exec mode: the service sees /etc read-only (ProtectSystem=strict), so it
 * can neither create nor replace the master key in key_file; the
 * service's own ExecStartPre runs `tokenseal keystore init`, which through
 * the socket would wait on the very start it is part of; and the
 * administrator's own tool must not depend on the service anyway.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "ts_error.h"

int cli_broker_call(const struct cli *c, const struct ts_client_request *rq,
                    const struct ts_conv *conv, struct ts_client_result *res)
{
	struct ts_client_opts o = {0};

	memset(res, 0, sizeof(*res));
	res->expires = -1;
	o.timeout_ms = rq->type == TS_MSG_LOGIN
	                   ? ts_client_frame_timeout_ms(c->cfg_ok ? c->cfg.device_timeout : 0)
	                   : 0;
	o.socket_path = c->cfg.socket_path;
	if (c->root) {
		o.mode = rq->type == TS_MSG_KEYSTORE ? TS_CLIENT_EXEC_ONLY : TS_CLIENT_AUTO;
		o.broker_path = c->cfg.broker_path;
		o.config_path = c->config_path;
	} else {
		o.mode = TS_CLIENT_SOCKET_ONLY;
	}
	return ts_client_call(&o, rq, conv, res);
}
