/* SPDX-License-Identifier: MIT */
/*
 * mmreg/mmreg.h: the preregistration manager (the kernel's mm_iommu_*).
 *
 * Concepts
 *   mm       One per process: its registry of regions, its locked_vm, and the
 *            emulated RLIMIT_MEMLOCK and CAP_IPC_LOCK that charges obey
 *            (read from the real process when the mm is created; a forked
 *            child's mm inherits the parent's emulated values, as rlimits and
 *            capabilities are inherited).  Containers hold references
 *            (get/put) so that they can uncharge after the process is gone.
 *   region   A pinned user range [ua, ua + entries pages), or a device
 *            memory range (newdev: not pinned, not charged), with the
 *            kernel's two counters:
 *              used    owners (registrations); changed under mm->lock only.
 *              mapped  1 + live TCEs that point into the region while alive;
 *                      0 means dead: no new mapping may be made.  The 1 is
 *                      the implicit reference; put succeeds only by moving
 *                      it 1 -> 0 atomically (mm_iommu_put).
 *            pageshift: the largest IOMMU page shift the region can back:
 *            min(lowest set bit of (ua | size), smallest backing page shift),
 *            where only hugetlbfs pages count as large (mm_iommu_do_alloc; Q8: per page).
 *
 * Units: ua, hpa in bytes; entries and locked_vm in system pages
 * (EMU_PAGE_SIZE); size arguments of lookup in bytes.
 *
 * Invariants (checked by mmreg_mm_check)
 *   I1 regions of one mm never overlap; I3 a listed region has mapped >= 1;
 *   I4 a listed region has used >= 1; I5 every page of a normal region is
 *   pinned from new until its final put; I6 locked_vm includes exactly
 *   `entries` pages per normal region (charged at new, uncharged at the
 *   final put), 0 for device regions.
 *
 * Locking
 *   mm->lock (a mutex per mm) serialises new, newdev, get, put and the
 *   registry.  Lock order: mm->lock, then emu/ locks.  Pinning runs before
 *   mm->lock is taken, as the kernel pins before taking its mutex.
 *   Lookups take no lock: call mmreg_read_lock() first.  A region pointer
 *   from lookup/find stays valid until mmreg_read_unlock(), or, once
 *   mmreg_region_mapped_inc() on it succeeded, until the matching
 *   mapped_dec: a region with mapped > 1 cannot be released.
 *   Never call put (it waits for readers) inside a read section.
 *
 * Errors: 0 or a negative errno.  Functions returning a pointer return NULL
 * only for "not found"; those that can fail return an int and deliver the
 * object through an out-parameter.
 */
#ifndef SPAPRTCE_MMREG_H
#define SPAPRTCE_MMREG_H

#include <stdbool.h>
#include <stdint.h>

#include "util/rcu.h"

#define MMREG_DEV_HPA_NONE UINT64_MAX

struct mmreg_mm;
struct mmreg_region;

/* ------------------------------------------------------------------- mm */

/*
 * A reference on the calling process's mm, created on first use.
 * Returns 0 or -ENOMEM (creation failed; nothing changed).
 */
int mmreg_mm_current(struct mmreg_mm **out);
/* Takes another reference. */
struct mmreg_mm *mmreg_mm_get(struct mmreg_mm *mm);
/*
 * Drops a reference.  The last one frees the mm; a region still listed then
 * (one that nobody put) is unpinned and freed.  Never fails.
 */
void mmreg_mm_put(struct mmreg_mm *mm);
/* True when @mm belongs to the calling process (false in a forked child). */
bool mmreg_mm_is_current(const struct mmreg_mm *mm);

/* ------------------------------------------------------------ locked_vm */

/*
 * Charges @npages to locked_vm.  Without CAP_IPC_LOCK, a charge that would
 * take locked_vm above RLIMIT_MEMLOCK (truncated to pages) fails; equality is
 * allowed.  With it, the check is skipped and the counter may pass the limit.
 * Returns 0 or -ENOMEM (locked_vm unchanged).  A fault-injection point.
 */
