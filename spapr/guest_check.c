/* SPDX-License-Identifier: MIT */
/*
 * spapr_guest_check: the debug invariant checker of the guest path.
 *
 *   G1 memslots do not overlap, and are 4 KiB aligned;
 *   G2 a table's charge is kvmppc_stt_pages of its size;
 *   G3 attachments: at most SPAPR_GUEST_MAX_ATTACH, sorted by window, one
 *      per group, each window referenced and fitting the table (hardware
 *      page shift <= guest's, same start, at least as large);
 *   G4 for every stored non-zero guest TCE and every live attached window:
 *      with R or W, each of its hardware subpages holds the memslot
 *      translation (shadow ua + k * hardware page) with the TCE's
 *      permission, and the hardware entry is valid; without, each subpage is
 *      empty.  (Assumes nothing but this guest writes those entries; a TCE
 *      whose gpa has no memslot any more is skipped.)  Under quirks=kernel
 *      (Q12, spapr/hcall_kernel.c) a subpage of a TCE without permission
 *      may hold an hpa without permission bits (INDIRECT's counted
 *      permission-less entry), and a table whose hypercall failed half-way
 *      (q12_diverged) is not checked: KVM leaves its guest view and its
 *      windows disagreeing there.
 *   G5, G6 what the hypercalls keep between calls (spapr/hcall_put1.c).
 */
#include <errno.h>
#include <stdio.h>

#include "emu/quirk.h"
#include "spapr/guest_priv.h"
#include "util/range.h"

#define FAIL(...)                                                                              \
	do {                                                                                   \
		fprintf(stderr, "spapr_guest_check: " __VA_ARGS__);                            \
		fputc('\n', stderr);                                                           \
		return -EUCLEAN;                                                               \
	} while (0)

static int check_memslots(const struct spapr_guest *guest)
{
	for (unsigned i = 0; i < SPAPR_GUEST_MEMSLOTS; i++) {
		const struct spapr_guest_memslot *a = &guest->slots[i];

		if (!a->size)
			continue;
		if (!util_is_aligned(a->gpa | a->size | a->ua, EMU_PAGE_SHIFT))
			FAIL("memslot %u unaligned", i);
		for (unsigned k = i + 1; k < SPAPR_GUEST_MEMSLOTS; k++) {
			const struct spapr_guest_memslot *b = &guest->slots[k];

			if (b->size && util_range_overlaps(a->gpa, a->gpa + a->size, b->gpa, b->gpa + b->size))
				FAIL("memslots %u and %u overlap", i, k);
		}
	}
	return 0;
}

static int check_attach(const struct spapr_guest_table *gt)
{
	if (gt->natt > SPAPR_GUEST_MAX_ATTACH)
		FAIL("liobn %#llx: %u attachments", (unsigned long long)gt->liobn, gt->natt);
	for (unsigned i = 0; i < gt->natt; i++) {
		const struct spapr_guest_attachment *a = &gt->att[i];
		const struct spapr_window *w = a->w;

		if (i && (uintptr_t)gt->att[i - 1].w > (uintptr_t)w)
			FAIL("liobn %#llx: attachments not sorted", (unsigned long long)gt->liobn);
		for (unsigned k = 0; k < i; k++)
			if (gt->att[k].group == a->group)
				FAIL("liobn %#llx: group %d attached twice", (unsigned long long)gt->liobn,
				     a->group);
		if (!a->refs)
			FAIL("liobn %#llx: group %d attached 0 times", (unsigned long long)gt->liobn,
			     a->group);
		if (!__atomic_load_n(&w->refs, __ATOMIC_RELAXED) ||
		    !__atomic_load_n(&a->c->obj.refs, __ATOMIC_RELAXED))
			FAIL("liobn %#llx: attachment without a reference", (unsigned long long)gt->liobn);
		if (w->page_shift > gt->page_shift || w->start != gt->offset << gt->page_shift ||
		    w->size < gt->size << gt->page_shift)
			FAIL("liobn %#llx: window does not fit", (unsigned long long)gt->liobn);
	}
	return 0;
}

