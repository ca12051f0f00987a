/* SPDX-License-Identifier: MIT */
/*
 * Table memory: zeroed, physically contiguous, naturally aligned blocks on a
 * NUMA node, for TCE table levels.
 *
 * Why not one mmap per block: a multi-level table allocates thousands of
 * 4 KiB leaf blocks on demand, and a mapping each would cost a system call
 * and a VMA each.  Blocks below 2 MiB are carved from 2 MiB chunks bound to
 * their node (one size class per chunk, so every block is naturally
 * aligned), and kept on per-node, per-class free lists when freed.  Blocks of
 * 2 MiB and more get a mapping of their own.  Chunks are kept for reuse until
 * the process ends (table_reserved counts them).
 *
 * The hpa of a block is zone 1 | hva: contiguous by construction, like a
 * kernel alloc_pages() of that order.  Every live block is registered, so
 * frees are checked and the hardware walker can tell live table memory from
 * freed memory (emu_mem_table_hva).
 *
 * Freed blocks are zeroed at free time, so allocation (on the on-demand level
 * path) does not pay for it.
 *
 * Why a per-thread cache in front of the locked lookup: the walker asks for
 * every level of every walk (a 64 KiB transfer of 4 KiB TCEs is 16 walks),
 * and the locked lookup (a mutex and one map probe per possible block size)
 * was a large part of a DMA's cost.  Each thread remembers the last few
 * blocks it validated, with the free generation seen under the lock; every
 * free bumps the generation before the block is zeroed or unmapped.  A hit
 * needs the generation unchanged, i.e. no block at all was freed since, so
 * a cached block is live exactly when the locked lookup would say so:
 * freed and foreign memory are refused as before.  Allocation needs no bump
 * (it makes no live block dead).  Between the answer and the caller's read
 * a concurrent free can still race, as it could after the lock was dropped.
 */
#include <errno.h>
#include <numa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "emu/mem_priv.h"
#include "util/fail.h"
#include "util/lock.h"
#include "util/range.h"
#include "util/u64map.h"

#define CHUNK_SHIFT 21u
#define CHUNK_SIZE (1ull << CHUNK_SHIFT)
#define NCLASSES (CHUNK_SHIFT - EMU_PAGE_SHIFT)
#define VAL_NODE_SHIFT 56u

struct free_block {
	struct free_block *next;
};

/* Protected by table_lock, a leaf lock. */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct free_block *(*table_free)[NCLASSES];	/* [node][class] */
static int table_nnodes;
static struct util_u64map table_blocks = UTIL_U64MAP_INIT;	/* hva -> size | (node + 1) << 56 */
static uint64_t table_bytes, table_reserved;
static int table_node;			/* the host bridge's node */
/* Bumped by every free, under table_lock; read without it by the cache. */
static uint64_t table_gen = 1;

/* Blocks this thread found live at generation gen (0: an empty slot). */
#define HVA_CACHE_WAYS 4u
struct hva_cache_ent {
	uint64_t start, end, gen;
};
static __thread struct hva_cache_ent hva_cache[HVA_CACHE_WAYS];
static __thread unsigned hva_cache_next;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

UTIL_FORK_LOCK(table_fork, .rank = UTIL_RANK_EMU_TABLE, .name = "emu table_lock",
	       .mutex = &table_lock)

static void table_init(void)
{
	table_nnodes = numa_available() < 0 ? 1 : numa_max_node() + 1;
	/* Small and once: if it fails, every allocation reports -ENOMEM. */
	table_free = calloc((size_t)table_nnodes, sizeof(*table_free));
}

bool emu_mem_node_exists(int node)
{
	if (node < 0)
		return false;
	if (numa_available() < 0)
		return node == 0;
	return node <= numa_max_node() && numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned)node);
}

int emu_mem_node(void)
{
	return __atomic_load_n(&table_node, __ATOMIC_RELAXED);
}

int emu_mem_set_node(int node)
{
	if (!emu_mem_node_exists(node))
		return -EINVAL;
	__atomic_store_n(&table_node, node, __ATOMIC_RELAXED);
	return 0;
}

/*
 * A fresh mapping of @size bytes (a power of two >= 2 MiB), aligned to its
 * size so that every block is naturally aligned, bound to @node.
 */
