/* SPDX-License-Identifier: MIT */
/*
 * The hypercalls: H_PUT_TCE, H_PUT_TCE_INDIRECT, H_STUFF_TCE and
 * H_GET_TCE (KVM's kvmppc_h_*), their checks and their three phases.
 *
 * Every hypercall is all-or-nothing, in three phases under the windows'
 * locks, or the table's own when it has no window (hcall_lock.c):
 *
 *   validate  (hcall_validate.c) every TCE: alignment, memslot, a registered region covering
 *             the whole guest page with a page size every live window can
 *             use.  The first failure returns; nothing was touched.
 *   prepare   (hcall_prepare.c) everything that can fail and is invisible: the guest-visible
 *             pages the values need, every table level the new entries need
 *             (tce_table_reserve), and the regions' mapped counts of the new
 *             entries (a dying region fails here, Q4's ENXIO).  On failure
 *             the counts taken are given back; allocated pages and levels
 *             stay (they read as empty, as in the kernel).
 *   apply     (hcall_apply.c) cannot fail: a run is written by tce_table_store_run, short
 *             runs together by tce_table_store, clears by tce_table_unmap;
 *             replaced and cleared entries go to a drops batch (their
 *             counts given back after the kill), one kill per window
 *             covers the whole call, then the guest-visible values are
 *             stored.
 *
 * This is where we depart from the kernel on purpose (quirk Q12, docs/quirks.md): KVM
 * maps TCE by TCE and, failing half-way, clears the affected hardware
 * entries without fixing the mapped counts or the shadow, keeping the TCEs
 * already applied; INDIRECT re-reads the list from guest memory in its second
 * pass, and maps permission-less TCEs.  Here the list is read once, a
 * permission-less TCE unmaps, and a failure changes nothing.  Under
 * quirks=kernel the three hooks marked Q12 hand each call to KVM's order
 * instead (spapr/hcall_kernel.c).
 *
 * H_PUT_TCE_INDIRECT merges consecutive TCEs that are contiguous in one
 * memslot and region with one direction into one run, checked once and
 * stored in one pass.
 *
 * This file has the entry points: each takes the guest lock (read) in
 * hreq_begin and drops it in hreq_end, whatever happened between (H_PUT_TCE
 * takes and drops it itself, around its fast path, hcall_put1.c, and the
 * general one); the request and the phases' shared names are in
 * hcall_req.h.
 */
#include <endian.h>

#include "emu/quirk.h"	/* Q12 */
#include "spapr/hcall_kernel.h"	/* Q12: quirks=kernel's hypercalls */
#include "spapr/hcall_req.h"
#include "util/fail.h"
#include "util/range.h"

/*
 * kvmppc_ioba_validate: the whole range, without overflow (the kernel's
 * check is the same in both modes; Q2 is VFIO's only).  The last two tests
 * are never true but for a Q16 table (quirks=kernel) whose entry pages
 * wrapped: KVM indexes past its page array there, we refuse (docs/quirks.md).
 */
static inline long check_ioba(const struct spapr_guest_table *gt, uint64_t ioba, uint64_t npages,
			      uint64_t *entry)
{
	uint64_t e = ioba >> gt->page_shift, held = gt->npages * SPAPR_GUEST_TCES_PER_PAGE;

	if (!util_is_aligned(ioba, gt->page_shift) || e < gt->offset || e - gt->offset >= gt->size ||
	    npages > gt->size - (e - gt->offset) || e - gt->offset >= held ||
	    npages > held - (e - gt->offset))
		return H_PARAMETER;
	*entry = e;
	return H_SUCCESS;
}

/*
 * Validate, prepare, apply.  Caller holds the guest lock (read) and is in
 * the mmreg read section, which spans the whole call (the drops look
 * regions up too); takes the table's locks (spapr__hcall_lock).
 */
static long hreq_run(struct hcall_req *q)
{
	long ret = H_SUCCESS;
	uint64_t done;
	int rc;

	util_rwlock_assert_held(&q->guest->lock);
	spapr__hcall_lock(q->gt, &q->locks);
	if (q->list_be)
		ret = spapr__hcall_validate(q);
	if (ret == H_SUCCESS && (spapr__hcall_prepare_guest_pages(q) ||
				 (q->list_be && spapr__hcall_prepare_levels(q))))
		ret = H_TOO_HARD;
	if (ret == H_SUCCESS && q->list_be && spapr__hcall_prepare_counts(q))
		ret = H_TOO_HARD;	/* a region is being released */
	for (unsigned j = 0; ret == H_SUCCESS && j < q->locks.n; j++) {
		if (!q->locks.live[j])
			continue;
		rc = spapr__hcall_apply_window(q, j, &done);
		if (rc) {
			spapr__hcall_apply_rollback(q, j, done);
			ret = H_HARDWARE;
		}
	}
	if (ret == H_SUCCESS)
		spapr__hcall_store_guest(q);
	spapr__hcall_unlock(&q->locks);
	return ret;
}

