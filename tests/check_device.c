/* SPDX-License-Identifier: MIT */
/*
 * The VFIO device fd (spapr/device*.c) and the dma-engine model
 * (emu/dev_dma.c), through spapr_ioctl, spapr_pread, spapr_pwrite and
 * spapr_mmap only: GET_DEVICE_FD and its errors, every device request with
 * argsz from 0 to beyond the full size, bad indexes and offsets, config
 * space virtualisation, BAR access and mmap, INTx and MSI-X through
 * eventfds (mask, unmask, loopback triggers), reset (also while DMA runs),
 * hot-reset info, close ordering of device, group and container fds, the
 * machine's devG= configuration, and a fail-nth sweep over device creation
 * and release.  The DMA engine is driven by its registers alone: the CPU
 * sees the data, the fault log stays empty, and a missing TCE is a DMA
 * engine error recorded in the fault log.
 *
 * Fixture: container C (v2) with group 0 attached, device fd D of group 0's
 * dma-engine; a 16 GiB emulated RLIMIT_MEMLOCK.  Teardown closes
 * everything and asserts locked_vm 0, nothing pinned, no table memory, and
 * no descriptor left open that the test did not open.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <linux/vfio.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu/dev.h"
#include "emu/dev_dma.h"
#include "emu/emu.h"
#include "emu/mem.h"
#include "spapr/spapr.h"
#include "tests/device_util.h"
#include "tests/testutil.h"
#include "tests/vfio_util.h"

#define PS EMU_PAGE_SIZE
#define IOVA 0x100000ull

static int C, G, D, fds_at_start;

/*
 * The descriptors of the process, less those emu keeps open on purpose once
 * a pin or a DMA needed them (/proc/self/pagemap and /proc/self/maps, see
 * emu/mem_pin.c): a leak is any other descriptor left behind.
 */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d))) {
		char path[300], target[256];
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = 0;
			if (strstr(target, "/pagemap") || !strcmp(target + (len > 5 ? len - 5 : 0), "/maps"))
				continue;
		}
		n++;
	}
	closedir(d);
	return n;
}

static void setup(void)
{
	fds_at_start = count_fds();
	TU_OK(spapr_mm_set_memlock(16ull << 30, 0));
	C = tu_open_v2(0, &G);
	D = tdev_get(G, "0000:00:01.0");
	ck_assert_int_ge(D, 0);
}

static void teardown(void)
{
	struct emu_fault_log_stats st;

	if (D >= 0)
		TU_OK(spapr_close(D) ? -errno : 0);
	if (G >= 0)
		TU_OK(spapr_close(G) ? -errno : 0);
	if (C >= 0)
		TU_OK(spapr_close(C) ? -errno : 0);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	tu_assert_emu_clean();
	TU_OK(emu_machine_check());
	TU_OK(emu_fault_log_stats(0, &st));
	ck_assert_int_eq(count_fds(), fds_at_start);
}

/* ------------------------------------------------------------- helpers */

/* ---------------------------------------------------- GET_DEVICE_FD */

START_TEST(t_get_device_fd_errors)
{
	int g1 = spapr_open_group(1), c2;
	char *page;

	ck_assert_int_ge(g1, 0);
	TU_ERR(tdev_get(g1, "0000:00:02.0"), EINVAL);	/* no container */
	TU_ERR(tdev_get(g1, "0000:00:09.0"), ENODEV);	/* the name is looked up first */
	c2 = spapr_open_container();
	TU_OK(tu_attach(g1, c2));
	TU_ERR(tdev_get(g1, "0000:00:02.0"), EINVAL);	/* container without an IOMMU driver */
	TU_OK(spapr_close(g1));
	TU_OK(spapr_close(c2));

	TU_ERR(tdev_get(G, "0000:00:02.0"), ENODEV);	/* group 1's device, not in group 0 */
	TU_ERR(tdev_get(G, "0000:00:01.0 "), ENODEV);
	TU_ERR(tdev_get(G, "0000:00:01"), ENODEV);
	TU_ERR(tdev_get(G, ""), ENODEV);
	TU_ERR(tdev_get(G, NULL), EFAULT);
	/* No NUL within one page: EINVAL (strndup_user); a NUL at the last byte is fine. */
	page = tu_map(2);
	memset(page, 'a', 2 * PS);
	TU_ERR(tdev_get(G, page), EINVAL);
	page[4095] = 0;
	TU_ERR(tdev_get(G, page), ENODEV);
	/* A name running into an unmapped page faults. */
	ck_assert_int_eq(munmap(page + PS, PS), 0);
	page[PS - 1] = 'a';
	TU_ERR(tdev_get(G, page + PS - 4), EFAULT);
	strcpy(page + PS - 13, "0000:00:01.0");
	{
		int d2 = tdev_get(G, page + PS - 13);

		ck_assert_int_ge(d2, 0);
		TU_OK(spapr_close(d2));
	}
	tu_unmap(page, 1);
	/* The device fd is not a group or container. */
	TU_ERR(tdev_get(D, "0000:00:01.0"), ENOTTY);
	TU_ERR(tdev_get(C, "0000:00:01.0"), ENOTTY);
}
END_TEST

START_TEST(t_unset_container_busy)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };

	TU_ERR(tu_ioctl(G, VFIO_GROUP_UNSET_CONTAINER, NULL), EBUSY);
	TU_OK(tu_ioctl(G, VFIO_GROUP_GET_STATUS, &st));
	ck_assert_uint_eq(st.flags, VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	TU_OK(spapr_close(D));
	D = -1;
	TU_OK(tu_ioctl(G, VFIO_GROUP_UNSET_CONTAINER, NULL));
}
END_TEST

START_TEST(t_two_fds_share_the_device)
{
	int d2 = tdev_get(G, "0000:00:01.0");
	uint32_t v = 0;

	ck_assert_int_ge(d2, 0);
	tdev_cfg_wr(D, EMU_PCI_INTERRUPT_LINE, 1, 0x2a);
	ck_assert_int_eq(tdev_rd(d2, &v, 1, TDEV_CFG + EMU_PCI_INTERRUPT_LINE), 1);
	ck_assert_uint_eq(v, 0x2a);
	TU_OK(spapr_close(D));
	D = d2;
	TU_ERR(tu_ioctl(G, VFIO_GROUP_UNSET_CONTAINER, NULL), EBUSY);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_INTERRUPT_LINE, 1), 0x2a);
}
END_TEST

/* Closes in every order keep the device usable until its own close. */
START_TEST(t_close_order)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	uint8_t *p;

	/* group first: the device fd holds it; the group id stays taken */
	TU_OK(spapr_close(G));
	G = -1;
	TU_OK(tu_ioctl(D, VFIO_DEVICE_GET_INFO, &info));
	ck_assert_int_eq(spapr_open_group(0), -1);
	ck_assert_int_eq(errno, EBUSY);
	/* container next: still attached through the group */
	p = tdev_map_buf(C, 1, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	tdev_master_on(D);
	memset(p, 0x5a, 64);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 128, 64, EMU_DMAE_DIR_MEM_TO_MEM), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(p[128 + 63], 0x5a);
	tdev_unmap_buf(C, p, 1, IOVA);
	TU_OK(spapr_close(C));
	C = -1;
	TU_OK(tu_ioctl(D, VFIO_DEVICE_GET_INFO, &info));
	/* the device last: everything goes */
	TU_OK(spapr_close(D));
	D = -1;
	G = spapr_open_group(0);
	ck_assert_int_ge(G, 0);
	TU_ERR(tdev_get(G, "0000:00:01.0"), EINVAL);
	TU_ERR(spapr_close(D) ? -errno : 0, EBADF);
}
END_TEST

/* ----------------------------------------------------------- GET_INFO */

START_TEST(t_get_info_argsz)
{
	uint8_t raw[64];
	struct vfio_device_info *info = (void *)raw;

	for (uint32_t argsz = 0; argsz <= sizeof(raw); argsz++) {
		memset(raw, 0xee, sizeof(raw));
		info->argsz = argsz;
		if (argsz < 16) {
			TU_ERR(tu_ioctl(D, VFIO_DEVICE_GET_INFO, raw), EINVAL);
			ck_assert_uint_eq(raw[8], 0xee);
			continue;
		}
		TU_OK(tu_ioctl(D, VFIO_DEVICE_GET_INFO, raw));
		ck_assert_uint_eq(info->flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
		ck_assert_uint_eq(info->num_regions, 10);	/* 9 vfio-pci ones, the fault region */
		ck_assert_uint_eq(info->num_irqs, 5);
		/* only min(argsz, sizeof) bytes are written */
		for (size_t i = argsz < sizeof(*info) ? argsz : sizeof(*info); i < sizeof(raw); i++)
			ck_assert_uint_eq(raw[i], 0xee);
	}
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_GET_INFO, NULL), EFAULT);
	TU_ERR(tu_ioctl(D, _IO(VFIO_TYPE, VFIO_BASE + 30), raw), ENOTTY);
	{
		struct vfio_device_feature f = { sizeof(f), VFIO_DEVICE_FEATURE_GET | 100 };

		TU_ERR(tu_ioctl(D, VFIO_DEVICE_FEATURE, &f), ENOTTY);
		f.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION;
		TU_ERR(tu_ioctl(D, VFIO_DEVICE_FEATURE, &f), ENOTTY);
	}
	TU_ERR(tu_ioctl(D, VFIO_GROUP_GET_STATUS, raw), ENOTTY);
}
END_TEST

START_TEST(t_region_info)
{
	static const struct { uint64_t size; uint32_t flags; } want[8] = {
		{ 0x1000, 3 }, { 0, 0 }, { 0x10000, 7 }, { 0, 0 },
		{ 0x1000, 7 | VFIO_REGION_INFO_FLAG_CAPS }, { 0, 0 }, { 0, 0 }, { 0x100, 3 },
	};
	uint8_t raw[64];
	struct vfio_region_info *ri = (void *)raw;
	struct vfio_info_cap_header *cap = (void *)(raw + sizeof(*ri));

	for (uint32_t i = 0; i < 8; i++) {
		memset(raw, 0, sizeof(raw));
		ri->argsz = sizeof(*ri);
		ri->index = i;
		TU_OK(tu_ioctl(D, VFIO_DEVICE_GET_REGION_INFO, raw));
		ck_assert_uint_eq(ri->offset, TDEV_REG(i));
		ck_assert_uint_eq(ri->size, want[i].size);
		ck_assert_uint_eq(ri->flags, want[i].flags);
	}
	/* BAR4 holds the MSI-X table and is mmap-able: the MSIX_MAPPABLE cap. */
	memset(raw, 0xee, sizeof(raw));
	ri->argsz = sizeof(*ri);
	ri->index = 4;
	TU_OK(tu_ioctl(D, VFIO_DEVICE_GET_REGION_INFO, raw));
	ck_assert_uint_eq(ri->argsz, sizeof(*ri) + sizeof(*cap));
	ck_assert_uint_eq(ri->cap_offset, 0);
	ck_assert_uint_eq(raw[sizeof(*ri)], 0xee);
	ri->argsz = sizeof(*ri) + sizeof(*cap);
	TU_OK(tu_ioctl(D, VFIO_DEVICE_GET_REGION_INFO, raw));
	ck_assert_uint_eq(ri->cap_offset, sizeof(*ri));
	ck_assert_uint_eq(cap->id, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
	ck_assert_uint_eq(cap->version, 1);
	ck_assert_uint_eq(cap->next, 0);
	/* argsz and index */
	for (uint32_t argsz = 0; argsz < sizeof(*ri); argsz++) {
		ri->argsz = argsz;
		ri->index = 0;
		TU_ERR(tu_ioctl(D, VFIO_DEVICE_GET_REGION_INFO, raw), EINVAL);
	}
	ri->argsz = sizeof(*ri);
	for (uint32_t i = 8; i < 12; i += i == 8 ? 2 : 1) {	/* 9: the fault region */
		ri->index = i;
		TU_ERR(tu_ioctl(D, VFIO_DEVICE_GET_REGION_INFO, raw), EINVAL);
	}
	ri->index = UINT32_MAX;
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_GET_REGION_INFO, raw), EINVAL);
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_GET_REGION_INFO, NULL), EFAULT);
}
END_TEST

