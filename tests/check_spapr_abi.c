/* SPDX-License-Identifier: MIT */
/*
 * The ioctl ABI of the container and group (issue 4, part 1): a bad-input
 * sweep over every request, through spapr_ioctl() with the real structs of
 * <linux/vfio.h> (the container and group tables of docs/kernel.md, and
 * quirks Q1, Q2, Q13, Q14 of docs/quirks.md).
 *
 * Every test builds the same world (the fixture): a v2 container with group
 * 0 attached, region A (16 pages) registered and partly mapped (4 pages RW
 * and 1 page READ-only in the default window, 4 pages RW in a 64-bit window
 * created with TCE_CREATE), region B (8 pages) registered and unmapped, and
 * memory C (8 pages) never registered.  Each rejected request is made
 * through ioc_err(), which asserts the exact errno and that nothing
 * changed: locked_vm, the registry (regions, registered pages, A's and B's
 * used and mapped, no region at C), emu's pins and table blocks, the
 * group's programmed windows, window programming and kill counters, and
 * what a device of group 0 reads through a set of probe bus addresses
 * (mapped pages return their pattern, unmapped ones fault, the READ-only
 * page refuses a write).
 *
 * Teardown closes everything and asserts that locked_vm is 0 and nothing is
 * registered, pinned or allocated.
 */
#define _GNU_SOURCE
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu/emu.h"
#include "emu/mem.h"
#include "mmreg/mmreg.h"
#include "spapr/spapr.h"
#include "tests/testutil.h"

#define PS EMU_PAGE_SIZE
#define GROUP 0
#define NA 16		/* region A: registered, mapped */
#define NB 8		/* region B: registered, unmapped */
#define NC 8		/* memory C: never registered */
#define LIMIT (256ull << 20)	/* emulated RLIMIT_MEMLOCK, bytes */

#define IOVA_D 0x100000ull		/* A[0..4) RW, default window */
#define IOVA_RO (IOVA_D + 0x10000)	/* A[4] READ only */
#define IOVA_FREE (IOVA_D + 0x40000)	/* free bus addresses in the default window */
#define TCE32_SIZE (2ull << 30)
#define W1_SHIFT 12u
#define W1_SIZE (1ull << 32)
#define W1_LEVELS 2u
#define SLOT1 (1ull << 59)
#define IOVA_W (SLOT1 + 0x200000)	/* A[8..12) RW, 64-bit window */

#define MAP_MINSZ 32u
#define UNMAP_MINSZ 24u
#define REG_MINSZ 24u
#define INFO_MINSZ 16u
#define CREATE_MINSZ 40u
#define REMOVE_MINSZ 16u
#define STATUS_MINSZ 8u

/* The largest struct is 40 bytes; arguments live in buffers with room for garbage after them. */
#define ARGBUF 128

static int cfd = -1, gfd = -1;
static uint8_t *mem_all, *mem_a, *mem_b, *mem_c;
#define MEM_PAGES (1 + NA + 1 + NB + 1 + NC + 1)

static uint64_t u(const void *p)
{
	return (uintptr_t)p;
}

/* ------------------------------------------------------ argument builders */

static struct vfio_iommu_type1_dma_map map_arg(uint64_t vaddr, uint64_t iova, uint64_t size,
					       uint32_t flags)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = flags, .vaddr = vaddr, .iova = iova, .size = size,
	};

	return m;
}

/* A macro: the struct ends in a flexible array, which is not passed around by value. */
#define unmap_arg(iova_, size_)                                                                \
	((struct vfio_iommu_type1_dma_unmap){                                                  \
		.argsz = sizeof(struct vfio_iommu_type1_dma_unmap), .iova = (iova_), .size = (size_) })

static struct vfio_iommu_spapr_register_memory reg_arg(uint64_t vaddr, uint64_t size)
{
	struct vfio_iommu_spapr_register_memory r = { .argsz = sizeof(r), .vaddr = vaddr, .size = size };

	return r;
}

static struct vfio_iommu_spapr_tce_create create_arg(uint32_t page_shift, uint64_t window_size,
						     uint32_t levels)
{
	struct vfio_iommu_spapr_tce_create c = {
		.argsz = sizeof(c), .page_shift = page_shift, .window_size = window_size,
		.levels = levels,
	};

	return c;
}

static struct vfio_iommu_spapr_tce_remove remove_arg(uint64_t start)
{
	struct vfio_iommu_spapr_tce_remove r = { .argsz = sizeof(r), .start_addr = start };

	return r;
}

/* ------------------------------------------------------------- snapshots */

#define NPROBES 13

static uint64_t probe_iova(unsigned i)
{
	static const uint64_t fixed[] = {
		IOVA_D - PS, IOVA_D + 4 * PS, IOVA_FREE, TCE32_SIZE - PS, IOVA_W + 4 * PS,
	};

	if (i < 4)
		return IOVA_D + i * PS;			/* A[i], RW */
	if (i == 4)
		return IOVA_RO;				/* A[4], R */
	if (i < 9)
		return IOVA_W + (i - 5) * PS;		/* A[8 + i - 5], RW */
	return fixed[i - 9];				/* unmapped */
}

/* Everything a rejected request must leave as it was. */
struct snap {
	uint64_t locked_vm;
	struct mmreg_mm_stats mm;
	uint64_t a_used, a_mapped, b_used, b_mapped;
	bool c_found;
	struct emu_mem_stats mem;
	bool programmed[EMU_MAX_WINDOWS];
	struct emu_window windows[EMU_MAX_WINDOWS];
	uint64_t window_sets, window_unsets, kills, killed_pages;
	int dma_rc[NPROBES];
	uint8_t dma_byte[NPROBES];
	int ro_write_rc;
};

static void region_counters(struct mmreg_mm *mm, const void *ua, uint64_t entries, uint64_t *used,
			    uint64_t *mapped)
{
	struct mmreg_region *r;

	mmreg_read_lock();
	r = mmreg_region_find(mm, u(ua), entries);
	*used = r ? mmreg_region_used(r) : 0;
	*mapped = r ? mmreg_region_mapped(r) : 0;
	mmreg_read_unlock();
}

static void snap_take(struct snap *s)
{
	struct mmreg_mm *mm;
	struct emu_group_stats gs;
	uint8_t buf[16];

	memset(s, 0, sizeof(*s));
	s->locked_vm = spapr_mm_locked_vm();
	TU_OK(mmreg_mm_current(&mm));
	mmreg_mm_get_stats(mm, &s->mm);
	region_counters(mm, mem_a, NA, &s->a_used, &s->a_mapped);
	region_counters(mm, mem_b, NB, &s->b_used, &s->b_mapped);
	mmreg_read_lock();
	s->c_found = mmreg_region_lookup(mm, u(mem_c), PS) != NULL ||
		     mmreg_region_lookup(mm, u(mem_c) + (NC - 1) * PS, PS) != NULL;
	mmreg_read_unlock();
	TU_OK(mmreg_mm_check(mm));
	mmreg_mm_put(mm);
	emu_mem_get_stats(&s->mem);
	TU_OK(emu_group_get_stats(GROUP, &gs));
	memcpy(s->programmed, gs.programmed, sizeof(s->programmed));
	memcpy(s->windows, gs.windows, sizeof(s->windows));
	s->window_sets = gs.window_sets;
	s->window_unsets = gs.window_unsets;
	s->kills = gs.kills;
	s->killed_pages = gs.killed_pages;
	for (unsigned i = 0; i < NPROBES; i++) {
		memset(buf, 0, sizeof(buf));
		s->dma_rc[i] = emu_dma_read(GROUP, probe_iova(i) + 8, buf, sizeof(buf));
		s->dma_byte[i] = buf[0];
	}
	/* Writing the byte that is there: a write that went through would change nothing. */
	s->ro_write_rc = emu_dma_write(GROUP, IOVA_RO, &mem_a[4 * PS], 1);
}

