/* SPDX-License-Identifier: MIT */
/*
 * The guest object: memory slots and guest TCE tables, KVM's VM
 * and KVM_CREATE_SPAPR_TCE_64.
 *
 * A guest TCE table charges, at creation, what KVM charges
 * (kvmppc_stt_pages): its entries, 8 bytes each rounded up to pages, plus
 * the descriptor with one pointer per page.  The pages themselves are
 * allocated only when a non-zero value is first stored below them, so a
 * large sparse table costs its pointer array only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "emu/quirk.h"
#include "spapr/guest_priv.h"
#include "util/fail.h"
#include "util/range.h"

int spapr__guest_create(struct spapr_guest **out)
{
	struct spapr_guest *g;
	int rc;

	if (util_should_fail("spapr_guest_alloc"))
		return -ENOMEM;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	rc = mmreg_mm_current(&g->mm);
	if (rc) {
		free(g);
		return rc;
	}
	util_rwlock_init(&g->lock);
	*out = g;
	return 0;
}

static void table_free(struct spapr_guest *guest, struct spapr_guest_table *gt)
{
	for (uint64_t i = 0; i < gt->npages; i++)
		free(gt->pages[i]);
	free(gt->pages);
	mmreg_mm_uncharge(guest->mm, gt->charged);
	util_mutex_destroy(&gt->lock);
	free(gt);
}

/* Unlinked tables: no hypercall can reach them (the guest lock is held for writing). */
static void table_destroy(struct spapr_guest *guest, struct spapr_guest_table *gt)
{
	spapr__guest_table_detach_all(gt);
	table_free(guest, gt);
}

void spapr_guest_destroy(struct spapr_guest *guest)
{
	if (!guest || spapr__guest_foreign(guest))
		return;	/* the parent's: see guest_api.c */
	for (uint64_t i = 0; i < guest->tables.cap; i++) {
		struct spapr_guest_table *gt = (void *)(uintptr_t)guest->tables.slots[i].val;

		if (gt)
			table_destroy(guest, gt);
	}
	util_u64map_destroy(&guest->tables);
	mmreg_mm_put(guest->mm);
	util_rwlock_destroy(&guest->lock);
	free(guest);
}

int spapr__guest_set_memslot(struct spapr_guest *guest, unsigned slot, uint64_t gpa,
			     uint64_t size, void *ua)
{
	uint64_t gend, uend, u = (uintptr_t)ua;
	int rc = 0;

	if (slot >= SPAPR_GUEST_MEMSLOTS)
		return -EINVAL;
	/* Alignment first, for deletions (size 0) too, as KVM checks it. */
	if (!util_is_aligned(gpa | size | u, EMU_PAGE_SHIFT))
		return -EINVAL;
	if (size && (!util_range_end(gpa, size, &gend) || !util_range_end(u, size, &uend)))
		return -EINVAL;
	util_rwlock_wrlock(&guest->lock);
	for (unsigned i = 0; size && i < SPAPR_GUEST_MEMSLOTS; i++) {
		const struct spapr_guest_memslot *s = &guest->slots[i];

		if (i != slot && s->size && util_range_overlaps(gpa, gend, s->gpa, s->gpa + s->size)) {
			rc = -EINVAL;
			goto out_unlock;
		}
	}
	guest->slots[slot].gpa = size ? gpa : 0;
	guest->slots[slot].ua = size ? u : 0;
	guest->slots[slot].size = size;
out_unlock:
	util_rwlock_unlock(&guest->lock);
	return rc;
}

/* Under guest->lock (either side). */
int spapr__guest_gpa_to_ua(const struct spapr_guest *guest, uint64_t gpa, uint64_t len,
			   uint64_t *ua, unsigned *hint)
{
	unsigned i = *hint < SPAPR_GUEST_MEMSLOTS ? *hint : 0;

	util_rwlock_assert_held(&guest->lock);
	for (unsigned n = 0; n < SPAPR_GUEST_MEMSLOTS; n++, i = (i + 1) % SPAPR_GUEST_MEMSLOTS) {
		const struct spapr_guest_memslot *s = &guest->slots[i];

		if (s->size && gpa >= s->gpa && gpa - s->gpa < s->size &&
		    len <= s->size - (gpa - s->gpa)) {
			*ua = s->ua + (gpa - s->gpa);
			*hint = i;
			return 0;
		}
	}
	return -ENOENT;
}

