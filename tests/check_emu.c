/* SPDX-License-Identifier: MIT */
/*
 * emu/ device side: machine configuration, window registers, the hardware
 * walker over 1- to 5-level tables with every page size, the TCE cache and
 * kill, strictness (use-after-unpin), the fault log and the dirty log;
 * DMA into pinned memory the process has since unmapped, protected or
 * replaced (the kernel's device keeps using the pinned pages: the emulator
 * does the same for shared memory and faults with "registered memory
 * unmapped by the process" for private memory, never touching another
 * mapping and never crashing).
 *
 * Tables are built by hand here, big-endian, in emu_mem_table_alloc blocks:
 * that checks the hardware format independently of tce/.
 */
#define _GNU_SOURCE	/* memfd_create, MAP_FIXED_NOREPLACE */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu/emu.h"
#include "emu/mem.h"
#include "emu/mem_priv.h"
#include "tests/testutil.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define WIN1 (1ull << 59)
#define RW (EMU_TCE_READ | EMU_TCE_WRITE)
#define G 0

/* ------------------------------------------------------------- fixture */

static void setup(void)
{
}

static void teardown(void)
{
	struct emu_machine_config c;
	struct emu_group_stats st;
	unsigned g, s;

	util_fail_nth_arm(0);
	TU_OK(emu_machine_get_config(&c));
	for (g = 0; g < c.groups; g++) {
		TU_OK(emu_group_get_stats((int)g, &st));
		for (s = 0; s < EMU_MAX_WINDOWS; s++)
			ck_assert_msg(!st.programmed[s], "group %u slot %u left programmed", g, s);
		ck_assert_msg(!st.dirty_logging, "group %u: dirty log left running", g);
	}
	TU_OK(emu_machine_check());
	tu_assert_emu_clean();
}

/* ------------------------------------------------ hand-built TCE tables */

struct tt {
	unsigned levels, s, page_shift;
	uint64_t size, bus_offset, block_bytes, top_hpa;
	uint64_t *top;
	void **blocks;
	unsigned nblocks;
};

static unsigned ceil_log2(uint64_t x)
{
	return x <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(x - 1);
}

static uint64_t *block_new(struct tt *t, uint64_t *hpa)
{
	void *hva;

	TU_OK(emu_mem_table_alloc(emu_mem_node(), t->block_bytes, &hva, hpa));
	t->blocks = realloc(t->blocks, (t->nblocks + 1) * sizeof(*t->blocks));
	ck_assert_ptr_nonnull(t->blocks);
	t->blocks[t->nblocks++] = hva;
	return hva;
}

/* A table of @size entries at @bus_offset; level size as small as @levels allow. */
static void tt_create(struct tt *t, uint64_t bus_offset, unsigned page_shift, uint64_t size,
		      unsigned levels)
{
	unsigned e = ceil_log2(size);

	memset(t, 0, sizeof(*t));
	t->levels = levels;
	t->s = (e + levels - 1) / levels;
	if (!t->s)
		t->s = 1;
	t->page_shift = page_shift;
	t->size = size;
	t->bus_offset = bus_offset;
	t->block_bytes = (8ull << t->s) < EMU_PAGE_SIZE ? EMU_PAGE_SIZE : 8ull << t->s;
	t->top = block_new(t, &t->top_hpa);
}

static uint64_t it_offset(const struct tt *t)
{
	return t->bus_offset >> t->page_shift;
}

/* The leaf slot of @entry, allocating missing levels. */
static uint64_t *tt_leaf(struct tt *t, uint64_t entry)
{
	uint64_t i = entry - it_offset(t), mask = (1ull << t->s) - 1, *blk = t->top;
	unsigned level;

	ck_assert(i < t->size);
	for (level = t->levels - 1; level > 0; level--) {
		uint64_t *p = &blk[(i >> (level * t->s)) & mask], hpa;

		if (!*p) {
			block_new(t, &hpa);
			*p = htobe64(hpa | RW);
		}
		blk = emu_mem_table_hva(be64toh(*p) & ~RW, t->block_bytes);
		ck_assert_ptr_nonnull(blk);
	}
	return &blk[i & mask];
}

static void tt_set(struct tt *t, uint64_t entry, uint64_t val)
{
	__atomic_store_n(tt_leaf(t, entry), htobe64(val), __ATOMIC_RELEASE);
}

static struct emu_window tt_window(const struct tt *t)
{
	struct emu_window w = {
		.table_hpa = t->top_hpa,
		.levels = t->levels,
		.level_size = 1ull << t->s,
		.size = t->size,
		.page_shift = t->page_shift,
		.bus_offset = t->bus_offset,
	};
	return w;
}

static void tt_destroy(struct tt *t)
{
	unsigned i;

	for (i = 0; i < t->nblocks; i++)
		emu_mem_table_free(t->blocks[i], t->block_bytes);
	free(t->blocks);
	memset(t, 0, sizeof(*t));
}

static void set_window_ok(int group, unsigned slot, const struct tt *t)
{
	struct emu_window w = tt_window(t);

	TU_OK(emu_phb_set_window(group, slot, &w));
}

/* ------------------------------------------------------------ user memory */

struct umem {
	uint8_t *p;
	uint64_t npages;
	struct emu_pin *pin;
};

static void umem_new(struct umem *m, uint64_t npages, unsigned align_shift)
{
	m->npages = npages;
	m->p = align_shift > EMU_PAGE_SHIFT ? tu_map_aligned(npages, align_shift) : tu_map(npages);
	TU_OK(emu_mem_pin((uintptr_t)m->p, npages, &m->pin));
}

static void umem_unpin(struct umem *m)
{
	if (m->pin)
		emu_mem_unpin(m->pin);
	m->pin = NULL;
}

static void umem_free(struct umem *m)
{
	umem_unpin(m);
	tu_unmap(m->p, m->npages);
}

/* TCE for the IOMMU page of 2^@shift bytes starting at user address @ua. */
static uint64_t tce_of(const void *ua, unsigned shift, uint64_t perm)
{
	ck_assert(((uintptr_t)ua & ((1ull << shift) - 1)) == 0);
	return emu_mem_ua_to_hpa((uintptr_t)ua, shift) | perm;
}

static void fill(void *p, size_t len, unsigned seed)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

/* The last fault of @group, which must have exactly @n unread records. */
static struct emu_fault last_fault(int group, unsigned n)
{
	struct emu_fault f[64];
	unsigned got = 0;

	TU_OK(emu_fault_log_read(group, f, 64, &got));
	ck_assert_uint_eq(got, n);
	ck_assert_uint_ge(got, 1);
	return f[got - 1];
}

static void assert_fault(int group, uint64_t iova, enum emu_dma_access acc,
			 enum emu_fault_reason why)
{
	struct emu_fault f = last_fault(group, 1);

	ck_assert_msg(f.iova == iova && f.access == acc && f.reason == why,
		      "fault at %#llx %s \"%s\", expected %#llx %s \"%s\"",
		      (unsigned long long)f.iova, f.access == EMU_DMA_WRITE ? "write" : "read",
		      emu_fault_reason_name(f.reason), (unsigned long long)iova,
		      acc == EMU_DMA_WRITE ? "write" : "read", emu_fault_reason_name(why));
}

static struct emu_group_stats gstats(int group)
{
	struct emu_group_stats st;

	TU_OK(emu_group_get_stats(group, &st));
	return st;
}

/* ------------------------------------------------------------ configuration */

START_TEST(config_defaults)
{
	struct emu_machine_config c, d;
	struct emu_group_info info;
	int g;

	emu_machine_config_default(&d);
	TU_OK(emu_machine_get_config(&c));
	/* make check QUIRKS=kernel: the environment's quirks=kernel, nothing else. */
	if (tu_quirks_kernel("every quirk"))
		d.quirks = EMU_QUIRKS_KERNEL;
	ck_assert(memcmp(&c, &d, sizeof(c)) == 0);
	ck_assert_uint_eq(c.groups, 4);
	for (g = 0; g < 4; g++) {
		TU_OK(emu_group_info(g, &info));
		ck_assert_uint_eq(info.tce32_start, 0);
		ck_assert_uint_eq(info.tce32_size, 2 * GiB);
		ck_assert_uint_eq(info.pgsizes, 4 * KiB | 64 * KiB | 2 * MiB | 1 * GiB);
		ck_assert_uint_eq(info.max_dynamic_windows_supported, 2);
		ck_assert_uint_eq(info.max_levels, 5);
		ck_assert_uint_eq(info.windows, 2);
		ck_assert(info.ddw);
		ck_assert_uint_eq(info.window_start[0], 0);
		ck_assert_uint_eq(info.window_start[1], WIN1);
		ck_assert_int_eq(info.node, 0);
	}
	TU_ERR(emu_group_info(4, &info), ENODEV);
	TU_ERR(emu_group_info(-1, &info), ENODEV);
	ck_assert_int_eq(emu_mem_node(), 0);
	/* The machine has started: too late to configure. */
	TU_ERR(emu_machine_configure(&d), EBUSY);
}
END_TEST

START_TEST(config_before_use)
{
	struct emu_machine_config c, bad;
	struct emu_group_info info;

	emu_machine_config_default(&c);
	c.groups = 8;
	c.pgsizes = 4 * KiB | 16 * MiB;
	c.max_windows = 1;
	c.max_levels = 3;
	c.ddw = false;
	c.tce_cache = 16;
	c.fault_ring = 5;

	bad = c;
	bad.groups = 0;
	TU_ERR(emu_machine_configure(&bad), EINVAL);
	bad = c;
	bad.groups = EMU_MAX_GROUPS + 1;
	TU_ERR(emu_machine_configure(&bad), EINVAL);
	bad = c;
	bad.pgsizes = 0;
	TU_ERR(emu_machine_configure(&bad), EINVAL);
	bad.pgsizes = 1 << 11;
	TU_ERR(emu_machine_configure(&bad), EINVAL);
	bad = c;
	bad.tce_cache = 12;
	TU_ERR(emu_machine_configure(&bad), EINVAL);
	bad = c;
	bad.max_levels = 6;
	TU_ERR(emu_machine_configure(&bad), EINVAL);
	bad = c;
	bad.max_windows = 3;
	TU_ERR(emu_machine_configure(&bad), EINVAL);
	bad = c;
	bad.fault_ring = 0;
	TU_ERR(emu_machine_configure(&bad), EINVAL);
	bad = c;
	bad.tce32_size = 0;
	TU_ERR(emu_machine_configure(&bad), EINVAL);
	bad = c;
	bad.tce32_size = WIN1 + 4096;
	TU_ERR(emu_machine_configure(&bad), EINVAL);
	bad = c;
	bad.node = 4095;
	TU_ERR(emu_machine_configure(&bad), EINVAL);

	TU_OK(emu_machine_configure(&c));
	TU_OK(emu_group_info(7, &info));
	TU_ERR(emu_group_info(8, &info), ENODEV);
	ck_assert_uint_eq(info.pgsizes, 4 * KiB | 16 * MiB);
	ck_assert_uint_eq(info.max_dynamic_windows_supported, 0);
	ck_assert(!info.ddw);
	ck_assert_uint_eq(info.windows, 1);
	ck_assert_uint_eq(info.max_levels, 3);
	TU_ERR(emu_machine_configure(&c), EBUSY);
}
END_TEST