/*
 * The table of @liobn, or NULL: the one the last hypercall found first
 * (guest->last_gt, cleared by the table's destroy).  Under the guest lock.
 */
static struct spapr_guest_table *table_of(struct spapr_guest *guest, uint64_t liobn)
{
	struct spapr_guest_table *gt = __atomic_load_n(&guest->last_gt, __ATOMIC_RELAXED);

	if (gt && gt->liobn == liobn)
		return gt;
	gt = spapr__guest_table_find(guest, liobn);
	if (gt)
		__atomic_store_n(&guest->last_gt, gt, __ATOMIC_RELAXED);
	return gt;
}

/*
 * Takes the guest lock (read) and finds the table of @liobn and the range's
 * first entry.  Always returns with the lock held, whatever the code:
 * every hypercall ends with hreq_end.  H_TOO_HARD for an unknown LIOBN
 * (userspace handles those), H_PARAMETER for a bad range.
 */
static long hreq_begin(struct hcall_req *q, struct spapr_guest *guest, uint64_t liobn,
		       uint64_t ioba, uint64_t npages)
{
	q->guest = guest;
	q->n = npages;
	q->nruns = 0;
	q->ncounts = 0;
	if (spapr__guest_foreign(guest)) {
		q->guest = NULL;	/* the parent's (guest_api.c): no lock */
		return H_HARDWARE;
	}
	util_rwlock_rdlock(&guest->lock);
	q->gt = table_of(guest, liobn);
	if (!q->gt)
		return H_TOO_HARD;
	return check_ioba(q->gt, ioba, npages, &q->entry);
}

static void hreq_end(struct hcall_req *q)
{
	if (q->guest)
		util_rwlock_unlock(&q->guest->lock);
}

/*
 * H_PUT_TCE on the general path, for what spapr__hcall_put1 leaves
 * (SPAPR_HCALL_SLOW): the request is large, so it lives on this function's
 * stack, not on the fast path's.  Under the guest lock (read).
 */
static __attribute__((noinline)) long put_general(struct spapr_guest *guest,
						  struct spapr_guest_table *gt, uint64_t entry,
						  uint64_t tce)
{
	uint64_t tce_be = htobe64(tce);
	struct hcall_req q;
	long ret;

	q.guest = guest;
	q.gt = gt;
	q.entry = entry;
	q.n = 1;
	q.nruns = 0;
	q.ncounts = 0;
	q.list_be = &tce_be;
	mmreg_read_lock();
	ret = emu__quirk(EMU_Q12) ? spapr__hcall_kernel_put(&q) : hreq_run(&q);	/* Q12 */
	mmreg_read_unlock();
	return ret;
}

long spapr_h_put_tce(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba, uint64_t tce)
{
	struct spapr_guest_table *gt;
	uint64_t entry;
	long ret;

	if (!guest)
		return H_TOO_HARD;	/* no VM, so no table: as an unknown LIOBN */
	if (spapr__guest_foreign(guest))
		return H_HARDWARE;	/* the parent's (guest_api.c): no lock */
	util_rwlock_rdlock(&guest->lock);
	gt = table_of(guest, liobn);
	ret = gt ? check_ioba(gt, ioba, 1, &entry) : H_TOO_HARD;
	if (ret == H_SUCCESS)
		ret = spapr__hcall_put1(guest, gt, entry, tce);	/* the common case */
	if (ret == SPAPR_HCALL_SLOW)
		ret = put_general(guest, gt, entry, tce);
	util_rwlock_unlock(&guest->lock);
	return ret;
}

/*
 * Where to read the guest's TCE list (at @ua, @n entries) from, once: a
 * list inside a registered region lies in pinned memory that cannot fault,
 * so it is read in place there, by validate (a process that unmaps
 * registered memory is outside the model, see docs/emu.md); elsewhere it
 * is copied to @bounce through process_vm_readv, which fails instead of
 * faulting.  Reading in place saves a system call of a few microseconds per
 * hypercall, more than an INDIRECT of 512 entries costs otherwise.  Called
 * in the mmreg read section.  Returns the list or NULL (-EFAULT).
 */
