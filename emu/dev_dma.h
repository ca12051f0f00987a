/* SPDX-License-Identifier: MIT */
/*
 * emu/dev_dma.h: the register block of model "dma-engine" (emu/dev_dma.c),
 * what a driver (a test, a client through its device fd) programs.
 *
 * Concepts
 *   BAR0 holds eight 64-bit register slots, little-endian, accessed with
 *   1, 2, 4 or 8-byte naturally aligned reads and writes:
 *     0x00 ID        RO  low half "DMAE" (0x45414d44), high half the version (1)
 *     0x08 SRC       RW  source: a bus address (iova), or an offset in BAR2
 *     0x10 DST       RW  destination: a bus address, or an offset in BAR2
 *     0x18 LEN       RW  bytes to move, at most EMU_DMAE_MAX_LEN (0: nothing, DONE)
 *     0x1c DIR       RW  EMU_DMAE_DIR_*
 *     0x20 CTRL      RW  bit 0: raise an interrupt at the end of a transfer
 *     0x24 DOORBELL  WO  write bit 0 set: run the transfer now; reads 0
 *     0x28 STATUS    RW1C bit 0 DONE, bit 1 ERROR, bits 8-15 the error code
 *                        (cleared with ERROR); clearing both lowers INTx
 *     0x30 COMPLETED RO  transfers that succeeded
 *     0x38 BYTES     RO  bytes they moved
 *   A transfer is all or nothing (emu_dma_read/emu_dma_write are): an
 *   error leaves memory untouched and the fault in the group's fault log.
 *   Interrupt: vector 0 (done) or 1 (error) of MSI-X when enabled, else
 *   of MSI when enabled (both vectors 0 when MSI has one enabled), INTx
 *   pin A otherwise.  Bus mastering must be on (command register bit
 *   2), or the transfer fails with EMU_DMAE_ERR_MASTER and touches nothing.
 */
#ifndef SPAPRTCE_EMU_DEV_DMA_H
#define SPAPRTCE_EMU_DEV_DMA_H

#define EMU_DMAE_VENDOR 0x1234		/* the id QEMU's own test devices use */
#define EMU_DMAE_DEVICE 0x5054
#define EMU_DMAE_CLASS 0x088000u	/* system peripheral, other */

#define EMU_DMAE_BAR0_SIZE 0x1000u
#define EMU_DMAE_LOCAL_SIZE 0x10000u	/* BAR2 */
#define EMU_DMAE_MSIX_BAR_SIZE 0x1000u	/* BAR4 */
#define EMU_DMAE_PBA 0x800u
#define EMU_DMAE_VECTORS 2u		/* MSI-X table size, and MSI vectors */
#define EMU_DMAE_MSIX_CAP 0x40u		/* capability offsets in config space */
#define EMU_DMAE_MSI_CAP 0x50u
#define EMU_DMAE_VEC_DONE 0u
#define EMU_DMAE_VEC_ERROR 1u
#define EMU_DMAE_MAX_LEN (16u << 20)

#define EMU_DMAE_ID 0x00
#define EMU_DMAE_SRC 0x08
#define EMU_DMAE_DST 0x10
#define EMU_DMAE_LEN 0x18
#define EMU_DMAE_DIR 0x1c
#define EMU_DMAE_CTRL 0x20
#define EMU_DMAE_DOORBELL 0x24
#define EMU_DMAE_STATUS 0x28
#define EMU_DMAE_COMPLETED 0x30
#define EMU_DMAE_BYTES 0x38

#define EMU_DMAE_ID_VALUE 0x45414d44u
#define EMU_DMAE_VERSION_VALUE 1u

#define EMU_DMAE_DIR_MEM_TO_MEM 0u	/* SRC iova -> DST iova */
#define EMU_DMAE_DIR_MEM_TO_LOCAL 1u	/* SRC iova -> DST offset in BAR2 */
#define EMU_DMAE_DIR_LOCAL_TO_MEM 2u	/* SRC offset in BAR2 -> DST iova */

#define EMU_DMAE_CTRL_IRQ 0x1u
#define EMU_DMAE_DOORBELL_GO 0x1u

#define EMU_DMAE_STATUS_DONE 0x1u
#define EMU_DMAE_STATUS_ERROR 0x2u
#define EMU_DMAE_STATUS_CODE_SHIFT 8
#define EMU_DMAE_STATUS_CODE_MASK 0xff00u

#define EMU_DMAE_ERR_FAULT 1u	/* no translation (EFAULT of the DMA path) */
#define EMU_DMAE_ERR_PERM 2u	/* the TCE lacks the permission (EACCES) */
#define EMU_DMAE_ERR_MASTER 3u	/* bus mastering disabled */
#define EMU_DMAE_ERR_RANGE 4u	/* bad DIR, LEN above the maximum, BAR2 range outside the buffer */
#define EMU_DMAE_ERR_NOMEM 5u	/* the engine's bounce buffer could not be had */
#define EMU_DMAE_ERR_FROZEN 6u	/* the PE's DMA is stopped by EEH (ESHUTDOWN) */

#endif
