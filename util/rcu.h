/* SPDX-License-Identifier: MIT */
/*
 * util/rcu.h: a small read-copy-update for lockless readers.
 *
 * Concepts
 *   Readers bracket their access with util_rcu_read_lock()/unlock() and take
 *   no lock; sections nest.  A writer that unlinks an object calls
 *   util_rcu_synchronize() before freeing it: synchronize returns only once
 *   every reader that could have seen the object has left its section.  This
 *   is the guarantee the kernel's mm_iommu gets from RCU (docs/mmreg.md, race 2).
 *
 *   Implementation ("memory-barrier" flavour): a global grace-period counter;
 *   each reading thread publishes, on entry to its outermost section, the
 *   counter value it saw; synchronize bumps the counter and waits until each
 *   registered thread is outside any section or has entered after the bump.
 *   Threads register themselves on their first read lock and unregister at
 *   thread exit.
 *
 * Rules
 *   - Never call util_rcu_synchronize() inside a read section (it would wait
 *     for itself); debug builds assert this.
 *   - Readers must not block for long inside a section: writers wait for them.
 *
 * Lock order: the registry lock of this file is a leaf; synchronize takes it
 * and may be called with any other lock of the tree held, as long as no
 * reader blocks on that lock inside a section.
 */
#ifndef SPAPRTCE_UTIL_RCU_H
#define SPAPRTCE_UTIL_RCU_H

#include <stdbool.h>
#include <stdint.h>

#include "util/lock.h"

/*
 * Each thread's reader record (util/rcu.c); the read side below is inline,
 * so that a section costs a few instructions where the calls cost half
 * again as much (a one-page MAP_DMA enters three).
 */
struct util__rcu_reader {
	uint64_t gp;			/* atomic; 0: quiescent */
	unsigned nesting;		/* owner thread only */
	struct util__rcu_reader *next;	/* under the registry lock */
	struct util__rcu_reader **pprev;
};

extern __thread struct util__rcu_reader *util__rcu_self __attribute__((tls_model("initial-exec")));
extern uint64_t util__rcu_gp;	/* atomic; never 0 */

/* The read lock's other cases: the thread's first section, no membarrier, nesting. */
void util__rcu_read_lock_slow(void);

static inline void util_rcu_read_lock(void)
{
	struct util__rcu_reader *r = util__rcu_self;

	if (__builtin_expect(r && !r->nesting && util_asym(), 1)) {
		r->nesting = 1;
		/* The writer's membarrier is the barrier; the compiler must not move reads above the store. */
		__atomic_store_n(&r->gp, __atomic_load_n(&util__rcu_gp, __ATOMIC_ACQUIRE), __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		return;
	}
	util__rcu_read_lock_slow();
}

static inline void util_rcu_read_unlock(void)
{
	struct util__rcu_reader *r = util__rcu_self;

	if (--r->nesting)
		return;
	__atomic_store_n(&r->gp, 0, __ATOMIC_RELEASE);
}

/* Waits until every read section that began before the call has ended. */
void util_rcu_synchronize(void);
/* True when the calling thread is inside a read section. */
bool util_rcu_in_read_section(void);

#endif
