/* SPDX-License-Identifier: MIT */
/*
 * The debug side of util/lock.h: locks that record their holders, so that
 * "under X" is an assertion instead of a comment.
 *
 * A mutex records its owner after pthread_mutex_lock returns and forgets it
 * before pthread_mutex_unlock: only the owner writes the fields, and the
 * only question asked is "do I hold it?", which a thread answers about
 * itself; the fields are atomics so that ThreadSanitizer sees the other
 * threads' reads of them as the benign races they are.  A write lock is
 * the same.  Read locks are many and anonymous, so each thread keeps the
 * list of the rwlocks it holds for reading.
 *
 * Release builds compile nothing of this file but the assertion's target
 * (nothing calls it there).
 */
#include <stdio.h>
#include <stdlib.h>

#include "util/lock.h"

#ifdef SPAPRTCE_DEBUG

static __thread const struct util_rwlock *read_held[UTIL_LOCK_READ_MAX];
static __thread unsigned read_n;	/* may exceed UTIL_LOCK_READ_MAX: those are untracked */

void util__lock_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "%s:%d: %s not held\n", file, line, what);
	abort();
}

void util_mutex_init(struct util_mutex *l)
{
	pthread_mutex_init(&l->m, NULL);
	__atomic_store_n(&l->held, false, __ATOMIC_RELAXED);
}

void util_mutex_destroy(struct util_mutex *l)
{
	pthread_mutex_destroy(&l->m);
}

void util_mutex_lock(struct util_mutex *l)
{
	pthread_mutex_lock(&l->m);
	__atomic_store_n(&l->owner, pthread_self(), __ATOMIC_RELAXED);
	__atomic_store_n(&l->held, true, __ATOMIC_RELAXED);
}

void util_mutex_unlock(struct util_mutex *l)
{
	__atomic_store_n(&l->held, false, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&l->m);
}

bool util_mutex_held(const struct util_mutex *l)
{
	return __atomic_load_n(&l->held, __ATOMIC_RELAXED) &&
	       pthread_equal(__atomic_load_n(&l->owner, __ATOMIC_RELAXED), pthread_self());
}

void util_rwlock_init(struct util_rwlock *l)
{
	pthread_rwlock_init(&l->l, NULL);
	__atomic_store_n(&l->writing, false, __ATOMIC_RELAXED);
}

void util_rwlock_destroy(struct util_rwlock *l)
{
	pthread_rwlock_destroy(&l->l);
}

void util_rwlock_rdlock(struct util_rwlock *l)
{
	pthread_rwlock_rdlock(&l->l);
	if (read_n < UTIL_LOCK_READ_MAX)
		read_held[read_n] = l;
	read_n++;
}

void util_rwlock_wrlock(struct util_rwlock *l)
{
	pthread_rwlock_wrlock(&l->l);
	__atomic_store_n(&l->writer, pthread_self(), __ATOMIC_RELAXED);
	__atomic_store_n(&l->writing, true, __ATOMIC_RELAXED);
}

/* Forgets the most recent read hold of @l by this thread; false when there is none. */
static bool read_forget(const struct util_rwlock *l)
{
	unsigned n = read_n < UTIL_LOCK_READ_MAX ? read_n : UTIL_LOCK_READ_MAX;

	for (unsigned i = n; i-- > 0;) {
		if (read_held[i] != l)
			continue;
		for (; i + 1 < n; i++)
			read_held[i] = read_held[i + 1];
		read_n--;
		return true;
	}
	if (read_n > UTIL_LOCK_READ_MAX) {
		read_n--;	/* one of the untracked ones */
		return true;
	}
	return false;
}

void util_rwlock_unlock(struct util_rwlock *l)
{
	if (util_rwlock_wrheld(l))
		__atomic_store_n(&l->writing, false, __ATOMIC_RELAXED);
	else if (!read_forget(l))
		util__lock_fail("rwlock being unlocked", __FILE__, __LINE__);
	pthread_rwlock_unlock(&l->l);
}

bool util_rwlock_wrheld(const struct util_rwlock *l)
{
	return __atomic_load_n(&l->writing, __ATOMIC_RELAXED) &&
	       pthread_equal(__atomic_load_n(&l->writer, __ATOMIC_RELAXED), pthread_self());
}

bool util_rwlock_held(const struct util_rwlock *l)
{
	unsigned n = read_n < UTIL_LOCK_READ_MAX ? read_n : UTIL_LOCK_READ_MAX;

	if (util_rwlock_wrheld(l) || read_n > UTIL_LOCK_READ_MAX)
		return true;
	for (unsigned i = 0; i < n; i++)
		if (read_held[i] == l)
			return true;
	return false;
}

#else

/* An empty translation unit is not ISO C. */
typedef int util_lock_release_build;

#endif
