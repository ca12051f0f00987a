/* SPDX-License-Identifier: MIT */
/*
 * What the drop-in layer adds to a request: one MAP_DMA of one 4 KiB page
 * (and its UNMAP_DMA) through the interposed ioctl(2), as an unmodified
 * program makes it, against the same requests made with spapr_ioctl()
 * directly, in the same process on the same container (goal: at most 1.5
 * times).  The program re-executes itself with libspaprtce-preload.so
 * preloaded and links the shared libspaprtce.so, so both paths reach the
 * same machine; no log or trace is active (SPAPRTCE_LOG/TRACE unset).
 * Figures: the best of 5 rounds of 20,000 pairs each, per pair.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "spapr/spapr.h"

#define PAIRS 20000
#define ROUNDS 5
#define PS 4096ul

typedef int (*ioctl_fn)(int, unsigned long, ...);

static double round_time(ioctl_fn fn, int c, void *mem, uint64_t iova)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)mem, .iova = iova, .size = PS,
	};
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = PS };
	double t0 = bench_now();

	for (int i = 0; i < PAIRS; i++) {
		if (fn(c, VFIO_IOMMU_MAP_DMA, &m) || fn(c, VFIO_IOMMU_UNMAP_DMA, &u))
			bench_die("MAP/UNMAP", -1);
	}
	return (bench_now() - t0) / PAIRS;
}

static void preload_self(char **argv)
{
	char exe[PATH_MAX], layer[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	Dl_info info;

	if (n <= 0)
		bench_die("readlink /proc/self/exe", -1);
	exe[n] = 0;
	if (dladdr((void *)dlsym(RTLD_DEFAULT, "ioctl"), &info) && info.dli_fname &&
	    strstr(info.dli_fname, "libspaprtce-preload.so"))
		return;
	if (getenv("BENCH_DROPIN_REEXEC"))
		bench_die("the layer is not preloaded", -1);
	*strrchr(exe, '/') = 0;	/* build/bench */
	*strrchr(exe, '/') = 0;	/* build */
	snprintf(layer, sizeof(layer), "%s/libspaprtce-preload.so", exe);
	setenv("LD_PRELOAD", layer, 1);
	setenv("BENCH_DROPIN_REEXEC", "1", 1);
	unsetenv("SPAPRTCE_LOG");
	unsetenv("SPAPRTCE_TRACE");
	unsetenv("SPAPRTCE_REAL");
	execv("/proc/self/exe", argv);
	bench_die("re-exec", -1);
}

int main(int argc, char **argv)
{
	struct vfio_iommu_spapr_register_memory r = { .argsz = sizeof(r) };
	double layer = 1e9, direct = 1e9;
	int c, g;
	void *mem;

	(void)argc;
	preload_self(argv);
	c = open("/dev/vfio/vfio", O_RDWR);
	g = open("/dev/vfio/0", O_RDWR);
	if (c < 0 || g < 0 || ioctl(g, VFIO_GROUP_SET_CONTAINER, &c) ||
	    ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU))
		bench_die("container set-up", -1);
	mem = mmap(NULL, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	r.vaddr = (uintptr_t)mem;
	r.size = PS;
	if (mem == MAP_FAILED || ioctl(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r))
		bench_die("REGISTER", -1);
	/* The default window (bus 0, created by the first MAP). Alternate rounds, best of each. */
	for (int i = 0; i < ROUNDS; i++) {
		direct = bench_min(direct, round_time(spapr_ioctl, c, mem, 0x10000));
		layer = bench_min(layer, round_time(ioctl, c, mem, 0x10000));
	}
	bench_title("drop-in layer: MAP_DMA + UNMAP_DMA of one 4 KiB page");
	bench_report("dropin: MAP+UNMAP through interposed ioctl()", layer * 1e9, "ns",
		     "spapr_ioctl() direct", layer / direct, "<= 1.5", layer / direct <= 1.5);
	printf("  direct spapr_ioctl: %.0f ns per pair\n", direct * 1e9);
	close(g);
	close(c);
	return 0;
}
