/* SPDX-License-Identifier: MIT */
/*
 * The sPAPR TCE driver instance (the kernel's tce_container): created by
 * VFIO_SET_IOMMU, released by the container's last reference or when its
 * last group leaves.  Request dispatch, mm binding, group attach rules
 * (spec 6.2-6.4, the >= v6.4 column) and release (spec 3.3).
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdlib.h>

#include "spapr/spapr_priv.h"
#include "util/fail.h"

int spapr__tce_open(struct spapr_container *c, bool v2, struct spapr_tce **out)
{
	struct spapr_tce *tce;

	if (util_should_fail("spapr_tce_alloc"))
		return -ENOMEM;
	tce = calloc(1, sizeof(*tce));
	if (!tce)
		return -ENOMEM;
	tce->c = c;
	tce->v2 = v2;
	pthread_mutex_init(&tce->lock, NULL);
	*out = tce;
	return 0;
}

/*
 * Release, in the kernel's order (spec 3.3): the groups are already gone
 * (the last detach or the container's last reference brought us here), so
 * clear and free every window (dropping mapped counts, uncharging), put every
 * region this container registered, undo a v1 enable, drop the mm.
 * Never fails.
 */
void spapr__tce_release(struct spapr_tce *tce)
{
	pthread_mutex_lock(&tce->lock);
	for (unsigned slot = 0; slot < SPAPR_WINDOWS; slot++)
		spapr__window_remove(tce, slot);
	tce->def_window_pending = false;
	spapr__prereg_release_all(tce);
	pthread_mutex_unlock(&tce->lock);
	spapr__v1_disable(tce);
	if (tce->mm)
		mmreg_mm_put(tce->mm);
	util_u64map_destroy(&tce->prereg);
	free(tce->v1_pins);
	pthread_mutex_destroy(&tce->lock);
	free(tce);
}

/* True when the container is bound to another process's mm. */
bool spapr__tce_foreign(struct spapr_tce *tce)
{
	struct mmreg_mm *mm = __atomic_load_n(&tce->mm, __ATOMIC_ACQUIRE);

	return mm && !mmreg_mm_is_current(mm);
}

/*
 * Binds the container to the caller's mm on first use (the kernel's
 * tce_iommu_mm_set).  Under tce->lock.  Returns 0, -EPERM (bound to
 * another mm), -ENOMEM.
 */
int spapr__tce_bind_mm(struct spapr_tce *tce)
{
	struct mmreg_mm *mm;
	int rc;

	if (tce->mm)
		return mmreg_mm_is_current(tce->mm) ? 0 : -EPERM;
	rc = mmreg_mm_current(&mm);
	if (rc)
		return rc;
	__atomic_store_n(&tce->mm, mm, __ATOMIC_RELEASE);
	return 0;
}

/* Under group_lock (write). */
int spapr__tce_attach_group(struct spapr_tce *tce, struct spapr_group *g)
{
	unsigned slot, done;
	int rc = 0;

	if (tce->v2 && !g->info.max_dynamic_windows_supported)
		return -EINVAL;
	if (!tce->v2 && tce->ngroups)
		return -EBUSY;	/* v1 cannot share its table */
	pthread_mutex_lock(&tce->lock);
	for (slot = 0; slot < SPAPR_WINDOWS; slot++) {
		if (!tce->windows[slot])
			continue;
		rc = spapr__window_program(tce->windows[slot], g);
		if (rc)
			break;
	}
	if (rc) {
		for (done = 0; done < slot; done++)
			if (tce->windows[done])
				spapr__window_unprogram(tce->windows[done], g);
	} else {
		/* The first group: slot 0 will get the default window (v1 and v2 alike). */
		if (!tce->windows[0] && !tce->ngroups)
			tce->def_window_pending = true;
		tce->ngroups++;
	}
	pthread_mutex_unlock(&tce->lock);
	return rc;
}

/* Under group_lock (write).  Unprograms this group only (Q10: the other groups keep their windows). */
void spapr__tce_detach_group(struct spapr_tce *tce, struct spapr_group *g)
{
	pthread_mutex_lock(&tce->lock);
	for (unsigned slot = 0; slot < SPAPR_WINDOWS; slot++)
		if (tce->windows[slot])
			spapr__window_unprogram(tce->windows[slot], g);
	tce->ngroups--;
	pthread_mutex_unlock(&tce->lock);
}

/* Under group_lock (read). */
int spapr__tce_ioctl(struct spapr_tce *tce, unsigned long req, void *arg)
{
	if (req == VFIO_CHECK_EXTENSION)
		return (unsigned)(uintptr_t)arg == VFIO_SPAPR_TCE_IOMMU ||
		       (unsigned)(uintptr_t)arg == VFIO_SPAPR_TCE_v2_IOMMU;
	/* Before dispatch: even unknown requests from another process get EPERM. */
	if (spapr__tce_foreign(tce))
		return -EPERM;
	switch (req) {
	case VFIO_IOMMU_SPAPR_TCE_GET_INFO:
		return spapr__get_info(tce, arg);
	case VFIO_IOMMU_MAP_DMA:
		return spapr__map_dma(tce, arg);
	case VFIO_IOMMU_UNMAP_DMA:
		return spapr__unmap_dma(tce, arg);
	case VFIO_IOMMU_SPAPR_REGISTER_MEMORY:
		return tce->v2 ? spapr__register_memory(tce, arg) : -ENOTTY;
	case VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY:
		return tce->v2 ? spapr__unregister_memory(tce, arg) : -ENOTTY;
	case VFIO_IOMMU_SPAPR_TCE_CREATE:
		return tce->v2 ? spapr__tce_create(tce, arg) : -ENOTTY;
	case VFIO_IOMMU_SPAPR_TCE_REMOVE:
		return tce->v2 ? spapr__tce_remove(tce, arg) : -ENOTTY;
	case VFIO_IOMMU_ENABLE:
		return tce->v2 ? -ENOTTY : spapr__v1_enable(tce);
	case VFIO_IOMMU_DISABLE:
		return tce->v2 ? -ENOTTY : spapr__v1_disable(tce);
	default:
		return -ENOTTY;
	}
}
