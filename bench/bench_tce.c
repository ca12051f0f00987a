/* SPDX-License-Identifier: MIT */
/*
 * bench_tce: TCE table entry writes and bulk clears.
 *
 *  1. Setting 1,048,576 consecutive entries (4 GiB window of 4 KiB TCEs, 2
 *     levels), in ns per entry, against memset of the 16 bytes per entry
 *     that must be written (8 hardware + 8 shadow), measured in the same
 *     run: per-entry tce_table_xchg (the kernel's algorithm: a walk and an
 *     atomic per TCE), tce_table_map with atomic exchanges, and
 *     tce_table_map on a TCE_TABLE_SERIAL_WRITERS table (loads and stores).
 *     Each on a fresh table, its levels allocated on the way (emu's table
 *     blocks come from its free lists, zeroed when freed).  Goal for the
 *     batched form: <= 3.  Beside it, the same map on a table whose levels
 *     are in place (cleared, untimed, before each map): no goal, it shows
 *     what the level allocation adds.
 *  2. Clearing a whole window holding 1,000 entries spread evenly over it,
 *     for 2^34- and 2^40-byte windows (4 KiB TCEs, 4 levels), and the time
 *     ratio between the two.  Goal <= 1.2.  The kernel's clear (one walk
 *     per index, skipping missing shadow leaf blocks only) is measured too.
 *
 * Each figure is the best of several repetitions, subject and baselines
 * alternated.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "tce/tce.h"
#include "tce/tce_priv.h"

#define MAP_ENTRIES (1u << 20)
#define MAP_REPS 7
#define CLEAR_POPULATED 1000u
#define CLEAR_REPS 15

static struct tce_table *table_new(uint64_t window, unsigned levels, unsigned flags)
{
	struct tce_table_params p = { .window_size = window, .page_shift = 12, .levels = levels,
				      .flags = flags };
	struct tce_table *t;
	int rc = tce_table_create(&p, &t);

	if (rc)
		bench_die("tce_table_create", rc);
	return t;
}

static void count_old(void *ctx, const struct tce_old_run *run, size_t n)
{
	uint64_t *sum = ctx;
	size_t i;

	for (i = 0; i < n; i++)
		*sum += run[i].ua + run[i].n;
}

enum map_kind { MAP_XCHG, MAP_ATOMIC, MAP_SERIAL };

static struct tce_table *map_table(enum map_kind kind)
{
	return table_new(1ull << 32, 2, kind == MAP_SERIAL ? TCE_TABLE_SERIAL_WRITERS : 0);
}

/*
 * Seconds to set MAP_ENTRIES entries of @t, which is fresh (its levels
 * allocated and faulted in on the way) or was cleared by the caller (its
 * levels in place: the steady state of a window mapped again and again).
 */
static double time_map(struct tce_table *t, enum map_kind kind, const uint64_t *hpa)
{
	struct tce_kill_batch kb;
	uint64_t ua = 1ull << 30, sum = 0, i;
	double t0, t1;
	int rc = 0;

	tce_kill_batch_init(&kb, t);
	t0 = bench_now();
	if (kind == MAP_XCHG) {
		for (i = 0; i < MAP_ENTRIES && !rc; i++)
			rc = tce_table_xchg(t, i, hpa[i], ua + (i << 12), TCE_DIR_BIDIRECTIONAL,
					    &kb, NULL, NULL);
	} else {
		rc = tce_table_map(t, 0, MAP_ENTRIES, hpa, ua, TCE_DIR_BIDIRECTIONAL, &kb,
				   count_old, &sum);
	}
	tce_kill_batch_flush(&kb);
	t1 = bench_now();
	if (rc)
		bench_die("map", rc);
	bench_sink(sum);
	return t1 - t0;
}

/* Seconds for a fresh table's map (created and destroyed untimed). */
static double time_map_fresh(enum map_kind kind, const uint64_t *hpa)
{
	struct tce_table *t = map_table(kind);
	double s = time_map(t, kind, hpa);

	tce_table_put(t);
	return s;
}

