/* SPDX-License-Identifier: MIT */
/*
 * The recorder for programs that call the fd API directly: with
 * SPAPRTCE_TRACE=FILE in the environment, the first spapr_open_container
 * or spapr_open_group installs an observer (observe.c) that writes every
 * call as a `spaprtce replay` trace (docs/replay.md) with the result the
 * program got, so that the run replays PASS.  The drop-in layer
 * (libspaprtce-preload.so) records its programs itself (it also records
 * the real kernel's answers in record mode) and says so by setting
 * SPAPRTCE_TRACE_OWNER to its process id: this recorder then stays off in
 * that process, so a trace is written once.
 *
 * Names: containers c1, c2 ..., groups g1 ... in the order the program
 * opened them (a failed group open is gfailK), device fds d1 ...; a name
 * lives while its fd is open.  Memory: a user address (REGISTER,
 * UNREGISTER, MAP's vaddr) is written as NAME+OFFSET in a `mem` area that
 * stands for the run of adjacent readable mappings of /proc/self/smaps
 * holding it with the same page size (`huge` for 2 MiB pages), defined on
 * first use; beyond 200 areas, or for an address in no mapping, the number
 * itself.  Requests the trace language has no line for (GROUP_GET_STATUS,
 * the device fd's, VFIO_EEH_PE_OP) and device reads, writes and mmaps are
 * comments with their results.
 *
 * Why installed only when no observer is set: a program (or a test) that
 * observes the calls itself keeps its observer; SPAPRTCE_TRACE gives way.
 * Only the process that opened the trace writes to it (a forked child's
 * calls are not the parent's sequence).  One line per call, each written
 * with one write(2) under the recorder's lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spapr/spapr_priv.h"

#define MAX_AREAS 200u
#define MAX_NAMES 1024u

struct area {
	uintptr_t start, end;
	bool huge;
};

struct name {
	int fd;			/* -1: free */
	char kind;		/* 'c', 'g', 'd' */
	unsigned id;
};

static pthread_once_t record_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static int record_fd = -1;
static pid_t record_pid;
static struct area areas[MAX_AREAS];
static unsigned nareas;
static struct name names[MAX_NAMES];
static unsigned counters[3], failed_groups;

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
	if (write(record_fd, s, (size_t)n) != n)
		return;	/* a full disk loses lines, never the program's call */
}

static const char *errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "E?";
}

static const char *expect(long rc, int err, char *buf, size_t n)
{
	if (rc < 0)
		return errname(err);
	if (rc == 0)
		return "ok";
	snprintf(buf, n, "%ld", rc);
	return buf;
}

/* --------------------------------------------------------------- names */

static void name_add(int fd, char kind)
{
	unsigned k = kind == 'c' ? 0 : kind == 'g' ? 1 : 2;

	for (unsigned i = 0; i < MAX_NAMES; i++)
		if (names[i].fd < 0) {
			names[i] = (struct name){ fd, kind, ++counters[k] };
			return;
		}
}

static struct name *name_find(int fd)
{
	for (unsigned i = 0; i < MAX_NAMES; i++)
		if (names[i].fd == fd && fd >= 0)
			return &names[i];
	return NULL;
}

/* The name of @fd ("c1"), or the number itself for an fd the program never opened here. */
static void name_of(int fd, char *buf, size_t n)
{
	struct name *nm = name_find(fd);

	if (nm)
		snprintf(buf, n, "%c%u", nm->kind, nm->id);
	else
		snprintf(buf, n, "%d", fd);
}

/* ------------------------------------------------------------- memory areas */

struct vma {
	uintptr_t start, end;
	bool readable, huge;
};

/* The mappings of /proc/self/smaps in address order (malloc'd, *n of them), or NULL. */
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
 * The run of adjacent readable mappings around @addr with its page size:
 * REGISTER pins page by page and so splits a mapping into pieces that
 * change as it goes; the run stays.  0 or -ENOENT.
 */
