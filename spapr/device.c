/* SPDX-License-Identifier: MIT */
/*
 * The VFIO device fd: VFIO_GROUP_GET_DEVICE_FD and the device requests
 * that describe and reset the function (GET_INFO, GET_REGION_INFO,
 * GET_PCI_HOT_RESET_INFO, PCI_HOT_RESET, RESET), as drivers/vfio/group.c
 * and drivers/vfio/pci/vfio_pci_core.c answer them.
 *
 * Hot reset: every function sits alone on its slot, so the set of devices
 * a slot reset affects (vfio-pci's dev_set) is the function itself, and
 * the user proves they own it by a group fd of its group
 * (vfio_pci_ioctl_pci_hot_reset, vfio_pci_dev_set_hot_reset).  The
 * kernel saves the config space around the bus reset and restores it
 * (pci_reset_bus), and keeps vfio-pci's interrupt set-up, so what a user
 * sees is what VFIO_DEVICE_RESET does: the function's own state reset.  Interrupts are
 * device_irq.c, config space and region access device_cfg.c, DMA logging
 * (VFIO_DEVICE_FEATURE) device_log.c, the public pread/pwrite/mmap
 * device_io.c.
 *
 * Why one vdev shared by every fd of a device: vfio-pci keeps its state
 * per device, not per open file (a second GET_DEVICE_FD sees the interrupt
 * set-up and the config space the first one left), and only the last close
 * disables and resets the function.
 *
 * The open order follows the kernel's: the name is copied (strndup_user of
 * one page: EFAULT, EINVAL when no NUL in 4096 bytes), looked up in the
 * group (ENODEV), then the group must have a container with an IOMMU driver
 * set (EINVAL, vfio_df_group_open and vfio_group_use_container).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "spapr/device_priv.h"
#include "util/fail.h"

#define NAME_MAX_BYTES 4096u		/* strndup_user(arg, PAGE_SIZE) */

/* Under spapr_vfio_lock. */
static struct spapr_vdev *vdevs[EMU_MAX_GROUPS];
static unsigned group_devices[EMU_MAX_GROUPS];	/* open device fds per group */

bool spapr__device_group_busy(struct spapr_group *g)
{
	return g->id >= 0 && g->id < (int)EMU_MAX_GROUPS && group_devices[g->id] != 0;
}

/* Copies a NUL-terminated name of at most one page from @user, page piece by piece. */
static int copy_name(char *name, const char *user)
{
	size_t got = 0;

	while (got < NAME_MAX_BYTES) {
		uintptr_t at = (uintptr_t)user + got;
		size_t piece = 4096 - (at & 4095);
		int rc;

		if (piece > NAME_MAX_BYTES - got)
			piece = NAME_MAX_BYTES - got;
		rc = spapr__copy_in(name + got, user + got, piece);
		if (rc)
			return rc;
		if (memchr(name + got, 0, piece))
			return 0;
		got += piece;
	}
	return -EINVAL;
}

/* Under spapr_vfio_lock: the group's container with its IOMMU driver set. */
static bool group_has_iommu(struct spapr_group *g)
{
	struct spapr_container *c = g->container;
	bool set;

	if (!c)
		return false;
	util_mutex_assert_held(&spapr_vfio_lock);
	util_rwlock_rdlock(&c->group_lock);
	set = c->tc != NULL;
	util_rwlock_unlock(&c->group_lock);
	return set;
}