/* Seconds to map @t again after clearing it (untimed). */
static double time_map_again(struct tce_table *t, enum map_kind kind, const uint64_t *hpa)
{
	uint64_t sum = 0;
	int rc = tce_table_unmap(t, 0, MAP_ENTRIES, NULL, count_old, &sum, NULL);

	if (rc)
		bench_die("unmap", rc);
	bench_sink(sum);
	return time_map(t, kind, hpa);
}

static double time_memset(uint64_t *a, uint64_t *b, int val)
{
	double t0 = bench_now();

	memset(a, val, MAP_ENTRIES * 8ull);
	memset(b, val, MAP_ENTRIES * 8ull);
	bench_sink(a[MAP_ENTRIES / 2] + b[MAP_ENTRIES - 1]);
	return bench_now() - t0;
}

static void bench_map(void)
{
	uint64_t *hpa = malloc(MAP_ENTRIES * 8ull);
	uint64_t *a = malloc(MAP_ENTRIES * 8ull), *b = malloc(MAP_ENTRIES * 8ull);
	double ms = 1e9, tx = 1e9, ta = 1e9, te = 1e9, tea = 1e9, n = MAP_ENTRIES;
	struct tce_table *again;
	int r;

	if (!hpa || !a || !b)
		bench_die("malloc", -ENOMEM);
	/* Scattered page addresses, as pinned user memory has. */
	for (r = 0; r < (int)MAP_ENTRIES; r++)
		hpa[r] = (((uint64_t)r * 2654435761u) & 0xfffffffffull) << 12;
	memset(a, 1, MAP_ENTRIES * 8ull);
	memset(b, 1, MAP_ENTRIES * 8ull);
	again = map_table(MAP_SERIAL);
	time_map(again, MAP_SERIAL, hpa);	/* its levels allocated, untimed */
	for (r = 0; r < MAP_REPS; r++) {
		ms = bench_min(ms, time_memset(a, b, r));
		tx = bench_min(tx, time_map_fresh(MAP_XCHG, hpa));
		ta = bench_min(ta, time_map_fresh(MAP_ATOMIC, hpa));
		te = bench_min(te, time_map_fresh(MAP_SERIAL, hpa));
		tea = bench_min(tea, time_map_again(again, MAP_SERIAL, hpa));
	}
	tce_table_put(again);
	bench_title("TCE table: set 1,048,576 consecutive entries (4 KiB TCEs, 2 levels)");
	bench_report("memset of 16 B/entry (baseline)", ms / n * 1e9, "ns/entry", "-", 1.0, "", true);
	bench_report("tce_table_xchg per entry", tx / n * 1e9, "ns/entry", "memset 16 B/entry", tx / ms,
		     "", true);
	bench_report("tce_table_map (atomic xchg)", ta / n * 1e9, "ns/entry", "memset 16 B/entry",
		     ta / ms, "", true);
	bench_report("tce_table_map (TCE_TABLE_SERIAL_WRITERS)", te / n * 1e9, "ns/entry",
		     "memset 16 B/entry", te / ms, "<= 3", te / ms <= 3.0);
	bench_report("tce_table_map (TCE_TABLE_SERIAL_WRITERS), levels in place", tea / n * 1e9,
		     "ns/entry", "memset 16 B/entry", tea / ms, "", true);
	free(hpa);
	free(a);
	free(b);
}

/* The kernel's tce_iommu_clear walk: per index, skip a missing shadow leaf block. */
static uint64_t kernel_clear(struct tce_table *t)
{
	const struct tce_geometry *g = tce_table_geometry(t);
	uint64_t i, cleared = 0, *hw, *sh;

	for (i = 0; i < g->it_size; i++) {
		uint64_t j = i & (g->it_level_size - 1), raw;

		sh = tce__walk_ro(t, TCE__SHADOW, i);
		if (!sh) {
			i |= g->it_level_size - 1;
			continue;
		}
		hw = tce__walk_ro(t, TCE__HW, i);
		raw = hw ? __atomic_exchange_n(&hw[j], 0, __ATOMIC_ACQ_REL) : 0;
		if (!(be64toh(raw) & TCE_PCI_RW))
			continue;
		__atomic_exchange_n(&sh[j], 0, __ATOMIC_ACQ_REL);
		cleared++;
	}
	return cleared;
}

