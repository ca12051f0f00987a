/* SPDX-License-Identifier: MIT */
/*
 * Copies of the caller's memory that fail like copy_from_user/copy_to_user.
 *
 * Why process_vm_readv on ourselves: a request's argument pointer is
 * untrusted, exactly as an ioctl argument is for the kernel.  Dereferencing
 * a bad pointer would crash the process; the kernel returns EFAULT.
 * process_vm_readv/writev check the pages and fail with EFAULT instead.
 * Each copy is also a fault-injection point.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#include "spapr/spapr_priv.h"
#include "util/fail.h"

static int copy(void *local, void *remote, uint64_t len, bool out)
{
	struct iovec l = { local, (size_t)len }, r = { remote, (size_t)len };
	ssize_t n;

	if (!len)
		return 0;
	if (!remote || util_should_fail(out ? "spapr_copy_out" : "spapr_copy_in"))
		return -EFAULT;
	n = out ? process_vm_writev(getpid(), &l, 1, &r, 1, 0) : process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	return n == (ssize_t)len ? 0 : -EFAULT;
}

int spapr__copy_in(void *dst, const void *user, uint64_t len)
{
	return copy(dst, (void *)(uintptr_t)user, len, false);
}

int spapr__copy_out(void *user, const void *src, uint64_t len)
{
	return copy((void *)(uintptr_t)src, user, len, true);
}
