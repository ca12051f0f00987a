/* SPDX-License-Identifier: MIT */
/*
 * The level walk (the kernel's pnv_tce): index bits [(K - d) * S, (K - d + 1) * S) pick
 * the slot at depth d, the low S bits the leaf slot.  Missing levels are
 * allocated on demand and published with a compare-and-exchange against 0,
 * so two writers racing for the same level end up sharing one block (the
 * kernel's v5.4 fix of a lost-level race); freeing walks the same tree.
 */
#include <errno.h>
#include <stdlib.h>

#include "tce/tce_priv.h"
#include "util/fail.h"

static void leaf_push(struct tce_table *t, struct tce__leaf *leaf)
{
	leaf->next = __atomic_load_n(&t->leaves, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(&t->leaves, &leaf->next, leaf, true, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED))
		;
	__atomic_fetch_add(&t->nleaves, 1, __ATOMIC_RELAXED);
}

/*
 * Allocates a block for depth @depth and publishes it in @slot.  The block
 * must be zeroed before it becomes reachable: emu hands out zeroed blocks,
 * and the release half of the exchange orders those zeroes before the
 * pointer for every reader that loads the slot with acquire.  A hardware
 * leaf also gets a leaf list node, and its shadow twin is allocated first,
 * so a listed hardware leaf always has one.
 */
static int install(struct tce_table *t, enum tce__tree_id tree, unsigned depth, uint64_t idx,
		   uint64_t *slot, uint64_t *raw)
{
	struct tce__leaf *leaf = NULL;
	uint64_t hpa, expected = 0, val;
	void *hva;
	int rc;

	if (tree == TCE__HW && depth == t->geo.it_indirect_levels) {
		if (util_should_fail("tce_leaf_node"))
			return -ENOMEM;
		leaf = malloc(sizeof(*leaf));
		if (!leaf)
			return -ENOMEM;
		leaf->slot = slot;
		leaf->base = idx & ~t->level_mask;
		rc = tce__walk(t, TCE__SHADOW, idx, true, &leaf->shadow);
		if (rc)
			goto err_free_leaf;
	}
	rc = emu_mem_table_alloc(t->node, t->block_bytes, &hva, &hpa);
	if (rc)
		goto err_free_leaf;
	/*
	 * Listed before it is published: a clear that can see an entry written
	 * into this block must also find the block in the list.
	 */
	if (leaf)
		leaf_push(t, leaf);
	val = htobe64(hpa | TCE_PCI_RW);
	if (__atomic_compare_exchange_n(slot, &expected, val, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		__atomic_fetch_add(&t->tree[tree].blocks[depth], 1, __ATOMIC_RELAXED);
		*raw = val;
		return 0;
	}
	/* Another writer installed this level first: use theirs. */
	emu_mem_table_free(hva, t->block_bytes);
	__atomic_fetch_add(&t->install_races, 1, __ATOMIC_RELAXED);
	*raw = expected;
	return 0;

err_free_leaf:
	free(leaf);
	return rc;
}

int tce__walk(struct tce_table *t, enum tce__tree_id tree, uint64_t idx, bool alloc,
	      uint64_t **leaf)
{
	uint64_t *blk = t->tree[tree].top;
	unsigned k = t->geo.it_indirect_levels, d;
	int rc;

	for (d = 0; d < k; d++) {
		uint64_t *slot = &blk[(idx >> tce__depth_shift(t, d)) & t->level_mask];
		uint64_t raw = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

		if (!raw) {
			if (!alloc) {
				*leaf = NULL;
				return 0;
			}
			rc = install(t, tree, d + 1, idx, slot, &raw);
			if (rc) {
				*leaf = NULL;
				return rc;
			}
		}
		blk = tce__child(raw);
	}
	*leaf = blk;
	return 0;
}

uint64_t *tce__walk_ro(const struct tce_table *t, enum tce__tree_id tree, uint64_t idx)
{
	uint64_t *leaf;

	/* Without allocation the walk writes nothing, so the cast is safe. */
	tce__walk((struct tce_table *)t, tree, idx, false, &leaf);
	return leaf;
}

static void free_block(struct tce_table *t, uint64_t *blk, unsigned depth)
{
	uint64_t j;

	if (depth < t->geo.it_indirect_levels) {
		for (j = 0; j <= t->level_mask; j++) {
			uint64_t raw = __atomic_load_n(&blk[j], __ATOMIC_ACQUIRE);

			if (raw)
				free_block(t, tce__child(raw), depth + 1);
		}
	}
	emu_mem_table_free(blk, t->block_bytes);
}

void tce__tree_free(struct tce_table *t, enum tce__tree_id tree)
{
	free_block(t, t->tree[tree].top, 0);
	t->tree[tree].top = NULL;
}

void tce__leaves_free(struct tce_table *t)
{
	struct tce__leaf *leaf = t->leaves, *next;

	for (; leaf; leaf = next) {
		next = leaf->next;
		free(leaf);
	}
	t->leaves = NULL;
	t->nleaves = 0;
}
