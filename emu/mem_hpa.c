/* SPDX-License-Identifier: MIT */
/*
 * The emulated host physical address space (see the "hpa space" part of
 * emu/mem.h).
 *
 * Why a scrambled but deterministic hpa: real hpas of consecutive user pages
 * are almost never consecutive, and code that adds an offset to the hpa of a
 * region's first page instead of translating every page is a classic bug.  A
 * bijection of the page number makes every neighbour jump far away, yet the
 * mapping needs no table: hpa -> ua is the inverse bijection, so the model
 * stores nothing per page to translate (the metadata goal of the registry is
 * at most 8 bytes per 4 KiB page, and pin counts already take 4).
 *
 * The bijection on b bits: multiply by an odd constant, xor-shift by
 * ceil(b/2), xor a constant (so page 0 does not map to 0).  Each step is
 * invertible modulo 2^b: the multiply by the constant's inverse, the
 * xor-shift by itself (it moves bits by at least half the width).  One
 * multiply is enough to send neighbours far apart (they differ by the
 * constant, then the xor-shift folds the high bits down), and along a run of
 * consecutive pages the products are a running sum, so translating a run
 * costs a few additions and shifts per page: the hypercall path translates
 * up to 512 pages per call.
 */
#include <endian.h>

#include "emu/mem_priv.h"
#include "util/simd.h"
#include "util/simd_x86.h"

#define MIX_K1 0x9e3779b97f4a7c15ull
#define MIX_C 0x5bd1e9955bd1e995ull

/*
 * MIX_K1's inverse modulo 2^64, as a constant: computed at run time (five
 * Newton steps, ten dependent multiplies) it was half of every hpa -> ua
 * translation, which the DMA path makes per page.
 */
#define MIX_K1_INV 0xf1de83e19937733dull
_Static_assert(MIX_K1 * MIX_K1_INV == 1, "MIX_K1_INV is MIX_K1's inverse modulo 2^64");

static inline uint64_t mix(uint64_t x, unsigned bits)
{
	uint64_t m = (1ull << bits) - 1;
	unsigned r = (bits + 1) / 2;

	x = (x * MIX_K1) & m;
	return x ^ (x >> r) ^ (MIX_C & m);
}

static uint64_t unmix(uint64_t x, unsigned bits)
{
	uint64_t m = (1ull << bits) - 1;
	unsigned r = (bits + 1) / 2;

	x ^= MIX_C & m;
	x ^= x >> r;
	return (x * MIX_K1_INV) & m;
}

uint64_t emu_mem_ua_to_hpa(uint64_t ua, unsigned shift)
{
	uint64_t off = ua & ((1ull << shift) - 1);
	uint64_t pn = (ua & ((1ull << EMU_UA_BITS) - 1)) >> shift;

	return ((uint64_t)shift << EMU_HPA_ZONE_SHIFT) | (mix(pn, EMU_UA_BITS - shift) << shift) | off;
}

bool emu_mem_hpa_to_ua(uint64_t hpa, uint64_t *ua)
{
	unsigned shift = (unsigned)(hpa >> EMU_HPA_ZONE_SHIFT);
	uint64_t low = hpa & ((1ull << EMU_HPA_ZONE_SHIFT) - 1);

	if (shift < EMU_PAGE_SHIFT || shift >= EMU_UA_BITS)
		return false;
	*ua = (unmix(low >> shift, EMU_UA_BITS - shift) << shift) | (low & ((1ull << shift) - 1));
	return true;
}

/*
 * The hpas of a run, as emu__hpa_run and emu__hpa_run_be want them: plain,
 * or big-endian with @low ORed in and stored to a shared array.  One body
 * for both, specialised by the constant @be where it is inlined.
 */
#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE void put(uint64_t *out, uint64_t k, uint64_t hpa, uint64_t low, bool be)
{
	if (be)
		util_store_shared(&out[k], htobe64(hpa | low));
	else
		out[k] = hpa;
}

#ifdef UTIL_SIMD_X86
/*
 * The common loop four pages at a time: the same arithmetic, the page
 * numbers' multiples of K1 kept as a running sum, @low folded into the
 * final xor.  From page @k (16-byte aligned in @out when @be) on; returns
 * where it stopped, at a multiple of 4 pages from @k.
 */
