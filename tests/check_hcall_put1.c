/* SPDX-License-Identifier: MIT */
/*
 * H_PUT_TCE's fast path (spapr/hcall_put1.c) and what it keeps between
 * calls: the last table a guest's hypercall found (guest->last_gt), the leaf
 * blocks of the last entry (gt->put1, valid while gt->att_gen holds), and
 * the host bridge's kill without ep->rw when no DMA is in flight
 * (emu/phb.c).  Every test changes what a cache could remember between two
 * calls (a table destroyed and made again under its LIOBN, a window
 * removed, detached and replaced, a memslot moved or deleted, a region
 * unregistered and registered again, another leaf block, a DMA that fills
 * the device's TCE cache) and asserts the exact answer, hardware entry,
 * shadow ua, guest-visible value, mapped counts and kills, which are those
 * of the general path (hcall.c) that answers without any cache.
 *
 * Fixture: as check_hcall's: container C (v2) with group 0 (G) attached and
 * RAM (4 MiB) registered; guest V with memslot 0 mapping guest physical
 * [0, 4 MiB) to RAM, and guest table L32 (4 KiB pages over the 2 GiB
 * default window) attached to group 0.
 */
#include <endian.h>
#include <linux/vfio.h>
#include <string.h>

#include "emu/emu.h"
#include "emu/mem.h"
#include "mmreg/mmreg.h"
#include "spapr/guest_priv.h"
#include "spapr/spapr.h"
#include "tests/testutil.h"
#include "tests/vfio_util.h"
#include "util/fail.h"

#define PS EMU_PAGE_SIZE
#define W64 (1ull << 59)
#define RAM_PAGES 1024ull
#define RAM_SIZE (RAM_PAGES * PS)
#define L32 0x10ull
#define L64 0x20ull
#define DEF_ENTRIES ((2ull << 30) >> 12)
#define RW (TCE_PCI_READ | TCE_PCI_WRITE)
#define OTHER_GPA (1ull << 32)		/* memslot 1: the other buffer */

static int C, G;
static uint8_t *RAM;
static struct spapr_guest *V;

#define E(call) ((call) ? -errno : 0)

static uint64_t mapped_of(const void *p)
{
	struct mmreg_region *r = tu_region_of(p);

	return r ? mmreg_region_mapped(r) : 0;
}

static uint64_t hpa_of(const void *base, uint64_t off)
{
	return emu_mem_ua_to_hpa((uintptr_t)base + off, 12);
}

static uint64_t kills_of(int group)
{
	struct emu_group_stats st;

	TU_OK(emu_group_get_stats(group, &st));
	return st.kills;
}

static uint64_t kills(void)
{
	return kills_of(0);
}

static uint64_t get(uint64_t liobn, uint64_t ioba)
{
	uint64_t tce = 0xdead;

	ck_assert_int_eq(spapr_h_get_tce(V, liobn, ioba, &tce), H_SUCCESS);
	return tce;
}

/* Entry @entry of window @slot maps @base + @off (read/write), shadow included. */
static void assert_entry(unsigned slot, uint64_t entry, const void *base, uint64_t off)
{
	uint64_t ua;

	ck_assert_uint_eq(tu_entry(C, slot, entry, &ua), hpa_of(base, off) | 3);
	ck_assert_uint_eq(ua, (uintptr_t)base + off);
}

/* H_PUT_TCE that must succeed with exactly one kill of group 0. */
static void put_ok(uint64_t liobn, uint64_t ioba, uint64_t tce)
{
	uint64_t k = kills();

	ck_assert_int_eq(spapr_h_put_tce(V, liobn, ioba, tce), H_SUCCESS);
	ck_assert_uint_eq(kills() - k, 1);
	ck_assert_uint_eq(get(liobn, ioba), tce);
}

/* H_PUT_TCE answered @h without any kill (H_SUCCESS: a table without a live window). */
static void put_fails(uint64_t liobn, uint64_t ioba, uint64_t tce, long h)
{
	uint64_t k = kills();

	ck_assert_int_eq(spapr_h_put_tce(V, liobn, ioba, tce), h);
	ck_assert_uint_eq(kills(), k);
}

