/* SPDX-License-Identifier: MIT */
/*
 * Run operations: map (set a run) and unmap (the bulk clear).
 *
 * Map walks to each leaf block once instead of once per entry, and
 * allocates every level the run needs before writing any entry, which makes
 * it all-or-nothing: allocation is its only failure.
 *
 * Unmap follows the hardware tree, the one that decides what is valid.  The
 * kernel walks once per index and skips only missing leaf blocks, found
 * through the shadow.  We either descend the tree, skipping a missing block
 * at any level whole and runs of empty slots eight at a time, or, when the
 * run spans more leaf slots than the table has leaf blocks, visit the
 * listed leaf blocks directly (tce_priv.h, struct tce__leaf).  Either way
 * the cost follows the populated blocks, never the run's length: a
 * whole-window clear of 1,000 entries costs about the same in a 2^34- and a
 * 2^40-byte window, although the latter has twice the upper blocks.
 */
#include <errno.h>

#include "tce/tce_priv.h"
#include "util/range.h"
#include "util/simd.h"

int tce_table_map(struct tce_table *t, uint64_t entry, uint64_t npages, const uint64_t *hpa,
		  uint64_t ua, enum tce_dir dir, struct tce_kill_batch *kill, tce_old_fn old_fn,
		  void *old_ctx)
{
	unsigned shift = t->geo.it_page_shift;
	struct tce__old_buf old;
	uint64_t first, end, i, next, acc = 0, ua_end, bits;
	uint64_t *hw, *sh;
	int rc;

	if (dir == TCE_DIR_NONE || ((unsigned)dir & ~(unsigned)TCE_PCI_RW))
		return -EINVAL;
	rc = tce__run_index(t, entry, npages, &first);
	if (rc)
		return rc;
	if (!ua || !util_is_aligned(ua, shift) || npages > (UINT64_MAX >> shift) ||
	    !util_range_end(ua, npages << shift, &ua_end))
		return -EINVAL;
	for (i = 0; i < npages; i++)
		acc |= hpa[i];
	if (!util_is_aligned(acc, shift))
		return -EINVAL;
	end = first + npages;

	for (i = first; i < end; i = next) {
		next = (i | t->level_mask) + 1;
		rc = tce__walk(t, TCE__HW, i, true, &hw);
		if (rc)
			return rc;
		rc = tce__walk(t, TCE__SHADOW, i, true, &sh);
		if (rc)
			return rc;
	}

	tce__mark(t, first, end);
	bits = tce_dir_to_bits(dir);
	tce__old_init(&old, t, old_fn, old_ctx);
	for (i = first; i < end; i = next) {
		uint64_t k, j, jend;

		next = (i | t->level_mask) + 1;
		if (next > end)
			next = end;
		hw = tce__walk_ro(t, TCE__HW, i);
		sh = tce__walk_ro(t, TCE__SHADOW, i);
		j = i & t->level_mask;
		jend = j + (next - i);
		k = i - first;
		if (t->flags & TCE_TABLE_SERIAL_WRITERS) {
			for (; j < jend; j++, k++) {
				uint64_t ou = __atomic_load_n(&sh[j], __ATOMIC_RELAXED);
				uint64_t oh = __atomic_load_n(&hw[j], __ATOMIC_RELAXED);

				__atomic_store_n(&sh[j], htobe64(ua + (k << shift)), __ATOMIC_RELAXED);
				__atomic_store_n(&hw[j], htobe64(hpa[k] | bits), __ATOMIC_RELEASE);
				if (oh & htobe64(TCE_PCI_RW))
					tce__old_push(&old, entry + k, ou);
			}
		} else {
			for (; j < jend; j++, k++) {
				uint64_t ou = __atomic_exchange_n(&sh[j], htobe64(ua + (k << shift)),
								  __ATOMIC_ACQ_REL);
				uint64_t oh = __atomic_exchange_n(&hw[j], htobe64(hpa[k] | bits),
								  __ATOMIC_ACQ_REL);

				if (oh & htobe64(TCE_PCI_RW))
					tce__old_push(&old, entry + k, ou);
			}
		}
	}
	tce__old_flush(&old);
	if (kill)
		tce_kill_batch_add(kill, entry, npages);
	return 0;
}

struct clear_ctx {
	struct tce_table *t;
	uint64_t first, last;		/* indexes, inclusive */
	struct tce_kill_batch *kill;
	uint64_t cleared;
	struct tce__old_buf old;
};

