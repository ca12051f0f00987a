/* SPDX-License-Identifier: MIT */
/*
 * The observer of the fd API (spapr_set_observer, spapr/observe.c) and the
 * recorder built on it for programs that call spapr_* directly
 * (SPAPRTCE_TRACE, spapr/record.c).
 *
 * observer: every call reports itself once, after it returned, with its
 *   fd, request, argument (before and after), result and errno; errno is
 *   the caller's after the report; an argument that ends where its page
 *   ends is copied as far as it is readable; removing the observer stops
 *   the reports.
 * recorder: a direct-API run with SPAPRTCE_TRACE set writes a trace that
 *   `spaprtce replay` says PASS to; the layer's own recorder, when it owns
 *   the process's trace (SPAPRTCE_TRACE_OWNER), keeps this one off; a
 *   program's own observer keeps it off too.
 * Each test runs in its own process (Check's fork mode), so the recorder's
 * once-only start is fresh in each.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu/emu.h"
#include "spapr/spapr.h"
#include "tests/testutil.h"

#define PS 4096u
#define MAX_EV 64

static struct spapr_call_event evs[MAX_EV];
static unsigned char befores[MAX_EV][64];
static unsigned nev;

static void keep(void *ctx, const struct spapr_call_event *ev)
{
	ck_assert_ptr_eq(ctx, &nev);
	ck_assert_uint_lt(nev, MAX_EV);
	evs[nev] = *ev;
	if (ev->before_len)
		memcpy(befores[nev], ev->before, ev->before_len);
	errno = 12345;	/* the caller's errno must survive the observer */
	nev++;
}

static const struct spapr_observer keeper = { keep, &nev };

START_TEST(observer)
{
	struct vfio_iommu_spapr_tce_remove *rm;
	char *pages;
	int c, g, one = 1;

	ck_assert_ptr_null(spapr_set_observer(&keeper));
	c = spapr_open_container();
	ck_assert_int_ge(c, 0);
	ck_assert_uint_eq(nev, 1);
	ck_assert_int_eq(evs[0].call, SPAPR_CALL_OPEN_CONTAINER);
	ck_assert_int_eq(evs[0].fd, c);
	ck_assert_int_eq(evs[0].result, c);
	ck_assert_int_eq(evs[0].err, 0);

	ck_assert_int_eq(spapr_open_group(77), -1);
	ck_assert_int_eq(errno, ENOENT);	/* not the observer's 12345 */
	ck_assert_int_eq(evs[1].call, SPAPR_CALL_OPEN_GROUP);
	ck_assert_int_eq(evs[1].group, 77);
	ck_assert_int_eq(evs[1].fd, -1);
	ck_assert_int_eq(evs[1].err, ENOENT);
	g = spapr_open_group(0);
	ck_assert_int_ge(g, 0);

	/* A value argument: nothing copied. */
	ck_assert_int_eq(spapr_ioctl(c, VFIO_CHECK_EXTENSION, (unsigned long)VFIO_SPAPR_TCE_v2_IOMMU), 1);
	ck_assert_int_eq(evs[3].call, SPAPR_CALL_IOCTL);
	ck_assert_uint_eq(evs[3].request, VFIO_CHECK_EXTENSION);
	ck_assert_uint_eq(evs[3].before_len, 0);
	ck_assert_int_eq(evs[3].result, 1);
	/* A pointer argument: what it held before the call. */
	TU_OK(spapr_ioctl(g, VFIO_GROUP_SET_CONTAINER, &c) ? -errno : 0);
	ck_assert_uint_eq(evs[4].before_len, 64);
	ck_assert_int_eq(*(int *)befores[4], c);
	ck_assert_ptr_eq(evs[4].arg, &c);
	TU_OK(spapr_ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU) ? -errno : 0);

	/* An argument that ends where its readable page ends: copied as far as readable. */
	pages = mmap(NULL, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(pages, MAP_FAILED);
	ck_assert_int_eq(mprotect(pages + PS, PS, PROT_NONE), 0);
	rm = (void *)(pages + PS - sizeof(*rm));
	*rm = (struct vfio_iommu_spapr_tce_remove){ .argsz = sizeof(*rm), .start_addr = 0 };
	TU_OK(spapr_ioctl(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, rm) ? -errno : 0);	/* the default window */
	ck_assert_uint_eq(evs[6].before_len, sizeof(*rm));
	ck_assert_int_eq(memcmp(befores[6], rm, sizeof(*rm)), 0);
	/* An unreadable argument: nothing copied, the call's EFAULT reported. */
	ck_assert_int_eq(spapr_ioctl(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, pages + PS), -1);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_uint_eq(evs[7].before_len, 0);
	ck_assert_int_eq(evs[7].err, EFAULT);

	/* Device calls on a container: their errors, their lengths and offsets. */
	ck_assert_int_eq(spapr_pread(c, &one, 4, 0x70000000000ll), -1);
	ck_assert_int_eq(evs[8].call, SPAPR_CALL_PREAD);
	ck_assert_uint_eq(evs[8].len, 4);
	ck_assert_int_eq(evs[8].off, 0x70000000000ll);
	ck_assert_int_eq(evs[8].err, EINVAL);
	ck_assert_ptr_eq(spapr_mmap(NULL, PS, PROT_READ, MAP_SHARED, c, 0), MAP_FAILED);
	ck_assert_int_eq(evs[9].call, SPAPR_CALL_MMAP);
	ck_assert_int_eq(evs[9].result, -1);
	ck_assert_int_eq(evs[9].err, ENODEV);

	ck_assert_int_eq(spapr_close(123456), -1);
	ck_assert_int_eq(evs[10].call, SPAPR_CALL_CLOSE);
	ck_assert_int_eq(evs[10].err, EBADF);
	TU_OK(spapr_close(g));
	ck_assert_uint_eq(nev, 12);
	ck_assert_ptr_eq(spapr_set_observer(NULL), &keeper);
	TU_OK(spapr_close(c));
	ck_assert_uint_eq(nev, 12);	/* no observer, no report */
	munmap(pages, 2 * PS);
}
END_TEST