static void vdev_free(struct spapr_vdev *v)
{
	pthread_mutex_destroy(&v->irq_lock);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

/* Under spapr_vfio_lock: the vdev of group @id, created with its function on first open. */
static int vdev_get(int id, struct spapr_vdev **out)
{
	struct spapr_vdev *v = vdevs[id];
	int rc;

	if (v) {
		v->opens++;
		*out = v;
		return 0;
	}
	if (util_should_fail("spapr_vdev_alloc"))
		return -ENOMEM;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	pthread_mutex_init(&v->lock, NULL);
	pthread_mutex_init(&v->irq_lock, NULL);
	v->group = id;
	spapr__irq_init(v);
	rc = emu_dev_open(id, &v->dev);
	if (rc) {
		vdev_free(v);
		return rc == -ENOENT ? -ENODEV : rc;
	}
	/*
	 * vfio_pci_core_enable's pci_enable_device turns memory decode on
	 * before vfio_config_init copies the config space: a user finds it on.
	 */
	emu_dev_cfg_write(v->dev, EMU_PCI_COMMAND, 2, EMU_PCI_COMMAND_MEMORY);
	spapr__vcfg_init(v);
	emu_dev_set_sink(v->dev, spapr__irq_sink, v);
	v->opens = 1;
	vdevs[id] = v;
	*out = v;
	return 0;
}

/* Under spapr_vfio_lock: vfio_pci_core_disable's part: interrupts off, master off, reset. */
static void vdev_put(struct spapr_vdev *v)
{
	if (--v->opens)
		return;
	vdevs[v->group] = NULL;
	(void)emu_dirty_log_stop(v->group);	/* a device's DMA log ends with its last user */
	spapr__irq_release(v);
	spapr__fault_release(v);
	emu_dev_set_sink(v->dev, NULL, NULL);
	emu_dev_cfg_write(v->dev, EMU_PCI_COMMAND, 2, 0);
	emu_dev_reset(v->dev);
	emu_dev_close(v->dev);
	vdev_free(v);
}

int spapr__device_get_fd(struct spapr_group *g, void *arg)
{
	char name[NAME_MAX_BYTES];
	struct emu_dev_info info;
	struct spapr_device *dev;
	struct spapr_vdev *v;
	int rc;

	rc = copy_name(name, arg);
	if (rc)
		return rc;
	/* A group without a device, or another name: ENODEV; the model's own errors as they are. */
	rc = emu_dev_info(g->id, &info);
	if (rc == -ENODEV || rc == -ENOENT || (!rc && strcmp(name, info.name)))
		return -ENODEV;
	if (rc)
		return rc;
	util_mutex_lock(&spapr_vfio_lock);
	rc = -EINVAL;
	if (!group_has_iommu(g))
		goto out_unlock;
	rc = -ENOMEM;
	if (util_should_fail("spapr_device_alloc"))
		goto out_unlock;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		goto out_unlock;
	rc = vdev_get(g->id, &v);
	if (rc)
		goto err_free_dev;
	dev->obj.kind = SPAPR_KIND_DEVICE;
	dev->obj.refs = 1;
	dev->v = v;
	dev->g = g;
	__atomic_add_fetch(&g->obj.refs, 1, __ATOMIC_RELAXED);
	group_devices[g->id]++;
	util_mutex_unlock(&spapr_vfio_lock);
	rc = spapr__fd_install(&dev->obj);
	if (rc < 0)
		spapr__obj_put(&dev->obj);
	return rc;

err_free_dev:
	free(dev);
out_unlock:
	util_mutex_unlock(&spapr_vfio_lock);
	return rc;
}

void spapr__device_release(struct spapr_device *dev)
{
	struct spapr_group *g = dev->g;

	util_mutex_lock(&spapr_vfio_lock);
	group_devices[g->id]--;
	vdev_put(dev->v);
	util_mutex_unlock(&spapr_vfio_lock);
	spapr__obj_put(&g->obj);
	free(dev);
}

/* ------------------------------------------------------------ requests */

static int get_info(void *arg)
{
	struct vfio_device_info info;
	size_t minsz = offsetof(struct vfio_device_info, num_irqs) + sizeof(info.num_irqs);
	int rc;

	memset(&info, 0, sizeof(info));
	rc = spapr__copy_in(&info, arg, minsz);
	if (rc)
		return rc;
	if (info.argsz < minsz)
		return -EINVAL;
	minsz = info.argsz < sizeof(info) ? info.argsz : sizeof(info);
	info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info.num_regions = VFIO_PCI_NUM_REGIONS + 1;	/* and the fault region */
	info.num_irqs = VFIO_PCI_NUM_IRQS;
	info.cap_offset = 0;
	return spapr__copy_out(arg, &info, minsz);
}

static int get_region_info(struct spapr_vdev *v, void *arg)
{
	struct vfio_region_info info;
	size_t minsz = offsetof(struct vfio_region_info, offset) + sizeof(info.offset);
	uint8_t caps[32];
	size_t ncaps = 0;
	int rc;

	rc = spapr__copy_in(&info, arg, minsz);
	if (rc)
		return rc;
	if (info.argsz < minsz)
		return -EINVAL;
	if (info.index > SPAPR_FAULT_REGION_INDEX || info.index == VFIO_PCI_VGA_REGION_INDEX)
		return -EINVAL;	/* no VGA; one device-specific region, the fault region */
	info.offset = (uint64_t)info.index << SPAPR_DEV_OFFSET_SHIFT;
	info.size = spapr__region_size(v, info.index);
	info.flags = 0;
	info.cap_offset = 0;
	if (info.index == VFIO_PCI_CONFIG_REGION_INDEX) {
		info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	} else if (info.index == SPAPR_FAULT_REGION_INDEX) {
		struct vfio_region_info_cap_type t = {
			{ VFIO_REGION_INFO_CAP_TYPE, 1, sizeof(info) + sizeof(t) },
			SPAPR_REGION_TYPE_NESTED, SPAPR_REGION_SUBTYPE_NESTED_DMA_FAULT };
		struct vfio_info_cap_header h = { SPAPR_REGION_INFO_CAP_DMA_FAULT, 1, 0 };
		uint32_t version = 1;

		info.size = spapr__fault_region_size(v);
		info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		memcpy(caps, &t, sizeof(t));
		memcpy(caps + sizeof(t), &h, sizeof(h));
		memcpy(caps + sizeof(t) + sizeof(h), &version, sizeof(version));
		ncaps = sizeof(t) + sizeof(h) + sizeof(version);
	} else if (info.index <= VFIO_PCI_BAR5_REGION_INDEX && info.size) {
		info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		if (spapr__bar_mmappable(v, info.index)) {
			unsigned msix_bar = v->dev->msix_cap ?
				v->dev->cfg[v->dev->msix_cap + EMU_PCI_MSIX_TABLE] & 7 : 8;

			info.flags |= VFIO_REGION_INFO_FLAG_MMAP;
			if (info.index == msix_bar) {
				struct vfio_info_cap_header h = { VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 1, 0 };

				memcpy(caps, &h, sizeof(h));
				ncaps = sizeof(h);
			}
		}
	}
	if (ncaps) {
		/* the chain's next offsets are already relative to the struct's start */
		info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
		if (info.argsz < sizeof(info) + ncaps) {
			info.argsz = (uint32_t)(sizeof(info) + ncaps);
		} else {
			rc = spapr__copy_out((uint8_t *)arg + sizeof(info), caps, ncaps);
			if (rc)
				return rc;
			info.cap_offset = sizeof(info);
		}
	}
	return spapr__copy_out(arg, &info, minsz);
}

static int hot_reset_info(struct spapr_vdev *v, void *arg)
{
	struct vfio_pci_hot_reset_info hdr;
	struct vfio_pci_dependent_device dep;
	size_t minsz = offsetof(struct vfio_pci_hot_reset_info, count) + sizeof(hdr.count);
	int rc;

	rc = spapr__copy_in(&hdr, arg, minsz);
	if (rc)
		return rc;
	if (hdr.argsz < minsz)
		return -EINVAL;
	hdr.flags = 0;
	hdr.count = 1;		/* each function has a slot of its own */
	if (hdr.argsz < sizeof(hdr) + sizeof(dep)) {
		rc = spapr__copy_out(arg, &hdr, minsz);
		return rc ? rc : -ENOSPC;
	}
	memset(&dep, 0, sizeof(dep));
	dep.group_id = (uint32_t)v->group;
	dep.segment = 0;
	dep.bus = 0;
	dep.devfn = (uint8_t)v->dev->devfn;
	rc = spapr__copy_out(arg, &hdr, minsz);
	if (!rc)
		rc = spapr__copy_out((uint8_t *)arg + sizeof(hdr), &dep, sizeof(dep));
	return rc;
}

/*
 * An open descriptor that is not a group fd: EINVAL; not open: EBADF
 * (fget, then vfio_file_is_group).  Else the group with a reference.
 */
static int group_of_fd(int fd, struct spapr_group **out)
{
	struct spapr_obj *obj = spapr__fd_get(fd);

	if (!obj)
		return fcntl(fd, F_GETFD) < 0 ? -EBADF : -EINVAL;
	if (obj->kind != SPAPR_KIND_GROUP) {
		spapr__obj_put(obj);
		return -EINVAL;
	}
	*out = (struct spapr_group *)obj;
	return 0;
}

/* VFIO_DEVICE_PCI_HOT_RESET (vfio_pci_ioctl_pci_hot_reset and its _groups part). */
static int hot_reset(struct spapr_vdev *v, void *arg)
{
	struct vfio_pci_hot_reset hdr;
	size_t minsz = offsetof(struct vfio_pci_hot_reset, count) + sizeof(hdr.count);
	const unsigned affected = 1;	/* the function alone on its slot */
	struct spapr_group **groups;
	int32_t *fds;
	unsigned i, held = 0;
	bool owned = false;
	int rc;

	rc = spapr__copy_in(&hdr, arg, minsz);
	if (rc)
		return rc;
	if (hdr.argsz < minsz || hdr.flags)
		return -EINVAL;
	/*
	 * Between 1 and the affected devices' count (count 0 is the cdev
	 * path: a group-opened device has no iommufd context, EINVAL).
	 */
	if (!hdr.count || hdr.count > affected)
		return -EINVAL;
	if (util_should_fail("spapr_hot_reset_alloc"))
		return -ENOMEM;
	fds = calloc(hdr.count, sizeof(*fds));
	groups = calloc(hdr.count, sizeof(*groups));
	rc = -ENOMEM;
	if (!fds || !groups)
		goto out_free;
	rc = spapr__copy_in(fds, (uint8_t *)arg + minsz, hdr.count * sizeof(*fds));
	if (rc)
		goto out_free;
	/* Each fd a group, held across the reset. */
	for (; held < hdr.count; held++) {
		rc = group_of_fd(fds[held], &groups[held]);
		if (rc)
			goto out_put;
		owned |= groups[held]->id == v->group;
	}
	/* Every affected device in one of the groups (vfio_dev_in_groups). */
	rc = -EINVAL;
	if (!owned)
		goto out_put;
	emu_dev_reset(v->dev);
	rc = 0;
out_put:
	for (i = 0; i < held; i++)
		spapr__obj_put(&groups[i]->obj);
out_free:
	free(groups);
	free(fds);
	return rc;
}

int spapr__device_ioctl(struct spapr_device *dev, unsigned long req, void *arg)
{
	switch (req) {
	case VFIO_DEVICE_GET_INFO:
		return get_info(arg);
	case VFIO_DEVICE_GET_REGION_INFO:
		return get_region_info(dev->v, arg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return spapr__irq_info(dev->v, arg);
	case VFIO_DEVICE_SET_IRQS:
		return spapr__set_irqs(dev->v, arg);
	case VFIO_DEVICE_RESET:
		emu_dev_reset(dev->v->dev);
		return 0;
	case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
		return hot_reset_info(dev->v, arg);
	case VFIO_DEVICE_PCI_HOT_RESET:
		return hot_reset(dev->v, arg);
	case VFIO_DEVICE_FEATURE:
		return spapr__device_feature(dev->v, arg);
	default:
		return -ENOTTY;
	}
}
