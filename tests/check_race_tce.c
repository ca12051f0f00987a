/* SPDX-License-Identifier: MIT */
/*
 * tce/ races (the kernel's v5.4 fix in pnv_tce): writers racing to populate the same missing
 * levels of fresh tables must share one block per level, lose no entry and
 * leak no block; a bulk clear running meanwhile over other entries must
 * clear exactly those.  Threads are lined up with barriers and the race is
 * repeated on many fresh tables; the outcome is asserted every time, never
 * a timing.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "emu/mem.h"
#include "tce/tce.h"
#include "tests/testutil.h"

#define MAX_THREADS 4
#define ROUNDS 200
#define PER_THREAD 8
/* Index of the fresh region: top slot 2, middle slot 9, leaf slot 0 (S = 9). */
#define FRESH ((2ull << 18) + (9ull << 9))

enum mode { MODE_XCHG, MODE_MAP, MODE_MAP_AND_CLEAR };

struct race {
	pthread_barrier_t start, done;
	struct tce_table *t;
	unsigned nthreads;
	enum mode mode;
	bool stop;
	unsigned arrived;		/* spin line-up after the start barrier; atomic */
	uint64_t cleared;		/* by the clearing thread, this round */
	int rc[MAX_THREADS];
};

struct worker {
	struct race *r;
	unsigned id;
};

static void teardown(void)
{
	tu_assert_emu_clean();
}

static void setup(void)
{
}

static uint64_t entry_of(unsigned id, unsigned k)
{
	/* Interleaved, so every thread writes all over the same fresh leaf. */
	return FRESH + (uint64_t)k * MAX_THREADS + id;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct race *r = w->r;

	for (;;) {
		pthread_barrier_wait(&r->start);
		if (r->stop)
			return NULL;
		/*
		 * A pthread barrier wakes its waiters one by one; spinning until all
		 * have arrived lines them up much closer, so the race is lost often.
		 */
		__atomic_fetch_add(&r->arrived, 1, __ATOMIC_ACQ_REL);
		for (unsigned spins = 1; __atomic_load_n(&r->arrived, __ATOMIC_ACQUIRE) < r->nthreads;
		     spins++)
			if (!(spins % 4096))
				sched_yield();	/* more threads than CPUs */
		int rc = 0;

		if (r->mode == MODE_MAP_AND_CLEAR && w->id == 0) {
			/* Leaf blocks 0 .. 1000 without the fresh one: the listed-leaf path. */
			rc = tce_table_unmap(r->t, 0, FRESH, NULL, NULL, NULL, &r->cleared);
		} else if (r->mode == MODE_XCHG) {
			for (unsigned k = 0; k < PER_THREAD && !rc; k++) {
				uint64_t e = entry_of(w->id, k);

				rc = tce_table_xchg(r->t, e, (e + 1) << 12, (e + 3) << 12,
						    TCE_DIR_BIDIRECTIONAL, NULL, NULL, NULL);
			}
		} else {
			/* A run of its own per thread, all in the same fresh leaf. */
			uint64_t hpa[PER_THREAD], e = FRESH + (uint64_t)w->id * PER_THREAD;

			for (unsigned k = 0; k < PER_THREAD; k++)
				hpa[k] = (e + k + 1) << 12;
			rc = tce_table_map(r->t, e, PER_THREAD, hpa, (e + 3) << 12,
					   TCE_DIR_BIDIRECTIONAL, NULL, NULL, NULL);
		}
		r->rc[w->id] = rc;
		pthread_barrier_wait(&r->done);
	}
}

static void assert_fresh_entries(struct race *r)
{
	unsigned writers = r->mode == MODE_MAP_AND_CLEAR ? r->nthreads - 1 : r->nthreads;
	unsigned first = r->mode == MODE_MAP_AND_CLEAR ? 1 : 0;

	for (unsigned id = first; id < first + writers; id++)
		for (unsigned k = 0; k < PER_THREAD; k++) {
			uint64_t e = r->mode == MODE_XCHG ? entry_of(id, k)
							  : FRESH + (uint64_t)id * PER_THREAD + k;
			uint64_t hpa = 0, ua = 0;
			enum tce_dir dir = TCE_DIR_NONE;

			TU_OK(tce_table_read(r->t, e, &hpa, &dir));
			TU_OK(tce_table_shadow_read(r->t, e, &ua));
			ck_assert_msg(hpa == (e + 1) << 12 && dir == TCE_DIR_BIDIRECTIONAL &&
					      ua == (e + 3) << 12,
				      "entry %#llx lost: hpa %#llx dir %d ua %#llx",
				      (unsigned long long)e, (unsigned long long)hpa, dir,
				      (unsigned long long)ua);
		}
}

