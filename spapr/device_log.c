/* SPDX-License-Identifier: MIT */
/*
 * VFIO_DEVICE_FEATURE on the device fd: device DMA logging
 * (DMA_LOGGING_START, STOP, REPORT) as drivers/vfio/vfio_main.c checks it
 * (vfio_ioctl_device_feature, vfio_check_feature and the three
 * vfio_ioctl_device_feature_logging_* handlers), served by the group's
 * dirty log in emu/ (emu_dirty_log_*), which sees every DMA write of the
 * function.  Every other feature is ENOTTY, as vfio-pci answers for a
 * device without migration, VF token or low-power support.
 *
 * Why the report reads the caller's bitmap before clearing the log: the
 * kernel pins the bitmap's pages before it reads and clears, so a bitmap
 * it cannot write fails with EFAULT and the log is untouched.  We check
 * both directions first, then read and clear, then OR our bits into the
 * caller's (REPORT only ever sets bits).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "spapr/device_priv.h"
#include "util/fail.h"

#define LOG_MAX_RANGES (4096 / sizeof(struct vfio_device_feature_dma_logging_range))
#define MAX_BITMAP_BYTES (256ull << 20)

/* vfio_check_feature: 1 to go on, 0 for a probe, or a negative errno. */
static int check_feature(uint32_t flags, size_t argsz, uint32_t ops, size_t minsz)
{
	if ((flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)) & ~ops)
		return -EINVAL;
	if (flags & VFIO_DEVICE_FEATURE_PROBE)
		return 0;
	if (!(flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)))
		return -EINVAL;
	return argsz < minsz ? -EINVAL : 1;
}

static bool aligned(uint64_t x, uint64_t a)
{
	return !(x & (a - 1));	/* IS_ALIGNED, whatever a is */
}

static int log_start(struct spapr_vdev *v, uint32_t flags, uint8_t *arg, size_t argsz)
{
	struct vfio_device_feature_dma_logging_control control;
	struct vfio_device_feature_dma_logging_range range;
	struct emu_dirty_range *r;
	uint64_t page_size;
	int rc = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, sizeof(control));

	if (rc != 1)
		return rc;
	rc = spapr__copy_in(&control, arg, sizeof(control));
	if (rc)
		return rc;
	if (!control.num_ranges)
		return -EINVAL;
	if (control.num_ranges > LOG_MAX_RANGES)
		return -E2BIG;
	if (util_should_fail("spapr_log_ranges"))
		return -ENOMEM;
	r = calloc(control.num_ranges, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (uint32_t i = 0; i < control.num_ranges; i++) {
		uint64_t end;

		rc = spapr__copy_in(&range, (void *)(uintptr_t)(control.ranges + i * sizeof(range)),
				    sizeof(range));
		if (rc)
			goto out_free;
		rc = -EINVAL;
		if (!aligned(range.iova, control.page_size) || !aligned(range.length, control.page_size))
			goto out_free;
		rc = -EOVERFLOW;
		if (__builtin_add_overflow(range.iova, range.length, &end))
			goto out_free;
		rc = -EINVAL;	/* overlapping an earlier range */
		for (uint32_t j = 0; j < i; j++)
			if (range.length && r[j].length && range.iova < r[j].iova + r[j].length &&
			    r[j].iova < end)
				goto out_free;
		r[i].iova = range.iova;
		r[i].length = range.length;
	}
	page_size = control.page_size;
	rc = emu_dirty_log_start(v->group, r, control.num_ranges, &page_size);
	if (rc)
		goto out_free;
	control.page_size = page_size;
	rc = spapr__copy_out(arg, &control, sizeof(control));
	if (rc)
		emu_dirty_log_stop(v->group);
out_free:
	free(r);
	return rc;
}

static int log_stop(struct spapr_vdev *v, uint32_t flags, size_t argsz)
{
	int rc = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0);

	if (rc != 1)
		return rc;
	return emu_dirty_log_stop(v->group);
}

static int log_report(struct spapr_vdev *v, uint32_t flags, uint8_t *arg, size_t argsz)
{
	struct vfio_device_feature_dma_logging_report rep;
	uint64_t end, pages, bytes;
	uint64_t *mine = NULL, *theirs = NULL;
	void *ubitmap;
	int rc = check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET, sizeof(rep));

	if (rc != 1)
		return rc;
	rc = spapr__copy_in(&rep, arg, sizeof(rep));
	if (rc)
		return rc;
	if (rep.page_size < 4096 || (rep.page_size & (rep.page_size - 1)))
		return -EINVAL;
	if (__builtin_add_overflow(rep.iova, rep.length, &end))
		return -EOVERFLOW;
	if (!rep.length)
		return -EINVAL;
	pages = rep.length / rep.page_size + !!(rep.length % rep.page_size);
	bytes = 8 * ((pages + 63) / 64);
	if (bytes > MAX_BITMAP_BYTES)
		return -ENOMEM;
	ubitmap = (void *)(uintptr_t)rep.bitmap;
	rc = -ENOMEM;
	if (util_should_fail("spapr_log_bitmap"))
		return rc;
	mine = calloc(1, bytes);
	theirs = malloc(bytes);
	if (!mine || !theirs)
		goto out_free;
	/* the caller's bitmap must be readable and writable before anything is cleared */
	rc = spapr__copy_in(theirs, ubitmap, bytes);
	if (!rc)
		rc = spapr__copy_out(ubitmap, theirs, bytes);
	if (!rc)
		rc = emu_dirty_log_report(v->group, rep.iova, rep.length, rep.page_size, mine, bytes);
	if (rc)
		goto out_free;
	for (uint64_t i = 0; i < bytes / 8; i++)
		theirs[i] |= mine[i];
	rc = spapr__copy_out(ubitmap, theirs, bytes);
out_free:
	free(mine);
	free(theirs);
	return rc;
}

int spapr__device_feature(struct spapr_vdev *v, void *arg)
{
	struct vfio_device_feature f;
	size_t minsz = offsetof(struct vfio_device_feature, flags) + sizeof(f.flags);
	uint8_t *data = (uint8_t *)arg + minsz;
	int rc = spapr__copy_in(&f, arg, minsz);

	if (rc)
		return rc;
	if (f.argsz < minsz)
		return -EINVAL;
	if (f.flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_GET |
			VFIO_DEVICE_FEATURE_PROBE))
		return -EINVAL;
	if (!(f.flags & VFIO_DEVICE_FEATURE_PROBE) && (f.flags & VFIO_DEVICE_FEATURE_SET) &&
	    (f.flags & VFIO_DEVICE_FEATURE_GET))
		return -EINVAL;
	switch (f.flags & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
		return log_start(v, f.flags, data, f.argsz - minsz);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
		return log_stop(v, f.flags, f.argsz - minsz);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		return log_report(v, f.flags, data, f.argsz - minsz);
	default:
		return -ENOTTY;
	}
}
