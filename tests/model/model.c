/* SPDX-License-Identifier: MIT */
/*
 * The reference model (see model.h).  Each request is docs/kernel.md's row for
 * it, step by step, in the errno order of docs/errors.md.  Plain on
 * purpose: where the library batches, looks up per run or uses trees, this
 * file scans arrays.
 */
#include "tests/model/model.h"

#include <endian.h>
#include <errno.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>

static struct model_res res_ok(long v)
{
	struct model_res r = { v, 0 };
	return r;
}

static struct model_res res_fail(int err)
{
	struct model_res r = { -1, err };
	return r;
}

/* a + b without wrapping past 2^64; false when it would wrap. */
static bool add_ok(uint64_t a, uint64_t b, uint64_t *sum)
{
	*sum = a + b;
	return *sum >= a;
}

/* ---------------------------------------------------------------- state */

void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->limit_pages = UINT64_MAX >> MODEL_PAGE_SHIFT;
	for (int i = 0; i < MODEL_GROUPS; i++)
		m->g[i].container = -1;
}

void model_fini(struct model *m)
{
	for (int c = 0; c < MODEL_CONTAINERS; c++)
		for (int s = 0; s < MODEL_SLOTS; s++) {
			free(m->c[c].win[s].e);
			free(m->c[c].win[s].leaves);
		}
	for (int i = 0; i < MODEL_MEMS; i++)
		free(m->mem[i].prot);
	for (unsigned t = 0; t < MODEL_GTABLES; t++)
		free(m->guest.t[t].e);
	memset(m, 0, sizeof(*m));
}

int model_next_orphan(const struct model *m, int r)
{
	for (; r < MODEL_REGIONS; r++) {
		bool held = false;

		if (!m->reg[r].live)
			continue;
		for (int c = 0; c < MODEL_CONTAINERS && !held; c++)
			held = m->c[c].held[r];
		if (!held)
			return r;
	}
	return -1;
}

static void uncharge(struct model *m, uint64_t pages);

void model_reap_orphan(struct model *m, int r)
{
	uncharge(m, m->reg[r].entries);
	m->reg[r].live = false;
	m->reg[r].used = 0;
	m->reg[r].leaked = 0;
}

bool model_is_clean(const struct model *m)
{
	if (m->locked_vm || m->guest.exists)
		return false;
	for (int r = 0; r < MODEL_REGIONS; r++)
		if (m->reg[r].live)
			return false;
	for (int c = 0; c < MODEL_CONTAINERS; c++)
		if (m->c[c].exists)
			return false;
	for (int g = 0; g < MODEL_GROUPS; g++)
		if (m->g[g].open)
			return false;
	return true;
}

struct model_res model_memlock(struct model *m, uint64_t limit_bytes, int cap)
{
	if (cap != 0 && cap != 1)
		return res_fail(EINVAL);
	m->limit_pages = limit_bytes >> MODEL_PAGE_SHIFT;
	m->cap_ipc_lock = cap;
	return res_ok(0);
}

uint64_t model_locked_vm(const struct model *m)
{
	return m->locked_vm;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int region_lookup(const struct model *m, uint64_t ua, uint64_t size);

uint64_t model_pinned(const struct model *m)
{
	uint64_t n = 0, *pages = NULL;
	size_t np = 0, cap = 0;

	for (int r = 0; r < MODEL_REGIONS; r++)
		if (m->reg[r].live)
			n += m->reg[r].entries;
	/* v1: each mapped page is pinned; a frame counts once. */
	for (int c = 0; c < MODEL_CONTAINERS; c++) {
		for (int s = 0; s < MODEL_SLOTS; s++) {
			const struct model_window *w = &m->c[c].win[s];

			if (!m->c[c].exists || m->c[c].type != 2 || !w->present)
				continue;
			for (size_t i = 0; i < w->n; i++) {
				if (np == cap) {
					cap = cap ? 2 * cap : 256;
					pages = realloc(pages, cap * sizeof(*pages));
					if (!pages)
						abort();
				}
				pages[np++] = w->e[i].ua & ~(MODEL_PAGE_SIZE - 1);
			}
		}
	}
	if (np)
		qsort(pages, np, sizeof(*pages), cmp_u64);
	for (size_t i = 0; i < np; i++)
		if ((i == 0 || pages[i] != pages[i - 1]) && region_lookup(m, pages[i], 1) < 0)
			n++;
	free(pages);
	return n;
}

/* account_locked_vm: ENOMEM over the limit without CAP_IPC_LOCK; equality allowed. */
static int charge(struct model *m, uint64_t pages)
{
	uint64_t sum;

	if (!pages)
		return 0;
	if (!add_ok(m->locked_vm, pages, &sum))
		return ENOMEM;
	if (!m->cap_ipc_lock && sum > m->limit_pages)
		return ENOMEM;
	m->locked_vm = sum;
	return 0;
}

static void uncharge(struct model *m, uint64_t pages)
{
	m->locked_vm = pages > m->locked_vm ? 0 : m->locked_vm - pages;
}

void model_mem_add(struct model *m, unsigned idx, uint64_t base, uint64_t size)
{
	struct model_mem *mm = &m->mem[idx];
	uint64_t pages = size >> MODEL_PAGE_SHIFT;

	free(mm->prot);
	mm->exists = true;
	mm->base = base;
	mm->size = size;
	mm->prot = malloc(pages ? pages : 1);
	memset(mm->prot, MODEL_RW, pages);
}

void model_mem_remove(struct model *m, unsigned idx)
{
	free(m->mem[idx].prot);
	memset(&m->mem[idx], 0, sizeof(m->mem[idx]));
}

void model_mem_protect(struct model *m, uint64_t ua, uint64_t size, enum model_prot prot)
{
	for (uint64_t a = ua; a - ua < size; a += MODEL_PAGE_SIZE) {
		for (int i = 0; i < MODEL_MEMS; i++) {
			struct model_mem *mm = &m->mem[i];

			if (mm->exists && a >= mm->base && a - mm->base < mm->size)
				mm->prot[(a - mm->base) >> MODEL_PAGE_SHIFT] = (unsigned char)prot;
		}
	}
}

static enum model_prot page_prot(const struct model *m, uint64_t ua)
{
	for (int i = 0; i < MODEL_MEMS; i++) {
		const struct model_mem *mm = &m->mem[i];

		if (mm->exists && ua >= mm->base && ua - mm->base < mm->size)
			return mm->prot[(ua - mm->base) >> MODEL_PAGE_SHIFT];
	}
	return MODEL_UNMAPPED;
}

/* -------------------------------------------------------------- windows */

static uint64_t window_bytes(const struct model_window *w)
{
	return w->it_size << w->page_shift;
}

static bool window_holds(const struct model_window *w, uint64_t iova)
{
	return w->present && iova >= w->start && iova - w->start < window_bytes(w);
}

/* Index of the first entry >= @entry in the sorted array. */
static size_t entry_pos(const struct model_window *w, uint64_t entry)
{
	size_t lo = 0, hi = w->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->e[mid].entry < entry)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct model_entry *entry_find(const struct model_window *w, uint64_t entry)
{
	size_t i = entry_pos(w, entry);

	return i < w->n && w->e[i].entry == entry ? &w->e[i] : NULL;
}

static void q12_leaf_mark(struct model_window *w, uint64_t entry);

/* Writes (or replaces) one entry. */
static void entry_set(struct model_window *w, uint64_t entry, uint64_t ua, unsigned perm)
{
	size_t i = entry_pos(w, entry);

	if (perm)
		q12_leaf_mark(w, entry);	/* a valid entry's level exists from now on */
	if (i < w->n && w->e[i].entry == entry) {
		w->e[i].ua = ua;
		w->e[i].perm = perm;
		w->e[i].kvm = false;
		return;
	}
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->e = realloc(w->e, w->cap * sizeof(*w->e));
		if (!w->e)
			abort();
	}
	memmove(&w->e[i + 1], &w->e[i], (w->n - i) * sizeof(*w->e));
	w->e[i].entry = entry;
	w->e[i].ua = ua;
	w->e[i].perm = perm;
	w->e[i].kvm = false;
	w->n++;
}

/* Clears entries [entry, entry + n). */
static void entries_clear(struct model_window *w, uint64_t entry, uint64_t n)
{
	size_t lo = entry_pos(w, entry), hi = lo;

	if (!w->n)
		return;
	while (hi < w->n && w->e[hi].entry - entry < n)
		hi++;
	memmove(&w->e[lo], &w->e[hi], (w->n - hi) * sizeof(*w->e));
	w->n -= hi - lo;
}

