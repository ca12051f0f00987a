/* SPDX-License-Identifier: MIT */
/*
 * Races of the container's requests (issue 4, part 2), run under
 * ThreadSanitizer by `make check-race SAN=thread`.
 *
 * map_unmap_vs_unregister (docs/mmreg.md, Q3, Q4): a mapper thread loops
 * MAP + UNMAP of 8 pages that span region R1 (registered for the whole
 * test) and the adjacent region R2, while another thread UNREGISTERs R2 and
 * a device thread DMAs through the range.  Asserted every round:
 *   - each UNREGISTER returns EBUSY or succeeds;
 *   - a MAP either succeeds, and then every page translates to its page's
 *     data, or fails (EINVAL: not registered; ENXIO: R2 was being released,
 *     Q4) with nothing left behind: no page translates, R1.mapped is back
 *     to 1, and no entry of the table points anywhere;
 *   - every MAP that starts after an UNREGISTER returned success fails with
 *     EINVAL;
 *   - once R2 is released, no TCE of the window points into it (read from
 *     the table the way the hardware reads it) and no DMA reaches it;
 *   - the device never hits an unpinned frame (emu's use-after-unpin
 *     fault count stays 0).
 *
 * map_vs_tce_remove: the mapper loops MAP + UNMAP into a 64-bit window
 * while another thread removes the window.  Every MAP succeeds or fails
 * with ENXIO (ENXIO for every MAP that starts after the removal returned),
 * and after each round no mapped count, charge or table block is left: the
 * region's mapped is 1, locked_vm and emu's table blocks are what they were
 * before the window was created, and the region can be unregistered.
 *
 * requests_vs_close (spapr/fd.c's lock-free handle lookup): a second
 * container (group 1, R1 registered) serves two threads, one making plain
 * requests and one making them marked SPAPR__IOCTL_VOUCHED, while the main
 * thread spapr_closes it.  In even rounds the group stays attached and the
 * threads loop MAP + UNMAP of one page each (their own iova): every request
 * succeeds or is EBADF, and is EBADF when it started after the close
 * returned; the group's close then releases everything.  In odd rounds the
 * group is closed first, so the container's handle holds its last
 * reference, and the threads loop CHECK_EXTENSION: 1 or EBADF, the same
 * way; the object goes with whichever reference is put last (the close or
 * a request in flight).  After each round locked_vm and the registry are
 * back to what they were.
 *
 * All end with every counter at zero after close: locked_vm 0, nothing
 * pinned, no table memory (tu_assert_emu_clean).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/emu.h"
#include "emu/mem.h"
#include "mmreg/mmreg.h"
#include "spapr/spapr.h"
#include "spapr/vouched.h"
#include "tests/testutil.h"

#define PS EMU_PAGE_SIZE
#define GROUP 0
#define HALF 4			/* pages of R1, and of R2 */
#define NPAGES (2 * HALF)
#define IOVA 0x100000ull	/* in the default window */
#define SLOT1 (1ull << 59)
#define ROUNDS 600		/* of each race; about 4 s under ThreadSanitizer */
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

static int cfd = -1, gfd = -1;
static uint8_t *mem;		/* [pad][R1: HALF][R2: HALF][pad] */
static uint8_t *r1, *r2;

static uint64_t u(const void *p)
{
	return (uintptr_t)p;
}

/* ------------------------------------------------------------- helpers */

static int map_rc(uint64_t vaddr, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = RW, .vaddr = vaddr, .iova = iova, .size = size,
	};

	return spapr_ioctl(cfd, VFIO_IOMMU_MAP_DMA, &m);
}

static int unmap_rc(uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap m = { .argsz = sizeof(m), .iova = iova, .size = size };

	return spapr_ioctl(cfd, VFIO_IOMMU_UNMAP_DMA, &m);
}

static int reg_rc(unsigned long req, const void *p, uint64_t npages)
{
	struct vfio_iommu_spapr_register_memory r = {
		.argsz = sizeof(r), .vaddr = u(p), .size = npages * PS,
	};

	return spapr_ioctl(cfd, req, &r);
}

static void register_ok(const void *p, uint64_t npages)
{
	ck_assert_msg(reg_rc(VFIO_IOMMU_SPAPR_REGISTER_MEMORY, p, npages) == 0, "REGISTER: %s",
		      tu_errname(errno));
}

static void unregister_ok(const void *p, uint64_t npages)
{
	ck_assert_msg(reg_rc(VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, p, npages) == 0, "UNREGISTER: %s",
		      tu_errname(errno));
}

