/* SPDX-License-Identifier: MIT */
/*
 * DMA windows: creation and removal, the lazily created default window,
 * lookup by bus address, clearing, and programming windows into groups
 * (the kernel's tce_iommu_create_table, tce_iommu_create_default_window
 * and tce_iommu_free_table).  The requests that create and remove windows
 * are in window_req.c.
 *
 * A window is charged before its table is created (the kernel's order) and
 * uncharged on every failure after that (Q6; under quirks=kernel, as
 * tce_iommu_create_table, a failure to create the table keeps the charge).  Removal unpublishes the slot,
 * waits for readers, then clears every entry under the window's write_lock
 * (dropping the regions' mapped counts), unprograms it from every group and
 * uncharges it and drops the slot's reference; the table is freed by the
 * last reference, normally at once (a guest table's attachment may hold it
 * longer, uncharged: the kernel's tce_iommu_free_table uncharges at once).
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "emu/quirk.h"
#include "spapr/spapr_priv.h"
#include "util/fail.h"
#include "util/range.h"
#include "util/rcu.h"

/*
 * Kill callback of a window's table: every group the container holds
 * (group_lock held), until the removal has unprogrammed the window from
 * them.  After that the table is linked to no PE, as the kernel's after
 * pnv_pci_unlink_table_and_group, and a kill of it reaches no device: the
 * only writers then are a guest's hypercalls into a removed window under
 * quirks=kernel (Q15), which may run after the container itself is gone.
 */
static void window_kill(void *ctx, uint64_t first_entry, uint64_t npages)
{
	struct spapr_window *w = ctx;
	struct spapr_container *c;

	if (w->unlinked)
		return;
	c = w->tc->c;
	for (unsigned i = 0; i < c->ngroups; i++)
		spapr_platform->tce_kill(c->groups[i]->id, w->slot, first_entry, npages);
}

int spapr__window_program(struct spapr_window *w, struct spapr_group *g)
{
	const struct tce_geometry *geo = tce_table_geometry(w->table);
	struct spapr_window_regs regs = {
		.table_hpa = tce_table_hpa(w->table),
		.levels = w->levels,
		.level_size = geo->it_level_size,
		.size = geo->it_size,
		.page_shift = w->page_shift,
		.bus_offset = w->start,
	};

	return spapr_platform->set_window(g->id, w->slot, &regs);
}

void spapr__window_unprogram(struct spapr_window *w, struct spapr_group *g)
{
	spapr_platform->unset_window(g->id, w->slot);
}

/*
 * Creates the table of a window in @slot, charges it, programs it into every
 * group.  Under tc->lock and group_lock.  Returns 0, -EINVAL (page size not
 * supported, geometry), -ENOMEM (locked_vm, allocation), or the platform's
 * error; on failure nothing is left charged (but see Q6), allocated or
 * programmed.
 */
