/* SPDX-License-Identifier: MIT */
/*
 * tce/: table geometry and the locked_vm size formula, the multi-level
 * layout read back from physical memory the way the host bridge reads it,
 * exchange semantics, the shadow, bulk clears, kill batching, references,
 * the invariant checker and a fail-nth sweep.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/mem.h"
#include "tce/tce.h"
#include "tests/testutil.h"
#include "util/simd.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define WIN2 (1ull << 59)	/* the second window's bus address */

static void teardown(void)
{
	util_fail_nth_arm(0);
	tu_assert_emu_clean();
}

static void setup(void)
{
}

/* ------------------------------------------------------------- helpers */

static uint64_t emu_blocks(void)
{
	struct emu_mem_stats st;

	emu_mem_get_stats(&st);
	return st.table_blocks;
}

static int create_rc(uint64_t bus_offset, uint64_t window, unsigned page_shift, unsigned levels,
		     unsigned flags, struct tce_table **out)
{
	struct tce_table_params p = {
		.bus_offset = bus_offset,
		.window_size = window,
		.page_shift = page_shift,
		.levels = levels,
		.flags = flags,
	};

	return tce_table_create(&p, out);
}

static struct tce_table *create_ok(uint64_t bus_offset, uint64_t window, unsigned page_shift,
				   unsigned levels, unsigned flags)
{
	struct tce_table *t = NULL;

	TU_OK(create_rc(bus_offset, window, page_shift, levels, flags, &t));
	ck_assert_ptr_nonnull(t);
	TU_OK(tce_table_check(t));
	return t;
}

/* Asserts EINVAL, *out untouched and nothing allocated. */
static void create_err(uint64_t bus_offset, uint64_t window, unsigned page_shift, unsigned levels,
		       unsigned flags)
{
	struct tce_table *t = (struct tce_table *)&t;
	uint64_t before = emu_blocks();

	TU_ERR(create_rc(bus_offset, window, page_shift, levels, flags, &t), EINVAL);
	ck_assert_ptr_eq(t, (struct tce_table *)&t);
	ck_assert_uint_eq(emu_blocks(), before);
}

/* Checks, then drops the last reference: every block of the table goes. */
static void put_clean(struct tce_table *t)
{
	struct tce_table_stats st;
	uint64_t before = emu_blocks();

	TU_OK(tce_table_check(t));
	tce_table_get_stats(t, &st);
	ck_assert_uint_eq(st.refs, 1);
	tce_table_put(t);
	ck_assert_uint_eq(before - emu_blocks(), st.hw_blocks + st.shadow_blocks);
}

/* What one xchg reported: nothing (calls 0) or one run of one entry. */
struct old1 {
	unsigned calls;
	struct tce_old_run r;
};

static void collect_one(void *ctx, const struct tce_old_run *run, size_t n)
{
	struct old1 *o = ctx;

	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(run->n, 1);
	o->r = *run;
	o->calls++;
}

static void set_ok(struct tce_table *t, uint64_t entry, uint64_t hpa, uint64_t ua,
		   enum tce_dir dir, struct old1 *old)
{
	if (old)
		old->calls = 0;
	TU_OK(tce_table_xchg(t, entry, hpa, ua, dir, NULL, old ? collect_one : NULL, old));
}

static void clear_ok(struct tce_table *t, uint64_t entry, struct old1 *old)
{
	set_ok(t, entry, 0, 0, TCE_DIR_NONE, old);
}

/* Asserts that the last set_ok/clear_ok reported exactly @entry holding @ua. */
static void assert_old1(const struct old1 *old, uint64_t entry, uint64_t ua)
{
	ck_assert_uint_eq(old->calls, 1);
	ck_assert_uint_eq(old->r.entry, entry);
	ck_assert_uint_eq(old->r.ua, ua);
}

/* Asserts the entry reads (hpa, dir) from the hardware and ua from the shadow. */
static void assert_entry(const struct tce_table *t, uint64_t entry, uint64_t hpa,
			 enum tce_dir dir, uint64_t ua)
{
	uint64_t h = 1, u = 1;
	enum tce_dir d = 7;

	TU_OK(tce_table_read(t, entry, &h, &d));
	TU_OK(tce_table_shadow_read(t, entry, &u));
	ck_assert_msg(h == hpa && d == dir && u == ua,
		      "entry %#llx: hpa %#llx dir %d ua %#llx, expected %#llx %d %#llx",
		      (unsigned long long)entry, (unsigned long long)h, d, (unsigned long long)u,
		      (unsigned long long)hpa, dir, (unsigned long long)ua);
}

static struct tce_table_stats stats(const struct tce_table *t)
{
	struct tce_table_stats st;

	tce_table_get_stats(t, &st);
	return st;
}

/* Blocks per level, hardware and shadow alike: top first. */
static void assert_blocks(const struct tce_table *t, const uint64_t *want, unsigned levels)
{
	struct tce_table_stats st = stats(t);
	uint64_t sum = 0;

	for (unsigned d = 0; d < TCE_LEVELS_MAX; d++) {
		uint64_t w = d < levels ? want[d] : 0;

		ck_assert_msg(st.hw_level_blocks[d] == w && st.shadow_level_blocks[d] == w,
			      "level %u: %llu hardware and %llu shadow blocks, expected %llu", d,
			      (unsigned long long)st.hw_level_blocks[d],
			      (unsigned long long)st.shadow_level_blocks[d], (unsigned long long)w);
		sum += w;
	}
	ck_assert_uint_eq(st.hw_blocks, sum);
	ck_assert_uint_eq(st.shadow_blocks, sum);
}

/*
 * Reads an entry as the host bridge does: from the top block's hpa through
 * physical memory (emu_mem_table_hva), with the slot at depth d given by
 * docs/tce.md: (i >> ((K - d) * S)) & (2^S - 1).  Returns false when a level is
 * missing; otherwise *raw is the leaf word as stored (big-endian) and
 * slots[d] the slot used at each depth.
 */
static bool hw_walk(const struct tce_table *t, uint64_t entry, uint64_t *raw, uint64_t *slots)
{
	const struct tce_geometry *g = tce_table_geometry(t);
	unsigned k = g->it_indirect_levels, s = g->level_shift - 3;
	uint64_t i = entry - g->it_offset, hpa = tce_table_hpa(t), bytes = 1ull << g->level_shift;

	for (unsigned d = 0; d <= k; d++) {
		const uint8_t *blk = emu_mem_table_hva(hpa, bytes);
		uint64_t slot = (i >> ((k - d) * s)) & ((1ull << s) - 1), w;

		ck_assert_msg(blk != NULL, "depth %u: hpa %#llx is not table memory", d,
			      (unsigned long long)hpa);
		memcpy(&w, blk + slot * 8, 8);
		if (slots)
			slots[d] = slot;
		if (d == k) {
			*raw = w;
			return true;
		}
		if (!w)
			return false;
		w = be64toh(w);
		ck_assert_msg((w & TCE_PCI_RW) == TCE_PCI_RW, "indirect entry %#llx lacks R|W",
			      (unsigned long long)w);
		hpa = w & ~TCE_PCI_RW;
	}
	return false;
}

/* Number of non-zero words in the block at @hpa. */
static uint64_t block_nonzero(const struct tce_table *t, uint64_t hpa, uint64_t *only_slot)
{
	const struct tce_geometry *g = tce_table_geometry(t);
	const uint64_t *blk = emu_mem_table_hva(hpa, 1ull << g->level_shift);
	uint64_t n = 0;

	ck_assert_ptr_nonnull(blk);
	for (uint64_t j = 0; j < g->it_level_size; j++)
		if (blk[j]) {
			n++;
			*only_slot = j;
		}
	return n;
}

/*
 * Old entries as reported: the runs as they came (r, runs), and one record
 * per entry (v, n), the run's uas stepping by 2^shift (4 KiB when shift is
 * 0).  Each batch is checked: 1 to TCE_OLD_BATCH runs, each of at least one
 * entry, none continuable by the next (the layer extends runs).
 */
struct old_entry {
	uint64_t entry, ua;
};

struct olds {
	size_t n, calls, runs;
	unsigned shift;
	struct old_entry v[4096];
	struct tce_old_run r[4096];
};

static void collect_old(void *ctx, const struct tce_old_run *run, size_t n)
{
	struct olds *o = ctx;
	unsigned shift = o->shift ? o->shift : 12;

	ck_assert_uint_le(n, TCE_OLD_BATCH);
	ck_assert_uint_ge(n, 1);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_ge(run[i].n, 1);
		ck_assert_uint_le(o->n + run[i].n, 4096);
		if (i && run[i].entry == run[i - 1].entry + run[i - 1].n && run[i - 1].ua)
			ck_assert_uint_ne(run[i].ua, run[i - 1].ua + (run[i - 1].n << shift));
		o->r[o->runs++] = run[i];
		for (uint64_t k = 0; k < run[i].n; k++) {
			o->v[o->n].entry = run[i].entry + k;
			o->v[o->n].ua = run[i].ua + (k << shift);
			o->n++;
		}
	}
	o->calls++;
}

/* Asserts the entries reported, in order: exactly entry[i] holding ua[i], each a run of its own. */
static void assert_olds(const struct olds *o, size_t n, const uint64_t *entry, const uint64_t *ua)
{
	ck_assert_uint_eq(o->n, n);
	ck_assert_uint_eq(o->runs, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(o->v[i].entry, entry[i]);
		ck_assert_uint_eq(o->v[i].ua, ua[i]);
	}
}

static int cmp_old(const void *a, const void *b)
{
	const struct old_entry *x = a, *y = b;

	return x->entry < y->entry ? -1 : x->entry > y->entry;
}

struct kills {
	unsigned n;
	uint64_t first[64], npages[64];
};

static void record_kill(void *ctx, uint64_t first, uint64_t npages)
{
	struct kills *k = ctx;

	ck_assert_uint_lt(k->n, 64);
	k->first[k->n] = first;
	k->npages[k->n] = npages;
	k->n++;
}

static struct tce_table *create_kill_ok(uint64_t bus_offset, uint64_t window, unsigned levels,
					unsigned flags, struct kills *k)
{
	struct tce_table_params p = {
		.bus_offset = bus_offset,
		.window_size = window,
		.page_shift = 12,
		.levels = levels,
		.flags = flags,
		.kill = record_kill,
		.kill_ctx = k,
	};
	struct tce_table *t = NULL;

	TU_OK(tce_table_create(&p, &t));
	return t;
}

/* ------------------------------------------------ geometry and sizes */

START_TEST(size_formula_spec_test_59)
{
	uint64_t b = 0;

	/* s = 12: 4 GiB of 4 KiB TCEs, 2 levels: (8 MiB + 8 KiB) x 2, in 4 KiB pages. */
	TU_OK(tce_table_size(12, 4 * GiB, 2, &b));
	ck_assert_uint_eq(b, (8 * MiB + 8 * KiB) * 2);
	ck_assert_uint_eq(b / EMU_PAGE_SIZE, 4100);
	/* s = 16: 2 GiB, 4 KiB TCEs, 1 level: 4 MiB x 2 = 128 pages of 64 KiB. */
	TU_OK(tce_table_size_sys(16, 12, 2 * GiB, 1, &b));
	ck_assert_uint_eq(b, 8 * MiB);
	ck_assert_uint_eq(b >> 16, 128);
	/* s = 16: 64 GiB, 64 KiB TCEs, 2 levels: (8 MiB + 64 KiB) x 2. */
	TU_OK(tce_table_size_sys(16, 16, 64 * GiB, 2, &b));
	ck_assert_uint_eq(b, (8 * MiB + 64 * KiB) * 2);
	/* The same 64 GiB window with s = 12: D = 8 KiB, so (8 MiB + 8 KiB) x 2. */
	TU_OK(tce_table_size(16, 64 * GiB, 2, &b));
	ck_assert_uint_eq(b, (8 * MiB + 8 * KiB) * 2);
}
END_TEST

