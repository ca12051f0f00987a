/* SPDX-License-Identifier: MIT */
/*
 * util/errno_name.h, the one errno-name table of the tree, both ways, and
 * its users' fallbacks: every name parses to the value that prints as it
 * (or, for a second name of one value, to that value), an unknown value
 * has no name, an unknown name no value; tu_errname (what a failed TU_ERR
 * prints) names EBADF "EBADF", not 9.
 */
#include <errno.h>
#include <string.h>

#include "tests/testutil.h"
#include "util/errno_name.h"

START_TEST(t_both_ways)
{
	static const int some[] = { EPERM, ENOENT, EBADF, ENOMEM, EFAULT, EBUSY, EINVAL, ENOTTY,
				    ENOSPC, ENXIO, E2BIG, EOVERFLOW, EOPNOTSUPP, EUCLEAN, EMFILE };
	unsigned named = 0;

	for (size_t i = 0; i < sizeof(some) / sizeof(some[0]); i++) {
		const char *n = util_errno_name(some[i]);

		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(util_errno_by_name(n), some[i]);
	}
	ck_assert_str_eq(util_errno_name(EBADF), "EBADF");
	ck_assert_str_eq(util_errno_name(EUCLEAN), "EUCLEAN");
	ck_assert_int_eq(util_errno_by_name("ENOMEM"), ENOMEM);
	/* every value 1 .. 133 with a name round-trips */
	for (int e = 1; e < 134; e++) {
		const char *n = util_errno_name(e);

		if (!n)
			continue;
		ck_assert_msg(util_errno_by_name(n) == e, "%d -> %s -> %d", e, n, util_errno_by_name(n));
		ck_assert_int_eq(n[0], 'E');
		named++;
	}
	ck_assert_uint_ge(named, 60);
}
END_TEST

START_TEST(t_aliases_and_unknowns)
{
	/* Linux gives these pairs one value: both parse, the first prints */
	ck_assert_int_eq(util_errno_by_name("ENOTSUP"), EOPNOTSUPP);
	ck_assert_str_eq(util_errno_name(ENOTSUP), "EOPNOTSUPP");
	ck_assert_int_eq(util_errno_by_name("EWOULDBLOCK"), EAGAIN);
	ck_assert_str_eq(util_errno_name(EAGAIN), "EAGAIN");
	ck_assert_ptr_null(util_errno_name(0));
	ck_assert_ptr_null(util_errno_name(-EBADF));
	ck_assert_ptr_null(util_errno_name(4095));
	ck_assert_int_eq(util_errno_by_name("EBOGUS"), 0);
	ck_assert_int_eq(util_errno_by_name("ebadf"), 0);
	ck_assert_int_eq(util_errno_by_name(""), 0);
}
END_TEST

START_TEST(t_tu_errname)
{
	ck_assert_str_eq(tu_errname(-EBADF), "EBADF");
	ck_assert_str_eq(tu_errname(EBADF), "EBADF");
	ck_assert_str_eq(tu_errname(-EACCES), "EACCES");
	ck_assert_str_eq(tu_errname(0), "0");
	ck_assert_str_eq(tu_errname(-4095), "-4095");
	ck_assert_str_eq(tu_errname(123456), "123456");
}
END_TEST

static Suite *errno_name_suite(void)
{
	Suite *s = suite_create("errno_name");
	TCase *t = tcase_create("table");

	tcase_add_test(t, t_both_ways);
	tcase_add_test(t, t_aliases_and_unknowns);
	tcase_add_test(t, t_tu_errname);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(errno_name_suite());
}
