/* SPDX-License-Identifier: MIT */
/*
 * examples/fuzz_scenario.c: a libFuzzer target for a user's own scenario.
 *
 * The input is a list of 2-byte steps (operation, argument) applied to one
 * v2 container and a buffer of CHUNKS chunks: register, unregister, map,
 * unmap a chunk, create or remove a DDW window.  Any errno is fine (the
 * fuzzer explores bad orders on purpose); what must hold after every step
 * is the library's own invariants, and after teardown a clean process:
 * nothing registered, charged, pinned or allocated.  A violation aborts,
 * which libFuzzer reports as a crash with the input that caused it.
 *
 *   clang -g -fsanitize=fuzzer,address $(pkg-config --cflags spaprtce) \
 *       fuzz_scenario.c $(pkg-config --libs spaprtce)
 */
#include <linux/vfio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <spaprtce/probe.h>
#include <spaprtce/spapr.h>

#define CHUNKS 8u
#define CHUNK_PAGES 4u
#define CHUNK (CHUNK_PAGES * 4096ull)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_scenario: %s\n", what);
		abort();
	}
}

static int ioctl_arg(int fd, unsigned long req, void *arg)
{
	return spapr_ioctl(fd, req, arg);
}

static void step(int c, uint8_t op, uint8_t arg, char *buf, uint64_t *ddw_start)
{
	unsigned k = arg % CHUNKS;
	struct vfio_iommu_spapr_register_memory reg = { sizeof(reg), 0, (uintptr_t)(buf + k * CHUNK),
							 CHUNK };
	struct vfio_iommu_type1_dma_map map = { sizeof(map), VFIO_DMA_MAP_FLAG_READ,
						(uintptr_t)(buf + k * CHUNK), k * CHUNK, CHUNK };
	struct vfio_iommu_type1_dma_unmap unmap = { sizeof(unmap), 0, k * CHUNK, CHUNK };
	struct vfio_iommu_spapr_tce_create cr = { .argsz = sizeof(cr), .page_shift = 12,
						  .window_size = 1ull << (24 + arg % 8),
						  .levels = 1 + arg % 2 };
	struct vfio_iommu_spapr_tce_remove rm = { sizeof(rm), 0, *ddw_start };

	switch (op % 6) {
	case 0: ioctl_arg(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &reg); break;
	case 1: ioctl_arg(c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &reg); break;
	case 2: ioctl_arg(c, VFIO_IOMMU_MAP_DMA, &map); break;
	case 3: ioctl_arg(c, VFIO_IOMMU_UNMAP_DMA, &unmap); break;
	case 4:
		if (!ioctl_arg(c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr))
			*ddw_start = cr.start_addr;
		break;
	default: ioctl_arg(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm); break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *buf;
	struct tu_state st;
	uint64_t ddw_start = 1ull << 59;
	int c, g;

	if (!buf) {
		buf = mmap(NULL, CHUNKS * CHUNK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		must(buf != MAP_FAILED, "mmap");
	}
	c = spapr_open_container();
	g = spapr_open_group(0);
	must(c >= 0 && g >= 0, "open");
	must(!spapr_ioctl(g, VFIO_GROUP_SET_CONTAINER, &c), "SET_CONTAINER");
	must(!spapr_ioctl(c, VFIO_SET_IOMMU, (unsigned long)VFIO_SPAPR_TCE_v2_IOMMU), "SET_IOMMU");
	for (size_t i = 0; i + 1 < size && i < 128; i += 2) {
		step(c, data[i], data[i + 1], buf, &ddw_start);
		must(!tu_state_get(&st) && !st.mem_check && !st.mm_check, "invariant checker");
		must(st.locked_vm >= st.registered_pages, "locked_vm below the registered pages");
	}
	/* The last close releases everything: windows, mappings, registrations. */
	must(!spapr_close(g) && !spapr_close(c), "close");
	must(!tu_state_get(&st), "tu_state_get");
	must(!st.locked_vm && !st.regions && !st.pins && !st.table_blocks, "not clean after close");
	return 0;
}
