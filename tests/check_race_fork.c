/* SPDX-License-Identifier: MIT */
/*
 * fork() while other threads use the library (issue 20), run under
 * ThreadSanitizer by `make check-race SAN=thread`.
 *
 * fork_while_hammering: four threads hammer every kind of request on
 * groups 0 to 2 -- REGISTER/UNREGISTER, MAP/UNMAP and DMA (group 0);
 * TCE_CREATE/TCE_REMOVE of a 64-bit window (group 1); open, SET_CONTAINER,
 * SET_IOMMU and close of containers and groups, GET_DEVICE_FD and a device
 * request (group 2); hypercalls on a guest table -- while the main thread
 * forks FORKS times.  Each child runs its own container cycle on group 3
 * (open, SET_CONTAINER, SET_IOMMU v2, REGISTER, MAP, a DMA that must land,
 * UNMAP, close, locked_vm back to 0) and checks what it inherited: a
 * request on the parent's container is EPERM, the parent's group is busy
 * (EBUSY), the parent's guest is EIO.  A child that has not exited within
 * CHILD_LIMIT_S seconds (5; 30 in a sanitizer build) is a hang: killed
 * and reported, and the test fails.
 * Before the library held its global locks across fork(), about 3% of the
 * children hung on spapr/fd.c's lock.
 *
 * FORKS is 1,000, 200 under a sanitizer (a forked child of a sanitized
 * process is slow to start and to exit).
 *
 * Under a sanitizer the children do not allocate (CHILD_ALLOCATES 0): they
 * skip their own cycle and the checks that allocate (opening a group sweeps
 * the handle table into a list), and a malloc hook fails them if they
 * allocate all the same (AddressSanitizer runs the hook in the child;
 * ThreadSanitizer ignores it there).  GCC 12's libsanitizer does not hold its allocator's locks
 * across fork() (LLVM added that to ThreadSanitizer in 2024,
 * llvm-project pull request 96600, LLVM 19; GCC 12's AddressSanitizer
 * has the same defect), so a child that allocates hangs whenever another thread was
 * refilling its allocator cache at fork(): 3 of 13 runs of this suite under
 * ThreadSanitizer had one such child, each stuck in
 * SizeClassAllocator64::GetFromAllocator under the calloc of its default
 * window (gdb, through dump_stacks below), the same stack as asan_calloc's
 * under AddressSanitizer.  Nothing is lost: ThreadSanitizer stops checking
 * in the child of a multithreaded fork anyway; what the sanitizers check
 * here is the parent (the atfork handlers against the hammering threads,
 * the children's inherited view), and the children's own cycles run in the
 * plain build, 1,000 of them in every `make check`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emu/emu.h"
#include "spapr/spapr.h"
#include "tests/testutil.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif
#ifndef FORKS
#define FORKS (SANITIZED ? 200 : 1000)
#endif
/* A hang is forever; a sanitizer build's child on a loaded machine is only slow. */
#define CHILD_LIMIT_S (SANITIZED ? 30 : 5)
/* Whether a child may allocate (see the top: not under a sanitizer). */
#define CHILD_ALLOCATES (!SANITIZED)
#define PS 4096ull
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define LIOBN 0x80000001ull

static volatile int stop;
/*
 * The hammering threads and the children make no Check call: an assertion
 * takes Check's own mutex even when it passes, and a child forked while a
 * thread held it would hang in the test, not in the library.  A failure is
 * counted with its line and reported by the main thread.
 */
static unsigned thread_failures, thread_failure_line;
#define EXPECT_EQ(a, b)                                                                        \
	do {                                                                                   \
		if ((long)(a) != (long)(b) &&                                                  \
		    !__atomic_fetch_add(&thread_failures, 1, __ATOMIC_RELAXED))                  \
			thread_failure_line = __LINE__;                                        \
	} while (0)
static int c0 = -1, g0 = -1;		/* the parent's container on group 0, for the children's checks */
static struct spapr_guest *guest;