#define SAME(field)                                                                            \
	ck_assert_msg(a->field == b->field, "%s (line %d): %s changed from %llu to %llu", what,  \
		      line, #field, (unsigned long long)a->field, (unsigned long long)b->field)

/*
 * @strict: also the window programming and kill counters (a request that
 * programmed and unprogrammed a window, or killed nothing, changed nothing
 * a device sees, but it did work it should not have).
 */
static void snap_assert_same(const struct snap *a, const struct snap *b, const char *what, int line,
			     bool strict)
{
	SAME(locked_vm);
	SAME(mm.regions);
	SAME(mm.registered_pages);
	SAME(mm.locked_vm);
	SAME(a_used);
	SAME(a_mapped);
	SAME(b_used);
	SAME(b_mapped);
	SAME(c_found);
	SAME(mem.pins);
	SAME(mem.pinned_pages);
	SAME(mem.pin_refs);
	SAME(mem.table_blocks);
	SAME(mem.table_bytes);
	SAME(mem.unpin_underflows);
	for (unsigned w = 0; w < EMU_MAX_WINDOWS; w++) {
		SAME(programmed[w]);
		SAME(windows[w].table_hpa);
		SAME(windows[w].size);
		SAME(windows[w].page_shift);
		SAME(windows[w].bus_offset);
	}
	if (strict) {
		SAME(window_sets);
		SAME(window_unsets);
		SAME(kills);
		SAME(killed_pages);
	}
	for (unsigned i = 0; i < NPROBES; i++) {
		ck_assert_msg(a->dma_rc[i] == b->dma_rc[i] && a->dma_byte[i] == b->dma_byte[i],
			      "%s (line %d): DMA read at %#llx was %s/%#x, now %s/%#x", what, line,
			      (unsigned long long)probe_iova(i), tu_errname(a->dma_rc[i]),
			      a->dma_byte[i], tu_errname(b->dma_rc[i]), b->dma_byte[i]);
	}
	SAME(ro_write_rc);
}

/* ----------------------------------------------------- ioctl in threes */

static int ioc_rc(int fd, unsigned long req, const void *arg)
{
	return spapr_ioctl(fd, req, arg);
}

static int ioc_ok_(int fd, unsigned long req, const void *arg, const char *what, int line)
{
	int rc = ioc_rc(fd, req, arg);

	ck_assert_msg(rc >= 0, "%s (line %d) failed: %s", what, line, tu_errname(errno));
	return rc;
}

/*
 * Asserts -1 with errno @err and that the world did not change (@strict:
 * the kill counters too).
 */
static void ioc_err_(int fd, unsigned long req, const void *arg, int err, bool strict, const char *what,
		     int line)
{
	struct snap before, after;
	int rc, e;

	snap_take(&before);
	errno = 0;
	rc = ioc_rc(fd, req, arg);
	e = errno;
	snap_take(&after);
	ck_assert_msg(rc == -1 && e == err, "%s (line %d) returned %d errno %s, expected -1 %s", what,
		      line, rc, tu_errname(e), tu_errname(err));
	snap_assert_same(&before, &after, what, line, strict);
}

#define ioc_ok(fd, req, arg) ioc_ok_(fd, req, arg, #req, __LINE__)
#define ioc_err(fd, req, arg, err) ioc_err_(fd, req, arg, err, true, #req, __LINE__)

/*
 * A request whose answer quirk @q changes (make check QUIRKS=kernel): in
 * fixed mode -1 with errno @err and the world unchanged (ioc_err); in
 * kernel mode the kernel's @krc (>= 0: that return value, errno untouched;
 * < 0: -1 with errno -@krc), the world unchanged when @same.  Returns true
 * when the kernel's answer was asserted, for the caller to undo what it did.
 */
static bool ioc_quirk_(int fd, unsigned long req, const void *arg, const char *q, int krc, bool same,
		       int err, const char *what, int line)
{
	struct snap before, after;
	int rc, e;

	if (!tu_quirks_kernel(q)) {
		ioc_err_(fd, req, arg, err, true, what, line);
		return false;
	}
	snap_take(&before);
	errno = 0;
	rc = ioc_rc(fd, req, arg);
	e = errno;
	snap_take(&after);
	if (krc >= 0)
		ck_assert_msg(rc == krc && !e, "%s (line %d, %s) returned %d errno %s, expected %d", what,
			      line, q, rc, tu_errname(e), krc);
	else
		ck_assert_msg(rc == -1 && e == -krc, "%s (line %d, %s) returned %d errno %s, expected -1 %s",
			      what, line, q, rc, tu_errname(e), tu_errname(-krc));
	if (same)
		snap_assert_same(&before, &after, what, line, true);
	return true;
}

#define ioc_quirk(fd, req, arg, q, krc, same, err) ioc_quirk_(fd, req, arg, q, krc, same, err, #req, __LINE__)

/* Runs @req with an argument struct copied to the start of a garbage-filled buffer. */
static int ioc_buf_rc(int fd, unsigned long req, const void *s, size_t len, uint8_t *buf)
{
	memset(buf, 0xEE, ARGBUF);
	memcpy(buf, s, len);
	return ioc_rc(fd, req, buf);
}

/* ---------------------------------------------------- pages for EFAULT */

/* A readable-writable page followed by a PROT_NONE page; returns the first. */
static uint8_t *guarded_page(void)
{
	uint8_t *p = tu_map(2);

	ck_assert_int_eq(mprotect(p + PS, PS, PROT_NONE), 0);
	return p;
}

/* An address where nothing is mapped. */
static void *unmapped_ptr(void)
{
	uint8_t *p = tu_map(1);

	tu_unmap(p, 1);
	return p;
}

/* ---------------------------------------------------------------- world */

static void fill(uint8_t *p, uint64_t npages, uint8_t base)
{
	for (uint64_t k = 0; k < npages; k++)
		memset(p + k * PS, base + (int)k, PS);
}

static void open_v(int v2)
{
	cfd = spapr_open_container();
	ck_assert_int_ge(cfd, 0);
	gfd = spapr_open_group(GROUP);
	ck_assert_int_ge(gfd, 0);
	ioc_ok(gfd, VFIO_GROUP_SET_CONTAINER, &cfd);
	ck_assert_int_eq(spapr_ioctl(cfd, VFIO_SET_IOMMU,
				     (unsigned long)(v2 ? VFIO_SPAPR_TCE_v2_IOMMU : VFIO_SPAPR_TCE_IOMMU)),
			 0);
}

static void map_ok(uint64_t vaddr, uint64_t iova, uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_map m = map_arg(vaddr, iova, size, flags);

	ioc_ok(cfd, VFIO_IOMMU_MAP_DMA, &m);
}

static void unmap_ok(uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap m = unmap_arg(iova, size);

	ioc_ok(cfd, VFIO_IOMMU_UNMAP_DMA, &m);
}

static void register_ok(const void *p, uint64_t npages)
{
	struct vfio_iommu_spapr_register_memory r = reg_arg(u(p), npages * PS);

	ioc_ok(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r);
}

static void unregister_ok(const void *p, uint64_t npages)
{
	struct vfio_iommu_spapr_register_memory r = reg_arg(u(p), npages * PS);

	ioc_ok(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r);
}

static uint64_t create_ok(uint32_t shift, uint64_t size, uint32_t levels)
{
	struct vfio_iommu_spapr_tce_create c = create_arg(shift, size, levels);

	ioc_ok(cfd, VFIO_IOMMU_SPAPR_TCE_CREATE, &c);
	return c.start_addr;
}

static void remove_ok(uint64_t start)
{
	struct vfio_iommu_spapr_tce_remove r = remove_arg(start);

	ioc_ok(cfd, VFIO_IOMMU_SPAPR_TCE_REMOVE, &r);
}

/* The 64-bit window with A[8..12) mapped, as the fixture leaves it. */
static void world_window(void)
{
	ck_assert_uint_eq(create_ok(W1_SHIFT, W1_SIZE, W1_LEVELS), SLOT1);
	map_ok(u(mem_a) + 8 * PS, IOVA_W, 4 * PS, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
}

static void world_mappings(void)
{
	map_ok(u(mem_a), IOVA_D, 4 * PS, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	map_ok(u(mem_a) + 4 * PS, IOVA_RO, PS, VFIO_DMA_MAP_FLAG_READ);
	world_window();
}

static void setup_mem(void)
{
	/* Faults from the probes are expected; a use-after-unpin must be reported, not abort. */
	emu_machine_set_abort_on_unpinned(false);
	TU_OK(spapr_mm_set_memlock(LIMIT, 0));
	/* One mapping, every page mapped: [pad][A][gap][B][gap][C][pad]. */
	mem_all = tu_map(MEM_PAGES);
	mem_a = mem_all + PS;
	mem_b = mem_a + (NA + 1) * PS;
	mem_c = mem_b + (NB + 1) * PS;
	memset(mem_all, 0x11, MEM_PAGES * PS);
	fill(mem_a, NA, 0x40);
	fill(mem_b, NB, 0x80);
	fill(mem_c, NC, 0xC0);
}

static void setup(void)
{
	setup_mem();
	open_v(1);
	register_ok(mem_a, NA);
	register_ok(mem_b, NB);
	world_mappings();
}

/* A world with no REGISTER yet: never bound, never enabled. */
static void setup_bare(void)
{
	setup_mem();
	open_v(1);
}

static void teardown(void)
{
	struct mmreg_mm *mm;
	struct mmreg_mm_stats st;
	struct emu_group_stats gs;

	if (gfd >= 0)
		ck_assert_int_eq(spapr_close(gfd), 0);
	if (cfd >= 0)
		ck_assert_int_eq(spapr_close(cfd), 0);
	cfd = gfd = -1;
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	TU_OK(mmreg_mm_current(&mm));
	mmreg_mm_get_stats(mm, &st);
	ck_assert_uint_eq(st.regions, 0);
	ck_assert_uint_eq(mmreg_mm_uncharge_clamps(mm), 0);
	mmreg_mm_put(mm);
	TU_OK(emu_group_get_stats(GROUP, &gs));
	ck_assert(!gs.programmed[0] && !gs.programmed[1]);
	ck_assert_uint_eq(gs.faults[EMU_FAULT_UNPINNED], 0);
	TU_OK(emu_machine_check());
	tu_assert_emu_clean();
}

/* ================================================================ argsz */

/* GET_INFO below 16 is EINVAL; 16 ... 31 writes 16 bytes; 32 and up writes 32. */
START_TEST(argsz_get_info)
{
	uint8_t buf[ARGBUF];

	for (uint32_t argsz = 0; argsz <= 64; argsz++) {
		struct vfio_iommu_spapr_tce_info in = { .argsz = argsz }, *out = (void *)buf;
		struct snap before, after;
		int rc, e;

		snap_take(&before);
		rc = ioc_buf_rc(cfd, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &in, sizeof(in.argsz), buf);
		e = errno;
		snap_take(&after);
		snap_assert_same(&before, &after, "GET_INFO", __LINE__, true);
		if (argsz < INFO_MINSZ) {
			ck_assert_msg(rc == -1 && e == EINVAL, "argsz %u: rc %d %s", argsz, rc,
				      tu_errname(e));
			for (unsigned i = sizeof(in.argsz); i < ARGBUF; i++)
				ck_assert_msg(buf[i] == 0xEE, "argsz %u: byte %u written", argsz, i);
			continue;
		}
		ck_assert_msg(rc == 0, "argsz %u: rc %d %s", argsz, rc, tu_errname(e));
		ck_assert_uint_eq(out->argsz, argsz);
		ck_assert_uint_eq(out->dma32_window_start, 0);
		ck_assert_uint_eq(out->dma32_window_size, TCE32_SIZE);
		/* flags lies in the first 16 bytes: always written (output only). */
		ck_assert_uint_eq(out->flags, VFIO_IOMMU_SPAPR_INFO_DDW);
		if (argsz < sizeof(*out)) {
			for (unsigned i = INFO_MINSZ; i < ARGBUF; i++)
				ck_assert_msg(buf[i] == 0xEE, "argsz %u: byte %u written", argsz, i);
		} else {
			ck_assert_uint_eq(out->ddw.pgsizes, (1ull << 12) | (1ull << 16) | (1ull << 21) |
								   (1ull << 30));
			ck_assert_uint_eq(out->ddw.max_dynamic_windows_supported, 2);
			ck_assert_uint_eq(out->ddw.levels, 5);
			for (unsigned i = sizeof(*out); i < ARGBUF; i++)
				ck_assert_msg(buf[i] == 0xEE, "argsz %u: byte %u written", argsz, i);
		}
	}
}
END_TEST

/* MAP below 32 is EINVAL and changes nothing; 32 and up maps, extra bytes ignored. */
START_TEST(argsz_map)
{
	uint8_t buf[ARGBUF];

	for (uint32_t argsz = 0; argsz <= 80; argsz++) {
		struct vfio_iommu_type1_dma_map m = map_arg(u(mem_a) + 12 * PS, IOVA_FREE, 2 * PS,
							    VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
		struct snap before, after;
		uint8_t byte;
		int rc, e;

		m.argsz = argsz;
		snap_take(&before);
		rc = ioc_buf_rc(cfd, VFIO_IOMMU_MAP_DMA, &m, sizeof(m), buf);
		e = errno;
		if (argsz < MAP_MINSZ) {
			snap_take(&after);
			ck_assert_msg(rc == -1 && e == EINVAL, "argsz %u: rc %d %s", argsz, rc,
				      tu_errname(e));
			snap_assert_same(&before, &after, "MAP_DMA", __LINE__, true);
			TU_ERR(emu_dma_read(GROUP, IOVA_FREE, &byte, 1), EFAULT);
			continue;
		}
		ck_assert_msg(rc == 0, "argsz %u: rc %d %s", argsz, rc, tu_errname(e));
		TU_OK(emu_dma_read(GROUP, IOVA_FREE + PS, &byte, 1));
		ck_assert_uint_eq(byte, 0x40 + 13);
		unmap_ok(IOVA_FREE, 2 * PS);
	}
}
END_TEST

/* UNMAP below 24 is EINVAL and the mapping stays; 24 and up unmaps. */
START_TEST(argsz_unmap)
{
	uint8_t buf[ARGBUF];

	for (uint32_t argsz = 0; argsz <= 64; argsz++) {
		struct vfio_iommu_type1_dma_unmap m = unmap_arg(IOVA_FREE, 2 * PS);
		struct snap before, after;
		uint8_t byte;
		int rc, e;

		map_ok(u(mem_a) + 12 * PS, IOVA_FREE, 2 * PS, VFIO_DMA_MAP_FLAG_READ);
		m.argsz = argsz;
		snap_take(&before);
		rc = ioc_buf_rc(cfd, VFIO_IOMMU_UNMAP_DMA, &m, sizeof(m), buf);
		e = errno;
		if (argsz < UNMAP_MINSZ) {
			snap_take(&after);
			ck_assert_msg(rc == -1 && e == EINVAL, "argsz %u: rc %d %s", argsz, rc,
				      tu_errname(e));
			snap_assert_same(&before, &after, "UNMAP_DMA", __LINE__, true);
			TU_OK(emu_dma_read(GROUP, IOVA_FREE, &byte, 1));
			unmap_ok(IOVA_FREE, 2 * PS);
			continue;
		}
		ck_assert_msg(rc == 0, "argsz %u: rc %d %s", argsz, rc, tu_errname(e));
		TU_ERR(emu_dma_read(GROUP, IOVA_FREE, &byte, 1), EFAULT);
		TU_ERR(emu_dma_read(GROUP, IOVA_FREE + PS, &byte, 1), EFAULT);
	}
}
END_TEST

/* REGISTER below 24 is EINVAL (nothing pinned or charged); 24 and up registers. */
START_TEST(argsz_register)
{
	uint8_t buf[ARGBUF];

	for (uint32_t argsz = 0; argsz <= 64; argsz++) {
		struct vfio_iommu_spapr_register_memory r = reg_arg(u(mem_c), NC * PS);
		uint64_t locked = spapr_mm_locked_vm();
		struct snap before, after;
		int rc, e;

		r.argsz = argsz;
		snap_take(&before);
		rc = ioc_buf_rc(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, sizeof(r), buf);
		e = errno;
		if (argsz < REG_MINSZ) {
			snap_take(&after);
			ck_assert_msg(rc == -1 && e == EINVAL, "argsz %u: rc %d %s", argsz, rc,
				      tu_errname(e));
			snap_assert_same(&before, &after, "REGISTER_MEMORY", __LINE__, true);
			continue;
		}
		ck_assert_msg(rc == 0, "argsz %u: rc %d %s", argsz, rc, tu_errname(e));
		ck_assert_uint_eq(spapr_mm_locked_vm(), locked + NC);
		ck_assert_uint_eq(emu_mem_ua_pins(u(mem_c) + (NC - 1) * PS), 1);
		unregister_ok(mem_c, NC);
		ck_assert_uint_eq(spapr_mm_locked_vm(), locked);
	}
}
END_TEST

START_TEST(argsz_unregister)
{
	uint8_t buf[ARGBUF];

	for (uint32_t argsz = 0; argsz <= 64; argsz++) {
		struct vfio_iommu_spapr_register_memory r = reg_arg(u(mem_c), NC * PS);
		struct snap before, after;
		uint64_t locked;
		int rc, e;

		register_ok(mem_c, NC);
		locked = spapr_mm_locked_vm();
		r.argsz = argsz;
		snap_take(&before);
		rc = ioc_buf_rc(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r, sizeof(r), buf);
		e = errno;
		if (argsz < REG_MINSZ) {
			snap_take(&after);
			ck_assert_msg(rc == -1 && e == EINVAL, "argsz %u: rc %d %s", argsz, rc,
				      tu_errname(e));
			snap_assert_same(&before, &after, "UNREGISTER_MEMORY", __LINE__, true);
			unregister_ok(mem_c, NC);
			continue;
		}
		ck_assert_msg(rc == 0, "argsz %u: rc %d %s", argsz, rc, tu_errname(e));
		ck_assert_uint_eq(spapr_mm_locked_vm(), locked - NC);
		ck_assert_uint_eq(emu_mem_ua_pins(u(mem_c)), 0);
	}
}
END_TEST

/* TCE_CREATE below 40 is EINVAL; 40 and up creates, start_addr written back. */
START_TEST(argsz_tce_create)
{
	uint8_t buf[ARGBUF];

	remove_ok(SLOT1);
	for (uint32_t argsz = 0; argsz <= 80; argsz++) {
		struct vfio_iommu_spapr_tce_create c = create_arg(16, 1ull << 36, 2);
		struct vfio_iommu_spapr_tce_create *out = (void *)buf;
		struct snap before, after;
		int rc, e;

		c.argsz = argsz;
		c.start_addr = 0x1234;
		snap_take(&before);
		rc = ioc_buf_rc(cfd, VFIO_IOMMU_SPAPR_TCE_CREATE, &c, sizeof(c), buf);
		e = errno;
		if (argsz < CREATE_MINSZ) {
			snap_take(&after);
			ck_assert_msg(rc == -1 && e == EINVAL, "argsz %u: rc %d %s", argsz, rc,
				      tu_errname(e));
			snap_assert_same(&before, &after, "TCE_CREATE", __LINE__, true);
			ck_assert_uint_eq(out->start_addr, 0x1234);
			continue;
		}
		ck_assert_msg(rc == 0, "argsz %u: rc %d %s", argsz, rc, tu_errname(e));
		ck_assert_uint_eq(out->start_addr, SLOT1);
		ck_assert_uint_eq(out->argsz, argsz);
		for (unsigned i = sizeof(c); i < ARGBUF; i++)
			ck_assert_msg(buf[i] == 0xEE, "argsz %u: byte %u written", argsz, i);
		remove_ok(SLOT1);
	}
	world_window();
}
END_TEST

START_TEST(argsz_tce_remove)
{
	uint8_t buf[ARGBUF];

	for (uint32_t argsz = 0; argsz <= 64; argsz++) {
		struct vfio_iommu_spapr_tce_remove r = remove_arg(SLOT1);
		struct snap before, after;
		int rc, e;

		r.argsz = argsz;
		snap_take(&before);
		rc = ioc_buf_rc(cfd, VFIO_IOMMU_SPAPR_TCE_REMOVE, &r, sizeof(r), buf);
		e = errno;
		if (argsz < REMOVE_MINSZ) {
			snap_take(&after);
			ck_assert_msg(rc == -1 && e == EINVAL, "argsz %u: rc %d %s", argsz, rc,
				      tu_errname(e));
			snap_assert_same(&before, &after, "TCE_REMOVE", __LINE__, true);
			continue;
		}
		ck_assert_msg(rc == 0, "argsz %u: rc %d %s", argsz, rc, tu_errname(e));
		world_window();
	}
}
END_TEST

/* VFIO_GROUP_GET_STATUS: below 8 EINVAL; 8 and up writes 8 bytes (flags are output only). */
START_TEST(argsz_group_status)
{
	uint8_t buf[ARGBUF];

	for (uint32_t argsz = 0; argsz <= 32; argsz++) {
		struct vfio_group_status st = { .argsz = argsz, .flags = 0xffffffffu };
		struct vfio_group_status *out = (void *)buf;
		struct snap before, after;
		int rc, e;

		snap_take(&before);
		rc = ioc_buf_rc(gfd, VFIO_GROUP_GET_STATUS, &st, sizeof(st), buf);
		e = errno;
		snap_take(&after);
		snap_assert_same(&before, &after, "GET_STATUS", __LINE__, true);
		if (argsz < STATUS_MINSZ) {
			ck_assert_msg(rc == -1 && e == EINVAL, "argsz %u: rc %d %s", argsz, rc,
				      tu_errname(e));
			ck_assert_uint_eq(out->flags, 0xffffffffu);
			continue;
		}
		ck_assert_msg(rc == 0, "argsz %u: rc %d %s", argsz, rc, tu_errname(e));
		ck_assert_uint_eq(out->flags, VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
		for (unsigned i = sizeof(st); i < ARGBUF; i++)
			ck_assert_msg(buf[i] == 0xEE, "argsz %u: byte %u written", argsz, i);
	}
}
END_TEST

/* ================================================================ flags */

/* GET_INFO flags are output only: any input is accepted and overwritten. */
START_TEST(flags_get_info)
{
	for (unsigned bit = 0; bit < 32; bit++) {
		struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info), .flags = 1u << bit };

		ioc_ok(cfd, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info);
		ck_assert_uint_eq(info.flags, VFIO_IOMMU_SPAPR_INFO_DDW);
	}
}
END_TEST

/* MAP takes READ and WRITE only, and needs one of them. */
START_TEST(flags_map)
{
	struct vfio_iommu_type1_dma_map m;
	uint8_t byte = 0x55;

	for (unsigned bit = 2; bit < 32; bit++) {
		m = map_arg(u(mem_a) + 12 * PS, IOVA_FREE, PS, VFIO_DMA_MAP_FLAG_READ | (1u << bit));
		ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, EINVAL);
		m.flags = 1u << bit;
		ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, EINVAL);
	}
	m = map_arg(u(mem_a) + 12 * PS, IOVA_FREE, PS, 0);
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, EINVAL);
	m.flags = 0xffffffffu;
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, EINVAL);

	/* READ: the device may read only. */
	map_ok(u(mem_a) + 12 * PS, IOVA_FREE, PS, VFIO_DMA_MAP_FLAG_READ);
	TU_OK(emu_dma_read(GROUP, IOVA_FREE, &byte, 1));
	ck_assert_uint_eq(byte, 0x40 + 12);
	TU_ERR(emu_dma_write(GROUP, IOVA_FREE, &byte, 1), EACCES);
	/* WRITE: stored as READ | WRITE (pnv_tce_xchg). */
	map_ok(u(mem_a) + 12 * PS, IOVA_FREE, PS, VFIO_DMA_MAP_FLAG_WRITE);
	TU_OK(emu_dma_write(GROUP, IOVA_FREE, &byte, 1));
	TU_OK(emu_dma_read(GROUP, IOVA_FREE, &byte, 1));
	unmap_ok(IOVA_FREE, PS);
}
END_TEST

