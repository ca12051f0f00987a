/* SPDX-License-Identifier: MIT */
/*
 * The copy of a request's argument (spapr/uaccess.c): an argument on the
 * calling thread's live stack is copied directly, anything else through
 * process_vm_readv/writev, and every bad pointer still gives EFAULT.
 *
 * The stack's top is the edge of the fast path: a thread runs on a stack we
 * allocate with a PROT_NONE page right above it, and an argument that
 * starts inside the stack and runs into that page must give EFAULT (a
 * direct copy would crash).  Arguments on the main thread's stack, a
 * thread's stack and a coroutine's stack (makecontext: the stack pointer
 * is then outside the thread's stack, so the system call is used), on the
 * heap, and straddling into an unmapped page, all behave as the kernel's
 * copy_from_user/copy_to_user would.
 */
#define _GNU_SOURCE
#include <linux/vfio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "emu/mem.h"
#include "spapr/spapr.h"
#include "tests/testutil.h"

#define PS EMU_PAGE_SIZE
#define GROUP 0
#define STACK_PAGES 64u

static int cfd = -1, gfd = -1;
static uint8_t *reg;	/* one registered page: binds the container to us (UNREGISTER's EPERM) */

static void setup(void)
{
	cfd = tu_open_v2(GROUP, &gfd);
	ck_assert_int_ge(cfd, 0);
	reg = tu_map(1);
	tu_register_ok(cfd, reg, PS);
}

static void teardown(void)
{
	tu_unregister_ok(cfd, reg, PS);
	tu_unmap(reg, 1);
	tu_close_ok(gfd);
	tu_close_ok(cfd);
	tu_assert_clean();
}

/* GET_INFO (copied in, then out) through @info: its result, or -errno; fields checked on success. */
static int get_info(struct vfio_iommu_spapr_tce_info *info)
{
	int rc;

	memset(info, 0xa5, sizeof(*info));
	info->argsz = sizeof(*info);
	info->flags = 0;
	rc = tu_ioctl(cfd, VFIO_IOMMU_SPAPR_TCE_GET_INFO, info);
	if (!rc) {
		ck_assert_uint_eq(info->dma32_window_size, 2ull << 30);
		ck_assert_uint_eq(info->ddw.pgsizes & (1ull << 12), 1ull << 12);
	}
	return rc;
}

/* GET_INFO with the argument in this function's frame: on the live stack. */
static void info_on_stack(void)
{
	struct vfio_iommu_spapr_tce_info info;

	TU_OK(get_info(&info));
}

/* An UNREGISTER argument at @p (copied in only): EFAULT when it cannot be read. */
static int unregister_at(void *p)
{
	return tu_ioctl(cfd, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, p);
}

START_TEST(stack_argument_main_thread)
{
	info_on_stack();
	/* The same request twice more: the thread's stack bounds are cached. */
	info_on_stack();
	info_on_stack();
}
END_TEST

START_TEST(heap_and_bad_arguments)
{
	struct vfio_iommu_spapr_tce_info *heap = malloc(sizeof(*heap));
	uint8_t *two = tu_map(2);

	ck_assert_ptr_nonnull(heap);
	TU_OK(get_info(heap));
	free(heap);
	TU_ERR(unregister_at(NULL), EFAULT);
	/* Straddling into an unmapped page, in and out. */
	tu_unmap(two + PS, 1);
	TU_ERR(unregister_at(two + PS - 8), EFAULT);
	TU_ERR(tu_ioctl(cfd, VFIO_IOMMU_SPAPR_TCE_GET_INFO, two + PS - 8), EFAULT);
	/* A read-only page: copied in, not out. */
	((struct vfio_iommu_spapr_tce_info *)two)->argsz = sizeof(struct vfio_iommu_spapr_tce_info);
	ck_assert_int_eq(mprotect(two, PS, PROT_READ), 0);
	TU_ERR(tu_ioctl(cfd, VFIO_IOMMU_SPAPR_TCE_GET_INFO, two), EFAULT);
	tu_unmap(two, 1);
}
END_TEST

struct edge {
	uint8_t *top;		/* the stack's top: a PROT_NONE page starts here */
	int straddle_rc;
};

static void *edge_thread(void *arg)
{
	struct edge *e = arg;

	info_on_stack();
	/* Starts 8 bytes below the top (the thread's own control block: only read). */
	e->straddle_rc = unregister_at(e->top - 8);
	return NULL;
}

START_TEST(argument_across_the_stack_top_faults)
{
	size_t len = (STACK_PAGES + 1) * PS;
	uint8_t *blk = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct edge e = { 0 };
	pthread_attr_t attr;
	pthread_t th;

	ck_assert_ptr_ne(blk, MAP_FAILED);
	ck_assert_int_eq(mprotect(blk + STACK_PAGES * PS, PS, PROT_NONE), 0);
	e.top = blk + STACK_PAGES * PS;
	ck_assert_int_eq(pthread_attr_init(&attr), 0);
	ck_assert_int_eq(pthread_attr_setstack(&attr, blk, STACK_PAGES * PS), 0);
	ck_assert_int_eq(pthread_create(&th, &attr, edge_thread, &e), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	pthread_attr_destroy(&attr);
	TU_ERR(e.straddle_rc, EFAULT);
	munmap(blk, len);
}
END_TEST

static ucontext_t main_ctx, co_ctx;

static void coroutine(void)
{
	info_on_stack();
	swapcontext(&co_ctx, &main_ctx);
}

START_TEST(stack_argument_on_a_coroutine)
{
	size_t len = STACK_PAGES * PS;
	void *stack = tu_map(STACK_PAGES);

	ck_assert_int_eq(getcontext(&co_ctx), 0);
	co_ctx.uc_stack.ss_sp = stack;
	co_ctx.uc_stack.ss_size = len;
	co_ctx.uc_link = &main_ctx;
	makecontext(&co_ctx, coroutine, 0);
	ck_assert_int_eq(swapcontext(&main_ctx, &co_ctx), 0);
	tu_unmap(stack, STACK_PAGES);
}
END_TEST

static Suite *uaccess_suite(void)
{
	Suite *s = suite_create("uaccess");
	TCase *t = tcase_create("copy");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, stack_argument_main_thread);
	tcase_add_test(t, heap_and_bad_arguments);
	tcase_add_test(t, argument_across_the_stack_top_faults);
	tcase_add_test(t, stack_argument_on_a_coroutine);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(uaccess_suite());
}