/*
 * Window 1: 1 GiB of 4 KiB pages at W64 in 2 levels (512 entries per leaf
 * block, none allocated yet), guest table L64 over it, attached to G.
 */
static void w64_begin(void)
{
	uint64_t start;

	TU_OK(tu_create(C, 12, 1ull << 30, 2, &start));
	ck_assert_uint_eq(start, W64);
	TU_OK(E(spapr_guest_create_tce_table(V, L64, 12, W64 >> 12, (1ull << 30) >> 12)));
	TU_OK(E(spapr_guest_attach_group(V, L64, G)));
}

/* Window 1's table checked, L64 detached and destroyed, the window removed: RAM unmapped. */
static void w64_end(void)
{
	TU_OK(tce_table_check(tu_table_of(C, 1)));
	TU_OK(E(spapr_guest_detach_group(V, L64, G)));
	TU_OK(E(spapr_guest_destroy_tce_table(V, L64)));
	TU_OK(tu_remove(C, W64));
	ck_assert_uint_eq(mapped_of(RAM), 1);
}

static void setup(void)
{
	TU_OK(spapr_mm_set_memlock(16ull << 30, 0));
	C = tu_open_v2(0, &G);
	RAM = tu_map_aligned(RAM_PAGES, 16);
	TU_OK(tu_register(C, RAM, RAM_SIZE));
	TU_OK(E(spapr_guest_create(&V)));
	TU_OK(E(spapr_guest_set_memslot(V, 0, 0, RAM_SIZE, RAM)));
	TU_OK(E(spapr_guest_create_tce_table(V, L32, 12, 0, DEF_ENTRIES)));
	TU_OK(tu_unmap_dma(C, 0, 0));	/* the default window, before the attachment */
	TU_OK(E(spapr_guest_attach_group(V, L32, G)));
}

static void teardown(void)
{
	if (V)
		TU_OK(E(spapr_guest_check(V)));
	spapr_guest_destroy(V);
	V = NULL;
	TU_OK(E(spapr_close(G)));
	TU_OK(E(spapr_close(C)));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	tu_assert_emu_clean();
	TU_OK(emu_machine_check());
	tu_unmap(RAM, RAM_PAGES);
}

/* A table destroyed, then made again under the same LIOBN: the last table found is forgotten. */
START_TEST(t_put1_table_destroyed)
{
	uint64_t tce = 0xdead;

	put_ok(L32, 3 * PS, 0x1000 | RW);
	/* Another table, without attachment, between two calls: each call finds its own. */
	TU_OK(E(spapr_guest_create_tce_table(V, L64, 12, W64 >> 12, 64)));
	put_fails(L64, W64 + 2 * PS, 0x9000 | RW, H_SUCCESS);	/* no window: no kill */
	put_ok(L32, 4 * PS, 0x2000 | RW);
	ck_assert_uint_eq(get(L64, W64 + 2 * PS), 0x9000 | RW);
	ck_assert_uint_eq(get(L32, 3 * PS), 0x1000 | RW);
	ck_assert_uint_eq(mapped_of(RAM), 3);		/* L64 has no window: nothing mapped */
	/* Destroyed: unknown to every hypercall. */
	TU_OK(E(spapr_guest_destroy_tce_table(V, L32)));
	put_fails(L32, 3 * PS, 0x3000 | RW, H_TOO_HARD);
	ck_assert_int_eq(spapr_h_get_tce(V, L32, 3 * PS, &tce), H_TOO_HARD);
	ck_assert_uint_eq(tce, 0xdead);
	/* Made again (its memory may be the old one's), of 8 entries: its own range and values. */
	TU_OK(E(spapr_guest_create_tce_table(V, L32, 12, 0, 8)));
	TU_OK(E(spapr_guest_attach_group(V, L32, G)));
	put_fails(L32, 16 * PS, 0x3000 | RW, H_PARAMETER);
	ck_assert_uint_eq(get(L32, 3 * PS), 0);
	put_ok(L32, 5 * PS, 0x3000 | RW);
	assert_entry(0, 5, RAM, 0x3000);
	assert_entry(0, 3, RAM, 0x1000);		/* the destroyed table's entries stay */
	assert_entry(0, 4, RAM, 0x2000);
	ck_assert_uint_eq(mapped_of(RAM), 4);
	ck_assert_uint_eq(get(L64, W64 + 2 * PS), 0x9000 | RW);
	/* Give the old entries back through the container, as after a guest's reboot. */
	TU_OK(tu_unmap_dma(C, 3 * PS, 2 * PS));
	ck_assert_uint_eq(mapped_of(RAM), 2);
	TU_OK(E(spapr_guest_destroy_tce_table(V, L64)));
}
END_TEST