/* Every other flags field must be 0: each bit alone is EINVAL and changes nothing. */
START_TEST(flags_must_be_zero)
{
	for (unsigned bit = 0; bit < 32; bit++) {
		struct vfio_iommu_type1_dma_unmap um = unmap_arg(IOVA_D, 4 * PS);
		struct vfio_iommu_spapr_register_memory reg = reg_arg(u(mem_c), NC * PS);
		struct vfio_iommu_spapr_register_memory unreg = reg_arg(u(mem_b), NB * PS);
		struct vfio_iommu_spapr_tce_create cr = create_arg(16, 1ull << 36, 2);
		struct vfio_iommu_spapr_tce_remove rm = remove_arg(SLOT1);

		um.flags = reg.flags = unreg.flags = cr.flags = rm.flags = 1u << bit;
		ioc_err(cfd, VFIO_IOMMU_UNMAP_DMA, &um, EINVAL);
		ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &reg, EINVAL);
		ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &unreg, EINVAL);
		/* Both slots are taken: the flags check comes before ENOSPC. */
		ioc_err(cfd, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr, EINVAL);
		ioc_err(cfd, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm, EINVAL);
	}
}
END_TEST

/* VFIO_GROUP_GET_STATUS flags are output only. */
START_TEST(flags_group_status)
{
	for (unsigned bit = 0; bit < 32; bit++) {
		struct vfio_group_status st = { .argsz = sizeof(st), .flags = 1u << bit };

		ioc_ok(gfd, VFIO_GROUP_GET_STATUS, &st);
		ck_assert_uint_eq(st.flags, VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	}
}
END_TEST

/* ============================================= addresses and sizes */

/* REGISTER's range checks, overlaps, unmapped memory and size 0 (Q13), in docs/kernel.md's order. */
START_TEST(register_bad_ranges)
{
	static const struct { uint64_t off, size; int err; } cases[] = {
		{ 1, NC * PS, EINVAL },			/* vaddr not page aligned */
		{ PS / 2, NC * PS, EINVAL },
		{ 0, PS - 1, EINVAL },			/* size not a page multiple */
		{ 0, PS + 1, EINVAL },
		{ 0, 1, EINVAL },
	};
	struct vfio_iommu_spapr_register_memory r;
	uint8_t *ro, *hole;

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = reg_arg(u(mem_c) + cases[i].off, cases[i].size);
		ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, cases[i].err);
	}
	/* Size 0: EINVAL, the kernel's ENOMEM (Q13). */
	r = reg_arg(u(mem_c), 0);
	ioc_quirk(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, "Q13", -ENOMEM, true, EINVAL);
	/* Wrapping past 2^64, or ending exactly at 2^64. */
	r = reg_arg(0ull - 2 * PS, 4 * PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, EINVAL);
	r = reg_arg(0ull - PS, PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, EINVAL);
	r = reg_arg(PS, 0ull - PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, EINVAL);
	/* Huge: over RLIMIT_MEMLOCK before anything is pinned. */
	r = reg_arg(u(mem_c), 1ull << 62);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, ENOMEM);
	r = reg_arg(u(mem_c), LIMIT + PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, ENOMEM);
	/* Unmapped memory, a last page unmapped, user addresses beyond 2^47. */
	r = reg_arg(u(unmapped_ptr()), PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, EFAULT);
	hole = tu_map(4);
	tu_unmap(hole + 3 * PS, 1);
	r = reg_arg(u(hole), 4 * PS);
	/* EFAULT, the kernel's partial pin count (Q5); nothing stays either way. */
	ioc_quirk(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, "Q5", 3, true, EFAULT);
	ck_assert_uint_eq(emu_mem_ua_pins(u(hole)), 0);
	r = reg_arg(1ull << 47, PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, EFAULT);
	r = reg_arg(0xffff800000000000ull, PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, EFAULT);
	/* Read-only memory cannot be pinned writable. */
	ro = tu_map(2);
	ck_assert_int_eq(mprotect(ro, 2 * PS, PROT_READ), 0);
	r = reg_arg(u(ro), 2 * PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, EFAULT);
	/* Overlaps and the same range again in this container. */
	r = reg_arg(u(mem_a) + PS, 4 * PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, EINVAL);
	r = reg_arg(u(mem_a), (NA + 1) * PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, EINVAL);
	r = reg_arg(u(mem_a) - PS, 2 * PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, EINVAL);
	r = reg_arg(u(mem_a), NA * PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r, EBUSY);
	tu_unmap(hole, 3);
	tu_unmap(ro, 2);
}
END_TEST

