/* SPDX-License-Identifier: MIT */
/*
 * dropin/device_api.h: the device-fd calls of the library that the layer
 * uses, declared weak until spapr/spapr.h has them.
 *
 * The device fd (VFIO_GROUP_GET_DEVICE_FD through spapr_ioctl, then
 * VFIO_DEVICE_* requests through spapr_ioctl on the device's handle) needs
 * three calls besides spapr_ioctl and spapr_close:
 *   ssize_t spapr_pread(int fd, void *buf, size_t n, off_t off);
 *   ssize_t spapr_pwrite(int fd, const void *buf, size_t n, off_t off);
 *   void *spapr_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
 * with pread(2)/pwrite(2)/mmap(2) semantics on a device handle (-1 or
 * MAP_FAILED with errno).  Declared weak, a build of the library without
 * them still links and the layer answers device reads, writes and mmaps
 * with ENODEV; once spapr/spapr.h declares them this header can go (the
 * weak redeclaration below stays valid next to the real one meanwhile).
 */
#ifndef SPAPRTCE_DROPIN_DEVICE_API_H
#define SPAPRTCE_DROPIN_DEVICE_API_H

#include <sys/types.h>

ssize_t spapr_pread(int fd, void *buf, size_t n, off_t off) __attribute__((weak));
ssize_t spapr_pwrite(int fd, const void *buf, size_t n, off_t off) __attribute__((weak));
void *spapr_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) __attribute__((weak));

#endif
