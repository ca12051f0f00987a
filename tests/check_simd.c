/* SPDX-License-Identifier: MIT */
/*
 * util/simd.h's loops and emu's vectorised hpa run: each against a plain
 * reference written here, in both modes (portable, and AVX2 where the CPU
 * has it), for every length from 0 to 70 and both alignments of a shared
 * destination (16-byte aligned, or one entry past it), on random data.
 * Shared destinations are checked to be written exactly in [0, n): the
 * entries around them keep a guard value.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "emu/mem.h"
#include "emu/mem_priv.h"
#include "tests/testutil.h"
#include "util/simd.h"

#define MAXN 70u
#define GUARD 0x6a6a6a6a6a6a6a6aull

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return rng_state ^ (rng_state >> 29);
}

/* Buffers with a guard entry on each side; [1] is 16-byte aligned. */
static uint64_t src[MAXN + 4] __attribute__((aligned(16)));
static uint64_t dst[MAXN + 4] __attribute__((aligned(16)));
static uint64_t old[MAXN + 4] __attribute__((aligned(16)));
static uint64_t want[MAXN + 4];

static void fill_random(uint64_t *a, size_t n)
{
	for (size_t k = 0; k < n; k++)
		a[k] = rnd();
}

/* dst[0, off + n + 2) = GUARD; then the caller writes dst + 1 + off. */
static void guard_dst(unsigned off, size_t n)
{
	for (size_t k = 0; k < off + n + 3; k++)
		dst[k] = GUARD;
}

static void assert_guards(unsigned off, size_t n)
{
	for (size_t k = 0; k <= off; k++)
		ck_assert_uint_eq(dst[k], GUARD);
	ck_assert_uint_eq(dst[1 + off + n], GUARD);
}

static void check_all(void)
{
	for (size_t n = 0; n <= MAXN; n++) {
		for (unsigned off = 0; off < 2; off++) {
			uint64_t *d = dst + 1 + off, v = rnd(), step = rnd() & 0xfff000;
			size_t k, cut;

			/* be64_seq_len: a progression broken at @cut (or not) */
			cut = n ? rnd() % (n + 1) : 0;
			for (k = 0; k < n; k++)
				src[k] = htobe64(k == cut ? v + k * step + 1 : v + k * step);
			ck_assert_uint_eq(util_be64_seq_len(src, v, step, n), (cut < n ? cut : n));

			/* or_all: random values with some bits clear in all of them */
			fill_random(src, n);
			{
				uint64_t mask = rnd(), acc = 0;

				for (k = 0; k < n; k++) {
					src[k] &= mask;
					acc |= src[k];
				}
				ck_assert_uint_eq(util_or_all(src, n), acc);
			}

			/* store_be64_seq_xfer: the old values out, a big-endian progression in */
			guard_dst(off, n);
			fill_random(d, n);
			memcpy(want, d, n * sizeof(uint64_t));
			util_store_be64_seq_xfer(d, v, step, old, n);
			ck_assert_int_eq(memcmp(old, want, n * sizeof(uint64_t)), 0);
			for (k = 0; k < n; k++)
				ck_assert_uint_eq(d[k], htobe64(v + k * step));
			assert_guards(off, n);

			/* store_be64_seq: a big-endian progression */
			guard_dst(off, n);
			util_store_be64_seq(d, v, step, n);
			for (k = 0; k < n; k++)
				ck_assert_uint_eq(d[k], htobe64(v + k * step));
			assert_guards(off, n);

			/*
			 * store_be64_seq_over: over an old progression (or zeros)
			 * broken at @cut, the new one stored up to the break, the
			 * rest untouched.
			 */
			for (int zeros = 0; zeros < 2; zeros++) {
				uint64_t ov = zeros ? 0 : rnd(), ostep = zeros ? 0 : rnd() & 0xfff000;
				size_t got, bad;

				cut = n ? rnd() % (n + 1) : 0;
				guard_dst(off, n);
				for (k = 0; k < n; k++)
					d[k] = htobe64(k == cut ? ov + k * ostep + (zeros ? 0x1000 : 1)
								: ov + k * ostep);
				memcpy(want, d, n * sizeof(uint64_t));
				got = util_store_be64_seq_over(d, v, step, ov, ostep, n);
				ck_assert_uint_eq(got, cut < n ? cut : n);
				for (k = 0, bad = 0; k < n; k++)
					bad += d[k] != (k < got ? htobe64(v + k * step) : want[k]);
				ck_assert_uint_eq(bad, 0);
				assert_guards(off, n);
			}

			/* store_seq: a progression */
			guard_dst(off, n);
			util_store_seq(d, v, step, n);
			for (k = 0; k < n; k++)
				ck_assert_uint_eq(d[k], v + k * step);
			assert_guards(off, n);

			/* store_xfer: the old values out, the source in */
			fill_random(src, n);
			guard_dst(off, n);
			fill_random(d, n);
			memcpy(want, d, n * sizeof(uint64_t));
			util_store_xfer(d, src, old, n);
			ck_assert_int_eq(memcmp(old, want, n * sizeof(uint64_t)), 0);
			ck_assert_int_eq(memcmp(d, src, n * sizeof(uint64_t)), 0);
			assert_guards(off, n);

			/* store_copy, store_fill */
			fill_random(src, n);
			guard_dst(off, n);
			util_store_copy(d, src, n);
			ck_assert_int_eq(memcmp(d, src, n * sizeof(uint64_t)), 0);
			assert_guards(off, n);
			guard_dst(off, n);
			util_store_fill(d, v, n);
			for (k = 0; k < n; k++)
				ck_assert_uint_eq(d[k], v);
			assert_guards(off, n);
		}
	}
}

