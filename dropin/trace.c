/* SPDX-License-Identifier: MIT */
/*
 * The trace recorder: a program's requests written as a `spaprtce replay`
 * trace (docs/replay.md) with the results it got, so that the run becomes
 * a regression trace that replays PASS.
 *
 * Names: the container with handle id N is `cN`, the group `gN` (dups
 * share the name).  Memory: a replay allocates its own memory, so a user
 * address the program passed (REGISTER, UNREGISTER, MAP's vaddr) is written
 * as NAME+OFFSET inside a `mem` area that stands for the program's mapping
 * (its VMA in /proc/self/smaps) holding the address, defined on first use
 * with the mapping's size, and `huge` when its pages are 2 MiB hugetlb
 * pages.  One area per mapping keeps DPDK's 16,384 registrations of one
 * 64 MiB mapping to one name (a trace has at most 256 names).  An address
 * in no mapping is written as a number.
 *
 * Requests the replay language has no line for (GROUP_GET_STATUS, the device
 * fd's requests, VFIO_EEH_PE_OP) are written as comments with their result,
 * as is a failed open of the container.  The recorder writes only in the
 * process that opened the trace (a forked child's requests are not the
 * parent's sequence), one line per request, under a lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dropin/trace.h"

#define MAX_AREAS 200

struct area {
	uintptr_t start, end;
	bool huge;
};

static int trace_fd = -1;
static pid_t trace_pid;
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static struct area areas[MAX_AREAS];
static unsigned nareas;
static unsigned failed_groups;

int dropin__trace_fd(void)
{
	return trace_fd;
}

bool dropin__tracing(void)
{
	return trace_fd >= 0 && trace_pid == getpid();
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	char s[640];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(s, sizeof(s), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(s))
		n = sizeof(s) - 1;
	dropin__enter();
	dropin_real.write(trace_fd, s, (size_t)n);
	dropin__leave();
}

void dropin__trace_init(void)
{
	const char *path = getenv("SPAPRTCE_TRACE");

	if (!path || !*path)
		return;
	/* This process's trace is the layer's: the library's own recorder (spapr/record.c) stays off. */
	{
		char pid[16];

		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		setenv("SPAPRTCE_TRACE_OWNER", pid, 1);
	}
	dropin__enter();
	trace_fd = dropin__private_fd(dropin_real.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	dropin__leave();
	if (trace_fd < 0) {
		static const char msg[] = "libspaprtce-preload: cannot open SPAPRTCE_TRACE; no trace\n";

		dropin_real.write(2, msg, sizeof(msg) - 1);
		return;
	}
	trace_pid = getpid();
	out("# recorded by libspaprtce-preload (pid %d): the program's requests and their results\n",
	    (int)trace_pid);
}

static const char *expect(int rc, int err, char *buf, size_t n)
{
	if (rc < 0)
		return dropin__errname(err);
	if (rc == 0)
		return "ok";
	snprintf(buf, n, "%d", rc);
	return buf;
}

/* ------------------------------------------------------------- memory areas */

struct vma {
	uintptr_t start, end;
	bool readable, huge;
};

/* Reads /proc/self/smaps: the mappings in address order (malloc'd), or NULL. */
static struct vma *read_vmas(size_t *n)
{
	char line[512];
	struct vma *v = NULL, *nv;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	*n = 0;
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e, kps;
		char perms[8];

		/* A mapping's line starts with its range in lower-case hex; its fields with a capital. */
		if (((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) &&
		    sscanf(line, "%lx-%lx %7s", &s, &e, perms) == 3) {
			if (*n == cap) {
				cap = cap ? 2 * cap : 256;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv)
					break;
				v = nv;
			}
			v[(*n)++] = (struct vma){ s, e, perms[0] == 'r', false };
		} else if (*n && sscanf(line, "KernelPageSize: %lu kB", &kps) == 1) {
			v[*n - 1].huge = kps >= 2048;
		}
	}
	fclose(f);
	return v;
}

/*
 * Finds the memory holding @addr: the run of adjacent readable mappings
 * around it with the same page size.  A run, not one mapping: REGISTER pins
 * (mlocks) page by page and so splits the program's mapping into pieces
 * that change as it goes.  0 or -ENOENT.
 */
