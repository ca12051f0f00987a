/* SPDX-License-Identifier: MIT */
/*
 * The registry of an mm: an immutable snapshot of sorted slots plus a hash
 * of granules, published with RCU (see struct mmreg_snap).
 *
 * Why not the kernel's list: DPDK registers one region per hugepage, so
 * thousands of regions are normal, and every MAP looks regions up.  A lookup
 * here hashes the granule of the address and searches the few slots that
 * touch it.  The granule is chosen per snapshot: the smallest power of two,
 * not below the smallest region, that keeps the granule count under four
 * per region.  Regions of similar sizes (one per hugepage, one per DIMM) then
 * get O(1) lookups; a mix of very large and tiny regions degrades to a
 * binary search among the tiny ones sharing a granule, never worse.
 *
 * Why copy on insert: readers take no lock, so a snapshot never changes
 * under them except for tombstoning (an atomic store of NULL).  An insert
 * costs O(regions + granules), like the kernel's linear overlap check, and
 * registration is rare next to lookups.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmreg/mmreg_priv.h"
#include "util/fail.h"
#include "util/range.h"
#include "util/rcu.h"

static uint64_t bucket_of(uint64_t granule, unsigned shift)
{
	return (granule * 0x9e3779b97f4a7c15ull) >> (64 - shift);
}

static const struct mmreg_bucket *bucket_find(const struct mmreg_snap *snap, uint64_t granule)
{
	uint64_t mask = (1ull << snap->bucket_shift) - 1;
	uint64_t i = bucket_of(granule, snap->bucket_shift);

	for (;; i = (i + 1) & mask) {
		const struct mmreg_bucket *b = &snap->buckets[i];

		if (b->key1 == granule + 1)
			return b;
		if (!b->key1)
			return NULL;
	}
}

/* The slot whose range holds @ua (live or tombstone), or NULL. */
struct mmreg_slot *mmreg__snap_slot(const struct mmreg_snap *snap, uint64_t ua)
{
	const struct mmreg_bucket *b;
	uint32_t lo, hi;

	if (!snap)
		return NULL;
	b = bucket_find(snap, ua >> snap->granule_shift);
	if (!b)
		return NULL;
	/* Last slot of the bucket's run starting at or before ua. */
	lo = b->first;
	hi = b->first + b->count;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (snap->slots[mid].ua <= ua)
			lo = mid;
		else
			hi = mid;
	}
	if (snap->slots[lo].ua <= ua && ua < snap->slots[lo].end)
		return (struct mmreg_slot *)&snap->slots[lo];
	return NULL;
}

/* True when a live slot shares a byte with [ua, end).  Under mm->lock. */
bool mmreg__snap_overlaps(const struct mmreg_snap *snap, uint64_t ua, uint64_t end)
{
	uint32_t lo = 0, hi;

	if (!snap)
		return false;
	/* First slot ending after ua: slots are sorted and disjoint, so ends are sorted too. */
	hi = snap->nslots;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (snap->slots[mid].end <= ua)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < snap->nslots && snap->slots[lo].ua < end; lo++)
		if (snap->slots[lo].region)
			return true;
	return false;
}

static uint64_t granules_of(uint64_t ua, uint64_t end, unsigned shift)
{
	return ((end - 1) >> shift) - (ua >> shift) + 1;
}

/* Number of granules of 2^shift bytes the live slots plus [ua, end) touch. */
static uint64_t count_granules(const struct mmreg_snap *cur, uint64_t ua, uint64_t end,
			       unsigned shift)
{
	uint64_t n = granules_of(ua, end, shift);

	for (uint32_t i = 0; cur && i < cur->nslots; i++)
		if (cur->slots[i].region)
			n += granules_of(cur->slots[i].ua, cur->slots[i].end, shift);
	return n;
}

/* See the top of this file. */
static unsigned pick_granule(const struct mmreg_snap *cur, uint64_t ua, uint64_t end,
			     uint64_t nslots, uint64_t *ngran)
{
	unsigned shift = util_ilog2(end - ua);

	for (uint32_t i = 0; cur && i < cur->nslots; i++) {
		const struct mmreg_slot *sl = &cur->slots[i];

		if (sl->region && util_ilog2(sl->end - sl->ua) < shift)
			shift = util_ilog2(sl->end - sl->ua);
	}
	if (shift < MMREG_GRANULE_MIN_SHIFT)
		shift = MMREG_GRANULE_MIN_SHIFT;
	for (;; shift++) {
		*ngran = count_granules(cur, ua, end, shift);
		if (*ngran <= 4 * nslots || shift == MMREG_GRANULE_MAX_SHIFT)
			return shift;
	}
}

static void index_slot(struct mmreg_snap *snap, uint32_t s)
{
	uint64_t mask = (1ull << snap->bucket_shift) - 1;
	uint64_t g = snap->slots[s].ua >> snap->granule_shift;
	uint64_t last = (snap->slots[s].end - 1) >> snap->granule_shift;

	for (; g <= last; g++) {
		uint64_t i = bucket_of(g, snap->bucket_shift);

		while (snap->buckets[i].key1 && snap->buckets[i].key1 != g + 1)
			i = (i + 1) & mask;
		if (snap->buckets[i].key1) {
			snap->buckets[i].count++;	/* slots come in order: runs stay consecutive */
		} else {
			snap->buckets[i].key1 = g + 1;
			snap->buckets[i].first = s;
			snap->buckets[i].count = 1;
		}
	}
}

/*
 * Publishes a snapshot with @region added (tombstones dropped).  Under
 * mm->lock.  On success *old is the previous snapshot, to be freed by the
 * caller after util_rcu_synchronize() (outside mm->lock).
 * Returns 0 or -ENOMEM (nothing changed).
 */