/* UNREGISTER's checks in docs/kernel.md's order, from the alignment on, and Q3. */
START_TEST(unregister_bad_ranges)
{
	struct vfio_iommu_spapr_register_memory r;

	r = reg_arg(u(mem_b) + 1, NB * PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r, EINVAL);
	r = reg_arg(u(mem_b), NB * PS - 1);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r, EINVAL);
	r = reg_arg(u(mem_b) + PS / 2, NB * PS + PS / 2);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r, EINVAL);
	/* No bisecting, no super-ranges, nothing registered there. */
	r = reg_arg(u(mem_b), 2 * PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r, ENOENT);
	r = reg_arg(u(mem_b) + PS, (NB - 1) * PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r, ENOENT);
	r = reg_arg(u(mem_b), (NB + 1) * PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r, ENOENT);
	r = reg_arg(u(mem_c), NC * PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r, ENOENT);
	/* The last owner of a mapped region: EBUSY, nothing changes (Q3). */
	r = reg_arg(u(mem_a), NA * PS);
	if (!tu_fixed_only_step("unregister_bad_ranges", "UNREGISTER of a mapped region", "Q3",
				"the kernel's 0 orphans the region for good, which the teardown refuses"))
		ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r, EBUSY);
}
END_TEST

/*
 * UNREGISTER checks only alignment (EINVAL); any other
 * aligned (vaddr, size) is a lookup that misses: ENOENT.  The
 * kernel's tce_iommu_unregister_pages returns ENOENT for size 0 and for a
 * range wrapping past 2^64; Q13 (EINVAL for size 0) is about REGISTER only.
 */
START_TEST(unregister_size0_and_wrap_are_enoent)
{
	struct vfio_iommu_spapr_register_memory r;

	r = reg_arg(u(mem_b), 0);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r, ENOENT);
	r = reg_arg(0ull - 2 * PS, 4 * PS);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r, ENOENT);
}
END_TEST

