/* SPDX-License-Identifier: MIT */
/*
 * Benchmarks of the container's MAP_DMA and UNMAP_DMA (issue 4, part 3).
 *
 * One request maps (then unmaps) 1 GiB (262,144 TCEs of 4 KiB) or 4 GiB
 * (1,048,576 TCEs) of registered memory into a 64-bit window created with
 * TCE_CREATE (4 KiB pages, 2^33 bytes, 2 levels), with the memory
 * registered as 1 region or as 1,000 adjacent regions.  Figures in ns per
 * TCE, each with two ratios measured in the same run:
 *
 *   (a) the kernel's algorithm as the current kernel runs it, reimplemented
 *       plainly in bench/kernel_model.h (see docs/bench.md): one system
 *       call per request; MAP (tce_iommu_build_v2) per TCE a region lookup
 *       in the list (newest first), its hpa, tce_page_is_contained (a walk
 *       of the whole list for device memory, a read of the page), an atomic
 *       mapped_inc, the exchange of the hardware entry through the table's
 *       two levels, the userspace view written; UNMAP (tce_iommu_clear) per
 *       TCE the exchange, the old page marked dirty after a walk of the list
 *       for device memory, the old region found by its ua and its mapped
 *       count dropped; one kill per request (iommu_tce_kill after the loop).
 *       Goal: ours at least 10 times faster with 1,000 regions (ratio =
 *       kernel / ours).
 *   (b) memset of the bytes the operation must write, 16 per TCE (hardware
 *       + shadow entry).  Goal: ours at most 4 times slower (ratio =
 *       ours / memset).
 *
 * Each timed figure is the best of several runs, alternating subject and
 * baselines.  Memory is registered (pinned, 4 GiB for the 4 GiB case) once
 * per case, untimed, and everything is freed between cases.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench/bench_util.h"
#include "bench/kernel_model.h"
#include "emu/emu.h"
#include "emu/mem.h"
#include "spapr/spapr.h"

#define PS EMU_PAGE_SIZE
#define GROUP 0
#define WINDOW_SHIFT 33
#define WINDOW_LEVELS 2
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/* ------------------------------------------------ the kernel's algorithm */

/*
 * VFIO_IOMMU_MAP_DMA as the current kernel does it (tce_iommu_build_v2): one
 * system call, then per TCE km_map_one (region lookup, hpa, containment
 * check walking the list for device memory, mapped_inc, exchange, userspace
 * view), and one kill for the whole request.  Entries index the tables from 0.
 */
static int kernel_map(struct kmodel *k, uint64_t vaddr, uint64_t npages)
{
	uint64_t i;
	int rc = 0;

	bench_syscall();
	for (i = 0; i < npages && !rc; i++)
		rc = km_map_one(k, i, vaddr + (i << EMU_PAGE_SHIFT), KM_TCE_READ | KM_TCE_WRITE);
	km_kill(k, 0, i);
	return rc;
}

/*
 * VFIO_IOMMU_UNMAP_DMA (tce_iommu_clear): one system call, then per entry
 * the exchange with 0 (marking the old page dirty after a list walk for
 * device memory), the region found from the userspace view and its mapped
 * count dropped; one kill for the whole request.
 */
static int kernel_unmap(struct kmodel *k, uint64_t npages)
{
	bench_syscall();
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t old = km_xchg_no_kill(k, i, 0);

		if (!(old & (KM_TCE_READ | KM_TCE_WRITE)))
			continue;
		if (km_unuse_page_v2(k, i))
			return -EFAULT;
	}
	km_kill(k, 0, npages);
	return 0;
}

/* ------------------------------------------------------------ the case */

struct bcase {
	uint64_t bytes, npages;
	unsigned nregs;
	uint8_t *mem;
	int cfd, gfd;
	uint64_t iova;
	struct kmodel k;
	uint64_t *hpas;		/* the baseline's hpas[] of every page */
	uint8_t *ms;		/* memset target: 16 bytes per TCE */
};

