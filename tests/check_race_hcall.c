/* SPDX-License-Identifier: MIT */
/*
 * Races of the guest hypercall path (also run under ThreadSanitizer by
 * make check-race SAN=thread):
 *
 *   - a guest thread rewriting one TCE of the list (valid <-> untranslatable)
 *     during H_PUT_TCE_INDIRECT: every call either applies the whole list
 *     with the valid value or fails with nothing changed (the kernel's
 *     second read of the list could apply a TCE that pass 1 never saw, or
 *     stop half-way);
 *   - a guest thread flipping the whole list between two valid lists: every
 *     applied entry is the value of one of them, and hardware, shadow and
 *     guest-visible table agree entry by entry (one copy, one validation);
 *   - hypercalls on two LIOBNs sharing a window, concurrent with MAP/UNMAP
 *     on the same window;
 *   - hypercalls concurrent with detach, TCE_REMOVE, TCE_CREATE and attach
 *     of their window;
 *   - hypercalls concurrent with the release of their window's container
 *     (its last group leaving) while a guest table holds the window: under
 *     quirks=kernel they write it through the released driver instance
 *     (Q15), which the attachment keeps alive;
 *   - two threads putting different lists over the same entries of one
 *     LIOBN, with an attached window and without any, each looking after
 *     every call under the guest lock for writing (no hypercall inside):
 *     the entries are always all from one list, hardware, shadow and
 *     guest-visible agreeing.  One hypercall at a time per table comes from
 *     the window's write_lock in the first case and from the table's own
 *     lock in the second.
 *
 * Fixture as check_hcall.c: container C, group 0, RAM registered, guest V
 * with memslot 0 over RAM and L32 over the default window.
 */
#include <endian.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu/emu.h"
#include "emu/mem.h"
#include "mmreg/mmreg.h"
#include "spapr/spapr.h"
#include "spapr/guest_priv.h"
#include "tests/testutil.h"
#include "tests/vfio_util.h"

#define PS EMU_PAGE_SIZE
#define W64 (1ull << 59)
#define RAM_PAGES 2048ull
#define RAM_SIZE (RAM_PAGES * PS)
#define L32 0x10ull
#define L2 0x11ull
#define L64 0x20ull
#define DEF_ENTRIES ((2ull << 30) >> 12)
#define RW (TCE_PCI_READ | TCE_PCI_WRITE)
#define N SPAPR_TCE_LIST_MAX
#define LIST_GPA 0x700000ull

#ifdef __SANITIZE_THREAD__
#define ITERS 150
#else
#define ITERS 600
#endif

static int C, G;
static uint8_t *RAM;
static struct spapr_guest *V;
static volatile int stop;

#define E(call) ((call) ? -errno : 0)

static uint64_t mapped(void)
{
	return mmreg_region_mapped(tu_region_of(RAM));
}

static struct tce_table *table_of(int c, unsigned slot)
{
	struct spapr_obj *obj = spapr__fd_get(c);
	struct spapr_container *ct = (struct spapr_container *)obj;
	struct tce_table *t = NULL;

	if (ct->tc && ct->tc->windows[slot])
		t = ct->tc->windows[slot]->table;
	spapr__obj_put(obj);
	return t;
}

static uint64_t hw(uint64_t entry, uint64_t *ua)
{
	uint64_t hpa = 0;
	enum tce_dir dir = TCE_DIR_NONE;

	TU_OK(tce_table_read(table_of(C, 0), entry, &hpa, &dir));
	TU_OK(tce_table_shadow_read(table_of(C, 0), entry, ua));
	return hpa | (uint64_t)dir;
}

static uint64_t get(uint64_t liobn, uint64_t ioba)
{
	uint64_t tce = 0xdead;

	ck_assert_int_eq(spapr_h_get_tce(V, liobn, ioba, &tce), H_SUCCESS);
	return tce;
}

static uint64_t *list_slot(unsigned i)
{
	return (uint64_t *)(RAM + LIST_GPA) + i;
}

static void list_set(unsigned i, uint64_t tce)
{
	__atomic_store_n(list_slot(i), htobe64(tce), __ATOMIC_RELAXED);
}