/*
 * Q12 (quirks=kernel): KVM's permission-less entry is written into the
 * hardware table only where its leaf block exists (pnv_tce_xchg allocates
 * no level for DMA_NONE).  A leaf block exists once a valid entry below it
 * was written (levels live as long as the table); a one-level table's is
 * its top.  Leaf blocks hold 2^(ls - 3) entries, ls as in table_pages.
 */
static void q12_window_geometry(struct model_window *w, uint64_t window_size, unsigned levels)
{
	unsigned e = (unsigned)__builtin_ctzll(window_size) - w->page_shift;
	unsigned ls = (e + levels - 1) / levels + 3;

	w->levels = levels;
	w->leaf_bits = (ls > MODEL_PAGE_SHIFT ? ls : MODEL_PAGE_SHIFT) - 3;
}

static bool q12_leaf_present(const struct model_window *w, uint64_t entry)
{
	uint64_t leaf = (entry - (w->start >> w->page_shift)) >> w->leaf_bits;

	if (w->levels <= 1)
		return true;
	for (size_t i = 0; i < w->nleaves; i++)
		if (w->leaves[i] == leaf)
			return true;
	return false;
}

static void q12_leaf_mark(struct model_window *w, uint64_t entry)
{
	if (q12_leaf_present(w, entry))
		return;
	if (w->nleaves == w->capleaves) {
		w->capleaves = w->capleaves ? 2 * w->capleaves : 16;
		w->leaves = realloc(w->leaves, w->capleaves * sizeof(*w->leaves));
		if (!w->leaves)
			abort();
	}
	w->leaves[w->nleaves++] = (entry - (w->start >> w->page_shift)) >> w->leaf_bits;
}

/* The table's pages; @rule: with the platform's 55-bit rule (get_table_size has none). */
static int table_pages(unsigned page_shift, uint64_t window_size, unsigned levels, bool rule,
		       uint64_t *pages)
{
	const unsigned s = MODEL_PAGE_SHIFT;
	unsigned log_w, e, per_level, ls;
	uint64_t t, d, total = 0;

	if (levels == 0 || levels > 5)
		return -EINVAL;
	if (page_shift < 12 || page_shift > 45)
		return -EINVAL;
	if (!window_size || (window_size & (window_size - 1)))
		return -EINVAL;
	log_w = (unsigned)__builtin_ctzll(window_size);
	if (log_w < page_shift)
		return -EINVAL;	/* Q14: smaller than one IOMMU page */
	e = log_w - page_shift;
	per_level = (e + levels - 1) / levels;
	ls = per_level + 3 > s ? per_level + 3 : s;
	if (rule && (ls - 3) * levels + page_shift >= 55)
		return -EINVAL;
	d = 1ull << ls;
	t = e + 3 > 12 ? 1ull << (e + 3) : 4096;
	for (unsigned l = 0; l < levels; l++) {
		total += (t + d - 1) / d * d;
		t = (t / d) * 8;
		if (t < d)
			t = d;
	}
	total *= 2;	/* hardware + shadow */
	*pages = (total + MODEL_PAGE_SIZE - 1) >> MODEL_PAGE_SHIFT;
	return 0;
}

int model_table_pages(unsigned page_shift, uint64_t window_size, unsigned levels,
		      uint64_t *pages)
{
	return table_pages(page_shift, window_size, levels, true, pages);
}

uint64_t model_region_mapped(const struct model *m, int r)
{
	const struct model_region *reg = &m->reg[r];
	uint64_t n = reg->leaked, end = reg->ua + (reg->entries << MODEL_PAGE_SHIFT);

	for (int c = 0; c < MODEL_CONTAINERS; c++) {
		for (int s = 0; s < MODEL_SLOTS; s++) {
			const struct model_window *w = &m->c[c].win[s];

			/* v1 entries hold pins of their own, not mapped counts (but Q17's) */
			if (!m->c[c].exists || !m->c[c].type || !w->present)
				continue;
			for (size_t i = 0; i < w->n; i++)
				/* perm 0: Q12's counted entry, its count is in leaked */
				if (w->e[i].perm && w->e[i].ua >= reg->ua && w->e[i].ua < end &&
				    (m->c[c].type == 7 || w->e[i].kvm))
					n++;
		}
	}
	/* Q15, quirks=kernel: what hypercalls wrote into removed windows. */
	for (int d = 0; d < MODEL_DEAD; d++) {
		const struct model_window *w = &m->guest.dead[d].win;

		for (size_t i = 0; m->guest.dead[d].gen && i < w->n; i++)
			if (w->e[i].perm && w->e[i].ua >= reg->ua && w->e[i].ua < end)
				n++;
	}
	return n;
}

/*
 * Q15 and Q17, quirks=kernel: the mapped counts of entries [entry, entry + n)
 * of @w (@all: every entry, else those a hypercall mapped into a v1 window)
 * stay with their regions for good: a v1 clear (tce_iommu_clear's v1 path
 * unpins instead) or a removed table freed without a clear.
 */
static void q1517_leak(struct model *m, struct model_window *w, uint64_t entry, uint64_t n,
		       bool all)
{
	for (size_t i = 0; i < w->n; i++) {
		int r;

		/* perm 0 (Q12): its count is in leaked already. */
		if (w->e[i].entry - entry >= n || !(all || w->e[i].kvm) || !w->e[i].perm)
			continue;
		r = region_lookup(m, w->e[i].ua, 1ull << w->page_shift);
		if (r >= 0)
			m->reg[r].leaked++;
	}
}

uint64_t model_total_mapped(const struct model *m)
{
	uint64_t n = 0;

	for (int c = 0; c < MODEL_CONTAINERS; c++)
		for (int s = 0; s < MODEL_SLOTS; s++)
			if (m->c[c].exists && m->c[c].win[s].present)
				n += m->c[c].win[s].n;
	return n;
}

static uint64_t model_window_gen;
static bool gatt_holds(const struct model *m, uint64_t gen);
static void dead_add(struct model *m, const struct model_window *w, uint64_t charged);

/* Creates a window in @slot, charging it.  0, EINVAL, ENOMEM. */
static int window_create(struct model *m, struct model_container *ct, unsigned slot,
			 unsigned page_shift, uint64_t window_size, unsigned levels)
{
	struct model_window *w = &ct->win[slot];
	uint64_t pages, it_size;
	int rc;

	if (page_shift >= 64 || !(MODEL_PGSIZES & (1ull << page_shift)))
		return EINVAL;
	/* E7: charged before the 55-bit rule (tce_iommu_create_table); Q6 fixed. */
	if (table_pages(page_shift, window_size, levels, false, &pages))
		return EINVAL;
	rc = charge(m, pages);
	if (rc)
		return rc;
	if (model_table_pages(page_shift, window_size, levels, &pages)) {
		uncharge(m, pages);
		return EINVAL;
	}
	it_size = window_size >> page_shift;
	if (it_size < MODEL_PAGE_SIZE / 8)
		it_size = MODEL_PAGE_SIZE / 8;	/* Q9, kernel-compatible */
	free(w->e);
	free(w->leaves);
	memset(w, 0, sizeof(*w));
	w->present = true;
	w->gen = ++model_window_gen;
	w->page_shift = page_shift;
	w->start = slot ? MODEL_SLOT1_START : 0;
	w->it_size = it_size;
	w->charged = pages;
	q12_window_geometry(w, window_size, levels);
	return 0;
}

static void window_remove(struct model *m, struct model_window *w)
{
	if (!w->present)
		return;
	/* Q17, quirks=kernel: the release's v1 clear keeps hypercalls' counts. */
	q1517_leak(m, w, 0, UINT64_MAX, false);
	/* E9: uncharged at once (tce_iommu_free_table); an attached one lives on, dead. */
	uncharge(m, w->charged);
	if (gatt_holds(m, w->gen))
		dead_add(m, w, 0);
	free(w->e);
	free(w->leaves);
	memset(w, 0, sizeof(*w));
}

/* The pending default window, materialised by MAP, UNMAP, TCE_CREATE. */
static int default_window(struct model *m, struct model_container *ct)
{
	int rc;

	if (!ct->pending)
		return 0;
	rc = window_create(m, ct, 0, 12, MODEL_TCE32_SIZE, 1);
	if (rc)
		return rc;
	ct->pending = false;
	return 0;
}

/* -------------------------------------------------------------- regions */

