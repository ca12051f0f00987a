/* SPDX-License-Identifier: MIT */
/*
 * Phase 1 of a hypercall (spapr/hcall.c): read the guest's TCE list once
 * and cut it into runs, checking each run once.
 *
 * A run is what one store can write: TCEs without permission (they clear),
 * or TCEs of consecutive guest pages with one direction inside one memslot
 * and, when a window is live, one registered region.  Inside a run the
 * checks of its first TCE hold for all: the guest pages are consecutive,
 * the run stops at the memslot's and the region's end, and every window's
 * page divides the guest page.  What later phases need of the TCEs is in
 * the runs (and req->vals): the list is not read again, whatever the guest
 * writes there meanwhile.
 */
#include <endian.h>

#include "spapr/hcall_req.h"
#include "util/range.h"
#include "util/simd.h"

/*
 * Largest hardware page shift of the attached windows, removed ones too,
 * 0 when there is none: kvmppc_tce_validate looks the page up for every
 * table still listed, so a TCE whose region went with a released container
 * is H_TOO_HARD even though no live window would be written.
 */
static unsigned attached_max_shift(const struct hcall_req *q)
{
	unsigned m = 0;

	for (unsigned j = 0; j < q->locks.n; j++)
		if (q->locks.w[j]->page_shift > m)
			m = q->locks.w[j]->page_shift;
	return m;
}

/*
 * A live v1 window: its entries are pinned page by page (MAP_DMA), never
 * counted in a registered region, so a hypercall cannot map into it.  The
 * kernel finds no registered region for a v1 container's process and
 * answers H_TOO_HARD; we answer that whatever another container registered.
 */
static bool live_v1(const struct hcall_req *q)
{
	for (unsigned j = 0; j < q->locks.n; j++)
		if (q->locks.live[j] && !q->locks.w[j]->tc->v2)
			return true;
	return false;
}

/* TCE @i of the list: its one read (the guest may be rewriting it). */
static inline uint64_t list_read(const struct hcall_req *q, uint64_t i)
{
	return be64toh(__atomic_load_n(&q->list_be[i], __ATOMIC_RELAXED));
}

/*
 * Phase 1, in the mmreg read section: reads the list, once per TCE, and
 * cuts it into runs, checking each run once: alignment, memslot, a
 * registered region covering it with a page size every live window can
 * use.  Inside a run the checks of its first TCE hold for all: the guest
 * pages are consecutive, the run stops at the memslot's and the region's
 * end, and every window's page divides the guest page.  What later phases
 * need of the TCEs is in the runs (and q->vals): the list is not read
 * again, whatever the guest writes there meanwhile.  The first failure
 * returns; nothing was touched.
 */
long spapr__hcall_validate(struct hcall_req *q)
{
	unsigned guest_shift = q->gt->page_shift, hw_shift = attached_max_shift(q);
	bool v1 = live_v1(q);
	unsigned hint = q->guest->slot_hint;
	uint64_t guest_psize = 1ull << guest_shift, n = q->n, i = 0, reg_start = 0, reg_end = 0;
	struct mmreg_region *reg = NULL;

	q->nruns = 0;
	while (i < n) {
		struct hcall_run *run = &q->run[q->nruns++];
		const struct spapr_guest_memslot *slot;
		uint64_t tce = list_read(q, i), gpa = tce & ~TCE_PCI_RW, ua, pages_left, k;

		run->i = i;
		run->reg = NULL;
		if (!(tce & TCE_PCI_RW)) {
			/* "userspace may poison the table": these clear */
			q->vals[i] = tce;
			for (k = i + 1; k < n; k++) {
				uint64_t next_tce = list_read(q, k);

				if (next_tce & TCE_PCI_RW)
					break;	/* read again as the next run's first */
				q->vals[k] = next_tce;
			}
			run->ua = 0;
			run->n = k - i;
			i = k;
			continue;
		}
		if (v1 || !util_is_aligned(gpa, guest_shift) ||
		    spapr__guest_gpa_to_ua(q->guest, gpa, guest_psize, &ua, &hint))
			return H_TOO_HARD;
		slot = &q->guest->slots[hint];
		/* Whole guest pages left in the memslot, then in the region, then in the call. */
		pages_left = (slot->gpa + slot->size - gpa) >> guest_shift;
		if (hw_shift) {
			if (!util_is_aligned(ua, hw_shift))
				return H_TOO_HARD;
			if (!reg || ua < reg_start || ua >= reg_end || guest_psize > reg_end - ua) {
				reg = mmreg_region_lookup(q->guest->mm, ua, guest_psize);
				if (!reg || mmreg_region_pageshift(reg) < hw_shift)
					return H_TOO_HARD;
				reg_start = mmreg_region_ua(reg);
				reg_end = reg_start + (mmreg_region_entries(reg) << EMU_PAGE_SHIFT);
			}
			if ((reg_end - ua) >> guest_shift < pages_left)
				pages_left = (reg_end - ua) >> guest_shift;
			run->reg = reg;
		}
		if (n - i < pages_left)
			pages_left = n - i;
		k = i + 1;
		/* A scattered list's TCE is a run of one: seen at its neighbour, without a call. */
		if (pages_left > 1 && list_read(q, k) == tce + guest_psize)
			k += 1 + util_be64_seq_len(q->list_be + k + 1, tce + 2 * guest_psize, guest_psize,
						   pages_left - 2);
		for (uint64_t idx = i; idx < k && k - i < HCALL_SHORT_RUN; idx++)
			q->vals[idx] = tce + ((idx - i) << guest_shift);	/* stored with its neighbours */
		run->ua = ua;
		run->tce0 = tce;
		run->dir = tce_dir_from_bits(tce);
		run->n = k - i;
		i = k;
	}
	__atomic_store_n(&q->guest->slot_hint, hint, __ATOMIC_RELAXED);
	return H_SUCCESS;
}
