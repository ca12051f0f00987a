/* SPDX-License-Identifier: MIT */
/*
 * util/simd.h: the loops of the hypercall fast path, on arrays of 64-bit
 * entries, four at a time where the CPU has AVX2.
 *
 * Concepts
 *   private array  Memory only the calling thread touches (a copied TCE
 *                  list, an hpa buffer).  Read and written with any width.
 *   shared array   Memory another thread may read meanwhile: TCE table
 *                  entries the emulated host bridge walks, guest-visible
 *                  TCEs H_GET_TCE reads.  Every entry must change in one
 *                  store, never torn.  The AVX2 loops store shared entries
 *                  16 bytes at a time with aligned VEX.128 stores, which the
 *                  Intel SDM (vol. 3, 9.1.1) and the AMD APM guarantee
 *                  atomic on every CPU with AVX; unaligned heads and tails go
 *                  entry by entry.  The portable loops store entry by entry
 *                  with relaxed atomics.  A caller that needs an order
 *                  between two shared arrays stores the first fully before
 *                  calling for the second: each call ends with a release
 *                  fence.
 *   big-endian     TCE tables hold big-endian entries; "be"
 *                  below means the stored form.
 *
 * Which loops run: AVX2 when the CPU has it, the portable ones otherwise,
 * and always the portable ones under ThreadSanitizer (whose model needs
 * atomics for shared entries) or when the environment variable
 * SPAPRTCE_NO_SIMD is set at start-up (tests run both).  Results are the
 * same either way.
 */
#ifndef SPAPRTCE_UTIL_SIMD_H
#define SPAPRTCE_UTIL_SIMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when the AVX2 loops run. */
bool util_simd_avx2(void);

/*
 * For tests and benchmarks: run the AVX2 loops (when the CPU has AVX2 and
 * this is not a ThreadSanitizer build) or the portable ones from now on.
 * Not to be called while another thread runs these loops.  Returns
 * util_simd_avx2().
 */
bool util_simd_select(bool avx2);

/*
 * How many leading be64toh(@a_be[k]) (of @max) equal @v + k * @step (modulo
 * 2^64).  @a_be may be shared (a guest's list): each entry decides on one
 * read of it.
 */
size_t util_be64_seq_len(const uint64_t *a_be, uint64_t v, uint64_t step, size_t max);

/* The bitwise or of @a[0, n) (0 for n = 0). */
uint64_t util_or_all(const uint64_t *a, size_t n);

/* Private @old[k] = shared @dst[k], then @dst[k] = @src[k]; release. */
void util_store_xfer(uint64_t *dst, const uint64_t *src, uint64_t *old, size_t n);

/* Shared @dst[k] = @src[k]; release. */
void util_store_copy(uint64_t *dst, const uint64_t *src, size_t n);

/* Private @old[k] = shared @dst[k], then @dst[k] = htobe64(@v + k * @step); release. */
void util_store_be64_seq_xfer(uint64_t *dst, uint64_t v, uint64_t step, uint64_t *old, size_t n);

/* Shared @dst[k] = htobe64(@v + k * @step); release. */
void util_store_be64_seq(uint64_t *dst, uint64_t v, uint64_t step, size_t n);

/*
 * Shared @dst[k] = htobe64(@v + k * @step) for the leading entries whose old
 * value is htobe64(@old + k * @old_step) (with both 0: whose old value is
 * 0), each old entry read and checked before it is overwritten; the first
 * that differs stops.  Returns how many were stored, from the first (at
 * most @n; @dst[k] for k past that is untouched).  Release.  The store of a
 * run of pages over a run of pages (or over empty entries) that also says
 * what it replaced, in one pass.
 */
size_t util_store_be64_seq_over(uint64_t *dst, uint64_t v, uint64_t step, uint64_t old,
				uint64_t old_step, size_t n);

/* Shared @dst[k] = @v + k * @step; release. */
void util_store_seq(uint64_t *dst, uint64_t v, uint64_t step, size_t n);

/* Shared @dst[k] = @v; release. */
void util_store_fill(uint64_t *dst, uint64_t v, size_t n);

/*
 * For loops elsewhere that store shared entries one at a time (a portable
 * loop next to an AVX2 one made of util/simd_x86.h): util_store_shared()
 * per entry, util_store_release() after the last, as the calls above do.
 * Entries are stored relaxed and followed by a release fence;
 * ThreadSanitizer does not model fences, so there every store is a release
 * store instead, which orders at least as much.
 */
#ifdef __SANITIZE_THREAD__
#define UTIL_SHARED_ORDER __ATOMIC_RELEASE
#else
#define UTIL_SHARED_ORDER __ATOMIC_RELAXED
#endif

static inline void util_store_shared(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, UTIL_SHARED_ORDER);
}

static inline void util_store_release(void)
{
#ifndef __SANITIZE_THREAD__
	__atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

#endif
