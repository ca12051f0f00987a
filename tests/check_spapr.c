/* SPDX-License-Identifier: MIT */
/*
 * The v2 container through spapr_ioctl with the structs of <linux/vfio.h>:
 * the container rules of docs/kernel.md, one test per behaviour (tNN_...),
 * the v1 path, 1,000 open/attach/register/map/close cycles, and a fail-nth
 * sweep over register, create, map, remove and close.  The bad-input sweep
 * is check_spapr_abi.c; the races are check_race_spapr.c.
 *
 * Fixture: container C (v2) with group 0 attached; an emulated
 * RLIMIT_MEMLOCK of 16 GiB without CAP_IPC_LOCK.  Teardown closes
 * everything and asserts locked_vm 0, nothing pinned, no table memory.
 */
#include <linux/vfio.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu/emu.h"
#include "emu/mem.h"
#include "mmreg/mmreg.h"
#include "spapr/spapr.h"
#include "spapr/spapr_priv.h"
#include "tests/testutil.h"
#include "tests/vfio_util.h"

#define PS EMU_PAGE_SIZE
#define W64 (1ull << 59)

static int C, G;

/* ------------------------------------------------------------- helpers */

/* spapr_ioctl as a layer call: 0 / positive, or -errno. */
static void setup(void)
{
	TU_OK(spapr_mm_set_memlock(16ull << 30, 0));
	C = tu_open_v2(0, &G);
}

static void teardown(void)
{
	struct emu_mem_stats st;

	if (G >= 0)
		TU_OK(spapr_close(G) ? -errno : 0);
	if (C >= 0)
		TU_OK(spapr_close(C) ? -errno : 0);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	emu_mem_get_stats(&st);
	tu_assert_emu_clean();
	TU_OK(emu_machine_check());
}

static void reg_ok(int c, const void *p, uint64_t size)
{
	TU_OK(tu_register(c, p, size));
}

/* Asserts the errno and that locked_vm and pins did not move. */
static void reg_err(int c, const void *p, uint64_t size, int err)
{
	uint64_t locked = spapr_mm_locked_vm();
	struct emu_mem_stats before, after;

	emu_mem_get_stats(&before);
	TU_ERR(tu_register(c, p, size), err);
	emu_mem_get_stats(&after);
	ck_assert_uint_eq(spapr_mm_locked_vm(), locked);
	ck_assert_uint_eq(after.pin_refs, before.pin_refs);
}

static void map_ok(int c, const void *p, uint64_t iova, uint64_t size)
{
	TU_OK(tu_map_dma(c, p, iova, size, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
}

static void kills(uint64_t *n, uint64_t *pages)
{
	struct emu_group_stats st;

	TU_OK(emu_group_get_stats(0, &st));
	*n = st.kills;
	*pages = st.killed_pages;
}

/* Table pages charged for a window (docs/tce.md, "Geometry": hardware + shadow). */
static uint64_t table_pages(unsigned shift, uint64_t size, unsigned levels)
{
	uint64_t bytes;

	TU_OK(tce_table_size(shift, size, levels, &bytes));
	return (bytes + PS - 1) / PS;
}

/* The default window: 2 GiB of 4K TCEs, one level. */
#define DEF_PAGES table_pages(12, 2ull << 30, 1)

/* --------------------------------------------------------- registration */

START_TEST(t01_04_register_argument_checks)
{
	uint8_t *p = tu_map(4);
	struct vfio_iommu_spapr_register_memory r = { sizeof(r), 0, (uintptr_t)p, 4 * PS };

	reg_err(C, p + 1, 4 * PS, EINVAL);		/* 1 */
	reg_err(C, p, 4 * PS - 1, EINVAL);		/* 2 */
	reg_err(C, p, 4 * PS + 100, EINVAL);
	reg_err(C, (void *)(uintptr_t)(UINT64_MAX - 3 * PS + 1), 4 * PS, EINVAL);	/* 3 */
	r.flags = 1;					/* 4 */
	TU_ERR(tu_ioctl(C, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r), EINVAL);
	r.flags = 0;
	r.argsz = 23;
	TU_ERR(tu_ioctl(C, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, &r), EINVAL);
	reg_err(C, p, 0, tu_quirks_kernel("Q13") ? ENOMEM : EINVAL);	/* 14 (Q13) */
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	tu_unmap(p, 4);
}
END_TEST

START_TEST(t05_v1_has_no_preregistration)
{
	int g1 = spapr_open_group(1), c1 = spapr_open_container();
	uint8_t *p = tu_map(1);

	TU_OK(tu_attach(g1, c1));
	TU_OK(tu_ioctl(c1, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_IOMMU));
	TU_ERR(tu_register(c1, p, PS), ENOTTY);
	TU_ERR(tu_unregister(c1, p, PS), ENOTTY);
	TU_ERR(tu_create(c1, 12, 1ull << 30, 1, NULL), ENOTTY);
	TU_ERR(tu_remove(c1, 0), ENOTTY);
	spapr_close(g1);
	spapr_close(c1);
	tu_unmap(p, 1);
}
END_TEST

START_TEST(t06_register_charges_and_enables)
{
	uint8_t *p = tu_map(8);

	TU_ERR(tu_map_dma(C, p, 0, PS, 3), EPERM);	/* not enabled yet */
	reg_ok(C, p, 8 * PS);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 8);
	ck_assert_uint_eq(mmreg_region_used(tu_region_of(p)), 1);
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p)), 1);
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p + 7 * PS), 1);
	/* Enabled: MAP now reaches the default window (and materialises it). */
	map_ok(C, p, 0, PS);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 8 + DEF_PAGES);
	TU_OK(tu_unmap_dma(C, 0, PS));
	TU_OK(tu_unregister(C, p, 8 * PS));
	tu_unmap(p, 8);
}
END_TEST

