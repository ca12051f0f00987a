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

#define HPA_CHUNK 512u

struct hreq {
	struct spapr_guest *guest;
	struct spapr_hcall_table *t;
	struct spapr_hcall_locked l;
	uint64_t entry;			/* first guest entry (absolute) */
	uint64_t n;			/* guest TCEs */
	const uint64_t *tce;		/* n values; NULL for STUFF */
	uint64_t stuff;			/* STUFF's value */
	uint64_t ua[SPAPR_TCE_LIST_MAX];		/* 0: the TCE unmaps */
	struct mmreg_region *reg[SPAPR_TCE_LIST_MAX];	/* when a window is live */
};

static uint64_t tce_at(const struct hreq *q, uint64_t i)
{
	return q->tce ? q->tce[i] : q->stuff;
}

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

/* Phase 1.  In the mmreg read section. */
static long validate(struct hreq *q)
{
	const uint64_t *restrict tce = q->tce;
	uint64_t *restrict uas = q->ua;
	struct mmreg_region **restrict regs = q->reg;
	unsigned gs = q->t->page_shift, hs = live_max_shift(q), hint = 0;
	uint64_t gsize = 1ull << gs, n = q->n, sgpa = 0, send = 0, sua = 0, rua = 0, rend = 0;
	struct mmreg_region *r = NULL;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t v = tce[i], gpa = v & ~TCE_PCI_RW, ua;

		uas[i] = 0;
		regs[i] = NULL;
		if (!(v & TCE_PCI_RW))
			continue;	/* "userspace may poison the table": an unmap */
		if (!util_is_aligned(gpa, gs))
			return H_TOO_HARD;
		/* A list usually stays in one memslot and one region: try the last ones first. */
		if (gpa >= sgpa && gpa < send && gsize <= send - gpa) {
			ua = sua + (gpa - sgpa);
		} else {
			const struct spapr_guest_memslot *ms;

			if (spapr__hcall_gpa_to_ua(q->guest, gpa, gsize, &ua, &hint))
				return H_TOO_HARD;
			ms = &q->guest->slots[hint];
			sgpa = ms->gpa;
			send = ms->gpa + ms->size;
			sua = ms->ua;
		}
		uas[i] = ua;
		if (!hs)
			continue;
		if (!util_is_aligned(ua, hs))
			return H_TOO_HARD;
		if (!r || ua < rua || ua >= rend || gsize > rend - ua) {
			r = mmreg_region_lookup(q->guest->mm, ua, gsize);
			if (!r || mmreg_region_pageshift(r) < hs)
				return H_TOO_HARD;
			rua = mmreg_region_ua(r);
			rend = rua + (mmreg_region_entries(r) << EMU_PAGE_SHIFT);
		}
		regs[i] = r;
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

/* Levels for every mapping run, in every live window. */
static int prepare_levels(struct hreq *q)
{
	for (unsigned j = 0; j < q->l.n; j++) {
		unsigned ss = sub_shift(q, j);

		if (!q->l.live[j])
			continue;
		for (uint64_t i = 0, k; i < q->n; i = k) {
			int rc;

			for (k = i; k < q->n && q->ua[k]; k++)
				;
			if (k > i) {
				rc = tce_table_reserve(q->l.w[j]->table, (q->entry + i) << ss,
						       (k - i) << ss);
				if (rc)
					return rc;
			} else {
				k = i + 1;
			}
		}
	}
	return 0;
}

/* Gives back the counts of windows [0, upto_j) and of TCEs [0, upto_i) of window upto_j. */
static void counts_sub(struct hreq *q, unsigned upto_j, uint64_t upto_i)
{
	for (unsigned j = 0; j <= upto_j && j < q->l.n; j++) {
		uint64_t end = j == upto_j ? upto_i : q->n;

		if (!q->l.live[j])
			continue;
		for (uint64_t i = 0; i < end; i++)
			if (q->reg[i])
				mmreg_region_mapped_sub(q->reg[i], 1ull << sub_shift(q, j));
	}
}

/* One count per hardware entry to be written; one atomic per run of one region. */
static int prepare_counts(struct hreq *q)
{
	for (unsigned j = 0; j < q->l.n; j++) {
		unsigned ss = sub_shift(q, j);

		if (!q->l.live[j])
			continue;
		for (uint64_t i = 0, k; i < q->n; i = k) {
			for (k = i + 1; k < q->n && q->reg[k] == q->reg[i]; k++)
				;
			if (q->reg[i] && mmreg_region_mapped_add(q->reg[i], (k - i) << ss)) {
				counts_sub(q, j, i);
				return -ENXIO;
			}
		}
	}
	return 0;
}

/* Consecutive mapping TCEs from @i that form one run: contiguous ua, one region, one direction. */
static uint64_t map_run_end(const struct hreq *q, uint64_t i)
{
	const uint64_t *uas = q->ua;
	struct mmreg_region *const *regs = q->reg;
	uint64_t gsize = 1ull << q->t->page_shift, n = q->n, k, ua = uas[i];
	struct mmreg_region *r = regs[i];
	uint64_t dir = tce_at(q, i) & TCE_PCI_RW;

	if (!q->tce)
		return i + 1;	/* STUFF never maps */
	for (k = i + 1; k < n; k++) {
		ua += gsize;
		if (regs[k] != r || uas[k] != ua || (q->tce[k] & TCE_PCI_RW) != dir)
			break;
	}
	return k;
}

/* Writes entries [entry, entry + npages) of window @w from @ua on; *written: how many. */
static int map_sub(struct spapr_window *w, struct mmreg_region *r, uint64_t entry, uint64_t npages,
		   uint64_t ua, enum tce_dir dir, struct spapr_drops *d, uint64_t *written)
{
	unsigned hs = w->page_shift;
	uint64_t hpas[HPA_CHUNK], k = 0;
	int rc = 0;


	while (k < npages) {
		uint64_t n = npages - k < HPA_CHUNK ? npages - k : HPA_CHUNK;

		/* Cannot fail: validate checked the range and the page size. */
		mmreg_region_ua_to_hpas(r, ua + (k << hs), n, hs, hpas);
		rc = tce_table_map(w->table, entry + k, n, hpas, ua + (k << hs), dir, TCE_MAP_EXCLUSIVE,
				   NULL, spapr__drops_old, d);
		if (rc)
			break;
		k += n;
	}
	*written = k;
	return rc;
}

/*
 * Phase 3 for window @j: map or unmap every TCE, one kill over the whole
 * call.  Fails only if a write that prepare made safe fails anyway; then
 * *done says how many TCEs were written, and *partial how many hardware
 * entries of the next one's run.
 */
static int apply_window(struct hreq *q, unsigned j, uint64_t *done, uint64_t *partial)
{
	struct spapr_window *w = q->l.w[j];
	unsigned ss = sub_shift(q, j);
	struct spapr_drops d;
	uint64_t i = 0, k;
	int rc = 0;

	*partial = 0;
	spapr__drops_init(&d, w);
	if (!q->tce) {
		tce_table_unmap(w->table, q->entry << ss, q->n << ss, NULL, spapr__drops_old, &d, NULL);
		i = q->n;
	}
	while (i < q->n) {
		if (!q->ua[i]) {
			for (k = i + 1; k < q->n && !q->ua[k]; k++)
				;
			tce_table_unmap(w->table, (q->entry + i) << ss, (k - i) << ss, NULL,
					spapr__drops_old, &d, NULL);
		} else {
			k = map_run_end(q, i);
			rc = map_sub(w, q->reg[i], (q->entry + i) << ss, (k - i) << ss, q->ua[i],
				     tce_dir_from_bits(tce_at(q, i)), &d, partial);
			if (rc)
				break;
		}
		i = k;
	}
	*done = i;
	tce_kill_batch_add(&d.kill, q->entry << ss, q->n << ss);
	spapr__drops_flush(&d);
	return rc;
}

/*
 * The unexpected: a write failed after prepare.  Keep the bookkeeping exact:
 * clear this call's range in windows [0, j] (the clear gives back the counts
 * of what was written), give back the counts not used: TCEs [done, n) of
 * window j less the @partial entries written of the run at done, and all of
 * the later windows.  Replaced entries are lost, as in MAP_DMA's rollback.
 */
static void apply_rollback(struct hreq *q, unsigned j, uint64_t done, uint64_t partial)
{
	for (unsigned x = 0; x <= j; x++) {
		struct spapr_drops d;
		unsigned ss = sub_shift(q, x);

		if (!q->l.live[x])
			continue;
		spapr__drops_init(&d, q->l.w[x]);
		tce_table_unmap(q->l.w[x]->table, q->entry << ss, q->n << ss, &d.kill,
				spapr__drops_old, &d, NULL);
		spapr__drops_flush(&d);
	}
	for (unsigned x = j; x < q->l.n; x++) {
		if (!q->l.live[x])
			continue;
		for (uint64_t i = x == j ? done : 0; i < q->n; i++) {
			uint64_t c = 1ull << sub_shift(q, x), used = 0;

			if (x == j) {
				used = partial < c ? partial : c;
				partial -= used;
			}
			if (q->reg[i] && c > used)
				mmreg_region_mapped_sub(q->reg[i], c - used);
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
		uint64_t end = i + SPAPR_HCALL_TCES_PER_PAGE - off;

		if (end > q->n)
			end = q->n;
		if (page && q->tce) {
			for (; i < end; i++, off++)
				__atomic_store_n(&page[off], q->tce[i], __ATOMIC_RELAXED);
		} else if (page) {
			for (; i < end; i++, off++)
				__atomic_store_n(&page[off], q->stuff, __ATOMIC_RELAXED);
		}
		i = end;
	}
}

/* Validate, prepare, apply.  Caller holds the guest lock (read); takes the table's locks. */
static long hreq_run(struct hreq *q)
{
	long ret = H_SUCCESS;
	uint64_t done, partial;
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
	mmreg_read_unlock();	/* the counts we hold keep the regions alive */
	for (unsigned j = 0; ret == H_SUCCESS && j < q->l.n; j++) {
		if (!q->l.live[j])
			continue;
		rc = apply_window(q, j, &done, &partial);
		if (rc) {
			apply_rollback(q, j, done, partial);
			ret = H_HARDWARE;
		}
	}
	if (ret == H_SUCCESS)
		store_guest(q);
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
 * Copies the guest's TCE list (at @ua, @len bytes) once.  A list inside a
 * registered region lies in pinned memory that cannot fault, so a plain
 * memcpy is safe there (a process that unmaps registered memory is outside
 * the model, see docs/emu.md); elsewhere the copy goes through
 * process_vm_readv, which fails instead of faulting.  The memcpy saves a
 * system call of a few microseconds per hypercall, about half of an
 * INDIRECT of 512 entries.  Returns 0 or -EFAULT.
 */
static int list_copy(struct spapr_guest *guest, uint64_t *list, uint64_t ua, uint64_t len)
{
	bool pinned;

	mmreg_read_lock();
	pinned = mmreg_region_lookup(guest->mm, ua, len) != NULL;
	if (pinned)
		memcpy(list, (const void *)(uintptr_t)ua, len);
	mmreg_read_unlock();
	return pinned ? 0 : spapr__copy_in(list, (const void *)(uintptr_t)ua, len);
}

long spapr_h_put_tce_indirect(struct spapr_guest *guest, uint64_t liobn, uint64_t ioba,
			      uint64_t tce_list, uint64_t npages)
{
	uint64_t list[SPAPR_TCE_LIST_MAX], ua;
	unsigned hint = 0;
	struct hreq q;
	long ret;

	pthread_rwlock_rdlock(&guest->lock);
	ret = spapr__hcall_table_find(guest, liobn) ? H_SUCCESS : H_TOO_HARD;
	pthread_rwlock_unlock(&guest->lock);
	if (ret != H_SUCCESS)
		return ret;
	if (npages > SPAPR_TCE_LIST_MAX || !util_is_aligned(tce_list, 12))
		return H_PARAMETER;
	ret = hreq_begin(&q, guest, liobn, ioba, npages);
	if (ret != H_SUCCESS)
		return ret;
	/* The one read of the list: the guest may rewrite it at any time from now on. */
	if (spapr__hcall_gpa_to_ua(guest, tce_list, npages * sizeof(uint64_t), &ua, &hint) ||
	    util_should_fail("spapr_hcall_list") ||
	    list_copy(guest, list, ua, npages * sizeof(uint64_t))) {
		ret = H_TOO_HARD;
		goto out_unlock;
	}
	for (uint64_t i = 0; i < npages; i++)
		list[i] = be64toh(list[i]);
	q.tce = list;
	ret = hreq_run(&q);
out_unlock:
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
