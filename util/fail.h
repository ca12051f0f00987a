/* SPDX-License-Identifier: MIT */
/*
 * util/fail.h: deterministic fault injection ("fail-nth").
 *
 * Concepts
 *   Every point of the library that can fail (an allocation, a pin chunk, a
 *   locked_vm charge, a table level allocation, a copy of caller input) calls
 *   util_should_fail() first and, when it returns true, fails exactly as the
 *   real failure would (usually -ENOMEM or -EFAULT).
 *
 *   In test builds (SPAPRTCE_FAULT_INJECT defined) the hook counts calls on
 *   the calling thread: after util_fail_nth_arm(n), the n-th call returns true
 *   once, then the counter disarms.  This mirrors the kernel's
 *   /proc/self/task/<tid>/fail-nth, which iommufd's selftests sweep.  Outside
 *   test builds the hook is a constant false and costs nothing.
 *
 * Sweep protocol (tests/testutil.h drives it)
 *   run the scenario clean; then for n = 1, 2, ...: set up, arm n, run, check
 *   invariants and that nothing is pinned, charged or allocated; stop at the
 *   first n for which util_fail_nth_fired() is false.
 *
 * Threads: the counter is thread-local, so a sweep in one thread does not
 * disturb others.
 */
#ifndef SPAPRTCE_UTIL_FAIL_H
#define SPAPRTCE_UTIL_FAIL_H

#include <stdbool.h>

#ifdef SPAPRTCE_FAULT_INJECT
/* Returns true when this call is the armed n-th one; @site names the point. */
bool util_should_fail(const char *site);
#else
static inline bool util_should_fail(const char *site)
{
	(void)site;
	return false;
}
#endif

/* Arms the calling thread: its @n-th util_should_fail() call fails (n >= 1); 0 disarms. */
void util_fail_nth_arm(unsigned long n);
/* True when the armed failure fired since the last util_fail_nth_arm(). */
bool util_fail_nth_fired(void);
/* Site name of the last failure that fired on this thread, or NULL. */
const char *util_fail_nth_site(void);
/* Number of util_should_fail() calls on this thread since the last arm. */
unsigned long util_fail_nth_calls(void);

#endif
