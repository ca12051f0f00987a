/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for the real kernel's VFIO, for testing the drop-in layer's
 * record mode (SPAPRTCE_REAL=1 SPAPRTCE_REAL_STANDIN=this library) on a
 * machine without VFIO: the "kernel" is the emulator itself, reached through
 * its public calls.  A trace recorded against it must replay PASS on the
 * emulator.  The interface is documented in dropin/backend.c.
 */
#include <errno.h>
#include <string.h>

#include "spapr/spapr.h"

int standin_open(const char *path, int flags);
int standin_ioctl(int fd, unsigned long request, void *arg);
int standin_close(int fd);

int standin_open(const char *path, int flags)
{
	(void)flags;
	if (!strcmp(path, "/dev/vfio/vfio"))
		return spapr_open_container();
	if (!strncmp(path, "/dev/vfio/", 10) && path[10] >= '0' && path[10] <= '9')
		return spapr_open_group(path[10] - '0');
	errno = ENOENT;
	return -1;
}

int standin_ioctl(int fd, unsigned long request, void *arg)
{
	return spapr_ioctl(fd, request, arg);
}

int standin_close(int fd)
{
	return spapr_close(fd);
}
