/* SPDX-License-Identifier: MIT */
/*
 * testing/vfio.c: the request helpers of the test-support library, in their
 * rc form (include/spaprtce/testing.h; the _ok and _err forms are macros
 * over these).  Each fills the <linux/vfio.h> struct of one request, calls
 * the public API and returns its result as a layer call does: 0 or the
 * positive result, else -errno.  Only the helpers whose must-succeed form
 * returns a value (an fd) are functions here.
 */
#include <errno.h>
#include <linux/vfio.h>

#include "include/spaprtce/testing.h"

/* The one conversion from the public -1/errno convention to -errno. */
static int rc_of(int rc)
{
	return rc < 0 ? -errno : rc;
}

int tu_ioctl(int fd, unsigned long req, void *arg)
{
	return rc_of(spapr_ioctl(fd, req, arg));
}

int tu_open_container(void)
{
	return rc_of(spapr_open_container());
}

int tu_open_container_ok(void)
{
	int c = tu_open_container();

	ck_assert_msg(c >= 0, "spapr_open_container: %s", tu_errname(c));
	return c;
}

int tu_open_group(int group)
{
	return rc_of(spapr_open_group(group));
}

int tu_open_group_ok(int group)
{
	int g = tu_open_group(group);

	ck_assert_msg(g >= 0, "spapr_open_group(%d): %s", group, tu_errname(g));
	return g;
}

int tu_close(int fd)
{
	return rc_of(spapr_close(fd));
}

int tu_attach(int group_fd, int container_fd)
{
	return tu_ioctl(group_fd, VFIO_GROUP_SET_CONTAINER, &container_fd);
}

int tu_set_iommu(int container_fd, unsigned long type)
{
	return tu_ioctl(container_fd, VFIO_SET_IOMMU, (void *)(uintptr_t)type);
}

int tu_open_v2_rc(int group, int *gfd)
{
	int c = tu_open_container(), rc;

	if (c < 0)
		return c;
	*gfd = tu_open_group(group);
	if (*gfd < 0) {
		rc = *gfd;
		goto err_close_container;
	}
	rc = tu_attach(*gfd, c);
	if (rc)
		goto err_close_group;
	rc = tu_set_iommu(c, VFIO_SPAPR_TCE_v2_IOMMU);
	if (rc)
		goto err_close_group;
	return c;

err_close_group:
	spapr_close(*gfd);
	*gfd = -1;
err_close_container:
	spapr_close(c);
	return rc;
}

int tu_open_v2(int group, int *gfd)
{
	int c = tu_open_v2_rc(group, gfd);

	ck_assert_msg(c >= 0, "v2 container with group %d: %s", group, tu_errname(c));
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
