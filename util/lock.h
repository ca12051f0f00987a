/* SPDX-License-Identifier: MIT */
/*
 * util/lock.h: mutexes and rwlocks that know who holds them, in debug and
 * test builds.
 *
 * Concepts
 *   lock      struct util_mutex (a pthread mutex) / struct util_rwlock
 *             (below).  In builds with SPAPRTCE_DEBUG (the test objects) it
 *             also records its holders: the owner thread of a mutex or of a
 *             write lock, and, per thread, the rwlocks it holds for reading.
 *             In release builds a mutex is the pthread mutex alone and every
 *             call is the pthread call, inlined: no field, no store, no
 *             branch more; an rwlock call is the util__rw_* call.
 *   rwlock   struct util_rwlock is not pthread's: its read side is made for
 *             the request paths, which take one or two of them per call
 *             (a container's group_lock, a guest's lock) and almost never
 *             meet a writer.  Each thread has a record of the rwlocks it
 *             holds for reading (UTIL_RWLOCK_SLOTS slots, in a registry of
 *             threads); a reader writes the lock's address into a free slot
 *             and then reads the lock's writer flag: no atomic
 *             read-modify-write, no shared cache line written.  A writer
 *             takes the lock's mutex, sets the flag, makes every thread's
 *             slot stores visible (util_asym_barrier) and waits, yielding,
 *             until no slot names the lock.  A reader that finds the flag
 *             set takes its slot back and waits on the mutex, so writers
 *             are not starved.  A thread that already holds the lock for
 *             reading takes it again without looking at the flag (no
 *             deadlock against a waiting writer, as with glibc's default
 *             rwlock).  Read holds beyond the slots are counted in the lock
 *             (an atomic, as pthread's) and must not be taken recursively.
 *             The common case is inline (util__rw_rdlock, util__rw_unlock
 *             below): a thread holding at most one other rwlock takes the
 *             next slot, and an unlock clears the last slot in use; the
 *             rest (the thread's first lock, recursion, a third lock, a
 *             writer met, the fallback without membarrier) is out of line
 *             in util/lock.c.  A read pair costs 1.5 ns here, two nested
 *             pairs (the guest's lock, then a container's group_lock: an
 *             H_PUT_TCE) 3.3-3.7 ns; out of line they cost 4.3 and 11-15,
 *             glibc's pair 14.8 (9.8 without membarrier).  A write costs a
 *             system call.  Write holds are not recursive; a writer must not
 *             take the lock for reading.
 *   asym     util_asym(): whether the asymmetric barrier is available
 *             (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), Linux 4.14);
 *             without it the read side's store is an atomic exchange (a
 *             full barrier) instead.  util/rcu.c's read side uses the same.
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
 *   a global pthread rwlock across fork (emu's endpoints': util_rwlocks
 *             are per-object, never held across fork): held for reading,
 *             which excludes every writer.  A
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
#include <stdint.h>

#define UTIL_LOCK_READ_MAX 16u
#define UTIL_RWLOCK_SLOTS 16u

struct util_mutex {
	pthread_mutex_t m;
#ifdef SPAPRTCE_DEBUG
	pthread_t owner;	/* valid while held */
	bool held;		/* atomic */
#endif
};

