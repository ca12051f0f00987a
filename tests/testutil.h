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
 *     the hugetlbfs pool of emu/mem.
 */
#ifndef SPAPRTCE_TESTS_TESTUTIL_H
#define SPAPRTCE_TESTS_TESTUTIL_H

#include <errno.h>
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

#endif