START_TEST(t07_08_same_range_twice_and_shared)
{
	uint8_t *p = tu_map(4);
	int g1, c2 = tu_open_v2(1, &g1);

	reg_ok(C, p, 4 * PS);
	reg_err(C, p, 4 * PS, EBUSY);			/* 7 */
	ck_assert_uint_eq(mmreg_region_used(tu_region_of(p)), 1);
	reg_ok(c2, p, 4 * PS);				/* 8 */
	ck_assert_uint_eq(mmreg_region_used(tu_region_of(p)), 2);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 4);
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p), 1);
	TU_OK(tu_unregister(c2, p, 4 * PS));
	ck_assert_uint_eq(mmreg_region_used(tu_region_of(p)), 1);
	spapr_close(g1);
	spapr_close(c2);
	TU_OK(tu_unregister(C, p, 4 * PS));
	tu_unmap(p, 4);
}
END_TEST

START_TEST(t09_10_overlap_and_adjacent)
{
	uint8_t *p = tu_map(16), *a = p + 4 * PS;

	reg_ok(C, a, 4 * PS);
	reg_err(C, a + PS, 4 * PS, EINVAL);
	reg_err(C, a, 5 * PS, EINVAL);
	reg_err(C, a - PS, 2 * PS, EINVAL);
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)a - PS), 0);
	reg_ok(C, a + 4 * PS, 4 * PS);			/* 10 */
	ck_assert_uint_eq(spapr_mm_locked_vm(), 8);
	TU_OK(tu_unregister(C, a + 4 * PS, 4 * PS));
	TU_OK(tu_unregister(C, a, 4 * PS));
	tu_unmap(p, 16);
}
END_TEST

START_TEST(t11_12_memlock_limit)
{
	uint8_t *p = tu_map(20);

	TU_OK(spapr_mm_set_memlock(16 * PS, 0));
	reg_ok(C, p, 16 * PS);				/* equality allowed */
	reg_err(C, p + 16 * PS, PS, ENOMEM);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 16);
	TU_OK(spapr_mm_set_memlock(16 * PS, 1));	/* 12: CAP_IPC_LOCK */
	reg_ok(C, p + 16 * PS, PS);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 17);
	TU_OK(tu_unregister(C, p + 16 * PS, PS));
	TU_OK(tu_unregister(C, p, 16 * PS));
	TU_OK(spapr_mm_set_memlock(16ull << 30, 0));
	tu_unmap(p, 20);
}
END_TEST

START_TEST(t13_unmapped_page_efault)
{
	uint8_t *p = tu_map(8);

	tu_unmap(p + 7 * PS, 1);
	if (tu_quirks_kernel("Q5")) {
		/* The kernel returns pin_user_pages' partial count; nothing stays either way. */
		ck_assert_int_eq(tu_register(C, p, 8 * PS), 7);
		ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	} else {
		reg_err(C, p, 8 * PS, EFAULT);
	}
	tu_assert_emu_clean();
	tu_unmap(p, 7);
}
END_TEST

START_TEST(t15_16_unregister_misses)
{
	uint8_t *p = tu_map(4);
	int g1, c2 = tu_open_v2(1, &g1);

	/* Never bound: EPERM before any argument check, even a NULL one. */
	TU_ERR(tu_ioctl(c2, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, NULL), EPERM);
	reg_ok(C, p, 4 * PS);
	TU_ERR(tu_unregister(C, p + 8 * PS, PS), ENOENT);
	TU_ERR(tu_unregister(C, p, 2 * PS), ENOENT);		/* 16: no bisecting */
	TU_ERR(tu_unregister(C, p + PS, 3 * PS), ENOENT);
	TU_ERR(tu_unregister(C, p, 5 * PS), ENOENT);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 4);
	TU_OK(tu_unregister(C, p, 4 * PS));
	TU_ERR(tu_unregister(C, p, 4 * PS), ENOENT);		/* a second unregister */
	spapr_close(g1);
	spapr_close(c2);
	tu_unmap(p, 4);
}
END_TEST

START_TEST(t17_unregister_from_a_container_that_does_not_hold_it)
{
	uint8_t *p = tu_map(5);
	int g1, c2 = tu_open_v2(1, &g1);

	reg_ok(C, p, 4 * PS);
	reg_ok(c2, p + 4 * PS, PS);			/* c2 is bound to the same mm */
	TU_ERR(tu_unregister(c2, p, 4 * PS), ENOENT);
	ck_assert_uint_eq(mmreg_region_used(tu_region_of(p)), 1);
	spapr_close(g1);
	spapr_close(c2);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 4);
	TU_OK(tu_unregister(C, p, 4 * PS));
	tu_unmap(p, 5);
}
END_TEST

START_TEST(t18_19_20_unregister_and_mappings)
{
	uint8_t *p = tu_map(4);
	int g1, c2 = tu_open_v2(1, &g1);
	uint64_t locked;

	reg_ok(C, p, 4 * PS);
	map_ok(C, p, 0, PS);
	locked = spapr_mm_locked_vm();
	/* 19: the kernel's 0 orphans the region for good (check_quirks asserts it). */
	if (!tu_fixed_only_step("t18_19_20_unregister_and_mappings",
				"19: UNREGISTER of a mapped region", "Q3",
				"the kernel's 0 orphans the region for good"))
		TU_ERR(tu_unregister(C, p, 4 * PS), EBUSY);	/* 19 (Q3) */
	ck_assert_uint_eq(spapr_mm_locked_vm(), locked);
	ck_assert_uint_eq(mmreg_region_used(tu_region_of(p)), 1);
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p)), 2);
	reg_ok(c2, p, 4 * PS);				/* 20: a second owner */
	TU_OK(tu_unregister(c2, p, 4 * PS));
	ck_assert_uint_eq(mmreg_region_used(tu_region_of(p)), 1);
	TU_OK(tu_unmap_dma(C, 0, PS));
	TU_OK(tu_unregister(C, p, 4 * PS));			/* 18 */
	ck_assert_uint_eq(spapr_mm_locked_vm(), locked - 4);
	ck_assert_ptr_null(tu_region_of(p));
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p), 0);
	spapr_close(g1);
	spapr_close(c2);
	tu_unmap(p, 4);
}
END_TEST

/* --------------------------------------------------------- binding, ABI */