START_TEST(config_environment)
{
	struct emu_machine_config c;
	struct emu_group_info info;

	setenv("SPAPRTCE_MACHINE", "groups=8,pgsizes=0x41001000,tce_cache=16,node=0,fault_ring=3",
	       1);
	TU_OK(emu_machine_get_config(&c));
	ck_assert_uint_eq(c.groups, 8);
	ck_assert_uint_eq(c.pgsizes, 0x41001000ull);
	ck_assert_uint_eq(c.tce_cache, 16);
	ck_assert_uint_eq(c.fault_ring, 3);
	TU_OK(emu_group_info(7, &info));
	ck_assert_uint_eq(info.pgsizes, 4 * KiB | 16 * MiB | 1 * GiB);
}
END_TEST

START_TEST(config_environment_over_configure)
{
	struct emu_machine_config c;

	emu_machine_config_default(&c);
	c.groups = 2;
	c.tce_cache = 8;
	TU_OK(emu_machine_configure(&c));
	setenv("SPAPRTCE_MACHINE", "tce_cache=32", 1);
	TU_OK(emu_machine_get_config(&c));
	ck_assert_uint_eq(c.groups, 2);
	ck_assert_uint_eq(c.tce_cache, 32);
}
END_TEST

static void env_rejected(const char *value)
{
	struct emu_machine_config c, d;

	printf("expected: SPAPRTCE_MACHINE=%s refused with the two lines below, nothing applied\n", value);
	fflush(stdout);	/* before the library's stderr lines in a shared log */
	setenv("SPAPRTCE_MACHINE", value, 1);
	TU_OK(emu_machine_get_config(&c));
	emu_machine_config_default(&d);
	ck_assert_msg(memcmp(&c, &d, sizeof(c)) == 0, "SPAPRTCE_MACHINE=%s was applied", value);
	TU_OK(emu_machine_reset());
}

START_TEST(config_environment_rejected)
{
	env_rejected("groups=0");
	env_rejected("groups=8,tce_cache=12");
	env_rejected("bogus=1");
	env_rejected("groups=8,pgsizes");
	env_rejected("groups=-1");
	env_rejected("levels=6");
	env_rejected("node=4000");
	env_rejected("pgsizes=0x800");
	env_rejected("groups=12x");
}
END_TEST

START_TEST(reset_refused_while_programmed)
{
	struct tt t;

	tt_create(&t, 0, 12, 1024, 1);
	set_window_ok(G, 0, &t);
	TU_ERR(emu_machine_reset(), EBUSY);
	TU_OK(emu_phb_unset_window(G, 0));
	TU_OK(emu_machine_reset());
	tt_destroy(&t);
}
END_TEST

/* ------------------------------------------------------------ window registers */

START_TEST(window_register_checks)
{
	struct emu_window w, r;
	struct tt t, t1;

	tt_create(&t, 0, 12, 1ull << 20, 2);	/* 4 GiB, S = 10 */
	w = tt_window(&t);

	TU_ERR(emu_phb_set_window(4, 0, &w), ENODEV);
	TU_ERR(emu_phb_set_window(-1, 0, &w), ENODEV);
	TU_ERR(emu_phb_set_window(G, 2, &w), EINVAL);
	r = w; r.levels = 0;
	TU_ERR(emu_phb_set_window(G, 0, &r), EINVAL);
	r = w; r.levels = 6;
	TU_ERR(emu_phb_set_window(G, 0, &r), EINVAL);
	r = w; r.page_shift = 13;
	TU_ERR(emu_phb_set_window(G, 0, &r), EINVAL);
	r = w; r.page_shift = 24;	/* 16M: not in the default pgsizes */
	TU_ERR(emu_phb_set_window(G, 0, &r), EINVAL);
	r = w; r.size = 0;
	TU_ERR(emu_phb_set_window(G, 0, &r), EINVAL);
	r = w; r.level_size = 1000;
	TU_ERR(emu_phb_set_window(G, 0, &r), EINVAL);
	r = w; r.size = (1ull << 20) + 1;	/* beyond levels * S index bits */
	TU_ERR(emu_phb_set_window(G, 0, &r), EINVAL);
	r = w; r.bus_offset = 0x800;
	TU_ERR(emu_phb_set_window(G, 0, &r), EINVAL);
	r = w; r.bus_offset = UINT64_MAX - (1ull << 31) + 1 - 4095;
	TU_ERR(emu_phb_set_window(G, 0, &r), EINVAL);
	r = w; r.bus_offset = 0ull - (1ull << 32);	/* ends exactly at 2^64 */
	TU_ERR(emu_phb_set_window(G, 0, &r), EINVAL);
	r = w; r.table_hpa = emu_mem_ua_to_hpa(0x10000, 12);	/* user memory, not a table */
	TU_ERR(emu_phb_set_window(G, 0, &r), EINVAL);
	r = w; r.table_hpa = t.top_hpa + 4096;	/* runs past the top block */
	TU_ERR(emu_phb_set_window(G, 0, &r), EINVAL);
	TU_ERR(emu_phb_get_window(G, 0, &r), ENOENT);
	ck_assert(!gstats(G).programmed[0]);

	TU_OK(emu_phb_set_window(G, 0, &w));
	TU_ERR(emu_phb_set_window(G, 0, &w), EBUSY);
	TU_OK(emu_phb_get_window(G, 0, &r));
	ck_assert(memcmp(&r, &w, sizeof(r)) == 0);
	/* Slot 1 may not overlap slot 0's window. */
	tt_create(&t1, 1ull << 31, 12, 1ull << 20, 2);
	r = tt_window(&t1);
	TU_ERR(emu_phb_set_window(G, 1, &r), EINVAL);
	r.bus_offset = 1ull << 32;	/* adjacent is fine */
	TU_OK(emu_phb_set_window(G, 1, &r));
	ck_assert(gstats(G).programmed[1]);
	ck_assert_uint_eq(gstats(G).windows[1].bus_offset, 1ull << 32);
	TU_OK(emu_machine_check());
	/* Other groups are independent. */
	TU_OK(emu_phb_set_window(1, 0, &w));
	TU_OK(emu_phb_unset_window(1, 0));

	TU_OK(emu_phb_unset_window(G, 1));
	TU_OK(emu_phb_unset_window(G, 0));
	TU_ERR(emu_phb_unset_window(G, 0), ENOENT);
	TU_ERR(emu_phb_unset_window(G, 2), EINVAL);
	TU_ERR(emu_phb_unset_window(9, 0), ENODEV);
	ck_assert_uint_eq(gstats(G).window_sets, 2);
	ck_assert_uint_eq(gstats(G).window_unsets, 2);
	tt_destroy(&t1);
	tt_destroy(&t);
}
END_TEST

/* ------------------------------------------------------------ DMA round trips */

/*
 * One window of @shift pages in @slot with @levels levels, at least 2^32
 * bytes; the first and the last entry both map the same pinned memory; a
 * write through one and a read through the other.
 */
static void roundtrip(unsigned shift, unsigned levels, unsigned slot)
{
	uint64_t bytes = shift >= 30 ? 1ull << 36 : 1ull << 32, size = bytes >> shift;
	uint64_t bus = slot ? WIN1 : 0, first, last, len, off = 100;
	uint64_t npages = 4;
	uint8_t buf[4 * 4096], back[4 * 4096];
	struct umem m;
	struct tt t;

	tt_create(&t, bus, shift, size, levels);
	umem_new(&m, npages, shift);
	first = it_offset(&t);
	last = first + size - 1;
	tt_set(&t, first, tce_of(m.p, shift, RW));
	tt_set(&t, last, tce_of(m.p, shift, RW));
	set_window_ok(G, slot, &t);

	len = (shift == 12 ? 4096 : npages * 4096) - off;
	fill(buf, len, shift + levels + slot);
	TU_OK(emu_dma_write(G, (first << shift) + off, buf, len));
	ck_assert(memcmp(m.p + off, buf, len) == 0);
	memset(back, 0, sizeof(back));
	TU_OK(emu_dma_read(G, (last << shift) + off, back, len));
	ck_assert(memcmp(back, buf, len) == 0);
	/* The very last byte of the window: pinned only for 4K pages. */
	if (shift == 12) {
		TU_OK(emu_dma_read(G, ((last + 1) << shift) - 1, back, 1));
		ck_assert_uint_eq(back[0], m.p[4095]);
	}
	/* Beyond either end of the window: no window. */
	if (bus)
		TU_ERR(emu_dma_read(G, bus - 1, back, 1), EFAULT);
	TU_ERR(emu_dma_read(G, bus + bytes, back, 1), EFAULT);

	TU_OK(emu_phb_unset_window(G, slot));
	tt_destroy(&t);
	umem_free(&m);
}

START_TEST(dma_roundtrip_levels_and_page_sizes)
{
	static const unsigned shifts[] = { 12, 16, 21, 30 };
	unsigned i, levels, slot;

	for (i = 0; i < 4; i++)
		for (levels = 1; levels <= 5; levels++)
			for (slot = 0; slot < 2; slot++)
				roundtrip(shifts[i], levels, slot);
	ck_assert_uint_eq(gstats(G).faults[EMU_FAULT_NO_WINDOW], 40 + 20);
}
END_TEST

