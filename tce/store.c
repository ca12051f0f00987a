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
 * The caller computes the entries (it knows its runs: consecutive pages
 * are filled four at a time, scattered ones one by one) and the store is
 * then copies only, done by util/simd.h's loops
 * (four entries at a time with AVX2).  Each entry is still written by one
 * store, so the emulated host bridge, which walks the table concurrently,
 * never sees a torn entry; within each leaf block the shadow entries are
 * stored before the hardware ones.
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
	/* A block must exist if it receives a valid entry; the first ones are kept. */
	for (i = first, b = 0; i < end; i = next, b++) {
		uint64_t *hw = tce__walk_ro(t, TCE__HW, i), *sh = tce__walk_ro(t, TCE__SHADOW, i);

		next = (i | t->level_mask) + 1;
		if (next > end)
			next = end;
		if ((!hw || !sh) && util_or_all(hw_be + (i - first), next - i))
			return -ENOMEM;	/* not reserved: nothing written */
		if (b < STORE_LEAVES) {
			hws[b] = hw && sh ? hw : NULL;
			shs[b] = sh;
		}
	}

	for (i = first, b = 0; i < end; i = next, b++) {
		uint64_t *hw = b < STORE_LEAVES ? hws[b] : tce__walk_ro(t, TCE__HW, i);
		uint64_t *sh = b < STORE_LEAVES ? shs[b] : tce__walk_ro(t, TCE__SHADOW, i);
		uint64_t j = i & t->level_mask, k = i - first;

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
