/* SPDX-License-Identifier: MIT */
/*
 * The host bridge: window registers (TVEs), the hardware table walker and
 * the TCE cache.
 *
 * The walker reads tables the way the hardware does: from the window
 * register and physical memory only.  Every level block is looked up with
 * emu_mem_table_hva, so a window pointing at freed or foreign memory is a
 * fault, never a read of whatever lies there.
 *
 * Why a set-associative cache with LRU ways: it is what a PHB's TCE cache
 * is, it is bounded (so more distinct entries than it holds still have to
 * translate correctly, by walking again), and it keeps stale entries until
 * a kill, which is the behaviour the tests of the OS layer rely on to catch
 * a forgotten kill.  The key packs (slot, entry); 0 marks an empty way.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "emu/mem.h"
#include "emu/phb_priv.h"
#include "util/range.h"

static uint64_t cache_key(unsigned slot, uint64_t entry)
{
	return ((entry << 1) | slot) + 1;
}

static unsigned key_slot(uint64_t key)
{
	return (unsigned)((key - 1) & 1);
}

static uint64_t key_entry(uint64_t key)
{
	return (key - 1) >> 1;
}

static struct emu__cache_ent *cache_set(struct emu__endpoint *ep, uint64_t key)
{
	/* Neighbouring entries go to different sets. */
	uint64_t h = (key * 0x9e3779b97f4a7c15ull) >> 32;

	return &ep->cache[(h & (ep->cache_sets - 1)) * ep->cache_ways];
}

bool emu__cache_find(struct emu__endpoint *ep, unsigned slot, uint64_t entry, uint64_t *tce)
{
	uint64_t key = cache_key(slot, entry);
	struct emu__cache_ent *set = cache_set(ep, key), hit;
	unsigned w;

	for (w = 0; w < ep->cache_ways; w++) {
		if (set[w].key != key)
			continue;
		hit = set[w];
		memmove(&set[1], &set[0], w * sizeof(*set));	/* most recent first */
		set[0] = hit;
		*tce = hit.tce;
		return true;
	}
	return false;
}

void emu__cache_insert(struct emu__endpoint *ep, unsigned slot, uint64_t entry, uint64_t tce)
{
	uint64_t key = cache_key(slot, entry);
	struct emu__cache_ent *set = cache_set(ep, key);
	unsigned last = ep->cache_ways - 1;

	if (!set[last].key)
		ep->st.cache_entries++;
	memmove(&set[1], &set[0], last * sizeof(*set));	/* evicts the least recent */
	set[0].key = key;
	set[0].tce = tce;
}

void emu__cache_flush(struct emu__endpoint *ep)
{
	memset(ep->cache, 0, (size_t)ep->cache_sets * ep->cache_ways * sizeof(*ep->cache));
	ep->st.cache_entries = 0;
	ep->st.cache_flushes++;
}

/* Reads the big-endian entry at @hpa, which must lie in live table memory. */
static bool read_entry(uint64_t hpa, uint64_t *val)
{
	const uint64_t *p = emu_mem_table_hva(hpa, sizeof(uint64_t));

	if (!p || (hpa & 7))
		return false;
	/* Acquire: a level installed by cmpxchg is seen zero-filled. */
	*val = be64toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
	return true;
}

int emu__walk(const struct emu__window_reg *r, uint64_t entry, uint64_t *tce)
{
	uint64_t i = entry - r->it_offset, hpa = r->w.table_hpa, mask, val = 0;
	unsigned s = r->level_bits, level;

	mask = s >= 64 ? ~0ull : (1ull << s) - 1;
	for (level = r->w.levels; level-- > 0;) {
		uint64_t idx = (level * s >= 64 ? 0 : i >> (level * s)) & mask;

		if (!read_entry(hpa + idx * 8, &val))
			return EMU_FAULT_TABLE_UNREADABLE;
		if (!level)
			break;
		if (!val)
			return EMU_FAULT_NO_TRANSLATION;
		hpa = val & ~(EMU_TCE_READ | EMU_TCE_WRITE);
	}
	*tce = val;
	return 0;
}

/* ------------------------------------------------------------- registers */

static int check_slot(int group, unsigned slot, struct emu__endpoint **ep)
{
	int rc = emu__endpoint(group, ep);

	if (rc)
		return rc;
	if (slot >= emu__machine.cfg.max_windows)
		return -EINVAL;
	return 0;
}

/* Validates @w for @slot of @ep (ep->rw held) and fills @r.  0 or -EINVAL. */
static int window_valid(struct emu__endpoint *ep, unsigned slot, const struct emu_window *w,
			struct emu__window_reg *r)
{
	const struct emu_machine_config *c = &emu__machine.cfg;
	const struct emu__window_reg *other = &ep->win[slot ^ 1];
	uint64_t bytes, end;
	unsigned s;

