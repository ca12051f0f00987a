/* SPDX-License-Identifier: MIT */
/*
 * spapr/device_priv.h: the VFIO device fd (vfio-pci semantics) behind
 * VFIO_GROUP_GET_DEVICE_FD, for spapr/device*.c only.  The rest of spapr/
 * sees four calls in spapr_priv.h.
 *
 * Objects
 *   struct spapr_vdev    vfio-pci's per-device state (the kernel's
 *                        vfio_pci_core_device): the emulated function, the
 *                        virtual config space, the interrupt set-up.  One
 *                        per group while any device fd of it is open;
 *                        the last close disables interrupts and lets the
 *                        function go (emu_dev_close resets it).
 *   struct spapr_device  one device fd: a reference on the group object
 *                        (as the kernel's device file holds the group
 *                        file) and the vdev.
 *
 * Locks, in order: spapr_vfio_lock (open, last close, the per-group count
 * of open device fds that UNSET_CONTAINER checks) -> v->lock (the virtual
 * config space and the interrupt set-up; vfio-pci's igate) -> d->lock of
 * emu/dev.h -> v->irq_lock (taken by the interrupt sink, which runs under
 * d->lock: the eventfds and the INTx mask).  Requests that reach the
 * function (config writes it acts on, BAR access, reset) take d->lock
 * through emu/dev.c, never v->irq_lock first.
 */
#ifndef SPAPRTCE_SPAPR_DEVICE_PRIV_H
#define SPAPRTCE_SPAPR_DEVICE_PRIV_H

#include <linux/vfio.h>

#include "emu/dev.h"
#include "spapr/spapr_priv.h"

#define SPAPR_DEV_OFFSET_SHIFT 40
#define SPAPR_DEV_OFFSET_MASK ((1ull << SPAPR_DEV_OFFSET_SHIFT) - 1)
#define SPAPR_DEV_NO_IRQ (-1)		/* irq_type when none is enabled */

struct spapr_vdev {
	struct emu_dev *dev;
	int group;
	unsigned opens;				/* device fds, under spapr_vfio_lock */
	pthread_mutex_t lock;			/* vcfg, wmask, irq_type, num_ctx */
	uint8_t vcfg[EMU_DEV_CFG_SIZE];		/* what a config read returns */
	uint8_t wmask[EMU_DEV_CFG_SIZE];	/* bits a config write may change */
	int irq_type;				/* VFIO_PCI_*_IRQ_INDEX or SPAPR_DEV_NO_IRQ */
	pthread_mutex_t irq_lock;		/* the fds below, intx_masked */
	int intx_fd;				/* our dup of the trigger eventfd, -1: none */
	int intx_unmask_fd;			/* eventfd whose signal unmasks INTx, -1: none */
	bool intx_masked;
	unsigned num_ctx;			/* MSI or MSI-X vectors enabled */
	int vec_fd[EMU_DEV_MAX_VECTORS];	/* their eventfds (vfio-pci's one ctx array) */
	unsigned msi_qmax;			/* log2 of MSI vectors at the last enable, under lock */
	int err_fd, req_fd;
	struct emu_fault *fault_ring;		/* the fault region's ring (device_fault.c), under lock */
	uint32_t fault_size, fault_prod, fault_cons;
};

struct spapr_device {
	struct spapr_obj obj;
	struct spapr_group *g;			/* a reference */
	struct spapr_vdev *v;
};

/* device_cfg.c: the virtual config space (vfio_pci_config.c's job). */
void spapr__vcfg_init(struct spapr_vdev *v);
/* pread/pwrite of region @index at @pos; returns bytes done or a negative errno. */
long spapr__device_region_rw(struct spapr_vdev *v, unsigned index, uint64_t pos, void *ubuf,
			     size_t count, bool write);
/* Whether BAR @index may be mmapped (a RAM BAR of at least a page). */
bool spapr__bar_mmappable(const struct spapr_vdev *v, unsigned index);
/* Size of region @index (0: absent). */
uint64_t spapr__region_size(const struct spapr_vdev *v, unsigned index);

/* device_fault.c: the fault region (index SPAPR_FAULT_REGION_INDEX). */
uint64_t spapr__fault_region_size(const struct spapr_vdev *v);
long spapr__fault_region_rw(struct spapr_vdev *v, uint64_t pos, void *ubuf, size_t count, bool write);
void spapr__fault_release(struct spapr_vdev *v);

/* device_log.c: VFIO_DEVICE_FEATURE (DMA logging on the group's dirty log). */
int spapr__device_feature(struct spapr_vdev *v, void *arg);

/* device_irq.c: interrupts (vfio_pci_intrs.c's job). */
int spapr__irq_info(struct spapr_vdev *v, void *arg);
int spapr__set_irqs(struct spapr_vdev *v, void *arg);
/* Disables every interrupt and drops every eventfd (last close). */
void spapr__irq_release(struct spapr_vdev *v);
/* The MSI message control as a config read shows it (@flags: vcfg's), under v->lock. */
uint16_t spapr__msi_flags_read(const struct spapr_vdev *v, uint16_t flags);
/* vcfg's MSI message control after a write: fixed up, and given to the function.  Under v->lock. */
void spapr__msi_flags_written(struct spapr_vdev *v);
void spapr__irq_init(struct spapr_vdev *v);
emu_dev_sink_fn spapr__irq_sink;

#endif