/* MAP's checks in docs/kernel.md's order from "no window holds iova" on, Q1, Q2. */
START_TEST(map_bad_addresses)
{
	static const uint32_t RW = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	const uint64_t va = u(mem_a) + 12 * PS;
	static const struct { int64_t dva; uint64_t iova, size; int err; } cases[] = {
		{ 1, IOVA_FREE, PS, EINVAL },			/* vaddr misaligned */
		{ PS / 2, IOVA_FREE, PS, EINVAL },
		{ 0, IOVA_FREE, PS - 1, EINVAL },		/* size misaligned */
		{ 0, IOVA_FREE, PS + 8, EINVAL },
		{ 0, TCE32_SIZE, PS, ENXIO },			/* just past the default window */
		{ 0, 1ull << 58, PS, ENXIO },			/* between the windows */
		{ 0, SLOT1 + W1_SIZE, PS, ENXIO },		/* just past the 64-bit window */
		{ 0, 0ull - PS, PS, ENXIO },			/* top of the bus */
		{ 0, IOVA_FREE, 1ull << 63, EINVAL },		/* huge */
		{ 0, SLOT1, 0ull - SLOT1, EINVAL },		/* iova + size reaches 2^64 */
		{ 0, SLOT1, 0ull - PS, EINVAL },		/* iova + size wraps */
		{ 4 * PS, IOVA_FREE, PS, EINVAL },		/* A ends at page 16: not registered */
	};
	struct vfio_iommu_type1_dma_map m;
	struct snap before, after;

	/*
	 * Kernel mode (Q2): a range running past the window is mapped page by
	 * page until a page fails (here A's end), then cleared again: the same
	 * answer and state, one more kill.
	 */
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = map_arg(va + (uint64_t)cases[i].dva, cases[i].iova, cases[i].size, RW);
		ioc_err_(cfd, VFIO_IOMMU_MAP_DMA, &m, cases[i].err, !tu_quirks_kernel("Q2"), "MAP_DMA",
			 __LINE__);
	}
	/* iova misaligned: EINVAL, the kernel's +1 (Q1), nothing mapped either way. */
	m = map_arg(va, IOVA_FREE + 1, PS, RW);
	ioc_quirk(cfd, VFIO_IOMMU_MAP_DMA, &m, "Q1", 1, true, EINVAL);
	m = map_arg(va, IOVA_FREE + PS / 2, PS, RW);
	ioc_quirk(cfd, VFIO_IOMMU_MAP_DMA, &m, "Q1", 1, true, EINVAL);
	/*
	 * Runs past the window: EINVAL; the kernel checks the first entry only
	 * (Q2) and maps the last one (the page past the end, A[13], is
	 * registered): 0, undone here.
	 */
	m = map_arg(va, TCE32_SIZE - PS, 2 * PS, RW);
	if (ioc_quirk(cfd, VFIO_IOMMU_MAP_DMA, &m, "Q2", 0, false, EINVAL))
		unmap_ok(TCE32_SIZE - PS, PS);
	m = map_arg(va, SLOT1 + W1_SIZE - PS, 2 * PS, RW);
	if (ioc_quirk(cfd, VFIO_IOMMU_MAP_DMA, &m, "Q2", 0, false, EINVAL))
		unmap_ok(SLOT1 + W1_SIZE - PS, PS);
	/*
	 * Pages 14, 15 in A, 16, 17 not: the two entries written are cleared
	 * again, and killed (the kill covers the cleared part).
	 */
	m = map_arg(va + 2 * PS, IOVA_FREE, 4 * PS, RW);
	snap_take(&before);
	ck_assert_int_eq(ioc_rc(cfd, VFIO_IOMMU_MAP_DMA, &m), -1);
	ck_assert_int_eq(errno, EINVAL);
	snap_take(&after);
	snap_assert_same(&before, &after, "MAP_DMA failing at page 2", __LINE__, false);
	ck_assert_uint_eq(after.killed_pages - before.killed_pages, 2);
	/* vaddr wrapping, unregistered memory, unmapped memory. */
	m = map_arg(0ull - PS, IOVA_FREE, 2 * PS, RW);
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, EINVAL);
	m = map_arg(u(mem_c), IOVA_FREE, PS, RW);
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, EINVAL);
	m = map_arg(u(unmapped_ptr()), IOVA_FREE, PS, RW);
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, EINVAL);
	m = map_arg(u(mem_c), IOVA_W + 64 * PS, PS, RW);
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, EINVAL);
	/* Order: flags before the window; the window before READ|WRITE and alignment. */
	m = map_arg(va, TCE32_SIZE, PS, RW | 4);
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, EINVAL);
	m = map_arg(va, TCE32_SIZE, PS, 0);
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, ENXIO);
	m = map_arg(va + 1, TCE32_SIZE + 1, PS - 1, RW);
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, ENXIO);
	/* Size 0 inside a window: success, nothing done; outside: ENXIO. */
	m = map_arg(va, IOVA_FREE, 0, RW);
	ioc_ok(cfd, VFIO_IOMMU_MAP_DMA, &m);
	m = map_arg(va, TCE32_SIZE, 0, RW);
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, ENXIO);
}
END_TEST

/* A MAP failing at page j leaves the entries before j cleared, from j on untouched. */
START_TEST(map_failing_midway_clears_its_prefix)
{
	struct vfio_iommu_type1_dma_map m;
	struct snap before, after;
	uint8_t byte;

	/* A[14], A[15], then the unregistered gap page, over IOVA_D + 2 ... 4 pages (A[2], A[3], empty). */
	snap_take(&before);
	m = map_arg(u(mem_a) + (NA - 2) * PS, IOVA_D + 2 * PS, 3 * PS, VFIO_DMA_MAP_FLAG_READ);
	ck_assert_int_eq(ioc_rc(cfd, VFIO_IOMMU_MAP_DMA, &m), -1);
	ck_assert_int_eq(errno, EINVAL);
	snap_take(&after);
	/* Two of A's entries were cleared (their older mappings too): A.mapped - 2, one kill of 2. */
	ck_assert_uint_eq(after.a_mapped, before.a_mapped - 2);
	ck_assert_uint_eq(after.kills - before.kills, 1);
	ck_assert_uint_eq(after.killed_pages - before.killed_pages, 2);
	ck_assert_uint_eq(after.locked_vm, before.locked_vm);
	TU_OK(emu_dma_read(GROUP, IOVA_D + PS, &byte, 1));
	TU_ERR(emu_dma_read(GROUP, IOVA_D + 2 * PS, &byte, 1), EFAULT);
	TU_ERR(emu_dma_read(GROUP, IOVA_D + 3 * PS, &byte, 1), EFAULT);
	TU_ERR(emu_dma_read(GROUP, IOVA_D + 4 * PS, &byte, 1), EFAULT);
	TU_OK(emu_dma_read(GROUP, IOVA_RO, &byte, 1));
	ck_assert_uint_eq(byte, 0x44);
}
END_TEST

/* MAP's size, vaddr and region page size checks in a 64 KiB window: alignment is to the IOMMU page. */
START_TEST(map_64k_window_alignment)
{
	static const uint32_t RW = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	const uint64_t P = 1ull << 16;
	uint8_t *big = tu_map_aligned(32, 16);
	struct vfio_iommu_type1_dma_map m;
	uint64_t w;

	register_ok(big, 32);
	remove_ok(SLOT1);
	w = create_ok(16, 1ull << 36, 2);
	ck_assert_uint_eq(w, SLOT1);
	m = map_arg(u(big) + PS, w, P, RW);		/* vaddr 4K aligned only */
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, EINVAL);
	m = map_arg(u(big), w, PS, RW);			/* size one system page */
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, EINVAL);
	m = map_arg(u(big), w + PS, P, RW);		/* iova 4K aligned only: the kernel's +1 (Q1) */
	ioc_quirk(cfd, VFIO_IOMMU_MAP_DMA, &m, "Q1", 1, true, EINVAL);
	m = map_arg(u(big), w, P, RW);			/* all aligned: region pageshift 12 */
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, EINVAL);
	remove_ok(w);
	unregister_ok(big, 32);
	tu_unmap(big, 32);
	world_window();
}
END_TEST

/* UNMAP's checks in docs/kernel.md's order from "no window holds iova" on. */
START_TEST(unmap_bad_addresses)
{
	static const struct { uint64_t iova, size; int err; } cases[] = {
		{ IOVA_D, PS - 1, EINVAL },
		{ IOVA_D, 4 * PS + 1, EINVAL },
		{ TCE32_SIZE, PS, ENXIO },
		{ 1ull << 58, PS, ENXIO },
		{ SLOT1 + W1_SIZE, PS, ENXIO },
		{ 0ull - PS, PS, ENXIO },
		{ TCE32_SIZE, 0, ENXIO },
		{ TCE32_SIZE + 1, PS - 1, ENXIO },
	};
	static const struct { uint64_t iova, size; } past[] = {
		{ TCE32_SIZE - PS, 2 * PS },
		{ IOVA_W, W1_SIZE },
		{ IOVA_D, 1ull << 63 },
		{ SLOT1, 0ull - SLOT1 },
		{ SLOT1, 0ull - PS },
	};
	struct vfio_iommu_type1_dma_unmap m;
	struct snap before, after;

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = unmap_arg(cases[i].iova, cases[i].size);
		ioc_err(cfd, VFIO_IOMMU_UNMAP_DMA, &m, cases[i].err);
	}
	/*
	 * Ranges past the window's end: EINVAL.  The kernel checks their first
	 * entry only (Q2) and clears on (past its table's end: we stop at the
	 * window's), answering 0; the world's mappings are made again after.
	 */
	for (unsigned i = 0; i < sizeof(past) / sizeof(past[0]); i++) {
		snap_take(&before);
		m = unmap_arg(past[i].iova, past[i].size);
		if (ioc_quirk(cfd, VFIO_IOMMU_UNMAP_DMA, &m, "Q2", 0, false, EINVAL)) {
			map_ok(u(mem_a), IOVA_D, 4 * PS, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
			map_ok(u(mem_a) + 4 * PS, IOVA_RO, PS, VFIO_DMA_MAP_FLAG_READ);
			map_ok(u(mem_a) + 8 * PS, IOVA_W, 4 * PS,
			       VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
			snap_take(&after);
			snap_assert_same(&before, &after, "UNMAP_DMA past the window, mapped again", __LINE__,
					 false);
		}
	}
	/* iova misaligned: EINVAL, the kernel's +1 (Q1), nothing cleared either way. */
	m = unmap_arg(IOVA_D + 1, PS);
	ioc_quirk(cfd, VFIO_IOMMU_UNMAP_DMA, &m, "Q1", 1, true, EINVAL);
	m = unmap_arg(IOVA_D + PS / 2, PS);
	ioc_quirk(cfd, VFIO_IOMMU_UNMAP_DMA, &m, "Q1", 1, true, EINVAL);
	/* Size 0, and entries never mapped: success, nothing changes. */
	snap_take(&before);
	unmap_ok(IOVA_D, 0);
	unmap_ok(IOVA_FREE, 64 * PS);
	snap_take(&after);
	ck_assert_uint_eq(after.a_mapped, before.a_mapped);
	ck_assert_uint_eq(after.locked_vm, before.locked_vm);
}
END_TEST

/* TCE_CREATE's checks in docs/kernel.md's order from ENOSPC on, Q6, Q14. */
START_TEST(tce_create_bad_geometry)
{
	static const struct { uint32_t shift; uint64_t size; uint32_t levels; int err; } cases[] = {
		{ 0, 1ull << 32, 1, EINVAL },		/* page shifts not in pgsizes */
		{ 11, 1ull << 32, 1, EINVAL },
		{ 13, 1ull << 32, 1, EINVAL },
		{ 24, 1ull << 32, 1, EINVAL },
		{ 63, 1ull << 32, 1, EINVAL },
		{ 64, 1ull << 32, 1, EINVAL },
		{ 200, 1ull << 32, 1, EINVAL },
		{ 0xffffffffu, 1ull << 32, 1, EINVAL },
		{ 12, 0, 1, EINVAL },			/* window size */
		{ 12, 3ull << 20, 1, EINVAL },
		{ 12, (1ull << 32) - 1, 2, EINVAL },
		{ 12, 1ull << 11, 1, EINVAL },		/* smaller than one IOMMU page (Q14) */
		{ 16, 1ull << 12, 1, EINVAL },
		{ 30, 1ull << 29, 1, EINVAL },
		{ 12, 1ull << 32, 0, EINVAL },		/* levels */
		{ 12, 1ull << 32, 6, EINVAL },
		{ 12, 1ull << 32, 0xffffffffu, EINVAL },
		{ 12, 1ull << 32, 5, EINVAL },		/* the 55-bit rule, charge within the limit */
		/* E7: tce_iommu_create_table charges before the 55-bit rule: ENOMEM */
		{ 12, 1ull << 63, 5, ENOMEM },
		{ 12, 1ull << 55, 4, ENOMEM },
		{ 12, 1ull << 40, 1, ENOMEM },		/* 2 x 2 GiB of table: over RLIMIT_MEMLOCK */
		{ 12, 1ull << 46, 3, ENOMEM },
	};
	struct vfio_iommu_spapr_tce_create c;

	/* Both slots taken: ENOSPC comes before the page size and the geometry. */
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = create_arg(cases[i].shift, cases[i].size, cases[i].levels);
		ioc_err(cfd, VFIO_IOMMU_SPAPR_TCE_CREATE, &c, ENOSPC);
	}
	remove_ok(SLOT1);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = create_arg(cases[i].shift, cases[i].size, cases[i].levels);
		c.start_addr = 0x1234;
		ioc_err(cfd, VFIO_IOMMU_SPAPR_TCE_CREATE, &c, cases[i].err);
		ck_assert_uint_eq(c.start_addr, 0x1234);
	}
	/* Reserved fields and start_addr on input are ignored. */
	c = create_arg(W1_SHIFT, W1_SIZE, W1_LEVELS);
	c.__resv1 = 0xdeadbeef;
	c.__resv2 = 0xfeedface;
	c.start_addr = 0x5555;
	ioc_ok(cfd, VFIO_IOMMU_SPAPR_TCE_CREATE, &c);
	ck_assert_uint_eq(c.start_addr, SLOT1);
	map_ok(u(mem_a) + 8 * PS, IOVA_W, 4 * PS, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
}
END_TEST