static int child_requests(int c)
{
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	uint8_t buf[64] = { 0 };

	if (spapr_ioctl(c, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_SPAPR_TCE_v2_IOMMU) != 1)
		return 1;
	if (tu_ioctl(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info) != -EPERM || tu_ioctl(c, 0x3b7f, buf) != -EPERM ||
	    tu_register(c, buf, PS) != -EPERM || tu_map_dma(c, buf, 0, PS, 3) != -EPERM ||
	    tu_unmap_dma(c, 0, PS) != -EPERM || tu_create(c, 12, 1 << 30, 1, NULL) != -EPERM ||
	    tu_remove(c, 0) != -EPERM || tu_unregister(c, buf, PS) != -EPERM)
		return 2;
	return 0;
}

START_TEST(t26_28_foreign_process_eperm)
{
	uint8_t *p = tu_map(1);
	pid_t pid;
	int status;

	reg_err(C, p + 1, PS, EINVAL);		/* 28: a failed REGISTER binds */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid)
		_exit(child_requests(C));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && !WEXITSTATUS(status), "child status %#x", status);
	tu_unmap(p, 1);
}
END_TEST

START_TEST(t27_29_extensions_and_unknown_requests)
{
	ck_assert_int_eq(spapr_ioctl(C, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_SPAPR_TCE_IOMMU), 1);
	ck_assert_int_eq(spapr_ioctl(C, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_SPAPR_TCE_v2_IOMMU), 1);
	ck_assert_int_eq(spapr_ioctl(C, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_TYPE1_IOMMU), 0);
	ck_assert_int_eq(spapr_ioctl(C, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU), 0);
	ck_assert_int_eq(spapr_ioctl(C, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)12345), 0);
	ck_assert_int_eq(spapr_ioctl(C, VFIO_GET_API_VERSION, NULL), VFIO_API_VERSION);
	TU_ERR(tu_ioctl(C, 0x3b7f, NULL), ENOTTY);
	TU_ERR(tu_ioctl(C, VFIO_IOMMU_ENABLE, NULL), ENOTTY);
	TU_ERR(tu_ioctl(C, VFIO_IOMMU_DISABLE, NULL), ENOTTY);
	TU_ERR(tu_ioctl(C, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_v2_IOMMU), EINVAL);	/* set already */
	TU_ERR(tu_ioctl(12345, VFIO_GET_API_VERSION, NULL), EBADF);
	TU_ERR(spapr_close(12345) ? -errno : 0, EBADF);
	TU_ERR(tu_ioctl(G, 0x3b7f, NULL), ENOTTY);
}
END_TEST

START_TEST(t_groups_and_set_iommu_rules)
{
	int c = spapr_open_container(), g1 = spapr_open_group(1), bad = -1;
	struct vfio_group_status st = { sizeof(st), 0 };

	ck_assert_int_eq(spapr_open_group(1), -1);	/* already open */
	ck_assert_int_eq(errno, EBUSY);
	ck_assert_int_eq(spapr_open_group(4096), -1);
	ck_assert_int_eq(errno, ENOENT);
	TU_ERR(tu_ioctl(c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_v2_IOMMU), EINVAL);	/* no group */
	TU_ERR(tu_ioctl(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, NULL), EINVAL);	/* no IOMMU yet */
	TU_OK(tu_ioctl(g1, VFIO_GROUP_GET_STATUS, &st));
	ck_assert_uint_eq(st.flags, VFIO_GROUP_FLAGS_VIABLE);
	TU_ERR(tu_ioctl(g1, VFIO_GROUP_SET_CONTAINER, &bad), EBADF);	/* -1: not an open fd */
	bad = 999;
	TU_ERR(tu_ioctl(g1, VFIO_GROUP_SET_CONTAINER, &bad), EBADF);
	TU_ERR(tu_ioctl(g1, VFIO_GROUP_SET_CONTAINER, &G), EBADFD);	/* a group fd, not a container */
	TU_ERR(tu_ioctl(g1, VFIO_GROUP_SET_CONTAINER, NULL), EFAULT);
	TU_ERR(tu_ioctl(g1, VFIO_GROUP_UNSET_CONTAINER, NULL), EINVAL);
	TU_OK(tu_attach(g1, c));
	TU_ERR(tu_attach(g1, c), EINVAL);
	TU_OK(tu_ioctl(g1, VFIO_GROUP_GET_STATUS, &st));
	ck_assert_uint_eq(st.flags, VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	/* vfio_ioctl_set_iommu: no driver's CHECK_EXTENSION claims these types (E1). */
	TU_ERR(tu_ioctl(c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU), ENODEV);
	for (unsigned long type = 0; type <= 8; type++)
		if (type != VFIO_SPAPR_TCE_IOMMU && type != VFIO_SPAPR_TCE_v2_IOMMU && type != VFIO_EEH)
			TU_ERR(tu_ioctl(c, VFIO_SET_IOMMU, (void *)type), ENODEV);
	/* VFIO_EEH is claimed on an EEH machine (the default), and tce_iommu_open refuses it. */
	TU_ERR(tu_ioctl(c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_EEH), EINVAL);
	TU_ERR(tu_ioctl(c, VFIO_SET_IOMMU, (void *)(uintptr_t)~0ul), ENODEV);
	TU_OK(tu_ioctl(c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_v2_IOMMU));
	TU_OK(tu_ioctl(g1, VFIO_GROUP_UNSET_CONTAINER, NULL));
	spapr_close(g1);
	spapr_close(c);
}
END_TEST

/* --------------------------------------------------------------- GET_INFO */

START_TEST(t30_31_get_info)
{
	struct vfio_iommu_spapr_tce_info info;
	int g1 = spapr_open_group(1), c1 = spapr_open_container();
	uint8_t *p = tu_map(1);

	memset(&info, 0xaa, sizeof(info));
	info.argsz = 15;
	TU_ERR(tu_ioctl(C, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info), EINVAL);
	info.argsz = 16;
	TU_OK(tu_ioctl(C, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info));
	ck_assert_uint_eq(info.dma32_window_start, 0);
	ck_assert_uint_eq(info.dma32_window_size, 2u << 30);
	ck_assert_uint_eq(info.flags, VFIO_IOMMU_SPAPR_INFO_DDW);	/* flags is in the first 16 bytes */
	ck_assert_uint_eq(info.ddw.pgsizes, 0xaaaaaaaaaaaaaaaaull);	/* bytes 16-31 untouched */
	ck_assert_uint_eq(info.ddw.levels, 0xaaaaaaaa);
	info.argsz = sizeof(info);
	TU_OK(tu_ioctl(C, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info));
	ck_assert_uint_eq(info.flags, VFIO_IOMMU_SPAPR_INFO_DDW);
	ck_assert_uint_eq(info.ddw.pgsizes, (1ull << 12) | (1ull << 16) | (1ull << 21) | (1ull << 30));
	ck_assert_uint_eq(info.ddw.max_dynamic_windows_supported, 2);
	ck_assert_uint_eq(info.ddw.levels, 5);
	/* 31: the platform default, even with window 0 removed. */
	reg_ok(C, p, PS);
	map_ok(C, p, 0, PS);
	TU_OK(tu_remove(C, 0));
	TU_OK(tu_ioctl(C, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info));
	ck_assert_uint_eq(info.dma32_window_size, 2u << 30);
	TU_OK(tu_unregister(C, p, PS));
	/* v1: no DDW */
	TU_OK(tu_attach(g1, c1));
	TU_OK(tu_ioctl(c1, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_IOMMU));
	TU_OK(tu_ioctl(c1, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info));
	ck_assert_uint_eq(info.flags, 0);
	ck_assert_uint_eq(info.ddw.pgsizes, 0);
	ck_assert_uint_eq(info.ddw.max_dynamic_windows_supported, 0);
	ck_assert_uint_eq(info.ddw.levels, 0);
	spapr_close(g1);
	spapr_close(c1);
	tu_unmap(p, 1);
}
END_TEST

/* ----------------------------------------------------------------- MAP */

START_TEST(t32_36_map_argument_checks)
{
	uint8_t *p = tu_map(16);

	TU_ERR(tu_map_dma(C, p, 0, PS, 3), EPERM);		/* 32 */
	TU_ERR(tu_unmap_dma(C, 0, PS), EPERM);
	reg_ok(C, p, 16 * PS);
	TU_ERR(tu_map_dma(C, p, 0, PS, 0), EINVAL);		/* 33 */
	TU_ERR(tu_map_dma(C, p, 0, PS, 4), EINVAL);
	TU_ERR(tu_map_dma(C, p, 2ull << 30, PS, 3), ENXIO);	/* 34 */
	TU_ERR(tu_map_dma(C, p, W64, PS, 3), ENXIO);
	TU_ERR(tu_map_dma(C, p, 0, PS + 1, 3), EINVAL);	/* 35 */
	TU_ERR(tu_map_dma(C, p + 1, 0, PS, 3), EINVAL);
	/* 36: the kernel's +1 (Q1) */
	ck_assert_int_eq(tu_map_dma(C, p, 0x800, PS, 3), tu_quirks_kernel("Q1") ? 1 : -EINVAL);
	/* 45: the kernel checks the first entry only and maps the in-window one (Q2) */
	ck_assert_int_eq(tu_map_dma(C, p, (2ull << 30) - PS, 2 * PS, 3),
			 tu_quirks_kernel("Q2") ? 0 : -EINVAL);
	ck_assert_int_eq(tu_unmap_dma(C, (2ull << 30) - PS, 2 * PS), tu_quirks_kernel("Q2") ? 0 : -EINVAL);
	TU_ERR(tu_unmap_dma(C, 0, PS + 1), EINVAL);
	ck_assert_int_eq(tu_unmap_dma(C, 0x800, PS), tu_quirks_kernel("Q1") ? 1 : -EINVAL);
	TU_OK(tu_map_dma(C, p, 0, 0, 3));			/* size 0: nothing to do */
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p)), 1);
	TU_OK(tu_unregister(C, p, 16 * PS));
	tu_unmap(p, 16);
}
END_TEST

