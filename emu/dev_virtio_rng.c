/* SPDX-License-Identifier: MIT */
/*
 * Model "virtio-rng" (virtio device id 4): one request queue; the device
 * fills every device-writable buffer with random bytes.  Keys:
 *   platform=0  leave ACCESS_PLATFORM out (a broken device that a driver
 *               would hand physical addresses);
 *   seed=N      (decimal or 0x hex) the bytes are not the host's
 *               (getrandom) but a deterministic stream of the seed, so
 *               that a test outside the process -- a guest reading
 *               /dev/hwrng -- can prove the bytes it got are the ones this
 *               device wrote through the IOMMU: emu__virtio_rng_stream()
 *               computes the same bytes.  The stream's position counts
 *               every byte the instance produced since it was created;
 *               a device reset does not rewind it (a guest's driver resets
 *               the device at probe, and a checker wants one stream).
 * The stream is SplitMix64 over a counter: 8-byte word k (little-endian)
 * is mix(seed + (k + 1) * 0x9e3779b97f4a7c15).  Not for cryptography: a
 * known stream is the point.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "emu/dev_virtio.h"
#include "emu/dev_virtio_priv.h"
#include "util/fail.h"

struct rng {
	bool seeded;
	uint64_t seed;
	uint64_t pos;		/* bytes of the stream produced so far */
};

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void emu__virtio_rng_stream(uint64_t seed, uint64_t pos, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++, pos++) {
		uint64_t w = mix(seed + (pos / 8 + 1) * 0x9e3779b97f4a7c15ull);

		out[i] = (uint8_t)(w >> (8 * (pos % 8)));
	}
}

static uint32_t rng_request(void *mpriv, const uint8_t *rd, size_t rlen, uint8_t *wr, size_t wlen)
{
	struct rng *r = mpriv;
	size_t got = 0;

	(void)rd;
	(void)rlen;
	if (r->seeded) {
		emu__virtio_rng_stream(r->seed, r->pos, wr, wlen);
		r->pos += wlen;
		return (uint32_t)wlen;
	}
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
	.destroy = free,
};

/*
 * Takes this model's own key (seed=N) out of @params into @r and leaves the
 * transport's keys in @rest (a copy, freed by the caller).  0, -EINVAL (a
 * seed that is not a whole number), -ENOMEM.
 */
static int rng_params(const char *params, struct rng *r, char **rest)
{
	size_t len = strlen(params);
	char *copy = strdup(params), *out = malloc(len + 1), *tok, *save = NULL;
	int rc = 0;

	*rest = NULL;
	if (!copy || !out) {
		free(copy);
		free(out);
		return -ENOMEM;
	}
	out[0] = '\0';
	for (tok = strtok_r(copy, ":", &save); tok && !rc; tok = strtok_r(NULL, ":", &save)) {
		if (!strncmp(tok, "seed=", 5)) {
			char *end;

			errno = 0;
			r->seed = strtoull(tok + 5, &end, 0);
			r->seeded = true;
			if (!tok[5] || *end || errno || tok[5] == '-') {
				fprintf(stderr, "virtio-rng: bad seed \"%s\"\n", tok + 5);
				rc = -EINVAL;
			}
			continue;
		}
		if (out[0])
			strcat(out, ":");
		strcat(out, tok);
	}
	free(copy);
	if (rc)
		free(out);
	else
		*rest = out;
	return rc;
}

static int rng_check(const char *params)
{
	struct rng r = { 0 };
	char *rest;
	bool np;
	int rc = rng_params(params, &r, &rest);

	if (rc)
		return rc;
	rc = emu__virtio_params("virtio-rng", rest, &np, NULL);
	free(rest);
	return rc;
}

static int rng_create(struct emu_dev *d, const char *params)
{
	struct rng *r;
	char *rest;
	bool np;
	int rc;

	if (util_should_fail("emu_virtio_rng_alloc"))
		return -ENOMEM;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	rc = rng_params(params, r, &rest);
	if (rc)
		goto err_free;
	rc = emu__virtio_params("virtio-rng", rest, &np, NULL);
	free(rest);
	if (rc)
		goto err_free;
	rc = emu__virtio_init(d, &rng, r, np);
	if (rc)
		goto err_free;
	return 0;

err_free:
	free(r);
	return rc;
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
