/* SPDX-License-Identifier: MIT */
/*
 * Unpins by a caller that holds no pin of the page: the record of "a page
 * unpinned more times than it was pinned".
 *
 * Where it happens: quirk Q17 under quirks=kernel (docs/quirks.md).  KVM
 * maps a page that a v2 container registered into a v1 window; the v1
 * driver's clear of that entry (tce_iommu_clear's v1 path) then calls
 * tce_iommu_unuse_page, whose unpin_user_page drops a pin the preregistered
 * region holds.  On the host the page's pin count is then lower than what
 * its holders hold: when the region is released, the page can be freed
 * and reused while a device may still reach it.
 *
 * What the emulator does instead: it counts the event and remembers the
 * last address, and changes no pin count.  Every pin count of emu/mem
 * stays exactly what its holders hold (the device's use-after-unpin
 * detection and emu_mem_check rely on it), so the page stays usable by the
 * device as the kernel's page is until the process really frees it; the
 * holders' own unpins release it as usual.  A test or a user reads the
 * record with emu_mem_unheld_unpins().  The count of those unpins of a
 * page that no pin held at all is in .unpins_unpinned (on the host, the
 * page's reference count would go wrong at once).
 *
 * Lock-free: two relaxed atomics per page, no lock of emu/mem taken but
 * the pin lock through emu_mem_ua_pins (a leaf).
 */
#include "emu/mem.h"

static uint64_t unheld_unpins, unheld_unpinned, unheld_last_ua;	/* atomic */

void emu_mem_unpin_unheld(uint64_t ua, uint64_t npages)
{
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t page = ua + (i << EMU_PAGE_SHIFT);

		if (!emu_mem_ua_pins(page))
			__atomic_add_fetch(&unheld_unpinned, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&unheld_last_ua, page, __ATOMIC_RELAXED);
		__atomic_add_fetch(&unheld_unpins, 1, __ATOMIC_RELEASE);
	}
}

void emu_mem_unheld_unpins(struct emu_mem_unheld *out)
{
	out->unpins = __atomic_load_n(&unheld_unpins, __ATOMIC_ACQUIRE);
	out->unpins_unpinned = __atomic_load_n(&unheld_unpinned, __ATOMIC_RELAXED);
	out->last_ua = __atomic_load_n(&unheld_last_ua, __ATOMIC_RELAXED);
}
