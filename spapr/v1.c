/* SPDX-License-Identifier: MIT */
/*
 * v1 containers (type 2, VFIO_SPAPR_TCE_IOMMU): VFIO_IOMMU_ENABLE,
 * VFIO_IOMMU_DISABLE and the pinning part of MAP_DMA (the kernel's tce_iommu_enable,
 * tce_iommu_disable and tce_iommu_build).
 *
 * A v1 container has no preregistration: ENABLE charges the whole 32-bit
 * window up front (a worst-case bound), MAP pins each page as it maps it
 * and UNMAP unpins it (drops.c, after the kill).  Only the default window
 * exists.  The v1 pin of every entry of window 0 is kept in tc->v1_pins,
 * allocated at the first MAP.  Under quirks=kernel (Q17) a hypercall may
 * also map a page another container registered into window 0: such an
 * entry has no v1 pin, and what its clear does is drops.c's.
 */
#include <errno.h>
#include <stdlib.h>

#include "spapr/spapr_priv.h"
#include "util/fail.h"

/* VFIO_IOMMU_ENABLE (v1 only): bind the mm, charge the 32-bit window. */
int spapr__ioctl_enable(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;
	const struct spapr_group_info *info;
	uint64_t pages;
	int rc;

	util_mutex_lock(&tc->lock);
	if (tc->enabled) {
		rc = -EBUSY;
		goto out_unlock;
	}
	rc = spapr__tce_container_bind_mm(tc);
	if (rc)
		goto out_unlock;
	if (!tc->c->ngroups) {
		rc = -ENODEV;
		goto out_unlock;
	}
	info = &tc->c->groups[0]->info;
	if (!info->tce32_size) {
		rc = -EPERM;
		goto out_unlock;
	}
	pages = info->tce32_size >> EMU_PAGE_SHIFT;
	rc = mmreg_mm_charge(tc->mm, pages);
	if (rc)
		goto out_unlock;
	tc->v1_locked_pages = pages;
	__atomic_store_n(&tc->enabled, true, __ATOMIC_RELEASE);
out_unlock:
	util_mutex_unlock(&tc->lock);
	return rc;
}

/* Undoes ENABLE's charge; mappings stay.  Never fails (release calls it too). */
void spapr__v1_disable(struct spapr_tce_container *tc)
{
	util_mutex_lock(&tc->lock);
	if (tc->enabled && !tc->v2) {
		__atomic_store_n(&tc->enabled, false, __ATOMIC_RELEASE);
		mmreg_mm_uncharge(tc->mm, tc->v1_locked_pages);
		tc->v1_locked_pages = 0;
	}
	util_mutex_unlock(&tc->lock);
}

/* VFIO_IOMMU_DISABLE (v1 only): always 0, as in the kernel. */
int spapr__ioctl_disable(struct spapr_ioctl_req *rq)
{
	spapr__v1_disable(rq->obj);
	return 0;
}

/*
 * MAP_DMA's v1 part: pins and maps entries [first, first + npages) of @w
 * from @vaddr on, one page at a time; on failure clears what it wrote.
 * Under w->write_lock.
 */
int spapr__v1_map_pages(struct spapr_tce_container *tc, struct spapr_window *w, uint64_t first,
			uint64_t npages, uint64_t vaddr, enum tce_dir dir)
{
	const struct tce_geometry *geo = tce_table_geometry(w->table);
	unsigned shift = w->page_shift;
	struct spapr_drops d;
	uint64_t i;
	int rc = 0;

	util_mutex_assert_held(&w->write_lock);
	if (!tc->v1_pins) {
		if (util_should_fail("spapr_v1_pins"))
			return -ENOMEM;
		tc->v1_pins = calloc(geo->it_size, sizeof(*tc->v1_pins));
		if (!tc->v1_pins)
			return -ENOMEM;
		tc->v1_npins = geo->it_size;
	}
	spapr__drops_init(&d, w);
	for (i = 0; i < npages; i++) {
		uint64_t ua = vaddr + (i << shift), entry = first + i;
		struct emu_pin *pin;

		/* tce_iommu_use_page: FOLL_WRITE unless the device only reads (E8). */
		rc = emu_mem_pin_dir(ua, (1ull << shift) >> EMU_PAGE_SHIFT, dir != TCE_DIR_TO_DEVICE,
				     &pin);
		if (rc)
			break;
		/* A replaced page is unpinned after the kill (drops). */
		rc = tce_table_xchg(w->table, entry, emu_pin_hpa(pin, ua), ua, dir, &d.kill,
				    spapr__drops_old, &d);
		if (rc) {
			emu_mem_unpin(pin);
			break;
		}
		tc->v1_pins[entry - geo->it_offset] = pin;
	}
	if (rc && i)
		tce_table_unmap(w->table, first, i, NULL, spapr__drops_old, &d, NULL);
	spapr__drops_flush(&d);
	return rc;
}