START_TEST(size_formula_hand_computed)
{
	uint64_t b = 0;

	/* 2 GiB / 4K / 1: E = 19, one 4 MiB level. */
	TU_OK(tce_table_size(12, 2 * GiB, 1, &b));
	ck_assert_uint_eq(b, 8 * MiB);
	/* 1 GiB / 64K / 1: E = 14, 128 KiB. */
	TU_OK(tce_table_size(16, 1 * GiB, 1, &b));
	ck_assert_uint_eq(b, 256 * KiB);
	/* 1 MiB / 4K / 1: E = 8, 2 KiB rounded up to the 0x1000 floor. */
	TU_OK(tce_table_size(12, 1 * MiB, 1, &b));
	ck_assert_uint_eq(b, 8 * KiB);
	/* 4 GiB / 4K / 3: E = 20, D = 4 KiB: 8 MiB + 16 KiB + 4 KiB. */
	TU_OK(tce_table_size(12, 4 * GiB, 3, &b));
	ck_assert_uint_eq(b, (8 * MiB + 16 * KiB + 4 * KiB) * 2);
	/* 2^40 / 4K / 4: E = 28, D = 4 KiB: 2 GiB + 4 MiB + 8 KiB + 4 KiB. */
	TU_OK(tce_table_size(12, 1ull << 40, 4, &b));
	ck_assert_uint_eq(b, (2 * GiB + 4 * MiB + 8 * KiB + 4 * KiB) * 2);
	/* 2^40 / 2M / 2: E = 19, ls = 13, D = 8 KiB: 4 MiB + 8 KiB. */
	TU_OK(tce_table_size(21, 1ull << 40, 2, &b));
	ck_assert_uint_eq(b, (4 * MiB + 8 * KiB) * 2);
	/* 4 GiB / 1G / 2: E = 2, T = 0x1000 floor, D = 4 KiB: 4 KiB + 4 KiB. */
	TU_OK(tce_table_size(30, 4 * GiB, 2, &b));
	ck_assert_uint_eq(b, 16 * KiB);
	/* The table charges exactly the formula. */
	struct tce_table *t = create_ok(0, 4 * GiB, 12, 2, 0);

	ck_assert_uint_eq(tce_table_geometry(t)->it_allocated_size, (8 * MiB + 8 * KiB) * 2);
	put_clean(t);
}
END_TEST

START_TEST(size_formula_rejections)
{
	uint64_t b = 77;

	TU_ERR(tce_table_size(12, 4 * GiB, 0, &b), EINVAL);
	TU_ERR(tce_table_size(12, 4 * GiB, 6, &b), EINVAL);
	TU_ERR(tce_table_size(12, 3 * GiB, 1, &b), EINVAL);
	TU_ERR(tce_table_size(12, 2 * KiB, 1, &b), EINVAL);		/* Q14 */
	TU_ERR(tce_table_size(12, 4 * GiB, 5, &b), EINVAL);		/* 9 * 5 + 12 >= 55 */
	TU_ERR(tce_table_size(11, 4 * GiB, 1, &b), EINVAL);
	TU_ERR(tce_table_size(46, 1ull << 50, 1, &b), EINVAL);
	TU_ERR(tce_table_size_sys(17, 12, 4 * GiB, 1, &b), EINVAL);
	TU_ERR(tce_table_size_sys(11, 12, 4 * GiB, 1, &b), EINVAL);
	/* With s = 16, 4 levels of 4K TCEs are rejected (13 * 4 + 12 >= 55), not with s = 12. */
	TU_ERR(tce_table_size_sys(16, 12, 4 * GiB, 4, &b), EINVAL);
	ck_assert_uint_eq(b, 77);
	TU_OK(tce_table_size(12, 4 * GiB, 4, &b));
	TU_OK(tce_table_size_sys(13, 12, 4 * GiB, 1, &b));
	ck_assert_uint_eq(b, 16 * MiB);
}
END_TEST

/*
 * Hand-computed S = log2(it_level_size) for windows 2^32 and 2^40, page
 * shifts 12, 16, 21, 30 and levels 1..5; 0 where (ls - 3) * L + p >= 55.
 */
static const unsigned hand_s[2][4][5] = {
	{ { 20, 10, 9, 9, 0 }, { 16, 9, 9, 9, 0 }, { 11, 9, 9, 0, 0 }, { 9, 9, 0, 0, 0 } },
	{ { 28, 14, 10, 9, 0 }, { 24, 12, 9, 9, 0 }, { 19, 10, 9, 0, 0 }, { 10, 9, 0, 0, 0 } },
};
static const unsigned page_shifts[4] = { 12, 16, 21, 30 };
static const unsigned window_shifts[2] = { 32, 40 };

/* Sets the first and last entries, finds them in raw memory, clears them. */
static void first_and_last(struct tce_table *t)
{
	const struct tce_geometry *g = tce_table_geometry(t);
	unsigned k = g->it_indirect_levels, s = g->level_shift - 3, p = g->it_page_shift;
	uint64_t ends[2] = { g->it_offset, g->it_offset + g->it_size - 1 };
	uint64_t want[TCE_LEVELS_MAX] = { 1 };
	uint64_t before = emu_blocks();

	for (int e = 0; e < 2; e++) {
		uint64_t hpa = (0x40000ull + (uint64_t)e) << p, ua = (0x1000ull + (uint64_t)e) << p;
		uint64_t raw = 0, slots[TCE_LEVELS_MAX], i = ends[e] - g->it_offset;
		struct old1 old;

		set_ok(t, ends[e], hpa, ua, e ? TCE_DIR_TO_DEVICE : TCE_DIR_FROM_DEVICE, &old);
		ck_assert_uint_eq(old.calls, 0);
		ck_assert(hw_walk(t, ends[e], &raw, slots));
		ck_assert_uint_eq(be64toh(raw), hpa | (e ? TCE_PCI_READ : TCE_PCI_RW));
		/* The decomposition of docs/tce.md, level by level. */
		for (unsigned d = 0; d <= k; d++)
			ck_assert_uint_eq(slots[d], (i >> ((k - d) * s)) & ((1ull << s) - 1));
	}
	/* One path each, shared where the two indexes share a prefix. */
	for (unsigned d = 1; d <= k; d++)
		want[d] = ((ends[0] - g->it_offset) >> ((k - d + 1) * s)) ==
				  ((ends[1] - g->it_offset) >> ((k - d + 1) * s)) ? 1 : 2;
	assert_blocks(t, want, k + 1);
	ck_assert_uint_eq(emu_blocks() - before, 2 * (stats(t).hw_blocks - 1));
	TU_OK(tce_table_check(t));
	for (int e = 0; e < 2; e++) {
		struct old1 old;

		assert_entry(t, ends[e], (0x40000ull + (uint64_t)e) << p,
			     e ? TCE_DIR_TO_DEVICE : TCE_DIR_BIDIRECTIONAL, (0x1000ull + (uint64_t)e) << p);
		clear_ok(t, ends[e], &old);
		assert_old1(&old, ends[e], (0x1000ull + (uint64_t)e) << p);
		assert_entry(t, ends[e], 0, TCE_DIR_NONE, 0);
	}
}

START_TEST(geometry_every_level_and_page_shift)
{
	unsigned created = 0, rejected = 0;

	for (unsigned w = 0; w < 2; w++)
		for (unsigned ps = 0; ps < 4; ps++)
			for (unsigned l = 1; l <= 5; l++) {
				uint64_t window = 1ull << window_shifts[w];
				unsigned p = page_shifts[ps], s = hand_s[w][ps][l - 1];
				struct tce_table_params prm = { .window_size = window,
								.page_shift = p,
								.levels = l };
				unsigned e = window_shifts[w] - p;
				struct tce_geometry g;
				uint64_t bytes;

				if (!s) {
					create_err(0, window, p, l, 0);
					TU_ERR(tce_table_size(p, window, l, &bytes), EINVAL);
					rejected++;
					continue;
				}
				TU_OK(tce_geometry_calc(&prm, &g));
				ck_assert_uint_eq(g.it_level_size, 1ull << s);
				ck_assert_uint_eq(g.level_shift, s + 3);
				ck_assert_uint_eq(g.it_indirect_levels, l - 1);
				ck_assert_uint_eq(g.it_page_shift, p);
				ck_assert_uint_eq(g.it_offset, 0);
				ck_assert_uint_eq(g.it_size, e < 9 ? 512 : 1ull << e);
				TU_OK(tce_table_size(p, window, l, &bytes));
				ck_assert_uint_eq(g.it_allocated_size, bytes);
				/* Blocks above 2 MiB: geometry only, to keep the suite light. */
				if (s + 3 > 21)
					continue;
				struct tce_table *t = create_ok(0, window, p, l, 0);

				first_and_last(t);
				put_clean(t);
				created++;
			}
	ck_assert_uint_eq(rejected, 14);
	ck_assert_uint_eq(created, 22);
}
END_TEST

START_TEST(geometry_second_window_offset)
{
	struct tce_table *t = create_ok(WIN2, 1ull << 36, 16, 3, 0);
	const struct tce_geometry *g = tce_table_geometry(t);

	ck_assert_uint_eq(g->it_offset, WIN2 >> 16);
	ck_assert_uint_eq(g->it_size, 1ull << 20);
	ck_assert(tce_table_contains(t, WIN2 >> 16));
	ck_assert(!tce_table_contains(t, (WIN2 >> 16) - 1));
	ck_assert(!tce_table_contains(t, (WIN2 >> 16) + (1ull << 20)));
	ck_assert_int_eq(tce_table_node(t), emu_mem_node());
	first_and_last(t);
	put_clean(t);
}
END_TEST

