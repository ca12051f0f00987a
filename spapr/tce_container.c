/* SPDX-License-Identifier: MIT */
/*
 * The sPAPR TCE driver instance (the kernel's struct tce_container, here
 * struct spapr_tce_container): created by VFIO_SET_IOMMU, released by the
 * container's last reference or when its last group leaves.  Its request
 * table (one row per request, spapr/ioctl.h), GET_INFO, mm binding, group
 * attach rules (tce_iommu_attach_group, Linux >= 6.4) and release
 * (tce_iommu_release).
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/quirk.h"
#include "spapr/spapr_priv.h"
#include "util/fail.h"

int spapr__tce_container_open(struct spapr_container *c, bool v2, struct spapr_tce_container **out)
{
	struct spapr_tce_container *tc;

	if (util_should_fail("spapr_tce_alloc"))
		return -ENOMEM;
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return -ENOMEM;
	tc->refs = 1;
	tc->c = c;
	tc->v2 = v2;
	util_mutex_init(&tc->lock);
	*out = tc;
	return 0;
}

/*
 * Release, in the kernel's order (tce_iommu_release): the groups are already gone
 * (the last detach or the container's last reference brought us here), so
 * clear and free every window (dropping mapped counts, uncharging), put every
 * region this container registered, undo a v1 enable; then the container's
 * reference goes.  Never fails.
 */
void spapr__tce_container_release(struct spapr_tce_container *tc)
{
	util_mutex_lock(&tc->lock);
	for (unsigned slot = 0; slot < SPAPR_WINDOWS; slot++)
		spapr__window_remove(tc, slot);
	tc->def_window_pending = false;
	spapr__prereg_release_all(tc);
	util_mutex_unlock(&tc->lock);
	spapr__v1_disable(tc);
	util_u64map_destroy(&tc->prereg);
	spapr__tce_container_put(tc);
}

/* A reference for a guest table's attachment; the container's own one is held. */
void spapr__tce_container_get(struct spapr_tce_container *tc)
{
	__atomic_add_fetch(&tc->refs, 1, __ATOMIC_RELAXED);
}

/*
 * Drops a reference; the last one frees what a write into a removed window
 * still reads (the mm, the v1 pins: Q15) and the instance.  The release
 * has run by then (the container's reference is the last but for
 * attachments, and an attachment goes only after it was made).
 */
void spapr__tce_container_put(struct spapr_tce_container *tc)
{
	if (__atomic_sub_fetch(&tc->refs, 1, __ATOMIC_ACQ_REL))
		return;
	if (tc->mm)
		mmreg_mm_put(tc->mm);
	free(tc->v1_pins);
	util_mutex_destroy(&tc->lock);
	free(tc);
}

/* True when the container is bound to another process's mm. */
bool spapr__tce_container_foreign(struct spapr_tce_container *tc)
{
	struct mmreg_mm *mm = __atomic_load_n(&tc->mm, __ATOMIC_ACQUIRE);

	return mm && !mmreg_mm_is_current(mm);
}

/*
 * Binds the container to the caller's mm on first use (the kernel's
 * tce_iommu_mm_set).  Under tc->lock.  Returns 0, -EPERM (bound to
 * another mm), -ENOMEM.
 */
int spapr__tce_container_bind_mm(struct spapr_tce_container *tc)
{
	struct mmreg_mm *mm;
	int rc;

	util_mutex_assert_held(&tc->lock);
	if (tc->mm)
		return mmreg_mm_is_current(tc->mm) ? 0 : -EPERM;
	rc = mmreg_mm_current(&mm);
	if (rc)
		return rc;
	__atomic_store_n(&tc->mm, mm, __ATOMIC_RELEASE);
	return 0;
}

/* Under group_lock (write). */
int spapr__tce_container_attach_group(struct spapr_tce_container *tc, struct spapr_group *g)
{
	unsigned slot, done;
	int rc = 0;

	util_rwlock_assert_wrheld(&tc->c->group_lock);
	if (tc->v2 && !g->info.max_dynamic_windows_supported)
		return -EINVAL;
	if (!tc->v2 && tc->ngroups)
		return -EBUSY;	/* v1 cannot share its table */
	util_mutex_lock(&tc->lock);
	for (slot = 0; slot < SPAPR_WINDOWS; slot++) {
		if (!tc->windows[slot])
			continue;
		rc = spapr__window_program(tc->windows[slot], g);
		if (rc)
			break;
	}
	if (rc) {
		for (done = 0; done < slot; done++)
			if (tc->windows[done])
				spapr__window_unprogram(tc->windows[done], g);
	} else {
		/* The first group: slot 0 will get the default window (v1 and v2 alike). */
		if (!tc->windows[0] && !tc->ngroups)
			tc->def_window_pending = true;
		tc->ngroups++;
	}
	util_mutex_unlock(&tc->lock);
	return rc;
}

