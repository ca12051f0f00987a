/* SPDX-License-Identifier: MIT */
/*
 * Handle integrity (issue 20): what the library does when the program
 * closes or replaces a spapr handle's descriptor behind its back
 * (spapr/fd.c's essay).
 *
 *   close_then_reuse      close(2) on a container, open() reuses the number:
 *                         spapr_ioctl and spapr_close answer EBADF, and the
 *                         program's new file stays open.
 *   dup2_over_handle      dup2 of another file over a handle: the same.
 *   dup_is_not_a_handle   a dup of a handle is not a handle (EBADF); the
 *                         handle keeps working.
 *   own_number_reused     our own new handle gets a lost handle's number:
 *                         the lost one is released, the new one works.
 *   closed_group_released close(2) on a group and its container with memory
 *                         registered and mapped: the next spapr_open_group
 *                         of that group succeeds (not EBUSY forever), and
 *                         locked_vm, pins and table blocks are back to 0.
 *   lost_at_request       a request on a lost group's number releases it.
 *   vouched_requests      a request marked SPAPR__IOCTL_VOUCHED (the drop-in
 *                         layer's, spapr/vouched.h) skips the identity
 *                         check and nothing else: served like a plain one,
 *                         the observer sees the plain request, a number
 *                         that is not a handle is EBADF; after dup2 over
 *                         the handle the vouched request is still served
 *                         (the caller vouched), the plain one finds the
 *                         handle lost and releases it, and from then on both
 *                         are EBADF.
 *   fork_child_view       in a forked child: requests on the parent's
 *                         container are EPERM (CHECK_EXTENSION answered),
 *                         its group is EBUSY, the child's spapr_close of
 *                         them releases nothing of the parent's.
 *   trusted_requests      SPAPRTCE_HANDLES=trusted (switched by its test
 *                         hook): every plain request is vouched for and
 *                         nothing else changes: MAP and UNMAP served, a bad
 *                         argument pointer still EFAULT, a number that is
 *                         not a handle EBADF; after dup2 over the handle the
 *                         request is served (the waiver), spapr_close is
 *                         EBADF and releases the handle, the sweep of the
 *                         next open finds a handle closed behind our back,
 *                         and a forked child still gets EPERM.
 *   trusted_from_env      the setting read at load: this program run again
 *                         with SPAPRTCE_HANDLES=trusted serves a request on
 *                         a replaced handle; with =checked, and with a bad
 *                         value (ignored), the request is EBADF.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu/mem.h"
#include "spapr/spapr.h"
#include "spapr/vouched.h"
#include "tests/testutil.h"

#define PS 4096ull
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

static int api_version(int fd)
{
	return tu_ioctl(fd, VFIO_GET_API_VERSION, NULL);
}

START_TEST(close_then_reuse)
{
	int c = tu_open_container_ok(), f;

	ck_assert_int_eq(api_version(c), VFIO_API_VERSION);
	ck_assert_int_eq(close(c), 0);
	f = open("/dev/null", O_RDONLY);
	ck_assert_int_eq(f, c);
	TU_ERR(api_version(c), EBADF);
	TU_ERR(tu_close(c), EBADF);
	ck_assert_int_eq(fcntl(f, F_GETFD), 0);		/* the program's file is still open */
	ck_assert_int_eq(close(f), 0);
	tu_assert_clean();
}
END_TEST

START_TEST(dup2_over_handle)
{
	int c = tu_open_container_ok(), f = open("/dev/null", O_RDONLY);

	ck_assert_int_ge(f, 0);
	ck_assert_int_eq(dup2(f, c), c);
	TU_ERR(api_version(c), EBADF);
	TU_ERR(tu_close(c), EBADF);
	ck_assert_int_eq(fcntl(c, F_GETFD), 0);
	ck_assert_int_eq(close(c), 0);
	ck_assert_int_eq(close(f), 0);
	tu_assert_clean();
}
END_TEST

