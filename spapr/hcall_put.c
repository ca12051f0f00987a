/* SPDX-License-Identifier: MIT */
/*
 * H_PUT_TCE, H_PUT_TCE_INDIRECT and H_STUFF_TCE (spec 7.2-7.4).
 *
 * Every hypercall is all-or-nothing, in three phases under the windows'
 * locks, or the table's own when it has no window (hcall_lock.c):
 *
 *   validate  every TCE: alignment, memslot, a registered region covering
 *             the whole guest page with a page size every live window can
 *             use.  The first failure returns; nothing was touched.
 *   prepare   everything that can fail and is invisible: the guest-visible
 *             pages the values need, every table level the new entries need
 *             (tce_table_reserve), and the regions' mapped counts of the new
 *             entries (a dying region fails here, Q4's ENXIO).  On failure
 *             the counts taken are given back; allocated pages and levels
 *             stay (they read as empty, as in the kernel).
 *   apply     cannot fail: a run is written by tce_table_store_run, short
 *             runs together by tce_table_store, clears by tce_table_unmap;
 *             replaced and cleared entries go to a drops batch (their
 *             counts given back after the kill), one kill per window
 *             covers the whole call, then the guest-visible values are
 *             stored.
 *
 * This is where we depart from the kernel on purpose (Appendix A, Q12): KVM
 * maps TCE by TCE and, failing half-way, clears the affected hardware
 * entries without fixing the mapped counts or the shadow, keeping the TCEs
 * already applied; INDIRECT re-reads the list from guest memory in its second
 * pass, and maps permission-less TCEs.  Here the list is read once, a
 * permission-less TCE unmaps, and a failure changes nothing.
 *
 * H_PUT_TCE_INDIRECT merges consecutive TCEs that are contiguous in one
 * memslot and region with one direction into one run, checked once and
 * stored in one pass.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spapr/guest_priv.h"
#include "util/fail.h"
#include "util/range.h"
#include "util/simd.h"

/*
 * Hardware entries per store: a long run is stored in pieces of this many,
 * and short runs are gathered up to this many, so that the buffers beside
 * the table's blocks (the old entries; the short runs' values), 4 KiB each
 * at 512, stay in the L1 cache.
 */
#define STORE_CHUNK 512u
/*
 * A run of fewer entries than this is stored with its neighbours, entry by
 * entry (hardware entries in apply_window, guest TCEs in store_guest).
 */
#define SHORT_RUN 8u

/*
 * A run of the call's TCEs that one store can write: either TCEs without
 * permission (they clear), or TCEs of consecutive guest pages with one
 * direction inside one memslot and, when a window is live, one registered
 * region.  A guest's list is usually one run: Linux builds it from the
 * pages of one contiguous buffer.  A mapping run's TCEs are @tce0 + k *
 * guest page size: the run is all that is kept of them.
 */
struct hrun {
	uint64_t i, n;			/* TCEs [i, i + n) of the call */
	uint64_t ua;			/* ua of TCE i's guest page; 0: the run clears */
	uint64_t tce0;			/* TCE i as read (mapping runs) */
	enum tce_dir dir;
	struct mmreg_region *reg;	/* when a window is live and the run maps */
};

/* The mapped count one region gets from the call, in guest TCEs (prepare_counts). */
struct hcount {
	struct mmreg_region *reg;
	uint64_t n;
};

struct hreq {
	struct spapr_guest *guest;
	struct spapr_guest_table *gt;
	struct spapr_hcall_locks l;
	uint64_t entry;			/* first guest entry (absolute) */
	uint64_t n;			/* guest TCEs */
	const uint64_t *list_be;	/* the n TCEs as the guest wrote them; NULL for STUFF */
	uint64_t stuff;			/* STUFF's value */
	unsigned nruns, ncounts;
	struct hrun run[SPAPR_TCE_LIST_MAX];
	struct hcount count[SPAPR_TCE_LIST_MAX];
	uint64_t vals[SPAPR_TCE_LIST_MAX];	/* TCEs outside long runs, as read (store_guest) */
};

