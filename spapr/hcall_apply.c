/* SPDX-License-Identifier: MIT */
/*
 * Phase 3 of a hypercall (spapr/hcall.c): what cannot fail.  Per live
 * window, the runs in order: a long run by tce_table_store_run in pieces of
 * HCALL_STORE_CHUNK, whose hardware entries mmreg computes straight into
 * the table; short runs gathered by tce_table_store; clears by
 * tce_table_unmap.  Replaced and cleared entries go to a drops batch, whose
 * counts are given back after one kill over the whole call.  Then the
 * guest-visible values are stored, a page at a time.
 *
 * A store that prepare made safe cannot fail; if one does anyway, the
 * rollback keeps the bookkeeping exact (H_HARDWARE).
 */
#include <endian.h>

#include "spapr/hcall_req.h"
#include "util/simd.h"


static bool is_short(const struct hcall_run *run, unsigned sub_shift)
{
	return run->ua && (run->n << sub_shift) < HCALL_SHORT_RUN;
}

/*
 * Short mapping runs from *x on, as many as fit in HCALL_STORE_CHUNK hardware
 * entries, into @hw and @shadow (window @j's entries, ready to store).
 * Returns how many entries; *x moves past the runs taken.
 */
static uint64_t fill_short(const struct hcall_req *q, unsigned j, unsigned *x, uint64_t *hw,
			   uint64_t *shadow)
{
	unsigned sub_shift = hcall_sub_shift(q, j), hw_shift = q->locks.w[j]->page_shift;
	uint64_t pos = 0;

	for (; *x < q->nruns && is_short(&q->run[*x], sub_shift); (*x)++) {
		const struct hcall_run *run = &q->run[*x];
		uint64_t cnt = run->n << sub_shift, bits = tce_dir_to_bits(run->dir);

		if (pos + cnt > HCALL_STORE_CHUNK)
			break;
		/*
		 * Cannot fail: validate checked the range and the page size.  A
		 * scattered list's runs of one page take the one-page lookup,
		 * without the run loop's dispatch.
		 */
		if (cnt == 1)
			mmreg_region_ua_to_hpa(run->reg, run->ua, hw_shift, hw + pos);
		else
			mmreg_region_ua_to_hpas(run->reg, run->ua, cnt, hw_shift, hw + pos);
		for (uint64_t k = 0; k < cnt; k++) {
			hw[pos + k] = htobe64(hw[pos + k] | bits);
			shadow[pos + k] = htobe64(run->ua + (k << hw_shift));
		}
		pos += cnt;
	}
	return pos;
}

/* A long run's hardware entries, computed by mmreg into the table (tce_fill_fn). */
struct hfill {
	const struct mmreg_region *reg;
	uint64_t ua;			/* of the piece's first page */
	unsigned shift;			/* hardware page shift */
};

static void fill_hw(void *ctx, uint64_t k, uint64_t n, uint64_t bits, uint64_t *hw)
{
	const struct hfill *f = ctx;

	/* Cannot fail: validate checked the range and the page size. */
	mmreg_region_ua_to_hpas_be(f->reg, f->ua + (k << f->shift), n, f->shift, bits, hw);
}

/*
 * Phase 3 for window @j: the runs in order (a long run in pieces of
 * HCALL_STORE_CHUNK, short runs together, clears with tce_table_unmap), the
 * replaced entries to a drops batch, one kill over the whole call.  Fails
 * only if a store that prepare made safe fails anyway; then *done says how
 * many hardware entries, from the call's first, were written.
 */
