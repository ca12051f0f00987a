/* SPDX-License-Identifier: MIT */
/*
 * The loops of util/simd.h: a portable version of each and an AVX2 one.
 *
 * Why by hand: GCC at -O2 does not vectorize loops of unknown length, nor
 * any loop with atomic accesses, and the hypercall path spends its time in
 * exactly such loops (H_PUT_TCE_INDIRECT: up to 512 entries per call, each read,
 * checked, translated and stored three times).  The AVX2 versions use GCC's
 * vector extensions in functions compiled for AVX2 (target attribute), so
 * the library itself still builds for any x86-64; which version runs is
 * decided once, at the first call.
 *
 * Shared stores (see the header) go through store2x2(): two 16-byte aligned
 * vector stores written in assembly, which the compiler can neither split
 * nor merge into a wider one, so each entry is written by one store the CPU
 * performs atomically.
 */
#include <endian.h>
#include <stdlib.h>

#include "util/simd.h"
#include "util/simd_x86.h"

/* ------------------------------------------------------ portable loops */

static size_t be64_seq_len_c(const uint64_t *a_be, uint64_t v, uint64_t step, size_t max)
{
	size_t k = 0;

	/* @a_be may be a guest's list, rewritten meanwhile */
	while (k < max && be64toh(__atomic_load_n(&a_be[k], __ATOMIC_RELAXED)) == v + k * step)
		k++;
	return k;
}

static uint64_t or_all_c(const uint64_t *a, size_t n)
{
	uint64_t acc = 0;

	for (size_t k = 0; k < n; k++)
		acc |= a[k];
	return acc;
}

static void store_xfer_c(uint64_t *dst, const uint64_t *src, uint64_t *old, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		old[k] = __atomic_load_n(&dst[k], __ATOMIC_RELAXED);
		util_store_shared(&dst[k], src[k]);
	}
}

static void store_copy_c(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t k = 0; k < n; k++)
		util_store_shared(&dst[k], src[k]);
}

static void store_be64_seq_xfer_c(uint64_t *dst, uint64_t v, uint64_t step, uint64_t *old,
				  size_t n)
{
	for (size_t k = 0; k < n; k++) {
		old[k] = __atomic_load_n(&dst[k], __ATOMIC_RELAXED);
		util_store_shared(&dst[k], htobe64(v + k * step));
	}
}

static void store_be64_seq_c(uint64_t *dst, uint64_t v, uint64_t step, size_t n)
{
	for (size_t k = 0; k < n; k++)
		util_store_shared(&dst[k], htobe64(v + k * step));
}

static size_t store_be64_seq_over_c(uint64_t *dst, uint64_t v, uint64_t step, uint64_t old,
				    uint64_t old_step, size_t n)
{
	size_t k;

	for (k = 0; k < n && __atomic_load_n(&dst[k], __ATOMIC_RELAXED) == htobe64(old + k * old_step);
	     k++)
		util_store_shared(&dst[k], htobe64(v + k * step));
	return k;
}

static void store_seq_c(uint64_t *dst, uint64_t v, uint64_t step, size_t n)
{
	for (size_t k = 0; k < n; k++)
		util_store_shared(&dst[k], v + k * step);
}

static void store_fill_c(uint64_t *dst, uint64_t v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		util_store_shared(&dst[k], v);
}

/* ---------------------------------------------------------- AVX2 loops */

#ifdef UTIL_SIMD_X86
static AVX2 size_t be64_seq_len_avx2(const uint64_t *a_be, uint64_t v, uint64_t step, size_t max)
{
	v4 e = seq4(v, step), s4 = splat4(4 * step), s8 = s4 + s4, s12 = s8 + s4, s16 = s8 + s8;
	size_t k = 0;

	/* Sixteen entries per test: a list of 512 is one long progression, usually. */
	for (; k + 16 <= max; k += 16, e += s16)
		if (any4((bswap4(load4(a_be + k)) ^ e) | (bswap4(load4(a_be + k + 4)) ^ (e + s4)) |
			 (bswap4(load4(a_be + k + 8)) ^ (e + s8)) |
			 (bswap4(load4(a_be + k + 12)) ^ (e + s12))))
			break;
	for (; k + 4 <= max; k += 4, e += s4)
		if (any4(bswap4(load4(a_be + k)) ^ e))
			break;
	return k + be64_seq_len_c(a_be + k, v + k * step, step, max - k);
}

