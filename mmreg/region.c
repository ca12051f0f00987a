/* SPDX-License-Identifier: MIT */
/*
 * Region lifetime and the used/mapped protocol (the kernel's mm_iommu_new, _get,
 * _put, _mapped_inc and _mapped_dec; docs/mmreg.md).
 *
 * new follows the kernel's order: charge first (cheap to undo, and it stops
 * an over-limit request before any page is touched), then pin outside the
 * lock, then under mm->lock the overlap check and the insert.  Two threads
 * registering the same range both pin; the second to take the lock sees the
 * overlap and unwinds (docs/mmreg.md, race 4).
 *
 * put makes "no mappings" and "no more mappings" one atomic step: mapped
 * 1 -> 0.  After it every mapped_inc fails with ENXIO, so a reader that found
 * the region just before the unlink cannot create a TCE into pages about to
 * be unpinned (docs/mmreg.md, race 1); the memory itself is freed only after
 * util_rcu_synchronize(), when no reader can hold the pointer (race 2).
 */
#include <errno.h>
#include <stdlib.h>

#include "emu/quirk.h"
#include "mmreg/mmreg_priv.h"
#include "util/fail.h"
#include "util/range.h"
#include "util/rcu.h"
#include "util/simd.h"

/* Validates (ua, entries) and returns the end address in *end. */
static int check_range(uint64_t ua, uint64_t entries, uint64_t *end)
{
	if (!entries || !util_is_aligned(ua, EMU_PAGE_SHIFT) ||
	    entries > (UINT64_MAX >> EMU_PAGE_SHIFT) ||
	    !util_range_end(ua, entries << EMU_PAGE_SHIFT, end))
		return -EINVAL;
	return 0;
}

static int region_alloc(uint64_t ua, uint64_t entries, struct mmreg_region **out)
{
	struct mmreg_region *r;

	if (util_should_fail("mmreg_region_alloc"))
		return -ENOMEM;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->ua = ua;
	r->entries = entries;
	r->used = 1;
	r->mapped = 1;
	r->dev_hpa = MMREG_DEV_HPA_NONE;
	*out = r;
	return 0;
}

/* Under mm->lock: overlap check, insert and the counters. */
static int region_link(struct mmreg_mm *mm, struct mmreg_region *r)
{
	int rc = mmreg__registry_insert(mm, r);

	if (rc)
		return rc;
	mm->nregions++;
	mm->region_bytes += sizeof(*r);
	if (r->pin)
		mm->registered_pages += r->entries;
	else
		__atomic_add_fetch(&mm->ndev, 1, __ATOMIC_RELAXED);
	return 0;
}

/*
 * The kernel's pin_user_pages chunk in mm_iommu_do_alloc: a page of struct
 * page pointers' worth, 2^(PAGE_SHIFT + MAX_PAGE_ORDER) / 8 entries, with
 * x86-64's MAX_PAGE_ORDER 10 and our 4 KiB system page: 2 GiB of pages.
 */
#define KERNEL_PIN_CHUNK ((1ull << (EMU_PAGE_SHIFT + 10)) / 8)

/*
 * Q5 under quirks=kernel: what mm_iommu_do_alloc returns when pinning
 * failed with -EFAULT.  Its loop pins chunk by chunk; pin_user_pages
 * returns the count it pinned before the first bad page when that count is
 * not 0, and the loop then returns that positive count as its result
 * (having unpinned everything).  So the answer is the number of good
 * pages before the first bad one, counted from the start of its chunk, or
 * -EFAULT when that is 0.  Found by pinning prefixes (binary search), each
 * unpinned at once: only on this failure path, only in kernel mode.
 */
static int kernel_partial_pin(uint64_t ua, uint64_t entries)
{
	uint64_t lo = 0, hi = entries - 1, good;	/* the whole range failed */
	struct emu_pin *pin;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2;

		if (emu_mem_pin(ua, mid, &pin)) {
			hi = mid - 1;
			continue;
		}
		emu_mem_unpin(pin);
		lo = mid;
	}
	good = lo % KERNEL_PIN_CHUNK;
	return good ? (int)good : -EFAULT;
}

