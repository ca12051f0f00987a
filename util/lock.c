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
 *
 * The rwlock (util/lock.h "rwlock") is here, in both builds, but for the
 * common read lock and unlock, inline in util/lock.h (same slots, same
 * stores and loads, same order: the proof below covers both).  Each thread's
 * record (struct rw_reader, util/lock.h's util__rw_reader) holds the rwlocks it reads, one per slot, with
 * a depth for recursive holds; the records are linked in a registry that a
 * writer scans.  Why it is correct: a reader stores its slot, then reads
 * the writer flag; a writer stores the flag, then (after the asymmetric
 * barrier, or because the reader's store was an exchange) reads the slots.
 * With a full barrier between each one's store and read, at least one sees
 * the other: the reader backs off, or the writer waits.  Happens-before
 * for the data: the reader's slot is cleared with a release store and the
 * writer reads it with acquire; the writer's flag is cleared with release
 * and readers read it with acquire; holds beyond the slots use an atomic
 * counter in the lock (release and acquire as well).  Which thread writes
 * is recorded in the lock (owner), so an unlock knows its side.
 *
 * Fork: the registry's mutex is held across fork() (rank
 * UTIL_RANK_RWLOCK_READERS, a leaf); in the child only the forking
 * thread's record stays (the others describe threads that do not exist
 * there, and may name locks they will never release), and the asymmetric
 * barrier is registered again.
 */
#include <linux/membarrier.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/lock.h"

/* ---------------------------------------------------------------- asym */

bool util__asym;
static pthread_once_t asym_once = PTHREAD_ONCE_INIT;

/* Registers the process for expedited membarrier: true when writers may use it. */
static bool asym_register(void)
{
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	return cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	       syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

static void asym_decide(void)
{
	const char *e = getenv("SPAPRTCE_NO_MEMBARRIER");	/* tests: the fallback */

	__atomic_store_n(&util__asym, !(e && *e == '1') && asym_register(), __ATOMIC_RELAXED);
}

void util_asym_init(void)
{
	pthread_once(&asym_once, asym_decide);
}

void util_asym_barrier(void)
{
	/* Cannot fail once registered (the process's own membership). */
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0))
		abort();
}

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
	/* One thread: no reader runs while the flavour is decided again. */
	if (__atomic_load_n(&util__asym, __ATOMIC_RELAXED))
		__atomic_store_n(&util__asym, asym_register(), __ATOMIC_RELAXED);
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

/* -------------------------------------------------------------- rwlock */

/* util/lock.h's, whose common read side is inline (next: under rw_registry_lock). */
#define rw_reader util__rw_reader
#define rw_self util__rw_self

static pthread_mutex_t rw_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rw_reader *rw_readers;
static pthread_key_t rw_key;
static pthread_once_t rw_key_once = PTHREAD_ONCE_INIT;
__thread struct rw_reader *rw_self __attribute__((tls_model("initial-exec")));
static __thread struct rw_reader rw_self_static;	/* when the record cannot be allocated */

static void rw_unregister(void *arg)
{
	struct rw_reader *r = arg;

	pthread_mutex_lock(&rw_registry_lock);
	*r->pprev = r->next;
	if (r->next)
		r->next->pprev = r->pprev;
	pthread_mutex_unlock(&rw_registry_lock);
	if (r != &rw_self_static)
		free(r);
}

static void rw_atfork_child(void)
{
	rw_readers = rw_self;
	if (rw_self) {
		rw_self->next = NULL;
		rw_self->pprev = &rw_readers;
	}
}

UTIL_FORK_LOCK(rw_fork, .rank = UTIL_RANK_RWLOCK_READERS, .name = "rwlock readers",
	       .mutex = &rw_registry_lock, .child = rw_atfork_child)

static void rw_make_key(void)
{
	if (pthread_key_create(&rw_key, rw_unregister))
		abort();
	util_asym_init();
}

static struct rw_reader *rw_register(void)
{
	struct rw_reader *r;

