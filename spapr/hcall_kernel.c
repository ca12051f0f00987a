/* SPDX-License-Identifier: MIT */
/*
 * The hypercalls under quirks=kernel (quirk Q12, docs/quirks.md): KVM's
 * virtual-mode handlers of arch/powerpc/kvm/book3s_64_vio.c, step by step,
 * half-applied failures included.  The default mode's three phases
 * (spapr/hcall.c) never come here.
 *
 * KVM's order, which this file follows:
 *
 *   validate  (kvmppc_tce_validate) every TCE with R or W, before anything
 *             is written: its gpa aligned to the table's page, the system
 *             page at that gpa in a memslot, and, for every window attached
 *             to the table (removed ones too), a registered region holding
 *             the first IOMMU page at that ua with pages at least as large.
 *             Only the first IOMMU page: a later one of a large guest page
 *             is looked up when it is mapped.  A failure is H_TOO_HARD with
 *             nothing changed.
 *   apply     TCE by TCE, window by window (the table's windows in the lock
 *             order, where KVM goes newest attachment first): each of the
 *             TCE's 2^(guest shift - window shift) hardware entries by
 *             kvmppc_tce_iommu_do_map (map) or kvmppc_tce_iommu_do_unmap
 *             (H_PUT_TCE of a TCE without R and W), then one kill for the
 *             TCE's entries; after every window, the value for H_GET_TCE
 *             (kvmppc_tce_put).  A map failing (the user view's level or the
 *             hardware level cannot be allocated, no region at a later
 *             IOMMU page, a region being released) clears that TCE's
 *             entries of that window as kvmppc_clear_tce does: hardware
 *             entries zeroed, the user view left, no count given back, no
 *             kill; then its code is returned.  The TCEs before it stay
 *             applied; the windows before it in this TCE hold its new
 *             entries while H_GET_TCE still answers the old value.
 *
 * H_PUT_TCE_INDIRECT's second pass maps every TCE, permission or not:
 * kvmppc_tce_to_ua (its gpa's system page in a memslot, else H_PARAMETER),
 * then the map, which for a TCE without R and W raises the region's mapped
 * count (no region: H_TOO_HARD) and stores the page's hpa without
 * permission bits (tce_table_map_noperm): a count no clear gives back.
 * KVM reads the list from guest memory again for that pass; we read it
 * once (into q->vals), which gives KVM's answer whenever the guest does
 * not rewrite the list during the call.
 *
 * H_STUFF_TCE clears window by window (kvmppc_tce_iommu_unmap cannot fail
 * here: a valid entry's region is always found, since its count keeps it
 * registered), then stores the value npages times.
 *
 * Every window attached to the table is written: a removed one too (Q15:
 * spapr__hcall_lock marks it live in kernel mode, and the attachment's
 * reference on the driver instance keeps what its drops read), and a live
 * v1 window like a v2 one (Q17: the page's region is looked up among the
 * process's, its mapped count raised; the drops, told that a hypercall
 * writes (d.kvm), give such an entry's count back when a hypercall
 * replaces or clears it, and v1's own clear records the unpin of a page it
 * never pinned).
 *
 * What differs from KVM (docs/quirks.md, Q12): an entry v1's MAP pinned
 * that a hypercall replaces, clears or (kvmppc_clear_tce) zeroes gives its
 * pin back after the kill (drops.c), where KVM finds no user address for
 * it (tce_iommu_build writes none): the pin leaks, a clearing H_PUT_TCE or
 * H_STUFF_TCE answers H_TOO_HARD there.  Where KVM's pnv_tce_xchg would
 * hit its BUG_ON (an hpa not aligned to the window's page: a
 * permission-less TCE whose address has bits below that page) the map
 * fails as the xchg's other failure does: the count back, H_TOO_HARD.
 *
 * A guest page of values that cannot be allocated loses the value, as
 * kvmppc_tce_put does (H_SUCCESS).  A table whose hypercall failed
 * half-way is marked (q12_diverged): spapr_guest_check's G4 no longer
 * holds there, as in KVM.
 */
