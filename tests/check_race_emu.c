/* SPDX-License-Identifier: MIT */
/*
 * emu/ device side under concurrency: DMA threads against a thread that
 * remaps entries, kills, unpins and reprograms windows, with readers of the
 * fault log, the stats, the dirty log and the invariant checker running
 * meanwhile.  Every DMA must return 0 or a documented error, data must
 * never tear inside a TCE page, and the OS protocol "clear, kill, then
 * unpin" must never let a DMA reach unpinned memory (abort-on-unpinned
 * stays on: a use-after-unpin would kill the test).  Outcomes are asserted,
 * never timings; ThreadSanitizer checks the locking (make check-race
 * SAN=thread).
 */
#include <endian.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/emu.h"
#include "emu/mem.h"
#include "tests/testutil.h"

#define WIN1 (1ull << 59)
#define RW (EMU_TCE_READ | EMU_TCE_WRITE)
#define NDMA 3
#define ROUNDS 1500
#define LEAF 512u	/* entries per block: S = 9 */

struct tbl {
	uint64_t bus_offset, top_hpa;
	uint64_t *top, *leaf;	/* 2 levels; one leaf block for entries 0 ... 511 */
};

struct race {
	struct tbl t0, t1;
	uint8_t *mem;		/* pages: 0 'A', 1 'B', 2 + i: thread i's, 8: the unpinned dance */
	struct emu_pin *pin_ab, *pin_threads, *pin_dance;
	int stop;		/* atomic */
	unsigned long dma_ok, dma_fault;	/* atomic */
};

static void setup(void)
{
}

static void teardown(void)
{
	TU_OK(emu_machine_check());
	tu_assert_emu_clean();
}

static void tbl_create(struct tbl *t, uint64_t bus_offset)
{
	void *hva;
	uint64_t hpa;

	t->bus_offset = bus_offset;
	TU_OK(emu_mem_table_alloc(emu_mem_node(), LEAF * 8, &hva, &t->top_hpa));
	t->top = hva;
	TU_OK(emu_mem_table_alloc(emu_mem_node(), LEAF * 8, &hva, &hpa));
	t->leaf = hva;
	t->top[0] = htobe64(hpa | RW);
}

static void tbl_destroy(struct tbl *t)
{
	emu_mem_table_free(t->top, LEAF * 8);
	emu_mem_table_free(t->leaf, LEAF * 8);
}

static void tbl_set(struct tbl *t, uint64_t index, uint64_t val)
{
	__atomic_store_n(&t->leaf[index], htobe64(val), __ATOMIC_RELEASE);
}

static struct emu_window tbl_window(const struct tbl *t)
{
	struct emu_window w = {
		.table_hpa = t->top_hpa,
		.levels = 2,
		.level_size = LEAF,
		.size = 1ull << 18,	/* 1 GiB of 4 KiB pages */
		.page_shift = 12,
		.bus_offset = t->bus_offset,
	};
	return w;
}

static uint64_t tce(const struct race *r, unsigned page)
{
	return emu_mem_ua_to_hpa((uintptr_t)(r->mem + page * 4096ull), 12) | RW;
}

struct worker {
	struct race *r;
	unsigned id;
};

static void *dma_main(void *arg)
{
	struct worker *w = arg;
	struct race *r = w->r;
	uint8_t buf[4096], mine[64];
	unsigned long ok = 0, faults = 0;
	unsigned k;

	memset(mine, (int)(0x10 + w->id), sizeof(mine));
	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		int rc;

		/* Slot 0 entry 1 flips between pages A and B: never torn, always there. */
		TU_OK(emu_dma_read(0, 4096, buf, sizeof(buf)));
		ck_assert(buf[0] == 'A' || buf[0] == 'B');
		for (k = 1; k < sizeof(buf); k++)
			ck_assert_uint_eq(buf[k], buf[0]);
		/* Slot 1 comes and goes: 0 or "no window". */
		rc = emu_dma_write(0, WIN1 + (2 + w->id) * 4096ull, mine, sizeof(mine));
		ck_assert_msg(rc == 0 || rc == -EFAULT, "write rc %s", tu_errname(rc));
		if (rc)
			faults++;
		else
			ok++;
		/* Entry 8 is cleared, killed and unpinned, then pinned and set again. */
		rc = emu_dma_read(0, 8 * 4096, buf, 16);
		ck_assert_msg(rc == 0 || rc == -EFAULT, "read rc %s", tu_errname(rc));
		if (rc)
			faults++;
		else
			ok++;
	}
	__atomic_add_fetch(&r->dma_ok, ok, __ATOMIC_RELAXED);
	__atomic_add_fetch(&r->dma_fault, faults, __ATOMIC_RELAXED);
	return NULL;
}

/* Reads the logs and the stats, and runs the checker, while DMAs run. */
static void *observer_main(void *arg)
{
	struct race *r = arg;
	struct emu_fault f[16];
	struct emu_group_stats st;
	struct emu_dirty_range range = { WIN1, 1ull << 20 };
	uint64_t map[4];
	unsigned n;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		uint64_t ps = 4096;

		TU_OK(emu_fault_log_read(0, f, 16, &n));
		for (unsigned k = 0; k < n; k++)
			ck_assert(f[k].reason == EMU_FAULT_NO_WINDOW ||
				  f[k].reason == EMU_FAULT_NO_TRANSLATION);
		TU_OK(emu_group_get_stats(0, &st));
		ck_assert_uint_eq(st.faults[EMU_FAULT_UNPINNED], 0);
		TU_OK(emu_machine_check());
		TU_OK(emu_dirty_log_start(0, &range, 1, &ps));
		memset(map, 0, sizeof(map));
		TU_OK(emu_dirty_log_report(0, WIN1, 1ull << 20, 1ull << 14, map, sizeof(map)));
		ck_assert_uint_eq(map[0] & ~3ull, 0);	/* threads write pages 2 ... 4: 16 KiB units 0, 1 */
		TU_OK(emu_dirty_log_stop(0));
	}
	return NULL;
}

