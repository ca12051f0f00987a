/* SPDX-License-Identifier: MIT */
/*
 * VFIO_IOMMU_SPAPR_REGISTER_MEMORY and UNREGISTER_MEMORY (spec 6.3).
 *
 * A container holds one unit of a region's `used` for each region in its
 * prereg set.  Registering a range another container of the process holds
 * adopts that region (charged once); registering it twice in one container
 * is EBUSY.  Unregistering the last owner of a region that still has TCEs
 * returns EBUSY and changes nothing (Q3: the kernel's >= 5.1 behaviour, 0
 * and an orphaned region, is not reproduced).
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stddef.h>

#include "spapr/spapr_priv.h"
#include "util/range.h"

struct reg_args {
	uint64_t vaddr;
	uint64_t entries;
};

/*
 * Copies and checks the argument (steps 2 and 3 of both requests).  Only
 * REGISTER rejects size 0 (Q13) and a wrapping range; UNREGISTER checks
 * alignment only, as the kernel does, and then finds no such region.
 */
static int reg_args_get(void *arg, bool registering, struct reg_args *out)
{
	struct vfio_iommu_spapr_register_memory reg;
	const size_t minsz = offsetof(struct vfio_iommu_spapr_register_memory, size) + sizeof(reg.size);
	uint64_t end;
	int rc = spapr__copy_in(&reg, arg, minsz);

	if (rc)
		return rc;
	if (reg.argsz < minsz || reg.flags)
		return -EINVAL;
	if (!util_is_aligned(reg.vaddr, EMU_PAGE_SHIFT) || !util_is_aligned(reg.size, EMU_PAGE_SHIFT))
		return -EINVAL;
	if (registering && (!reg.size || !util_range_end(reg.vaddr, reg.size, &end)))
		return -EINVAL;
	out->vaddr = reg.vaddr;
	out->entries = reg.size >> EMU_PAGE_SHIFT;
	return 0;
}

static bool held(struct spapr_tce *tce, struct mmreg_region *r)
{
	return util_u64map_get(&tce->prereg, (uintptr_t)r) != 0;
}

int spapr__register_memory(struct spapr_tce *tce, void *arg)
{
	struct mmreg_region *r;
	struct reg_args a;
	int rc;

	pthread_mutex_lock(&tce->lock);
	/* Binding comes first: even a request that then fails binds (spec 8.28). */
	rc = spapr__tce_bind_mm(tce);
	if (rc)
		goto out_unlock;
	rc = reg_args_get(arg, true, &a);
	if (rc)
		goto out_unlock;
	r = mmreg_region_get(tce->mm, a.vaddr, a.entries);
	if (r) {
		if (held(tce, r)) {
			mmreg_region_put(tce->mm, r);	/* our temporary unit; the region stays */
			rc = -EBUSY;
			goto out_unlock;
		}
	} else {
		rc = mmreg_region_new(tce->mm, a.vaddr, a.entries, &r);
		if (rc)
			goto out_unlock;
	}
	rc = util_u64map_insert(&tce->prereg, (uintptr_t)r, 1);
	if (rc) {
		mmreg_region_put(tce->mm, r);
		goto out_unlock;
	}
	__atomic_store_n(&tce->enabled, true, __ATOMIC_RELEASE);
out_unlock:
	pthread_mutex_unlock(&tce->lock);
	return rc;
}

int spapr__unregister_memory(struct spapr_tce *tce, void *arg)
{
	struct mmreg_region *r;
	struct reg_args a;
	int rc;

	pthread_mutex_lock(&tce->lock);
	/* Never bound: EPERM before any argument check (spec 8.15). */
	if (!tce->mm) {
		rc = -EPERM;
		goto out_unlock;
	}
	rc = reg_args_get(arg, false, &a);
	if (rc)
		goto out_unlock;
	mmreg_read_lock();
	r = mmreg_region_find(tce->mm, a.vaddr, a.entries);
	mmreg_read_unlock();
	/* Our unit in the region keeps it alive between find and put. */
	if (!r || !held(tce, r)) {
		rc = -ENOENT;
		goto out_unlock;
	}
	rc = mmreg_region_put(tce->mm, r);
	if (!rc)
		util_u64map_remove(&tce->prereg, (uintptr_t)r);
out_unlock:
	pthread_mutex_unlock(&tce->lock);
	return rc;
}

/* Release: put every region this container holds.  Under tce->lock, windows already cleared. */
void spapr__prereg_release_all(struct spapr_tce *tce)
{
	for (uint64_t i = 0; i < tce->prereg.cap; i++) {
		struct mmreg_region *r = (struct mmreg_region *)(uintptr_t)tce->prereg.slots[i].key;

		if (!tce->prereg.slots[i].val)
			continue;
		/* Cannot be EBUSY for the last owner: this container's TCEs are gone. */
		mmreg_region_put(tce->mm, r);
	}
	util_u64map_destroy(&tce->prereg);
}
