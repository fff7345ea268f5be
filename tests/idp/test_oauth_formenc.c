/* SPDX-License-Identifier: MIT */
/*
 * The form encoding of RFC 6749 App. B and the client_secret_basic
 * credentials of §2.3.1 (form-encode id and secret, then base64 of
 * "id:secret"), without a server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth.h"
#include "oauth_testing.h"
#include "ts_test.h"

static void enc(const char *in, const char *want)
{
	char *out = NULL;

	CHECK_INT(oauth_form_encoded(in, &out), 0);
	CHECK_STR(out, want);
	free(out);
}

static void test_form(void)
{
	/* space is '+', a '+' is %2B (App. B: application/x-www-form-urlencoded) */
	enc("a b", "a+b");
	enc("a+b", "a%2Bb");
	enc("+/=:% &?#~", "%2B%2F%3D%3A%25+%26%3F%23%7E");
	enc("AZaz09*-._", "AZaz09*-._");
	enc("", "");
	/* bytes above 0x7f (UTF-8) byte by byte, upper-case hex */
	enc("\xc3\xa9", "%C3%A9");
	enc("\x01\x7f", "%01%7F");
}

static void basic(const char *id, const char *secret, const char *want)
{
	char *out = NULL;

	CHECK_INT(oauth_basic_credentials(id, secret, &out), 0);
	CHECK_STR(out, want);
	free(out);
}

static void test_basic(void)
{
	/* base64("s6BhdRkqt3:7Fjfp0ZBr1KtDRbnfVdmIw"), RFC 6749 §2.3.1's example */
	basic("s6BhdRkqt3", "7Fjfp0ZBr1KtDRbnfVdmIw",
	      "czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3");
	/* base64("my+client%3Aid:a+b%2B%2F%3D%3A%25") */
	basic("my client:id", "a b+/=:%", "bXkrY2xpZW50JTNBaWQ6YStiJTJCJTJGJTNEJTNBJTI1");
}

int main(void)
{
	RUN(test_form);
	RUN(test_basic);
	return ts_test_done();
}