static uint64_t create_ok(void)
{
	struct vfio_iommu_spapr_tce_create c = {
		.argsz = sizeof(c), .page_shift = 12, .window_size = 1ull << 32, .levels = 2,
	};

	ck_assert_msg(spapr_ioctl(cfd, VFIO_IOMMU_SPAPR_TCE_CREATE, &c) == 0, "TCE_CREATE: %s",
		      tu_errname(errno));
	return c.start_addr;
}

static int remove_rc(uint64_t start)
{
	struct vfio_iommu_spapr_tce_remove r = { .argsz = sizeof(r), .start_addr = start };

	return spapr_ioctl(cfd, VFIO_IOMMU_SPAPR_TCE_REMOVE, &r);
}

/* mapped of the region registered as exactly (p, npages); 0 when there is none. */
static uint64_t region_mapped(const void *p, uint64_t npages)
{
	struct mmreg_mm *mm;
	struct mmreg_region *r;
	uint64_t v;

	TU_OK(mmreg_mm_current(&mm));
	mmreg_read_lock();
	r = mmreg_region_find(mm, u(p), npages);
	v = r ? mmreg_region_mapped(r) : 0;
	mmreg_read_unlock();
	mmreg_mm_put(mm);
	return v;
}

/*
 * The hardware entry of bus address @iova in window @slot, read from the
 * table memory the window register points at, as the host bridge reads it
 * (no TCE cache).  Handles multi-level tables.  0 when absent.
 */
static uint64_t hw_tce(unsigned slot, uint64_t iova)
{
	struct emu_window w;
	uint64_t idx, hpa, shift, v = 0;

	if (emu_phb_get_window(GROUP, slot, &w))
		return 0;
	idx = (iova - w.bus_offset) >> w.page_shift;
	hpa = w.table_hpa;
	shift = (uint64_t)__builtin_ctzll(w.level_size);
	for (unsigned l = 0; l < w.levels; l++) {
		uint64_t k = (idx >> (shift * (w.levels - 1 - l))) & (w.level_size - 1);
		uint64_t *e = emu_mem_table_hva(hpa + k * 8, 8);

		if (!e)
			return 0;
		v = be64toh(__atomic_load_n(e, __ATOMIC_ACQUIRE));
		if (!v)
			return 0;
		hpa = v & ~(uint64_t)0xfff;
	}
	return v;
}

/* True when the valid entry of @iova translates into user memory [lo, hi). */
static bool tce_points_into(unsigned slot, uint64_t iova, uint64_t lo, uint64_t hi)
{
	uint64_t v = hw_tce(slot, iova), ua;

	if (!(v & (EMU_TCE_READ | EMU_TCE_WRITE)))
		return false;
	return emu_mem_hpa_to_ua(v & ~(uint64_t)0xfff, &ua) && ua >= lo && ua < hi;
}

static uint64_t unpinned_faults(void)
{
	struct emu_group_stats st;

	TU_OK(emu_group_get_stats(GROUP, &st));
	return st.faults[EMU_FAULT_UNPINNED];
}

/* ------------------------------------------------------------- fixture */

static void setup(void)
{
	emu_machine_set_abort_on_unpinned(false);
	TU_OK(spapr_mm_set_memlock(1ull << 30, 0));
	mem = tu_map(NPAGES + 2);
	r1 = mem + PS;
	r2 = r1 + HALF * PS;
	for (unsigned k = 0; k < NPAGES; k++)
		memset(r1 + k * PS, 0x40 + (int)k, PS);
	cfd = spapr_open_container();
	ck_assert_int_ge(cfd, 0);
	gfd = spapr_open_group(GROUP);
	ck_assert_int_ge(gfd, 0);
	ck_assert_int_eq(spapr_ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &cfd), 0);
	ck_assert_int_eq(spapr_ioctl(cfd, VFIO_SET_IOMMU, (unsigned long)VFIO_SPAPR_TCE_v2_IOMMU), 0);
}

static void teardown(void)
{
	ck_assert_int_eq(spapr_close(gfd), 0);
	ck_assert_int_eq(spapr_close(cfd), 0);
	cfd = gfd = -1;
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	ck_assert_uint_eq(unpinned_faults(), 0);
	TU_OK(emu_machine_check());
	tu_assert_emu_clean();
	tu_unmap(mem, NPAGES + 2);
}

