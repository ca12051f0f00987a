/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE	/* program_invocation_short_name */
#include <errno.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>

#include "bench/bench_util.h"
#include "spapr/spapr.h"

static volatile uint64_t bench_sink_value;

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_sink(uint64_t v)
{
	bench_sink_value += v;
}

void bench_title(const char *title)
{
	printf("\n%s\n", title);
	printf("%-44s %14s %-8s %10s %-10s %s\n", "figure", "value", "unit", "ratio", "goal", "vs");
}

void bench_report(const char *name, double value, const char *unit, const char *baseline,
		  double ratio, const char *goal, bool met)
{
	const char *path = getenv("BENCH_JSONL");

	printf("%-44s %14.3f %-8s %10.3f %-10s %s%s\n", name, value, unit, ratio, goal, baseline,
	       goal[0] ? (met ? "  [met]" : "  [NOT MET]") : "");
	if (path) {
		FILE *f = fopen(path, "a");

		if (!f) {
			perror(path);
			return;
		}
		fprintf(f,
			"{\"name\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", \"baseline\": \"%s\", "
			"\"ratio\": %.6g, \"goal\": \"%s\", \"met\": %s}\n",
			name, value, unit, baseline, ratio, goal, met ? "true" : "false");
		fclose(f);
	}
}

double bench_min(double a, double b)
{
	return a < b ? a : b;
}

void bench_die(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
		strerror(err < 0 ? -err : err));
	exit(1);
}

/*
 * One plain system call: an ioctl the eventfd does not implement (FIONREAD
 * on a non-regular file ends in -ENOTTY), so it costs the kernel's entry,
 * the file lookup, the dispatch and the exit, with no work behind.
 */
void bench_syscall(void)
{
	static int efd = -1;
	int n;

	if (efd < 0) {
		efd = eventfd(0, EFD_CLOEXEC);
		if (efd < 0)
			bench_die("eventfd", errno);
	}
	if (!ioctl(efd, FIONREAD, &n) || errno != ENOTTY)
		bench_die("eventfd ioctl", errno ? errno : EINVAL);
}

double bench_syscall_seconds(unsigned iters)
{
	double t0;

	bench_syscall();
	t0 = bench_now();
	for (unsigned i = 0; i < iters; i++)
		bench_syscall();
	return (bench_now() - t0) / iters;
}

void bench_container_v2(unsigned group, int *cfd, int *gfd)
{
	*cfd = spapr_open_container();
	*gfd = spapr_open_group(group);
	if (*cfd < 0 || *gfd < 0)
		bench_die("open", errno);
	if (spapr_ioctl(*gfd, VFIO_GROUP_SET_CONTAINER, cfd))
		bench_die("SET_CONTAINER", errno);
	if (spapr_ioctl(*cfd, VFIO_SET_IOMMU, (unsigned long)VFIO_SPAPR_TCE_v2_IOMMU))
		bench_die("SET_IOMMU", errno);
}
