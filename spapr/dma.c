/* SPDX-License-Identifier: MIT */
/*
 * VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA for v2 containers (spec 6.3).
 *
 * This is where we beat the kernel.  The kernel, per IOMMU page: looks the
 * region up in a linear list, takes an atomic mapped increment, exchanges
 * the entry atomically, and (before v5.4) killed it.  Here, per region
 * crossed: one lookup and one batched mapped_add for the whole run inside
 * it; per IOMMU page only the hpa computation and two plain stores
 * (tce_table_map with TCE_MAP_EXCLUSIVE, which the window's write_lock makes
 * true); per request one kill.
 *
 * Neither request takes the container mutex.  A region being released
 * concurrently makes mapped_add fail with ENXIO; the request then rolls back
 * (Q4), so a MAP either fully succeeds or leaves nothing behind.  A failure
 * at page j clears the entries [0, j) of the request (including older
 * mappings they replaced), kills them, and leaves the rest untouched (spec
 * 8.41).
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stddef.h>
#include <stdlib.h>

#include "spapr/spapr_priv.h"
#include "util/fail.h"
#include "util/range.h"

#define HPA_CHUNK 512u

struct dma_req {
	struct spapr_window *w;
	uint64_t entry;		/* first entry */
	uint64_t npages;	/* IOMMU pages */
};

/*
 * Finds the window of [iova, iova + size), with a reference, and checks the
 * range against it (spec MAP steps 5, 6, 8; UNMAP 4-6, with Q1/Q2: the
 * whole range must lie in the window).  @vaddr is checked for alignment
 * when @check_vaddr.
 */
static int dma_req_get(struct spapr_tce *tce, uint64_t iova, uint64_t size, uint64_t vaddr,
		       bool check_vaddr, uint32_t flags, struct dma_req *req)
{
	struct spapr_window *w = spapr__window_find_get(tce, iova);
	uint64_t mask, end;

	if (!w)
		return -ENXIO;
	mask = (1ull << w->page_shift) - 1;
	if ((size & mask) || (check_vaddr && (vaddr & mask)))
		goto err_inval;
	if (check_vaddr && !(flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)))
		goto err_inval;
	if ((iova & mask) || !util_range_end(iova, size, &end) || end - w->start > w->size)
		goto err_inval;
	if (check_vaddr && !util_range_end(vaddr, size, &end))
		goto err_inval;
	req->w = w;
	req->entry = iova >> w->page_shift;
	req->npages = size >> w->page_shift;
	return 0;

err_inval:
	spapr__window_put(w);
	return -EINVAL;
}

static enum tce_dir dir_of(uint32_t flags)
{
	switch (flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) {
	case VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE:
		return TCE_DIR_BIDIRECTIONAL;
	case VFIO_DMA_MAP_FLAG_READ:
		return TCE_DIR_TO_DEVICE;
	default:
		return TCE_DIR_FROM_DEVICE;
	}
}

/*
 * Maps the run [done, done + run) of one region.  Returns 0 or the error of
 * the table; on error *mapped says how many of the run's pages were written
 * (and keep their mapped counts, to be dropped by the rollback's clear).
 */
static int map_run(struct spapr_window *w, struct mmreg_region *r, uint64_t entry, uint64_t ua,
		   uint64_t run, enum tce_dir dir, struct spapr_drops *d, uint64_t *mapped)
{
	unsigned shift = w->page_shift;
	uint64_t hpas[HPA_CHUNK];
	uint64_t k = 0;
	int rc = 0;

	while (k < run) {
		uint64_t n = run - k < HPA_CHUNK ? run - k : HPA_CHUNK;

		/* Cannot fail: the run lies in the region and shift <= its pageshift. */
		mmreg_region_ua_to_hpas(r, ua + (k << shift), n, shift, hpas);
		rc = tce_table_map(w->table, entry + k, n, hpas, ua + (k << shift), dir,
				   TCE_MAP_EXCLUSIVE, &d->kill, spapr__drops_old, d);
		if (rc)
			break;
		k += n;
	}
	*mapped = k;
	return rc;
}

