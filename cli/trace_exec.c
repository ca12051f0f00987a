/* SPDX-License-Identifier: MIT */
/*
 * cli/trace_exec.c: the executors of the process, memory, descriptor,
 * container, device and binding requests (docs/replay.md); the guest
 * path's are cli/trace_guest.c.  Each is named after its request and
 * reached through the request table (cli/trace_ops.c); each makes one call
 * of the library (or of the system, for memory) and puts what came back
 * into the result: an errno, a value, a byte mismatch.
 *
 * The sPAPR requests' structs sit in a zeroed 256-byte buffer (union
 * vfio_arg), so that a trace's argsz= larger than the struct is safe;
 * each struct starts with argsz and flags, which vfio_call() lets the
 * trace replace.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/trace.h"
#include "emu/emu.h"
#include "emu/mem.h"
#include "spapr/spapr.h"

#define MAX_XFER (1ull << 30)	/* largest dma_read/dma_write/fill/check, bytes */

#define VAL(k) cli__val(t, &r->a[k])
#define FD(k) cli__fd_of(t, &r->h[k])

static int errno_of(int rc)
{
	return rc < 0 ? errno : 0;
}

/* ------------------------------------------------------- process and memory */

void cli__do_memlock(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	res->err = errno_of(spapr_mm_set_memlock(VAL(0), (int)VAL(1)));
}

/* Makes @need 2 MiB pages free in the pool if we may (root), as cli/demo.c does. */
static void huge_reserve(struct cli_trace *t, long need)
{
	long prev;

	if (!emu_mem_hugetlb_reserve(CLI_HUGE_SHIFT, (uint64_t)need, &prev) && prev >= 0 && t->huge_prev < 0)
		t->huge_prev = prev;
}

/*
 * @size bytes of memory: private anonymous, or with @shared a memfd's pages
 * mapped MAP_SHARED (shmem, what DPDK's --no-huge memory is), on hugetlbfs
 * pages with @huge.  MAP_FAILED with errno set.
 */
static void *mem_map(uint64_t size, bool huge, bool shared)
{
	void *p;
	int fd;

	if (!shared)
		return mmap(NULL, size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | (huge ? MAP_HUGETLB : 0), -1, 0);
	fd = memfd_create("spaprtce-replay", MFD_CLOEXEC | (huge ? MFD_HUGETLB : 0));
	if (fd < 0)
		return MAP_FAILED;
	p = ftruncate(fd, (off_t)size) ? MAP_FAILED :
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);	/* the mapping keeps the file */
	return p;
}

void cli__do_mem(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct cli_sym *s = &t->syms[r->h[0].sym];
	uint64_t size = VAL(0), huge = 1ull << CLI_HUGE_SHIFT;
	void *p = MAP_FAILED;

	cli__mem_free(s);
	if (!size) {
		res->err = EINVAL;
		return;
	}
	if (r->huge) {
		size = (size + huge - 1) & ~(huge - 1);
		huge_reserve(t, (long)(size >> CLI_HUGE_SHIFT));
		p = mem_map(size, true, r->shared);
		s->shift = CLI_HUGE_SHIFT;
	}
	if (p == MAP_FAILED) {
		p = mem_map(size, false, r->shared);
		s->shift = EMU_PAGE_SHIFT;
	}
	if (p == MAP_FAILED) {
		res->err = errno;
		return;
	}
	s->addr = p;
	s->size = size;
}

void cli__do_munmap(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	res->err = munmap((void *)(uintptr_t)VAL(0), VAL(1)) ? errno : 0;
}

void cli__do_mprotect(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	res->err = mprotect((void *)(uintptr_t)VAL(0), VAL(1), (int)r->dir) ? errno : 0;
}

void cli__do_locked_vm(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	(void)t, (void)r;
	res->val = spapr_mm_locked_vm();
}

void cli__do_pinned(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct emu_mem_stats st;

	(void)t, (void)r;
	emu_mem_get_stats(&st);
	res->val = st.pinned_pages;
}

/* ------------------------------------------------------------- transfers */

