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
 *   - DPDK's device fd works: GET_DEVICE_FD and DEVICE_GET_INFO through
 *     rte_vfio_setup_device;
 *   - the device DMAs as a driver makes it: through that device fd (pread
 *     and pwrite, which the layer serves), the program turns bus mastering
 *     on in config space, puts a pattern into the dma-engine's local buffer
 *     (BAR2) and programs its BAR0 registers (emu/dev_dma.h, docs/devices.md)
 *     to copy it to an rte_malloc buffer at DPDK's IOVA; the CPU sees the
 *     bytes;
 *   - DPDK 22.11's sPAPR unmap bug: rte_vfio_container_dma_unmap of a
 *     region DPDK mapped with rte_vfio_container_dma_map sends UNMAP_DMA
 *     with a struct vfio_iommu_type1_dma_map (vfio_spapr_dma_do_map), so
 *     the backend reads iova 0 and size = the intended iova: the device
 *     still reads the region (it stays mapped), the UNREGISTER fails with
 *     EBUSY (the log shows both; the script checks the sizes), and every
 *     TCE below the region's iova -- DPDK's own memory -- is gone (the
 *     device's write into the rte_malloc buffer now faults);
 *   - rte_vfio_release_device closes the device and the group, whose
 *     last close releases the container's IOMMU state: locked_vm back to
 *     what it was before rte_eal_init.
 * It prints "dpdk_client: PASS" or a FAIL line per failed check.
 *
 * With DPDK_CLIENT_EAL_ONLY=1 it does only rte_eal_init and
 * rte_eal_cleanup, and is run without the layer: DPDK's own start-up
 * (its memory, threads, a 100 ms TSC calibration sleep), the part of
 * scripts/bench-dpdk.sh's run that is neither the layer nor the requests.
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

#include "emu/dev_dma.h"
#include "emu/emu.h"
#include "spapr/spapr.h"

#define BDF "0000:00:01.0"
/* vfio-pci's file offsets: region index << 40 (VFIO_PCI_INDEX_TO_OFFSET). */
#define REGION(i) ((off_t)(i) << 40)
#define CFG_COMMAND 0x04
#define CFG_COMMAND_MEMORY 0x2
#define CFG_COMMAND_MASTER 0x4

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

static int devfd = -1;

static int wr32(unsigned region, uint64_t off, uint32_t v)
{
	return pwrite(devfd, &v, 4, REGION(region) + (off_t)off) == 4 ? 0 : -errno;
}

static uint32_t rd32(unsigned region, uint64_t off)
{
	uint32_t v = 0xffffffffu;

	return pread(devfd, &v, 4, REGION(region) + (off_t)off) == 4 ? v : 0xffffffffu;
}

/*
 * One dma-engine transfer programmed through the device fd: SRC, DST, LEN,
 * DIR, then the doorbell; returns the error code of STATUS (0 DONE), or -1
 * when the registers could not be reached.  STATUS is cleared after.
 */
static int dmae(uint32_t dir, uint64_t src, uint64_t dst, uint32_t len)
{
	uint32_t st;

	if (wr32(0, EMU_DMAE_SRC, (uint32_t)src) || wr32(0, EMU_DMAE_SRC + 4, (uint32_t)(src >> 32)) ||
	    wr32(0, EMU_DMAE_DST, (uint32_t)dst) || wr32(0, EMU_DMAE_DST + 4, (uint32_t)(dst >> 32)) ||
	    wr32(0, EMU_DMAE_LEN, len) || wr32(0, EMU_DMAE_DIR, dir) ||
	    wr32(0, EMU_DMAE_DOORBELL, EMU_DMAE_DOORBELL_GO))
		return -1;
	st = rd32(0, EMU_DMAE_STATUS);
	wr32(0, EMU_DMAE_STATUS, EMU_DMAE_STATUS_DONE | EMU_DMAE_STATUS_ERROR);
	if (st & EMU_DMAE_STATUS_ERROR)
		return (int)((st & EMU_DMAE_STATUS_CODE_MASK) >> EMU_DMAE_STATUS_CODE_SHIFT);
	return st & EMU_DMAE_STATUS_DONE ? 0 : -1;
}

/* The device copies @len bytes of @pattern (put into its BAR2 first) to bus address @iova. */
static int device_write(uint64_t iova, const void *pattern, uint32_t len)
{
	if (pwrite(devfd, pattern, len, REGION(2)) != (ssize_t)len)
		return -1;
	return dmae(EMU_DMAE_DIR_LOCAL_TO_MEM, 0, iova, len);
}

int main(int argc, char **argv)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	uint64_t locked0 = spapr_mm_locked_vm(), max_va = 0, win, ext_iova, ext_len;
	int gfd, rc;
	uint16_t cmd = 0;
	unsigned char *buf, *ext, pattern[256], back[16];

	rc = rte_eal_init(argc, argv);
	CHECK(rc >= 0, "rte_eal_init: %d (%s)", rc, rte_strerror(rte_errno));
	if (rc < 0)
		return 1;
	if (getenv("DPDK_CLIENT_EAL_ONLY")) {
		rte_eal_cleanup();
		printf("dpdk_client: EAL only: PASS\n");
		return 0;
	}
	CHECK(rte_vfio_is_enabled("vfio"), "VFIO not enabled by EAL");
	gfd = rte_vfio_get_group_fd(0);
	CHECK(gfd >= 0, "rte_vfio_get_group_fd(0): %d", gfd);
	rc = rte_vfio_setup_device("/sys/bus/pci/devices", BDF, &devfd, &info);
	printf("dpdk_client: rte_vfio_setup_device = %d, device fd %d, %u regions, %u irqs\n", rc, devfd,
	       rc == 0 ? info.num_regions : 0, rc == 0 ? info.num_irqs : 0);
	CHECK(rc == 0 && devfd >= 0, "rte_vfio_setup_device: %d", rc);
	if (rc || devfd < 0)
		return 1;
	CHECK(info.flags & VFIO_DEVICE_FLAGS_PCI, "not a PCI device: flags 0x%x", info.flags);
	CHECK(info.num_regions >= VFIO_PCI_NUM_REGIONS && info.num_irqs == VFIO_PCI_NUM_IRQS,
	      "%u regions, %u irqs", info.num_regions, info.num_irqs);
	CHECK(rd32(0, EMU_DMAE_ID) == EMU_DMAE_ID_VALUE, "BAR0 ID 0x%x", rd32(0, EMU_DMAE_ID));

	/* A driver's probe: memory decoding and bus mastering on. */
	CHECK(pread(devfd, &cmd, 2, REGION(VFIO_PCI_CONFIG_REGION_INDEX) + CFG_COMMAND) == 2, "config read");
	cmd |= CFG_COMMAND_MEMORY | CFG_COMMAND_MASTER;
	CHECK(pwrite(devfd, &cmd, 2, REGION(VFIO_PCI_CONFIG_REGION_INDEX) + CFG_COMMAND) == 2, "config write");

	/* The device DMAs into DPDK's memory at DPDK's IOVA (VA mode: the address). */
	buf = rte_malloc(NULL, 4096, 4096);
	CHECK(buf != NULL, "rte_malloc");
	if (!buf)
		return 1;
	memset(pattern, 0xa7, sizeof(pattern));
	rc = device_write(rte_malloc_virt2iova(buf), pattern, sizeof(pattern));
	CHECK(rc == 0, "the dma-engine's write into the rte_malloc buffer: error code %d", rc);
	CHECK(buf[0] == 0xa7 && buf[255] == 0xa7 && buf[256] == 0, "the CPU does not see the device's bytes");
	printf("dpdk_client: the dma-engine (programmed through the device fd) wrote 256 bytes at iova 0x%" PRIx64
	       "; the CPU sees them\n", (uint64_t)rte_malloc_virt2iova(buf));

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
	rc = device_write(ext_iova, pattern, 16);
	CHECK(rc == 0 && ext[15] == 0xa7, "the device's write into the region: %d", rc);
	printf("dpdk_client: region at iova 0x%" PRIx64 " (window 0x%" PRIx64 ", DPDK memory below 0x%" PRIx64 ")\n",
	       ext_iova, win, max_va);

	/* DPDK's unmap: the request is malformed (see above). */
	rc = rte_vfio_container_dma_unmap(RTE_VFIO_DEFAULT_CONTAINER_FD, (uintptr_t)ext, ext_iova, ext_len);
	/* Its result depends on a stale rte_errno (container_dma_unmap forgives ENODEV/ENOTSUP). */
	printf("dpdk_client: rte_vfio_container_dma_unmap = %d\n", rc);
	/* The device still reads the region: it stays mapped. */
	ext[0] = 0x5c;
	rc = dmae(EMU_DMAE_DIR_MEM_TO_LOCAL, ext_iova, 0x100, 16);
	CHECK(rc == 0, "the region was unmapped: the device's read gives error code %d", rc);
	CHECK(pread(devfd, back, 16, REGION(2) + 0x100) == 16 && back[0] == 0x5c && back[15] == 0xa7,
	      "the device read other bytes than the region's");
	/* DPDK's own memory below the region lost its TCEs: the device's write faults, touching nothing. */
	memset(buf, 0, 256);
	rc = device_write(rte_malloc_virt2iova(buf), pattern, 1);
	CHECK(rc == EMU_DMAE_ERR_FAULT && buf[0] == 0, "DPDK's memory below the region is still mapped: %d", rc);
	printf("dpdk_client: unmap bug: region still mapped, UNREGISTER refused, DPDK's own TCEs below it cleared\n");

	/* Release: the device, then the group (its last device), whose close releases the container's IOMMU. */
	rc = rte_vfio_release_device("/sys/bus/pci/devices", BDF, devfd);
	CHECK(rc == 0, "rte_vfio_release_device: %d", rc);
	CHECK(spapr_mm_locked_vm() == locked0, "locked_vm %" PRIu64 " after release, %" PRIu64 " before",
	      spapr_mm_locked_vm(), locked0);
	munmap(ext, ext_len);
	rte_free(buf);
	rte_eal_cleanup();
	printf("dpdk_client: %s\n", failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