/*
 * Q8 under quirks=kernel: mm_iommu_do_alloc's page size.  Its running size
 * starts at PAGE_SHIFT and is set to a page's size only when that page is a
 * huge page (and the region's size is still above PAGE_SHIFT); it is never
 * reset, so normal pages after a huge one keep the huge size.  Only a
 * normal page before the first huge one brings the region down to
 * PAGE_SHIFT.
 */
static unsigned kernel_running_pageshift(const struct emu_pin *pin, uint64_t ua, uint64_t end,
					 unsigned align)
{
	unsigned shift = align, running = EMU_PAGE_SHIFT;

	while (ua < end && shift > EMU_PAGE_SHIFT) {
		unsigned s = emu_pin_page_shift(pin, ua);

		if (s > EMU_PAGE_SHIFT)
			running = s;
		if (running < shift)
			shift = running;
		ua = (ua | ((1ull << s) - 1)) + 1;	/* the next backing page */
	}
	return shift;
}

int mmreg_region_new(struct mmreg_mm *mm, uint64_t ua, uint64_t entries,
		     struct mmreg_region **out)
{
	struct mmreg_region *r;
	uint64_t end;
	unsigned align;
	int rc;

	/* Q13 under quirks=kernel: the zero-length page array cannot be allocated. */
	if (!entries && emu__quirk(EMU_Q13))
		return -ENOMEM;
	rc = check_range(ua, entries, &end);
	if (rc)
		return rc;
	rc = mmreg_mm_charge(mm, entries);
	if (rc)
		return rc;
	rc = region_alloc(ua, entries, &r);
	if (rc)
		goto err_uncharge;
	rc = emu_mem_pin(ua, entries, &r->pin);
	if (rc == -EFAULT && emu__quirk(EMU_Q5))
		rc = kernel_partial_pin(ua, entries);
	if (rc)
		goto err_free;
	/* Natural alignment bounds the page size, then the smallest backing page (Q8: per page). */
	align = util_ffs64(ua | (entries << EMU_PAGE_SHIFT));
	if (emu__quirk(EMU_Q8)) {
		r->pageshift = kernel_running_pageshift(r->pin, ua, end, align);
	} else {
		r->pageshift = emu_pin_min_page_shift(r->pin);
		if (align < r->pageshift)
			r->pageshift = align;
	}

	pthread_mutex_lock(&mm->lock);
	rc = region_link(mm, r);
	pthread_mutex_unlock(&mm->lock);
	if (rc)
		goto err_unpin;
	*out = r;
	return 0;

err_unpin:
	emu_mem_unpin(r->pin);
err_free:
	free(r);
err_uncharge:
	mmreg_mm_uncharge(mm, entries);
	return rc;
}

int mmreg_region_newdev(struct mmreg_mm *mm, uint64_t ua, uint64_t entries, uint64_t dev_hpa,
			struct mmreg_region **out)
{
	struct mmreg_region *r;
	uint64_t end, dev_end;
	int rc;

	rc = check_range(ua, entries, &end);
	if (rc)
		return rc;
	if (dev_hpa == MMREG_DEV_HPA_NONE || !util_is_aligned(dev_hpa, EMU_PAGE_SHIFT) ||
	    !util_range_end(dev_hpa, entries << EMU_PAGE_SHIFT, &dev_end))
		return -EINVAL;
	rc = region_alloc(ua, entries, &r);
	if (rc)
		return rc;
	r->dev_hpa = dev_hpa;
	r->pageshift = util_ffs64(dev_hpa | (entries << EMU_PAGE_SHIFT));