START_TEST(t_irq_info)
{
	static const struct { uint32_t count, flags; } want[5] = {
		{ 1, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED },
		{ 2, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE },	/* MSI: 1 << QMASK */
		{ 2, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE },
		{ 1, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE },
		{ 1, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE },
	};
	struct vfio_irq_info ii;

	for (uint32_t i = 0; i < 5; i++) {
		ii = (struct vfio_irq_info){ sizeof(ii), 0, i, 0 };
		TU_OK(tu_ioctl(D, VFIO_DEVICE_GET_IRQ_INFO, &ii));
		ck_assert_uint_eq(ii.count, want[i].count);
		ck_assert_uint_eq(ii.flags, want[i].flags);
	}
	for (uint32_t argsz = 0; argsz < sizeof(ii); argsz++) {
		ii = (struct vfio_irq_info){ argsz, 0, 0, 0 };
		TU_ERR(tu_ioctl(D, VFIO_DEVICE_GET_IRQ_INFO, &ii), EINVAL);
	}
	ii = (struct vfio_irq_info){ sizeof(ii) + 100, 0, 5, 0 };
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_GET_IRQ_INFO, &ii), EINVAL);
	ii.index = 0;
	TU_OK(tu_ioctl(D, VFIO_DEVICE_GET_IRQ_INFO, &ii));
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_GET_IRQ_INFO, NULL), EFAULT);
}
END_TEST

START_TEST(t_hot_reset_info)
{
	struct {
		struct vfio_pci_hot_reset_info h;
		struct vfio_pci_dependent_device d[2];
	} a;

	for (uint32_t argsz = 0; argsz < 12; argsz++) {
		memset(&a, 0, sizeof(a));
		a.h.argsz = argsz;
		TU_ERR(tu_ioctl(D, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &a), EINVAL);
	}
	for (uint32_t argsz = 12; argsz < 20; argsz++) {
		memset(&a, 0, sizeof(a));
		a.h.argsz = argsz;
		TU_ERR(tu_ioctl(D, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &a), ENOSPC);
		ck_assert_uint_eq(a.h.count, 1);
	}
	memset(&a, 0xee, sizeof(a));
	a.h.argsz = sizeof(a);
	TU_OK(tu_ioctl(D, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &a));
	ck_assert_uint_eq(a.h.flags, 0);
	ck_assert_uint_eq(a.h.count, 1);
	ck_assert_uint_eq(a.d[0].group_id, 0);
	ck_assert_uint_eq(a.d[0].segment, 0);
	ck_assert_uint_eq(a.d[0].bus, 0);
	ck_assert_uint_eq(a.d[0].devfn, 0x08);
	ck_assert_uint_eq(a.d[1].bus, 0xee);
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, NULL), EFAULT);
}
END_TEST

/* VFIO_DEVICE_PCI_HOT_RESET with @n group fds (argsz covering them). */
static int hot_reset(unsigned n, const int *fds)
{
	struct {
		struct vfio_pci_hot_reset h;
		int32_t fd[2];
	} a = { { (uint32_t)(sizeof(a.h) + 4 * n), 0, n }, { 0, 0 } };

	memcpy(a.fd, fds, 4 * n);
	return tu_ioctl(D, VFIO_DEVICE_PCI_HOT_RESET, &a);
}

START_TEST(t_pci_hot_reset)
{
	int efd = eventfd(0, EFD_NONBLOCK), pfd[2], g1 = tu_open_group_ok(1), bad[1];
	uint8_t *p = tdev_map_buf(C, 1, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	struct {
		struct vfio_pci_hot_reset h;
		int32_t fd[1];
	} a;

	ck_assert_int_eq(pipe(pfd), 0);
	tdev_master_on(D);
	tdev_reg_wr(D, EMU_DMAE_CTRL, 4, EMU_DMAE_CTRL_IRQ);
	TU_OK(tdev_irqs_fd(D, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, efd));
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(efd), 1);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_COMPLETED), 1);
	/* argsz below 12 (argsz, flags, count), any flag: EINVAL */
	for (uint32_t argsz = 0; argsz < 12; argsz++) {
		a.h = (struct vfio_pci_hot_reset){ argsz, 0, 1 };
		a.fd[0] = G;
		TU_ERR(tu_ioctl(D, VFIO_DEVICE_PCI_HOT_RESET, &a), EINVAL);
	}
	a.h = (struct vfio_pci_hot_reset){ sizeof(a), 1, 1 };
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_PCI_HOT_RESET, &a), EINVAL);
	/* count: 0 (the cdev path; this device was opened through its group) or above 1 affected device */
	TU_ERR(hot_reset(0, &G), EINVAL);
	{
		int two[2] = { G, G };

		TU_ERR(hot_reset(2, two), EINVAL);
	}
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_PCI_HOT_RESET, NULL), EFAULT);
	/* the fd array unreadable: argsz is not what limits the copy, count is */
	{
		uint8_t *pg = tu_map(2);
		struct vfio_pci_hot_reset *h = (void *)(pg + PS - sizeof(*h));

		ck_assert_int_eq(munmap(pg + PS, PS), 0);
		*h = (struct vfio_pci_hot_reset){ sizeof(*h), 0, 1 };
		TU_ERR(tu_ioctl(D, VFIO_DEVICE_PCI_HOT_RESET, h), EFAULT);
		tu_unmap(pg, 1);
	}
	/* not a group fd: EBADF not open, EINVAL anything else (pipe, container, device) */
	bad[0] = 9999;
	TU_ERR(hot_reset(1, bad), EBADF);
	bad[0] = -1;
	TU_ERR(hot_reset(1, bad), EBADF);
	bad[0] = pfd[0];
	TU_ERR(hot_reset(1, bad), EINVAL);
	bad[0] = C;
	TU_ERR(hot_reset(1, bad), EINVAL);
	bad[0] = D;
	TU_ERR(hot_reset(1, bad), EINVAL);
	/* a group, but not the device's: the device is not owned */
	TU_ERR(hot_reset(1, &g1), EINVAL);
	/* every failure above left the function as it was */
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_COMPLETED), 1);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_CTRL), EMU_DMAE_CTRL_IRQ);
	/* every fault point on the way fails the request (the fd array's allocation: ENOMEM) */
	{
		bool alloc_seen = false;
		int rc;

		for (unsigned long n = 1;; n++) {
			util_fail_nth_arm(n);
			rc = hot_reset(1, &G);
			if (!util_fail_nth_fired())
				break;
			ck_assert_int_lt(rc, 0);
			if (!strcmp(util_fail_nth_site(), "spapr_hot_reset_alloc")) {
				ck_assert_int_eq(rc, -ENOMEM);
				alloc_seen = true;
			}
			ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_COMPLETED), 1);
		}
		util_fail_nth_arm(0);
		TU_OK(rc);
		ck_assert(alloc_seen);
	}
	/* the reset (the sweep's last run): the function's state goes, config and interrupts stay */
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_COMPLETED), 0);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_CTRL), 0);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_STATUS), 0);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_COMMAND, 2), EMU_PCI_COMMAND_MEMORY | EMU_PCI_COMMAND_MASTER);
	tdev_reg_wr(D, EMU_DMAE_CTRL, 4, EMU_DMAE_CTRL_IRQ);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(efd), 1);
	/* the group fd closed: the device fd holds the group, but the fd is gone (EBADF) */
	TU_OK(spapr_close(g1) ? -errno : 0);
	TU_ERR(hot_reset(1, &g1), EBADF);
	tdev_unmap_buf(C, p, 1, IOVA);
	close(pfd[0]);
	close(pfd[1]);
	close(efd);
}
END_TEST

/* --------------------------------------------------------- config space */

START_TEST(t_config_space)
{
	uint8_t cfg[256];

	ck_assert_int_eq(tdev_rd(D, cfg, 256, TDEV_CFG), 256);
	/* memory decode on at open (pci_enable_device before vfio_config_init), bus master off */
	ck_assert_uint_eq(cfg[EMU_PCI_COMMAND] | cfg[EMU_PCI_COMMAND + 1] << 8, EMU_PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(cfg[0] | cfg[1] << 8, EMU_DMAE_VENDOR);
	ck_assert_uint_eq(cfg[2] | cfg[3] << 8, EMU_DMAE_DEVICE);
	ck_assert_uint_eq(cfg[9] | cfg[10] << 8 | cfg[11] << 16, EMU_DMAE_CLASS);
	ck_assert_uint_eq(cfg[EMU_PCI_STATUS] & EMU_PCI_STATUS_CAP_LIST, EMU_PCI_STATUS_CAP_LIST);
	ck_assert_uint_eq(cfg[EMU_PCI_CAPABILITY_LIST], 0x40);
	ck_assert_uint_eq(cfg[0x40], EMU_PCI_CAP_ID_MSIX);
	ck_assert_uint_eq(cfg[0x41], 0x50);
	ck_assert_uint_eq(cfg[0x50], EMU_PCI_CAP_ID_MSI);
	ck_assert_uint_eq(cfg[0x51], 0);
	/* 64-bit; QMASK reads 0 until MSI was enabled (vfio_msi_config_read) */
	ck_assert_uint_eq(cfg[0x52] | cfg[0x53] << 8, EMU_PCI_MSI_FLAGS_64BIT);
	ck_assert_uint_eq(cfg[0x42] | cfg[0x43] << 8, 1);	/* 2 vectors */
	ck_assert_uint_eq(cfg[0x44], 4);			/* table in BAR4 at 0 */
	ck_assert_uint_eq(cfg[0x48] | cfg[0x49] << 8, 4 | EMU_DMAE_PBA);
	ck_assert_uint_eq(cfg[EMU_PCI_INTERRUPT_PIN], 1);

	/* BAR sizing: all ones reads back the size mask with the type bits. */
	tdev_cfg_wr(D, 0x10, 4, 0xffffffff);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x10, 4), 0xfffff000);
	tdev_cfg_wr(D, 0x10, 4, 0x12345678);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x10, 4), 0x12345000);
	tdev_cfg_wr(D, 0x18, 4, 0xffffffff);
	tdev_cfg_wr(D, 0x1c, 4, 0xffffffff);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x18, 4), 0xffff000c);	/* 64-bit, prefetchable */
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x1c, 4), 0xffffffff);
	tdev_cfg_wr(D, 0x14, 4, 0xffffffff);			/* absent BAR1 */
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x14, 4), 0);
	tdev_cfg_wr(D, 0x24, 4, 0xffffffff);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x24, 4), 0);
	/* ROM: none, reads 0 (QEMU's probe writes 0xfffff800) */
	tdev_cfg_wr(D, 0x30, 4, 0xfffff800);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x30, 4), 0);
	/* read-only: ids, pin; writable: line, command bits */
	tdev_cfg_wr(D, 0, 4, 0);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0, 2), EMU_DMAE_VENDOR);
	tdev_cfg_wr(D, EMU_PCI_INTERRUPT_PIN, 1, 0);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_INTERRUPT_PIN, 1), 1);
	tdev_cfg_wr(D, EMU_PCI_INTERRUPT_LINE, 1, 0x33);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_INTERRUPT_LINE, 1), 0x33);
	tdev_cfg_wr(D, EMU_PCI_COMMAND, 2, 0xffff);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_COMMAND, 2), 0x0547);
	tdev_cfg_wr(D, EMU_PCI_COMMAND, 2, 0);
	/* MSI-X control: enable and mask-all are virtual, the size is not */
	tdev_cfg_wr(D, 0x42, 2, 0xffff);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x42, 2), 0xc001);
	tdev_cfg_wr(D, 0x42, 2, 0);
	/* MSI: address and data virtual; enable stays clear while MSI is off, QSIZE <= qmax (0) */
	tdev_cfg_wr(D, 0x54, 4, 0xfee00000);
	tdev_cfg_wr(D, 0x58, 4, 0x12345678);
	tdev_cfg_wr(D, 0x5c, 2, 0x4321);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x54, 4), 0xfee00000);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x58, 4), 0x12345678);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x5c, 2), 0x4321);
	tdev_cfg_wr(D, 0x52, 2, 0xffff);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x52, 2), EMU_PCI_MSI_FLAGS_64BIT);
	tdev_cfg_wr(D, 0x52, 2, 0);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x52, 2), 0);	/* the low byte is virtual, 64BIT too (init_pci_cap_msi_perm) */
	tdev_cfg_wr(D, 0x52, 1, EMU_PCI_MSI_FLAGS_64BIT);
	/* the capability pointer and the capability itself are read-only */
	tdev_cfg_wr(D, 0x34, 1, 0x80);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x34, 1), 0x40);
	tdev_cfg_wr(D, 0x44, 4, 0);
	ck_assert_uint_eq(tdev_cfg_rd(D, 0x44, 4), 4);
	/* bounds: EFAULT outside, a count 0 anywhere reads nothing */
	TU_ERR(tdev_rd(D, cfg, 1, TDEV_CFG + 256), EFAULT);
	TU_ERR(tdev_rd(D, cfg, 2, TDEV_CFG + 255), EFAULT);
	TU_ERR(tdev_rd(D, cfg, 257, TDEV_CFG), EFAULT);
	TU_ERR(tdev_wr(D, cfg, 4, TDEV_CFG + 0x1000), EFAULT);
	ck_assert_int_eq(tdev_rd(D, cfg, 0, TDEV_CFG + 0x1000), 0);
	ck_assert_int_eq(tdev_rd(D, cfg, 1, TDEV_CFG + 255), 1);
	TU_ERR(tdev_rd(D, NULL, 4, TDEV_CFG), EFAULT);
	TU_ERR(tdev_wr(D, NULL, 4, TDEV_CFG), EFAULT);
}
END_TEST