static AVX2 uint64_t or_all_avx2(const uint64_t *a, size_t n)
{
	v4 acc = splat4(0);
	size_t k = 0, m = end4(0, n);

	for (; k < m; k += 4)
		acc |= load4(a + k);
	return acc[0] | acc[1] | acc[2] | acc[3] | or_all_c(a + k, n - k);
}

static AVX2 void store_xfer_avx2(uint64_t *dst, const uint64_t *src, uint64_t *old, size_t n)
{
	size_t k = head(dst, n), m = end4(k, n);

	store_xfer_c(dst, src, old, k);
#pragma GCC unroll 2
	for (; k < m; k += 4) {
		*(v4 *)(old + k) = load4(dst + k);
		store2x2(dst + k, load4(src + k));
	}
	store_xfer_c(dst + k, src + k, old + k, n - k);
}

static AVX2 void store_copy_avx2(uint64_t *dst, const uint64_t *src, size_t n)
{
	size_t k = head(dst, n), m = end4(k, n);

	store_copy_c(dst, src, k);
#pragma GCC unroll 2
	for (; k < m; k += 4)
		store2x2(dst + k, load4(src + k));
	store_copy_c(dst + k, src + k, n - k);
}

static AVX2 void store_be64_seq_xfer_avx2(uint64_t *dst, uint64_t v, uint64_t step, uint64_t *old,
					  size_t n)
{
	size_t k = head(dst, n), m = end4(k, n);
	v4 e = seq4(v + k * step, step), s4 = splat4(4 * step);

	store_be64_seq_xfer_c(dst, v, step, old, k);
#pragma GCC unroll 2
	for (; k < m; k += 4, e += s4) {
		*(v4 *)(old + k) = load4(dst + k);
		store2x2(dst + k, bswap4(e));
	}
	store_be64_seq_xfer_c(dst + k, v + k * step, step, old + k, n - k);
}

static AVX2 void store_be64_seq_avx2(uint64_t *dst, uint64_t v, uint64_t step, size_t n)
{
	size_t k = head(dst, n), m = end4(k, n);
	v4 e = seq4(v + k * step, step), s4 = splat4(4 * step);

	store_be64_seq_c(dst, v, step, k);
#pragma GCC unroll 2
	for (; k < m; k += 4, e += s4)
		store2x2(dst + k, bswap4(e));
	store_be64_seq_c(dst + k, v + k * step, step, n - k);
}

/*
 * Eight entries per test: both groups' old values are checked before
 * either is stored.  Over empty entries (the old progression 0, 0) the old
 * values need no byte swap.  Whatever the vector loop leaves (a group that
 * differs, the tail) the portable loop finishes entry by entry, stopping
 * exactly at the first difference.
 */
static AVX2 size_t store_be64_seq_over_avx2(uint64_t *dst, uint64_t v, uint64_t step,
					    uint64_t old, uint64_t old_step, size_t n)
{
	size_t k = head(dst, n);
	v4 e, s4 = splat4(4 * step), s8 = s4 + s4, o, os4 = splat4(4 * old_step), os8 = os4 + os4;

	if (store_be64_seq_over_c(dst, v, step, old, old_step, k) < k)
		return 0;	/* k is 0 or 1: the first entry differed */
	e = seq4(v + k * step, step);
	o = seq4(old + k * old_step, old_step);
	if (!old && !old_step) {
		for (; k + 8 <= n; k += 8, e += s8) {
			if (any4(load4(dst + k) | load4(dst + k + 4)))
				break;
			store2x2(dst + k, bswap4(e));
			store2x2(dst + k + 4, bswap4(e + s4));
		}
	} else {
		for (; k + 8 <= n; k += 8, e += s8, o += os8) {
			if (any4((bswap4(load4(dst + k)) ^ o) | (bswap4(load4(dst + k + 4)) ^ (o + os4))))
				break;
			store2x2(dst + k, bswap4(e));
			store2x2(dst + k + 4, bswap4(e + s4));
		}
	}
	return k + store_be64_seq_over_c(dst + k, v + k * step, step, old + k * old_step, old_step,
					 n - k);
}