/* The leaf blocks of the last entry: another block, then back; a block never written. */
START_TEST(t_put1_leaf_blocks)
{
	uint64_t e0 = W64 >> 12;

	w64_begin();
	put_ok(L64, W64, 0x1000 | RW);			/* general path: reserves the block */
	put_ok(L64, W64 + PS, 0x2000 | RW);		/* the kept block */
	put_ok(L64, W64 + 512 * PS, 0x3000 | RW);	/* a new block */
	put_ok(L64, W64 + 511 * PS, 0x4000 | TCE_PCI_READ);	/* back to the first */
	put_ok(L64, W64 + 513 * PS, 0x5000 | RW);
	assert_entry(1, e0, RAM, 0x1000);
	assert_entry(1, e0 + 1, RAM, 0x2000);
	assert_entry(1, e0 + 512, RAM, 0x3000);
	ck_assert_uint_eq(tu_entry(C, 1, e0 + 511, NULL), hpa_of(RAM, 0x4000) | TCE_PCI_READ);
	assert_entry(1, e0 + 513, RAM, 0x5000);
	ck_assert_uint_eq(mapped_of(RAM), 6);
	/* Clears: of a kept block, and of a block that does not exist (nothing allocated). */
	put_ok(L64, W64 + 512 * PS, 0);
	ck_assert_uint_eq(tu_entry(C, 1, e0 + 512, NULL), 0);
	put_ok(L64, W64 + 4096 * PS, 0);
	ck_assert_uint_eq(tu_entry(C, 1, e0 + 4096, NULL), 0);
	ck_assert_uint_eq(mapped_of(RAM), 5);
	w64_end();
}
END_TEST

/*
 * A window removed while attached, then detached, then replaced by a new
 * window at the same bus address (whose memory may be the old one's): the
 * kept leaf blocks are the old table's and must not be used.
 */
START_TEST(t_put1_window_removed_and_replaced)
{
	uint64_t start, e0 = W64 >> 12;

	w64_begin();
	put_ok(L64, W64, 0x1000 | RW);
	put_ok(L64, W64 + PS, 0x2000 | RW);
	ck_assert_uint_eq(mapped_of(RAM), 3);
	/*
	 * Removed: cleared, and skipped by later hypercalls (no kill: nothing
	 * is programmed).  Under quirks=kernel they write it as KVM does, and
	 * the region's count so raised is never given back (Q15: check_quirks
	 * q15_put_after_remove asserts that); this test is about what the fast
	 * path keeps, so it skips the step there.
	 */
	TU_OK(tu_remove(C, W64));
	ck_assert_uint_eq(mapped_of(RAM), 1);
	if (!tu_fixed_only_step("t_put1_window_removed_and_replaced", "H_PUT_TCE into the removed window",
				"Q15", "KVM writes the removed table and leaks the count")) {
		put_fails(L64, W64 + PS, 0x3000 | RW, H_SUCCESS);
		ck_assert_uint_eq(get(L64, W64 + PS), 0x3000 | RW);
		ck_assert_uint_eq(mapped_of(RAM), 1);
	}
	/* Detached (the old window goes), a new one at the same address, attached again. */
	TU_OK(E(spapr_guest_detach_group(V, L64, G)));
	put_fails(L64, W64 + PS, 0x4000 | RW, H_SUCCESS);	/* no attachment: the guest table alone */
	ck_assert_uint_eq(mapped_of(RAM), 1);
	TU_OK(tu_create(C, 12, 1ull << 30, 2, &start));
	ck_assert_uint_eq(start, W64);
	TU_OK(E(spapr_guest_attach_group(V, L64, G)));
	put_ok(L64, W64 + PS, 0x5000 | RW);		/* general path: the new table's block */
	put_ok(L64, W64 + 2 * PS, 0x6000 | RW);		/* fast path, the new table's block */
	assert_entry(1, e0 + 1, RAM, 0x5000);
	assert_entry(1, e0 + 2, RAM, 0x6000);
	ck_assert_uint_eq(tu_entry(C, 1, e0, NULL), 0);
	ck_assert_uint_eq(mapped_of(RAM), 3);
	w64_end();
}
END_TEST