/* ----------------------------------------------------------------- BARs */

START_TEST(t_bar_access)
{
	uint8_t buf[64];
	uint64_t v = 0;

	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_ID), EMU_DMAE_ID_VALUE | (uint64_t)EMU_DMAE_VERSION_VALUE << 32);
	ck_assert_int_eq(tdev_rd(D, &v, 4, TDEV_REG(0) + 4), 4);
	ck_assert_uint_eq(v, EMU_DMAE_VERSION_VALUE);
	v = 0;
	ck_assert_int_eq(tdev_rd(D, &v, 1, TDEV_REG(0) + 1), 1);
	ck_assert_uint_eq(v, 'M');
	/* unaligned and odd-sized accesses are split, as vfio-pci does */
	tdev_reg_wr(D, EMU_DMAE_SRC, 8, 0);
	ck_assert_int_eq(tdev_wr(D, "\x11\x22\x33\x44\x55\x66\x77", 7, TDEV_REG(0) + EMU_DMAE_SRC + 1), 7);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_SRC), 0x7766554433221100ull);
	/* cut at the BAR's end; at or past it EINVAL */
	ck_assert_int_eq(tdev_rd(D, buf, 16, TDEV_REG(0) + 0xff8), 8);
	TU_ERR(tdev_rd(D, buf, 1, TDEV_REG(0) + 0x1000), EINVAL);
	TU_ERR(tdev_wr(D, buf, 1, TDEV_REG(0) + 0x1000), EINVAL);
	TU_ERR(tdev_rd(D, buf, 4, TDEV_REG(1)), EINVAL);		/* absent */
	TU_ERR(tdev_rd(D, buf, 4, TDEV_REG(3)), EINVAL);		/* the upper half of BAR2 */
	TU_ERR(tdev_rd(D, buf, 4, TDEV_REG(6)), EINVAL);		/* no ROM */
	TU_ERR(tdev_rd(D, buf, 4, TDEV_REG(8)), EINVAL);		/* no VGA */
	TU_ERR(tdev_rd(D, buf, 4, TDEV_REG(10)), EINVAL);
	TU_ERR(tdev_rd(D, buf, 4, TDEV_REG(0xffffff)), EINVAL);
	ck_assert_int_eq(spapr_pread(D, buf, 4, -1), -1);
	ck_assert_int_eq(errno, EINVAL);
	TU_ERR(tdev_rd(D, NULL, 8, TDEV_REG(0)), EFAULT);
	TU_ERR(tdev_rd(C, buf, 4, TDEV_REG(0)), EINVAL);		/* no read on a container */
	TU_ERR(tdev_wr(G, buf, 4, TDEV_REG(0)), EINVAL);
	TU_ERR(tdev_rd(-1, buf, 4, 0), EBADF);
	TU_ERR(tdev_rd(9999, buf, 4, 0), EBADF);
	/* BAR2: the local buffer, plain memory */
	for (int i = 0; i < 64; i++)
		buf[i] = (uint8_t)i;
	ck_assert_int_eq(tdev_wr(D, buf, 64, TDEV_REG(2) + 0xffc0), 64);
	memset(buf, 0, 64);
	ck_assert_int_eq(tdev_rd(D, buf, 64, TDEV_REG(2) + 0xffc0), 64);
	ck_assert_uint_eq(buf[63], 63);
	/* BAR4: the MSI-X table reads all ones and drops writes; the PBA is memory */
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(tdev_wr(D, buf, 64, TDEV_REG(4)), 64);
	ck_assert_int_eq(tdev_rd(D, buf, 64, TDEV_REG(4)), 64);
	for (int i = 0; i < 32; i++)
		ck_assert_uint_eq(buf[i], 0xff);
	for (int i = 32; i < 64; i++)
		ck_assert_uint_eq(buf[i], 0);
	v = 0x1234;
	ck_assert_int_eq(tdev_wr(D, &v, 8, TDEV_REG(4) + EMU_DMAE_PBA), 8);
	v = 0;
	ck_assert_int_eq(tdev_rd(D, &v, 8, TDEV_REG(4) + EMU_DMAE_PBA), 8);
	ck_assert_uint_eq(v, 0x1234);
}
END_TEST

START_TEST(t_mmap)
{
	uint8_t *m, buf[8];
	void *p;

	m = spapr_mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, D, (off_t)TDEV_REG(2));
	ck_assert_ptr_ne(m, MAP_FAILED);
	memcpy(m + 0x100, "devmem!", 8);
	ck_assert_int_eq(tdev_rd(D, buf, 8, TDEV_REG(2) + 0x100), 8);
	ck_assert_str_eq((char *)buf, "devmem!");
	ck_assert_int_eq(tdev_wr(D, "written", 8, TDEV_REG(2) + 0x200), 8);
	ck_assert_str_eq((char *)m + 0x200, "written");
	ck_assert_int_eq(munmap(m, 0x10000), 0);
	/* the second page alone */
	m = spapr_mmap(NULL, PS, PROT_READ, MAP_SHARED, D, (off_t)(TDEV_REG(2) + PS));
	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(munmap(m, PS), 0);
	p = spapr_mmap(NULL, PS, PROT_READ, MAP_SHARED, D, (off_t)TDEV_REG(4));
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(munmap(p, PS), 0);

#define MMAP_ERR(len, flags, fd, off, err)                                                      \
	do {                                                                                    \
		errno = 0;                                                                      \
		ck_assert_ptr_eq(spapr_mmap(NULL, len, PROT_READ, flags, fd, (off_t)(off)), MAP_FAILED); \
		ck_assert_int_eq(errno, err);                                                   \
	} while (0)
	MMAP_ERR(PS, MAP_PRIVATE, D, TDEV_REG(2), EINVAL);
	MMAP_ERR(PS, MAP_SHARED, D, TDEV_REG(0), EINVAL);		/* registers: not mmap-able */
	MMAP_ERR(PS, MAP_SHARED, D, TDEV_REG(1), EINVAL);
	MMAP_ERR(PS, MAP_SHARED, D, TDEV_REG(7), EINVAL);		/* config */
	MMAP_ERR(PS, MAP_SHARED, D, TDEV_REG(6), EINVAL);
	MMAP_ERR(PS, MAP_SHARED, D, TDEV_REG(9), EINVAL);		/* the fault region */
	MMAP_ERR(PS, MAP_SHARED, D, TDEV_REG(10), EINVAL);
	MMAP_ERR(PS, MAP_SHARED, D, TDEV_REG(2) + 8, EINVAL);
	MMAP_ERR(0x10000 + PS, MAP_SHARED, D, TDEV_REG(2), EINVAL);
	MMAP_ERR(PS, MAP_SHARED, D, TDEV_REG(2) + 0x10000, EINVAL);
	MMAP_ERR(0, MAP_SHARED, D, TDEV_REG(2), EINVAL);
	MMAP_ERR(PS, MAP_SHARED, C, TDEV_REG(2), ENODEV);
	MMAP_ERR(PS, MAP_SHARED, G, TDEV_REG(2), ENODEV);
	MMAP_ERR(PS, MAP_SHARED, -1, TDEV_REG(2), EBADF);
	MMAP_ERR(PS, MAP_SHARED, D, -4096, EINVAL);
}
END_TEST

/*
 * BAR access with memory decode off, and mappings across a reset: pread and
 * pwrite of a BAR fail with EIO (__vfio_pci_memory_enabled); a mapping
 * stays the function's memory (where the kernel would zap it and raise
 * SIGBUS until decode is on again; docs/devices.md says why).
 */
START_TEST(t_memory_decode_and_reset_mmap)
{
	uint8_t *m = spapr_mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, D, (off_t)TDEV_REG(2));
	uint64_t v = 0;
	char buf[8];

	ck_assert_ptr_ne(m, MAP_FAILED);
	tdev_reg_wr(D, EMU_DMAE_SRC, 8, 0x1234);
	tdev_cfg_wr(D, EMU_PCI_COMMAND, 2, EMU_PCI_COMMAND_MASTER);	/* decode off */
	TU_ERR(tdev_rd(D, &v, 8, TDEV_REG(0) + EMU_DMAE_SRC), EIO);
	TU_ERR(tdev_wr(D, &v, 8, TDEV_REG(0) + EMU_DMAE_SRC), EIO);
	TU_ERR(tdev_rd(D, buf, 8, TDEV_REG(2)), EIO);
	TU_ERR(tdev_wr(D, buf, 8, TDEV_REG(4)), EIO);
	/* the checks before it stay: past the BAR EINVAL, config and a count of 0 unaffected */
	TU_ERR(tdev_rd(D, &v, 8, TDEV_REG(0) + 0x1000), EINVAL);
	ck_assert_int_eq(tdev_rd(D, &v, 0, TDEV_REG(0)), 0);
	ck_assert_int_eq(tdev_rd(D, &v, 0, TDEV_REG(0) + 0x2000), 0);	/* count 0: 0 before any check */
	ck_assert_int_eq(tdev_wr(D, &v, 0, TDEV_REG(8)), 0);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_COMMAND, 2), EMU_PCI_COMMAND_MASTER);
	memcpy(m, "mapped", 7);		/* the mapping is not revoked */
	tdev_cfg_wr(D, EMU_PCI_COMMAND, 2, EMU_PCI_COMMAND_MEMORY | EMU_PCI_COMMAND_MASTER);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_SRC), 0x1234);	/* the write above never arrived */
	ck_assert_int_eq(tdev_rd(D, buf, 7, TDEV_REG(2)), 7);
	ck_assert_str_eq(buf, "mapped");
	/* across VFIO_DEVICE_RESET and a hot reset the mapping still reaches the BAR */
	TU_OK(tu_ioctl(D, VFIO_DEVICE_RESET, NULL));
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_SRC), 0);
	ck_assert_str_eq((char *)m, "mapped");
	memcpy(m, "again!", 7);
	TU_OK(hot_reset(1, &G));
	ck_assert_int_eq(tdev_rd(D, buf, 7, TDEV_REG(2)), 7);
	ck_assert_str_eq(buf, "again!");
	ck_assert_int_eq(munmap(m, 0x10000), 0);
}
END_TEST

