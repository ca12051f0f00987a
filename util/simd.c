/* SPDX-License-Identifier: MIT */
/*
 * The loops of util/simd.h: a portable version of each and an AVX2 one.
 *
 * Why by hand: GCC at -O2 does not vectorize loops of unknown length, nor
 * any loop with atomic accesses, and the hypercall path spends its time in
 * exactly such loops (spec 7.3: up to 512 entries per call, each read,
 * checked, translated and stored three times).  The AVX2 versions use GCC's
 * vector extensions in functions compiled for AVX2 (target attribute), so
 * the library itself still builds for any x86-64; which version runs is
 * decided once, at the first call.
 *
 * Shared stores (see the header) go through store2(): a volatile, 16-byte
 * aligned vector store, which the compiler can neither split nor merge into
 * a wider one, so each entry is written by one store the CPU performs
 * atomically.
 */
#include <endian.h>
#include <stdlib.h>

#include "util/simd.h"

#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define UTIL_SIMD_X86 1
#include <immintrin.h>
#endif

/*
 * Shared entries are stored relaxed, and each call ends with a release
 * fence.  ThreadSanitizer does not model fences: there every store is a
 * release store instead, which orders at least as much.
 */
#ifdef __SANITIZE_THREAD__
#define SHARED_ORDER __ATOMIC_RELEASE
#define release_fence() ((void)0)
#else
#define SHARED_ORDER __ATOMIC_RELAXED
#define release_fence() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

static inline void store_relaxed(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, SHARED_ORDER);
}

/* ------------------------------------------------------ portable loops */

static void be64_copy_c(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t k = 0; k < n; k++)	/* @src may be a guest's list, rewritten meanwhile */
		dst[k] = be64toh(__atomic_load_n(&src[k], __ATOMIC_RELAXED));
}

static size_t seq_len_c(const uint64_t *a, uint64_t v, uint64_t step, size_t max)
{
	size_t k = 0;

	while (k < max && a[k] == v + k * step)
		k++;
	return k;
}

static size_t be64_seq_len_c(const uint64_t *a_be, uint64_t v, uint64_t step, size_t max)
{
	size_t k = 0;

	while (k < max && be64toh(a_be[k]) == v + k * step)
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

static void be64_or_c(uint64_t *a, uint64_t bits, size_t n)
{
	for (size_t k = 0; k < n; k++)
		a[k] = htobe64(a[k] | bits);
}

static void be64_seq_c(uint64_t *dst, uint64_t v, uint64_t step, size_t n)
{
	for (size_t k = 0; k < n; k++)
		dst[k] = htobe64(v + k * step);
}

static void store_xfer_c(uint64_t *dst, const uint64_t *src, uint64_t *old, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		old[k] = __atomic_load_n(&dst[k], __ATOMIC_RELAXED);
		store_relaxed(&dst[k], src[k]);
	}
}

static void store_copy_c(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t k = 0; k < n; k++)
		store_relaxed(&dst[k], src[k]);
}

static void store_fill_c(uint64_t *dst, uint64_t v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		store_relaxed(&dst[k], v);
}

/* ---------------------------------------------------------- AVX2 loops */

#ifdef UTIL_SIMD_X86
#define AVX2 __attribute__((target("avx2")))

typedef uint64_t v4 __attribute__((vector_size(32), aligned(8), may_alias));
typedef uint64_t v2 __attribute__((vector_size(16), aligned(16), may_alias));
typedef uint8_t b32 __attribute__((vector_size(32)));

static inline AVX2 v4 load4(const uint64_t *p)
{
	return *(const v4 *)p;
}

static inline AVX2 v4 bswap4(v4 x)
{
	const b32 m = { 7,  6,  5,  4,  3,  2,  1,  0,  15, 14, 13, 12, 11, 10, 9,  8,
			23, 22, 21, 20, 19, 18, 17, 16, 31, 30, 29, 28, 27, 26, 25, 24 };

	return (v4)__builtin_shuffle((b32)x, m);
}

static inline AVX2 bool any4(v4 x)
{
	return !_mm256_testz_si256((__m256i)x, (__m256i)x);
}

static inline AVX2 v4 seq4(uint64_t v, uint64_t step)
{
	return (v4){ v, v + step, v + 2 * step, v + 3 * step };
}

static inline AVX2 v4 splat4(uint64_t v)
{
	return (v4){ v, v, v, v };
}

/* Four shared entries at @p (16-byte aligned): two single-copy-atomic stores. */
static inline AVX2 void store2x2(uint64_t *p, v4 x)
{
	*(volatile v2 *)p = (v2){ x[0], x[1] };
	*(volatile v2 *)(p + 2) = (v2){ x[2], x[3] };
}

/* Entries before @dst's first 16-byte boundary (0 or 1), at most @n. */
static inline size_t head(const uint64_t *dst, size_t n)
{
	size_t h = ((uintptr_t)dst & 15) ? 1 : 0;

	return h < n ? h : n;
}

