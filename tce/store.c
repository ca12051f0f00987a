/* SPDX-License-Identifier: MIT */
/*
 * The single writer's store: tce_table_store, the hypercall path's map.
 *
 * tce_table_map serves MAP_DMA, which allocates levels on the way and
 * needs the old hardware entry of each entry it replaces.  A hypercall
 * writes under its window's write_lock (the table has
 * TCE_TABLE_SERIAL_WRITERS), after tce_table_reserve: nobody else writes
 * these entries and no level can be missing.  That lets the store skip what
 * tce_table_map pays for per entry:
 *
 *   - no allocation and no failure after the checks: one read-only walk per
 *     leaf block, before any entry is written;
 *   - no look at the old hardware entries: by invariant T2 a shadow entry is
 *     non-zero exactly when its hardware entry is valid, so the old shadow
 *     alone says what was replaced.  It is read a run at a time (a run
 *     replacing a run, the common case, is one vector compare per four
 *     entries) and reported as runs through the usual tce_old_fn; the run
 *     store reads it in the same pass that stores the new shadow
 *     (util_store_be64_seq_over: each old entry checked just before its
 *     store, the pass going on while the old entries continue one run or
 *     stay empty), so that a run over a run or over nothing is one pass
 *     over the shadow, not a scan and then a store;
 *   - no kill bookkeeping: the caller kills its whole range once.
 *
 * tce_table_store takes the entries ready-made (scattered pages, clears);
 * tce_table_store_run takes a run of consecutive user pages as its first ua
 * and a fill that writes its hardware entries straight into each leaf block
 * (the hpas are known below us, in mmreg and emu), so that a run, the common
 * case, costs one pass over the table and none over a buffer.  The loops
 * are util/simd.h's (four entries at a time with AVX2), and the fill's
 * follow its rules.  Each entry is still written by one store, so the
 * emulated host bridge, which walks the table concurrently, never sees a
 * torn entry; within each leaf block the shadow entries are stored before
 * the hardware ones.
 */
#include <endian.h>
#include <errno.h>

#include "tce/tce_priv.h"
#include "util/range.h"
#include "util/simd.h"

/* Leaf blocks whose walk is remembered between the check and the stores. */
#define STORE_LEAVES 4u

/*
 * Collects the valid entries among the shadow words @sh[0, n) (entries
 * @entry ...) as runs, before they are overwritten.  By T2 a non-zero
 * shadow word marks a valid entry; a run ends where the pages stop being
 * consecutive (or would wrap).  A segment that starts empty is first
 * checked whole, so a store over empty entries costs one vector pass.
 * Returns how many words it took: fewer than @n when the batch is full
 * (the caller stores those, flushes, and scans on, so that the callback
 * sees only entries already overwritten).
 */
static uint64_t old_scan(struct tce__old_buf *b, const uint64_t *sh, uint64_t entry, uint64_t n)
{
	uint64_t k = 0, step = 1ull << b->shift;

	if (!b->fn || (!__atomic_load_n(&sh[0], __ATOMIC_RELAXED) && !util_or_all(sh, n)))
		return n;
	while (k < n) {
		uint64_t ua = be64toh(__atomic_load_n(&sh[k], __ATOMIC_RELAXED)), max, len;

		if (!ua) {
			k++;
			continue;
		}
		if (b->n == TCE_OLD_BATCH && !tce__old_continues(b, entry + k, ua))
			return k;
		max = ((UINT64_MAX - ua) >> b->shift) + 1;
		/* Scattered pages (runs of one) spare the vector loop's call. */
		if (k + 1 < n && __atomic_load_n(&sh[k + 1], __ATOMIC_RELAXED) != htobe64(ua + step))
			len = 1;
		else
			len = util_be64_seq_len(sh + k, ua, step, n - k < max ? n - k : max);
		tce__old_add(b, entry + k, ua, len);
		k += len;
	}
	return n;
}

