/* SPDX-License-Identifier: MIT */
/*
 * util/simd_x86.h: the AVX2 building blocks of util/simd.c, for the few
 * other loops of the fast path that must store shared entries themselves
 * (emu/mem_hpa.c computes hardware TCEs straight into a table).  See
 * util/simd.h for private and shared arrays.
 *
 * Concepts
 *   UTIL_SIMD_X86  Defined where these helpers exist: x86-64, not under
 *                  ThreadSanitizer.  Callers compile their AVX2 loops only
 *                  then, and run them only when util_simd_avx2() says so.
 *   AVX2           The target attribute of every function using them.
 *   store2x2       The only way to store shared entries here: two aligned
 *                  16-byte stores in assembly, each single-copy atomic.
 */
#ifndef SPAPRTCE_UTIL_SIMD_X86_H
#define SPAPRTCE_UTIL_SIMD_X86_H

#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define UTIL_SIMD_X86 1

#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AVX2 __attribute__((target("avx2")))

typedef uint64_t v4 __attribute__((vector_size(32), aligned(8), may_alias));
typedef uint64_t v2 __attribute__((vector_size(16), aligned(16), may_alias));

static inline AVX2 v4 load4(const uint64_t *p)
{
	return *(const v4 *)p;
}

/*
 * Each 64-bit entry's bytes reversed: one vpshufb (every byte stays in its
 * 128-bit lane).  The intrinsic rather than GCC's __builtin_shuffle, which
 * clang lacks (the fuzz build is clang's); both compilers emit the same
 * single instruction with the mask as a constant.
 */
static inline AVX2 v4 bswap4(v4 x)
{
	const __m256i m = _mm256_setr_epi8(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8,
					   7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);

	return (v4)_mm256_shuffle_epi8((__m256i)x, m);
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
	/* In assembly: one instruction per half (the high one extracted straight to memory). */
	__asm__ volatile("vmovdqa %x2, %0\n\tvextracti128 $1, %t2, %1"
			 : "=m"(*(v2 *)p), "=m"(*(v2 *)(p + 2))
			 : "x"(x));
}

/* Entries before @dst's first 16-byte boundary (0 or 1), at most @n. */
static inline size_t head(const uint64_t *dst, size_t n)
{
	size_t h = ((uintptr_t)dst & 15) ? 1 : 0;

	return h < n ? h : n;
}

/* The end of the whole groups of four after @k, of @n. */
static inline size_t end4(size_t k, size_t n)
{
	return k + ((n - k) & ~(size_t)3);
}

#endif
#endif