/* A memslot moved to other memory, then deleted, between two calls on one entry. */
START_TEST(t_put1_memslot_changed)
{
	uint8_t *p = tu_map_aligned(16, 16);

	TU_OK(tu_register(C, p, 16 * PS));
	put_ok(L32, 9 * PS, 0x5000 | RW);
	assert_entry(0, 9, RAM, 0x5000);
	ck_assert_uint_eq(mapped_of(RAM), 2);
	/* Slot 0 now maps guest physical [0, 64 KiB) to p: the same TCE, another page. */
	TU_OK(E(spapr_guest_set_memslot(V, 0, 0, 16 * PS, p)));
	put_ok(L32, 9 * PS, 0x5000 | RW);
	assert_entry(0, 9, p, 0x5000);
	ck_assert_uint_eq(mapped_of(RAM), 1);
	ck_assert_uint_eq(mapped_of(p), 2);
	/* Outside the smaller slot now. */
	put_fails(L32, 9 * PS, 0x10000 | RW, H_TOO_HARD);
	/* Deleted: no memslot, nothing changes. */
	TU_OK(E(spapr_guest_set_memslot(V, 0, 0, 0, NULL)));
	put_fails(L32, 9 * PS, 0x5000 | RW, H_TOO_HARD);
	assert_entry(0, 9, p, 0x5000);
	ck_assert_uint_eq(get(L32, 9 * PS), 0x5000 | RW);
	ck_assert_uint_eq(mapped_of(p), 2);
	/* Back to RAM. */
	TU_OK(E(spapr_guest_set_memslot(V, 0, 0, RAM_SIZE, RAM)));
	put_ok(L32, 9 * PS, 0x6000 | RW);
	assert_entry(0, 9, RAM, 0x6000);
	ck_assert_uint_eq(mapped_of(p), 1);
	ck_assert_uint_eq(mapped_of(RAM), 2);
	put_ok(L32, 9 * PS, 0);
	TU_OK(tu_unregister(C, p, 16 * PS));
	tu_unmap(p, 16);
}
END_TEST

/*
 * Replacements inside one region (the counts cancel and are not touched),
 * across regions, and a region unregistered then registered again (a new
 * region, perhaps at the old one's address) between two calls.
 */
START_TEST(t_put1_region_changes)
{
	uint8_t *p = tu_map_aligned(16, 16);

	TU_OK(E(spapr_guest_set_memslot(V, 1, OTHER_GPA, 16 * PS, p)));
	TU_OK(tu_register(C, p, 16 * PS));
	put_ok(L32, 0, OTHER_GPA | RW);
	ck_assert_uint_eq(mapped_of(p), 2);
	put_ok(L32, 0, (OTHER_GPA + PS) | RW);		/* same region */
	assert_entry(0, 0, p, PS);
	ck_assert_uint_eq(mapped_of(p), 2);
	put_ok(L32, 0, (OTHER_GPA + PS) | TCE_PCI_READ);	/* the same page, another direction */
	ck_assert_uint_eq(tu_entry(C, 0, 0, NULL), hpa_of(p, PS) | TCE_PCI_READ);
	ck_assert_uint_eq(mapped_of(p), 2);
	put_ok(L32, 0, 0x7000 | RW);			/* another region */
	assert_entry(0, 0, RAM, 0x7000);
	ck_assert_uint_eq(mapped_of(p), 1);
	ck_assert_uint_eq(mapped_of(RAM), 2);
	TU_OK(tu_unregister(C, p, 16 * PS));
	put_fails(L32, 0, OTHER_GPA | RW, H_TOO_HARD);	/* registered no more */
	assert_entry(0, 0, RAM, 0x7000);
	ck_assert_uint_eq(mapped_of(RAM), 2);
	TU_OK(tu_register(C, p, 16 * PS));		/* a new region over the same memory */
	put_ok(L32, 0, (OTHER_GPA + 2 * PS) | RW);
	assert_entry(0, 0, p, 2 * PS);
	ck_assert_uint_eq(mapped_of(p), 2);
	ck_assert_uint_eq(mapped_of(RAM), 1);
	/* Still mapped: UNREGISTER refuses until the guest clears its entry (fixed mode: Q3). */
	if (!tu_fixed_only_step("t_put1_region_changes", "UNREGISTER of a mapped region", "Q3",
				"the kernel's 0 orphans the region for good"))
		TU_ERR(tu_unregister(C, p, 16 * PS), EBUSY);
	put_ok(L32, 0, 0);
	ck_assert_uint_eq(mapped_of(p), 1);
	TU_OK(tu_unregister(C, p, 16 * PS));
	tu_unmap(p, 16);
}
END_TEST

