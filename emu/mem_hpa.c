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
#include "emu/mem_priv.h"
#include "util/simd.h"

#define MIX_K1 0x9e3779b97f4a7c15ull
#define MIX_C 0x5bd1e9955bd1e995ull

static uint64_t inverse_mod64(uint64_t k)
{
	uint64_t y = k;	/* correct to 3 bits for odd k; each step doubles that */

	for (int i = 0; i < 5; i++)
		y *= 2 - k * y;
	return y;
}

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
	return (x * inverse_mod64(MIX_K1)) & m;
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

#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define EMU_HPA_AVX2 1
typedef uint64_t emu_v4 __attribute__((vector_size(32), aligned(8), may_alias));

/*
 * emu__hpa_run's common loop four pages at a time (util/simd.h decides
 * whether AVX2 runs): the same arithmetic, the page numbers' multiples of
 * K1 kept as a running sum.  Returns the pages done, a multiple of 4.
 */
__attribute__((target("avx2"))) static uint64_t hpa_run_avx2(uint64_t pn, uint64_t n,
							      unsigned shift, uint64_t *out)
{
	unsigned bits = EMU_UA_BITS - shift, r = (bits + 1) / 2;
	uint64_t m1 = (1ull << bits) - 1;
	/* zone and constant side by side: the zone's bits lie above the page number's */
	uint64_t zc = ((uint64_t)shift << EMU_HPA_ZONE_SHIFT) | ((MIX_C & m1) << shift);
	emu_v4 m = { m1, m1, m1, m1 }, zcv = { zc, zc, zc, zc };
	emu_v4 acc = { pn * MIX_K1, (pn + 1) * MIX_K1, (pn + 2) * MIX_K1, (pn + 3) * MIX_K1 };
	uint64_t k = 0, s = 4 * MIX_K1, end = n & ~3ull;
	emu_v4 step = { s, s, s, s };

#pragma GCC unroll 2
	for (; k < end; k += 4, acc += step) {
		emu_v4 x = acc & m;

		*(emu_v4 *)(out + k) = zcv ^ ((x ^ (x >> r)) << shift);
	}
	return k;
}
#endif

/*
 * hpas of @n pages of 2^@step_shift bytes from @ua, all inside one run of
 * backing pages of 2^@backing_shift bytes (step_shift <= backing_shift):
 * the hot loop of mapping TCE runs, with the scramble's constants hoisted.
 */
void emu__hpa_run(uint64_t ua, uint64_t n, unsigned step_shift, unsigned backing_shift,
		  uint64_t *out)
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

#ifdef EMU_HPA_AVX2
		if (util_simd_avx2())
			k = hpa_run_avx2(pn, n, backing_shift, out);
#endif
		for (; k < n; k++) {
			uint64_t x = ((pn + k) * MIX_K1) & m;

			out[k] = zone | ((x ^ (x >> r) ^ c) << backing_shift);
		}
		return;
	}
	while (k < n) {
		uint64_t x = ((ua >> backing_shift) * MIX_K1) & m, hpa, off;

		x ^= (x >> r) ^ c;
		hpa = zone | (x << backing_shift);
		/* The rest of this backing page is contiguous. */
		for (off = ua & off_mask; k < n && off <= off_mask; k++, off += step, ua += step)
			out[k] = hpa | off;
	}
}