/* Entries e, e+1, e+2, e+3 map pages 2, 0, 3, 1 of the memory: crossings scatter. */
START_TEST(dma_crosses_tce_pages)
{
	static const unsigned shifts[] = { 12, 16, 21 };
	static const unsigned order[4] = { 2, 0, 3, 1 };
	unsigned i, k;

	for (i = 0; i < 3; i++) {
		unsigned shift = shifts[i];
		uint64_t psz = 1ull << shift, e = 5, len = 2 * psz + 200, off = psz - 100;
		uint8_t *buf = malloc(len), *back = malloc(len);
		struct umem m;
		struct tt t;

		tt_create(&t, 0, shift, 1ull << (32 - shift), 3);
		umem_new(&m, 4 * psz / 4096, shift);
		for (k = 0; k < 4; k++)
			tt_set(&t, e + k, tce_of(m.p + order[k] * psz, shift, RW));
		set_window_ok(G, 0, &t);
		fill(buf, len, shift);
		/* From 100 bytes before the end of entry e to 100 bytes into e+3. */
		TU_OK(emu_dma_write(G, (e << shift) + off, buf, len));
		ck_assert(memcmp(m.p + 2 * psz + off, buf, 100) == 0);
		ck_assert(memcmp(m.p + 0 * psz, buf + 100, psz) == 0);
		ck_assert(memcmp(m.p + 3 * psz, buf + 100 + psz, psz) == 0);
		ck_assert(memcmp(m.p + 1 * psz, buf + 100 + 2 * psz, 100) == 0);
		TU_OK(emu_dma_read(G, (e << shift) + off, back, len));
		ck_assert(memcmp(back, buf, len) == 0);
		TU_OK(emu_phb_unset_window(G, 0));
		tt_destroy(&t);
		umem_free(&m);
		free(buf);
		free(back);
	}
}
END_TEST

/* Many small pieces: more segments than fit on the stack. */
START_TEST(dma_many_discontiguous_pages)
{
	uint64_t n = 100, k, len = n * 4096;
	uint8_t *buf = malloc(len), *back = malloc(len);
	struct umem m;
	struct tt t;

	tt_create(&t, 0, 12, 1ull << 20, 2);
	umem_new(&m, 2 * n, 12);
	for (k = 0; k < n; k++)	/* every other page, in reverse */
		tt_set(&t, k, tce_of(m.p + (2 * n - 2 - 2 * k) * 4096, 12, RW));
	set_window_ok(G, 0, &t);
	fill(buf, len, 9);
	TU_OK(emu_dma_write(G, 0, buf, len));
	for (k = 0; k < n; k++)
		ck_assert(memcmp(m.p + (2 * n - 2 - 2 * k) * 4096, buf + k * 4096, 4096) == 0);
	TU_OK(emu_dma_read(G, 0, back, len));
	ck_assert(memcmp(back, buf, len) == 0);
	/* The segment list is allocated: it may fail, leaving memory untouched. */
	memset(m.p, 0xee, 2 * n * 4096);
	util_fail_nth_arm(1);
	TU_ERR(emu_dma_write(G, 0, buf, len), ENOMEM);
	util_fail_nth_arm(0);
	for (k = 0; k < 2 * n * 4096; k++)
		ck_assert_uint_eq(m.p[k], 0xee);
	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	umem_free(&m);
	free(buf);
	free(back);
}
END_TEST

/* Slot 0 ends where slot 1 begins: one transfer through both windows. */
START_TEST(dma_crosses_windows)
{
	struct tt t0, t1;
	struct umem m;
	uint8_t buf[300], back[300];

	tt_create(&t0, WIN1 - (1ull << 32), 12, 1ull << 20, 4);
	tt_create(&t1, WIN1, 16, 1ull << 16, 2);
	umem_new(&m, 32, 16);
	tt_set(&t0, it_offset(&t0) + (1ull << 20) - 1, tce_of(m.p + 20 * 4096, 12, RW));
	tt_set(&t1, it_offset(&t1), tce_of(m.p, 16, RW));
	set_window_ok(G, 0, &t0);
	set_window_ok(G, 1, &t1);
	fill(buf, sizeof(buf), 3);
	TU_OK(emu_dma_write(G, WIN1 - 100, buf, sizeof(buf)));
	ck_assert(memcmp(m.p + 21 * 4096 - 100, buf, 100) == 0);
	ck_assert(memcmp(m.p, buf + 100, 200) == 0);
	TU_OK(emu_dma_read(G, WIN1 - 100, back, sizeof(back)));
	ck_assert(memcmp(back, buf, sizeof(buf)) == 0);
	ck_assert_uint_eq(gstats(G).dma_writes, 1);
	ck_assert_uint_eq(gstats(G).bytes_written, 300);
	ck_assert_uint_eq(gstats(G).dma_reads, 1);
	ck_assert_uint_eq(gstats(G).bytes_read, 300);
	TU_OK(emu_phb_unset_window(G, 0));
	TU_OK(emu_phb_unset_window(G, 1));
	tt_destroy(&t0);
	tt_destroy(&t1);
	umem_free(&m);
}
END_TEST

START_TEST(dma_argument_errors)
{
	uint8_t b[8] = { 0 };

	TU_ERR(emu_dma_read(4, 0, b, 1), ENODEV);
	TU_ERR(emu_dma_write(-1, 0, b, 1), ENODEV);
	TU_ERR(emu_dma_read(G, UINT64_MAX - 3, b, 8), EINVAL);
	TU_ERR(emu_dma_write(G, 1, b, UINT64_MAX), EINVAL);
	TU_OK(emu_dma_read(G, 0, b, 0));	/* nothing to translate */
	TU_OK(emu_dma_write(G, 12345, b, 0));
	struct emu_fault_log_stats fs;
	TU_OK(emu_fault_log_stats(G, &fs));
	ck_assert_uint_eq(fs.producer, 0);
}
END_TEST

/* ------------------------------------------------------------ faults */

START_TEST(dma_faults_and_reasons)
{
	struct umem m;
	struct tt t;
	uint8_t buf[8192], before[3 * 4096];
	struct emu_group_stats st;
	uint64_t u;

	tt_create(&t, 0, 12, 1ull << 20, 2);
	umem_new(&m, 3, 12);
	tt_set(&t, 0, tce_of(m.p, 12, EMU_TCE_READ));		/* to device only */
	tt_set(&t, 1, tce_of(m.p + 4096, 12, EMU_TCE_WRITE));	/* raw 0x2: no READ */
	tt_set(&t, 2, tce_of(m.p + 8192, 12, 0));		/* hpa without permission */
	tt_set(&t, 3, tce_of(m.p + 8192, 12, RW));
	/* entry 4: 0; entries >= 1024: no leaf block */
	set_window_ok(G, 0, &t);
	fill(m.p, 3 * 4096, 1);
	memcpy(before, m.p, sizeof(before));
	fill(buf, sizeof(buf), 2);

	TU_OK(emu_dma_read(G, 10, buf, 100));
	TU_ERR(emu_dma_write(G, 10, buf, 100), EACCES);
	assert_fault(G, 10, EMU_DMA_WRITE, EMU_FAULT_PERMISSION);
	TU_ERR(emu_dma_read(G, 4096 + 5, buf, 10), EACCES);
	assert_fault(G, 4096 + 5, EMU_DMA_READ, EMU_FAULT_PERMISSION);
	TU_OK(emu_dma_write(G, 4096 + 5, buf, 10));
	memcpy(before + 4096 + 5, buf, 10);
	TU_ERR(emu_dma_read(G, 2 * 4096, buf, 10), EACCES);
	assert_fault(G, 2 * 4096, EMU_DMA_READ, EMU_FAULT_PERMISSION);
	TU_ERR(emu_dma_write(G, 2 * 4096, buf, 10), EACCES);
	assert_fault(G, 2 * 4096, EMU_DMA_WRITE, EMU_FAULT_PERMISSION);
	TU_ERR(emu_dma_read(G, 4 * 4096 + 8, buf, 10), EFAULT);
	assert_fault(G, 4 * 4096 + 8, EMU_DMA_READ, EMU_FAULT_NO_TRANSLATION);
	TU_ERR(emu_dma_write(G, 5000ull * 4096, buf, 10), EFAULT);	/* missing level */
	assert_fault(G, 5000ull * 4096, EMU_DMA_WRITE, EMU_FAULT_NO_TRANSLATION);
	TU_ERR(emu_dma_write(G, 1ull << 32, buf, 10), EFAULT);
	assert_fault(G, 1ull << 32, EMU_DMA_WRITE, EMU_FAULT_NO_WINDOW);
	TU_ERR(emu_dma_read(G, WIN1, buf, 10), EFAULT);
	assert_fault(G, WIN1, EMU_DMA_READ, EMU_FAULT_NO_WINDOW);

	/* All or nothing: a write that starts on good pages and faults later. */
	TU_ERR(emu_dma_write(G, 3 * 4096 + 100, buf, 5000), EFAULT);
	assert_fault(G, 4 * 4096, EMU_DMA_WRITE, EMU_FAULT_NO_TRANSLATION);
	TU_ERR(emu_dma_write(G, 4096 - 50, buf, 4096), EACCES);	/* READ-only page first */
	assert_fault(G, 4096 - 50, EMU_DMA_WRITE, EMU_FAULT_PERMISSION);
	TU_ERR(emu_dma_write(G, (1ull << 32) - 4096, buf, 8192), EFAULT);
	assert_fault(G, (1ull << 32) - 4096, EMU_DMA_WRITE, EMU_FAULT_NO_TRANSLATION);
	ck_assert(memcmp(m.p, before, sizeof(before)) == 0);
	/* ... and a read that faults leaves the caller's buffer alone. */
	memset(buf, 0x5a, sizeof(buf));
	TU_ERR(emu_dma_read(G, 3 * 4096, buf, 8192), EFAULT);
	assert_fault(G, 4 * 4096, EMU_DMA_READ, EMU_FAULT_NO_TRANSLATION);
	for (u = 0; u < sizeof(buf); u++)
		ck_assert_uint_eq(buf[u], 0x5a);

	/* An indirect entry pointing at memory that is not table memory. */
	emu_phb_tce_kill(G, 0, 0, 1024);
	*t.top = htobe64(emu_mem_ua_to_hpa((uintptr_t)m.p, 12) | RW);
	TU_ERR(emu_dma_read(G, 0x100, buf, 8), EFAULT);
	assert_fault(G, 0x100, EMU_DMA_READ, EMU_FAULT_TABLE_UNREADABLE);
	*t.top = 0;

	st = gstats(G);
	ck_assert_uint_eq(st.faults[EMU_FAULT_PERMISSION], 5);
	ck_assert_uint_eq(st.faults[EMU_FAULT_NO_TRANSLATION], 5);
	ck_assert_uint_eq(st.faults[EMU_FAULT_NO_WINDOW], 2);
	ck_assert_uint_eq(st.faults[EMU_FAULT_TABLE_UNREADABLE], 1);
	ck_assert_uint_eq(st.faults[EMU_FAULT_UNPINNED], 0);
	ck_assert_str_eq(emu_fault_reason_name(EMU_FAULT_UNPINNED), "use-after-unpin");
	ck_assert_str_eq(emu_fault_reason_name(EMU_FAULT_NO_TRANSLATION), "no translation");
	ck_assert_str_eq(emu_fault_reason_name(EMU_FAULT_NO_WINDOW), "no window");
	ck_assert_str_eq(emu_fault_reason_name(EMU_FAULT_PERMISSION), "permission");
	ck_assert_str_eq(emu_fault_reason_name(EMU_FAULT_TABLE_UNREADABLE),
			 "table memory unreadable");
	ck_assert_str_eq(emu_fault_reason_name(EMU_FAULT_NREASONS), "?");
	TU_OK(emu_machine_check());
	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	umem_free(&m);
}
END_TEST


