/* SPDX-License-Identifier: MIT */
/*
 * VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA (the kernel's tce_iommu_build_v2
 * and tce_iommu_clear): the requests of v1 and v2 containers alike, and the
 * v2 mapping (v1.c pins instead).
 *
 * This is where we beat the kernel.  The kernel, per IOMMU page: looks the
 * region up in a linear list, takes an atomic mapped increment, exchanges
 * the entry atomically, and (before v5.4) killed it.  Here, per region
 * crossed: one lookup and one batched mapped_add for the whole run inside
 * it; per IOMMU page only the hpa computation and two plain stores
 * (tce_table_map on a table created with TCE_TABLE_SERIAL_WRITERS, which the
 * window's write_lock makes true); per request one kill.
 *
 * Neither request takes the container mutex.  A region being released
 * concurrently makes mapped_add fail with ENXIO; the request then rolls back
 * (Q4), so a MAP either fully succeeds or leaves nothing behind.  A failure
 * at page j clears the entries [0, j) of the request (including older
 * mappings they replaced), kills them, and leaves the rest untouched
 * (tce_iommu_build_v2).
 *
 * quirks=kernel (docs/quirks.md) changes four answers here, each at its
 * place: Q1, a misaligned iova answers +1 (iommu_tce_put_param_check and
 * iommu_tce_clear_param_check OR two -EINVALs); Q2, only the first entry
 * is checked against the window (iommu_tce_check_ioba ignores npages);
 * Q4, a dying region stops the MAP with 0 and keeps what was written
 * (tce_iommu_build_v2); Q7, a failed entry write keeps the failed page's
 * mapped increment (tce_iommu_build_v2 gives back the old entry's instead).
 * Where Q2 would make the kernel write or clear entries past the table's
 * memory (it corrupts whatever lies there), we stop at the window's last
 * entry: the pages beyond are checked as the kernel checks them (a
 * registered region with a large enough page, else EINVAL and a rollback),
 * neither written nor counted.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stddef.h>
#include <stdlib.h>

#include "emu/quirk.h"
#include "spapr/spapr_priv.h"
#include "util/fail.h"
#include "util/range.h"

#define HPA_CHUNK 512u

struct dma_req {
	struct spapr_window *w;	/* with its write_lock (held) or a reference (ref) */
	bool held;		/* write_lock taken by the lookup, no reference */
	uint64_t entry;		/* first entry */
	uint64_t npages;	/* IOMMU pages */
	uint64_t beyond;	/* Q2, quirks=kernel: pages past the window's end, not written */
};

/* Gives back what dma_req_get took: the write_lock or the reference. */
static void dma_req_put(struct dma_req *req)
{
	if (req->held)
		util_mutex_unlock(&req->w->write_lock);
	else
		spapr__window_put(req->w);
}

/* The request's window under its write_lock: ENXIO once removed. */
static int dma_req_lock(struct dma_req *req)
{
	if (!req->held)
		util_mutex_lock(&req->w->write_lock);
	return req->w->dead ? -ENXIO : 0;
}

/* Undoes dma_req_lock and dma_req_get. */
static void dma_req_unlock_put(struct dma_req *req)
{
	if (!req->held)
		util_mutex_unlock(&req->w->write_lock);
	dma_req_put(req);
}

/*
 * Finds the window of [iova, iova + size), with its write_lock when that is
 * free (no reference then: spapr__window_find_trylock), else with a
 * reference, and checks the range against it (docs/kernel.md's MAP and
 * UNMAP rows, from "no window holds iova" on, with Q1/Q2: the whole range
 * must lie in the window).  @vaddr is checked for alignment when
 * @check_vaddr.  The checks read only what never changes in a window, so
 * the lock changes no answer.
 */
static int dma_req_get(struct spapr_tce_container *tc, uint64_t iova, uint64_t size, uint64_t vaddr,
		       bool check_vaddr, uint32_t flags, struct dma_req *req)
{
	struct spapr_window *w;
	uint64_t mask, end;
	bool busy;

	w = spapr__window_find_trylock(tc, iova, &busy);
	req->held = w != NULL;
	if (!w && busy)
		w = spapr__window_find_get(tc, iova);
	if (!w)
		return -ENXIO;
	req->w = w;
	mask = (1ull << w->page_shift) - 1;
	if ((size & mask) || (check_vaddr && (vaddr & mask)))
		goto err_inval;
	if (check_vaddr && !(flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)))
		goto err_inval;
	if (iova & mask) {
		dma_req_put(req);
		return emu__quirk(EMU_Q1) ? 1 : -EINVAL;
	}
	req->entry = iova >> w->page_shift;
	req->npages = size >> w->page_shift;
	req->beyond = 0;
	if (!util_range_end(iova, size, &end) || end - w->start > w->size) {
		if (!emu__quirk(EMU_Q2))
			goto err_inval;
		/* Only the first entry, which lies in the window, is checked. */
		req->npages = (w->start + w->size - iova) >> w->page_shift;
		req->beyond = (size >> w->page_shift) - req->npages;
	}
	if (check_vaddr && !util_range_end(vaddr, size, &end))
		goto err_inval;
	return 0;

