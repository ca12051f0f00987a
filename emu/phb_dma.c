/* SPDX-License-Identifier: MIT */
/*
 * Devices: DMA reads and writes through the host bridge.
 *
 * A transfer runs in two phases under ep->rw held for reading.  Phase one,
 * under ep->lock, translates it TCE page by TCE page (cache, then walker)
 * and checks every system page of it: a valid TCE with the permission, an
 * hpa of user memory, a frame with a pin count > 0.  The pin counts are
 * read for all pages at once after the walk (one lock round of the pin
 * table, not one per page), and the fault reported is still the first in
 * bus address order.  It records where the bytes are as a list of
 * user-address segments.  Phase two copies.  So a
 * faulting transfer touches no byte, and the copy runs without ep->lock,
 * in parallel with other DMAs of the endpoint.
 *
 * Why the copy is safe against a concurrent unpin: the OS layer clears a
 * TCE, kills it, and only then unpins.  The kill takes ep->rw for writing,
 * so it waits for every DMA in flight; a DMA that starts after the kill
 * misses the cache and finds the cleared entry.  An OS layer that skips the
 * kill is what the pin check of phase one catches (use-after-unpin).
 *
 * Where the copy goes (emu/mem_pin.c says how pages are tagged): a page of
 * shared memory is reached through the library's own second mapping of it,
 * with memcpy, so that a process that unmaps, mprotects or replaces its
 * own mapping cannot make the device miss the pinned page or hit another
 * one; the kernel's device behaves the same way, it holds the page.  A
 * page of private memory can only be reached at its user address: phase
 * two first checks that every such page is still the pinned one (its
 * mapping still mlocked as the pin left it, else its frame number, or at
 * least its presence) and that its mapping allows the access, then copies
 * with memcpy (with process_vm_readv/writev on the process
 * itself where the kernel cannot tell the protection: those answer EFAULT
 * instead of raising SIGSEGV on a page that is unmapped, PROT_NONE or, for
 * a write, read-only).  Either failure is the fault "registered memory unmapped by
 * the process" at the first such byte; the check comes before any byte
 * moves, so only a protection change (seen by the copy itself) can leave a
 * write half done.  The kernel's device would have gone on writing the
 * pinned page; the emulator cannot reach it any more and says so.
 * Cost: shared memory none; private memory two system calls per transfer
 * and mapping, PROCMAP_QUERY and msync while the mapping is still mlocked,
 * PROCMAP_QUERY and a pagemap read otherwise (docs/emu.md has the figures).
 */
#define _GNU_SOURCE	/* process_vm_readv */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "emu/mem.h"
#include "emu/phb_priv.h"
#include "util/fail.h"
#include "util/range.h"

#define NSEG_STACK 32u

/*
 * A piece of the transfer: @len bytes at @addr, which is the library's
 * alias of shared pages (alias) or the user address of private pages.  Its
 * pages are x->pages[@page] on, one per system page.
 */
struct seg {
	uint64_t addr;
	uint64_t len;
	uint64_t iova;
	uint64_t page;		/* index into x->pages/x->at */
	bool alias;
	bool slow;		/* private, protection unchecked: process_vm_readv/writev */
};

/* Where a page of the transfer came from: its bus address, bytes, and the TCE used. */
struct page_at {
	uint64_t iova;
	uint64_t len;
	uint64_t tce;
};

/*
 * Phase one fills x->pages (user addresses, then emu__mem_dma_pages' answers)
 * and x->at, one entry per system page the transfer touches, then x->segs.
 */