START_TEST(geometry_rejections_allocate_nothing)
{
	create_err(0, 4 * GiB, 12, 0, 0);			/* no level */
	create_err(0, 4 * GiB, 12, 6, 0);			/* too many */
	create_err(0, 3 * GiB, 12, 1, 0);			/* not a power of two */
	create_err(0, 0, 12, 1, 0);
	create_err(0, 2 * KiB, 12, 1, 0);			/* Q14: below one page */
	create_err(0, 1 * MiB, 21, 1, 0);			/* Q14 with 2 MiB pages */
	create_err(0, 4 * GiB, 12, 5, 0);			/* 9 * 5 + 12 >= 55 */
	create_err(0, 4 * GiB, 21, 4, 0);			/* 9 * 4 + 21 >= 55 */
	create_err(0, 4 * GiB, 11, 1, 0);			/* page shift too small */
	create_err(0, 1ull << 50, 46, 1, 0);			/* too large */
	create_err(0x1000, 4 * GiB, 16, 2, 0);			/* offset not page aligned */
	create_err(0 - 4 * GiB, 4 * GiB, 12, 2, 0);		/* ends at 2^64 */
	create_err(UINT64_MAX & ~0xfffull, 4 * GiB, 12, 2, 0);	/* wraps */
	create_err(0, 4 * GiB, 12, 2, 0x80);			/* unknown flag */

	struct tce_table_params p = { .window_size = 4 * GiB, .page_shift = 12, .levels = 2,
				      .flags = TCE_TABLE_ON_NODE, .node = 4096 };
	struct tce_table *t = NULL;

	TU_ERR(tce_table_create(&p, &t), EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_uint_eq(emu_blocks(), 0);
	p.node = emu_mem_node();
	TU_OK(tce_table_create(&p, &t));
	ck_assert_int_eq(tce_table_node(t), p.node);
	put_clean(t);
}
END_TEST

START_TEST(it_size_enlarged_unless_strict)
{
	/* 1 MiB of 4 KiB TCEs: 256 entries, enlarged to PAGE_SIZE / 8 = 512 (Q9). */
	struct tce_table *t = create_ok(0, 1 * MiB, 12, 1, 0);
	struct tce_table *s = create_ok(0, 1 * MiB, 12, 1, TCE_TABLE_STRICT_SIZE);

	ck_assert_uint_eq(tce_table_geometry(t)->it_size, 512);
	ck_assert_uint_eq(tce_table_geometry(s)->it_size, 256);
	ck_assert_uint_eq(tce_table_geometry(t)->it_allocated_size,
			  tce_table_geometry(s)->it_allocated_size);
	set_ok(t, 511, 0x5000, 0x7000, TCE_DIR_BIDIRECTIONAL, NULL);
	set_ok(s, 255, 0x5000, 0x7000, TCE_DIR_BIDIRECTIONAL, NULL);
	TU_ERR(tce_table_xchg(s, 256, 0x5000, 0x7000, TCE_DIR_BIDIRECTIONAL, NULL, NULL, NULL), EINVAL);
	TU_ERR(tce_table_xchg(t, 512, 0x5000, 0x7000, TCE_DIR_BIDIRECTIONAL, NULL, NULL, NULL), EINVAL);
	clear_ok(t, 511, NULL);
	clear_ok(s, 255, NULL);
	put_clean(t);
	put_clean(s);

	/* 1 MiB of 64 KiB TCEs: 16 entries, enlarged to 512 (a 32 MiB window). */
	t = create_ok(0, 1 * MiB, 16, 2, 0);
	s = create_ok(0, 1 * MiB, 16, 2, TCE_TABLE_STRICT_SIZE);
	ck_assert_uint_eq(tce_table_geometry(t)->it_size, 512);
	ck_assert_uint_eq(tce_table_geometry(s)->it_size, 16);
	put_clean(t);
	put_clean(s);
}
END_TEST

/* ----------------------------------------------------------- entries */

START_TEST(xchg_semantics_and_raw_format)
{
	struct tce_table *t = create_ok(WIN2, 4 * GiB, 12, 2, 0);
	uint64_t e = (WIN2 >> 12) + 0x12345, raw = 0;
	struct old1 old;
	uint8_t bytes[8];

	/* WRITE is stored as READ | WRITE and reads back bidirectional; nothing was replaced. */
	set_ok(t, e, 0x123456789000ull, 0x7f0000001000ull, TCE_DIR_FROM_DEVICE, &old);
	ck_assert_uint_eq(old.calls, 0);
	assert_entry(t, e, 0x123456789000ull, TCE_DIR_BIDIRECTIONAL, 0x7f0000001000ull);
	ck_assert(hw_walk(t, e, &raw, NULL));
	memcpy(bytes, &raw, 8);
	/* Big-endian in memory: most significant byte first. */
	const uint8_t want[8] = { 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 0x90, 0x03 };

	ck_assert_mem_eq(bytes, want, 8);

	/* READ only stores 0x1; the old entry is reported as a run of one. */
	set_ok(t, e, 0xabc000ull, 0x2000ull, TCE_DIR_TO_DEVICE, &old);
	assert_old1(&old, e, 0x7f0000001000ull);
	ck_assert(hw_walk(t, e, &raw, NULL));
	ck_assert_uint_eq(raw, htobe64(0xabc001ull));
	set_ok(t, e, 0xdef000ull, 0x3000ull, TCE_DIR_BIDIRECTIONAL, &old);
	assert_old1(&old, e, 0x2000ull);
	ck_assert(hw_walk(t, e, &raw, NULL));
	ck_assert_uint_eq(raw, htobe64(0xdef003ull));
	TU_OK(tce_table_check(t));

	/* Clearing reports the old entry and stores 0 in both trees; an empty one reports nothing. */
	clear_ok(t, e, &old);
	assert_old1(&old, e, 0x3000ull);
	ck_assert(hw_walk(t, e, &raw, NULL));
	ck_assert_uint_eq(raw, 0);
	assert_entry(t, e, 0, TCE_DIR_NONE, 0);
	clear_ok(t, e, &old);
	ck_assert_uint_eq(old.calls, 0);
	put_clean(t);
}
END_TEST

START_TEST(xchg_rejections_change_nothing)
{
	struct tce_table *t = create_ok(WIN2, 4 * GiB, 12, 3, 0);
	uint64_t first = WIN2 >> 12, e = first + 77, blocks;
	struct old1 old = { .calls = 0 };

	set_ok(t, e, 0x5000, 0x6000, TCE_DIR_TO_DEVICE, NULL);
	blocks = emu_blocks();
	TU_ERR(tce_table_xchg(t, e, 0x5800, 0x6000, TCE_DIR_TO_DEVICE, NULL, collect_one, &old), EINVAL);
	TU_ERR(tce_table_xchg(t, e, 0x5000, 0x6800, TCE_DIR_TO_DEVICE, NULL, collect_one, &old), EINVAL);
	TU_ERR(tce_table_xchg(t, e, 0x5000, 0, TCE_DIR_TO_DEVICE, NULL, collect_one, &old), EINVAL);
	TU_ERR(tce_table_xchg(t, e, 0x5000, 0, TCE_DIR_NONE, NULL, collect_one, &old), EINVAL);
	TU_ERR(tce_table_xchg(t, e, 0, 0x6000, TCE_DIR_NONE, NULL, collect_one, &old), EINVAL);
	TU_ERR(tce_table_xchg(t, e, 0x5000, 0x6000, (enum tce_dir)4, NULL, collect_one, &old), EINVAL);
	TU_ERR(tce_table_xchg(t, first - 1, 0x5000, 0x6000, TCE_DIR_TO_DEVICE, NULL, collect_one,
			      &old), EINVAL);
	TU_ERR(tce_table_xchg(t, first + (1ull << 20), 0x5000, 0x6000, TCE_DIR_TO_DEVICE, NULL,
			      collect_one, &old), EINVAL);
	TU_ERR(tce_table_xchg(t, 77, 0, 0, TCE_DIR_NONE, NULL, collect_one, &old), EINVAL);
	ck_assert_uint_eq(old.calls, 0);	/* nothing reported */
	assert_entry(t, e, 0x5000, TCE_DIR_TO_DEVICE, 0x6000);
	ck_assert_uint_eq(emu_blocks(), blocks);

	uint64_t h = 1, u = 1;
	enum tce_dir d = TCE_DIR_TO_DEVICE;

	TU_ERR(tce_table_read(t, first - 1, &h, &d), EINVAL);
	TU_ERR(tce_table_shadow_read(t, first + (1ull << 20), &u), EINVAL);
	TU_ERR(tce_table_shadow_write(t, first - 1, 0x1000), EINVAL);
	ck_assert_uint_eq(h, 1);
	ck_assert_uint_eq(u, 1);
	ck_assert_uint_eq(d, TCE_DIR_TO_DEVICE);
	clear_ok(t, e, NULL);
	put_clean(t);
}
END_TEST

/* Mapping one entry makes one path only; a clear where nothing was allocates nothing. */
START_TEST(one_path_then_nothing_allocated_by_clear)
{
	struct tce_table *t = create_ok(0, 4 * GiB, 12, 3, 0);
	uint64_t e = (2ull << 18) + (3ull << 9) + 4, far = 100, blocks;
	const uint64_t one[3] = { 1, 1, 1 };
	struct old1 old;

	ck_assert_uint_eq(emu_blocks(), 2);
	assert_blocks(t, (const uint64_t[]){ 1 }, 1);
	set_ok(t, e, 0x10000, 0x20000, TCE_DIR_BIDIRECTIONAL, NULL);
	assert_blocks(t, one, 3);
	ck_assert_uint_eq(emu_blocks(), 6);

	/* Never-touched area: nothing allocated, old entry empty. */
	blocks = emu_blocks();
	clear_ok(t, far, &old);
	ck_assert_uint_eq(old.calls, 0);
	/* Same leaf block's sibling slot, and same top slot's other leaf: present levels. */
	clear_ok(t, e + 1, &old);
	ck_assert_uint_eq(old.calls, 0);
	clear_ok(t, e + 512, &old);
	ck_assert_uint_eq(old.calls, 0);
	assert_entry(t, far, 0, TCE_DIR_NONE, 0);
	uint64_t cleared = 7;

	TU_OK(tce_table_unmap(t, far, 1000, NULL, NULL, NULL, &cleared));
	ck_assert_uint_eq(cleared, 0);
	ck_assert_uint_eq(emu_blocks(), blocks);
	assert_blocks(t, one, 3);
	assert_entry(t, e, 0x10000, TCE_DIR_BIDIRECTIONAL, 0x20000);
	clear_ok(t, e, NULL);
	put_clean(t);
}
END_TEST

/* Every level is found by its own index bits. */
START_TEST(index_decomposition_in_raw_memory)
{
	struct tce_table *t = create_ok(WIN2, 4 * GiB, 12, 3, 0);
	const struct tce_geometry *g = tce_table_geometry(t);
	/* K = 2, S = 9: top slot 3, middle slot 5, leaf slot 7. */
	uint64_t i = (3ull << 18) | (5ull << 9) | 7, raw, slot = 0, hpa;
	const uint64_t want[3] = { 3, 5, 7 };

	ck_assert_uint_eq(g->it_level_size, 512);
	ck_assert_uint_eq(g->it_indirect_levels, 2);
	set_ok(t, g->it_offset + i, 0xfeed000, 0xbeef000, TCE_DIR_TO_DEVICE, NULL);
	ck_assert_uint_eq((i >> (2 * 9)) & 511, 3);

	/* Each block holds exactly one non-zero word, at the slot of its index bits. */
	hpa = tce_table_hpa(t);
	for (unsigned d = 0; d < 3; d++) {
		const uint64_t *blk = emu_mem_table_hva(hpa, 1ull << g->level_shift);

		ck_assert_uint_eq(block_nonzero(t, hpa, &slot), 1);
		ck_assert_uint_eq(slot, want[d]);
		raw = be64toh(blk[slot]);
		if (d < 2) {
			ck_assert_uint_eq(raw & TCE_PCI_RW, TCE_PCI_RW);
			hpa = raw & ~TCE_PCI_RW;
		} else {
			ck_assert_uint_eq(raw, 0xfeed001);
		}
	}
	clear_ok(t, g->it_offset + i, NULL);
	put_clean(t);
}
END_TEST

/* Populates entries of @n leaf block numbers of a 3-level 4K table (S = 9). */
static void populate_blocks(struct tce_table *t, const uint64_t *leaf_blocks, unsigned n,
			    unsigned per_block)
{
	const struct tce_geometry *g = tce_table_geometry(t);

	for (unsigned b = 0; b < n; b++)
		for (unsigned k = 0; k < per_block; k++) {
			uint64_t i = (leaf_blocks[b] << 9) + k * 37 % 512;

			set_ok(t, g->it_offset + i, (i + 1) << 12, (i + 7) << 12,
			       k & 1 ? TCE_DIR_TO_DEVICE : TCE_DIR_BIDIRECTIONAL, NULL);
		}
}

/* Bulk clear skips missing leaf blocks, through the tree walk and through the leaf list. */
START_TEST(bulk_clear_skips_missing_blocks)
{
	static const uint64_t leaves[] = { 0, 2, 5, 600, 1023, 2047 };
	static const unsigned n = sizeof(leaves) / sizeof(leaves[0]);

	for (int pass = 0; pass < 3; pass++) {
		struct tce_table *t = create_ok(WIN2, 4 * GiB, 12, 3, 0);
		const struct tce_geometry *g = tce_table_geometry(t);
		static struct olds o;
		uint64_t cleared = 0, blocks, first, npages;

		populate_blocks(t, leaves, n, 5);
		ck_assert_uint_eq(stats(t).hw_level_blocks[2], n);
		ck_assert_uint_eq(stats(t).leaf_nodes, n);
		blocks = emu_blocks();
		memset(&o, 0, sizeof(o));
		if (pass == 0) {
			/* The whole window: leaf list (6 leaves for 2048 leaf slots). */
			first = g->it_offset;
			npages = g->it_size;
		} else if (pass == 1) {
			/* Leaf blocks 0..5 only: 6 slots, not more than 6 leaves: tree walk. */
			first = g->it_offset;
			npages = 6 * 512;
		} else {
			/* A run starting and ending inside blocks: partial leaves. */
			first = g->it_offset + 2 * 512 + 37;
			npages = 600 * 512 + 74 - (2 * 512 + 37) + 1;
		}
		TU_OK(tce_table_unmap(t, first, npages, NULL, collect_old, &o, &cleared));
		ck_assert_uint_eq(emu_blocks(), blocks);
		ck_assert_uint_eq(cleared, o.n);
		qsort(o.v, o.n, sizeof(o.v[0]), cmp_old);

		/* Exactly the populated entries inside the run, with their old values. */
		size_t m = 0;

		for (unsigned b = 0; b < n; b++)
			for (unsigned k = 0; k < 5; k++) {
				uint64_t i = (leaves[b] << 9) + k * 37 % 512, e = g->it_offset + i;
				bool inside = e >= first && e - first < npages;
				enum tce_dir d = k & 1 ? TCE_DIR_TO_DEVICE : TCE_DIR_BIDIRECTIONAL;

				if (!inside) {
					assert_entry(t, e, (i + 1) << 12, d, (i + 7) << 12);
					clear_ok(t, e, NULL);
					continue;
				}
				assert_entry(t, e, 0, TCE_DIR_NONE, 0);
				ck_assert_uint_lt(m, o.n);
				ck_assert_uint_eq(o.v[m].entry, e);
				ck_assert_uint_eq(o.v[m].ua, (i + 7) << 12);
				m++;
			}
		ck_assert_uint_eq(m, o.n);
		ck_assert_uint_eq(o.n, pass == 0 ? 30 : pass == 1 ? 15 : 4 + 5 + 3);
		ck_assert_uint_eq(o.runs, o.n);	/* scattered entries: runs of one */
		put_clean(t);
	}
}
END_TEST

START_TEST(unmap_rejections_and_one_level)
{
	struct tce_table *t = create_ok(0, 2 * GiB, 12, 1, 0);
	static struct olds o;
	uint64_t cleared = 5, hpa[3] = { 0x1000, 0x2000, 0x3000 };

	TU_ERR(tce_table_unmap(t, 0, 0, NULL, NULL, NULL, &cleared), EINVAL);
	TU_ERR(tce_table_unmap(t, 1, 1ull << 19, NULL, NULL, NULL, &cleared), EINVAL);
	TU_ERR(tce_table_unmap(t, UINT64_MAX, 2, NULL, NULL, NULL, &cleared), EINVAL);
	ck_assert_uint_eq(cleared, 5);
	TU_OK(tce_table_map(t, (1ull << 19) - 3, 3, hpa, 0x10000, TCE_DIR_TO_DEVICE, NULL, NULL,
			    NULL));
	ck_assert_uint_eq(stats(t).leaf_nodes, 0);
	TU_OK(tce_table_unmap(t, 0, 1ull << 19, NULL, collect_old, &o, &cleared));
	ck_assert_uint_eq(cleared, 3);
	/* Three entries of consecutive pages: one run. */
	ck_assert_uint_eq(o.calls, 1);
	ck_assert_uint_eq(o.runs, 1);
	ck_assert_uint_eq(o.r[0].entry, (1ull << 19) - 3);
	ck_assert_uint_eq(o.r[0].ua, 0x10000);
	ck_assert_uint_eq(o.r[0].n, 3);
	ck_assert_uint_eq(o.v[2].entry, (1ull << 19) - 1);
	ck_assert_uint_eq(o.v[2].ua, 0x12000);
	put_clean(t);
}
END_TEST

START_TEST(map_runs_across_leaf_blocks)
{
	/* Both write modes: atomic exchanges, and the single writer's loads and stores. */
	for (int serial = 0; serial < 2; serial++) {
		struct kills k = { 0 };
		struct tce_table *t = create_kill_ok(WIN2, 4 * GiB, 3,
						     serial ? TCE_TABLE_SERIAL_WRITERS : 0, &k);
		const struct tce_geometry *g = tce_table_geometry(t);
		uint64_t first = g->it_offset + 1000, npages = 1500, *hpa;
		static struct olds o;
		struct tce_kill_batch kb;

		hpa = calloc(npages, sizeof(*hpa));
		ck_assert_ptr_nonnull(hpa);
		for (uint64_t j = 0; j < npages; j++)
			hpa[j] = ((j * 7919) % 100000 + 1) << 12;
		/* Two entries valid before: they are reported as replaced. */
		set_ok(t, first + 10, 0x111000, 0x222000, TCE_DIR_TO_DEVICE, NULL);
		set_ok(t, first + 1400, 0x333000, 0x444000, TCE_DIR_BIDIRECTIONAL, NULL);
		memset(&o, 0, sizeof(o));
		tce_kill_batch_init(&kb, t);
		TU_OK(tce_table_map(t, first, npages, hpa, 0x7f0000000000ull, TCE_DIR_FROM_DEVICE,
				    &kb, collect_old, &o));
		assert_olds(&o, 2, (const uint64_t[]){ first + 10, first + 1400 },
			    (const uint64_t[]){ 0x222000, 0x444000 });
		ck_assert_uint_eq(tce_kill_batch_ranges(&kb), 1);
		tce_kill_batch_flush(&kb);
		ck_assert_uint_eq(k.n, 1);
		ck_assert_uint_eq(k.first[0], first);
		ck_assert_uint_eq(k.npages[0], npages);
		for (uint64_t j = 0; j < npages; j++) {
			uint64_t raw = 0;

			ck_assert(hw_walk(t, first + j, &raw, NULL));
			ck_assert_uint_eq(be64toh(raw), hpa[j] | TCE_PCI_RW);
			assert_entry(t, first + j, hpa[j], TCE_DIR_BIDIRECTIONAL,
				     0x7f0000000000ull + (j << 12));
		}
		assert_entry(t, first - 1, 0, TCE_DIR_NONE, 0);
		assert_entry(t, first + npages, 0, TCE_DIR_NONE, 0);
		/* Leaf blocks 1..4 (indexes 1000..2499), one middle block, the top. */
		assert_blocks(t, (const uint64_t[]){ 1, 1, 4 }, 3);
		TU_OK(tce_table_check(t));
		uint64_t cleared = 0;

		/*
		 * The clear of a run of pages: one tce_old_run per leaf block at
		 * most (the leaf list visits blocks in any order; runs extend only
		 * upwards), every entry with its page.
		 */
		memset(&o, 0, sizeof(o));
		TU_OK(tce_table_unmap(t, g->it_offset, g->it_size, NULL, collect_old, &o, &cleared));
		ck_assert_uint_eq(cleared, npages);
		ck_assert_uint_le(o.runs, 4);
		ck_assert_uint_eq(o.n, npages);
		qsort(o.v, o.n, sizeof(o.v[0]), cmp_old);
		for (uint64_t j = 0; j < npages; j++) {
			ck_assert_uint_eq(o.v[j].entry, first + j);
			ck_assert_uint_eq(o.v[j].ua, 0x7f0000000000ull + (j << 12));
		}
		free(hpa);
		put_clean(t);
	}
}
END_TEST

START_TEST(map_rejections_change_nothing)
{
	struct tce_table *t = create_ok(0, 4 * GiB, 12, 3, 0);
	uint64_t hpa[600], blocks = emu_blocks();

	for (unsigned j = 0; j < 600; j++)
		hpa[j] = (uint64_t)(j + 1) << 12;
	hpa[599] |= 0x800;	/* unaligned: found before anything is written or allocated */
	TU_ERR(tce_table_map(t, 100, 600, hpa, 0x10000, TCE_DIR_TO_DEVICE, NULL, NULL, NULL),
	       EINVAL);
	hpa[599] &= ~0x800ull;
	TU_ERR(tce_table_map(t, 100, 0, hpa, 0x10000, TCE_DIR_TO_DEVICE, NULL, NULL, NULL),
	       EINVAL);
	TU_ERR(tce_table_map(t, (1ull << 20) - 599, 600, hpa, 0x10000, TCE_DIR_TO_DEVICE, NULL,
			     NULL, NULL), EINVAL);
	TU_ERR(tce_table_map(t, 100, 600, hpa, 0, TCE_DIR_TO_DEVICE, NULL, NULL, NULL), EINVAL);
	TU_ERR(tce_table_map(t, 100, 600, hpa, 0x10800, TCE_DIR_TO_DEVICE, NULL, NULL, NULL),
	       EINVAL);
	TU_ERR(tce_table_map(t, 100, 600, hpa, UINT64_MAX & ~0xfffull, TCE_DIR_TO_DEVICE, NULL,
			     NULL, NULL), EINVAL);
	TU_ERR(tce_table_map(t, 100, 600, hpa, 0x10000, TCE_DIR_NONE, NULL, NULL, NULL), EINVAL);
	TU_ERR(tce_table_map(t, 100, 600, hpa, 0x10000, (enum tce_dir)4, NULL, NULL, NULL),
	       EINVAL);
	ck_assert_uint_eq(emu_blocks(), blocks);
	TU_OK(tce_table_check(t));
	put_clean(t);
}
END_TEST

START_TEST(map_enomem_is_all_or_nothing)
{
	uint64_t hpa[1100];
	unsigned n;

	for (unsigned j = 0; j < 1100; j++)
		hpa[j] = (uint64_t)(j + 1) << 12;
	/* Fail each allocation the map needs in turn; no entry may change. */
	for (n = 1;; n++) {
		struct tce_table *t = create_ok(0, 4 * GiB, 12, 3, 0);
		int rc;

		set_ok(t, 700, 0xaa000, 0xbb000, TCE_DIR_TO_DEVICE, NULL);
		util_fail_nth_arm(n);
		rc = tce_table_map(t, 400, 1100, hpa, 0x10000, TCE_DIR_BIDIRECTIONAL, NULL, NULL, NULL);
		if (!util_fail_nth_fired()) {
			util_fail_nth_arm(0);
			TU_OK(rc);
			put_clean(t);
			break;
		}
		util_fail_nth_arm(0);
		TU_ERR(rc, ENOMEM);
		for (uint64_t e = 400; e < 1500; e++)
			if (e == 700)
				assert_entry(t, e, 0xaa000, TCE_DIR_TO_DEVICE, 0xbb000);
			else
				assert_entry(t, e, 0, TCE_DIR_NONE, 0);
		put_clean(t);
	}
	/* Leaves 0 and 2 are new, each with a node and a shadow twin: 2 * 3 points. */
	ck_assert_uint_eq(n - 1, 6);
}
END_TEST

/*
 * tce_table_store: the hypercall path's single-writer store of ready
 * values.  Across leaf blocks, in both simd modes: every entry as given
 * (valid ones and clears), exactly the entries that held a ua reported (as
 * runs of one here), no kill; a missing level is -ENOMEM before anything
 * is written, unless only zeros would go there; test builds reject values
 * that break T2, lack READ or are unaligned; a table without
 * TCE_TABLE_SERIAL_WRITERS is refused.
 */
START_TEST(store_reports_old_shadow_and_needs_reserve)
{
	for (int avx2 = 0; avx2 < 2; avx2++) {
		struct kills k = { 0 };
		struct tce_table *t = create_kill_ok(WIN2, 4 * GiB, 3, TCE_TABLE_SERIAL_WRITERS, &k);
		const struct tce_geometry *g = tce_table_geometry(t);
		uint64_t first = g->it_offset + 1000, npages = 1500, *hw, *sh, blocks;
		static struct olds o;

		util_simd_select(avx2);
		hw = calloc(npages, sizeof(*hw));
		sh = calloc(npages, sizeof(*sh));
		ck_assert(hw && sh);
		memset(&o, 0, sizeof(o));
		/* Zeros into missing blocks: nothing to do, nothing allocated or reported. */
		blocks = emu_blocks();
		TU_OK(tce_table_store(t, first, npages, hw, sh, collect_old, &o));
		ck_assert_uint_eq(emu_blocks(), blocks);
		ck_assert_uint_eq(o.calls, 0);
		for (uint64_t j = 0; j < npages; j++) {
			hw[j] = htobe64((((j * 7919) % 100000 + 1) << 12) | (j % 3 ? TCE_PCI_RW : TCE_PCI_READ));
			sh[j] = htobe64(0x7f0000000000ull + (j << 12));
		}
		hw[700] = sh[700] = 0;	/* a clear in the middle */
		/* Not reserved: nothing written, nothing allocated. */
		TU_ERR(tce_table_store(t, first, npages, hw, sh, collect_old, &o), ENOMEM);
		ck_assert_uint_eq(emu_blocks(), blocks);
		TU_ERR(tce_table_store(t, first, 0, hw, sh, collect_old, &o), EINVAL);
		TU_ERR(tce_table_store(t, g->it_offset + g->it_size - 10, 11, hw, sh, collect_old, &o),
		       EINVAL);
		set_ok(t, first + 10, 0x111000, 0x222000, TCE_DIR_TO_DEVICE, NULL);
		set_ok(t, first + 700, 0x555000, 0x666000, TCE_DIR_TO_DEVICE, NULL);
		set_ok(t, first + 1400, 0x333000, 0x444000, TCE_DIR_BIDIRECTIONAL, NULL);
		TU_OK(tce_table_reserve(t, first, npages));
		/* Test builds check the values: T2, READ, alignment. */
		sh[3] = 0;
		TU_ERR(tce_table_store(t, first, npages, hw, sh, collect_old, &o), EINVAL);
		sh[3] = htobe64(0x7f0000000000ull + (3 << 12));
		hw[4] = htobe64(0x9000 | TCE_PCI_WRITE);
		TU_ERR(tce_table_store(t, first, npages, hw, sh, collect_old, &o), EINVAL);
		hw[4] = htobe64(0x9800 | TCE_PCI_READ);
		TU_ERR(tce_table_store(t, first, npages, hw, sh, collect_old, &o), EINVAL);
		hw[4] = htobe64(0x9000 | TCE_PCI_READ);
		assert_entry(t, first + 3, 0, TCE_DIR_NONE, 0);
		ck_assert_uint_eq(o.calls, 0);
		TU_OK(tce_table_store(t, first, npages, hw, sh, collect_old, &o));
		ck_assert_uint_eq(o.calls, 1);
		assert_olds(&o, 3, (const uint64_t[]){ first + 10, first + 700, first + 1400 },
			    (const uint64_t[]){ 0x222000, 0x666000, 0x444000 });
		for (uint64_t j = 0; j < npages; j++) {
			uint64_t v = be64toh(hw[j]);

			if (j == 700)
				assert_entry(t, first + j, 0, TCE_DIR_NONE, 0);
			else
				assert_entry(t, first + j, v & ~TCE_PCI_RW, tce_dir_from_bits(v),
					     0x7f0000000000ull + (j << 12));
		}
		assert_entry(t, first - 1, 0, TCE_DIR_NONE, 0);
		assert_entry(t, first + npages, 0, TCE_DIR_NONE, 0);
		ck_assert_uint_eq(k.n, 0);
		TU_OK(tce_table_check(t));
		/* Over what it stored: one run per stretch of consecutive pages, 700 split them. */
		memset(&o, 0, sizeof(o));
		TU_OK(tce_table_store(t, first, npages, hw, sh, collect_old, &o));
		ck_assert_uint_eq(o.runs, 2);
		ck_assert_uint_eq(o.r[0].entry, first);
		ck_assert_uint_eq(o.r[0].ua, 0x7f0000000000ull);
		ck_assert_uint_eq(o.r[0].n, 700);
		ck_assert_uint_eq(o.r[1].entry, first + 701);
		ck_assert_uint_eq(o.r[1].ua, 0x7f0000000000ull + (701 << 12));
		ck_assert_uint_eq(o.r[1].n, npages - 701);
		TU_OK(tce_table_unmap(t, g->it_offset, g->it_size, NULL, NULL, NULL, NULL));
		put_clean(t);
		/* Only the single writer's tables take it. */
		t = create_ok(WIN2, 4 * GiB, 12, 3, 0);
		TU_OK(tce_table_reserve(t, first, npages));
		TU_ERR(tce_table_store(t, first, npages, hw, sh, collect_old, &o), EINVAL);
		assert_entry(t, first, 0, TCE_DIR_NONE, 0);
		free(hw);
		free(sh);
		put_clean(t);
	}
}
END_TEST

/* A tce_fill_fn over an array of hpas, keeping count of its calls. */
struct array_fill {
	const uint64_t *hpa;
	uint64_t calls, next_k;	/* calls so far; the k the next call must start at */
	uint64_t max_n;		/* largest n of a call */
	uint64_t drop_bits;	/* bits left out of entry 9 (a faulty fill) */
};

static void array_fill(void *ctx, uint64_t k, uint64_t n, uint64_t bits, uint64_t *hw)
{
	struct array_fill *f = ctx;

	ck_assert_uint_eq(k, f->next_k);	/* block after block, in order */
	for (uint64_t x = 0; x < n; x++)
		__atomic_store_n(&hw[x], htobe64(f->hpa[k + x] | (k + x == 9 ? bits & ~f->drop_bits : bits)),
				 __ATOMIC_RELEASE);
	f->calls++;
	f->next_k = k + n;
	if (n > f->max_n)
		f->max_n = n;
}

/* A store_run over the whole run of npages: f's counters and o restarted. */
static int store_run(struct tce_table *t, uint64_t first, uint64_t npages, uint64_t bits,
		     uint64_t ua, struct array_fill *f, struct olds *o)
{
	struct tce_run run = { ua, bits, array_fill, f };

	f->calls = f->next_k = f->max_n = 0;
	o->n = o->calls = o->runs = 0;
	return tce_table_store_run(t, first, npages, &run, collect_old, o);
}

/*
 * tce_table_store_run: a run of consecutive pages across leaf blocks, in
 * both simd modes.  Every entry is hpa[k] | bits over ua + k pages, the
 * hardware side written by the fill one leaf block per call, in order;
 * a run replacing a run is reported as one tce_old_run, anything else as
 * the runs the old entries make; bad bits or ua are -EINVAL and a missing
 * level -ENOMEM, both with nothing written and the fill never called; a
 * fill that drops READ is caught by the invariant checker.
 */
START_TEST(store_run_reports_old_run)
{
	for (int avx2 = 0; avx2 < 2; avx2++) {
		struct kills k = { 0 };
		struct tce_table *t = create_kill_ok(WIN2, 4 * GiB, 3, TCE_TABLE_SERIAL_WRITERS, &k);
		const struct tce_geometry *g = tce_table_geometry(t);
		uint64_t first = g->it_offset + 1000, npages = 1500, *hpa, blocks;
		uint64_t ua = 0x7f0000000000ull, ua2 = 0x7e0000000000ull, per_block;
		struct array_fill f = { 0 };
		static struct olds o;

		util_simd_select(avx2);
		hpa = calloc(npages, sizeof(*hpa));
		ck_assert(hpa);
		for (uint64_t j = 0; j < npages; j++)
			hpa[j] = ((j * 7919) % 100000 + 1) << 12;
		f.hpa = hpa;
		per_block = g->it_level_size;
		blocks = emu_blocks();
		TU_ERR(store_run(t, first, npages, TCE_PCI_RW, ua, &f, &o), ENOMEM);
		ck_assert_uint_eq(emu_blocks(), blocks);
		ck_assert_uint_eq(f.calls, 0);
		TU_OK(tce_table_reserve(t, first, npages));
		TU_ERR(store_run(t, first, npages, TCE_PCI_WRITE, ua, &f, &o), EINVAL);
		TU_ERR(store_run(t, first, npages, TCE_PCI_RW | 4, ua, &f, &o), EINVAL);
		TU_ERR(store_run(t, first, npages, TCE_PCI_RW, ua + 8, &f, &o), EINVAL);
		TU_ERR(store_run(t, first, npages, TCE_PCI_RW, 0, &f, &o), EINVAL);
		TU_ERR(store_run(t, first, 0, TCE_PCI_RW, ua, &f, &o), EINVAL);
		ck_assert_uint_eq(f.calls, 0);
		assert_entry(t, first, 0, TCE_DIR_NONE, 0);
		ck_assert_uint_eq(o.calls, 0);

		/* Over empty entries: nothing reported; one fill per leaf block. */
		TU_OK(store_run(t, first, npages, TCE_PCI_RW, ua, &f, &o));
		ck_assert_uint_eq(o.calls, 0);
		ck_assert_uint_eq(f.next_k, npages);
		ck_assert_uint_eq(f.calls, (first - g->it_offset + npages - 1) / per_block -
					  (first - g->it_offset) / per_block + 1);
		ck_assert_uint_le(f.max_n, per_block);
		for (uint64_t j = 0; j < npages; j++)
			assert_entry(t, first + j, hpa[j], TCE_DIR_BIDIRECTIONAL, ua + (j << 12));
		/* A run over a run: one tce_old_run, across the leaf blocks. */
		TU_OK(store_run(t, first, npages, TCE_PCI_READ, ua2, &f, &o));
		ck_assert_uint_eq(o.calls, 1);
		ck_assert_uint_eq(o.runs, 1);
		ck_assert_uint_eq(o.r[0].entry, first);
		ck_assert_uint_eq(o.r[0].ua, ua);
		ck_assert_uint_eq(o.r[0].n, npages);
		for (uint64_t j = 0; j < npages; j++)
			assert_entry(t, first + j, hpa[j], TCE_DIR_TO_DEVICE, ua2 + (j << 12));
		/* One old entry out of step (in a later block than the first): three runs. */
		set_ok(t, first + 600, 0x5000, 0x6000, TCE_DIR_TO_DEVICE, NULL);
		TU_OK(store_run(t, first, npages, TCE_PCI_RW, ua, &f, &o));
		ck_assert_uint_eq(o.runs, 3);
		ck_assert_uint_eq(o.n, npages);
		for (uint64_t j = 0; j < npages; j++) {
			ck_assert_uint_eq(o.v[j].entry, first + j);
			ck_assert_uint_eq(o.v[j].ua, j == 600 ? 0x6000 : ua2 + (j << 12));
		}
		/* One old entry cleared: not reported. */
		clear_ok(t, first + npages - 1, NULL);
		TU_OK(store_run(t, first, npages, TCE_PCI_RW, ua2, &f, &o));
		ck_assert_uint_eq(o.runs, 1);
		ck_assert_uint_eq(o.r[0].entry, first);
		ck_assert_uint_eq(o.r[0].ua, ua);
		ck_assert_uint_eq(o.r[0].n, npages - 1);
		ck_assert_uint_eq(k.n, 0);
		TU_OK(tce_table_check(t));
		/* A fill that leaves an entry without READ: the checker says so. */
		f.drop_bits = TCE_PCI_READ;
		TU_OK(store_run(t, first, npages, TCE_PCI_RW, ua, &f, &o));
		fprintf(stderr, "store_run_reports_old_run: one checker message expected:\n");
		ck_assert_int_eq(tce_table_check(t), -EUCLEAN);
		f.drop_bits = 0;
		TU_OK(store_run(t, first, npages, TCE_PCI_RW, ua, &f, &o));
		TU_OK(tce_table_check(t));
		TU_OK(tce_table_unmap(t, g->it_offset, g->it_size, NULL, NULL, NULL, NULL));
		put_clean(t);
		/* Only the single writer's tables take it. */
		t = create_ok(WIN2, 4 * GiB, 12, 3, 0);
		TU_OK(tce_table_reserve(t, first, npages));
		TU_ERR(store_run(t, first, npages, TCE_PCI_RW, ua, &f, &o), EINVAL);
		ck_assert_uint_eq(f.calls, 0);
		assert_entry(t, first, 0, TCE_DIR_NONE, 0);
		free(hpa);
		put_clean(t);
	}
}
END_TEST

/*
 * A tce_old_fn that checks every reported entry already holds its new
 * values, shadow and hardware (entry first + j: new_ua + (j << 12) and
 * hpa (j + 1) << 12, read and write).
 */
struct overwritten {
	struct tce_table *t;
	uint64_t first, new_ua;
	unsigned stale;		/* entries reported before they were overwritten */
	struct olds o;
};

static void check_overwritten(void *ctx, const struct tce_old_run *run, size_t n)
{
	struct overwritten *w = ctx;

	for (size_t i = 0; i < n; i++)
		for (uint64_t k = 0, u = 0, hpa = 0; k < run[i].n; k++) {
			uint64_t e = run[i].entry + k;
			enum tce_dir dir;

			TU_OK(tce_table_shadow_read(w->t, e, &u));	/* reads: harmless here */
			TU_OK(tce_table_read(w->t, e, &hpa, &dir));
			w->stale += u != w->new_ua + ((e - w->first) << 12) ||
				    hpa != (e - w->first + 1) << 12 || dir != TCE_DIR_BIDIRECTIONAL;
		}
	collect_old(&w->o, run, n);
}

/* The old ua of entry first + @j in store_reports_only_overwritten_entries. */
static uint64_t old_ua(int kind, uint64_t j)
{
	return kind < 2 ? 0x100000000ull + (j << 13) : 0x100000000ull + ((j / 3) << 15) + ((j % 3) << 12);
}

/*
 * More old runs than a batch holds, in both stores: scattered old pages
 * (runs of one), and for the run store also old runs of three pages (each
 * a vector pass of its own): the store reads a piece, stores it (shadow
 * and hardware), and only then hands the full batch over, so the callback
 * never sees an entry that still holds its old value (the container gives
 * counts back right after the kill).
 */
START_TEST(store_reports_only_overwritten_entries)
{
	for (int kind = 0; kind < 3; kind++) {
		struct kills k = { 0 };
		struct tce_table *t = create_kill_ok(WIN2, 4 * GiB, 3, TCE_TABLE_SERIAL_WRITERS, &k);
		uint64_t first = tce_table_geometry(t)->it_offset + 1000, npages = 1500;
		uint64_t *hw = calloc(npages, sizeof(*hw)), *sh = calloc(npages, sizeof(*sh));
		uint64_t *hpa = calloc(npages, sizeof(*hpa));
		static struct overwritten w;
		struct array_fill f = { 0 };

		ck_assert(hw && sh && hpa);
		memset(&w, 0, sizeof(w));
		w.t = t;
		w.first = first;
		w.new_ua = 0x7f0000000000ull;
		TU_OK(tce_table_reserve(t, first, npages));
		for (uint64_t j = 0; j < npages; j++) {
			/* Every other page (kind 2: every other run of three): no run continues another. */
			set_ok(t, first + j, 0x1000, old_ua(kind, j), TCE_DIR_TO_DEVICE, NULL);
			hpa[j] = (j + 1) << 12;
			hw[j] = htobe64(hpa[j] | TCE_PCI_RW);
			sh[j] = htobe64(w.new_ua + (j << 12));
		}
		if (kind == 0) {
			TU_OK(tce_table_store(t, first, npages, hw, sh, check_overwritten, &w));
		} else {
			struct tce_run run = { w.new_ua, TCE_PCI_RW, array_fill, &f };

			f.hpa = hpa;
			TU_OK(tce_table_store_run(t, first, npages, &run, check_overwritten, &w));
			ck_assert_uint_eq(f.next_k, npages);
		}
		ck_assert_uint_eq(w.stale, 0);
		ck_assert_uint_eq(w.o.n, npages);
		ck_assert_uint_eq(w.o.runs, kind == 2 ? npages / 3 : npages);
		ck_assert_uint_eq(w.o.calls, (w.o.runs + TCE_OLD_BATCH - 1) / TCE_OLD_BATCH);
		for (uint64_t j = 0; j < npages; j++) {
			ck_assert_uint_eq(w.o.v[j].entry, first + j);
			ck_assert_uint_eq(w.o.v[j].ua, old_ua(kind, j));
			assert_entry(t, first + j, hpa[j], TCE_DIR_BIDIRECTIONAL, w.new_ua + (j << 12));
		}
		ck_assert_uint_eq(k.n, 0);
		TU_OK(tce_table_check(t));
		TU_OK(tce_table_unmap(t, first, npages, NULL, NULL, NULL, NULL));
		free(hw);
		free(sh);
		free(hpa);
		put_clean(t);
	}
}
END_TEST

/*
 * The one single-writer flag: xchg, map and unmap of a
 * TCE_TABLE_SERIAL_WRITERS table give the same entries and reports as of
 * any other table.
 */
/*
 * The bulk clear of dense runs (a one-writer table clears them 64 slots at
 * a time) against the slot by slot one: 300 entries across a leaf block
 * boundary with holes inside chunks, at their edges and at the run's ends,
 * cleared over a range starting and ending inside chunks.  Both write
 * modes: the same entries cleared and reported (each maximal run of pages
 * once, none across a hole), each cleared entry inside a killed range and
 * no kill outside the range, the rest left, the table consistent.
 */
START_TEST(unmap_dense_runs_with_holes)
{
	static const uint64_t holes[] = { 400, 463, 464, 511, 512, 513, 577, 600, 601, 602, 603, 699 };
	const uint64_t base = 400, npages = 300, lo = 430, hi = 690;	/* clear [lo, hi] */

	for (int serial = 0; serial < 2; serial++) {
		struct kills k = { 0 };
		struct tce_table *t = create_kill_ok(0, 4 * GiB, 3,
						     serial ? TCE_TABLE_SERIAL_WRITERS : 0, &k);
		static struct olds o;
		struct tce_kill_batch kb;
		uint64_t hpa[300], cleared = 0, want = 0, prev = 0;
		size_t runs = 0;

		for (uint64_t j = 0; j < npages; j++)
			hpa[j] = (j * 13 + 5) << 12;
		TU_OK(tce_table_map(t, base, npages, hpa, 0x50000000, TCE_DIR_BIDIRECTIONAL, NULL, NULL,
				    NULL));
		for (size_t h = 0; h < sizeof(holes) / sizeof(holes[0]); h++)
			clear_ok(t, holes[h], NULL);
		memset(&o, 0, sizeof(o));
		tce_kill_batch_init(&kb, t);
		TU_OK(tce_table_unmap(t, lo, hi - lo + 1, &kb, collect_old, &o, &cleared));
		tce_kill_batch_flush(&kb);
		for (uint64_t e = base; e < base + npages; e++) {
			bool hole = false, inside = e >= lo && e <= hi, killed = false;

			for (size_t h = 0; h < sizeof(holes) / sizeof(holes[0]); h++)
				hole |= holes[h] == e;
			for (unsigned x = 0; x < k.n; x++)
				killed |= e >= k.first[x] && e < k.first[x] + k.npages[x];
			if (inside && !hole) {
				ck_assert_uint_eq(o.v[want].entry, e);
				ck_assert_uint_eq(o.v[want].ua, 0x50000000 + ((e - base) << 12));
				ck_assert(killed);
				runs += !want || prev != e - 1;
				prev = e;
				want++;
				assert_entry(t, e, 0, TCE_DIR_NONE, 0);
			} else if (!hole) {
				assert_entry(t, e, hpa[e - base], TCE_DIR_BIDIRECTIONAL,
					     0x50000000 + ((e - base) << 12));
			}
		}
		for (unsigned x = 0; x < k.n; x++)
			ck_assert(k.first[x] >= lo && k.first[x] + k.npages[x] <= hi + 1);
		ck_assert_uint_eq(cleared, want);
		ck_assert_uint_eq(o.n, want);
		ck_assert_uint_eq(o.runs, runs);	/* each maximal run once */
		ck_assert_uint_eq(runs, 5);		/* 430-462, 465-510, 514-576, 578-599, 604-690 */
		TU_OK(tce_table_check(t));
		TU_OK(tce_table_unmap(t, 0, 1024, NULL, NULL, NULL, &cleared));
		ck_assert_uint_eq(cleared, npages - sizeof(holes) / sizeof(holes[0]) - want);
		put_clean(t);
	}
}
END_TEST

START_TEST(serial_writers_same_results)
{
	for (int serial = 0; serial < 2; serial++) {
		struct tce_table *t = create_ok(0, 4 * GiB, 12, 3,
						serial ? TCE_TABLE_SERIAL_WRITERS : 0);
		static struct olds o;
		struct old1 one;
		uint64_t hpa[8], cleared = 0;

		for (unsigned j = 0; j < 8; j++)
			hpa[j] = (uint64_t)(j + 1) << 12;
		set_ok(t, 700, 0xaa000, 0xbb000, TCE_DIR_TO_DEVICE, &one);
		ck_assert_uint_eq(one.calls, 0);
		set_ok(t, 700, 0xcc000, 0xdd000, TCE_DIR_BIDIRECTIONAL, &one);
		assert_old1(&one, 700, 0xbb000);
		memset(&o, 0, sizeof(o));
		TU_OK(tce_table_map(t, 698, 8, hpa, 0x40000, TCE_DIR_TO_DEVICE, NULL, collect_old, &o));
		assert_olds(&o, 1, (const uint64_t[]){ 700 }, (const uint64_t[]){ 0xdd000 });
		memset(&o, 0, sizeof(o));
		TU_OK(tce_table_unmap(t, 0, 1ull << 20, NULL, collect_old, &o, &cleared));
		ck_assert_uint_eq(cleared, 8);
		ck_assert_uint_eq(o.runs, 1);
		ck_assert_uint_eq(o.r[0].entry, 698);
		ck_assert_uint_eq(o.r[0].ua, 0x40000);
		ck_assert_uint_eq(o.r[0].n, 8);
		clear_ok(t, 700, &one);
		ck_assert_uint_eq(one.calls, 0);
		put_clean(t);
	}
}
END_TEST

/*
 * The written map: each writer marks the units (512 entries, one system page
 * of a leaf block, in a 1-level 2 GiB window's single 4 MiB block) it stores
 * valid entries into; clears mark nothing; failures mark nothing.  A clear
 * scans only marked units: an entry planted in raw memory of an unmarked
 * unit is missed by the whole-window clear and reported by the checker (T6).
 */
START_TEST(written_map_limits_clears_to_written_units)
{
	struct tce_table *t = create_ok(0, 2 * GiB, 12, 1, TCE_TABLE_SERIAL_WRITERS);
	const struct tce_geometry *g = tce_table_geometry(t);
	uint64_t hpa[3] = { 0x1000, 0x2000, 0x3000 }, hw[2], sh[2];
	uint64_t cleared = 0, *blk, slot = 1;
	struct array_fill f = { .hpa = hpa };
	static struct olds o;

	ck_assert_uint_eq(stats(t).unit_entries, 512);
	ck_assert_uint_eq(stats(t).written_units, 0);
	/* Clears, rejections and a store of nothing valid mark nothing. */
	clear_ok(t, 7, NULL);
	TU_ERR(tce_table_xchg(t, 7, 0x1001, 0x2000, TCE_DIR_TO_DEVICE, NULL, NULL, NULL), EINVAL);
	TU_ERR(tce_table_map(t, 600, 3, hpa, 0x1008, TCE_DIR_TO_DEVICE, NULL, NULL, NULL),
	       EINVAL);
	TU_OK(tce_table_unmap(t, 0, g->it_size, NULL, NULL, NULL, &cleared));
	ck_assert_uint_eq(cleared, 0);
	ck_assert_uint_eq(stats(t).written_units, 0);

	set_ok(t, 5, 0x5000, 0x6000, TCE_DIR_TO_DEVICE, NULL);			/* unit 0 */
	ck_assert_uint_eq(stats(t).written_units, 1);
	TU_OK(tce_table_map(t, 2 * 512 - 1, 3, hpa, 0x10000, TCE_DIR_BIDIRECTIONAL, NULL, NULL,
			    NULL));					/* units 1, 2 */
	ck_assert_uint_eq(stats(t).written_units, 3);
	TU_OK(tce_table_reserve(t, 600 * 512 + 1, 2));
	ck_assert_uint_eq(stats(t).written_units, 3);
	TU_OK(store_run(t, 600 * 512 + 1, 2, TCE_PCI_RW, 0x20000, &f, &o));	/* 600 */
	ck_assert_uint_eq(stats(t).written_units, 4);
	hw[0] = htobe64(0x7000 | TCE_PCI_READ);
	sh[0] = htobe64(0x8000);
	hw[1] = sh[1] = 0;
	TU_OK(tce_table_store(t, 1023 * 512 + 510, 2, hw, sh, collect_old, &o));		/* 1023 */
	ck_assert_uint_eq(stats(t).written_units, 5);
	TU_OK(tce_table_check(t));

	/* An entry planted in unit 700, which no writer marked. */
	blk = emu_mem_table_hva(tce_table_hpa(t), 4 * MiB);
	ck_assert_ptr_nonnull(blk);
	ck_assert_uint_eq(block_nonzero(t, tce_table_hpa(t), &slot), 7);
	blk[700 * 512 + 3] = htobe64(0x9000 | TCE_PCI_READ);
	TU_OK(tce_table_shadow_write(t, 700 * 512 + 3, 0xa000));	/* marks it: shadow write */
	ck_assert_uint_eq(stats(t).written_units, 6);
	TU_OK(tce_table_check(t));
	blk[701 * 512] = htobe64(0x9000 | TCE_PCI_READ);
	fprintf(stderr, "written_map_limits_clears_to_written_units: checker messages expected:\n");
	ck_assert_int_eq(tce_table_check(t), -EUCLEAN);

	/* The whole window: every marked unit's entries, and not the planted one. */
	memset(&o, 0, sizeof(o));
	TU_OK(tce_table_unmap(t, 0, g->it_size, NULL, collect_old, &o, &cleared));
	ck_assert_uint_eq(cleared, 1 + 3 + 2 + 1 + 1);
	ck_assert_uint_eq(o.n, cleared);
	qsort(o.v, o.n, sizeof(o.v[0]), cmp_old);
	ck_assert_uint_eq(o.v[0].entry, 5);
	ck_assert_uint_eq(o.v[1].entry, 2 * 512 - 1);
	ck_assert_uint_eq(o.v[3].entry, 2 * 512 + 1);
	ck_assert_uint_eq(o.v[4].entry, 600 * 512 + 1);
	ck_assert_uint_eq(o.v[6].entry, 700 * 512 + 3);
	ck_assert_uint_eq(o.v[6].ua, 0xa000);
	ck_assert_uint_eq(o.v[7].entry, 1023 * 512 + 510);
	ck_assert_uint_eq(be64toh(blk[701 * 512]), 0x9000 | TCE_PCI_READ);
	blk[701 * 512] = 0;
	ck_assert_uint_eq(block_nonzero(t, tce_table_hpa(t), &slot), 0);
	/* Marks stay after the clear (a superset is enough). */
	ck_assert_uint_eq(stats(t).written_units, 6);
	put_clean(t);
}
END_TEST

/* The unit grows with the table so that the map keeps at most 2^18 bits. */
START_TEST(written_map_unit_of_large_tables)
{
	static const struct {
		uint64_t window;
		unsigned shift, levels;
		uint64_t unit;
	} c[] = {
		{ 1 * MiB, 12, 1, 512 },	/* 512 entries (Q9): one unit */
		{ 1ull << 39, 12, 3, 512 },	/* 2^27 entries: 2^18 units */
		{ 1ull << 40, 12, 4, 1024 },	/* 2^28 entries */
		{ 1ull << 50, 16, 4, 1ull << 16 },	/* 2^34 entries */
	};

	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct tce_table *t = create_ok(0, c[i].window, c[i].shift, c[i].levels, 0);
		const struct tce_geometry *g = tce_table_geometry(t);
		uint64_t last = g->it_size - 1, cleared = 0;

		ck_assert_uint_eq(stats(t).unit_entries, c[i].unit);
		set_ok(t, 0, 0x1000ull << (c[i].shift - 12), 0x1000ull << (c[i].shift - 12),
		       TCE_DIR_TO_DEVICE, NULL);
		set_ok(t, c[i].unit - 1, 0x2000ull << (c[i].shift - 12),
		       0x2000ull << (c[i].shift - 12), TCE_DIR_TO_DEVICE, NULL);
		ck_assert_uint_eq(stats(t).written_units, 1);
		set_ok(t, last, 0x3000ull << (c[i].shift - 12), 0x3000ull << (c[i].shift - 12),
		       TCE_DIR_TO_DEVICE, NULL);
		ck_assert_uint_eq(stats(t).written_units, last < c[i].unit ? 1 : 2);
		TU_OK(tce_table_check(t));
		TU_OK(tce_table_unmap(t, 0, g->it_size, NULL, NULL, NULL, &cleared));
		ck_assert_uint_eq(cleared, last == c[i].unit - 1 ? 2 : 3);
		put_clean(t);
	}
}
END_TEST

