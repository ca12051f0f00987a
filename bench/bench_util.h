/* SPDX-License-Identifier: MIT */
/*
 * bench/bench_util.h: timing and reporting shared by the benchmark programs.
 *
 * Every figure is reported with the baseline it was compared with, measured
 * in the same run, and the ratio figure/baseline (or baseline/figure, as the
 * goal states).  bench_report() prints a table row and appends one JSON
 * object {name, value, unit, baseline, ratio, goal, met} as a line to the
 * file named by $BENCH_JSONL (make bench merges them into build/bench.json).
 */
#ifndef SPAPRTCE_BENCH_UTIL_H
#define SPAPRTCE_BENCH_UTIL_H

#include <stdbool.h>
#include <stdint.h>

/* Monotonic time in seconds. */
double bench_now(void);
/* Prints the table header of one benchmark program. */
void bench_title(const char *title);
/*
 * Reports one figure.  @baseline names what the ratio compares with; @goal is
 * a human-readable goal such as ">= 0.8" ("" when there is none) and @met
 * whether this run reached it.
 */
void bench_report(const char *name, double value, const char *unit, const char *baseline,
		  double ratio, const char *goal, bool met);
/* Keeps the compiler from optimising a computed value away. */
void bench_sink(uint64_t v);
/* The smaller of two timings (figures are the best of several runs). */
double bench_min(double a, double b);
/* A container with @group attached and the v2 IOMMU set (spapr_ioctl); exits on failure. */
void bench_container_v2(unsigned group, int *cfd, int *gfd);
/* One plain system call (see bench_syscall_seconds). */
void bench_syscall(void);
/*
 * Seconds per plain system call (an ioctl on an eventfd that it does not
 * implement), the mean of @iters calls: the kernel's fixed cost of any
 * request, the baseline of per-call figures.
 */
double bench_syscall_seconds(unsigned iters);
/* "<program>: @what: <strerror>" on stderr and exit(1); @err is an errno of either sign. */
__attribute__((noreturn)) void bench_die(const char *what, int err);

#endif
