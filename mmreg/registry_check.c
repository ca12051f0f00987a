/* SPDX-License-Identifier: MIT */
/*
 * The debug invariant checker of the registry (mmreg_mm_check).
 *
 * I5 (every page of a pinned region is pinned) asks the pin table about the
 * region's pages in batches (emu__mem_dma_pages: one lock round and one
 * leaf lookup per batch) rather than one emu_mem_ua_pins call, with its
 * lock and its lookup, per page: the fuzz targets run this checker many
 * times per input, over every registered page.
 */
#include <errno.h>
#include <stdio.h>

#include "mmreg/mmreg_priv.h"

#define I5_BATCH 64u	/* pages asked at once */

static int check_region(const struct mmreg_region *r)
{
	int rc = 0;

	if (!r->used) {
		fprintf(stderr, "mmreg_mm_check: region %#llx listed with used 0 (I4)\n",
			(unsigned long long)r->ua);
		rc = -EUCLEAN;
	}
	if (!__atomic_load_n(&r->mapped, __ATOMIC_RELAXED)) {
		fprintf(stderr, "mmreg_mm_check: region %#llx listed with mapped 0 (I3)\n",
			(unsigned long long)r->ua);
		rc = -EUCLEAN;
	}
	for (uint64_t i = 0; r->pin && i < r->entries; i += I5_BATCH) {
		struct emu__dma_page p[I5_BATCH];
		uint64_t n = r->entries - i < I5_BATCH ? r->entries - i : I5_BATCH, k;

		for (k = 0; k < n; k++)
			p[k].ua = r->ua + ((i + k) << EMU_PAGE_SHIFT);
		k = emu__mem_dma_pages(p, n);
		if (k < n) {
			fprintf(stderr, "mmreg_mm_check: page %llu of region %#llx not pinned (I5)\n",
				(unsigned long long)(i + k), (unsigned long long)r->ua);
			rc = -EUCLEAN;
			break;
		}
	}
	return rc;
}

int mmreg_mm_check(struct mmreg_mm *mm)
{
	const struct mmreg_region *r;
	uint64_t pages = 0, ndev = 0;
	int rc;

	pthread_mutex_lock(&mm->lock);
	rc = mmreg__registry_check(mm);
	for (r = mm->regions; r; r = r->next) {
		if (check_region(r))
			rc = -EUCLEAN;
		if (r->pin)
			pages += r->entries;
		else
			ndev++;
	}
	if (pages != mm->registered_pages || ndev != mm->ndev) {
		fprintf(stderr, "mmreg_mm_check: %llu pages / %llu device regions listed, counters %llu / %llu\n",
			(unsigned long long)pages, (unsigned long long)ndev,
			(unsigned long long)mm->registered_pages, (unsigned long long)mm->ndev);
		rc = -EUCLEAN;
	}
	if (__atomic_load_n(&mm->locked_vm, __ATOMIC_RELAXED) < pages) {
		fprintf(stderr, "mmreg_mm_check: locked_vm %llu below registered pages %llu (I6)\n",
			(unsigned long long)mm->locked_vm, (unsigned long long)pages);
		rc = -EUCLEAN;
	}
	pthread_mutex_unlock(&mm->lock);
	return rc;
}
