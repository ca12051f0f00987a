/* SPDX-License-Identifier: MIT */
/*
 * The dirty log of each endpoint, with the semantics of VFIO's device DMA
 * logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_START / REPORT / STOP).
 *
 * One bitmap per tracked range, one bit per tracking page, all allocated
 * at start, so memory is proportional to the tracked IOVA space and a DMA
 * never allocates.  DMAs mark bits with atomic ORs under ep->rw held for
 * reading (several DMAs mark at once); start, report and stop hold ep->rw
 * for writing, so a report sees no DMA half-way.
 *
 * Why a larger tracking page may be chosen: VFIO treats the page size given
 * to START as a hint and returns the one the device picked; we double it
 * until the bitmaps fit in MAX_BITS, so a huge range cannot make us
 * allocate without bound.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/phb_priv.h"
#include "util/fail.h"
#include "util/range.h"

#define MAX_RANGES 4096u
#define MAX_BITS (1ull << 30)

struct dirty_range {
	uint64_t start, end;	/* tracked bytes [start, end) */
	uint64_t first_page;	/* start >> shift */
	uint64_t npages;	/* tracking pages covering the range */
	uint64_t *bits;
};

struct emu__dirty_log {
	unsigned shift;		/* tracking page shift */
	unsigned n;
	struct dirty_range r[];	/* sorted by start */
};

static uint64_t pages_of(uint64_t start, uint64_t end, unsigned shift)
{
	return ((end - 1) >> shift) - (start >> shift) + 1;
}

static uint64_t words_of(uint64_t bits)
{
	return bits / 64 + !!(bits % 64);
}

/* Sets bits [first, last] of @map; @atomic for concurrent markers. */
static void set_bits(uint64_t *map, uint64_t first, uint64_t last, bool atomic)
{
	uint64_t w, wl = last / 64;

	for (w = first / 64; w <= wl; w++) {
		uint64_t m = ~0ull;

		if (w == first / 64)
			m &= ~0ull << (first % 64);
		if (w == wl)
			m &= ~0ull >> (63 - last % 64);
		if (atomic)
			__atomic_fetch_or(&map[w], m, __ATOMIC_RELAXED);
		else
			map[w] |= m;
	}
}

static int cmp_range(const void *a, const void *b)
{
	const struct emu_dirty_range *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

void emu__dirty_free(struct emu__dirty_log *d)
{
	unsigned i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++)
		free(d->r[i].bits);
	free(d);
}

uint64_t emu__dirty_page_size(const struct emu__dirty_log *d)
{
	return 1ull << d->shift;
}

/* Validates the ranges (sorted copy in @s).  0, -EINVAL, -EOVERFLOW. */
static int ranges_valid(const struct emu_dirty_range *s, unsigned n, uint64_t page_size)
{
	uint64_t end, prev_end = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (!s[i].length || s[i].iova & (page_size - 1) || s[i].length & (page_size - 1))
			return -EINVAL;
		if (!util_range_end(s[i].iova, s[i].length, &end))
			return -EOVERFLOW;
		if (i && s[i].iova < prev_end)
			return -EINVAL;
		prev_end = end;
	}
	return 0;
}

int emu_dirty_log_start(int group, const struct emu_dirty_range *ranges, unsigned nranges,
			uint64_t *page_size)
{
	struct emu_dirty_range *sorted = NULL;
	struct emu__dirty_log *d = NULL;
	struct emu__endpoint *ep;
	uint64_t total;
	unsigned i, shift;
	int rc = emu__endpoint(group, &ep);

	if (rc)
		return rc;
	if (!nranges || !util_is_pow2(*page_size))
		return -EINVAL;
	if (nranges > MAX_RANGES)
		return -E2BIG;
	/* A private sorted copy: the caller's array is read once. */
	if (util_should_fail("emu_dirty_alloc"))
		return -ENOMEM;
	sorted = malloc(nranges * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, ranges, nranges * sizeof(*sorted));
	qsort(sorted, nranges, sizeof(*sorted), cmp_range);
	rc = ranges_valid(sorted, nranges, *page_size);
	if (rc)
		goto out_free_sorted;
	shift = util_ilog2(*page_size);
	for (;;) {
		total = 0;
		for (i = 0; i < nranges; i++)
			total += pages_of(sorted[i].iova, sorted[i].iova + sorted[i].length, shift);
		if (total <= MAX_BITS)
			break;
		shift++;
	}
	rc = -ENOMEM;
	if (util_should_fail("emu_dirty_alloc"))
		goto out_free_sorted;
	d = calloc(1, sizeof(*d) + nranges * sizeof(d->r[0]));
	if (!d)
		goto out_free_sorted;
	d->shift = shift;
	for (i = 0; i < nranges; i++) {
		struct dirty_range *r = &d->r[i];

		r->start = sorted[i].iova;
		r->end = sorted[i].iova + sorted[i].length;
		r->first_page = r->start >> shift;
		r->npages = pages_of(r->start, r->end, shift);
		if (util_should_fail("emu_dirty_bitmap"))
			goto err_free_log;
		r->bits = calloc(words_of(r->npages), sizeof(uint64_t));
		if (!r->bits)
			goto err_free_log;
		d->n++;
	}
	pthread_rwlock_wrlock(&ep->rw);
	rc = -EBUSY;
	if (ep->dirty)
		goto out_unlock;
	ep->dirty = d;
	d = NULL;
	*page_size = 1ull << shift;
	rc = 0;
out_unlock:
	pthread_rwlock_unlock(&ep->rw);
err_free_log:
	emu__dirty_free(d);
out_free_sorted:
	free(sorted);
	return rc;
}

