/* SPDX-License-Identifier: MIT */
/*
 * util/errno_name.h: errno values and their names ("EBADF"), both ways.
 *
 * One table for the whole tree: the program prints and parses errno names
 * in traces (cli/), the tests print a failed expectation by name
 * (tests/testutil.c's TU_ERR), and the fuzz harness names results in the
 * traces it writes.  The names are the C macros of <errno.h> on Linux.
 * Where Linux gives two names one value (EOPNOTSUPP and ENOTSUP, EAGAIN
 * and EWOULDBLOCK, EDEADLK and EDEADLOCK), both names parse and the value
 * prints as the first.
 *
 * Not exported from the shared library: the program and the tests link
 * the static archives.
 */
#ifndef SPAPRTCE_UTIL_ERRNO_NAME_H
#define SPAPRTCE_UTIL_ERRNO_NAME_H

/* "EBADF" for EBADF (a positive errno); NULL for a value without a name. */
const char *util_errno_name(int err);
/* EBADF for "EBADF"; 0 when @name is not an errno name. */
int util_errno_by_name(const char *name);

#endif
