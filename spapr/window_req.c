/* SPDX-License-Identifier: MIT */
/*
 * VFIO_IOMMU_SPAPR_TCE_CREATE and VFIO_IOMMU_SPAPR_TCE_REMOVE: the dynamic
 * DMA windows of a v2 container (the kernel's
 * tce_iommu_create_window and tce_iommu_remove_window).  The window
 * objects themselves are window.c's.
 *
 * A window the caller cannot learn the address of (the copy-out of
 * start_addr failed) is removed again, so that a failed TCE_CREATE leaves
 * nothing behind.
 */
#include <errno.h>
#include <linux/vfio.h>

#include "spapr/spapr_priv.h"

/*
 * VFIO_IOMMU_SPAPR_TCE_CREATE (v2): the first free slot gets a window;
 * its bus address goes back to the caller.  The dispatcher bound the mm
 * (EPERM), found a group (ENXIO), copied the struct (EFAULT) and checked
 * argsz and flags (EINVAL), in that order (docs/kernel.md).
 */
int spapr__ioctl_tce_create(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;
	struct vfio_iommu_spapr_tce_create *cr = rq->buf;
	const uint32_t minsz = SPAPR_IOCTL_MINSZ(struct vfio_iommu_spapr_tce_create, start_addr);
	struct spapr_window *w;
	unsigned slot;
	int rc;

	rc = spapr__default_window(tc);
	if (rc)
		return rc;
	util_mutex_lock(&tc->lock);
	for (slot = 0; slot < SPAPR_WINDOWS && tc->windows[slot]; slot++)
		;
	if (slot == SPAPR_WINDOWS) {
		rc = -ENOSPC;
		goto out_unlock;
	}
	rc = spapr__window_create(tc, slot, cr->page_shift, cr->window_size, cr->levels, &w);
	if (rc)
		goto out_unlock;
	cr->start_addr = w->start;
	rc = spapr__copy_out(rq->arg, cr, minsz);
	if (rc) {
		/* The caller cannot learn the address: undo, as nothing happened. */
		__atomic_store_n(&tc->windows[slot], w, __ATOMIC_RELEASE);
		spapr__window_remove(tc, slot);
		goto out_unlock;
	}
	__atomic_store_n(&tc->windows[slot], w, __ATOMIC_RELEASE);
out_unlock:
	util_mutex_unlock(&tc->lock);
	return rc;
}

/*
 * VFIO_IOMMU_SPAPR_TCE_REMOVE (v2): the window containing start_addr, or a
 * pending default window asked for at 0.  The same checks as TCE_CREATE ran
 * before.
 */
int spapr__ioctl_tce_remove(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;
	const struct vfio_iommu_spapr_tce_remove *rm = rq->buf;
	int rc = 0;

	util_mutex_lock(&tc->lock);
	if (tc->def_window_pending && !rm->start_addr) {
		__atomic_store_n(&tc->def_window_pending, false, __ATOMIC_RELEASE);
		goto out_unlock;
	}
	rc = -EINVAL;
	for (unsigned s = 0; s < SPAPR_WINDOWS; s++) {
		struct spapr_window *w = tc->windows[s];

		if (w && rm->start_addr >= w->start && rm->start_addr - w->start < w->size) {
			spapr__window_remove(tc, s);
			rc = 0;
			break;
		}
	}
out_unlock:
	util_mutex_unlock(&tc->lock);
	return rc;
}