static int region_exact(const struct model *m, uint64_t ua, uint64_t entries)
{
	for (int r = 0; r < MODEL_REGIONS; r++)
		if (m->reg[r].live && m->reg[r].ua == ua && m->reg[r].entries == entries)
			return r;
	return -1;
}

/* The region holding all of [ua, ua + size), or -1. */
static int region_lookup(const struct model *m, uint64_t ua, uint64_t size)
{
	for (int r = 0; r < MODEL_REGIONS; r++) {
		const struct model_region *reg = &m->reg[r];

		if (reg->live && ua >= reg->ua &&
		    ua - reg->ua + size <= reg->entries << MODEL_PAGE_SHIFT)
			return r;
	}
	return -1;
}

/* mm_iommu_put: 0, or EBUSY (last owner, TCEs remain: used stays). */
static int region_put(struct model *m, int r)
{
	struct model_region *reg = &m->reg[r];

	if (reg->used > 1) {
		reg->used--;
		return 0;
	}
	if (model_region_mapped(m, r))
		return EBUSY;
	uncharge(m, reg->entries);
	reg->live = false;
	reg->used = 0;
	return 0;
}

/* ------------------------------------------------------------- lifetime */

/* tce_iommu_release: clear and free every window, put every held region, unbind. */
static void instance_release(struct model *m, int c)
{
	struct model_container *ct = &m->c[c];

	for (int s = 0; s < MODEL_SLOTS; s++)
		window_remove(m, &ct->win[s]);
	ct->pending = false;
	for (int r = 0; r < MODEL_REGIONS; r++) {
		if (!ct->held[r])
			continue;
		ct->held[r] = false;
		region_put(m, r);	/* EBUSY only warns in the kernel: region orphaned */
	}
	if (ct->type == 2 && ct->enabled)
		uncharge(m, ct->v1_locked);
	ct->v1_locked = 0;
	ct->type = 0;
	ct->bound = false;
	ct->enabled = false;
}

bool model_release_would_orphan(const struct model *m, int c)
{
	const struct model_container *ct = &m->c[c];

	for (int r = 0; r < MODEL_REGIONS; r++) {
		uint64_t mine = 0, end;

		if (!ct->held[r] || m->reg[r].used > 1)
			continue;
		end = m->reg[r].ua + (m->reg[r].entries << MODEL_PAGE_SHIFT);
		for (int s = 0; s < MODEL_SLOTS; s++)
			for (size_t i = 0; i < ct->win[s].n; i++)
				if (ct->win[s].e[i].perm && ct->win[s].e[i].ua >= m->reg[r].ua &&
				    ct->win[s].e[i].ua < end)
					mine++;
		if (model_region_mapped(m, r) > mine)
			return true;
	}
	return false;
}

bool model_close_container_releases(const struct model *m, int c)
{
	return m->c[c].ngroups == 0;
}

bool model_detach_releases(const struct model *m, int id)
{
	int c = m->g[id].container;

	return c >= 0 && m->c[c].ngroups == 1;
}

int model_open_container(struct model *m)
{
	for (int c = 0; c < MODEL_CONTAINERS; c++) {
		if (!m->c[c].exists) {
			for (int s = 0; s < MODEL_SLOTS; s++) {
				free(m->c[c].win[s].e);
				free(m->c[c].win[s].leaves);
			}
			memset(&m->c[c], 0, sizeof(m->c[c]));
			m->c[c].exists = true;
			m->c[c].fd_open = true;
			return c;
		}
	}
	return -1;
}

struct model_res model_open_group(struct model *m, int id)
{
	if (id < 0 || id >= MODEL_GROUPS)
		return res_fail(ENOENT);
	if (m->g[id].open)
		return res_fail(EBUSY);
	m->g[id].open = true;
	m->g[id].container = -1;
	return res_ok(0);
}

static void container_put(struct model *m, int c)
{
	struct model_container *ct = &m->c[c];

	if (!ct->fd_open && !ct->ngroups)
		ct->exists = false;
}

static void detach(struct model *m, int id)
{
	int c = m->g[id].container;
	struct model_container *ct = &m->c[c];

	m->g[id].container = -1;
	ct->ngroups--;
	/* Q10, quirks=kernel: the tables are shared; the group's release clears them all. */
	if (m->kernel && ct->ngroups && ct->type)
		for (int s = 0; s < MODEL_SLOTS; s++)
			if (ct->win[s].present)
				entries_clear(&ct->win[s], ct->win[s].start >> ct->win[s].page_shift,
					      ct->win[s].it_size);
	/* The last group leaving releases the driver instance (vfio_group_detach_container). */
	if (!ct->ngroups && ct->type)
		instance_release(m, c);
	container_put(m, c);
}

struct model_res model_close_container(struct model *m, int c)
{
	m->c[c].fd_open = false;
	if (!m->c[c].ngroups && m->c[c].type)
		instance_release(m, c);
	container_put(m, c);
	return res_ok(0);
}

struct model_res model_close_group(struct model *m, int id)
{
	if (m->g[id].container >= 0)
		detach(m, id);
	m->g[id].open = false;
	return res_ok(0);
}

struct model_res model_set_container(struct model *m, int id, enum model_fdkind kind, int c)
{
	struct model_container *ct;

	/* vfio_group_ioctl_set_container (E6): not open, attached, not a container. */
	if (kind == MODEL_FD_NEGATIVE || kind == MODEL_FD_NOT_OURS)
		return res_fail(EBADF);
	if (m->g[id].container >= 0)
		return res_fail(EINVAL);
	if (kind == MODEL_FD_GROUP)
		return res_fail(EBADFD);
	ct = &m->c[c];
	if (ct->type == 2 && ct->ngroups)
		return res_fail(EBUSY);	/* v1 cannot share its table */
	/* All groups of the default machine are DDW-capable: a v2 instance takes
	 * any, programs its windows into it; the default window is pending only
	 * from the instance's first group (SET_IOMMU), not here. */
	m->g[id].container = c;
	ct->ngroups++;
	return res_ok(0);
}

struct model_res model_unset_container(struct model *m, int id)
{
	if (m->g[id].container < 0)
		return res_fail(EINVAL);
	detach(m, id);
	return res_ok(0);
}

/* --------------------------------------------------- container requests */

struct model_res model_set_iommu(struct model *m, int c, unsigned long type)
{
	struct model_container *ct = &m->c[c];

	if (!ct->ngroups || ct->type)
		return res_fail(EINVAL);
	if (type != VFIO_SPAPR_TCE_v2_IOMMU && type != VFIO_SPAPR_TCE_IOMMU)
		return res_fail(ENODEV);	/* E1: no driver claims it (vfio_ioctl_set_iommu) */
	/* A v1 instance takes one group: attaching the second fails (tce_iommu_attach_group). */
	if (type == VFIO_SPAPR_TCE_IOMMU && ct->ngroups > 1)
		return res_fail(EBUSY);
	ct->type = (int)type;
	ct->v1_locked = 0;
	ct->bound = false;
	ct->enabled = false;
	ct->pending = true;	/* the first group attached to the instance */
	memset(ct->held, 0, sizeof(ct->held));
	return res_ok(0);
}

struct model_res model_check_extension(const struct model *m, int c, unsigned long ext)
{
	(void)m;
	(void)c;
	/* VFIO_EEH: the default machine has EEH (docs/eeh.md). */
	return res_ok(ext == VFIO_SPAPR_TCE_IOMMU || ext == VFIO_SPAPR_TCE_v2_IOMMU || ext == VFIO_EEH);
}

struct model_res model_get_info(const struct model *m, int c, uint32_t argsz,
				struct model_info *out)
{
	if (!m->c[c].type)
		return res_fail(EINVAL);	/* no driver: the VFIO core's answer */
	if (argsz < 16)
		return res_fail(EINVAL);
	memset(out, 0, sizeof(*out));
	out->start = 0;
	out->size = (uint32_t)MODEL_TCE32_SIZE;
	if (m->c[c].type == 2)
		return res_ok(0);	/* v1: flags 0, ddw zeroed */
	out->flags = VFIO_IOMMU_SPAPR_INFO_DDW;
	out->pgsizes = MODEL_PGSIZES;
	out->max_windows = 2;
	out->levels = 5;
	return res_ok(0);
}

/* The argument checks of REGISTER and UNREGISTER (docs/kernel.md); only REGISTER rejects size 0 (Q13)
 * and wrapping ranges (UNREGISTER finds no such region: ENOENT). */
