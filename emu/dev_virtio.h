/* SPDX-License-Identifier: MIT */
/*
 * emu/dev_virtio.h: the modern virtio-pci transport shared by models
 * "virtio-rng" and "virtio-blk" (emu/dev_virtio*.c), what a driver finds.
 *
 * Concepts
 *   Transport (virtio 1.x, "Virtio Over PCI Bus"): vendor 0x1af4, device
 *   0x1040 + the virtio device id, revision 1.  Four vendor capabilities
 *   (id 0x09) in config space point into BAR4 (16 KiB, 64-bit
 *   prefetchable, registers):
 *     common cfg  at 0x0000 (0x38 bytes: feature selects, status, queue_*)
 *     ISR         at 0x1000 (1 byte, read to acknowledge: bit 0 queue, bit 1 config)
 *     device cfg  at 0x2000 (the model's)
 *     notify      at 0x3000 (multiplier 4; queue q at 0x3000 + 4 * q)
 *   plus MSI-X (2 vectors) with its table at 0 and PBA at 0x800 of BAR1
 *   (4 KiB RAM), and INTx pin A.
 *   Features offered: VIRTIO_F_VERSION_1 and VIRTIO_F_ACCESS_PLATFORM (bits
 *   32, 33: the driver must put bus addresses, i.e. IOMMU-mapped ones, in
 *   its rings) and the model's own.  FEATURES_OK sticks only when the
 *   driver accepted VERSION_1 and ACCESS_PLATFORM and nothing not offered.
 *   One split virtqueue (queue 0), at most EMU_VIRTIO_QUEUE_MAX entries,
 *   no indirect descriptors, no event index.  Every ring and buffer access
 *   is a DMA of the function (emu_dev_dma_*): a fault stops the queue and
 *   sets DEVICE_NEEDS_RESET in the status, and the group's fault log has it.
 */
#ifndef SPAPRTCE_EMU_DEV_VIRTIO_H
#define SPAPRTCE_EMU_DEV_VIRTIO_H

#include <stdint.h>

#define EMU_VIRTIO_VENDOR 0x1af4
#define EMU_VIRTIO_ID_BLOCK 2
#define EMU_VIRTIO_ID_RNG 4

#define EMU_VIRTIO_BAR 4
#define EMU_VIRTIO_BAR_SIZE 0x4000u
#define EMU_VIRTIO_MSIX_BAR 1
#define EMU_VIRTIO_COMMON 0x0000u
#define EMU_VIRTIO_ISR 0x1000u
#define EMU_VIRTIO_DEVICE 0x2000u
#define EMU_VIRTIO_NOTIFY 0x3000u
#define EMU_VIRTIO_NOTIFY_MULT 4u
#define EMU_VIRTIO_QUEUE_MAX 256u
#define EMU_VIRTIO_VECTORS 2u

/* common cfg offsets (struct virtio_pci_common_cfg) */
#define EMU_VIRTIO_DFSELECT 0x00
#define EMU_VIRTIO_DF 0x04
#define EMU_VIRTIO_GFSELECT 0x08
#define EMU_VIRTIO_GF 0x0c
#define EMU_VIRTIO_MSIX_CONFIG 0x10
#define EMU_VIRTIO_NUM_QUEUES 0x12
#define EMU_VIRTIO_STATUS 0x14
#define EMU_VIRTIO_CFG_GENERATION 0x15
#define EMU_VIRTIO_Q_SELECT 0x16
#define EMU_VIRTIO_Q_SIZE 0x18
#define EMU_VIRTIO_Q_MSIX 0x1a
#define EMU_VIRTIO_Q_ENABLE 0x1c
#define EMU_VIRTIO_Q_NOFF 0x1e
#define EMU_VIRTIO_Q_DESC 0x20
#define EMU_VIRTIO_Q_AVAIL 0x28
#define EMU_VIRTIO_Q_USED 0x30
#define EMU_VIRTIO_COMMON_SIZE 0x38

/* status bits */
#define EMU_VIRTIO_S_ACKNOWLEDGE 0x01
#define EMU_VIRTIO_S_DRIVER 0x02
#define EMU_VIRTIO_S_DRIVER_OK 0x04
#define EMU_VIRTIO_S_FEATURES_OK 0x08
#define EMU_VIRTIO_S_NEEDS_RESET 0x40
#define EMU_VIRTIO_S_FAILED 0x80

#define EMU_VIRTIO_F_VERSION_1 32
#define EMU_VIRTIO_F_ACCESS_PLATFORM 33
#define EMU_VIRTIO_BLK_F_FLUSH 9
#define EMU_VIRTIO_NO_VECTOR 0xffff

/* virtio-blk requests */
#define EMU_VIRTIO_BLK_T_IN 0
#define EMU_VIRTIO_BLK_T_OUT 1
#define EMU_VIRTIO_BLK_T_FLUSH 4
#define EMU_VIRTIO_BLK_T_GET_ID 8
#define EMU_VIRTIO_BLK_S_OK 0
#define EMU_VIRTIO_BLK_S_IOERR 1
#define EMU_VIRTIO_BLK_S_UNSUPP 2

/* split ring descriptor flags */
#define EMU_VRING_DESC_F_NEXT 1
#define EMU_VRING_DESC_F_WRITE 2
#define EMU_VRING_DESC_F_INDIRECT 4
#define EMU_VRING_AVAIL_F_NO_INTERRUPT 1

#endif
