/* SPDX-License-Identifier: MIT */
/*
 * testing/sweep.c: the fail-nth sweep driver (tu_sweep), for the project's
 * suites and users' scenarios alike.
 *
 * The scenario runs once clean, then with failure point 1 failing, then 2,
 * and so on, until a run ends without the armed point firing: every point
 * on the scenario's path has then failed once.  After every run the
 * caller's check asserts that the failure left state exactly as it was
 * (the kernel's rule: a failed request changes nothing).  The points exist
 * only in the fault-injection build; against the normal library a sweep
 * would pass while testing nothing, so it fails instead.
 */
#include "include/spaprtce/testing.h"

unsigned tu_sweep(int (*run)(void *ctx), void (*check)(void *ctx, int rc), void *ctx)
{
	unsigned n;
	int rc;

	ck_assert_msg(tu_fault_injection(),
		      "tu_sweep needs the fault-injection library: link libspaprtce-fi");
	tu_fail_nth_arm(0);
	rc = run(ctx);
	ck_assert_msg(rc == 0, "clean run of the sweep scenario failed: %s", tu_errname(rc));
	check(ctx, rc);
	for (n = 1; n <= TU_SWEEP_MAX; n++) {
		tu_fail_nth_arm(n);
		rc = run(ctx);
		if (!tu_fail_nth_fired()) {
			tu_fail_nth_arm(0);
			ck_assert_msg(rc == 0, "run %u: no failure injected but rc %s", n,
				      tu_errname(rc));
			check(ctx, rc);
			return n - 1;
		}
		tu_fail_nth_arm(0);
		check(ctx, rc);
	}
	ck_abort_msg("fail-nth sweep did not end after %u failure points", TU_SWEEP_MAX);
	return 0;
}
