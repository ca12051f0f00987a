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
 *   fork      Every global lock of the library is registered here (struct
 *             util_fork_lock, UTIL_FORK_LOCK) with its rank in the lock
 *             order (enum util_lock_rank): one pthread_atfork handler takes
 *             them all, in ascending rank, before fork(), releases them in
 *             the parent, and in the child releases the mutexes (the child's
 *             thread is the one that took them) and runs each lock's child
 *             hook.  Per-object locks (a container's, a window's, a guest's)
 *             are not held: the child never takes the locks of objects it
 *             inherited (util_fork_generation tells them apart; spapr/fd.c
 *             says what the child may do with them).
 *   rwlock across fork: held for reading, which excludes every writer.  A
 *             write hold cannot be released in the child (glibc checks the
 *             writer's thread id, which fork changes), and reinitialising a
 *             held lock confuses ThreadSanitizer; state that readers change
 *             is under a mutex that is held too.
 *
 * Errors: none.
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

/*
 * The global locks in the order they are taken before fork().  Ranks 3 and
 * 4 are those of THE LOCK ORDER on struct spapr_guest (spapr/guest_priv.h:
 * spapr_vfio_lock, then a device's locks, then spapr_fd_lock);
 * its per-object ranks (1, 2, 5, 6, 7, mm->lock) are never held across
 * fork.  Then mmreg's and emu's globals, in emu/emu.h's order (machine lock
 * -> device table -> endpoints -> emu/mem's leaves).
 */
enum util_lock_rank {
	UTIL_RANK_SPAPR_VFIO = 30,	/* spapr/fd.c spapr_vfio_lock (3) */
	UTIL_RANK_SPAPR_FD = 40,	/* spapr/fd.c spapr_fd_lock (4) */
	/*
	 * util/rcu.c's reader registry: util_rcu_synchronize holds it while
	 * it waits for readers, and readers take emu's locks, so it comes
	 * before them (a read section is 8 in the order).
	 */
	UTIL_RANK_RCU = 80,
	UTIL_RANK_MM_CURRENT = 81,	/* mmreg/mm.c mm_current_lock */
	UTIL_RANK_EMU_MACHINE = 90,	/* emu/machine.c machine_lock */
	UTIL_RANK_EMU_DEV = 91,		/* emu/dev.c dev_lock (the device table) */
	UTIL_RANK_EMU_EP = 92,		/* emu/machine.c every endpoint's rw (read), then lock */
	UTIL_RANK_EMU_PIN = 95,		/* emu/mem_pin.c pin_lock */
	UTIL_RANK_EMU_TABLE = 96,	/* emu/mem_table.c table_lock */
	UTIL_RANK_EMU_HUGETLB = 97,	/* emu/mem_hugetlb.c pool_lock */
	UTIL_RANK_DROPIN = 100,		/* dropin/: the layer's tables (taken outside the library) */
};

/*
 * A global lock's fork handling.  Give @mutex (a pthread mutex) or @umutex
 * (a struct util_mutex), or @prepare and @parent for anything else (they
 * take and release).  @child, if any, runs in the child instead of @parent,
 * before the mutex is released there: it releases what @prepare took and
 * makes the state fit a process with one thread.
 */
struct util_fork_lock {
	unsigned rank;			/* enum util_lock_rank */
	const char *name;
	pthread_mutex_t *mutex;
	struct util_mutex *umutex;
	void (*prepare)(void);
	void (*parent)(void);
	void (*child)(void);
	struct util_fork_lock *next;	/* the registry's, by rank */
};

/* Adds @l to the registry (once; idempotent).  Called from constructors (UTIL_FORK_LOCK). */
void util_fork_register(struct util_fork_lock *l);

/* Registers a static struct util_fork_lock at load time. */
#define UTIL_FORK_LOCK(id, ...)                                                                \
	static struct util_fork_lock id = { __VA_ARGS__ };                                     \
	__attribute__((constructor)) static void id##_register(void)                           \
	{                                                                                      \
		util_fork_register(&id);                                                       \
	}

/*
 * How many fork()s separate this process from the one that loaded the
 * library: 0 in it, bumped in each child before any hook runs.  An object
 * that records it at creation is the parent's (inherited, foreign) when it
 * differs.
 */
extern unsigned util__fork_gen;

static inline unsigned util_fork_generation(void)
{
	return __atomic_load_n(&util__fork_gen, __ATOMIC_RELAXED);
}

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
/* Takes @l for reading if that needs no wait: true when taken. */
bool util_rwlock_tryrdlock(struct util_rwlock *l);
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

static inline bool util_rwlock_tryrdlock(struct util_rwlock *l)
{
	return !pthread_rwlock_tryrdlock(&l->l);
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