START_TEST(t37_unregistered_vaddr)
{
	uint8_t *p = tu_map(8);

	reg_ok(C, p, 4 * PS);
	TU_ERR(tu_map_dma(C, p + 4 * PS, 0, PS, 3), EINVAL);
	ck_assert_uint_eq(tu_entry(C, 0, 0, NULL), 0);
	TU_OK(tu_unregister(C, p, 4 * PS));
	tu_unmap(p, 8);
}
END_TEST

START_TEST(t38_39_40_map_entries_counts_kill)
{
	uint8_t *p = tu_map(8);
	uint64_t k0, kp0, k1, kp1, ua;

	reg_ok(C, p, 4 * PS);
	reg_ok(C, p + 4 * PS, 4 * PS);
	map_ok(C, p, 0, PS);	/* materialise the default window first */
	TU_OK(tu_unmap_dma(C, 0, PS));
	kills(&k0, &kp0);
	map_ok(C, p, 16 * PS, 8 * PS);			/* 38: across two adjacent regions */
	kills(&k1, &kp1);
	ck_assert_uint_eq(k1 - k0, 1);			/* 39: one kill ... */
	ck_assert_uint_eq(kp1 - kp0, 8);		/* ... of exactly the 8 entries */
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p)), 5);
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p + 4 * PS)), 5);
	for (int i = 0; i < 8; i++) {
		uint64_t e = tu_entry(C, 0, 16 + i, &ua);

		ck_assert_uint_eq(e, emu_mem_ua_to_hpa((uintptr_t)p + i * PS, 12) | 3);
		ck_assert_uint_eq(ua, (uintptr_t)p + i * PS);
	}
	TU_OK(tu_map_dma(C, p, 16 * PS, PS, VFIO_DMA_MAP_FLAG_WRITE));	/* 40 */
	ck_assert_uint_eq(tu_entry(C, 0, 16, NULL) & 3, 3);
	TU_OK(tu_map_dma(C, p, 16 * PS, PS, VFIO_DMA_MAP_FLAG_READ));
	ck_assert_uint_eq(tu_entry(C, 0, 16, NULL) & 3, 1);
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p)), 5);	/* replaced, not added */
	TU_OK(tu_unmap_dma(C, 16 * PS, 8 * PS));
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p)), 1);
	TU_OK(tu_unregister(C, p, 4 * PS));
	TU_OK(tu_unregister(C, p + 4 * PS, 4 * PS));
	tu_unmap(p, 8);
}
END_TEST

