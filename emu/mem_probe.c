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
 * The file is opened once per process (emu__mem_maps_fd): an fd opened
 * before fork() would still describe the parent, so the child's fork
 * handler closes it (mem_pin.c) and the child opens its own.  (Opening it
 * per probe cost an open and a close per REGISTER: 6% of DPDK's --no-huge
 * set-up, 16,384 one-page registrations.)
 *
 * Shared writable file mappings (the kernel's check_vma_flags and
 * writable_file_mapping_allowed in mm/gup.c, since Linux 6.5): a long-term
 * pin for writing of a MAP_SHARED mapping whose file needs dirty tracking
 * (vma_needs_dirty_tracking: the filesystem wants write notification or can
 * write pages back, i.e. every disk filesystem) is refused with EFAULT,
 * because the device's writes would bypass the filesystem's view of dirty
 * pages.  shmem (tmpfs, memfd, shared anonymous memory), hugetlbfs and
 * ramfs need none and stay allowed.  The filesystem is found with statfs on
 * /proc/self/map_files/START-END (the mapped file itself; needs
 * CAP_SYS_ADMIN), else on the VMA's path when it still names the file, else
 * from the device number: 0 (no block device) counts as memory-backed.
 * Private file mappings are pinned through their anonymous copies and stay
 * allowed, as in the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "emu/mem_priv.h"
#include "util/fail.h"
#include "util/range.h"


/* statfs f_type of the filesystems that need no dirty tracking (<linux/magic.h>). */
#define EMU_TMPFS_MAGIC 0x01021994u
#define EMU_HUGETLBFS_MAGIC 0x958458f6u
#define EMU_RAMFS_MAGIC 0x858458f6u

/* What one VMA is, as far as pinning cares. */
struct vma_info {
	uint64_t start, end, off;
	unsigned shift;
	bool readable, writable, shared;
	uint64_t inode;
	uint32_t dev_major;
	const char *name;	/* path or "" */
};

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