int mmreg__registry_insert(struct mmreg_mm *mm, struct mmreg_region *region,
			   struct mmreg_snap **old)
{
	struct mmreg_snap *cur = mm->snap, *snap;
	uint64_t ua = region->ua, end = ua + (region->entries << EMU_PAGE_SHIFT);
	uint64_t ngran, nslots = 1, bytes, nbuckets;
	unsigned shift = 4, granule;
	uint32_t i, s = 0;
	bool placed = false;

	for (i = 0; cur && i < cur->nslots; i++)
		nslots += !!cur->slots[i].region;
	if (nslots > UINT32_MAX)
		return -ENOMEM;
	granule = pick_granule(cur, ua, end, nslots, &ngran);
	/* Load at most 0.6: short probes, and a table small enough to stay in cache. */
	while ((1ull << shift) * 3 < 5 * ngran)
		shift++;
	nbuckets = 1ull << shift;
	bytes = sizeof(*snap) + nslots * sizeof(struct mmreg_slot) + nbuckets * sizeof(struct mmreg_bucket);
	if (util_should_fail("mmreg_snap_alloc"))
		return -ENOMEM;
	snap = calloc(1, bytes);
	if (!snap)
		return -ENOMEM;
	snap->bytes = bytes;
	snap->granule_shift = granule;
	snap->bucket_shift = shift;
	snap->buckets = (struct mmreg_bucket *)&snap->slots[nslots];
	for (i = 0; cur && i < cur->nslots; i++) {
		if (!cur->slots[i].region)
			continue;
		if (!placed && cur->slots[i].ua > ua) {
			snap->slots[s++] = (struct mmreg_slot){ ua, end, region };
			placed = true;
		}
		snap->slots[s++] = cur->slots[i];
	}
	if (!placed)
		snap->slots[s++] = (struct mmreg_slot){ ua, end, region };
	snap->nslots = s;
	for (i = 0; i < s; i++)
		index_slot(snap, i);
	__atomic_store_n(&mm->snap, snap, __ATOMIC_RELEASE);
	*old = cur;
	return 0;
}

/* Tombstones @region's slot.  Under mm->lock.  Never fails, never allocates. */
void mmreg__registry_remove(struct mmreg_mm *mm, struct mmreg_region *region)
{
	struct mmreg_slot *slot = mmreg__snap_slot(mm->snap, region->ua);

	if (slot && slot->region == region)
		__atomic_store_n(&slot->region, NULL, __ATOMIC_RELEASE);
}

struct mmreg_region *mmreg_region_lookup(struct mmreg_mm *mm, uint64_t ua, uint64_t size)
{
	struct mmreg_snap *snap;
	struct mmreg_slot *slot;
	uint64_t end;

#ifdef SPAPRTCE_DEBUG
	if (!util_rcu_in_read_section()) {
		fprintf(stderr, "mmreg_region_lookup outside a read section\n");
		abort();
	}
#endif
	if (!util_range_end(ua, size, &end))
		return NULL;
	snap = __atomic_load_n(&mm->snap, __ATOMIC_ACQUIRE);
	slot = mmreg__snap_slot(snap, ua);
	if (!slot || end > slot->end)
		return NULL;
	return __atomic_load_n(&slot->region, __ATOMIC_ACQUIRE);
}

struct mmreg_region *mmreg_region_find(struct mmreg_mm *mm, uint64_t ua, uint64_t entries)
{
	struct mmreg_region *r;

	if (entries > (UINT64_MAX >> EMU_PAGE_SHIFT))
		return NULL;
	r = mmreg_region_lookup(mm, ua, entries << EMU_PAGE_SHIFT);
	if (r && (r->ua != ua || r->entries != entries))
		return NULL;
	return r;
}

/* Index and order checks for mmreg_mm_check().  Under mm->lock. */
int mmreg__registry_check(struct mmreg_mm *mm)
{
	struct mmreg_snap *snap = mm->snap;
	uint64_t live = 0;
	int rc = 0;

	for (uint32_t i = 0; snap && i < snap->nslots; i++) {
		struct mmreg_slot *sl = &snap->slots[i];

		if (sl->ua >= sl->end || (i && snap->slots[i - 1].end > sl->ua)) {
			fprintf(stderr, "mmreg_mm_check: slot %u [%#llx, %#llx) out of order (I1)\n", i,
				(unsigned long long)sl->ua, (unsigned long long)sl->end);
			rc = -EUCLEAN;
		}
		for (uint64_t a = sl->ua; a < sl->end; a = ((a >> snap->granule_shift) + 1) << snap->granule_shift) {
			if (mmreg__snap_slot(snap, a) != sl) {
				fprintf(stderr, "mmreg_mm_check: index misses slot %u at %#llx\n", i,
					(unsigned long long)a);
				rc = -EUCLEAN;
				break;
			}
			if (a > UINT64_MAX - (1ull << snap->granule_shift))
				break;
		}
		if (!sl->region)
			continue;
		live++;
		if (sl->region->ua != sl->ua ||
		    sl->region->ua + (sl->region->entries << EMU_PAGE_SHIFT) != sl->end) {
			fprintf(stderr, "mmreg_mm_check: slot %u bounds differ from its region\n", i);
			rc = -EUCLEAN;
		}
	}
	if (live != mm->nregions) {
		fprintf(stderr, "mmreg_mm_check: %llu live slots, %llu regions counted\n",
			(unsigned long long)live, (unsigned long long)mm->nregions);
		rc = -EUCLEAN;
	}
	return rc;
}