/* The spaprtce program next to the suite's directory (build/spaprtce). */
static void spaprtce_path(char *out, size_t n)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	ck_assert_int_gt(len, 0);
	exe[len] = 0;
	*strrchr(exe, '/') = 0;	/* build/tests */
	*strrchr(exe, '/') = 0;	/* build */
	ck_assert_uint_lt((size_t)snprintf(out, n, "%.*s/spaprtce", PATH_MAX - 16, exe), n);
}

static char *slurp(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* A direct-API program's run: the window, memory, a map, DPDK's malformed unmap, the EBUSY. */
static void direct_run(void)
{
	char *mem = tu_map(8);
	uint64_t start;
	int g, c = tu_open_v2(0, &g);
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };

	TU_OK(spapr_ioctl(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info) ? -errno : 0);
	tu_create_ok(c, 12, 1ull << 24, 1, &start);
	tu_register_ok(c, mem, 8 * PS);
	/* In the default window at 0, as DPDK's. */
	tu_map_dma_ok(c, mem + PS, PS, PS, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	/* Misaligned: EINVAL, or the kernel's +1 (Q1). */
	ck_assert_int_eq(tu_map_dma(c, mem + PS, start + PS + 1, PS, VFIO_DMA_MAP_FLAG_READ),
			 tu_quirks_kernel("Q1") ? 1 : -EINVAL);
	tu_unmap_dma_ok(c, 0, PS);	/* what DPDK 22.11 sends: iova 0, size = the iova */
	/* Still mapped: EBUSY, or the kernel's 0 and an orphan (Q3), leaked until the process ends. */
	ck_assert_int_eq(tu_unregister(c, mem, 8 * PS), tu_quirks_kernel("Q3") ? 0 : -EBUSY);
	ck_assert_int_eq(spapr_open_group(9), -1);
	TU_OK(spapr_close(g));
	TU_OK(spapr_close(c));
	tu_unmap(mem, 8);
}

START_TEST(recorder_replays)
{
	char trace[] = "/tmp/check_observe-XXXXXX", cmd[PATH_MAX + 64], prog[PATH_MAX], *text;
	int fd = mkstemp(trace);
	FILE *p;
	char out[512] = "";

	ck_assert_int_ge(fd, 0);
	close(fd);
	setenv("SPAPRTCE_TRACE", trace, 1);
	unsetenv("SPAPRTCE_TRACE_OWNER");
	direct_run();
	ck_assert_ptr_nonnull(spapr_set_observer(NULL));	/* the recorder was installed */
	text = slurp(trace);
	ck_assert_ptr_nonnull(strstr(text, "container c1 => ok\ngroup g1 0 => ok\nset_container g1 c1 => ok\n"
					   "set_iommu c1 7 => ok\n"));
	ck_assert_ptr_nonnull(strstr(text, "get_info c1 argsz=32 => ok dma32_start=0x0 dma32_size=0x80000000"));
	/* The memory is an area defined on first use; the offsets depend on its neighbours. */
	ck_assert_ptr_nonnull(strstr(text, "\nmem m0 0x"));
	ck_assert_ptr_nonnull(strstr(text, "\nregister c1 m0+0x"));
	ck_assert_ptr_nonnull(strstr(text, " 0x8000 argsz=24 flags=0x0 => ok\nmap c1 m0+0x"));
	ck_assert_ptr_nonnull(strstr(text, " 0x1000 0x1000 rw argsz=32 flags=0x3 => ok\n"));
	ck_assert_ptr_nonnull(strstr(text, "unmap c1 0x0 0x1000 argsz=24 flags=0x0 => ok\n"));
	ck_assert_ptr_nonnull(strstr(text, tu_quirks_kernel("Q3") ? " 0x8000 argsz=24 flags=0x0 => ok\n"
							    : " 0x8000 argsz=24 flags=0x0 => EBUSY\n"));
	ck_assert_ptr_nonnull(strstr(text, "group gfail1 9 => ENOENT\nclose g1 => ok\nclose c1 => ok\n"));
	spaprtce_path(prog, sizeof(prog));
	snprintf(cmd, sizeof(cmd), "%s replay %s 2>&1", prog, trace);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(out, sizeof(out), p) && !strstr(out, ": PASS"))
		;
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(strstr(out, ": PASS\n"), "replay: %s\ntrace:\n%s", out, text);
	unlink(trace);
}
END_TEST

