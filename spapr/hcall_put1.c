/* SPDX-License-Identifier: MIT */
/*
 * H_PUT_TCE's fast path: one TCE into the table's one window, doing no more
 * than KVM's kvmppc_h_put_tce does for it.
 *
 * The general path (hcall.c: validate, prepare, apply) is built for a list
 * of 512 TCEs and several windows: runs, pieces, per-region sums, a
 * reservation walk, a store that scans old entries as runs, a drops batch
 * with its own region lookups, a kill batch.  For one TCE that machinery is
 * the whole cost, about 3,000 instructions.  The steady state of a guest's
 * H_PUT_TCE is simpler: one window (or several groups of one container
 * sharing it), of the guest table's page size, whose leaf block and guest
 * page exist already.  There this file does, in order, what the general
 * path does for one TCE, without the machinery:
 *
 *   the locks    the container's group_lock (read), the window's write_lock,
 *                then the mmreg read section (spapr__hcall_lock's order);
 *   validate     alignment, the memslot (the guest's slot hint first), the
 *                region and its page size: the same checks in the same
 *                order, so the same H_TOO_HARD;
 *   the leaf     the window's leaf blocks of the last entry, kept in the
 *                guest table (gt->put1) while the window stays attached
 *                (gt->att_gen): no walk while the guest writes one block;
 *   the counts   the region's mapped count is raised before the store and
 *                the old entry's dropped after the kill, as the drops
 *                batch does; when the old entry lies in the same region
 *                (a guest reusing its pages) the two cancel and neither is
 *                done: the old entry's count keeps the region from dying
 *                meanwhile, so the add could not have failed;
 *   the store    tce_leaf_store: one entry, shadow before hardware;
 *   the kill     one call of the table's kill callback for the entry (the
 *                general path's batch flushes that same one range);
 *   guest value  stored last, as store_guest does.
 *
 * Anything else goes to the general path before any fault point is passed
 * and before anything is written (SPAPR_HCALL_SLOW): no attachment,
 * several windows, a window of another page size, a removed window, a v1
 * window, a missing guest page or leaf block (their allocation has fault
 * points of its own), and every call in kernel mode (quirks=kernel), whose
 * hypercall answers the general path alone gives.  A failure the general
 * path would answer before changing anything (a bad TCE, a dying region)
 * is answered here, identically.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>

#include "emu/emu.h"
#include "spapr/hcall_req.h"
#include "util/fail.h"
#include "util/range.h"

/* The table's one window and its container, or NULL (the general path's cases). */
static struct spapr_window *one_window(const struct spapr_guest_table *gt,
				       struct spapr_container **c)
{
	struct spapr_window *w = gt->natt ? gt->att[0].w : NULL;

	for (unsigned i = 1; w && i < gt->natt; i++)
		if (gt->att[i].w != w || gt->att[i].c != gt->att[0].c)
			return NULL;
	if (!w || w->page_shift != gt->page_shift)
		return NULL;
	*c = gt->att[0].c;
	return w;
}

/*
 * The leaf blocks of window entry @entry, kept in gt->put1, or NULL when
 * a level is missing (a mapping must then reserve it: the general path's).
 */
static const struct tce_leaf *leaf_of(struct spapr_guest_table *gt, struct spapr_window *w,
				      uint64_t entry)
{
	struct tce_leaf *l = &gt->put1.leaf;

	if (gt->put1.w == w && gt->put1.gen == gt->att_gen && tce_leaf_holds(l, entry))
		return l;
	if (tce_table_leaf(w->table, entry, l) || !tce_leaf_holds(l, entry)) {
		gt->put1.w = NULL;
		return NULL;
	}
	gt->put1.w = w;
	gt->put1.gen = gt->att_gen;
	return l;
}

/* Phase 1 for a TCE with R or W: its ua and region, or H_TOO_HARD as validate answers. */
static long check_map(struct spapr_guest *guest, uint64_t tce, unsigned shift, uint64_t *ua,
		      struct mmreg_region **reg)
{
	uint64_t gpa = tce & ~TCE_PCI_RW, psize = 1ull << shift;
	unsigned hint = __atomic_load_n(&guest->slot_hint, __ATOMIC_RELAXED);
	const struct spapr_guest_memslot *s = &guest->slots[hint % SPAPR_GUEST_MEMSLOTS];

	if (!util_is_aligned(gpa, shift))
		return H_TOO_HARD;
	/* The hinted memslot first, here: the search's call is for a guest moving between slots. */
	if (s->size && gpa >= s->gpa && gpa - s->gpa < s->size && psize <= s->size - (gpa - s->gpa))
		*ua = s->ua + (gpa - s->gpa);
	else if (spapr__guest_gpa_to_ua(guest, gpa, psize, ua, &hint))
		return H_TOO_HARD;
	if (!util_is_aligned(*ua, shift))
		return H_TOO_HARD;
	*reg = mmreg_region_lookup_hinted(guest->mm, *ua, psize);
	if (!*reg || mmreg_region_pageshift(*reg) < shift)
		return H_TOO_HARD;
	__atomic_store_n(&guest->slot_hint, hint, __ATOMIC_RELAXED);
	return H_SUCCESS;
}