START_TEST(t41_failure_at_page_j)
{
	uint8_t *p = tu_map(16);
	uint64_t k0, kp0, k1, kp1;

	reg_ok(C, p, 4 * PS);				/* pages 4.. are not registered */
	map_ok(C, p + 3 * PS, 0, PS);			/* an older mapping at entry 0 */
	map_ok(C, p, 5 * PS, PS);			/* and one at entry 5 */
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p)), 3);
	kills(&k0, &kp0);
	/* Entries 0-3 map p..p+3, entry 4 fails (p + 4 pages not registered). */
	TU_ERR(tu_map_dma(C, p, 0, 6 * PS, 3), EINVAL);
	kills(&k1, &kp1);
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(tu_entry(C, 0, (uint64_t)i, NULL), 0);	/* cleared, the older one too */
	ck_assert_uint_eq(tu_entry(C, 0, 5, NULL), emu_mem_ua_to_hpa((uintptr_t)p, 12) | 3);	/* untouched */
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p)), 2);
	ck_assert_uint_eq(k1 - k0, 1);
	ck_assert_uint_eq(kp1 - kp0, 4);		/* only the cleared part */
	TU_OK(tu_unmap_dma(C, 0, 8 * PS));
	TU_OK(tu_unregister(C, p, 4 * PS));
	tu_unmap(p, 16);
}
END_TEST

START_TEST(t42_43_remap_and_unmap)
{
	uint8_t *p = tu_map(8);
	uint64_t ua;

	reg_ok(C, p, 4 * PS);
	reg_ok(C, p + 4 * PS, 4 * PS);
	map_ok(C, p, 0, 3 * PS);
	map_ok(C, p + 4 * PS, PS, PS);			/* 42: entry 1 moves to R2 */
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p)), 3);
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p + 4 * PS)), 2);
	tu_entry(C, 0, 1, &ua);
	ck_assert_uint_eq(ua, (uintptr_t)p + 4 * PS);
	TU_OK(tu_unmap_dma(C, 0, 3 * PS));			/* 43 */
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(tu_entry(C, 0, (uint64_t)i, &ua), 0);
		ck_assert_uint_eq(ua, 0);
	}
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p)), 1);
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p + 4 * PS)), 1);
	TU_OK(tu_unmap_dma(C, 100 * PS, 50 * PS));		/* never mapped */
	{
		struct vfio_iommu_type1_dma_unmap u = { sizeof(u), 1, 0, PS };

		TU_ERR(tu_ioctl(C, VFIO_IOMMU_UNMAP_DMA, &u), EINVAL);
	}
	TU_OK(tu_unregister(C, p, 4 * PS));
	TU_OK(tu_unregister(C, p + 4 * PS, 4 * PS));
	tu_unmap(p, 8);
}
END_TEST

START_TEST(t38_44_large_iommu_page_over_normal_memory)
{
	uint8_t *p = tu_map_aligned(64, 16);
	uint64_t start;

	reg_ok(C, p, 64 * PS);
	TU_OK(tu_create(C, 16, 1ull << 32, 1, &start));
	ck_assert_uint_eq(start, W64);
	TU_ERR(tu_map_dma(C, p, W64, 1u << 16, 3), EINVAL);	/* region pageshift is 12 */
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p)), 1);
	TU_OK(tu_unregister(C, p, 64 * PS));
	tu_unmap(p, 64);
}
END_TEST

START_TEST(t_dma_reaches_memory_and_faults_after_unmap)
{
	uint8_t *p = tu_map(4), buf[16];

	reg_ok(C, p, 4 * PS);
	map_ok(C, p, 0x10000, 4 * PS);
	TU_OK(emu_dma_write(0, 0x10000 + 2 * PS + 5, "sPAPR", 6));
	ck_assert_str_eq((char *)p + 2 * PS + 5, "sPAPR");
	memcpy(p + 3 * PS, "back", 5);
	TU_OK(emu_dma_read(0, 0x10000 + 3 * PS, buf, 5));
	ck_assert_str_eq((char *)buf, "back");
	TU_OK(tu_unmap_dma(C, 0x10000, 4 * PS));
	TU_ERR(emu_dma_read(0, 0x10000, buf, 4), EFAULT);
	TU_OK(tu_unregister(C, p, 4 * PS));
	tu_unmap(p, 4);
}
END_TEST

/* ------------------------------------------------------------- windows */

START_TEST(t47_first_create_makes_both_windows)
{
	uint64_t start, before = spapr_mm_locked_vm();
	struct emu_group_stats st;

	TU_OK(tu_create(C, 16, 1ull << 36, 2, &start));
	ck_assert_uint_eq(start, W64);
	ck_assert_uint_eq(spapr_mm_locked_vm() - before, DEF_PAGES + table_pages(16, 1ull << 36, 2));
	TU_OK(emu_group_get_stats(0, &st));
	ck_assert(st.programmed[0] && st.programmed[1]);
	ck_assert_uint_eq(st.windows[0].page_shift, 12);
	ck_assert_uint_eq(st.windows[0].size, (2ull << 30) >> 12);
	ck_assert_uint_eq(st.windows[1].bus_offset, W64);
	ck_assert_uint_eq(st.windows[1].levels, 2);
}
END_TEST