static int reg_args(const struct model *m, uint32_t argsz, uint32_t flags, uint64_t vaddr,
		    uint64_t size, bool reg)
{
	uint64_t end;

	if (argsz < 24 || flags)
		return EINVAL;
	if ((vaddr | size) & (MODEL_PAGE_SIZE - 1))
		return EINVAL;
	if (reg && !add_ok(vaddr, size, &end))
		return EINVAL;
	if (reg && !size)
		return m->kernel ? ENOMEM : EINVAL;	/* Q13 (kernel: no page array) */
	return 0;
}

struct model_res model_register(struct model *m, int c, uint32_t argsz, uint32_t flags,
				uint64_t vaddr, uint64_t size)
{
	struct model_container *ct = &m->c[c];
	uint64_t entries;
	int r, rc;

	if (!ct->type)
		return res_fail(EINVAL);	/* no driver: the VFIO core's answer */
	if (ct->type == 2)
		return res_fail(ENOTTY);
	ct->bound = true;	/* before any argument check (tce_iommu_mm_set) */
	rc = reg_args(m, argsz, flags, vaddr, size, true);
	if (rc)
		return res_fail(rc);
	entries = size >> MODEL_PAGE_SHIFT;
	r = region_exact(m, vaddr, entries);
	if (r >= 0) {
		if (ct->held[r])
			return res_fail(EBUSY);
		m->reg[r].used++;	/* adopt: no charge, no pin */
		ct->held[r] = true;
		ct->enabled = true;
		return res_ok(0);
	}
	/* new: charge, pin, overlap (mm_iommu_do_alloc's order) */
	if (!m->cap_ipc_lock) {
		uint64_t sum;

		if (!add_ok(m->locked_vm, entries, &sum) || sum > m->limit_pages)
			return res_fail(ENOMEM);
	}
	for (uint64_t i = 0; i < entries; i++) {
		uint64_t ua = vaddr + (i << MODEL_PAGE_SHIFT);

		/* Q5, quirks=kernel: the pages pinned before the bad one, as the result. */
		if (ua >= (1ull << 48) || page_prot(m, ua) != MODEL_RW)
			return m->kernel && i ? res_ok((long)i) : res_fail(EFAULT);
	}
	for (r = 0; r < MODEL_REGIONS; r++) {
		const struct model_region *o = &m->reg[r];

		if (o->live && vaddr < o->ua + (o->entries << MODEL_PAGE_SHIFT) &&
		    o->ua < vaddr + size)
			return res_fail(EINVAL);
	}
	for (r = 0; r < MODEL_REGIONS && m->reg[r].live; r++)
		;
	if (r == MODEL_REGIONS)
		abort();	/* the harness keeps fewer regions */
	charge(m, entries);
	m->reg[r].live = true;
	m->reg[r].ua = vaddr;
	m->reg[r].entries = entries;
	m->reg[r].used = 1;
	m->reg[r].leaked = 0;
	ct->held[r] = true;
	ct->enabled = true;
	return res_ok(0);
}

struct model_res model_unregister(struct model *m, int c, uint32_t argsz, uint32_t flags,
				  uint64_t vaddr, uint64_t size)
{
	struct model_container *ct = &m->c[c];
	int r, rc;

	if (!ct->type)
		return res_fail(EINVAL);	/* no driver: the VFIO core's answer */
	if (ct->type == 2)
		return res_fail(ENOTTY);
	if (!ct->bound)
		return res_fail(EPERM);
	rc = reg_args(m, argsz, flags, vaddr, size, false);
	if (rc)
		return res_fail(rc);
	r = region_exact(m, vaddr, size >> MODEL_PAGE_SHIFT);
	if (r < 0 || !ct->held[r])
		return res_fail(ENOENT);
	rc = region_put(m, r);
	if (rc && !m->kernel)
		return res_fail(rc);	/* Q3; quirks=kernel: 0, the region orphaned */
	ct->held[r] = false;
	return res_ok(0);
}

/* The window holding @iova in @ct, or NULL. */
static struct model_window *window_of(struct model_container *ct, uint64_t iova)
{
	for (int s = 0; s < MODEL_SLOTS; s++)
		if (window_holds(&ct->win[s], iova))
			return &ct->win[s];
	return NULL;
}

/*
 * MAP's and UNMAP's window, size and alignment checks (Q1, Q2): 0, EINVAL, or -1 for the kernel's +1
 * (Q1, quirks=kernel).  *inside gets the pages inside the window (all of
 * them but under Q2 in kernel mode).
 */
static int range_check(const struct model *m, const struct model_window *w, uint64_t iova,
		       uint64_t size, uint64_t *inside)
{
	uint64_t mask = (1ull << w->page_shift) - 1, end;

	if (iova & mask)
		return m->kernel ? -1 : EINVAL;
	*inside = size >> w->page_shift;
	if (!add_ok(iova, size, &end) || end - w->start > window_bytes(w)) {
		if (!m->kernel)
			return EINVAL;
		*inside = (w->start + window_bytes(w) - iova) >> w->page_shift;
	}
	return 0;
}

struct model_res model_map(struct model *m, int c, uint32_t argsz, uint32_t flags,
			   uint64_t vaddr, uint64_t iova, uint64_t size)
{
	struct model_container *ct = &m->c[c];
	struct model_window *w;
	uint64_t mask, psize, npages, end, entry, inside;
	unsigned perm;
	int rc;

	if (!ct->type)
		return res_fail(EINVAL);	/* no driver: the VFIO core's answer */
	if (!ct->enabled)
		return res_fail(EPERM);
	if (argsz < 32)
		return res_fail(EINVAL);
	if (flags & ~(uint32_t)(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE))
		return res_fail(EINVAL);
	rc = default_window(m, ct);
	if (rc)
		return res_fail(rc);
	w = window_of(ct, iova);
	if (!w)
		return res_fail(ENXIO);
	psize = 1ull << w->page_shift;
	mask = psize - 1;
	if ((size & mask) || (vaddr & mask))
		return res_fail(EINVAL);
	if (!(flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)))
		return res_fail(EINVAL);
	rc = range_check(m, w, iova, size, &inside);
	if (rc)
		return rc < 0 ? res_ok(1) : res_fail(rc);
	if (!add_ok(vaddr, size, &end))
		return res_fail(EINVAL);
	perm = (flags & VFIO_DMA_MAP_FLAG_WRITE) ? MODEL_READ | MODEL_WRITE : MODEL_READ;
	npages = size >> w->page_shift;
	entry = iova >> w->page_shift;
	for (uint64_t i = 0; i < inside; i++) {
		uint64_t ua = vaddr + i * psize;
		int r = region_lookup(m, ua, psize);

		if (ct->type == 2) {
			/* v1: pin the IOMMU page's system pages, writable unless the
			 * device only reads (E8, tce_iommu_use_page). */
			enum model_prot need = (perm & MODEL_WRITE) ? MODEL_RW : MODEL_RO;
			bool pinnable = true;

			for (uint64_t a = ua; a - ua < psize && pinnable; a += MODEL_PAGE_SIZE)
				pinnable = a < (1ull << 48) && page_prot(m, a) >= need;
			if (!pinnable) {
				entries_clear(w, entry, i);
				return res_fail(EFAULT);
			}
			q1517_leak(m, w, entry + i, 1, false);	/* Q17: tce_iommu_build's unuse */
			entry_set(w, entry + i, ua, perm);
			continue;
		}

		/* Every region is of normal pages: pageshift 12 (mm_iommu_do_alloc). */
		if (r < 0 || w->page_shift > MODEL_PAGE_SHIFT) {
			/* Rollback: [0, i) cleared, even what they replaced (tce_iommu_build_v2). */
			entries_clear(w, entry, i);
			return res_fail(EINVAL);
		}
		entry_set(w, entry + i, ua, perm);
	}
	/* Q2, quirks=kernel: v2's pages past the window are looked up, not written. */
	for (uint64_t i = inside; i < npages && ct->type == 7; i++) {
		if (region_lookup(m, vaddr + i * psize, psize) < 0 || w->page_shift > MODEL_PAGE_SHIFT) {
			entries_clear(w, entry, inside);
			return res_fail(EINVAL);
		}
	}
	return res_ok(0);
}

