/* SPDX-License-Identifier: MIT */
/*
 * Race test of the used/mapped protocol (docs/mmreg.md): reader threads look
 * regions up and take and drop mapped counts without any lock, while a writer
 * thread registers and unregisters the same ranges.  Run under
 * ThreadSanitizer by `make check-race SAN=thread`; under AddressSanitizer a
 * reader touching a freed region is caught as a use-after-free.
 *
 * Asserted: a put succeeds only when no reader holds a mapped count on the
 * region (the holders counter, kept by the readers, is 0 at that moment and
 * stays 0: no mapped_inc can succeed on a released region); every put either
 * succeeds or returns EBUSY; at the end nothing is registered, pinned or
 * charged.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "emu/mem.h"
#include "mmreg/mmreg.h"
#include "tests/testutil.h"

#define PS EMU_PAGE_SIZE
#define NRANGES 4
#define RANGE_PAGES 4
#define READERS 3
#define CYCLES 3000

static struct mmreg_mm *mm;
static uint8_t *mem;
static uint64_t holders[NRANGES];	/* atomic: readers inside inc..dec */
static uint64_t incs_ok, incs_enxio;	/* atomic */
static int stop;			/* atomic */

static void *reader(void *arg)
{
	uint64_t x = (uintptr_t)arg * 2654435761u + 1;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		unsigned k;
		struct mmreg_region *r;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		k = (unsigned)(x % NRANGES);
		mmreg_read_lock();
		r = mmreg_region_lookup(mm, (uintptr_t)mem + k * RANGE_PAGES * PS, PS);
		if (r) {
			if (!mmreg_region_mapped_inc(r)) {
				__atomic_add_fetch(&holders[k], 1, __ATOMIC_SEQ_CST);
				__atomic_add_fetch(&incs_ok, 1, __ATOMIC_RELAXED);
				/* Holding a mapped count, the region cannot be released. */
				ck_assert_uint_ge(mmreg_region_mapped(r), 2);
				ck_assert_uint_eq(mmreg_region_entries(r), RANGE_PAGES);
				__atomic_sub_fetch(&holders[k], 1, __ATOMIC_SEQ_CST);
				mmreg_region_mapped_dec(r);
			} else {
				__atomic_add_fetch(&incs_enxio, 1, __ATOMIC_RELAXED);
			}
		}
		mmreg_read_unlock();
	}
	return NULL;
}

START_TEST(lookup_and_mapped_against_register_unregister)
{
	pthread_t t[READERS];
	struct mmreg_region *r[NRANGES] = { 0 };
	unsigned puts_ok = 0, puts_busy = 0;

	TU_OK(mmreg_mm_current(&mm));
	mmreg_mm_set_memlock(mm, UINT64_MAX, false);
	mem = tu_map(NRANGES * RANGE_PAGES);
	for (uintptr_t i = 0; i < READERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader, (void *)i), 0);
	for (unsigned c = 0; c < CYCLES; c++) {
		unsigned k = c % NRANGES;

		if (!r[k]) {
			TU_OK(mmreg_region_new(mm, (uintptr_t)mem + k * RANGE_PAGES * PS, RANGE_PAGES, &r[k]));
			continue;
		}
		int rc = mmreg_region_put(mm, r[k]);

		if (rc == -EBUSY) {
			puts_busy++;	/* a reader held it: still registered, used back to 1 */
			continue;
		}
		TU_OK(rc);
		puts_ok++;
		/* Released: no reader holds a count now, and none can take one. */
		ck_assert_uint_eq(__atomic_load_n(&holders[k], __ATOMIC_SEQ_CST), 0);
		r[k] = NULL;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < READERS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	for (unsigned k = 0; k < NRANGES; k++)
		if (r[k])
			TU_OK(mmreg_region_put(mm, r[k]));
	printf("race: %u puts ok, %u EBUSY; %llu mapped_inc ok, %llu ENXIO\n", puts_ok, puts_busy,
	       (unsigned long long)incs_ok, (unsigned long long)incs_enxio);
	ck_assert_uint_gt(puts_ok, 0);
	ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 0);
	TU_OK(mmreg_mm_check(mm));
	mmreg_mm_put(mm);
	tu_unmap(mem, NRANGES * RANGE_PAGES);
	tu_assert_emu_clean();
}
END_TEST

/* Two threads registering the same range: one wins, the other unwinds (docs/mmreg.md, race 4). */
struct same_ctx {
	pthread_barrier_t go;
	struct mmreg_region *r[2];
	int rc[2];
};

static struct same_ctx same;

static void *same_register(void *arg)
{
	uintptr_t i = (uintptr_t)arg;

	pthread_barrier_wait(&same.go);
	same.rc[i] = mmreg_region_new(mm, (uintptr_t)mem, 64, &same.r[i]);
	return NULL;
}