/* ------------------------------------------------------------ DMA engine */

START_TEST(t_dma_engine_through_the_fd)
{
	uint8_t *p = tdev_map_buf(C, 4, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE), *m;
	struct emu_fault f[4];
	struct emu_group_stats st;

	for (unsigned i = 0; i < 2 * PS; i++)
		p[i] = (uint8_t)(i * 7);
	tdev_master_on(D);
	/* memory to memory across a page boundary */
	ck_assert_uint_eq(tdev_dma(D, IOVA + 100, IOVA + 2 * PS + 50, (uint32_t)PS + 300,
			      EMU_DMAE_DIR_MEM_TO_MEM), EMU_DMAE_STATUS_DONE);
	ck_assert_int_eq(memcmp(p + 100, p + 2 * PS + 50, PS + 300), 0);
	ck_assert_uint_eq(p[2 * PS + 49], 0);
	/* memory to the local buffer, then back elsewhere */
	ck_assert_uint_eq(tdev_dma(D, IOVA, 0x1000, 512, EMU_DMAE_DIR_MEM_TO_LOCAL), EMU_DMAE_STATUS_DONE);
	m = spapr_mmap(NULL, 0x10000, PROT_READ, MAP_SHARED, D, (off_t)TDEV_REG(2));
	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(memcmp(m + 0x1000, p, 512), 0);
	ck_assert_int_eq(munmap(m, 0x10000), 0);
	ck_assert_uint_eq(tdev_dma(D, 0x1000, IOVA + 3 * PS, 512, EMU_DMAE_DIR_LOCAL_TO_MEM),
			  EMU_DMAE_STATUS_DONE);
	ck_assert_int_eq(memcmp(p + 3 * PS, p, 512), 0);
	/* LEN 0 moves nothing and completes */
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA, 0, EMU_DMAE_DIR_MEM_TO_MEM), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_COMPLETED), 4);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_BYTES), PS + 300 + 1024);
	ck_assert_uint_eq(tdev_faults(0, f, 4), 0);
	TU_OK(emu_group_get_stats(0, &st));
	ck_assert_uint_eq(st.bytes_written, PS + 300 + 512);
	ck_assert_uint_eq(st.bytes_read, PS + 300 + 512);
	/* range errors of the engine itself: no DMA, no fault */
	ck_assert_uint_eq(tdev_dma(D, IOVA, 0xff00, 0x200, EMU_DMAE_DIR_MEM_TO_LOCAL),
			  EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_RANGE << 8);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA, EMU_DMAE_MAX_LEN + 1, EMU_DMAE_DIR_MEM_TO_MEM),
			  EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_RANGE << 8);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA, 8, 3), EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_RANGE << 8);
	ck_assert_uint_eq(tdev_faults(0, f, 4), 0);
	/* STATUS is write-1-to-clear */
	tdev_reg_wr(D, EMU_DMAE_STATUS, 4, EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_STATUS), EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_RANGE << 8);
	tdev_reg_wr(D, EMU_DMAE_STATUS, 4, EMU_DMAE_STATUS_ERROR);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_STATUS), 0);
	tdev_unmap_buf(C, p, 4, IOVA);
}
END_TEST

START_TEST(t_dma_engine_faults)
{
	uint8_t *p = tdev_map_buf(C, 1, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	uint8_t *ro = tdev_map_buf(C, 1, IOVA + PS, VFIO_DMA_MAP_FLAG_READ);
	struct emu_fault f[4];

	memset(p, 0x11, PS);
	/* bus mastering off: refused, memory untouched, nothing logged */
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 8 * PS, 16, EMU_DMAE_DIR_MEM_TO_MEM),
			  EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_MASTER << 8);
	ck_assert_uint_eq(tdev_faults(0, f, 4), 0);
	tdev_master_on(D);
	/* no TCE at the destination */
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 8 * PS + 16, 16, EMU_DMAE_DIR_MEM_TO_MEM),
			  EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_FAULT << 8);
	ck_assert_uint_eq(tdev_faults(0, f, 4), 1);
	ck_assert_uint_eq(f[0].iova, IOVA + 8 * PS + 16);
	ck_assert_int_eq(f[0].reason, EMU_FAULT_NO_TRANSLATION);
	ck_assert_int_eq(f[0].access, EMU_DMA_WRITE);
	/* no TCE at the source */
	ck_assert_uint_eq(tdev_dma(D, IOVA + 9 * PS, IOVA, 16, EMU_DMAE_DIR_MEM_TO_MEM),
			  EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_FAULT << 8);
	ck_assert_uint_eq(tdev_faults(0, f, 4), 1);
	ck_assert_int_eq(f[0].access, EMU_DMA_READ);
	/* a read-only TCE as destination */
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + PS, 16, EMU_DMAE_DIR_MEM_TO_MEM),
			  EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_PERM << 8);
	ck_assert_uint_eq(tdev_faults(0, f, 4), 1);
	ck_assert_int_eq(f[0].reason, EMU_FAULT_PERMISSION);
	ck_assert_uint_eq(ro[0], 0);
	/* a transfer running off the end of the mapping touches nothing */
	ck_assert_uint_eq(tdev_dma(D, IOVA + PS, IOVA + PS - 8, 16, EMU_DMAE_DIR_MEM_TO_MEM),
			  EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_PERM << 8);
	ck_assert_uint_eq(p[PS - 8], 0x11);
	ck_assert_uint_eq(tdev_faults(0, f, 4), 1);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_COMPLETED), 0);
	tdev_unmap_buf(C, ro, 1, IOVA + PS);
	tdev_unmap_buf(C, p, 1, IOVA);
}
END_TEST

/*
 * SRC to DOORBELL in one 32-byte pwrite, as bench_device programs the
 * engine.  vfio-pci splits a BAR access into naturally aligned 8-byte
 * accesses in address order (vfio_pci_core_do_io_rw), so the doorbell comes
 * last and the transfer is the one the registers describe.  Returns STATUS.
 */
static uint32_t block_dma(uint64_t src, uint64_t dst, uint32_t len, uint32_t dir)
{
	uint64_t regs[4] = { src, dst, len | (uint64_t)dir << 32,
			     (uint64_t)EMU_DMAE_DOORBELL_GO << 32 };

	ck_assert_int_eq(spapr_pwrite(D, regs, sizeof(regs), (off_t)(TDEV_REG(0) + EMU_DMAE_SRC)),
			 sizeof(regs));
	return (uint32_t)tdev_reg_rd(D, EMU_DMAE_STATUS);
}

/*
 * The block write gives what the register-by-register writes give: the
 * same bytes each way, the registers, the counters, the same error and
 * fault for a read-only destination, and "registered memory unmapped by
 * the process" for a page the process dropped, which stays untouched.
 */
START_TEST(t_dma_engine_block_write)
{
	uint8_t *p = tdev_map_buf(C, 4, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	uint8_t *ro = tdev_map_buf(C, 1, IOVA + 4 * PS, VFIO_DMA_MAP_FLAG_READ), *m;
	static uint8_t first[2 * PS];
	struct emu_fault f[4];

	for (unsigned i = 0; i < 4 * PS; i++)
		p[i] = (uint8_t)(i * 13 + 1);
	tdev_master_on(D);
	m = spapr_mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, D, (off_t)TDEV_REG(2));
	ck_assert_ptr_ne(m, MAP_FAILED);

	/* memory to BAR2: four writes, then one block, the same bytes */
	ck_assert_uint_eq(tdev_dma(D, IOVA + 8, 0x100, 2 * PS, EMU_DMAE_DIR_MEM_TO_LOCAL),
			  EMU_DMAE_STATUS_DONE);
	memcpy(first, m + 0x100, sizeof(first));
	memset(m, 0, 0x10000);
	ck_assert_uint_eq(block_dma(IOVA + 8, 0x100, 2 * PS, EMU_DMAE_DIR_MEM_TO_LOCAL),
			  EMU_DMAE_STATUS_DONE);
	ck_assert_int_eq(memcmp(m + 0x100, first, sizeof(first)), 0);
	ck_assert_int_eq(memcmp(m + 0x100, p + 8, sizeof(first)), 0);
	ck_assert_uint_eq(m[0xff], 0);
	ck_assert_uint_eq(m[0x100 + 2 * PS], 0);

	/* BAR2 to memory, across a page boundary */
	memset(m, 0x5c, PS);
	ck_assert_uint_eq(block_dma(0, IOVA + 2 * PS + 100, PS, EMU_DMAE_DIR_LOCAL_TO_MEM),
			  EMU_DMAE_STATUS_DONE);
	for (unsigned i = 0; i < PS; i++)
		ck_assert_uint_eq(p[2 * PS + 100 + i], 0x5c);
	ck_assert_uint_eq(p[2 * PS + 99], (uint8_t)((2 * PS + 99) * 13 + 1));
	ck_assert_uint_eq(p[3 * PS + 100], (uint8_t)((3 * PS + 100) * 13 + 1));
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_SRC), 0);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_DST), IOVA + 2 * PS + 100);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_LEN),
			  PS | (uint64_t)EMU_DMAE_DIR_LOCAL_TO_MEM << 32);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_COMPLETED), 3);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_BYTES), 4 * PS + PS);
	ck_assert_uint_eq(tdev_faults(0, f, 4), 0);

	/* a read-only destination: the error and fault of tdev_dma's writes */
	ck_assert_uint_eq(block_dma(0, IOVA + 4 * PS, 16, EMU_DMAE_DIR_LOCAL_TO_MEM),
			  EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_PERM << 8);
	ck_assert_uint_eq(tdev_faults(0, f, 4), 1);
	ck_assert_uint_eq(f[0].iova, IOVA + 4 * PS);
	ck_assert_int_eq(f[0].reason, EMU_FAULT_PERMISSION);
	ck_assert_int_eq(f[0].access, EMU_DMA_WRITE);
	ck_assert_uint_eq(ro[0], 0);

	/* the process unmaps its last registered page: a recorded fault, nothing written */
	ck_assert_int_eq(munmap(p + 3 * PS, PS), 0);
	ck_assert_uint_eq(block_dma(0, IOVA + 3 * PS - 64, 128, EMU_DMAE_DIR_LOCAL_TO_MEM),
			  EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_FAULT << 8);
	ck_assert_uint_eq(tdev_faults(0, f, 4), 1);
	ck_assert_uint_eq(f[0].iova, IOVA + 3 * PS);
	ck_assert_int_eq(f[0].reason, EMU_FAULT_USER_UNMAPPED);
	ck_assert_int_eq(f[0].access, EMU_DMA_WRITE);
	for (unsigned i = 0; i < 64; i++)
		ck_assert_uint_eq(p[3 * PS - 64 + i], 0x5c);	/* as the transfer above left them */
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_COMPLETED), 3);

	ck_assert_int_eq(munmap(m, 0x10000), 0);
	tdev_unmap_buf(C, ro, 1, IOVA + 4 * PS);
	tdev_unmap_buf(C, p, 4, IOVA);
}
END_TEST

/* ------------------------------------------------------------ interrupts */

