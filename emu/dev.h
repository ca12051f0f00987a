/* SPDX-License-Identifier: MIT */
/*
 * emu/dev.h: the device models of the machine and the interface between a
 * model and whoever drives it (the VFIO device fd in spapr/, or a test).
 *
 * Concepts
 *   model     A kind of PCI function (struct emu_dev_model): "dma-engine",
 *             later the virtio devices.  It fills the function's config
 *             space and BAR layout at create, and serves BAR accesses,
 *             reset and DMA.  No model knows VFIO: vfio-pci's
 *             virtualisation of config space, its interrupt plumbing
 *             (eventfds, INTx masking) and its regions live in spapr/.
 *   device    One instance (struct emu_dev) sitting in one IOMMU group, at
 *             PCI address 0000:00:0X.0 with X = group + 1.  Which model sits
 *             in which group is machine configuration (devG=MODEL[:K=V...],
 *             see emu_dev_configure in emu/emu.h); the default is a
 *             dma-engine in every group.  The instance is created by the
 *             first emu_dev_open of its group and destroyed by the last
 *             emu_dev_close, like a function that is bound to a driver only
 *             while someone uses it.
 *   config    cfg[] is the function's own ("hardware") config space, the
 *             bytes a config read on the bus returns: ids, class, BAR type
 *             bits, interrupt pin, the capability list.  The driving side
 *             keeps its own virtual copy for what vfio-pci virtualises
 *             (BAR addresses, ROM, interrupt line) and writes the bits the
 *             hardware acts on (command register, MSI-X message control)
 *             through emu_dev_cfg_write.
 *   BARs      bar[i].size bytes, 0 when absent.  A RAM BAR is plain memory
 *             (a memfd, so the driving side can hand out mmaps of it); any
 *             other BAR is served by the model's bar_read / bar_write.
 *   interrupts
 *             The model calls emu_dev_interrupt(vector): with MSI-X enabled
 *             in cfg (and the function not masked) that is a message on
 *             that vector; else with MSI enabled a message on that vector
 *             when it is among the enabled ones (2^QSIZE), on vector 0
 *             otherwise (a function given fewer vectors than it asked for
 *             shares the first); otherwise the INTx line is asserted
 *             (unless the command register disables INTx) and stays
 *             asserted until the model calls emu_dev_intx_deassert (the
 *             driver acknowledged).  Either way the sink set by
 *             emu_dev_set_sink hears of it.
 *   DMA       Only through emu_dev_dma_read / emu_dev_dma_write, which refuse
 *             while bus mastering is off in the command register and
 *             otherwise are emu_dma_read / emu_dma_write of the device's
 *             group: walker, TCE cache, fault log, dirty log.
 *
 * Locks: d->lock serialises the model: BAR handlers, reset, and the DMA a
 * doorbell starts run under it.  Order: d->lock -> the sink's own lock ->
 * the endpoint's locks (emu/emu.h).  The sink is called with d->lock held
 * and must not call back into the device.  intx_level is atomic so that the
 * sink side can read it under its own lock.
 *
 * Errors: 0 or a negative errno.
 */
#ifndef SPAPRTCE_EMU_DEV_H
#define SPAPRTCE_EMU_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/emu.h"

#define EMU_DEV_CFG_SIZE 256u
#define EMU_DEV_BARS 6u
#define EMU_DEV_MAX_VECTORS 64u

