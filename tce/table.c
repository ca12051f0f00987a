/* SPDX-License-Identifier: MIT */
/*
 * Table creation, references and destruction (the kernel's iommu_tce_table_get,
 * _put), and accessors.
 * Creation allocates only the top block of each tree, and the written map
 * with the struct (tce_priv.h); lower blocks come from the walk and are
 * freed here, all at once, at the last put.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "tce/tce_priv.h"
#include "util/fail.h"
#include "util/range.h"

int tce_table_create(const struct tce_table_params *p, struct tce_table **out)
{
	struct tce_geometry geo;
	struct tce_table *t;
	uint64_t words;
	unsigned unit_shift;
	void *hva;
	int node, rc;

	rc = tce_geometry_calc(p, &geo);
	if (rc)
		return rc;
	node = (p->flags & TCE_TABLE_ON_NODE) ? p->node : emu_mem_node();
	if (!emu_mem_node_exists(node))
		return -EINVAL;
	if (util_should_fail("tce_table_create"))
		return -ENOMEM;
	/* The written map comes with the struct: at most 32 KiB, no failure point of its own. */
	words = tce__written_words(geo.it_size, &unit_shift);
	t = calloc(1, sizeof(*t) + words * sizeof(t->written[0]));
	if (!t)
		return -ENOMEM;
	t->unit_shift = unit_shift;
	t->nunits = ((geo.it_size - 1) >> unit_shift) + 1;
	t->geo = geo;
	t->level_bits = geo.level_shift - 3;
	t->level_mask = geo.it_level_size - 1;
	t->block_bytes = 1ull << geo.level_shift;
	t->node = node;
	t->flags = p->flags;
	t->kill = p->kill;
	t->kill_ctx = p->kill_ctx;

	rc = emu_mem_table_alloc(node, t->block_bytes, &hva, &t->tree[TCE__HW].top_hpa);
	if (rc)
		goto err_free_table;
	t->tree[TCE__HW].top = hva;
	t->tree[TCE__HW].blocks[0] = 1;
	rc = emu_mem_table_alloc(node, t->block_bytes, &hva, &t->tree[TCE__SHADOW].top_hpa);
	if (rc)
		goto err_free_hw_top;
	t->tree[TCE__SHADOW].top = hva;
	t->tree[TCE__SHADOW].blocks[0] = 1;
	t->refs = 1;
	*out = t;
	return 0;

err_free_hw_top:
	emu_mem_table_free(t->tree[TCE__HW].top, t->block_bytes);
err_free_table:
	free(t);
	return rc;
}

int tce_table_get(struct tce_table *t)
{
	uint64_t refs = __atomic_load_n(&t->refs, __ATOMIC_RELAXED);

	do {
		if (!refs)
			return -ENOENT;
	} while (!__atomic_compare_exchange_n(&t->refs, &refs, refs + 1, true, __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	return 0;
}

static void destroy(struct tce_table *t)
{
	tce__tree_free(t, TCE__HW);
	tce__tree_free(t, TCE__SHADOW);
	tce__leaves_free(t);
	free(t);
}

void tce_table_put(struct tce_table *t)
{
	uint64_t refs = __atomic_fetch_sub(&t->refs, 1, __ATOMIC_ACQ_REL);

	if (refs == 1) {
		destroy(t);
		return;
	}
#ifdef SPAPRTCE_DEBUG
	if (!refs) {
		fprintf(stderr, "tce_table_put: table %p has no reference left\n", (void *)t);
		abort();
	}
#endif
}

const struct tce_geometry *tce_table_geometry(const struct tce_table *t)
{
	return &t->geo;
}

uint64_t tce_table_hpa(const struct tce_table *t)
{
	return t->tree[TCE__HW].top_hpa;
}

int tce_table_node(const struct tce_table *t)
{
	return t->node;
}

bool tce_table_contains(const struct tce_table *t, uint64_t entry)
{
	return entry >= t->geo.it_offset && entry - t->geo.it_offset < t->geo.it_size;
}

int tce__run_index(const struct tce_table *t, uint64_t entry, uint64_t npages,
		   uint64_t *first_idx)
{
	uint64_t end;

	if (!npages || entry < t->geo.it_offset || !util_range_end(entry, npages, &end) ||
	    end - t->geo.it_offset > t->geo.it_size)
		return -EINVAL;
	*first_idx = entry - t->geo.it_offset;
	return 0;
}

void tce_table_get_stats(const struct tce_table *t, struct tce_table_stats *st)
{
	unsigned d, i;

	st->refs = __atomic_load_n(&t->refs, __ATOMIC_RELAXED);
	st->hw_blocks = st->shadow_blocks = 0;
	st->block_bytes = t->block_bytes;
	st->leaf_nodes = __atomic_load_n(&t->nleaves, __ATOMIC_RELAXED);
	st->install_races = __atomic_load_n(&t->install_races, __ATOMIC_RELAXED);
	st->unit_entries = 1ull << t->unit_shift;
	st->written_units = 0;
	for (uint64_t w = 0; w < (t->nunits + 63) / 64; w++)
		st->written_units += (uint64_t)__builtin_popcountll(
			__atomic_load_n(&t->written[w], __ATOMIC_RELAXED));
	for (d = 0; d < TCE_LEVELS_MAX; d++) {
		uint64_t *c[TCE__NTREES] = { &st->hw_level_blocks[d], &st->shadow_level_blocks[d] };

		for (i = 0; i < TCE__NTREES; i++)
			*c[i] = __atomic_load_n(&t->tree[i].blocks[d], __ATOMIC_RELAXED);
		st->hw_blocks += st->hw_level_blocks[d];
		st->shadow_blocks += st->shadow_level_blocks[d];
	}
}
