/* SPDX-License-Identifier: MIT */
/*
 * The lines of a recorded trace (spapr/record_fmt.h): one formatter for
 * the library's recorder (spapr/record.c) and the drop-in layer's
 * (dropin/trace.c), so that a request is written the same way whoever
 * recorded it, and a change of the trace language is made once.
 *
 * Why memory areas are runs of mappings read from /proc/self/smaps: a
 * replay allocates its own memory, so an address the program passed must
 * be written relative to something the replay can make: an area the size
 * of the program's memory around it.  DPDK's 16,384 registrations of one
 * 64 MiB mapping then use one name (a trace has at most 256).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spapr/record_fmt.h"

void spapr__rec_printf(struct spapr_rec *r, const char *fmt, ...)
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
	r->write(r->ctx, s, (size_t)n);
}

const char *spapr__rec_errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "E?";
}

const char *spapr__rec_expect(long rc, int err, char *buf, size_t n)
{
	if (rc < 0)
		return spapr__rec_errname(err);
	if (rc == 0)
		return "ok";
	snprintf(buf, n, "%ld", rc);
	return buf;
}

/* ------------------------------------------------------------- memory areas */

struct vma {
	uintptr_t start, end;
	bool readable, huge, shared;
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
			v[(*n)++] = (struct vma){ s, e, perms[0] == 'r', false, perms[3] == 's' };
		} else if (*n && sscanf(line, "KernelPageSize: %lu kB", &kps) == 1) {
			v[*n - 1].huge = kps >= 2048;
		}
	}
	fclose(f);
	return v;
}

/*
 * The run of adjacent readable mappings around @addr with its page size
 * and sharing (MAP_SHARED or private: the emulator pins them differently,
 * so a replay maps the same kind): REGISTER pins page by page and so
 * splits a mapping into pieces that change as it goes; the run stays.
 * 0 or -ENOENT.
 */
static int area_of(uintptr_t addr, uintptr_t *start, uintptr_t *end, bool *huge, bool *shared)
{
	size_t n, i, lo, hi;
	struct vma *v = read_vmas(&n);
	int rc = -ENOENT;

	for (i = 0; i < n; i++)
		if (addr >= v[i].start && addr < v[i].end)
			break;
	if (i < n && v[i].readable) {
		for (lo = i; lo > 0 && v[lo - 1].readable && v[lo - 1].end == v[lo].start &&
			     v[lo - 1].huge == v[i].huge && v[lo - 1].shared == v[i].shared; lo--)
			;
		for (hi = i; hi + 1 < n && v[hi + 1].readable && v[hi + 1].start == v[hi].end &&
			     v[hi + 1].huge == v[i].huge && v[hi + 1].shared == v[i].shared; hi++)
			;
		*start = v[lo].start;
		*end = v[hi].end;
		*huge = v[i].huge;
		*shared = v[i].shared;
		rc = 0;
	}
	free(v);
	return rc;
}

/* Writes @addr as NAME+OFF of an area (defining it first), or as a number. */
static void addr_name(struct spapr_rec *r, uintptr_t addr, char *buf, size_t n)
{
	uintptr_t start, end;
	bool huge, shared;
	unsigned i;

	for (i = 0; i < r->nareas; i++)
		if (addr >= r->areas[i].start && addr < r->areas[i].end)
			break;
	if (i == r->nareas) {
		if (r->nareas == SPAPR_REC_AREAS || area_of(addr, &start, &end, &huge, &shared)) {
			snprintf(buf, n, "0x%llx", (unsigned long long)addr);
			return;
		}
		r->areas[i].start = start;
		r->areas[i].end = end;
		r->areas[i].huge = huge;
		r->nareas++;
		spapr__rec_printf(r, "mem m%u 0x%llx%s%s => ok\t# the program's mapping at 0x%llx\n", i,
				  (unsigned long long)(end - start), huge ? " huge" : "", shared ? " shared" : "",
				  (unsigned long long)start);
	}
	snprintf(buf, n, "m%u+0x%llx", i, (unsigned long long)(addr - r->areas[i].start));
}

/* ---------------------------------------------------------------- requests */

static const char *dir_of(uint32_t flags)
{
	static const char *const d[] = { "none", "r", "w", "rw" };

	return d[flags & 3];
}