#include <endian.h>
#include <stdlib.h>

#include "spapr/hcall_kernel.h"
#include "util/fail.h"
#include "util/range.h"

/* kvmppc_tce_to_ua: the ua of @gpa's system page in a memslot, with @gpa's offset. */
static int tce_to_ua(struct hcall_req *q, uint64_t gpa, uint64_t *ua)
{
	unsigned hint = q->guest->slot_hint;
	uint64_t page = gpa & ~(uint64_t)(EMU_PAGE_SIZE - 1);

	if (spapr__guest_gpa_to_ua(q->guest, page, EMU_PAGE_SIZE, ua, &hint))
		return -1;
	*ua += gpa - page;
	return 0;
}

/* kvmppc_tce_validate for one TCE.  H_SUCCESS or H_TOO_HARD. */
static long validate_one(struct hcall_req *q, uint64_t tce)
{
	uint64_t gpa = tce & ~TCE_PCI_RW, ua, hpa;

	if (!(tce & TCE_PCI_RW))
		return H_SUCCESS;	/* "userspace may poison the table" */
	/* Q17: a v1 window's page is looked up among the process's regions like any other. */
	if (!util_is_aligned(gpa, q->gt->page_shift) || tce_to_ua(q, gpa, &ua))
		return H_TOO_HARD;
	for (unsigned j = 0; j < q->locks.n; j++) {
		unsigned shift = q->locks.w[j]->page_shift;
		struct mmreg_region *reg = mmreg_region_lookup(q->guest->mm, ua, 1ull << shift);

		if (!reg || mmreg_region_ua_to_hpa(reg, ua, shift, &hpa))
			return H_TOO_HARD;
	}
	return H_SUCCESS;
}

/*
 * kvmppc_tce_iommu_do_map of hardware entry @he of window @j: @ua with
 * direction @dir (TCE_DIR_NONE: the permission-less entry).  H_SUCCESS or
 * H_TOO_HARD (nothing changed for this entry).
 */
static long do_map(struct hcall_req *q, unsigned j, uint64_t he, uint64_t ua, enum tce_dir dir,
		   struct spapr_drops *d)
{
	struct spapr_window *w = q->locks.w[j];
	struct mmreg_region *reg;
	uint64_t hpa;
	int rc;

	reg = mmreg_region_lookup(q->guest->mm, ua, 1ull << w->page_shift);
	if (!reg || mmreg_region_ua_to_hpa(reg, ua, w->page_shift, &hpa))
		return H_TOO_HARD;
	/* The fault point stands for a region found dying (a race otherwise). */
	if (util_should_fail("spapr_hcall_mapped") || mmreg_region_mapped_inc(reg))
		return H_TOO_HARD;
	if (dir == TCE_DIR_NONE)
		rc = tce_table_map_noperm(w->table, he, hpa, ua, NULL, spapr__drops_old, d);
	else
		rc = tce_table_xchg(w->table, he, hpa, ua, dir, NULL, spapr__drops_old, d);
	if (rc) {
		/* A level not allocated (or KVM's BUG_ON: an unaligned hpa): the count back. */
		mmreg_region_mapped_dec(reg);
		return H_TOO_HARD;
	}
	return H_SUCCESS;
}

/*
 * After kvmppc_clear_tce zeroed hardware entries [he, he + n) of v1 window
 * @w: the entries among them that v1's MAP pinned (not yet replaced by
 * this hypercall) give their pins back after a kill, where KVM's clear
 * leaks the page reference for good (docs/quirks.md, Q12's differences).
 * The entries a hypercall mapped keep their counts, as v2's do.
 */
static void unpin_v1(struct spapr_window *w, uint64_t he, uint64_t n)
{
	struct spapr_tce_container *tc = w->tc;
	uint64_t base = tce_table_geometry(w->table)->it_offset, ua;
	struct spapr_drops d;

	spapr__drops_init(&d, w);
	for (uint64_t e = he; e < he + n; e++) {
		if (e - base >= tc->v1_npins || !tc->v1_pins[e - base] ||
		    tce_table_shadow_read(w->table, e, &ua))
			continue;
		spapr__drops_old(&d, &(struct tce_old_run){ .entry = e, .ua = ua, .n = 1 }, 1);
		tce_kill_batch_add(&d.kill, e, 1);
	}
	spapr__drops_flush(&d);
}

