/* SPDX-License-Identifier: MIT */
/*
 * The registry of an mm: a radix tree over the user address, shaped like a
 * page table, whose slots hold regions (struct mmreg_node), read without
 * any lock under util/rcu.
 *
 * Why a radix tree.  Two loads matter: lookups (every MAP and hypercall
 * looks regions up, so they must be cheap and lock-free at any count) and
 * registration (DPDK without hugepages registers one 4 KiB region per page,
 * tens of thousands one after another).  The kernel keeps a list: a lookup
 * walks it, an insert walks it for the overlap check.  The first version of
 * this file published an immutable sorted snapshot plus a hash and copied
 * the whole registry on every insert: quadratic registration.  The tree
 * answers both: a lookup is one load per level from the root, whatever the
 * number of regions (so 10,000 regions cost what 1 does, bar the cache);
 * an insert or removal changes only the slots the region covers.
 *
 * How a region is stored.  A region [ua, last] is cut into pieces, one per
 * slot it touches: a slot the region covers entirely holds the region
 * (tagged MMREG_SLOT_REGION); a slot it covers partly holds a child node
 * and the piece goes one level down.  Only the first and the last piece of
 * each level can be partial, so a region takes at most 2 * 511 slots per
 * level, and usually very few: one slot for a 4 KiB page, for a 2 MiB
 * hugepage aligned on 2 MiB, or for a 1 GiB page.  The cost of an insert is
 * bounded by the address width (six levels), not by the number of regions:
 * better than O(log n).
 *
 * Insert in three passes, so that a failure changes nothing: plan (walk the
 * pieces: any slot already used is an overlap, -EINVAL, as the kernel's
 * mm_iommu_do_alloc fails any overlap; count the nodes to create), take
 * exactly that many nodes from the pool (each a fault point; none at all
 * when the region lands in existing leaves, the common case of consecutive
 * pages), then fill, which cannot fail.  A new child node is
 * filled before it is published, so readers see either nothing or a
 * complete subtree.
 *
 * Removal clears the region's slots and unlinks every node left empty; it
 * never allocates.  Unlinked nodes are handed back to the caller, which
 * returns them to the pool (nodes.c) after util_rcu_synchronize(), when it
 * frees the region itself: a reader may still be walking them.  Every reachable node is therefore non-empty,
 * which is what makes the overlap check exact: a non-empty child under a
 * slot the new region covers means an overlap.  The tree grows taller when
 * a region lies above what the root covers (a new root whose slot 0 is the
 * old one, indistinguishable for readers) and goes back to empty (root
 * NULL) when the last region leaves.
 *
 * Readers: the root and every slot are loaded with acquire, stored with
 * release; a node's level and a region's bounds never change after they
 * are published.  A lookup reads the region's bounds only when the range
 * asked for leaves the slot where the walk ended.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "mmreg/mmreg_priv.h"
#include "util/fail.h"
#include "util/range.h"
#include "util/rcu.h"

/* log2 of the bytes one slot of a level-@level node covers. */
static inline unsigned slot_shift(unsigned level)
{
	return EMU_PAGE_SHIFT + MMREG_NODE_BITS * level;
}

static inline uint64_t slot_mask(unsigned level)
{
	return (1ull << slot_shift(level)) - 1;
}

static inline unsigned slot_index(uint64_t ua, unsigned level)
{
	return (unsigned)(ua >> slot_shift(level)) & (MMREG_NODE_SLOTS - 1);
}

/* True when a node of @level, rooted at address 0, covers address @last. */
static inline bool level_covers(unsigned level, uint64_t last)
{
	unsigned span = slot_shift(level) + MMREG_NODE_BITS;

	return span >= 64 || !(last >> span);
}

/* The last byte of the piece starting at @a: the end of its slot, or @last. */
static inline uint64_t piece_last(uint64_t a, uint64_t last, unsigned level)
{
	uint64_t l = a | slot_mask(level);

	return l < last ? l : last;
}

/* True when the piece [a, l] fills its slot. */
static inline bool piece_full(uint64_t a, uint64_t l, unsigned level)
{
	return !(a & slot_mask(level)) && (l & slot_mask(level)) == slot_mask(level);
}

static inline uintptr_t tag(const struct mmreg_region *r)
{
	return (uintptr_t)r | MMREG_SLOT_REGION;
}

