/* SPDX-License-Identifier: MIT */
/*
 * tests/vfio_util.h: container requests as the suites make them.
 *
 * Each helper fills the <linux/vfio.h> struct of one request and returns
 * what spapr_ioctl returned as a layer call would: 0 (or the positive
 * result), or -errno.  TU_OK / TU_ERR then assert the outcome.
 */
#ifndef SPAPRTCE_TESTS_VFIO_UTIL_H
#define SPAPRTCE_TESTS_VFIO_UTIL_H

#include <stdint.h>

#include "mmreg/mmreg.h"
#include "tce/tce.h"

/* spapr_ioctl as a layer call. */
int tu_ioctl(int fd, unsigned long req, void *arg);
/* VFIO_GROUP_SET_CONTAINER. */
int tu_attach(int group_fd, int container_fd);
/* A v2 container with group @group attached (asserting); *gfd gets the group's fd. */
int tu_open_v2(int group, int *gfd);
int tu_register(int c, const void *p, uint64_t size);
int tu_unregister(int c, const void *p, uint64_t size);
int tu_map_dma(int c, const void *p, uint64_t iova, uint64_t size, uint32_t flags);
int tu_unmap_dma(int c, uint64_t iova, uint64_t size);
/* TCE_CREATE; *start (if not NULL) gets the window's bus address. */
int tu_create(int c, unsigned shift, uint64_t size, unsigned levels, uint64_t *start);
int tu_remove(int c, uint64_t start);
/* The TCE table of window @slot of container fd @c, or NULL (a peek at spapr's internals). */
struct tce_table *tu_table_of(int c, unsigned slot);
/* Hardware entry (hpa | permission bits) of absolute @entry of that window; its shadow ua in *ua. */
uint64_t tu_entry(int c, unsigned slot, uint64_t entry, uint64_t *ua);

/* The region of the calling process's mm that holds @p, or NULL. */
struct mmreg_region *tu_region_of(const void *p);

#endif
