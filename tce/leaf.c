/* SPDX-License-Identifier: MIT */
/*
 * One entry at a time: the leaf blocks of an entry kept by the caller, and
 * the single writer's store of one entry into them (the H_PUT_TCE path).
 *
 * tce_table_store is built for runs: it validates the run, walks every
 * leaf block it crosses (both trees), scans the old shadow entries as runs
 * and reports them through a callback, and its caller kills through a
 * batch.  For one entry that machinery is most of the cost.  Here the
 * caller keeps the walk (struct tce_leaf) from one call to the next, since
 * blocks live until the table is destroyed; the store is the written map's
 * mark, one load and two stores; the old shadow ua comes back as a value;
 * and the kill is a direct call of the table's callback.  The entries are
 * stored exactly as tce_table_store and tce_table_unmap store them (each
 * word by one single-copy-atomic store; shadow before hardware when
 * mapping, hardware before shadow when clearing), so the invariants and
 * the emulated host bridge's concurrent walk see nothing new.
 */
#include <endian.h>
#include <errno.h>

#include "tce/tce_priv.h"
#include "util/simd.h"

int tce_table_leaf(const struct tce_table *t, uint64_t entry, struct tce_leaf *l)
{
	uint64_t idx, base;
	int rc = tce__run_index(t, entry, 1, &idx);

	if (rc)
		return rc;
	base = idx & ~t->level_mask;
	l->first = t->geo.it_offset + base;
	l->hw = tce__walk_ro(t, TCE__HW, idx);
	l->sh = tce__walk_ro(t, TCE__SHADOW, idx);
	/* The last block may be cut by the table's end: entries past it are not the table's. */
	l->end = l->hw && l->sh ? l->first + (t->geo.it_size - base < t->level_mask + 1
						      ? t->geo.it_size - base : t->level_mask + 1)
				: l->first;
	return 0;
}

int tce_leaf_store(struct tce_table *t, const struct tce_leaf *l, uint64_t entry, uint64_t hw_be,
		   uint64_t sh_be, uint64_t *old_ua)
{
	uint64_t j = entry - l->first, old;

	if (!(t->flags & TCE_TABLE_SERIAL_WRITERS))
		return -EINVAL;
#ifdef SPAPRTCE_DEBUG
	{
		uint64_t hw = be64toh(hw_be), mask = ((1ull << t->geo.it_page_shift) - 1) & ~TCE_PCI_RW;

		if (!tce_leaf_holds(l, entry) || !hw != !sh_be ||
		    (hw && (!(hw & TCE_PCI_READ) || (hw & mask) || (be64toh(sh_be) & mask))))
			return -EINVAL;
	}
#endif
	old = __atomic_load_n(&l->sh[j], __ATOMIC_RELAXED);
	*old_ua = be64toh(old);
	if (hw_be) {
		uint64_t u = (entry - t->geo.it_offset) >> t->unit_shift, bit = 1ull << (u & 63);

		/* tce__mark of one index: usually a load that finds the unit marked. */
		if (!(__atomic_load_n(&t->written[u >> 6], __ATOMIC_RELAXED) & bit))
			__atomic_fetch_or(&t->written[u >> 6], bit, __ATOMIC_RELAXED);
		util_store_shared(&l->sh[j], sh_be);
		util_store_shared(&l->hw[j], hw_be);
	} else if (old) {
		util_store_shared(&l->hw[j], 0);
		util_store_shared(&l->sh[j], 0);
	}
	util_store_release();
	return 0;
}

void tce_table_kill(struct tce_table *t, uint64_t entry, uint64_t npages)
{
	if (t->kill && npages)
		t->kill(t->kill_ctx, entry, npages);
}
