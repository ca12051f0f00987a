/* SPDX-License-Identifier: MIT */
/*
 * A DPDK 22.11 program, built against Debian's dpdk-dev, run unmodified
 * through `spaprtce exec` by scripts/clients-dpdk.sh.
 *
 * It does what a DPDK driver's probe does with VFIO, through the public
 * EAL API: rte_eal_init with the arguments given (VFIO probing: the module,
 * /dev/vfio, the container's extensions), then rte_vfio_setup_device on
 * the machine's first device (the group, SET_CONTAINER, the IOMMU type
 * (type1 refused, sPAPR v2 taken), the DMA window sized over DPDK's memory,
 * a REGISTER + MAP per memory segment, then GET_DEVICE_FD).
 *
 * What it checks itself (it links libspaprtce.so too, so it sees the same
 * emulated machine the layer serves):
 *   - the emulated device of group 0 writes into an rte_malloc buffer at
 *     DPDK's IOVA and the CPU sees the bytes;
 *   - DPDK 22.11's sPAPR unmap bug: rte_vfio_container_dma_unmap of a
 *     region DPDK mapped with rte_vfio_container_dma_map sends UNMAP_DMA
 *     with a struct vfio_iommu_type1_dma_map (vfio_spapr_dma_do_map), so
 *     the backend reads iova 0 and size = the intended iova: the region
 *     stays mapped, the UNREGISTER fails with EBUSY (the log shows both),
 *     and every TCE below the region's iova -- DPDK's own memory -- is gone;
 *   - the last close of the group releases everything: locked_vm back to
 *     what it was before rte_eal_init.
 * While the device fd does not exist (GET_DEVICE_FD fails), the program
 * keeps DPDK's group open through a dup of its descriptor, so that the
 * container survives DPDK's error path (which closes the group) and the
 * checks above still run.  It prints "dpdk_client: PASS" or a FAIL line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_vfio.h>

#include "emu/emu.h"
#include "spapr/spapr.h"

#define BDF "0000:00:01.0"

static int failures;

#define CHECK(cond, ...)                                                         \
	do {                                                                     \
		if (!(cond)) {                                                   \
			failures++;                                              \
			printf("dpdk_client: FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__);                                     \
			printf("\n");                                            \
		}                                                                \
	} while (0)

static int max_va_walk(const struct rte_memseg_list *msl, void *arg)
{
	uint64_t *max = arg, end = (uint64_t)(uintptr_t)msl->base_va + msl->len;

	if (!msl->external && end > *max)
		*max = end;
	return 0;
}

int main(int argc, char **argv)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	uint64_t locked0 = spapr_mm_locked_vm(), max_va = 0, win, ext_iova, ext_len;
	int gfd, keep, devfd = -1, rc;
	unsigned char *buf, *ext, pattern[256];

	rc = rte_eal_init(argc, argv);
	CHECK(rc >= 0, "rte_eal_init: %d (%s)", rc, rte_strerror(rte_errno));
	if (rc < 0)
		return 1;
	CHECK(rte_vfio_is_enabled("vfio"), "VFIO not enabled by EAL");
	gfd = rte_vfio_get_group_fd(0);
	CHECK(gfd >= 0, "rte_vfio_get_group_fd(0): %d", gfd);
	keep = dup(gfd);
	rc = rte_vfio_setup_device("/sys/bus/pci/devices", BDF, &devfd, &info);
	printf("dpdk_client: rte_vfio_setup_device = %d, device fd %d, %u regions, %u irqs\n", rc, devfd,
	       rc == 0 ? info.num_regions : 0, rc == 0 ? info.num_irqs : 0);

	/* The device DMAs into DPDK's memory at DPDK's IOVA (VA mode: the address). */
	buf = rte_malloc(NULL, 4096, 4096);
	CHECK(buf != NULL, "rte_malloc");
	memset(pattern, 0xa7, sizeof(pattern));
	rc = emu_dma_write(0, rte_malloc_virt2iova(buf), pattern, sizeof(pattern));
	CHECK(rc == 0, "device write into the rte_malloc buffer: %d", rc);
	CHECK(buf[0] == 0xa7 && buf[255] == 0xa7 && buf[256] == 0, "the CPU does not see the device's bytes");

	/*
	 * A region of the program's own memory, mapped by DPDK above all its
	 * memory: one page of DPDK's page size (the window's IOMMU page size).
	 */
	rte_memseg_list_walk(max_va_walk, &max_va);
	for (win = 1; win < max_va; win <<= 1)
		;
	ext_len = rte_mem_virt2memseg_list(buf)->page_sz;
	ext_iova = win - ext_len;
	CHECK(ext_iova >= max_va, "no room above DPDK's memory in its window (0x%" PRIx64 ")", win);
	ext = mmap(NULL, ext_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | (ext_len == 4096 ? 0 : MAP_HUGETLB), -1, 0);
	CHECK(ext != MAP_FAILED, "mmap of a %" PRIu64 "-byte page", ext_len);
	if (ext == MAP_FAILED)
		return 1;
	rc = rte_vfio_container_dma_map(RTE_VFIO_DEFAULT_CONTAINER_FD, (uintptr_t)ext, ext_iova, ext_len);
	CHECK(rc == 0, "rte_vfio_container_dma_map: %d", rc);
	CHECK(emu_dma_write(0, ext_iova, pattern, 16) == 0 && ext[15] == 0xa7, "device write into the region");
	printf("dpdk_client: region at iova 0x%" PRIx64 " (window 0x%" PRIx64 ", DPDK memory below 0x%" PRIx64 ")\n",
	       ext_iova, win, max_va);

	/* DPDK's unmap: the request is malformed (see above). */
	rc = rte_vfio_container_dma_unmap(RTE_VFIO_DEFAULT_CONTAINER_FD, (uintptr_t)ext, ext_iova, ext_len);
	/* Its result depends on a stale rte_errno (container_dma_unmap forgives ENODEV/ENOTSUP). */
	printf("dpdk_client: rte_vfio_container_dma_unmap = %d\n", rc);
	CHECK(emu_dma_read(0, ext_iova, pattern, 16) == 0, "the region was unmapped");
	rc = emu_dma_write(0, rte_malloc_virt2iova(buf), pattern, 1);
	CHECK(rc == -EFAULT, "DPDK's memory below the region is still mapped: %d", rc);
	printf("dpdk_client: unmap bug: region still mapped, UNREGISTER refused, DPDK's own TCEs below it cleared\n");

	/* Release: the last descriptor of the group (DPDK closed its own on failure). */
	if (devfd >= 0)
		rte_vfio_release_device("/sys/bus/pci/devices", BDF, devfd);
	close(keep);
	CHECK(spapr_mm_locked_vm() == locked0, "locked_vm %" PRIu64 " after release, %" PRIu64 " before",
	      spapr_mm_locked_vm(), locked0);
	munmap(ext, ext_len);
	rte_free(buf);
	rte_eal_cleanup();
	printf("dpdk_client: %s\n", failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