struct model_res model_unmap(struct model *m, int c, uint32_t argsz, uint32_t flags,
			     uint64_t iova, uint64_t size)
{
	struct model_container *ct = &m->c[c];
	struct model_window *w;
	uint64_t inside;
	int rc;

	if (!ct->type)
		return res_fail(EINVAL);	/* no driver: the VFIO core's answer */
	if (!ct->enabled)
		return res_fail(EPERM);
	if (argsz < 24 || flags)
		return res_fail(EINVAL);
	rc = default_window(m, ct);
	if (rc)
		return res_fail(rc);
	w = window_of(ct, iova);
	if (!w)
		return res_fail(ENXIO);
	if (size & ((1ull << w->page_shift) - 1))
		return res_fail(EINVAL);
	rc = range_check(m, w, iova, size, &inside);
	if (rc)
		return rc < 0 ? res_ok(1) : res_fail(rc);
	q1517_leak(m, w, iova >> w->page_shift, inside, false);	/* Q17 */
	entries_clear(w, iova >> w->page_shift, inside);
	return res_ok(0);
}

struct model_res model_create(struct model *m, int c, uint32_t argsz, uint32_t flags,
			      uint32_t page_shift, uint64_t window_size, uint32_t levels,
			      uint64_t *start)
{
	struct model_container *ct = &m->c[c];
	unsigned slot;
	int rc;

	if (!ct->type)
		return res_fail(EINVAL);	/* no driver: the VFIO core's answer */
	if (ct->type == 2)
		return res_fail(ENOTTY);
	ct->bound = true;
	if (argsz < 40 || flags)
		return res_fail(EINVAL);
	rc = default_window(m, ct);
	if (rc)
		return res_fail(rc);
	for (slot = 0; slot < MODEL_SLOTS && ct->win[slot].present; slot++)
		;
	if (slot == MODEL_SLOTS)
		return res_fail(ENOSPC);
	rc = window_create(m, ct, slot, page_shift, window_size, levels);
	if (rc)
		return res_fail(rc);
	*start = ct->win[slot].start;
	return res_ok(0);
}

struct model_res model_remove(struct model *m, int c, uint32_t argsz, uint32_t flags,
			      uint64_t start)
{
	struct model_container *ct = &m->c[c];
	struct model_window *w;

	if (!ct->type)
		return res_fail(EINVAL);	/* no driver: the VFIO core's answer */
	if (ct->type == 2)
		return res_fail(ENOTTY);
	ct->bound = true;
	if (argsz < 16 || flags)
		return res_fail(EINVAL);
	if (ct->pending && start == 0) {
		ct->pending = false;
		return res_ok(0);
	}
	w = window_of(ct, start);
	if (!w)
		return res_fail(EINVAL);
	window_remove(m, w);
	return res_ok(0);
}

struct model_res model_enable(struct model *m, int c)
{
	struct model_container *ct = &m->c[c];
	uint64_t pages = MODEL_TCE32_SIZE >> MODEL_PAGE_SHIFT;
	int rc;

	if (!ct->type)
		return res_fail(EINVAL);
	if (ct->type == 7)
		return res_fail(ENOTTY);
	if (ct->enabled)
		return res_fail(EBUSY);
	ct->bound = true;
	/* the whole 32-bit window, a worst-case bound (tce_iommu_enable) */
	rc = charge(m, pages);
	if (rc)
		return res_fail(rc);
	ct->v1_locked = pages;
	ct->enabled = true;
	return res_ok(0);
}

struct model_res model_disable(struct model *m, int c)
{
	struct model_container *ct = &m->c[c];

	if (!ct->type)
		return res_fail(EINVAL);
	if (ct->type == 7)
		return res_fail(ENOTTY);
	if (ct->enabled) {
		uncharge(m, ct->v1_locked);
		ct->v1_locked = 0;
		ct->enabled = false;
	}
	return res_ok(0);
}

struct model_res model_null_arg(struct model *m, int c, unsigned long req)
{
	struct model_container *ct = &m->c[c];

	if (!ct->type)
		return res_fail(EINVAL);
	if (ct->type == 2 && (req == VFIO_IOMMU_SPAPR_REGISTER_MEMORY ||
				req == VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY ||
				req == VFIO_IOMMU_SPAPR_TCE_CREATE || req == VFIO_IOMMU_SPAPR_TCE_REMOVE))
		return res_fail(ENOTTY);
	switch (req) {
	case VFIO_IOMMU_SPAPR_REGISTER_MEMORY:
	case VFIO_IOMMU_SPAPR_TCE_CREATE:
	case VFIO_IOMMU_SPAPR_TCE_REMOVE:
		ct->bound = true;
		return res_fail(EFAULT);
	case VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY:
		return res_fail(ct->bound ? EFAULT : EPERM);
	case VFIO_IOMMU_MAP_DMA:
	case VFIO_IOMMU_UNMAP_DMA:
		return res_fail(ct->enabled ? EFAULT : EPERM);
	case VFIO_IOMMU_SPAPR_TCE_GET_INFO:
		return res_fail(EFAULT);
	default:
		return res_fail(ENOTTY);
	}
}

struct model_res model_foreign(const struct model *m, int c, unsigned long req, unsigned long ext)
{
	const struct model_container *ct = &m->c[c];

	if (req == VFIO_CHECK_EXTENSION)
		return model_check_extension(m, c, ext);
	if (!ct->type)
		return res_fail(EINVAL);
	if (!ct->bound)
		return res_ok(-2);
	return res_fail(EPERM);
}

/* ---------------------------------------------------------- the device */

int model_translate(const struct model *m, int id, uint64_t iova, uint64_t *ua, unsigned *perm)
{
	const struct model_container *ct;
	const struct model_entry *e;

	if (id < 0 || id >= MODEL_GROUPS || m->g[id].container < 0)
		return -EFAULT;
	ct = &m->c[m->g[id].container];
	if (!ct->type)
		return -EFAULT;
	for (int s = 0; s < MODEL_SLOTS; s++) {
		const struct model_window *w = &ct->win[s];

		if (!window_holds(w, iova))
			continue;
		e = entry_find(w, iova >> w->page_shift);
		if (!e)
			return -EFAULT;
		*ua = e->ua + (iova & ((1ull << w->page_shift) - 1));
		*perm = e->perm;
		return 0;
	}
	return -EFAULT;
}

int model_dma(const struct model *m, int id, uint64_t iova, uint64_t len, bool write)
{
	uint64_t end, a;

	if (id < 0 || id >= MODEL_GROUPS)
		return -ENODEV;
	if (!len)
		return 0;
	if (!add_ok(iova, len, &end) && end != 0)
		return -EINVAL;
	/* Page by page (the smallest IOMMU page is 4 KiB: stepping by 4 KiB
	 * visits every IOMMU page of any window). */
	a = iova;
	for (;;) {
		uint64_t ua;
		unsigned perm;
		int rc = model_translate(m, id, a, &ua, &perm);

		if (rc)
			return rc;
		if (!(perm & (write ? MODEL_WRITE : MODEL_READ)))
			return -EACCES;
		a = (a | (MODEL_PAGE_SIZE - 1)) + 1;	/* next 4 KiB boundary */
		if (a == 0 || a - iova >= len)
			break;
	}
	return 0;
}

/* =================================================== the guest hypercall path */

static bool gatt_holds(const struct model *m, uint64_t gen)
{
	if (!m->guest.exists)
		return false;
	for (unsigned t = 0; t < MODEL_GTABLES; t++)
		for (unsigned a = 0; m->guest.t[t].live && a < m->guest.t[t].natt; a++)
			if (m->guest.t[t].att[a].gen == gen)
				return true;
	return false;
}

static bool gatt_v1(const struct model *m, uint64_t gen);

static void dead_add(struct model *m, const struct model_window *w, uint64_t charged)
{
	for (int i = 0; i < MODEL_DEAD; i++) {
		struct model_dead *d = &m->guest.dead[i];

		if (!d->gen) {
			d->gen = w->gen;
			d->charged = charged;
			/* Q15, quirks=kernel: the removed table, empty, still written. */
			memset(&d->win, 0, sizeof(d->win));
			d->win.present = true;
			d->win.page_shift = w->page_shift;
			d->win.start = w->start;
			d->win.it_size = w->it_size;
			d->win.gen = w->gen;
			/* Q12: its levels stay (the removal clears entries, frees no level). */
			d->win.levels = w->levels;
			d->win.leaf_bits = w->leaf_bits;
			if (w->nleaves) {
				d->win.leaves = malloc(w->nleaves * sizeof(*w->leaves));
				if (!d->win.leaves)
					abort();
				memcpy(d->win.leaves, w->leaves, w->nleaves * sizeof(*w->leaves));
				d->win.nleaves = d->win.capleaves = w->nleaves;
			}
			d->v1 = gatt_v1(m, w->gen);
			return;
		}
	}
	abort();	/* the harness keeps fewer removed-but-attached windows */
}

