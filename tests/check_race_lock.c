/* SPDX-License-Identifier: MIT */
/*
 * util/lock.h's rwlock (a slot per reader thread, writers waiting for the
 * slots to empty), run under ThreadSanitizer by `make check-race
 * SAN=thread`.
 *
 *   readers_writers   three reader threads and two writer threads on one
 *                     rwlock guarding two plain counters that writers bump
 *                     together: every reader sees them equal (and the
 *                     sanitizer sees no race on them), readers take the
 *                     lock recursively now and then, and at the end the
 *                     counters are exactly the writers' rounds.
 *   overflow          a thread holds UTIL_RWLOCK_SLOTS + 3 rwlocks for
 *                     reading at once (the last three counted in the locks,
 *                     not in slots) while writers wait on every one of them:
 *                     no writer gets a lock while it is read, each gets it
 *                     once the reader lets go.
 *   recursive_vs_writer  a reader holding the lock takes it again while a
 *                     writer waits (no deadlock); tryrdlock fails while the
 *                     writer holds it and succeeds after.
 *   fallback          the same as readers_writers in a child process with
 *                     SPAPRTCE_NO_MEMBARRIER=1, where the read side is an
 *                     atomic exchange instead (util_asym() false there).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testutil.h"
#include "util/lock.h"

#define READERS 3
#define WRITERS 2
#define ROUNDS 4000

static struct util_rwlock L;
static uint64_t a, b;		/* under L */
static int stop;		/* atomic */

static void *reader(void *arg)
{
	unsigned seen = 0;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE) || seen < 100) {
		util_rwlock_rdlock(&L);
		ck_assert_uint_eq(a, b);
		if (seen % 7 == 0) {
			util_rwlock_rdlock(&L);		/* recursive */
			ck_assert_uint_eq(a, b);
			util_rwlock_unlock(&L);
		}
		util_rwlock_unlock(&L);
		seen++;
	}
	return NULL;
}

static void *writer(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < ROUNDS; i++) {
		util_rwlock_wrlock(&L);
		a++;
		if (i % 64 == 0)
			sched_yield();	/* let readers meet a held writer */
		b++;
		util_rwlock_unlock(&L);
	}
	return NULL;
}

static void readers_writers_run(void)
{
	pthread_t r[READERS], w[WRITERS];

	util_rwlock_init(&L);
	a = b = 0;
	__atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < READERS; i++)
		ck_assert_int_eq(pthread_create(&r[i], NULL, reader, NULL), 0);
	for (unsigned i = 0; i < WRITERS; i++)
		ck_assert_int_eq(pthread_create(&w[i], NULL, writer, NULL), 0);
	for (unsigned i = 0; i < WRITERS; i++)
		ck_assert_int_eq(pthread_join(w[i], NULL), 0);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < READERS; i++)
		ck_assert_int_eq(pthread_join(r[i], NULL), 0);
	ck_assert_uint_eq(a, (uint64_t)WRITERS * ROUNDS);
	ck_assert_uint_eq(b, a);
	util_rwlock_destroy(&L);
}

START_TEST(readers_writers)
{
	readers_writers_run();
}
END_TEST

/* -------------------------------------------------------------- overflow */

#define MANY (UTIL_RWLOCK_SLOTS + 3)

static struct util_rwlock many[MANY];
static int written[MANY];	/* atomic: the writer of lock i got it */
static int released;		/* atomic: the reader let go */

static void *many_writer(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;

	util_rwlock_wrlock(&many[i]);
	ck_assert_int_eq(__atomic_load_n(&released, __ATOMIC_ACQUIRE), 1);
	__atomic_store_n(&written[i], 1, __ATOMIC_RELEASE);
	util_rwlock_unlock(&many[i]);
	return NULL;
}