static inline uint64_t region_last(const struct mmreg_region *r)
{
	return r->ua + (r->entries << EMU_PAGE_SHIFT) - 1;
}

/* ------------------------------------------------------------- insert */

/*
 * Pass 1: -EINVAL when [lo, last] shares a byte with a region under @node
 * (NULL: a subtree yet to be built), else the number of nodes to create
 * below @node.  Under mm->lock.
 */
static long plan(const struct mmreg_node *node, unsigned level, uint64_t lo, uint64_t last)
{
	long need = 0;

	for (uint64_t a = lo, l;; a = l + 1) {
		uintptr_t e = node ? node->slot[slot_index(a, level)] : 0;
		bool full;

		l = piece_last(a, last, level);
		full = piece_full(a, l, level);
		/* A used slot under a full piece, or a region in it: overlap (reachable nodes are never empty). */
		if (e && (full || (e & MMREG_SLOT_REGION)))
			return -EINVAL;
		if (!full) {	/* pages are whole: never at level 0 */
			long n = plan((const struct mmreg_node *)e, level - 1, a, l);

			if (n < 0)
				return n;
			need += n + !e;
		}
		if (l == last)
			return need;
	}
}

/*
 * Pass 1 for the part of [lo, last] above what the root of level @root_level
 * covers, as seen from the virtual node of level @v that the tree will grow
 * (its slot 0 leads down to the root, its other slots are empty).
 */
static long plan_above(unsigned v, unsigned root_level, uint64_t lo, uint64_t last)
{
	long need = 0;

	for (uint64_t a = lo, l;; a = l + 1) {
		l = piece_last(a, last, v);
		if (!slot_index(a, v) && v - 1 > root_level)
			need += plan_above(v - 1, root_level, a, l);
		else if (!piece_full(a, l, v))
			need += 1 + plan(NULL, v - 1, a, l);
		if (l == last)
			return need;
	}
}

static struct mmreg_node *pop(struct mmreg_mm *mm, struct mmreg_node **stash, unsigned level)
{
	struct mmreg_node *n = *stash;

	*stash = n->next;
	n->next = NULL;
	n->level = level;
	mm->nnodes++;
	return n;
}

/* Pass 3: stores @r in every slot of [lo, last] under @node.  Cannot fail. */
static void fill(struct mmreg_mm *mm, struct mmreg_node *node, uint64_t lo, uint64_t last,
		 const struct mmreg_region *r, struct mmreg_node **stash)
{
	unsigned level = node->level;

	for (uint64_t a = lo, l;; a = l + 1) {
		uintptr_t *s = &node->slot[slot_index(a, level)];

		l = piece_last(a, last, level);
		if (piece_full(a, l, level)) {
			__atomic_store_n(s, tag(r), __ATOMIC_RELEASE);
			node->count++;
		} else if (*s) {
			fill(mm, (struct mmreg_node *)*s, a, l, r, stash);
		} else {
			struct mmreg_node *child = pop(mm, stash, level - 1);

			fill(mm, child, a, l, r, stash);	/* complete before readers can see it */
			__atomic_store_n(s, (uintptr_t)child, __ATOMIC_RELEASE);
			node->count++;
		}
		if (l == last)
			return;
	}
}

/*
 * Links @region into the registry and the mm's lists.  Under mm->lock.
 * Returns 0, -EINVAL (it overlaps a listed region, an identical one
 * included) or -ENOMEM (a node allocation failed); on failure nothing changed.
 */