static int vma_of(uintptr_t addr, struct area *a)
{
	struct vma *v;
	size_t n, i, lo, hi;
	int rc = -ENOENT;

	dropin__enter();
	v = read_vmas(&n);
	for (i = 0; i < n; i++)
		if (addr >= v[i].start && addr < v[i].end)
			break;
	if (i < n && v[i].readable) {
		for (lo = i; lo > 0 && v[lo - 1].readable && v[lo - 1].end == v[lo].start &&
			     v[lo - 1].huge == v[i].huge; lo--)
			;
		for (hi = i; hi + 1 < n && v[hi + 1].readable && v[hi + 1].start == v[hi].end &&
			     v[hi + 1].huge == v[i].huge; hi++)
			;
		*a = (struct area){ v[lo].start, v[hi].end, v[i].huge };
		rc = 0;
	}
	free(v);
	dropin__leave();
	return rc;
}

/* Writes @addr as NAME+OFF of an area (defining it first), or as a number. */
static void addr_name(uintptr_t addr, char *buf, size_t n)
{
	struct area a;
	unsigned i;

	for (i = 0; i < nareas; i++)
		if (addr >= areas[i].start && addr < areas[i].end)
			break;
	if (i == nareas) {
		if (nareas == MAX_AREAS || vma_of(addr, &a)) {
			snprintf(buf, n, "0x%llx", (unsigned long long)addr);
			return;
		}
		areas[nareas++] = a;
		out("mem m%u 0x%llx%s => ok\t# the program's mapping at 0x%llx\n", i,
		    (unsigned long long)(a.end - a.start), a.huge ? " huge" : "", (unsigned long long)a.start);
	}
	snprintf(buf, n, "m%u+0x%llx", i, (unsigned long long)(addr - areas[i].start));
}

/* ---------------------------------------------------------------- requests */

static void name_of(const struct dropin_file *f, char *buf, size_t n)
{
	snprintf(buf, n, "%c%u", f->kind == DROPIN_CONTAINER ? 'c' : f->kind == DROPIN_GROUP ? 'g' : 'd',
		 f->id);
}

void dropin__trace_open(int group, int fd, int err, const struct dropin_file *f)
{
	char name[32], e[16];

	if (!dropin__tracing())
		return;
	pthread_mutex_lock(&trace_lock);
	if (group < 0) {
		if (fd >= 0 && f) {
			name_of(f, name, sizeof(name));
			out("container %s => ok\n", name);
		} else {
			out("# open(\"/dev/vfio/vfio\") failed: %s\n", dropin__errname(err));
		}
	} else {
		if (fd >= 0 && f)
			name_of(f, name, sizeof(name));
		else
			snprintf(name, sizeof(name), "gfail%u", ++failed_groups);
		out("group %s %d => %s\n", name, group, expect(fd >= 0 ? 0 : -1, err, e, sizeof(e)));
	}
	pthread_mutex_unlock(&trace_lock);
}

void dropin__trace_close(const struct dropin_file *f, bool last, int rc, int err)
{
	char name[32], e[16];

	if (!dropin__tracing() || f->kind == DROPIN_DEVICE)
		return;
	name_of(f, name, sizeof(name));
	pthread_mutex_lock(&trace_lock);
	if (last)
		out("close %s => %s\n", name, expect(rc, err, e, sizeof(e)));
	else
		out("# a dup of %s closed; it stays open\n", name);
	pthread_mutex_unlock(&trace_lock);
}

static const char *dir_of(uint32_t flags)
{
	static const char *const d[] = { "none", "r", "w", "rw" };

	return d[flags & 3];
}

