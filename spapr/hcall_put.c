/* SPDX-License-Identifier: MIT */
/*
 * H_PUT_TCE, H_PUT_TCE_INDIRECT and H_STUFF_TCE (spec 7.2-7.4).
 *
 * Every hypercall is all-or-nothing, in three phases under the table's lock
 * and the windows' locks (hcall_lock.c):
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
 *   apply     cannot fail: entries are written with tce_table_map /
 *             tce_table_unmap, replaced and cleared entries go to a drops
 *             batch (their counts given back after the kill), one kill per
 *             window covers the whole call, then the guest-visible values
 *             are stored.
 *
 * This is where we depart from the kernel on purpose (Appendix A, Q12): KVM
 * maps TCE by TCE and, failing half-way, clears the affected hardware
 * entries without fixing the mapped counts or the shadow, keeping the TCEs
 * already applied; INDIRECT re-reads the list from guest memory in its second
 * pass, and maps permission-less TCEs.  Here the list is copied once, a
 * permission-less TCE unmaps, and a failure changes nothing.
 *
 * H_PUT_TCE_INDIRECT merges consecutive TCEs that are contiguous in one
 * region with one direction into one tce_table_map run.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spapr/spapr_priv.h"
#include "util/fail.h"
#include "util/range.h"
#include "util/simd.h"

#define HPA_CHUNK 512u

/*
 * A run of the call's TCEs that one tce_table_store (or unmap) can write:
 * either TCEs without permission (they clear), or TCEs of consecutive guest
 * pages with one direction inside one memslot and, when a window is live,
 * one registered region.  A guest's list is usually one run: Linux builds it
 * from the pages of one contiguous buffer.
 */
struct hrun {
	uint64_t i, n;			/* TCEs [i, i + n) of the call */
	uint64_t ua;			/* ua of TCE i's guest page; 0: the run clears */
	enum tce_dir dir;
	struct mmreg_region *reg;	/* when a window is live and the run maps */
};

struct hreq {
	struct spapr_guest *guest;
	struct spapr_hcall_table *t;
	struct spapr_hcall_locked l;
	uint64_t entry;			/* first guest entry (absolute) */
	uint64_t n;			/* guest TCEs */
	const uint64_t *tce;		/* n values; NULL for STUFF */
	uint64_t stuff;			/* STUFF's value */
	unsigned nruns;
	struct hrun run[SPAPR_TCE_LIST_MAX];
};