static int run_add(struct run_list *l, uint64_t start, uint64_t end, unsigned shift,
		   const struct emu__backing_run *vma)
{
	struct emu__backing_run r = { start, end, shift, 0, 0, 0, 0 };

	if (vma) {
		r.flags = vma->flags;
		r.vma_start = vma->vma_start;
		r.vma_end = vma->vma_end;
		r.vma_off = vma->vma_off;
	}
	if (l->n && l->v[l->n - 1].end == start && l->v[l->n - 1].shift == shift &&
	    l->v[l->n - 1].flags == r.flags && !(r.flags & EMU__RUN_SHARED)) {
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
	l->v[l->n++] = r;
	return 0;
}

/*
 * True when the kernel would refuse a long-term write pin of @v
 * (vma_needs_dirty_tracking): shared, writable, a file, and not on shmem,
 * hugetlbfs or ramfs.
 */
static bool needs_dirty_tracking(const struct vma_info *v)
{
	char path[64];
	struct statfs sf;
	size_t n = strlen(v->name);
	bool known = false;

	if (!v->shared || !v->writable || !v->inode)
		return false;
	if (v->shift > EMU_PAGE_SHIFT)
		return false;	/* hugetlbfs */
	snprintf(path, sizeof(path), "/proc/self/map_files/%llx-%llx", (unsigned long long)v->start,
		 (unsigned long long)v->end);
	if (!statfs(path, &sf))
		known = true;
	else if (v->name[0] == '/' && !(n >= 10 && !strcmp(v->name + n - 10, " (deleted)")) &&
		 !statfs(v->name, &sf))
		known = true;
	if (!known)
		return v->dev_major != 0;
	switch ((uint32_t)sf.f_type) {
	case EMU_TMPFS_MAGIC:
	case EMU_HUGETLBFS_MAGIC:
	case EMU_RAMFS_MAGIC:
		return false;
	default:
		return true;
	}
}

/*
 * Appends the part [addr, stop) of VMA @v; -EFAULT when it may not be
 * pinned for @write (check_vma_flags: a write pin needs a writable VMA and,
 * for a shared file, no dirty tracking; a read pin a readable VMA).
 */
static int vma_add(struct run_list *l, const struct vma_info *v, uint64_t addr, uint64_t stop,
		   bool write)
{
	struct emu__backing_run vr = { 0 };

	if (write ? !v->writable || needs_dirty_tracking(v) : !v->readable)
		return -EFAULT;
	if (v->shared) {
		vr.flags = EMU__RUN_SHARED;
		vr.vma_start = v->start;
		vr.vma_end = v->end;
		vr.vma_off = v->off;
	}
	return run_add(l, addr, stop, v->shift, &vr);
}

/* Returns 0, -EFAULT, -ENOMEM, or -ENOTTY when the kernel lacks PROCMAP_QUERY. */
static int probe_procmap(int fd, uint64_t ua, uint64_t end, bool write, struct run_list *l)
{
	uint64_t addr = ua;

	while (addr < end) {
		char name[256];
		struct emu_procmap_query q = {
			.size = sizeof(q),
			.query_flags = EMU_PROCMAP_COVERING_OR_NEXT_VMA,
			.query_addr = addr,
			.vma_name_size = sizeof(name),
			.vma_name_addr = (uint64_t)(uintptr_t)name,
		};
		struct vma_info v;
		uint64_t stop;
		int rc;

		name[0] = 0;
		if (ioctl(fd, EMU_PROCMAP_QUERY, &q)) {
			if (errno == ENOENT)
				return -EFAULT;
			return errno == ENOTTY || errno == EINVAL ? -ENOTTY : -EFAULT;
		}
		if (q.vma_start > addr)
			return -EFAULT;
		name[sizeof(name) - 1] = 0;
		v = (struct vma_info){
			.start = q.vma_start, .end = q.vma_end, .off = q.vma_offset,
			.shift = util_ilog2(q.vma_page_size ? q.vma_page_size : EMU_PAGE_SIZE),
			.readable = q.vma_flags & EMU_PROCMAP_VMA_READABLE,
			.writable = q.vma_flags & EMU_PROCMAP_VMA_WRITABLE,
			.shared = q.vma_flags & EMU_PROCMAP_VMA_SHARED,
			.inode = q.inode, .dev_major = q.dev_major,
			.name = q.vma_name_size ? name : "",
		};
		stop = q.vma_end < end ? q.vma_end : end;
		rc = vma_add(l, &v, addr, stop, write);
		if (rc)
			return rc;
		addr = stop;
	}
	return 0;
}

/* The same from /proc/self/smaps: VMA header lines and their KernelPageSize. */
static int probe_smaps(uint64_t ua, uint64_t end, bool write, struct run_list *l)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512], name[256];
	uint64_t addr = ua;
	struct vma_info v = { 0 };
	int in_range = 0, rc = -EFAULT;

	if (!f)
		return -EFAULT;
	while (addr < end && fgets(line, sizeof(line), f)) {
		unsigned long long s, e, kb, off, ino;
		unsigned maj, min;
		char perms[8];
		int pos = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &s, &e, perms, &off, &maj, &min,
			   &ino, &pos) >= 7) {
			size_t n;

			snprintf(name, sizeof(name), "%s", pos ? line + pos : "");
			n = strlen(name);
			if (n && name[n - 1] == '\n')
				name[n - 1] = 0;
			v = (struct vma_info){
				.start = s, .end = e, .off = off,
				.readable = perms[0] == 'r', .writable = perms[1] == 'w',
				.shared = perms[3] == 's',
				.inode = ino, .dev_major = maj, .name = name,
			};
			in_range = e > addr;
			if (in_range && s > addr)
				goto out;
			continue;
		}
		if (in_range && sscanf(line, "KernelPageSize: %llu kB", &kb) == 1) {
			uint64_t stop = v.end < end ? v.end : end;

			v.shift = util_ilog2(kb * 1024);
			rc = vma_add(l, &v, addr, stop, write);
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

/* Re-describes the runs with the oracle's page sizes (flags and VMAs kept). */
static int probe_apply_oracle(emu_page_shift_fn fn, void *ctx, uint64_t ua, uint64_t end,
			      struct run_list *l)
{
	struct run_list kern = *l;
	uint64_t addr = ua;
	unsigned k = 0;

	*l = (struct run_list){ 0 };
	while (addr < end) {
		uint64_t run_end = end, stop;
		unsigned shift = fn(ctx, addr, &run_end);
		int rc;

		if (run_end <= addr || shift < EMU_PAGE_SHIFT || shift >= EMU_UA_BITS) {
			free(kern.v);
			return -EFAULT;
		}
		while (kern.v[k].end <= addr)
			k++;
		stop = run_end < kern.v[k].end ? run_end : kern.v[k].end;
		rc = run_add(l, addr, stop, shift, &kern.v[k]);
		if (rc) {
			free(kern.v);
			return rc;
		}
		addr = stop;
	}
	free(kern.v);
	return 0;
}

int emu__mem_probe(uint64_t ua, uint64_t end, bool write, struct emu__backing_run **runs,
		    unsigned *nruns)
{
	struct run_list l = { 0 };
	emu_page_shift_fn fn = __atomic_load_n(&probe_oracle, __ATOMIC_ACQUIRE);
	int rc = -ENOTTY;

	if (!__atomic_load_n(&probe_force_smaps, __ATOMIC_RELAXED)) {
		int fd = emu__mem_maps_fd();

		if (fd < 0)
			return -EFAULT;
		rc = probe_procmap(fd, ua, end, write, &l);
	}
	if (rc == -ENOTTY) {
		l.n = 0;
		rc = probe_smaps(ua, end, write, &l);
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
