/* SPDX-License-Identifier: MIT */
/* spapr_mm_*: the process-wide accounting calls of spapr/spapr.h. */
#include <errno.h>

#include "mmreg/mmreg.h"
#include "spapr/spapr_priv.h"

uint64_t spapr_mm_locked_vm(void)
{
	struct mmreg_mm *mm;
	uint64_t v;

	if (mmreg_mm_current(&mm))
		return 0;
	v = mmreg_mm_locked_vm(mm);
	mmreg_mm_put(mm);
	return v;
}

int spapr_mm_set_memlock(uint64_t limit_bytes, int cap_ipc_lock)
{
	struct mmreg_mm *mm;
	int rc;

	if (cap_ipc_lock != 0 && cap_ipc_lock != 1)
		return spapr__ret(-EINVAL);
	rc = mmreg_mm_current(&mm);
	if (rc)
		return spapr__ret(rc);
	mmreg_mm_set_memlock(mm, limit_bytes, cap_ipc_lock);
	mmreg_mm_put(mm);
	return 0;
}