static AVX2 void be64_copy_avx2(uint64_t *dst, const uint64_t *src, size_t n)
{
	size_t k = 0;

	for (; k + 4 <= n; k += 4)
		*(v4 *)(dst + k) = bswap4(load4(src + k));
	be64_copy_c(dst + k, src + k, n - k);
}

static AVX2 size_t seq_len_avx2(const uint64_t *a, uint64_t v, uint64_t step, size_t max)
{
	v4 e = seq4(v, step), s4 = splat4(4 * step);
	size_t k = 0;

	for (; k + 8 <= max; k += 8, e += s4 + s4)
		if (any4((load4(a + k) ^ e) | (load4(a + k + 4) ^ (e + s4))))
			break;
	return k + seq_len_c(a + k, v + k * step, step, max - k);
}

static AVX2 size_t be64_seq_len_avx2(const uint64_t *a_be, uint64_t v, uint64_t step, size_t max)
{
	v4 e = seq4(v, step), s4 = splat4(4 * step);
	size_t k = 0;

	for (; k + 8 <= max; k += 8, e += s4 + s4)
		if (any4((bswap4(load4(a_be + k)) ^ e) | (bswap4(load4(a_be + k + 4)) ^ (e + s4))))
			break;
	return k + be64_seq_len_c(a_be + k, v + k * step, step, max - k);
}

static AVX2 uint64_t or_all_avx2(const uint64_t *a, size_t n)
{
	v4 acc = splat4(0);
	size_t k = 0;

	for (; k + 4 <= n; k += 4)
		acc |= load4(a + k);
	return acc[0] | acc[1] | acc[2] | acc[3] | or_all_c(a + k, n - k);
}

static AVX2 void be64_or_avx2(uint64_t *a, uint64_t bits, size_t n)
{
	v4 b = splat4(bits);
	size_t k = 0;

	for (; k + 4 <= n; k += 4)
		*(v4 *)(a + k) = bswap4(load4(a + k) | b);
	be64_or_c(a + k, bits, n - k);
}

static AVX2 void be64_seq_avx2(uint64_t *dst, uint64_t v, uint64_t step, size_t n)
{
	v4 e = seq4(v, step), s4 = splat4(4 * step);
	size_t k = 0;

	for (; k + 4 <= n; k += 4, e += s4)
		*(v4 *)(dst + k) = bswap4(e);
	be64_seq_c(dst + k, v + k * step, step, n - k);
}

static AVX2 void store_xfer_avx2(uint64_t *dst, const uint64_t *src, uint64_t *old, size_t n)
{
	size_t k = head(dst, n);

	store_xfer_c(dst, src, old, k);
	for (; k + 4 <= n; k += 4) {
		*(v4 *)(old + k) = load4(dst + k);
		store2x2(dst + k, load4(src + k));
	}
	store_xfer_c(dst + k, src + k, old + k, n - k);
}

static AVX2 void store_copy_avx2(uint64_t *dst, const uint64_t *src, size_t n)
{
	size_t k = head(dst, n);

	store_copy_c(dst, src, k);
	for (; k + 4 <= n; k += 4)
		store2x2(dst + k, load4(src + k));
	store_copy_c(dst + k, src + k, n - k);
}

static AVX2 void store_fill_avx2(uint64_t *dst, uint64_t v, size_t n)
{
	size_t k = head(dst, n);
	v4 x = splat4(v);

	store_fill_c(dst, v, k);
	for (; k + 4 <= n; k += 4)
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

void util_be64_copy(uint64_t *dst, const uint64_t *src, size_t n)
{
	DISPATCH(be64_copy_avx2(dst, src, n), be64_copy_c(dst, src, n));
}

size_t util_seq_len(const uint64_t *a, uint64_t v, uint64_t step, size_t max)
{
#ifdef UTIL_SIMD_X86
	if (util_simd_avx2())
		return seq_len_avx2(a, v, step, max);
#endif
	return seq_len_c(a, v, step, max);
}

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

void util_be64_or(uint64_t *a, uint64_t bits, size_t n)
{
	DISPATCH(be64_or_avx2(a, bits, n), be64_or_c(a, bits, n));
}

void util_be64_seq(uint64_t *dst, uint64_t v, uint64_t step, size_t n)
{
	DISPATCH(be64_seq_avx2(dst, v, step, n), be64_seq_c(dst, v, step, n));
}

void util_store_xfer(uint64_t *dst, const uint64_t *src, uint64_t *old, size_t n)
{
	DISPATCH(store_xfer_avx2(dst, src, old, n), store_xfer_c(dst, src, old, n));
	release_fence();
}

void util_store_copy(uint64_t *dst, const uint64_t *src, size_t n)
{
	DISPATCH(store_copy_avx2(dst, src, n), store_copy_c(dst, src, n));
	release_fence();
}

void util_store_fill(uint64_t *dst, uint64_t v, size_t n)
{
	DISPATCH(store_fill_avx2(dst, v, n), store_fill_c(dst, v, n));
	release_fence();
}
