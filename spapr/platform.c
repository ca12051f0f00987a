/* SPDX-License-Identifier: MIT */
/*
 * The platform operations on the emulated host bridge (emu/emu.h), the
 * counterpart of the kernel's powernv IODA2 table-group ops.
 */
#include "emu/emu.h"
#include "spapr/spapr_priv.h"

static int emu_info(int group, struct spapr_group_info *info)
{
	struct emu_group_info ei;
	int rc = emu_group_info(group, &ei);

	if (rc)
		return rc;
	info->tce32_start = ei.tce32_start;
	info->tce32_size = ei.tce32_size;
	info->pgsizes = ei.pgsizes;
	info->max_dynamic_windows_supported = ei.ddw ? ei.max_dynamic_windows_supported : 0;
	info->max_levels = ei.max_levels;
	for (unsigned s = 0; s < SPAPR_WINDOWS; s++)
		info->slot_start[s] = s < ei.windows ? ei.window_start[s] : 0;
	info->node = ei.node;
	return 0;
}

static int emu_set(int group, unsigned slot, const struct spapr_window_regs *w)
{
	struct emu_window ew = {
		.table_hpa = w->table_hpa,
		.levels = w->levels,
		.level_size = w->level_size,
		.size = w->size,
		.page_shift = w->page_shift,
		.bus_offset = w->bus_offset,
	};

	return emu_phb_set_window(group, slot, &ew);
}

static const struct spapr_platform_ops emu_ops = {
	.group_info = emu_info,
	.set_window = emu_set,
	.unset_window = emu_phb_unset_window,
	.tce_kill = emu_phb_tce_kill,
};

const struct spapr_platform_ops *spapr_platform = &emu_ops;