static void run_race(unsigned nthreads, enum mode mode)
{
	struct race r = { .nthreads = nthreads, .mode = mode };
	struct worker w[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	unsigned lost_leaf = 0, lost_any = 0;

	ck_assert_int_eq(pthread_barrier_init(&r.start, NULL, nthreads + 1), 0);
	ck_assert_int_eq(pthread_barrier_init(&r.done, NULL, nthreads + 1), 0);
	for (unsigned i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .r = &r, .id = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (unsigned round = 0; round < ROUNDS; round++) {
		struct tce_table_params p = { .window_size = 1ull << 32, .page_shift = 12,
					      .levels = 3 };
		struct tce_table_stats st;
		struct emu_mem_stats em;
		uint64_t leaves_before = 0;

		TU_OK(tce_table_create(&p, &r.t));
		if (mode == MODE_MAP_AND_CLEAR) {
			/* 100 entries in 100 leaf blocks below FRESH for the clear to find. */
			for (unsigned k = 0; k < 100; k++) {
				uint64_t e = (uint64_t)k * 5000 + 7;

				TU_OK(tce_table_xchg(r.t, e, 0x1000, 0x2000, TCE_DIR_TO_DEVICE, NULL,
						     NULL, NULL));
			}
			tce_table_get_stats(r.t, &st);
			leaves_before = st.hw_level_blocks[2];
		}
		r.cleared = 0;
		r.arrived = 0;
		pthread_barrier_wait(&r.start);
		pthread_barrier_wait(&r.done);
		for (unsigned i = 0; i < nthreads; i++)
			TU_OK(r.rc[i]);

		assert_fresh_entries(&r);
		tce_table_get_stats(r.t, &st);
		/* One block per level on the fresh path: the losers freed theirs. */
		ck_assert_uint_eq(st.hw_level_blocks[0], 1);
		ck_assert_uint_eq(st.shadow_level_blocks[0], 1);
		if (mode == MODE_MAP_AND_CLEAR) {
			ck_assert_uint_eq(r.cleared, 100);
			ck_assert_uint_eq(st.hw_level_blocks[2], leaves_before + 1);
			ck_assert_uint_eq(st.shadow_level_blocks[2], leaves_before + 1);
			for (unsigned k = 0; k < 100; k++) {
				uint64_t hpa = 1, ua = 1;
				enum tce_dir dir;

				TU_OK(tce_table_read(r.t, (uint64_t)k * 5000 + 7, &hpa, &dir));
				TU_OK(tce_table_shadow_read(r.t, (uint64_t)k * 5000 + 7, &ua));
				ck_assert_uint_eq(hpa, 0);
				ck_assert_uint_eq(ua, 0);
			}
		} else {
			for (unsigned d = 1; d < 3; d++) {
				ck_assert_uint_eq(st.hw_level_blocks[d], 1);
				ck_assert_uint_eq(st.shadow_level_blocks[d], 1);
			}
			emu_mem_get_stats(&em);
			ck_assert_uint_eq(em.table_blocks, 6);
		}
		/* A lost installation race may leave a duplicate list node, never a block. */
		ck_assert_uint_ge(st.leaf_nodes, st.hw_level_blocks[2]);
		ck_assert_uint_le(st.leaf_nodes, st.hw_level_blocks[2] + nthreads - 1);
		lost_leaf += st.leaf_nodes > st.hw_level_blocks[2];
		lost_any += st.install_races > 0;
		TU_OK(tce_table_check(r.t));
		tce_table_put(r.t);
		emu_mem_get_stats(&em);
		ck_assert_uint_eq(em.table_blocks, 0);
	}
	r.stop = true;
	pthread_barrier_wait(&r.start);
	for (unsigned i = 0; i < nthreads; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.done);
	/* Informational only: how often the installation race was really lost. */
	printf("%u threads, mode %d: the installation race was lost, and handled, in %u of %u rounds"
	       " (a leaf in %u; informational)\n",
	       nthreads, mode, lost_any, ROUNDS, lost_leaf);
}

START_TEST(two_writers_one_fresh_level)
{
	run_race(2, MODE_XCHG);
}
END_TEST

START_TEST(four_writers_one_fresh_level)
{
	run_race(4, MODE_XCHG);
}
END_TEST

START_TEST(range_maps_one_fresh_level)
{
	run_race(4, MODE_MAP);
}
END_TEST

START_TEST(maps_racing_a_bulk_clear)
{
	run_race(4, MODE_MAP_AND_CLEAR);
}
END_TEST

static Suite *race_suite(void)
{
	Suite *s = suite_create("tce_race");
	TCase *t = tcase_create("levels");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 300);
	tcase_add_test(t, two_writers_one_fresh_level);
	tcase_add_test(t, four_writers_one_fresh_level);
	tcase_add_test(t, range_maps_one_fresh_level);
	tcase_add_test(t, maps_racing_a_bulk_clear);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(race_suite());
}
