/* SPDX-License-Identifier: MIT */
/*
 * The registry's nodes come from a pool per mm: chunks of 2 MiB, advised
 * to be backed by one transparent huge page each, cut into nodes.
 *
 * Why a pool: a lookup touches one node per level, and with thousands of
 * regions the leaves it lands in are spread over hundreds of 4 KiB pages,
 * each a TLB miss when the lookups jump around (DPDK's MAP requests, the
 * 10,000-region lookup of bench_mmreg).  A node from malloc straddles two
 * pages besides.  Nodes packed into 2 MiB chunks cost one TLB entry per
 * 510 nodes when the kernel grants the huge page, and are no worse than
 * malloc's when it does not.
 *
 * A node leaves the pool empty (every slot 0) and comes back empty: a
 * retired node has had all its slots cleared, an unused one was never
 * written.  Retired nodes come back only after the grace period that
 * follows their unlinking (mmreg_region_put), so no reader can be in one
 * when it is reused.  Chunks are kept until the mm goes: the pool is as
 * large as the registry ever was (2 MiB per 510 nodes, one leaf per 2 MiB
 * of registered address space).
 *
 * Every node taken is a fault point (mmreg_node_alloc), whether or not a
 * chunk is allocated for it: fail-nth sweeps then fail each node an insert
 * needs, whatever the pool holds.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mmreg/mmreg_priv.h"
#include "util/fail.h"

#define CHUNK_BYTES (2u << 20)
#define CHUNK_NODES (CHUNK_BYTES / sizeof(struct mmreg_node))

struct mmreg_chunk {
	struct mmreg_chunk *next;
	void *base;
};

/* A new chunk's nodes onto the free list.  Under mm->lock. */
static int chunk_add(struct mmreg_mm *mm)
{
	struct mmreg_chunk *c = malloc(sizeof(*c));
	struct mmreg_node *n;

	if (!c)
		return -ENOMEM;
	c->base = aligned_alloc(CHUNK_BYTES, CHUNK_BYTES);
	if (!c->base) {
		free(c);
		return -ENOMEM;
	}
	/* Best effort: without a huge page the chunk still works. */
	madvise(c->base, CHUNK_BYTES, MADV_HUGEPAGE);
	memset(c->base, 0, CHUNK_BYTES);
	c->next = mm->chunks;
	mm->chunks = c;
	n = c->base;
	for (size_t i = 0; i < CHUNK_NODES; i++) {
		n[i].next = mm->free_nodes;
		mm->free_nodes = &n[i];
	}
	mm->nfree += CHUNK_NODES;
	return 0;
}

#ifdef SPAPRTCE_DEBUG
/*
 * Test builds: a node enters and leaves the pool empty (every slot 0, and
 * count 0 when it leaves), as the essay says.  Checked at each crossing
 * rather than by mmreg_mm_check walking the whole pool (registry.c,
 * check_pool).
 */
static void node_check_empty(const struct mmreg_node *n, bool leaving)
{
	const char *when = leaving ? "leaves" : "enters";

	if (leaving && n->count) {	/* put sets the count itself */
		fprintf(stderr, "mmreg: a node leaves the pool with count %u\n", n->count);
		abort();
	}
	for (unsigned i = 0; i < MMREG_NODE_SLOTS; i++) {
		if (n->slot[i]) {
			fprintf(stderr, "mmreg: a node %s the pool with slot %u used\n", when, i);
			abort();
		}
	}
}
#else
static inline void node_check_empty(const struct mmreg_node *n, bool leaving)
{
	(void)n;
	(void)leaving;
}
#endif

/* An empty node (level unset), or -ENOMEM.  Under mm->lock. */
int mmreg__node_get(struct mmreg_mm *mm, struct mmreg_node **out)
{
	struct mmreg_node *n;

	if (util_should_fail("mmreg_node_alloc"))
		return -ENOMEM;
	if (!mm->free_nodes && chunk_add(mm))
		return -ENOMEM;
	n = mm->free_nodes;
	node_check_empty(n, true);
	mm->free_nodes = n->next;
	mm->nfree--;
	n->next = NULL;
	*out = n;
	return 0;
}

/*
 * Gives the nodes of @list (linked by ->next, every slot 0) back to the
 * pool: nodes never published, or retired ones after their grace period.
 * Under mm->lock.  Never fails.
 */
void mmreg__nodes_put(struct mmreg_mm *mm, struct mmreg_node *list)
{
	while (list) {
		struct mmreg_node *next = list->next;

		node_check_empty(list, false);
		list->count = 0;
		list->next = mm->free_nodes;
		mm->free_nodes = list;
		mm->nfree++;
		list = next;
	}
}

/* Frees every chunk.  Only when nobody can reach the mm. */
void mmreg__nodes_destroy(struct mmreg_mm *mm)
{
	while (mm->chunks) {
		struct mmreg_chunk *c = mm->chunks;

		mm->chunks = c->next;
		free(c->base);
		free(c);
	}
	mm->free_nodes = NULL;
	mm->nfree = 0;
}

/* Nodes in the pool's chunks, for mmreg_mm_check: used + free. */
uint64_t mmreg__nodes_capacity(const struct mmreg_mm *mm)
{
	uint64_t n = 0;

	for (const struct mmreg_chunk *c = mm->chunks; c; c = c->next)
		n += CHUNK_NODES;
	return n;
}
