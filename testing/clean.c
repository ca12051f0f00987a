/* SPDX-License-Identifier: MIT */
/*
 * testing/clean.c: the clean-state assertions (include/spaprtce/testing.h).
 * They read the process's state through tu_state_get (testing/probe.c, in
 * the library) and name the first thing left over, so a teardown failure
 * says what leaked rather than just "not clean".
 */
#include "include/spaprtce/testing.h"

#define ASSERT_ZERO(st, field)                                                                 \
	ck_assert_msg((st).field == 0, "not clean: %s is %llu", #field,                       \
		      (unsigned long long)(st).field)

static struct tu_state state_of(void)
{
	struct tu_state st;
	int rc = tu_state_get(&st);

	ck_assert_msg(rc == 0, "tu_state_get: %s", tu_errname(rc));
	return st;
}

static void assert_emu_clean(const struct tu_state *st)
{
	ASSERT_ZERO(*st, pins);
	ASSERT_ZERO(*st, pinned_pages);
	ASSERT_ZERO(*st, pin_refs);
	ASSERT_ZERO(*st, table_blocks);
	ASSERT_ZERO(*st, unpin_underflows);
	ck_assert_msg(st->mem_check == 0, "host memory invariant checker: %s",
		      tu_errname(st->mem_check));
}

void tu_assert_emu_clean(void)
{
	struct tu_state st = state_of();

	assert_emu_clean(&st);
}

void tu_assert_clean(void)
{
	struct tu_state st = state_of();

	ASSERT_ZERO(st, regions);
	ASSERT_ZERO(st, registered_pages);
	ASSERT_ZERO(st, locked_vm);
	ck_assert_msg(st.mm_check == 0, "region invariant checker: %s", tu_errname(st.mm_check));
	assert_emu_clean(&st);
}
