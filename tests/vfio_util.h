/* SPDX-License-Identifier: MIT */
/*
 * tests/vfio_util.h: peeks at spapr's internals for the suites.
 *
 * The container request helpers (tu_open_v2, tu_register, tu_create...)
 * are the installed test-support library's (include/spaprtce/testing.h);
 * this header adds what only the project's own suites may look at: a
 * window's TCE table and entries, and the region behind an address.
 */
#ifndef SPAPRTCE_TESTS_VFIO_UTIL_H
#define SPAPRTCE_TESTS_VFIO_UTIL_H

#include <stdint.h>

#include "include/spaprtce/testing.h"
#include "mmreg/mmreg.h"
#include "tce/tce.h"

/* The TCE table of window @slot of container fd @c, or NULL (a peek at spapr's internals). */
struct tce_table *tu_table_of(int c, unsigned slot);
/* Hardware entry (hpa | permission bits) of absolute @entry of that window; its shadow ua in *ua. */
uint64_t tu_entry(int c, unsigned slot, uint64_t entry, uint64_t *ua);

/* The region of the calling process's mm that holds @p, or NULL. */
struct mmreg_region *tu_region_of(const void *p);

#endif