/* A buffer of LEN (a[1]) bytes, of BYTE (a[2]) when @fill; NULL with res->err set. */
static uint8_t *xfer_buf(struct cli_trace *t, const struct cli_req *r, struct cli_result *res, bool fill)
{
	uint64_t len = VAL(1);
	uint8_t *buf;

	if (len > MAX_XFER) {
		res->err = E2BIG;
		return NULL;
	}
	buf = malloc(len ? len : 1);
	if (!buf) {
		res->err = ENOMEM;
		return NULL;
	}
	if (fill)
		memset(buf, (int)VAL(2), len);
	return buf;
}

/* Every byte of what was read must be BYTE (a[2]); the first that is not goes into res->mismatch. */
static void byte_check(struct cli_trace *t, const struct cli_req *r, struct cli_result *res,
		       const uint8_t *buf)
{
	uint64_t len = VAL(1);
	uint8_t want = (uint8_t)VAL(2);

	for (uint64_t i = 0; i < len; i++) {
		if (buf[i] != want) {
			snprintf(res->mismatch, sizeof(res->mismatch), "byte 0x%02x at offset %#" PRIx64,
				 buf[i], i);
			return;
		}
	}
}

void cli__do_fill(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	uint8_t *buf = xfer_buf(t, r, res, true);

	if (!buf)
		return;
	res->err = cli__cpu_rw(VAL(0), buf, VAL(1), true);
	free(buf);
}

void cli__do_check(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	uint8_t *buf = xfer_buf(t, r, res, false);

	if (!buf)
		return;
	res->err = cli__cpu_rw(VAL(0), buf, VAL(1), false);
	if (!res->err)
		byte_check(t, r, res, buf);
	free(buf);
}

void cli__do_dma_write(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	uint8_t *buf = xfer_buf(t, r, res, true);

	if (!buf)
		return;
	res->err = -emu_dma_write(cli__group_of(t, &r->h[0]), VAL(0), buf, VAL(1));
	free(buf);
}

void cli__do_dma_read(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	uint8_t *buf = xfer_buf(t, r, res, false);

	if (!buf)
		return;
	res->err = -emu_dma_read(cli__group_of(t, &r->h[0]), VAL(0), buf, VAL(1));
	if (!res->err && r->has_byte)
		byte_check(t, r, res, buf);
	free(buf);
}

/* ------------------------------------------------------------ descriptors */

void cli__do_container(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct cli_sym *s = &t->syms[r->h[0].sym];

	s->fd = spapr_open_container();
	res->err = errno_of(s->fd);
}

void cli__do_group(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct cli_sym *s = &t->syms[r->h[0].sym];

	s->group = (int)VAL(0);
	s->fd = spapr_open_group(s->group);
	res->err = errno_of(s->fd);
}

void cli__do_close(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	res->err = errno_of(spapr_close(FD(0)));
	if (!res->err && r->h[0].sym >= 0)
		t->syms[r->h[0].sym].fd = -1;
}

static int io(int fd, unsigned long req, void *arg)
{
	return errno_of(spapr_ioctl(fd, req, arg));
}

void cli__do_set_container(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	int cfd = FD(1);

	res->err = io(FD(0), VFIO_GROUP_SET_CONTAINER, &cfd);
}

void cli__do_unset_container(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	res->err = io(FD(0), VFIO_GROUP_UNSET_CONTAINER, NULL);
}

void cli__do_set_iommu(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	res->err = io(FD(0), VFIO_SET_IOMMU, (void *)(uintptr_t)r->iommu_type);
}

/* A request whose answer is a value: @arg is passed as the ioctl's argument itself. */
static void value_call(struct cli_result *res, int fd, unsigned long req, unsigned long arg)
{
	int rc = spapr_ioctl(fd, req, arg);

	res->err = errno_of(rc);
	res->val = rc < 0 ? 0 : (uint64_t)rc;
}

void cli__do_check_extension(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	value_call(res, FD(0), VFIO_CHECK_EXTENSION, (unsigned long)VAL(0));
}

void cli__do_api_version(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	value_call(res, FD(0), VFIO_GET_API_VERSION, 0);
}

void cli__do_ioctl(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	value_call(res, FD(0), (unsigned long)VAL(0), 0);
}

/* ------------------------------------------------------- the sPAPR requests */

union vfio_arg {
	struct {
		uint32_t argsz, flags;
	} head;
	struct vfio_iommu_spapr_register_memory reg;
	struct vfio_iommu_type1_dma_map map;
	struct vfio_iommu_type1_dma_unmap unmap;
	struct vfio_iommu_spapr_tce_create create;
	struct vfio_iommu_spapr_tce_remove remove;
	struct vfio_iommu_spapr_tce_info info;
	uint8_t pad[256];
};