START_TEST(shadow_access)
{
	struct tce_table *t = create_ok(0, 4 * GiB, 12, 3, 0);
	uint64_t ua = 1;

	TU_OK(tce_table_shadow_read(t, 5000, &ua));
	ck_assert_uint_eq(ua, 0);
	ck_assert_uint_eq(emu_blocks(), 2);
	/* A shadow write allocates the shadow path only. */
	TU_OK(tce_table_shadow_write(t, 5000, 0x9000));
	ck_assert_uint_eq(stats(t).hw_blocks, 1);
	ck_assert_uint_eq(stats(t).shadow_blocks, 3);
	TU_OK(tce_table_shadow_read(t, 5000, &ua));
	ck_assert_uint_eq(ua, 0x9000);
	/* A shadow entry without a valid hardware entry breaks T2. */
	fprintf(stderr, "shadow_access: one checker message expected:\n");
	ck_assert_int_eq(tce_table_check(t), -EUCLEAN);
	TU_OK(tce_table_shadow_write(t, 5000, 0));
	TU_OK(tce_table_check(t));
	put_clean(t);
}
END_TEST

/* ------------------------------------------------------------- kills */

START_TEST(kill_batch_merges_ranges)
{
	struct kills k = { 0 };
	struct tce_table *t = create_kill_ok(0, 4 * GiB, 2, 0, &k);
	struct tce_kill_batch b;

	tce_kill_batch_init(&b, t);
	tce_kill_batch_add(&b, 10, 5);
	tce_kill_batch_add(&b, 15, 5);		/* adjacent */
	tce_kill_batch_add(&b, 12, 2);		/* inside */
	tce_kill_batch_add(&b, 40, 1);
	tce_kill_batch_add(&b, 5, 5);		/* adjacent before */
	tce_kill_batch_add(&b, 30, 0);		/* ignored */
	tce_kill_batch_add(&b, 35, 5);		/* closes onto 40 */
	ck_assert_uint_eq(tce_kill_batch_ranges(&b), 2);
	tce_kill_batch_flush(&b);
	ck_assert_uint_eq(k.n, 2);
	ck_assert_uint_eq(k.first[0], 5);
	ck_assert_uint_eq(k.npages[0], 15);
	ck_assert_uint_eq(k.first[1], 35);
	ck_assert_uint_eq(k.npages[1], 6);
	ck_assert_uint_eq(tce_kill_batch_ranges(&b), 0);
	tce_kill_batch_flush(&b);
	ck_assert_uint_eq(k.n, 2);

	/* Twelve disjoint ranges: the smallest gaps are merged across, nothing is lost. */
	k.n = 0;
	for (unsigned r = 0; r < 12; r++)
		tce_kill_batch_add(&b, 1000 - r * 50 - (r == 5 ? 40 : 0), 2);
	ck_assert_uint_eq(tce_kill_batch_ranges(&b), TCE_KILL_BATCH_RANGES);
	tce_kill_batch_flush(&b);
	ck_assert_uint_eq(k.n, TCE_KILL_BATCH_RANGES);
	for (unsigned r = 0; r < 12; r++) {
		uint64_t e = 1000 - r * 50 - (r == 5 ? 40 : 0);
		bool covered = false;

		for (unsigned i = 0; i < k.n; i++)
			covered |= e >= k.first[i] && e + 2 <= k.first[i] + k.npages[i];
		ck_assert_msg(covered, "range at %llu lost", (unsigned long long)e);
	}
	for (unsigned i = 1; i < k.n; i++)
		ck_assert_uint_gt(k.first[i], k.first[i - 1] + k.npages[i - 1]);
	put_clean(t);
}
END_TEST