/*
 * kvmppc_tce_iommu_map of guest entry @entry in window @j, then, on a
 * failure, kvmppc_clear_tce.  @ua is the guest page's.
 */
static long map_tce(struct hcall_req *q, unsigned j, uint64_t entry, uint64_t ua, enum tce_dir dir)
{
	struct spapr_window *w = q->locks.w[j];
	unsigned sub_shift = hcall_sub_shift(q, j);
	uint64_t he = entry << sub_shift, sub = 1ull << sub_shift;
	struct spapr_drops d;
	long ret = H_SUCCESS;

	/* A v1 window too (Q17): its old entries go as kvmppc_tce_iommu_mapped_dec gives them. */
	spapr__drops_init(&d, w);
	d.kvm = true;
	for (uint64_t k = 0; k < sub && ret == H_SUCCESS; k++)
		ret = do_map(q, j, he + k, ua + (k << w->page_shift), dir, &d);
	tce_kill_batch_add(&d.kill, he, sub);	/* iommu_tce_kill, wherever the loop stopped */
	spapr__drops_flush(&d);
	if (ret != H_SUCCESS) {
		for (uint64_t k = 0; k < sub; k++)
			tce_table_clear_hw(w->table, he + k);
		if (!w->tc->v2)
			unpin_v1(w, he, sub);
		q->gt->q12_diverged = true;
	}
	return ret;
}

/* kvmppc_tce_iommu_unmap of guest entries [entry, entry + n) in window @j: cannot fail here. */
static void unmap_tces(struct hcall_req *q, unsigned j, uint64_t entry, uint64_t n)
{
	unsigned sub_shift = hcall_sub_shift(q, j);
	struct spapr_drops d;

	spapr__drops_init(&d, q->locks.w[j]);
	d.kvm = true;	/* Q17: a v1 window's entries as kvmppc_tce_iommu_mapped_dec gives them */
	tce_table_unmap(q->locks.w[j]->table, entry << sub_shift, n << sub_shift, NULL,
			spapr__drops_old, &d, NULL);
	tce_kill_batch_add(&d.kill, entry << sub_shift, n << sub_shift);
	spapr__drops_flush(&d);
}

/*
 * kvmppc_tce_put: the value H_GET_TCE answers.  A zero below a missing page
 * is not stored; a page that cannot be allocated loses the value (KVM's
 * WARN_ON_ONCE in kvm_spapr_get_tce_page).  Under the hypercall's locks:
 * the table's only writer.
 */
