/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "emu/mem.h"
#include "util/errno_name.h"
#include "tests/testutil.h"

/* The name of an errno, or of a negative errno (util/errno_name.h's table); the number otherwise. */
const char *tu_errname(long rc)
{
	static __thread char buf[32];
	long e = rc < 0 ? -rc : rc;
	const char *name = e > 0 && e < 4096 ? util_errno_name((int)e) : NULL;

	if (name)
		return name;
	snprintf(buf, sizeof(buf), "%ld", rc);
	return buf;
}

void *tu_map(uint64_t npages)
{
	void *p = mmap(NULL, npages * EMU_PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_msg(p != MAP_FAILED, "mmap of %llu pages: %s", (unsigned long long)npages,
		      strerror(errno));
	return p;
}

void *tu_map_aligned(uint64_t npages, unsigned align_shift)
{
	uint64_t align = 1ull << align_shift, len = npages * EMU_PAGE_SIZE;
	uint8_t *p = tu_map(npages + align / EMU_PAGE_SIZE);
	uint8_t *a = (uint8_t *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));

	if (a > p)
		munmap(p, (size_t)(a - p));
	munmap(a + len, (size_t)(p + len + align - (a + len)));
	return a;
}

void tu_unmap(void *p, uint64_t npages)
{
	ck_assert_int_eq(munmap(p, npages * EMU_PAGE_SIZE), 0);
}

long tu_hugetlb_reserve(unsigned long want, const char **why)
{
	long prev;

	switch (emu_mem_hugetlb_reserve(21, want, &prev)) {
	case 0:
		return prev >= 0 ? prev : LONG_MAX;
	case -ENOENT:
		*why = "no 2 MiB hugetlbfs pool on this kernel";
		return -1;
	case -EPERM:
		*why = "cannot raise nr_hugepages (not root?)";
		return -1;
	default:
		*why = "the kernel could not find enough free 2 MiB pages";
		return -1;
	}
}

void tu_hugetlb_restore(long prev)
{
	if (prev != LONG_MAX)
		emu_mem_hugetlb_restore(21, prev);
}

void tu_assert_emu_clean(void)
{
	struct emu_mem_stats st;

	emu_mem_get_stats(&st);
	ck_assert_msg(st.pins == 0, "%llu pins left", (unsigned long long)st.pins);
	ck_assert_msg(st.pinned_pages == 0, "%llu pages left pinned",
		      (unsigned long long)st.pinned_pages);
	ck_assert_msg(st.pin_refs == 0, "%llu pin references left", (unsigned long long)st.pin_refs);
	ck_assert_msg(st.table_blocks == 0, "%llu table blocks left",
		      (unsigned long long)st.table_blocks);
	ck_assert_msg(st.unpin_underflows == 0, "%llu unpins of unpinned frames",
		      (unsigned long long)st.unpin_underflows);
	ck_assert_int_eq(emu_mem_check(), 0);
}

unsigned tu_sweep(int (*run)(void *ctx), void (*check)(void *ctx, int rc), void *ctx)
{
	unsigned n;
	int rc;

	util_fail_nth_arm(0);
	rc = run(ctx);
	ck_assert_msg(rc == 0, "clean run of the sweep scenario failed: %s", tu_errname(rc));
	check(ctx, rc);
	for (n = 1; n <= TU_SWEEP_MAX; n++) {
		util_fail_nth_arm(n);
		rc = run(ctx);
		if (!util_fail_nth_fired()) {
			util_fail_nth_arm(0);
			ck_assert_msg(rc == 0, "run %u: no failure injected but rc %s", n,
				      tu_errname(rc));
			check(ctx, rc);
			return n - 1;
		}
		util_fail_nth_arm(0);
		check(ctx, rc);
	}
	ck_abort_msg("fail-nth sweep did not end after %u failure points", TU_SWEEP_MAX);
	return 0;
}

int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
