/* SPDX-License-Identifier: MIT */
/*
 * One error type for all of tokenseal: 0 is success, a negative errno value is
 * a system error, and the values below TS_E_BASE are tokenseal's own.
 * ts_strerror() turns any of them into a message for a person.
 */
#ifndef TS_ERROR_H
#define TS_ERROR_H

enum ts_err {
	TS_OK = 0,
	TS_E_BASE = -1000,

	/* keystore */
	TS_E_CORRUPT = -1001,	  /* record failed authentication or is malformed */
	TS_E_ROLLBACK = -1002,	  /* record older than the newest generation seen */
	TS_E_CONFLICT = -1003,	  /* compare-and-swap lost: the record changed */
	TS_E_BAD_OWNER = -1004,	  /* file has the wrong owner */
	TS_E_BAD_MODE = -1005,	  /* file or folder has unsafe permissions */
	TS_E_NOT_REGULAR = -1006, /* not a regular file (symlink, fifo, ...) */
	TS_E_TOO_BIG = -1007,	  /* input over its declared maximum */
	TS_E_LOCK_TIMEOUT = -1008,
	TS_E_NO_KEY = -1009,	/* master key file missing or unreadable */
	TS_E_KEY_ID = -1010,	/* record sealed under a key id we do not hold */
	TS_E_QUARANTINED = -1011, /* record was corrupt and has been moved aside */
	TS_E_MISMATCH = -1012,	  /* record sealed for another issuer/client/user name */

	/* configuration */
	TS_E_CONFIG = -1020,

	/* the broker protocol (framing and messages between client and broker) */
	TS_E_IPC = -1030,

	/* the server's answers (oauth/ taxonomy, see oauth/oauth.h) */
	TS_E_REJECTED_TOKEN = -1040, /* token rejected; a refresh may heal it */
	TS_E_NEEDS_LOGIN = -1041,    /* refresh refused (invalid_grant): sign in again */
	TS_E_SERVER_CONFIG = -1042,  /* client or TLS configuration refused */
	TS_E_UNAVAILABLE = -1043,    /* network, timeout, 5xx, 429 */
	TS_E_BAD_ANSWER = -1044,     /* the server's answer was malformed (not our IPC) */
	TS_E_IDENTITY_CHANGED = -1045,
	TS_E_DENIED = -1046,	      /* device login denied by the user */
	TS_E_EXPIRED = -1047,	      /* device code expired / deadline reached */
	TS_E_IDENTITY_MISMATCH = -1048, /* server identity is not the PAM user */
	TS_E_INTERACTION = -1049,	/* interaction needed but not possible */
	TS_E_NO_RECORD = -1050,		/* not signed in */
	TS_E_PERM = -1051,		/* caller may not act for that user */
	TS_E_SUBJECT_PINNED = -1052,	/* another subject is pinned to this account */
	TS_E_FOREIGN_TOKEN = -1053,	/* token was issued to another client */
	TS_E_SIGNED_OUT = -1054,	/* seen before, now holds no tokens */
	TS_E_NOT_SAVED = -1055,		/* refresh accepted but the record could not be stored */
	TS_E_NOT_SERVED = -1056,	/* uid below min_uid: not tokenseal's user */
	TS_E_NO_SERVICE = -1057,	/* the broker daemon's socket is absent or refuses */
	/* the configuration is unusable or not written yet, and this user has no
	 * record: tokenseal steps aside (PAM_IGNORE) instead of refusing */
	TS_E_NOT_CONFIGURED = -1058,
	TS_E_POLICY = -1059,		/* the access policy (allow_*, deny_groups) refuses */
	/* the daemon refused the connection before reading it (its slots for
	 * this uid, or all it may use, are taken): a root caller uses exec mode */
	TS_E_BUSY = -1060,
	/* the daemon took the request and closed the connection before its
	 * result (stopped, restarted or killed meanwhile): try again */
	TS_E_SERVICE_LOST = -1061,
};

/* A message for any value returned by a tokenseal function. Never NULL. */
const char *ts_strerror(int err);

#endif
