/* SPDX-License-Identifier: MIT */
/*
 * The single writer's store: tce_table_store, the hypercall path's map.
 *
 * tce_table_map serves MAP_DMA, where writers may race on entries and every
 * replaced entry must reach exactly one of them through a callback.  A
 * hypercall writes under its window's write_lock, after tce_table_reserve:
 * nobody else writes these entries and no level can be missing.  That lets
 * the store skip what tce_table_map pays for per entry:
 *
 *   - no allocation and no failure after the checks: one read-only walk per
 *     leaf block, before any entry is written;
 *   - no callback per replaced entry: the old shadow values are copied out
 *     as they are (big-endian), and the caller finds their regions a run at a
 *     time.  By invariant T2 a shadow entry is non-zero exactly when its
 *     hardware entry is valid, so the shadow alone says what was replaced;
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
#include <string.h>

#include "tce/tce_priv.h"
#include "util/range.h"
#include "util/simd.h"

/* Leaf blocks whose walk is remembered between the check and the stores. */
#define STORE_LEAVES 4u

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
		    const uint64_t *sh_be, uint64_t *old_be)
{
	uint64_t first, end, i, next, *hws[STORE_LEAVES], *shs[STORE_LEAVES];
	unsigned b;
	int rc;

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
	for (i = first, b = 0; i < end; i = next, b++) {
		uint64_t *hw, *sh, j = i & t->level_mask, k = i - first;

		block(t, b, i, hws, shs, &hw, &sh);
		next = (i | t->level_mask) + 1;
		if (next > end)
			next = end;
		if (!hw || !sh) {
			/* Only zeros go there, and a missing block reads as zeros already. */
			memset(old_be + k, 0, (next - i) * sizeof(uint64_t));
			continue;
		}
		/* The block's shadow entries first, then its hardware entries. */
		util_store_xfer(sh + j, sh_be + k, old_be + k, next - i);
		util_store_copy(hw + j, hw_be + k, next - i);
	}
	return 0;
}

int tce_table_store_run(struct tce_table *t, uint64_t entry, uint64_t npages,
			const struct tce_run *run, uint64_t *old_be, uint64_t *old_ua)
{
	uint64_t first, end, i, next, *hws[STORE_LEAVES], *shs[STORE_LEAVES], o, step;
	unsigned shift = t->geo.it_page_shift, b;
	bool seq;
	int rc;

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
	/*
	 * Did the old entries hold a run of pages (stable: we are the only
	 * writer)?  Then their values need not be copied out: reading them
	 * first costs less than storing them.
	 */
	step = 1ull << shift;
	o = be64toh(__atomic_load_n(&shs[0][first & t->level_mask], __ATOMIC_RELAXED));
	seq = o && o + ((npages - 1) << shift) >= o;
	for (i = first, b = 0; seq && i < end; i = next, b++) {
		uint64_t *hw, *sh, j = i & t->level_mask, k = i - first;

		block(t, b, i, hws, shs, &hw, &sh);
		next = (i | t->level_mask) + 1;
		if (next > end)
			next = end;
		seq = util_be64_seq_len(sh + j, o + (k << shift), step, next - i) == next - i;
	}
	for (i = first, b = 0; i < end; i = next, b++) {
		uint64_t *hw, *sh, j = i & t->level_mask, k = i - first;

		block(t, b, i, hws, shs, &hw, &sh);
		next = (i | t->level_mask) + 1;
		if (next > end)
			next = end;
		if (seq)
			util_store_be64_seq(sh + j, run->ua + (k << shift), step, next - i);
		else
			util_store_be64_seq_xfer(sh + j, run->ua + (k << shift), step, old_be + k,
						 next - i);
		run->fill(run->ctx, k, next - i, run->bits, hw + j);
	}
	*old_ua = seq ? o : 0;
	return 0;
}