err_inval:
	dma_req_put(req);
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

	if (run == 1) {
		/* One page: one hpa and one entry exchange, without the run's batch (about 3 times cheaper). */
		mmreg_region_ua_to_hpa(r, ua, shift, &hpas[0]);
		rc = tce_table_xchg(w->table, entry, hpas[0], ua, dir, &d->kill, spapr__drops_old, d);
		*mapped = !rc;
		return rc;
	}
	while (k < run) {
		uint64_t n = run - k < HPA_CHUNK ? run - k : HPA_CHUNK;

		/* Cannot fail: the run lies in the region and shift <= its pageshift. */
		mmreg_region_ua_to_hpas(r, ua + (k << shift), n, shift, hpas);
		rc = tce_table_map(w->table, entry + k, n, hpas, ua + (k << shift), dir, &d->kill,
				   spapr__drops_old, d);
		if (rc)
			break;
		k += n;
	}
	*mapped = k;
	return rc;
}

/*
 * Q2 under quirks=kernel: the pages of a MAP past the window's end.  The
 * kernel goes on past its table (tce_iommu_build_v2 does not know where
 * it ends); we check each page as it would (a registered region holding
 * it, with a large enough page: else EINVAL) and write nothing.  In a read
 * section.
 */
static int check_beyond(struct spapr_tce_container *tc, uint64_t ua, uint64_t n, unsigned shift)
{
	uint64_t psize = 1ull << shift;

	while (n) {
		struct mmreg_region *r = mmreg_region_lookup_hinted(tc->mm, ua, psize);
		uint64_t end, run;

		if (!r || shift > mmreg_region_pageshift(r))
			return -EINVAL;
		end = mmreg_region_ua(r) + (mmreg_region_entries(r) << EMU_PAGE_SHIFT);
		run = (end - ua) >> shift;
		if (run > n)
			run = n;
		if (emu__quirk(EMU_Q8) && mmreg_region_contained(r, ua, run, shift) < run)
			return -EPERM;
		ua += run << shift;
		n -= run;
	}
	return 0;
}

/* Writes the request's entries; on failure clears what it wrote.  Under w->write_lock. */
static int map_pages(struct spapr_tce_container *tc, struct dma_req *req, uint64_t vaddr,
		     enum tce_dir dir)
{
	struct spapr_window *w = req->w;
	unsigned shift = w->page_shift;
	uint64_t psize = 1ull << shift, done = 0;
	struct spapr_drops d;
	int rc = 0;

	util_mutex_assert_held(&w->write_lock);
	spapr__drops_init(&d, w);
	mmreg_read_lock();
	while (done < req->npages) {
		uint64_t ua = vaddr + (done << shift), end, run, mapped, contained;
		struct mmreg_region *r = mmreg_region_lookup_hinted(tc->mm, ua, psize);

		if (!r || shift > mmreg_region_pageshift(r)) {
			rc = -EINVAL;
			break;
		}
		end = mmreg_region_ua(r) + (mmreg_region_entries(r) << EMU_PAGE_SHIFT);
		run = (end - ua) >> shift;
		if (run > req->npages - done)
			run = req->npages - done;
		/* tce_page_is_contained: a page size from Q8 may be larger than a page. */
		contained = emu__quirk(EMU_Q8) ? mmreg_region_contained(r, ua, run, shift) : run;
		if (!contained) {
			rc = -EPERM;
			break;
		}
		/* One count for the whole run; fails only while the region is being released. */
		rc = mmreg_region_mapped_add(r, contained);
		if (rc) {
			if (emu__quirk(EMU_Q4))
				rc = 0;	/* stop with success: what was written stays */
			break;
		}
		rc = map_run(w, r, req->entry + done, ua, contained, dir, &d, &mapped);
		if (rc) {
			/* Q7: the kernel gives back the old entry's count, not the new one's. */
			mmreg_region_mapped_sub(r, contained - mapped - (emu__quirk(EMU_Q7) ? 1 : 0));
			done += mapped;
			break;
		}
		done += contained;
		if (contained < run) {
			rc = -EPERM;	/* the first page not contained, after the good ones */
			break;
		}
	}
	if (!rc && req->beyond && done == req->npages)
		rc = check_beyond(tc, vaddr + (done << shift), req->beyond, shift);
	mmreg_read_unlock();
	if (rc && done)
		tce_table_unmap(w->table, req->entry, done, NULL, spapr__drops_old, &d, NULL);
	spapr__drops_flush(&d);
	return rc;
}