/* Under the window's locks and the mmreg read section. */
static long put1_locked(struct spapr_guest *guest, struct spapr_guest_table *gt,
			struct spapr_window *w, uint64_t entry, uint64_t tce)
{
	unsigned shift = w->page_shift;
	uint64_t psize = 1ull << shift, idx = entry - gt->offset, hw_be = 0, sh_be = 0, ua, hpa;
	uint64_t *gpage = __atomic_load_n(&gt->pages[idx / SPAPR_GUEST_TCES_PER_PAGE],
					  __ATOMIC_RELAXED);
	struct mmreg_region *reg = NULL, *old_reg;
	const struct tce_leaf *leaf;
	uint64_t old = 0;
	bool same = false;
	long ret;

	if (tce & TCE_PCI_RW) {
		ret = check_map(guest, tce, shift, &ua, &reg);
		if (ret != H_SUCCESS)
			return ret;
		/* Cannot fail: the region holds the page, with pages at least that large. */
		mmreg_region_ua_to_hpa(reg, ua, shift, &hpa);
		hw_be = htobe64(hpa | tce_dir_to_bits(tce_dir_from_bits(tce)));
		sh_be = htobe64(ua);
	}
	if (!gpage && tce)
		return SPAPR_HCALL_SLOW;	/* the page's allocation is the general path's */
	leaf = leaf_of(gt, w, entry);
	if (!leaf && hw_be)
		return SPAPR_HCALL_SLOW;	/* so is the reservation of levels */
	if (leaf)
		old = tce_leaf_shadow(leaf, entry);
	if (hw_be) {
		/* The fault point stands for a region found dying (a race otherwise). */
		if (util_should_fail("spapr_hcall_mapped"))
			return H_TOO_HARD;
		same = old && mmreg_region_holds(reg, old, psize);
		if (!same && mmreg_region_mapped_add(reg, 1))
			return H_TOO_HARD;	/* a region is being released */
	}
	if (leaf && tce_leaf_store(w->table, leaf, entry, hw_be, sh_be, &old)) {
		/* Cannot happen (the values are checked): keep the bookkeeping exact. */
		if (hw_be && !same)
			mmreg_region_mapped_sub(reg, 1);
		return H_HARDWARE;
	}
	tce_table_kill(w->table, entry, 1);	/* always, as the general path's batch */
	/* After the kill: the old entry's count (kill before unpin, spapr/drops.c). */
	if (old && !same) {
		old_reg = mmreg_region_lookup_hinted(__atomic_load_n(&w->tc->mm, __ATOMIC_RELAXED), old, psize);
		if (old_reg)
			mmreg_region_mapped_sub(old_reg, 1);
	}
	if (gpage)
		__atomic_store_n(&gpage[idx % SPAPR_GUEST_TCES_PER_PAGE], tce, __ATOMIC_RELEASE);
	return H_SUCCESS;
}

long spapr__hcall_put1(struct spapr_guest *guest, struct spapr_guest_table *gt, uint64_t entry,
		       uint64_t tce)
{
	struct spapr_container *c;
	struct spapr_window *w;
	long ret;

	util_rwlock_assert_held(&guest->lock);
	if (emu_machine_quirks_kernel() || !(w = one_window(gt, &c)))
		return SPAPR_HCALL_SLOW;
	util_rwlock_rdlock(&c->group_lock);
	util_mutex_lock(&w->write_lock);
	if (w->dead || !w->tc->v2) {
		ret = SPAPR_HCALL_SLOW;
	} else {
		mmreg_read_lock();
		ret = put1_locked(guest, gt, w, entry, tce);
		mmreg_read_unlock();
	}
	util_mutex_unlock(&w->write_lock);
	util_rwlock_unlock(&c->group_lock);
	return ret;
}

/*
 * The kept leaf blocks of @gt, unless forgotten, are those of a window
 * still attached (no attachment went since: an attach of another window
 * only sends later calls to the general path), as a walk finds them now.
 */
static bool put1_ok(const struct spapr_guest_table *gt)
{
	const struct tce_leaf *l = &gt->put1.leaf;
	struct tce_leaf now;
	unsigned i;

	if (!gt->put1.w || gt->put1.gen != gt->att_gen)
		return true;	/* nothing kept, or forgotten */
	for (i = 0; i < gt->natt && gt->att[i].w != gt->put1.w; i++)
		;
	if (i == gt->natt)
		return false;
	return !tce_table_leaf(gt->put1.w->table, l->first, &now) && now.first == l->first &&
	       now.end == l->end && now.hw == l->hw && now.sh == l->sh && l->end != l->first;
}

/*
 * G5: the last table found is NULL or a listed table.  G6: a table's kept
 * leaf blocks, unless forgotten (another attachment generation), are those
 * of a window still attached, the same a walk finds now.
 */
int spapr__hcall_put1_check(struct spapr_guest *guest)
{
	const struct spapr_guest_table *last = __atomic_load_n(&guest->last_gt, __ATOMIC_RELAXED);
	bool listed = !last;

	util_rwlock_assert_wrheld(&guest->lock);
	for (uint64_t i = 0; i < guest->tables.cap; i++) {
		const struct spapr_guest_table *gt = (void *)(uintptr_t)guest->tables.slots[i].val;

		if (!gt)
			continue;
		listed |= gt == last;
		if (!put1_ok(gt)) {
			fprintf(stderr, "spapr_guest_check: liobn %#llx: kept leaf blocks are stale\n",
				(unsigned long long)gt->liobn);
			return -EUCLEAN;
		}
	}
	if (!listed) {
		fprintf(stderr, "spapr_guest_check: the last table found is not listed\n");
		return -EUCLEAN;
	}
	return 0;
}