START_TEST(kill_once_per_operation_absolute_entries)
{
	struct kills k = { 0 };
	struct tce_table *t = create_kill_ok(WIN2, 4 * GiB, 3, 0, &k);
	uint64_t base = WIN2 >> 12, hpa[100], cleared = 0;
	struct tce_kill_batch b;

	for (unsigned j = 0; j < 100; j++)
		hpa[j] = (uint64_t)(j + 1) << 12;
	/* MAP of 100 pages: one kill of the whole run, nothing before the flush. */
	tce_kill_batch_init(&b, t);
	TU_OK(tce_table_map(t, base + 500, 100, hpa, 0x100000, TCE_DIR_TO_DEVICE, &b, NULL, NULL));
	ck_assert_uint_eq(k.n, 0);
	tce_kill_batch_flush(&b);
	ck_assert_uint_eq(k.n, 1);
	ck_assert_uint_eq(k.first[0], base + 500);
	ck_assert_uint_eq(k.npages[0], 100);

	/* Entry by entry into one batch: still one kill. */
	k.n = 0;
	for (unsigned j = 0; j < 20; j++)
		TU_OK(tce_table_xchg(t, base + 600 + j, 0x1000, 0x2000, TCE_DIR_TO_DEVICE, &b, NULL,
				     NULL));
	/* Clearing empty entries adds nothing. */
	TU_OK(tce_table_xchg(t, base + 9000, 0, 0, TCE_DIR_NONE, &b, NULL, NULL));
	tce_kill_batch_flush(&b);
	ck_assert_uint_eq(k.n, 1);
	ck_assert_uint_eq(k.first[0], base + 600);
	ck_assert_uint_eq(k.npages[0], 20);

	/* UNMAP over a hole: the two valid runs, merged, one flush. */
	k.n = 0;
	TU_OK(tce_table_xchg(t, base + 570, 0, 0, TCE_DIR_NONE, NULL, NULL, NULL));
	TU_OK(tce_table_unmap(t, base, 1ull << 20, &b, NULL, NULL, &cleared));
	ck_assert_uint_eq(cleared, 119);
	ck_assert_uint_eq(k.n, 0);
	tce_kill_batch_flush(&b);
	ck_assert_uint_eq(k.n, 2);
	ck_assert_uint_eq(k.first[0], base + 500);
	ck_assert_uint_eq(k.npages[0], 70);
	ck_assert_uint_eq(k.first[1], base + 571);
	ck_assert_uint_eq(k.npages[1], 49);
	put_clean(t);
}
END_TEST