#ifdef SPAPRTCE_DEBUG
/* Test builds: every value as the invariants want it (T2, READ, alignment). */
static bool values_ok(const struct tce_table *t, const uint64_t *hw_be, const uint64_t *sh_be,
		      uint64_t n)
{
	uint64_t mask = ((1ull << t->geo.it_page_shift) - 1) & ~TCE_PCI_RW;

	for (uint64_t k = 0; k < n; k++) {
		uint64_t hw = be64toh(hw_be[k]);

		if (!hw != !sh_be[k] || (hw && (!(hw & TCE_PCI_READ) || (hw & mask) ||
						(be64toh(sh_be[k]) & mask))))
			return false;
	}
	return true;
}
#endif

/*
 * Walks the leaf blocks of indices [first, end) before anything is written:
 * -ENOMEM if a block that must receive a valid entry is missing (@valid
 * says, for the block of [i, next), whether it does).  The walks of the
 * first STORE_LEAVES blocks are kept in @hws, @shs (NULL for a missing one).
 */
static int check_blocks(struct tce_table *t, uint64_t first, uint64_t end, const uint64_t *hw_be,
			uint64_t *hws[], uint64_t *shs[])
{
	uint64_t i, next;
	unsigned b;

	for (i = first, b = 0; i < end; i = next, b++) {
		uint64_t *hw = tce__walk_ro(t, TCE__HW, i), *sh = tce__walk_ro(t, TCE__SHADOW, i);

		next = (i | t->level_mask) + 1;
		if (next > end)
			next = end;
		if ((!hw || !sh) && (!hw_be || util_or_all(hw_be + (i - first), next - i)))
			return -ENOMEM;	/* not reserved: nothing written */
		if (b < STORE_LEAVES) {
			hws[b] = hw && sh ? hw : NULL;
			shs[b] = sh;
		}
	}
	return 0;
}

/* Block @b (starting at index @i) of a store: its remembered walk, or a new one. */
static void block(struct tce_table *t, unsigned b, uint64_t i, uint64_t *hws[], uint64_t *shs[],
		  uint64_t **hw, uint64_t **sh)
{
	*hw = b < STORE_LEAVES ? hws[b] : tce__walk_ro(t, TCE__HW, i);
	*sh = b < STORE_LEAVES ? shs[b] : tce__walk_ro(t, TCE__SHADOW, i);
}

int tce_table_store(struct tce_table *t, uint64_t entry, uint64_t npages, const uint64_t *hw_be,
		    const uint64_t *sh_be, tce_old_fn old_fn, void *old_ctx)
{
	uint64_t first, end, i, next, *hws[STORE_LEAVES], *shs[STORE_LEAVES];
	struct tce__old_buf old;
	unsigned b;
	int rc;

	if (!(t->flags & TCE_TABLE_SERIAL_WRITERS))
		return -EINVAL;
	rc = tce__run_index(t, entry, npages, &first);
	if (rc)
		return rc;
#ifdef SPAPRTCE_DEBUG
	if (!values_ok(t, hw_be, sh_be, npages))
		return -EINVAL;
#endif
	end = first + npages;
	/* A block must exist if it receives a valid entry. */
	rc = check_blocks(t, first, end, hw_be, hws, shs);
	if (rc)
		return rc;
	tce__mark(t, first, end);	/* zeros too: a superset is enough */
	tce__old_init(&old, t, old_fn, old_ctx);
	for (i = first, b = 0; i < end; i = next, b++) {
		uint64_t *hw, *sh, j = i & t->level_mask, k = i - first;

		block(t, b, i, hws, shs, &hw, &sh);
		next = (i | t->level_mask) + 1;
		if (next > end)
			next = end;
		if (!hw || !sh)
			continue;	/* only zeros go there, and it reads as zeros already */
		/* Old entries read, then shadow entries stored, then hardware ones. */
		for (uint64_t s = 0, m, n = next - i; s < n; s += m) {
			m = old_scan(&old, sh + j + s, entry + k + s, n - s);
			if (m) {
				util_store_copy(sh + j + s, sh_be + k + s, m);
				util_store_copy(hw + j + s, hw_be + k + s, m);
			}
			if (s + m < n)
				tce__old_flush(&old);
		}
	}
	tce__old_flush(&old);
	return 0;
}

/* The hardware entries [from, to) of a run's piece of a leaf block, after their shadow. */
static void fill_to(const struct tce_run *run, uint64_t *hw, uint64_t k, uint64_t from, uint64_t to)
{
	if (to > from) {
		util_store_release();	/* the shadow entries before the hardware ones */
		run->fill(run->ctx, k + from, to - from, run->bits, hw + from);
	}
}