/* Whether the window of generation @gen, attached somewhere, is a v1 container's. */
static bool gatt_v1(const struct model *m, uint64_t gen)
{
	for (unsigned t = 0; t < MODEL_GTABLES; t++)
		for (unsigned a = 0; m->guest.t[t].live && a < m->guest.t[t].natt; a++)
			if (m->guest.t[t].att[a].gen == gen)
				return m->guest.t[t].att[a].v1;
	return false;
}

/* Q15, quirks=kernel: the removed window of generation @gen that hypercalls write, or NULL. */
static struct model_dead *dead_of(struct model *m, uint64_t gen)
{
	for (int i = 0; m->kernel && i < MODEL_DEAD; i++)
		if (m->guest.dead[i].gen == gen)
			return &m->guest.dead[i];
	return NULL;
}

const struct model_window *model_gatt_window(const struct model *m, const struct model_gatt *a)
{
	const struct model_window *w = &m->c[a->c].win[a->slot];

	return m->c[a->c].exists && w->present && w->gen == a->gen ? w : NULL;
}

/* Drops attachment @a (already removed from its table): a dead window's charge
 * goes when its last attachment does. */
static void gatt_drop(struct model *m, struct model_gatt a)
{
	if (model_gatt_window(m, &a) || gatt_holds(m, a.gen))
		return;
	for (int i = 0; i < MODEL_DEAD; i++) {
		if (m->guest.dead[i].gen == a.gen) {
			uncharge(m, m->guest.dead[i].charged);
			/* Q15, quirks=kernel: the table is freed with its entries' counts. */
			q1517_leak(m, &m->guest.dead[i].win, 0, UINT64_MAX, true);
			free(m->guest.dead[i].win.e);
			free(m->guest.dead[i].win.leaves);
			memset(&m->guest.dead[i], 0, sizeof(m->guest.dead[i]));
		}
	}
}

static struct model_gtable *gtable_find(struct model *m, uint64_t liobn)
{
	for (unsigned t = 0; t < MODEL_GTABLES; t++)
		if (m->guest.t[t].live && m->guest.t[t].liobn == liobn)
			return &m->guest.t[t];
	return NULL;
}

const struct model_gtable *model_guest_table(const struct model *m, uint64_t liobn)
{
	return gtable_find((struct model *)m, liobn);
}

static void gtable_destroy(struct model *m, struct model_gtable *t)
{
	while (t->natt) {
		struct model_gatt a = t->att[--t->natt];

		gatt_drop(m, a);
	}
	uncharge(m, t->charged);
	free(t->e);
	memset(t, 0, sizeof(*t));
}

struct model_res model_guest_create(struct model *m, uint64_t stt_header)
{
	memset(&m->guest, 0, sizeof(m->guest));
	m->guest.exists = true;
	m->guest.stt_header = stt_header;
	return res_ok(0);
}

void model_guest_destroy(struct model *m)
{
	for (unsigned t = 0; t < MODEL_GTABLES; t++)
		if (m->guest.t[t].live)
			gtable_destroy(m, &m->guest.t[t]);
	memset(&m->guest, 0, sizeof(m->guest));
}

/* KVM_SET_USER_MEMORY_REGION's checks: alignment first (even to delete),
 * then no wrap of gpa + size or ua + size (reaching 2^64 wraps), overlap. */
struct model_res model_guest_set_memslot(struct model *m, unsigned slot, uint64_t gpa,
					 uint64_t size, uint64_t ua)
{
	uint64_t gend, uend;

	if (slot >= MODEL_GSLOTS || ((gpa | size | ua) & (MODEL_PAGE_SIZE - 1)))
		return res_fail(EINVAL);
	if (size) {
		if (!add_ok(gpa, size, &gend) || !add_ok(ua, size, &uend))
			return res_fail(EINVAL);
		for (unsigned i = 0; i < MODEL_GSLOTS; i++) {
			const struct model_gslot *s = &m->guest.slot[i];

			if (i != slot && s->size && gpa < s->gpa + s->size && s->gpa < gend)
				return res_fail(EINVAL);
		}
	}
	m->guest.slot[slot].gpa = size ? gpa : 0;
	m->guest.slot[slot].ua = size ? ua : 0;
	m->guest.slot[slot].size = size;
	return res_ok(0);
}

/* kvmppc_stt_pages: entries (8 bytes each) in pages, plus the descriptor. */
/* kvmppc_tce_pages in unsigned 64-bit arithmetic: it wraps only for a Q16 table. */
static uint64_t tce_pages(uint64_t size)
{
	return ((size * 8 + MODEL_PAGE_SIZE - 1) & ~(uint64_t)(MODEL_PAGE_SIZE - 1)) / MODEL_PAGE_SIZE;
}

static uint64_t stt_pages(const struct model *m, uint64_t size)
{
	uint64_t npages = tce_pages(size);

	return npages + (m->guest.stt_header + npages * 8 + MODEL_PAGE_SIZE - 1) / MODEL_PAGE_SIZE;
}

struct model_res model_guest_create_table(struct model *m, uint64_t liobn, unsigned shift,
					  uint64_t offset, uint64_t size)
{
	uint64_t end = offset + size, pages;
	int rc;

	/* Q16, kernel mode: KVM's sum may wrap. */
	if (!size || shift < 12 || shift > 34 || (end < offset && !m->kernel) ||
	    end > (UINT64_MAX >> shift))
		return res_fail(EINVAL);
	pages = stt_pages(m, size);
	rc = charge(m, pages);
	if (rc)
		return res_fail(rc);
	if (gtable_find(m, liobn)) {
		uncharge(m, pages);
		return res_fail(EBUSY);
	}
	for (unsigned t = 0; t < MODEL_GTABLES; t++) {
		struct model_gtable *gt = &m->guest.t[t];

		if (gt->live)
			continue;
		memset(gt, 0, sizeof(*gt));
		gt->live = true;
		gt->liobn = liobn;
		gt->shift = shift;
		gt->offset = offset;
		gt->size = size;
		gt->charged = pages;
		return res_ok(0);
	}
	abort();	/* the harness stays below MODEL_GTABLES */
}

struct model_res model_guest_destroy_table(struct model *m, uint64_t liobn)
{
	struct model_gtable *t = gtable_find(m, liobn);

	if (!t)
		return res_fail(ENOENT);
	gtable_destroy(m, t);
	return res_ok(0);
}

/*
 * Q12: KVM lists a table's windows newest first (list_add_rcu); a second
 * group of a window already listed takes a reference only.  The seq of
 * the moment window @gen joined table @t, for a new attachment.
 */
static uint64_t q12_window_seq(struct model_gtable *t, uint64_t gen)
{
	for (unsigned a = 0; a < t->natt; a++)
		if (t->att[a].gen == gen)
			return t->att[a].seq;
	return ++t->seq;
}

struct model_res model_guest_attach(struct model *m, uint64_t liobn, int id)
{
	struct model_gtable *t;
	struct model_container *ct;
	uint64_t start, size;
	int c;

	if (id == -1)
		return res_fail(EBADF);
	if (id < 0)
		return res_fail(EINVAL);
	t = gtable_find(m, liobn);
	if (!t)
		return res_fail(EINVAL);
	/* E9: the same group again is another reference (kvm_spapr_tce_attach_iommu_group). */
	for (unsigned a = 0; a < t->natt; a++) {
		if (t->att[a].group == id) {
			t->att[a].refs++;
			return res_ok(0);
		}
	}
	if (t->natt == MODEL_GATT)
		return res_fail(ENOSPC);
	c = m->g[id].container;
	if (c < 0)
		return res_fail(EINVAL);
	ct = &m->c[c];
	/* E9: v1 or v2, bound to the process; a pending default window is not created. */
	if (!ct->type || !ct->bound)
		return res_fail(EINVAL);
	start = t->offset << t->shift;
	size = t->size << t->shift;
	for (unsigned s = 0; s < MODEL_SLOTS; s++) {
		const struct model_window *w = &ct->win[s];

		if (w->present && w->page_shift <= t->shift && w->start == start &&
		    window_bytes(w) >= size) {
			t->att[t->natt].seq = q12_window_seq(t, w->gen);
			t->att[t->natt].group = id;
			t->att[t->natt].c = c;
			t->att[t->natt].slot = s;
			t->att[t->natt].gen = w->gen;
			t->att[t->natt].shift = w->page_shift;
			t->att[t->natt].v1 = ct->type == 2;
			t->att[t->natt].refs = 1;
			t->natt++;
			return res_ok(0);
		}
	}
	return res_fail(EINVAL);
}

