/* SPDX-License-Identifier: MIT */
/*
 * dropin/fork.c: the layer's locks across fork().
 *
 * A program under the layer may fork while another of its threads is inside
 * a hook holding one of the layer's mutexes (a handle's dup or close, a
 * device read at the file position, the trace, the tree being built); the
 * child, which has only the forking thread, would then block on its first
 * use of that mutex for ever.  So the forking thread takes all four before
 * fork() and releases them after it in both processes, as the library does
 * with its own global locks (util/lock.h's fork registry, docs/processes.md).
 *
 * Order: tree_lock and pos_lock are held while the library runs, so they
 * come before the library's locks, and the layer's handler is registered
 * from its constructor, after libspaprtce.so's (a dependency's constructors
 * run first): pthread_atfork runs prepare handlers in the reverse order of
 * their registration, so the layer's prepare runs first.  trace_lock and
 * table_lock are leaves.
 */
#include <pthread.h>

#include "dropin/dropin.h"

static pthread_mutex_t *const fork_locks[] = {
	&dropin__tree_lock, &dropin__pos_lock, &dropin__trace_lock, &dropin__table_lock,
};
#define NLOCKS (sizeof(fork_locks) / sizeof(fork_locks[0]))

static void fork_prepare(void)
{
	for (size_t i = 0; i < NLOCKS; i++)
		pthread_mutex_lock(fork_locks[i]);
}

static void fork_release(void)
{
	for (size_t i = NLOCKS; i-- > 0;)
		pthread_mutex_unlock(fork_locks[i]);
}

__attribute__((constructor)) static void fork_register(void)
{
	pthread_atfork(fork_prepare, fork_release, fork_release);
}