void emu__dirty_mark(struct emu__dirty_log *d, uint64_t iova, uint64_t end)
{
	unsigned i;

	for (i = 0; i < d->n; i++) {
		struct dirty_range *r = &d->r[i];
		uint64_t a, b;

		if (!util_range_overlaps(iova, end, r->start, r->end))
			continue;
		a = iova > r->start ? iova : r->start;
		b = end < r->end ? end : r->end;
		set_bits(r->bits, (a >> d->shift) - r->first_page, ((b - 1) >> d->shift) - r->first_page,
			 true);
	}
}

/* True when the sorted ranges of @d cover [iova, end) without a gap. */
static bool covered(const struct emu__dirty_log *d, uint64_t iova, uint64_t end)
{
	uint64_t cur = iova;
	unsigned i;

	for (i = 0; i < d->n && cur < end; i++) {
		if (d->r[i].end <= cur)
			continue;
		if (d->r[i].start > cur)
			return false;
		cur = d->r[i].end;
	}
	return cur >= end;
}

int emu_dirty_log_report(int group, uint64_t iova, uint64_t length, uint64_t page_size,
			 uint64_t *bitmap, size_t bitmap_bytes)
{
	struct emu__endpoint *ep;
	struct emu__dirty_log *d;
	uint64_t end, nbits;
	unsigned i, rshift;
	int rc = emu__endpoint(group, &ep);

	if (rc)
		return rc;
	if (!length || !util_is_pow2(page_size))
		return -EINVAL;
	if (!util_range_end(iova, length, &end))
		return -EOVERFLOW;
	rshift = util_ilog2(page_size);
	nbits = ((length - 1) >> rshift) + 1;
	if (words_of(nbits) > bitmap_bytes / sizeof(uint64_t))
		return -EINVAL;
	pthread_rwlock_wrlock(&ep->rw);
	d = ep->dirty;
	rc = -ENOENT;
	if (!d)
		goto out_unlock;
	rc = -EINVAL;
	if (!covered(d, iova, end))
		goto out_unlock;
	for (i = 0; i < d->n; i++) {
		struct dirty_range *r = &d->r[i];
		uint64_t a, b, p, plast;

		if (!util_range_overlaps(iova, end, r->start, r->end))
			continue;
		a = iova > r->start ? iova : r->start;
		b = end < r->end ? end : r->end;
		p = (a >> d->shift) - r->first_page;
		plast = ((b - 1) >> d->shift) - r->first_page;
		while (p <= plast) {
			uint64_t w = r->bits[p / 64] >> (p % 64);
			uint64_t lo, hi, page;

			if (!w) {
				p = (p / 64 + 1) * 64;	/* rest of the word is clean */
				continue;
			}
			p += util_ffs64(w);
			if (p > plast)
				break;
			r->bits[p / 64] &= ~(1ull << (p % 64));
			page = (r->first_page + p) << d->shift;
			lo = page > iova ? page : iova;
			hi = page | ((1ull << d->shift) - 1);	/* last byte of the page */
			if (hi > end - 1)
				hi = end - 1;
			set_bits(bitmap, (lo - iova) >> rshift, (hi - iova) >> rshift, false);
			p++;
		}
	}
	rc = 0;
out_unlock:
	pthread_rwlock_unlock(&ep->rw);
	return rc;
}

int emu_dirty_log_stop(int group)
{
	struct emu__endpoint *ep;
	struct emu__dirty_log *d;
	int rc = emu__endpoint(group, &ep);

	if (rc)
		return rc;
	pthread_rwlock_wrlock(&ep->rw);
	d = ep->dirty;
	ep->dirty = NULL;
	pthread_rwlock_unlock(&ep->rw);
	emu__dirty_free(d);
	return 0;
}

int emu__dirty_check(const struct emu__dirty_log *d, int group)
{
	unsigned i;

	for (i = 0; i < d->n; i++) {
		const struct dirty_range *r = &d->r[i];

		if (r->start >= r->end || (i && r->start < d->r[i - 1].end) ||
		    r->first_page != r->start >> d->shift ||
		    r->npages != pages_of(r->start, r->end, d->shift) || !r->bits ||
		    (r->npages % 64 && r->bits[r->npages / 64] >> (r->npages % 64))) {
			fprintf(stderr, "emu_machine_check: group %d: dirty range %u inconsistent\n",
				group, i);
			return -EUCLEAN;
		}
	}
	return 0;
}
