/* SPDX-License-Identifier: MIT */
/*
 * mmreg/mmreg_priv.h: the structures behind mmreg/mmreg.h.  For the .c files of mmreg/ only.
 */
#ifndef SPAPRTCE_MMREG_PRIV_H
#define SPAPRTCE_MMREG_PRIV_H

#include <pthread.h>
#include <stdint.h>

#include "emu/mem.h"
#include "mmreg/mmreg.h"

struct mmreg_region {
	uint64_t ua;
	uint64_t entries;
	uint64_t used;			/* under mm->lock */
	uint64_t mapped;		/* atomic; see mmreg.h */
	unsigned pageshift;
	uint64_t dev_hpa;		/* MMREG_DEV_HPA_NONE for normal memory */
	struct emu_pin *pin;		/* NULL for device memory */
	struct mmreg_region *prev, *next;	/* all regions of the mm; under mm->lock */
	struct mmreg_region *dev_next;	/* device regions; RCU list (atomic) */
};

/*
 * The registry is a radix tree over the user address, shaped like a page
 * table: a node has MMREG_NODE_SLOTS slots; a slot of a level-L node covers
 * 2^(EMU_PAGE_SHIFT + MMREG_NODE_BITS * L) bytes.  A slot holds 0 (nothing
 * there), a child node (level L - 1), or a region tagged with
 * MMREG_SLOT_REGION when the region covers the whole slot.  A region is
 * stored as the few aligned blocks it decomposes into (see registry.c).
 * Readers load slots and the root atomically; writers change them under
 * mm->lock.  A node whose count drops to 0 is unlinked and goes back to
 * the pool (nodes.c) after a grace period, so every reachable node is
 * non-empty.
 */
#define MMREG_NODE_BITS 9u
#define MMREG_NODE_SLOTS (1u << MMREG_NODE_BITS)
#define MMREG_LEVELS 6u			/* EMU_PAGE_SHIFT + 6 * 9 >= 64 */
#define MMREG_SLOT_REGION 1u

struct mmreg_node {
	uintptr_t slot[MMREG_NODE_SLOTS];	/* atomic; see above */
	uint32_t count;			/* non-zero slots; under mm->lock */
	unsigned level;			/* fixed at creation */
	struct mmreg_node *next;	/* writers' lists (pool, new, retired); readers never look */
};

/*
 * One per process.  Lock order: mm->lock before any emu/ lock; mm->lock is
 * never held while pinning or while waiting for readers.
 */
struct mmreg_mm {
	uint64_t refs;			/* atomic */
	unsigned generation;		/* fork generation it belongs to */
	pthread_mutex_t lock;		/* regions' used, the registry, counts below */
	struct mmreg_node *root;	/* atomic; NULL: empty */
	struct mmreg_region *regions;	/* list of all regions; under lock */
	struct mmreg_region *devs;	/* RCU list of device regions (atomic) */
	uint64_t nregions;		/* under lock */
	uint64_t nnodes;		/* linked nodes; under lock */
	struct mmreg_chunk *chunks;	/* the node pool (nodes.c); under lock */
	struct mmreg_node *free_nodes;	/* under lock */
	uint64_t nfree;			/* nodes on free_nodes; under lock */
	uint64_t ndev;			/* under lock; read atomically by is_devmem */
	uint64_t registered_pages;	/* under lock */
	uint64_t region_bytes;		/* under lock */
	uint64_t locked_vm;		/* atomic, pages */
	uint64_t memlock_limit;		/* atomic, bytes */
	int cap_ipc_lock;		/* atomic */
	uint64_t uncharge_clamps;	/* atomic */
};

/* registry.c */
int mmreg__registry_insert(struct mmreg_mm *mm, struct mmreg_region *region);
void mmreg__registry_remove(struct mmreg_mm *mm, struct mmreg_region *region,
			    struct mmreg_node **retired);

void mmreg__registry_destroy(struct mmreg_mm *mm);
int mmreg__registry_check(struct mmreg_mm *mm);

/* nodes.c */
int mmreg__node_get(struct mmreg_mm *mm, struct mmreg_node **out);
void mmreg__nodes_put(struct mmreg_mm *mm, struct mmreg_node *list);
void mmreg__nodes_destroy(struct mmreg_mm *mm);
uint64_t mmreg__nodes_capacity(const struct mmreg_mm *mm);

/* region.c */
void mmreg__region_free(struct mmreg_mm *mm, struct mmreg_region *region);

#ifdef SPAPRTCE_DEBUG
/* Test hook: overwrite used, to reach the ENOENT path of put
 * (check_mmreg put_with_used_0_enoent). */
void mmreg__region_set_used(struct mmreg_region *region, uint64_t used);
#endif

#endif
