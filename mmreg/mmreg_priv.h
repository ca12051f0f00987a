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
};

/*
 * The registry is published as an immutable snapshot (read-copy-update):
 * slots sorted by ua, and a hash from granules (aligned blocks of address
 * space, sized per snapshot) to the run of slots that touch the granule.  Insert builds a new snapshot; removal only clears
 * the slot's region pointer in place (a tombstone), so put never allocates.
 * Tombstones keep their bounds: no live region can overlap them within the
 * same snapshot, so searches stay correct; the next insert compacts them.
 */
#define MMREG_GRANULE_MIN_SHIFT 12u
#define MMREG_GRANULE_MAX_SHIFT 40u

struct mmreg_slot {
	uint64_t ua;
	uint64_t end;
	struct mmreg_region *region;	/* atomic; NULL: removed */
};

struct mmreg_bucket {
	uint64_t key1;			/* granule + 1; 0: empty */
	uint32_t first;			/* first slot touching the granule */
	uint32_t count;			/* consecutive slots touching it */
};

struct mmreg_snap {
	uint32_t nslots;
	unsigned granule_shift;		/* log2 of the granule size in bytes */
	unsigned bucket_shift;		/* log2 of the bucket count */
	struct mmreg_bucket *buckets;
	uint64_t bytes;			/* size of this allocation */
	struct mmreg_slot slots[];
};

/*
 * One per process.  Lock order: mm->lock before any emu/ lock; mm->lock is
 * never held while pinning or while waiting for readers.
 */
struct mmreg_mm {
	uint64_t refs;			/* atomic */
	unsigned generation;		/* fork generation it belongs to */
	pthread_mutex_t lock;		/* regions' used, the registry, counts below */
	struct mmreg_snap *snap;	/* RCU-published; NULL: empty */
	uint64_t nregions;		/* under lock */
	uint64_t ndev;			/* under lock; read atomically by is_devmem */
	uint64_t registered_pages;	/* under lock */
	uint64_t region_bytes;		/* under lock */
	uint64_t locked_vm;		/* atomic, pages */
	uint64_t memlock_limit;		/* atomic, bytes */
	int cap_ipc_lock;		/* atomic */
	uint64_t uncharge_clamps;	/* atomic */
};

/* registry.c */
struct mmreg_slot *mmreg__snap_slot(const struct mmreg_snap *snap, uint64_t ua);
bool mmreg__snap_overlaps(const struct mmreg_snap *snap, uint64_t ua, uint64_t end);
int mmreg__registry_insert(struct mmreg_mm *mm, struct mmreg_region *region,
			   struct mmreg_snap **old);
void mmreg__registry_remove(struct mmreg_mm *mm, struct mmreg_region *region);
int mmreg__registry_check(struct mmreg_mm *mm);

/* region.c */
void mmreg__region_free(struct mmreg_mm *mm, struct mmreg_region *region);

#ifdef SPAPRTCE_DEBUG
/* Test hook: overwrite used, to reach the ENOENT path of put (spec 8, test 21). */
void mmreg__region_set_used(struct mmreg_region *region, uint64_t used);
#endif

#endif
