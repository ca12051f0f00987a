/* SPDX-License-Identifier: MIT */
/*
 * tce/tce_priv.h: internals shared by the files of tce/.  Other layers use
 * tce/tce.h.
 *
 * Raw entries are uint64_t words holding big-endian values; every access to
 * a live table word goes through an __atomic builtin, since the hardware
 * walker and lockless writers read them concurrently.
 */
#ifndef SPAPRTCE_TCE_PRIV_H
#define SPAPRTCE_TCE_PRIV_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>

#include "emu/mem.h"
#include "tce/tce.h"

enum tce__tree_id {
	TCE__HW = 0,
	TCE__SHADOW = 1,
	TCE__NTREES
};

struct tce__tree {
	uint64_t *top;			/* hva of the top block */
	uint64_t top_hpa;
	uint64_t blocks[TCE_LEVELS_MAX];	/* installed blocks per depth (0 = top); atomic */
};

/*
 * A hardware leaf block, for the bulk clear of sparse tables: the clear can
 * visit the leaf blocks that exist instead of descending through every
 * upper block.  Blocks live as long as the table, so a node can point at
 * its block's parent entry and at its shadow twin, which installing a
 * hardware leaf allocates first; the clear then needs no walk.  Nodes are pushed (lock-free) before their block is
 * published in the tree and never removed until destroy; a writer that lost
 * the installation race leaves a duplicate node behind, which costs a second
 * scan of an already cleared block.  Multi-level tables only.
 */
struct tce__leaf {
	struct tce__leaf *next;
	uint64_t *slot;			/* the parent's entry for this block */
	uint64_t *shadow;		/* the shadow twin (allocated first) */
	uint64_t base;			/* index of the block's first entry */
};

/*
 * The written map: one bit per unit of 2^unit_shift consecutive indexes,
 * set before the first valid entry is stored in the unit and never cleared
 * until the table is destroyed, so it is a superset of the units that hold
 * valid entries (invariant T6).  The bulk clear and the release skip the
 * units whose bit is clear: a window's release costs what was ever mapped
 * in it, not its size, even when the leaf blocks are large (a 1-level 2 GiB
 * window of 4 KiB pages is one 4 MiB block; untouched, its pages are never
 * even faulted in).  A unit is at least one system page of a leaf block
 * (512 entries: the granularity of page faults) and grows for very large
 * tables so that the map has at most 2^TCE__WRITTEN_BITS bits (32 KiB);
 * there the leaf blocks are many and small, and the walk and the leaf list
 * skip what is missing anyway.  The map lives in the table's own allocation
 * (no failure point of its own).
 *
 * Marking: a bit is set (atomic OR, only when a plain load finds it clear)
 * before the entry is stored.  Relaxed is enough: a clear that must see the
 * entry is ordered after its store by the caller's synchronisation, and the
 * OR is sequenced before that store; racing clears may miss the entry as
 * they may miss the store itself.
 */
#define TCE__UNIT_SHIFT_MIN (EMU_PAGE_SHIFT - 3)
#define TCE__WRITTEN_BITS 18u

struct tce_table {
	struct tce_geometry geo;
	unsigned level_bits;		/* S = log2(it_level_size) */
	uint64_t level_mask;		/* it_level_size - 1 */
	uint64_t block_bytes;		/* 2^level_shift */
	int node;
	unsigned flags;
	tce_kill_fn kill;
	void *kill_ctx;
	uint64_t refs;			/* atomic */
	struct tce__tree tree[TCE__NTREES];
	struct tce__leaf *leaves;	/* push-only list head; atomic */
	uint64_t nleaves;		/* nodes in it; atomic */
	uint64_t install_races;		/* level installations lost to another writer; atomic */
	unsigned unit_shift;		/* written map: log2 of the indexes per bit */
	uint64_t nunits;		/* bits in written[] */
	uint64_t written[];		/* the written map; atomic */
};

/* Words of the written map of a table of @it_size entries, and its unit shift. */
static inline uint64_t tce__written_words(uint64_t it_size, unsigned *unit_shift)
{
	unsigned bits = it_size > 1 ? 64u - (unsigned)__builtin_clzll(it_size - 1) : 0;
	unsigned us = bits > TCE__WRITTEN_BITS ? bits - TCE__WRITTEN_BITS : 0;

	if (us < TCE__UNIT_SHIFT_MIN)
		us = TCE__UNIT_SHIFT_MIN;
	*unit_shift = us;
	return (((it_size - 1) >> us) >> 6) + 1;
}

/* Marks the units of indexes [first, end) (end > first) written; see above. */
static inline void tce__mark(struct tce_table *t, uint64_t first, uint64_t end)
{
	uint64_t u = first >> t->unit_shift, ulast = (end - 1) >> t->unit_shift;

	while (u <= ulast) {
		uint64_t w = u >> 6, hi = (ulast >> 6) == w ? (ulast & 63) : 63;
		uint64_t mask = (~0ull >> (63 - hi)) & (~0ull << (u & 63));

		if ((__atomic_load_n(&t->written[w], __ATOMIC_RELAXED) & mask) != mask)
			__atomic_fetch_or(&t->written[w], mask, __ATOMIC_RELAXED);
		u = (w + 1) << 6;
	}
}

/* Is unit @u marked written? */
static inline bool tce__unit_written(const struct tce_table *t, uint64_t u)
{
	return __atomic_load_n(&t->written[u >> 6], __ATOMIC_RELAXED) >> (u & 63) & 1;
}

