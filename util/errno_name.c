/* SPDX-License-Identifier: MIT */
/*
 * Errno names, both ways (util/errno_name.h).  A linear scan of one table:
 * the callers print an error or parse a trace line, never on a fast path,
 * and a table read in order is easy to keep complete.  The list is Linux's
 * <asm-generic/errno-base.h> and the <asm-generic/errno.h> values a
 * userspace VFIO or KVM path can meet; an errno missing here prints as its
 * number (the caller decides how).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "util/errno_name.h"

#define E(x) { x, #x }

static const struct {
	int err;
	const char *name;
} names[] = {
	E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG), E(ENOEXEC),
	E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES), E(EFAULT), E(ENOTBLK),
	E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV), E(ENOTDIR), E(EISDIR), E(EINVAL),
	E(ENFILE), E(EMFILE), E(ENOTTY), E(ETXTBSY), E(EFBIG), E(ENOSPC), E(ESPIPE),
	E(EROFS), E(EMLINK), E(EPIPE), E(EDOM), E(ERANGE), E(EDEADLK), E(ENAMETOOLONG),
	E(ENOLCK), E(ENOSYS), E(ENOTEMPTY), E(ELOOP), E(ENOMSG), E(EIDRM), E(ENODATA),
	E(ETIME), E(ENOLINK), E(EPROTO), E(EBADMSG), E(EOVERFLOW), E(EILSEQ),
	E(ENOTSOCK), E(EMSGSIZE), E(EOPNOTSUPP), E(EADDRINUSE), E(ENOBUFS),
	E(ETIMEDOUT), E(EALREADY), E(EINPROGRESS), E(ESTALE), E(EUCLEAN), E(EDQUOT),
	E(ECANCELED), E(EOWNERDEAD), E(ENOTRECOVERABLE), E(EHWPOISON),
	/* second names of a value above: parsed, never printed */
	E(ENOTSUP), E(EWOULDBLOCK), E(EDEADLOCK),
};

const char *util_errno_name(int err)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == err)
			return names[i].name;
	return NULL;
}

int util_errno_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i].name, name))
			return names[i].err;
	return 0;
}