static ALWAYS_INLINE AVX2 uint64_t hpa_run_avx2(uint64_t pn, uint64_t k, uint64_t n,
						unsigned shift, uint64_t low, bool be,
						uint64_t *out)
{
	unsigned bits = EMU_UA_BITS - shift, r = (bits + 1) / 2;
	uint64_t m1 = (1ull << bits) - 1;
	/* zone, constant and low bits side by side: none of them overlap */
	uint64_t zc = ((uint64_t)shift << EMU_HPA_ZONE_SHIFT) | ((MIX_C & m1) << shift) | low;
	v4 m = splat4(m1), zcv = splat4(zc), step = splat4(4 * MIX_K1);
	v4 acc = seq4((pn + k) * MIX_K1, MIX_K1);
	uint64_t end = end4(k, n);

#pragma GCC unroll 2
	for (; k < end; k += 4, acc += step) {
		v4 x = acc & m, h = zcv ^ ((x ^ (x >> r)) << shift);

		if (be)
			store2x2(out + k, bswap4(h));
		else
			*(v4 *)(out + k) = h;
	}
	return k;
}

static AVX2 uint64_t hpa_run_avx2_plain(uint64_t pn, uint64_t k, uint64_t n, unsigned shift,
					uint64_t *out)
{
	return hpa_run_avx2(pn, k, n, shift, 0, false, out);
}

static AVX2 uint64_t hpa_run_avx2_be(uint64_t pn, uint64_t k, uint64_t n, unsigned shift,
				     uint64_t low, uint64_t *out)
{
	return hpa_run_avx2(pn, k, n, shift, low, true, out);
}
#endif

static ALWAYS_INLINE void hpa_run(uint64_t ua, uint64_t n, unsigned step_shift,
				  unsigned backing_shift, uint64_t low, bool be, uint64_t *out)
{
	unsigned bits = EMU_UA_BITS - backing_shift, r = (bits + 1) / 2;
	uint64_t m = (1ull << bits) - 1, c = MIX_C & m;
	uint64_t zone = (uint64_t)backing_shift << EMU_HPA_ZONE_SHIFT;
	uint64_t off_mask = (1ull << backing_shift) - 1, step = 1ull << step_shift;
	uint64_t k = 0;

	ua &= (1ull << EMU_UA_BITS) - 1;
	if (step_shift == backing_shift) {
		/* One IOMMU page per backing page: the common case, kept tight. */
		uint64_t pn = ua >> backing_shift;
#ifdef UTIL_SIMD_X86
		/* Where the AVX2 loop takes over: a shared array's first 16-byte boundary. */
		uint64_t vec = !util_simd_avx2() ? n : be ? head(out, n) : 0;
#endif

		for (; k < n; k++) {
			uint64_t x;

#ifdef UTIL_SIMD_X86
			if (k == vec) {
				k = be ? hpa_run_avx2_be(pn, k, n, backing_shift, low, out)
				       : hpa_run_avx2_plain(pn, k, n, backing_shift, out);
				if (k == n)
					break;
			}
#endif
			x = ((pn + k) * MIX_K1) & m;
			put(out, k, zone | ((x ^ (x >> r) ^ c) << backing_shift), low, be);
		}
		return;
	}
	while (k < n) {
		uint64_t x = ((ua >> backing_shift) * MIX_K1) & m, hpa, off;

		x ^= (x >> r) ^ c;
		hpa = zone | (x << backing_shift);
		/* The rest of this backing page is contiguous. */
		for (off = ua & off_mask; k < n && off <= off_mask; k++, off += step, ua += step)
			put(out, k, hpa | off, low, be);
	}
}

/*
 * hpas of @n pages of 2^@step_shift bytes from @ua, all inside one run of
 * backing pages of 2^@backing_shift bytes (step_shift <= backing_shift):
 * the hot loop of mapping TCE runs, with the scramble's constants hoisted.
 */
void emu__hpa_run(uint64_t ua, uint64_t n, unsigned step_shift, unsigned backing_shift,
		  uint64_t *out)
{
	hpa_run(ua, n, step_shift, backing_shift, 0, false, out);
}

void emu__hpa_run_be(uint64_t ua, uint64_t n, unsigned step_shift, unsigned backing_shift,
		     uint64_t low, uint64_t *dst)
{
	hpa_run(ua, n, step_shift, backing_shift, low, true, dst);
	util_store_release();
}