START_TEST(recorder_gives_way)
{
	char trace[] = "/tmp/check_observe-XXXXXX", pid[16];
	int fd = mkstemp(trace);

	ck_assert_int_ge(fd, 0);
	close(fd);
	setenv("SPAPRTCE_TRACE", trace, 1);
	if (_i == 0) {
		/* The drop-in layer owns this process's trace. */
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		setenv("SPAPRTCE_TRACE_OWNER", pid, 1);
		direct_run();
		ck_assert_ptr_null(spapr_set_observer(NULL));
	} else {
		/* The program observes the calls itself. */
		unsetenv("SPAPRTCE_TRACE_OWNER");
		ck_assert_ptr_null(spapr_set_observer(&keeper));
		direct_run();
		ck_assert_ptr_eq(spapr_set_observer(NULL), &keeper);
		ck_assert_uint_gt(nev, 10);
	}
	ck_assert_str_eq(slurp(trace), "");
	unlink(trace);
}
END_TEST

static void setup(void)
{
	TU_OK(spapr_mm_set_memlock(1ull << 30, 0));
}

int main(void)
{
	Suite *s = suite_create("observe");
	TCase *t = tcase_create("observer");

	tcase_add_checked_fixture(t, setup, NULL);
	tcase_add_test(t, observer);
	tcase_add_test(t, recorder_replays);
	tcase_add_loop_test(t, recorder_gives_way, 0, 2);
	suite_add_tcase(s, t);
	return tu_run(s);
}