START_TEST(t_intx)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	uint8_t *p = tdev_map_buf(C, 1, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);

	tdev_master_on(D);
	tdev_reg_wr(D, EMU_DMAE_CTRL, 4, EMU_DMAE_CTRL_IRQ);
	/* before INTx is enabled, mask/unmask/loopback fail */
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 0, 1), EINVAL);
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_MASK, 0, 1), EINVAL);
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1), EINVAL);
	TU_OK(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, efd));
	/* completion: line up, automasked, one signal */
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(efd), 1);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_STATUS, 2) & EMU_PCI_STATUS_INTERRUPT, EMU_PCI_STATUS_INTERRUPT);
	tdev_reg_wr(D, EMU_DMAE_DOORBELL, 4, 1);		/* masked: no new signal */
	ck_assert_uint_eq(tdev_ev_count(efd), 0);
	/* unmask while the line is still up: signalled again at once */
	TU_OK(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 0, 1));
	ck_assert_uint_eq(tdev_ev_count(efd), 1);
	/* the driver acknowledges: line down; unmask; the next completion signals */
	tdev_reg_wr(D, EMU_DMAE_STATUS, 4, EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_STATUS, 2) & EMU_PCI_STATUS_INTERRUPT, 0);
	TU_OK(tdev_irqs_bool(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 0, 0));	/* false: nothing */
	TU_OK(tdev_irqs_bool(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 0, 1));
	ck_assert_uint_eq(tdev_ev_count(efd), 0);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(efd), 1);
	tdev_reg_wr(D, EMU_DMAE_STATUS, 4, EMU_DMAE_STATUS_DONE);
	TU_OK(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 0, 1));
	/* masked by the user: no signal */
	TU_OK(tdev_irqs_bool(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_MASK, 0, 1));
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(efd), 0);
	tdev_reg_wr(D, EMU_DMAE_STATUS, 4, EMU_DMAE_STATUS_DONE);
	TU_OK(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 0, 1));
	/* INTx disable bit in the command register: the function does not assert */
	tdev_cfg_wr(D, EMU_PCI_COMMAND, 2,
	       EMU_PCI_COMMAND_MEMORY | EMU_PCI_COMMAND_MASTER | EMU_PCI_COMMAND_INTX_DISABLE);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(efd), 0);
	tdev_master_on(D);
	tdev_reg_wr(D, EMU_DMAE_STATUS, 4, EMU_DMAE_STATUS_DONE);
	/* loopback triggers */
	TU_OK(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
	TU_OK(tdev_irqs_bool(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
	TU_OK(tdev_irqs_bool(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	ck_assert_uint_eq(tdev_ev_count(efd), 2);
	/* the eventfd is ours: the caller may close theirs */
	{
		int e2 = eventfd(0, EFD_NONBLOCK), e3 = dup(e2);

		TU_OK(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, e2));
		close(e2);
		TU_OK(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
		ck_assert_uint_eq(tdev_ev_count(e3), 1);
		ck_assert_uint_eq(tdev_ev_count(efd), 0);
		/* fd -1: no trigger any more, INTx still enabled */
		TU_OK(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, -1));
		TU_OK(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
		ck_assert_uint_eq(tdev_ev_count(e3), 0);
		close(e3);
	}
	/* disable; then a completion is lost, and enabling with the line up signals at once */
	TU_OK(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1), EINVAL);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(efd), 0);
	TU_OK(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, efd));
	ck_assert_uint_eq(tdev_ev_count(efd), 1);
	tdev_unmap_buf(C, p, 1, IOVA);
	close(efd);
}
END_TEST

START_TEST(t_intx_unmask_eventfd)
{
	int efd = eventfd(0, EFD_NONBLOCK), ufd = eventfd(0, EFD_NONBLOCK);
	uint64_t one = 1;
	uint8_t *p = tdev_map_buf(C, 1, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);

	tdev_master_on(D);
	tdev_reg_wr(D, EMU_DMAE_CTRL, 4, EMU_DMAE_CTRL_IRQ);
	TU_OK(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, efd));
	TU_ERR(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_MASK, 0, ufd), ENOTTY);
	TU_OK(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 0, ufd));
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(efd), 1);
	tdev_reg_wr(D, EMU_DMAE_STATUS, 4, EMU_DMAE_STATUS_DONE);
	/* still masked: the next completion is not signalled ... */
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(efd), 0);
	tdev_reg_wr(D, EMU_DMAE_STATUS, 4, EMU_DMAE_STATUS_DONE);
	/* ... until the unmask eventfd is signalled */
	ck_assert_int_eq(write(ufd, &one, 8), 8);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(efd), 1);
	ck_assert_uint_eq(tdev_ev_count(ufd), 0);	/* consumed */
	TU_OK(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 0, -1));
	tdev_unmap_buf(C, p, 1, IOVA);
	close(efd);
	close(ufd);
}
END_TEST

/*
 * Bus mastering and the completion interrupt on; @index (MSI or MSI-X) not
 * enabled yet: a loopback is EINVAL, masking ENOTTY (vfio_pci_set_irqs_ioctl
 * has no MSI masking).
 */
static void vectors_before_enable(unsigned index)
{
	tdev_master_on(D);
	tdev_reg_wr(D, EMU_DMAE_CTRL, 4, EMU_DMAE_CTRL_IRQ);
	TU_ERR(tdev_irqs_none(D, index, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1), EINVAL);
	TU_ERR(tdev_irqs_none(D, index, VFIO_IRQ_SET_ACTION_MASK, 0, 1), ENOTTY);
	TU_ERR(tdev_irqs_none(D, index, VFIO_IRQ_SET_ACTION_UNMASK, 0, 1), ENOTTY);
}

/*
 * With vectors 0 and 1 of @index (MSI or MSI-X) on eventfds @e: a
 * completion signals vector 0, an error (a fault) vector 1, the INTx line
 * stays down, and a DATA_BOOL loopback of vector 1 signals it alone.
 */
static void two_vectors(unsigned index, const int *e)
{
	struct {
		struct vfio_irq_set s;
		uint8_t b[2];
	} l = { { sizeof(l), VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 2 },
		{ 0, 1 } };
	struct emu_fault f[2];

	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(e[0]), 1);
	ck_assert_uint_eq(tdev_ev_count(e[1]), 0);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 8 * PS, 8, 0), EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_FAULT << 8);
	ck_assert_uint_eq(tdev_faults(0, f, 2), 1);
	ck_assert_uint_eq(tdev_ev_count(e[0]), 0);
	ck_assert_uint_eq(tdev_ev_count(e[1]), 1);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_STATUS, 2) & EMU_PCI_STATUS_INTERRUPT, 0);
	TU_OK(tu_ioctl(D, VFIO_DEVICE_SET_IRQS, &l));
	ck_assert_uint_eq(tdev_ev_count(e[0]), 0);
	ck_assert_uint_eq(tdev_ev_count(e[1]), 1);
}

START_TEST(t_msix)
{
	int e[2] = { eventfd(0, EFD_NONBLOCK), eventfd(0, EFD_NONBLOCK) }, ix = eventfd(0, EFD_NONBLOCK);
	struct {
		struct vfio_irq_set s;
		int32_t fd[2];
	} a = { { sizeof(a), VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		  VFIO_PCI_MSIX_IRQ_INDEX, 0, 2 }, { e[0], e[1] } };
	uint8_t *p = tdev_map_buf(C, 1, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);

	vectors_before_enable(VFIO_PCI_MSIX_IRQ_INDEX);
	TU_OK(tu_ioctl(D, VFIO_DEVICE_SET_IRQS, &a));
	/* INTx cannot be enabled meanwhile */
	TU_ERR(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, ix), EINVAL);
	two_vectors(VFIO_PCI_MSIX_IRQ_INDEX, e);
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 1, 2), EINVAL);
	/* vector 0 off (fd -1): its completion is dropped */
	TU_OK(tdev_irqs_fd(D, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, -1));
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(e[0]), 0);
	/* a bad fd in a block changes nothing */
	a.fd[0] = e[0];
	a.fd[1] = 9999;
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_SET_IRQS, &a), EBADF);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(e[0]), 0);
	/* the function's mask-all holds messages */
	TU_OK(tdev_irqs_fd(D, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, e[0]));
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(e[0]), 1);
	/* disable: back to no interrupts, INTx may be enabled again */
	TU_OK(tdev_irqs_none(D, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(e[0]), 0);
	TU_OK(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, ix));
	ck_assert_uint_eq(tdev_ev_count(ix), 1);	/* the line was up since the last completion */
	/* enabling fewer vectors than the table: only those */
	TU_OK(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	TU_OK(tdev_irqs_fd(D, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, e[0]));
	TU_ERR(tdev_irqs_fd(D, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 1, e[1]), EINVAL);
	tdev_unmap_buf(C, p, 1, IOVA);
	close(e[0]);
	close(e[1]);
	close(ix);
}
END_TEST

/* SET_IRQS MSI trigger with eventfds for vectors [start, start + n). */
static int msi_fds(unsigned start, unsigned n, const int *fds)
{
	struct {
		struct vfio_irq_set s;
		int32_t fd[2];
	} a = { { (uint32_t)(sizeof(a.s) + 4 * n), VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		  VFIO_PCI_MSI_IRQ_INDEX, start, n }, { 0, 0 } };

	memcpy(a.fd, fds, 4 * n);
	return tu_ioctl(D, VFIO_DEVICE_SET_IRQS, &a);
}

#define MSI_FLAGS (EMU_DMAE_MSI_CAP + EMU_PCI_MSI_FLAGS)

START_TEST(t_msi)
{
	int e[2] = { eventfd(0, EFD_NONBLOCK), eventfd(0, EFD_NONBLOCK) }, ix = eventfd(0, EFD_NONBLOCK);
	uint8_t *p = tdev_map_buf(C, 1, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	struct emu_fault f[2];

	vectors_before_enable(VFIO_PCI_MSI_IRQ_INDEX);
	/* enable of 0 vectors: pci_alloc_irq_vectors' ERANGE; start 1 count 0: no vector to set */
	TU_ERR(msi_fds(0, 0, e), ERANGE);
	TU_ERR(msi_fds(1, 0, e), EINVAL);
	TU_ERR(msi_fds(1, 2, e), EINVAL);	/* past the 2 vectors (validation) */
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1), EINVAL);
	/* a failed enable leaves nothing enabled, no QMASK learnt */
	ck_assert_uint_eq(tdev_cfg_rd(D, MSI_FLAGS, 2), EMU_PCI_MSI_FLAGS_64BIT);
	/* every fault point of the enable (the data's copy, each eventfd's dup) fails it whole */
	for (unsigned long n = 1;; n++) {
		int rc;

		util_fail_nth_arm(n);
		rc = msi_fds(0, 2, e);
		if (!util_fail_nth_fired())
			break;
		ck_assert_int_lt(rc, 0);
		util_fail_nth_arm(0);
		TU_ERR(tdev_irqs_none(D, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1), EINVAL);
	}
	util_fail_nth_arm(0);
	TU_OK(tdev_irqs_none(D, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	TU_OK(msi_fds(0, 2, e));
	/* the others cannot be enabled meanwhile */
	TU_ERR(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, ix), EINVAL);
	TU_ERR(tdev_irqs_fd(D, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, ix), EINVAL);
	/* the virtual control shows QMASK 1 now, enable only once written */
	ck_assert_uint_eq(tdev_cfg_rd(D, MSI_FLAGS, 2), EMU_PCI_MSI_FLAGS_64BIT | 1 << 1);
	tdev_cfg_wr(D, MSI_FLAGS, 2, EMU_PCI_MSI_FLAGS_64BIT | EMU_PCI_MSI_FLAGS_ENABLE | 7 << 4);
	ck_assert_uint_eq(tdev_cfg_rd(D, MSI_FLAGS, 2),
			  EMU_PCI_MSI_FLAGS_64BIT | 1 << 1 | 1 << 4 | EMU_PCI_MSI_FLAGS_ENABLE);
	two_vectors(VFIO_PCI_MSI_IRQ_INDEX, e);
	/* loopback with DATA_NONE: both */
	TU_OK(tdev_irqs_none(D, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 2));
	ck_assert_uint_eq(tdev_ev_count(e[0]), 1);
	ck_assert_uint_eq(tdev_ev_count(e[1]), 1);
	/* QSIZE 0 written: the function has one vector, its error shares vector 0 */
	tdev_cfg_wr(D, MSI_FLAGS, 1, EMU_PCI_MSI_FLAGS_64BIT | EMU_PCI_MSI_FLAGS_ENABLE);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 8 * PS, 8, 0), EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_FAULT << 8);
	ck_assert_uint_eq(tdev_faults(0, f, 2), 1);
	ck_assert_uint_eq(tdev_ev_count(e[0]), 1);
	ck_assert_uint_eq(tdev_ev_count(e[1]), 0);
	/* enable cleared in config: the function sends no message (and its INTx is not enabled) */
	tdev_cfg_wr(D, MSI_FLAGS, 1, EMU_PCI_MSI_FLAGS_64BIT);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(e[0]), 0);
	tdev_cfg_wr(D, MSI_FLAGS, 1, EMU_PCI_MSI_FLAGS_64BIT | EMU_PCI_MSI_FLAGS_ENABLE | 1 << 4);
	/* vector 1 off (-1) in a block: its error is dropped, vector 0 still signals */
	{
		int b[2] = { e[0], -1 };

		TU_OK(msi_fds(0, 2, b));
	}
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 8 * PS, 8, 0), EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_FAULT << 8);
	ck_assert_uint_eq(tdev_faults(0, f, 2), 1);
	ck_assert_uint_eq(tdev_ev_count(e[1]), 0);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(e[0]), 1);
	/* a bad fd in a block changes nothing */
	{
		int b[2] = { e[1], 9999 };

		TU_ERR(msi_fds(0, 2, b), EBADF);
	}
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(e[0]), 1);
	ck_assert_uint_eq(tdev_ev_count(e[1]), 0);
	/* disable: no messages, enable reads clear, QMASK stays what it was; INTx may be enabled */
	TU_OK(tdev_irqs_none(D, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(e[0]), 0);
	tdev_cfg_wr(D, MSI_FLAGS, 1, EMU_PCI_MSI_FLAGS_64BIT | EMU_PCI_MSI_FLAGS_ENABLE);
	ck_assert_uint_eq(tdev_cfg_rd(D, MSI_FLAGS, 2), EMU_PCI_MSI_FLAGS_64BIT | 1 << 1);
	TU_OK(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, ix));
	ck_assert_uint_eq(tdev_ev_count(ix), 1);	/* the line went up with the last completion */
	TU_ERR(msi_fds(0, 1, e), EINVAL);	/* INTx is on */
	TU_OK(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	/* one vector: qmax 0, both causes on vector 0; vector 1 cannot be set */
	tdev_reg_wr(D, EMU_DMAE_STATUS, 4, EMU_DMAE_STATUS_DONE | EMU_DMAE_STATUS_ERROR);
	TU_OK(msi_fds(0, 1, e));
	ck_assert_uint_eq(tdev_cfg_rd(D, MSI_FLAGS, 2), EMU_PCI_MSI_FLAGS_64BIT);
	TU_ERR(msi_fds(1, 1, e + 1), EINVAL);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 8 * PS, 8, 0), EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_FAULT << 8);
	ck_assert_uint_eq(tdev_faults(0, f, 2), 1);
	ck_assert_uint_eq(tdev_ev_count(e[0]), 1);
	/* MSI-X takes precedence in the function only when enabled: here EINVAL anyway */
	TU_ERR(tdev_irqs_fd(D, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, ix), EINVAL);
	tdev_unmap_buf(C, p, 1, IOVA);
	close(e[0]);
	close(e[1]);
	close(ix);
}
END_TEST

