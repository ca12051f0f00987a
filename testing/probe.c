/* SPDX-License-Identifier: MIT */
/*
 * testing/probe.c: the part of the test-support library that lives in
 * libspaprtce itself (include/spaprtce/testing.h, "probe").
 *
 * A user's test links the shared library, which exports only the public
 * API: the counters of emulated memory and of the process's mm, the table
 * size formula of tce/ and the fail-nth controls of util/fail.h are all
 * hidden.  These few functions are the exported window onto them, so the
 * Check-side helpers (the other files of testing/, libspaprtce-testing.a) work the same
 * against libspaprtce.so, libspaprtce-fi.so or the static archives.
 *
 * Nothing here computes anything of its own: the charge is tce_table_size()
 * rounded up to system pages exactly as a window's creation charges it, the
 * state is emu/mem's and mmreg's own statistics and checkers.
 */
#include <errno.h>

#include "emu/emu.h"
#include "emu/mem.h"
#include "include/spaprtce/probe.h"
#include "mmreg/mmreg.h"
#include "tce/tce.h"
#include "util/fail.h"

int tu_state_get(struct tu_state *st)
{
	struct emu_mem_stats ms;
	struct mmreg_mm_stats mm_st;
	struct mmreg_mm *mm;
	int rc;

	rc = mmreg_mm_current(&mm);
	if (rc)
		return rc;
	mmreg_mm_get_stats(mm, &mm_st);
	st->mm_check = mmreg_mm_check(mm);
	mmreg_mm_put(mm);
	emu_mem_get_stats(&ms);
	st->locked_vm = mm_st.locked_vm;
	st->regions = mm_st.regions;
	st->registered_pages = mm_st.registered_pages;
	st->pins = ms.pins;
	st->pinned_pages = ms.pinned_pages;
	st->pin_refs = ms.pin_refs;
	st->table_blocks = ms.table_blocks;
	st->unpin_underflows = ms.unpin_underflows;
	st->mem_check = emu_mem_check();
	return 0;
}

int tu_window_charge(unsigned page_shift, uint64_t window_size, unsigned levels, uint64_t *pages)
{
	uint64_t bytes;
	int rc = tce_table_size(page_shift, window_size, levels, &bytes);

	if (rc)
		return rc;
	/* As spapr's window creation charges it: whole system pages. */
	*pages = (bytes + EMU_PAGE_SIZE - 1) >> EMU_PAGE_SHIFT;
	return 0;
}

int tu_default_window_charge(uint64_t *pages)
{
	struct emu_machine_config cfg;
	int rc = emu_machine_get_config(&cfg);

	if (rc)
		return rc;
	return tu_window_charge(EMU_PAGE_SHIFT, cfg.tce32_size, 1, pages);
}

bool tu_fault_injection(void)
{
#ifdef SPAPRTCE_FAULT_INJECT
	return true;
#else
	return false;
#endif
}

void tu_fail_nth_arm(unsigned long n)
{
	util_fail_nth_arm(n);
}

bool tu_fail_nth_fired(void)
{
	return util_fail_nth_fired();
}

const char *tu_fail_nth_site(void)
{
	return util_fail_nth_site();
}
