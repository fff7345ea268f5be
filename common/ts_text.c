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
	static const char hex[] = "0123456789abcdef";
	uint8_t h[TS_SHA256_BYTES];

	if (!secret || len == 0) {
		memcpy(out, "(none)", sizeof("(none)"));
		return out;
	}
	ts_sha256(h, secret, len);
	memcpy(out, "sha256:", 7);
	for (size_t i = 0; i < 6; i++) {
		out[7 + 2 * i] = hex[h[i] >> 4];
		out[8 + 2 * i] = hex[h[i] & 15];
	}
	out[19] = '\0';
	ts_wipe(h, sizeof(h));
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