	pthread_once(&rw_key_once, rw_make_key);
	r = calloc(1, sizeof(*r));
	if (!r)
		r = &rw_self_static;	/* the destructor runs before the thread's TLS goes */
	pthread_mutex_lock(&rw_registry_lock);
	r->next = rw_readers;
	if (rw_readers)
		rw_readers->pprev = &r->next;
	r->pprev = &rw_readers;
	rw_readers = r;
	pthread_mutex_unlock(&rw_registry_lock);
	pthread_setspecific(rw_key, r);
	rw_self = r;
	return r;
}

static struct rw_reader *rw_me(void)
{
	return rw_self ? rw_self : rw_register();
}

void util__rw_init(struct util_rwlock *l)
{
	__atomic_store_n(&l->writer, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l->overflow, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l->owner, NULL, __ATOMIC_RELAXED);
	pthread_mutex_init(&l->wm, NULL);
	pthread_once(&rw_key_once, rw_make_key);
}

void util__rw_destroy(struct util_rwlock *l)
{
	pthread_mutex_destroy(&l->wm);
}

/*
 * One pass over @r's slots in use ([0, n): a thread holds one or two
 * rwlocks, so this is one or two loads): the one holding @l (returned),
 * else UTIL_RWLOCK_SLOTS with the first free one in *free
 * (UTIL_RWLOCK_SLOTS: none).
 */
static unsigned rw_find(const struct rw_reader *r, const struct util_rwlock *l, unsigned *free)
{
	*free = r->n < UTIL_RWLOCK_SLOTS ? r->n : UTIL_RWLOCK_SLOTS;
	for (unsigned i = 0; i < r->n; i++) {
		const struct util_rwlock *h = __atomic_load_n(&r->held[i], __ATOMIC_RELAXED);

		if (h == l)
			return i;
		if (!h && *free > i)
			*free = i;
	}
	return UTIL_RWLOCK_SLOTS;
}

/* Takes slot @i into use. */
static void rw_use(struct rw_reader *r, unsigned i)
{
	r->depth[i] = 1;
	if (i >= r->n)
		r->n = i + 1;
}

/* Slot @i was cleared: n shrinks past the free slots at its end. */
static void rw_unuse(struct rw_reader *r)
{
	while (r->n && !__atomic_load_n(&r->held[r->n - 1], __ATOMIC_RELAXED))
		r->n--;
}

/*
 * Publishes @l in @r's free slot @i and checks for a writer: true when
 * held.  False: no free slot, or a writer (the slot is given back).
 */
static bool rw_try_fast(struct rw_reader *r, struct util_rwlock *l, unsigned i)
{
	if (i == UTIL_RWLOCK_SLOTS)
		return false;
	rw_use(r, i);
	if (util_asym()) {
		__atomic_store_n(&r->held[i], l, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);	/* the writer's membarrier is the barrier */
	} else {
		(void)__atomic_exchange_n(&r->held[i], l, __ATOMIC_SEQ_CST);
	}
	if (!__atomic_load_n(&l->writer, __ATOMIC_ACQUIRE))
		return true;
	__atomic_store_n(&r->held[i], NULL, __ATOMIC_RELEASE);
	rw_unuse(r);
	return false;
}

/* Under l->wm (so no writer): a slot if one is free, else the overflow count. */
static void rw_read_unwritten(struct rw_reader *r, struct util_rwlock *l)
{
	unsigned i;

	rw_find(r, l, &i);	/* not held: the free slot */
	if (i < UTIL_RWLOCK_SLOTS) {
		rw_use(r, i);
		__atomic_store_n(&r->held[i], l, __ATOMIC_RELEASE);
	} else {
		__atomic_add_fetch(&l->overflow, 1, __ATOMIC_ACQ_REL);
	}
}

void util__rw_rdlock_slow(struct util_rwlock *l)
{
	struct rw_reader *r = rw_me();
	unsigned free, i = rw_find(r, l, &free);

	if (i < UTIL_RWLOCK_SLOTS) {
		r->depth[i]++;		/* held already: no wait, whatever writer waits */
		return;
	}
	if (rw_try_fast(r, l, free))
		return;
	pthread_mutex_lock(&l->wm);	/* a writer: wait for it to finish */
	rw_read_unwritten(r, l);
	pthread_mutex_unlock(&l->wm);
}

