/* SPDX-License-Identifier: MIT */
/*
 * pincost: what making guest RAM present and writable costs this host, the
 * way a guest's RAM is pinned at VFIO's REGISTER_MEMORY (docs/guest.md,
 * "The boot-time benchmark").  Three uses:
 *
 *   pincost [MIB]          the table: for each of three methods -- mlock
 *       (what the emulator does), madvise MADV_POPULATE_WRITE, and writing
 *       one byte per 4 KiB page -- on a fresh mapping advised MADV_HUGEPAGE
 *       (as QEMU advises its guest RAM) and, for mlock, on one advised
 *       MADV_NOHUGEPAGE: wall-clock and CPU seconds, and how much ended in
 *       transparent huge pages.  mlock runs first, then everything again
 *       at once: the first run gets whatever memory the host hands out,
 *       the next ones reuse what the one before just freed.
 *   pincost delay [MIB]    how long freed memory stays cheap to write: an
 *       mlock of MIB, then after the previous one's munmap an mlock again
 *       at once and after sleeping 1, 2, 3, 5 and 10 s.  On a virtual machine
 *       whose balloon reports free pages to the hypervisor (Linux's
 *       page_reporting, which waits about 2 s after pages are freed), the
 *       hypervisor drops the memory behind them, and the next first write
 *       of each page costs far more.
 *   pincost warm [MIB]     the benchmark's warm-up (scripts/bench-guest.sh):
 *       write MIB once and free it, so that what is pinned next finds
 *       memory the host already backs, as on a host that keeps its free
 *       memory.  One line, the time it took.
 *
 * One line per measurement:
 *   pincost METHOD PAGES WHEN wall S cpu S thp MIB
 * Nothing here is the emulator's: it is the host kernel's zeroing of new
 * pages (and, on a virtual machine, the hypervisor's backing of them),
 * which any pin pays, the kernel's own included.
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
#include <unistd.h>

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
	printf("pincost %-8s %-4s %-7s wall %.3f cpu %.3f thp %ld\n", method,
	       huge ? "thp" : "4k", when, wall() - w0, cpu() - c0, thp_mib());
	if (rc)
		perror(method);
	munmap(map, len + align);
	return rc != 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9') ? argv[1] : "table";
	const char *mib = argc > 1 && strcmp(mode, "table") ? (argc > 2 ? argv[2] : NULL) : (argc > 1 ? argv[1] : NULL);
	size_t len = (size_t)(mib ? atol(mib) : 1024) << 20;
	static const unsigned int pause_s[] = { 0, 1, 2, 3, 5, 10 };
	char when[16];
	int rc = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!len)
		return fprintf(stderr, "usage: pincost [table|delay|warm] [MIB]\n"), 2;
	if (!strcmp(mode, "warm"))
		return one("touch", true, len, "warmup");
	if (!strcmp(mode, "delay")) {
		rc |= one("mlock", true, len, "first");
		for (size_t i = 0; i < sizeof(pause_s) / sizeof(pause_s[0]); i++) {
			sleep(pause_s[i]);
			snprintf(when, sizeof(when), "after%us", pause_s[i]);
			rc |= one("mlock", true, len, when);
		}
		return rc;
	}
	if (strcmp(mode, "table"))
		return fprintf(stderr, "usage: pincost [table|delay|warm] [MIB]\n"), 2;
	rc |= one("mlock", true, len, "first");
	rc |= one("mlock", true, len, "again");
	rc |= one("populate", true, len, "again");
	rc |= one("touch", true, len, "again");
	rc |= one("mlock", false, len, "again");
	return rc;
}