/*
 * A run's entries [0, n) of one leaf block (@sh, @hw; the run's entry @k,
 * the table's @entry): the shadow stored as a progression in passes fused
 * with the check of what they overwrite (util_store_be64_seq_over), each
 * old entry read just before its store, then the hardware entries filled.
 * A pass goes on while the old entries are empty, or while they continue
 * the run of pages the pass started on, and reports that run: over empty
 * entries or over one run of pages (a guest remapping its buffer), the
 * common cases, the block is one pass whose check costs a load and a
 * compare per four entries, and no per-entry work is left.  Scattered old
 * entries are runs of one, stored inline.  When the batch of old runs is
 * full, the hardware entries of the shadow stored so far are filled before
 * it is flushed: its callback sees only entries overwritten whole.
 */
static void store_block(struct tce__old_buf *ob, const struct tce_run *run, uint64_t *sh,
			uint64_t *hw, uint64_t entry, uint64_t k, uint64_t n)
{
	unsigned shift = ob->shift;
	uint64_t step = 1ull << shift, filled = 0, s, m;

	if (!ob->fn) {	/* nothing to report: nothing to check */
		util_store_be64_seq(sh, run->ua + (k << shift), step, n);
		fill_to(run, hw, k, 0, n);
		return;
	}
	for (s = 0; s < n; s += m) {
		uint64_t ua = be64toh(__atomic_load_n(&sh[s], __ATOMIC_RELAXED)), len = n - s;
		uint64_t ua_new = run->ua + ((k + s) << shift), next_old = ua ? htobe64(ua + step) : 0;

		if (ua) {
			uint64_t max = ((UINT64_MAX - ua) >> shift) + 1;	/* the old run cannot wrap */

			if (len > max)
				len = max;
			if (ob->n == TCE_OLD_BATCH && !tce__old_continues(ob, entry + s, ua)) {
				fill_to(run, hw, k, filled, s);
				filled = s;
				tce__old_flush(ob);
			}
		}
		if (len > 1 && __atomic_load_n(&sh[s + 1], __ATOMIC_RELAXED) != next_old) {
			util_store_shared(&sh[s], htobe64(ua_new));	/* a run of one */
			m = 1;
		} else {
			m = util_store_be64_seq_over(sh + s, ua_new, step, ua, ua ? step : 0, len);
			if (!m) {	/* only a second writer could do that: outside the contract */
				util_store_shared(&sh[s], htobe64(ua_new));
				m = 1;
			}
		}
		if (ua)
			tce__old_add(ob, entry + s, ua, m);
	}
	fill_to(run, hw, k, filled, n);
}

int tce_table_store_run(struct tce_table *t, uint64_t entry, uint64_t npages,
			const struct tce_run *run, tce_old_fn old_fn, void *old_ctx)
{
	uint64_t first, end, i, next, *hws[STORE_LEAVES], *shs[STORE_LEAVES];
	unsigned shift = t->geo.it_page_shift, b;
	struct tce__old_buf old;
	int rc;

	if (!(t->flags & TCE_TABLE_SERIAL_WRITERS))
		return -EINVAL;
	rc = tce__run_index(t, entry, npages, &first);
	if (rc)
		return rc;
	if (!(run->bits & TCE_PCI_READ) || (run->bits & ~TCE_PCI_RW) ||
	    !util_is_aligned(run->ua, shift) || !run->ua)
		return -EINVAL;
	end = first + npages;
	rc = check_blocks(t, first, end, NULL, hws, shs);	/* every entry is valid */
	if (rc)
		return rc;
	tce__mark(t, first, end);
	tce__old_init(&old, t, old_fn, old_ctx);
	for (i = first, b = 0; i < end; i = next, b++) {
		uint64_t *hw, *sh, j = i & t->level_mask, k = i - first;

		block(t, b, i, hws, shs, &hw, &sh);
		next = (i | t->level_mask) + 1;
		if (next > end)
			next = end;
		store_block(&old, run, sh + j, hw + j, entry + k, k, next - i);
	}
	tce__old_flush(&old);
	return 0;
}