struct model_res model_guest_detach(struct model *m, uint64_t liobn, int id)
{
	struct model_gtable *t;

	if (id == -1)
		return res_fail(EBADF);
	if (id < 0)
		return res_fail(EINVAL);
	t = gtable_find(m, liobn);
	if (!t)
		return res_fail(EINVAL);
	for (unsigned a = 0; a < t->natt; a++) {
		struct model_gatt x = t->att[a];

		if (x.group != id)
			continue;
		if (--t->att[a].refs)
			return res_ok(0);
		t->att[a] = t->att[--t->natt];
		gatt_drop(m, x);
		return res_ok(0);
	}
	return res_fail(ENOENT);
}

bool model_guest_windows_shared(const struct model *m)
{
	for (unsigned t = 0; t < MODEL_GTABLES; t++)
		for (unsigned a = 0; m->guest.t[t].live && a < m->guest.t[t].natt; a++)
			for (unsigned u = t + 1; u < MODEL_GTABLES; u++)
				for (unsigned b = 0; m->guest.t[u].live && b < m->guest.t[u].natt; b++)
					if (m->guest.t[t].att[a].gen == m->guest.t[u].att[b].gen &&
					    model_gatt_window(m, &m->guest.t[t].att[a]))
						return true;
	return false;
}

/*
 * kvmppc_ioba_validate: the whole range.  The last two tests refuse what a
 * Q16 table's wrapped entry pages cannot hold (KVM indexes past them).
 */
static long gioba(const struct model_gtable *t, uint64_t ioba, uint64_t npages, uint64_t *entry)
{
	uint64_t e = ioba >> t->shift, held = tce_pages(t->size) * 512;

	if ((ioba & ((1ull << t->shift) - 1)) || e < t->offset || e - t->offset >= t->size ||
	    npages > t->size - (e - t->offset) || e - t->offset >= held || npages > held - (e - t->offset))
		return MODEL_H_PARAMETER;
	*entry = e;
	return MODEL_H_SUCCESS;
}

/* The memslot translation of [gpa, gpa + len), inside one slot: 0 or -1. */
static int gpa_to_ua(const struct model *m, uint64_t gpa, uint64_t len, uint64_t *ua)
{
	for (unsigned i = 0; i < MODEL_GSLOTS; i++) {
		const struct model_gslot *s = &m->guest.slot[i];

		if (s->size && gpa >= s->gpa && gpa - s->gpa < s->size &&
		    len <= s->size - (gpa - s->gpa)) {
			*ua = s->ua + (gpa - s->gpa);
			return 0;
		}
	}
	return -1;
}

static uint64_t gtce_get(const struct model_gtable *t, uint64_t idx)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].idx == idx)
			return t->e[i].val;
	return 0;
}

static void gtce_set(struct model_gtable *t, uint64_t idx, uint64_t val)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->e[i].idx != idx)
			continue;
		if (val)
			t->e[i].val = val;
		else
			t->e[i] = t->e[--t->n];
		return;
	}
	if (!val)
		return;
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->e = realloc(t->e, t->cap * sizeof(*t->e));
		if (!t->e)
			abort();
	}
	t->e[t->n].idx = idx;
	t->e[t->n].val = val;
	t->n++;
}

/*
 * The common part of PUT, INDIRECT (@vals: @n values) and STUFF (@vals NULL:
 * @stuff in every entry): validate every TCE against the memslots and, when
 * a window is live, the registered regions (whole guest page in one region
 * whose page size, 4 KiB here, every live window can use, ua aligned to the
 * largest hardware page); then every live window (once, even if attached
 * through two groups) gets 2^(guest shift - hardware shift) entries per TCE
 * (with R or W) or has them cleared; then the guest-visible values.
 */
static long h_apply(struct model *m, struct model_gtable *t, uint64_t entry, uint64_t n,
		    const uint64_t *vals, uint64_t stuff)
{
	struct model_window *live[MODEL_GATT];
	bool live_v1[MODEL_GATT];
	unsigned nlive = 0, hs = 0;
	uint64_t gsize = 1ull << t->shift, *uas = NULL;
	bool v1 = false;

	for (unsigned a = 0; a < t->natt; a++) {
		struct model_window *w = (struct model_window *)model_gatt_window(m, &t->att[a]);
		struct model_dead *dead = w ? NULL : dead_of(m, t->att[a].gen);
		bool dup = false;

		/* kvmppc_tce_validate looks up every listed table's page, removed ones too. */
		if (t->att[a].shift > hs)
			hs = t->att[a].shift;
		if (dead)
			w = &dead->win;	/* Q15, quirks=kernel: still written */
		if (!w)
			continue;
		/* No region backs a v1 window: H_TOO_HARD to map (Q17, quirks=kernel: mapped). */
		v1 |= t->att[a].v1 && !m->kernel;
		for (unsigned k = 0; k < nlive; k++)
			dup |= live[k] == w;
		if (dup)
			continue;
		live_v1[nlive] = t->att[a].v1;
		live[nlive++] = w;
		if (w->page_shift > hs)
			hs = w->page_shift;
	}
	if (vals) {
		uas = calloc(n ? n : 1, sizeof(*uas));
		if (!uas)
			abort();
		for (uint64_t i = 0; i < n; i++) {
			uint64_t v = vals[i], gpa = v & ~3ull, ua;

			if (!(v & 3))
				continue;
			if (v1 || (gpa & (gsize - 1)) || gpa_to_ua(m, gpa, gsize, &ua))
				goto too_hard;
			uas[i] = ua;
			if (!hs)
				continue;
			if ((ua & ((1ull << hs) - 1)) || region_lookup(m, ua, gsize) < 0 ||
			    MODEL_PAGE_SHIFT < hs)
				goto too_hard;
		}
	}
	for (unsigned k = 0; k < nlive; k++) {
		struct model_window *w = live[k];
		unsigned ss = t->shift - w->page_shift;

		if (!vals) {
			entries_clear(w, entry << ss, n << ss);
			continue;
		}
		for (uint64_t i = 0; i < n; i++) {
			uint64_t v = vals[i];
			unsigned perm = (v & 2) ? MODEL_READ | MODEL_WRITE : MODEL_READ;

			if (!(v & 3)) {
				entries_clear(w, (entry + i) << ss, 1ull << ss);
				continue;
			}
			for (uint64_t s = 0; s < 1ull << ss; s++) {
				entry_set(w, ((entry + i) << ss) + s, uas[i] + (s << w->page_shift), perm);
				if (live_v1[k])	/* Q17: counted in the region, not pinned by v1 */
					((struct model_entry *)entry_find(w, ((entry + i) << ss) + s))->kvm = true;
			}
		}
	}
	if (vals) {
		for (uint64_t i = 0; i < n; i++)
			gtce_set(t, entry - t->offset + i, vals[i]);
	} else {
		uint64_t base = entry - t->offset;

		for (size_t i = 0; i < t->n;)	/* the range's values go, then stuff's */
			if (t->e[i].idx - base < n)
				t->e[i] = t->e[--t->n];
			else
				i++;
		for (uint64_t i = 0; stuff && i < n; i++) {	/* none left in the range: append */
			if (t->n == t->cap) {
				t->cap = t->cap ? 2 * t->cap : 64;
				t->e = realloc(t->e, t->cap * sizeof(*t->e));
				if (!t->e)
					abort();
			}
			t->e[t->n].idx = base + i;
			t->e[t->n].val = stuff;
			t->n++;
		}
	}
	free(uas);
	return MODEL_H_SUCCESS;
too_hard:
	free(uas);
	return MODEL_H_TOO_HARD;
}

/* ================================================ Q12: KVM's hypercall order */

/* kvmppc_tce_to_ua: @gpa's system page in a memslot (only that page), with its offset. */
static int q12_tce_to_ua(const struct model *m, uint64_t gpa, uint64_t *ua)
{
	if (gpa_to_ua(m, gpa & ~(MODEL_PAGE_SIZE - 1), MODEL_PAGE_SIZE, ua))
		return -1;
	*ua += gpa & (MODEL_PAGE_SIZE - 1);
	return 0;
}

/*
 * kvmppc_tce_iommu_map of TCE @v (its ua @ua) at guest entry @ge in window
 * @w, and kvmppc_clear_tce when an entry fails: the valid entries of the
 * TCE are zeroed with their counts kept (leak), nothing else.  Each entry:
 * a region holding its IOMMU page with pages at least that large (4 KiB
 * here), an aligned ua; a permission-less one takes a count (leak) and
 * reaches the hardware only where its leaf block exists.
 */
