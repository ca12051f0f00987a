/* SPDX-License-Identifier: MIT */
/*
 * bench/kernel_model.h: the kernel's sPAPR TCE bookkeeping, reimplemented
 * plainly for the kernel baselines of bench_spapr (MAP_DMA, UNMAP_DMA) and
 * bench_hcall (H_PUT_TCE, H_PUT_TCE_INDIRECT), doing per entry what the
 * current kernel does (arch/powerpc/mm/book3s64/iommu_api.c,
 * arch/powerpc/kernel/iommu.c, drivers/vfio/vfio_iommu_spapr_tce.c,
 * arch/powerpc/kvm/book3s_64_vio.c).  See docs/bench.md for what each
 * baseline includes and leaves out.
 *
 * Concepts
 *   kreg    mm_iommu_table_group_mem_t: ua, entries, mapped, dev_hpa and the
 *           per-page hpas[] array.
 *   list    the mm's region list, newest first (list_add_rcu).  An array
 *           here: contiguous, so cheaper to walk than the kernel's linked
 *           list; the baseline is if anything flattered.
 *   table   a TCE table of two levels, as the windows of the benchmarks:
 *           the hardware entries (big-endian) and the userspace view
 *           (it_userspace, the ua of each entry), each leaf reached through
 *           one indirect load, as pnv_tce() and pnv_tce_useraddrptr() walk.
 *   pages   stand-ins for struct page, 64 bytes each, indexed by frame
 *           number: SetPageDirty sets a bit in one (atomically), the page
 *           size check of tce_page_is_contained reads one.
 *   kill    iommu_tce_kill: a call the compiler cannot inline or drop.
 */
#ifndef SPAPRTCE_BENCH_KERNEL_MODEL_H
#define SPAPRTCE_BENCH_KERNEL_MODEL_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "bench/bench_util.h"
#include "emu/mem.h"

#define KM_DEV_NONE UINT64_MAX
#define KM_LEAF_SHIFT 9u
#define KM_TCE_READ 1ull
#define KM_TCE_WRITE 2ull

struct kreg {
	uint64_t ua;
	uint64_t entries;	/* system pages */
	uint64_t mapped;	/* atomic; 1 + TCEs */
	uint64_t dev_hpa;	/* KM_DEV_NONE: normal memory */
	const uint64_t *hpas;	/* per system page */
};

struct kmodel {
	struct kreg *regs;	/* newest first */
	unsigned nregs;
	uint64_t **hw, **ua;	/* level 1: leaves of 512 entries */
	uint64_t nentries;
	uint8_t *pages;		/* 64 bytes per frame */
	uint64_t page_mask;	/* frames modelled - 1 (a power of two) */
	unsigned it_page_shift;	/* the table's IOMMU page shift */
	uint64_t srcu;		/* kvm->srcu readers (atomic) */
	uint64_t kills;
};

/* Tables of @nentries entries (a multiple of 512) and @npages page structs (a power of two). */
static inline void km_init(struct kmodel *k, unsigned nregs, uint64_t nentries, uint64_t npages)
{
	uint64_t nleaves = nentries >> KM_LEAF_SHIFT;

	k->regs = calloc(nregs, sizeof(*k->regs));
	k->nregs = nregs;
	k->nentries = nentries;
	k->hw = calloc(nleaves, sizeof(*k->hw));
	k->ua = calloc(nleaves, sizeof(*k->ua));
	k->pages = calloc(npages, 64);
	k->page_mask = npages - 1;
	if (!k->regs || !k->hw || !k->ua || !k->pages)
		bench_die("kernel model", ENOMEM);
	for (uint64_t l = 0; l < nleaves; l++) {
		k->hw[l] = calloc(1u << KM_LEAF_SHIFT, sizeof(uint64_t));
		k->ua[l] = calloc(1u << KM_LEAF_SHIFT, sizeof(uint64_t));
		if (!k->hw[l] || !k->ua[l])
			bench_die("kernel model", ENOMEM);
	}
	k->it_page_shift = EMU_PAGE_SHIFT;
	k->srcu = 0;
	k->kills = 0;
}

static inline void km_destroy(struct kmodel *k)
{
	for (uint64_t l = 0; l < k->nentries >> KM_LEAF_SHIFT; l++) {
		free(k->hw[l]);
		free(k->ua[l]);
	}
	free(k->hw);
	free(k->ua);
	free(k->pages);
	free(k->regs);
}

/* pnv_tce(): the hardware entry, one level down. */
static inline uint64_t *km_hw(const struct kmodel *k, uint64_t entry)
{
	return &k->hw[entry >> KM_LEAF_SHIFT][entry & ((1u << KM_LEAF_SHIFT) - 1)];
}

/* IOMMU_TABLE_USERSPACE_ENTRY(): the userspace view, one level down. */
static inline uint64_t *km_ua(const struct kmodel *k, uint64_t entry)
{
	return &k->ua[entry >> KM_LEAF_SHIFT][entry & ((1u << KM_LEAF_SHIFT) - 1)];
}

/* mm_iommu_lookup: the first region of the list holding [ua, ua + size). */
static inline struct kreg *km_lookup(const struct kmodel *k, uint64_t ua, uint64_t size)
{
	for (unsigned i = 0; i < k->nregs; i++) {
		struct kreg *r = &k->regs[i];

		if (r->ua <= ua && ua + size <= r->ua + (r->entries << EMU_PAGE_SHIFT))
			return r;
	}
	return NULL;
}

