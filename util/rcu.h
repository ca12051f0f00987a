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

void util_rcu_read_lock(void);
void util_rcu_read_unlock(void);
/* Waits until every read section that began before the call has ended. */
void util_rcu_synchronize(void);
/* True when the calling thread is inside a read section. */
bool util_rcu_in_read_section(void);

#endif