int mmreg_mm_charge(struct mmreg_mm *mm, uint64_t npages);
/* Uncharges @npages; clamps at 0 and counts the clamp (Q11).  Never fails. */
void mmreg_mm_uncharge(struct mmreg_mm *mm, uint64_t npages);
uint64_t mmreg_mm_locked_vm(const struct mmreg_mm *mm);
/* Times an uncharge was larger than locked_vm (a bookkeeping bug somewhere). */
uint64_t mmreg_mm_uncharge_clamps(const struct mmreg_mm *mm);
/* Sets the emulated RLIMIT_MEMLOCK (bytes; UINT64_MAX: unlimited) and CAP_IPC_LOCK. */
void mmreg_mm_set_memlock(struct mmreg_mm *mm, uint64_t limit_bytes, bool cap_ipc_lock);
void mmreg_mm_get_memlock(const struct mmreg_mm *mm, uint64_t *limit_bytes, bool *cap_ipc_lock);

/* -------------------------------------------------------------- regions */

/*
 * mmreg_region_new - charge, pin and register [ua, ua + entries pages).
 * Order as in the kernel: charge, allocate, pin (in chunks), then under
 * mm->lock check overlap, compute pageshift and insert; used = mapped = 1.
 * Returns 0, -EINVAL (ua unaligned, entries 0, range wraps; overlaps a
 * region of this mm, an identical one included: callers try get first),
 * -ENOMEM (locked_vm over the limit; bookkeeping), -EFAULT (part of the range
 * is unmapped or read-only).  Under quirks=kernel (docs/quirks.md): entries
 * 0 is -ENOMEM (Q13); a pin failing after good pages returns their count,
 * positive, as the kernel does (Q5); pageshift keeps a huge page's size over
 * normal pages after it (Q8).  On failure nothing is pinned, charged or
 * registered.  Caller holds no mmreg lock and is not in a read section.
 */
int mmreg_region_new(struct mmreg_mm *mm, uint64_t ua, uint64_t entries,
		     struct mmreg_region **out);

/*
 * mmreg_region_newdev - register device memory at @dev_hpa: no pinning, no
 * charge; pageshift = lowest set bit of (dev_hpa | size).
 * Returns 0, -EINVAL (as new, or dev_hpa unaligned or wrapping), -ENOMEM.
 */
int mmreg_region_newdev(struct mmreg_mm *mm, uint64_t ua, uint64_t entries, uint64_t dev_hpa,
			struct mmreg_region **out);

/* The region registered with exactly (@ua, @entries), with used += 1; NULL if none. */
struct mmreg_region *mmreg_region_get(struct mmreg_mm *mm, uint64_t ua, uint64_t entries);

/*
 * mmreg_region_put - drop one owner.  When used reaches 0: if mapped moves
 * 1 -> 0 the region is unlinked, readers are waited for, its pages unpinned
 * and uncharged, and it is freed; otherwise used is restored.
 * Returns 0, -ENOENT (used already 0), -EBUSY (mappings exist; unchanged).
 * Caller holds no mmreg lock and is not in a read section.
 */
int mmreg_region_put(struct mmreg_mm *mm, struct mmreg_region *region);

/*
 * Enter / leave a read section for lookups (nests; never blocks).  Inline:
 * util/rcu.h's read side is a few instructions, a call around it half again.
 */
static inline void mmreg_read_lock(void)
{
	util_rcu_read_lock();
}

static inline void mmreg_read_unlock(void)
{
	util_rcu_read_unlock();
}

/*
 * The region that contains all of [ua, ua + size) (size in bytes), or NULL;
 * a range straddling two regions is not found.  No counter changes.  In a
 * read section.  One load per level of the registry's radix tree (at most
 * six), whatever the number of regions.
 */
struct mmreg_region *mmreg_region_lookup(struct mmreg_mm *mm, uint64_t ua, uint64_t size);
/*
 * The same answer, first trying the region this thread found last with
 * mmreg_region_lookup_hinted (mmreg/registry.c: valid while no region has
 * left any registry since).  For the request paths, whose lookups follow
 * each other inside one region (a one-page MAP_DMA after another, the
 * give-back of the entries a MAP replaced, H_PUT_TCE): a hit is a few
 * compares, a miss the walk plus a few instructions and a store.
 */
struct mmreg_region *mmreg_region_lookup_hinted(struct mmreg_mm *mm, uint64_t ua, uint64_t size);
/* The region registered with exactly (@ua, @entries), or NULL.  In a read section. */
struct mmreg_region *mmreg_region_find(struct mmreg_mm *mm, uint64_t ua, uint64_t entries);

/*
 * hpa of user address @ua for an IOMMU page of 2^@pageshift bytes: the hpa of
 * its system page plus the offset (device memory: dev_hpa + offset).
 * Returns 0 or -EFAULT (ua outside the region, pageshift > region pageshift).
 */