START_TEST(t_set_irqs_validation)
{
	int efd = eventfd(0, EFD_NONBLOCK), pfd[2];
	uint8_t raw[64];
	struct vfio_irq_set *s = (void *)raw;

	ck_assert_int_eq(pipe(pfd), 0);
	for (uint32_t argsz = 0; argsz < 20; argsz++) {
		*s = (struct vfio_irq_set){ argsz, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, 0 };
		TU_ERR(tu_ioctl(D, VFIO_DEVICE_SET_IRQS, raw), EINVAL);
	}
	TU_ERR(tdev_irqs_none(D, 5, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0), EINVAL);	/* index */
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0), EINVAL);	/* MSI off */
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 2, 0), EINVAL);	/* start */
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 1, 2), EINVAL);	/* past the end */
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 1, 1), EINVAL);	/* start */
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, UINT32_MAX), EINVAL);
	/* flags: two data types, an unknown bit */
	*s = (struct vfio_irq_set){ 20, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, 1 };
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_SET_IRQS, raw), EINVAL);
	*s = (struct vfio_irq_set){ 20, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER | 0x40, 0, 0, 1 };
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_SET_IRQS, raw), EINVAL);
	*s = (struct vfio_irq_set){ 20, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, 1 };	/* no data type */
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_SET_IRQS, raw), EINVAL);
	/* two actions: no handler */
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK, 0, 1), ENOTTY);
	/* data shorter than count says: every argsz short of it */
	for (uint32_t argsz = 20; argsz < 24; argsz++) {
		*s = (struct vfio_irq_set){ argsz, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, 1 };
		TU_ERR(tu_ioctl(D, VFIO_DEVICE_SET_IRQS, raw), EINVAL);
	}
	*s = (struct vfio_irq_set){ 20, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, 1 };
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_SET_IRQS, raw), EINVAL);
	/* the data pointer faults */
	{
		uint8_t *pg = tu_map(2);

		ck_assert_int_eq(munmap(pg + PS, PS), 0);
		s = (void *)(pg + PS - 20);
		*s = (struct vfio_irq_set){ 24, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, 1 };
		TU_ERR(tu_ioctl(D, VFIO_DEVICE_SET_IRQS, s), EFAULT);
		tu_unmap(pg, 1);
		s = (void *)raw;
	}
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_SET_IRQS, NULL), EFAULT);
	/* what an eventfd must be */
	TU_ERR(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, pfd[0]), EINVAL);
	TU_ERR(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, C), EINVAL);
	TU_ERR(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 9999), EBADF);
	TU_ERR(tdev_irqs_fd(D, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, pfd[1]), EINVAL);
	/* after a failed enable nothing is enabled: INTx loopback still EINVAL */
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1), EINVAL);
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1), EINVAL);
	/* MSI-X: more vectors than the table */
	{
		struct {
			struct vfio_irq_set s;
			int32_t fd[3];
		} a = { { sizeof(a), VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			  VFIO_PCI_MSIX_IRQ_INDEX, 0, 3 }, { efd, efd, efd } };

		TU_ERR(tu_ioctl(D, VFIO_DEVICE_SET_IRQS, &a), EINVAL);
	}
	/* error and request indexes */
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_ERR_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1), EINVAL);	/* none set */
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_ERR_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 2), EINVAL);
	TU_ERR(tdev_irqs_none(D, VFIO_PCI_REQ_IRQ_INDEX, VFIO_IRQ_SET_ACTION_MASK, 0, 1), ENOTTY);
	*s = (struct vfio_irq_set){ 20, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_ERR_IRQ_INDEX, 0, 0 };
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_SET_IRQS, raw), EINVAL);
	for (unsigned idx = VFIO_PCI_ERR_IRQ_INDEX; idx <= VFIO_PCI_REQ_IRQ_INDEX; idx++) {
		TU_OK(tdev_irqs_fd(D, idx, VFIO_IRQ_SET_ACTION_TRIGGER, 0, efd));
		TU_OK(tdev_irqs_none(D, idx, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
		TU_OK(tdev_irqs_bool(D, idx, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
		ck_assert_uint_eq(tdev_ev_count(efd), 2);
		TU_OK(tdev_irqs_fd(D, idx, VFIO_IRQ_SET_ACTION_TRIGGER, 0, -5));	/* changes nothing */
		TU_OK(tdev_irqs_none(D, idx, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
		ck_assert_uint_eq(tdev_ev_count(efd), 1);
		TU_OK(tdev_irqs_none(D, idx, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));	/* count 0: off */
		TU_ERR(tdev_irqs_none(D, idx, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1), EINVAL);
		TU_OK(tdev_irqs_fd(D, idx, VFIO_IRQ_SET_ACTION_TRIGGER, 0, efd));
		TU_OK(tdev_irqs_fd(D, idx, VFIO_IRQ_SET_ACTION_TRIGGER, 0, -1));
		TU_ERR(tdev_irqs_none(D, idx, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1), EINVAL);
	}
	close(pfd[0]);
	close(pfd[1]);
	close(efd);
}
END_TEST

/* ---------------------------------------------------------------- reset */

START_TEST(t_reset)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	uint8_t *p = tdev_map_buf(C, 1, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);

	tdev_master_on(D);
	tdev_cfg_wr(D, EMU_PCI_INTERRUPT_LINE, 1, 7);
	TU_OK(tdev_irqs_fd(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, efd));
	tdev_reg_wr(D, EMU_DMAE_CTRL, 4, EMU_DMAE_CTRL_IRQ);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(efd), 1);
	TU_OK(tu_ioctl(D, VFIO_DEVICE_RESET, NULL));
	/* the function's registers and its INTx line are back to power-on ... */
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_SRC), 0);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_STATUS), 0);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_CTRL), 0);
	ck_assert_uint_eq(tdev_reg_rd(D, EMU_DMAE_COMPLETED), 0);
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_STATUS, 2) & EMU_PCI_STATUS_INTERRUPT, 0);
	/* ... the config space and the interrupt set-up are kept */
	ck_assert_uint_eq(tdev_cfg_rd(D, EMU_PCI_INTERRUPT_LINE, 1), 7);
	TU_OK(tdev_irqs_none(D, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 0, 1));
	tdev_reg_wr(D, EMU_DMAE_CTRL, 4, EMU_DMAE_CTRL_IRQ);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 64, 8, 0), EMU_DMAE_STATUS_DONE);
	ck_assert_uint_eq(tdev_ev_count(efd), 1);
	tdev_unmap_buf(C, p, 1, IOVA);
	close(efd);
}
END_TEST

struct racer {
	int stop;
	unsigned done, errors;
};

static void *doorbells(void *arg)
{
	struct racer *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		uint64_t v[3] = { IOVA, IOVA + (8ull << 20), 8u << 20 };
		uint32_t dir = 0, go = 1, st = 0;

		/* the reset may land between any two of these writes */
		if (spapr_pwrite(D, v, 24, (off_t)(TDEV_REG(0) + EMU_DMAE_SRC)) != 24 ||
		    spapr_pwrite(D, &dir, 4, (off_t)(TDEV_REG(0) + EMU_DMAE_DIR)) != 4 ||
		    spapr_pwrite(D, &go, 4, (off_t)(TDEV_REG(0) + EMU_DMAE_DOORBELL)) != 4 ||
		    spapr_pread(D, &st, 4, (off_t)(TDEV_REG(0) + EMU_DMAE_STATUS)) != 4)
			r->errors++;
		if (st & EMU_DMAE_STATUS_ERROR)
			r->errors++;
		r->done++;
	}
	return NULL;
}

