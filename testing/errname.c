/* SPDX-License-Identifier: MIT */
/*
 * testing/errname.c: errno names for the test-support library's messages
 * (tu_errname).  The one table of the test side: the suites, the examples
 * and users' tests all print through it.  The names are the <errno.h>
 * macro names, so a message reads like the kernel documentation.
 */
#include <errno.h>
#include <stdio.h>

#include "include/spaprtce/testing.h"

static const struct {
	int err;
	const char *name;
} names[] = {
	{ EPERM, "EPERM" },	{ ENOENT, "ENOENT" },	{ ESRCH, "ESRCH" },
	{ EINTR, "EINTR" },	{ EIO, "EIO" },		{ ENXIO, "ENXIO" },
	{ E2BIG, "E2BIG" },	{ EBADF, "EBADF" },	{ EAGAIN, "EAGAIN" },
	{ ENOMEM, "ENOMEM" },	{ EACCES, "EACCES" },	{ EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" },	{ EEXIST, "EEXIST" },	{ ENODEV, "ENODEV" },
	{ EINVAL, "EINVAL" },	{ EMFILE, "EMFILE" },	{ ENOTTY, "ENOTTY" },
	{ ENOSPC, "ENOSPC" },	{ ERANGE, "ERANGE" },	{ ENOSYS, "ENOSYS" },
	{ EOVERFLOW, "EOVERFLOW" }, { EOPNOTSUPP, "EOPNOTSUPP" }, { EUCLEAN, "EUCLEAN" },
};

const char *tu_errname(long rc)
{
	static __thread char buf[32];
	long e = rc < 0 ? -rc : rc;

	if (!e)
		return "0";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == e)
			return names[i].name;
	snprintf(buf, sizeof(buf), "%ld", rc);
	return buf;
}