int mmreg__registry_insert(struct mmreg_mm *mm, struct mmreg_region *region)
{
	struct mmreg_node *root = mm->root, *stash = NULL;
	uint64_t lo = region->ua, last = region_last(region);
	unsigned level = root ? root->level : 0, top = level;
	long need;

	while (!level_covers(top, last))
		top++;
	if (!root) {
		need = 1 + plan(NULL, top, lo, last);
	} else {
		uint64_t covered_last = level_covers(level, UINT64_MAX) ? UINT64_MAX :
					(1ull << (slot_shift(level) + MMREG_NODE_BITS)) - 1;

		need = top - level;
		if (lo <= covered_last) {
			long n = plan(root, level, lo, last < covered_last ? last : covered_last);

			if (n < 0)
				return (int)n;
			need += n;
		}
		if (last > covered_last)
			need += plan_above(top, level, lo > covered_last ? lo : covered_last + 1, last);
	}
	if (need < 0)
		return (int)need;
	for (long i = 0; i < need; i++) {
		struct mmreg_node *n;
		int rc = mmreg__node_get(mm, &n);

		if (rc) {
			mmreg__nodes_put(mm, stash);	/* never published: no grace period */
			return rc;
		}
		n->next = stash;
		stash = n;
	}

	if (!root) {
		root = pop(mm, &stash, top);
		fill(mm, root, lo, last, region, &stash);
		__atomic_store_n(&mm->root, root, __ATOMIC_RELEASE);
	} else {
		/* Grow first: a taller root with the old one in slot 0 reads the same. */
		while (level < top) {
			struct mmreg_node *up = pop(mm, &stash, ++level);

			up->slot[0] = (uintptr_t)root;
			up->count = 1;
			root = up;
			__atomic_store_n(&mm->root, root, __ATOMIC_RELEASE);
		}
		fill(mm, root, lo, last, region, &stash);
	}

	region->prev = NULL;
	region->next = mm->regions;
	if (mm->regions)
		mm->regions->prev = region;
	mm->regions = region;
	if (!region->pin) {
		region->dev_next = mm->devs;
		__atomic_store_n(&mm->devs, region, __ATOMIC_RELEASE);
	}
	return 0;
}

/* ------------------------------------------------------------- remove */

/* Clears @r's slots in [lo, last] under @node; empty children go to *retired. */
static void unfill(struct mmreg_mm *mm, struct mmreg_node *node, uint64_t lo, uint64_t last,
		   struct mmreg_node **retired)
{
	unsigned level = node->level;

	for (uint64_t a = lo, l;; a = l + 1) {
		uintptr_t *s = &node->slot[slot_index(a, level)];
		bool clear = true;

		l = piece_last(a, last, level);
		if (!piece_full(a, l, level)) {
			struct mmreg_node *child = (struct mmreg_node *)*s;

			unfill(mm, child, a, l, retired);
			clear = !child->count;
			if (clear) {
				child->next = *retired;
				*retired = child;
				mm->nnodes--;
			}
		}
		if (clear) {
			__atomic_store_n(s, 0, __ATOMIC_RELEASE);
			node->count--;
		}
		if (l == last)
			return;
	}
}

/*
 * The region each thread found last, kept so that the next lookup inside
 * it (a one-page MAP_DMA after another, the UNMAP's give-back after the
 * MAP) costs a few compares instead of a walk of dependent loads (7 to 8%
 * of a one-page MAP_DMA and UNMAP_DMA pair).  It stays valid while no
 * region has left any registry since: every removal bumps registry_gen
 * after unlinking and before its grace period, and a reader compares the
 * generation before it touches the region.  A hint from an earlier read
 * section is therefore either current (the region is still linked, as a
 * walk would find it) or stale by its generation (never dereferenced).
 * The generation stored is the one loaded before the walk, so a removal
 * racing with the walk invalidates what it found.  Per thread: readers
 * write nothing shared.  Also an mm freed and another allocated at its
 * address cannot match: its regions left first, each bumping the
 * generation.
 */
static uint64_t registry_gen;	/* atomic */

struct lookup_hint {
	const struct mmreg_mm *mm;
	uint64_t gen;
	struct mmreg_region *region;
};

static __thread struct lookup_hint lookup_hint __attribute__((tls_model("initial-exec")));

static void registry_gen_bump(void)
{
	__atomic_add_fetch(&registry_gen, 1, __ATOMIC_SEQ_CST);
}

/*
 * Unlinks @region from the registry and the mm's lists.  Under mm->lock.
 * Never fails, never allocates.  Nodes left empty are prepended to
 * *retired: give them back with mmreg__nodes_put() after
 * util_rcu_synchronize().
 */
void mmreg__registry_remove(struct mmreg_mm *mm, struct mmreg_region *region,
			    struct mmreg_node **retired)
{
	struct mmreg_node *root = mm->root;

	unfill(mm, root, region->ua, region_last(region), retired);
	if (!root->count) {
		__atomic_store_n(&mm->root, NULL, __ATOMIC_RELEASE);
		root->next = *retired;
		*retired = root;
		mm->nnodes--;
	}