/* First slot in [j, jhi] that is non-zero, or jhi + 1; empty runs go 8 at a time. */
static inline __attribute__((always_inline)) uint64_t next_present(const uint64_t *blk, uint64_t j,
								   uint64_t jhi)
{
	while (j <= jhi) {
		/* Dense runs (the usual unmap) pay one load per entry ... */
		if (__atomic_load_n(&blk[j], __ATOMIC_RELAXED))
			return j;
		/* ... sparse ones skip empty groups of eight. */
		if (!(j & 7) && jhi - j >= 7) {
			uint64_t any = 0, k;

			for (k = 1; k < 8; k++)
				any |= __atomic_load_n(&blk[j + k], __ATOMIC_RELAXED);
			if (!any) {
				j += 8;
				continue;
			}
		}
		j++;
	}
	return j;
}

/*
 * Dense clears (the usual UNMAP of what was mapped) go CLEAR_CHUNK slots at
 * a time in a table with one writer: the old entries are moved out and
 * zeros stored by the vector loops (util_store_xfer), then the old values
 * are looked at, instead of a load, a test and a store per slot.  Slots
 * that were already empty are stored zero again, which is why only a run
 * that looks dense takes this way (sparse ones keep skipping empty slots).
 */
#define CLEAR_CHUNK 64u
#define CLEAR_DENSE 8u		/* slots j and j + CLEAR_DENSE - 1 present: dense */

static const uint64_t clear_zeros[CLEAR_CHUNK];

/*
 * Clears slots [j, j + m) (m <= CLEAR_CHUNK) of leaf block @hw (shadow
 * twin @sh) at @base, one writer: hardware entries first, then the shadow,
 * as the slot by slot path does.  Every valid old entry is reported and
 * its range killed.
 */
static void clear_chunk(struct clear_ctx *c, uint64_t *hw, uint64_t *sh, uint64_t base, uint64_t j,
			uint64_t m)
{
	uint64_t oh[CLEAR_CHUNK], os[CLEAR_CHUNK], e0 = c->t->geo.it_offset + base + j, run = 0;

	util_store_xfer(hw + j, clear_zeros, oh, m);
	if (sh)
		util_store_xfer(sh + j, clear_zeros, os, m);
	for (uint64_t k = 0; k < m; k++) {
		if (!(be64toh(oh[k]) & TCE_PCI_RW)) {
			if (run && c->kill)
				tce_kill_batch_add(c->kill, e0 + k - run, run);
			run = 0;
			continue;
		}
		if (c->old.fn)
			tce__old_add(&c->old, e0 + k, sh ? be64toh(os[k]) : 0, 1);
		run++;
		c->cleared++;
	}
	if (run && c->kill)
		tce_kill_batch_add(c->kill, e0 + m - run, run);
}

/* Clears the valid entries of slots [lo, hi] of leaf block @hw (shadow twin @sh) at @base. */
static void clear_slots(struct clear_ctx *c, uint64_t *hw, uint64_t *sh, uint64_t base,
			uint64_t lo, uint64_t hi)
{
	struct tce_table *t = c->t;
	bool serial = t->flags & TCE_TABLE_SERIAL_WRITERS;
	uint64_t j;

	for (j = next_present(hw, lo, hi); j <= hi; j = next_present(hw, j + 1, hi)) {
		uint64_t raw, raw_ua = 0, e = t->geo.it_offset + base + j;

		if (serial && hi - j >= CLEAR_DENSE - 1 &&
		    __atomic_load_n(&hw[j + CLEAR_DENSE - 1], __ATOMIC_RELAXED)) {
			uint64_t m = hi - j + 1 < CLEAR_CHUNK ? hi - j + 1 : CLEAR_CHUNK;

			clear_chunk(c, hw, sh, base, j, m);
			j += m - 1;
			continue;
		}

		if (serial) {
			raw = __atomic_load_n(&hw[j], __ATOMIC_RELAXED);
			__atomic_store_n(&hw[j], 0, __ATOMIC_RELEASE);
		} else {
			raw = __atomic_exchange_n(&hw[j], 0, __ATOMIC_ACQ_REL);
		}
		if (!(be64toh(raw) & TCE_PCI_RW))
			continue;
		if (sh && serial) {
			raw_ua = __atomic_load_n(&sh[j], __ATOMIC_RELAXED);
			__atomic_store_n(&sh[j], 0, __ATOMIC_RELEASE);
		} else if (sh) {
			raw_ua = __atomic_exchange_n(&sh[j], 0, __ATOMIC_ACQ_REL);
		}
		tce__old_push(&c->old, e, raw_ua);
		if (c->kill)
			tce_kill_batch_add(c->kill, e, 1);
		c->cleared++;
	}
}

