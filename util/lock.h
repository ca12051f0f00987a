/* SPDX-License-Identifier: MIT */
/*
 * util/lock.h: mutexes and rwlocks that know who holds them, in debug and
 * test builds.
 *
 * Concepts
 *   lock      struct util_mutex / struct util_rwlock: a pthread lock.  In
 *             builds with SPAPRTCE_DEBUG (the test objects) it also records
 *             its holders: the owner thread of a mutex or of a write lock,
 *             and, per thread, the rwlocks it holds for reading.  In release
 *             builds it is the pthread lock alone and every call below is
 *             the pthread call, inlined: no field, no store, no branch more.
 *   assertion util_mutex_assert_held(l), util_rwlock_assert_held(l) (either
 *             side), util_rwlock_assert_wrheld(l): a function whose comment
 *             says "under X" states it with one of these.  In debug builds a
 *             failed assertion prints the lock, the file and the line and
 *             aborts (SIGABRT); in release builds it compiles to nothing.
 *
 * The read side is tracked per thread in a small thread-local list
 * (UTIL_LOCK_READ_MAX entries); a thread holding more rwlocks for reading at
 * once than that makes the assertions about the extra ones pass without a
 * check, never fail wrongly.
 *
 * Errors: none.  These locks are never used across fork() by the library.
 */
#ifndef SPAPRTCE_UTIL_LOCK_H
#define SPAPRTCE_UTIL_LOCK_H

#include <pthread.h>
#include <stdbool.h>

#define UTIL_LOCK_READ_MAX 16u

struct util_mutex {
	pthread_mutex_t m;
#ifdef SPAPRTCE_DEBUG
	pthread_t owner;	/* valid while held */
	bool held;		/* atomic */
#endif
};

struct util_rwlock {
	pthread_rwlock_t l;
#ifdef SPAPRTCE_DEBUG
	pthread_t writer;	/* valid while writing */
	bool writing;		/* atomic */
#endif
};

#define UTIL_MUTEX_INIT { .m = PTHREAD_MUTEX_INITIALIZER }

#ifdef SPAPRTCE_DEBUG

void util_mutex_init(struct util_mutex *l);
void util_mutex_destroy(struct util_mutex *l);
void util_mutex_lock(struct util_mutex *l);
void util_mutex_unlock(struct util_mutex *l);
/* True when the calling thread holds @l. */
bool util_mutex_held(const struct util_mutex *l);

void util_rwlock_init(struct util_rwlock *l);
void util_rwlock_destroy(struct util_rwlock *l);
void util_rwlock_rdlock(struct util_rwlock *l);
void util_rwlock_wrlock(struct util_rwlock *l);
void util_rwlock_unlock(struct util_rwlock *l);
/* True when the calling thread holds @l for writing; for either side. */
bool util_rwlock_wrheld(const struct util_rwlock *l);
bool util_rwlock_held(const struct util_rwlock *l);

/* Prints what is not held where, and aborts. */
void util__lock_fail(const char *what, const char *file, int line) __attribute__((noreturn));

#define util_mutex_assert_held(l)                                                              \
	((void)(util_mutex_held(l) || (util__lock_fail("mutex " #l, __FILE__, __LINE__), 0)))
#define util_rwlock_assert_held(l)                                                             \
	((void)(util_rwlock_held(l) || (util__lock_fail("rwlock " #l, __FILE__, __LINE__), 0)))
#define util_rwlock_assert_wrheld(l)                                                           \
	((void)(util_rwlock_wrheld(l) ||                                                       \
		(util__lock_fail("rwlock (write) " #l, __FILE__, __LINE__), 0)))

#else /* release: the pthread calls alone */

static inline void util_mutex_init(struct util_mutex *l)
{
	pthread_mutex_init(&l->m, NULL);
}

static inline void util_mutex_destroy(struct util_mutex *l)
{
	pthread_mutex_destroy(&l->m);
}

static inline void util_mutex_lock(struct util_mutex *l)
{
	pthread_mutex_lock(&l->m);
}

static inline void util_mutex_unlock(struct util_mutex *l)
{
	pthread_mutex_unlock(&l->m);
}

static inline void util_rwlock_init(struct util_rwlock *l)
{
	pthread_rwlock_init(&l->l, NULL);
}

static inline void util_rwlock_destroy(struct util_rwlock *l)
{
	pthread_rwlock_destroy(&l->l);
}

static inline void util_rwlock_rdlock(struct util_rwlock *l)
{
	pthread_rwlock_rdlock(&l->l);
}

static inline void util_rwlock_wrlock(struct util_rwlock *l)
{
	pthread_rwlock_wrlock(&l->l);
}

static inline void util_rwlock_unlock(struct util_rwlock *l)
{
	pthread_rwlock_unlock(&l->l);
}

#define util_mutex_assert_held(l) ((void)0)
#define util_rwlock_assert_held(l) ((void)0)
#define util_rwlock_assert_wrheld(l) ((void)0)

#endif

#endif
