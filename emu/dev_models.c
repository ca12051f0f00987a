/* SPDX-License-Identifier: MIT */
/* The table of device models, by name (emu/dev.h). */
#include <stddef.h>

#include "emu/dev.h"

const struct emu_dev_model *const emu__dev_models[] = {
	&emu__dev_dma_engine,
	&emu__dev_virtio_rng,
	&emu__dev_virtio_blk,
	NULL,
};