START_TEST(dup_is_not_a_handle)
{
	int c = tu_open_container_ok(), d = dup(c);

	ck_assert_int_ge(d, 0);
	TU_ERR(api_version(d), EBADF);
	TU_ERR(tu_close(d), EBADF);
	ck_assert_int_eq(close(d), 0);
	ck_assert_int_eq(api_version(c), VFIO_API_VERSION);
	TU_OK(tu_close(c));
}
END_TEST

START_TEST(own_number_reused)
{
	int g, c = tu_open_v2(0, &g), c2;
	uint8_t *p = tu_map(4);

	TU_OK(tu_register(c, p, 4 * PS));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 4);
	ck_assert_int_eq(close(c), 0);
	ck_assert_int_eq(close(g), 0);
	c2 = tu_open_container_ok();	/* the lowest free number: the group's or the container's */
	ck_assert(c2 == c || c2 == g);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);	/* both lost handles released */
	ck_assert_int_eq(api_version(c2), VFIO_API_VERSION);
	TU_OK(tu_close(c2));
	tu_unmap(p, 4);
	tu_assert_clean();
}
END_TEST

START_TEST(closed_group_released)
{
	int g, c = tu_open_v2(1, &g), g2;
	uint8_t *p = tu_map(16);

	TU_OK(tu_register(c, p, 16 * PS));
	TU_OK(tu_map_dma(c, p, 0, 16 * PS, RW));
	ck_assert_uint_gt(spapr_mm_locked_vm(), 16);	/* the pages and the default window's table */
	ck_assert_int_eq(close(g), 0);
	ck_assert_int_eq(close(c), 0);
	g2 = tu_open_group(1);
	ck_assert_int_ge(g2, 0);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p), 0);
	TU_OK(tu_close(g2));
	tu_unmap(p, 16);
	tu_assert_clean();
}
END_TEST

static unsigned long seen_request;

static void see(void *ctx, const struct spapr_call_event *ev)
{
	(void)ctx;
	if (ev->call == SPAPR_CALL_IOCTL)
		seen_request = ev->request;
}

START_TEST(vouched_requests)
{
	static const struct spapr_observer obs = { .fn = see };
	int g, c = tu_open_v2(0, &g), f = open("/dev/null", O_RDONLY);
	unsigned long api = SPAPR__IOCTL_VOUCHED(VFIO_GET_API_VERSION);
	uint8_t *p = tu_map(1);
	uint64_t held;

	ck_assert_int_ge(f, 0);
	ck_assert(SPAPR__IOCTL_IS_VOUCHED(api));
	ck_assert(!SPAPR__IOCTL_IS_VOUCHED((unsigned long)(long)(int)0x80000000u));	/* sign-extended */
	ck_assert_int_eq(spapr_ioctl(c, api, NULL), VFIO_API_VERSION);
	ck_assert_int_eq(spapr_ioctl(c, SPAPR__IOCTL_VOUCHED(VFIO_CHECK_EXTENSION), VFIO_SPAPR_TCE_v2_IOMMU), 1);
	TU_ERR(tu_ioctl(c, SPAPR__IOCTL_VOUCHED(0x1234u), NULL), ENOTTY);	/* not VFIO's */
	TU_ERR(tu_ioctl(f, api, NULL), EBADF);
	TU_ERR(tu_ioctl(-1, api, NULL), EBADF);
	/* A whole MAP and UNMAP, marked. */
	TU_OK(tu_register(c, p, PS));
	{
		struct vfio_iommu_type1_dma_map m = {
			.argsz = sizeof(m), .flags = RW, .vaddr = (uintptr_t)p, .iova = 0, .size = PS,
		};
		struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = 0, .size = PS };

		TU_OK(spapr_ioctl(c, SPAPR__IOCTL_VOUCHED(VFIO_IOMMU_MAP_DMA), &m));
		if (!tu_fixed_only_step("vouched_requests", "UNREGISTER of the mapped page", "Q3",
					"the kernel's 0 orphans the region for good"))
			TU_ERR(tu_unregister(c, p, PS), EBUSY);	/* mapped */
		spapr_set_observer(&obs);
		TU_OK(spapr_ioctl(c, SPAPR__IOCTL_VOUCHED(VFIO_IOMMU_UNMAP_DMA), &u));
		spapr_set_observer(NULL);
		ck_assert_uint_eq(seen_request, VFIO_IOMMU_UNMAP_DMA);
		ck_assert_uint_eq(u.size, PS);
		TU_OK(tu_unregister(c, p, PS));			/* no longer */
		TU_OK(tu_register(c, p, PS));
	}
	/* The number now names another file. */
	held = spapr_mm_locked_vm();	/* the page and the default window's table */
	ck_assert_uint_gt(held, 1);
	ck_assert_int_eq(dup2(f, c), c);
	ck_assert_int_eq(spapr_ioctl(c, api, NULL), VFIO_API_VERSION);
	TU_ERR(api_version(c), EBADF);		/* lost: dropped */
	TU_ERR(tu_ioctl(c, api, NULL), EBADF);
	ck_assert_uint_eq(spapr_mm_locked_vm(), held);	/* the group still holds the container */
	TU_OK(tu_close(g));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);	/* released */
	ck_assert_int_eq(close(c), 0);
	ck_assert_int_eq(close(f), 0);
	tu_unmap(p, 1);
	tu_assert_clean();
}
END_TEST