/* mm_iommu_ua_to_hpa. */
static inline int km_ua_to_hpa(const struct kreg *r, uint64_t ua, uint64_t *hpa)
{
	uint64_t entry = (ua - r->ua) >> EMU_PAGE_SHIFT;

	if (entry >= r->entries)
		return -EFAULT;
	if (r->dev_hpa != KM_DEV_NONE) {
		*hpa = r->dev_hpa + (ua - r->ua);
		return 0;
	}
	*hpa = (r->hpas[entry] & ~(EMU_PAGE_SIZE - 1)) | (ua & (EMU_PAGE_SIZE - 1));
	return 0;
}

/* mm_iommu_is_devmem: the whole list is walked for device regions (none here). */
static inline bool km_is_devmem(const struct kmodel *k, uint64_t hpa)
{
	for (unsigned i = 0; i < k->nregs; i++) {
		const struct kreg *r = &k->regs[i];

		if (r->dev_hpa == KM_DEV_NONE)
			continue;
		if (hpa >= r->dev_hpa && hpa - r->dev_hpa < (r->entries << EMU_PAGE_SHIFT))
			return true;
	}
	return false;
}

static inline uint64_t *km_page(const struct kmodel *k, uint64_t hpa)
{
	return (uint64_t *)(k->pages + (((hpa >> EMU_PAGE_SHIFT) & k->page_mask) << 6));
}

/* tce_page_is_contained: not device memory, and the page (read) at least as large as the IOMMU page. */
static inline bool km_page_is_contained(const struct kmodel *k, uint64_t hpa)
{
	if (km_is_devmem(k, hpa))
		return false;
	return EMU_PAGE_SHIFT + (*km_page(k, hpa) >> 56) >= k->it_page_shift;
}

/* mm_iommu_mapped_inc: atomic64_inc_not_zero. */
static inline int km_mapped_inc(struct kreg *r)
{
	uint64_t v = __atomic_load_n(&r->mapped, __ATOMIC_RELAXED);

	do {
		if (!v)
			return -ENXIO;
	} while (!__atomic_compare_exchange_n(&r->mapped, &v, v + 1, false, __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
	return 0;
}

/* mm_iommu_mapped_dec: atomic64_add_unless(-1, 1). */
static inline void km_mapped_dec(struct kreg *r)
{
	uint64_t v = __atomic_load_n(&r->mapped, __ATOMIC_RELAXED);

	do {
		if (v == 1)
			return;
	} while (!__atomic_compare_exchange_n(&r->mapped, &v, v - 1, false, __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
}

/*
 * iommu_tce_xchg_no_kill: exchanges the hardware entry (pnv_tce_xchg), and
 * when the old entry allowed device writes and is not device memory, marks
 * its page dirty (mm_iommu_is_devmem walks the list; SetPageDirty).
 * Returns the old entry (host order).
 */
static inline uint64_t km_xchg_no_kill(struct kmodel *k, uint64_t entry, uint64_t tce)
{
	uint64_t old = be64toh(__atomic_exchange_n(km_hw(k, entry), htobe64(tce), __ATOMIC_SEQ_CST));

	if ((old & KM_TCE_WRITE) && !km_is_devmem(k, old & ~(EMU_PAGE_SIZE - 1)))
		__atomic_fetch_or(km_page(k, old), 1, __ATOMIC_SEQ_CST);
	return old;
}

/* iommu_tce_kill (the PHB's invalidation): a call that cannot be inlined or dropped. */
__attribute__((noinline)) static void km_kill(struct kmodel *k, uint64_t entry, uint64_t pages)
{
	__asm__ volatile("" : : "r"(entry), "r"(pages) : "memory");
	k->kills++;
}

/*
 * tce_iommu_unuse_page_v2 and kvmppc_tce_iommu_mapped_dec: the old
 * mapping's region found from the userspace view (a list walk), its mapped
 * count dropped, the view cleared.
 */
static inline int km_unuse_page_v2(struct kmodel *k, uint64_t entry)
{
	uint64_t *pua = km_ua(k, entry), hpa;
	struct kreg *r = km_lookup(k, be64toh(*pua), EMU_PAGE_SIZE);

	if (!r || km_ua_to_hpa(r, be64toh(*pua), &hpa))
		return -EFAULT;
	km_mapped_dec(r);
	*pua = 0;
	return 0;
}

/*
 * One entry of tce_iommu_build_v2 / kvmppc_tce_iommu_do_map: the region by
 * ua, its hpa, the containment check, mapped_inc, the exchange, the old
 * mapping released, the userspace view written.
 */
static inline int km_map_one(struct kmodel *k, uint64_t entry, uint64_t ua, uint64_t perm)
{
	struct kreg *r = km_lookup(k, ua, EMU_PAGE_SIZE);
	uint64_t hpa, old;

	if (!r || km_ua_to_hpa(r, ua, &hpa))
		return -EFAULT;
	if (!km_page_is_contained(k, hpa))
		return -EPERM;
	if (km_mapped_inc(r))
		return -ENXIO;
	old = km_xchg_no_kill(k, entry, hpa | perm);
	if (old & (KM_TCE_READ | KM_TCE_WRITE))
		km_unuse_page_v2(k, entry);
	*km_ua(k, entry) = htobe64(ua);
	return 0;
}

/* kvm->srcu read side: a per-CPU increment with a full barrier (srcu_read_lock / unlock). */
static inline void km_srcu(struct kmodel *k)
{
	__atomic_fetch_add(&k->srcu, 1, __ATOMIC_SEQ_CST);
}

#endif