struct xfer {
	struct seg *segs;
	uint64_t nsegs, cap;
	struct emu__dma_page *pages;
	struct page_at *at;
	uint64_t npages, pcap;
	struct seg stack[NSEG_STACK];
	struct emu__dma_page page_stack[NSEG_STACK];
	struct page_at at_stack[NSEG_STACK];
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

/* Grows a stack array to its worst case: one element per system page. */
static int grow(void **v, void *stack, uint64_t n, uint64_t size, uint64_t total)
{
	uint64_t cap = total / EMU_PAGE_SIZE + 2;
	void *s;

	if (util_should_fail("emu_dma_segments"))
		return -ENOMEM;
	s = malloc(cap * size);
	if (!s)
		return -ENOMEM;
	memcpy(s, *v, n * size);
	if (*v != stack)
		free(*v);
	*v = s;
	return 0;
}

/* Appends @len bytes (inside one system page) at user address @ua, bus address @iova. */
static int add_page(struct xfer *x, uint64_t ua, uint64_t len, uint64_t iova, uint64_t tce,
		    uint64_t total)
{
	if (x->npages == x->pcap) {
		int rc = grow((void **)&x->pages, x->page_stack, x->npages, sizeof(*x->pages),
			      total);

		if (!rc)
			rc = grow((void **)&x->at, x->at_stack, x->npages, sizeof(*x->at), total);
		if (rc)
			return rc;
		x->pcap = total / EMU_PAGE_SIZE + 2;
	}
	x->pages[x->npages] = (struct emu__dma_page){ .ua = ua };
	x->at[x->npages] = (struct page_at){ iova, len, tce };
	x->npages++;
	return 0;
}

/*
 * Appends page @i of x->pages as a segment, merged with the last one when
 * contiguous and of the same kind.
 */
static int add_seg(struct xfer *x, uint64_t i, uint64_t total)
{
	const struct emu__dma_page *p = &x->pages[i];
	struct seg *last = x->nsegs ? &x->segs[x->nsegs - 1] : NULL;
	bool alias = p->alias != 0;
	uint64_t addr = alias ? p->alias : p->ua, len = x->at[i].len;

	if (last && last->alias == alias && last->addr + last->len == addr) {
		last->len += len;
		return 0;
	}
	if (x->nsegs == x->cap) {
		int rc = grow((void **)&x->segs, x->stack, x->nsegs, sizeof(*x->segs), total);

		if (rc)
			return rc;
		x->cap = total / EMU_PAGE_SIZE + 2;
	}
	x->segs[x->nsegs] = (struct seg){ addr, len, x->at[i].iova, i, alias, false };
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

/*
 * Phase one (ep->rw read-held, ep->lock held): translate and check [iova,
 * end).  The TCEs are walked first, collecting the user address of every
 * page; then one emu__mem_dma_pages asks for all their pins at once.  The
 * fault reported is the first in bus address order, as if each page had
 * been checked as it was reached: an unpinned page before the page where
 * the walk stopped wins over the walk's fault.
 */
static int translate(struct emu__endpoint *ep, uint64_t iova, uint64_t end,
		     enum emu_dma_access acc, struct xfer *x)
{
	uint64_t need = acc == EMU_DMA_WRITE ? EMU_TCE_WRITE : EMU_TCE_READ;
	uint64_t addr = iova, bad_tce = 0, pinned, i;
	int rc, why = -1;	/* an emu_fault_reason once the walk stops */
	const struct emu__window_reg *r = NULL;	/* windows do not overlap (emu/phb.c) */
	unsigned slot = 0;

	while (addr < end && why < 0) {
		uint64_t entry, mask, chunk_end, tce = 0, hpa;

		/* Most transfers stay in one window: look again only when leaving it. */
		if (!r || addr >= r->end)
			r = find_window(ep, addr, &slot);
		if (!r) {
			why = EMU_FAULT_NO_WINDOW;
			break;
		}
		mask = (1ull << r->w.page_shift) - 1;
		entry = addr >> r->w.page_shift;
		/* The window ends below 2^64, so the page's end does not wrap. */
		chunk_end = (addr | mask) + 1;
		if (chunk_end > end)
			chunk_end = end;
		if (emu__cache_find(ep, slot, entry, &tce)) {
			ep->st.cache_hits++;
		} else {
			int w = emu__walk(r, entry, &tce);

			ep->st.cache_misses++;
			if (w) {
				why = w;
				break;
			}
			if (tce)
				emu__cache_insert(ep, slot, entry, tce);
		}
		if (!tce) {
			why = EMU_FAULT_NO_TRANSLATION;
			break;
		}
		if (!(tce & need)) {
			why = EMU_FAULT_PERMISSION;
			bad_tce = tce;
			break;
		}
		hpa = (tce & ~mask) | (addr & mask);
		while (addr < chunk_end) {
			uint64_t n = EMU_PAGE_SIZE - (hpa & (EMU_PAGE_SIZE - 1)), ua;

			if (n > chunk_end - addr)
				n = chunk_end - addr;
			if (!emu_mem_hpa_to_ua(hpa, &ua)) {
				why = EMU_FAULT_UNPINNED;
				bad_tce = tce;
				break;
			}
			rc = add_page(x, ua, n, addr, tce, end - iova);
			if (rc)
				return rc;
			addr += n;
			hpa += n;
		}
	}
	pinned = emu__mem_dma_pages(x->pages, x->npages);
	if (pinned < x->npages)
		return fault(ep, x->at[pinned].iova, x->at[pinned].tce, acc, EMU_FAULT_UNPINNED);
	if (why >= 0)
		return fault(ep, addr, bad_tce, acc, (enum emu_fault_reason)why);
	for (i = 0; i < x->npages; i++) {
		rc = add_seg(x, i, end - iova);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Phase two, part one: every private page is still the pinned one and
 * allows the access.  Returns 0 (all safe for memcpy), 1 (safe, but some
 * protection unknown: copy those segments fault-safely; they are marked in
 * x->segs[i].slow), or -EFAULT with *iova and *tce naming the first page
 * that fails.
 */
static int check_private(struct xfer *x, bool write, uint64_t *iova, uint64_t *tce)
{
	struct emu__vma_memo memo = { 0, 0, EMU__VMA_LOCK_UNKNOWN };
	uint64_t i;
	int any = 0;

	for (i = 0; i < x->nsegs; i++) {
		struct seg *g = &x->segs[i];
		uint64_t first = g->addr >> EMU_PAGE_SHIFT, bad = g->addr;
		uint64_t n = ((g->addr + g->len - 1) >> EMU_PAGE_SHIFT) - first + 1;
		int rc;

		if (g->alias)
			continue;
		rc = emu__mem_check_pages(first << EMU_PAGE_SHIFT, n, &x->pages[g->page], write, &memo,
					  &bad);
		if (rc >= 0) {
			g->slow = rc == 1;
			any |= rc;
			continue;
		}
		*iova = bad > g->addr ? g->iova + (bad - g->addr) : g->iova;
		*tce = x->at[g->page + ((bad >> EMU_PAGE_SHIFT) - first)].tce;
		return -EFAULT;
	}
	return any;
}

/*
 * Phase two, part two: the copy.  Returns the bytes moved; fewer than the
 * transfer's length when a private page refused (unmapped or protected
 * since the check), with *iova and *tce naming where.
 */
static uint64_t copy(const struct xfer *x, uint8_t *p, enum emu_dma_access acc, uint64_t *iova,
		     uint64_t *tce)
{
	pid_t self = 0;
	uint64_t i, done = 0;

	for (i = 0; i < x->nsegs; i++) {
		const struct seg *g = &x->segs[i];
		void *mem = (void *)(uintptr_t)g->addr;
		struct iovec local = { p + done, (size_t)g->len }, remote = { mem, (size_t)g->len };
		ssize_t moved;

		if (!g->slow) {
			if (acc == EMU_DMA_WRITE)
				memcpy(mem, p + done, g->len);
			else
				memcpy(p + done, mem, g->len);
			done += g->len;
			continue;
		}
		if (!self)
			self = getpid();
		if (acc == EMU_DMA_WRITE)
			moved = process_vm_writev(self, &local, 1, &remote, 1, 0);
		else
			moved = process_vm_readv(self, &local, 1, &remote, 1, 0);
		if (moved < 0)
			moved = 0;
		done += (uint64_t)moved;
		if ((uint64_t)moved < g->len) {
			uint64_t at = g->addr + (uint64_t)moved;

			*iova = g->iova + (uint64_t)moved;
			*tce = x->at[g->page + ((at >> EMU_PAGE_SHIFT) - (g->addr >> EMU_PAGE_SHIFT))].tce;
			return done;
		}
	}
	return done;
}

/* A fault of phase two: recorded, and the transfer no longer counted. */
static int late_fault(struct emu__endpoint *ep, uint64_t iova, uint64_t tce,
		      enum emu_dma_access acc, uint64_t len)
{
	pthread_mutex_lock(&ep->lock);
	if (acc == EMU_DMA_WRITE) {
		ep->st.dma_writes--;
		ep->st.bytes_written -= len;
	} else {
		ep->st.dma_reads--;
		ep->st.bytes_read -= len;
	}
	emu__fault_record(ep, iova, tce, acc, EMU_FAULT_USER_UNMAPPED);
	pthread_mutex_unlock(&ep->lock);
	return -EFAULT;
}

static int dma(int group, uint64_t iova, void *buf, size_t len, enum emu_dma_access acc)
{
	struct emu__endpoint *ep;
	struct xfer x;
	uint64_t end, moved, bad_iova = 0, bad_tce = 0;
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
	x.pages = x.page_stack;
	x.at = x.at_stack;
	x.npages = 0;
	x.pcap = NSEG_STACK;
	pthread_rwlock_rdlock(&ep->rw);
	pthread_mutex_lock(&ep->lock);
	emu__dma_begin(ep);	/* kills wait for it from here (phb.c) */
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
	if (x.npages) {
		rc = check_private(&x, acc == EMU_DMA_WRITE, &bad_iova, &bad_tce);
		if (rc < 0) {
			late_fault(ep, bad_iova, bad_tce, acc, len);
			goto out_unlock;
		}
	}
	rc = 0;
	moved = copy(&x, buf, acc, &bad_iova, &bad_tce);
	if (acc == EMU_DMA_WRITE && ep->dirty && moved)
		emu__dirty_mark(ep->dirty, iova, iova + moved);
	if (moved < len)
		rc = late_fault(ep, bad_iova, bad_tce, acc, len);
out_unlock:
	emu__dma_end(ep);
	pthread_rwlock_unlock(&ep->rw);
	if (x.segs != x.stack)
		free(x.segs);
	if (x.pages != x.page_stack)
		free(x.pages);
	if (x.at != x.at_stack)
		free(x.at);
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
