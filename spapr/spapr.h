/* SPDX-License-Identifier: MIT */
/*
 * spapr/spapr.h: the public face of spapr-tce, the emulated /dev/vfio.
 *
 * Concepts
 *   container  What open("/dev/vfio/vfio") gives: a VFIO container, which
 *              becomes an sPAPR TCE IOMMU (v1, type 2, or v2, type 7) with
 *              VFIO_SET_IOMMU once a group is attached.  A v2 container
 *              holds references on preregistered regions of its process's mm
 *              (REGISTER_MEMORY), up to two DMA windows (slot 0 at bus address
 *              0, the lazily created 32-bit default window or a TCE_CREATE'd
 *              one; slot 1 at 1 << 59), and maps user memory into them
 *              (MAP_DMA) only within registered regions.
 *   group      What open("/dev/vfio/<n>") gives: an IOMMU group of the
 *              emulated machine (a partitionable endpoint of the host bridge).
 *              Every window of a container is programmed into every group
 *              attached to it; devices of the group DMA through them
 *              (emu/emu.h).
 *   mm         The process's preregistration registry and locked_vm
 *              (mmreg/): locked_vm is charged against an emulated
 *              RLIMIT_MEMLOCK unless the process has the emulated
 *              CAP_IPC_LOCK; both default to the real process's values.  A
 *              container is bound to the first process that registers
 *              memory or creates/removes a window; from any other process (a
 *              forked child included) every request but CHECK_EXTENSION
 *              fails with EPERM.
 *
 * Handles are real file descriptors of the process (they never collide
 * with its other descriptors); close them with spapr_close(), not close(2).
 * spapr_ioctl() takes the request numbers and structs of <linux/vfio.h> and
 * behaves like ioctl(2): 0 (or the documented positive value) on success,
 * -1 with errno on failure, errno as the kernel's (docs/errors.md).
 *
 * Units: locked_vm in system pages (4 KiB on x86); limits and addresses in
 * bytes.
 *
 * Threads: every call may be made from any thread.  MAP_DMA and UNMAP_DMA
 * do not take the container's mutex (as in the kernel); the other
 * container requests do.  See docs/spapr.md for the lock order.
 */
#ifndef SPAPRTCE_SPAPR_H
#define SPAPRTCE_SPAPR_H

#include <stdint.h>

/* Like open("/dev/vfio/vfio", O_RDWR): a new container fd, or -1 (ENOMEM, EMFILE). */
int spapr_open_container(void);

/*
 * Like open("/dev/vfio/<iommu_group>"): the group's fd, or -1 with ENOENT
 * (no such group on the emulated machine), EBUSY (the group is already
 * open), ENOMEM, EMFILE.
 */
int spapr_open_group(int iommu_group);

/* Like ioctl(2) on a container or group fd; EBADF for anything else. */
int spapr_ioctl(int fd, unsigned long request, ...);

/*
 * Like close(2).  The last close of a container releases it (clears every
 * TCE, frees every window, drops every region it registered, uncharges);
 * the last close of a group detaches it from its container.  EBADF for an
 * fd that is not ours.
 */
int spapr_close(int fd);

/* locked_vm of the calling process, in system pages (0 when its mm cannot be created). */
uint64_t spapr_mm_locked_vm(void);

/*
 * Sets the calling process's emulated RLIMIT_MEMLOCK (bytes; UINT64_MAX for
 * unlimited) and CAP_IPC_LOCK (0 or 1).  Applies to later charges only:
 * locked_vm is never changed.  Returns 0, or -1 with errno ENOMEM (the mm
 * could not be created) or EINVAL (cap_ipc_lock not 0 or 1).
 */
int spapr_mm_set_memlock(uint64_t limit_bytes, int cap_ipc_lock);

#endif