START_TEST(t48_49_create_rejections)
{
	struct vfio_iommu_spapr_tce_create cr = { .argsz = sizeof(cr), .page_shift = 16,
						  .window_size = 1ull << 32, .levels = 1 };
	uint64_t start, before;

	TU_OK(tu_create(C, 16, 1ull << 32, 1, &start));	/* default + slot 1 */
	TU_OK(tu_remove(C, W64));
	before = spapr_mm_locked_vm();
	TU_ERR(tu_create(C, 13, 1ull << 32, 1, NULL), EINVAL);
	TU_ERR(tu_create(C, 24, 1ull << 32, 1, NULL), EINVAL);	/* 16M not in pgsizes */
	TU_ERR(tu_create(C, 16, (1ull << 32) + (1ull << 16), 1, NULL), EINVAL);
	TU_ERR(tu_create(C, 16, 1ull << 32, 0, NULL), EINVAL);
	TU_ERR(tu_create(C, 16, 1ull << 32, 6, NULL), EINVAL);
	TU_ERR(tu_create(C, 12, 1ull << 40, 5, NULL), EINVAL);	/* 55-bit rule: (9 * 5 + 12) */
	TU_ERR(tu_create(C, 12, 1ull << 50, 4, NULL), ENOMEM);	/* valid, but 2 GiB of table */
	TU_ERR(tu_create(C, 16, 1ull << 15, 1, NULL), EINVAL);	/* Q14 */
	cr.flags = 1;
	TU_ERR(tu_ioctl(C, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr), EINVAL);
	cr.flags = 0;
	cr.argsz = 39;
	TU_ERR(tu_ioctl(C, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr), EINVAL);
	ck_assert_uint_eq(spapr_mm_locked_vm(), before);
	TU_OK(tu_create(C, 21, 1ull << 40, 3, &start));
	TU_ERR(tu_create(C, 16, 1ull << 32, 1, NULL), ENOSPC);	/* 49 */
	ck_assert_uint_eq(spapr_mm_locked_vm(), before + table_pages(21, 1ull << 40, 3));
}
END_TEST

START_TEST(t50_create_over_the_limit)
{
	uint64_t start;

	TU_OK(tu_create(C, 16, 1ull << 32, 1, &start));
	TU_OK(tu_remove(C, W64));
	TU_OK(spapr_mm_set_memlock((DEF_PAGES + 10) * PS, 0));
	TU_ERR(tu_create(C, 12, 1ull << 36, 1, NULL), ENOMEM);
	ck_assert_uint_eq(spapr_mm_locked_vm(), DEF_PAGES);
	TU_OK(spapr_mm_set_memlock(16ull << 30, 0));
}
END_TEST

START_TEST(t51_remove_pending_default)
{
	uint64_t start;

	TU_OK(tu_remove(C, 0));				/* cancels, creates nothing */
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	TU_OK(tu_create(C, 12, 1ull << 30, 1, &start));
	ck_assert_uint_eq(start, 0);			/* slot 0 reused */
	ck_assert_uint_eq(spapr_mm_locked_vm(), table_pages(12, 1ull << 30, 1));
	TU_OK(tu_create(C, 16, 1ull << 32, 1, &start));
	ck_assert_uint_eq(start, W64);
}
END_TEST

START_TEST(t52_53_remove_by_any_address_clears)
{
	uint8_t *p = tu_map(8);
	uint64_t start, with_w64;
	struct emu_group_stats st;

	reg_ok(C, p, 8 * PS);
	TU_OK(tu_create(C, 12, 1ull << 32, 2, &start));
	map_ok(C, p, W64 + 64 * PS, 8 * PS);
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p)), 9);
	with_w64 = spapr_mm_locked_vm();
	TU_ERR(tu_remove(C, W64 + (1ull << 32)), EINVAL);	/* 52: past its end */
	TU_ERR(tu_remove(C, 1ull << 40), EINVAL);
	TU_OK(tu_remove(C, W64 + 12345 * PS));		/* any address inside */
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p)), 1);	/* 53 */
	ck_assert_uint_eq(spapr_mm_locked_vm(), with_w64 - table_pages(12, 1ull << 32, 2));
	TU_OK(emu_group_get_stats(0, &st));
	ck_assert(st.programmed[0] && !st.programmed[1]);
	TU_ERR(tu_map_dma(C, p, W64, PS, 3), ENXIO);
	TU_OK(tu_unregister(C, p, 8 * PS));
	tu_unmap(p, 8);
}
END_TEST

START_TEST(t54_no_group)
{
	/*
	 * The driver's own "no group" ENXIO is unreachable through the VFIO
	 * core: removing the last group releases the driver, after which the
	 * core answers every driver request with EINVAL (vfio_fops_unl_ioctl).
	 */
	TU_OK(tu_ioctl(G, VFIO_GROUP_UNSET_CONTAINER, NULL));
	TU_ERR(tu_create(C, 16, 1ull << 32, 1, NULL), EINVAL);
	TU_ERR(tu_remove(C, 0), EINVAL);
}
END_TEST

START_TEST(t55_small_window_enlarged)
{
	uint8_t *p = tu_map(1);
	uint64_t start;

	reg_ok(C, p, PS);
	TU_OK(tu_create(C, 12, 1ull << 20, 1, &start));	/* 256 entries -> PS/8 = 512 */
	map_ok(C, p, W64 + 511 * PS, PS);
	TU_ERR(tu_map_dma(C, p, W64 + 512 * PS, PS, 3), ENXIO);
	TU_OK(tu_unmap_dma(C, W64 + 511 * PS, PS));
	TU_OK(tu_unregister(C, p, PS));
	tu_unmap(p, 1);
}
END_TEST

/* ------------------------------------------------------------ lifetime */

START_TEST(t60_close_releases_everything)
{
	uint8_t *p = tu_map(16);
	int g1, c2 = tu_open_v2(1, &g1);
	uint64_t start;

	reg_ok(C, p, 8 * PS);
	reg_ok(C, p + 8 * PS, 8 * PS);
	reg_ok(c2, p + 8 * PS, 8 * PS);			/* shared with c2 */
	TU_OK(tu_create(C, 12, 1ull << 32, 3, &start));
	map_ok(C, p, 0, 16 * PS);
	map_ok(C, p, W64, 16 * PS);
	TU_OK(spapr_close(G));
	TU_OK(spapr_close(C));
	G = C = -1;
	/* Only c2's region is left, with no mapping, charged once. */
	ck_assert_uint_eq(spapr_mm_locked_vm(), 8);
	ck_assert_ptr_null(tu_region_of(p));
	ck_assert_uint_eq(mmreg_region_mapped(tu_region_of(p + 8 * PS)), 1);
	ck_assert_uint_eq(mmreg_region_used(tu_region_of(p + 8 * PS)), 1);
	TU_OK(spapr_close(g1));
	TU_OK(spapr_close(c2));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	tu_unmap(p, 16);
}
END_TEST

