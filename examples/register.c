/* SPDX-License-Identifier: MIT */
/*
 * examples/register.c: preregister memory and map it for DMA through the
 * ioctl-like API, the way a VFIO user on a POWER host does it (QEMU's
 * sPAPR VFIO code, DPDK's EAL): container, group, SET_IOMMU v2,
 * REGISTER_MEMORY, MAP_DMA, a device DMA, then everything undone.
 *
 * Every call is the kernel's, with spapr_* in place of open/ioctl/close.
 *
 *   cc $(pkg-config --cflags spaprtce) register.c $(pkg-config --libs spaprtce)
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <spaprtce/emu.h>
#include <spaprtce/spapr.h>

/* Stops at the first failure, naming the call (errno is the kernel's). */
#define MUST(call)                                                                             \
	do {                                                                                   \
		if ((call) < 0) {                                                              \
			int e_ = errno;                                                        \
			fprintf(stderr, "%s: %s\n", #call, strerror(e_));                      \
			if (e_ == ENOMEM)                                                      \
				fprintf(stderr, "(RLIMIT_MEMLOCK? see the README)\n");         \
			exit(1);                                                               \
		}                                                                              \
	} while (0)

#define PAGES 256u /* 1 MiB of 4 KiB pages */

int main(void)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_iommu_spapr_register_memory reg = { .argsz = sizeof(reg) };
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap) };
	const char msg[] = "written by the device";
	char back[sizeof(msg)];
	int container, group;
	char *buf;

	/* open("/dev/vfio/vfio") and open("/dev/vfio/0"). */
	MUST(container = spapr_open_container());
	MUST(group = spapr_open_group(0));
	MUST(spapr_ioctl(group, VFIO_GROUP_GET_STATUS, &status));
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return 1;
	MUST(spapr_ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
	MUST(spapr_ioctl(container, VFIO_SET_IOMMU, (unsigned long)VFIO_SPAPR_TCE_v2_IOMMU));

	/* Preregistration pins the pages and charges them to locked_vm. */
	buf = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return 1;
	reg.vaddr = (uintptr_t)buf;
	reg.size = PAGES * 4096;
	MUST(spapr_ioctl(container, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &reg));
	printf("registered %u pages: locked_vm %llu\n", PAGES,
	       (unsigned long long)spapr_mm_locked_vm());

	/*
	 * MAP_DMA into the default 32-bit window at bus address 0.  The first
	 * request that needs a window creates the default one: its table is
	 * charged to locked_vm too.
	 */
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	map.vaddr = (uintptr_t)buf;
	map.iova = 0;
	map.size = PAGES * 4096;
	MUST(spapr_ioctl(container, VFIO_IOMMU_MAP_DMA, &map));
	printf("mapped at iova 0: locked_vm %llu (with the default window's table)\n",
	       (unsigned long long)spapr_mm_locked_vm());

	/* The device side: a DMA write lands in buf, a DMA read sees it. */
	if (emu_dma_write(0, 0x2000, msg, sizeof(msg)) || memcmp(buf + 0x2000, msg, sizeof(msg)))
		return 1;
	if (emu_dma_read(0, 0x2000, back, sizeof(back)) || memcmp(back, msg, sizeof(msg)))
		return 1;
	printf("device DMA at iova 0x2000: \"%s\"\n", back);

	/* Undo in reverse order; a region still mapped cannot be unregistered (EBUSY). */
	unmap.iova = 0;
	unmap.size = PAGES * 4096;
	MUST(spapr_ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap));
	MUST(spapr_ioctl(container, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &reg));
	MUST(spapr_close(group));
	MUST(spapr_close(container));
	printf("closed: locked_vm %llu\n", (unsigned long long)spapr_mm_locked_vm());
	munmap(buf, PAGES * 4096);
	return spapr_mm_locked_vm() == 0 ? 0 : 1;
}