/* Config space offsets and bits (PCI Local Bus spec) the models and spapr/ share. */
#define EMU_PCI_VENDOR_ID 0x00
#define EMU_PCI_DEVICE_ID 0x02
#define EMU_PCI_COMMAND 0x04
#define EMU_PCI_COMMAND_IO 0x1
#define EMU_PCI_COMMAND_MEMORY 0x2
#define EMU_PCI_COMMAND_MASTER 0x4
#define EMU_PCI_COMMAND_INTX_DISABLE 0x400
#define EMU_PCI_STATUS 0x06
#define EMU_PCI_STATUS_INTERRUPT 0x08
#define EMU_PCI_STATUS_CAP_LIST 0x10
#define EMU_PCI_REVISION_ID 0x08
#define EMU_PCI_CLASS_PROG 0x09
#define EMU_PCI_HEADER_TYPE 0x0e
#define EMU_PCI_BASE_ADDRESS_0 0x10
#define EMU_PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define EMU_PCI_SUBSYSTEM_ID 0x2e
#define EMU_PCI_ROM_ADDRESS 0x30
#define EMU_PCI_CAPABILITY_LIST 0x34
#define EMU_PCI_INTERRUPT_LINE 0x3c
#define EMU_PCI_INTERRUPT_PIN 0x3d
#define EMU_PCI_CAP_ID_MSI 0x05
#define EMU_PCI_CAP_ID_VNDR 0x09
#define EMU_PCI_CAP_ID_MSIX 0x11
#define EMU_PCI_MSIX_FLAGS 2		/* within the capability */
#define EMU_PCI_MSIX_FLAGS_QSIZE 0x07ff
#define EMU_PCI_MSIX_FLAGS_MASKALL 0x4000
#define EMU_PCI_MSIX_FLAGS_ENABLE 0x8000
#define EMU_PCI_MSIX_TABLE 4
#define EMU_PCI_MSIX_PBA 8
#define EMU_PCI_MSI_FLAGS 2		/* within the capability */
#define EMU_PCI_MSI_FLAGS_ENABLE 0x0001
#define EMU_PCI_MSI_FLAGS_QMASK 0x000e	/* log2 of the vectors the function can use */
#define EMU_PCI_MSI_FLAGS_QSIZE 0x0070	/* log2 of the vectors enabled */
#define EMU_PCI_MSI_FLAGS_64BIT 0x0080
#define EMU_PCI_MSI_ADDRESS_LO 4
#define EMU_PCI_MSI_ADDRESS_HI 8
#define EMU_PCI_MSI_DATA_64 12
#define EMU_PCI_MSI_CAP_LEN_64 14	/* a 64-bit capability without per-vector masking */
#define EMU_PCI_BAR_MEM_TYPE_64 0x4
#define EMU_PCI_BAR_MEM_PREFETCH 0x8

/* bar flags */
#define EMU_DEV_BAR_MEM64 0x1u		/* a 64-bit BAR: takes the next BAR slot too */
#define EMU_DEV_BAR_PREFETCH 0x2u
#define EMU_DEV_BAR_RAM 0x4u		/* plain memory in ram/ram_fd, no handlers */

struct emu_dev;

struct emu_dev_bar {
	uint64_t size;		/* bytes, a power of two >= 16, or 0: absent */
	unsigned flags;		/* EMU_DEV_BAR_* */
	uint8_t *ram;		/* RAM BARs: the memory (a shared mapping of ram_fd) */
	int ram_fd;		/* RAM BARs: a memfd of size bytes; -1 otherwise */
};

enum emu_dev_irq_kind { EMU_DEV_IRQ_INTX, EMU_DEV_IRQ_MSI, EMU_DEV_IRQ_MSIX };

/* Told of each interrupt; called with d->lock held. */
typedef void emu_dev_sink_fn(void *ctx, enum emu_dev_irq_kind kind, unsigned vector);

struct emu_dev_model {
	const char *name;
	uint16_t vendor, device, subsystem_vendor, subsystem_device;
	uint32_t class_code;	/* base class << 16 | subclass << 8 | prog-if */
	uint8_t revision;
	/*
	 * Checks the model's KEY=VAL parameters (":"-separated, "" for none)
	 * without side effects.  0 or -EINVAL with a reason on stderr.
	 */
	int (*check_params)(const char *params);
	/*
	 * Fills d->cfg (ids, class and revision are already there), d->bar[]
	 * sizes and flags, sets d->priv.  RAM BARs are allocated by the
	 * caller after create.  0 or a negative errno; on failure nothing of
	 * the model is left allocated.
	 */
	int (*create)(struct emu_dev *d, const char *params);
	void (*destroy)(struct emu_dev *d);	/* never fails */
	void (*reset)(struct emu_dev *d);	/* function-level reset of the model's state */
	/* @size 1, 2, 4 or 8, @off naturally aligned and inside the BAR. */
	uint64_t (*bar_read)(struct emu_dev *d, unsigned bar, uint64_t off, unsigned size);
	void (*bar_write)(struct emu_dev *d, unsigned bar, uint64_t off, unsigned size, uint64_t val);
};

struct emu_dev {
	const struct emu_dev_model *model;
	int group;
	char name[16];			/* "0000:00:0X.0" */
	unsigned devfn;			/* X << 3 */
	uint8_t cfg[EMU_DEV_CFG_SIZE];	/* under lock */
	struct emu_dev_bar bar[EMU_DEV_BARS];
	unsigned msix_cap;		/* offset of the MSI-X capability, 0: none */
	unsigned msix_vectors;		/* table size */
	unsigned msi_cap;		/* offset of the MSI capability, 0: none */
	unsigned msi_vectors;		/* vectors it can use (a power of two) */
	pthread_mutex_t lock;
	bool intx_level;		/* atomic: the INTx line is asserted */
	emu_dev_sink_fn *sink;		/* under lock */
	void *sink_ctx;
	void *priv;			/* the model's */
	unsigned opens;			/* under the device table lock */
};