	pthread_mutex_lock(&mm->lock);
	rc = region_link(mm, r);
	pthread_mutex_unlock(&mm->lock);
	if (rc) {
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

struct mmreg_region *mmreg_region_get(struct mmreg_mm *mm, uint64_t ua, uint64_t entries)
{
	struct mmreg_region *r;

	pthread_mutex_lock(&mm->lock);
	util_rcu_read_lock();
	r = mmreg_region_find(mm, ua, entries);
	util_rcu_read_unlock();
	if (r)
		r->used++;
	pthread_mutex_unlock(&mm->lock);
	return r;
}

/* Unpins, uncharges and frees a region nobody can reach any more.  Never fails. */
void mmreg__region_free(struct mmreg_mm *mm, struct mmreg_region *region)
{
	if (region->pin) {
		emu_mem_unpin(region->pin);
		mmreg_mm_uncharge(mm, region->entries);
	}
	free(region);
}

int mmreg_region_put(struct mmreg_mm *mm, struct mmreg_region *region)
{
	struct mmreg_node *retired = NULL;
	uint64_t one = 1;

	pthread_mutex_lock(&mm->lock);
	if (!region->used) {
		pthread_mutex_unlock(&mm->lock);
		return -ENOENT;
	}
	if (--region->used) {
		pthread_mutex_unlock(&mm->lock);
		return 0;
	}
	if (!__atomic_compare_exchange_n(&region->mapped, &one, 0, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		region->used = 1;
		pthread_mutex_unlock(&mm->lock);
		return -EBUSY;
	}
	mmreg__registry_remove(mm, region, &retired);
	mm->nregions--;
	mm->region_bytes -= sizeof(*region);
	if (region->pin)
		mm->registered_pages -= region->entries;
	else
		__atomic_sub_fetch(&mm->ndev, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&mm->lock);

	util_rcu_synchronize();
	if (retired) {
		pthread_mutex_lock(&mm->lock);
		mmreg__nodes_put(mm, retired);
		pthread_mutex_unlock(&mm->lock);
	}
	mmreg__region_free(mm, region);
	return 0;
}

int mmreg_region_ua_to_hpa(const struct mmreg_region *region, uint64_t ua, unsigned pageshift,
			   uint64_t *hpa)
{
	uint64_t index = (ua - region->ua) >> EMU_PAGE_SHIFT;

	if (ua < region->ua || index >= region->entries || pageshift > region->pageshift)
		return -EFAULT;
	if (!region->pin)
		*hpa = region->dev_hpa + (ua - region->ua);
	else
		*hpa = emu_pin_hpa(region->pin, ua);
	return 0;
}

/* The run [ua, ua + n IOMMU pages) lies in @region, whose pages are at least as large. */
static bool run_inside(const struct mmreg_region *region, uint64_t ua, uint64_t n,
		       unsigned pageshift)
{
	uint64_t end, region_end = region->ua + (region->entries << EMU_PAGE_SHIFT);

	return ua >= region->ua && pageshift <= region->pageshift && pageshift < 64 &&
	       n <= (UINT64_MAX >> pageshift) && util_range_end(ua, n << pageshift, &end) &&
	       end <= region_end;
}

int mmreg_region_ua_to_hpas(const struct mmreg_region *region, uint64_t ua, uint64_t n,
			    unsigned pageshift, uint64_t *hpas)
{
	if (!n)
		return 0;
	if (!run_inside(region, ua, n, pageshift))
		return -EFAULT;
	if (region->pin) {
		emu_pin_hpas(region->pin, ua, n, pageshift, hpas);
		return 0;
	}
	for (uint64_t k = 0; k < n; k++)
		hpas[k] = region->dev_hpa + (ua - region->ua) + (k << pageshift);
	return 0;
}

int mmreg_region_ua_to_hpas_be(const struct mmreg_region *region, uint64_t ua, uint64_t n,
			       unsigned pageshift, uint64_t low, uint64_t *dst)
{
	if (!n)
		return 0;
	if (!run_inside(region, ua, n, pageshift))
		return -EFAULT;
	if (low >> pageshift)
		return -EINVAL;
	if (region->pin)
		emu_pin_hpas_be(region->pin, ua, n, pageshift, low, dst);
	else	/* device memory is contiguous */
		util_store_be64_seq(dst, (region->dev_hpa + (ua - region->ua)) | low,
				    1ull << pageshift, n);
	return 0;
}

uint64_t mmreg_region_contained(const struct mmreg_region *region, uint64_t ua, uint64_t n,
				unsigned pageshift)
{
	uint64_t k;

	if (!region->pin)
		return n;
	for (k = 0; k < n; k++)
		if (emu_pin_page_shift(region->pin, ua + (k << pageshift)) < pageshift)
			break;
	return k;
}

int mmreg_region_mapped_add(struct mmreg_region *region, uint64_t n)
{
	uint64_t v = __atomic_load_n(&region->mapped, __ATOMIC_RELAXED);

	do {
		if (!v)
			return -ENXIO;
	} while (!__atomic_compare_exchange_n(&region->mapped, &v, v + n, true, __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	return 0;
}

void mmreg_region_mapped_sub(struct mmreg_region *region, uint64_t n)
{
	uint64_t v = __atomic_load_n(&region->mapped, __ATOMIC_RELAXED), new;

	do {
		if (v <= 1)
			return;
		new = n >= v ? 1 : v - n;
	} while (!__atomic_compare_exchange_n(&region->mapped, &v, new, true, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
}

int mmreg_region_mapped_inc(struct mmreg_region *region)
{
	return mmreg_region_mapped_add(region, 1);
}

void mmreg_region_mapped_dec(struct mmreg_region *region)
{
	mmreg_region_mapped_sub(region, 1);
}

bool mmreg_is_devmem(struct mmreg_mm *mm, uint64_t hpa, unsigned pageshift, uint64_t *size)
{
	struct mmreg_region *r;
	bool found = false;

	if (!__atomic_load_n(&mm->ndev, __ATOMIC_RELAXED))
		return false;
	util_rcu_read_lock();
	for (r = __atomic_load_n(&mm->devs, __ATOMIC_ACQUIRE); r && !found;
	     r = __atomic_load_n(&r->dev_next, __ATOMIC_ACQUIRE)) {
		uint64_t dev_end = r->dev_hpa + (r->entries << EMU_PAGE_SHIFT);

		if (hpa >= r->dev_hpa && hpa < dev_end) {
			uint64_t left = dev_end - hpa;

			*size = pageshift < 64 && (1ull << pageshift) < left ? 1ull << pageshift : left;
			found = true;
		}
	}
	util_rcu_read_unlock();
	return found;
}

bool mmreg_preregistered(struct mmreg_mm *mm)
{
	bool any;

	pthread_mutex_lock(&mm->lock);
	any = mm->nregions != 0;
	pthread_mutex_unlock(&mm->lock);
	return any;
}

uint64_t mmreg_region_ua(const struct mmreg_region *region)
{
	return region->ua;
}

uint64_t mmreg_region_entries(const struct mmreg_region *region)
{
	return region->entries;
}

bool mmreg_region_holds(const struct mmreg_region *region, uint64_t ua, uint64_t size)
{
	uint64_t bytes = region->entries << EMU_PAGE_SHIFT;

	return ua >= region->ua && ua - region->ua < bytes && size <= bytes - (ua - region->ua);
}

unsigned mmreg_region_pageshift(const struct mmreg_region *region)
{
	return region->pageshift;
}

uint64_t mmreg_region_used(const struct mmreg_region *region)
{
	return __atomic_load_n(&region->used, __ATOMIC_RELAXED);
}

uint64_t mmreg_region_mapped(const struct mmreg_region *region)
{
	return __atomic_load_n(&region->mapped, __ATOMIC_RELAXED);
}

uint64_t mmreg_region_dev_hpa(const struct mmreg_region *region)
{
	return region->dev_hpa;
}

bool mmreg_region_is_dev(const struct mmreg_region *region)
{
	return !region->pin;
}

#ifdef SPAPRTCE_DEBUG
void mmreg__region_set_used(struct mmreg_region *region, uint64_t used)
{
	region->used = used;
}
#endif
