/* SPDX-License-Identifier: MIT */
/*
 * What backs a user range: is every byte mapped and writable, and with which
 * page size (the kernel's vma_kernel_pagesize: the huge page size for
 * hugetlbfs, the system page otherwise; THP does not count, it may be split).
 *
 * Why probe before pinning: pinning must fault pages in writable and fail
 * with EFAULT on unmapped or read-only memory without leaving anything
 * pinned.  Touching such memory from userspace would raise SIGSEGV, so the
 * VMAs are checked first.  The kernel answers through the PROCMAP_QUERY
 * ioctl on /proc/self/maps (Linux 6.11+, O(log n) per VMA); older kernels
 * fall back to parsing /proc/self/smaps.
 *
 * The file is opened per probe: after fork() an fd opened earlier would
 * still describe the parent.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "emu/mem_priv.h"
#include "util/fail.h"
#include "util/range.h"

/* From <linux/fs.h> of Linux 6.11; the build machine's headers may be older. */
struct emu_procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t vma_name_size;
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};
#define EMU_PROCMAP_VMA_WRITABLE 0x02
#define EMU_PROCMAP_COVERING_OR_NEXT_VMA 0x10
#define EMU_PROCMAP_QUERY _IOWR('f', 17, struct emu_procmap_query)

static emu_page_shift_fn probe_oracle;	/* under probe_oracle_ctx's protocol: set before use */
static void *probe_oracle_ctx;
static int probe_force_smaps;

void emu_mem_set_page_shift_oracle(emu_page_shift_fn fn, void *ctx)
{
	__atomic_store_n(&probe_oracle_ctx, ctx, __ATOMIC_RELAXED);
	__atomic_store_n(&probe_oracle, fn, __ATOMIC_RELEASE);
}

void emu__mem_probe_force_smaps(int on)
{
	__atomic_store_n(&probe_force_smaps, on, __ATOMIC_RELAXED);
}

struct run_list {
	struct emu__backing_run *v;
	unsigned n, cap;
};

static int run_add(struct run_list *l, uint64_t start, uint64_t end, unsigned shift)
{
	if (l->n && l->v[l->n - 1].end == start && l->v[l->n - 1].shift == shift) {
		l->v[l->n - 1].end = end;
		return 0;
	}
	if (l->n == l->cap) {
		unsigned cap = l->cap ? l->cap * 2 : 4;
		struct emu__backing_run *v;

		if (util_should_fail("emu_probe_runs"))
			return -ENOMEM;
		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct emu__backing_run){ start, end, shift };
	return 0;
}

/* Returns 0, -EFAULT, -ENOMEM, or -ENOTTY when the kernel lacks PROCMAP_QUERY. */
static int probe_procmap(int fd, uint64_t ua, uint64_t end, struct run_list *l)
{
	uint64_t addr = ua;

	while (addr < end) {
		struct emu_procmap_query q = {
			.size = sizeof(q),
			.query_flags = EMU_PROCMAP_COVERING_OR_NEXT_VMA,
			.query_addr = addr,
		};
		uint64_t stop;
		int rc;

		if (ioctl(fd, EMU_PROCMAP_QUERY, &q)) {
			if (errno == ENOENT)
				return -EFAULT;
			return errno == ENOTTY || errno == EINVAL ? -ENOTTY : -EFAULT;
		}
		if (q.vma_start > addr || !(q.vma_flags & EMU_PROCMAP_VMA_WRITABLE))
			return -EFAULT;
		stop = q.vma_end < end ? q.vma_end : end;
		rc = run_add(l, addr, stop, util_ilog2(q.vma_page_size ? q.vma_page_size : EMU_PAGE_SIZE));
		if (rc)
			return rc;
		addr = stop;
	}
	return 0;
}

/* The same from /proc/self/smaps: VMA header lines and their KernelPageSize. */
static int probe_smaps(uint64_t ua, uint64_t end, struct run_list *l)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	uint64_t addr = ua, vs = 0, ve = 0;
	int writable = 0, in_range = 0, rc = -EFAULT;

	if (!f)
		return -EFAULT;
	while (addr < end && fgets(line, sizeof(line), f)) {
		unsigned long long s, e, kb;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s", &s, &e, perms) == 3) {
			vs = s;
			ve = e;
			writable = perms[1] == 'w';
			in_range = ve > addr;
			if (in_range && (vs > addr || !writable))
				goto out;
			continue;
		}
		if (in_range && sscanf(line, "KernelPageSize: %llu kB", &kb) == 1) {
			uint64_t stop = ve < end ? ve : end;

			rc = run_add(l, addr, stop, util_ilog2(kb * 1024));
			if (rc)
				goto out;
			rc = -EFAULT;
			addr = stop;
			in_range = 0;
		}
	}
	if (addr >= end)
		rc = 0;
out:
	fclose(f);
	return rc;
}

/* Re-describes the runs with the oracle's page sizes. */
static int probe_apply_oracle(emu_page_shift_fn fn, void *ctx, uint64_t ua, uint64_t end,
			      struct run_list *l)
{
	uint64_t addr = ua;

	l->n = 0;
	while (addr < end) {
		uint64_t run_end = end;
		unsigned shift = fn(ctx, addr, &run_end);
		int rc;

		if (run_end <= addr || shift < EMU_PAGE_SHIFT || shift >= EMU_UA_BITS)
			return -EFAULT;
		rc = run_add(l, addr, run_end < end ? run_end : end, shift);
		if (rc)
			return rc;
		addr = run_end;
	}
	return 0;
}

int emu__mem_probe(uint64_t ua, uint64_t end, struct emu__backing_run **runs, unsigned *nruns)
{
	struct run_list l = { 0 };
	emu_page_shift_fn fn = __atomic_load_n(&probe_oracle, __ATOMIC_ACQUIRE);
	int rc = -ENOTTY;

	if (!__atomic_load_n(&probe_force_smaps, __ATOMIC_RELAXED)) {
		int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return -EFAULT;
		rc = probe_procmap(fd, ua, end, &l);
		close(fd);
	}
	if (rc == -ENOTTY) {
		l.n = 0;
		rc = probe_smaps(ua, end, &l);
	}
	if (!rc && fn)
		rc = probe_apply_oracle(fn, __atomic_load_n(&probe_oracle_ctx, __ATOMIC_RELAXED),
					ua, end, &l);
	if (rc) {
		free(l.v);
		return rc;
	}
	*runs = l.v;
	*nruns = l.n;
	return 0;
}