static const uint64_t *list_source(struct spapr_guest *guest, uint64_t *bounce, uint64_t ua,
				   uint64_t n)
{
	if (mmreg_region_lookup_hinted(guest->mm, ua, n * sizeof(uint64_t)))
		return (const uint64_t *)(uintptr_t)ua;
	if (spapr__copy_in(bounce, (const void *)(uintptr_t)ua, n * sizeof(uint64_t)))
		return NULL;
	return bounce;
}

/* The list's gpa to a readable list, then the call.  Under the guest lock. */
static long indirect_run(struct hcall_req *q, uint64_t tce_list, uint64_t *bounce)
{
	struct spapr_guest *guest = q->guest;
	unsigned hint = __atomic_load_n(&guest->list_slot_hint, __ATOMIC_RELAXED);
	uint64_t ua;
	long ret;

	mmreg_read_lock();	/* one section for the list and the call */
	if (spapr__guest_gpa_to_ua(guest, tce_list, q->n * sizeof(uint64_t), &ua, &hint) ||
	    util_should_fail("spapr_hcall_list") ||
	    !(q->list_be = list_source(guest, bounce, ua, q->n))) {
		ret = H_TOO_HARD;
	} else {
		__atomic_store_n(&guest->list_slot_hint, hint, __ATOMIC_RELAXED);
		ret = emu__quirk(EMU_Q12) ? spapr__hcall_kernel_indirect(q) : hreq_run(q);	/* Q12 */
	}
	mmreg_read_unlock();
	return ret;
}

long spapr_h_put_tce_indirect(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba,
			      uint64_t tce_list, uint64_t npages)
{
	uint64_t bounce[SPAPR_TCE_LIST_MAX];
	struct hcall_req q;
	long ret;

	if (!guest)
		return H_TOO_HARD;	/* no VM, so no table: as an unknown LIOBN */
	ret = hreq_begin(&q, guest, liobn, ioba, npages);

	/* An unknown LIOBN goes to userspace before any check; then the list, then the range. */
	if (ret != H_TOO_HARD && (npages > SPAPR_TCE_LIST_MAX || !util_is_aligned(tce_list, 12)))
		ret = H_PARAMETER;
	if (ret == H_SUCCESS)
		ret = indirect_run(&q, tce_list, bounce);
	hreq_end(&q);
	return ret;
}

long spapr_h_stuff_tce(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba,
		       uint64_t tce_value, uint64_t npages)
{
	struct hcall_req q;
	long ret;

	if (!guest)
		return H_TOO_HARD;	/* no VM, so no table: as an unknown LIOBN */
	ret = hreq_begin(&q, guest, liobn, ioba, npages);
	if (ret == H_SUCCESS && (tce_value & TCE_PCI_RW))
		ret = H_PARAMETER;	/* only clearing or poisoning */
	if (ret == H_SUCCESS && npages) {
		q.list_be = NULL;
		q.stuff = tce_value;
		mmreg_read_lock();
		ret = emu__quirk(EMU_Q12) ? spapr__hcall_kernel_stuff(&q) : hreq_run(&q);	/* Q12 */
		mmreg_read_unlock();
	}
	hreq_end(&q);
	return ret;
}

long spapr_h_get_tce(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba, uint64_t *tce_out)
{
	struct hcall_req q;
	uint64_t idx, *page;
	long ret;

	if (!guest)
		return H_TOO_HARD;	/* no VM, so no table: as an unknown LIOBN */
	if (!tce_out)
		return H_PARAMETER;	/* nowhere to put the value (KVM has a register) */
	ret = hreq_begin(&q, guest, liobn, ioba, 1);

	if (ret == H_SUCCESS) {
		idx = q.entry - q.gt->offset;
		page = __atomic_load_n(&q.gt->pages[idx / SPAPR_GUEST_TCES_PER_PAGE],
				       __ATOMIC_ACQUIRE);
		*tce_out = page ? __atomic_load_n(&page[idx % SPAPR_GUEST_TCES_PER_PAGE],
						  __ATOMIC_RELAXED) : 0;
	}
	hreq_end(&q);
	return ret;
}
