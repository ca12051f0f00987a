/* SPDX-License-Identifier: MIT */
/*
 * testing/errname.c: errno names for the test-support library's messages
 * (tu_errname), through the tree's one table (util/errno_name.h): the
 * suites, the examples and users' tests print names as the program and
 * the fuzz harness do.
 */
#include <errno.h>
#include <stdio.h>

#include "include/spaprtce/testing.h"
#include "util/errno_name.h"

const char *tu_errname(long rc)
{
	static __thread char buf[32];
	long e = rc < 0 ? -rc : rc;
	const char *name;

	if (!e)
		return "0";
	name = e < 4096 ? util_errno_name((int)e) : NULL;
	if (name)
		return name;
	snprintf(buf, sizeof(buf), "%ld", rc);
	return buf;
}
