/* SPDX-License-Identifier: MIT */
/*
 * keystore/: root-only. A record, state file, lock file or key file owned by
 * anyone but root (the keystore's own uid, here also root) is refused and
 * left in place, the record's own user included (needs root to chown).
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
	/* not even the record's own user: no process of hers holds records */
	CHECK_INT(chown(p, alice.uid, 0), 0);
	CHECK_INT(ks_read(ks, &alice, &b), TS_E_BAD_OWNER);
	CHECK_INT(lstat(p, &st), 0);
	CHECK_INT(st.st_uid, alice.uid);
	/* nor another user's record */
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
	b = ks_blob_free(b);
	/* the counter file and the lock file: root's only */
	{
		char sp[700];
		struct ks_lock *l2 = NULL;

		snprintf(sp, sizeof(sp), "%s/state/1000.gen", dir);
		CHECK_INT(chown(sp, alice.uid, 0), 0);
		CHECK_INT(ks_read(ks, &alice, &b), TS_E_BAD_OWNER);
		CHECK_INT(chown(sp, 0, 0), 0);
		snprintf(sp, sizeof(sp), "%s/locks/1000.lock", dir);
		CHECK_INT(chown(sp, alice.uid, 0), 0);
		CHECK_INT(ks_lock(ks, alice.uid, &l2), TS_E_BAD_OWNER);
		CHECK_INT(chown(sp, 0, 0), 0);
		CHECK_INT(ks_lock(ks, alice.uid, &l2), 0);
		ks_unlock(l2);
		/* a folder of the user's is refused as well */
		snprintf(sp, sizeof(sp), "%s/users", dir);
		CHECK_INT(chown(sp, alice.uid, 0), 0);
		ks_close(ks);
		CHECK_INT(ks_open(&ks, dir, keyfile, NULL), TS_E_BAD_OWNER);
		CHECK_INT(chown(sp, 0, 0), 0);
		CHECK_INT(ks_open(&ks, dir, keyfile, NULL), 0);
	}
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