int mmreg_region_ua_to_hpa(const struct mmreg_region *region, uint64_t ua, unsigned pageshift,
			   uint64_t *hpa);

/*
 * The batched form for a run of @n IOMMU pages of 2^@pageshift bytes from
 * @ua: fills @hpas.  Returns 0 or -EFAULT (the run leaves the region, or
 * pageshift > region pageshift; @hpas unchanged).
 */
int mmreg_region_ua_to_hpas(const struct mmreg_region *region, uint64_t ua, uint64_t n,
			    unsigned pageshift, uint64_t *hpas);

/*
 * The same hpas as a TCE table's hardware entries: htobe64(hpa | @low) into
 * @dst, a shared array (util/simd.h: one single-copy-atomic store per entry,
 * a release fence after the last), where @low holds bits below the IOMMU
 * page (a TCE's permissions).  For a table's writer that computes its
 * entries in place (tce_table_store_run).  Returns 0, -EFAULT (as above) or
 * -EINVAL (@low not below 2^@pageshift); @dst unchanged on failure.
 */
int mmreg_region_ua_to_hpas_be(const struct mmreg_region *region, uint64_t ua, uint64_t n,
			       unsigned pageshift, uint64_t low, uint64_t *dst);

/*
 * The kernel's tce_page_is_contained over a run of @n IOMMU pages of
 * 2^@pageshift bytes from @ua inside @region: how many leading pages lie
 * each in a backing page at least that large (device memory: all, its
 * pageshift is exact).  Only needed when the region's pageshift can exceed
 * its backing pages (quirks=kernel, Q8).  No lock.
 */
uint64_t mmreg_region_contained(const struct mmreg_region *region, uint64_t ua, uint64_t n,
				unsigned pageshift);

/* mapped += 1 unless it is 0.  Returns 0 or -ENXIO (dying; unchanged). */
int mmreg_region_mapped_inc(struct mmreg_region *region);
/* mapped -= 1 unless it is 1 (never drops the implicit reference). */
void mmreg_region_mapped_dec(struct mmreg_region *region);
/* Batched forms for a run of TCEs: add @n unless 0 (-ENXIO); subtract, stopping at 1. */
int mmreg_region_mapped_add(struct mmreg_region *region, uint64_t n);
void mmreg_region_mapped_sub(struct mmreg_region *region, uint64_t n);

/*
 * True when @hpa lies in a device region of @mm; then *size = min(2^pageshift,
 * bytes from hpa to the end of that region).  Takes its own read section.
 */
bool mmreg_is_devmem(struct mmreg_mm *mm, uint64_t hpa, unsigned pageshift, uint64_t *size);
/* True when @mm has at least one region. */
bool mmreg_preregistered(struct mmreg_mm *mm);

/* Accessors (counters are read atomically; used is exact only under mm->lock). */
uint64_t mmreg_region_ua(const struct mmreg_region *region);
uint64_t mmreg_region_entries(const struct mmreg_region *region);
/* True when [ua, ua + size) lies in @region (size > 0; regions do not overlap). */
bool mmreg_region_holds(const struct mmreg_region *region, uint64_t ua, uint64_t size);
unsigned mmreg_region_pageshift(const struct mmreg_region *region);
uint64_t mmreg_region_used(const struct mmreg_region *region);
uint64_t mmreg_region_mapped(const struct mmreg_region *region);
uint64_t mmreg_region_dev_hpa(const struct mmreg_region *region);
bool mmreg_region_is_dev(const struct mmreg_region *region);

/* ----------------------------------------------------------- inspection */

struct mmreg_mm_stats {
	uint64_t regions;		/* listed regions */
	uint64_t dev_regions;
	uint64_t registered_pages;	/* pages of listed normal regions */
	uint64_t locked_vm;
	uint64_t meta_bytes;		/* regions + registry index */
};

void mmreg_mm_get_stats(struct mmreg_mm *mm, struct mmreg_mm_stats *st);

/*
 * Debug invariant checker (I1, I3, I4, I5, the registry index).  Returns 0 or
 * -EUCLEAN with a message on stderr.  locked_vm is not compared here: other
 * layers charge it too; callers compare it with registered_pages plus their
 * own charges.
 */
int mmreg_mm_check(struct mmreg_mm *mm);

#endif