/* spec 5.8 check_ioba, with Q2: the whole range, without overflow. */
static long check_ioba(const struct spapr_guest_table *gt, uint64_t ioba, uint64_t npages,
		       uint64_t *entry)
{
	uint64_t e = ioba >> gt->page_shift;

	if (!util_is_aligned(ioba, gt->page_shift) || e < gt->offset || e - gt->offset >= gt->size ||
	    npages > gt->size - (e - gt->offset))
		return H_PARAMETER;
	*entry = e;
	return H_SUCCESS;
}

/* Largest hardware page shift of the live windows, 0 when there is none. */
static unsigned live_max_shift(const struct hreq *q)
{
	unsigned m = 0;

	for (unsigned j = 0; j < q->l.n; j++)
		if (q->l.live[j] && q->l.w[j]->page_shift > m)
			m = q->l.w[j]->page_shift;
	return m;
}

/* TCE @i of the list: its one read (the guest may be rewriting it). */
static inline uint64_t list_read(const struct hreq *q, uint64_t i)
{
	return be64toh(__atomic_load_n(&q->list_be[i], __ATOMIC_RELAXED));
}

/*
 * Phase 1, in the mmreg read section: reads the list, once per TCE, and
 * cuts it into runs, checking each run once: alignment, memslot, a
 * registered region covering it with a page size every live window can
 * use.  Inside a run the checks of its first TCE hold for all: the guest
 * pages are consecutive, the run stops at the memslot's and the region's
 * end, and every window's page divides the guest page.  What later phases
 * need of the TCEs is in the runs (and q->vals): the list is not read
 * again, whatever the guest writes there meanwhile.  The first failure
 * returns; nothing was touched.
 */
static long validate(struct hreq *q)
{
	unsigned gs = q->gt->page_shift, hs = live_max_shift(q), hint = q->guest->slot_hint;
	uint64_t gsize = 1ull << gs, n = q->n, i = 0, rua = 0, rend = 0;
	struct mmreg_region *r = NULL;

	q->nruns = 0;
	while (i < n) {
		struct hrun *run = &q->run[q->nruns++];
		const struct spapr_guest_memslot *ms;
		uint64_t v = list_read(q, i), gpa = v & ~TCE_PCI_RW, ua, lim, k;

		run->i = i;
		run->reg = NULL;
		if (!(v & TCE_PCI_RW)) {
			/* "userspace may poison the table": these clear */
			q->vals[i] = v;
			for (k = i + 1; k < n; k++) {
				uint64_t w = list_read(q, k);

				if (w & TCE_PCI_RW)
					break;	/* read again as the next run's first */
				q->vals[k] = w;
			}
			run->ua = 0;
			run->n = k - i;
			i = k;
			continue;
		}
		if (!util_is_aligned(gpa, gs) || spapr__guest_gpa_to_ua(q->guest, gpa, gsize, &ua, &hint))
			return H_TOO_HARD;
		ms = &q->guest->slots[hint];
		lim = (ms->gpa + ms->size - gpa) >> gs;	/* whole guest pages left in the memslot */
		if (hs) {
			if (!util_is_aligned(ua, hs))
				return H_TOO_HARD;
			if (!r || ua < rua || ua >= rend || gsize > rend - ua) {
				r = mmreg_region_lookup(q->guest->mm, ua, gsize);
				if (!r || mmreg_region_pageshift(r) < hs)
					return H_TOO_HARD;
				rua = mmreg_region_ua(r);
				rend = rua + (mmreg_region_entries(r) << EMU_PAGE_SHIFT);
			}
			if ((rend - ua) >> gs < lim)
				lim = (rend - ua) >> gs;
			run->reg = r;
		}
		if (n - i < lim)
			lim = n - i;
		k = i + 1;
		/* A scattered list's TCE is a run of one: seen at its neighbour, without a call. */
		if (lim > 1 && list_read(q, k) == v + gsize)
			k += 1 + util_be64_seq_len(q->list_be + k + 1, v + 2 * gsize, gsize, lim - 2);
		for (uint64_t x = i; x < k && k - i < SHORT_RUN; x++)
			q->vals[x] = v + ((x - i) << gs);	/* stored with its neighbours */
		run->ua = ua;
		run->tce0 = v;
		run->dir = tce_dir_from_bits(v);
		run->n = k - i;
		i = k;
	}
	__atomic_store_n(&q->guest->slot_hint, hint, __ATOMIC_RELAXED);
	return H_SUCCESS;
}

