/* SPDX-License-Identifier: MIT */
/*
 * util/range.h: the one overflow-checked "start + size" of the tree, and
 * small bit helpers.
 *
 * Units: whatever the caller's units are (bytes for ua/hpa/iova, entries for
 * TCE numbers); "end" is exclusive, "last" inclusive, as everywhere.
 */
#ifndef SPAPRTCE_UTIL_RANGE_H
#define SPAPRTCE_UTIL_RANGE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Computes *end = start + size.  Returns false (and leaves *end untouched)
 * when the sum does not fit in 64 bits.  A range that ends exactly at 2^64
 * cannot be represented with an exclusive end and is rejected too, as the
 * kernel rejects vaddr + size wrapping.
 */
static inline bool util_range_end(uint64_t start, uint64_t size, uint64_t *end)
{
	uint64_t e;

	if (__builtin_add_overflow(start, size, &e))
		return false;
	*end = e;
	return true;
}

/* True when [a, a_end) and [b, b_end) share at least one byte. */
static inline bool util_range_overlaps(uint64_t a, uint64_t a_end, uint64_t b, uint64_t b_end)
{
	return a < b_end && b < a_end;
}

/* True when x is a non-zero power of two. */
static inline bool util_is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* Index of the lowest set bit; x must not be 0. */
static inline unsigned util_ffs64(uint64_t x)
{
	return (unsigned)__builtin_ctzll(x);
}

/* log2 of a power of two. */
static inline unsigned util_ilog2(uint64_t x)
{
	return 63u - (unsigned)__builtin_clzll(x);
}

static inline bool util_is_aligned(uint64_t x, unsigned shift)
{
	return !(x & ((1ull << shift) - 1));
}

#endif