/* Under guest->lock (either side). */
struct spapr_guest_table *spapr__guest_table_find(struct spapr_guest *guest, uint64_t liobn)
{
	util_rwlock_assert_held(&guest->lock);
	return (void *)(uintptr_t)util_u64map_get(&guest->tables, liobn);
}

/*
 * sizeof(struct kvmppc_spapr_tce_table) on a 64-bit kernel without lock
 * debugging: list (16), kvm (8), liobn (8), rcu (16), page_shift (4 and 4
 * of padding), offset (8), size (8), iommu_tables (16), alloc_lock (a
 * struct mutex: owner 8, wait_lock 4, osq 4, wait_list 16): 120 bytes.
 * KVM charges its own descriptor, not ours: what a real kernel charges is
 * what a user of its limits must see.
 */
#define SPAPR_KVM_STT_BYTES 120u

/* KVM's kvmppc_stt_pages: the entries' pages plus the descriptor's, in system pages. */
uint64_t spapr__guest_table_charge(uint64_t npages)
{
	uint64_t desc = SPAPR_KVM_STT_BYTES + npages * sizeof(uint64_t);	/* a struct page * each */

	return npages + (desc + EMU_PAGE_SIZE - 1) / EMU_PAGE_SIZE;
}

int spapr__guest_create_tce_table(struct spapr_guest *guest, uint64_t liobn,
				  unsigned page_shift, uint64_t offset, uint64_t size)
{
	struct spapr_guest_table *gt;
	uint64_t end, npages, charge;
	int rc;

	/*
	 * Q16, quirks=kernel: kvm_vm_ioctl_create_spapr_tce adds offset and
	 * size without an overflow check, and kvmppc_tce_pages multiplies and
	 * aligns in unsigned long: both wrap, as here.  Fixed: a wrapping sum
	 * is EINVAL, so size <= 2^52 and nothing below wraps.
	 */
	end = offset + size;
	if (!size || page_shift < 12 || page_shift > 34 ||
	    (end < offset && !emu__quirk(EMU_Q16)) || end > (UINT64_MAX >> page_shift))
		return -EINVAL;
	npages = ((size * sizeof(uint64_t) + EMU_PAGE_SIZE - 1) & ~(uint64_t)(EMU_PAGE_SIZE - 1)) /
		 EMU_PAGE_SIZE;
	charge = spapr__guest_table_charge(npages);
	/* The kernel's order: charge, allocate, then look for a duplicate LIOBN. */
	rc = mmreg_mm_charge(guest->mm, charge);
	if (rc)
		return rc;
	rc = -ENOMEM;
	if (util_should_fail("spapr_hcall_table_alloc"))
		goto err_uncharge;
	gt = calloc(1, sizeof(*gt));
	if (!gt)
		goto err_uncharge;
	if (util_should_fail("spapr_hcall_table_pages") || npages > SIZE_MAX / sizeof(uint64_t *))
		goto err_free;
	gt->pages = calloc(npages ? (size_t)npages : 1, sizeof(uint64_t *));	/* 0: a Q16 table */
	if (!gt->pages)
		goto err_free;
	gt->liobn = liobn;
	gt->page_shift = page_shift;
	gt->offset = offset;
	gt->size = size;
	gt->npages = npages;
	gt->charged = charge;
	util_mutex_init(&gt->lock);

	util_rwlock_wrlock(&guest->lock);
	if (spapr__guest_table_find(guest, liobn))
		rc = -EBUSY;
	else
		rc = util_u64map_insert(&guest->tables, liobn, (uintptr_t)gt);
	util_rwlock_unlock(&guest->lock);
	if (rc) {
		table_free(guest, gt);
		return rc;
	}
	return 0;

err_free:
	free(gt->pages);
	free(gt);
err_uncharge:
	mmreg_mm_uncharge(guest->mm, charge);
	return rc;
}

int spapr__guest_destroy_tce_table(struct spapr_guest *guest, uint64_t liobn)
{
	struct spapr_guest_table *gt;

	util_rwlock_wrlock(&guest->lock);
	gt = spapr__guest_table_find(guest, liobn);
	if (gt)
		util_u64map_remove(&guest->tables, liobn);
	if (gt && __atomic_load_n(&guest->last_gt, __ATOMIC_RELAXED) == gt)
		__atomic_store_n(&guest->last_gt, NULL, __ATOMIC_RELAXED);	/* no hypercall runs now */
	util_rwlock_unlock(&guest->lock);
	if (!gt)
		return -ENOENT;
	/* No hypercall holds it: they hold the guest lock (read) while using a table. */
	table_destroy(guest, gt);
	return 0;
}
