/* SPDX-License-Identifier: MIT */
/*
 * The two entry writes of KVM's hypercalls that the rest of tce/ never
 * makes, for quirks=kernel only (quirk Q12, docs/quirks.md; the caller is
 * spapr/hcall_kernel.c):
 *
 *   - a counted entry without permission bits: H_PUT_TCE_INDIRECT's second
 *     pass hands a TCE without READ and WRITE to kvmppc_tce_iommu_do_map,
 *     whose pnv_tce_xchg, asked for DMA_NONE, stores the page's hpa with no
 *     permission bits, allocating no level (a missing hardware level means
 *     nothing is written), while the user view gets the ua and the region
 *     keeps the mapped count it was given.  No device can use the entry
 *     (the host bridge faults on the missing permission), and every later
 *     clear or replacement looks at the permission bits only, finds none
 *     and gives nothing back: the count leaks for good.
 *   - kvmppc_clear_tce's clear: the hardware entry alone is zeroed, the
 *     user view is left as it was (a stale ua), nothing is reported.
 *
 * Both break the default mode's invariant T2 (tce/tce.h): a non-zero
 * shadow entry then no longer says that the hardware entry is valid, which
 * is why tce_table_store and tce_table_store_run (which rely on it) are
 * never used on a table in kernel mode, and why tce_table_check accepts
 * these two shapes only under quirks=kernel.
 */
#include <errno.h>

#include "tce/tce_priv.h"
#include "util/range.h"

int tce_table_map_noperm(struct tce_table *t, uint64_t entry, uint64_t hpa, uint64_t ua,
			 struct tce_kill_batch *kill, tce_old_fn old_fn, void *old_ctx)
{
	unsigned shift = t->geo.it_page_shift;
	bool serial = t->flags & TCE_TABLE_SERIAL_WRITERS;
	uint64_t idx, j, raw_hw = 0, raw_ua;
	uint64_t *hw, *sh;
	int rc;

	if (!tce_table_contains(t, entry) || !hpa || !util_is_aligned(hpa, shift) || !ua ||
	    !util_is_aligned(ua, shift))
		return -EINVAL;
	idx = entry - t->geo.it_offset;
	j = idx & t->level_mask;
	/* The user view first (IOMMU_TABLE_USERSPACE_ENTRY): its failure changes nothing. */
	rc = tce__walk(t, TCE__SHADOW, idx, true, &sh);
	if (rc)
		return rc;
	tce__mark(t, idx, idx + 1);
	raw_ua = __atomic_load_n(&sh[j], __ATOMIC_RELAXED);
	/* pnv_tce_xchg with DMA_NONE allocates no level: below a missing one, nothing is written. */
	tce__walk(t, TCE__HW, idx, false, &hw);
	if (hw)
		raw_hw = tce__exchange(&hw[j], htobe64(hpa), serial);
	tce__exchange(&sh[j], htobe64(ua), serial);
	if (kill && (hw || (be64toh(raw_hw) & TCE_PCI_RW)))
		tce_kill_batch_add(kill, entry, 1);
	if (old_fn && (be64toh(raw_hw) & TCE_PCI_RW)) {
		struct tce_old_run r = { entry, be64toh(raw_ua), 1 };

		old_fn(old_ctx, &r, 1);
	}
	return 0;
}

int tce_table_clear_hw(struct tce_table *t, uint64_t entry)
{
	uint64_t idx, *hw;

	if (!tce_table_contains(t, entry))
		return -EINVAL;
	idx = entry - t->geo.it_offset;
	tce__walk(t, TCE__HW, idx, false, &hw);
	if (hw)
		tce__exchange(&hw[idx & t->level_mask], 0, t->flags & TCE_TABLE_SERIAL_WRITERS);
	return 0;
}
