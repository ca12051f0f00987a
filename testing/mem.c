/* SPDX-License-Identifier: MIT */
/*
 * testing/mem.c: test memory and the suite runner (tu_map, tu_run).
 * Memory comes straight from mmap, untouched, so a test sees exactly the
 * pages its requests fault in or pin; 4 KiB is the emulated system page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "include/spaprtce/testing.h"

#define PAGE 4096ull

void *tu_map(uint64_t npages)
{
	void *p = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	ck_assert_msg(p != MAP_FAILED, "mmap of %llu pages: %s", (unsigned long long)npages,
		      strerror(errno));
	return p;
}

void *tu_map_aligned(uint64_t npages, unsigned align_shift)
{
	uint64_t align = 1ull << align_shift, len = npages * PAGE;
	uint8_t *p = tu_map(npages + align / PAGE);
	uint8_t *a = (uint8_t *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));

	if (a > p)
		munmap(p, (size_t)(a - p));
	munmap(a + len, (size_t)(p + len + align - (a + len)));
	return a;
}

void tu_unmap(void *p, uint64_t npages)
{
	ck_assert_int_eq(munmap(p, npages * PAGE), 0);
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
