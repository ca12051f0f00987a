/* SPDX-License-Identifier: MIT */
/*
 * spapr/spapr.h: the public face of spapr-tce, the emulated /dev/vfio.
 *
 * Concepts
 *   The calling process has an mm (mmreg/): its preregistered memory and its
 *   locked_vm, charged against an emulated RLIMIT_MEMLOCK unless the process
 *   has the emulated CAP_IPC_LOCK.  Both default to the real process's values
 *   (getrlimit, the effective capability set); a forked child starts with an
 *   empty mm and inherits the parent's emulated values.
 *
 *   The VFIO container and group (spapr_open_container, spapr_open_group,
 *   spapr_ioctl, spapr_close of DESIGN.md section 3) are not implemented yet.
 *
 * Units: locked_vm in system pages (4 KiB on x86); limits in bytes.
 *
 * Errors: these functions return -1 and set errno, like system calls.
 */
#ifndef SPAPRTCE_SPAPR_H
#define SPAPRTCE_SPAPR_H

#include <stdint.h>

/* locked_vm of the calling process, in system pages (0 when it has no mm yet). */
uint64_t spapr_mm_locked_vm(void);

/*
 * Sets the calling process's emulated RLIMIT_MEMLOCK (bytes; UINT64_MAX for
 * unlimited) and CAP_IPC_LOCK (0 or 1).  Applies to later charges only:
 * locked_vm is never changed.  Returns 0, or -1 with errno ENOMEM (the mm
 * could not be created) or EINVAL (cap_ipc_lock not 0 or 1).
 */
int spapr_mm_set_memlock(uint64_t limit_bytes, int cap_ipc_lock);

#endif