/* TCE_REMOVE of an address inside no window is EINVAL; any address inside one removes it. */
START_TEST(tce_remove_bad_addresses)
{
	static const uint64_t bad[] = {
		TCE32_SIZE, 1ull << 58, SLOT1 - 1, SLOT1 + W1_SIZE, 0ull - 1, 0ull - PS,
	};
	struct vfio_iommu_spapr_tce_remove r;
	uint8_t byte;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = remove_arg(bad[i]);
		ioc_err(cfd, VFIO_IOMMU_SPAPR_TCE_REMOVE, &r, EINVAL);
	}
	remove_ok(SLOT1 + W1_SIZE - 1);
	TU_ERR(emu_dma_read(GROUP, IOVA_W, &byte, 1), EFAULT);
	r = remove_arg(SLOT1);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_TCE_REMOVE, &r, EINVAL);
	world_window();
}
END_TEST

/* ================================================================ EFAULT */

/* Makes each struct request with a NULL, an unmapped, and a straddling argument. */
static void efault_sweep(int fd, unsigned long req, const void *valid, size_t minsz, const char *what)
{
	uint8_t *g = guarded_page();
	uint8_t *straddle = g + PS - minsz / 2;	/* half of the minimum in the PROT_NONE page */
	int rc, e;

	ioc_err_(fd, req, NULL, EFAULT, true, what, __LINE__);
	ioc_err_(fd, req, unmapped_ptr(), EFAULT, true, what, __LINE__);
	ioc_err_(fd, req, (void *)(uintptr_t)0xffff800000000000ull, EFAULT, true, what, __LINE__);
	memcpy(straddle, valid, minsz / 2);
	ioc_err_(fd, req, straddle, EFAULT, true, what, __LINE__);
	ioc_err_(fd, req, g + PS - 1, EFAULT, true, what, __LINE__);
	/* The minimum readable, argsz larger: the bytes past the minimum are never read. */
	if (req != VFIO_GROUP_SET_CONTAINER) {
		uint8_t *fits = g + PS - minsz;

		memcpy(fits, valid, minsz);
		/* GET_INFO writes 32 bytes back from argsz 32 on: stay below. */
		((struct vfio_iommu_type1_dma_map *)fits)->argsz =
			req == VFIO_IOMMU_SPAPR_TCE_GET_INFO ? INFO_MINSZ + 8 : 4096;
		rc = ioc_rc(fd, req, fits);
		e = errno;
		ck_assert_msg(rc == 0, "%s with the struct ending at a PROT_NONE page: %d %s", what, rc,
			      tu_errname(e));
	}
	tu_unmap(g, 2);
}

START_TEST(efault_every_request)
{
	struct vfio_iommu_spapr_tce_info info = { .argsz = INFO_MINSZ };
	struct vfio_iommu_type1_dma_map m = map_arg(u(mem_a) + 12 * PS, IOVA_FREE, PS,
						    VFIO_DMA_MAP_FLAG_READ);
	struct vfio_iommu_type1_dma_unmap um = unmap_arg(IOVA_FREE, PS);
	struct vfio_iommu_spapr_register_memory reg = reg_arg(u(mem_c), NC * PS);
	struct vfio_group_status st = { .argsz = STATUS_MINSZ };

	efault_sweep(cfd, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info, INFO_MINSZ, "GET_INFO");
	efault_sweep(cfd, VFIO_IOMMU_MAP_DMA, &m, MAP_MINSZ, "MAP_DMA");
	efault_sweep(cfd, VFIO_IOMMU_UNMAP_DMA, &um, UNMAP_MINSZ, "UNMAP_DMA");
	efault_sweep(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &reg, REG_MINSZ, "REGISTER_MEMORY");
	efault_sweep(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &reg, REG_MINSZ, "UNREGISTER_MEMORY");
	efault_sweep(gfd, VFIO_GROUP_GET_STATUS, &st, STATUS_MINSZ, "GET_STATUS");
	efault_sweep(gfd, VFIO_GROUP_SET_CONTAINER, &cfd, sizeof(int), "SET_CONTAINER");
}
END_TEST

START_TEST(efault_window_requests)
{
	struct vfio_iommu_spapr_tce_create cr = create_arg(W1_SHIFT, W1_SIZE, W1_LEVELS);
	struct vfio_iommu_spapr_tce_remove rm = remove_arg(SLOT1);

	remove_ok(SLOT1);
	/* Each successful one (struct ending at the PROT_NONE page) creates the window: remove it. */
	efault_sweep(cfd, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr, CREATE_MINSZ, "TCE_CREATE");
	remove_ok(SLOT1);
	world_window();
	efault_sweep(cfd, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm, REMOVE_MINSZ, "TCE_REMOVE");
	world_window();
}
END_TEST

/* Output that cannot be written back: EFAULT, nothing changes (a read-only page). */
START_TEST(efault_on_copy_out)
{
	uint8_t *ro = tu_map(1);
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	struct vfio_iommu_spapr_tce_create cr = create_arg(W1_SHIFT, W1_SIZE, W1_LEVELS);
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_iommu_type1_dma_map m = map_arg(u(mem_a) + 12 * PS, IOVA_FREE, PS,
						    VFIO_DMA_MAP_FLAG_READ);
	uint8_t *g = guarded_page();
	struct snap before, after;

	memcpy(ro, &info, sizeof(info));
	ck_assert_int_eq(mprotect(ro, PS, PROT_READ), 0);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_TCE_GET_INFO, ro, EFAULT);
	/* GET_INFO with argsz 32 whose last 16 bytes are in the PROT_NONE page. */
	memcpy(g + PS - INFO_MINSZ, &info, INFO_MINSZ);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_TCE_GET_INFO, g + PS - INFO_MINSZ, EFAULT);
	ck_assert_int_eq(mprotect(ro, PS, PROT_READ | PROT_WRITE), 0);
	memcpy(ro, &st, sizeof(st));
	ck_assert_int_eq(mprotect(ro, PS, PROT_READ), 0);
	ioc_err(gfd, VFIO_GROUP_GET_STATUS, ro, EFAULT);
	/*
	 * TCE_CREATE whose start_addr cannot be written: EFAULT, and (our
	 * choice, documented in spapr/window.c) the window is not left behind;
	 * the kernel would keep it.
	 */
	remove_ok(SLOT1);
	ck_assert_int_eq(mprotect(ro, PS, PROT_READ | PROT_WRITE), 0);
	memcpy(ro, &cr, sizeof(cr));
	ck_assert_int_eq(mprotect(ro, PS, PROT_READ), 0);
	snap_take(&before);
	ck_assert_int_eq(ioc_rc(cfd, VFIO_IOMMU_SPAPR_TCE_CREATE, ro), -1);
	ck_assert_int_eq(errno, EFAULT);
	snap_take(&after);
	snap_assert_same(&before, &after, "TCE_CREATE into a read-only page", __LINE__, false);
	world_window();
	/* Input-only requests read their argument: a read-only page is fine. */
	ck_assert_int_eq(mprotect(ro, PS, PROT_READ | PROT_WRITE), 0);
	memcpy(ro, &m, sizeof(m));
	ck_assert_int_eq(mprotect(ro, PS, PROT_READ), 0);
	ioc_ok(cfd, VFIO_IOMMU_MAP_DMA, ro);
	unmap_ok(IOVA_FREE, PS);
	tu_unmap(ro, 1);
	tu_unmap(g, 2);
}
END_TEST

