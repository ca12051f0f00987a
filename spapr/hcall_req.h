/* SPDX-License-Identifier: MIT */
/*
 * spapr/hcall_req.h: one hypercall in flight and its three phases, for
 * hcall*.c only (spapr/hcall.c has the story).
 *
 * Names: i, k index the call's TCEs; x, y its runs; j the locked windows
 * (req->locks.w[j]); c the per-region counts.  Shifts are named for what
 * they shift: guest_shift (the guest table's page), hw_shift (a window's
 * IOMMU page), sub_shift (guest_shift - hw_shift: 2^sub_shift hardware
 * entries per guest TCE).
 */
#ifndef SPAPRTCE_HCALL_REQ_H
#define SPAPRTCE_HCALL_REQ_H

#include "spapr/guest_priv.h"

/*
 * Hardware entries per store: a long run is stored in pieces of this many,
 * and short runs are gathered up to this many, so that the buffers beside
 * the table's blocks (the old entries; the short runs' values), 4 KiB each
 * at 512, stay in the L1 cache.
 */
#define HCALL_STORE_CHUNK 512u
/*
 * A run of fewer entries than this is stored with its neighbours, entry by
 * entry (hardware entries in apply_window, guest TCEs in store_guest).
 */
#define HCALL_SHORT_RUN 8u

/*
 * A run of the call's TCEs that one store can write: either TCEs without
 * permission (they clear), or TCEs of consecutive guest pages with one
 * direction inside one memslot and, when a window is live, one registered
 * region.  A guest's list is usually one run: Linux builds it from the
 * pages of one contiguous buffer.  A mapping run's TCEs are @tce0 + k *
 * guest page size: the run is all that is kept of them.
 */
struct hcall_run {
	uint64_t i, n;			/* TCEs [i, i + n) of the call */
	uint64_t ua;			/* ua of TCE i's guest page; 0: the run clears */
	uint64_t tce0;			/* TCE i as read (mapping runs) */
	enum tce_dir dir;
	struct mmreg_region *reg;	/* when a window is live and the run maps */
};

/* The mapped count one region gets from the call, in guest TCEs (prepare_counts). */
struct hcall_count {
	struct mmreg_region *reg;
	uint64_t n;
};

struct hcall_req {
	struct spapr_guest *guest;
	struct spapr_guest_table *gt;
	struct spapr_hcall_locks locks;
	uint64_t entry;			/* first guest entry (absolute) */
	uint64_t n;			/* guest TCEs */
	const uint64_t *list_be;	/* the n TCEs as the guest wrote them; NULL for STUFF */
	uint64_t stuff;			/* STUFF's value */
	unsigned nruns, ncounts;
	struct hcall_run run[SPAPR_TCE_LIST_MAX];
	struct hcall_count count[SPAPR_TCE_LIST_MAX];
	uint64_t vals[SPAPR_TCE_LIST_MAX];	/* TCEs outside long runs, as read (store_guest) */
};


/* Hardware entries per guest TCE in window @j is 1 << this. */
static inline unsigned hcall_sub_shift(const struct hcall_req *q, unsigned j)
{
	return q->gt->page_shift - q->locks.w[j]->page_shift;
}

/* Whether run @run is stored as a progression into the guest's pages (else from q->vals). */
static inline bool hcall_guest_long(const struct hcall_run *run)
{
	return run->ua && run->n >= HCALL_SHORT_RUN;
}

/* hcall_validate.c: phase 1.  H_SUCCESS or H_TOO_HARD (nothing touched). */
long spapr__hcall_validate(struct hcall_req *q);

/* hcall_prepare.c: phase 2.  0 or a negative errno (counts given back). */
int spapr__hcall_prepare_guest_pages(struct hcall_req *q);
int spapr__hcall_prepare_levels(struct hcall_req *q);
int spapr__hcall_prepare_counts(struct hcall_req *q);

/* hcall_apply.c: phase 3. */
int spapr__hcall_apply_window(struct hcall_req *q, unsigned j, uint64_t *done);
void spapr__hcall_apply_rollback(struct hcall_req *q, unsigned failed, uint64_t done);
void spapr__hcall_store_guest(struct hcall_req *q);

#endif