START_TEST(t61_last_group_detach_releases_the_driver)
{
	uint8_t *p = tu_map(4);
	struct emu_group_stats st;

	reg_ok(C, p, 4 * PS);
	map_ok(C, p, 0, 4 * PS);
	TU_OK(tu_ioctl(G, VFIO_GROUP_UNSET_CONTAINER, NULL));
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	ck_assert_ptr_null(tu_region_of(p));
	TU_OK(emu_group_get_stats(0, &st));
	ck_assert(!st.programmed[0]);
	TU_ERR(tu_map_dma(C, p, 0, PS, 3), EINVAL);		/* no driver: needs SET_IOMMU again */
	TU_OK(tu_attach(G, C));
	TU_OK(tu_ioctl(C, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_v2_IOMMU));
	TU_ERR(tu_map_dma(C, p, 0, PS, 3), EPERM);		/* a new instance: not enabled */
	reg_ok(C, p, 4 * PS);
	map_ok(C, p, 0, PS);				/* default window pending again */
	ck_assert_uint_eq(spapr_mm_locked_vm(), 4 + DEF_PAGES);
	tu_unmap(p, 4);
}
END_TEST

START_TEST(t_two_groups_share_windows)
{
	uint8_t *p = tu_map(2), buf[4];
	int g1 = spapr_open_group(1);
	struct emu_group_stats st;

	reg_ok(C, p, 2 * PS);
	map_ok(C, p, 0, 2 * PS);
	TU_OK(tu_attach(g1, C));				/* programmed into the new group too */
	TU_OK(emu_group_get_stats(1, &st));
	ck_assert(st.programmed[0]);
	memcpy(p, "abc", 4);
	TU_OK(emu_dma_read(1, 0, buf, 4));
	ck_assert_str_eq((char *)buf, "abc");
	TU_OK(spapr_close(g1));				/* detach: only group 1 loses the window (Q10) */
	TU_OK(emu_group_get_stats(1, &st));
	ck_assert(!st.programmed[0]);
	/* Group 0 keeps its entries; the kernel clears every window's (Q10). */
	ck_assert_int_eq(emu_dma_read(0, 0, buf, 4), tu_quirks_kernel("Q10") ? -EFAULT : 0);
	TU_OK(tu_unmap_dma(C, 0, 2 * PS));
	TU_OK(tu_unregister(C, p, 2 * PS));
	tu_unmap(p, 2);
}
END_TEST

START_TEST(t_thousand_cycles)
{
	uint8_t *p = tu_map(16);

	TU_OK(spapr_close(G));
	TU_OK(spapr_close(C));
	G = C = -1;
	for (int i = 0; i < 1000; i++) {
		int g, c = tu_open_v2(i % 4, &g);

		reg_ok(c, p, 16 * PS);
		map_ok(c, p, 0, 16 * PS);
		TU_OK(spapr_close(c));			/* container first: the group holds it */
		TU_OK(spapr_close(g));
		ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	}
	tu_assert_emu_clean();
	tu_unmap(p, 16);
}
END_TEST

/* ------------------------------------------------------------------ v1 */

START_TEST(t_v1_enable_map_unmap)
{
	int g1 = spapr_open_group(1), c1 = spapr_open_container();
	uint8_t *p = tu_map(4);
	uint64_t win_pages = (2ull << 30) / PS;

	TU_OK(tu_attach(g1, c1));
	TU_OK(tu_ioctl(c1, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_IOMMU));
	TU_ERR(tu_map_dma(c1, p, 0, PS, 3), EPERM);
	TU_OK(tu_ioctl(c1, VFIO_IOMMU_ENABLE, NULL));
	ck_assert_uint_eq(spapr_mm_locked_vm(), win_pages);
	TU_ERR(tu_ioctl(c1, VFIO_IOMMU_ENABLE, NULL), EBUSY);
	map_ok(c1, p, 0, 4 * PS);			/* pins at map time */
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p + 3 * PS), 1);
	ck_assert_uint_eq(spapr_mm_locked_vm(), win_pages + DEF_PAGES);
	TU_OK(tu_unmap_dma(c1, PS, PS));
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p + PS), 0);
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p + 2 * PS), 1);
	TU_OK(tu_ioctl(c1, VFIO_IOMMU_DISABLE, NULL));
	TU_OK(tu_ioctl(c1, VFIO_IOMMU_DISABLE, NULL));
	ck_assert_uint_eq(spapr_mm_locked_vm(), DEF_PAGES);
	TU_OK(spapr_close(c1));
	TU_OK(spapr_close(g1));			/* release unpins the rest */
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p + 2 * PS), 0);
	tu_unmap(p, 4);
}
END_TEST

/*
 * E8: tce_iommu_use_page pins without FOLL_WRITE when the device only reads
 * (DMA_TO_DEVICE): a v1 MAP_DMA with READ of a read-only mapping succeeds
 * and the device reads it; with WRITE the pin needs a writable page,
 * EFAULT, nothing pinned.  A device write through the READ entry faults.
 */
START_TEST(t_v1_map_read_only_memory)
{
	int g1 = spapr_open_group(1), c1 = spapr_open_container();
	uint8_t *p = tu_map(2);
	char buf[8] = { 0 };

	memcpy(p, "ro-page", 8);
	ck_assert_int_eq(mprotect(p, 2 * PS, PROT_READ), 0);
	TU_OK(tu_attach(g1, c1));
	TU_OK(tu_ioctl(c1, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_IOMMU));
	TU_OK(tu_ioctl(c1, VFIO_IOMMU_ENABLE, NULL));
	TU_OK(tu_map_dma(c1, p, 0, PS, VFIO_DMA_MAP_FLAG_READ));
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p), 1);
	TU_ERR(tu_map_dma(c1, p + PS, PS, PS, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE), EFAULT);
	TU_ERR(tu_map_dma(c1, p + PS, PS, PS, VFIO_DMA_MAP_FLAG_WRITE), EFAULT);
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p + PS), 0);
	TU_OK(emu_dma_read(1, 0, buf, 8));
	ck_assert_str_eq(buf, "ro-page");
	ck_assert_int_lt(emu_dma_write(1, 0, "x", 1), 0);	/* the entry is READ only */
	ck_assert_str_eq((char *)p, "ro-page");
	TU_OK(tu_unmap_dma(c1, 0, PS));
	ck_assert_uint_eq(emu_mem_ua_pins((uintptr_t)p), 0);
	TU_OK(spapr_close(c1));
	TU_OK(spapr_close(g1));
	ck_assert_int_eq(mprotect(p, 2 * PS, PROT_READ | PROT_WRITE), 0);
	tu_unmap(p, 2);
}
END_TEST

