/* SPDX-License-Identifier: MIT */
/*
 * spaprtce demo: a guest's whole DMA life, as QEMU drives it on POWER.
 *
 * A guest of 1 GiB (hugetlbfs 2 MiB pages when they can be had, else 4 KiB
 * pages) registers its RAM, removes the default 32-bit window, creates a
 * 64-bit window sized to its RAM with the largest IOMMU page size the
 * backing allows (more levels until the geometry is accepted, as QEMU
 * retries; slot 0 being free again, it lands at bus address 0), maps all
 * of RAM, and an emulated device of group 0 writes a
 * pattern over all of RAM and reads it back; both the device's and the
 * CPU's view are checked byte by byte.  Then everything is unmapped,
 * unregistered and closed, and locked_vm must be back where it started with
 * nothing pinned.  Each step prints locked_vm before and after and its rate.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cli/cli.h"
#include "emu/emu.h"
#include "emu/mem.h"
#include "spapr/spapr.h"

#define GUEST_BYTES (1ull << 30)
#define HUGE_SHIFT 21u
#define XFER (1u << 20)

struct guest {
	uint8_t *ram;
	bool huge;
	long huge_prev;		/* nr_hugepages to restore, or -1 */
	int c, g;
	uint64_t win_start;
	unsigned win_shift;
	uint64_t start_locked;
};

static const char *err(int rc)
{
	return rc ? strerror(errno) : "ok";
}