/* ============================================ MAP/UNMAP vs UNREGISTER */

struct round {
	pthread_barrier_t start;
	int released;		/* atomic: an UNREGISTER of R2 returned 0 */
	int done;		/* atomic: the mapper finished */
	unsigned maps_ok, maps_einval, maps_enxio, unreg_busy;
	unsigned dma_ok, dma_fault;	/* atomic: two device threads */
};

/* Every page of [IOVA, IOVA + NPAGES) reads back its own data. */
static void assert_all_translate(void)
{
	uint8_t buf[NPAGES];

	for (unsigned k = 0; k < NPAGES; k++) {
		TU_OK(emu_dma_read(GROUP, IOVA + k * PS + 7, &buf[k], 1));
		ck_assert_uint_eq(buf[k], 0x40 + k);
	}
}

/* Nothing of a failed MAP is left: no page translates, no entry is set. */
static void assert_nothing_left(void)
{
	uint8_t b;

	for (unsigned k = 0; k < NPAGES; k++) {
		TU_ERR(emu_dma_read(GROUP, IOVA + k * PS, &b, 1), EFAULT);
		ck_assert_uint_eq(hw_tce(0, IOVA + k * PS), 0);
	}
	ck_assert_uint_eq(region_mapped(r1, HALF), 1);
}

