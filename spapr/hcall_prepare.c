/* SPDX-License-Identifier: MIT */
/*
 * Phase 2 of a hypercall (spapr/hcall.c): everything that can fail and is
 * invisible.  The guest-visible pages the new values need, every table
 * level the new hardware entries need (tce_table_reserve), and the
 * regions' mapped counts of the new entries, one atomic per region and
 * window (a dying region fails here, Q4's ENXIO).  On failure the counts
 * taken are given back; allocated pages and levels stay (they read as
 * empty, as in the kernel).
 */
#include <errno.h>
#include <stdlib.h>

#include "spapr/hcall_req.h"
#include "util/fail.h"


static int guest_pages_alloc(struct spapr_guest_table *gt, uint64_t first_idx, uint64_t last_idx)
{
	for (uint64_t p = first_idx / SPAPR_GUEST_TCES_PER_PAGE;
	     p <= last_idx / SPAPR_GUEST_TCES_PER_PAGE; p++) {
		uint64_t *page;

		if (__atomic_load_n(&gt->pages[p], __ATOMIC_RELAXED))
			continue;
		if (util_should_fail("spapr_hcall_page"))
			return -ENOMEM;
		page = calloc(SPAPR_GUEST_TCES_PER_PAGE, sizeof(uint64_t));
		if (!page)
			return -ENOMEM;
		__atomic_store_n(&gt->pages[p], page, __ATOMIC_RELEASE);
	}
	return 0;
}

/*
 * The pages non-zero values need (a zero into a missing page is not
 * stored).  A page seen present stays so (pages are freed only with the
 * table), so short runs look at each page once.
 */
static bool guest_pages_present(const struct spapr_guest_table *gt, uint64_t first_idx,
				uint64_t last_idx)
{
	for (uint64_t p = first_idx / SPAPR_GUEST_TCES_PER_PAGE;
	     p <= last_idx / SPAPR_GUEST_TCES_PER_PAGE; p++)
		if (!__atomic_load_n(&gt->pages[p], __ATOMIC_RELAXED))
			return false;
	return true;
}

int spapr__hcall_prepare_guest_pages(struct hcall_req *q)
{
	uint64_t base = q->entry - q->gt->offset, seen = UINT64_MAX;

	if (!q->list_be)
		return q->stuff ? guest_pages_alloc(q->gt, base, base + q->n - 1) : 0;
	/* The steady state: every page of the call's range is there (one or two loads). */
	if (!q->n || guest_pages_present(q->gt, base, base + q->n - 1))
		return 0;
	for (unsigned x = 0; x < q->nruns; x++) {
		const struct hcall_run *run = &q->run[x];

		if (hcall_guest_long(run)) {
			if (guest_pages_alloc(q->gt, base + run->i, base + run->i + run->n - 1))
				return -ENOMEM;
			continue;
		}
		for (uint64_t i = run->i; i < run->i + run->n; i++) {
			uint64_t page = (base + i) / SPAPR_GUEST_TCES_PER_PAGE;

			if (!q->vals[i] || page == seen)
				continue;
			if (guest_pages_alloc(q->gt, base + i, base + i))
				return -ENOMEM;
			seen = page;
		}
	}
	return 0;
}

/* Levels for every stretch of mapping runs, in every live window. */
int spapr__hcall_prepare_levels(struct hcall_req *q)
{
	for (unsigned j = 0; j < q->locks.n; j++) {
		unsigned sub_shift = hcall_sub_shift(q, j);

		if (!q->locks.live[j])
			continue;
		for (unsigned x = 0, y; x < q->nruns; x = y) {
			uint64_t n = 0;
			int rc;

			for (y = x; y < q->nruns && q->run[y].ua; y++)
				n += q->run[y].n;
			if (y == x) {
				y++;
				continue;
			}
			rc = tce_table_reserve(q->locks.w[j]->table, (q->entry + q->run[x].i) << sub_shift,
					       n << sub_shift);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Gives back the counts of windows [0, upto_j) and of sums [0, upto_c) of window upto_j. */
static void counts_sub(struct hcall_req *q, unsigned upto_j, unsigned upto_c)
{
	for (unsigned j = 0; j <= upto_j && j < q->locks.n; j++) {
		unsigned end = j == upto_j ? upto_c : q->ncounts;

		if (!q->locks.live[j])
			continue;
		for (unsigned c = 0; c < end; c++)
			mmreg_region_mapped_sub(q->count[c].reg, q->count[c].n << hcall_sub_shift(q, j));
	}
}

/*
 * One count per hardware entry to be written; one atomic per region and
 * window: validate summed the runs' TCEs per region (q->count), so a list
 * scattered over a few regions costs a few atomics, not one per TCE.
 */
int spapr__hcall_prepare_counts(struct hcall_req *q)
{
	for (unsigned j = 0; j < q->locks.n; j++) {
		unsigned sub_shift = hcall_sub_shift(q, j);

		if (!q->locks.live[j])
			continue;
		for (unsigned c = 0; c < q->ncounts; c++) {
			/* The fault point stands for a region found dying (a race otherwise). */
			if (util_should_fail("spapr_hcall_mapped") ||
			    mmreg_region_mapped_add(q->count[c].reg, q->count[c].n << sub_shift)) {
				counts_sub(q, j, c);
				return -ENXIO;
			}
		}
	}
	return 0;
}