/* --------------------------------------------------- references, checker */

START_TEST(references)
{
	struct tce_table *t = create_ok(0, 4 * GiB, 12, 3, 0);

	set_ok(t, 123456, 0x1000, 0x2000, TCE_DIR_TO_DEVICE, NULL);
	TU_OK(tce_table_get(t));
	TU_OK(tce_table_get(t));
	ck_assert_uint_eq(stats(t).refs, 3);
	tce_table_put(t);
	tce_table_put(t);
	ck_assert_uint_eq(stats(t).refs, 1);
	ck_assert_uint_eq(emu_blocks(), 6);
	assert_entry(t, 123456, 0x1000, TCE_DIR_TO_DEVICE, 0x2000);
	/* The last put frees every block, populated ones included, without a clear. */
	tce_table_put(t);
	ck_assert_uint_eq(emu_blocks(), 0);
}
END_TEST

START_TEST(checker_finds_corruption)
{
	struct tce_table *t = create_ok(0, 1 * MiB, 12, 2, TCE_TABLE_STRICT_SIZE);
	uint64_t raw, slots[2], *leaf, hpa;

	ck_assert_uint_eq(tce_table_geometry(t)->it_size, 256);
	set_ok(t, 3, 0x4000, 0x5000, TCE_DIR_TO_DEVICE, NULL);
	ck_assert(hw_walk(t, 3, &raw, slots));
	memcpy(&hpa, emu_mem_table_hva(tce_table_hpa(t), 4096), 8);
	leaf = emu_mem_table_hva(be64toh(hpa) & ~TCE_PCI_RW, 4096);
	ck_assert_ptr_nonnull(leaf);
	fprintf(stderr, "checker_finds_corruption: checker messages expected:\n");

	leaf[3] = htobe64(0x4000 | TCE_PCI_WRITE);	/* WRITE without READ */
	ck_assert_int_eq(tce_table_check(t), -EUCLEAN);
	leaf[3] = htobe64(0x4800 | TCE_PCI_READ);	/* unaligned */
	ck_assert_int_eq(tce_table_check(t), -EUCLEAN);
	leaf[3] = 0;					/* shadow without hardware */
	ck_assert_int_eq(tce_table_check(t), -EUCLEAN);
	leaf[3] = htobe64(0x4000 | TCE_PCI_READ);
	TU_OK(tce_table_check(t));
	leaf[300] = htobe64(0x8000 | TCE_PCI_READ);	/* beyond it_size */
	ck_assert_int_eq(tce_table_check(t), -EUCLEAN);
	leaf[300] = 0;
	/* An indirect entry without READ | WRITE. */
	uint64_t *top = emu_mem_table_hva(tce_table_hpa(t), 4096);

	top[0] = htobe64(be64toh(top[0]) & ~TCE_PCI_WRITE);
	ck_assert_int_eq(tce_table_check(t), -EUCLEAN);
	top[0] = htobe64(be64toh(top[0]) | TCE_PCI_WRITE);
	TU_OK(tce_table_check(t));
	clear_ok(t, 3, NULL);
	put_clean(t);
}
END_TEST

