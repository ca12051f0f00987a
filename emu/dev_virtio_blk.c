/* SPDX-License-Identifier: MIT */
/*
 * Model "virtio-blk" (virtio device id 2) backed by a host file: one
 * request queue; requests IN, OUT, FLUSH and GET_ID on 512-byte sectors;
 * the capacity is the file's size at open, in whole sectors.  Keys:
 * file=PATH (required, opened read-write), platform=0 to leave
 * ACCESS_PLATFORM out.
 *
 * Why pread/pwrite on the file, not a mapping: a failing host read or
 * write becomes the request's IOERR status instead of a signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu/dev_virtio.h"
#include "emu/dev_virtio_priv.h"
#include "util/fail.h"

#define SECTOR 512u
#define BLK_ID "spaprtce-virtio-blk"

struct blk {
	int fd;
	uint64_t sectors;
};

static bool io(struct blk *b, uint8_t *buf, size_t len, uint64_t off, bool write)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write ? pwrite(b->fd, buf + done, len - done, (off_t)(off + done))
				  : pread(b->fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

/* Whether [sector * 512, + len) lies inside the disk. */
static bool in_disk(const struct blk *b, uint64_t sector, size_t len)
{
	uint64_t bytes = b->sectors * SECTOR;

	return sector <= b->sectors && len <= bytes - sector * SECTOR;
}

static uint32_t blk_request(void *mpriv, const uint8_t *rd, size_t rlen, uint8_t *wr, size_t wlen)
{
	struct blk *b = mpriv;
	uint8_t *status;
	uint32_t type;
	uint64_t sector;
	size_t len;

	if (!wlen)
		return 0;	/* nowhere to put a status */
	status = &wr[wlen - 1];
	*status = EMU_VIRTIO_BLK_S_IOERR;
	if (rlen < 16)
		return (uint32_t)wlen;
	type = (uint32_t)rd[0] | (uint32_t)rd[1] << 8 | (uint32_t)rd[2] << 16 | (uint32_t)rd[3] << 24;
	memcpy(&sector, rd + 8, 8);	/* little-endian host */
	switch (type) {
	case EMU_VIRTIO_BLK_T_IN:
		len = wlen - 1;
		if (in_disk(b, sector, len) && io(b, wr, len, sector * SECTOR, false))
			*status = EMU_VIRTIO_BLK_S_OK;
		break;
	case EMU_VIRTIO_BLK_T_OUT:
		len = rlen - 16;
		if (in_disk(b, sector, len) && io(b, (uint8_t *)rd + 16, len, sector * SECTOR, true))
			*status = EMU_VIRTIO_BLK_S_OK;
		break;
	case EMU_VIRTIO_BLK_T_FLUSH:
		if (!fdatasync(b->fd))
			*status = EMU_VIRTIO_BLK_S_OK;
		break;
	case EMU_VIRTIO_BLK_T_GET_ID:
		len = wlen - 1 < sizeof(BLK_ID) - 1 ? wlen - 1 : sizeof(BLK_ID) - 1;
		memcpy(wr, BLK_ID, len);
		*status = EMU_VIRTIO_BLK_S_OK;
		break;
	default:
		*status = EMU_VIRTIO_BLK_S_UNSUPP;
		break;
	}
	return (uint32_t)wlen;
}

static void blk_config(void *mpriv, uint8_t *cfg)
{
	const struct blk *b = mpriv;

	emu_dev_cfg_put(cfg, 0, 4, (uint32_t)b->sectors);	/* capacity, le64 */
	emu_dev_cfg_put(cfg, 4, 4, (uint32_t)(b->sectors >> 32));
}

static void blk_destroy(void *mpriv)
{
	struct blk *b = mpriv;

	close(b->fd);
	free(b);
}

static const struct emu__virtio_model blk = {
	.features = 1ull << EMU_VIRTIO_BLK_F_FLUSH,
	.request = blk_request,
	.config = blk_config,
	.destroy = blk_destroy,
};

static int blk_check(const char *params)
{
	char *file = NULL;
	bool np;
	int rc = emu__virtio_params("virtio-blk", params, &np, &file);

	free(file);
	return rc;
}

static int blk_create(struct emu_dev *d, const char *params)
{
	struct stat st;
	struct blk *b;
	char *file = NULL;
	bool np;
	int rc = emu__virtio_params("virtio-blk", params, &np, &file);

	if (rc)
		return rc;
	rc = -ENOMEM;
	if (util_should_fail("emu_virtio_blk_alloc"))
		goto out_free_file;
	b = calloc(1, sizeof(*b));
	if (!b)
		goto out_free_file;
	b->fd = open(file, O_RDWR | O_CLOEXEC);
	if (b->fd < 0 || fstat(b->fd, &st)) {
		rc = -errno;
		goto err_free;
	}
	b->sectors = (uint64_t)st.st_size / SECTOR;
	rc = emu__virtio_init(d, &blk, b, np);
	if (rc)
		goto err_free;
	free(file);
	return 0;

err_free:
	if (b->fd >= 0)
		close(b->fd);
	free(b);
out_free_file:
	free(file);
	return rc;
}

const struct emu_dev_model emu__dev_virtio_blk = {
	.name = "virtio-blk",
	.vendor = EMU_VIRTIO_VENDOR,
	.device = 0x1040 + EMU_VIRTIO_ID_BLOCK,
	.subsystem_vendor = EMU_VIRTIO_VENDOR,
	.subsystem_device = 0x1100,
	.class_code = 0x010000u,
	.revision = 1,
	.check_params = blk_check,
	.create = blk_create,
	.destroy = emu__virtio_destroy,
	.reset = emu__virtio_reset,
	.bar_read = emu__virtio_bar_read,
	.bar_write = emu__virtio_bar_write,
};