START_TEST(concurrent_register_of_one_range)
{
	TU_OK(mmreg_mm_current(&mm));
	mmreg_mm_set_memlock(mm, UINT64_MAX, false);
	mem = tu_map(64);
	for (int round = 0; round < 200; round++) {
		pthread_t t[2];

		pthread_barrier_init(&same.go, NULL, 2);
		for (uintptr_t i = 0; i < 2; i++)
			ck_assert_int_eq(pthread_create(&t[i], NULL, same_register, (void *)i), 0);
		for (int i = 0; i < 2; i++)
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		pthread_barrier_destroy(&same.go);
		ck_assert_msg((same.rc[0] == 0) != (same.rc[1] == 0), "rc %d %d", same.rc[0], same.rc[1]);
		ck_assert_int_eq(same.rc[0] + same.rc[1], -EINVAL);
		ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 64);
		ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)mem), 1);
		TU_OK(mmreg_region_put(mm, same.r[same.rc[0] ? 1 : 0]));
		ck_assert_uint_eq(mmreg_mm_locked_vm(mm), 0);
	}
	mmreg_mm_put(mm);
	tu_unmap(mem, 64);
	tu_assert_emu_clean();
}
END_TEST

/*
 * The registry's tree under churn: two writers register and unregister
 * device regions whose slots are spread so that nearly every insert creates
 * nodes (down from a new root, or up to a taller one) and nearly every
 * removal retires them, while readers look up addresses in all of them.
 * Asserted: a region a reader finds contains the range asked for (its
 * bounds are read after the find: a freed node or region would be caught
 * by the sanitizer), a mapped count taken on it keeps it alive until it is
 * dropped, and at the end the registry is empty with every node freed.
 */
#define CHURN_SLOTS 8
#define CHURN_CYCLES 600

static const uint64_t churn_ua[CHURN_SLOTS] = {
	0x1000, 0x200000, 0x7f0000000000ull, 0x7f0040000000ull,
	0x8000000000ull, 0x100000000000ull, 0x0200000000000000ull, 0xffffffff00000000ull,
};
static const uint64_t churn_pages[CHURN_SLOTS] = { 1, 513, 3, 262145, 1, 1024, 7, 2 };
static uint64_t churn_found, churn_held;	/* atomic */

static void *churn_reader(void *arg)
{
	uint64_t x = (uintptr_t)arg * 2654435761u + 7;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		unsigned k;
		uint64_t ua, size = PS;
		struct mmreg_region *r;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		k = (unsigned)(x % CHURN_SLOTS);
		ua = churn_ua[k] + ((x >> 8) % churn_pages[k]) * PS;
		mmreg_read_lock();
		r = mmreg_region_lookup(mm, ua, size);
		if (r) {
			__atomic_add_fetch(&churn_found, 1, __ATOMIC_RELAXED);
			ck_assert_uint_le(mmreg_region_ua(r), ua);
			ck_assert_uint_le(ua + size, mmreg_region_ua(r) + mmreg_region_entries(r) * PS);
			ck_assert_uint_eq(mmreg_region_ua(r), churn_ua[k]);
			if (!mmreg_region_mapped_inc(r)) {
				__atomic_add_fetch(&churn_held, 1, __ATOMIC_RELAXED);
				ck_assert_uint_eq(mmreg_region_entries(r), churn_pages[k]);
				mmreg_region_mapped_dec(r);
			}
		}
		mmreg_read_unlock();
	}
	return NULL;
}

static void *churn_writer(void *arg)
{
	unsigned first = (unsigned)(uintptr_t)arg;	/* writer 0: even slots, 1: odd */
	struct mmreg_region *r[CHURN_SLOTS] = { 0 };

	for (unsigned c = 0; c < CHURN_CYCLES; c++) {
		unsigned k = first + 2 * ((c * 7 + c / 5) % (CHURN_SLOTS / 2));
		int rc;

		if (!r[k]) {
			TU_OK(mmreg_region_newdev(mm, churn_ua[k], churn_pages[k], 0x100000000000ull, &r[k]));
			continue;
		}
		rc = mmreg_region_put(mm, r[k]);
		if (rc == -EBUSY)
			continue;	/* a reader held a mapped count */
		TU_OK(rc);
		r[k] = NULL;
	}
	for (unsigned k = 0; k < CHURN_SLOTS; k++)
		while (r[k] && mmreg_region_put(mm, r[k]) == -EBUSY)
			sched_yield();
	return NULL;
}

START_TEST(lookup_against_tree_churn)
{
	pthread_t rd[READERS], wr[2];
	struct mmreg_mm_stats st;

	TU_OK(mmreg_mm_current(&mm));
	__atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
	for (uintptr_t i = 0; i < READERS; i++)
		ck_assert_int_eq(pthread_create(&rd[i], NULL, churn_reader, (void *)i), 0);
	for (uintptr_t i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&wr[i], NULL, churn_writer, (void *)i), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(wr[i], NULL), 0);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < READERS; i++)
		ck_assert_int_eq(pthread_join(rd[i], NULL), 0);
	printf("tree churn: %llu lookups found a region, %llu took a mapped count\n",
	       (unsigned long long)churn_found, (unsigned long long)churn_held);
	mmreg_mm_get_stats(mm, &st);
	ck_assert_uint_eq(st.regions, 0);
	ck_assert_uint_eq(st.meta_bytes, 0);
	TU_OK(mmreg_mm_check(mm));
	mmreg_mm_put(mm);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("race_mmreg");
	TCase *t = tcase_create("race");

	tcase_set_timeout(t, 300);
	tcase_add_test(t, lookup_and_mapped_against_register_unregister);
	tcase_add_test(t, concurrent_register_of_one_range);
	tcase_add_test(t, lookup_against_tree_churn);
	suite_add_tcase(s, t);
	return tu_run(s);
}
