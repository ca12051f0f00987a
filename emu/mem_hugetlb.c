/* SPDX-License-Identifier: MIT */
/*
 * The host's hugetlbfs pool (/sys/kernel/mm/hugepages): making huge pages
 * free for guest memory, and giving the pool back its size.
 *
 * Why here: the demo, the replay engine and the tests all back guest RAM
 * with 2 MiB pages when they can; reserving them is a property of the
 * host's memory, and one implementation keeps "restore what you changed"
 * in one place.
 */
#include <errno.h>
#include <stdio.h>

#include "emu/mem.h"

static int pool_path(char *buf, size_t n, unsigned shift, const char *file)
{
	int len = snprintf(buf, n, "/sys/kernel/mm/hugepages/hugepages-%llukB/%s",
			   (unsigned long long)(1ull << (shift - 10)), file);

	return len > 0 && (size_t)len < n ? 0 : -EINVAL;
}

static long read_long(unsigned shift, const char *file)
{
	char path[96];
	long v = -1;
	FILE *f;

	if (pool_path(path, sizeof(path), shift, file))
		return -1;
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int write_long(unsigned shift, const char *file, long v)
{
	char path[96];
	FILE *f;
	int bad;

	if (pool_path(path, sizeof(path), shift, file))
		return -EINVAL;
	f = fopen(path, "w");
	if (!f)
		return -EPERM;
	bad = fprintf(f, "%ld\n", v) < 0;
	bad |= fclose(f);
	return bad ? -EPERM : 0;
}

int emu_mem_hugetlb_reserve(unsigned shift, uint64_t pages, long *prev)
{
	long nr, free_now;

	*prev = -1;
	if (shift <= EMU_PAGE_SHIFT || shift >= 40)
		return -EINVAL;
	nr = read_long(shift, "nr_hugepages");
	free_now = read_long(shift, "free_hugepages");
	if (nr < 0 || free_now < 0)
		return -ENOENT;
	if ((uint64_t)free_now >= pages)
		return 0;
	if (write_long(shift, "nr_hugepages", nr + (long)pages - free_now))
		return -EPERM;
	*prev = nr;
	if (read_long(shift, "free_hugepages") < (long)pages) {
		emu_mem_hugetlb_restore(shift, *prev);
		*prev = -1;
		return -ENOMEM;
	}
	return 0;
}

void emu_mem_hugetlb_restore(unsigned shift, long prev)
{
	if (prev >= 0)
		write_long(shift, "nr_hugepages", prev);
}