struct util_rwlock {
	int writer;		/* atomic: a writer holds the lock or waits for its readers */
	uint64_t overflow;	/* atomic: read holds beyond a thread's slots */
	const void *owner;	/* atomic: the writing thread's reader record */
	pthread_mutex_t wm;	/* writers; readers that meet one wait here */
#ifdef SPAPRTCE_DEBUG
	pthread_t writer_thread;	/* valid while writing */
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
	UTIL_RANK_RWLOCK_READERS = 110,	/* util/lock.c: the rwlocks' registry of threads (a leaf) */
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

/* Whether writers make readers' stores visible with util_asym_barrier (see asym above). */
extern bool util__asym;

/* Decides util_asym() once (idempotent); done before the first read side of rcu or an rwlock. */
void util_asym_init(void);

static inline bool util_asym(void)
{
	return __atomic_load_n(&util__asym, __ATOMIC_RELAXED);
}

/* Every running thread of the process executes a full barrier.  Only when util_asym(). */
void util_asym_barrier(void);

/* The rwlock itself (util/lock.c); the util_rwlock_* calls below wrap them. */
void util__rw_init(struct util_rwlock *l);
void util__rw_destroy(struct util_rwlock *l);
/* Every case of a read lock or an unlock; util__rw_rdlock/unlock below are their common one. */
void util__rw_rdlock_slow(struct util_rwlock *l);
void util__rw_unlock_slow(struct util_rwlock *l);
bool util__rw_tryrdlock(struct util_rwlock *l);
void util__rw_wrlock(struct util_rwlock *l);

/*
 * Each thread's record of the rwlocks it holds for reading (util/lock.c:
 * the registry, the slow paths, the writer's scan).  Slots >= n are free
 * and slot n - 1, if any, is in use (n shrinks past free slots at its end).
 */
struct util__rw_reader {
	struct util_rwlock *held[UTIL_RWLOCK_SLOTS];	/* atomic: written by the owner, read by writers */
	unsigned depth[UTIL_RWLOCK_SLOTS];		/* owner only: recursive holds */
	unsigned n;					/* owner only */
	struct util__rw_reader *next;			/* under the registry's lock */
	struct util__rw_reader **pprev;
};

/* Initial-exec: one load from the thread pointer, also in the shared library. */
extern __thread struct util__rw_reader *util__rw_self __attribute__((tls_model("initial-exec")));

/*
 * The read lock's common case, inline: a registered thread holding at most
 * one other rwlock for reading (a request holds one or two: the guest's
 * lock, a container's group_lock), with the asymmetric barrier.  It takes
 * the next slot (n) as the slow path's rw_try_fast does: the slot's store,
 * then the writer flag's load, with the writer's membarrier between them.
 * A writer met gives the slot back and leaves the rest to the slow path
 * (which looks again, then waits on the lock's mutex); so do a thread's
 * first read lock (its record is made there), a recursive hold, a third
 * rwlock and the fallback without membarrier (an atomic exchange).
 */
static inline void util__rw_rdlock(struct util_rwlock *l)
{
	struct util__rw_reader *r = util__rw_self;
	unsigned n;

	if (__builtin_expect(r && r->n < 2 && util_asym(), 1)) {
		n = r->n;
		if (!n || __atomic_load_n(&r->held[0], __ATOMIC_RELAXED) != l) {
			r->depth[n] = 1;
			r->n = n + 1;
			__atomic_store_n(&r->held[n], l, __ATOMIC_RELAXED);
			__atomic_signal_fence(__ATOMIC_SEQ_CST);	/* the writer's membarrier is the barrier */
			if (__builtin_expect(!__atomic_load_n(&l->writer, __ATOMIC_ACQUIRE), 1))
				return;
			__atomic_store_n(&r->held[n], NULL, __ATOMIC_RELEASE);
			r->n = n;
		}
	}
	util__rw_rdlock_slow(l);
}

/*
 * The unlock's common case, inline: the thread's last slot in use holds @l
 * once (locks are released in the reverse order of their taking).  The
 * slot is cleared with a release store, as the slow path does, in both
 * flavours; n shrinks past the free slots below it.  A recursive hold, a
 * hold in another slot or in the overflow count, and a write hold are the
 * slow path's.
 */
static inline void util__rw_unlock(struct util_rwlock *l)
{
	struct util__rw_reader *r = util__rw_self;
	unsigned n = r ? r->n : 0;

	if (__builtin_expect(n && __atomic_load_n(&r->held[n - 1], __ATOMIC_RELAXED) == l &&
				     r->depth[n - 1] == 1,
			     1)) {
		__atomic_store_n(&r->held[n - 1], NULL, __ATOMIC_RELEASE);
		while (--n && !__atomic_load_n(&r->held[n - 1], __ATOMIC_RELAXED))
			;
		r->n = n;
		return;
	}
	util__rw_unlock_slow(l);
}

#ifdef SPAPRTCE_DEBUG

void util_mutex_init(struct util_mutex *l);
void util_mutex_destroy(struct util_mutex *l);
void util_mutex_lock(struct util_mutex *l);
/* Takes @l if that needs no wait: true when taken. */
bool util_mutex_trylock(struct util_mutex *l);
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

static inline bool util_mutex_trylock(struct util_mutex *l)
{
	return !pthread_mutex_trylock(&l->m);
}

static inline void util_mutex_unlock(struct util_mutex *l)
{
	pthread_mutex_unlock(&l->m);
}

static inline void util_rwlock_init(struct util_rwlock *l)
{
	util__rw_init(l);
}

static inline void util_rwlock_destroy(struct util_rwlock *l)
{
	util__rw_destroy(l);
}

static inline void util_rwlock_rdlock(struct util_rwlock *l)
{
	util__rw_rdlock(l);
}

static inline bool util_rwlock_tryrdlock(struct util_rwlock *l)
{
	return util__rw_tryrdlock(l);
}

static inline void util_rwlock_wrlock(struct util_rwlock *l)
{
	util__rw_wrlock(l);
}

static inline void util_rwlock_unlock(struct util_rwlock *l)
{
	util__rw_unlock(l);
}

#define util_mutex_assert_held(l) ((void)0)
#define util_rwlock_assert_held(l) ((void)0)
#define util_rwlock_assert_wrheld(l) ((void)0)

#endif

#endif