static int area_of(uintptr_t addr, struct area *a)
{
	size_t n, i, lo, hi;
	struct vma *v = read_vmas(&n);
	int rc = -ENOENT;

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
		if (nareas == MAX_AREAS || area_of(addr, &a)) {
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

static const char *dir_of(uint32_t flags)
{
	static const char *const d[] = { "none", "r", "w", "rw" };

	return d[flags & 3];
}

static void record_ioctl(const struct spapr_call_event *ev)
{
	unsigned char b[64] = { 0 };
	const uint32_t *w = (const uint32_t *)b;
	struct name *nm = name_find(ev->fd);
	char name[32], e[24], a1[64], opt[64];
	const char *x = expect(ev->result, ev->err, e, sizeof(e));
	unsigned long req = ev->request;
	uintptr_t arg = (uintptr_t)ev->arg;

	memcpy(b, ev->before, ev->before_len < sizeof(b) ? ev->before_len : sizeof(b));
	name_of(ev->fd, name, sizeof(name));
	if (nm && nm->kind == 'd') {
		out("# device %s: request 0x%lx => %s\n", name, req, x);
		return;
	}
	if (nm && nm->kind == 'g' && req == VFIO_GROUP_GET_DEVICE_FD) {
		if (ev->result >= 0)
			name_add((int)ev->result, 'd');
		out("# %s: VFIO_GROUP_GET_DEVICE_FD => %s (device fds have no replay line)\n", name, x);
		return;
	}
	/* argsz and flags as the program gave them (the replay's defaults may differ). */
	if (ev->before_len >= 8)
		snprintf(opt, sizeof(opt), " argsz=%u flags=0x%x", w[0], w[1]);
	else
		opt[0] = 0;
	switch (req) {
	case VFIO_GET_API_VERSION:
		out("api_version %s => %s\n", name, x);
		break;
	case VFIO_CHECK_EXTENSION:
		if (nm && nm->kind == 'c')
			out("check_extension %s %lu => %s\n", name, (unsigned long)arg, x);
		else
			out("ioctl %s 0x%lx => %s\n", name, req, x);
		break;
	case VFIO_SET_IOMMU:
		out("set_iommu %s %lu => %s\n", name, (unsigned long)arg, x);
		break;
	case VFIO_GROUP_SET_CONTAINER: {
		int cfd = ev->before_len >= sizeof(int) ? *(const int *)b : -1;
		struct name *c = name_find(cfd);

		if (c && c->kind == 'c')
			snprintf(a1, sizeof(a1), "c%u", c->id);
		else
			snprintf(a1, sizeof(a1), "%d", c ? 1000000 : cfd);
		out("set_container %s %s => %s\n", name, a1, x);
		break;
	}
	case VFIO_GROUP_UNSET_CONTAINER:
		out("unset_container %s => %s\n", name, x);
		break;
	case VFIO_IOMMU_SPAPR_TCE_GET_INFO:
		if (ev->result == 0) {
			const struct vfio_iommu_spapr_tce_info *i = ev->arg;

			out("get_info %s argsz=%u => ok dma32_start=0x%x dma32_size=0x%x flags=%u pgsizes=0x%llx"
			    " windows=%u levels=%u\n", name, w[0], i->dma32_window_start, i->dma32_window_size,
			    i->flags, (unsigned long long)i->ddw.pgsizes, i->ddw.max_dynamic_windows_supported,
			    i->ddw.levels);
		} else {
			out("get_info %s%s => %s\n", name, opt, x);
		}
		break;
	case VFIO_IOMMU_SPAPR_REGISTER_MEMORY:
	case VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: {
		const struct vfio_iommu_spapr_register_memory *m = (const void *)b;

		addr_name((uintptr_t)m->vaddr, a1, sizeof(a1));
		out("%s %s %s 0x%llx%s => %s\n", req == VFIO_IOMMU_SPAPR_REGISTER_MEMORY ? "register" : "unregister",
		    name, a1, (unsigned long long)m->size, opt, x);
		break;
	}
	case VFIO_IOMMU_MAP_DMA: {
		const struct vfio_iommu_type1_dma_map *m = (const void *)b;

		addr_name((uintptr_t)m->vaddr, a1, sizeof(a1));
		out("map %s %s 0x%llx 0x%llx %s%s => %s\n", name, a1, (unsigned long long)m->iova,
		    (unsigned long long)m->size, dir_of(m->flags), opt, x);
		break;
	}
	case VFIO_IOMMU_UNMAP_DMA: {
		const struct vfio_iommu_type1_dma_unmap *m = (const void *)b;

		out("unmap %s 0x%llx 0x%llx%s => %s\n", name, (unsigned long long)m->iova,
		    (unsigned long long)m->size, opt, x);
		break;
	}
	case VFIO_IOMMU_SPAPR_TCE_CREATE: {
		const struct vfio_iommu_spapr_tce_create *m = (const void *)b;

		if (ev->result == 0)
			snprintf(a1, sizeof(a1), " start=0x%llx",
				 (unsigned long long)((const struct vfio_iommu_spapr_tce_create *)ev->arg)->start_addr);
		else
			a1[0] = 0;
		out("create %s %u 0x%llx %u%s => %s%s\n", name, m->page_shift, (unsigned long long)m->window_size,
		    m->levels, opt, x, a1);
		break;
	}
	case VFIO_IOMMU_SPAPR_TCE_REMOVE: {
		const struct vfio_iommu_spapr_tce_remove *m = (const void *)b;

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
		if (ev->result < 0 && ev->err == ENOTTY && nm)
			out("ioctl %s 0x%lx => ENOTTY\n", name, req);
		else
			out("# %s: request 0x%lx => %s (no replay line for it)\n", name, req, x);
		break;
	}
}

static void record(void *ctx, const struct spapr_call_event *ev)
{
	char name[32], e[24];
	struct name *nm;

	(void)ctx;
	if (getpid() != record_pid)
		return;
	pthread_mutex_lock(&record_lock);
	switch (ev->call) {
	case SPAPR_CALL_OPEN_CONTAINER:
		if (ev->result >= 0) {
			name_add(ev->fd, 'c');
			name_of(ev->fd, name, sizeof(name));
			out("container %s => ok\n", name);
		} else {
			out("# spapr_open_container failed: %s\n", errname(ev->err));
		}
		break;
	case SPAPR_CALL_OPEN_GROUP:
		if (ev->result >= 0) {
			name_add(ev->fd, 'g');
			name_of(ev->fd, name, sizeof(name));
		} else {
			snprintf(name, sizeof(name), "gfail%u", ++failed_groups);
		}
		out("group %s %d => %s\n", name, ev->group, ev->result >= 0 ? "ok" : errname(ev->err));
		break;
	case SPAPR_CALL_IOCTL:
		record_ioctl(ev);
		break;
	case SPAPR_CALL_CLOSE:
		nm = name_find(ev->fd);
		name_of(ev->fd, name, sizeof(name));
		if (nm && nm->kind == 'd')
			out("# close %s => %s\n", name, expect(ev->result, ev->err, e, sizeof(e)));
		else if (nm || ev->result < 0)
			out("close %s => %s\n", name, expect(ev->result, ev->err, e, sizeof(e)));
		if (nm && ev->result == 0)
			nm->fd = -1;
		break;
	case SPAPR_CALL_PREAD:
	case SPAPR_CALL_PWRITE:
	case SPAPR_CALL_MMAP:
		name_of(ev->fd, name, sizeof(name));
		out("# %s %s len 0x%zx offset 0x%llx => %s\n",
		    ev->call == SPAPR_CALL_PREAD ? "pread" : ev->call == SPAPR_CALL_PWRITE ? "pwrite" : "mmap",
		    name, ev->len, (unsigned long long)ev->off, expect(ev->result, ev->err, e, sizeof(e)));
		break;
	}
	pthread_mutex_unlock(&record_lock);
}

static const struct spapr_observer recorder = { record, NULL };

static void record_open(void)
{
	const char *path = getenv("SPAPRTCE_TRACE"), *owner = getenv("SPAPRTCE_TRACE_OWNER");
	const struct spapr_observer *none = NULL;
	int fd, hi;

	if (!path || !*path || (owner && atoi(owner) == (int)getpid()))
		return;
	if (__atomic_load_n(&spapr__observer, __ATOMIC_ACQUIRE))
		return;	/* the program observes the calls itself */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "libspaprtce: cannot open SPAPRTCE_TRACE=%s: %s; no trace\n", path, strerror(errno));
		return;
	}
	/* At a high number, out of the way of a program that dup2s onto low ones. */
	hi = fcntl(fd, F_DUPFD_CLOEXEC, 900);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}
	for (unsigned i = 0; i < MAX_NAMES; i++)
		names[i].fd = -1;
	record_fd = fd;
	record_pid = getpid();
	out("# recorded by libspaprtce (pid %d): the program's spapr_* calls and their results\n",
	    (int)record_pid);
	if (!__atomic_compare_exchange_n(&spapr__observer, &none, &recorder, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		close(record_fd);
		record_fd = -1;
	}
}

void spapr__record_start(void)
{
	pthread_once(&record_once, record_open);
}