static uint8_t *map_pages(unsigned n)
{
	void *p = mmap(NULL, n * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A v2 container with group @group attached, without Check: the container fd or -1. */
static int open_v2(int group, int *gfd)
{
	int c = spapr_open_container(), g = spapr_open_group(group);

	*gfd = g;
	if (c < 0 || g < 0 || spapr_ioctl(g, VFIO_GROUP_SET_CONTAINER, &c) ||
	    spapr_ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU))
		return -1;
	return c;
}

/* Group 0: REGISTER, MAP, DMA, UNMAP, UNREGISTER. */
static void *hammer_map(void *arg)
{
	uint8_t *p = map_pages(4);
	uint8_t v;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		EXPECT_EQ(tu_register(c0, p, 4 * PS), 0);
		EXPECT_EQ(tu_map_dma(c0, p, 0, 4 * PS, RW), 0);
		v = 0x5a;
		EXPECT_EQ(emu_dma_write(0, PS, &v, 1), 0);
		EXPECT_EQ(tu_unmap_dma(c0, 0, 4 * PS), 0);
		EXPECT_EQ(tu_unregister(c0, p, 4 * PS), 0);
	}
	munmap(p, 4 * PS);
	return NULL;
}

/* Group 1: TCE_CREATE and TCE_REMOVE of a second window. */
static void *hammer_windows(void *arg)
{
	int g, c = open_v2(1, &g);
	uint8_t *p = map_pages(1);
	uint64_t start;

	(void)arg;
	EXPECT_EQ(tu_register(c, p, PS), 0);	/* binds the mm */
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		EXPECT_EQ(tu_create(c, 16, 1ull << 30, 1, &start), 0);
		EXPECT_EQ(tu_remove(c, start), 0);
	}
	EXPECT_EQ(tu_unregister(c, p, PS), 0);
	EXPECT_EQ(tu_close(g), 0);
	EXPECT_EQ(tu_close(c), 0);
	munmap(p, PS);
	return NULL;
}

/* Group 2: open and close containers and groups, device fds and a device request. */
static void *hammer_open(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct vfio_device_info info = { .argsz = sizeof(info) };
		int g, c = open_v2(2, &g);
		int d = spapr_ioctl(g, VFIO_GROUP_GET_DEVICE_FD, "0000:00:03.0");

		EXPECT_EQ(d >= 0, 1);
		EXPECT_EQ(tu_ioctl(d, VFIO_DEVICE_GET_INFO, &info), 0);
		EXPECT_EQ(tu_close(d), 0);
		EXPECT_EQ(tu_close(g), 0);
		EXPECT_EQ(tu_close(c), 0);
	}
	return NULL;
}

/* Hypercalls on a guest table without attachments. */
static void *hammer_hcalls(void *arg)
{
	uint64_t tce;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		EXPECT_EQ(spapr_h_put_tce(guest, LIOBN, 0, 0), H_SUCCESS);
		EXPECT_EQ(spapr_h_get_tce(guest, LIOBN, 0, &tce), H_SUCCESS);
	}
	return NULL;
}

#if SANITIZED
/* libsanitizer's interface (sanitizer/allocator_interface.h, not shipped with GCC 12). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
					      void (*free_hook)(const volatile void *));
static unsigned child_allocations;	/* the child's: it has one thread */

static void count_allocation(const volatile void *p, size_t size)
{
	(void)p;
	(void)size;
	child_allocations++;
}

/* Installing refuses a null free hook. */
static void ignore_free(const volatile void *p)
{
	(void)p;
}
#endif

/* The child's own cycle on group 3: 0 when all is well, else the failed step (10-15). */
static int child_cycle(void)
{
	uint8_t *p = map_pages(2);
	uint8_t v = 0xa5;
	int g, c = open_v2(3, &g);

	if (c < 0 || !p)
		return 10;
	if (tu_register(c, p, 2 * PS) || tu_map_dma(c, p, 0, 2 * PS, RW))
		return 12;
	if (emu_dma_write(3, PS + 7, &v, 1) || p[PS + 7] != 0xa5)
		return 13;
	if (tu_unmap_dma(c, 0, 2 * PS) || tu_unregister(c, p, 2 * PS))
		return 14;
	if (spapr_close(g) || spapr_close(c) || spapr_mm_locked_vm() != 0)
		return 15;
	munmap(p, 2 * PS);
	return 0;
}