static void setup(void)
{
	struct vfio_iommu_spapr_register_memory r = { sizeof(r), 0, 0, RAM_SIZE };
	int c = spapr_open_container();

	TU_OK(spapr_mm_set_memlock(16ull << 30, 0));
	G = spapr_open_group(0);
	ck_assert_int_ge(G, 0);
	TU_OK(tu_ioctl(G, VFIO_GROUP_SET_CONTAINER, &c));
	TU_OK(tu_ioctl(c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_v2_IOMMU));
	C = c;
	RAM = tu_map_aligned(RAM_PAGES, 16);
	r.vaddr = (uintptr_t)RAM;
	TU_OK(tu_ioctl(C, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r));
	TU_OK(E(spapr_guest_create(&V)));
	TU_OK(E(spapr_guest_set_memslot(V, 0, 0, RAM_SIZE, RAM)));
	TU_OK(E(spapr_guest_create_tce_table(V, L32, 12, 0, DEF_ENTRIES)));
	TU_OK(tu_unmap_dma(C, 0, 0));	/* the default window exists before an attachment (E9) */
	TU_OK(E(spapr_guest_attach_group(V, L32, G)));
	stop = 0;
}

static void teardown(void)
{
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

/* ------------------------------------------- one TCE toggles validity */

/* One byte apart (0x30 / 0x70 in the gpa): a copy can never see a torn mix of the two. */
#define GOOD (0x300000ull | RW)
#define BAD ((RAM_SIZE + 0x300000ull) | RW)

static void *toggle_one(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		list_set(N / 2, BAD);
		list_set(N / 2, GOOD);
	}
	return NULL;
}

START_TEST(t_list_entry_toggles)
{
	unsigned ok = 0, refused = 0;
	pthread_t th;
	uint64_t ua;

	for (unsigned i = 0; i < N; i++)
		list_set(i, (0x100000 + i * PS) | RW);
	list_set(N / 2, GOOD);
	ck_assert_int_eq(pthread_create(&th, NULL, toggle_one, NULL), 0);
	for (int it = 0; it < ITERS; it++) {
		long h = spapr_h_put_tce_indirect(V, L32, 0, LIST_GPA, N);

		ck_assert_msg(h == H_SUCCESS || h == H_TOO_HARD, "h %ld", h);
		for (unsigned i = 0; i < N; i++) {
			uint64_t off = i == N / 2 ? 0x300000 : 0x100000 + i * PS;
			uint64_t g = get(L32, i * PS), e = hw(i, &ua);

			if (h == H_SUCCESS) {
				ck_assert_uint_eq(g, off | RW);
				ck_assert_uint_eq(e, emu_mem_ua_to_hpa((uintptr_t)RAM + off, 12) | 3);
				ck_assert_uint_eq(ua, (uintptr_t)RAM + off);
			} else {
				ck_assert_uint_eq(g, 0);
				ck_assert_uint_eq(e, 0);
			}
		}
		ck_assert_uint_eq(mapped(), h == H_SUCCESS ? 1 + N : 1);
		if (h == H_SUCCESS)
			ok++;
		else
			refused++;
		ck_assert_int_eq(spapr_h_stuff_tce(V, L32, 0, 0, N), H_SUCCESS);
		ck_assert_uint_eq(mapped(), 1);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	printf("list entry toggling: %u applied whole, %u refused whole\n", ok, refused);
}
END_TEST

/* -------------------------------------- the whole list flips between two */

static uint64_t l1(unsigned i)
{
	return (0x100000ull + i * PS) | RW;
}

/* One byte apart from l1 in every entry (0x1x.. / 0x3x.. pages). */
static uint64_t l2(unsigned i)
{
	return (0x300000ull + i * PS) | RW;
}

static void *flip_all(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		for (unsigned i = 0; i < N; i++)
			list_set(i, l2(i));
		for (unsigned i = 0; i < N; i++)
			list_set(i, l1(i));
	}
	return NULL;
}

