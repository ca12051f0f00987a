/* SPDX-License-Identifier: MIT */
#include <limits.h>

#include "emu/mem.h"
#include "tests/testutil.h"

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