void spapr__rec_ioctl(struct spapr_rec *r, const char *name, char kind, unsigned long req, uintptr_t arg,
		      const void *before, size_t before_len, long result, int err, const char *target)
{
	unsigned char b[64] = { 0 };
	const uint32_t *w = (const uint32_t *)b;
	char e[24], a1[64], opt[64];
	const char *x = spapr__rec_expect(result, err, e, sizeof(e));

	memcpy(b, before, before_len < sizeof(b) ? before_len : sizeof(b));
	if (kind == 'd') {
		spapr__rec_printf(r, "# device %s: request 0x%lx => %s\n", name, req, x);
		return;
	}
	/* argsz and flags as the program gave them (the replay's defaults may differ). */
	if (before_len >= 8)
		snprintf(opt, sizeof(opt), " argsz=%u flags=0x%x", w[0], w[1]);
	else
		opt[0] = 0;
	switch (req) {
	case VFIO_GET_API_VERSION:
		spapr__rec_printf(r, "api_version %s => %s\n", name, x);
		break;
	case VFIO_CHECK_EXTENSION:
		if (kind == 'c')
			spapr__rec_printf(r, "check_extension %s %lu => %s\n", name, (unsigned long)arg, x);
		else
			spapr__rec_printf(r, "ioctl %s 0x%lx => %s\n", name, req, x);
		break;
	case VFIO_SET_IOMMU:
		spapr__rec_printf(r, "set_iommu %s %lu => %s\n", name, (unsigned long)arg, x);
		break;
	case VFIO_GROUP_SET_CONTAINER:
		if (!target)
			snprintf(a1, sizeof(a1), "%d", before_len >= sizeof(int) ? *(const int *)b : -1);
		spapr__rec_printf(r, "set_container %s %s => %s\n", name, target ? target : a1, x);
		break;
	case VFIO_GROUP_UNSET_CONTAINER:
		spapr__rec_printf(r, "unset_container %s => %s\n", name, x);
		break;
	case VFIO_IOMMU_SPAPR_TCE_GET_INFO:
		if (result == 0 && arg) {
			const struct vfio_iommu_spapr_tce_info *i = (const void *)arg;

			spapr__rec_printf(r, "get_info %s argsz=%u => ok dma32_start=0x%x dma32_size=0x%x flags=%u"
					  " pgsizes=0x%llx windows=%u levels=%u\n", name, w[0], i->dma32_window_start,
					  i->dma32_window_size, i->flags, (unsigned long long)i->ddw.pgsizes,
					  i->ddw.max_dynamic_windows_supported, i->ddw.levels);
		} else {
			spapr__rec_printf(r, "get_info %s%s => %s\n", name, opt, x);
		}
		break;
	case VFIO_IOMMU_SPAPR_REGISTER_MEMORY:
	case VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: {
		const struct vfio_iommu_spapr_register_memory *m = (const void *)b;

		addr_name(r, (uintptr_t)m->vaddr, a1, sizeof(a1));
		spapr__rec_printf(r, "%s %s %s 0x%llx%s => %s\n",
				  req == VFIO_IOMMU_SPAPR_REGISTER_MEMORY ? "register" : "unregister", name, a1,
				  (unsigned long long)m->size, opt, x);
		break;
	}
	case VFIO_IOMMU_MAP_DMA: {
		const struct vfio_iommu_type1_dma_map *m = (const void *)b;

		addr_name(r, (uintptr_t)m->vaddr, a1, sizeof(a1));
		spapr__rec_printf(r, "map %s %s 0x%llx 0x%llx %s%s => %s\n", name, a1, (unsigned long long)m->iova,
				  (unsigned long long)m->size, dir_of(m->flags), opt, x);
		break;
	}
	case VFIO_IOMMU_UNMAP_DMA: {
		const struct vfio_iommu_type1_dma_unmap *m = (const void *)b;

		spapr__rec_printf(r, "unmap %s 0x%llx 0x%llx%s => %s\n", name, (unsigned long long)m->iova,
				  (unsigned long long)m->size, opt, x);
		break;
	}
	case VFIO_IOMMU_SPAPR_TCE_CREATE: {
		const struct vfio_iommu_spapr_tce_create *m = (const void *)b;

		if (result == 0 && arg)
			snprintf(a1, sizeof(a1), " start=0x%llx",
				 (unsigned long long)((const struct vfio_iommu_spapr_tce_create *)arg)->start_addr);
		else
			a1[0] = 0;
		spapr__rec_printf(r, "create %s %u 0x%llx %u%s => %s%s\n", name, m->page_shift,
				  (unsigned long long)m->window_size, m->levels, opt, x, a1);
		break;
	}
	case VFIO_IOMMU_SPAPR_TCE_REMOVE: {
		const struct vfio_iommu_spapr_tce_remove *m = (const void *)b;

		spapr__rec_printf(r, "remove %s 0x%llx%s => %s\n", name, (unsigned long long)m->start_addr, opt, x);
		break;
	}
	case VFIO_IOMMU_ENABLE:
		spapr__rec_printf(r, "enable %s => %s\n", name, x);
		break;
	case VFIO_IOMMU_DISABLE:
		spapr__rec_printf(r, "disable %s => %s\n", name, x);
		break;
	default:
		if (result < 0 && err == ENOTTY)
			spapr__rec_printf(r, "ioctl %s 0x%lx => ENOTTY\n", name, req);
		else
			spapr__rec_printf(r, "# %s: request 0x%lx => %s (no replay line for it)\n", name, req, x);
		break;
	}
}