/* G4 for one guest entry in window @w.  Window locked. */
static int check_entry(const struct spapr_guest *guest, const struct spapr_guest_table *gt,
		       const struct spapr_window *w, uint64_t entry, uint64_t v)
{
	unsigned ss = gt->page_shift - w->page_shift, hint = 0;
	uint64_t ua = 0;

	if ((v & TCE_PCI_RW) &&
	    spapr__guest_gpa_to_ua(guest, v & ~TCE_PCI_RW, 1ull << gt->page_shift, &ua, &hint))
		return 0;
	for (uint64_t k = 0; k < 1ull << ss; k++) {
		uint64_t he = (entry << ss) + k, hpa, sua;
		enum tce_dir dir;

		if (tce_table_read(w->table, he, &hpa, &dir) || tce_table_shadow_read(w->table, he, &sua))
			FAIL("entry %#llx outside the window", (unsigned long long)he);
		if (!(v & TCE_PCI_RW) && (dir != TCE_DIR_NONE || (hpa && !emu__quirk(EMU_Q12))))
			FAIL("liobn %#llx entry %#llx: cleared TCE, valid hardware entry %#llx",
			     (unsigned long long)gt->liobn, (unsigned long long)entry,
			     (unsigned long long)he);
		if ((v & TCE_PCI_RW) &&
		    (sua != ua + (k << w->page_shift) || (uint64_t)dir != tce_dir_to_bits(tce_dir_from_bits(v))))
			FAIL("liobn %#llx entry %#llx: hardware entry %#llx has ua %#llx dir %d, expected %#llx",
			     (unsigned long long)gt->liobn, (unsigned long long)entry,
			     (unsigned long long)he, (unsigned long long)sua, (int)dir,
			     (unsigned long long)(ua + (k << w->page_shift)));
	}
	return 0;
}

/* G4 for the table's stored values of indexes [lo, hi) (table-relative). */
static int check_entries(const struct spapr_guest *guest, struct spapr_guest_table *gt, uint64_t lo,
			 uint64_t hi)
{
	struct spapr_hcall_locks l;
	uint64_t plast = hi / SPAPR_GUEST_TCES_PER_PAGE;
	int rc = 0;

	if (gt->q12_diverged && emu__quirk(EMU_Q12))
		return 0;
	spapr__hcall_lock(gt, &l);
	for (uint64_t p = lo / SPAPR_GUEST_TCES_PER_PAGE; p < gt->npages && p <= plast && !rc; p++) {
		const uint64_t *page = gt->pages[p];

		for (uint64_t i = 0; page && i < SPAPR_GUEST_TCES_PER_PAGE && !rc; i++) {
			uint64_t idx = p * SPAPR_GUEST_TCES_PER_PAGE + i;

			if (idx < lo || idx >= hi)
				continue;

			if (!page[i])
				continue;
			if (idx >= gt->size) {
				fprintf(stderr, "spapr_guest_check: value beyond the table\n");
				rc = -EUCLEAN;
				break;
			}
			/*
			 * q1517: not a removed window even where hypercalls write it
			 * (Q15, quirks=kernel): its removal cleared it under the
			 * guest's TCEs, as in the kernel.
			 */
			for (unsigned j = 0; j < l.n && !rc; j++)
				if (l.live[j] && !l.w[j]->dead)
					rc = check_entry(guest, gt, l.w[j], gt->offset + idx, page[i]);
		}
	}
	spapr__hcall_unlock(&l);
	return rc;
}

/*
 * Every invariant but G4, and G4 for the stored values of table @liobn's
 * indexes [lo, hi) only (every table's, all of them, for liobn ~0).  G4
 * reads each stored TCE's hardware entries in every live window: the
 * whole check after every hypercall of a fuzz input made G4 cost the
 * square of the input's length; the fuzz target checks what a hypercall
 * wrote after it, and everything at its checkpoint.
 */
int spapr__guest_check_range(struct spapr_guest *guest, uint64_t liobn, uint64_t lo, uint64_t hi)
{
	int rc;

	util_rwlock_wrlock(&guest->lock);
	rc = check_memslots(guest);
	for (uint64_t i = 0; !rc && i < guest->tables.cap; i++) {
		struct spapr_guest_table *gt = (void *)(uintptr_t)guest->tables.slots[i].val;

		if (!gt)
			continue;
		if (gt->liobn != guest->tables.slots[i].key)
			rc = -EUCLEAN;
		else if (gt->charged != spapr__guest_table_charge(gt->npages))
			rc = -EUCLEAN;
		if (rc) {
			fprintf(stderr, "spapr_guest_check: liobn %#llx: key or charge\n",
				(unsigned long long)gt->liobn);
			break;
		}
		rc = check_attach(gt);
		if (!rc && (liobn == ~0ull || liobn == gt->liobn))
			rc = check_entries(guest, gt, liobn == ~0ull ? 0 : lo, liobn == ~0ull ? UINT64_MAX : hi);
	}
	if (!rc)
		rc = spapr__hcall_put1_check(guest);
	util_rwlock_unlock(&guest->lock);
	return rc;
}

int spapr__guest_check(struct spapr_guest *guest)
{
	return spapr__guest_check_range(guest, ~0ull, 0, UINT64_MAX);
}