/* Region i covers pages [first(i), first(i + 1)): 1,000 adjacent regions of near-equal size. */
static uint64_t region_first(const struct bcase *c, unsigned i)
{
	return c->npages * i / c->nregs;
}

static void ioctl_ok(int fd, unsigned long req, void *arg, const char *what)
{
	if (spapr_ioctl(fd, req, arg))
		bench_die(what, errno);
}

static void case_setup(struct bcase *c, uint64_t bytes, unsigned nregs)
{
	struct vfio_iommu_spapr_tce_create cr = {
		.argsz = sizeof(cr), .page_shift = EMU_PAGE_SHIFT, .window_size = 1ull << WINDOW_SHIFT,
		.levels = WINDOW_LEVELS,
	};

	memset(c, 0, sizeof(*c));
	c->bytes = bytes;
	c->npages = bytes / PS;
	c->nregs = nregs;
	c->mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->mem == MAP_FAILED)
		bench_die("mmap", errno);
	bench_container_v2(GROUP, &c->cfd, &c->gfd);
	for (unsigned i = 0; i < nregs; i++) {
		uint64_t first = region_first(c, i), n = region_first(c, i + 1) - first;
		struct vfio_iommu_spapr_register_memory r = {
			.argsz = sizeof(r), .vaddr = (uintptr_t)c->mem + first * PS, .size = n * PS,
		};

		ioctl_ok(c->cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, "REGISTER_MEMORY");
	}
	ioctl_ok(c->cfd, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr, "TCE_CREATE");
	c->iova = cr.start_addr;

	/* The baseline's own copy of what the kernel keeps: region list, hpas, the two tables. */
	km_init(&c->k, nregs, c->npages, c->npages);
	c->hpas = malloc(c->npages * sizeof(uint64_t));
	c->ms = malloc(c->npages * 16);
	if (!c->hpas || !c->ms)
		bench_die("malloc", ENOMEM);
	for (uint64_t p = 0; p < c->npages; p++)
		c->hpas[p] = emu_mem_ua_to_hpa((uintptr_t)c->mem + p * PS, EMU_PAGE_SHIFT);
	for (unsigned i = 0; i < nregs; i++) {
		struct kreg *r = &c->k.regs[nregs - 1 - i];	/* newest first */
		uint64_t first = region_first(c, i);

		r->ua = (uintptr_t)c->mem + first * PS;
		r->entries = region_first(c, i + 1) - first;
		r->mapped = 1;
		r->dev_hpa = KM_DEV_NONE;
		r->hpas = &c->hpas[first];
	}
	memset(c->ms, 0, c->npages * 16);
}

static void case_teardown(struct bcase *c)
{
	/* Closing the container removes the window and unregisters every region. */
	if (spapr_close(c->gfd) || spapr_close(c->cfd))
		bench_die("close", errno);
	if (spapr_mm_locked_vm()) {
		fprintf(stderr, "bench_spapr: locked_vm %llu left after close\n",
			(unsigned long long)spapr_mm_locked_vm());
		exit(1);
	}
	munmap(c->mem, c->bytes);
	km_destroy(&c->k);
	free(c->hpas);
	free(c->ms);
}

static double time_ours_map(struct bcase *c)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = RW, .vaddr = (uintptr_t)c->mem, .iova = c->iova,
		.size = c->bytes,
	};
	double t0 = bench_now();

	ioctl_ok(c->cfd, VFIO_IOMMU_MAP_DMA, &m, "MAP_DMA");
	return bench_now() - t0;
}

static double time_ours_unmap(struct bcase *c)
{
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = c->iova, .size = c->bytes };
	double t0 = bench_now();

	ioctl_ok(c->cfd, VFIO_IOMMU_UNMAP_DMA, &u, "UNMAP_DMA");
	return bench_now() - t0;
}

