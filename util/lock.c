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
 * Release builds compile nothing of the debug side.
 *
 * The fork registry (util/lock.h "fork") is here too: one pthread_atfork
 * handler for every global lock of the library, so that the order in which
 * they are taken before fork() is their rank, not the order in which the
 * files happened to register handlers of their own (pthread_atfork runs
 * prepare handlers in reverse registration order, which no file controls).
 * The registry's own mutex is taken first and released last, so a lock
 * registered during a fork waits for it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "util/lock.h"

/* ---------------------------------------------------------------- fork */

unsigned util__fork_gen;
static pthread_mutex_t fork_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct util_fork_lock *fork_locks;	/* ascending rank; under fork_registry_lock */

static void fork_prepare(void)
{
	pthread_mutex_lock(&fork_registry_lock);
	for (struct util_fork_lock *l = fork_locks; l; l = l->next) {
		if (l->mutex)
			pthread_mutex_lock(l->mutex);
		else if (l->umutex)
			util_mutex_lock(l->umutex);
		if (l->prepare)
			l->prepare();
	}
}

/* Releases in descending rank: @l and everything after it first. */
static void fork_release(struct util_fork_lock *l, bool child)
{
	if (!l)
		return;
	fork_release(l->next, child);
	if (child && l->child)
		l->child();
	else if (l->parent)
		l->parent();
	if (l->mutex)
		pthread_mutex_unlock(l->mutex);
	else if (l->umutex)
		util_mutex_unlock(l->umutex);
}

static void fork_parent(void)
{
	fork_release(fork_locks, false);
	pthread_mutex_unlock(&fork_registry_lock);
}

static void fork_child(void)
{
	__atomic_store_n(&util__fork_gen, util__fork_gen + 1, __ATOMIC_RELAXED);
	fork_release(fork_locks, true);
	pthread_mutex_unlock(&fork_registry_lock);
}

void util_fork_register(struct util_fork_lock *l)
{
	static bool installed;
	struct util_fork_lock **pos;

	pthread_mutex_lock(&fork_registry_lock);
	if (!installed) {
		pthread_atfork(fork_prepare, fork_parent, fork_child);
		installed = true;
	}
	for (pos = &fork_locks; *pos && *pos != l && (*pos)->rank <= l->rank; pos = &(*pos)->next)
		;
	if (*pos != l) {
		l->next = *pos;
		*pos = l;
	}
	pthread_mutex_unlock(&fork_registry_lock);
}

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

bool util_rwlock_tryrdlock(struct util_rwlock *l)
{
	if (pthread_rwlock_tryrdlock(&l->l))
		return false;
	if (read_n < UTIL_LOCK_READ_MAX)
		read_held[read_n] = l;
	read_n++;
	return true;
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
