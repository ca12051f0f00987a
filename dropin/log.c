/* SPDX-License-Identifier: MIT */
/*
 * The request log (SPAPRTCE_LOG=FILE, `spaprtce exec --log FILE`).
 *
 * One line per request a program makes of the emulated VFIO: an open of
 * /dev/vfio/..., each ioctl on one of our descriptors, each close, and each
 * device read, write or mmap.  A line names the descriptor as the program
 * sees it and the handle behind it (kind#id: dups share the id), the
 * request by its <linux/vfio.h> name, the arguments the backend reads,
 * decoded in the units of the documentation (addresses and sizes in bytes,
 * hex), then "= RESULT" with the errno name on failure, and what the
 * request wrote back on success (`-> ...`).  The argument is read twice:
 * before the call (what the program asked) and after it (what the backend
 * answered), both with process_vm_readv so that a bad pointer is logged,
 * not dereferenced.
 *
 * The file is opened with O_APPEND (several processes, e.g. a forked
 * child, may write the same log), each line written with one write(2).
 * The trace recorder (dropin/trace.c) is fed from the same points.
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

#include "dropin/dropin.h"
#include "dropin/trace.h"
#include "spapr/spapr.h"

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static int log_fd = -1;

static void log_open(void)
{
	const char *path = getenv("SPAPRTCE_LOG");

	dropin__resolve();
	if (path && *path) {
		dropin__enter();
		log_fd = dropin__private_fd(dropin_real.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
		dropin__leave();
		if (log_fd < 0) {
			static const char msg[] = "libspaprtce-preload: cannot open SPAPRTCE_LOG; no log\n";

			dropin_real.write(2, msg, sizeof(msg) - 1);
		}
	}
	dropin__trace_init();
	dropin__stats_init();
	dropin__eeh_ctl_start();
}

void dropin__log_init(void)
{
	pthread_once(&log_once, log_open);
}

/*
 * The log's and the trace's descriptors are the layer's, not the
 * program's: they live at a high number (so that a program's dup2 onto a
 * low number does not meet them) and the close hook leaves them open.
 */
int dropin__private_fd(int fd)
{
	int nfd;

	if (fd < 0)
		return fd;
	nfd = dropin_real.fcntl(fd, F_DUPFD_CLOEXEC, 900);
	if (nfd < 0)
		return fd;
	dropin_real.close(fd);
	return nfd;
}

bool dropin__is_private_fd(int fd)
{
	return fd >= 900 && (fd == log_fd || dropin__trace_fd() == fd);
}

bool dropin__logging(void)
{
	dropin__log_init();
	return log_fd >= 0 || dropin__tracing();
}

const char *dropin__errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "E?";
}

struct line {
	char s[512];
	size_t n;
};

static void add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (l->n >= sizeof(l->s))
		return;
	va_start(ap, fmt);
	k = vsnprintf(l->s + l->n, sizeof(l->s) - l->n, fmt, ap);
	va_end(ap);
	l->n += k > 0 ? (size_t)k : 0;
	if (l->n >= sizeof(l->s))
		l->n = sizeof(l->s) - 1;
}

static void emit(struct line *l)
{
	if (log_fd < 0)
		return;
	add(l, "\n");
	dropin__enter();
	dropin_real.write(log_fd, l->s, l->n);
	dropin__leave();
}

static void result(struct line *l, long rc, int err)
{
	if (rc < 0)
		add(l, " = -1 %s", dropin__errname(err));
	else
		add(l, " = %ld", rc);
}

static void who(struct line *l, int fd, const struct dropin_file *f)
{
	add(l, "%d %s#%u", fd, dropin__kind_name(f->kind), f->id);
}

void dropin__log_open(const char *path, int group, int fd, int err, const struct dropin_file *f)
{
	struct line l = { .n = 0 };

	dropin__trace_open(group, fd, err, f);
	if (log_fd < 0)
		return;
	add(&l, "open(\"%s\")", path);
	result(&l, fd, err);
	if (fd >= 0 && f)
		add(&l, " %s#%u", dropin__kind_name(f->kind), f->id);
	emit(&l);
}