/* Writes the request's entries; on failure clears what it wrote.  Under w->write_lock. */
static int map_pages(struct spapr_tce *tce, struct dma_req *req, uint64_t vaddr, enum tce_dir dir)
{
	struct spapr_window *w = req->w;
	unsigned shift = w->page_shift;
	uint64_t psize = 1ull << shift, done = 0;
	struct spapr_drops d;
	int rc = 0;

	spapr__drops_init(&d, w);
	mmreg_read_lock();
	while (done < req->npages) {
		uint64_t ua = vaddr + (done << shift), end, run, mapped;
		struct mmreg_region *r = mmreg_region_lookup(tce->mm, ua, psize);

		if (!r || shift > mmreg_region_pageshift(r)) {
			rc = -EINVAL;
			break;
		}
		end = mmreg_region_ua(r) + (mmreg_region_entries(r) << EMU_PAGE_SHIFT);
		run = (end - ua) >> shift;
		if (run > req->npages - done)
			run = req->npages - done;
		/* One count for the whole run; fails only while the region is being released. */
		rc = mmreg_region_mapped_add(r, run);
		if (rc)
			break;
		rc = map_run(w, r, req->entry + done, ua, run, dir, &d, &mapped);
		if (rc) {
			mmreg_region_mapped_sub(r, run - mapped);
			done += mapped;
			break;
		}
		done += run;
	}
	mmreg_read_unlock();
	if (rc && done)
		tce_table_unmap(w->table, req->entry, done, NULL, spapr__drops_old, &d, NULL);
	spapr__drops_flush(&d);
	return rc;
}

static int v1_map_pages(struct spapr_tce *tce, struct dma_req *req, uint64_t vaddr, enum tce_dir dir);

/*
 * The common start of MAP_DMA and UNMAP_DMA (spec 6.3, steps 1-4): the
 * container enabled (EPERM), the struct copied (EFAULT), argsz and flags
 * outside @flags_ok (EINVAL), then the pending default window created.
 * Both structs begin with argsz and flags.
 */
static int dma_begin(struct spapr_tce *tce, void *arg, void *buf, size_t minsz, uint32_t flags_ok)
{
	struct {
		uint32_t argsz;
		uint32_t flags;
	} *head = buf;
	int rc;

	if (!__atomic_load_n(&tce->enabled, __ATOMIC_ACQUIRE))
		return -EPERM;
	rc = spapr__copy_in(buf, arg, minsz);
	if (rc)
		return rc;
	if (head->argsz < minsz || (head->flags & ~flags_ok))
		return -EINVAL;
	return spapr__default_window(tce);
}