/*
 * emu__hpa_run equals page-by-page emu_mem_ua_to_hpa, for 4 KiB and 2 MiB
 * backing; emu__hpa_run_be stores the same, big-endian with low bits, into a
 * shared destination at both alignments, touching nothing around it.
 */
static void check_hpa_runs(void)
{
	static uint64_t out[MAXN];

	for (size_t n = 0; n <= MAXN; n++) {
		uint64_t ua = (rnd() & ((1ull << 46) - 1)) & ~0xfffull;

		for (unsigned backing = 12; backing <= 21; backing += 9) {
			emu__hpa_run(ua, n, 12, backing, out);
			for (size_t k = 0; k < n; k++)
				ck_assert_uint_eq(out[k], emu_mem_ua_to_hpa(ua + (k << 12), backing));
			for (unsigned off = 0; off < 2; off++) {
				uint64_t low = rnd() & 0xfff;

				guard_dst(off, n);
				emu__hpa_run_be(ua, n, 12, backing, low, dst + 1 + off);
				for (size_t k = 0; k < n; k++)
					ck_assert_uint_eq(dst[1 + off + k], htobe64(out[k] | low));
				assert_guards(off, n);
			}
		}
	}
}

START_TEST(t_portable_loops)
{
	rng_state = 1;
	ck_assert(!util_simd_select(false));
	ck_assert(!util_simd_avx2());
	for (int r = 0; r < 20; r++) {
		check_all();
		check_hpa_runs();
	}
}
END_TEST

START_TEST(t_avx2_loops)
{
	bool have;

	rng_state = 2;
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	__builtin_cpu_init();
	have = __builtin_cpu_supports("avx2");
#else
	have = false;
#endif
	ck_assert_int_eq(util_simd_select(true), have);
	for (int r = 0; r < 20; r++) {
		check_all();
		check_hpa_runs();
	}
	util_simd_select(false);
}
END_TEST

static Suite *simd_suite(void)
{
	Suite *s = suite_create("simd");
	TCase *t = tcase_create("loops");

	/* Check's 4 s is wall clock: under a sanitizer on a busy machine, too short. */
	tcase_set_timeout(t, 120);
	tcase_add_test(t, t_portable_loops);
	tcase_add_test(t, t_avx2_loops);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(simd_suite());
}