	registry_gen_bump();	/* the lookup hints naming it (see lookup) */
	if (region->prev)
		region->prev->next = region->next;
	else
		mm->regions = region->next;
	if (region->next)
		region->next->prev = region->prev;
	if (!region->pin) {
		struct mmreg_region **pp = &mm->devs;

		while (*pp != region)
			pp = &(*pp)->dev_next;
		/* region->dev_next stays: a reader standing on region walks on. */
		__atomic_store_n(pp, region->dev_next, __ATOMIC_RELEASE);
	}
}

/* Frees every node (not the regions).  Only when nobody can reach the mm. */
void mmreg__registry_destroy(struct mmreg_mm *mm)
{
	registry_gen_bump();
	mm->root = NULL;
	mm->nnodes = 0;
	mmreg__nodes_destroy(mm);
}

/* ------------------------------------------------------------- lookup */

/*
 * The walk: [ua, last] in @mm's tree, or NULL.  @gen: the generation loaded
 * before it, stored with what it found when @hint is not NULL.
 */
static inline __attribute__((always_inline)) struct mmreg_region *
walk(struct mmreg_mm *mm, uint64_t ua, uint64_t last, struct lookup_hint *hint, uint64_t gen)
{
	const struct mmreg_node *node;
	unsigned level;

	node = __atomic_load_n(&mm->root, __ATOMIC_ACQUIRE);
	if (!node || !level_covers(node->level, ua))
		return NULL;
	for (level = node->level;; level--) {
		uintptr_t e = __atomic_load_n(&node->slot[slot_index(ua, level)], __ATOMIC_ACQUIRE);

		if (e & MMREG_SLOT_REGION) {
			struct mmreg_region *r = (struct mmreg_region *)(e - MMREG_SLOT_REGION);

			/* The region fills the slot: its bounds matter only for a range leaving it. */
			if (last <= (ua | slot_mask(level)) || last <= region_last(r)) {
				if (hint)
					*hint = (struct lookup_hint){ mm, gen, r };
				return r;
			}
			return NULL;
		}
		if (!e)
			return NULL;
		node = (const struct mmreg_node *)e;
	}
}

static inline void assert_read_section(void)
{
#ifdef SPAPRTCE_DEBUG
	if (!util_rcu_in_read_section()) {
		fprintf(stderr, "mmreg_region_lookup outside a read section\n");
		abort();
	}
#endif
}

struct mmreg_region *mmreg_region_lookup(struct mmreg_mm *mm, uint64_t ua, uint64_t size)
{
	uint64_t end;

	assert_read_section();
	if (!util_range_end(ua, size, &end))
		return NULL;
	return walk(mm, ua, size ? end - 1 : ua, NULL, 0);
}

struct mmreg_region *mmreg_region_lookup_hinted(struct mmreg_mm *mm, uint64_t ua, uint64_t size)
{
	struct lookup_hint *hint = &lookup_hint;
	uint64_t end, last, gen;

