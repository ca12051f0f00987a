/* SPDX-License-Identifier: MIT */
/*
 * pincost [MIB]: what making MIB MiB (default 1024) of anonymous memory
 * present and writable costs this host, the way a guest's RAM is pinned at
 * VFIO's REGISTER_MEMORY (docs/guest.md, "The boot-time benchmark").  For
 * each of three methods -- mlock (what the emulator does), madvise
 * MADV_POPULATE_WRITE, and writing one byte per 4 KiB page -- on a fresh
 * mapping advised MADV_HUGEPAGE (as QEMU advises its guest RAM) and, for
 * mlock, on one advised MADV_NOHUGEPAGE: the wall-clock and CPU seconds,
 * and how much of it ended in transparent huge pages.  One line each:
 *   pincost METHOD PAGES first|again wall S cpu S thp MIB
 * mlock runs first, then everything again at once: the first run gets
 * whatever memory the host hands out (on a virtual machine whose free
 * memory the hypervisor takes back after a few seconds, a first write
 * costs far more), the next ones reuse what the one before just freed.
 * Nothing here is the emulator's: it is the host kernel's zeroing of new
 * pages, which any pin pays, the kernel's own included.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static double wall(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage r;

	getrusage(RUSAGE_SELF, &r);
	return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
	       (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

/* AnonHugePages of this process, in MiB. */
static long thp_mib(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kb = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "AnonHugePages:", 14))
			kb = atol(line + 14);
	fclose(f);
	return kb / 1024;
}

static int one(const char *method, bool huge, size_t len, const char *when)
{
	size_t align = 2u << 20;
	char *map = mmap(NULL, len + align, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *p;
	double w0, c0;
	int rc = 0;

	if (map == MAP_FAILED)
		return perror("mmap"), 1;
	p = (char *)(((uintptr_t)map + align - 1) & ~(uintptr_t)(align - 1));
	madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	w0 = wall();
	c0 = cpu();
	if (!strcmp(method, "mlock"))
		rc = mlock(p, len);
	else if (!strcmp(method, "populate"))
		rc = madvise(p, len, MADV_POPULATE_WRITE);
	else
		for (size_t i = 0; i < len; i += 4096)
			p[i] = 1;
	printf("pincost %-8s %-4s %-5s wall %.3f cpu %.3f thp %ld\n", method,
	       huge ? "thp" : "4k", when, wall() - w0, cpu() - c0, thp_mib());
	if (rc)
		perror(method);
	munmap(map, len + align);
	return rc != 0;
}

int main(int argc, char **argv)
{
	size_t len = (size_t)(argc > 1 ? atol(argv[1]) : 1024) << 20;
	int rc = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	rc |= one("mlock", true, len, "first");
	rc |= one("mlock", true, len, "again");
	rc |= one("populate", true, len, "again");
	rc |= one("touch", true, len, "again");
	rc |= one("mlock", false, len, "again");
	return rc;
}