/* ------------------------------------------------------------- sweep */

struct sweep {
	unsigned runs, site_create, site_node, site_emu, site_other;
	const char *site;	/* of the failure in the last run (tu_sweep disarms before check) */
};

static const uint64_t sweep_entries[] = { 5, 1000, (2ull << 18) + 3, (1ull << 20) - 1 };

/* Asserts a failed operation left @e as it was: empty. */
static void assert_untouched(struct tce_table *t, uint64_t e)
{
	assert_entry(t, e, 0, TCE_DIR_NONE, 0);
	TU_OK(tce_table_check(t));
}

static int sweep_run(void *ctx)
{
	struct sweep *sw = ctx;
	struct tce_table *t;
	uint64_t hpa[700], cleared = 0;
	int rc;

	rc = create_rc(0, 4 * GiB, 12, 3, 0, &t);
	sw->site = util_fail_nth_site();
	if (rc)
		return rc;
	for (unsigned i = 0; i < sizeof(sweep_entries) / sizeof(sweep_entries[0]); i++) {
		uint64_t e = sweep_entries[i];

		rc = tce_table_xchg(t, e, (e + 1) << 12, (e + 2) << 12, TCE_DIR_BIDIRECTIONAL, NULL,
				    NULL, NULL);
		if (rc) {
			assert_untouched(t, e);
			goto out_put;
		}
	}
	for (unsigned j = 0; j < 700; j++)
		hpa[j] = (uint64_t)(j + 1) << 12;
	/* Across three leaf blocks (513 to 515) under a new middle block. */
	rc = tce_table_map(t, (1ull << 18) + 1000, 700, hpa, 0x100000, TCE_DIR_TO_DEVICE, NULL, NULL,
			   NULL);
	if (rc) {
		for (uint64_t e = (1ull << 18) + 1000; e < (1ull << 18) + 1700; e++)
			assert_entry(t, e, 0, TCE_DIR_NONE, 0);
		TU_OK(tce_table_check(t));
		goto out_put;
	}
	TU_OK(tce_table_check(t));
	TU_OK(tce_table_unmap(t, 0, 1ull << 20, NULL, NULL, NULL, &cleared));
	ck_assert_uint_eq(cleared, 704);
out_put:
	TU_OK(tce_table_check(t));
	tce_table_put(t);
	sw->site = util_fail_nth_site();
	return rc;
}