START_TEST(t_reset_while_dma_in_flight)
{
	unsigned pages = (16u << 20) / PS;
	uint8_t *p = tdev_map_buf(C, pages, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	struct racer r = { 0, 0, 0 };
	struct emu_group_stats st;
	struct emu_fault f[1];
	pthread_t t;

	memset(p, 0x3c, 8u << 20);
	tdev_master_on(D);
	ck_assert_int_eq(pthread_create(&t, NULL, doorbells, &r), 0);
	for (int i = 0; i < 50; i++) {
		TU_OK(tu_ioctl(D, VFIO_DEVICE_RESET, NULL));
		usleep(1000);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	/*
	 * A reset waits for a transfer in progress, so a transfer either ran
	 * whole or not at all; one that a reset cut short of its registers
	 * ran with LEN 0 or SRC/DST 0 (a fault-free range: iova 0 is not
	 * mapped, so it would be an ERROR, counted here).  None may fault in
	 * the middle of memory.  A reset landing between a faulting doorbell
	 * and the status read clears the ERROR the racer would have counted,
	 * so the faults are at least the errors seen and at most one more per
	 * reset.
	 */
	ck_assert_uint_gt(r.done, 0);
	TU_OK(emu_group_get_stats(0, &st));
	ck_assert_uint_ge(st.faults[EMU_FAULT_NO_TRANSLATION], r.errors);
	ck_assert_uint_le(st.faults[EMU_FAULT_NO_TRANSLATION], r.errors + 50);
	while (tdev_faults(0, f, 1)) {
		ck_assert_uint_eq(f[0].iova, 0);	/* SRC cleared by a reset */
		ck_assert_int_eq(f[0].access, EMU_DMA_READ);
	}
	ck_assert_uint_eq(st.bytes_written % (8u << 20), 0);	/* whole transfers only */
	for (unsigned i = 0; i < (8u << 20); i += 512)
		ck_assert_uint_eq(p[(8u << 20) + i], st.bytes_written ? 0x3c : 0);
	tdev_unmap_buf(C, p, pages, IOVA);
}
END_TEST

/* ------------------------------------------------------------ DMA logging */

struct feat {
	struct vfio_device_feature f;
	union {
		struct vfio_device_feature_dma_logging_control c;
		struct vfio_device_feature_dma_logging_report r;
	};
};

static int feature(uint32_t flags, struct feat *a, uint32_t argsz)
{
	a->f.argsz = argsz;
	a->f.flags = flags;
	return tu_ioctl(D, VFIO_DEVICE_FEATURE, a);
}

#define F_SET VFIO_DEVICE_FEATURE_SET
#define F_GET VFIO_DEVICE_FEATURE_GET
#define F_PROBE VFIO_DEVICE_FEATURE_PROBE
#define F_START VFIO_DEVICE_FEATURE_DMA_LOGGING_START
#define F_STOP VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP
#define F_REPORT VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT
#define FULL (uint32_t)sizeof(struct feat)

static int report(uint64_t iova, uint64_t len, uint64_t ps, uint64_t *bitmap)
{
	struct feat a = { .r = { iova, len, ps, (uintptr_t)bitmap } };

	return feature(F_GET | F_REPORT, &a, 8 + sizeof(a.r));
}

START_TEST(t_dma_logging)
{
	struct vfio_device_feature_dma_logging_range rg[2] = { { IOVA, 16 * PS }, { IOVA + 64 * PS, 4 * PS } };
	uint8_t *p = tdev_map_buf(C, 16, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	struct feat a;
	struct emu_group_stats st;
	uint64_t bm[4];

	/* vfio_ioctl_device_feature's and vfio_check_feature's rules */
	memset(&a, 0, sizeof(a));
	for (uint32_t argsz = 0; argsz < 8; argsz++)
		TU_ERR(feature(F_SET | F_START, &a, argsz), EINVAL);
	TU_ERR(feature(F_SET | F_START | (1u << 19), &a, FULL), EINVAL);
	TU_ERR(feature(F_SET | F_GET | F_START, &a, FULL), EINVAL);
	TU_ERR(feature(F_START, &a, FULL), EINVAL);
	TU_ERR(feature(F_GET | F_START, &a, FULL), EINVAL);
	TU_ERR(feature(F_SET | F_REPORT, &a, FULL), EINVAL);
	TU_OK(feature(F_PROBE | F_SET | F_START, &a, 8));
	TU_OK(feature(F_PROBE | F_SET | F_STOP, &a, 8));
	TU_OK(feature(F_PROBE | F_GET | F_REPORT, &a, 8));
	TU_ERR(feature(F_PROBE | F_GET | F_START, &a, 8), EINVAL);
	TU_ERR(tu_ioctl(D, VFIO_DEVICE_FEATURE, NULL), EFAULT);
	/* START's own checks, in order */
	a.c = (struct vfio_device_feature_dma_logging_control){ PS, 2, 0, (uintptr_t)rg };
	for (uint32_t argsz = 8; argsz < 8 + sizeof(a.c); argsz++)
		TU_ERR(feature(F_SET | F_START, &a, argsz), EINVAL);
	a.c.num_ranges = 0;
	TU_ERR(feature(F_SET | F_START, &a, FULL), EINVAL);
	a.c.num_ranges = 257;
	TU_ERR(feature(F_SET | F_START, &a, FULL), E2BIG);
	a.c.num_ranges = 2;
	a.c.ranges = 0;
	TU_ERR(feature(F_SET | F_START, &a, FULL), EFAULT);
	a.c.ranges = (uintptr_t)rg;
	rg[1].iova = IOVA + 100;
	TU_ERR(feature(F_SET | F_START, &a, FULL), EINVAL);		/* misaligned */
	rg[1].iova = IOVA + 15 * PS;
	TU_ERR(feature(F_SET | F_START, &a, FULL), EINVAL);		/* overlapping */
	rg[1].iova = UINT64_MAX - PS + 1;
	TU_ERR(feature(F_SET | F_START, &a, FULL), EOVERFLOW);
	rg[1].iova = IOVA + 64 * PS;
	TU_OK(emu_group_get_stats(0, &st));
	ck_assert(!st.dirty_logging);
	TU_OK(feature(F_SET | F_START, &a, FULL));
	ck_assert_uint_eq(a.c.page_size, PS);
	TU_ERR(feature(F_SET | F_START, &a, FULL), EBUSY);
	/* the DMA engine writes one page: only its bit */
	tdev_master_on(D);
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 2 * PS + 10, 100, 0), EMU_DMAE_STATUS_DONE);
	memset(bm, 0, sizeof(bm));
	TU_OK(report(IOVA, 16 * PS, PS, bm));
	ck_assert_uint_eq(bm[0], 1u << 2);
	ck_assert_uint_eq(bm[1], 0);
	memset(bm, 0, sizeof(bm));
	TU_OK(report(IOVA, 16 * PS, PS, bm));		/* read and cleared */
	ck_assert_uint_eq(bm[0], 0);
	/* a larger report page; bits are ORed into the caller's bitmap */
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 5 * PS, 8, 0), EMU_DMAE_STATUS_DONE);
	bm[0] = 1u << 7;
	TU_OK(report(IOVA, 16 * PS, 2 * PS, bm));
	ck_assert_uint_eq(bm[0], (1u << 7) | (1u << 2));
	/* REPORT's checks; a bitmap that cannot be written clears nothing */
	ck_assert_uint_eq(tdev_dma(D, IOVA, IOVA + 3 * PS, 8, 0), EMU_DMAE_STATUS_DONE);
	TU_ERR(report(IOVA, 16 * PS, 2048, bm), EINVAL);
	TU_ERR(report(IOVA, 16 * PS, 3 * PS, bm), EINVAL);
	TU_ERR(report(UINT64_MAX - PS + 1, 2 * PS, PS, bm), EOVERFLOW);
	TU_ERR(report(IOVA, 32 * PS, PS, bm), EINVAL);		/* not all tracked */
	TU_ERR(report(IOVA, 16 * PS, PS, NULL), EFAULT);
	memset(&a, 0, sizeof(a));
	for (uint32_t argsz = 8; argsz < 8 + sizeof(a.r); argsz++)
		TU_ERR(feature(F_GET | F_REPORT, &a, argsz), EINVAL);
	memset(bm, 0, sizeof(bm));
	TU_OK(report(IOVA, 16 * PS, PS, bm));
	ck_assert_uint_eq(bm[0], 1u << 3);
	/* STOP; REPORT then finds no log; STOP again is fine */
	TU_ERR(feature(F_GET | F_STOP, &a, 8), EINVAL);
	TU_OK(feature(F_SET | F_STOP, &a, 8));
	TU_ERR(report(IOVA, 16 * PS, PS, bm), ENOENT);
	TU_OK(feature(F_SET | F_STOP, &a, 8));
	/* the last close of the device stops a running log */
	a.c = (struct vfio_device_feature_dma_logging_control){ PS, 1, 0, (uintptr_t)rg };
	TU_OK(feature(F_SET | F_START, &a, FULL));
	TU_OK(spapr_close(D));
	D = -1;
	TU_OK(emu_group_get_stats(0, &st));
	ck_assert(!st.dirty_logging);
	tdev_unmap_buf(C, p, 16, IOVA);
}
END_TEST

/* ------------------------------------------------------------ fault region */

static uint32_t fr32(unsigned off)
{
	uint32_t v = 0;

	ck_assert_int_eq(tdev_rd(D, &v, 4, TDEV_REG(SPAPR_FAULT_REGION_INDEX) + off), 4);
	return v;
}

static int fr_consume(uint32_t v, unsigned off, size_t n)
{
	return (int)tdev_wr(D, &v, n, TDEV_REG(SPAPR_FAULT_REGION_INDEX) + off);
}

/* Makes the DMA engine fault @n times, writing at bus addresses without TCEs. */
static void make_faults(unsigned n, uint64_t base)
{
	for (unsigned i = 0; i < n; i++)
		ck_assert_uint_eq(tdev_dma(D, IOVA, base + 8ull * i, 8, 0), EMU_DMAE_STATUS_ERROR | EMU_DMAE_ERR_FAULT << 8);
}

START_TEST(t_fault_region)
{
	uint8_t raw[96];
	struct vfio_region_info *ri = (void *)raw;
	struct vfio_region_info_cap_type *ct = (void *)(raw + 32);
	struct vfio_info_cap_header *fh = (void *)(raw + 48);
	uint8_t *p = tdev_map_buf(C, 1, IOVA, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	uint8_t rec[SPAPR_FAULT_RECORD_SIZE];
	uint64_t seq = 0, v64;
	struct emu_fault f[1];
	unsigned n;

	memset(raw, 0, sizeof(raw));
	ri->argsz = 32;
	ri->index = SPAPR_FAULT_REGION_INDEX;
	TU_OK(tu_ioctl(D, VFIO_DEVICE_GET_REGION_INFO, raw));
	ck_assert_uint_eq(ri->flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
				     VFIO_REGION_INFO_FLAG_CAPS);
	ck_assert_uint_eq(ri->size, SPAPR_FAULT_RING_OFFSET + 64 * SPAPR_FAULT_RECORD_SIZE);
	ck_assert_uint_eq(ri->offset, TDEV_REG(SPAPR_FAULT_REGION_INDEX));
	ck_assert_uint_eq(ri->argsz, 60);
	ck_assert_uint_eq(ri->cap_offset, 0);
	ri->argsz = 60;
	TU_OK(tu_ioctl(D, VFIO_DEVICE_GET_REGION_INFO, raw));
	ck_assert_uint_eq(ri->cap_offset, 32);
	ck_assert_uint_eq(ct->header.id, VFIO_REGION_INFO_CAP_TYPE);
	ck_assert_uint_eq(ct->header.version, 1);
	ck_assert_uint_eq(ct->header.next, 48);
	ck_assert_uint_eq(ct->type, SPAPR_REGION_TYPE_NESTED);
	ck_assert_uint_eq(ct->subtype, SPAPR_REGION_SUBTYPE_NESTED_DMA_FAULT);
	ck_assert_uint_eq(fh->id, SPAPR_REGION_INFO_CAP_DMA_FAULT);
	ck_assert_uint_eq(fh->version, 1);
	ck_assert_uint_eq(fh->next, 0);
	ck_assert_uint_eq(*(uint32_t *)(raw + 56), 1);
	/* the empty header */
	ck_assert_uint_eq(fr32(SPAPR_FAULT_CONSUMER), 0);
	ck_assert_uint_eq(fr32(SPAPR_FAULT_RECORD_SIZE_OFF), SPAPR_FAULT_RECORD_SIZE);
	ck_assert_uint_eq(fr32(SPAPR_FAULT_NB_RECORDS), 64);
	ck_assert_uint_eq(fr32(SPAPR_FAULT_OFFSET), SPAPR_FAULT_RING_OFFSET);
	ck_assert_uint_eq(fr32(SPAPR_FAULT_PRODUCER), 0);
	ck_assert_uint_eq(fr32(SPAPR_FAULT_VERSION), 1);
	/* three faults of the DMA engine */
	tdev_master_on(D);
	make_faults(3, IOVA + 32 * PS);
	ck_assert_uint_eq(fr32(SPAPR_FAULT_PRODUCER), 3);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_eq(tdev_rd(D, rec, sizeof(rec), TDEV_REG(SPAPR_FAULT_REGION_INDEX) + SPAPR_FAULT_RING_OFFSET +
				    i * SPAPR_FAULT_RECORD_SIZE), sizeof(rec));
		memcpy(&v64, rec + 8, 8);
		ck_assert_uint_eq(v64, IOVA + 32 * PS + 8 * i);
		memcpy(&v64, rec, 8);
		ck_assert_uint_gt(v64, seq);
		seq = v64;
		ck_assert_uint_eq(rec[24], EMU_DMA_WRITE);
		ck_assert_uint_eq(rec[28], EMU_FAULT_NO_TRANSLATION);
	}
	/* the region is now the fault log's consumer */
	TU_OK(emu_fault_log_read(0, f, 1, &n));
	ck_assert_uint_eq(n, 0);
	/* the consumer index: forward within [consumer, producer] only, whole u32 at 0 */
	TU_ERR(fr_consume(4, SPAPR_FAULT_CONSUMER, 4), EINVAL);
	ck_assert_int_eq(fr_consume(2, SPAPR_FAULT_CONSUMER, 4), 4);
	TU_ERR(fr_consume(1, SPAPR_FAULT_CONSUMER, 4), EINVAL);
	TU_ERR(fr_consume(3, SPAPR_FAULT_CONSUMER, 2), EINVAL);
	TU_ERR(fr_consume(3, SPAPR_FAULT_PRODUCER, 4), EINVAL);
	ck_assert_uint_eq(fr32(SPAPR_FAULT_CONSUMER), 2);
	/*
	 * A consumer that lags: the emulator's ring (64) takes the first 64 of
	 * 200 faults and drops 136; reading moves 63 into the region (1 record
	 * is still unconsumed), the 64th after the consumer moves on.
	 */
	make_faults(200, IOVA + 64 * PS);
	ck_assert_uint_eq(fr32(SPAPR_FAULT_PRODUCER), 3 + 63);
	ck_assert_int_eq(tdev_rd(D, &v64, 8, TDEV_REG(SPAPR_FAULT_REGION_INDEX) + SPAPR_FAULT_OVERFLOW), 8);
	ck_assert_uint_eq(v64, 136);
	ck_assert_int_eq(fr_consume(66, SPAPR_FAULT_CONSUMER, 4), 4);
	ck_assert_uint_eq(fr32(SPAPR_FAULT_PRODUCER), 67);
	ck_assert_int_eq(tdev_rd(D, rec, sizeof(rec), TDEV_REG(SPAPR_FAULT_REGION_INDEX) + SPAPR_FAULT_RING_OFFSET +
			    (66 % 64) * SPAPR_FAULT_RECORD_SIZE), sizeof(rec));
	memcpy(&v64, rec + 8, 8);
	ck_assert_uint_eq(v64, IOVA + 64 * PS + 8 * 63);	/* the last fault kept */
	/* bounds; not mmap-able */
	TU_ERR(tdev_rd(D, rec, 1, TDEV_REG(SPAPR_FAULT_REGION_INDEX) + SPAPR_FAULT_RING_OFFSET + 64 * 32), EINVAL);
	ck_assert_int_eq(tdev_rd(D, rec, 16, TDEV_REG(SPAPR_FAULT_REGION_INDEX) + SPAPR_FAULT_RING_OFFSET + 64 * 32 - 8), 8);
	ck_assert_ptr_eq(spapr_mmap(NULL, PS, PROT_READ, MAP_SHARED, D, (off_t)TDEV_REG(SPAPR_FAULT_REGION_INDEX)), MAP_FAILED);
	tdev_unmap_buf(C, p, 1, IOVA);
}
END_TEST