static void *mapper(void *arg)
{
	struct round *rd = arg;

	pthread_barrier_wait(&rd->start);
	for (;;) {
		int rel = __atomic_load_n(&rd->released, __ATOMIC_SEQ_CST);
		int rc = map_rc(u(r1), IOVA, NPAGES * PS), e = errno;

		if (!rc) {
			ck_assert_msg(!rel, "MAP succeeded after R2 was released");
			rd->maps_ok++;
			assert_all_translate();
			/* Holding TCEs into R2: it cannot have been released meanwhile. */
			ck_assert_uint_ge(region_mapped(r2, HALF), 1 + HALF);
			ck_assert_int_eq(unmap_rc(IOVA, NPAGES * PS), 0);
			continue;
		}
		ck_assert_msg(e == EINVAL || e == ENXIO, "MAP: %s", tu_errname(e));
		ck_assert_msg(!rel || e == EINVAL, "MAP after the release: %s", tu_errname(e));
		if (e == EINVAL)
			rd->maps_einval++;
		else
			rd->maps_enxio++;
		assert_nothing_left();
		if (rel)
			break;
	}
	__atomic_store_n(&rd->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void *unregisterer(void *arg)
{
	struct round *rd = arg;

	pthread_barrier_wait(&rd->start);
	for (;;) {
		int rc = reg_rc(VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, r2, HALF), e = errno;

		if (!rc)
			break;
		ck_assert_msg(e == EBUSY, "UNREGISTER: %s", tu_errname(e));
		rd->unreg_busy++;
	}
	__atomic_store_n(&rd->released, 1, __ATOMIC_SEQ_CST);
	/* Released: no entry points into R2, and it stays so while the mapper keeps trying. */
	for (unsigned n = 0; n < 4; n++) {
		for (unsigned k = 0; k < NPAGES; k++)
			ck_assert_msg(!tce_points_into(0, IOVA + k * PS, u(r2), u(r2) + HALF * PS),
				      "a TCE points into the released region");
		sched_yield();
	}
	return NULL;
}

/*
 * Drains group 0's fault log (it drops new faults when full, so it is read
 * after every faulting DMA) and fails on a use-after-unpin: a device
 * reached a frame that is no longer pinned through a TCE that was still
 * valid in the table or in its TCE cache.
 */
static void drain_faults(const struct round *rd)
{
	struct emu_fault f[64];
	unsigned n;

	do {
		TU_OK(emu_fault_log_read(GROUP, f, 64, &n));
		for (unsigned i = 0; i < n; i++)
			ck_assert_msg(f[i].reason != EMU_FAULT_UNPINNED,
				      "use-after-unpin: a DMA at %#llx used TCE %#llx (R2 %s)",
				      (unsigned long long)f[i].iova, (unsigned long long)f[i].tce,
				      __atomic_load_n(&rd->released, __ATOMIC_SEQ_CST) ?
					      "released" : "not yet released");
	} while (n == 64);
}

static void *device(void *arg)
{
	struct round *rd = arg;
	uint8_t buf[NPAGES * 8];

	pthread_barrier_wait(&rd->start);
	while (!__atomic_load_n(&rd->done, __ATOMIC_SEQ_CST)) {
		int rel = __atomic_load_n(&rd->released, __ATOMIC_SEQ_CST);
		int rc;

		/* R2's half: after the release, never served. */
		rc = emu_dma_read(GROUP, IOVA + HALF * PS, buf, 8);
		ck_assert_msg(rc == 0 || rc == -EFAULT, "DMA: %s", tu_errname(rc));
		ck_assert_msg(!rel || rc == -EFAULT, "DMA into R2 served after its release");
		if (!rc)
			ck_assert_uint_eq(buf[0], 0x40 + HALF);
		else
			drain_faults(rd);
		/* Across both halves, page by page. */
		for (unsigned k = 0; k < NPAGES; k++) {
			rc = emu_dma_read(GROUP, IOVA + k * PS, &buf[k], 1);
			ck_assert_msg(rc == 0 || rc == -EFAULT, "DMA: %s", tu_errname(rc));
			if (!rc) {
				ck_assert_uint_eq(buf[k], 0x40 + k);
				__atomic_add_fetch(&rd->dma_ok, 1, __ATOMIC_RELAXED);
			} else {
				__atomic_add_fetch(&rd->dma_fault, 1, __ATOMIC_RELAXED);
				drain_faults(rd);
			}
		}
	}
	return NULL;
}

START_TEST(map_unmap_vs_unregister)
{
	unsigned ok = 0, einval = 0, enxio = 0, busy = 0;

	if (tu_fixed_only("map_unmap_vs_unregister", "Q3",
			  "the race asserts that UNREGISTER waits for R2's mappings; the kernel's "
			  "answers 0 at once and orphans R2 (Q3), and its MAP keeps a partial map (Q4): "
			  "check_quirks asserts both"))
		return;
	register_ok(r1, HALF);
	for (unsigned round = 0; round < ROUNDS; round++) {
		struct round rd = { 0 };
		pthread_t t[4];

		register_ok(r2, HALF);
		ck_assert_uint_eq(spapr_mm_locked_vm() >= NPAGES, 1);
		pthread_barrier_init(&rd.start, NULL, 4);
		ck_assert_int_eq(pthread_create(&t[0], NULL, mapper, &rd), 0);
		ck_assert_int_eq(pthread_create(&t[1], NULL, unregisterer, &rd), 0);
		ck_assert_int_eq(pthread_create(&t[2], NULL, device, &rd), 0);
		ck_assert_int_eq(pthread_create(&t[3], NULL, device, &rd), 0);
		for (unsigned i = 0; i < 4; i++)
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		pthread_barrier_destroy(&rd.start);
		/* R2 is gone: unpinned, not in the registry, not in any TCE. */
		ck_assert_uint_eq(region_mapped(r2, HALF), 0);
		for (unsigned k = 0; k < HALF; k++)
			ck_assert_uint_eq(emu_mem_ua_pins(u(r2) + k * PS), 0);
		for (unsigned k = 0; k < NPAGES; k++)
			ck_assert_uint_eq(hw_tce(0, IOVA + k * PS), 0);
		ck_assert_uint_eq(region_mapped(r1, HALF), 1);
		ck_assert_uint_eq(unpinned_faults(), 0);
		ok += rd.maps_ok;
		einval += rd.maps_einval;
		enxio += rd.maps_enxio;
		busy += rd.unreg_busy;
	}
	/* Once more by hand: a MAP of the released range fails EINVAL. */
	ck_assert_int_eq(map_rc(u(r1), IOVA, NPAGES * PS), -1);
	ck_assert_int_eq(errno, EINVAL);
	assert_nothing_left();
	unregister_ok(r1, HALF);
	fprintf(stderr, "map_unmap_vs_unregister: %u rounds: %u MAPs ok, %u EINVAL, %u ENXIO; %u UNREGISTER EBUSY\n",
		ROUNDS, ok, einval, enxio, busy);
}
END_TEST

/* ================================================ MAP vs TCE_REMOVE */

struct wround {
	pthread_barrier_t start;
	uint64_t w;		/* the window's start */
	int removed;		/* atomic: TCE_REMOVE returned */
	int done;		/* atomic */
	unsigned delay;
	unsigned maps_ok, maps_enxio, unmaps_enxio;
};

static void *wmapper(void *arg)
{
	struct wround *rd = arg;
	uint8_t b;

	pthread_barrier_wait(&rd->start);
	for (;;) {
		int rel = __atomic_load_n(&rd->removed, __ATOMIC_SEQ_CST);
		int rc = map_rc(u(r1), rd->w + 0x10000, NPAGES * PS), e = errno;

		if (!rc) {
			ck_assert_msg(!rel, "MAP into a removed window succeeded");
			rd->maps_ok++;
			/* The window may be going away right now: a device sees the data or nothing. */
			rc = emu_dma_read(GROUP, rd->w + 0x10000 + 3 * PS, &b, 1);
			ck_assert_msg(rc == 0 || rc == -EFAULT, "DMA: %s", tu_errname(rc));
			if (!rc)
				ck_assert_uint_eq(b, 0x43);
		} else {
			ck_assert_msg(e == ENXIO, "MAP: %s", tu_errname(e));
			rd->maps_enxio++;
		}
		rc = unmap_rc(rd->w + 0x10000, NPAGES * PS);
		e = errno;
		ck_assert_msg(!rc || e == ENXIO, "UNMAP: %s", tu_errname(e));
		ck_assert_msg(!rel || rc == -1, "UNMAP of a removed window succeeded");
		if (rc)
			rd->unmaps_enxio++;
		if (rel)
			break;
	}
	__atomic_store_n(&rd->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void *remover(void *arg)
{
	struct wround *rd = arg;
	volatile unsigned spin = 0;

	pthread_barrier_wait(&rd->start);
	while (spin < rd->delay)
		spin++;
	ck_assert_int_eq(remove_rc(rd->w), 0);
	__atomic_store_n(&rd->removed, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

START_TEST(map_vs_tce_remove)
{
	struct emu_mem_stats st;
	uint64_t base_locked, base_blocks;
	unsigned ok = 0, enxio = 0;

	register_ok(r1, NPAGES);
	/* The first TCE_CREATE also materialises the default window: do it once before measuring. */
	ck_assert_uint_eq(create_ok(), SLOT1);
	ck_assert_int_eq(remove_rc(SLOT1), 0);
	base_locked = spapr_mm_locked_vm();
	emu_mem_get_stats(&st);
	base_blocks = st.table_blocks;
	for (unsigned round = 0; round < ROUNDS; round++) {
		struct wround rd = { .delay = (round * 7919u) % 20000u };
		pthread_t t[2];

		rd.w = create_ok();
		ck_assert_uint_eq(rd.w, SLOT1);
		pthread_barrier_init(&rd.start, NULL, 2);
		ck_assert_int_eq(pthread_create(&t[0], NULL, wmapper, &rd), 0);
		ck_assert_int_eq(pthread_create(&t[1], NULL, remover, &rd), 0);
		for (unsigned i = 0; i < 2; i++)
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		pthread_barrier_destroy(&rd.start);
		/* No mapped count, charge or table block survives the window. */
		ck_assert_uint_eq(region_mapped(r1, NPAGES), 1);
		ck_assert_uint_eq(spapr_mm_locked_vm(), base_locked);
		emu_mem_get_stats(&st);
		ck_assert_uint_eq(st.table_blocks, base_blocks);
		ok += rd.maps_ok;
		enxio += rd.maps_enxio;
	}
	ck_assert_uint_eq(unpinned_faults(), 0);
	/* The region holds no stray count: it can go. */
	unregister_ok(r1, NPAGES);
	ck_assert_uint_eq(spapr_mm_locked_vm(), base_locked - NPAGES);
	fprintf(stderr, "map_vs_tce_remove: %u rounds: %u MAPs ok, %u ENXIO\n", ROUNDS, ok, enxio);
}
END_TEST

/* ================================================ requests vs close */

#define CLOSE_ROUNDS 300

struct cround {
	pthread_barrier_t start;
	int fd;
	int mapping;		/* even rounds: MAP + UNMAP, else CHECK_EXTENSION */
	int closed;		/* atomic: spapr_close returned */
	unsigned ok[2], ebadf[2];
};

struct cthread {
	struct cround *rd;
	unsigned id;		/* 0: plain, 1: vouched */
};

static int close_round_request(const struct cround *rd, unsigned id)
{
	unsigned long mark = id ? SPAPR__IOCTL_VOUCHED(0) : 0;
	uint64_t iova = IOVA + id * PS;

	if (!rd->mapping)
		return spapr_ioctl(rd->fd, mark | VFIO_CHECK_EXTENSION, (unsigned long)VFIO_SPAPR_TCE_v2_IOMMU);
	{
		struct vfio_iommu_type1_dma_map m = {
			.argsz = sizeof(m), .flags = RW, .vaddr = u(r1 + id * PS), .iova = iova, .size = PS,
		};
		struct vfio_iommu_type1_dma_unmap um = { .argsz = sizeof(um), .iova = iova, .size = PS };
		int rc = spapr_ioctl(rd->fd, mark | VFIO_IOMMU_MAP_DMA, &m);

		if (rc)
			return rc;
		return spapr_ioctl(rd->fd, mark | VFIO_IOMMU_UNMAP_DMA, &um);
	}
}

static void *close_requester(void *arg)
{
	struct cthread *t = arg;
	struct cround *rd = t->rd;
	int want = rd->mapping ? 0 : 1;

	pthread_barrier_wait(&rd->start);
	for (;;) {
		int closed = __atomic_load_n(&rd->closed, __ATOMIC_SEQ_CST);
		int rc = close_round_request(rd, t->id);

		if (rc == want && !closed) {
			rd->ok[t->id]++;
			continue;
		}
		ck_assert_msg(rc == -1 && errno == EBADF, "round request %u: %d (%s), closed %d", t->id, rc,
			      tu_errname(errno), closed);
		rd->ebadf[t->id]++;
		break;
	}
	return NULL;
}

START_TEST(requests_vs_close)
{
	uint64_t base_locked = spapr_mm_locked_vm();
	unsigned ok = 0, early = 0;

	for (unsigned round = 0; round < CLOSE_ROUNDS; round++) {
		struct cround rd = { .mapping = !(round & 1) };
		struct cthread th[2] = { { &rd, 0 }, { &rd, 1 } };
		volatile unsigned spin = 0;
		pthread_t t[2];
		int g;

		rd.fd = spapr_open_container();
		ck_assert_int_ge(rd.fd, 0);
		g = spapr_open_group(1);
		ck_assert_int_ge(g, 0);
		ck_assert_int_eq(spapr_ioctl(g, VFIO_GROUP_SET_CONTAINER, &rd.fd), 0);
		ck_assert_int_eq(spapr_ioctl(rd.fd, VFIO_SET_IOMMU, (unsigned long)VFIO_SPAPR_TCE_v2_IOMMU), 0);
		if (rd.mapping) {
			struct vfio_iommu_spapr_register_memory r = {
				.argsz = sizeof(r), .vaddr = u(r1), .size = HALF * PS,
			};

			ck_assert_int_eq(spapr_ioctl(rd.fd, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r), 0);
			ck_assert_int_eq(close_round_request(&rd, 0), 0);	/* the default window, before the race */
		} else {
			ck_assert_int_eq(spapr_close(g), 0);	/* the handle holds the last reference */
		}
		pthread_barrier_init(&rd.start, NULL, 3);
		for (unsigned i = 0; i < 2; i++)
			ck_assert_int_eq(pthread_create(&t[i], NULL, close_requester, &th[i]), 0);
		pthread_barrier_wait(&rd.start);
		while (spin < (round * 7919u) % 20000u)
			spin++;
		ck_assert_int_eq(spapr_close(rd.fd), 0);
		__atomic_store_n(&rd.closed, 1, __ATOMIC_SEQ_CST);
		for (unsigned i = 0; i < 2; i++)
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		pthread_barrier_destroy(&rd.start);
		for (unsigned i = 0; i < 2; i++) {
			ck_assert_uint_eq(rd.ebadf[i], 1);
			ok += rd.ok[i];
			early += !rd.ok[i];
		}
		if (rd.mapping) {
			ck_assert_uint_gt(spapr_mm_locked_vm(), base_locked);	/* the group holds the container */
			ck_assert_int_eq(spapr_close(g), 0);
		}
		ck_assert_uint_eq(spapr_mm_locked_vm(), base_locked);
		ck_assert_uint_eq(region_mapped(r1, HALF), 0);	/* no region left in the mm */
	}
	ck_assert_uint_eq(unpinned_faults(), 0);
	fprintf(stderr, "requests_vs_close: %u rounds: %u requests served, %u threads closed out at once\n",
		CLOSE_ROUNDS, ok, early);
}
END_TEST

/* ================================================================ suite */

static Suite *race_suite(void)
{
	Suite *s = suite_create("spapr_race");
	TCase *tc = tcase_create("races");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, map_unmap_vs_unregister);
	tcase_add_test(tc, map_vs_tce_remove);
	tcase_add_test(tc, requests_vs_close);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(race_suite());
}