/* The first written unit in [u, ulast], or a value above ulast. */
static inline uint64_t tce__next_written(const struct tce_table *t, uint64_t u, uint64_t ulast)
{
	while (u <= ulast) {
		uint64_t bits = __atomic_load_n(&t->written[u >> 6], __ATOMIC_RELAXED) >> (u & 63);

		if (bits)
			return u + (uint64_t)__builtin_ctzll(bits);
		u = ((u >> 6) + 1) << 6;
	}
	return u;
}

/*
 * hva of a table block from its hpa: the __va() of this machine.  emu/mem.h
 * defines table memory's hpa as zone 1 | hva, so this is arithmetic, not
 * emu_mem_table_hva()'s locked lookup (which tce_table_check uses to verify
 * every indirect entry).
 */
/*
 * Replaces one table word, returning the old one: an atomic exchange, or,
 * when the owner serialises the table's writers (TCE_TABLE_SERIAL_WRITERS),
 * an atomic load and store, which cost no locked instruction (xchg.c,
 * noperm.c).
 */
static inline uint64_t tce__exchange(uint64_t *p, uint64_t v, bool serial)
{
	uint64_t old;

	if (!serial)
		return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL);
	old = __atomic_load_n(p, __ATOMIC_RELAXED);
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
	return old;
}

static inline uint64_t *tce__block_hva(uint64_t hpa)
{
	return (uint64_t *)(uintptr_t)(hpa & ((1ull << EMU_HPA_ZONE_SHIFT) - 1));
}

/* The block an indirect entry (raw, big-endian, non-zero) points to. */
static inline uint64_t *tce__child(uint64_t raw)
{
	return tce__block_hva(be64toh(raw) & ~TCE_PCI_RW);
}

/* Bit shift of the index bits used at @depth (0 = top); the leaf depth is K. */
static inline unsigned tce__depth_shift(const struct tce_table *t, unsigned depth)
{
	return (t->geo.it_indirect_levels - depth) * t->level_bits;
}

/*
 * tce__walk - the leaf block holding index @idx in tree @tree.
 * With @alloc, missing levels are allocated and installed by cmpxchg; then
 * returns 0 and a block, or -ENOMEM (and *leaf NULL).  Without, returns 0
 * and *leaf NULL when a level is missing.  @idx must be < it_size.
 */
int tce__walk(struct tce_table *t, enum tce__tree_id tree, uint64_t idx, bool alloc,
	      uint64_t **leaf);
/* Read-only walk for const callers (never allocates). */
uint64_t *tce__walk_ro(const struct tce_table *t, enum tce__tree_id tree, uint64_t idx);

/* Frees every block of @tree, top included.  Never fails. */
void tce__tree_free(struct tce_table *t, enum tce__tree_id tree);

/* Frees the leaf list.  Never fails. */
void tce__leaves_free(struct tce_table *t);

/* Validates [entry, entry + npages) against the table and sets *first_idx. */
int tce__run_index(const struct tce_table *t, uint64_t entry, uint64_t npages,
		   uint64_t *first_idx);

/*
 * Old-entry batching shared by range.c and store.c: the runs of
 * tce_old_fn, the last one extended while entries and pages stay
 * consecutive.
 */
struct tce__old_buf {
	tce_old_fn fn;
	void *ctx;
	unsigned shift;			/* it_page_shift: the pages of a run's uas */
	size_t n;
	struct tce_old_run v[TCE_OLD_BATCH];
};

/* Not a designated initializer: that would zero the whole array on every call. */
static inline void tce__old_init(struct tce__old_buf *b, const struct tce_table *t, tce_old_fn fn,
				 void *ctx)
{
	b->fn = fn;
	b->ctx = ctx;
	b->shift = t->geo.it_page_shift;
	b->n = 0;
}

static inline void tce__old_flush(struct tce__old_buf *b)
{
	if (b->n && b->fn)
		b->fn(b->ctx, b->v, b->n);
	b->n = 0;
}

/*
 * Adds @n valid entries from @entry that held pages from @ua: extends the
 * last run when they continue it (never a run whose ua is 0: that one
 * stands for a broken pair, see tce.h), else starts a run, flushing first
 * when the batch is full.  The callback may only see entries already
 * overwritten: callers that report before writing (store.c) stop before a
 * full batch instead.  The caller checks b->fn on its hot paths.
 */
static inline bool tce__old_continues(const struct tce__old_buf *b, uint64_t entry, uint64_t ua)
{
	const struct tce_old_run *r = &b->v[b->n ? b->n - 1 : 0];

	return b->n && ua && r->ua && entry == r->entry + r->n && ua == r->ua + (r->n << b->shift);
}

static inline void tce__old_add(struct tce__old_buf *b, uint64_t entry, uint64_t ua, uint64_t n)
{
	struct tce_old_run *r;

	if (tce__old_continues(b, entry, ua)) {
		b->v[b->n - 1].n += n;
		return;
	}
	if (b->n == TCE_OLD_BATCH)
		tce__old_flush(b);
	r = &b->v[b->n++];
	r->entry = entry;
	r->ua = ua;
	r->n = n;
}

/* One valid entry, with its old shadow word as stored (big-endian). */
static inline void tce__old_push(struct tce__old_buf *b, uint64_t entry, uint64_t raw_ua)
{
	if (b->fn)
		tce__old_add(b, entry, be64toh(raw_ua), 1);
}

#endif