/* ================================================================ ENOTTY */

/* Numbers no fd of ours knows: below VFIO_BASE, past the sPAPR range, another type, size-encoded. */
static const unsigned long unknown_requests[] = {
	0, 1, 0x3B00, 0x3B63, 0x3B7A, 0x3B7F, 0x3C71, 0x40203B71, 0xC0203B71,
	0xdeadbeef, 0xffffffffu, ~0ul,
};

/* Unknown requests from the bound process; container and group fds. */
START_TEST(unknown_requests_enotty)
{
	const unsigned long group_only[] = {
		VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_UNSET_CONTAINER,
		VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_DEVICE_FD + 1,
	};
	const unsigned long container_only[] = {
		VFIO_IOMMU_SPAPR_TCE_GET_INFO, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA,
		VFIO_IOMMU_ENABLE, VFIO_IOMMU_DISABLE, VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
		VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, VFIO_IOMMU_SPAPR_TCE_CREATE,
		VFIO_IOMMU_SPAPR_TCE_REMOVE,
	};

	for (unsigned i = 0; i < sizeof(unknown_requests) / sizeof(unknown_requests[0]); i++) {
		ioc_err(cfd, unknown_requests[i], NULL, ENOTTY);
		ioc_err(gfd, unknown_requests[i], NULL, ENOTTY);
	}
	/* Group requests on the container, driver requests on the group. */
	for (unsigned i = 0; i < sizeof(group_only) / sizeof(group_only[0]); i++)
		ioc_err(cfd, group_only[i], NULL, ENOTTY);
	for (unsigned i = 0; i < sizeof(container_only) / sizeof(container_only[0]); i++)
		ioc_err(gfd, container_only[i], NULL, ENOTTY);
	/* ENABLE / DISABLE on v2. */
	ioc_err(cfd, VFIO_IOMMU_ENABLE, NULL, ENOTTY);
	ioc_err(cfd, VFIO_IOMMU_DISABLE, NULL, ENOTTY);
}
END_TEST

/* v2-only requests on a v1 container, even with a bad argument. */
START_TEST(v1_container_enotty)
{
	struct vfio_iommu_spapr_register_memory reg = reg_arg(u(mem_c), NC * PS);
	struct vfio_iommu_spapr_tce_create cr = create_arg(W1_SHIFT, W1_SIZE, W1_LEVELS);
	struct vfio_iommu_spapr_tce_remove rm = remove_arg(0);
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	const unsigned long v2_only[] = {
		VFIO_IOMMU_SPAPR_REGISTER_MEMORY, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY,
		VFIO_IOMMU_SPAPR_TCE_CREATE, VFIO_IOMMU_SPAPR_TCE_REMOVE,
	};
	const void *args[] = { &reg, &reg, &cr, &rm };

	open_v(0);
	for (unsigned i = 0; i < 4; i++) {
		ioc_err(cfd, v2_only[i], args[i], ENOTTY);
		ioc_err(cfd, v2_only[i], NULL, ENOTTY);
	}
	for (unsigned i = 0; i < sizeof(unknown_requests) / sizeof(unknown_requests[0]); i++)
		ioc_err(cfd, unknown_requests[i], NULL, ENOTTY);
	/* v1 GET_INFO reports no DDW. */
	memset(&info.ddw, 0xEE, sizeof(info.ddw));
	ioc_ok(cfd, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info);
	ck_assert_uint_eq(info.flags, 0);
	ck_assert_uint_eq(info.ddw.pgsizes, 0);
	ck_assert_uint_eq(info.ddw.max_dynamic_windows_supported, 0);
	ck_assert_uint_eq(info.ddw.levels, 0);
	ck_assert_uint_eq(info.dma32_window_size, TCE32_SIZE);
	/* v1 MAP before ENABLE: EPERM before the argument is read. */
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, NULL, EPERM);
	ioc_err(cfd, VFIO_IOMMU_UNMAP_DMA, NULL, EPERM);
}
END_TEST

/*
 * A container with no IOMMU driver (before SET_IOMMU, or after its last
 * group left): the VFIO core answers GET_API_VERSION,
 * CHECK_EXTENSION and SET_IOMMU itself and has nothing to pass anything
 * else to.  vfio_fops_unl_ioctl starts from ret = -EINVAL and only a driver
 * changes it, so every other request (known or not) is EINVAL.
 */
START_TEST(no_driver_requests_einval)
{
	struct vfio_iommu_spapr_tce_create cr = create_arg(W1_SHIFT, W1_SIZE, W1_LEVELS);
	int c2 = spapr_open_container(), g1;

	ck_assert_int_ge(c2, 0);
	ck_assert_int_eq(spapr_ioctl(c2, VFIO_GET_API_VERSION, NULL), VFIO_API_VERSION);
	ck_assert_int_eq(spapr_ioctl(c2, VFIO_CHECK_EXTENSION, (unsigned long)VFIO_SPAPR_TCE_v2_IOMMU), 1);
	ioc_err(c2, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_v2_IOMMU, EINVAL);	/* no group */
	ioc_err(c2, VFIO_IOMMU_SPAPR_TCE_GET_INFO, NULL, EINVAL);
	ioc_err(c2, VFIO_IOMMU_MAP_DMA, NULL, EINVAL);
	ioc_err(c2, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr, EINVAL);
	ioc_err(c2, 0x3B7F, NULL, EINVAL);
	/*
	 * The driver goes when its last group leaves, so TCE_CREATE's
	 * "no group: ENXIO before argsz" cannot be reached from
	 * userspace: the request meets no driver at all.
	 */
	g1 = spapr_open_group(1);
	ck_assert_int_ge(g1, 0);
	ioc_ok(g1, VFIO_GROUP_SET_CONTAINER, &c2);
	ck_assert_int_eq(spapr_ioctl(c2, VFIO_SET_IOMMU, (unsigned long)VFIO_SPAPR_TCE_v2_IOMMU), 0);
	ioc_ok(g1, VFIO_GROUP_UNSET_CONTAINER, NULL);
	ioc_err(c2, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr, EINVAL);
	ioc_err(c2, VFIO_IOMMU_SPAPR_TCE_CREATE, NULL, EINVAL);
	ck_assert_int_eq(spapr_close(g1), 0);
	ck_assert_int_eq(spapr_close(c2), 0);
}
END_TEST

/* ======================================================= binding, EPERM */

struct child_case {
	unsigned long req;
	const void *arg;
	const char *name;
};

/*
 * In a forked child (another mm), each request must fail with @err (0:
 * CHECK_EXTENSION's answer instead).  Returns the number of mismatches,
 * printed on stderr; the child cannot use ck_assert.
 */
static int child_expect(int fd, const struct child_case *cs, unsigned n, int err)
{
	int bad = 0;

	for (unsigned i = 0; i < n; i++) {
		int rc;

		errno = 0;
		rc = spapr_ioctl(fd, cs[i].req, cs[i].arg);
		if (rc != -1 || errno != err) {
			fprintf(stderr, "child: %s returned %d errno %s, expected %s\n", cs[i].name, rc,
				tu_errname(errno), tu_errname(err));
			bad++;
		}
	}
	return bad;
}

static void run_in_child(int (*fn)(void *), void *ctx)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (!pid)
		_exit(fn(ctx));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child: %d mismatches (see stderr), status %#x", WEXITSTATUS(status), status);
}

#define CASE(req, arg) { req, arg, #req " " #arg }

static int child_all_eperm(void *ctx)
{
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	struct vfio_iommu_type1_dma_map m = map_arg(u(mem_a) + 12 * PS, IOVA_FREE, PS,
						    VFIO_DMA_MAP_FLAG_READ);
	struct vfio_iommu_type1_dma_unmap um = unmap_arg(IOVA_D, PS);
	struct vfio_iommu_spapr_register_memory reg = reg_arg(u(mem_c), NC * PS);
	struct vfio_iommu_spapr_register_memory unreg = reg_arg(u(mem_b), NB * PS);
	struct vfio_iommu_spapr_tce_create cr = create_arg(16, 1ull << 36, 2);
	struct vfio_iommu_spapr_tce_remove rm = remove_arg(SLOT1);
	const struct child_case cs[] = {
		CASE(VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info),
		CASE(VFIO_IOMMU_MAP_DMA, &m),
		CASE(VFIO_IOMMU_UNMAP_DMA, &um),
		CASE(VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &reg),
		CASE(VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &unreg),
		CASE(VFIO_IOMMU_SPAPR_TCE_CREATE, &cr),
		CASE(VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm),
		CASE(VFIO_IOMMU_ENABLE, NULL),
		CASE(VFIO_IOMMU_DISABLE, NULL),
		CASE(VFIO_EEH_PE_OP, NULL),
		CASE(0x3B7F, NULL),
		CASE(0xdeadbeef, NULL),
		/* The mm check comes before the argument is looked at. */
		CASE(VFIO_IOMMU_SPAPR_TCE_GET_INFO, NULL),
		CASE(VFIO_IOMMU_MAP_DMA, NULL),
		CASE(VFIO_IOMMU_UNMAP_DMA, NULL),
		CASE(VFIO_IOMMU_SPAPR_REGISTER_MEMORY, NULL),
		CASE(VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, NULL),
		CASE(VFIO_IOMMU_SPAPR_TCE_CREATE, NULL),
		CASE(VFIO_IOMMU_SPAPR_TCE_REMOVE, NULL),
	};
	int bad = child_expect(*(int *)ctx, cs, sizeof(cs) / sizeof(cs[0]), EPERM);

	/* CHECK_EXTENSION never fails and has no mm check. */
	if (spapr_ioctl(*(int *)ctx, VFIO_CHECK_EXTENSION, (unsigned long)VFIO_SPAPR_TCE_v2_IOMMU) != 1 ||
	    spapr_ioctl(*(int *)ctx, VFIO_CHECK_EXTENSION, (unsigned long)VFIO_SPAPR_TCE_IOMMU) != 1 ||
	    spapr_ioctl(*(int *)ctx, VFIO_CHECK_EXTENSION, 1ul) != 0) {
		fprintf(stderr, "child: CHECK_EXTENSION answered wrongly\n");
		bad++;
	}
	return bad;
}