START_TEST(t_list_flips)
{
	unsigned mixed = 0;
	pthread_t th;
	uint64_t ua;

	for (unsigned i = 0; i < N; i++)
		list_set(i, l1(i));
	ck_assert_int_eq(pthread_create(&th, NULL, flip_all, NULL), 0);
	for (int it = 0; it < ITERS; it++) {
		unsigned n1 = 0;

		ck_assert_int_eq(spapr_h_put_tce_indirect(V, L32, 0, LIST_GPA, N), H_SUCCESS);
		for (unsigned i = 0; i < N; i++) {
			uint64_t g = get(L32, i * PS), e = hw(i, &ua), off = g & ~RW;

			ck_assert_msg(g == l1(i) || g == l2(i), "entry %u: %#llx", i, (unsigned long long)g);
			n1 += g == l1(i);
			ck_assert_uint_eq(e, emu_mem_ua_to_hpa((uintptr_t)RAM + off, 12) | 3);
			ck_assert_uint_eq(ua, (uintptr_t)RAM + off);
		}
		mixed += n1 && n1 != N;
		ck_assert_uint_eq(mapped(), 1 + N);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	printf("list flipping: %u of %d copies caught the writer mid-way (consistent per entry)\n",
	       mixed, ITERS);
	ck_assert_int_eq(spapr_h_stuff_tce(V, L32, 0, 0, N), H_SUCCESS);
	ck_assert_uint_eq(mapped(), 1);
}
END_TEST

/* ---------------------------------- hypercalls against MAP/UNMAP, two LIOBNs */

struct worker {
	uint64_t liobn, first;	/* guest entry */
	uint64_t list_gpa;
};

static void *hcall_worker(void *arg)
{
	struct worker *w = arg;
	uint64_t *l = (uint64_t *)(RAM + w->list_gpa);

	for (unsigned i = 0; i < 64; i++)
		l[i] = htobe64((0x100000 + i * PS) | RW);
	for (int it = 0; it < ITERS; it++) {
		ck_assert_int_eq(spapr_h_put_tce_indirect(V, w->liobn, w->first * PS, w->list_gpa, 64),
				 H_SUCCESS);
		ck_assert_int_eq(spapr_h_put_tce(V, w->liobn, (w->first + 64) * PS, 0x1000 | TCE_PCI_READ),
				 H_SUCCESS);
		ck_assert_int_eq(spapr_h_stuff_tce(V, w->liobn, w->first * PS, 0, 65), H_SUCCESS);
	}
	return NULL;
}

static void *map_worker(void *arg)
{
	(void)arg;
	for (int it = 0; it < ITERS; it++) {
		struct vfio_iommu_type1_dma_map m = { sizeof(m), 3, (uintptr_t)RAM, 0x10000000, 64 * PS };
		struct vfio_iommu_type1_dma_unmap u = { sizeof(u), 0, 0x10000000, 64 * PS };

		ck_assert_int_eq(tu_ioctl(C, VFIO_IOMMU_MAP_DMA, &m), 0);
		ck_assert_int_eq(tu_ioctl(C, VFIO_IOMMU_UNMAP_DMA, &u), 0);
	}
	return NULL;
}

START_TEST(t_hcalls_and_map_share_a_window)
{
	struct worker a = { L32, 1000, 0x600000 }, b = { L2, 5000, 0x601000 };
	pthread_t ta, tb, tm;

	TU_OK(E(spapr_guest_create_tce_table(V, L2, 12, 0, DEF_ENTRIES)));
	TU_OK(E(spapr_guest_attach_group(V, L2, G)));
	ck_assert_int_eq(pthread_create(&ta, NULL, hcall_worker, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, hcall_worker, &b), 0);
	ck_assert_int_eq(pthread_create(&tm, NULL, map_worker, NULL), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_join(tm, NULL);
	ck_assert_uint_eq(mapped(), 1);
	TU_OK(E(spapr_guest_check(V)));
}
END_TEST

/* ----------------------------- hypercalls against the window's lifetime */

/*
 * Under quirks=kernel a put into the removed window (odd rounds) raises the
 * region's count, and the detach that lets the window go before the pair's
 * clear would keep it for good (Q15): the pair and the detach then exclude
 * each other, so that the fixture's teardown finds RAM's count back at 1.
 * In the default mode they race freely.
 */
static pthread_mutex_t lifetime_pair = PTHREAD_MUTEX_INITIALIZER;
static bool lifetime_excl;

static void *lifetime_worker(void *arg)
{
	struct vfio_iommu_spapr_tce_remove rm = { sizeof(rm), 0, W64 };

	(void)arg;
	for (int it = 0; it < ITERS; it++) {
		/* Odd rounds remove the window while it is still attached (it goes dead). */
		if (it & 1)
			TU_OK(tu_ioctl(C, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
		if (lifetime_excl)
			pthread_mutex_lock(&lifetime_pair);
		TU_OK(E(spapr_guest_detach_group(V, L64, G)));
		if (lifetime_excl)
			pthread_mutex_unlock(&lifetime_pair);
		if (!(it & 1))
			TU_OK(tu_ioctl(C, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
		TU_OK(tu_create(C, 12, 1ull << 30, 2, NULL));
		TU_OK(E(spapr_guest_attach_group(V, L64, G)));
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	return NULL;
}

START_TEST(t_hcalls_against_window_lifetime)
{
	pthread_t th;
	unsigned n = 0;

	TU_OK(tu_create(C, 12, 1ull << 30, 2, NULL));
	TU_OK(E(spapr_guest_create_tce_table(V, L64, 12, W64 >> 12, (1ull << 30) >> 12)));
	TU_OK(E(spapr_guest_attach_group(V, L64, G)));
	lifetime_excl = tu_quirks_kernel("Q15");
	ck_assert_int_eq(pthread_create(&th, NULL, lifetime_worker, NULL), 0);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t ioba = W64 + (n % 4096) * PS;

		if (lifetime_excl)
			pthread_mutex_lock(&lifetime_pair);
		ck_assert_int_eq(spapr_h_put_tce(V, L64, ioba, ((n % 256) * PS) | RW), H_SUCCESS);
		ck_assert_int_eq(spapr_h_put_tce(V, L64, ioba, 0), H_SUCCESS);
		if (lifetime_excl)
			pthread_mutex_unlock(&lifetime_pair);
		n++;
	}
	pthread_join(th, NULL);
	ck_assert_uint_eq(mapped(), 1);
	ck_assert_int_eq(spapr_h_put_tce(V, L64, W64, 0x1000 | RW), H_SUCCESS);
	ck_assert_uint_eq(mapped(), 2);
	printf("window lifetime race: %u hypercall pairs\n", n);
}
END_TEST

/* ------------------------- hypercalls against the container's release */

/*
 * A pair of the main thread (a put and its clear) and the worker's clear
 * and detach exclude each other: under quirks=kernel a put into the removed
 * window that its attachment then let go would keep its count for good (Q15),
 * and the fixture's teardown needs RAM's count back at 1.
 */
static pthread_mutex_t release_pair = PTHREAD_MUTEX_INITIALIZER;

static void *release_worker(void *arg)
{
	struct vfio_iommu_spapr_register_memory r = { sizeof(r), 0, (uintptr_t)RAM, RAM_SIZE };

	(void)arg;
	for (int it = 0; it < ITERS / 4; it++) {
		int g2, c2 = tu_open_v2(1, &g2);

		TU_OK(tu_ioctl(c2, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r));	/* RAM: used 2 */
		TU_OK(tu_unmap_dma(c2, 0, 0));				/* the default window */
		TU_OK(E(spapr_guest_attach_group(V, L2, g2)));
		TU_OK(E(spapr_close(c2)));
		TU_OK(tu_ioctl(g2, VFIO_GROUP_UNSET_CONTAINER, NULL));	/* tce_iommu_release */
		pthread_mutex_lock(&release_pair);
		ck_assert_int_eq(spapr_h_stuff_tce(V, L2, 0, 0, 64), H_SUCCESS);
		TU_OK(E(spapr_guest_detach_group(V, L2, g2)));
		pthread_mutex_unlock(&release_pair);
		TU_OK(E(spapr_close(g2)));
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	return NULL;
}

START_TEST(t_hcalls_against_container_release)
{
	pthread_t th;
	unsigned n = 0;

	TU_OK(E(spapr_guest_create_tce_table(V, L2, 12, 0, DEF_ENTRIES)));
	ck_assert_int_eq(pthread_create(&th, NULL, release_worker, NULL), 0);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t ioba = (n % 64) * PS;

		pthread_mutex_lock(&release_pair);
		ck_assert_int_eq(spapr_h_put_tce(V, L2, ioba, ((n % 256) * PS) | RW), H_SUCCESS);
		ck_assert_int_eq(spapr_h_put_tce(V, L2, ioba, 0), H_SUCCESS);
		pthread_mutex_unlock(&release_pair);
		n++;
	}
	pthread_join(th, NULL);
	ck_assert_uint_eq(mapped(), 1);
	ck_assert_uint_eq(mmreg_region_used(tu_region_of(RAM)), 1);
	printf("container release race: %u hypercall pairs\n", n);
}
END_TEST

/* --------------------------------- two writers on one table, a checker */

#define SAME_FIRST 3000ull
#define SAME_N 64u

#define SAME_A 0x100000ull	/* list a: pages from here */
#define SAME_B 0x200000ull

struct same_writer {
	uint64_t liobn, list_gpa, base;	/* the list: pages from base */
	pthread_barrier_t *go;		/* the writers start together */
	unsigned seen[3];		/* snapshots after this writer's calls, by outcome */
};

static int same_snapshot(uint64_t liobn);

static void *same_writer(void *arg)
{
	struct same_writer *w = arg;
	uint64_t *l = (uint64_t *)(RAM + w->list_gpa);

	for (unsigned i = 0; i < SAME_N; i++)
		l[i] = htobe64((w->base + i * PS) | RW);
	pthread_barrier_wait(w->go);
	for (int it = 0; it < ITERS; it++) {
		ck_assert_int_eq(spapr_h_put_tce_indirect(V, w->liobn, SAME_FIRST * PS, w->list_gpa,
							  SAME_N),
				 H_SUCCESS);
		w->seen[same_snapshot(w->liobn)]++;
	}
	return NULL;
}

/*
 * Under the guest lock for writing (no hypercall inside): the entries are
 * empty (0), or all from list a (1), or all from list b (2); then the guest
 * checker (hardware, shadow and guest-visible agree).  Returns which.
 */
static int same_snapshot(uint64_t liobn)
{
	struct spapr_guest_table *t;
	int which = 0;

	util_rwlock_wrlock(&V->lock);
	t = spapr__guest_table_find(V, liobn);
	for (unsigned i = 0; i < SAME_N; i++) {
		uint64_t idx = SAME_FIRST - t->offset + i;
		uint64_t *page = t->pages[idx / SPAPR_GUEST_TCES_PER_PAGE];
		uint64_t v = page ? page[idx % SPAPR_GUEST_TCES_PER_PAGE] : 0, off = (v & ~RW) - i * PS;
		int w = !v ? 0 : off == SAME_A ? 1 : off == SAME_B ? 2 : -1;

		if (!i)
			which = w;
		ck_assert_msg(w == which && w >= 0, "entry %u: %#llx, entry 0 from list %d", i,
			      (unsigned long long)v, which);
	}
	util_rwlock_unlock(&V->lock);
	TU_OK(E(spapr_guest_check(V)));
	return which;
}

/* @maps: the table has a window, whose entries take mapped counts. */
static void two_writers_one_table(uint64_t liobn, bool maps)
{
	pthread_barrier_t go;
	struct same_writer a = { liobn, 0x600000, SAME_A, &go, { 0 } };
	struct same_writer b = { liobn, 0x601000, SAME_B, &go, { 0 } };
	pthread_t ta, tb;

	ck_assert_int_eq(pthread_barrier_init(&go, NULL, 2), 0);
	ck_assert_int_eq(pthread_create(&ta, NULL, same_writer, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, same_writer, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&go);
	ck_assert_int_ne(same_snapshot(liobn), 0);
	ck_assert_uint_eq(mapped(), maps ? 1 + SAME_N : 1);
	printf("two writers on liobn %#llx: snapshots of list a / list b after a's calls %u / %u, "
	       "after b's %u / %u\n", (unsigned long long)liobn, a.seen[1], a.seen[2], b.seen[1],
	       b.seen[2]);
	ck_assert_int_eq(spapr_h_stuff_tce(V, liobn, SAME_FIRST * PS, 0, SAME_N), H_SUCCESS);
}

START_TEST(t_two_writers_one_table)
{
	two_writers_one_table(L32, true);	/* serialised by the window's write_lock */
	ck_assert_uint_eq(mapped(), 1);
	TU_OK(E(spapr_guest_create_tce_table(V, L2, 12, 0, DEF_ENTRIES)));
	two_writers_one_table(L2, false);	/* no window: by the table's own lock */
	ck_assert_uint_eq(mapped(), 1);
}
END_TEST

static Suite *race_suite(void)
{
	Suite *s = suite_create("race_hcall");
	TCase *t = tcase_create("hcall");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 300);
	tcase_add_test(t, t_list_entry_toggles);
	tcase_add_test(t, t_list_flips);
	tcase_add_test(t, t_hcalls_and_map_share_a_window);
	tcase_add_test(t, t_hcalls_against_window_lifetime);
	tcase_add_test(t, t_hcalls_against_container_release);
	tcase_add_test(t, t_two_writers_one_table);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(race_suite());
}
