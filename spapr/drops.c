/* SPDX-License-Identifier: MIT */
/*
 * Giving back what cleared or replaced TCEs held, after the kill.
 *
 * Why a batch: an entry that was cleared may still sit in the device's TCE
 * cache until the kill.  If its region's mapped count (v1: its page's pin)
 * were given back first, a concurrent UNREGISTER could see mapped == 1,
 * release the region and unpin its pages while the device can still DMA
 * through the stale entry: a use-after-unpin.  (The kernel drops mapped
 * counts before its kill too, but frees pages only after an RCU grace
 * period; we unpin as soon as readers are gone.)  So old entries are
 * collected here, the kill is flushed, and only then are counts and pins
 * given back: kill before unpin, always.
 *
 * Consecutive old entries of one region become one (region, count) run, so
 * a clear costs one lookup and one subtraction per region crossed.  The
 * collected regions cannot go away meanwhile: the counts we hold keep them
 * alive.  When more than SPAPR_DROPS runs collect in one operation, the
 * batch flushes early (a kill, then the give-back), so an operation across
 * very many regions issues a few kills instead of one.
 */
#include <endian.h>

#include "spapr/spapr_priv.h"
#include "util/simd.h"

void spapr__drops_init(struct spapr_drops *d, struct spapr_window *w)
{
	util_mutex_assert_held(&w->write_lock);
	d->w = w;
	d->n = 0;
	tce_kill_batch_init(&d->kill, w->table);
}

/* Kill everything collected, then give the counts and pins back.  Never fails. */
void spapr__drops_flush(struct spapr_drops *d)
{
	tce_kill_batch_flush(&d->kill);
	for (unsigned i = 0; i < d->n; i++) {
		if (d->w->tc->v2)
			mmreg_region_mapped_sub(d->v[i].region, d->v[i].count);
		else
			emu_mem_unpin(d->v[i].pin);
	}
	d->n = 0;
}

static void add_run(struct spapr_drops *d, struct mmreg_region *r, struct emu_pin *pin, uint64_t count)
{
	if (r && d->n && d->v[d->n - 1].region == r) {
		d->v[d->n - 1].count += count;
		return;
	}
	if (d->n == SPAPR_DROPS)
		spapr__drops_flush(d);
	d->v[d->n].region = r;
	d->v[d->n].pin = pin;
	d->v[d->n].count = count;
	d->n++;
}

/* Adds the entries of @old to the kill batch, one range per run of consecutive entries. */
static void kill_runs(struct spapr_drops *d, const struct tce_old *old, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i + 1;

		while (j < n && old[j].entry == old[j - 1].entry + 1)
			j++;
		tce_kill_batch_add(&d->kill, old[i].entry, j - i);
		i = j;
	}
}

/* The region of @ua (NULL: none) and the first and last page start of it, in pages of @psize. */
static struct mmreg_region *region_span(struct mmreg_mm *mm, uint64_t ua, uint64_t psize,
					uint64_t *lo, uint64_t *hi)
{
	struct mmreg_region *r = mmreg_region_lookup(mm, ua, psize);

	if (r) {
		*lo = mmreg_region_ua(r);
		*hi = *lo + (mmreg_region_entries(r) << EMU_PAGE_SHIFT) - psize;
	}
	return r;
}

/* The tce_old_fn of every clear and map: @ctx is a struct spapr_drops. */
void spapr__drops_old(void *ctx, const struct tce_old *old, size_t n)
{
	struct spapr_drops *d = ctx;
	struct spapr_window *w = d->w;
	struct spapr_tce_container *tc = w->tc;
	uint64_t psize = 1ull << w->page_shift;

	if (!tc->v2) {
		uint64_t base = tce_table_geometry(w->table)->it_offset;

		kill_runs(d, old, n);
		for (size_t i = 0; i < n; i++) {
			uint64_t idx = old[i].entry - base;

			if (idx < tc->v1_npins && tc->v1_pins[idx]) {
				add_run(d, NULL, tc->v1_pins[idx], 1);
				tc->v1_pins[idx] = NULL;
			}
		}
		return;
	}
	mmreg_read_lock();
	for (size_t i = 0; i < n;) {
		uint64_t lo = 0, hi = 0, first = old[i].entry;
		struct mmreg_region *r = region_span(tc->mm, old[i].ua, psize, &lo, &hi);
		size_t j = i + 1;

		if (!r) {
			/* None: the count was never ours (the checkers would say so). */
			tce_kill_batch_add(&d->kill, first, 1);
			i++;
			continue;
		}
		/* The entries that follow in the same region cost no lookup ... */
		while (j < n && old[j].ua >= lo && old[j].ua <= hi) {
			/* ... and consecutive entries make one kill range. */
			if (old[j].entry != old[j - 1].entry + 1) {
				tce_kill_batch_add(&d->kill, first, old[j - 1].entry - first + 1);
				first = old[j].entry;
			}
			j++;
		}
		tce_kill_batch_add(&d->kill, first, old[j - 1].entry - first + 1);
		add_run(d, r, NULL, j - i);
		i = j;
	}
	mmreg_read_unlock();
}

/*
 * @n old entries that held consecutive pages from @ua (tce_table_store_run's
 * old_ua): one lookup per region they cross.  The caller kills them.  v2,
 * in the mmreg read section.
 */
void spapr__drops_ua_run(struct spapr_drops *d, uint64_t ua, uint64_t n)
{
	struct mmreg_mm *mm = d->w->tc->mm;
	unsigned shift = d->w->page_shift;

	while (n) {
		uint64_t lo = 0, hi = 0, k = 1;
		struct mmreg_region *r = region_span(mm, ua, 1ull << shift, &lo, &hi);

		if (r) {
			k = ((hi - ua) >> shift) + 1;
			if (k > n)
				k = n;
			add_run(d, r, NULL, k);
		}	/* else the count was never ours (the checkers would say so) */
		ua += k << shift;
		n -= k;
	}
}

/*
 * Old shadow entries as tce_table_store reports them (big-endian uas, 0 where
 * nothing was mapped): one lookup and one (region, count) per run of one
 * region.  The caller kills their entries (the store's whole range).  v2,
 * in the mmreg read section.
 */
void spapr__drops_uas(struct spapr_drops *d, const uint64_t *old_be, size_t n)
{
	struct mmreg_mm *mm = d->w->tc->mm;
	uint64_t psize = 1ull << d->w->page_shift;
	size_t i = 0;

	while (i < n && !old_be[i])
		i++;
	if (i == n)
		return;
	while (i < n) {
		uint64_t ua = be64toh(old_be[i]), lo = 0, hi = 0;
		struct mmreg_region *r;
		size_t j;

		if (!ua) {
			i++;
			continue;
		}
		r = region_span(mm, ua, psize, &lo, &hi);
		if (!r) {
			i++;	/* the count was never ours (the checkers would say so) */
			continue;
		}
		/* Usually a run of consecutive pages (what one store wrote) ... */
		j = i + util_be64_seq_len(old_be + i, ua, psize,
					  n - i < (hi - ua) / psize + 1 ? n - i : (hi - ua) / psize + 1);
		/* ... else any entries still inside the region. */
		for (; j < n; j++) {
			uint64_t u = be64toh(old_be[j]);

			if (u < lo || u > hi)
				break;	/* 0 too */
		}
		add_run(d, r, NULL, j - i);
		i = j;
	}
}
