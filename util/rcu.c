/* SPDX-License-Identifier: MIT */
/*
 * Read-copy-update, memory-barrier flavour (see util/rcu.h).
 *
 * Why not liburcu: the project's run-time dependencies are libnuma and
 * nothing else, and this needs only the tiny subset below.
 *
 * Each thread owns one struct rcu_reader, linked into a global list on the
 * thread's first read lock and unlinked by a pthread key destructor at thread
 * exit.  reader->gp is 0 outside a section, else the grace-period number the
 * thread saw when it entered.  What orders a reader's accesses against the
 * writer's free is a full barrier between the reader's store of reader->gp
 * and its first read of shared data, matched by one in the writer between
 * its unlink and its reads of reader->gp: either the writer sees the
 * reader inside (and waits), or the reader sees the writer's unlink (and
 * cannot find the object).
 *
 * Where that barrier runs.  By default (the "asymmetric" flavour, as
 * liburcu's urcu-memb): the writer issues it on the readers' behalf with
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which makes every running
 * thread of the process execute a full barrier, so a reader's entry is a
 * plain store (a section costs 1.5 ns here instead of 6.7 to 7.5 with the
 * exchange; a request enters three sections, H_PUT_TCE two).  Either the
 * reader's store came before its thread's barrier (the writer, after
 * membarrier, sees it) or after it (its reads then see the unlink, which
 * preceded membarrier).  A grace period costs the system call (about 0.1 us alone, a few us when
 * other threads run: one interrupt per CPU running one of them); grace
 * periods are rare (UNREGISTER, a window's removal, a handle's close).
 * Where membarrier is missing or refused (a kernel before 4.14, a seccomp
 * filter), the reader executes the barrier itself: an atomic exchange, the
 * "memory-barrier" flavour.  The choice is util/lock.h's (util_asym), made
 * once before the first section, and again in a forked child (which has
 * one thread then).
 */
#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/lock.h"
#include "util/rcu.h"

/* util/rcu.h's, whose read side is inline. */
#define rcu_reader util__rcu_reader
#define rcu_gp util__rcu_gp
#define rcu_self util__rcu_self

uint64_t rcu_gp = 1;
static pthread_mutex_t rcu_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rcu_reader *rcu_readers;
static pthread_key_t rcu_key;
static pthread_once_t rcu_key_once = PTHREAD_ONCE_INIT;
/* Initial-exec: one load from the thread pointer, also in the shared library (8 bytes of static TLS). */
__thread struct rcu_reader *rcu_self __attribute__((tls_model("initial-exec")));

/* Used when a thread's reader record cannot be allocated: see rcu_register(). */
static __thread struct rcu_reader rcu_self_static;

static void rcu_unregister(void *arg)
{
	struct rcu_reader *r = arg;

	pthread_mutex_lock(&rcu_registry_lock);
	*r->pprev = r->next;
	if (r->next)
		r->next->pprev = r->pprev;
	pthread_mutex_unlock(&rcu_registry_lock);
	if (r != &rcu_self_static)
		free(r);
}

/*
 * The child has one thread: the other readers' records describe threads that
 * do not exist there and may be frozen inside a section, which would make
 * every synchronize in the child wait forever.  Keep only our own record.
 */
static void rcu_atfork_child(void)
{
	rcu_readers = rcu_self;
	if (rcu_self) {
		rcu_self->next = NULL;
		rcu_self->pprev = &rcu_readers;
	}
}

/* Held across fork() in its rank (util/lock.h): synchronize holds it while it waits. */
UTIL_FORK_LOCK(rcu_fork, .rank = UTIL_RANK_RCU, .name = "rcu registry",
	       .mutex = &rcu_registry_lock, .child = rcu_atfork_child)

static void rcu_make_key(void)
{
	if (pthread_key_create(&rcu_key, rcu_unregister))
		abort();
	util_asym_init();
}

static struct rcu_reader *rcu_register(void)
{
	struct rcu_reader *r;

	pthread_once(&rcu_key_once, rcu_make_key);
	/*
	 * Read locks cannot fail.  The thread-local fallback record is fine
	 * because the destructor runs before the thread's TLS is released.
	 */
	r = calloc(1, sizeof(*r));
	if (!r)
		r = &rcu_self_static;
	pthread_mutex_lock(&rcu_registry_lock);
	r->next = rcu_readers;
	if (rcu_readers)
		rcu_readers->pprev = &r->next;
	r->pprev = &rcu_readers;
	rcu_readers = r;
	pthread_mutex_unlock(&rcu_registry_lock);
	pthread_setspecific(rcu_key, r);
	rcu_self = r;
	return r;
}

void util__rcu_read_lock_slow(void)
{
	struct rcu_reader *r = rcu_self;

	if (!r)
		r = rcu_register();
	if (r->nesting++)
		return;
	if (util_asym()) {
		/* The writer's membarrier is the barrier; the compiler must not move reads above the store. */
		__atomic_store_n(&r->gp, __atomic_load_n(&rcu_gp, __ATOMIC_ACQUIRE), __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		return;
	}
	/*
	 * A read-modify-write, not a plain store: it must be visible before any
	 * read of shared data (a full barrier on x86; ThreadSanitizer accepts
	 * it where it rejects a standalone fence).
	 */
	__atomic_exchange_n(&r->gp, __atomic_load_n(&rcu_gp, __ATOMIC_RELAXED), __ATOMIC_SEQ_CST);
}

bool util_rcu_in_read_section(void)
{
	return rcu_self && rcu_self->nesting;
}

void util_rcu_synchronize(void)
{
	struct rcu_reader *r;
	uint64_t gp;

	assert(!util_rcu_in_read_section());
	pthread_once(&rcu_key_once, rcu_make_key);
	pthread_mutex_lock(&rcu_registry_lock);
	gp = __atomic_add_fetch(&rcu_gp, 1, __ATOMIC_SEQ_CST);
	/* The readers' barrier (see the top). */
	if (util_asym())
		util_asym_barrier();
	for (r = rcu_readers; r; r = r->next) {
		for (;;) {
			uint64_t seen = __atomic_load_n(&r->gp, __ATOMIC_ACQUIRE);

			if (!seen || seen >= gp)
				break;
			sched_yield();
		}
	}
	pthread_mutex_unlock(&rcu_registry_lock);
}
