/* SPDX-License-Identifier: MIT */
/*
 * tests/testutil.h: helpers shared by the Check suites.
 *
 * Concepts
 *   - Everything a user's test could want too (TU_OK / TU_ERR, the request
 *     helpers in three forms, tu_errname, tu_map, tu_run, the clean-state
 *     assertions, the tu_sweep fail-nth driver) is the installed
 *     test-support library, include/spaprtce/testing.h (the files of testing/); the
 *     suites link the same libspaprtce-testing.a users do.
 *   - What is left here reaches into internals a user's test cannot see:
 *     the hugetlbfs pool of emu/mem, and the machine's quirks mode.
 *   - Kernel-mode runs: `make check QUIRKS=kernel` runs every suite with
 *     SPAPRTCE_MACHINE=quirks=kernel, so the machine answers as the kernel
 *     does, quirks included (docs/quirks.md).  A test whose expectation
 *     depends on a quirk states both: `tu_quirks_kernel("Q3") ? 0 : -EBUSY`.
 *     A test that asserts a fix the kernel does not have (nothing leaks
 *     after a failure, say) returns early through tu_fixed_only(), which
 *     prints a SKIP line naming the quirk; a suite that runs both modes by
 *     itself drops the run's setting with tu_quirks_env_drop().
 */
#ifndef SPAPRTCE_TESTS_TESTUTIL_H
#define SPAPRTCE_TESTS_TESTUTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "include/spaprtce/testing.h"
#include "util/fail.h"

/*
 * Makes sure at least @want 2 MiB hugetlbfs pages are free, raising
 * /proc/sys/vm/nr_hugepages if needed (root only).  Returns the previous
 * nr_hugepages for tu_hugetlb_restore() (LONG_MAX when nothing had to
 * change), or -1 (with a reason in *why) when the pages cannot be had.
 */
long tu_hugetlb_reserve(unsigned long want, const char **why);
void tu_hugetlb_restore(long prev);

/*
 * True when the machine plays the kernel's quirks (quirks=kernel, from
 * SPAPRTCE_MACHINE or the test's own configuration).  Starts the machine
 * when nothing has yet (so call it where the machine is in use, not before
 * an emu_machine_configure).  @quirk names the quirk (docs/quirks.md) that
 * makes the two expectations differ: it documents the call site, so that
 * `grep '"Q3"' tests/` finds every test Q3 changes.
 */
bool tu_quirks_kernel(const char *quirk);

/*
 * For a test that asserts our fix of @quirk and cannot meaningfully run in
 * kernel mode: in kernel mode prints "SKIP @test: asserts the fixed answer
 * of @quirk (@why)" and returns true (the test then returns); false in
 * fixed mode.
 */
bool tu_fixed_only(const char *test, const char *quirk, const char *why);

/*
 * The same for one step of a test that otherwise runs in both modes (the
 * caller skips the step when it returns true): prints "SKIP-STEP @test
 * (@step): ...", which scripts/run-suites.sh shows without counting the
 * test as skipped.
 */
bool tu_fixed_only_step(const char *test, const char *step, const char *quirk, const char *why);

/*
 * For a suite that runs both quirk modes itself (check_quirks,
 * check_fuzz_corpus): when SPAPRTCE_MACHINE asks for quirks=kernel, says so
 * on stdout and drops the variable before the machine starts.  Call first
 * in main().
 */
void tu_quirks_env_drop(const char *suite);

#endif
