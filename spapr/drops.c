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
 * tce/ reports replaced and cleared entries one way, as runs {entry, ua, n}
 * of consecutive pages, from every operation (xchg, map, unmap, store,
 * store_run); spapr__drops_old is the one consumer.  A run costs one lookup
 * per region it crosses, and runs of one inside the region found last
 * (scattered pages) cost none; consecutive runs of one region become one
 * (region, count), so a clear costs one subtraction per region crossed.  The
 * collected regions cannot go away meanwhile: the counts we hold keep them
 * alive.  When more than SPAPR_DROPS runs collect in one operation, the
 * batch flushes early (a kill, then the give-back), so an operation across
 * very many regions issues a few kills instead of one.
 *
 * Q17 under quirks=kernel: a hypercall may map a registered page into a v1
 * window (kvmppc_tce_iommu_do_map); such an entry holds a region's mapped
 * count, not a v1 pin.  Who gives it back decides what happens, as in the
 * kernel: a hypercall replacing or clearing it gives the count back
 * (kvmppc_tce_iommu_mapped_dec finds the region through the entry's user
 * address); the driver clearing or replacing it (v1 UNMAP, MAP, the
 * window's removal: tce_iommu_clear's and tce_iommu_build's v1 path) unpins
 * the page through tce_iommu_unuse_page, a pin the v1 container never took,
 * and the mapped count stays raised for good.  That unpin is recorded
 * (emu_mem_unpin_unheld) and changes no pin count: the page stays pinned
 * for its real holders, usable as the kernel's page is until the process
 * frees it.
 */

#include "emu/quirk.h"
#include "spapr/spapr_priv.h"

void spapr__drops_init(struct spapr_drops *d, struct spapr_window *w)
{
	util_mutex_assert_held(&w->write_lock);
	d->w = w;
	d->kvm = false;
	d->n = 0;
	tce_kill_batch_init(&d->kill, w->table);
}

/* Kill everything collected, then give the counts and pins back.  Never fails. */
void spapr__drops_flush(struct spapr_drops *d)
{
	tce_kill_batch_flush(&d->kill);
	for (unsigned i = 0; i < d->n; i++) {
		if (d->v[i].region)	/* v2; v1 under Q17: an entry a hypercall mapped */
			mmreg_region_mapped_sub(d->v[i].region, d->v[i].count);
		else
			emu_mem_unpin(d->v[i].pin);
	}
	d->n = 0;
}

/*
 * A region's count joins its sum among the last DROPS_LOOKBACK ones: old
 * entries of a scattered list, coming back to a few regions in turn, make
 * a few sums, not one per entry (nor an early flush when SPAPR_DROPS fill).
 */
#define DROPS_LOOKBACK 8u

static void add_run(struct spapr_drops *d, struct mmreg_region *r, struct emu_pin *pin, uint64_t count)
{
	for (unsigned i = d->n, lo = d->n > DROPS_LOOKBACK ? d->n - DROPS_LOOKBACK : 0; r && i > lo; i--) {
		if (d->v[i - 1].region == r) {
			d->v[i - 1].count += count;
			return;
		}
	}
	if (d->n == SPAPR_DROPS)
		spapr__drops_flush(d);
	d->v[d->n].region = r;
	d->v[d->n].pin = pin;
	d->v[d->n].count = count;
	d->n++;
}

/* The region of @ua (NULL: none) and the first and last page start of it, in pages of @psize. */
static struct mmreg_region *region_span(struct mmreg_mm *mm, uint64_t ua, uint64_t psize,
					uint64_t *lo, uint64_t *hi)
{
	struct mmreg_region *r = mmreg_region_lookup_hinted(mm, ua, psize);

	if (r) {
		*lo = mmreg_region_ua(r);
		*hi = *lo + (mmreg_region_entries(r) << EMU_PAGE_SHIFT) - psize;
	}
	return r;
}

static void drop_counts(struct spapr_drops *d, const struct tce_old_run *run, size_t n);

/* Runs of a v1 window's entries that a hypercall mapped (Q17), gathered for drop_counts. */
#define KVM_RUNS 16u

struct kvm_runs {
	size_t n;
	struct tce_old_run v[KVM_RUNS];
};

/*
 * Q17, quirks=kernel: entry @entry (user address @ua) of a v1 window has no
 * v1 pin: a hypercall mapped it.  A hypercall gives its region's count
 * back (gathered into @k for drop_counts); the driver unpins the page it
 * never pinned (tce_iommu_unuse_page), recorded, and the count stays.
 */
static void drop_unpinned(struct spapr_drops *d, struct kvm_runs *k, uint64_t entry, uint64_t ua)
{
	if (!d->kvm) {
		emu_mem_unpin_unheld(ua, (1ull << d->w->page_shift) >> EMU_PAGE_SHIFT);
		return;
	}
	if (k->n && k->v[k->n - 1].entry + k->v[k->n - 1].n == entry &&
	    k->v[k->n - 1].ua + (k->v[k->n - 1].n << d->w->page_shift) == ua) {
		k->v[k->n - 1].n++;
		return;
	}
	if (k->n == KVM_RUNS) {
		drop_counts(d, k->v, k->n);
		k->n = 0;
	}
	k->v[k->n++] = (struct tce_old_run){ .entry = entry, .ua = ua, .n = 1 };
}

/* v1: each entry of each run gives its page's pin back (but see Q17 above). */
static void drop_pins(struct spapr_drops *d, const struct tce_old_run *run, size_t n)
{
	struct spapr_tce_container *tc = d->w->tc;
	uint64_t base = tce_table_geometry(d->w->table)->it_offset;
	struct kvm_runs k = { .n = 0 };

	for (size_t i = 0; i < n; i++) {
		for (uint64_t idx = run[i].entry - base; idx < run[i].entry - base + run[i].n; idx++) {
			if (idx < tc->v1_npins && tc->v1_pins[idx]) {
				add_run(d, NULL, tc->v1_pins[idx], 1);
				tc->v1_pins[idx] = NULL;
			} else if (emu__quirk(EMU_Q17) && run[i].ua) {
				uint64_t off = idx + base - run[i].entry;

				drop_unpinned(d, &k, base + idx, run[i].ua + (off << d->w->page_shift));
			}
		}
	}
	if (k.n)
		drop_counts(d, k.v, k.n);
}

/*
 * v2: the runs' entries summed per region, then one (region, count) per
 * region to the batch.  The regions met are kept, DROPS_LOOKBACK of them
 * with their sums, so the old entries of a scattered list, coming back to
 * a few regions in turn, cost neither a registry walk nor a sum each; a
 * region that falls out of the few kept has its sum added and may come
 * back with another, which is still exact.
 */
struct drop_seen {
	struct mmreg_region *r;
	uint64_t lo, hi;	/* first and last page start in the region */
	uint64_t count;
};

static void drop_counts(struct spapr_drops *d, const struct tce_old_run *run, size_t n)
{
	struct mmreg_mm *mm = d->w->tc->mm;
	unsigned shift = d->w->page_shift, nseen = 0, next = 0;
	struct drop_seen seen[DROPS_LOOKBACK], *cur = NULL;

	mmreg_read_lock();
	for (size_t i = 0; i < n; i++) {
		uint64_t ua = run[i].ua, left = run[i].n;

		/* ua 0: a broken pair; the count was never ours (the checkers would say so). */
		while (ua && left) {
			uint64_t k = 1, lo, hi;
			struct mmreg_region *r;
			unsigned x;

			if (!cur || ua < cur->lo || ua > cur->hi) {
				for (x = 0; x < nseen && (ua < seen[x].lo || ua > seen[x].hi); x++)
					;
				if (x < nseen) {
					cur = &seen[x];
				} else if ((r = region_span(mm, ua, 1ull << shift, &lo, &hi))) {
					if (nseen < DROPS_LOOKBACK) {
						cur = &seen[nseen++];
					} else {	/* the oldest goes, its sum to the batch */
						cur = &seen[next];
						next = (next + 1) % DROPS_LOOKBACK;
						add_run(d, cur->r, NULL, cur->count);
					}
					*cur = (struct drop_seen){ r, lo, hi, 0 };
				} else {
					cur = NULL;	/* the count was never ours either */
				}
			}
			if (cur) {
				k = ((cur->hi - ua) >> shift) + 1;
				if (k > left)
					k = left;
				cur->count += k;
			}
			ua += k << shift;
			left -= k;
		}
	}
	for (unsigned x = 0; x < nseen; x++)
		add_run(d, seen[x].r, NULL, seen[x].count);
	mmreg_read_unlock();
}

/*
 * drop_counts for one entry of a v2 table (a one-page UNMAP or MAP over a
 * mapping): one lookup, without the regions kept.  Same result.
 */
static void drop_count_one(struct spapr_drops *d, uint64_t ua)
{
	struct mmreg_region *r;

	mmreg_read_lock();
	r = mmreg_region_lookup_hinted(d->w->tc->mm, ua, 1ull << d->w->page_shift);
	if (r)
		add_run(d, r, NULL, 1);
	mmreg_read_unlock();
}

/*
 * The tce_old_fn of every operation on a window's table (xchg, map, unmap,
 * store, store_run): @ctx is a struct spapr_drops.  The runs' entries go to
 * the kill batch (consecutive runs as one range), their counts or pins to
 * the batch given back after the kill.
 */
void spapr__drops_old(void *ctx, const struct tce_old_run *run, size_t n)
{
	struct spapr_drops *d = ctx;
	uint64_t first, end;

	if (!n)
		return;
	if (n == 1 && run[0].n == 1 && run[0].ua && d->w->tc->v2) {
		tce_kill_batch_add(&d->kill, run[0].entry, 1);
		drop_count_one(d, run[0].ua);
		return;
	}
	first = run[0].entry;
	end = first + run[0].n;
	for (size_t i = 1; i < n; i++) {
		if (run[i].entry != end) {
			tce_kill_batch_add(&d->kill, first, end - first);
			first = run[i].entry;
		}
		end = run[i].entry + run[i].n;
	}
	tce_kill_batch_add(&d->kill, first, end - first);
	if (d->w->tc->v2)
		drop_counts(d, run, n);
	else
		drop_pins(d, run, n);
}