/*
 * Clears the valid entries of leaf block @hw (shadow twin @sh) inside
 * [c->first, c->last], scanning only its units marked in the written map:
 * the others hold nothing and are never read (so never faulted in).
 */
static void clear_leaf(struct clear_ctx *c, uint64_t *hw, uint64_t *sh, uint64_t base)
{
	struct tce_table *t = c->t;
	unsigned us = t->unit_shift;
	uint64_t lo = c->first > base ? c->first - base : 0;
	uint64_t hi = c->last - base < t->level_mask ? c->last - base : t->level_mask;
	uint64_t u, ulast = (base + hi) >> us;

	for (u = tce__next_written(t, (base + lo) >> us, ulast); u <= ulast;
	     u = tce__next_written(t, u + 1, ulast)) {
		uint64_t ulo = u << us, uhi = ulo + (1ull << us) - 1;

		ulo = ulo > base + lo ? ulo - base : lo;
		uhi = uhi < base + hi ? uhi - base : hi;
		clear_slots(c, hw, sh, base, ulo, uhi);
	}
}

/* Descends from a block at @depth covering indexes from @base, skipping missing blocks. */
static void clear_block(struct clear_ctx *c, uint64_t *hw, uint64_t *sh, unsigned depth,
			uint64_t base)
{
	struct tce_table *t = c->t;
	unsigned shift = tce__depth_shift(t, depth);
	uint64_t span_last = base + ((t->level_mask << shift) | ((1ull << shift) - 1));
	uint64_t lo = c->first > base ? c->first : base;
	uint64_t hi = c->last < span_last ? c->last : span_last;
	uint64_t j, jhi = (hi - base) >> shift;

	if (depth == t->geo.it_indirect_levels) {
		clear_leaf(c, hw, sh, base);
		return;
	}
	for (j = next_present(hw, (lo - base) >> shift, jhi); j <= jhi;
	     j = next_present(hw, j + 1, jhi)) {
		uint64_t raw = __atomic_load_n(&hw[j], __ATOMIC_ACQUIRE);
		uint64_t sraw = sh ? __atomic_load_n(&sh[j], __ATOMIC_ACQUIRE) : 0;

		clear_block(c, tce__child(raw), sraw ? tce__child(sraw) : NULL, depth + 1,
			    base + (j << shift));
	}
}

/*
 * Visits the listed leaf blocks instead of the tree: cheaper when the run
 * spans more leaf slots than there are leaf blocks, as in a whole-window
 * clear of a sparse table, where the tree has one upper block per few
 * entries.  A leaf listed but not yet published cannot hold entries yet.
 */
static void clear_listed(struct clear_ctx *c)
{
	struct tce_table *t = c->t;
	struct tce__leaf *leaf = __atomic_load_n(&t->leaves, __ATOMIC_ACQUIRE);

	for (; leaf; leaf = leaf->next) {
		uint64_t raw;

		if (leaf->base > c->last || leaf->base + t->level_mask < c->first)
			continue;
		raw = __atomic_load_n(leaf->slot, __ATOMIC_ACQUIRE);
		if (raw)
			clear_leaf(c, tce__child(raw), leaf->shadow, leaf->base);
	}
}

int tce_table_unmap(struct tce_table *t, uint64_t entry, uint64_t npages,
		    struct tce_kill_batch *kill, tce_old_fn old_fn, void *old_ctx,
		    uint64_t *cleared)
{
	struct clear_ctx c;
	uint64_t spanned;
	int rc;

	rc = tce__run_index(t, entry, npages, &c.first);
	if (rc)
		return rc;
	c.t = t;
	c.kill = kill;
	c.cleared = 0;
	tce__old_init(&c.old, t, old_fn, old_ctx);
	c.last = c.first + npages - 1;
	spanned = (c.last >> t->level_bits) - (c.first >> t->level_bits) + 1;
	if (t->geo.it_indirect_levels && __atomic_load_n(&t->nleaves, __ATOMIC_RELAXED) < spanned)
		clear_listed(&c);
	else
		clear_block(&c, t->tree[TCE__HW].top, t->tree[TCE__SHADOW].top, 0, 0);
	tce__old_flush(&c.old);
	if (cleared)
		*cleared = c.cleared;
	return 0;
}