int spapr__window_create(struct spapr_tce_container *tc, unsigned slot, unsigned page_shift,
			 uint64_t window_size, unsigned levels, struct spapr_window **out)
{
	const struct spapr_group_info *info = spapr__tce_container_info(tc);
	struct spapr_container *c = tc->c;
	struct tce_table_params p = { 0 };
	struct spapr_window *w;
	uint64_t bytes;
	unsigned i;
	int rc;

	util_mutex_assert_held(&tc->lock);
	spapr_assert_groups_held(c);
	if (!info)
		return -ENXIO;
	if (page_shift >= 64 || !(info->pgsizes & (1ull << page_shift)))
		return -EINVAL;
	/*
	 * tce_iommu_create_table: the size (get_table_size, which knows no
	 * 55-bit rule) is charged before the platform checks the geometry
	 * (pnv_pci_ioda2_table_alloc_pages), so a request breaking both the
	 * limit and the rule gets ENOMEM (docs/kernel.md, TCE_CREATE).
	 */
	rc = tce_table_charge_size(page_shift, window_size, levels, &bytes);
	if (rc)
		return rc;
	rc = mmreg_mm_charge(tc->mm, (bytes + EMU_PAGE_SIZE - 1) >> EMU_PAGE_SHIFT);
	if (rc)
		return rc;
	rc = tce_table_size(page_shift, window_size, levels, &bytes);
	if (rc)
		goto err_uncharge;	/* Q6 fixed: the kernel leaves this charge behind */
	if (util_should_fail("spapr_window_alloc")) {
		rc = -ENOMEM;
		goto err_create;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		rc = -ENOMEM;
		goto err_create;
	}
	w->refs = 1;
	w->tc = tc;
	w->slot = slot;
	w->start = info->slot_start[slot];
	w->page_shift = page_shift;
	w->levels = levels;
	w->charged = (bytes + EMU_PAGE_SIZE - 1) >> EMU_PAGE_SHIFT;
	util_mutex_init(&w->write_lock);
	p.bus_offset = w->start;
	p.window_size = window_size;
	p.page_shift = page_shift;
	p.levels = levels;
	/* Writers of a window's entries are serialised by its write_lock. */
	p.flags = TCE_TABLE_ON_NODE | TCE_TABLE_SERIAL_WRITERS;
	p.node = info->node;
	p.kill = window_kill;
	p.kill_ctx = w;
	rc = tce_table_create(&p, &w->table);
	if (rc)
		goto err_free;
	w->size = tce_table_geometry(w->table)->it_size << page_shift;
	for (i = 0; i < c->ngroups; i++) {
		rc = spapr__window_program(w, c->groups[i]);
		if (rc)
			goto err_unprogram;
	}
	/* Our own mm reference: a window may outlive its driver instance (a guest's attachment). */
	w->mm = mmreg_mm_get(tc->mm);
	*out = w;
	return 0;

err_unprogram:
	while (i--)
		spapr__window_unprogram(w, c->groups[i]);
	tce_table_put(w->table);
	util_mutex_destroy(&w->write_lock);
	free(w);
	goto err_uncharge;
err_free:
	util_mutex_destroy(&w->write_lock);
	free(w);
err_create:
	/* Q6 under quirks=kernel: tce_iommu_create_table does not undo its charge. */
	if (emu__quirk(EMU_Q6))
		return rc;
err_uncharge:
	mmreg_mm_uncharge(tc->mm, (bytes + EMU_PAGE_SIZE - 1) >> EMU_PAGE_SHIFT);
	return rc;
}

void spapr__window_put(struct spapr_window *w)
{
	struct mmreg_mm *mm;

	if (__atomic_sub_fetch(&w->refs, 1, __ATOMIC_ACQ_REL))
		return;
	mm = w->mm;
	tce_table_put(w->table);
	mmreg_mm_uncharge(mm, __atomic_load_n(&w->charged, __ATOMIC_ACQUIRE));	/* 0 once removed */
	mmreg_mm_put(mm);
	util_mutex_destroy(&w->write_lock);
	free(w);
}

/* The window containing bus address @iova, with a reference, or NULL. */
struct spapr_window *spapr__window_find_get(struct spapr_tce_container *tc, uint64_t iova)
{
	struct spapr_window *found = NULL;

	util_rcu_read_lock();
	for (unsigned s = 0; s < SPAPR_WINDOWS && !found; s++) {
		struct spapr_window *w = __atomic_load_n(&tc->windows[s], __ATOMIC_ACQUIRE);
		uint64_t refs;

		if (!w || iova < w->start || iova - w->start >= w->size)
			continue;
		refs = __atomic_load_n(&w->refs, __ATOMIC_RELAXED);
		do {
			if (!refs)
				break;
		} while (!__atomic_compare_exchange_n(&w->refs, &refs, refs + 1, true, __ATOMIC_ACQUIRE,
						      __ATOMIC_RELAXED));
		if (refs)
			found = w;
	}
	util_rcu_read_unlock();
	return found;
}

/*
 * The window containing bus address @iova with its write_lock taken, and
 * no reference, when the lock is free: the request's fast path.  NULL with
 * *busy false: no window holds @iova; with *busy true: its write_lock is
 * taken (the caller takes a reference and waits, spapr__window_find_get).
 * The lock alone keeps the window: spapr__window_remove takes it after the
 * grace period that follows the slot's unpublishing, and puts the slot's
 * reference only after that; a trylock in the read section is taken either
 * before that grace period ends or not at all.  Saves the reference's two
 * atomic read-modify-writes of a one-page MAP or UNMAP.
 */
struct spapr_window *spapr__window_find_trylock(struct spapr_tce_container *tc, uint64_t iova, bool *busy)
{
	struct spapr_window *found = NULL;