void dropin__trace_ioctl(const struct dropin_file *f, unsigned long req, uintptr_t arg,
			 const void *argcopy, int rc, int err)
{
	const uint32_t *w = argcopy;
	char name[32], e[16], a1[64], opt[64];
	const char *x;

	if (!dropin__tracing())
		return;
	name_of(f, name, sizeof(name));
	x = expect(rc, err, e, sizeof(e));
	pthread_mutex_lock(&trace_lock);
	if (f->kind == DROPIN_DEVICE) {
		out("# device %s: request 0x%lx => %s\n", name, req, x);
		goto unlock;
	}
	/* argsz and flags as the program gave them (the replay's defaults may differ). */
	if (arg)
		snprintf(opt, sizeof(opt), " argsz=%u flags=0x%x", w[0], w[1]);
	else
		opt[0] = 0;
	switch (req) {
	case VFIO_GET_API_VERSION:
		out("api_version %s => %s\n", name, x);
		break;
	case VFIO_CHECK_EXTENSION:
		if (f->kind == DROPIN_CONTAINER)
			out("check_extension %s %lu => %s\n", name, (unsigned long)arg, x);
		else
			out("ioctl %s 0x%lx => %s\n", name, req, x);
		break;
	case VFIO_SET_IOMMU:
		out("set_iommu %s %lu => %s\n", name, (unsigned long)arg, x);
		break;
	case VFIO_GROUP_SET_CONTAINER: {
		const struct dropin_file *c = dropin__file(*(const int *)argcopy);

		if (c && c->kind == DROPIN_CONTAINER)
			name_of(c, a1, sizeof(a1));
		else
			snprintf(a1, sizeof(a1), "%d", c ? 1000000 : *(const int *)argcopy);
		out("set_container %s %s => %s\n", name, a1, x);
		break;
	}
	case VFIO_GROUP_UNSET_CONTAINER:
		out("unset_container %s => %s\n", name, x);
		break;
	case VFIO_IOMMU_SPAPR_TCE_GET_INFO:
		if (rc == 0 && arg) {
			const struct vfio_iommu_spapr_tce_info *i = (const void *)arg;

			out("get_info %s argsz=%u => ok dma32_start=0x%x dma32_size=0x%x flags=%u pgsizes=0x%llx"
			    " windows=%u levels=%u\n", name, w[0], i->dma32_window_start, i->dma32_window_size,
			    i->flags, (unsigned long long)i->ddw.pgsizes, i->ddw.max_dynamic_windows_supported,
			    i->ddw.levels);
		} else {
			out("get_info %s%s => %s\n", name, arg ? opt : "", x);
		}
		break;
	case VFIO_IOMMU_SPAPR_REGISTER_MEMORY:
	case VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: {
		const struct vfio_iommu_spapr_register_memory *m = argcopy;

		addr_name(m->vaddr, a1, sizeof(a1));
		out("%s %s %s 0x%llx%s => %s\n", req == VFIO_IOMMU_SPAPR_REGISTER_MEMORY ? "register" : "unregister",
		    name, a1, (unsigned long long)m->size, opt, x);
		break;
	}
	case VFIO_IOMMU_MAP_DMA: {
		const struct vfio_iommu_type1_dma_map *m = argcopy;

		addr_name(m->vaddr, a1, sizeof(a1));
		out("map %s %s 0x%llx 0x%llx %s%s => %s\n", name, a1, (unsigned long long)m->iova,
		    (unsigned long long)m->size, dir_of(m->flags), opt, x);
		break;
	}
	case VFIO_IOMMU_UNMAP_DMA: {
		const struct vfio_iommu_type1_dma_unmap *m = argcopy;

		out("unmap %s 0x%llx 0x%llx%s => %s\n", name, (unsigned long long)m->iova,
		    (unsigned long long)m->size, opt, x);
		break;
	}
	case VFIO_IOMMU_SPAPR_TCE_CREATE: {
		const struct vfio_iommu_spapr_tce_create *m = argcopy;

		out("create %s %u 0x%llx %u%s => %s", name, m->page_shift, (unsigned long long)m->window_size,
		    m->levels, opt, x);
		if (rc == 0)
			out(" start=0x%llx",
			    (unsigned long long)((const struct vfio_iommu_spapr_tce_create *)arg)->start_addr);
		out("\n");
		break;
	}
	case VFIO_IOMMU_SPAPR_TCE_REMOVE: {
		const struct vfio_iommu_spapr_tce_remove *m = argcopy;

		out("remove %s 0x%llx%s => %s\n", name, (unsigned long long)m->start_addr, opt, x);
		break;
	}
	case VFIO_IOMMU_ENABLE:
		out("enable %s => %s\n", name, x);
		break;
	case VFIO_IOMMU_DISABLE:
		out("disable %s => %s\n", name, x);
		break;
	default:
		if (rc < 0 && err == ENOTTY)
			out("ioctl %s 0x%lx => ENOTTY\n", name, req);
		else
			out("# %s: request 0x%lx => %s (no replay line for it)\n", name, req, x);
		break;
	}
unlock:
	pthread_mutex_unlock(&trace_lock);
}
