/* SPDX-License-Identifier: MIT */
/*
 * spapr_pread, spapr_pwrite, spapr_mmap: the file operations of a device fd
 * besides ioctl (vfio_device_fops read/write/mmap and vfio-pci's
 * vfio_pci_core_read/write/mmap).  A file offset names a region and a
 * position in it: region index << 40 | position.
 *
 * On a container or group fd the kernel has no read, write or mmap for
 * these files: pread/pwrite fail with EINVAL, mmap with ENODEV.
 */
#include <errno.h>
#include <sys/mman.h>

#include "spapr/device_priv.h"

/* The device behind @fd with a reference, or NULL with *rc set. */
static struct spapr_device *device_get(int fd, int *rc, int not_device)
{
	struct spapr_obj *obj = spapr__fd_get(fd);

	if (!obj) {
		*rc = -EBADF;
		return NULL;
	}
	if (obj->kind != SPAPR_KIND_DEVICE) {
		spapr__obj_put(obj);
		*rc = not_device;
		return NULL;
	}
	return (struct spapr_device *)obj;
}

static ssize_t rw(int fd, void *buf, size_t n, off_t off, bool write)
{
	struct spapr_device *dev;
	long rc;
	int err;

	dev = device_get(fd, &err, -EINVAL);
	if (!dev)
		return spapr__ret(err);
	if (off < 0)
		rc = -EINVAL;
	else
		rc = spapr__device_region_rw(dev->v, (unsigned)((uint64_t)off >> SPAPR_DEV_OFFSET_SHIFT),
					     (uint64_t)off & SPAPR_DEV_OFFSET_MASK, buf, n, write);
	spapr__obj_put(&dev->obj);
	if (rc < 0) {
		errno = (int)-rc;
		return -1;
	}
	return rc;
}

/* Reports a device call to the observer, if any. */
static void observe_dev(enum spapr_call call, int fd, size_t n, off_t off, long result)
{
	const struct spapr_observer *o = spapr__observing();

	if (o) {
		struct spapr_call_event ev = {
			.call = call, .fd = fd, .len = n, .off = (long long)off, .result = result,
		};

		spapr__observe(o, &ev);
	}
}

ssize_t spapr_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t rc = rw(fd, buf, n, off, false);

	observe_dev(SPAPR_CALL_PREAD, fd, n, off, (long)rc);
	return rc;
}

ssize_t spapr_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t rc = rw(fd, (void *)buf, n, off, true);

	observe_dev(SPAPR_CALL_PWRITE, fd, n, off, (long)rc);
	return rc;
}

static void *map_dev(void *addr, size_t len, int prot, int flags, int fd, off_t off);

void *spapr_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = map_dev(addr, len, prot, flags, fd, off);

	observe_dev(SPAPR_CALL_MMAP, fd, len, off, p == MAP_FAILED ? -1 : 0);
	return p;
}

static void *map_dev(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct spapr_device *dev;
	const struct emu_dev_bar *b;
	uint64_t index, start, phys_len;
	void *p = MAP_FAILED;
	int err;

	dev = device_get(fd, &err, -ENODEV);
	if (!dev) {
		errno = -err;
		return MAP_FAILED;
	}
	err = EINVAL;
	index = (uint64_t)off >> SPAPR_DEV_OFFSET_SHIFT;
	start = (uint64_t)off & SPAPR_DEV_OFFSET_MASK;
	if (off < 0 || (off & (EMU_PAGE_SIZE - 1)) || !len || index >= VFIO_PCI_ROM_REGION_INDEX ||
	    !spapr__bar_mmappable(dev->v, (unsigned)index) || !(flags & MAP_SHARED))
		goto out_put;
	b = &dev->v->dev->bar[index];
	phys_len = (b->size + EMU_PAGE_SIZE - 1) & ~(uint64_t)(EMU_PAGE_SIZE - 1);
	if (start > phys_len || len > phys_len - start)
		goto out_put;
	p = mmap(addr, len, prot, flags, b->ram_fd, (off_t)start);
	err = p == MAP_FAILED ? errno : 0;
out_put:
	spapr__obj_put(&dev->obj);
	if (p == MAP_FAILED)
		errno = err;
	return p;
}
