/* SPDX-License-Identifier: MIT */
/*
 * Single-entry operations (the kernel's pnv_tce_xchg and it_userspace):
 * exchange, read, shadow access.
 *
 * Order of the two words: a set writes the shadow before the hardware
 * entry, a clear the hardware entry before the shadow, so that whenever a
 * hardware entry is valid its ua is already in the shadow (absent writers
 * racing on the same entry, which the caller excludes).  A valid old entry
 * is reported as a run of one through the tce_old_fn every operation uses.
 */
#include <errno.h>

#include "tce/tce_priv.h"
#include "util/range.h"

int tce_table_xchg(struct tce_table *t, uint64_t entry, uint64_t hpa, uint64_t ua,
		   enum tce_dir dir, struct tce_kill_batch *kill, tce_old_fn old_fn, void *old_ctx)
{
	unsigned shift = t->geo.it_page_shift;
	bool serial = t->flags & TCE_TABLE_SERIAL_WRITERS;
	uint64_t idx, j, raw_hw = 0, raw_ua = 0;
	uint64_t *hw, *sh;
	int rc;

	if (!tce_table_contains(t, entry) || ((unsigned)dir & ~(unsigned)TCE_PCI_RW))
		return -EINVAL;
	idx = entry - t->geo.it_offset;
	j = idx & t->level_mask;
	if (dir == TCE_DIR_NONE) {
		if (hpa || ua)
			return -EINVAL;
		/* A clear below a missing level allocates nothing (pnv_tce_xchg). */
		tce__walk(t, TCE__HW, idx, false, &hw);
		if (hw) {
			raw_hw = tce__exchange(&hw[j], 0, serial);
			tce__walk(t, TCE__SHADOW, idx, false, &sh);
			if (sh)
				raw_ua = tce__exchange(&sh[j], 0, serial);
		}
	} else {
		if (!util_is_aligned(hpa, shift) || !ua || !util_is_aligned(ua, shift))
			return -EINVAL;
		/* Both paths first: a failure must leave the entry untouched. */
		rc = tce__walk(t, TCE__HW, idx, true, &hw);
		if (rc)
			return rc;
		rc = tce__walk(t, TCE__SHADOW, idx, true, &sh);
		if (rc)
			return rc;
		tce__mark(t, idx, idx + 1);
		raw_ua = tce__exchange(&sh[j], htobe64(ua), serial);
		raw_hw = tce__exchange(&hw[j], htobe64(hpa | tce_dir_to_bits(dir)), serial);
	}
	if (kill && (dir != TCE_DIR_NONE || (be64toh(raw_hw) & TCE_PCI_RW)))
		tce_kill_batch_add(kill, entry, 1);
	if (old_fn && (be64toh(raw_hw) & TCE_PCI_RW)) {
		struct tce_old_run r = { entry, be64toh(raw_ua), 1 };

		old_fn(old_ctx, &r, 1);
	}
	return 0;
}

int tce_table_read(const struct tce_table *t, uint64_t entry, uint64_t *hpa, enum tce_dir *dir)
{
	uint64_t idx, *hw, v = 0;

	if (!tce_table_contains(t, entry))
		return -EINVAL;
	idx = entry - t->geo.it_offset;
	hw = tce__walk_ro(t, TCE__HW, idx);
	if (hw)
		v = be64toh(__atomic_load_n(&hw[idx & t->level_mask], __ATOMIC_ACQUIRE));
	*hpa = v & ~TCE_PCI_RW;
	*dir = tce_dir_from_bits(v);
	return 0;
}

int tce_table_shadow_read(const struct tce_table *t, uint64_t entry, uint64_t *ua)
{
	uint64_t idx, *sh;

	if (!tce_table_contains(t, entry))
		return -EINVAL;
	idx = entry - t->geo.it_offset;
	sh = tce__walk_ro(t, TCE__SHADOW, idx);
	*ua = sh ? be64toh(__atomic_load_n(&sh[idx & t->level_mask], __ATOMIC_ACQUIRE)) : 0;
	return 0;
}

int tce_table_shadow_write(struct tce_table *t, uint64_t entry, uint64_t ua)
{
	uint64_t idx, *sh;
	int rc;

	if (!tce_table_contains(t, entry))
		return -EINVAL;
	idx = entry - t->geo.it_offset;
	rc = tce__walk(t, TCE__SHADOW, idx, true, &sh);
	if (rc)
		return rc;
	tce__mark(t, idx, idx + 1);
	__atomic_store_n(&sh[idx & t->level_mask], htobe64(ua), __ATOMIC_RELEASE);
	return 0;
}
