/* SPDX-License-Identifier: MIT */
/*
 * Table geometry and the locked_vm size formula, kept to the
 * kernel's arithmetic (pnv_pci_ioda2_table_alloc_pages and
 * pnv_pci_ioda2_get_table_size) so the charged amounts match it exactly.
 */
#include <errno.h>

#include "tce/tce_priv.h"
#include "util/range.h"

/* The PHB cannot address TCE tables whose index bits plus page shift reach 55. */
#define TCE_ADDR_BITS 55u

/*
 * The level byte shift ls and entries shift E for a geometry, with the
 * rejections that do not depend on placement.  Q14: a window smaller than one
 * IOMMU page would underflow E in the kernel; we reject it.
 */
static int shape_rule(unsigned sys_shift, unsigned page_shift, uint64_t window_size,
		      unsigned levels, bool addr_rule, unsigned *entries_shift,
		      unsigned *level_shift)
{
	unsigned e, ls;

	if (!levels || levels > TCE_LEVELS_MAX)
		return -EINVAL;
	if (page_shift < TCE_PAGE_SHIFT_MIN || page_shift > TCE_PAGE_SHIFT_MAX)
		return -EINVAL;
	if (!util_is_pow2(window_size) || util_ilog2(window_size) < page_shift)
		return -EINVAL;
	e = util_ilog2(window_size) - page_shift;
	ls = (e + levels - 1) / levels + 3;
	if (ls < sys_shift)
		ls = sys_shift;
	if (addr_rule && (ls - 3) * levels + page_shift >= TCE_ADDR_BITS)
		return -EINVAL;
	*entries_shift = e;
	*level_shift = ls;
	return 0;
}

static int shape(unsigned sys_shift, unsigned page_shift, uint64_t window_size, unsigned levels,
		 unsigned *entries_shift, unsigned *level_shift)
{
	return shape_rule(sys_shift, page_shift, window_size, levels, true, entries_shift,
			  level_shift);
}

static int table_size(unsigned sys_page_shift, unsigned page_shift, uint64_t window_size,
		      unsigned levels, bool addr_rule, uint64_t *bytes)
{
	uint64_t t, d, sum = 0;
	unsigned e, ls, l;
	int rc;

	if (sys_page_shift < 12 || sys_page_shift > 16)
		return -EINVAL;
	rc = shape_rule(sys_page_shift, page_shift, window_size, levels, addr_rule, &e, &ls);
	if (rc)
		return rc;
	/* The kernel starts from 0x1000, not PAGE_SIZE, whatever the system page. */
	t = 1ull << (e + 3);
	if (t < 0x1000)
		t = 0x1000;
	d = 1ull << ls;
	for (l = 0; l < levels; l++) {
		sum += (t + d - 1) & ~(d - 1);
		t = t / d * 8;
		if (t < d)
			t = d;
	}
	*bytes = sum * 2;	/* hardware table + userspace view */
	return 0;
}

int tce_table_size_sys(unsigned sys_page_shift, unsigned page_shift, uint64_t window_size,
		       unsigned levels, uint64_t *bytes)
{
	return table_size(sys_page_shift, page_shift, window_size, levels, true, bytes);
}

int tce_table_charge_size(unsigned page_shift, uint64_t window_size, unsigned levels,
			  uint64_t *bytes)
{
	return table_size(EMU_PAGE_SHIFT, page_shift, window_size, levels, false, bytes);
}

int tce_table_size(unsigned page_shift, uint64_t window_size, unsigned levels, uint64_t *bytes)
{
	return tce_table_size_sys(EMU_PAGE_SHIFT, page_shift, window_size, levels, bytes);
}

int tce_geometry_calc(const struct tce_table_params *p, struct tce_geometry *geo)
{
	uint64_t it_size, bytes, end;
	unsigned e, ls;
	int rc;

	if (p->flags & ~(TCE_TABLE_STRICT_SIZE | TCE_TABLE_ON_NODE | TCE_TABLE_SERIAL_WRITERS))
		return -EINVAL;
	rc = shape(EMU_PAGE_SHIFT, p->page_shift, p->window_size, p->levels, &e, &ls);
	if (rc)
		return rc;
	if (!util_is_aligned(p->bus_offset, p->page_shift))
		return -EINVAL;
	it_size = 1ull << e;
	/* Q9: the kernel sizes the flat table to at least one system page. */
	if (!(p->flags & TCE_TABLE_STRICT_SIZE) && it_size < EMU_PAGE_SIZE / 8)
		it_size = EMU_PAGE_SIZE / 8;
	/* it_size << page_shift <= max(window, 2^54): no overflow before the check. */
	if (!util_range_end(p->bus_offset, it_size << p->page_shift, &end))
		return -EINVAL;
	rc = tce_table_size(p->page_shift, p->window_size, p->levels, &bytes);
	if (rc)
		return rc;
	geo->it_offset = p->bus_offset >> p->page_shift;
	geo->it_size = it_size;
	geo->it_level_size = 1ull << (ls - 3);
	geo->it_allocated_size = bytes;
	geo->it_page_shift = p->page_shift;
	geo->it_indirect_levels = p->levels - 1;
	geo->level_shift = ls;
	return 0;
}