/* spec 5.8 check_ioba, with Q2: the whole range, without overflow. */
static long check_ioba(const struct spapr_hcall_table *t, uint64_t ioba, uint64_t npages,
		       uint64_t *entry)
{
	uint64_t e = ioba >> t->page_shift;

	if (!util_is_aligned(ioba, t->page_shift) || e < t->offset || e - t->offset >= t->size ||
	    npages > t->size - (e - t->offset))
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

/*
 * Phase 1, in the mmreg read section: cuts the list into runs, checking
 * each run once: alignment, memslot, a registered region covering it with a
 * page size every live window can use.  Inside a run the checks of its
 * first TCE hold for all: the guest pages are consecutive, the run stops at
 * the memslot's and the region's end, and every window's page divides the
 * guest page.  The first failure returns; nothing was touched.
 */
static long validate(struct hreq *q)
{
	const uint64_t *tce = q->tce;
	unsigned gs = q->t->page_shift, hs = live_max_shift(q), hint = 0;
	uint64_t gsize = 1ull << gs, n = q->n, i = 0, rua = 0, rend = 0;
	struct mmreg_region *r = NULL;

	q->nruns = 0;
	while (i < n) {
		struct hrun *run = &q->run[q->nruns++];
		const struct spapr_guest_memslot *ms;
		uint64_t v = tce[i], gpa = v & ~TCE_PCI_RW, ua, lim, k;

		run->i = i;
		run->reg = NULL;
		if (!(v & TCE_PCI_RW)) {
			/* "userspace may poison the table": these clear */
			for (k = i + 1; k < n && !(tce[k] & TCE_PCI_RW); k++)
				;
			run->ua = 0;
			run->n = k - i;
			i = k;
			continue;
		}
		if (!util_is_aligned(gpa, gs) || spapr__hcall_gpa_to_ua(q->guest, gpa, gsize, &ua, &hint))
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
		k = i + 1 + util_seq_len(tce + i + 1, v + gsize, gsize, lim - 1);
		run->ua = ua;
		run->dir = tce_dir_from_bits(v);
		run->n = k - i;
		i = k;
	}
	return H_SUCCESS;
}

static int guest_pages_alloc(struct spapr_hcall_table *t, uint64_t first_idx, uint64_t last_idx)
{
	for (uint64_t p = first_idx / SPAPR_HCALL_TCES_PER_PAGE;
	     p <= last_idx / SPAPR_HCALL_TCES_PER_PAGE; p++) {
		uint64_t *page;

		if (__atomic_load_n(&t->pages[p], __ATOMIC_RELAXED))
			continue;
		if (util_should_fail("spapr_hcall_page"))
			return -ENOMEM;
		page = calloc(SPAPR_HCALL_TCES_PER_PAGE, sizeof(uint64_t));
		if (!page)
			return -ENOMEM;
		__atomic_store_n(&t->pages[p], page, __ATOMIC_RELEASE);
	}
	return 0;
}

/* The pages non-zero values need (a zero into a missing page is not stored). */
static int prepare_guest_pages(struct hreq *q)
{
	uint64_t base = q->entry - q->t->offset, i = 0;

	if (!q->tce)
		return q->stuff ? guest_pages_alloc(q->t, base, base + q->n - 1) : 0;
	while (i < q->n) {
		uint64_t idx = base + i, p = idx / SPAPR_HCALL_TCES_PER_PAGE;
		uint64_t end = i + SPAPR_HCALL_TCES_PER_PAGE - idx % SPAPR_HCALL_TCES_PER_PAGE;

		if (end > q->n)
			end = q->n;
		if (!__atomic_load_n(&q->t->pages[p], __ATOMIC_RELAXED)) {
			for (; i < end && !q->tce[i]; i++)
				;
			if (i < end && guest_pages_alloc(q->t, idx, idx))
				return -ENOMEM;
		}
		i = end;
	}
	return 0;
}

static unsigned sub_shift(const struct hreq *q, unsigned j)
{
	return q->t->page_shift - q->l.w[j]->page_shift;
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

/* Gives back the counts of windows [0, upto_j) and of runs [0, upto_x) of window upto_j. */
static void counts_sub(struct hreq *q, unsigned upto_j, unsigned upto_x)
{
	for (unsigned j = 0; j <= upto_j && j < q->l.n; j++) {
		unsigned end = j == upto_j ? upto_x : q->nruns;

		if (!q->l.live[j])
			continue;
		for (unsigned x = 0; x < end; x++)
			if (q->run[x].reg)
				mmreg_region_mapped_sub(q->run[x].reg, q->run[x].n << sub_shift(q, j));
	}
}

/* One count per hardware entry to be written; one atomic per run. */
static int prepare_counts(struct hreq *q)
{
	for (unsigned j = 0; j < q->l.n; j++) {
		unsigned ss = sub_shift(q, j);

		if (!q->l.live[j])
			continue;
		for (unsigned x = 0; x < q->nruns; x++) {
			if (q->run[x].reg && mmreg_region_mapped_add(q->run[x].reg, q->run[x].n << ss)) {
				counts_sub(q, j, x);
				return -ENXIO;
			}
		}
	}
	return 0;
}

/*
 * The values of hardware entries [c0, c0 + cn) of the call (counted in
 * window @j's pages from the call's first entry): each run's hpas and uas,
 * or zeros for a run that clears.  *x is the run holding c0; it moves on.
 * Runs of consecutive pages are filled four entries at a time, scattered
 * TCEs one by one, so a list of either kind costs one store per chunk.
 */
static void fill_chunk(const struct hreq *q, unsigned j, unsigned *x, uint64_t c0, uint64_t cn,
		       uint64_t *hwv, uint64_t *shv)
{
	unsigned ss = sub_shift(q, j), hs = q->l.w[j]->page_shift;
	uint64_t pos = 0;

	while (pos < cn) {
		const struct hrun *run = &q->run[*x];
		uint64_t rs = run->i << ss, re = (run->i + run->n) << ss, from = c0 + pos;
		uint64_t cnt = (re < c0 + cn ? re : c0 + cn) - from;

		if (!run->ua) {
			memset(hwv + pos, 0, cnt * sizeof(uint64_t));
			memset(shv + pos, 0, cnt * sizeof(uint64_t));
		} else {
			uint64_t ua = run->ua + ((from - rs) << hs), bits = tce_dir_to_bits(run->dir);

			/* Cannot fail: validate checked the range and the page size. */
			mmreg_region_ua_to_hpas(run->reg, ua, cnt, hs, hwv + pos);
			if (cnt < 8) {
				for (uint64_t k = 0; k < cnt; k++) {
					hwv[pos + k] = htobe64(hwv[pos + k] | bits);
					shv[pos + k] = htobe64(ua + (k << hs));
				}
			} else {
				util_be64_or(hwv + pos, bits, cnt);
				util_be64_seq(shv + pos, ua, 1ull << hs, cnt);
			}
		}
		pos += cnt;
		if (from + cnt == re)
			(*x)++;
	}
}

/*
 * Phase 3 for window @j: every entry of the call, a chunk at a time, the
 * replaced entries to a drops batch, one kill over the whole call.  Fails
 * only if a store that prepare made safe fails anyway; then *done says how
 * many hardware entries were written (whole chunks).
 */
static int apply_window(struct hreq *q, unsigned j, uint64_t *done)
{
	struct spapr_window *w = q->l.w[j];
	unsigned ss = sub_shift(q, j), x = 0;
	uint64_t hwv[HPA_CHUNK], shv[HPA_CHUNK], old[HPA_CHUNK], total = q->n << ss, c0 = 0, cn;
	struct spapr_drops d;
	int rc = 0;

	spapr__drops_init(&d, w);
	if (!q->tce) {
		tce_table_unmap(w->table, q->entry << ss, total, NULL, spapr__drops_old, &d, NULL);
		c0 = total;
	}
	for (; c0 < total; c0 += cn) {
		cn = total - c0 < HPA_CHUNK ? total - c0 : HPA_CHUNK;
		fill_chunk(q, j, &x, c0, cn, hwv, shv);
		rc = tce_table_store(w->table, (q->entry << ss) + c0, cn, hwv, shv, old);
		if (rc)
			break;
		spapr__drops_uas(&d, old, cn);
	}
	*done = c0;
	tce_kill_batch_add(&d.kill, q->entry << ss, total);
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

/* One page at a time: a page missing here can only have received zeros. */
static void store_guest(struct hreq *q)
{
	struct spapr_hcall_table *t = q->t;
	uint64_t base = q->entry - t->offset, i = 0;

	while (i < q->n) {
		uint64_t idx = base + i, off = idx % SPAPR_HCALL_TCES_PER_PAGE;
		uint64_t *page = __atomic_load_n(&t->pages[idx / SPAPR_HCALL_TCES_PER_PAGE],
						 __ATOMIC_RELAXED);
		uint64_t n = SPAPR_HCALL_TCES_PER_PAGE - off;

		if (n > q->n - i)
			n = q->n - i;
		if (page && q->tce)
			util_store_copy(page + off, q->tce + i, n);
		else if (page)
			util_store_fill(page + off, q->stuff, n);
		i += n;
	}
}

/* Validate, prepare, apply.  Caller holds the guest lock (read); takes the table's locks. */
static long hreq_run(struct hreq *q)
{
	long ret = H_SUCCESS;
	uint64_t done;
	int rc;

	pthread_mutex_lock(&q->t->lock);
	spapr__hcall_lock(q->t, &q->l);
	mmreg_read_lock();
	if (q->tce)
		ret = validate(q);
	if (ret == H_SUCCESS && (prepare_guest_pages(q) || (q->tce && prepare_levels(q))))
		ret = H_TOO_HARD;
	if (ret == H_SUCCESS && q->tce && prepare_counts(q))
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
	/*
	 * The read section spans the whole call (the drops look regions up
	 * too): one barrier per hypercall, nested sections are free.
	 */
	mmreg_read_unlock();
	spapr__hcall_unlock(&q->l);
	pthread_mutex_unlock(&q->t->lock);
	return ret;
}

/* The table of @liobn and the checked range, under the guest lock (read); else unlocks. */
static long hreq_begin(struct hreq *q, struct spapr_guest *guest, uint64_t liobn, uint64_t ioba,
		       uint64_t npages)
{
	long ret;

	q->guest = guest;
	pthread_rwlock_rdlock(&guest->lock);
	q->t = spapr__hcall_table_find(guest, liobn);
	if (!q->t) {
		pthread_rwlock_unlock(&guest->lock);
		return H_TOO_HARD;	/* userspace handles unknown LIOBNs */
	}
	ret = check_ioba(q->t, ioba, npages, &q->entry);
	if (ret != H_SUCCESS)
		pthread_rwlock_unlock(&guest->lock);
	q->n = npages;
	q->nruns = 0;
	return ret;
}

long spapr_h_put_tce(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba, uint64_t tce)
{
	struct hreq q;
	long ret = hreq_begin(&q, guest, liobn, ioba, 1);

	if (ret != H_SUCCESS)
		return ret;
	q.tce = &tce;
	ret = hreq_run(&q);
	pthread_rwlock_unlock(&guest->lock);
	return ret;
}

/*
 * Copies the guest's TCE list (at @ua, @n entries) once, in host byte order.
 * A list inside a registered region lies in pinned memory that cannot
 * fault, so it is read in place there (a process that unmaps registered
 * memory is outside the model, see docs/emu.md); elsewhere the copy goes
 * through process_vm_readv, which fails instead of faulting.  Reading in
 * place saves a system call of a few microseconds per hypercall, more than
 * an INDIRECT of 512 entries costs otherwise.  Returns 0 or -EFAULT.
 */
static int list_copy(struct spapr_guest *guest, uint64_t *list, uint64_t ua, uint64_t n)
{
	bool pinned;
	int rc = 0;

	mmreg_read_lock();
	pinned = mmreg_region_lookup(guest->mm, ua, n * sizeof(uint64_t)) != NULL;
	if (pinned)
		util_be64_copy(list, (const uint64_t *)(uintptr_t)ua, n);
	mmreg_read_unlock();
	if (!pinned) {
		rc = spapr__copy_in(list, (const void *)(uintptr_t)ua, n * sizeof(uint64_t));
		if (!rc)
			util_be64_copy(list, list, n);
	}
	return rc;
}

long spapr_h_put_tce_indirect(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba,
			      uint64_t tce_list, uint64_t npages)
{
	uint64_t list[SPAPR_TCE_LIST_MAX], ua;
	unsigned hint = 0;
	struct hreq q;
	long ret = hreq_begin(&q, guest, liobn, ioba, npages);

	if (ret == H_TOO_HARD)
		return ret;	/* an unknown LIOBN goes to userspace before any check */
	if (npages > SPAPR_TCE_LIST_MAX || !util_is_aligned(tce_list, 12)) {
		if (ret == H_SUCCESS)
			pthread_rwlock_unlock(&guest->lock);
		return H_PARAMETER;
	}
	if (ret != H_SUCCESS)
		return ret;
	/* The one read of the list: the guest may rewrite it at any time from now on. */
	mmreg_read_lock();	/* one section for the copy and the call */
	if (spapr__hcall_gpa_to_ua(guest, tce_list, npages * sizeof(uint64_t), &ua, &hint) ||
	    util_should_fail("spapr_hcall_list") ||
	    list_copy(guest, list, ua, npages)) {
		ret = H_TOO_HARD;
	} else {
		q.tce = list;
		ret = hreq_run(&q);
	}
	mmreg_read_unlock();
	pthread_rwlock_unlock(&guest->lock);
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
		q.tce = NULL;
		q.stuff = tce_value;
		ret = hreq_run(&q);
	}
	pthread_rwlock_unlock(&guest->lock);
	return ret;
}

long spapr_h_get_tce(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba, uint64_t *tce_out)
{
	struct hreq q;
	uint64_t idx, *page;
	long ret = hreq_begin(&q, guest, liobn, ioba, 1);

	if (ret != H_SUCCESS)
		return ret;
	idx = q.entry - q.t->offset;
	page = __atomic_load_n(&q.t->pages[idx / SPAPR_HCALL_TCES_PER_PAGE], __ATOMIC_ACQUIRE);
	*tce_out = page ? __atomic_load_n(&page[idx % SPAPR_HCALL_TCES_PER_PAGE], __ATOMIC_RELAXED) : 0;
	pthread_rwlock_unlock(&guest->lock);
	return H_SUCCESS;
}