/*
 * emu_dev_open - the device of @group, created on the first open.
 * Returns 0 with *out, -ENODEV (no such group), -ENOENT (the group has no
 * device: dev<G>=none), -ENOMEM (fault points "emu_dev_alloc",
 * "emu_dev_ram"), or the model's create error.  Nothing is left allocated
 * on failure.
 */
int emu_dev_open(int group, struct emu_dev **out);
/* Drops an open; the last one destroys the device (its RAM BARs too).  Never fails. */
void emu_dev_close(struct emu_dev *d);
/* Sets (or with NULL clears) the interrupt sink.  Takes d->lock. */
void emu_dev_set_sink(struct emu_dev *d, emu_dev_sink_fn *fn, void *ctx);
/* Function-level reset: the model's state and the INTx line; cfg is kept.  Takes d->lock. */
void emu_dev_reset(struct emu_dev *d);
/* Config read of the hardware bytes, @size 1, 2 or 4, in range.  Takes d->lock. */
uint32_t emu_dev_cfg_read(struct emu_dev *d, unsigned off, unsigned size);
/*
 * Config write of the bits the hardware acts on: the command register
 * (bus master, INTx disable, ...), the MSI-X message control's enable
 * and mask-all bits and the MSI message control's enable and QSIZE.  Other
 * bytes are the hardware's and are ignored.  Takes d->lock.
 */
void emu_dev_cfg_write(struct emu_dev *d, unsigned off, unsigned size, uint32_t val);
/*
 * BAR access, @size 1, 2, 4 or 8, @off naturally aligned, inside an
 * existing BAR (the caller checks).  Takes d->lock.
 */
uint64_t emu_dev_bar_read(struct emu_dev *d, unsigned bar, uint64_t off, unsigned size);
void emu_dev_bar_write(struct emu_dev *d, unsigned bar, uint64_t off, unsigned size, uint64_t val);

/* ------------------------------------------------- for the models (d->lock held) */

/* Raises interrupt @vector (see Concepts). */
void emu_dev_interrupt(struct emu_dev *d, unsigned vector);
/* Whether MSI-X, MSI is enabled in the function's config space. */
bool emu__dev_msix_enabled(const struct emu_dev *d);
bool emu__dev_msi_enabled(const struct emu_dev *d);
/* Lowers the INTx line. */
void emu_dev_intx_deassert(struct emu_dev *d);
/*
 * The device's DMA: emu_dma_read/emu_dma_write of its group, or -EIO
 * without touching memory when bus mastering is disabled.
 */
int emu_dev_dma_read(struct emu_dev *d, uint64_t iova, void *buf, size_t len);
int emu_dev_dma_write(struct emu_dev *d, uint64_t iova, const void *buf, size_t len);
/* Adds a capability of @len bytes (id, next, then @body) at @off to cfg's list. */
void emu_dev_add_cap(struct emu_dev *d, unsigned off, uint8_t id, const void *body, unsigned len);
/* Adds an MSI-X capability at @off: @vectors, table at @table_off and PBA at @pba_off of BAR @bar. */
void emu_dev_add_msix(struct emu_dev *d, unsigned off, unsigned vectors, unsigned bar,
		      uint32_t table_off, uint32_t pba_off);

/*
 * Adds a 64-bit MSI capability (no per-vector masking) at @off for
 * @vectors, a power of two from 1 to 32.
 */
void emu_dev_add_msi(struct emu_dev *d, unsigned off, unsigned vectors);

/* Little-endian accessors of cfg. */
static inline void emu_dev_cfg_put(uint8_t *cfg, unsigned off, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		cfg[off + i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t emu_dev_cfg_get(const uint8_t *cfg, unsigned off, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)cfg[off + i] << (8 * i);
	return v;
}

/* ------------------------------------------------- machine configuration (emu/ only) */

/* The models, NULL-terminated (emu/dev_models.c), and each model. */
extern const struct emu_dev_model *const emu__dev_models[];
extern const struct emu_dev_model emu__dev_dma_engine;
extern const struct emu_dev_model emu__dev_virtio_rng;
extern const struct emu_dev_model emu__dev_virtio_blk;
/* Checks "MODEL[:K=V...]" or "none".  0 or -EINVAL (with a reason on stderr). */
int emu__dev_spec_check(const char *spec);
/* Stages @spec for group @g (SPAPRTCE_MACHINE); commit or discard follows.  0 or -ENOMEM. */
int emu__dev_spec_stage(unsigned g, const char *spec);
void emu__dev_spec_commit(void);
void emu__dev_spec_discard(void);
/* Back to the default (every group a dma-engine); emu_machine_reset. */
void emu__dev_spec_reset(void);

#endif