START_TEST(lost_at_request)
{
	int g = tu_open_group_ok(2);
	struct vfio_group_status st = { .argsz = sizeof(st) };

	ck_assert_int_eq(close(g), 0);
	TU_ERR(tu_ioctl(g, VFIO_GROUP_GET_STATUS, &st), EBADF);
	/* Released by the request: the group opens again (the sweep has nothing left). */
	g = tu_open_group_ok(2);
	TU_OK(tu_close(g));
	tu_assert_clean();
}
END_TEST

START_TEST(fork_child_view)
{
	int g, c = tu_open_v2(3, &g), st;
	uint8_t *p = tu_map(1);
	pid_t pid;

	TU_OK(tu_register(c, p, PS));
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		int bad = 0;

		bad |= tu_ioctl(c, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_SPAPR_TCE_v2_IOMMU) != 1;
		bad |= (tu_unregister(c, p, PS) != -EPERM) << 1;
		bad |= (tu_ioctl(g, VFIO_GROUP_GET_STATUS, &st) != -EPERM) << 2;
		bad |= (tu_open_group(3) != -EBUSY) << 3;
		bad |= (tu_close(g) != 0 || tu_close(c) != 0) << 4;
		bad |= (tu_open_group(3) != -EBUSY) << 5;	/* still the parent's */
		_exit(bad);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "child status %#x", st);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 1);	/* the parent's registration is intact */
	TU_OK(tu_unregister(c, p, PS));
	TU_OK(tu_close(g));
	TU_OK(tu_close(c));
	tu_unmap(p, 1);
	tu_assert_clean();
}
END_TEST