/* ------------------------------------------- memory the process dropped */

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Whether /proc/self/pagemap shows frame numbers to this process (root). */
static bool pfns_visible(const void *present_page)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd >= 0) {
		if (pread(fd, &e, 8, (off_t)((uintptr_t)present_page >> 12) * 8) != 8)
			e = 0;
		close(fd);
	}
	return (e & ((1ull << 55) - 1)) != 0;
}

static void assert_unmapped_fault(uint64_t iova, enum emu_dma_access acc)
{
	assert_fault(G, iova, acc, EMU_FAULT_USER_UNMAPPED);
}

static void assert_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		ck_assert_msg(p[i] == v, "byte %zu is %#x, expected %#x", i, p[i], v);
}

/*
 * Pages scattered over private mappings: one transfer, one segment per
 * page.  The mapping found allowing the access for one segment is reused
 * for the next ones inside it (emu__vma_memo), never for a page outside
 * it: a write whose third page lies in a PROT_READ or PROT_NONE part (its
 * own VMA after mprotect) or in another mapping that is read-only faults
 * there, and nothing moves, not even the first two pages.
 */
START_TEST(private_scattered_pages_protection_per_mapping)
{
	struct umem m, ro;
	struct tt t;
	uint8_t buf[4 * 4096], back[4 * 4096];
	static const unsigned order[4] = { 5, 0, 3, 7 };	/* of m's pages */
	uint64_t k;

	tt_create(&t, 0, 12, 1024, 1);
	umem_new(&m, 8, 12);
	umem_new(&ro, 1, 12);
	for (k = 0; k < 4; k++)
		tt_set(&t, k, tce_of(m.p + order[k] * 4096, 12, RW));
	tt_set(&t, 4, tce_of(m.p + 5 * 4096, 12, RW));
	tt_set(&t, 5, tce_of(m.p, 12, RW));
	tt_set(&t, 6, tce_of(ro.p, 12, RW));
	set_window_ok(G, 0, &t);
	memset(m.p, 0x11, 8 * 4096);
	memset(ro.p, 0x22, 4096);
	fill(buf, sizeof(buf), 3);

	/* All in one mapping: every page reached, in TCE order, both ways. */
	TU_OK(emu_dma_write(G, 0, buf, sizeof(buf)));
	for (k = 0; k < 4; k++)
		ck_assert(memcmp(m.p + order[k] * 4096, buf + k * 4096, 4096) == 0);
	TU_OK(emu_dma_read(G, 8, back, sizeof(back) - 8));
	ck_assert(memcmp(back, buf + 8, sizeof(back) - 8) == 0);
	memset(m.p, 0x11, 8 * 4096);

	/* Page 3 of m read-only: the third segment of the transfer. */
	ck_assert_int_eq(mprotect(m.p + 3 * 4096, 4096, PROT_READ), 0);
	TU_ERR(emu_dma_write(G, 100, buf, 3 * 4096), EFAULT);
	assert_unmapped_fault(2 * 4096, EMU_DMA_WRITE);
	assert_bytes(m.p, 8 * 4096, 0x11);
	TU_OK(emu_dma_read(G, 0, back, 4 * 4096));		/* reading it is allowed */
	assert_bytes(back, sizeof(back), 0x11);
	/* PROT_NONE: neither way. */
	ck_assert_int_eq(mprotect(m.p + 3 * 4096, 4096, PROT_NONE), 0);
	TU_ERR(emu_dma_read(G, 0, back, 3 * 4096), EFAULT);
	assert_unmapped_fault(2 * 4096, EMU_DMA_READ);
	ck_assert_int_eq(mprotect(m.p + 3 * 4096, 4096, PROT_READ | PROT_WRITE), 0);
	assert_bytes(m.p, 8 * 4096, 0x11);

	/* Another mapping, read-only, after two pages of m. */
	ck_assert_int_eq(mprotect(ro.p, 4096, PROT_READ), 0);
	TU_ERR(emu_dma_write(G, 4 * 4096, buf, 3 * 4096), EFAULT);
	assert_unmapped_fault(6 * 4096, EMU_DMA_WRITE);
	assert_bytes(m.p, 8 * 4096, 0x11);
	assert_bytes(ro.p, 4096, 0x22);
	TU_OK(emu_dma_read(G, 4 * 4096, back, 3 * 4096));
	assert_bytes(back, 2 * 4096, 0x11);
	assert_bytes(back + 2 * 4096, 4096, 0x22);
	ck_assert_int_eq(mprotect(ro.p, 4096, PROT_READ | PROT_WRITE), 0);

	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	umem_free(&ro);
	umem_free(&m);
}
END_TEST

/*
 * Private anonymous memory, pinned, then unmapped / PROT_NONE / PROT_READ /
 * replaced by a new mapping: every DMA that would reach the dropped page
 * fails with EFAULT and the fault "registered memory unmapped by the
 * process" at the first such byte; the new mapping is never written or
 * read; nothing before the bad page is written either.
 */
