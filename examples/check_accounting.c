/* SPDX-License-Identifier: MIT */
/*
 * examples/check_accounting.c: a locked_vm accounting test suite written
 * with Check and the test-support library (<spaprtce/testing.h>), as a
 * user would write one for their own program.
 *
 * Each test opens its own container: in Check's fork mode a test runs in a
 * child process, and a container used by the parent first (an unchecked
 * fixture) would answer the child with EPERM.  Each ends with
 * tu_assert_clean(): nothing registered, charged, pinned or allocated.
 * Linked against libspaprtce-fi, so the fail-nth sweep has failure points.
 *
 *   cc $(pkg-config --cflags spaprtce-testing spaprtce-fi) check_accounting.c \
 *      $(pkg-config --libs spaprtce-testing spaprtce-fi)
 */
#include <stdlib.h>
#include <linux/vfio.h>

#include <spaprtce/testing.h>

#define PAGES 32u
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/* Registration charges its pages, once, whatever the number of containers. */
START_TEST(test_register_charges_pages)
{
	int g, c = tu_open_v2(0, &g);
	void *buf = tu_map(PAGES);

	tu_register_ok(c, buf, PAGES * 4096);
	ck_assert_uint_eq(spapr_mm_locked_vm(), PAGES);
	tu_register_err(EBUSY, c, buf, PAGES * 4096);
	ck_assert_uint_eq(spapr_mm_locked_vm(), PAGES);
	tu_unregister_ok(c, buf, PAGES * 4096);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	tu_close_ok(g);
	tu_close_ok(c);
	tu_unmap(buf, PAGES);
	tu_assert_clean();
}
END_TEST

/* A window costs its table: the default window first, then the created one. */
START_TEST(test_window_charges_its_table)
{
	int g, c = tu_open_v2(0, &g);
	uint64_t def, win, start;

	TU_OK(tu_default_window_charge(&def));
	TU_OK(tu_window_charge(12, 1ull << 32, 2, &win));
	tu_create_ok(c, 12, 1ull << 32, 2, &start);
	ck_assert_uint_eq(spapr_mm_locked_vm(), def + win);
	tu_remove_ok(c, start);
	ck_assert_uint_eq(spapr_mm_locked_vm(), def);
	tu_close_ok(g);
	tu_close_ok(c);
	tu_assert_clean();
}
END_TEST

/* Over the emulated RLIMIT_MEMLOCK a registration fails with ENOMEM, changing nothing. */
START_TEST(test_memlock_limit)
{
	int g, c = tu_open_v2(0, &g);
	void *buf = tu_map(PAGES);

	ck_assert_int_eq(spapr_mm_set_memlock((PAGES - 1) * 4096ull, 0), 0);
	tu_register_err(ENOMEM, c, buf, PAGES * 4096);
	ck_assert_uint_eq(spapr_mm_locked_vm(), 0);
	tu_register_ok(c, buf, (PAGES - 1) * 4096);
	ck_assert_uint_eq(spapr_mm_locked_vm(), PAGES - 1);
	tu_unregister_ok(c, buf, (PAGES - 1) * 4096);
	tu_close_ok(g);
	tu_close_ok(c);
	tu_unmap(buf, PAGES);
	tu_assert_clean();
}
END_TEST

/* The user's scenario for the sweep: undoes what it did when a step fails. */
struct scenario {
	void *buf;
};

static int scenario_run(void *ctx)
{
	struct scenario *s = ctx;
	int g, c = tu_open_v2_rc(0, &g), rc;

	if (c < 0)
		return c;
	rc = tu_register(c, s->buf, PAGES * 4096);
	if (rc)
		goto out_close;
	rc = tu_map_dma(c, s->buf, 0, PAGES * 4096, RW);
	if (rc)
		goto out_unregister;
	rc = tu_unmap_dma(c, 0, PAGES * 4096);
out_unregister:
	tu_unregister(c, s->buf, PAGES * 4096);
out_close:
	tu_close(g);
	tu_close(c);
	return rc;
}

/* After every run, failed or not: nothing left behind. */
static void scenario_check(void *ctx, int rc)
{
	(void)ctx;
	(void)rc;
	tu_assert_clean();
}

START_TEST(test_sweep_scenario)
{
	struct scenario s = { tu_map(PAGES) };
	unsigned points = tu_sweep(scenario_run, scenario_check, &s);

	ck_assert_uint_gt(points, 0);
	tu_unmap(s.buf, PAGES);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("accounting example");
	TCase *tc = tcase_create("locked_vm");

	tcase_add_test(tc, test_register_charges_pages);
	tcase_add_test(tc, test_window_charges_its_table);
	tcase_add_test(tc, test_memlock_limit);
	tcase_add_test(tc, test_sweep_scenario);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
