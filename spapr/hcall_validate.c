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

#include "emu/quirk.h"
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

/*
 * Where a call's mapping TCEs fell, as pieces of guest physical memory:
 * each the part of one memslot inside one registered region (or the whole
 * memslot when no window is live), with its ua, its region and that
 * region's sum in q->count.  A TCE inside a piece needs neither the memslot
 * search nor the registry walk: a list scattered over a few memslots costs
 * one search and one walk per piece and call, not per TCE, and the
 * regions' counts are summed on the way (so prepare takes one count per
 * region).  The few pieces kept are the last ones found; one found again
 * after it fell out gets a second sum, which is still exact.
 */
#define PIECES 8u

struct piece {
	uint64_t gpa, end;		/* [gpa, end): guest physical range */
	uint64_t ua;			/* of gpa */
	struct mmreg_region *reg;	/* NULL when no window is live */
	unsigned c;			/* reg's sum: q->count[c] */
};

struct pieces {
	unsigned n;			/* kept, up to PIECES */
	unsigned next;			/* the slot a new piece takes when all are */
	struct piece v[PIECES];
};

/* The whole guest page at @gpa lies in piece @p. */
static inline bool piece_holds(const struct piece *p, uint64_t gpa, uint64_t size)
{
	return gpa >= p->gpa && gpa < p->end && size <= p->end - gpa;
}

/* Region @reg's sum: the one of a kept piece with that region, or a new one. */
static unsigned count_of(struct hcall_req *q, const struct pieces *ps, struct mmreg_region *reg)
{
	for (unsigned x = 0; x < ps->n; x++)
		if (ps->v[x].reg == reg)
			return ps->v[x].c;
	q->count[q->ncounts].reg = reg;
	q->count[q->ncounts].n = 0;
	return q->ncounts++;
}

/* The kept piece holding the guest page at @gpa, or NULL. */
static inline const struct piece *piece_kept(const struct pieces *ps, uint64_t gpa, uint64_t size)
{
	for (unsigned x = 0; x < ps->n; x++)
		if (piece_holds(&ps->v[x], gpa, size))
			return &ps->v[x];
	return NULL;
}

/*
 * The piece holding the guest page at @gpa (aligned), found in the
 * memslots and the registry (piece_kept found none), then kept, in place
 * of the oldest when all are taken.  NULL (H_TOO_HARD) when no memslot holds the
 * page, or, with a live window (@hw_shift not 0), when its ua is not
 * aligned to the window's page or no region holds it with pages at least
 * that large.
 */
static const struct piece *piece_find(struct hcall_req *q, struct pieces *ps, uint64_t gpa,
				      uint64_t size, unsigned hw_shift, unsigned *hint)
{
	const struct spapr_guest_memslot *slot;
	struct mmreg_region *reg = NULL;
	uint64_t ua, lo, hi;
	struct piece *p;

	if (spapr__guest_gpa_to_ua(q->guest, gpa, size, &ua, hint))
		return NULL;
	slot = &q->guest->slots[*hint];
	lo = slot->ua;	/* the piece's ua range: the memslot's, cut to the region's */
	hi = slot->ua + slot->size;
	if (hw_shift) {
		uint64_t rs, re;

		if (!util_is_aligned(ua, hw_shift))
			return NULL;
		reg = mmreg_region_lookup_hinted(q->guest->mm, ua, size);
		if (!reg || mmreg_region_pageshift(reg) < hw_shift)
			return NULL;
		rs = mmreg_region_ua(reg);
		re = rs + (mmreg_region_entries(reg) << EMU_PAGE_SHIFT);
		lo = rs > lo ? rs : lo;
		hi = re < hi ? re : hi;
	}
	if (ps->n < PIECES) {
		p = &ps->v[ps->n++];
	} else {
		p = &ps->v[ps->next];
		ps->next = (ps->next + 1) % PIECES;
	}
	p->c = reg ? count_of(q, ps, reg) : 0;	/* before p is listed with its region */
	p->reg = reg;
	p->gpa = slot->gpa + (lo - slot->ua);
	p->end = slot->gpa + (hi - slot->ua);
	p->ua = lo;
	return p;
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
	bool v1 = !emu__quirk(EMU_Q17) && live_v1(q);	/* q1517: Q17, kernel mode maps */
	unsigned hint = q->guest->slot_hint;
	uint64_t guest_psize = 1ull << guest_shift, n = q->n, i = 0;
	struct pieces ps = { .n = 0, .next = 0 };
	const struct piece *cur = NULL;

	q->nruns = 0;
	q->ncounts = 0;
	while (i < n) {
		struct hcall_run *run = &q->run[q->nruns++];
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
		if (v1 || !util_is_aligned(gpa, guest_shift))
			return H_TOO_HARD;
		if (!cur || !piece_holds(cur, gpa, guest_psize)) {
			cur = piece_kept(&ps, gpa, guest_psize);
			if (!cur)
				cur = piece_find(q, &ps, gpa, guest_psize, hw_shift, &hint);
			if (!cur)
				return H_TOO_HARD;
		}
		ua = cur->ua + (gpa - cur->gpa);
		if (hw_shift && !util_is_aligned(ua, hw_shift))
			return H_TOO_HARD;
		run->reg = cur->reg;
		/* Whole guest pages left in the piece (memslot and region), then in the call. */
		pages_left = (cur->end - gpa) >> guest_shift;
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
		if (cur->reg)
			q->count[cur->c].n += run->n;
		i = k;
	}
	__atomic_store_n(&q->guest->slot_hint, hint, __ATOMIC_RELAXED);
	return H_SUCCESS;
}