static double time_kernel(struct bcase *c, bool map)
{
	double t0 = bench_now();
	int rc = map ? kernel_map(&c->k, (uintptr_t)c->mem, c->npages) : kernel_unmap(&c->k, c->npages);

	if (rc)
		bench_die("kernel baseline", -rc);
	return bench_now() - t0;
}

static double time_memset(struct bcase *c, int rep)
{
	double t0 = bench_now();

	memset(c->ms, rep + 1, c->npages * 16);
	bench_sink(c->ms[c->npages * 16 - 1]);
	return bench_now() - t0;
}

/* A device reads the first and the last mapped page back: the mapping is real. */
static void verify_mapped(struct bcase *c, bool mapped)
{
	uint8_t b;
	int r1 = emu_dma_read(GROUP, c->iova, &b, 1);
	int r2 = emu_dma_read(GROUP, c->iova + c->bytes - PS, &b, 1);

	if (mapped ? (r1 || r2) : (r1 != -EFAULT || r2 != -EFAULT)) {
		fprintf(stderr, "bench_spapr: device read after %s: %d %d\n", mapped ? "MAP" : "UNMAP",
			r1, r2);
		exit(1);
	}
}

static void report(const char *op, uint64_t gib, unsigned nregs, double ours, double kern, double ms,
		   uint64_t npages)
{
	char name[96], base[128];
	double o = ours / (double)npages * 1e9, k = kern / (double)npages * 1e9,
	       m = ms / (double)npages * 1e9;
	bool goal_kernel = nregs >= 1000;

	snprintf(name, sizeof(name), "%s %llu GiB, %u region%s", op, (unsigned long long)gib, nregs,
		 nregs > 1 ? "s" : "");
	snprintf(base, sizeof(base), "kernel algorithm %.2f ns/TCE (ratio = kernel / ours)", k);
	bench_report(name, o, "ns/TCE", base, k / o, goal_kernel ? ">= 10" : "",
		     !goal_kernel || k / o >= 10.0);
	snprintf(name, sizeof(name), "%s %llu GiB, %u region%s vs memset", op, (unsigned long long)gib,
		 nregs, nregs > 1 ? "s" : "");
	snprintf(base, sizeof(base), "memset 16 B/TCE %.3f ns/TCE (ratio = ours / memset)", m);
	bench_report(name, o, "ns/TCE", base, o / m, "<= 4", o / m <= 4.0);
}

static void run_case(uint64_t gib, unsigned nregs, int reps)
{
	struct bcase c;
	double om = 1e9, ou = 1e9, km = 1e9, ku = 1e9, ms = 1e9;

	case_setup(&c, gib << 30, nregs);
	/* Warm-up: the window's lower levels are allocated by the first MAP; kept afterwards. */
	time_ours_map(&c);
	verify_mapped(&c, true);
	time_ours_unmap(&c);
	verify_mapped(&c, false);
	for (int r = 0; r < reps; r++) {
		om = bench_min(om, time_ours_map(&c));
		km = bench_min(km, time_kernel(&c, true));
		ms = bench_min(ms, time_memset(&c, r));
		ou = bench_min(ou, time_ours_unmap(&c));
		ku = bench_min(ku, time_kernel(&c, false));
	}
	report("MAP_DMA", gib, nregs, om, km, ms, c.npages);
	report("UNMAP_DMA", gib, nregs, ou, ku, ms, c.npages);
	case_teardown(&c);
}

int main(void)
{
	double t0 = bench_now();

	if (spapr_mm_set_memlock(UINT64_MAX, 1))
		bench_die("spapr_mm_set_memlock", errno);
	bench_title("MAP_DMA / UNMAP_DMA of one request, 4 KiB TCEs, 64-bit window (2^33, 2 levels)");
	run_case(1, 1, 5);
	run_case(1, 1000, 3);
	run_case(4, 1, 3);
	run_case(4, 1000, 2);
	printf("bench_spapr: %.1f s\n", bench_now() - t0);
	return 0;
}