START_TEST(dma_against_kill_and_reprogramming)
{
	struct worker w[NDMA];
	pthread_t th[NDMA], obs;
	struct emu_window w0, w1;
	struct race *r = calloc(1, sizeof(*r));
	unsigned i, round;

	r->mem = tu_map(16);
	memset(r->mem, 'A', 4096);
	memset(r->mem + 4096, 'B', 4096);
	TU_OK(emu_mem_pin((uintptr_t)r->mem, 2, &r->pin_ab));
	TU_OK(emu_mem_pin((uintptr_t)r->mem + 2 * 4096, NDMA, &r->pin_threads));
	TU_OK(emu_mem_pin((uintptr_t)r->mem + 8 * 4096, 1, &r->pin_dance));
	tbl_create(&r->t0, 0);
	tbl_create(&r->t1, WIN1);
	tbl_set(&r->t0, 1, tce(r, 0));
	tbl_set(&r->t0, 8, tce(r, 8));
	for (i = 0; i < NDMA; i++)
		tbl_set(&r->t1, 2 + i, tce(r, 2 + i));
	w0 = tbl_window(&r->t0);
	w1 = tbl_window(&r->t1);
	TU_OK(emu_phb_set_window(0, 0, &w0));
	TU_OK(emu_phb_set_window(0, 1, &w1));

	for (i = 0; i < NDMA; i++) {
		w[i].r = r;
		w[i].id = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, dma_main, &w[i]), 0);
	}
	ck_assert_int_eq(pthread_create(&obs, NULL, observer_main, r), 0);

	for (round = 0; round < ROUNDS; round++) {
		/* Remap entry 1 to the other page, then kill it. */
		tbl_set(&r->t0, 1, tce(r, round & 1));
		emu_phb_tce_kill(0, 0, 1, 1);
		/* The OS protocol: clear, kill, unpin; later pin, set. */
		tbl_set(&r->t0, 8, 0);
		emu_phb_tce_kill(0, 0, 8, 1);
		emu_mem_unpin(r->pin_dance);
		TU_OK(emu_mem_pin((uintptr_t)r->mem + 8 * 4096, 1, &r->pin_dance));
		tbl_set(&r->t0, 8, tce(r, 8));
		/* Reprogram slot 1 now and then. */
		if (round % 8 == 0) {
			TU_OK(emu_phb_unset_window(0, 1));
			sched_yield();
			TU_OK(emu_phb_set_window(0, 1, &w1));
		}
	}
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < NDMA; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ck_assert_int_eq(pthread_join(obs, NULL), 0);
	ck_assert_uint_gt(r->dma_ok, 0);
	for (i = 0; i < NDMA; i++)
		ck_assert_uint_eq(r->mem[(2 + i) * 4096], 0x10 + i);

	TU_OK(emu_phb_unset_window(0, 0));
	TU_OK(emu_phb_unset_window(0, 1));
	tbl_destroy(&r->t0);
	tbl_destroy(&r->t1);
	emu_mem_unpin(r->pin_ab);
	emu_mem_unpin(r->pin_threads);
	emu_mem_unpin(r->pin_dance);
	tu_unmap(r->mem, 16);
	free(r);
}
END_TEST

/* Several groups at once: endpoints share nothing but emu/mem. */
static void *group_main(void *arg)
{
	struct race *r = arg;
	uint8_t b[256];
	unsigned k;

	for (k = 0; k < 2000; k++) {
		int g = 1 + (int)(k % 3);
		int rc = emu_dma_read(g, 4096, b, sizeof(b));

		ck_assert_msg(rc == 0 || rc == -EFAULT, "rc %s", tu_errname(rc));
		if (!rc)
			ck_assert(b[0] == 'A' || b[0] == 'B');
		emu_phb_tce_kill(g, 0, 0, 4);
	}
	(void)r;
	return NULL;
}

START_TEST(groups_in_parallel)
{
	struct race *r = calloc(1, sizeof(*r));
	struct emu_window w0;
	pthread_t th[3];
	unsigned i, k;

	r->mem = tu_map(2);
	memset(r->mem, 'A', 4096);
	memset(r->mem + 4096, 'B', 4096);
	TU_OK(emu_mem_pin((uintptr_t)r->mem, 2, &r->pin_ab));
	tbl_create(&r->t0, 0);
	tbl_set(&r->t0, 1, tce(r, 0));
	w0 = tbl_window(&r->t0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, group_main, r), 0);
	for (k = 0; k < 300; k++) {
		int g = 1 + (int)(k % 3);

		TU_OK(emu_phb_set_window(g, 0, &w0));
		tbl_set(&r->t0, 1, tce(r, k & 1));
		TU_OK(emu_phb_unset_window(g, 0));
	}
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	tbl_destroy(&r->t0);
	emu_mem_unpin(r->pin_ab);
	tu_unmap(r->mem, 2);
	free(r);
}
END_TEST

static Suite *race_suite(void)
{
	Suite *s = suite_create("race_emu");
	TCase *t = tcase_create("race");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, dma_against_kill_and_reprogramming);
	tcase_add_test(t, groups_in_parallel);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(race_suite());
}