int spapr__hcall_apply_window(struct hcall_req *q, unsigned j, uint64_t *done)
{
	struct spapr_window *w = q->locks.w[j];
	unsigned sub_shift = hcall_sub_shift(q, j), hw_shift = w->page_shift, x = 0;
	uint64_t hw[HCALL_STORE_CHUNK], shadow[HCALL_STORE_CHUNK];
	uint64_t base = q->entry << sub_shift;
	struct spapr_drops d;
	int rc = 0;

	spapr__drops_init(&d, w);
	d.kvm = true;	/* q1517: Q17, the old entries as kvmppc_tce_iommu_mapped_dec gives them back */
	*done = 0;
	if (!q->list_be)
		tce_table_unmap(w->table, base, q->n << sub_shift, NULL, spapr__drops_old, &d, NULL);
	while (q->list_be && x < q->nruns) {
		const struct hcall_run *run = &q->run[x];
		uint64_t at = run->i << sub_shift, count, off;

		if (!run->ua) {
			tce_table_unmap(w->table, base + at, run->n << sub_shift, NULL, spapr__drops_old, &d,
					NULL);
			*done = at + (run->n << sub_shift);
			x++;
			continue;
		}
		if (is_short(run, sub_shift)) {
			count = fill_short(q, j, &x, hw, shadow);
			rc = tce_table_store(w->table, base + at, count, hw, shadow, spapr__drops_old, &d);
			if (rc)
				break;
			*done = at + count;
			continue;
		}
		for (off = 0; off < run->n << sub_shift; off += count) {
			struct hfill f = { run->reg, run->ua + (off << hw_shift), hw_shift };
			struct tce_run tr = { f.ua, tce_dir_to_bits(run->dir), fill_hw, &f };

			count = (run->n << sub_shift) - off;
			if (count > HCALL_STORE_CHUNK)
				count = HCALL_STORE_CHUNK;
			rc = tce_table_store_run(w->table, base + at + off, count, &tr, spapr__drops_old, &d);
			if (rc)
				break;
			*done = at + off + count;
		}
		if (rc)
			break;
		x++;
	}
	tce_kill_batch_add(&d.kill, base, q->n << sub_shift);
	spapr__drops_flush(&d);
	return rc;
}

/*
 * The unexpected: a store failed after prepare.  Keep the bookkeeping exact:
 * clear this call's range in windows [0, failed] (the clear gives back the counts
 * of what was written), and give back the counts not used: window failed's from
 * hardware entry @done on, and all of the later windows'.  Replaced entries
 * are lost, as in MAP_DMA's rollback.
 */
void spapr__hcall_apply_rollback(struct hcall_req *q, unsigned failed, uint64_t done)
{
	for (unsigned j = 0; j <= failed; j++) {
		struct spapr_drops d;
		unsigned sub_shift = hcall_sub_shift(q, j);

		if (!q->locks.live[j])
			continue;
		spapr__drops_init(&d, q->locks.w[j]);
		d.kvm = true;	/* q1517: Q17 */
		tce_table_unmap(q->locks.w[j]->table, q->entry << sub_shift, q->n << sub_shift, &d.kill,
				spapr__drops_old, &d, NULL);
		spapr__drops_flush(&d);
	}
	for (unsigned j = failed; j < q->locks.n; j++) {
		unsigned sub_shift = hcall_sub_shift(q, j);

		if (!q->locks.live[j])
			continue;
		for (unsigned x = 0; x < q->nruns; x++) {
			uint64_t rs = q->run[x].i << sub_shift, re = (q->run[x].i + q->run[x].n) << sub_shift;

			if (j == failed && rs < done)
				rs = done;
			if (q->run[x].reg && re > rs)
				mmreg_region_mapped_sub(q->run[x].reg, re - rs);
		}
	}
}

/*
 * The guest-visible values, a page at a time: a long run's values are its
 * progression, the others' those read (q->vals), copied together.  A page
 * missing here can only have received zeros.
 */
void spapr__hcall_store_guest(struct hcall_req *q)
{
	struct spapr_guest_table *gt = q->gt;
	uint64_t base = q->entry - gt->offset, gsize = 1ull << gt->page_shift;
	unsigned x = 0;

	for (uint64_t i = 0, n; i < q->n; i += n) {
		uint64_t idx = base + i, off = idx % SPAPR_GUEST_TCES_PER_PAGE;
		uint64_t *page = __atomic_load_n(&gt->pages[idx / SPAPR_GUEST_TCES_PER_PAGE],
						 __ATOMIC_RELAXED);
		const struct hcall_run *run;

		n = SPAPR_GUEST_TCES_PER_PAGE - off;
		if (n > q->n - i)
			n = q->n - i;
		if (!q->list_be) {
			if (page)
				util_store_fill(page + off, q->stuff, n);
			continue;
		}
		while (q->run[x].i + q->run[x].n <= i)
			x++;
		run = &q->run[x];
		if (hcall_guest_long(run)) {
			if (n > run->i + run->n - i)
				n = run->i + run->n - i;	/* up to the run's end */
			if (page)
				util_store_seq(page + off, run->tce0 + ((i - run->i) << gt->page_shift),
					       gsize, n);
			continue;
		}
		/* Up to the next long run (or the page's end): one copy. */
		for (unsigned y = x + 1; y < q->nruns && q->run[y].i < i + n; y++) {
			if (hcall_guest_long(&q->run[y])) {
				n = q->run[y].i - i;
				break;
			}
		}
		if (page)
			util_store_copy(page + off, q->vals + i, n);
	}
}