void dropin__log_close(int fd, const struct dropin_file *f, bool last, int rc, int err)
{
	struct line l = { .n = 0 };

	dropin__trace_close(f, last, rc, err);
	if (log_fd < 0)
		return;
	add(&l, "close(");
	who(&l, fd, f);
	add(&l, ")");
	result(&l, rc, err);
	if (last && dropin__backend()->real)
		add(&l, " released");
	else if (last)
		add(&l, " released; locked_vm %llu pages", (unsigned long long)spapr_mm_locked_vm());
	else
		add(&l, " (%s#%u still open through another descriptor)", dropin__kind_name(f->kind), f->id);
	emit(&l);
}

void dropin__log_rw(const char *what, int fd, const struct dropin_file *f, size_t n, off_t off,
		    ssize_t rc, int err)
{
	struct line l = { .n = 0 };

	if (log_fd < 0)
		return;
	add(&l, "%s(", what);
	who(&l, fd, f);
	add(&l, ", len 0x%zx, offset 0x%llx)", n, (unsigned long long)off);
	result(&l, rc, err);
	emit(&l);
}

static const char *req_name(unsigned long req)
{
#define N(x)          \
	case x:       \
		return #x
	switch (req) {
		N(VFIO_GET_API_VERSION);
		N(VFIO_CHECK_EXTENSION);
		N(VFIO_SET_IOMMU);
		N(VFIO_GROUP_GET_STATUS);
		N(VFIO_GROUP_SET_CONTAINER);
		N(VFIO_GROUP_UNSET_CONTAINER);
		N(VFIO_GROUP_GET_DEVICE_FD);
		N(VFIO_DEVICE_GET_INFO);
		N(VFIO_DEVICE_GET_REGION_INFO);
		N(VFIO_DEVICE_GET_IRQ_INFO);
		N(VFIO_DEVICE_SET_IRQS);
		N(VFIO_DEVICE_RESET);
		N(VFIO_IOMMU_MAP_DMA);
		N(VFIO_IOMMU_UNMAP_DMA);
		N(VFIO_IOMMU_ENABLE);
		N(VFIO_IOMMU_DISABLE);
		N(VFIO_IOMMU_SPAPR_TCE_GET_INFO);
		N(VFIO_EEH_PE_OP);
		N(VFIO_IOMMU_SPAPR_REGISTER_MEMORY);
		N(VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY);
		N(VFIO_IOMMU_SPAPR_TCE_CREATE);
		N(VFIO_IOMMU_SPAPR_TCE_REMOVE);
	}
#undef N
	return NULL;
}

/* The arguments as the backend reads them (@b: the argument before the call). */
static void args(struct line *l, unsigned long req, uintptr_t arg, const unsigned char *b)
{
	switch (req) {
	case VFIO_CHECK_EXTENSION:
	case VFIO_SET_IOMMU:
		add(l, " %lu", (unsigned long)arg);
		return;
	case VFIO_GET_API_VERSION:
	case VFIO_GROUP_UNSET_CONTAINER:
	case VFIO_IOMMU_ENABLE:
	case VFIO_IOMMU_DISABLE:
	case VFIO_DEVICE_RESET:
		return;
	case VFIO_GROUP_SET_CONTAINER:
		add(l, " container fd %d", *(const int *)b);
		return;
	case VFIO_GROUP_GET_DEVICE_FD: {
		char name[64];

		memcpy(name, b, sizeof(name) - 1);
		name[sizeof(name) - 1] = 0;
		add(l, " \"%s\"", name);
		return;
	}
	}
	if (!arg) {
		add(l, " NULL");
		return;
	}
	add(l, " argsz %u", *(const uint32_t *)b);
	switch (req) {
	case VFIO_IOMMU_MAP_DMA: {
		const struct vfio_iommu_type1_dma_map *m = (const void *)b;

		add(l, " flags 0x%x vaddr 0x%llx iova 0x%llx size 0x%llx", m->flags,
		    (unsigned long long)m->vaddr, (unsigned long long)m->iova, (unsigned long long)m->size);
		break;
	}
	case VFIO_IOMMU_UNMAP_DMA: {
		const struct vfio_iommu_type1_dma_unmap *m = (const void *)b;

		add(l, " flags 0x%x iova 0x%llx size 0x%llx", m->flags, (unsigned long long)m->iova,
		    (unsigned long long)m->size);
		break;
	}
	case VFIO_IOMMU_SPAPR_REGISTER_MEMORY:
	case VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: {
		const struct vfio_iommu_spapr_register_memory *m = (const void *)b;

		add(l, " flags 0x%x vaddr 0x%llx size 0x%llx", m->flags, (unsigned long long)m->vaddr,
		    (unsigned long long)m->size);
		break;
	}
	case VFIO_IOMMU_SPAPR_TCE_CREATE: {
		const struct vfio_iommu_spapr_tce_create *m = (const void *)b;

		add(l, " flags 0x%x page_shift %u window_size 0x%llx levels %u", m->flags, m->page_shift,
		    (unsigned long long)m->window_size, m->levels);
		break;
	}
	case VFIO_IOMMU_SPAPR_TCE_REMOVE: {
		const struct vfio_iommu_spapr_tce_remove *m = (const void *)b;

		add(l, " flags 0x%x start_addr 0x%llx", m->flags, (unsigned long long)m->start_addr);
		break;
	}
	case VFIO_EEH_PE_OP: {
		const struct vfio_eeh_pe_op *m = (const void *)b;

		add(l, " flags 0x%x op %u", m->flags, m->op);
		break;
	}
	case VFIO_DEVICE_GET_REGION_INFO:
	case VFIO_DEVICE_GET_IRQ_INFO:
		add(l, " index %u", ((const uint32_t *)b)[2]);
		break;
	case VFIO_DEVICE_SET_IRQS: {
		const struct vfio_irq_set *m = (const void *)b;

		add(l, " flags 0x%x index %u start %u count %u", m->flags, m->index, m->start, m->count);
		break;
	}
	default:
		break;
	}
}