/*
 * map_pages for a v2 request of one page (an emulated guest's or a
 * driver's one-page MAP_DMA): the same steps and answers, quirks included,
 * without the run loop, the rollback (nothing was written before the page)
 * or the Q2 tail (none).  Under w->write_lock.
 */
static int map_one(struct spapr_tce_container *tc, struct spapr_window *w, uint64_t entry, uint64_t ua,
		   enum tce_dir dir)
{
	unsigned shift = w->page_shift;
	struct spapr_drops d;
	struct mmreg_region *r;
	uint64_t hpa;
	int rc;

	util_mutex_assert_held(&w->write_lock);
	spapr__drops_init(&d, w);
	mmreg_read_lock();
	r = mmreg_region_lookup_hinted(tc->mm, ua, 1ull << shift);
	if (!r || shift > mmreg_region_pageshift(r)) {
		rc = -EINVAL;
	} else if (emu__quirk(EMU_Q8) && !mmreg_region_contained(r, ua, 1, shift)) {
		rc = -EPERM;
	} else if ((rc = mmreg_region_mapped_add(r, 1))) {
		if (emu__quirk(EMU_Q4))
			rc = 0;
	} else {
		mmreg_region_ua_to_hpa(r, ua, shift, &hpa);
		rc = tce_table_xchg(w->table, entry, hpa, ua, dir, &d.kill, spapr__drops_old, &d);
		/* Q7: the kernel gives back the old entry's count, not the new one's. */
		if (rc && !emu__quirk(EMU_Q7))
			mmreg_region_mapped_sub(r, 1);
	}
	mmreg_read_unlock();
	spapr__drops_flush(&d);
	return rc;
}

/* The pending default window, made on first use (spapr__default_window); the common case, none pending, inline. */
static int default_window(struct spapr_tce_container *tc)
{
	return __atomic_load_n(&tc->def_window_pending, __ATOMIC_ACQUIRE) ? spapr__default_window(tc) : 0;
}

/*
 * VFIO_IOMMU_MAP_DMA, v1 and v2: the checks are the same; v1 pins, v2 needs
 * registered memory.  The dispatcher checked the container enabled (EPERM),
 * copied the struct (EFAULT), checked argsz and flags (EINVAL); the pending
 * default window comes next (docs/kernel.md, MAP_DMA).
 */
int spapr__ioctl_map_dma(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;
	const struct vfio_iommu_type1_dma_map *m = rq->buf;
	struct dma_req req;
	int rc;

	rc = default_window(tc);
	if (rc)
		return rc;
	rc = dma_req_get(tc, m->iova, m->size, m->vaddr, true, m->flags, &req);
	if (rc)
		return rc;
	if (!req.npages && !req.beyond) {
		dma_req_put(&req);
		return 0;
	}
	rc = dma_req_lock(&req);
	if (!rc && tc->v2 && req.npages == 1 && !req.beyond)
		rc = map_one(tc, req.w, req.entry, m->vaddr, dir_of(m->flags));
	else if (!rc && tc->v2)
		rc = map_pages(tc, &req, m->vaddr, dir_of(m->flags));
	else if (!rc)
		rc = spapr__v1_map_pages(tc, req.w, req.entry, req.npages, m->vaddr, dir_of(m->flags));
	dma_req_unlock_put(&req);
	return rc;
}

/* VFIO_IOMMU_UNMAP_DMA, v1 and v2: the clear drops mapped counts (v2) or pins (v1). */
int spapr__ioctl_unmap_dma(struct spapr_ioctl_req *rq)
{
	struct spapr_tce_container *tc = rq->obj;
	const struct vfio_iommu_type1_dma_unmap *u = rq->buf;
	struct dma_req req;
	int rc;

	rc = default_window(tc);
	if (rc)
		return rc;
	rc = dma_req_get(tc, u->iova, u->size, 0, false, 0, &req);
	if (rc)
		return rc;
	if (!req.npages) {
		dma_req_put(&req);
		return 0;
	}
	rc = dma_req_lock(&req);
	if (!rc)
		spapr__window_clear(req.w, req.entry, req.npages);
	dma_req_unlock_put(&req);
	return rc;
}