	if (w->levels < 1 || w->levels > c->max_levels)
		return -EINVAL;
	if (!util_is_pow2(w->level_size) || w->level_size > (1ull << 60) || !w->size)
		return -EINVAL;
	if (w->page_shift >= 64 || !(c->pgsizes & (1ull << w->page_shift)))
		return -EINVAL;
	s = util_ilog2(w->level_size);
	/* levels * S index bits must reach every entry, or the walk aliases. */
	if (s * w->levels < 64 && w->size > (1ull << (s * w->levels)))
		return -EINVAL;
	if (!util_is_aligned(w->bus_offset, w->page_shift))
		return -EINVAL;
	if (w->size > (UINT64_MAX >> w->page_shift))
		return -EINVAL;
	bytes = w->size << w->page_shift;
	if (!util_range_end(w->bus_offset, bytes, &end))
		return -EINVAL;
	if (other->programmed &&
	    util_range_overlaps(w->bus_offset, end, other->start, other->end))
		return -EINVAL;
	if (!emu_mem_table_hva(w->table_hpa, w->level_size * 8))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->programmed = true;
	r->w = *w;
	r->it_offset = w->bus_offset >> w->page_shift;
	r->start = w->bus_offset;
	r->end = end;
	r->level_bits = s;
	return 0;
}

int emu_phb_set_window(int group, unsigned slot, const struct emu_window *w)
{
	struct emu__window_reg r;
	struct emu__endpoint *ep;
	int rc = check_slot(group, slot, &ep);

	if (rc)
		return rc;
	pthread_rwlock_wrlock(&ep->rw);
	rc = -EBUSY;
	if (ep->win[slot].programmed)
		goto out_unlock;
	rc = window_valid(ep, slot, w, &r);
	if (rc)
		goto out_unlock;
	ep->win[slot] = r;
	pthread_mutex_lock(&ep->lock);
	emu__cache_flush(ep);
	ep->st.window_sets++;
	pthread_mutex_unlock(&ep->lock);
out_unlock:
	pthread_rwlock_unlock(&ep->rw);
	return rc;
}

int emu_phb_unset_window(int group, unsigned slot)
{
	struct emu__endpoint *ep;
	int rc = check_slot(group, slot, &ep);

	if (rc)
		return rc;
	pthread_rwlock_wrlock(&ep->rw);
	rc = -ENOENT;
	if (!ep->win[slot].programmed)
		goto out_unlock;
	memset(&ep->win[slot], 0, sizeof(ep->win[slot]));
	pthread_mutex_lock(&ep->lock);
	emu__cache_flush(ep);
	ep->st.window_unsets++;
	pthread_mutex_unlock(&ep->lock);
	rc = 0;
out_unlock:
	pthread_rwlock_unlock(&ep->rw);
	return rc;
}

int emu_phb_get_window(int group, unsigned slot, struct emu_window *w)
{
	struct emu__endpoint *ep;
	int rc = check_slot(group, slot, &ep);

	if (rc)
		return rc;
	pthread_rwlock_rdlock(&ep->rw);
	rc = -ENOENT;
	if (ep->win[slot].programmed) {
		*w = ep->win[slot].w;
		rc = 0;
	}
	pthread_rwlock_unlock(&ep->rw);
	return rc;
}

/* Drops way @i of the cache if it holds an entry of @slot in [first, end); true if it did. */
static bool kill_way(struct emu__endpoint *ep, uint64_t i, unsigned slot, uint64_t first, uint64_t end)
{
	struct emu__cache_ent *e = &ep->cache[i];
	uint64_t set_start, last;

	if (!e->key || key_slot(e->key) != slot || key_entry(e->key) < first || key_entry(e->key) >= end)
		return false;
	/* Keep the set's live ways first: close the gap. */
	set_start = i - i % ep->cache_ways;
	last = set_start + ep->cache_ways - 1;
	memmove(e, e + 1, (size_t)(last - i) * sizeof(*e));
	memset(&ep->cache[last], 0, sizeof(*e));
	ep->st.cache_entries--;
	return true;
}

void emu__dma_begin(struct emu__endpoint *ep)
{
	__atomic_add_fetch(&ep->dma_inflight, 1, __ATOMIC_RELAXED);	/* ep->lock orders it */
}

void emu__dma_end(struct emu__endpoint *ep)
{
	/* Release: the DMA's copy happens before a kill that sees the count drop. */
	__atomic_sub_fetch(&ep->dma_inflight, 1, __ATOMIC_RELEASE);
}

/*
 * The common kill, without waiting: no DMA between its translation and its
 * end, and an empty cache, both seen under ep->lock.  Then no DMA can use
 * a translation read before the caller's table change: one that finished
 * is done with it, and one that translates later takes ep->lock after us,
 * so it walks the table as the caller left it (the caller's stores happen
 * before our lock) and finds nothing cached.  True when the kill is done
 * (counted); false: the caller waits for the DMAs (ep->rw for writing).
 * A pthread_rwlock write pair costs about 20 ns here, a mutex pair 3.
 */
static bool kill_idle(struct emu__endpoint *ep, uint64_t npages)
{
	bool idle;

	pthread_mutex_lock(&ep->lock);
	idle = !ep->st.cache_entries && !__atomic_load_n(&ep->dma_inflight, __ATOMIC_ACQUIRE);
	if (idle) {
		ep->st.kills++;
		ep->st.killed_pages += npages;
	}
	pthread_mutex_unlock(&ep->lock);
	return idle;
}