/*
 * The fault point of the mapped counts stays on the fast path, for a new
 * mapping and for a replacement inside one region, and changes nothing.
 * Fixed mode: kernel mode answers through the general path, whose failure
 * is the kernel's own (Q12).
 */
START_TEST(t_put1_fault_point)
{
	uint64_t k;

	if (tu_fixed_only("t_put1_fault_point", "Q12",
			  "a failed H_PUT_TCE's bookkeeping is the kernel's in kernel mode"))
		return;
	put_ok(L32, 5 * PS, 0x1000 | RW);
	for (int replace = 0; replace < 2; replace++) {
		uint64_t ioba = replace ? 5 * PS : 6 * PS;

		k = kills();
		util_fail_nth_arm(1);
		ck_assert_int_eq(spapr_h_put_tce(V, L32, ioba, 0x2000 | RW), H_TOO_HARD);
		ck_assert(util_fail_nth_fired());
		ck_assert_str_eq(util_fail_nth_site(), "spapr_hcall_mapped");
		util_fail_nth_arm(0);
		ck_assert_uint_eq(kills(), k);
		ck_assert_uint_eq(mapped_of(RAM), 2);
		ck_assert_uint_eq(get(L32, ioba), replace ? 0x1000 | RW : 0);
	}
	assert_entry(0, 5, RAM, 0x1000);
	ck_assert_uint_eq(tu_entry(C, 0, 6, NULL), 0);
}
END_TEST

/*
 * A DMA through the entry fills the device's TCE cache, so the next kill
 * must drop it (it takes ep->rw); with the cache empty the kill skips it.
 * Either way the device's next DMA lands in the page now mapped.
 */
START_TEST(t_put1_kill_after_dma)
{
	struct emu_group_stats st;

	for (unsigned round = 0; round < 3; round++) {
		uint64_t off = (round + 1) * 0x1000;

		put_ok(L32, 0, off | RW);
		TU_OK(emu_dma_write(0, 0, "dma", 4));
		ck_assert_str_eq((char *)RAM + off, "dma");
		memset(RAM + off, 0, 4);
		TU_OK(emu_group_get_stats(0, &st));
		ck_assert_uint_ge(st.cache_entries, 1);	/* the walk cached the entry */
	}
	put_ok(L32, 0, 0);
	TU_OK(emu_group_get_stats(0, &st));
	ck_assert_uint_eq(st.cache_entries, 0);		/* the kill dropped it */
	ck_assert_int_ne(emu_dma_write(0, 0, "x", 1), 0);	/* no translation any more */
	ck_assert_uint_eq(mapped_of(RAM), 1);
}
END_TEST

/*
 * Another container's window attached while blocks are kept: the calls go
 * to the general path (both windows written), the kept blocks stay those
 * of a still attached window (the checker agrees); its detach forgets them.
 */
