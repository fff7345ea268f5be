/* SPDX-License-Identifier: MIT */
/*
 * Redaction and sanitising (declared in ts_log.h). Kept apart from the log
 * sink in ts_log.c, which has process-wide state: these are pure functions,
 * so the PAM module can link them without taking any state into sshd.
 */
#include <string.h>

#include "ts_log.h"
#include "ts_mem.h"
#include "ts_sha256.h"

char *ts_redact(char out[TS_REDACT_LEN], const void *secret, size_t len)
{
	if (!secret || len == 0) {
		memcpy(out, "(none)", sizeof("(none)"));
		return out;
	}
	memcpy(out, "sha256:", 7);
	ts_sha256_hex(out + 7, 6, secret, len);
	return out;
}

char *ts_redact_str(char out[TS_REDACT_LEN], const char *secret)
{
	return ts_redact(out, secret, secret ? strlen(secret) : 0);
}

void ts_sanitize_text(char *out, size_t outlen, const char *in, size_t inlen)
{
	size_t o = 0;

	if (outlen == 0)
		return;
	for (size_t i = 0; in && i < inlen && in[i] && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)in[i];
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[o] = '\0';
}
