/* SPDX-License-Identifier: MIT */
/*
 * spaprtce/probe.h: what a test needs to see of spapr-tce's insides,
 * exported by libspaprtce (and libspaprtce-fi) itself; spaprtce/testing.h
 * builds its assertions on it.  No dependency on a test framework.
 *
 * Concepts
 *   state    What the calling process holds: locked_vm, preregistered
 *            regions, pins of emulated memory, TCE table memory, and the
 *            verdict of the invariant checkers.  A clean process has all
 *            zero.
 *   charge   What a window costs in locked_vm, in system pages: the
 *            kernel's table-size formula (hardware table plus its shadow,
 *            tce_iommu_create_table), rounded up to whole pages.
 *   fail-nth The failure points of the fault-injection build
 *            (libspaprtce-fi): arming n makes the calling thread's n-th
 *            failure point fail.  In the normal build nothing ever fires.
 *
 * Errors: 0 or a negative errno (as the layers, not -1/errno).
 */
#ifndef SPAPRTCE_PROBE_H
#define SPAPRTCE_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "spapr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the process holds, for clean-state assertions. */
struct tu_state {
	uint64_t locked_vm;		/* system pages charged to the calling process */
	uint64_t regions;		/* preregistered regions (normal and device) */
	uint64_t registered_pages;	/* pages of the normal regions */
	uint64_t pins;			/* live pins of emulated memory */
	uint64_t pinned_pages;		/* frames with a pin count */
	uint64_t pin_refs;		/* sum of the pin counts */
	uint64_t table_blocks;		/* TCE table blocks allocated */
	uint64_t unpin_underflows;	/* unpins of frames that were not pinned */
	int mem_check;			/* 0, or -EUCLEAN: host memory invariants broken */
	int mm_check;			/* 0, or -EUCLEAN: region invariants broken */
};

/* Fills @st for the calling process.  0, or -ENOMEM (its mm could not be created). */
SPAPRTCE_API int tu_state_get(struct tu_state *st);

/*
 * System pages charged to locked_vm for a window of 2^@page_shift-byte
 * IOMMU pages, @window_size bytes and @levels levels (TCE_CREATE's
 * arguments), as the kernel's tce_iommu_create_table computes it.  0, or
 * -EINVAL for a geometry TCE_CREATE rejects for its shape.
 */
SPAPRTCE_API int tu_window_charge(unsigned page_shift, uint64_t window_size, unsigned levels,
				  uint64_t *pages);
/* The same for the machine's default 32-bit window (4 KiB pages, one level). */
SPAPRTCE_API int tu_default_window_charge(uint64_t *pages);

/* True in the fault-injection build (libspaprtce-fi). */
SPAPRTCE_API bool tu_fault_injection(void);
/* Arms the calling thread: its @n-th failure point fails (n >= 1); 0 disarms. */
SPAPRTCE_API void tu_fail_nth_arm(unsigned long n);
/* True when the armed failure fired since the last arm. */
SPAPRTCE_API bool tu_fail_nth_fired(void);
/* Name of the failure point that fired last on this thread, or NULL. */
SPAPRTCE_API const char *tu_fail_nth_site(void);

#ifdef __cplusplus
}
#endif

#endif