START_TEST(private_memory_dropped_by_the_process)
{
	struct umem m;
	struct tt t;
	uint8_t buf[3 * 4096], *hole;
	uint64_t i;
	bool pfn;

	tt_create(&t, 0, 12, 1024, 1);
	umem_new(&m, 6, 12);
	for (i = 0; i < 6; i++)
		tt_set(&t, i, tce_of(m.p + i * 4096, 12, RW));
	set_window_ok(G, 0, &t);
	memset(m.p, 0x11, 6 * 4096);
	pfn = pfns_visible(m.p);
	memset(buf, 0xa5, sizeof(buf));
	TU_OK(emu_dma_write(G, 0, buf, 4096));		/* the pages are reached */
	assert_bytes(m.p, 4096, 0xa5);
	memset(m.p, 0x11, 4096);

	/* Unmapped (still pinned, as DPDK leaves its freed hugepages). */
	ck_assert_int_eq(munmap(m.p + 1 * 4096, 4096), 0);
	TU_ERR(emu_dma_write(G, 4096 + 8, buf, 16), EFAULT);
	assert_unmapped_fault(4096 + 8, EMU_DMA_WRITE);
	TU_ERR(emu_dma_read(G, 4096, buf, 16), EFAULT);
	assert_unmapped_fault(4096, EMU_DMA_READ);
	TU_ERR(emu_dma_write(G, 100, buf, 8192), EFAULT);	/* good page first: untouched */
	assert_unmapped_fault(4096, EMU_DMA_WRITE);
	assert_bytes(m.p, 4096, 0x11);
	memset(buf, 0x5a, sizeof(buf));
	TU_ERR(emu_dma_read(G, 0, buf, 8192), EFAULT);
	assert_unmapped_fault(4096, EMU_DMA_READ);
	assert_bytes(buf, sizeof(buf), 0x5a);

	/* PROT_NONE: no access either way. */
	ck_assert_int_eq(mprotect(m.p + 2 * 4096, 4096, PROT_NONE), 0);
	TU_ERR(emu_dma_write(G, 2 * 4096, buf, 4096), EFAULT);
	assert_unmapped_fault(2 * 4096, EMU_DMA_WRITE);
	TU_ERR(emu_dma_read(G, 2 * 4096 + 4000, buf, 200), EFAULT);
	assert_unmapped_fault(2 * 4096 + 4000, EMU_DMA_READ);
	ck_assert_int_eq(mprotect(m.p + 2 * 4096, 4096, PROT_READ | PROT_WRITE), 0);
	assert_bytes(m.p + 2 * 4096, 4096, 0x11);

	/* PROT_READ: the device may read, not write. */
	ck_assert_int_eq(mprotect(m.p + 3 * 4096, 4096, PROT_READ), 0);
	TU_OK(emu_dma_read(G, 3 * 4096, buf, 4096));
	assert_bytes(buf, 4096, 0x11);
	TU_ERR(emu_dma_write(G, 3 * 4096 + 1, buf, 10), EFAULT);
	assert_unmapped_fault(3 * 4096 + 1, EMU_DMA_WRITE);
	assert_bytes(m.p + 3 * 4096, 4096, 0x11);
	ck_assert_int_eq(mprotect(m.p + 3 * 4096, 4096, PROT_READ | PROT_WRITE), 0);

	/* A new mapping in the hole, not touched yet: never reached. */
	hole = mmap(m.p + 4096, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ck_assert_ptr_eq(hole, m.p + 4096);
	memset(buf, 0xa5, sizeof(buf));
	TU_ERR(emu_dma_write(G, 4096, buf, 64), EFAULT);
	assert_unmapped_fault(4096, EMU_DMA_WRITE);
	assert_bytes(hole, 4096, 0);
	/* ... and written by the process: found out through the frame number. */
	memset(hole, 0x77, 4096);
	if (pfn) {
		TU_ERR(emu_dma_write(G, 4096, buf, 64), EFAULT);
		assert_unmapped_fault(4096, EMU_DMA_WRITE);
		memset(buf, 0, sizeof(buf));
		TU_ERR(emu_dma_read(G, 4096, buf, 64), EFAULT);
		assert_unmapped_fault(4096, EMU_DMA_READ);
		assert_bytes(buf, 64, 0);
	} else {
		printf("SKIP private_memory_dropped_by_the_process (touched replacement): "
		       "frame numbers not visible (not root)\n");
	}
	assert_bytes(hole, 4096, 0x77);

	/* The pages nobody touched still work. */
	TU_OK(emu_dma_write(G, 4 * 4096, buf, 8192));
	ck_assert(memcmp(m.p + 4 * 4096, buf, 8192) == 0);
	ck_assert_uint_eq(gstats(G).faults[EMU_FAULT_USER_UNMAPPED], pfn ? 10 : 8);
	ck_assert_str_eq(emu_fault_reason_name(EMU_FAULT_USER_UNMAPPED),
			 "registered memory unmapped by the process");
	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	umem_free(&m);
}
END_TEST

/* Whether the mapping at @p is mlocked (the sanitizers make mlock a no-op). */
static bool mapping_locked(void *p, size_t len)
{
	return msync(p, len, MS_INVALIDATE) && errno == EBUSY;
}

struct check_counts {
	uint64_t fast, full, locks;
};

/* The private-memory checks made since @from (emu__mem_check_counts). */
static struct check_counts counts_since(const struct check_counts *from)
{
	struct check_counts c;

	emu__mem_check_counts(&c.fast, &c.full, &c.locks);
	if (from) {
		c.fast -= from->fast;
		c.full -= from->full;
		c.locks -= from->locks;
	}
	return c;
}

/*
 * One DMA write of the 16 pages of @m, TCE i to page (5 i) mod 16 (16
 * segments in one mapping), then the bytes compared: returns the checks
 * the transfer made.
 */
static struct check_counts write_scattered(struct umem *m, unsigned seed)
{
	uint8_t buf[16 * 4096];
	struct check_counts c0 = counts_since(NULL);
	uint64_t i;

	fill(buf, sizeof(buf), seed);
	TU_OK(emu_dma_write(G, 0, buf, sizeof(buf)));
	c0 = counts_since(&c0);
	for (i = 0; i < 16; i++)
		ck_assert(memcmp(m->p + (i * 5 % 16) * 4096, buf + i * 4096, 4096) == 0);
	return c0;
}

/*
 * The check before a DMA into private memory (emu__mem_check_pages).  While
 * the pinned mapping is still mlocked, pages tagged with their frame need
 * no frame read: one protection query and one lock query (msync) per
 * mapping and transfer, whatever the number of segments (fast).  After the
 * process munlocks its memory the frames are read and compared (full) and
 * the very same pages are still reached; locked again, fast again.  Half
 * of it unlocked: the full check.  Without frame numbers (not root) or
 * with mlock a no-op (sanitizers) every check is the full one.  No fault.
 */
START_TEST(private_memory_check_fast_while_locked)
{
	struct umem m;
	struct tt t;
	struct check_counts c;
	uint8_t back[4096];
	uint64_t i;
	bool pfn, locked;

	tt_create(&t, 0, 12, 1024, 1);
	umem_new(&m, 16, 12);
	for (i = 0; i < 16; i++)
		tt_set(&t, i, tce_of(m.p + (i * 5 % 16) * 4096, 12, RW));
	set_window_ok(G, 0, &t);
	memset(m.p, 0x11, 16 * 4096);
	pfn = pfns_visible(m.p);
	locked = mapping_locked(m.p, 16 * 4096);

	c = write_scattered(&m, 1);
	ck_assert_uint_eq(c.fast, pfn && locked ? 16 : 0);
	ck_assert_uint_eq(c.full, pfn && locked ? 0 : 16);
	ck_assert_uint_eq(c.locks, pfn ? 1 : 0);
	/* A read, one segment: the same way. */
	c = counts_since(NULL);
	TU_OK(emu_dma_read(G, 4096, back, sizeof(back)));
	ck_assert(memcmp(back, m.p + 5 * 4096, sizeof(back)) == 0);
	c = counts_since(&c);
	ck_assert_uint_eq(c.fast, pfn && locked ? 1 : 0);
	ck_assert_uint_eq(c.full, pfn && locked ? 0 : 1);
	ck_assert_uint_eq(c.locks, pfn ? 1 : 0);

	/* Unlocked by the process: frames compared, the same pages reached. */
	ck_assert_int_eq(munlock(m.p, 16 * 4096), 0);
	ck_assert(!mapping_locked(m.p, 16 * 4096));
	c = write_scattered(&m, 2);
	ck_assert_uint_eq(c.fast, 0);
	ck_assert_uint_eq(c.full, 16);
	ck_assert_uint_eq(c.locks, pfn ? 1 : 0);

	/* Locked again by the process. */
	ck_assert_int_eq(mlock(m.p, 16 * 4096), 0);
	c = write_scattered(&m, 3);
	ck_assert_uint_eq(c.fast, pfn && locked ? 16 : 0);
	ck_assert_uint_eq(c.full, pfn && locked ? 0 : 16);

	/*
	 * The upper half unlocked: two mappings.  The segments' pages go
	 * L L U U L U U L U U L L U L L U (L: the lower, locked half); the
	 * memo holds one mapping, so each of the 10 runs asks again.
	 */
	ck_assert_int_eq(munlock(m.p + 8 * 4096, 8 * 4096), 0);
	c = write_scattered(&m, 4);
	ck_assert_uint_eq(c.fast, pfn && locked ? 8 : 0);
	ck_assert_uint_eq(c.full, pfn && locked ? 8 : 16);
	ck_assert_uint_eq(c.locks, pfn && locked ? 10 : pfn ? 1 : 0);
	ck_assert_uint_eq(gstats(G).faults[EMU_FAULT_USER_UNMAPPED], 0);

	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	umem_free(&m);
}
END_TEST

/*
 * Shared memory (a memfd, as QEMU's and DPDK's memory is): after the
 * process unmaps, protects or replaces its mapping, the device still
 * reaches the pinned pages, as the kernel's device does, and never the new
 * mapping.
 */
START_TEST(shared_memory_dropped_by_the_process)
{
	struct tt t;
	struct emu_pin *pin;
	uint8_t buf[4096], *p, *view, *hole;
	int fd = memfd_create("emu-dropped", MFD_CLOEXEC);
	uint64_t i;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4 * 4096), 0);
	p = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	view = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert(p != MAP_FAILED && view != MAP_FAILED);
	memset(p, 0x11, 4 * 4096);
	TU_OK(emu_mem_pin((uintptr_t)p, 4, &pin));
	tt_create(&t, 0, 12, 1024, 1);
	for (i = 0; i < 4; i++)
		tt_set(&t, i, tce_of(p + i * 4096, 12, RW));
	set_window_ok(G, 0, &t);

	ck_assert_int_eq(munmap(p + 4096, 4096), 0);
	ck_assert_int_eq(mprotect(p + 2 * 4096, 4096, PROT_NONE), 0);
	ck_assert_int_eq(mprotect(p + 3 * 4096, 4096, PROT_READ), 0);
	memset(buf, 0xa5, sizeof(buf));
	for (i = 1; i < 4; i++) {
		TU_OK(emu_dma_write(G, i * 4096, buf, 4096));
		assert_bytes(view + i * 4096, 4096, 0xa5);
		view[i * 4096] = 0x3c;
		TU_OK(emu_dma_read(G, i * 4096, buf, 1));
		ck_assert_uint_eq(buf[0], 0x3c);
		buf[0] = 0xa5;
	}
	hole = mmap(p + 4096, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ck_assert_ptr_eq(hole, p + 4096);
	memset(hole, 0x77, 4096);
	memset(buf, 0x42, sizeof(buf));
	TU_OK(emu_dma_write(G, 4096, buf, 4096));
	assert_bytes(view + 4096, 4096, 0x42);
	assert_bytes(hole, 4096, 0x77);
	ck_assert_uint_eq(gstats(G).faults[EMU_FAULT_USER_UNMAPPED], 0);

	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	emu_mem_unpin(pin);
	munmap(p, 4 * 4096);
	munmap(view, 4 * 4096);
	close(fd);
}
END_TEST

/*
 * DPDK's memory: a MAP_SHARED hugetlbfs file (here a memfd with
 * MFD_HUGETLB), pinned, then unmapped whole by the process (its unmap bug).
 * As root the pin keeps its own mapping of the file (hugetlbfs refuses
 * mremap with old size 0, so through /proc/self/map_files) and the device
 * still reaches the pinned huge page, as the kernel's does; otherwise the
 * DMA faults as "registered memory unmapped by the process".
 */
START_TEST(shared_hugetlbfs_memory_unmapped_by_the_process)
{
	struct tt t;
	struct emu_pin *pin;
	uint8_t buf[4096], *p, *view;
	const char *why = NULL;
	long prev = tu_hugetlb_reserve(2, &why);
	int fd;

	if (prev < 0) {
		printf("SKIP shared_hugetlbfs_memory_unmapped_by_the_process: %s\n", why);
		return;
	}
	fd = memfd_create("emu-huge", MFD_CLOEXEC | MFD_HUGETLB);
	if (fd < 0 || ftruncate(fd, 2 * MiB)) {
		printf("SKIP shared_hugetlbfs_memory_unmapped_by_the_process: memfd: %s\n",
		       strerror(errno));
		if (fd >= 0)
			close(fd);
		tu_hugetlb_restore(prev);
		return;
	}
	p = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	view = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert(p != MAP_FAILED && view != MAP_FAILED);
	memset(p, 0x11, 2 * MiB);
	TU_OK(emu_mem_pin((uintptr_t)p, 512, &pin));
	ck_assert_uint_eq(emu_pin_page_shift(pin, (uintptr_t)p), 21);
	tt_create(&t, 0, 21, 16, 1);
	tt_set(&t, 0, tce_of(p, 21, RW));
	set_window_ok(G, 0, &t);
	ck_assert_int_eq(munmap(p, 2 * MiB), 0);
	memset(buf, 0xa5, sizeof(buf));
	if (geteuid() == 0) {
		TU_OK(emu_dma_write(G, MiB, buf, sizeof(buf)));
		assert_bytes(view + MiB, sizeof(buf), 0xa5);
		TU_OK(emu_dma_read(G, 5, buf, 8));
		assert_bytes(buf, 8, 0x11);
	} else {
		TU_ERR(emu_dma_write(G, MiB, buf, sizeof(buf)), EFAULT);
		assert_unmapped_fault(MiB, EMU_DMA_WRITE);
		assert_bytes(view + MiB, sizeof(buf), 0x11);
	}
	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	emu_mem_unpin(pin);
	munmap(view, 2 * MiB);
	close(fd);
	tu_hugetlb_restore(prev);
}
END_TEST

/* -------------------------------------------------------------- strictness */

/* Map, DMA (caches the TCE), clear the entry, optionally kill, unpin, DMA. */
static void stale_scenario(bool kill)
{
	struct umem m;
	struct tt t;
	uint8_t buf[64];
	struct emu_fault f;

	tt_create(&t, 0, 12, 1ull << 20, 2);
	umem_new(&m, 1, 12);
	tt_set(&t, 7, tce_of(m.p, 12, RW));
	set_window_ok(G, 0, &t);
	TU_OK(emu_dma_write(G, 7 * 4096, "hello", 6));
	tt_set(&t, 7, 0);
	if (kill)
		emu_phb_tce_kill(G, 0, 7, 1);
	umem_unpin(&m);
	TU_ERR(emu_dma_read(G, 7 * 4096, buf, sizeof(buf)), EFAULT);
	f = last_fault(G, 1);
	ck_assert_uint_eq(f.iova, 7 * 4096);
	if (kill) {
		ck_assert_int_eq(f.reason, EMU_FAULT_NO_TRANSLATION);
	} else {
		ck_assert_int_eq(f.reason, EMU_FAULT_UNPINNED);
		ck_assert_uint_eq(f.tce, tce_of(m.p, 12, RW));
	}
	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	umem_free(&m);
}