/* MAP_DMA, v1 and v2: the checks are the same; v1 pins, v2 needs registered memory. */
int spapr__map_dma(struct spapr_tce *tce, void *arg)
{
	struct vfio_iommu_type1_dma_map m;
	const size_t minsz = offsetof(struct vfio_iommu_type1_dma_map, size) + sizeof(m.size);
	struct dma_req req;
	int rc;

	rc = dma_begin(tce, arg, &m, minsz, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	if (rc)
		return rc;
	rc = dma_req_get(tce, m.iova, m.size, m.vaddr, true, m.flags, &req);
	if (rc)
		return rc;
	if (req.npages) {
		pthread_mutex_lock(&req.w->write_lock);
		if (req.w->dead)
			rc = -ENXIO;
		else if (tce->v2)
			rc = map_pages(tce, &req, m.vaddr, dir_of(m.flags));
		else
			rc = v1_map_pages(tce, &req, m.vaddr, dir_of(m.flags));
		pthread_mutex_unlock(&req.w->write_lock);
	}
	spapr__window_put(req.w);
	return rc;
}

/* UNMAP_DMA, v1 and v2: the clear drops mapped counts (v2) or pins (v1). */
int spapr__unmap_dma(struct spapr_tce *tce, void *arg)
{
	struct vfio_iommu_type1_dma_unmap u;
	const size_t minsz = offsetof(struct vfio_iommu_type1_dma_unmap, size) + sizeof(u.size);
	struct dma_req req;
	int rc;

	rc = dma_begin(tce, arg, &u, minsz, 0);
	if (rc)
		return rc;
	rc = dma_req_get(tce, u.iova, u.size, 0, false, 0, &req);
	if (rc)
		return rc;
	if (req.npages) {
		pthread_mutex_lock(&req.w->write_lock);
		if (req.w->dead)
			rc = -ENXIO;
		else
			spapr__window_clear(req.w, req.entry, req.npages);
		pthread_mutex_unlock(&req.w->write_lock);
	}
	spapr__window_put(req.w);
	return rc;
}

/* ------------------------------------------------------------------ v1 */

/*
 * v1 containers (type 2) have no preregistration: ENABLE charges the whole
 * 32-bit window up front (a worst-case bound), MAP pins each page as it maps
 * it and UNMAP unpins it.  Only the default window exists.
 */

int spapr__v1_enable(struct spapr_tce *tce)
{
	const struct spapr_group_info *info;
	uint64_t pages;
	int rc;

	pthread_mutex_lock(&tce->lock);
	if (tce->enabled) {
		rc = -EBUSY;
		goto out_unlock;
	}
	rc = spapr__tce_bind_mm(tce);
	if (rc)
		goto out_unlock;
	if (!tce->c->ngroups) {
		rc = -ENODEV;
		goto out_unlock;
	}
	info = &tce->c->groups[0]->info;
	if (!info->tce32_size) {
		rc = -EPERM;
		goto out_unlock;
	}
	pages = info->tce32_size >> EMU_PAGE_SHIFT;
	rc = mmreg_mm_charge(tce->mm, pages);
	if (rc)
		goto out_unlock;
	tce->v1_locked_pages = pages;
	__atomic_store_n(&tce->enabled, true, __ATOMIC_RELEASE);
out_unlock:
	pthread_mutex_unlock(&tce->lock);
	return rc;
}

/* Always 0, as in the kernel; mappings stay. */
int spapr__v1_disable(struct spapr_tce *tce)
{
	pthread_mutex_lock(&tce->lock);
	if (tce->enabled && !tce->v2) {
		__atomic_store_n(&tce->enabled, false, __ATOMIC_RELEASE);
		mmreg_mm_uncharge(tce->mm, tce->v1_locked_pages);
		tce->v1_locked_pages = 0;
	}
	pthread_mutex_unlock(&tce->lock);
	return 0;
}

static int v1_map_pages(struct spapr_tce *tce, struct dma_req *req, uint64_t vaddr, enum tce_dir dir)
{
	struct spapr_window *w = req->w;
	const struct tce_geometry *geo = tce_table_geometry(w->table);
	unsigned shift = w->page_shift;
	struct spapr_drops d;
	uint64_t i;
	int rc = 0;

	if (!tce->v1_pins) {
		if (util_should_fail("spapr_v1_pins"))
			return -ENOMEM;
		tce->v1_pins = calloc(geo->it_size, sizeof(*tce->v1_pins));
		if (!tce->v1_pins)
			return -ENOMEM;
		tce->v1_npins = geo->it_size;
	}
	spapr__drops_init(&d, w);
	for (i = 0; i < req->npages; i++) {
		uint64_t ua = vaddr + (i << shift), entry = req->entry + i;
		struct emu_pin *pin;
		struct tce_old old;

		rc = emu_mem_pin(ua, (1ull << shift) >> EMU_PAGE_SHIFT, &pin);
		if (rc)
			break;
		rc = tce_table_xchg(w->table, entry, emu_pin_hpa(pin, ua), ua, dir, &old, &d.kill);
		if (rc) {
			emu_mem_unpin(pin);
			break;
		}
		if (old.dir != TCE_DIR_NONE)
			spapr__drops_old(&d, &old, 1);	/* the replaced page is unpinned after the kill */
		tce->v1_pins[entry - geo->it_offset] = pin;
	}
	if (rc && i)
		tce_table_unmap(w->table, req->entry, i, NULL, spapr__drops_old, &d, NULL);
	spapr__drops_flush(&d);
	return rc;
}