static long q12_map(struct model *m, struct model_window *w, bool v1, unsigned ss, uint64_t ge,
		    uint64_t v, uint64_t ua)
{
	uint64_t he = ge << ss, psize = 1ull << w->page_shift;
	unsigned perm = (v & 2) ? MODEL_READ | MODEL_WRITE : (v & 1) ? MODEL_READ : 0;

	for (uint64_t k = 0; k < 1ull << ss; k++) {
		uint64_t u = ua + (k << w->page_shift);
		int r = region_lookup(m, u, psize);

		if (r < 0 || w->page_shift > MODEL_PAGE_SHIFT || (u & (psize - 1))) {
			for (uint64_t x = 0; x < 1ull << ss; x++) {
				const struct model_entry *e = entry_find(w, he + x);

				/* v1's own pins go back (not KVM: docs/quirks.md, Q12) */
				if (e && e->perm && (!v1 || e->kvm))
					m->reg[region_lookup(m, e->ua, 1)].leaked++;
			}
			entries_clear(w, he, 1ull << ss);
			return MODEL_H_TOO_HARD;
		}
		if (!perm) {
			m->reg[r].leaked++;
			if (!q12_leaf_present(w, he + k)) {
				entries_clear(w, he + k, 1);	/* the hardware entry stays as it was: empty */
				continue;
			}
		}
		entry_set(w, he + k, u, perm);
		if (v1)	/* Q17: counted in the region, not pinned by v1 */
			((struct model_entry *)entry_find(w, he + k))->kvm = true;
	}
	return MODEL_H_SUCCESS;
}

/*
 * quirks=kernel, H_PUT_TCE (@indirect false) and H_PUT_TCE_INDIRECT:
 * kvmppc_tce_validate for every TCE with R or W (every attached window,
 * removed ones too, its first IOMMU page only), then TCE by TCE, the
 * windows newest first (removed ones too, Q15; v1 ones like v2, Q17): H_PUT_TCE's
 * permission-less TCE clears, every other TCE maps (INDIRECT's too:
 * kvmppc_tce_to_ua first, H_PARAMETER); a failing window returns with the
 * TCEs before applied; then the value for H_GET_TCE.
 */
static long q12_apply(struct model *m, struct model_gtable *t, uint64_t entry, uint64_t n,
		      const uint64_t *vals, bool indirect)
{
	struct model_window *live[MODEL_GATT];
	uint64_t seq[MODEL_GATT];
	bool v1[MODEL_GATT];
	unsigned nlive = 0;

	for (unsigned a = 0; a < t->natt; a++) {
		struct model_window *w = (struct model_window *)model_gatt_window(m, &t->att[a]);
		struct model_dead *dead = w ? NULL : dead_of(m, t->att[a].gen);
		unsigned k;
		bool dup = false;

		if (dead)
			w = &dead->win;	/* Q15: a removed window is written too */
		for (k = 0; w && k < nlive; k++)
			dup |= live[k] == w;
		if (!w || dup)
			continue;
		for (k = nlive++; k > 0 && seq[k - 1] < t->att[a].seq; k--) {
			live[k] = live[k - 1];
			seq[k] = seq[k - 1];
			v1[k] = v1[k - 1];
		}
		live[k] = w;
		seq[k] = t->att[a].seq;
		v1[k] = t->att[a].v1;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v = vals[i], ua;

		if (!(v & 3))
			continue;
		if ((v & ~3ull & ((1ull << t->shift) - 1)) || q12_tce_to_ua(m, v & ~3ull, &ua))
			return MODEL_H_TOO_HARD;
		for (unsigned a = 0; a < t->natt; a++)
			if (region_lookup(m, ua, 1ull << t->att[a].shift) < 0 ||
			    t->att[a].shift > MODEL_PAGE_SHIFT)
				return MODEL_H_TOO_HARD;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v = vals[i], ua = 0;
		bool map = indirect || (v & 3);

		if (map && q12_tce_to_ua(m, v & ~3ull, &ua))
			return MODEL_H_PARAMETER;
		for (unsigned k = 0; k < nlive; k++) {
			unsigned ss = t->shift - live[k]->page_shift;

			if (!map) {
				entries_clear(live[k], (entry + i) << ss, 1ull << ss);
				continue;
			}
			if (q12_map(m, live[k], v1[k], ss, entry + i, v, ua) != MODEL_H_SUCCESS)
				return MODEL_H_TOO_HARD;
		}
		gtce_set(t, entry - t->offset + i, v);
	}
	return MODEL_H_SUCCESS;
}

long model_h_put_tce(struct model *m, uint64_t liobn, uint64_t ioba, uint64_t tce)
{
	struct model_gtable *t = gtable_find(m, liobn);
	uint64_t entry;

	if (!t)
		return MODEL_H_TOO_HARD;
	if (gioba(t, ioba, 1, &entry))
		return MODEL_H_PARAMETER;
	if (m->kernel)
		return q12_apply(m, t, entry, 1, &tce, false);
	return h_apply(m, t, entry, 1, &tce, 0);
}

long model_h_put_tce_indirect(struct model *m, uint64_t liobn, uint64_t ioba, uint64_t list,
			      uint64_t npages)
{
	struct model_gtable *t = gtable_find(m, liobn);
	uint64_t entry, ua, vals[MODEL_LIST_MAX];

	if (!t)
		return MODEL_H_TOO_HARD;
	if (npages > MODEL_LIST_MAX || (list & (MODEL_PAGE_SIZE - 1)))
		return MODEL_H_PARAMETER;
	if (gioba(t, ioba, npages, &entry))
		return MODEL_H_PARAMETER;
	if (gpa_to_ua(m, list, npages * 8, &ua))
		return MODEL_H_TOO_HARD;
	/* The copy: every page of the list readable (list is 4 KiB aligned: one page). */
	if (npages && page_prot(m, ua) < MODEL_RO)
		return MODEL_H_TOO_HARD;
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t be;

		memcpy(&be, (const void *)(uintptr_t)(ua + 8 * i), 8);
		vals[i] = be64toh(be);
	}
	if (m->kernel)
		return q12_apply(m, t, entry, npages, vals, true);
	return h_apply(m, t, entry, npages, vals, 0);
}

long model_h_stuff_tce(struct model *m, uint64_t liobn, uint64_t ioba, uint64_t value,
		       uint64_t npages)
{
	struct model_gtable *t = gtable_find(m, liobn);
	uint64_t entry;

	if (!t)
		return MODEL_H_TOO_HARD;
	if (gioba(t, ioba, npages, &entry))
		return MODEL_H_PARAMETER;
	if (value & 3)
		return MODEL_H_PARAMETER;
	return h_apply(m, t, entry, npages, NULL, value);
}

long model_h_get_tce(const struct model *m, uint64_t liobn, uint64_t ioba, uint64_t *out)
{
	const struct model_gtable *t = model_guest_table(m, liobn);
	uint64_t entry;

	if (!t)
		return MODEL_H_TOO_HARD;
	if (gioba(t, ioba, 1, &entry))
		return MODEL_H_PARAMETER;
	*out = gtce_get(t, entry - t->offset);
	return MODEL_H_SUCCESS;
}

bool model_guest_consistent(const struct model *m)
{
	for (unsigned ti = 0; ti < MODEL_GTABLES; ti++) {
		const struct model_gtable *t = &m->guest.t[ti];

		for (unsigned a = 0; t->live && a < t->natt; a++) {
			const struct model_window *w = model_gatt_window(m, &t->att[a]);
			unsigned ss;

			if (!w)
				continue;
			ss = t->shift - w->page_shift;
			for (size_t i = 0; i < t->n; i++) {
				uint64_t v = t->e[i].val, he = (t->offset + t->e[i].idx) << ss, ua = 0;
				unsigned perm = (v & 2) ? MODEL_READ | MODEL_WRITE : MODEL_READ;

				if ((v & 3) && gpa_to_ua(m, v & ~3ull, 1ull << t->shift, &ua))
					continue;
				for (uint64_t k = 0; k < 1ull << ss; k++) {
					const struct model_entry *e = entry_find(w, he + k);

					if (!(v & 3) ? e && e->perm :
					    !e || e->ua != ua + (k << w->page_shift) || e->perm != perm)
						return false;
				}
			}
		}
	}
	return true;
}