	*busy = false;
	util_rcu_read_lock();
	for (unsigned s = 0; s < SPAPR_WINDOWS; s++) {
		struct spapr_window *w = __atomic_load_n(&tc->windows[s], __ATOMIC_ACQUIRE);

		if (!w || iova < w->start || iova - w->start >= w->size)
			continue;
		if (util_mutex_trylock(&w->write_lock))
			found = w;
		else
			*busy = true;
		break;
	}
	util_rcu_read_unlock();
	return found;
}

/*
 * Clears entries [entry, entry + npages) of @w, kills the entries that were
 * valid, then gives back their mapped counts (v1: pins).  Caller holds
 * w->write_lock and group_lock.
 */
void spapr__window_clear(struct spapr_window *w, uint64_t entry, uint64_t npages)
{
	struct spapr_drops d;

	util_mutex_assert_held(&w->write_lock);
	spapr_assert_groups_held(w->tc->c);
	if (!npages)
		return;
	spapr__drops_init(&d, w);
	/*
	 * One page (a guest's boot clears its window so): one exchange,
	 * without the run's walk.  No kill batch for it: spapr__drops_old adds
	 * the entry when it was valid, as tce_table_unmap would.
	 */
	if (npages == 1)
		tce_table_xchg(w->table, entry, 0, 0, TCE_DIR_NONE, NULL, spapr__drops_old, &d);
	else
		tce_table_unmap(w->table, entry, npages, NULL, spapr__drops_old, &d, NULL);
	spapr__drops_flush(&d);
}

/* Under tc->lock and group_lock: take slot @slot out of service entirely.  Never fails. */
void spapr__window_remove(struct spapr_tce_container *tc, unsigned slot)
{
	struct spapr_window *w = tc->windows[slot];
	struct spapr_container *c = tc->c;
	const struct tce_geometry *geo;

	util_mutex_assert_held(&tc->lock);
	spapr_assert_groups_held(c);
	if (!w)
		return;
	__atomic_store_n(&tc->windows[slot], NULL, __ATOMIC_RELEASE);
	util_rcu_synchronize();
	geo = tce_table_geometry(w->table);
	util_mutex_lock(&w->write_lock);
	w->dead = true;
	spapr__window_clear(w, geo->it_offset, geo->it_size);
	util_mutex_unlock(&w->write_lock);
	for (unsigned i = 0; i < c->ngroups; i++)
		spapr__window_unprogram(w, c->groups[i]);
	util_mutex_lock(&w->write_lock);
	w->unlinked = true;
	util_mutex_unlock(&w->write_lock);
	/*
	 * tce_iommu_free_table uncharges at once, even when a guest table's
	 * attachment keeps the table object alive (check_hcall
	 * t_window_removed_or_container_closed_while_attached): the charge goes
	 * with the window, not with the last reference.
	 */
	mmreg_mm_uncharge(w->mm, __atomic_exchange_n(&w->charged, 0, __ATOMIC_ACQ_REL));
	spapr__window_put(w);
}

/*
 * Materialises the pending default window: 4 KiB pages, tce32_size bytes,
 * one level, slot 0 at tce32_start (tce_iommu_create_default_window).
 * Takes tc->lock; called with group_lock held.  Returns 0 or the error of
 * the window creation; the window stays pending on failure.
 */
int spapr__default_window(struct spapr_tce_container *tc)
{
	const struct spapr_group_info *info;
	struct spapr_window *w;
	int rc = 0;

	util_rwlock_assert_held(&tc->c->group_lock);
	if (!__atomic_load_n(&tc->def_window_pending, __ATOMIC_ACQUIRE))
		return 0;
	util_mutex_lock(&tc->lock);
	if (!tc->def_window_pending)
		goto out_unlock;
	info = spapr__tce_container_info(tc);
	if (!info) {
		rc = -ENODEV;
		goto out_unlock;
	}
	if (tc->windows[0] || info->slot_start[0] != info->tce32_start) {
		rc = -EINVAL;
		goto out_unlock;
	}
	rc = spapr__window_create(tc, 0, EMU_PAGE_SHIFT, info->tce32_size, 1, &w);
	if (rc)
		goto out_unlock;
	__atomic_store_n(&tc->windows[0], w, __ATOMIC_RELEASE);
	__atomic_store_n(&tc->def_window_pending, false, __ATOMIC_RELEASE);
out_unlock:
	util_mutex_unlock(&tc->lock);
	return rc;
}