START_TEST(overflow)
{
	pthread_t w[MANY];

	for (unsigned i = 0; i < MANY; i++) {
		util_rwlock_init(&many[i]);
		util_rwlock_rdlock(&many[i]);
	}
	for (unsigned i = 0; i < MANY; i++)
		ck_assert_int_eq(pthread_create(&w[i], NULL, many_writer, (void *)(uintptr_t)i), 0);
	usleep(20000);
	for (unsigned i = 0; i < MANY; i++)
		ck_assert_int_eq(__atomic_load_n(&written[i], __ATOMIC_ACQUIRE), 0);
	__atomic_store_n(&released, 1, __ATOMIC_RELEASE);
	for (unsigned i = MANY; i-- > 0;)
		util_rwlock_unlock(&many[i]);
	for (unsigned i = 0; i < MANY; i++) {
		ck_assert_int_eq(pthread_join(w[i], NULL), 0);
		ck_assert_int_eq(written[i], 1);
		/* Free again: a read and a write each succeed at once. */
		ck_assert(util_rwlock_tryrdlock(&many[i]));
		util_rwlock_unlock(&many[i]);
		util_rwlock_wrlock(&many[i]);
		util_rwlock_unlock(&many[i]);
		util_rwlock_destroy(&many[i]);
	}
}
END_TEST

/* ------------------------------------------------ recursion vs a writer */

static int wgot;	/* atomic */

static void *one_writer(void *arg)
{
	(void)arg;
	util_rwlock_wrlock(&L);
	__atomic_store_n(&wgot, 1, __ATOMIC_RELEASE);
	util_rwlock_unlock(&L);
	return NULL;
}

static void *try_reader(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)util_rwlock_tryrdlock(&L);
}

START_TEST(recursive_vs_writer)
{
	pthread_t w, t;
	void *got;

	util_rwlock_init(&L);
	util_rwlock_rdlock(&L);
	ck_assert_int_eq(pthread_create(&w, NULL, one_writer, NULL), 0);
	usleep(20000);		/* the writer waits for us */
	ck_assert_int_eq(__atomic_load_n(&wgot, __ATOMIC_ACQUIRE), 0);
	util_rwlock_rdlock(&L);	/* held already: no wait */
	util_rwlock_unlock(&L);
	ck_assert_int_eq(__atomic_load_n(&wgot, __ATOMIC_ACQUIRE), 0);
	util_rwlock_unlock(&L);
	ck_assert_int_eq(pthread_join(w, NULL), 0);
	ck_assert_int_eq(wgot, 1);

	util_rwlock_wrlock(&L);
	ck_assert_int_eq(pthread_create(&t, NULL, try_reader, NULL), 0);
	ck_assert_int_eq(pthread_join(t, &got), 0);
	ck_assert_ptr_eq(got, (void *)0);	/* written: no */
	util_rwlock_unlock(&L);
	ck_assert(util_rwlock_tryrdlock(&L));
	util_rwlock_unlock(&L);
	util_rwlock_destroy(&L);
}
END_TEST

/* ------------------------------------------------------------ fallback */

START_TEST(fallback)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (!pid) {
		char *argv[] = { "check_race_lock", NULL };

		setenv("SPAPRTCE_NO_MEMBARRIER", "1", 1);
		setenv("CHECK_RACE_LOCK_FALLBACK", "1", 1);
		execv("/proc/self/exe", argv);
		_exit(126);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* The child of `fallback`: readers_writers without membarrier.  Exit 0 when it held. */
static int fallback_child(void)
{
	Suite *s = suite_create("lock_race_fallback");
	TCase *tc = tcase_create("rwlock");

	util_asym_init();
	if (util_asym())
		return 2;
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, readers_writers);
	suite_add_tcase(s, tc);
	return tu_run(s);
}

static Suite *lock_suite(void)
{
	Suite *s = suite_create("lock_race");
	TCase *tc = tcase_create("rwlock");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, readers_writers);
	tcase_add_test(tc, overflow);
	tcase_add_test(tc, recursive_vs_writer);
	tcase_add_test(tc, fallback);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (getenv("CHECK_RACE_LOCK_FALLBACK"))
		return fallback_child();
	return tu_run(lock_suite());
}