START_TEST(t_put1_second_window)
{
	int g1, c1 = tu_open_v2(1, &g1);

	TU_OK(tu_register(c1, RAM, RAM_SIZE));
	TU_OK(tu_unmap_dma(c1, 0, 0));
	put_ok(L32, 0, 0x1000 | RW);
	put_ok(L32, 0, 0);				/* blocks kept; no entry the new window lacks */
	TU_OK(E(spapr_guest_attach_group(V, L32, g1)));
	TU_OK(E(spapr_guest_check(V)));
	put_ok(L32, 2 * PS, 0x3000 | RW);		/* killed in group 0 (and 1) */
	assert_entry(0, 2, RAM, 0x3000);
	ck_assert_uint_eq(tu_entry(c1, 0, 2, NULL), hpa_of(RAM, 0x3000) | 3);
	ck_assert_uint_eq(tu_entry(C, 0, 0, NULL), 0);
	ck_assert_uint_eq(mapped_of(RAM), 3);		/* both containers' entries count in RAM's region */
	TU_OK(E(spapr_guest_detach_group(V, L32, G)));	/* the first window goes: forgotten */
	TU_OK(E(spapr_guest_check(V)));
	for (uint64_t i = 3; i < 5; i++) {		/* c1's window alone: group 1 killed */
		uint64_t k0 = kills(), k1 = kills_of(1);

		ck_assert_int_eq(spapr_h_put_tce(V, L32, i * PS, (i << 12) | RW), H_SUCCESS);
		ck_assert_uint_eq(kills(), k0);
		ck_assert_uint_eq(kills_of(1), k1 + 1);
		ck_assert_uint_eq(tu_entry(c1, 0, i, NULL), hpa_of(RAM, i << 12) | 3);
		ck_assert_uint_eq(tu_entry(C, 0, i, NULL), 0);
	}
	TU_OK(E(spapr_guest_check(V)));
	for (uint64_t i = 2; i < 5; i++)		/* nothing the first window lacks when it comes back */
		ck_assert_int_eq(spapr_h_put_tce(V, L32, i * PS, 0), H_SUCCESS);
	TU_OK(E(spapr_guest_detach_group(V, L32, g1)));
	TU_OK(E(spapr_guest_attach_group(V, L32, G)));
	TU_OK(E(spapr_close(g1)));
	TU_OK(E(spapr_close(c1)));
	TU_OK(tu_unmap_dma(C, 0, 8 * PS));
	ck_assert_uint_eq(mapped_of(RAM), 1);
}
END_TEST

/* The checker sees what the fast path keeps (G5, G6 of spapr/guest_check.c). */
START_TEST(t_put1_checker)
{
	struct spapr_guest_table *gt, fake;
	uint64_t *hw;

	put_ok(L32, 0, 0x1000 | RW);
	put_ok(L32, PS, 0x2000 | RW);			/* fast path: the blocks kept */
	gt = V->last_gt;
	ck_assert_ptr_nonnull(gt);
	TU_OK(E(spapr_guest_check(V)));
	if (emu_machine_quirks_kernel()) {
		ck_assert_ptr_null(gt->put1.w);		/* kernel mode: the three phases only */
		goto last_gt;
	}
	ck_assert_ptr_eq(gt->put1.w, gt->att[0].w);
	hw = gt->put1.leaf.hw;
	gt->put1.leaf.hw = hw + 1;			/* a stale block */
	TU_ERR(E(spapr_guest_check(V)), EUCLEAN);
	gt->put1.gen++;					/* forgotten: not checked */
	TU_OK(E(spapr_guest_check(V)));
	gt->put1.gen--;
	gt->put1.leaf.hw = hw;
	TU_OK(E(spapr_guest_check(V)));
last_gt:
	memset(&fake, 0, sizeof(fake));
	V->last_gt = &fake;				/* not a listed table */
	TU_ERR(E(spapr_guest_check(V)), EUCLEAN);
	V->last_gt = gt;
	TU_OK(E(spapr_guest_check(V)));
	put_ok(L32, 2 * PS, 0x3000 | RW);
	assert_entry(0, 2, RAM, 0x3000);
}
END_TEST

static Suite *put1_suite(void)
{
	Suite *s = suite_create("hcall_put1");
	TCase *t = tcase_create("core");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, t_put1_table_destroyed);
	tcase_add_test(t, t_put1_leaf_blocks);
	tcase_add_test(t, t_put1_window_removed_and_replaced);
	tcase_add_test(t, t_put1_memslot_changed);
	tcase_add_test(t, t_put1_region_changes);
	tcase_add_test(t, t_put1_fault_point);
	tcase_add_test(t, t_put1_kill_after_dma);
	tcase_add_test(t, t_put1_checker);
	tcase_add_test(t, t_put1_second_window);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(put1_suite());
}