static int guest_pages_alloc(struct spapr_guest_table *gt, uint64_t first_idx, uint64_t last_idx)
{
	for (uint64_t p = first_idx / SPAPR_GUEST_TCES_PER_PAGE;
	     p <= last_idx / SPAPR_GUEST_TCES_PER_PAGE; p++) {
		uint64_t *page;

		if (__atomic_load_n(&gt->pages[p], __ATOMIC_RELAXED))
			continue;
		if (util_should_fail("spapr_hcall_page"))
			return -ENOMEM;
		page = calloc(SPAPR_GUEST_TCES_PER_PAGE, sizeof(uint64_t));
		if (!page)
			return -ENOMEM;
		__atomic_store_n(&gt->pages[p], page, __ATOMIC_RELEASE);
	}
	return 0;
}

/* Whether run @run is stored as a progression into the guest's pages (else from q->vals). */
static bool guest_long(const struct hrun *run)
{
	return run->ua && run->n >= SHORT_RUN;
}

/* The pages non-zero values need (a zero into a missing page is not stored). */
static int prepare_guest_pages(struct hreq *q)
{
	uint64_t base = q->entry - q->gt->offset;

	if (!q->list_be)
		return q->stuff ? guest_pages_alloc(q->gt, base, base + q->n - 1) : 0;
	for (unsigned x = 0; x < q->nruns; x++) {
		const struct hrun *run = &q->run[x];

		if (guest_long(run)) {
			if (guest_pages_alloc(q->gt, base + run->i, base + run->i + run->n - 1))
				return -ENOMEM;
			continue;
		}
		for (uint64_t i = run->i; i < run->i + run->n; i++)
			if (q->vals[i] && guest_pages_alloc(q->gt, base + i, base + i))
				return -ENOMEM;
	}
	return 0;
}

static unsigned sub_shift(const struct hreq *q, unsigned j)
{
	return q->gt->page_shift - q->l.w[j]->page_shift;
}

