/* SPDX-License-Identifier: MIT */
/*
 * emu/dev_virtio_priv.h: what the virtio models (emu/dev_virtio_*.c) give
 * the shared transport (emu/dev_virtio.c).  emu/ only.
 */
#ifndef SPAPRTCE_EMU_DEV_VIRTIO_PRIV_H
#define SPAPRTCE_EMU_DEV_VIRTIO_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/dev.h"

#define EMU_VIRTIO_CFG_MAX 64u

struct emu__virtio_model {
	uint64_t features;	/* the model's own feature bits */
	/*
	 * Serves one request: @rd holds the @rlen device-readable bytes of
	 * the chain; the answer goes into @wr (@wlen bytes, zeroed).
	 * Returns the bytes of @wr to write back (the used length).
	 */
	uint32_t (*request)(void *mpriv, const uint8_t *rd, size_t rlen, uint8_t *wr, size_t wlen);
	/* Fills the device config (EMU_VIRTIO_CFG_MAX bytes, zeroed). */
	void (*config)(void *mpriv, uint8_t *cfg);
	void (*destroy)(void *mpriv);	/* may be NULL */
};

/* The transport state, d->priv of a virtio model. */
struct emu__virtio {
	const struct emu__virtio_model *m;
	void *mpriv;
	bool no_platform;		/* platform=0: ACCESS_PLATFORM not offered */
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint16_t msix_config;
	uint8_t status;
	uint16_t qselect, qsize, qmsix, qenable;
	uint64_t qdesc, qavail, qused;	/* bus addresses */
	uint16_t last_avail, used_idx;
	uint8_t isr;
	uint64_t notifies, buffers, bytes, errors;
};

/*
 * Sets up the transport for d (BARs, capabilities, MSI-X, pin) with model
 * @m and its state @mpriv (owned from here on: freed by @m->destroy on
 * destroy, not on failure).  0 or -ENOMEM ("emu_virtio_alloc").
 */
int emu__virtio_init(struct emu_dev *d, const struct emu__virtio_model *m, void *mpriv,
		     bool no_platform);
void emu__virtio_destroy(struct emu_dev *d);
void emu__virtio_reset(struct emu_dev *d);
uint64_t emu__virtio_bar_read(struct emu_dev *d, unsigned bar, uint64_t off, unsigned size);
void emu__virtio_bar_write(struct emu_dev *d, unsigned bar, uint64_t off, unsigned size, uint64_t val);
/*
 * Parses ":"-separated KEY=VAL @params: "platform=0|1" always, "file=PATH"
 * when @file is not NULL (then required).  0 or -EINVAL with a reason.
 */
int emu__virtio_params(const char *model, const char *params, bool *no_platform, char **file);
/*
 * The bytes a virtio-rng with seed=@seed writes at stream positions
 * [@pos, @pos + @n) (emu/dev_virtio_rng.c): what a checker outside the
 * process compares a guest's /dev/hwrng bytes with.
 */
void emu__virtio_rng_stream(uint64_t seed, uint64_t pos, uint8_t *out, size_t n);

#endif
