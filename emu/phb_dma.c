/* SPDX-License-Identifier: MIT */
/*
 * Devices: DMA reads and writes through the host bridge.
 *
 * A transfer runs in two phases under ep->rw held for reading.  Phase one,
 * under ep->lock, translates it TCE page by TCE page (cache, then walker)
 * and checks every system page of it: a valid TCE with the permission, an
 * hpa of user memory, a frame with a pin count > 0.  It records where the
 * bytes are as a list of user-address segments.  Phase two copies.  So a
 * faulting transfer touches no byte, and the copy runs without ep->lock,
 * in parallel with other DMAs of the endpoint.
 *
 * Why the copy is safe against a concurrent unpin: the OS layer clears a
 * TCE, kills it, and only then unpins.  The kill takes ep->rw for writing,
 * so it waits for every DMA in flight; a DMA that starts after the kill
 * misses the cache and finds the cleared entry.  An OS layer that skips the
 * kill is what the pin check of phase one catches (use-after-unpin).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/mem.h"
#include "emu/phb_priv.h"
#include "util/fail.h"
#include "util/range.h"

#define NSEG_STACK 32u

struct seg {
	uint64_t ua;
	uint64_t len;
};

struct xfer {
	struct seg *segs;
	uint64_t nsegs, cap;
	struct seg stack[NSEG_STACK];
};

static const struct emu__window_reg *find_window(const struct emu__endpoint *ep, uint64_t addr,
						 unsigned *slot)
{
	unsigned s;

	for (s = 0; s < EMU_MAX_WINDOWS; s++) {
		const struct emu__window_reg *r = &ep->win[s];

		if (r->programmed && addr >= r->start && addr < r->end) {
			*slot = s;
			return r;
		}
	}
	return NULL;
}

/* Appends [ua, ua + len), merged with the last segment when contiguous. */
static int add_seg(struct xfer *x, uint64_t ua, uint64_t len, uint64_t total)
{
	struct seg *last = x->nsegs ? &x->segs[x->nsegs - 1] : NULL;

	if (last && last->ua + last->len == ua) {
		last->len += len;
		return 0;
	}
	if (x->nsegs == x->cap) {
		/* Only once: the worst case is one segment per system page. */
		uint64_t cap = total / EMU_PAGE_SIZE + 2;
		struct seg *s;

		if (util_should_fail("emu_dma_segments"))
			return -ENOMEM;
		s = malloc(cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		memcpy(s, x->segs, x->nsegs * sizeof(*s));
		x->segs = s;
		x->cap = cap;
	}
	x->segs[x->nsegs].ua = ua;
	x->segs[x->nsegs].len = len;
	x->nsegs++;
	return 0;
}

static int fault(struct emu__endpoint *ep, uint64_t addr, uint64_t tce, enum emu_dma_access acc,
		 enum emu_fault_reason why)
{
	emu__fault_record(ep, addr, tce, acc, why);
	emu__pe_fault(ep, why);
	if (why == EMU_FAULT_UNPINNED && emu__abort_on_unpinned()) {
		fprintf(stderr,
			"emu: DMA %s at bus address %#llx through TCE %#llx reaches memory that is not pinned (use-after-unpin)\n",
			acc == EMU_DMA_WRITE ? "write" : "read", (unsigned long long)addr,
			(unsigned long long)tce);
		abort();
	}
	return why == EMU_FAULT_PERMISSION ? -EACCES : -EFAULT;
}

/* Phase one (ep->rw read-held, ep->lock held): translate and check [iova, end). */
static int translate(struct emu__endpoint *ep, uint64_t iova, uint64_t end,
		     enum emu_dma_access acc, struct xfer *x)
{
	uint64_t need = acc == EMU_DMA_WRITE ? EMU_TCE_WRITE : EMU_TCE_READ;
	uint64_t addr = iova;
	int rc;

	while (addr < end) {
		const struct emu__window_reg *r;
		uint64_t entry, mask, chunk_end, tce = 0, hpa;
		unsigned slot;

		r = find_window(ep, addr, &slot);
		if (!r)
			return fault(ep, addr, 0, acc, EMU_FAULT_NO_WINDOW);
		mask = (1ull << r->w.page_shift) - 1;
		entry = addr >> r->w.page_shift;
		/* The window ends below 2^64, so the page's end does not wrap. */
		chunk_end = (addr | mask) + 1;
		if (chunk_end > end)
			chunk_end = end;
		if (emu__cache_find(ep, slot, entry, &tce)) {
			ep->st.cache_hits++;
		} else {
			int why = emu__walk(r, entry, &tce);

			ep->st.cache_misses++;
			if (why)
				return fault(ep, addr, 0, acc, (enum emu_fault_reason)why);
			if (tce)
				emu__cache_insert(ep, slot, entry, tce);
		}
		if (!tce)
			return fault(ep, addr, 0, acc, EMU_FAULT_NO_TRANSLATION);
		if (!(tce & need))
			return fault(ep, addr, tce, acc, EMU_FAULT_PERMISSION);
		hpa = (tce & ~mask) | (addr & mask);
		while (addr < chunk_end) {
			uint64_t n = EMU_PAGE_SIZE - (hpa & (EMU_PAGE_SIZE - 1)), ua;

			if (n > chunk_end - addr)
				n = chunk_end - addr;
			if (!emu_mem_hpa_to_ua(hpa, &ua) || !emu_mem_ua_pins(ua))
				return fault(ep, addr, tce, acc, EMU_FAULT_UNPINNED);
			rc = add_seg(x, ua, n, end - iova);
			if (rc)
				return rc;
			addr += n;
			hpa += n;
		}
	}
	return 0;
}

static int dma(int group, uint64_t iova, void *buf, size_t len, enum emu_dma_access acc)
{
	struct emu__endpoint *ep;
	struct xfer x;
	uint64_t end, i;
	uint8_t *p = buf;
	int rc = emu__endpoint(group, &ep);

	if (rc)
		return rc;
	if (!util_range_end(iova, len, &end))
		return -EINVAL;
	if (!len)
		return 0;
	x.segs = x.stack;
	x.nsegs = 0;
	x.cap = NSEG_STACK;
	pthread_rwlock_rdlock(&ep->rw);
	pthread_mutex_lock(&ep->lock);
	rc = emu__pe_dma(ep, iova, acc);
	if (!rc)
		rc = translate(ep, iova, end, acc, &x);
	if (!rc) {
		if (acc == EMU_DMA_WRITE) {
			ep->st.dma_writes++;
			ep->st.bytes_written += len;
		} else {
			ep->st.dma_reads++;
			ep->st.bytes_read += len;
		}
	}
	pthread_mutex_unlock(&ep->lock);
	if (rc)
		goto out_unlock;
	for (i = 0; i < x.nsegs; i++) {
		void *mem = (void *)(uintptr_t)x.segs[i].ua;

		if (acc == EMU_DMA_WRITE)
			memcpy(mem, p, x.segs[i].len);
		else
			memcpy(p, mem, x.segs[i].len);
		p += x.segs[i].len;
	}
	if (acc == EMU_DMA_WRITE && ep->dirty)
		emu__dirty_mark(ep->dirty, iova, end);
out_unlock:
	pthread_rwlock_unlock(&ep->rw);
	if (x.segs != x.stack)
		free(x.segs);
	return rc;
}

int emu_dma_read(int iommu_group, uint64_t iova, void *buf, size_t len)
{
	return dma(iommu_group, iova, buf, len, EMU_DMA_READ);
}

int emu_dma_write(int iommu_group, uint64_t iova, const void *buf, size_t len)
{
	return dma(iommu_group, iova, (void *)(uintptr_t)buf, len, EMU_DMA_WRITE);
}
