/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/vfio.h>

#include "spapr/spapr.h"
#include "spapr/spapr_priv.h"
#include "tests/testutil.h"
#include "tests/vfio_util.h"

int tu_ioctl(int fd, unsigned long req, void *arg)
{
	int rc = spapr_ioctl(fd, req, arg);

	return rc < 0 ? -errno : rc;
}

int tu_attach(int group_fd, int container_fd)
{
	return tu_ioctl(group_fd, VFIO_GROUP_SET_CONTAINER, &container_fd);
}

int tu_open_v2(int group, int *gfd)
{
	int c = spapr_open_container();

	ck_assert_int_ge(c, 0);
	*gfd = spapr_open_group(group);
	ck_assert_int_ge(*gfd, 0);
	TU_OK(tu_attach(*gfd, c));
	TU_OK(tu_ioctl(c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_v2_IOMMU));
	return c;
}

int tu_register(int c, const void *p, uint64_t size)
{
	struct vfio_iommu_spapr_register_memory r = { sizeof(r), 0, (uintptr_t)p, size };

	return tu_ioctl(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r);
}

int tu_unregister(int c, const void *p, uint64_t size)
{
	struct vfio_iommu_spapr_register_memory r = { sizeof(r), 0, (uintptr_t)p, size };

	return tu_ioctl(c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r);
}

int tu_map_dma(int c, const void *p, uint64_t iova, uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_map m = { sizeof(m), flags, (uintptr_t)p, iova, size };

	return tu_ioctl(c, VFIO_IOMMU_MAP_DMA, &m);
}

int tu_unmap_dma(int c, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap u = { sizeof(u), 0, iova, size };

	return tu_ioctl(c, VFIO_IOMMU_UNMAP_DMA, &u);
}

int tu_create(int c, unsigned shift, uint64_t size, unsigned levels, uint64_t *start)
{
	struct vfio_iommu_spapr_tce_create cr = { .argsz = sizeof(cr), .page_shift = shift,
						  .window_size = size, .levels = levels };
	int rc = tu_ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr);

	if (!rc && start)
		*start = cr.start_addr;
	return rc;
}

int tu_remove(int c, uint64_t start)
{
	struct vfio_iommu_spapr_tce_remove rm = { sizeof(rm), 0, start };

	return tu_ioctl(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm);
}

struct mmreg_region *tu_region_of(const void *p)
{
	struct mmreg_mm *mm;
	struct mmreg_region *r;

	TU_OK(mmreg_mm_current(&mm));
	mmreg_read_lock();
	r = mmreg_region_lookup(mm, (uintptr_t)p, 1);
	mmreg_read_unlock();
	mmreg_mm_put(mm);
	return r;
}

struct tce_table *tu_table_of(int c, unsigned slot)
{
	struct spapr_obj *obj = spapr__fd_get(c);
	struct spapr_container *ct = (struct spapr_container *)obj;
	struct tce_table *t = NULL;

	ck_assert_ptr_nonnull(obj);
	if (ct->tc && ct->tc->windows[slot])
		t = ct->tc->windows[slot]->table;
	spapr__obj_put(obj);
	return t;
}

uint64_t tu_entry(int c, unsigned slot, uint64_t entry, uint64_t *ua)
{
	struct tce_table *t = tu_table_of(c, slot);
	uint64_t hpa = 0;
	enum tce_dir dir = TCE_DIR_NONE;

	ck_assert_ptr_nonnull(t);
	TU_OK(tce_table_read(t, entry, &hpa, &dir));
	if (ua)
		TU_OK(tce_table_shadow_read(t, entry, ua));
	return hpa | (uint64_t)dir;
}