/* Once bound, every request but CHECK_EXTENSION from another process is EPERM. */
START_TEST(forked_child_gets_eperm)
{
	struct snap before, after;

	snap_take(&before);
	run_in_child(child_all_eperm, &cfd);
	snap_take(&after);
	snap_assert_same(&before, &after, "forked child", __LINE__, true);
	/* The parent is still served. */
	map_ok(u(mem_a) + 12 * PS, IOVA_FREE, PS, VFIO_DMA_MAP_FLAG_READ);
	unmap_ok(IOVA_FREE, PS);
}
END_TEST

static int child_register_eperm(void *ctx)
{
	struct vfio_iommu_spapr_register_memory reg = reg_arg(u(mem_c), NC * PS);
	struct vfio_iommu_spapr_tce_create cr = create_arg(16, 1ull << 36, 2);
	const struct child_case cs[] = {
		CASE(VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &reg),
		CASE(VFIO_IOMMU_SPAPR_TCE_CREATE, &cr),
		CASE(VFIO_IOMMU_SPAPR_TCE_GET_INFO, NULL),
	};

	return child_expect(*(int *)ctx, cs, sizeof(cs) / sizeof(cs[0]), EPERM);
}

/* A REGISTER that fails argument validation still binds. */
START_TEST(failed_register_binds)
{
	struct vfio_iommu_spapr_register_memory reg = reg_arg(u(mem_c), NC * PS);

	reg.flags = 1;
	ioc_err(cfd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &reg, EINVAL);
	run_in_child(child_register_eperm, &cfd);
	/* Bound but never enabled: MAP and UNMAP are still EPERM. */
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, NULL, EPERM);
	ioc_err(cfd, VFIO_IOMMU_UNMAP_DMA, NULL, EPERM);
	/* Bound: UNREGISTER gets to its argument now. */
	ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, NULL, EFAULT);
}
END_TEST

/* TCE_CREATE and TCE_REMOVE bind too, before their argument is read. */
START_TEST(failed_tce_create_binds)
{
	ioc_err(cfd, VFIO_IOMMU_SPAPR_TCE_CREATE, NULL, EFAULT);
	run_in_child(child_register_eperm, &cfd);
}
END_TEST

START_TEST(failed_tce_remove_binds)
{
	struct vfio_iommu_spapr_tce_remove rm = remove_arg(1ull << 58);

	ioc_err(cfd, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm, EINVAL);
	run_in_child(child_register_eperm, &cfd);
}
END_TEST

static int child_unbound_ok(void *ctx)
{
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	int bad = 0;

	/* Not bound: GET_INFO is served, MAP is EPERM for "not enabled", UNREGISTER for "not bound". */
	if (spapr_ioctl(*(int *)ctx, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info) != 0 ||
	    info.flags != VFIO_IOMMU_SPAPR_INFO_DDW) {
		fprintf(stderr, "child: GET_INFO on an unbound container failed\n");
		bad++;
	}
	return bad;
}

/* The order of the first checks on a never-bound, never-enabled container. */
START_TEST(never_bound_order)
{
	struct vfio_iommu_type1_dma_map m = map_arg(u(mem_a), IOVA_D, PS, VFIO_DMA_MAP_FLAG_READ);
	struct vfio_iommu_type1_dma_unmap um = unmap_arg(IOVA_D, PS);
	struct vfio_iommu_spapr_register_memory reg = reg_arg(u(mem_b), NB * PS);
	uint8_t buf[ARGBUF];

	/* MAP / UNMAP: EPERM before argsz, flags or the pointer are looked at. */
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, NULL, EPERM);
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, unmapped_ptr(), EPERM);
	m.argsz = 0;
	m.flags = 0xff;
	ioc_err(cfd, VFIO_IOMMU_MAP_DMA, &m, EPERM);
	ioc_err(cfd, VFIO_IOMMU_UNMAP_DMA, NULL, EPERM);
	um.argsz = 0;
	ioc_err(cfd, VFIO_IOMMU_UNMAP_DMA, &um, EPERM);
	/* UNREGISTER: EPERM before any argument check. */
	ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, NULL, EPERM);
	ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &reg, EPERM);
	reg.argsz = 0;
	ioc_err(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &reg, EPERM);
	/* GET_INFO neither binds nor needs anything. */
	run_in_child(child_unbound_ok, &cfd);
	ck_assert_int_eq(ioc_buf_rc(cfd, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &(uint32_t){ 32 }, 4, buf), 0);
	/* Still unbound: a forked child may use it (and binds only its own copy). */
	run_in_child(child_unbound_ok, &cfd);
}
END_TEST

/* ================================================================ EBADF */

START_TEST(ebadf_for_foreign_fds)
{
	int p[2], closed;
	struct vfio_group_status st = { .argsz = sizeof(st) };

	ck_assert_int_eq(pipe(p), 0);
	closed = spapr_open_container();
	ck_assert_int_ge(closed, 0);
	ck_assert_int_eq(spapr_close(closed), 0);
	ioc_err(-1, VFIO_GET_API_VERSION, NULL, EBADF);
	ioc_err(-1, VFIO_IOMMU_MAP_DMA, NULL, EBADF);
	ioc_err(p[0], VFIO_GET_API_VERSION, NULL, EBADF);
	ioc_err(p[1], VFIO_GROUP_GET_STATUS, &st, EBADF);
	ioc_err(STDIN_FILENO, VFIO_CHECK_EXTENSION, NULL, EBADF);
	ioc_err(closed, VFIO_GET_API_VERSION, NULL, EBADF);
	ioc_err(100000, VFIO_GET_API_VERSION, NULL, EBADF);
	errno = 0;
	ck_assert_int_eq(spapr_close(p[0]), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(spapr_close(closed), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(spapr_close(-1), -1);
	ck_assert_int_eq(errno, EBADF);
	/* The pipe is still the caller's. */
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	close(p[0]);
	close(p[1]);
}
END_TEST

/*
 * SET_CONTAINER's argument is an fd (vfio_group_ioctl_set_container):
 * EFAULT, then EBADF for a closed fd (before "already set"), EINVAL for a
 * group already set, EBADFD for an open fd that is not a container.
 */
START_TEST(set_container_bad_args)
{
	int g1 = spapr_open_group(1), bad = -1, closed = 100000;

	ck_assert_int_ge(g1, 0);
	ioc_err(g1, VFIO_GROUP_SET_CONTAINER, NULL, EFAULT);
	ioc_err(g1, VFIO_GROUP_SET_CONTAINER, unmapped_ptr(), EFAULT);
	ioc_err(g1, VFIO_GROUP_SET_CONTAINER, &bad, EBADF);
	ioc_err(g1, VFIO_GROUP_SET_CONTAINER, &closed, EBADF);
	ioc_err(g1, VFIO_GROUP_SET_CONTAINER, &gfd, EBADFD);
	ioc_err(gfd, VFIO_GROUP_SET_CONTAINER, &cfd, EINVAL);	/* already set */
	ioc_err(gfd, VFIO_GROUP_SET_CONTAINER, &closed, EBADF);	/* closed: before "already set" */
	ioc_err(gfd, VFIO_GROUP_SET_CONTAINER, &g1, EINVAL);	/* already set: before "not a container" */
	ioc_err(g1, VFIO_GROUP_UNSET_CONTAINER, NULL, EINVAL);	/* not set */
	ck_assert_int_eq(spapr_close(g1), 0);
}
END_TEST

/* ================================================================ suite */

static Suite *abi_suite(void)
{
	Suite *s = suite_create("spapr_abi");
	TCase *tc;

	tc = tcase_create("argsz");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, argsz_get_info);
	tcase_add_test(tc, argsz_map);
	tcase_add_test(tc, argsz_unmap);
	tcase_add_test(tc, argsz_register);
	tcase_add_test(tc, argsz_unregister);
	tcase_add_test(tc, argsz_tce_create);
	tcase_add_test(tc, argsz_tce_remove);
	tcase_add_test(tc, argsz_group_status);
	suite_add_tcase(s, tc);

	tc = tcase_create("flags");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, flags_get_info);
	tcase_add_test(tc, flags_map);
	tcase_add_test(tc, flags_must_be_zero);
	tcase_add_test(tc, flags_group_status);
	suite_add_tcase(s, tc);

	tc = tcase_create("ranges");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, register_bad_ranges);
	tcase_add_test(tc, unregister_bad_ranges);
	tcase_add_test(tc, unregister_size0_and_wrap_are_enoent);
	tcase_add_test(tc, map_bad_addresses);
	tcase_add_test(tc, map_failing_midway_clears_its_prefix);
	tcase_add_test(tc, map_64k_window_alignment);
	tcase_add_test(tc, unmap_bad_addresses);
	tcase_add_test(tc, tce_create_bad_geometry);
	tcase_add_test(tc, tce_remove_bad_addresses);
	suite_add_tcase(s, tc);

	tc = tcase_create("efault");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, efault_every_request);
	tcase_add_test(tc, efault_window_requests);
	tcase_add_test(tc, efault_on_copy_out);
	suite_add_tcase(s, tc);

	tc = tcase_create("enotty");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unknown_requests_enotty);
	tcase_add_test(tc, no_driver_requests_einval);
	suite_add_tcase(s, tc);

	tc = tcase_create("v1");
	tcase_add_checked_fixture(tc, setup_mem, teardown);
	tcase_add_test(tc, v1_container_enotty);
	suite_add_tcase(s, tc);

	tc = tcase_create("binding");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, forked_child_gets_eperm);
	suite_add_tcase(s, tc);

	tc = tcase_create("binding_bare");
	tcase_add_checked_fixture(tc, setup_bare, teardown);
	tcase_add_test(tc, failed_register_binds);
	tcase_add_test(tc, failed_tce_create_binds);
	tcase_add_test(tc, failed_tce_remove_binds);
	tcase_add_test(tc, never_bound_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("fds");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ebadf_for_foreign_fds);
	tcase_add_test(tc, set_container_bad_args);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(abi_suite());
}
