/* SPDX-License-Identifier: MIT */
/*
 * Model "virtio-rng" (virtio device id 4): one request queue; the device
 * fills every device-writable buffer with random bytes from the host
 * (getrandom).  Keys: platform=0 to leave ACCESS_PLATFORM out (a broken
 * device that a driver would hand physical addresses).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "emu/dev_virtio.h"
#include "emu/dev_virtio_priv.h"

static uint32_t rng_request(void *mpriv, const uint8_t *rd, size_t rlen, uint8_t *wr, size_t wlen)
{
	size_t got = 0;

	(void)mpriv;
	(void)rd;
	(void)rlen;
	while (got < wlen) {
		ssize_t n = getrandom(wr + got, wlen - got, 0);

		if (n <= 0)
			break;	/* what is left stays zero: still bytes the device wrote */
		got += (size_t)n;
	}
	return (uint32_t)wlen;
}

static void rng_config(void *mpriv, uint8_t *cfg)
{
	(void)mpriv;
	(void)cfg;	/* virtio-rng has no device config */
}

static const struct emu__virtio_model rng = {
	.features = 0,
	.request = rng_request,
	.config = rng_config,
	.destroy = NULL,
};

static int rng_check(const char *params)
{
	bool np;

	return emu__virtio_params("virtio-rng", params, &np, NULL);
}

static int rng_create(struct emu_dev *d, const char *params)
{
	bool np;
	int rc = emu__virtio_params("virtio-rng", params, &np, NULL);

	return rc ? rc : emu__virtio_init(d, &rng, NULL, np);
}

const struct emu_dev_model emu__dev_virtio_rng = {
	.name = "virtio-rng",
	.vendor = EMU_VIRTIO_VENDOR,
	.device = 0x1040 + EMU_VIRTIO_ID_RNG,
	.subsystem_vendor = EMU_VIRTIO_VENDOR,
	.subsystem_device = 0x1100,
	.class_code = 0xff0000u,
	.revision = 1,
	.check_params = rng_check,
	.create = rng_create,
	.destroy = emu__virtio_destroy,
	.reset = emu__virtio_reset,
	.bar_read = emu__virtio_bar_read,
	.bar_write = emu__virtio_bar_write,
};