static void sweep_check(void *ctx, int rc)
{
	struct sweep *sw = ctx;
	const char *site = sw->site;

	sw->runs++;
	if (rc) {
		ck_assert_int_eq(rc, -ENOMEM);
		ck_assert_ptr_nonnull(site);
		sw->site_create += !strcmp(site, "tce_table_create");
		sw->site_node += !strcmp(site, "tce_leaf_node");
		sw->site_emu += !strcmp(site, "emu_table_alloc");
		/* emu's own bookkeeping (its block map growing) fails as ENOMEM too. */
		sw->site_other += !!strcmp(site, "tce_table_create") &&
				  !!strcmp(site, "tce_leaf_node") && !!strcmp(site, "emu_table_alloc");
	}
	tu_assert_emu_clean();
}

START_TEST(fail_nth_sweep)
{
	struct sweep sw = { 0 };
	unsigned points = tu_sweep(sweep_run, sweep_check, &sw);

	/*
	 * create: 1 + 2 top blocks; entry 5: hardware middle, leaf node,
	 * shadow middle, shadow leaf, hardware leaf (5); entry 1000: a leaf
	 * under the same middle (3); (2 << 18) + 3 and the last entry: new
	 * middles (5 each); map: a new middle (5) and two more leaves (3 each).
	 */
	ck_assert_uint_eq(points - sw.site_other, 3 + 5 + 3 + 5 + 5 + 11);
	ck_assert_uint_eq(sw.site_create, 1);
	ck_assert_uint_eq(sw.site_node, 7);
	ck_assert_uint_eq(sw.site_emu, 24);
	ck_assert_uint_eq(sw.runs, points + 2);	/* clean, each point, the last clean */
}
END_TEST

static Suite *tce_suite(void)
{
	Suite *s = suite_create("tce");
	TCase *t;

	t = tcase_create("geometry");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, size_formula_spec_test_59);
	tcase_add_test(t, size_formula_hand_computed);
	tcase_add_test(t, size_formula_rejections);
	tcase_add_test(t, geometry_every_level_and_page_shift);
	tcase_add_test(t, geometry_second_window_offset);
	tcase_add_test(t, geometry_rejections_allocate_nothing);
	tcase_add_test(t, it_size_enlarged_unless_strict);
	suite_add_tcase(s, t);

	t = tcase_create("entries");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, xchg_semantics_and_raw_format);
	tcase_add_test(t, xchg_rejections_change_nothing);
	tcase_add_test(t, one_path_then_nothing_allocated_by_clear);
	tcase_add_test(t, index_decomposition_in_raw_memory);
	tcase_add_test(t, bulk_clear_skips_missing_blocks);
	tcase_add_test(t, unmap_rejections_and_one_level);
	tcase_add_test(t, map_runs_across_leaf_blocks);
	tcase_add_test(t, map_rejections_change_nothing);
	tcase_add_test(t, map_enomem_is_all_or_nothing);
	tcase_add_test(t, store_reports_old_shadow_and_needs_reserve);
	tcase_add_test(t, store_run_reports_old_run);
	tcase_add_test(t, store_reports_only_overwritten_entries);
	tcase_add_test(t, serial_writers_same_results);
	tcase_add_test(t, unmap_dense_runs_with_holes);
	tcase_add_test(t, shadow_access);
	tcase_add_test(t, written_map_limits_clears_to_written_units);
	tcase_add_test(t, written_map_unit_of_large_tables);
	suite_add_tcase(s, t);

	t = tcase_create("kill");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, kill_batch_merges_ranges);
	tcase_add_test(t, kill_once_per_operation_absolute_entries);
	suite_add_tcase(s, t);

	t = tcase_create("lifetime");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, references);
	tcase_add_test(t, checker_finds_corruption);
	tcase_add_test(t, fail_nth_sweep);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(tce_suite());
}
