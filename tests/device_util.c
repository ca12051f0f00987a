/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the device fd suites (tests/device_util.h): a driver's
 * accesses to a device fd through spapr_pread, spapr_pwrite and
 * spapr_ioctl only, as the suites check them.
 */
#include <check.h>
#include <errno.h>
#include <linux/vfio.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "emu/dev.h"
#include "emu/dev_dma.h"
#include "emu/mem.h"
#include "spapr/spapr.h"
#include "tests/device_util.h"
#include "tests/testutil.h"

int tdev_get(int gfd, const char *name)
{
	int rc = spapr_ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, name);

	return rc < 0 ? -errno : rc;
}

long tdev_rd(int fd, void *buf, size_t n, uint64_t off)
{
	ssize_t r = spapr_pread(fd, buf, n, (off_t)off);

	return r < 0 ? -errno : r;
}

long tdev_wr(int fd, const void *buf, size_t n, uint64_t off)
{
	ssize_t r = spapr_pwrite(fd, buf, n, (off_t)off);

	return r < 0 ? -errno : r;
}

uint32_t tdev_cfg_rd(int fd, unsigned off, unsigned size)
{
	uint32_t v = 0;

	ck_assert_int_eq(tdev_rd(fd, &v, size, TDEV_CFG + off), size);
	return v;
}

void tdev_cfg_wr(int fd, unsigned off, unsigned size, uint32_t v)
{
	ck_assert_int_eq(tdev_wr(fd, &v, size, TDEV_CFG + off), size);
}

uint64_t tdev_reg_rd(int fd, unsigned off)
{
	uint64_t v = 0;

	ck_assert_int_eq(tdev_rd(fd, &v, 8, TDEV_REG(0) + off), 8);
	return v;
}

void tdev_reg_wr(int fd, unsigned off, unsigned size, uint64_t v)
{
	ck_assert_int_eq(tdev_wr(fd, &v, size, TDEV_REG(0) + off), size);
}

void tdev_master_on(int fd)
{
	tdev_cfg_wr(fd, EMU_PCI_COMMAND, 2, EMU_PCI_COMMAND_MEMORY | EMU_PCI_COMMAND_MASTER);
}

uint32_t tdev_dma(int fd, uint64_t src, uint64_t dst, uint32_t len, uint32_t dir)
{
	tdev_reg_wr(fd, EMU_DMAE_STATUS, 4, EMU_DMAE_STATUS_DONE | EMU_DMAE_STATUS_ERROR);
	tdev_reg_wr(fd, EMU_DMAE_SRC, 8, src);
	tdev_reg_wr(fd, EMU_DMAE_DST, 8, dst);
	tdev_reg_wr(fd, EMU_DMAE_LEN, 4, len);
	tdev_reg_wr(fd, EMU_DMAE_DIR, 4, dir);
	tdev_reg_wr(fd, EMU_DMAE_DOORBELL, 4, EMU_DMAE_DOORBELL_GO);
	return (uint32_t)tdev_reg_rd(fd, EMU_DMAE_STATUS);
}

uint8_t *tdev_map_buf(int c, unsigned pages, uint64_t iova, uint32_t flags)
{
	uint8_t *p = tu_map(pages);

	memset(p, 0, pages * EMU_PAGE_SIZE);
	TU_OK(tu_register(c, p, pages * EMU_PAGE_SIZE));
	TU_OK(tu_map_dma(c, p, iova, pages * EMU_PAGE_SIZE, flags));
	return p;
}

void tdev_unmap_buf(int c, uint8_t *p, unsigned pages, uint64_t iova)
{
	TU_OK(tu_unmap_dma(c, iova, pages * EMU_PAGE_SIZE));
	TU_OK(tu_unregister(c, p, pages * EMU_PAGE_SIZE));
	tu_unmap(p, pages);
}

unsigned tdev_faults(int group, struct emu_fault *f, unsigned max)
{
	unsigned n;

	TU_OK(emu_fault_log_read(group, f, max, &n));
	return n;
}

uint64_t tdev_ev_count(int efd)
{
	uint64_t n = 0;
	struct pollfd p = { .fd = efd, .events = POLLIN };

	if (poll(&p, 1, 0) == 1)
		ck_assert_int_eq(read(efd, &n, 8), 8);
	return n;
}

int tdev_irqs_fd(int fd, unsigned index, uint32_t action, unsigned start, int32_t efd)
{
	struct {
		struct vfio_irq_set s;
		int32_t fd;
	} a = { { sizeof(a), VFIO_IRQ_SET_DATA_EVENTFD | action, index, start, 1 }, efd };

	return tu_ioctl(fd, VFIO_DEVICE_SET_IRQS, &a);
}

int tdev_irqs_none(int fd, unsigned index, uint32_t action, unsigned start, unsigned count)
{
	struct vfio_irq_set s = { sizeof(s), VFIO_IRQ_SET_DATA_NONE | action, index, start, count };

	return tu_ioctl(fd, VFIO_DEVICE_SET_IRQS, &s);
}

int tdev_irqs_bool(int fd, unsigned index, uint32_t action, unsigned start, uint8_t v)
{
	struct {
		struct vfio_irq_set s;
		uint8_t b[4];
	} a = { { sizeof(a.s) + 1, VFIO_IRQ_SET_DATA_BOOL | action, index, start, 1 }, { v } };

	return tu_ioctl(fd, VFIO_DEVICE_SET_IRQS, &a);
}