static void populate(struct tce_table *t)
{
	const struct tce_geometry *g = tce_table_geometry(t);
	uint64_t stride = g->it_size / CLEAR_POPULATED, k;
	int rc;

	for (k = 0; k < CLEAR_POPULATED; k++) {
		rc = tce_table_xchg(t, g->it_offset + k * stride + (k % 7), (k + 1) << 12,
				    (k + 1) << 12, TCE_DIR_BIDIRECTIONAL, NULL, NULL, NULL);
		if (rc)
			bench_die("populate", rc);
	}
}

/* Seconds to clear the whole window of @t after populating it (untimed); @kernel picks the kernel's algorithm. */
static double time_clear_once(struct tce_table *t, bool kernel)
{
	const struct tce_geometry *g = tce_table_geometry(t);
	struct tce_kill_batch kb;
	uint64_t cleared = 0, sum = 0;
	double t0, s;
	int rc = 0;

	populate(t);
	tce_kill_batch_init(&kb, t);
	t0 = bench_now();
	if (kernel)
		cleared = kernel_clear(t);
	else
		rc = tce_table_unmap(t, g->it_offset, g->it_size, &kb, count_old, &sum, &cleared);
	tce_kill_batch_flush(&kb);
	s = bench_now() - t0;
	if (rc || cleared != CLEAR_POPULATED) {
		fprintf(stderr, "bench_tce: clear cleared %llu of %u (rc %d)\n",
			(unsigned long long)cleared, CLEAR_POPULATED, rc);
		exit(1);
	}
	bench_sink(sum);
	return s;
}

static uint64_t hw_blocks(struct tce_table *t)
{
	struct tce_table_stats st;

	tce_table_get_stats(t, &st);
	return st.hw_blocks;
}

/* The two windows' clears alternated (best of each), then the kernel's. */
static void bench_clear(void)
{
	struct tce_table *t34 = table_new(1ull << 34, 4, 0), *t40 = table_new(1ull << 40, 4, 0);
	double c34 = 1e9, c40 = 1e9, k34 = 1e9, k40 = 1e9;
	char name[96];
	int r;

	for (r = 0; r < CLEAR_REPS; r++) {
		c34 = bench_min(c34, time_clear_once(t34, false));
		c40 = bench_min(c40, time_clear_once(t40, false));
	}
	for (r = 0; r < 3; r++) {
		k34 = bench_min(k34, time_clear_once(t34, true));
		k40 = bench_min(k40, time_clear_once(t40, true));
	}
	bench_title("TCE table: clear a whole window holding 1,000 entries (4 KiB TCEs, 4 levels)");
	snprintf(name, sizeof(name), "tce_table_unmap 2^34 (%llu hw blocks)",
		 (unsigned long long)hw_blocks(t34));
	bench_report(name, c34 * 1e6, "us", "-", 1.0, "", true);
	snprintf(name, sizeof(name), "tce_table_unmap 2^40 (%llu hw blocks)",
		 (unsigned long long)hw_blocks(t40));
	bench_report(name, c40 * 1e6, "us", "unmap 2^34", c40 / c34, "<= 1.2", c40 / c34 <= 1.2);
	bench_report("kernel clear (leaf skip) 2^34", k34 * 1e6, "us", "unmap 2^34", k34 / c34, "",
		     true);
	bench_report("kernel clear (leaf skip) 2^40", k40 * 1e6, "us", "unmap 2^40", k40 / c40, "",
		     true);
	tce_table_put(t34);
	tce_table_put(t40);
}

int main(void)
{
	bench_map();
	bench_clear();
	return 0;
}
