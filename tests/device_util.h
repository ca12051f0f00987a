/* SPDX-License-Identifier: MIT */
/*
 * tests/device_util.h: what the device fd suites (check_device,
 * check_device_virtio, check_eeh) do to a VFIO device fd, shared.
 *
 * Concepts
 *   - Every helper takes the descriptor it works on (device fd @fd,
 *     container fd @c, group number @group); none keeps state.
 *   - tdev_rd / tdev_wr, tdev_get and the tdev_irqs_* requests return what
 *     the call returned, or -errno (for TU_OK / TU_ERR); the others assert
 *     that the access succeeded in full.
 *   - Regions are addressed as the device fd does: index << 40 | position
 *     (TDEV_REG); the dma-engine's registers are in BAR0 (emu/dev_dma.h).
 */
#ifndef SPAPRTCE_TESTS_DEVICE_UTIL_H
#define SPAPRTCE_TESTS_DEVICE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "emu/emu.h"

#define TDEV_REG(i) ((uint64_t)(i) << 40)
#define TDEV_CFG TDEV_REG(7)		/* VFIO_PCI_CONFIG_REGION_INDEX */

/* VFIO_GROUP_GET_DEVICE_FD: the device fd, or -errno. */
int tdev_get(int gfd, const char *name);
/* spapr_pread / spapr_pwrite at @off: bytes done or -errno. */
long tdev_rd(int fd, void *buf, size_t n, uint64_t off);
long tdev_wr(int fd, const void *buf, size_t n, uint64_t off);
/* Config space access of @size bytes at @off; asserts it is done in full. */
uint32_t tdev_cfg_rd(int fd, unsigned off, unsigned size);
void tdev_cfg_wr(int fd, unsigned off, unsigned size, uint32_t v);
/* The 8-byte BAR0 register at @off; a write of @size bytes. */
uint64_t tdev_reg_rd(int fd, unsigned off);
void tdev_reg_wr(int fd, unsigned off, unsigned size, uint64_t v);
/* Command register: memory decode and bus mastering on. */
void tdev_master_on(int fd);
/* Programs one dma-engine transfer, rings the doorbell; returns STATUS. */
uint32_t tdev_dma(int fd, uint64_t src, uint64_t dst, uint32_t len, uint32_t dir);

/* @pages zeroed pages registered with container @c and mapped at @iova with @flags. */
uint8_t *tdev_map_buf(int c, unsigned pages, uint64_t iova, uint32_t flags);
/* Undoes tdev_map_buf. */
void tdev_unmap_buf(int c, uint8_t *p, unsigned pages, uint64_t iova);
/* Reads up to @max records of @group's fault log; returns how many. */
unsigned tdev_faults(int group, struct emu_fault *f, unsigned max);

/* The eventfd's count, consumed (0 when not signalled). */
uint64_t tdev_ev_count(int efd);
/* SET_IRQS of one vector: with eventfd @efd (or -1), with no data, with a bool. */
int tdev_irqs_fd(int fd, unsigned index, uint32_t action, unsigned start, int32_t efd);
int tdev_irqs_none(int fd, unsigned index, uint32_t action, unsigned start, unsigned count);
int tdev_irqs_bool(int fd, unsigned index, uint32_t action, unsigned start, uint8_t v);

#endif