bool util__rw_tryrdlock(struct util_rwlock *l)
{
	struct rw_reader *r = rw_me();
	unsigned free, i = rw_find(r, l, &free);

	if (i < UTIL_RWLOCK_SLOTS) {
		r->depth[i]++;
		return true;
	}
	if (rw_try_fast(r, l, free))
		return true;
	if (pthread_mutex_trylock(&l->wm))
		return false;
	rw_read_unwritten(r, l);
	pthread_mutex_unlock(&l->wm);
	return true;
}

/* True while some thread holds @l for reading.  Under rw_registry_lock. */
static bool rw_read_held(const struct util_rwlock *l)
{
	if (__atomic_load_n(&l->overflow, __ATOMIC_ACQUIRE))
		return true;
	for (const struct rw_reader *r = rw_readers; r; r = r->next)
		for (unsigned i = 0; i < UTIL_RWLOCK_SLOTS; i++)
			if (__atomic_load_n(&r->held[i], __ATOMIC_ACQUIRE) == l)
				return true;
	return false;
}

void util__rw_wrlock(struct util_rwlock *l)
{
	struct rw_reader *me = rw_me();
	bool busy;

	pthread_mutex_lock(&l->wm);
	if (util_asym()) {
		__atomic_store_n(&l->writer, 1, __ATOMIC_RELAXED);
		util_asym_barrier();
	} else {
		(void)__atomic_exchange_n(&l->writer, 1, __ATOMIC_SEQ_CST);
	}
	for (;;) {
		pthread_mutex_lock(&rw_registry_lock);
		busy = rw_read_held(l);
		pthread_mutex_unlock(&rw_registry_lock);
		if (!busy)
			break;
		sched_yield();
	}
	__atomic_store_n(&l->owner, me, __ATOMIC_RELAXED);
}

void util__rw_unlock_slow(struct util_rwlock *l)
{
	struct rw_reader *r = rw_me();
	unsigned free, i = rw_find(r, l, &free);

	if (i < UTIL_RWLOCK_SLOTS) {
		if (!--r->depth[i]) {
			__atomic_store_n(&r->held[i], NULL, __ATOMIC_RELEASE);
			rw_unuse(r);
		}
	} else if (__atomic_load_n(&l->owner, __ATOMIC_RELAXED) == r) {
		__atomic_store_n(&l->owner, NULL, __ATOMIC_RELAXED);
		__atomic_store_n(&l->writer, 0, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&l->wm);
	} else {
		__atomic_sub_fetch(&l->overflow, 1, __ATOMIC_ACQ_REL);
	}
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

bool util_mutex_trylock(struct util_mutex *l)
{
	if (pthread_mutex_trylock(&l->m))
		return false;
	__atomic_store_n(&l->owner, pthread_self(), __ATOMIC_RELAXED);
	__atomic_store_n(&l->held, true, __ATOMIC_RELAXED);
	return true;
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
	util__rw_init(l);
	__atomic_store_n(&l->writing, false, __ATOMIC_RELAXED);
}

void util_rwlock_destroy(struct util_rwlock *l)
{
	util__rw_destroy(l);
}

void util_rwlock_rdlock(struct util_rwlock *l)
{
	util__rw_rdlock(l);
	if (read_n < UTIL_LOCK_READ_MAX)
		read_held[read_n] = l;
	read_n++;
}

bool util_rwlock_tryrdlock(struct util_rwlock *l)
{
	if (!util__rw_tryrdlock(l))
		return false;
	if (read_n < UTIL_LOCK_READ_MAX)
		read_held[read_n] = l;
	read_n++;
	return true;
}

void util_rwlock_wrlock(struct util_rwlock *l)
{
	util__rw_wrlock(l);
	__atomic_store_n(&l->writer_thread, pthread_self(), __ATOMIC_RELAXED);
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
	util__rw_unlock(l);
}

bool util_rwlock_wrheld(const struct util_rwlock *l)
{
	return __atomic_load_n(&l->writing, __ATOMIC_RELAXED) &&
	       pthread_equal(__atomic_load_n(&l->writer_thread, __ATOMIC_RELAXED), pthread_self());
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