/*
 * The child: its cycle, then what it inherited; what allocates only if
 * CHILD_ALLOCATES.  Exit code 0: all good.
 */
static int child_main(void)
{
	static uint8_t page[PS] __attribute__((aligned(PS)));
	int r;

#if SANITIZED
	if (!__sanitizer_install_malloc_and_free_hooks(count_allocation, ignore_free))
		return 20;
#endif
	if (CHILD_ALLOCATES && (r = child_cycle()))
		return r;
	/* The parent's objects: never touched, never released. */
	if (tu_map_dma(c0, page, 0, PS, RW) != -EPERM ||
	    (CHILD_ALLOCATES && tu_open_group(0) != -EBUSY))
		return 16;
	if (spapr_guest_check(guest) != -1 || errno != EIO ||
	    spapr_h_put_tce(guest, LIOBN, 0, 0) != H_HARDWARE)
		return 17;
	if (spapr_close(c0) || spapr_close(g0) || (CHILD_ALLOCATES && tu_open_group(0) != -EBUSY))
		return 18;
#if SANITIZED
	if (child_allocations)
		return 19;
#endif
	return 0;
}

/*
 * A hung child's threads' stacks, on stderr (the suite's log), when gdb is
 * installed: a hang that shows once in thousands of forks is diagnosed from
 * that one log.
 */
static void dump_stacks(pid_t pid)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd),
		 "command -v gdb >/dev/null && timeout 120 gdb -q -batch -p %d -ex 'thread apply all bt' </dev/null >&2",
		 (int)pid);
	fprintf(stderr, "child %d hung; its stacks:\n", (int)pid);
	if (system(cmd))
		fprintf(stderr, "(no stacks: gdb is missing or could not attach)\n");
}

/* Waits for @pid up to CHILD_LIMIT_S seconds: its exit status, or -1 (hung: killed). */
static int wait_limited(pid_t pid)
{
	struct timespec t0, t;
	int st;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		ck_assert_int_eq(r, 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= CHILD_LIMIT_S) {
			dump_stacks(pid);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(200);
	}
}

START_TEST(fork_while_hammering)
{
	void *(*fns[])(void *) = { hammer_map, hammer_windows, hammer_open, hammer_hcalls };
	pthread_t t[4];
	unsigned hangs = 0, failures = 0, first_failure = 0;
	uint8_t *gmem = tu_map(1);

	TU_OK(spapr_mm_set_memlock(1ull << 30, 0));
	c0 = tu_open_v2(0, &g0);
	TU_OK(spapr_guest_create(&guest) ? -errno : 0);
	TU_OK(spapr_guest_set_memslot(guest, 0, 0, PS, gmem) ? -errno : 0);
	TU_OK(spapr_guest_create_tce_table(guest, LIOBN, 12, 0, 512) ? -errno : 0);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, fns[i], NULL), 0);
	for (unsigned i = 0; i < FORKS; i++) {
		pid_t pid = fork();
		int st;

		ck_assert_int_ge(pid, 0);
		if (!pid)
			_exit(child_main());
		st = wait_limited(pid);
		if (st < 0) {
			hangs++;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			if (!failures++)
				first_failure = (unsigned)st;
		}
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_msg(!thread_failures, "%u failed requests in the hammering threads, the first at line %u",
		      thread_failures, thread_failure_line);
	ck_assert_msg(!hangs, "%u of %u children hung (no exit within %d s)", hangs, FORKS,
		      CHILD_LIMIT_S);
	ck_assert_msg(!failures, "%u of %u children failed, the first with status %#x", failures,
		      FORKS, first_failure);
	spapr_guest_destroy(guest);
	TU_OK(tu_close(g0));
	TU_OK(tu_close(c0));
	tu_unmap(gmem, 1);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	tu_assert_emu_clean();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("race_fork");
	TCase *t = tcase_create("fork");

	tcase_set_timeout(t, 600);
	tcase_add_test(t, fork_while_hammering);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