/* What a successful request wrote back (@arg read again after the call). */
static void answer(struct line *l, unsigned long req, uintptr_t arg)
{
	unsigned char a[64];

	if (!arg || dropin__peek(a, (const void *)arg, sizeof(a)))
		return;
	switch (req) {
	case VFIO_GROUP_GET_STATUS:
		add(l, " -> flags 0x%x", ((const uint32_t *)a)[1]);
		break;
	case VFIO_IOMMU_SPAPR_TCE_GET_INFO: {
		const struct vfio_iommu_spapr_tce_info *i = (const void *)a;

		add(l, " -> flags 0x%x dma32 start 0x%x size 0x%x ddw{pgsizes 0x%llx max_windows %u levels %u}",
		    i->flags, i->dma32_window_start, i->dma32_window_size,
		    (unsigned long long)i->ddw.pgsizes, i->ddw.max_dynamic_windows_supported, i->ddw.levels);
		break;
	}
	case VFIO_IOMMU_SPAPR_TCE_CREATE:
		add(l, " -> start_addr 0x%llx",
		    (unsigned long long)((const struct vfio_iommu_spapr_tce_create *)a)->start_addr);
		break;
	case VFIO_DEVICE_GET_INFO: {
		const struct vfio_device_info *i = (const void *)a;

		add(l, " -> flags 0x%x num_regions %u num_irqs %u", i->flags, i->num_regions, i->num_irqs);
		break;
	}
	case VFIO_DEVICE_GET_REGION_INFO: {
		const struct vfio_region_info *i = (const void *)a;

		add(l, " -> flags 0x%x size 0x%llx offset 0x%llx", i->flags, (unsigned long long)i->size,
		    (unsigned long long)i->offset);
		break;
	}
	case VFIO_DEVICE_GET_IRQ_INFO: {
		const struct vfio_irq_info *i = (const void *)a;

		add(l, " -> flags 0x%x count %u", i->flags, i->count);
		break;
	}
	default:
		break;
	}
}

void dropin__log_ioctl(int fd, const struct dropin_file *f, unsigned long req, uintptr_t arg,
		       const void *argcopy, int rc, int err)
{
	struct line l = { .n = 0 };
	/* Device and container request numbers overlap (VFIO_BASE + 17 is both). */
	const char *name = f->kind == DROPIN_DEVICE && req == VFIO_DEVICE_FEATURE ? "VFIO_DEVICE_FEATURE"
										 : req_name(req);

	dropin__trace_ioctl(f, req, arg, argcopy, rc, err);
	if (log_fd < 0)
		return;
	add(&l, "ioctl(");
	who(&l, fd, f);
	if (name) {
		add(&l, ", %s", name);
		args(&l, req, arg, argcopy);
	} else {
		add(&l, ", request 0x%lx arg 0x%llx", req, (unsigned long long)arg);
	}
	add(&l, ")");
	result(&l, rc, err);
	if (rc >= 0) {
		if (req == VFIO_GROUP_GET_DEVICE_FD)
			add(&l, " device");
		else
			answer(&l, req, arg);
	}
	emit(&l);
}
