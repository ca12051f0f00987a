/* SPDX-License-Identifier: MIT */
/*
 * examples/ddw.c: dynamic DMA windows (DDW) through the ioctl-like API:
 * GET_INFO says what the host bridge supports, TCE_CREATE makes a 64-bit
 * window next to the default one, memory is mapped into it and a device
 * reaches it, TCE_REMOVE takes it away (and uncharges its table).
 *
 *   cc $(pkg-config --cflags spaprtce) ddw.c $(pkg-config --libs spaprtce)
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <spaprtce/emu.h>
#include <spaprtce/spapr.h>

#define MUST(call)                                                                             \
	do {                                                                                   \
		if ((call) < 0) {                                                              \
			fprintf(stderr, "%s: %s\n", #call, strerror(errno));                   \
			exit(1);                                                               \
		}                                                                              \
	} while (0)

#define PAGES 64u

int main(void)
{
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	struct vfio_iommu_spapr_tce_create create = { .argsz = sizeof(create) };
	struct vfio_iommu_spapr_tce_remove remove = { .argsz = sizeof(remove) };
	struct vfio_iommu_spapr_register_memory reg = { .argsz = sizeof(reg) };
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap) };
	uint64_t before, value = 0x1122334455667788ull, seen = 0;
	int container, group;
	char *buf;

	MUST(container = spapr_open_container());
	MUST(group = spapr_open_group(0));
	MUST(spapr_ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
	MUST(spapr_ioctl(container, VFIO_SET_IOMMU, (unsigned long)VFIO_SPAPR_TCE_v2_IOMMU));

	/* What the platform offers: page sizes (a bit per shift), windows, levels. */
	MUST(spapr_ioctl(container, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info));
	printf("default window %#x+%#x, DDW: pgsizes %#llx, %u windows, %u levels\n",
	       info.dma32_window_start, info.dma32_window_size,
	       (unsigned long long)info.ddw.pgsizes, info.ddw.max_dynamic_windows_supported,
	       info.ddw.levels);

	/*
	 * A 4 GiB window of 4 KiB IOMMU pages in two levels.  The kernel puts
	 * it in the free slot and returns its bus address; its table (and the
	 * default window's, created first) is charged to locked_vm.
	 */
	before = spapr_mm_locked_vm();
	create.page_shift = 12;
	create.window_size = 1ull << 32;
	create.levels = 2;
	MUST(spapr_ioctl(container, VFIO_IOMMU_SPAPR_TCE_CREATE, &create));
	printf("created a window at %#llx: locked_vm %llu -> %llu\n",
	       (unsigned long long)create.start_addr, (unsigned long long)before,
	       (unsigned long long)spapr_mm_locked_vm());

	/* v2: only preregistered memory can be mapped. */
	buf = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return 1;
	reg.vaddr = (uintptr_t)buf;
	reg.size = PAGES * 4096;
	MUST(spapr_ioctl(container, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &reg));
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	map.vaddr = (uintptr_t)buf;
	map.iova = create.start_addr;
	map.size = PAGES * 4096;
	MUST(spapr_ioctl(container, VFIO_IOMMU_MAP_DMA, &map));

	/* A device reaches buf through the new window. */
	if (emu_dma_write(0, create.start_addr + 8, &value, sizeof(value)) ||
	    emu_dma_read(0, create.start_addr + 8, &seen, sizeof(seen)) || seen != value ||
	    memcmp(buf + 8, &value, sizeof(value)))
		return 1;
	printf("device DMA through the new window: %#llx\n", (unsigned long long)seen);

	/* Removing a window clears its entries and uncharges its table. */
	unmap.iova = create.start_addr;
	unmap.size = PAGES * 4096;
	MUST(spapr_ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap));
	remove.start_addr = create.start_addr;
	MUST(spapr_ioctl(container, VFIO_IOMMU_SPAPR_TCE_REMOVE, &remove));
	printf("removed it: locked_vm %llu\n", (unsigned long long)spapr_mm_locked_vm());
	MUST(spapr_ioctl(container, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &reg));
	MUST(spapr_close(group));
	MUST(spapr_close(container));
	munmap(buf, PAGES * 4096);
	return spapr_mm_locked_vm() == 0 ? 0 : 1;
}