/* Levels for every stretch of mapping runs, in every live window. */
static int prepare_levels(struct hreq *q)
{
	for (unsigned j = 0; j < q->l.n; j++) {
		unsigned ss = sub_shift(q, j);

		if (!q->l.live[j])
			continue;
		for (unsigned x = 0, y; x < q->nruns; x = y) {
			uint64_t n = 0;
			int rc;

			for (y = x; y < q->nruns && q->run[y].ua; y++)
				n += q->run[y].n;
			if (y == x) {
				y++;
				continue;
			}
			rc = tce_table_reserve(q->l.w[j]->table, (q->entry + q->run[x].i) << ss, n << ss);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/*
 * The runs' TCEs summed per region, so that a list scattered over a few
 * regions costs one atomic per region and window, not one per TCE.  A
 * region is looked for among the last few sums only: a list that keeps
 * coming back to old regions gets a few sums per region, which is still
 * exact.
 */
static void sum_counts(struct hreq *q)
{
	q->ncounts = 0;
	for (unsigned x = 0; x < q->nruns; x++) {
		struct mmreg_region *reg = q->run[x].reg;
		unsigned c = q->ncounts, lo = c > 8 ? c - 8 : 0;

		if (!reg)
			continue;
		while (c > lo && q->count[c - 1].reg != reg)
			c--;
		if (c > lo) {
			q->count[c - 1].n += q->run[x].n;
			continue;
		}
		q->count[q->ncounts].reg = reg;
		q->count[q->ncounts++].n = q->run[x].n;
	}
}

/* Gives back the counts of windows [0, upto_j) and of sums [0, upto_c) of window upto_j. */
static void counts_sub(struct hreq *q, unsigned upto_j, unsigned upto_c)
{
	for (unsigned j = 0; j <= upto_j && j < q->l.n; j++) {
		unsigned end = j == upto_j ? upto_c : q->ncounts;

		if (!q->l.live[j])
			continue;
		for (unsigned c = 0; c < end; c++)
			mmreg_region_mapped_sub(q->count[c].reg, q->count[c].n << sub_shift(q, j));
	}
}

/* One count per hardware entry to be written; one atomic per region and window. */
static int prepare_counts(struct hreq *q)
{
	sum_counts(q);
	for (unsigned j = 0; j < q->l.n; j++) {
		unsigned ss = sub_shift(q, j);

		if (!q->l.live[j])
			continue;
		for (unsigned c = 0; c < q->ncounts; c++) {
			/* The fault point stands for a region found dying (a race otherwise). */
			if (util_should_fail("spapr_hcall_mapped") ||
			    mmreg_region_mapped_add(q->count[c].reg, q->count[c].n << ss)) {
				counts_sub(q, j, c);
				return -ENXIO;
			}
		}
	}
	return 0;
}

static bool is_short(const struct hrun *run, unsigned ss)
{
	return run->ua && (run->n << ss) < SHORT_RUN;
}

/*
 * Short mapping runs from *x on, as many as fit in STORE_CHUNK hardware
 * entries, into @hwv and @shv (window @j's entries, ready to store).
 * Returns how many entries; *x moves past the runs taken.
 */
static uint64_t fill_short(const struct hreq *q, unsigned j, unsigned *x, uint64_t *hwv,
			   uint64_t *shv)
{
	unsigned ss = sub_shift(q, j), hs = q->l.w[j]->page_shift;
	uint64_t pos = 0;

	for (; *x < q->nruns && is_short(&q->run[*x], ss); (*x)++) {
		const struct hrun *run = &q->run[*x];
		uint64_t cnt = run->n << ss, bits = tce_dir_to_bits(run->dir);

		if (pos + cnt > STORE_CHUNK)
			break;
		/* Cannot fail: validate checked the range and the page size. */
		mmreg_region_ua_to_hpas(run->reg, run->ua, cnt, hs, hwv + pos);
		for (uint64_t k = 0; k < cnt; k++) {
			hwv[pos + k] = htobe64(hwv[pos + k] | bits);
			shv[pos + k] = htobe64(run->ua + (k << hs));
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
 * STORE_CHUNK, short runs together, clears with tce_table_unmap), the
 * replaced entries to a drops batch, one kill over the whole call.  Fails
 * only if a store that prepare made safe fails anyway; then *done says how
 * many hardware entries, from the call's first, were written.
 */
static int apply_window(struct hreq *q, unsigned j, uint64_t *done)
{
	struct spapr_window *w = q->l.w[j];
	unsigned ss = sub_shift(q, j), hs = w->page_shift, x = 0;
	uint64_t buf[STORE_CHUNK], shv[STORE_CHUNK], old[STORE_CHUNK], base = q->entry << ss, old_ua;
	struct spapr_drops d;
	int rc = 0;

	spapr__drops_init(&d, w);
	*done = 0;
	if (!q->list_be)
		tce_table_unmap(w->table, base, q->n << ss, NULL, spapr__drops_old, &d, NULL);
	while (q->list_be && x < q->nruns) {
		const struct hrun *run = &q->run[x];
		uint64_t at = run->i << ss, cn, off;

		if (!run->ua) {
			tce_table_unmap(w->table, base + at, run->n << ss, NULL, spapr__drops_old, &d,
					NULL);
			*done = at + (run->n << ss);
			x++;
			continue;
		}
		if (is_short(run, ss)) {
			cn = fill_short(q, j, &x, buf, shv);
			rc = tce_table_store(w->table, base + at, cn, buf, shv, old);
			if (rc)
				break;
			spapr__drops_uas(&d, old, cn);
			*done = at + cn;
			continue;
		}
		for (off = 0; off < run->n << ss; off += cn) {
			struct hfill f = { run->reg, run->ua + (off << hs), hs };
			struct tce_run tr = { f.ua, tce_dir_to_bits(run->dir), fill_hw, &f };

			cn = (run->n << ss) - off < STORE_CHUNK ? (run->n << ss) - off : STORE_CHUNK;
			rc = tce_table_store_run(w->table, base + at + off, cn, &tr, old, &old_ua);
			if (rc)
				break;
			if (old_ua)
				spapr__drops_ua_run(&d, old_ua, cn);
			else
				spapr__drops_uas(&d, old, cn);
			*done = at + off + cn;
		}
		if (rc)
			break;
		x++;
	}
	tce_kill_batch_add(&d.kill, base, q->n << ss);
	spapr__drops_flush(&d);
	return rc;
}

/*
 * The unexpected: a store failed after prepare.  Keep the bookkeeping exact:
 * clear this call's range in windows [0, j] (the clear gives back the counts
 * of what was written), and give back the counts not used: window j's from
 * hardware entry @done on, and all of the later windows'.  Replaced entries
 * are lost, as in MAP_DMA's rollback.
 */
static void apply_rollback(struct hreq *q, unsigned j, uint64_t done)
{
	for (unsigned y = 0; y <= j; y++) {
		struct spapr_drops d;
		unsigned ss = sub_shift(q, y);

		if (!q->l.live[y])
			continue;
		spapr__drops_init(&d, q->l.w[y]);
		tce_table_unmap(q->l.w[y]->table, q->entry << ss, q->n << ss, &d.kill,
				spapr__drops_old, &d, NULL);
		spapr__drops_flush(&d);
	}
	for (unsigned y = j; y < q->l.n; y++) {
		unsigned ss = sub_shift(q, y);

		if (!q->l.live[y])
			continue;
		for (unsigned x = 0; x < q->nruns; x++) {
			uint64_t rs = q->run[x].i << ss, re = (q->run[x].i + q->run[x].n) << ss;

			if (y == j && rs < done)
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
static void store_guest(struct hreq *q)
{
	struct spapr_guest_table *gt = q->gt;
	uint64_t base = q->entry - gt->offset, gsize = 1ull << gt->page_shift;
	unsigned x = 0;

	for (uint64_t i = 0, n; i < q->n; i += n) {
		uint64_t idx = base + i, off = idx % SPAPR_GUEST_TCES_PER_PAGE;
		uint64_t *page = __atomic_load_n(&gt->pages[idx / SPAPR_GUEST_TCES_PER_PAGE],
						 __ATOMIC_RELAXED);
		const struct hrun *run;

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
		if (guest_long(run)) {
			if (n > run->i + run->n - i)
				n = run->i + run->n - i;	/* up to the run's end */
			if (page)
				util_store_seq(page + off, run->tce0 + ((i - run->i) << gt->page_shift),
					       gsize, n);
			continue;
		}
		/* Up to the next long run (or the page's end): one copy. */
		for (unsigned y = x + 1; y < q->nruns && q->run[y].i < i + n; y++) {
			if (guest_long(&q->run[y])) {
				n = q->run[y].i - i;
				break;
			}
		}
		if (page)
			util_store_copy(page + off, q->vals + i, n);
	}
}

/*
 * Validate, prepare, apply.  Caller holds the guest lock (read) and is in
 * the mmreg read section, which spans the whole call (the drops look
 * regions up too); takes the table's locks (spapr__hcall_lock).
 */
static long hreq_run(struct hreq *q)
{
	long ret = H_SUCCESS;
	uint64_t done;
	int rc;

	spapr__hcall_lock(q->gt, &q->l);
	if (q->list_be)
		ret = validate(q);
	if (ret == H_SUCCESS && (prepare_guest_pages(q) || (q->list_be && prepare_levels(q))))
		ret = H_TOO_HARD;
	if (ret == H_SUCCESS && q->list_be && prepare_counts(q))
		ret = H_TOO_HARD;	/* a region is being released */
	for (unsigned j = 0; ret == H_SUCCESS && j < q->l.n; j++) {
		if (!q->l.live[j])
			continue;
		rc = apply_window(q, j, &done);
		if (rc) {
			apply_rollback(q, j, done);
			ret = H_HARDWARE;
		}
	}
	if (ret == H_SUCCESS)
		store_guest(q);
	spapr__hcall_unlock(&q->l);
	return ret;
}

/* The table of @liobn and the checked range, under the guest lock (read); else unlocks. */
static long hreq_begin(struct hreq *q, struct spapr_guest *guest, uint64_t liobn, uint64_t ioba,
		       uint64_t npages)
{
	long ret;

	q->guest = guest;
	util_rwlock_rdlock(&guest->lock);
	q->gt = spapr__guest_table_find(guest, liobn);
	if (!q->gt) {
		util_rwlock_unlock(&guest->lock);
		return H_TOO_HARD;	/* userspace handles unknown LIOBNs */
	}
	ret = check_ioba(q->gt, ioba, npages, &q->entry);
	if (ret != H_SUCCESS)
		util_rwlock_unlock(&guest->lock);
	q->n = npages;
	q->nruns = 0;
	q->ncounts = 0;
	return ret;
}

long spapr_h_put_tce(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba, uint64_t tce)
{
	uint64_t tce_be = htobe64(tce);
	struct hreq q;
	long ret = hreq_begin(&q, guest, liobn, ioba, 1);

	if (ret != H_SUCCESS)
		return ret;
	q.list_be = &tce_be;
	mmreg_read_lock();
	ret = hreq_run(&q);
	mmreg_read_unlock();
	util_rwlock_unlock(&guest->lock);
	return ret;
}

/*
 * Where to read the guest's TCE list (at @ua, @n entries) from, once: a
 * list inside a registered region lies in pinned memory that cannot fault,
 * so it is read in place there, by validate (a process that unmaps
 * registered memory is outside the model, see docs/emu.md); elsewhere it
 * is copied to @bounce through process_vm_readv, which fails instead of
 * faulting.  Reading in place saves a system call of a few microseconds per
 * hypercall, more than an INDIRECT of 512 entries costs otherwise.  Called
 * in the mmreg read section.  Returns the list or NULL (-EFAULT).
 */
static const uint64_t *list_source(struct spapr_guest *guest, uint64_t *bounce, uint64_t ua,
				   uint64_t n)
{
	if (mmreg_region_lookup(guest->mm, ua, n * sizeof(uint64_t)))
		return (const uint64_t *)(uintptr_t)ua;
	if (spapr__copy_in(bounce, (const void *)(uintptr_t)ua, n * sizeof(uint64_t)))
		return NULL;
	return bounce;
}

long spapr_h_put_tce_indirect(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba,
			      uint64_t tce_list, uint64_t npages)
{
	uint64_t bounce[SPAPR_TCE_LIST_MAX], ua;
	unsigned hint;
	struct hreq q;
	long ret = hreq_begin(&q, guest, liobn, ioba, npages);

	if (ret == H_TOO_HARD)
		return ret;	/* an unknown LIOBN goes to userspace before any check */
	if (npages > SPAPR_TCE_LIST_MAX || !util_is_aligned(tce_list, 12)) {
		if (ret == H_SUCCESS)
			util_rwlock_unlock(&guest->lock);
		return H_PARAMETER;
	}
	if (ret != H_SUCCESS)
		return ret;
	mmreg_read_lock();	/* one section for the list and the call */
	hint = __atomic_load_n(&guest->list_slot_hint, __ATOMIC_RELAXED);
	if (spapr__guest_gpa_to_ua(guest, tce_list, npages * sizeof(uint64_t), &ua, &hint) ||
	    util_should_fail("spapr_hcall_list") ||
	    !(q.list_be = list_source(guest, bounce, ua, npages))) {
		ret = H_TOO_HARD;
	} else {
		__atomic_store_n(&guest->list_slot_hint, hint, __ATOMIC_RELAXED);
		ret = hreq_run(&q);
	}
	mmreg_read_unlock();
	util_rwlock_unlock(&guest->lock);
	return ret;
}

long spapr_h_stuff_tce(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba,
		       uint64_t tce_value, uint64_t npages)
{
	struct hreq q;
	long ret = hreq_begin(&q, guest, liobn, ioba, npages);

	if (ret != H_SUCCESS)
		return ret;
	if (tce_value & TCE_PCI_RW) {
		ret = H_PARAMETER;	/* only clearing or poisoning */
	} else if (npages) {
		q.list_be = NULL;
		q.stuff = tce_value;
		mmreg_read_lock();
		ret = hreq_run(&q);
		mmreg_read_unlock();
	}
	util_rwlock_unlock(&guest->lock);
	return ret;
}

long spapr_h_get_tce(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba, uint64_t *tce_out)
{
	struct hreq q;
	uint64_t idx, *page;
	long ret = hreq_begin(&q, guest, liobn, ioba, 1);

	if (ret != H_SUCCESS)
		return ret;
	idx = q.entry - q.gt->offset;
	page = __atomic_load_n(&q.gt->pages[idx / SPAPR_GUEST_TCES_PER_PAGE], __ATOMIC_ACQUIRE);
	*tce_out = page ? __atomic_load_n(&page[idx % SPAPR_GUEST_TCES_PER_PAGE], __ATOMIC_RELAXED) : 0;
	util_rwlock_unlock(&guest->lock);
	return H_SUCCESS;
}