static AVX2 void store_seq_avx2(uint64_t *dst, uint64_t v, uint64_t step, size_t n)
{
	size_t k = head(dst, n), m = end4(k, n);
	v4 e = seq4(v + k * step, step), s4 = splat4(4 * step);

	store_seq_c(dst, v, step, k);
#pragma GCC unroll 2
	for (; k < m; k += 4, e += s4)
		store2x2(dst + k, e);
	store_seq_c(dst + k, v + k * step, step, n - k);
}

static AVX2 void store_fill_avx2(uint64_t *dst, uint64_t v, size_t n)
{
	size_t k = head(dst, n), m = end4(k, n);
	v4 x = splat4(v);

	store_fill_c(dst, v, k);
#pragma GCC unroll 2
	for (; k < m; k += 4)
		store2x2(dst + k, x);
	store_fill_c(dst + k, v, n - k);
}
#endif

/* ------------------------------------------------------------ dispatch */

/* 0: not decided yet, 1: portable, 2: AVX2.  Deciding twice gives the same answer. */
static int simd_mode;

bool util_simd_avx2(void)
{
	int m = __atomic_load_n(&simd_mode, __ATOMIC_RELAXED);

	if (!m) {
		m = 1;
#ifdef UTIL_SIMD_X86
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx2") && !getenv("SPAPRTCE_NO_SIMD"))
			m = 2;
#endif
		__atomic_store_n(&simd_mode, m, __ATOMIC_RELAXED);
	}
	return m == 2;
}

bool util_simd_select(bool avx2)
{
	int m = 1;

#ifdef UTIL_SIMD_X86
	__builtin_cpu_init();
	if (avx2 && __builtin_cpu_supports("avx2"))
		m = 2;
#else
	(void)avx2;
#endif
	__atomic_store_n(&simd_mode, m, __ATOMIC_RELAXED);
	return m == 2;
}

#ifdef UTIL_SIMD_X86
#define DISPATCH(avx2_call, c_call) \
	do {                        \
		if (util_simd_avx2()) \
			avx2_call;  \
		else                \
			c_call;     \
	} while (0)
#else
#define DISPATCH(avx2_call, c_call) c_call
#endif

size_t util_be64_seq_len(const uint64_t *a_be, uint64_t v, uint64_t step, size_t max)
{
#ifdef UTIL_SIMD_X86
	if (util_simd_avx2())
		return be64_seq_len_avx2(a_be, v, step, max);
#endif
	return be64_seq_len_c(a_be, v, step, max);
}

uint64_t util_or_all(const uint64_t *a, size_t n)
{
#ifdef UTIL_SIMD_X86
	if (util_simd_avx2())
		return or_all_avx2(a, n);
#endif
	return or_all_c(a, n);
}

void util_store_xfer(uint64_t *dst, const uint64_t *src, uint64_t *old, size_t n)
{
	DISPATCH(store_xfer_avx2(dst, src, old, n), store_xfer_c(dst, src, old, n));
	util_store_release();
}

void util_store_copy(uint64_t *dst, const uint64_t *src, size_t n)
{
	DISPATCH(store_copy_avx2(dst, src, n), store_copy_c(dst, src, n));
	util_store_release();
}

void util_store_fill(uint64_t *dst, uint64_t v, size_t n)
{
	DISPATCH(store_fill_avx2(dst, v, n), store_fill_c(dst, v, n));
	util_store_release();
}

void util_store_be64_seq_xfer(uint64_t *dst, uint64_t v, uint64_t step, uint64_t *old, size_t n)
{
	DISPATCH(store_be64_seq_xfer_avx2(dst, v, step, old, n),
		 store_be64_seq_xfer_c(dst, v, step, old, n));
	util_store_release();
}

void util_store_be64_seq(uint64_t *dst, uint64_t v, uint64_t step, size_t n)
{
	DISPATCH(store_be64_seq_avx2(dst, v, step, n), store_be64_seq_c(dst, v, step, n));
	util_store_release();
}

size_t util_store_be64_seq_over(uint64_t *dst, uint64_t v, uint64_t step, uint64_t old,
				uint64_t old_step, size_t n)
{
	size_t k;

	DISPATCH(k = store_be64_seq_over_avx2(dst, v, step, old, old_step, n),
		 k = store_be64_seq_over_c(dst, v, step, old, old_step, n));
	util_store_release();
	return k;
}

void util_store_seq(uint64_t *dst, uint64_t v, uint64_t step, size_t n)
{
	DISPATCH(store_seq_avx2(dst, v, step, n), store_seq_c(dst, v, step, n));
	util_store_release();
}