	assert_read_section();
	if (!util_range_end(ua, size, &end))
		return NULL;
	last = size ? end - 1 : ua;
	gen = __atomic_load_n(&registry_gen, __ATOMIC_ACQUIRE);
	if (hint->mm == mm && hint->gen == gen && ua >= hint->region->ua && last <= region_last(hint->region))
		return hint->region;
	return walk(mm, ua, last, hint, gen);
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

/* -------------------------------------------------------------- check */

static int check_fail(const char *what, uint64_t a)
{
	fprintf(stderr, "mmreg_mm_check: %s at %#llx\n", what, (unsigned long long)a);
	return -EUCLEAN;
}

/*
 * Walks @node (covering from @base): its level, its count, no empty child,
 * no slot beyond 2^64, every region entry inside its region.  Counts region
 * entries into *entries and nodes into *nodes.
 */
static int check_node(const struct mmreg_node *node, unsigned level, uint64_t base,
		      uint64_t *entries, uint64_t *nodes)
{
	unsigned used = 0, sh = slot_shift(level);
	int rc = 0;

	(*nodes)++;
	if (node->level != level)
		return check_fail("node of the wrong level", base);
	for (unsigned i = 0; i < MMREG_NODE_SLOTS; i++) {
		uintptr_t e = node->slot[i];
		uint64_t lo = base + ((uint64_t)i << sh);

		if (!e)
			continue;
		used++;
		if (sh + MMREG_NODE_BITS > 64 && i >> (64 - sh))
			return check_fail("slot beyond 2^64", base);
		if (e & MMREG_SLOT_REGION) {
			const struct mmreg_region *r = (const struct mmreg_region *)(e - MMREG_SLOT_REGION);

			(*entries)++;
			if (lo < r->ua || lo + slot_mask(level) > region_last(r))
				rc = check_fail("slot outside the region it holds (I1)", lo);
		} else if (!level) {
			rc = check_fail("a node below level 0", lo);
		} else if (!((const struct mmreg_node *)e)->count) {
			rc = check_fail("an empty node left linked", lo);
		} else if (check_node((const struct mmreg_node *)e, level - 1, lo, entries, nodes)) {
			rc = -EUCLEAN;
		}
	}
	if (used != node->count)
		rc = check_fail("node count differs from its used slots", base);
	return rc;
}

/* The pieces of @r under @node hold @r (full) or a node (partial); counts them. */
static int check_pieces(const struct mmreg_node *node, uint64_t lo, uint64_t last,
			const struct mmreg_region *r, uint64_t *pieces)
{
	unsigned level = node->level;

	for (uint64_t a = lo, l;; a = l + 1) {
		uintptr_t e = node->slot[slot_index(a, level)];

		l = piece_last(a, last, level);
		if (piece_full(a, l, level)) {
			if (e != tag(r))
				return check_fail("a page of a region missing from the index", a);
			(*pieces)++;
		} else if (!e || (e & MMREG_SLOT_REGION)) {
			return check_fail("a partial piece without a node", a);
		} else if (check_pieces((const struct mmreg_node *)e, a, l, r, pieces)) {
			return -EUCLEAN;
		}
		if (l == last)
			return 0;
	}
}

/*
 * The pool: free + linked = the chunks' nodes, and the free list is empty
 * exactly when its counter is 0.  That a free node is empty (count and
 * slots) is checked when a node enters and when it leaves the pool
 * (nodes.c, test builds), not here: walking the free list touched every
 * node of the 2 MiB pool per check (a page each), and scanning their slots
 * read all of it, most of a fuzz run's time, for nodes that nothing had
 * touched since the last check.
 */
static int check_pool(const struct mmreg_mm *mm)
{
	if (mm->nfree + mm->nnodes != mmreg__nodes_capacity(mm))
		return check_fail("pool nodes lost", mm->nfree + mm->nnodes);
	if (!mm->free_nodes != !mm->nfree)
		return check_fail("free list and its counter disagree", mm->nfree);
	return 0;
}

/*
 * Index checks for mmreg_mm_check().  Under mm->lock.  Every region's
 * pieces are in the tree and the tree holds no other entry: so the regions
 * are disjoint (I1), and lookups find exactly them.
 */
int mmreg__registry_check(struct mmreg_mm *mm)
{
	const struct mmreg_node *root = mm->root;
	uint64_t entries = 0, pieces = 0, nodes = 0, listed = 0, devs = 0;
	const struct mmreg_region *r, *prev = NULL;
	int rc = 0;

	if (root) {
		if (root->level >= MMREG_LEVELS)
			return check_fail("root level out of range", root->level);
		if (!root->count)
			rc = check_fail("an empty root left linked", 0);
		if (check_node(root, root->level, 0, &entries, &nodes))
			rc = -EUCLEAN;
	}
	if (nodes != mm->nnodes)
		rc = check_fail("node counter differs from the tree", nodes);
	if (check_pool(mm))
		rc = -EUCLEAN;
	for (r = mm->regions; r; prev = r, r = r->next) {
		listed++;
		if (r->prev != prev)
			rc = check_fail("region list links broken", r->ua);
		if (!root || !level_covers(root->level, region_last(r)) ||
		    check_pieces(root, r->ua, region_last(r), r, &pieces))
			rc = check_fail("region not indexed", r->ua);
		mmreg_read_lock();
		if (mmreg_region_find(mm, r->ua, r->entries) != r)
			rc = check_fail("lookup does not find the region", r->ua);
		mmreg_read_unlock();
	}
	if (pieces != entries)
		rc = check_fail("index entries that belong to no listed region", entries);
	if (listed != mm->nregions)
		rc = check_fail("listed regions differ from the counter", listed);
	for (r = mm->devs; r; r = r->dev_next) {
		devs++;
		if (r->pin)
			rc = check_fail("a pinned region on the device list", r->ua);
	}
	if (devs != mm->ndev)
		rc = check_fail("device list differs from the counter", devs);
	return rc;
}
