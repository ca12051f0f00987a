/* SPDX-License-Identifier: MIT */
/*
 * tests/testutil.h: helpers shared by the Check suites.
 *
 * Concepts
 *   - Helpers come in threes: foo_rc() returns the rc, foo_ok() asserts
 *     success, foo_err() asserts one exact errno.  Suites define their own
 *     threes with TU_THREE below when a call is used often.
 *   - tu_sweep() is the fail-nth driver (util/fail.h): it runs a scenario
 *     clean, then once per failure point with that point failing, calling the
 *     suite's check after every run.  It fails the test if the sweep does not
 *     end within TU_SWEEP_MAX runs.
 *   - tu_assert_emu_clean() is the fixture teardown of every suite: nothing
 *     pinned, no table memory allocated.
 */
#ifndef SPAPRTCE_TESTS_TESTUTIL_H
#define SPAPRTCE_TESTS_TESTUTIL_H

#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "util/fail.h"

#define TU_SWEEP_MAX 2000

/* Asserts rc == 0; prints the call and errno name otherwise. */
#define TU_OK(expr)                                                                            \
	do {                                                                                   \
		long tu_rc_ = (long)(expr);                                                    \
		ck_assert_msg(tu_rc_ == 0, "%s returned %ld (%s)", #expr, tu_rc_,              \
			      tu_errname(tu_rc_));                                              \
	} while (0)

/* Asserts rc == -err (layer functions return negative errnos). */
#define TU_ERR(expr, err)                                                                      \
	do {                                                                                   \
		long tu_rc_ = (long)(expr);                                                    \
		ck_assert_msg(tu_rc_ == -(long)(err), "%s returned %ld (%s), expected -%s",    \
			      #expr, tu_rc_, tu_errname(tu_rc_), tu_errname(-(long)(err)));    \
	} while (0)

/* "EINVAL" for -22 or 22; a number for anything else. */
const char *tu_errname(long rc);

/* Anonymous read-write memory of @npages system pages, not yet touched. */
void *tu_map(uint64_t npages);
/* Same, at an address aligned to 2^@align_shift bytes. */
void *tu_map_aligned(uint64_t npages, unsigned align_shift);
void tu_unmap(void *p, uint64_t npages);

/*
 * Makes sure at least @want 2 MiB hugetlbfs pages are free, raising
 * /proc/sys/vm/nr_hugepages if needed (root only).  Returns the previous
 * nr_hugepages for tu_hugetlb_restore() (LONG_MAX when nothing had to
 * change), or -1 (with a reason in *why) when the pages cannot be had.
 */
long tu_hugetlb_reserve(unsigned long want, const char **why);
void tu_hugetlb_restore(long prev);

/* Runs @s in Check's normal mode and frees it; EXIT_SUCCESS when no test failed (a suite's main). */
int tu_run(Suite *s);

/* Asserts that emu/ has nothing pinned and no table memory allocated. */
void tu_assert_emu_clean(void);

/*
 * Fail-nth sweep.  @run performs the scenario and returns 0 or a negative
 * errno (an injected failure is expected to surface as one); @check runs after
 * every run, including the clean one, and asserts invariants and that state
 * is back to its start.  @ctx is passed to both.  Returns the number of
 * failure points swept.
 */
unsigned tu_sweep(int (*run)(void *ctx), void (*check)(void *ctx, int rc), void *ctx);

#endif