START_TEST(skipped_kill_is_use_after_unpin)
{
	printf("expected: one use-after-unpin report below (the kill is skipped on purpose)\n");
	fflush(stdout);
	emu_machine_set_abort_on_unpinned(false);
	stale_scenario(false);
	ck_assert_uint_eq(gstats(G).faults[EMU_FAULT_UNPINNED], 1);
}
END_TEST

START_TEST(killed_then_unpinned_is_no_translation)
{
	stale_scenario(true);	/* abort stays on: it must not fire */
	ck_assert_uint_eq(gstats(G).kills, 1);
	ck_assert_uint_eq(gstats(G).killed_pages, 1);
}
END_TEST

START_TEST(skipped_kill_aborts_in_debug_builds)
{
	stale_scenario(false);	/* raises SIGABRT */
}
END_TEST

/* A TCE to a freed frame (never pinned) faults as use-after-unpin too. */
START_TEST(tce_to_unpinned_frame)
{
	struct umem m;
	struct tt t;
	uint8_t b[16];

	emu_machine_set_abort_on_unpinned(false);
	tt_create(&t, 0, 12, 1024, 1);
	m.p = tu_map(1);
	m.npages = 1;
	m.pin = NULL;
	tt_set(&t, 0, tce_of(m.p, 12, RW));
	tt_set(&t, 1, (1ull << 56) | RW);	/* an hpa in no zone */
	set_window_ok(G, 0, &t);
	TU_ERR(emu_dma_write(G, 0, b, sizeof(b)), EFAULT);
	assert_fault(G, 0, EMU_DMA_WRITE, EMU_FAULT_UNPINNED);
	TU_ERR(emu_dma_read(G, 4096, b, sizeof(b)), EFAULT);
	assert_fault(G, 4096, EMU_DMA_READ, EMU_FAULT_UNPINNED);
	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	umem_free(&m);
}
END_TEST

/*
 * Which fault a transfer reports when several pages would fault: the first
 * in bus address order, whether the TCE walk or the pin lookup finds it
 * (emu/phb_dma.c walks every TCE first and looks the pins up in one round
 * afterwards).  A faulting transfer writes nothing and records one fault,
 * whose TCE is the one of the faulting page; beyond 32 pages the page
 * lists leave the stack.
 */
START_TEST(dma_first_fault_in_bus_order)
{
	enum { NP = 64, HOLE = 40 };
	struct emu_pin *lo, *hi;
	struct emu_group_stats before;
	uint8_t *area = tu_map(NP), *loose = tu_map(1), *zero = calloc(NP, 4096);
	uint8_t *b = malloc(NP * 4096);
	uint64_t k, unpinned_tce = tce_of(loose, 12, RW);
	struct emu_fault f;
	struct tt t;

	ck_assert_ptr_nonnull(zero);
	ck_assert_ptr_nonnull(b);
	emu_machine_set_abort_on_unpinned(false);
	/* area: pages 0..HOLE-1 and HOLE+1..NP-1 pinned, page HOLE not. */
	TU_OK(emu_mem_pin((uintptr_t)area, HOLE, &lo));
	TU_OK(emu_mem_pin((uintptr_t)area + (HOLE + 1) * 4096ull, NP - HOLE - 1, &hi));
	tt_create(&t, 0, 12, 1024, 2);
	for (k = 0; k < NP; k++)
		tt_set(&t, k, tce_of(area + k * 4096, 12, RW));
	/* Entries 100..: pinned, unpinned, empty, pinned, unpinned, pinned, read-only. */
	tt_set(&t, 100, tce_of(area, 12, RW));
	tt_set(&t, 101, unpinned_tce);
	tt_set(&t, 103, tce_of(area + 4096, 12, RW));
	tt_set(&t, 104, unpinned_tce);
	tt_set(&t, 105, tce_of(area + 2 * 4096, 12, RW));
	tt_set(&t, 106, tce_of(area + 3 * 4096, 12, EMU_TCE_READ));
	set_window_ok(G, 0, &t);
	fill(b, NP * 4096, 9);

	/* An unpinned page before an empty entry: the unpinned page. */
	before = gstats(G);
	TU_ERR(emu_dma_write(G, 100 * 4096 + 100, b, 3 * 4096), EFAULT);
	f = last_fault(G, 1);
	ck_assert_uint_eq(f.iova, 101 * 4096);
	ck_assert_uint_eq(f.tce, unpinned_tce);
	ck_assert_int_eq(f.reason, EMU_FAULT_UNPINNED);
	ck_assert_int_eq(f.access, EMU_DMA_WRITE);
	/* An empty entry before an unpinned page: the empty entry, no TCE. */
	TU_ERR(emu_dma_read(G, 102 * 4096 + 8, b, 3 * 4096), EFAULT);
	f = last_fault(G, 1);
	ck_assert_uint_eq(f.iova, 102 * 4096 + 8);
	ck_assert_uint_eq(f.tce, 0);
	ck_assert_int_eq(f.reason, EMU_FAULT_NO_TRANSLATION);
	/* A pinned page, then an unpinned one. */
	TU_ERR(emu_dma_write(G, 103 * 4096, b, 2 * 4096), EFAULT);
	assert_fault(G, 104 * 4096, EMU_DMA_WRITE, EMU_FAULT_UNPINNED);
	/* A pinned page, then no write permission: the TCE is recorded. */
	TU_ERR(emu_dma_write(G, 105 * 4096 + 4000, b, 200), EACCES);
	f = last_fault(G, 1);
	ck_assert_uint_eq(f.iova, 106 * 4096);
	ck_assert_uint_eq(f.tce, tce_of(area + 3 * 4096, 12, EMU_TCE_READ));
	ck_assert_int_eq(f.reason, EMU_FAULT_PERMISSION);
	/* 64 pages with page 40 unpinned, both directions. */
	TU_ERR(emu_dma_write(G, 0, b, NP * 4096), EFAULT);
	assert_fault(G, HOLE * 4096, EMU_DMA_WRITE, EMU_FAULT_UNPINNED);
	TU_ERR(emu_dma_read(G, 0, b, NP * 4096), EFAULT);
	assert_fault(G, HOLE * 4096, EMU_DMA_READ, EMU_FAULT_UNPINNED);
	ck_assert_uint_eq(gstats(G).faults[EMU_FAULT_UNPINNED], before.faults[EMU_FAULT_UNPINNED] + 4);
	ck_assert_uint_eq(gstats(G).faults[EMU_FAULT_NO_TRANSLATION],
			  before.faults[EMU_FAULT_NO_TRANSLATION] + 1);
	ck_assert_uint_eq(gstats(G).faults[EMU_FAULT_PERMISSION],
			  before.faults[EMU_FAULT_PERMISSION] + 1);
	ck_assert_uint_eq(gstats(G).dma_writes, before.dma_writes);
	ck_assert_uint_eq(gstats(G).dma_reads, before.dma_reads);
	ck_assert(memcmp(area, zero, NP * 4096) == 0);
	ck_assert(memcmp(loose, zero, 4096) == 0);
	/* The 40 pinned pages before the hole move, in both directions. */
	TU_OK(emu_dma_write(G, 0, b, HOLE * 4096));
	ck_assert(memcmp(area, b, HOLE * 4096) == 0);
	memset(b, 0, NP * 4096);
	TU_OK(emu_dma_read(G, 4096 + 8, b, (HOLE - 1) * 4096 - 8));
	ck_assert(memcmp(b, area + 4096 + 8, (HOLE - 1) * 4096 - 8) == 0);
	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	emu_mem_unpin(hi);
	emu_mem_unpin(lo);
	tu_unmap(loose, 1);
	tu_unmap(area, NP);
	free(b);
	free(zero);
}
END_TEST

/* Large TCE pages over partly pinned memory: only the pinned part is served. */
START_TEST(large_page_unpinned_part_faults)
{
	static const unsigned shifts[] = { 21, 30 };
	unsigned i;

	emu_machine_set_abort_on_unpinned(false);
	for (i = 0; i < 2; i++) {
		unsigned shift = shifts[i];
		uint64_t psz = 1ull << shift;
		uint8_t *area = tu_map_aligned(psz / 4096, shift);
		struct emu_pin *pin;
		struct tt t;
		uint8_t b[8192];

		/* Pin pages 3 and 4 of the large page only. */
		TU_OK(emu_mem_pin((uintptr_t)area + 3 * 4096, 2, &pin));
		tt_create(&t, WIN1, shift, 1ull << (40 - shift), 3);
		tt_set(&t, it_offset(&t) + 1, tce_of(area, shift, RW));
		set_window_ok(G, 1, &t);
		fill(b, sizeof(b), 4);
		TU_OK(emu_dma_write(G, WIN1 + psz + 3 * 4096, b, 8192));
		ck_assert(memcmp(area + 3 * 4096, b, 8192) == 0);
		TU_ERR(emu_dma_write(G, WIN1 + psz + 3 * 4096 + 1, b, 8192), EFAULT);
		assert_fault(G, WIN1 + psz + 5 * 4096, EMU_DMA_WRITE, EMU_FAULT_UNPINNED);
		ck_assert(memcmp(area + 3 * 4096, b, 8192) == 0);
		TU_ERR(emu_dma_read(G, WIN1 + psz + psz - 8, b, 8), EFAULT);
		assert_fault(G, WIN1 + psz + psz - 8, EMU_DMA_READ, EMU_FAULT_UNPINNED);
		TU_OK(emu_phb_unset_window(G, 1));
		tt_destroy(&t);
		emu_mem_unpin(pin);
		tu_unmap(area, psz / 4096);
	}
}
END_TEST

/* ------------------------------------------------------------------ cache */

START_TEST(cache_serves_stale_tce_until_killed)
{
	struct umem a, b;
	struct tt t;
	uint8_t buf[4];
	uint64_t tce;

	tt_create(&t, 0, 12, 1ull << 20, 3);
	umem_new(&a, 1, 12);
	umem_new(&b, 1, 12);
	memset(a.p, 'a', 4096);
	memset(b.p, 'b', 4096);
	tt_set(&t, 9, tce_of(a.p, 12, RW));
	set_window_ok(G, 0, &t);
	TU_ERR(emu_phb_cache_lookup(G, 0, 9, &tce), ENOENT);
	TU_OK(emu_dma_read(G, 9 * 4096, buf, 1));
	ck_assert_uint_eq(buf[0], 'a');
	TU_OK(emu_phb_cache_lookup(G, 0, 9, &tce));
	ck_assert_uint_eq(tce, tce_of(a.p, 12, RW));
	/* Remapped without a kill: the device still sees the old page. */
	tt_set(&t, 9, tce_of(b.p, 12, RW));
	TU_OK(emu_dma_read(G, 9 * 4096, buf, 1));
	ck_assert_uint_eq(buf[0], 'a');
	emu_phb_tce_kill(G, 1, 9, 1);	/* another slot: no effect */
	TU_OK(emu_dma_read(G, 9 * 4096, buf, 1));
	ck_assert_uint_eq(buf[0], 'a');
	emu_phb_tce_kill(G, 0, 9, 1);
	TU_OK(emu_dma_read(G, 9 * 4096, buf, 1));
	ck_assert_uint_eq(buf[0], 'b');
	ck_assert_uint_eq(gstats(G).cache_misses, 2);
	ck_assert_uint_eq(gstats(G).cache_hits, 2);
	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	umem_free(&a);
	umem_free(&b);
}
END_TEST