/*
 * Under group_lock (write).  Unprograms this group only (Q10: the other
 * groups keep their windows and entries).  Under quirks=kernel, as
 * tce_iommu_release_ownership (>= 6.4), every window's entries are cleared
 * first: the tables are shared, so every other group loses its mappings.
 */
void spapr__tce_container_detach_group(struct spapr_tce_container *tc, struct spapr_group *g)
{
	util_rwlock_assert_wrheld(&tc->c->group_lock);
	util_mutex_lock(&tc->lock);
	for (unsigned slot = 0; slot < SPAPR_WINDOWS; slot++) {
		struct spapr_window *w = tc->windows[slot];

		if (!w)
			continue;
		if (emu__quirk(EMU_Q10)) {
			const struct tce_geometry *geo = tce_table_geometry(w->table);

			util_mutex_lock(&w->write_lock);
			spapr__window_clear(w, geo->it_offset, geo->it_size);
			util_mutex_unlock(&w->write_lock);
		}
		spapr__window_unprogram(w, g);
	}
	tc->ngroups--;
	util_mutex_unlock(&tc->lock);
}

/* The first attached group's description (the kernel's "table group" of the container), or NULL. */
const struct spapr_group_info *spapr__tce_container_info(struct spapr_tce_container *tc)
{
	return tc->c->ngroups ? &tc->c->groups[0]->info : NULL;
}

/* ------------------------------------------------------------- requests */

/* VFIO_IOMMU_SPAPR_TCE_GET_INFO: the 32-bit window, and DDW's limits on v2. */
static int ioctl_tce_get_info(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;
	struct vfio_iommu_spapr_tce_info *info = rq->buf;
	const uint32_t minsz = SPAPR_IOCTL_MINSZ(struct vfio_iommu_spapr_tce_info, dma32_window_size);
	const struct spapr_group_info *gi = spapr__tce_container_info(tc);

	info->dma32_window_start = (uint32_t)gi->tce32_start;
	info->dma32_window_size = (uint32_t)gi->tce32_size;
	info->flags = 0;
	memset(&info->ddw, 0, sizeof(info->ddw));
	if (tc->v2 && gi->max_dynamic_windows_supported) {
		info->flags = VFIO_IOMMU_SPAPR_INFO_DDW;
		info->ddw.pgsizes = gi->pgsizes;
		info->ddw.max_dynamic_windows_supported = gi->max_dynamic_windows_supported;
		info->ddw.levels = gi->max_levels;
	}
	return spapr__copy_out(rq->arg, info, rq->argsz >= sizeof(*info) ? sizeof(*info) : minsz);
}

/*
 * The checks the kernel makes before copying a request's struct in
 * (struct spapr_ioctl_op.before), one per distinct sequence.
 */

/* MAP_DMA, UNMAP_DMA: ENABLE (v1) or a REGISTER (v2) came first (EPERM). */
static int before_enabled(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;

	return __atomic_load_n(&tc->enabled, __ATOMIC_ACQUIRE) ? 0 : -EPERM;
}

/* REGISTER_MEMORY: bind the mm to the caller (EPERM for another process's). */
static int before_bind(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;
	int rc;

	util_mutex_lock(&tc->lock);
	rc = spapr__tce_container_bind_mm(tc);
	util_mutex_unlock(&tc->lock);
	return rc;
}

/* UNREGISTER_MEMORY: never bound is EPERM, before any argument check (tce_iommu_ioctl). */
static int before_bound(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;

	return __atomic_load_n(&tc->mm, __ATOMIC_ACQUIRE) ? 0 : -EPERM;
}

/* GET_INFO: a group must be attached (ENXIO). */
static int before_group(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;

	return spapr__tce_container_info(tc) ? 0 : -ENXIO;
}