static void guest_put(struct spapr_guest_table *gt, uint64_t entry, uint64_t tce)
{
	uint64_t idx = entry - gt->offset, p = idx / SPAPR_GUEST_TCES_PER_PAGE;
	uint64_t *page = __atomic_load_n(&gt->pages[p], __ATOMIC_RELAXED);

	if (!page) {
		if (!tce || util_should_fail("spapr_hcall_page"))
			return;
		page = calloc(SPAPR_GUEST_TCES_PER_PAGE, sizeof(uint64_t));
		if (!page)
			return;
		__atomic_store_n(&gt->pages[p], page, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&page[idx % SPAPR_GUEST_TCES_PER_PAGE], tce, __ATOMIC_RELAXED);
}

/*
 * KVM keeps a table's windows in a list, the newest first
 * (kvm_spapr_tce_attach_iommu_group's list_add_rcu; a second group of a
 * window already there only takes a reference).  Each attachment carries
 * the seq of the moment its window joined the table; a window joining
 * again after all its groups left gets a new one.  Under the guest lock
 * (write), before the new attachment is listed.
 */
uint64_t spapr__hcall_kernel_seq(struct spapr_guest_table *gt, const struct spapr_window *w)
{
	for (unsigned i = 0; i < gt->natt; i++)
		if (gt->att[i].w == w)
			return gt->att[i].seq;
	return ++gt->q12_seq;
}

/* The live windows in KVM's order (the newest first), as indexes of q->locks.w. */
static unsigned window_order(const struct hcall_req *q, unsigned *order)
{
	uint64_t seq[SPAPR_GUEST_MAX_ATTACH];
	unsigned n = 0;

	for (unsigned j = 0; j < q->locks.n; j++) {
		unsigned k;

		if (!q->locks.live[j])
			continue;	/* never in kernel mode: removed windows are live (Q15) */
		for (unsigned i = 0; i < q->gt->natt; i++)
			if (q->gt->att[i].w == q->locks.w[j])
				seq[j] = q->gt->att[i].seq;
		for (k = n++; k > 0 && seq[order[k - 1]] < seq[j]; k--)
			order[k] = order[k - 1];
		order[k] = j;
	}
	return n;
}

/*
 * The apply pass over q->vals (@indirect: INDIRECT's second pass, which
 * maps permission-less TCEs too).  Under the hypercall's locks.
 */
static long apply(struct hcall_req *q, bool indirect)
{
	unsigned order[SPAPR_GUEST_MAX_ATTACH], nw = window_order(q, order);

	for (uint64_t i = 0; i < q->n; i++) {
		uint64_t tce = q->vals[i], ua = 0;
		enum tce_dir dir = tce_dir_from_bits(tce);
		bool map = indirect || dir != TCE_DIR_NONE;

		if (map && tce_to_ua(q, tce & ~TCE_PCI_RW, &ua))
			return H_PARAMETER;
		for (unsigned x = 0; x < nw; x++) {
			unsigned j = order[x];
			long ret;

			if (!map) {
				unmap_tces(q, j, q->entry + i, 1);
				continue;
			}
			ret = map_tce(q, j, q->entry + i, ua, dir);
			if (ret != H_SUCCESS)
				return ret;
		}
		guest_put(q->gt, q->entry + i, tce);
	}
	return H_SUCCESS;
}

/* Validate every TCE of q->vals, then apply them. */
static long run(struct hcall_req *q, bool indirect)
{
	long ret = H_SUCCESS;

	spapr__hcall_lock(q->gt, &q->locks);
	for (uint64_t i = 0; i < q->n && ret == H_SUCCESS; i++)
		ret = validate_one(q, q->vals[i]);
	if (ret == H_SUCCESS)
		ret = apply(q, indirect);
	spapr__hcall_unlock(&q->locks);
	return ret;
}

long spapr__hcall_kernel_put(struct hcall_req *q)
{
	q->vals[0] = be64toh(q->list_be[0]);
	return run(q, false);
}

long spapr__hcall_kernel_indirect(struct hcall_req *q)
{
	/* The list, read once for both passes. */
	for (uint64_t i = 0; i < q->n; i++)
		q->vals[i] = be64toh(__atomic_load_n(&q->list_be[i], __ATOMIC_RELAXED));
	return run(q, true);
}

long spapr__hcall_kernel_stuff(struct hcall_req *q)
{
	spapr__hcall_lock(q->gt, &q->locks);
	for (unsigned j = 0; j < q->locks.n; j++)
		if (q->locks.live[j])
			unmap_tces(q, j, q->entry, q->n);
	for (uint64_t i = 0, n; i < q->n; i += n) {
		uint64_t idx = q->entry - q->gt->offset + i;

		n = SPAPR_GUEST_TCES_PER_PAGE - idx % SPAPR_GUEST_TCES_PER_PAGE;
		if (n > q->n - i)
			n = q->n - i;
		/* Zeros below a missing page store nothing: a page at a time. */
		if (q->stuff || __atomic_load_n(&q->gt->pages[idx / SPAPR_GUEST_TCES_PER_PAGE],
						__ATOMIC_RELAXED))
			for (uint64_t k = 0; k < n; k++)
				guest_put(q->gt, q->entry + i + k, q->stuff);
	}
	spapr__hcall_unlock(&q->locks);
	return H_SUCCESS;
}