START_TEST(trusted_requests)
{
	int g, c = tu_open_v2(0, &g), f = open("/dev/null", O_RDONLY), c2, f2, st;
	struct vfio_iommu_type1_dma_map *gone;
	uint8_t *p = tu_map(1);
	uint64_t held;
	pid_t pid;

	ck_assert_int_ge(f, 0);
	spapr__fd_set_trusted(true);
	TU_OK(tu_register(c, p, PS));
	TU_OK(tu_map_dma(c, p, 0, PS, RW));
	TU_OK(tu_unmap_dma(c, 0, PS));
	/* The argument is still copied as the kernel copies it. */
	TU_ERR(tu_ioctl(c, VFIO_IOMMU_MAP_DMA, (void *)8), EFAULT);
	gone = mmap(NULL, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(gone != MAP_FAILED);
	*gone = (struct vfio_iommu_type1_dma_map){ .argsz = sizeof(*gone), .flags = RW,
						    .vaddr = (uintptr_t)p, .size = PS };
	ck_assert_int_eq(munmap(gone, PS), 0);
	TU_ERR(tu_ioctl(c, VFIO_IOMMU_MAP_DMA, gone), EFAULT);
	TU_ERR(tu_ioctl(c, VFIO_IOMMU_UNMAP_DMA, gone), EFAULT);
	TU_ERR(api_version(f), EBADF);		/* not a handle */
	/* A forked child: the parent's handles are still EPERM. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid)
		_exit(tu_unregister(c, p, PS) != -EPERM || tu_map_dma(c, p, 0, PS, RW) != -EPERM);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "child status %#x", st);
	/* The waiver: the number names another file, the request still reaches the handle. */
	held = spapr_mm_locked_vm();
	ck_assert_int_eq(dup2(f, c), c);
	ck_assert_int_eq(api_version(c), VFIO_API_VERSION);
	TU_OK(tu_map_dma(c, p, 0, PS, RW));
	TU_OK(tu_unmap_dma(c, 0, PS));
	/* spapr_close still checks: EBADF, the handle released, the program's file left open. */
	TU_ERR(tu_close(c), EBADF);
	TU_ERR(api_version(c), EBADF);
	ck_assert_int_eq(fcntl(c, F_GETFD), 0);
	ck_assert_uint_eq(spapr_mm_locked_vm(), held);	/* the group still holds the container */
	TU_OK(tu_close(g));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	/* The sweep of the next open finds a handle closed behind our back. */
	c2 = tu_open_container_ok();
	ck_assert_int_eq(close(c2), 0);
	f2 = open("/dev/null", O_RDONLY);
	ck_assert_int_eq(f2, c2);
	ck_assert_int_eq(api_version(c2), VFIO_API_VERSION);	/* waived: served */
	g = tu_open_group_ok(0);			/* sweeps */
	TU_ERR(api_version(c2), EBADF);
	TU_OK(tu_close(g));
	spapr__fd_set_trusted(false);
	ck_assert_int_eq(close(f2), 0);
	ck_assert_int_eq(close(c), 0);
	ck_assert_int_eq(close(f), 0);
	tu_unmap(p, 1);
	tu_assert_clean();
}
END_TEST

/*
 * The child of trusted_from_env (this program run again, CHECK_HANDLES_CHILD
 * set): a request on a container whose number now names /dev/null.  Exits 0
 * when it was served, 1 when it was EBADF, 2 otherwise.
 */
static int env_child(void)
{
	int c = spapr_open_container(), f = open("/dev/null", O_RDONLY), rc;

	if (c < 0 || f < 0 || dup2(f, c) != c)
		return 2;
	rc = spapr_ioctl(c, VFIO_GET_API_VERSION);
	return rc == VFIO_API_VERSION ? 0 : rc == -1 && errno == EBADF ? 1 : 2;
}

static int run_env_child(const char *handles)
{
	char *const argv[] = { "check_handles", NULL };
	int st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (!pid) {
		setenv("CHECK_HANDLES_CHILD", "1", 1);
		setenv("SPAPRTCE_HANDLES", handles, 1);
		execv("/proc/self/exe", argv);
		_exit(3);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "child status %#x", st);
	return WEXITSTATUS(st);
}

START_TEST(trusted_from_env)
{
	ck_assert_int_eq(run_env_child("trusted"), 0);
	ck_assert_int_eq(run_env_child("checked"), 1);
	ck_assert_int_eq(run_env_child("bogus"), 1);	/* ignored, with a message */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("handles");
	TCase *t = tcase_create("handles");

	tcase_add_test(t, close_then_reuse);
	tcase_add_test(t, dup2_over_handle);
	tcase_add_test(t, dup_is_not_a_handle);
	tcase_add_test(t, own_number_reused);
	tcase_add_test(t, closed_group_released);
	tcase_add_test(t, lost_at_request);
	tcase_add_test(t, vouched_requests);
	tcase_add_test(t, fork_child_view);
	tcase_add_test(t, trusted_requests);
	tcase_add_test(t, trusted_from_env);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	if (getenv("CHECK_HANDLES_CHILD"))
		return env_child();
	return tu_run(suite());
}