/* ------------------------------------------------------- configuration */

START_TEST(t_machine_devices)
{
	struct emu_dev_info info;

	for (int g = 0; g < 4; g++) {
		char want[16];

		TU_OK(emu_dev_info(g, &info));
		snprintf(want, sizeof(want), "0000:00:%02x.0", g + 1);
		ck_assert_str_eq(info.name, want);
		ck_assert_str_eq(info.model, "dma-engine");
		ck_assert_uint_eq(info.vendor, EMU_DMAE_VENDOR);
		ck_assert_uint_eq(info.class_code, EMU_DMAE_CLASS);
		/*
		 * The BAR layout, from the open instance (group 0: the fixture's
		 * device fd) or a scratch one (groups 1-3), is the one the
		 * device fd's GET_REGION_INFO reports.
		 */
		ck_assert_uint_eq(info.bar_size[0], EMU_DMAE_BAR0_SIZE);
		ck_assert_uint_eq(info.bar_flags[0], 0);
		ck_assert_uint_eq(info.bar_size[1], 0);
		ck_assert_uint_eq(info.bar_size[2], EMU_DMAE_LOCAL_SIZE);
		ck_assert_uint_eq(info.bar_flags[2],
				  EMU_DEV_INFO_BAR_MEM64 | EMU_DEV_INFO_BAR_PREFETCH | EMU_DEV_INFO_BAR_RAM);
		ck_assert_uint_eq(info.bar_size[3], 0);
		ck_assert_uint_eq(info.bar_size[4], EMU_DMAE_MSIX_BAR_SIZE);
		ck_assert_uint_eq(info.bar_flags[4], EMU_DEV_INFO_BAR_RAM);
		ck_assert_uint_eq(info.bar_size[5], 0);
		for (unsigned i = 0; i < 6; i++) {
			struct vfio_region_info r = { .argsz = sizeof(r), .index = i };

			TU_OK(spapr_ioctl(D, VFIO_DEVICE_GET_REGION_INFO, &r) ? -errno : 0);
			ck_assert_uint_eq(r.size, info.bar_size[i]);
			ck_assert_uint_eq(!!(r.flags & VFIO_REGION_INFO_FLAG_MMAP),
					  !!(info.bar_flags[i] & EMU_DEV_INFO_BAR_RAM));
		}
	}
	/* A scratch instance that cannot be made: its error, nothing left behind. */
	util_fail_nth_arm(1);
	TU_ERR(emu_dev_info(1, &info), ENOMEM);
	ck_assert(util_fail_nth_fired());
	ck_assert_str_eq(util_fail_nth_site(), "emu_dev_alloc");
	util_fail_nth_arm(0);
	TU_OK(emu_dev_info(1, &info));
	TU_ERR(emu_dev_info(4, &info), ENODEV);
	TU_ERR(emu_dev_info(-1, &info), ENODEV);
	TU_ERR(emu_dev_configure(1, "dma-engine"), EBUSY);
}
END_TEST

/* No fixture: the machine is configured before it starts. */
START_TEST(t_machine_dev_keys)
{
	struct emu_dev_info info;
	int c, g;

	TU_ERR(emu_dev_configure(0, "no-such-model"), EINVAL);
	TU_ERR(emu_dev_configure(0, "dma-engine:x=1"), EINVAL);
	TU_ERR(emu_dev_configure(256, "none"), EINVAL);
	TU_ERR(emu_dev_configure(-1, "none"), EINVAL);
	TU_ERR(emu_dev_configure(0, NULL), EINVAL);
	TU_OK(emu_dev_configure(2, "none"));
	/* the variable wins over the call; a bad device item voids the whole variable */
	setenv("SPAPRTCE_MACHINE", "dev1=none,dev3=dma-engine:bad=1", 1);
	TU_OK(emu_machine_start());
	TU_OK(emu_dev_info(1, &info));
	TU_ERR(emu_dev_info(2, &info), ENOENT);
	TU_OK(emu_dev_info(3, &info));
	unsetenv("SPAPRTCE_MACHINE");
	TU_OK(emu_machine_reset());
	TU_OK(emu_dev_info(2, &info));		/* reset: back to the default */
	TU_OK(emu_machine_reset());
	setenv("SPAPRTCE_MACHINE", "groups=3,dev1=none,dev0=dma-engine", 1);
	TU_OK(emu_machine_start());
	TU_ERR(emu_dev_info(1, &info), ENOENT);
	TU_OK(emu_dev_info(0, &info));
	TU_ERR(emu_dev_info(3, &info), ENODEV);
	c = tu_open_v2(1, &g);
	TU_ERR(tdev_get(g, "0000:00:02.0"), ENODEV);
	TU_OK(spapr_close(g));
	TU_OK(spapr_close(c));
	unsetenv("SPAPRTCE_MACHINE");
	TU_OK(emu_machine_reset());
}
END_TEST

/* ------------------------------------------------------ fail-nth sweep */

struct sweep {
	int c, g, fds;
};

static int sweep_run(void *arg)
{
	struct sweep *s = arg;
	int efd = eventfd(0, EFD_NONBLOCK), d, rc;
	struct {
		struct vfio_irq_set s;
		int32_t fd[2];
	} a = { { sizeof(a), VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		  VFIO_PCI_MSIX_IRQ_INDEX, 0, 2 }, { efd, efd } };
	uint32_t v = 0;

	d = tdev_get(s->g, "0000:00:01.0");
	if (d < 0) {
		close(efd);
		return d;
	}
	rc = tu_ioctl(d, VFIO_DEVICE_SET_IRQS, &a);
	if (!rc && spapr_pread(d, &v, 4, (off_t)TDEV_CFG) != 4)
		rc = -errno;
	if (!rc && v != (EMU_DMAE_VENDOR | EMU_DMAE_DEVICE << 16))
		rc = -EIO;
	TU_OK(spapr_close(d));
	close(efd);
	return rc;
}

static void sweep_check(void *arg, int rc)
{
	struct sweep *s = arg;
	int d;

	(void)rc;
	/* nothing left: the group detaches, the fd count is back, a new open works */
	ck_assert_int_eq(count_fds(), s->fds);
	d = tdev_get(s->g, "0000:00:01.0");
	ck_assert_int_ge(d, 0);
	TU_OK(spapr_close(d));
	TU_OK(tu_ioctl(s->g, VFIO_GROUP_UNSET_CONTAINER, NULL));
	TU_OK(tu_attach(s->g, s->c));
	/* the last group's leave released the IOMMU driver */
	TU_OK(tu_ioctl(s->c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_SPAPR_TCE_v2_IOMMU));
}

START_TEST(t_fail_nth_device_open_release)
{
	struct sweep s;
	unsigned n;

	TU_OK(spapr_close(D));
	D = -1;
	s.c = C;
	s.g = G;
	s.fds = count_fds();
	n = tu_sweep(sweep_run, sweep_check, &s);
	ck_assert_uint_ge(n, 5);
}
END_TEST

static void plain_teardown(void)
{
	unsetenv("SPAPRTCE_MACHINE");
}

int main(void)
{
	Suite *s = suite_create("device");
	TCase *t = tcase_create("device fd");
	TCase *m = tcase_create("machine");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, t_get_device_fd_errors);
	tcase_add_test(t, t_unset_container_busy);
	tcase_add_test(t, t_two_fds_share_the_device);
	tcase_add_test(t, t_close_order);
	tcase_add_test(t, t_get_info_argsz);
	tcase_add_test(t, t_region_info);
	tcase_add_test(t, t_irq_info);
	tcase_add_test(t, t_hot_reset_info);
	tcase_add_test(t, t_pci_hot_reset);
	tcase_add_test(t, t_config_space);
	tcase_add_test(t, t_bar_access);
	tcase_add_test(t, t_mmap);
	tcase_add_test(t, t_memory_decode_and_reset_mmap);
	tcase_add_test(t, t_dma_engine_through_the_fd);
	tcase_add_test(t, t_dma_engine_faults);
	tcase_add_test(t, t_dma_engine_block_write);
	tcase_add_test(t, t_intx);
	tcase_add_test(t, t_intx_unmask_eventfd);
	tcase_add_test(t, t_msix);
	tcase_add_test(t, t_msi);
	tcase_add_test(t, t_set_irqs_validation);
	tcase_add_test(t, t_reset);
	tcase_add_test(t, t_reset_while_dma_in_flight);
	tcase_add_test(t, t_dma_logging);
	tcase_add_test(t, t_fault_region);
	tcase_add_test(t, t_machine_devices);
	tcase_add_test(t, t_fail_nth_device_open_release);
	suite_add_tcase(s, t);
	tcase_add_checked_fixture(m, NULL, plain_teardown);
	tcase_add_test(m, t_machine_dev_keys);
	suite_add_tcase(s, m);
	return tu_run(s);
}
