/* SPDX-License-Identifier: MIT */
/*
 * VFIO_IOMMU_SPAPR_REGISTER_MEMORY and UNREGISTER_MEMORY (the kernel's
 * tce_iommu_register_pages and tce_iommu_unregister_pages).
 *
 * A container holds one unit of a region's `used` for each region in its
 * prereg set.  Registering a range another container of the process holds
 * adopts that region (charged once); registering it twice in one container
 * is EBUSY.  Unregistering the last owner of a region that still has TCEs
 * returns EBUSY and changes nothing (Q3).  Under quirks=kernel it does what
 * tce_iommu_unregister_pages does since about 5.1: the container lets go of
 * the region, mm_iommu_put's EBUSY is ignored, 0 is returned, and the
 * region stays listed with used = 1, pinned and charged, owned by nobody
 * (an orphan: a later REGISTER of the same range adopts it; it goes away
 * only with the process's mm, docs/quirks.md).
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stddef.h>

#include "emu/quirk.h"
#include "spapr/spapr_priv.h"
#include "util/range.h"

struct reg_args {
	uint64_t vaddr;
	uint64_t entries;
};

/*
 * Checks the argument of both requests (the dispatcher copied it
 * and checked argsz and flags first).  Only REGISTER rejects size 0 (Q13) and a
 * wrapping range; UNREGISTER checks alignment only, as the kernel does, and
 * then finds no such region.
 */
static int reg_args_get(const struct vfio_iommu_spapr_register_memory *reg, bool registering,
			struct reg_args *out)
{
	uint64_t end;

	if (!util_is_aligned(reg->vaddr, EMU_PAGE_SHIFT) || !util_is_aligned(reg->size, EMU_PAGE_SHIFT))
		return -EINVAL;
	/* Q13 under quirks=kernel: size 0 goes on, and mmreg_region_new answers ENOMEM. */
	if (registering && ((!reg->size && !emu__quirk(EMU_Q13)) ||
			    !util_range_end(reg->vaddr, reg->size, &end)))
		return -EINVAL;
	out->vaddr = reg->vaddr;
	out->entries = reg->size >> EMU_PAGE_SHIFT;
	return 0;
}

static bool held(struct spapr_tce_container *tc, struct mmreg_region *r)
{
	return util_u64map_get(&tc->prereg, (uintptr_t)r) != 0;
}

/*
 * VFIO_IOMMU_SPAPR_REGISTER_MEMORY (v2).  The dispatcher bound the mm
 * first (even a request that then fails binds: tce_iommu_mm_set comes first), then copied and
 * checked the struct.
 */
int spapr__ioctl_register_memory(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;
	struct mmreg_region *r;
	struct reg_args a;
	int rc;

	util_mutex_lock(&tc->lock);
	rc = reg_args_get(rq->buf, true, &a);
	if (rc)
		goto out_unlock;
	r = mmreg_region_get(tc->mm, a.vaddr, a.entries);
	if (r) {
		if (held(tc, r)) {
			mmreg_region_put(tc->mm, r);	/* our temporary unit; the region stays */
			rc = -EBUSY;
			goto out_unlock;
		}
	} else {
		rc = mmreg_region_new(tc->mm, a.vaddr, a.entries, &r);
		if (rc)
			goto out_unlock;
	}
	rc = util_u64map_insert(&tc->prereg, (uintptr_t)r, 1);
	if (rc) {
		mmreg_region_put(tc->mm, r);
		goto out_unlock;
	}
	__atomic_store_n(&tc->enabled, true, __ATOMIC_RELEASE);
out_unlock:
	util_mutex_unlock(&tc->lock);
	return rc;
}

/*
 * VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY (v2).  The dispatcher found the
 * container bound (EPERM before any argument check), then copied
 * and checked the struct.
 */
int spapr__ioctl_unregister_memory(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;
	struct mmreg_region *r;
	struct reg_args a;
	int rc;

	util_mutex_lock(&tc->lock);
	rc = reg_args_get(rq->buf, false, &a);
	if (rc)
		goto out_unlock;
	mmreg_read_lock();
	r = mmreg_region_find(tc->mm, a.vaddr, a.entries);
	mmreg_read_unlock();
	/* Our unit in the region keeps it alive between find and put. */
	if (!r || !held(tc, r)) {
		rc = -ENOENT;
		goto out_unlock;
	}
	rc = mmreg_region_put(tc->mm, r);
	if (rc == -EBUSY && emu__quirk(EMU_Q3))
		rc = 0;		/* the region stays, used = 1, owned by nobody */
	if (!rc)
		util_u64map_remove(&tc->prereg, (uintptr_t)r);
out_unlock:
	util_mutex_unlock(&tc->lock);
	return rc;
}

/* Release: put every region this container holds.  Under tc->lock, windows already cleared. */
void spapr__prereg_release_all(struct spapr_tce_container *tc)
{
	util_mutex_assert_held(&tc->lock);
	for (uint64_t i = 0; i < tc->prereg.cap; i++) {
		struct mmreg_region *r = (struct mmreg_region *)(uintptr_t)tc->prereg.slots[i].key;

		if (!tc->prereg.slots[i].val)
			continue;
		/*
		 * Cannot be EBUSY for the last owner: this container's TCEs are
		 * gone.  Except under quirks=kernel after a leaked mapped count
		 * (Q7), where the region stays as an orphan, as the kernel's
		 * WARN_ON in tce_iommu_release leaves it.
		 */
		mmreg_region_put(tc->mm, r);
	}
	util_u64map_destroy(&tc->prereg);
}