START_TEST(cache_kill_exact_range_and_reprogramming_flushes)
{
	struct umem m;
	struct tt t, t1;
	uint8_t buf[4];
	uint64_t e, tce;

	tt_create(&t, 0, 12, 1ull << 20, 2);
	tt_create(&t1, WIN1, 12, 1ull << 20, 2);
	umem_new(&m, 12, 12);
	for (e = 100; e < 112; e++)
		tt_set(&t, e, tce_of(m.p + (e - 100) * 4096, 12, RW));
	tt_set(&t1, it_offset(&t1) + 100, tce_of(m.p, 12, RW));
	set_window_ok(G, 0, &t);
	set_window_ok(G, 1, &t1);
	for (e = 100; e < 112; e++)
		TU_OK(emu_dma_read(G, e * 4096, buf, 1));
	TU_OK(emu_dma_read(G, WIN1 + 100 * 4096, buf, 1));
	ck_assert_uint_eq(gstats(G).cache_entries, 13);
	emu_phb_tce_kill(G, 0, 103, 4);
	for (e = 100; e < 112; e++) {
		int rc = emu_phb_cache_lookup(G, 0, e, &tce);

		if (e >= 103 && e < 107)
			ck_assert_int_eq(rc, -ENOENT);
		else
			ck_assert_int_eq(rc, 0);
	}
	TU_OK(emu_phb_cache_lookup(G, 1, (WIN1 >> 12) + 100, &tce));
	ck_assert_uint_eq(gstats(G).cache_entries, 9);
	ck_assert_uint_eq(gstats(G).kills, 1);
	ck_assert_uint_eq(gstats(G).killed_pages, 4);
	TU_OK(emu_machine_check());
	/* A kill of a huge range clamps; a kill of an unknown group is ignored. */
	emu_phb_tce_kill(G, 0, 110, UINT64_MAX);
	TU_ERR(emu_phb_cache_lookup(G, 0, 111, &tce), ENOENT);
	TU_OK(emu_phb_cache_lookup(G, 0, 109, &tce));
	emu_phb_tce_kill(77, 0, 0, 1);
	emu_phb_tce_kill(G, 5, 0, 1);
	ck_assert_uint_eq(gstats(G).kills, 2);
	/* Unprogramming slot 1 flushes the whole cache, slot 0's entries too. */
	TU_OK(emu_phb_unset_window(G, 1));
	ck_assert_uint_eq(gstats(G).cache_entries, 0);
	TU_ERR(emu_phb_cache_lookup(G, 0, 100, &tce), ENOENT);
	TU_OK(emu_dma_read(G, 100 * 4096, buf, 1));
	TU_OK(emu_phb_cache_lookup(G, 0, 100, &tce));
	set_window_ok(G, 1, &t1);	/* and so does programming */
	TU_ERR(emu_phb_cache_lookup(G, 0, 100, &tce), ENOENT);
	TU_ERR(emu_phb_cache_lookup(G, 2, 100, &tce), EINVAL);
	TU_ERR(emu_phb_cache_lookup(9, 0, 100, &tce), ENODEV);
	ck_assert_uint_ge(gstats(G).cache_flushes, 4);
	TU_OK(emu_phb_unset_window(G, 1));
	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	tt_destroy(&t1);
	umem_free(&m);
}
END_TEST

START_TEST(cache_is_bounded)
{
	struct emu_machine_config c;
	struct umem m;
	struct tt t;
	uint64_t e, n = 300;
	unsigned round;

	emu_machine_config_default(&c);
	c.tce_cache = 8;
	TU_OK(emu_machine_configure(&c));
	tt_create(&t, 0, 12, 1ull << 20, 5);
	umem_new(&m, n, 12);
	for (e = 0; e < n; e++) {
		tt_set(&t, e * 37, tce_of(m.p + e * 4096, 12, RW));
		*(uint64_t *)(m.p + e * 4096) = e;
	}
	set_window_ok(G, 0, &t);
	for (round = 0; round < 3; round++) {
		for (e = 0; e < n; e++) {
			uint64_t v = ~0ull;

			TU_OK(emu_dma_read(G, e * 37 * 4096, &v, sizeof(v)));
			ck_assert_uint_eq(v, e);
			ck_assert_uint_le(gstats(G).cache_entries, 8);
		}
	}
	ck_assert_uint_ge(gstats(G).cache_misses, 3 * n - 8);
	TU_OK(emu_machine_check());
	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	umem_free(&m);
}
END_TEST

/* -------------------------------------------------------------- fault log */

START_TEST(fault_ring_wraps_and_overflows)
{
	struct emu_machine_config c;
	struct emu_fault_log_stats fs;
	struct emu_fault f[16];
	uint8_t b;
	unsigned n, k, round;
	uint64_t seq = 0, base = 0;

	emu_machine_config_default(&c);
	c.fault_ring = 8;
	TU_OK(emu_machine_configure(&c));
	for (round = 0; round < 3; round++) {
		/* 13 faults into a ring of 8: the last 5 are dropped. */
		for (k = 0; k < 13; k++)
			TU_ERR(emu_dma_read(G, (base + k) * 4096, &b, 1), EFAULT);
		TU_OK(emu_fault_log_stats(G, &fs));
		ck_assert_uint_eq(fs.size, 8);
		ck_assert_uint_eq(fs.producer - fs.consumer, 8);
		ck_assert_uint_eq(fs.overflow, 5 * (round + 1));
		TU_OK(emu_fault_log_read(G, f, 3, &n));
		ck_assert_uint_eq(n, 3);
		/* Three free slots now: two more faults fit. */
		TU_ERR(emu_dma_write(G, (base + 100) * 4096, &b, 1), EFAULT);
		TU_ERR(emu_dma_write(G, (base + 101) * 4096, &b, 1), EFAULT);
		TU_OK(emu_fault_log_read(G, f + 3, 13, &n));
		ck_assert_uint_eq(n, 7);
		for (k = 0; k < 10; k++) {
			uint64_t want = k < 8 ? base + k : base + 100 + (k - 8);

			ck_assert_uint_eq(f[k].iova, want * 4096);
			ck_assert_int_eq(f[k].reason, EMU_FAULT_NO_WINDOW);
			ck_assert_int_eq(f[k].access, k < 8 ? EMU_DMA_READ : EMU_DMA_WRITE);
			ck_assert_uint_gt(f[k].seq, seq);
			seq = f[k].seq;
		}
		TU_OK(emu_fault_log_read(G, f, 16, &n));
		ck_assert_uint_eq(n, 0);
		TU_OK(emu_fault_log_stats(G, &fs));
		ck_assert_uint_eq(fs.producer, 10 * (round + 1));
		ck_assert_uint_eq(fs.consumer, fs.producer);
		TU_OK(emu_machine_check());
		base += 1000;
	}
	ck_assert_uint_eq(gstats(G).faults[EMU_FAULT_NO_WINDOW], 45);
	ck_assert_uint_eq(gstats(G).fault_overflow, 15);
	/* Groups have rings of their own. */
	TU_OK(emu_fault_log_stats(1, &fs));
	ck_assert_uint_eq(fs.producer, 0);
	TU_ERR(emu_fault_log_stats(4, &fs), ENODEV);
	TU_ERR(emu_fault_log_read(4, f, 1, &n), ENODEV);
}
END_TEST

/* -------------------------------------------------------------- dirty log */

static unsigned popcount_map(const uint64_t *m, unsigned words)
{
	unsigned k, c = 0;

	for (k = 0; k < words; k++)
		c += (unsigned)__builtin_popcountll(m[k]);
	return c;
}

static bool bit(const uint64_t *m, uint64_t i)
{
	return (m[i / 64] >> (i % 64)) & 1;
}