START_TEST(t_v1_single_group)
{
	int g1 = spapr_open_group(1), g2 = spapr_open_group(2), c1 = spapr_open_container();

	TU_OK(tu_attach(g1, c1));
	TU_OK(tu_ioctl(c1, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_IOMMU));
	TU_ERR(tu_attach(g2, c1), EBUSY);
	/* Two groups attached before SET_IOMMU: the v1 driver takes one only. */
	TU_OK(tu_ioctl(g1, VFIO_GROUP_UNSET_CONTAINER, NULL));
	TU_OK(tu_attach(g1, c1));
	TU_OK(tu_attach(g2, c1));
	TU_ERR(tu_ioctl(c1, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_IOMMU), EBUSY);
	TU_OK(tu_ioctl(c1, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_v2_IOMMU));
	spapr_close(g2);
	spapr_close(g1);
	spapr_close(c1);
}
END_TEST

/* ---------------------------------------------------- fail-nth sweep */

struct sweep {
	uint8_t *p;
};

/* open, attach, register, create, map, remove, unmap, unregister, close. */
static int sweep_run(void *arg)
{
	struct sweep *s = arg;
	int g, c, rc;
	uint64_t start;

	c = spapr_open_container();
	if (c < 0)
		return -errno;
	g = spapr_open_group(2);
	if (g < 0) {
		rc = -errno;
		goto out_c;
	}
	rc = tu_attach(g, c);
	if (rc)
		goto out_g;
	rc = tu_ioctl(c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_v2_IOMMU);
	if (rc)
		goto out_g;
	rc = tu_register(c, s->p, 8 * PS);
	if (rc)
		goto out_g;
	rc = tu_create(c, 12, 1ull << 34, 3, &start);
	if (rc)
		goto out_g;
	rc = tu_map_dma(c, s->p, W64 + (1ull << 33), 8 * PS, 3);
	if (rc)
		goto out_g;
	rc = tu_map_dma(c, s->p, 0, 8 * PS, 3);
	if (rc)
		goto out_g;
	rc = tu_remove(c, W64);
	if (rc)
		goto out_g;
	rc = tu_unmap_dma(c, 0, 8 * PS);
	if (rc)
		goto out_g;
	rc = tu_unregister(c, s->p, 8 * PS);
out_g:
	spapr_close(g);
out_c:
	spapr_close(c);
	return rc;
}

static void sweep_check(void *arg, int rc)
{
	(void)arg;
	ck_assert_msg(rc == 0 || rc == -ENOMEM || rc == -EFAULT, "rc %s at %s", tu_errname(rc),
		      util_fail_nth_site() ? util_fail_nth_site() : "-");
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	tu_assert_emu_clean();
	TU_OK(emu_machine_check());
}

START_TEST(t_fail_nth_sweep)
{
	struct sweep s;
	unsigned points;

	if (tu_fixed_only("t_fail_nth_sweep", "Q6",
			  "a table creation failing after its charge leaks it in the kernel; "
			  "the sweep asserts nothing stays charged after every failure"))
		return;
	s.p = tu_map(8);
	TU_OK(spapr_close(G));
	TU_OK(spapr_close(C));
	G = C = -1;
	emu_mem_set_pin_chunk(2);
	points = tu_sweep(sweep_run, sweep_check, &s);
	printf("container fail-nth sweep: %u failure points\n", points);
	ck_assert_uint_ge(points, 20);
	tu_unmap(s.p, 8);
}
END_TEST

static Suite *spapr_suite(void)
{
	Suite *s = suite_create("spapr");
	TCase *t = tcase_create("container");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, t01_04_register_argument_checks);
	tcase_add_test(t, t05_v1_has_no_preregistration);
	tcase_add_test(t, t06_register_charges_and_enables);
	tcase_add_test(t, t07_08_same_range_twice_and_shared);
	tcase_add_test(t, t09_10_overlap_and_adjacent);
	tcase_add_test(t, t11_12_memlock_limit);
	tcase_add_test(t, t13_unmapped_page_efault);
	tcase_add_test(t, t15_16_unregister_misses);
	tcase_add_test(t, t17_unregister_from_a_container_that_does_not_hold_it);
	tcase_add_test(t, t18_19_20_unregister_and_mappings);
	tcase_add_test(t, t26_28_foreign_process_eperm);
	tcase_add_test(t, t27_29_extensions_and_unknown_requests);
	tcase_add_test(t, t_groups_and_set_iommu_rules);
	tcase_add_test(t, t30_31_get_info);
	tcase_add_test(t, t32_36_map_argument_checks);
	tcase_add_test(t, t37_unregistered_vaddr);
	tcase_add_test(t, t38_39_40_map_entries_counts_kill);
	tcase_add_test(t, t41_failure_at_page_j);
	tcase_add_test(t, t42_43_remap_and_unmap);
	tcase_add_test(t, t38_44_large_iommu_page_over_normal_memory);
	tcase_add_test(t, t_dma_reaches_memory_and_faults_after_unmap);
	tcase_add_test(t, t47_first_create_makes_both_windows);
	tcase_add_test(t, t48_49_create_rejections);
	tcase_add_test(t, t50_create_over_the_limit);
	tcase_add_test(t, t51_remove_pending_default);
	tcase_add_test(t, t52_53_remove_by_any_address_clears);
	tcase_add_test(t, t54_no_group);
	tcase_add_test(t, t55_small_window_enlarged);
	tcase_add_test(t, t60_close_releases_everything);
	tcase_add_test(t, t61_last_group_detach_releases_the_driver);
	tcase_add_test(t, t_two_groups_share_windows);
	tcase_add_test(t, t_thousand_cycles);
	tcase_add_test(t, t_v1_enable_map_unmap);
	tcase_add_test(t, t_v1_single_group);
	tcase_add_test(t, t_v1_map_read_only_memory);
	tcase_add_test(t, t_fail_nth_sweep);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(spapr_suite());
}