static void *map_on_node(uint64_t size, int node)
{
	uint8_t *p, *a;

	p = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = (uint8_t *)(((uintptr_t)p + size - 1) & ~(uintptr_t)(size - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	munmap(a + size, (size_t)(p + size - a));
	if (numa_available() >= 0)
		numa_tonode_memory(a, size, node);
	return a;
}

/* Refills the free list of (@node, @cls) with one chunk. */
static int refill(int node, unsigned cls)
{
	uint64_t size = 1ull << (cls + EMU_PAGE_SHIFT), off;
	uint8_t *chunk = map_on_node(CHUNK_SIZE, node);

	if (!chunk)
		return -ENOMEM;
	table_reserved += CHUNK_SIZE;
	for (off = CHUNK_SIZE; off; off -= size) {
		struct free_block *b = (struct free_block *)(chunk + off - size);

		b->next = table_free[node][cls];
		table_free[node][cls] = b;
	}
	return 0;
}

int emu_mem_table_alloc(int node, uint64_t size, void **hva, uint64_t *hpa)
{
	void *p;
	int rc;

	pthread_once(&table_once, table_init);
	if (!util_is_pow2(size) || size < EMU_PAGE_SIZE || size > (1ull << (EMU_UA_BITS - 1)))
		return -EINVAL;
	if (!emu_mem_node_exists(node))
		return -EINVAL;
	if (util_should_fail("emu_table_alloc") || !table_free)
		return -ENOMEM;
	pthread_mutex_lock(&table_lock);
	if (size >= CHUNK_SIZE) {
		p = map_on_node(size, node);
		rc = -ENOMEM;
		if (!p)
			goto out_unlock;
		table_reserved += size;
	} else {
		unsigned cls = util_ilog2(size) - EMU_PAGE_SHIFT;
		struct free_block *b;

		if (!table_free[node][cls]) {
			rc = refill(node, cls);
			if (rc)
				goto out_unlock;
		}
		b = table_free[node][cls];
		table_free[node][cls] = b->next;
		b->next = NULL;
		p = b;
	}
	rc = util_u64map_insert(&table_blocks, (uintptr_t)p,
				size | ((uint64_t)(node + 1) << VAL_NODE_SHIFT));
	if (rc)
		goto err_release;
	table_bytes += size;
	pthread_mutex_unlock(&table_lock);
	*hva = p;
	*hpa = ((uint64_t)EMU_HPA_ZONE_TABLE << EMU_HPA_ZONE_SHIFT) | (uintptr_t)p;
	return 0;

err_release:
	if (size >= CHUNK_SIZE) {
		munmap(p, size);
		table_reserved -= size;
	} else {
		unsigned cls = util_ilog2(size) - EMU_PAGE_SHIFT;

		((struct free_block *)p)->next = table_free[node][cls];
		table_free[node][cls] = p;
	}
out_unlock:
	pthread_mutex_unlock(&table_lock);
	return rc;
}

void emu_mem_table_free(void *hva, uint64_t size)
{
	uint64_t val;
	int node;

	if (!hva)
		return;
	pthread_mutex_lock(&table_lock);
	val = util_u64map_get(&table_blocks, (uintptr_t)hva);
	if ((val & ((1ull << VAL_NODE_SHIFT) - 1)) != size) {
		/* A bug in the caller; freeing anyway would corrupt the pools. */
		fprintf(stderr, "emu_mem_table_free: %p is not a live block of %llu bytes\n", hva,
			(unsigned long long)size);
		pthread_mutex_unlock(&table_lock);
		abort();
	}
	node = (int)(val >> VAL_NODE_SHIFT) - 1;
	util_u64map_remove(&table_blocks, (uintptr_t)hva);
	/* Before the block is zeroed or unmapped: no cache answers for it now. */
	__atomic_store_n(&table_gen, table_gen + 1, __ATOMIC_RELEASE);
	table_bytes -= size;
	if (size >= CHUNK_SIZE) {
		munmap(hva, size);
		table_reserved -= size;
	} else {
		unsigned cls = util_ilog2(size) - EMU_PAGE_SHIFT;
		struct free_block *b = hva;

		memset(hva, 0, size);
		b->next = table_free[node][cls];
		table_free[node][cls] = b;
	}
	pthread_mutex_unlock(&table_lock);
}

void *emu_mem_table_hva(uint64_t hpa, uint64_t len)
{
	uint64_t hva = hpa & ((1ull << EMU_HPA_ZONE_SHIFT) - 1), end, gen;
	void *found = NULL;
	unsigned shift, w;

	if (hpa >> EMU_HPA_ZONE_SHIFT != EMU_HPA_ZONE_TABLE || !util_range_end(hva, len, &end))
		return NULL;
	gen = __atomic_load_n(&table_gen, __ATOMIC_ACQUIRE);
	for (w = 0; w < HVA_CACHE_WAYS; w++) {
		const struct hva_cache_ent *c = &hva_cache[w];

		if (c->gen == gen && hva >= c->start && end <= c->end)
			return (void *)(uintptr_t)hva;
	}
	pthread_mutex_lock(&table_lock);
	gen = table_gen;
	for (shift = EMU_PAGE_SHIFT; shift < EMU_UA_BITS; shift++) {
		uint64_t start = hva & ~((1ull << shift) - 1);
		uint64_t val = util_u64map_get(&table_blocks, start);

		if (val && (val & ((1ull << VAL_NODE_SHIFT) - 1)) == 1ull << shift) {
			if (end <= start + (1ull << shift)) {
				found = (void *)(uintptr_t)hva;
				hva_cache[hva_cache_next] = (struct hva_cache_ent){
					start, start + (1ull << shift), gen
				};
				hva_cache_next = (hva_cache_next + 1) % HVA_CACHE_WAYS;
			}
			break;
		}
	}
	pthread_mutex_unlock(&table_lock);
	return found;
}

void emu__mem_table_stats(struct emu_mem_stats *st)
{
	pthread_mutex_lock(&table_lock);
	st->table_blocks = table_blocks.n;
	st->table_bytes = table_bytes;
	st->table_reserved = table_reserved;
	pthread_mutex_unlock(&table_lock);
}

int emu__mem_table_check(void)
{
	uint64_t bytes = 0, i;
	int rc = 0;

	pthread_mutex_lock(&table_lock);
	for (i = 0; i < table_blocks.cap; i++)
		if (table_blocks.slots[i].val)
			bytes += table_blocks.slots[i].val & ((1ull << VAL_NODE_SHIFT) - 1);
	if (bytes != table_bytes) {
		fprintf(stderr, "emu_mem_check: table blocks hold %llu bytes, counter %llu\n",
			(unsigned long long)bytes, (unsigned long long)table_bytes);
		rc = -EUCLEAN;
	}
	pthread_mutex_unlock(&table_lock);
	return rc;
}
