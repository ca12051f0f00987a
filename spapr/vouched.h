/* SPDX-License-Identifier: MIT */
/*
 * spapr/vouched.h: the private mark of a request whose descriptor the caller
 * vouches for (the drop-in layer; not part of the public interface).
 *
 * Concepts
 *   vouched  A caller that routes every close, dup2 and dup3 of the process
 *            and keeps the library's descriptor open while any copy of it
 *            is knows that the number still names the handle; spapr_ioctl
 *            then skips the handle's identity check (one lseek, spapr/fd.c).
 *            The mark is a magic in the high half of the request (an ioctl
 *            number is 32 bits; the kernel ignores the rest), chosen so that
 *            no request sign-extended from an int carries it.  spapr_ioctl
 *            removes it before anything else sees the request (the observer,
 *            the tables).
 *   trusted  SPAPRTCE_HANDLES=trusted in the environment at load: a program
 *            that makes the same promise for itself (docs/processes.md) has
 *            every spapr_ioctl request vouched for, marked or not.  Only the
 *            identity check of spapr_ioctl's own descriptor is waived:
 *            spapr_close, the sweep at each open and descriptors passed as
 *            arguments (SET_CONTAINER) are checked as before.
 *
 * Errors: none.
 */
#ifndef SPAPRTCE_SPAPR_VOUCHED_H
#define SPAPRTCE_SPAPR_VOUCHED_H

#define SPAPR__IOCTL_VOUCHED_MAGIC 0x56544348ul	/* "VTCH" */
#define SPAPR__IOCTL_VOUCHED(request) ((unsigned long)(request) | (SPAPR__IOCTL_VOUCHED_MAGIC << 32))
#define SPAPR__IOCTL_IS_VOUCHED(request) (((unsigned long)(request) >> 32) == SPAPR__IOCTL_VOUCHED_MAGIC)
#define SPAPR__IOCTL_REQUEST(request) ((unsigned long)(request) & 0xfffffffful)

#include <stdbool.h>

/*
 * Test hook: what SPAPRTCE_HANDLES=trusted sets at load (every request of
 * spapr_ioctl vouched for, spapr/fd.c), switched in a running process.
 */
void spapr__fd_set_trusted(bool trusted);

#endif
