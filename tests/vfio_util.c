/* SPDX-License-Identifier: MIT */
#include "spapr/spapr.h"
#include "spapr/spapr_priv.h"
#include "tests/testutil.h"
#include "tests/vfio_util.h"

struct mmreg_region *tu_region_of(const void *p)
{
	struct mmreg_mm *mm;
	struct mmreg_region *r;

	TU_OK(mmreg_mm_current(&mm));
	mmreg_read_lock();
	r = mmreg_region_lookup(mm, (uintptr_t)p, 1);
	mmreg_read_unlock();
	mmreg_mm_put(mm);
	return r;
}

struct tce_table *tu_table_of(int c, unsigned slot)
{
	struct spapr_obj *obj = spapr__fd_get(c);
	struct spapr_container *ct = (struct spapr_container *)obj;
	struct tce_table *t = NULL;

	ck_assert_ptr_nonnull(obj);
	if (ct->tc && ct->tc->windows[slot])
		t = ct->tc->windows[slot]->table;
	spapr__obj_put(obj);
	return t;
}

uint64_t tu_entry(int c, unsigned slot, uint64_t entry, uint64_t *ua)
{
	struct tce_table *t = tu_table_of(c, slot);
	uint64_t hpa = 0;
	enum tce_dir dir = TCE_DIR_NONE;

	ck_assert_ptr_nonnull(t);
	TU_OK(tce_table_read(t, entry, &hpa, &dir));
	if (ua)
		TU_OK(tce_table_shadow_read(t, entry, ua));
	return hpa | (uint64_t)dir;
}
