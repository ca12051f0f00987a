/* SPDX-License-Identifier: MIT */
/*
 * Reserving the levels of a run before writing it.
 *
 * Why: a hypercall batch (H_PUT_TCE_INDIRECT) writes many separate runs and
 * must be all-or-nothing.  tce_table_map is all-or-nothing per call only;
 * reserving every level first, in the validation phase, makes the later
 * writes unable to fail, so no rollback of replaced entries is ever needed.
 */
#include "tce/tce_priv.h"

int tce_table_reserve(struct tce_table *t, uint64_t entry, uint64_t npages)
{
	uint64_t first, end, i, next;
	uint64_t *blk;
	int rc;

	rc = tce__run_index(t, entry, npages, &first);
	if (rc)
		return rc;
	end = first + npages;
	for (i = first; i < end; i = next) {
		next = (i | t->level_mask) + 1;
		rc = tce__walk(t, TCE__HW, i, true, &blk);
		if (rc)
			return rc;
		rc = tce__walk(t, TCE__SHADOW, i, true, &blk);
		if (rc)
			return rc;
	}
	return 0;
}