/* @u filled with the request's struct and its own argsz: the trace's options, then the call. */
static void vfio_call(struct cli_trace *t, const struct cli_req *r, struct cli_result *res,
		      unsigned long req, union vfio_arg *u)
{
	int rc;

	if (r->has_argsz)
		u->head.argsz = (uint32_t)cli__val(t, &r->argsz);
	if (r->has_flags)
		u->head.flags = (uint32_t)cli__val(t, &r->flags);
	/* A positive result is kept: quirks=kernel answers +1 (Q1) or a page count (Q5). */
	rc = spapr_ioctl(FD(0), req, u);
	res->err = errno_of(rc);
	res->val = rc < 0 ? 0 : (uint64_t)rc;
}

void cli__do_get_info(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	union vfio_arg u = { .info.argsz = sizeof(u.info) };

	/* flags is only written back here: argsz= alone applies */
	if (r->has_argsz)
		u.info.argsz = (uint32_t)cli__val(t, &r->argsz);
	res->err = io(FD(0), VFIO_IOMMU_SPAPR_TCE_GET_INFO, &u);
	res->info = u.info;
}

static void reg_call(struct cli_trace *t, const struct cli_req *r, struct cli_result *res, unsigned long req)
{
	union vfio_arg u = { .reg = { .argsz = sizeof(u.reg), .vaddr = VAL(0), .size = VAL(1) } };

	vfio_call(t, r, res, req, &u);
}

void cli__do_register(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	reg_call(t, r, res, VFIO_IOMMU_SPAPR_REGISTER_MEMORY);
}

void cli__do_unregister(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	reg_call(t, r, res, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY);
}

void cli__do_map(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	union vfio_arg u = { .map = { .argsz = sizeof(u.map), .flags = r->dir, .vaddr = VAL(0),
				      .iova = VAL(1), .size = VAL(2) } };

	vfio_call(t, r, res, VFIO_IOMMU_MAP_DMA, &u);
}

void cli__do_unmap(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	union vfio_arg u = { .unmap = { .argsz = sizeof(u.unmap), .iova = VAL(0), .size = VAL(1) } };

	vfio_call(t, r, res, VFIO_IOMMU_UNMAP_DMA, &u);
}

void cli__do_create(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	union vfio_arg u = { .create = { .argsz = sizeof(u.create), .page_shift = (uint32_t)VAL(0),
					 .window_size = VAL(1), .levels = (uint32_t)VAL(2) } };

	vfio_call(t, r, res, VFIO_IOMMU_SPAPR_TCE_CREATE, &u);
	res->start = u.create.start_addr;
}

void cli__do_remove(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	union vfio_arg u = { .remove = { .argsz = sizeof(u.remove), .start_addr = VAL(0) } };

	vfio_call(t, r, res, VFIO_IOMMU_SPAPR_TCE_REMOVE, &u);
}

void cli__do_enable(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	res->err = io(FD(0), VFIO_IOMMU_ENABLE, NULL);
}

void cli__do_disable(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	res->err = io(FD(0), VFIO_IOMMU_DISABLE, NULL);
}

/* ----------------------------------------------------------------- binding */

/* The child request runs in a forked child; its result comes back through a pipe. */
void cli__do_fork_expect(struct cli_trace *t, const struct cli_req *r, struct cli_result *res)
{
	struct cli_result cres;
	int pfd[2], status = 0;
	pid_t pid;

	if (pipe(pfd)) {
		res->err = errno;
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		res->err = errno;
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (!pid) {
		close(pfd[0]);
		memset(&cres, 0, sizeof(cres));
		r->child->op->exec(t, r->child, &cres);
		if (write(pfd[1], &cres, sizeof(cres)) != (ssize_t)sizeof(cres))
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], res, sizeof(*res)) != (ssize_t)sizeof(*res)) {
		memset(res, 0, sizeof(*res));
		snprintf(res->mismatch, sizeof(res->mismatch), "the child died before answering");
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status))
		snprintf(res->mismatch, sizeof(res->mismatch), "the child was killed by signal %d",
			 WTERMSIG(status));
}