/* TCE_CREATE, TCE_REMOVE: bind the mm (EPERM), then a group (ENXIO). */
static int before_bind_group(struct spapr_ioctl_req *rq)
{
	int rc = before_bind(rq);

	return rc ? rc : before_group(rq);
}

#define V1V2 (SPAPR_ON_V1 | SPAPR_ON_V2)
#define MAP_FLAGS (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define ARGSZ_FLAGS (SPAPR_IOCTL_ARGSZ | SPAPR_IOCTL_FLAGS)

/*
 * The driver's requests (the kernel's tce_iommu_ioctl), one row each, the
 * hot ones first.  A row a container's type does not accept is ENOTTY.
 * MAP_DMA's and UNMAP_DMA's handlers read their struct up to min_size and
 * send nothing back (SPAPR_IOCTL_NO_TAIL: no buffer to zero).
 */
static const struct spapr_ioctl_op tce_container_ops[] = {
	{ VFIO_IOMMU_MAP_DMA, SPAPR_IOCTL_MINSZ(struct vfio_iommu_type1_dma_map, size), MAP_FLAGS,
	  ARGSZ_FLAGS | SPAPR_IOCTL_NO_TAIL, V1V2, before_enabled, spapr__ioctl_map_dma },
	{ VFIO_IOMMU_UNMAP_DMA, SPAPR_IOCTL_MINSZ(struct vfio_iommu_type1_dma_unmap, size), 0,
	  ARGSZ_FLAGS | SPAPR_IOCTL_NO_TAIL, V1V2, before_enabled, spapr__ioctl_unmap_dma },
	{ VFIO_IOMMU_SPAPR_TCE_GET_INFO,
	  SPAPR_IOCTL_MINSZ(struct vfio_iommu_spapr_tce_info, dma32_window_size), 0,
	  SPAPR_IOCTL_ARGSZ, V1V2, before_group, ioctl_tce_get_info },
	{ VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
	  SPAPR_IOCTL_MINSZ(struct vfio_iommu_spapr_register_memory, size), 0, ARGSZ_FLAGS,
	  SPAPR_ON_V2, before_bind, spapr__ioctl_register_memory },
	{ VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY,
	  SPAPR_IOCTL_MINSZ(struct vfio_iommu_spapr_register_memory, size), 0, ARGSZ_FLAGS,
	  SPAPR_ON_V2, before_bound, spapr__ioctl_unregister_memory },
	{ VFIO_IOMMU_SPAPR_TCE_CREATE,
	  SPAPR_IOCTL_MINSZ(struct vfio_iommu_spapr_tce_create, start_addr), 0, ARGSZ_FLAGS,
	  SPAPR_ON_V2, before_bind_group, spapr__ioctl_tce_create },
	{ VFIO_IOMMU_SPAPR_TCE_REMOVE,
	  SPAPR_IOCTL_MINSZ(struct vfio_iommu_spapr_tce_remove, start_addr), 0, ARGSZ_FLAGS,
	  SPAPR_ON_V2, before_bind_group, spapr__ioctl_tce_remove },
	{ VFIO_IOMMU_ENABLE, 0, 0, 0, SPAPR_ON_V1, NULL, spapr__ioctl_enable },
	{ VFIO_IOMMU_DISABLE, 0, 0, 0, SPAPR_ON_V1, NULL, spapr__ioctl_disable },
	{ VFIO_EEH_PE_OP, SPAPR_IOCTL_MINSZ(struct vfio_eeh_pe_op, op), 0, ARGSZ_FLAGS, V1V2,
	  spapr__eeh_before, spapr__ioctl_eeh_pe_op },
};

/*
 * A request to the driver instance.  Under group_lock (read), as
 * vfio_fops_unl_ioctl calls the driver.  CHECK_EXTENSION never gets here
 * (container.c answers it for every container).
 */
int spapr__tce_container_ioctl(struct spapr_tce_container *tc, unsigned long request, void *arg)
{
	util_rwlock_assert_held(&tc->c->group_lock);
	/* Before dispatch: even unknown requests from another process get EPERM. */
	if (spapr__tce_container_foreign(tc))
		return -EPERM;
	return spapr__ioctl_dispatch(SPAPR_IOCTL_TABLE(tce_container_ops),
				     tc->v2 ? SPAPR_ON_V2 : SPAPR_ON_V1, request, tc, arg);
}