/*
 * A range shorter than the cache has sets is looked up entry by entry (the
 * sets its entries hash to); a longer one is a scan of the whole cache, as
 * the hardware's invalidate-all-matching would be.  Same result either way.
 */
void emu_phb_tce_kill(int group, unsigned slot, uint64_t first_entry, uint64_t npages)
{
	uint64_t end, i, n;
	struct emu__endpoint *ep;

	/* A started machine's endpoint without the calls (every hypercall kills). */
	if (__atomic_load_n(&emu__machine.started, __ATOMIC_ACQUIRE) && group >= 0 &&
	    (unsigned)group < emu__machine.cfg.groups && slot < emu__machine.cfg.max_windows)
		ep = &emu__machine.ep[group];
	else if (check_slot(group, slot, &ep))
		return;
	if (!util_range_end(first_entry, npages, &end))
		end = UINT64_MAX;
	if (kill_idle(ep, npages))
		return;
	pthread_rwlock_wrlock(&ep->rw);
	pthread_mutex_lock(&ep->lock);
	n = (uint64_t)ep->cache_sets * ep->cache_ways;
	if (npages < ep->cache_sets) {
		for (uint64_t x = first_entry; x < end; x++) {
			uint64_t base = (uint64_t)(cache_set(ep, cache_key(slot, x)) - ep->cache);

			for (i = base; i < base + ep->cache_ways; i++)
				if (kill_way(ep, i, slot, x, x + 1))
					break;	/* an entry is cached in one way at most */
		}
	} else {
		for (i = 0; i < n; i++)
			if (kill_way(ep, i, slot, first_entry, end))
				i--;	/* look at what moved into this way */
	}
	ep->st.kills++;
	ep->st.killed_pages += npages;
	pthread_mutex_unlock(&ep->lock);
	pthread_rwlock_unlock(&ep->rw);
}

int emu_phb_cache_lookup(int group, unsigned slot, uint64_t entry, uint64_t *tce)
{
	struct emu__endpoint *ep;
	struct emu__cache_ent *set;
	uint64_t key;
	unsigned w;
	int rc = check_slot(group, slot, &ep);

	if (rc)
		return rc;
	key = cache_key(slot, entry);
	rc = -ENOENT;
	pthread_mutex_lock(&ep->lock);
	set = cache_set(ep, key);
	for (w = 0; w < ep->cache_ways; w++) {
		if (set[w].key == key) {
			*tce = set[w].tce;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&ep->lock);
	return rc;
}

/* ---------------------------------------------------------------- checker */

int emu__phb_check(struct emu__endpoint *ep, int group)
{
	uint64_t n = (uint64_t)ep->cache_sets * ep->cache_ways, i, live = 0;
	unsigned s;

	for (s = 0; s < EMU_MAX_WINDOWS; s++) {
		const struct emu__window_reg *r = &ep->win[s];

		if (!r->programmed)
			continue;
		if (s >= emu__machine.cfg.max_windows || r->start != r->w.bus_offset ||
		    r->it_offset != r->w.bus_offset >> r->w.page_shift ||
		    r->end - r->start != r->w.size << r->w.page_shift) {
			fprintf(stderr, "emu_machine_check: group %d slot %u: bad window register\n",
				group, s);
			return -EUCLEAN;
		}
		if (!emu_mem_table_hva(r->w.table_hpa, r->w.level_size * 8)) {
			fprintf(stderr,
				"emu_machine_check: group %d slot %u: table %#llx is not live table memory\n",
				group, s, (unsigned long long)r->w.table_hpa);
			return -EUCLEAN;
		}
	}
	for (i = 0; i < n; i++) {
		const struct emu__cache_ent *e = &ep->cache[i];
		const struct emu__window_reg *r;

		if (!e->key) {
			/* Live ways come first in a set. */
			if (i % ep->cache_ways != ep->cache_ways - 1 && e[1].key) {
				fprintf(stderr, "emu_machine_check: group %d: hole in cache set\n",
					group);
				return -EUCLEAN;
			}
			continue;
		}
		live++;
		r = &ep->win[key_slot(e->key)];
		if (!r->programmed || key_entry(e->key) < r->it_offset ||
		    key_entry(e->key) - r->it_offset >= r->w.size) {
			fprintf(stderr,
				"emu_machine_check: group %d: cached TCE (slot %u, entry %#llx) outside a programmed window\n",
				group, key_slot(e->key), (unsigned long long)key_entry(e->key));
			return -EUCLEAN;
		}
		if (cache_set(ep, e->key) != &ep->cache[i - i % ep->cache_ways]) {
			fprintf(stderr, "emu_machine_check: group %d: cached TCE in the wrong set\n",
				group);
			return -EUCLEAN;
		}
	}
	if (live != ep->st.cache_entries) {
		fprintf(stderr, "emu_machine_check: group %d: %llu cached TCEs, counter %llu\n", group,
			(unsigned long long)live, (unsigned long long)ep->st.cache_entries);
		return -EUCLEAN;
	}
	return 0;
}