START_TEST(dirty_log_semantics)
{
	struct emu_dirty_range r[2] = { { 0x20000, 0x20000 }, { 0, 0x20000 } };	/* unsorted, adjacent */
	uint64_t ps = 0x2000, map[64];
	struct umem m;
	struct tt t;
	uint8_t b[4096] = { 1 };

	tt_create(&t, 0, 12, 1ull << 20, 2);
	umem_new(&m, 80, 12);
	for (uint64_t e = 0; e < 80; e++)
		tt_set(&t, e, tce_of(m.p + e * 4096, 12, RW));
	set_window_ok(G, 0, &t);

	TU_ERR(emu_dirty_log_report(G, 0, 4096, 4096, map, sizeof(map)), ENOENT);
	TU_OK(emu_dirty_log_start(G, r, 2, &ps));
	ck_assert_uint_eq(ps, 0x2000);	/* tracking page larger than the TCE page */
	ck_assert(gstats(G).dirty_logging);
	ck_assert_uint_eq(gstats(G).dirty_page_size, 0x2000);
	TU_ERR(emu_dirty_log_start(G, r, 2, &ps), EBUSY);

	TU_OK(emu_dma_write(G, 0x3000, b, 1));		/* tracking page [0x2000, 0x4000) */
	TU_OK(emu_dma_write(G, 0x10000, b, 4096));	/* [0x10000, 0x12000) */
	TU_OK(emu_dma_write(G, 0x3ffff, b, 1));		/* last byte tracked */
	TU_OK(emu_dma_write(G, 0x40000, b, 4096));	/* outside the ranges */
	TU_OK(emu_dma_read(G, 0x6000, b, 4096));	/* reads are not logged */
	TU_ERR(emu_dma_write(G, 0x50000, b, 1), EFAULT);	/* faults are not logged */
	TU_OK(emu_machine_check());

	/* Report page smaller than tracking and TCE pages: bits replicate. */
	memset(map, 0, sizeof(map));
	map[0] = 1ull << 63;	/* ORed into, never cleared */
	TU_OK(emu_dirty_log_report(G, 0, 0x40000, 0x800, map, sizeof(map)));
	ck_assert(bit(map, 63));
	for (unsigned i = 4; i < 8; i++)
		ck_assert(bit(map, i));	/* 0x2000 ... 0x3fff in 2 KiB units */
	for (unsigned i = 32; i < 36; i++)
		ck_assert(bit(map, i));	/* 0x10000 ... 0x11fff */
	for (unsigned i = 124; i < 128; i++)
		ck_assert(bit(map, i));	/* 0x3e000 ... 0x3ffff */
	ck_assert_uint_eq(popcount_map(map, 64), 1 + 12);
	/* Read and clear. */
	memset(map, 0, sizeof(map));
	TU_OK(emu_dirty_log_report(G, 0, 0x40000, 0x800, map, sizeof(map)));
	ck_assert_uint_eq(popcount_map(map, 64), 0);

	/* Report page larger than the tracking page. */
	TU_OK(emu_dma_write(G, 0x3000, b, 1));
	TU_OK(emu_dma_write(G, 0x25000, b, 10));
	memset(map, 0, sizeof(map));
	TU_OK(emu_dirty_log_report(G, 0, 0x40000, 0x10000, map, 8));
	ck_assert_uint_eq(map[0], 0x5);	/* 64 KiB units 0 and 2 */
	/* A sub-range, unaligned to the tracking page. */
	TU_OK(emu_dma_write(G, 0x3000, b, 1));
	memset(map, 0, sizeof(map));
	TU_OK(emu_dirty_log_report(G, 0x3800, 0x1000, 0x400, map, 8));
	ck_assert_uint_eq(map[0], 0x3);	/* [0x3800, 0x4000) of the tracked page */
	memset(map, 0, sizeof(map));
	TU_OK(emu_dirty_log_report(G, 0x2000, 0x2000, 0x400, map, 8));
	ck_assert_uint_eq(map[0], 0);	/* cleared by the previous report */

	/* Errors change nothing. */
	TU_OK(emu_dma_write(G, 0x8000, b, 1));
	memset(map, 0, sizeof(map));
	TU_ERR(emu_dirty_log_report(G, 0x30000, 0x20000, 0x1000, map, sizeof(map)), EINVAL);
	TU_ERR(emu_dirty_log_report(G, 0, 0, 0x1000, map, sizeof(map)), EINVAL);
	TU_ERR(emu_dirty_log_report(G, 0, 0x1000, 0x1800, map, sizeof(map)), EINVAL);
	TU_ERR(emu_dirty_log_report(G, 0, 0x40000, 0x100, map, 16), EINVAL);	/* bitmap small */
	TU_ERR(emu_dirty_log_report(G, UINT64_MAX - 10, 0x1000, 0x1000, map, 8), EOVERFLOW);
	TU_ERR(emu_dirty_log_report(9, 0, 0x1000, 0x1000, map, 8), ENODEV);
	ck_assert_uint_eq(popcount_map(map, 64), 0);
	TU_OK(emu_dirty_log_report(G, 0x8000, 1, 0x1000, map, 8));
	ck_assert_uint_eq(map[0], 1);

	TU_OK(emu_dirty_log_stop(G));
	TU_OK(emu_dirty_log_stop(G));
	ck_assert(!gstats(G).dirty_logging);
	TU_ERR(emu_dirty_log_report(G, 0, 4096, 4096, map, sizeof(map)), ENOENT);
	TU_OK(emu_phb_unset_window(G, 0));
	tt_destroy(&t);
	umem_free(&m);
}
END_TEST

START_TEST(dirty_log_start_errors)
{
	struct emu_dirty_range r[3] = { { 0, 0x4000 }, { 0x4000, 0x4000 }, { 0x2000, 0x1000 } };
	struct emu_dirty_range big = { 1ull << 40, 1ull << 50 };
	struct emu_dirty_range *many;
	uint64_t ps = 0x1000;

	TU_ERR(emu_dirty_log_start(G, r, 0, &ps), EINVAL);
	ps = 0x1800;
	TU_ERR(emu_dirty_log_start(G, r, 2, &ps), EINVAL);
	ck_assert_uint_eq(ps, 0x1800);
	ps = 0;
	TU_ERR(emu_dirty_log_start(G, r, 2, &ps), EINVAL);
	ps = 0x1000;
	TU_ERR(emu_dirty_log_start(G, r, 3, &ps), EINVAL);	/* overlap */
	ps = 0x8000;
	TU_ERR(emu_dirty_log_start(G, r, 2, &ps), EINVAL);	/* misaligned */
	r[0].length = 0;
	ps = 0x1000;
	TU_ERR(emu_dirty_log_start(G, r, 1, &ps), EINVAL);	/* empty */
	r[0].iova = UINT64_MAX - 0xfff;
	r[0].length = 0x1000;
	TU_ERR(emu_dirty_log_start(G, r, 1, &ps), EOVERFLOW);	/* ends at 2^64 */
	TU_ERR(emu_dirty_log_start(9, r, 1, &ps), ENODEV);
	many = calloc(4097, sizeof(*many));
	TU_ERR(emu_dirty_log_start(G, many, 4097, &ps), E2BIG);
	free(many);
	ck_assert(!gstats(G).dirty_logging);
	/* A page size hint that would need too large a bitmap is raised. */
	TU_OK(emu_dirty_log_start(G, &big, 1, &ps));
	ck_assert_uint_eq(ps, 1ull << 20);
	TU_OK(emu_machine_check());
	TU_OK(emu_dirty_log_stop(G));
}
END_TEST

/* --------------------------------------------------------- fail-nth sweep */

struct sweep_ctx {
	struct umem m;
	bool started;
};

static int sweep_run(void *arg)
{
	struct sweep_ctx *c = arg;
	struct emu_dirty_range r = { 0, 1ull << 24 };
	struct emu_window w;
	uint64_t ps = 4096, map[64] = { 0 }, k;
	struct tt t = { 0 };
	uint8_t buf[40 * 4096];
	void *hva;
	int rc;

	memset(buf, 7, sizeof(buf));
	rc = emu_machine_start();
	if (rc)
		return rc;
	/* The table by hand, with its failure points (tt_create asserts). */
	t.levels = 2;
	t.s = 10;
	t.page_shift = 12;
	t.size = 1ull << 20;
	t.block_bytes = 8192;
	rc = emu_mem_table_alloc(emu_mem_node(), t.block_bytes, &hva, &t.top_hpa);
	if (rc)
		goto out_reset;
	t.top = hva;
	t.blocks = malloc(sizeof(void *) * 2);
	t.blocks[t.nblocks++] = hva;
	rc = emu_mem_table_alloc(emu_mem_node(), t.block_bytes, &hva, &k);
	if (rc)
		goto out_free_table;
	t.blocks[t.nblocks++] = hva;
	t.top[0] = htobe64(k | RW);
	for (k = 0; k < 40; k++)	/* every other page: 40 segments */
		((uint64_t *)hva)[k] = htobe64(tce_of(c->m.p + 2 * k * 4096, 12, RW));
	w = tt_window(&t);
	rc = emu_phb_set_window(G, 0, &w);
	if (rc)
		goto out_free_table;
	rc = emu_dirty_log_start(G, &r, 1, &ps);
	if (rc)
		goto out_unset;
	rc = emu_dma_write(G, 0, buf, sizeof(buf));
	if (rc)
		goto out_stop;
	rc = emu_dirty_log_report(G, 0, 1ull << 24, 1ull << 18, map, sizeof(map));
	if (!rc && map[0] != 1)
		rc = -EUCLEAN;
out_stop:
	emu_dirty_log_stop(G);
out_unset:
	emu_phb_unset_window(G, 0);
out_free_table:
	tt_destroy(&t);
out_reset:
	TU_OK(emu_machine_reset());
	return rc;
}

static void sweep_check(void *arg, int rc)
{
	struct sweep_ctx *c = arg;
	struct emu_mem_stats st;

	(void)c;
	ck_assert_msg(rc == 0 || rc == -ENOMEM, "rc %s", tu_errname(rc));
	TU_OK(emu_machine_check());
	emu_mem_get_stats(&st);
	ck_assert_uint_eq(st.table_blocks, 0);
	ck_assert_uint_eq(st.pins, 1);
}

START_TEST(fail_nth_sweep)
{
	struct sweep_ctx c;
	unsigned n;

	umem_new(&c.m, 80, 12);
	n = tu_sweep(sweep_run, sweep_check, &c);
	/* machine, 4 x (cache, ring), 2 tables, dirty x 3, segments at least */
	ck_assert_uint_ge(n, 15);
	umem_free(&c.m);
}
END_TEST

/* ------------------------------------------------------------------ suite */

static Suite *emu_suite(void)
{
	Suite *s = suite_create("emu");
	TCase *t;

	t = tcase_create("config");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, config_defaults);
	tcase_add_test(t, config_before_use);
	tcase_add_test(t, config_environment);
	tcase_add_test(t, config_environment_over_configure);
	tcase_add_test(t, config_environment_rejected);
	tcase_add_test(t, reset_refused_while_programmed);
	suite_add_tcase(s, t);

	t = tcase_create("phb");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, window_register_checks);
	tcase_add_test(t, dma_roundtrip_levels_and_page_sizes);
	tcase_add_test(t, dma_crosses_tce_pages);
	tcase_add_test(t, dma_many_discontiguous_pages);
	tcase_add_test(t, dma_crosses_windows);
	tcase_add_test(t, dma_argument_errors);
	suite_add_tcase(s, t);

	t = tcase_create("faults");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, dma_faults_and_reasons);
	tcase_add_test(t, skipped_kill_is_use_after_unpin);
	tcase_add_test(t, killed_then_unpinned_is_no_translation);
	tcase_add_test(t, tce_to_unpinned_frame);
	tcase_add_test(t, large_page_unpinned_part_faults);
	tcase_add_test(t, dma_first_fault_in_bus_order);
	tcase_add_test(t, fault_ring_wraps_and_overflows);
	tcase_add_test(t, private_memory_dropped_by_the_process);
	tcase_add_test(t, private_scattered_pages_protection_per_mapping);
	tcase_add_test(t, private_memory_check_fast_while_locked);
	tcase_add_test(t, shared_memory_dropped_by_the_process);
	tcase_add_test(t, shared_hugetlbfs_memory_unmapped_by_the_process);
	suite_add_tcase(s, t);

	/* No fixture: the test dies by SIGABRT before any teardown could run. */
	t = tcase_create("abort");
	tcase_add_test_raise_signal(t, skipped_kill_aborts_in_debug_builds, SIGABRT);
	suite_add_tcase(s, t);

	t = tcase_create("cache");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, cache_serves_stale_tce_until_killed);
	tcase_add_test(t, cache_kill_exact_range_and_reprogramming_flushes);
	tcase_add_test(t, cache_is_bounded);
	suite_add_tcase(s, t);

	t = tcase_create("dirty");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, dirty_log_semantics);
	tcase_add_test(t, dirty_log_start_errors);
	suite_add_tcase(s, t);

	t = tcase_create("sweep");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, fail_nth_sweep);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(emu_suite());
}
