/* SPDX-License-Identifier: MIT */
/*
 * keystore/: a record owned by someone other than root, its user or the
 * keystore's own uid is refused and left in place (needs root to chown).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ks.h"
#include "ts_error.h"
#include "ts_test.h"

static const struct ks_identity alice = {
    .uid = 1000, .user = "alice", .issuer = "https://idp.example", .client_id = "tokenseal"};

int main(void)
{
	char dir[600], keyfile[600], p[700], kp[700];
	struct ks *ks = NULL;
	struct ks_lock *l = NULL;
	struct ks_blob *b = NULL;
	struct stat st;
	uint64_t g = 0;

	if (geteuid() != 0)
		TS_SKIP("needs root to chown files to other users");
	snprintf(dir, sizeof(dir), "%s/ks", ts_test_tmpdir());
	snprintf(keyfile, sizeof(keyfile), "%s/key", ts_test_tmpdir());
	CHECK_INT(ks_init(dir, keyfile, NULL), 0);
	CHECK_INT(ks_open(&ks, dir, keyfile, NULL), 0);
	CHECK_INT(ks_lock(ks, alice.uid, &l), 0);
	CHECK_INT(ks_write(ks, l, &alice, "owned", 5, 0, &g), 0);
	ks_unlock(l);
	snprintf(p, sizeof(p), "%s/users/1000.seal", dir);

	/* another user's file */
	CHECK_INT(chown(p, 4242, 0), 0);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_BAD_OWNER);
	CHECK_INT(lstat(p, &st), 0); /* left in place */
	CHECK_INT(st.st_uid, 4242);
	/* the record's own user is an acceptable owner */
	CHECK_INT(chown(p, alice.uid, 0), 0);
	CHECK_INT(ks_read(ks, &alice, &b), 0);
	b = ks_blob_free(b);
	/* ... but not for another user's record */
	{
		struct ks_identity bob = alice;
		char q[700];
		bob.uid = 1001;
		bob.user = "bob";
		CHECK_INT(ks_lock(ks, bob.uid, &l), 0);
		CHECK_INT(ks_write(ks, l, &bob, "bob", 3, 0, &g), 0);
		ks_unlock(l);
		snprintf(q, sizeof(q), "%s/users/1001.seal", dir);
		CHECK_INT(chown(q, alice.uid, 0), 0);
		CHECK_INT(ks_read(ks, &bob, &b), TS_E_BAD_OWNER);
	}
	CHECK_INT(chown(p, 0, 0), 0);
	CHECK_INT(ks_read(ks, &alice, &b), 0);
	ks_blob_free(b);
	ks_close(ks);

	/* the master key file must belong to root (or us) */
	snprintf(kp, sizeof(kp), "%s", keyfile);
	CHECK_INT(chown(kp, 4242, 0), 0);
	CHECK_INT(ks_open(&ks, dir, kp, NULL), TS_E_BAD_OWNER);
	CHECK_INT(chown(kp, 0, 0), 0);
	CHECK_INT(ks_open(&ks, dir, kp, NULL), 0);
	ks_close(ks);
	return ts_test_done();
}