/* Guest RAM on 2 MiB hugetlbfs pages if the pool can be made big enough, else 4 KiB pages. */
static void guest_alloc(struct guest *gu)
{
	emu_mem_hugetlb_reserve(HUGE_SHIFT, GUEST_BYTES >> HUGE_SHIFT, &gu->huge_prev);
	gu->ram = mmap(NULL, GUEST_BYTES, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	gu->huge = gu->ram != MAP_FAILED;
	if (!gu->huge)
		gu->ram = mmap(NULL, GUEST_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void guest_free(struct guest *gu)
{
	if (gu->ram != MAP_FAILED)
		munmap(gu->ram, GUEST_BYTES);
	emu_mem_hugetlb_restore(HUGE_SHIFT, gu->huge_prev);
}

static uint64_t pattern(uint64_t off)
{
	return (off * 0x9e3779b97f4a7c15ull) ^ 0x5350415052544345ull;	/* "SPAPRTCE" */
}

static bool step_open(struct guest *gu)
{
	struct cli_step st;
	int rc;

	cli_step_begin(&st, "open container, attach group 0, v2");
	gu->c = spapr_open_container();
	gu->g = spapr_open_group(0);
	rc = gu->c < 0 || gu->g < 0 ? -1 : spapr_ioctl(gu->g, VFIO_GROUP_SET_CONTAINER, &gu->c);
	if (!rc)
		rc = spapr_ioctl(gu->c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU);
	st.ok = !rc;
	snprintf(st.detail, sizeof(st.detail), "%s", err(rc));
	cli_step_end(&st, 0);
	return st.ok;
}

static bool step_register(struct guest *gu)
{
	struct vfio_iommu_spapr_register_memory reg = { sizeof(reg), 0, (uintptr_t)gu->ram, GUEST_BYTES };
	struct cli_step st;
	int rc;

	cli_step_begin(&st, "register guest RAM");
	rc = spapr_ioctl(gu->c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &reg);
	st.ok = !rc && spapr_mm_locked_vm() == st.locked_before + GUEST_BYTES / EMU_PAGE_SIZE;
	snprintf(st.detail, sizeof(st.detail), "%s; 1 GiB on %s pages, charged and pinned", err(rc),
		 gu->huge ? "2 MiB hugetlbfs" : "4 KiB");
	cli_step_end(&st, GUEST_BYTES);
	return st.ok;
}

static bool step_windows(struct guest *gu)
{
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	struct vfio_iommu_spapr_tce_remove rm = { sizeof(rm), 0, 0 };
	struct vfio_iommu_spapr_tce_create cr = { .argsz = sizeof(cr) };
	struct cli_step st;
	int rc;

	cli_step_begin(&st, "remove the default window");
	rc = spapr_ioctl(gu->c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm);
	st.ok = !rc && spapr_mm_locked_vm() == st.locked_before;
	snprintf(st.detail, sizeof(st.detail), "%s (still pending: nothing was charged)", err(rc));
	cli_step_end(&st, 0);
	if (!st.ok)
		return false;

	cli_step_begin(&st, "create a 64-bit window");
	rc = spapr_ioctl(gu->c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info);
	gu->win_shift = gu->huge && !rc && (info.ddw.pgsizes & (1ull << HUGE_SHIFT)) ? HUGE_SHIFT : EMU_PAGE_SHIFT;
	cr.page_shift = gu->win_shift;
	cr.window_size = GUEST_BYTES;
	/* As QEMU: more levels until the platform accepts the geometry. */
	for (cr.levels = 1, rc = -1; rc && cr.levels <= info.ddw.levels; cr.levels++)
		rc = spapr_ioctl(gu->c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr);
	gu->win_start = cr.start_addr;
	/* Slot 0 is free again, so the window lands at bus address 0: the kernel's
	 * tce_iommu_create_window takes the first free slot. */
	st.ok = !rc;
	snprintf(st.detail, sizeof(st.detail), "%s; %u KiB TCEs, %u level(s), at bus address %#llx",
		 err(rc), (1u << gu->win_shift) >> 10, cr.levels - 1, (unsigned long long)cr.start_addr);
	cli_step_end(&st, 0);
	return st.ok;
}

static bool step_map(struct guest *gu)
{
	struct vfio_iommu_type1_dma_map map = { sizeof(map), VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
						(uintptr_t)gu->ram, gu->win_start, GUEST_BYTES };
	struct cli_step st;
	int rc;

	cli_step_begin(&st, "map all RAM");
	rc = spapr_ioctl(gu->c, VFIO_IOMMU_MAP_DMA, &map);
	st.ok = !rc && spapr_mm_locked_vm() == st.locked_before;
	snprintf(st.detail, sizeof(st.detail), "%s; %llu TCEs, nothing charged per mapping", err(rc),
		 (unsigned long long)(GUEST_BYTES >> gu->win_shift));
	cli_step_end(&st, GUEST_BYTES);
	return st.ok;
}

static bool step_dma(struct guest *gu)
{
	static uint64_t buf[XFER / 8];
	struct cli_step st;
	uint64_t bad = 0, off;
	int rc = 0;

	cli_step_begin(&st, "device writes a pattern over RAM");
	for (off = 0; off < GUEST_BYTES && !rc; off += XFER) {
		for (unsigned i = 0; i < XFER / 8; i++)
			buf[i] = pattern(off + i * 8);
		rc = emu_dma_write(0, gu->win_start + off, buf, XFER);
		cli_progress(st.name, st.t0, off, GUEST_BYTES);
	}
	cli_progress_end();
	for (off = 0; off < GUEST_BYTES && !rc; off += 8)
		bad += *(uint64_t *)(gu->ram + off) != pattern(off);
	st.ok = !rc && !bad;
	snprintf(st.detail, sizeof(st.detail), "%s; CPU sees %llu wrong words", rc ? strerror(-rc) : "ok",
		 (unsigned long long)bad);
	cli_step_end(&st, GUEST_BYTES);
	if (!st.ok)
		return false;

	cli_step_begin(&st, "device reads RAM back");
	for (off = 0; off < GUEST_BYTES && !rc; off += XFER) {
		rc = emu_dma_read(0, gu->win_start + off, buf, XFER);
		for (unsigned i = 0; !rc && i < XFER / 8; i++)
			bad += buf[i] != pattern(off + i * 8);
		cli_progress(st.name, st.t0, off, GUEST_BYTES);
	}
	cli_progress_end();
	st.ok = !rc && !bad;
	snprintf(st.detail, sizeof(st.detail), "%s; %llu wrong words of %llu", rc ? strerror(-rc) : "ok",
		 (unsigned long long)bad, (unsigned long long)(GUEST_BYTES / 8));
	cli_step_end(&st, GUEST_BYTES);
	return st.ok;
}

static bool step_teardown(struct guest *gu)
{
	struct vfio_iommu_type1_dma_unmap un = { sizeof(un), 0, gu->win_start, GUEST_BYTES };
	struct vfio_iommu_spapr_register_memory reg = { sizeof(reg), 0, (uintptr_t)gu->ram, GUEST_BYTES };
	struct emu_mem_stats es;
	struct cli_step st;
	int rc;
	uint8_t probe;

	cli_step_begin(&st, "unmap all RAM");
	rc = spapr_ioctl(gu->c, VFIO_IOMMU_UNMAP_DMA, &un);
	st.ok = !rc && emu_dma_read(0, gu->win_start, &probe, 1) == -EFAULT;
	snprintf(st.detail, sizeof(st.detail), "%s; the device now faults", err(rc));
	cli_step_end(&st, GUEST_BYTES);

	cli_step_begin(&st, "unregister guest RAM");
	rc = spapr_ioctl(gu->c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &reg);
	st.ok = !rc && spapr_mm_locked_vm() == st.locked_before - GUEST_BYTES / EMU_PAGE_SIZE;
	snprintf(st.detail, sizeof(st.detail), "%s; unpinned and uncharged", err(rc));
	cli_step_end(&st, 0);

	cli_step_begin(&st, "close group and container");
	rc = spapr_close(gu->g) | spapr_close(gu->c);
	gu->g = gu->c = -1;
	emu_mem_get_stats(&es);
	st.ok = !rc && spapr_mm_locked_vm() == gu->start_locked && !es.pinned_pages && !es.table_blocks;
	snprintf(st.detail, sizeof(st.detail), "%s; window freed; %llu pages pinned, %llu table blocks left",
		 err(rc), (unsigned long long)es.pinned_pages, (unsigned long long)es.table_blocks);
	cli_step_end(&st, 0);
	return st.ok;
}

int cli_demo(int argc, char **argv)
{
	struct guest gu = { .c = -1, .g = -1 };
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--help")) {
			printf("usage: spaprtce demo [--json]\n\n"
			       "A 1 GiB guest (2 MiB hugetlbfs pages when they can be reserved, else\n"
			       "4 KiB pages) registers its RAM, replaces the default window with a\n"
			       "64-bit one, maps all RAM, and a device of group 0 writes and reads a\n"
			       "pattern over all of it; then everything is released.  Each step prints\n"
			       "locked_vm (4 KiB pages) before and after, and its rate.  Exit status 0\n"
			       "when every step behaved as the kernel does and every byte arrived.\n");
			return 0;
		} else {
			fprintf(stderr, "spaprtce demo: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	/* The demo's own emulated limits: the guest's RAM plus its tables, no bypass. */
	if (spapr_mm_set_memlock(GUEST_BYTES + (64ull << 20), 0)) {
		perror("spaprtce demo");
		return 1;
	}
	guest_alloc(&gu);
	if (gu.ram == MAP_FAILED) {
		perror("spaprtce demo: guest RAM");
		guest_free(&gu);
		return 1;
	}
	if (!json)
		printf("spapr-tce demo: a 1 GiB guest on %s pages, DMA through group 0\n\n",
		       gu.huge ? "2 MiB hugetlbfs" : "4 KiB");
	cli_output_init(json);
	gu.start_locked = spapr_mm_locked_vm();
	if (step_open(&gu) && step_register(&gu) && step_windows(&gu) && step_map(&gu))
		step_dma(&gu);
	if (gu.c >= 0)
		step_teardown(&gu);
	guest_free(&gu);
	return cli_finish("demo");
}
