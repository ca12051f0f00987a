// SPDX-License-Identifier: MIT
//
// tests/check_cxx.cc: the public headers from C++.  Every installed header
// is included as a C++11 program would (-pedantic, -Werror), and the program
// links against the shared library, so a missing extern "C" or a missing
// export shows as a build failure; the tests then drive a v2 container
// through the C API and the test-support library, as a C++ user would.
#include <spaprtce/emu.h>
#include <spaprtce/probe.h>
#include <spaprtce/spapr.h>
#include <spaprtce/testing.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <linux/vfio.h>

namespace {

const uint64_t kPages = 16;

// A fresh v2 container, 16 registered pages mapped at bus address 0, a
// device write and read through the emulated host bridge, then teardown:
// locked_vm is the registration plus the default window, then 0.
START_TEST(test_v2_dma_round_trip)
{
	int gfd = -1;
	int c = tu_open_v2(0, &gfd);
	char *buf = static_cast<char *>(tu_map(kPages));
	uint64_t def_pages = 0;
	char out[8] = "c++ dma";
	char in[8] = { 0 };

	TU_OK(tu_default_window_charge(&def_pages));
	ck_assert_uint_gt(def_pages, 0);
	tu_register_ok(c, buf, kPages * 4096);
	ck_assert_uint_eq(spapr_mm_locked_vm(), kPages);
	tu_map_dma_ok(c, buf, 0, kPages * 4096, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	ck_assert_uint_eq(spapr_mm_locked_vm(), kPages + def_pages);
	ck_assert_int_eq(emu_dma_write(0, 4096, out, sizeof(out)), 0);
	ck_assert_int_eq(std::memcmp(buf + 4096, out, sizeof(out)), 0);
	ck_assert_int_eq(emu_dma_read(0, 4096, in, sizeof(in)), 0);
	ck_assert_str_eq(in, "c++ dma");
	tu_unmap_dma_ok(c, 0, kPages * 4096);
	tu_unregister_ok(c, buf, kPages * 4096);
	tu_close_ok(gfd);
	tu_close_ok(c);
	tu_unmap(buf, kPages);
	tu_assert_clean();
}
END_TEST

// The errno-asserting forms and errno names work from C++ too.
START_TEST(test_errors)
{
	int gfd = -1;
	int c = tu_open_v2(0, &gfd);

	tu_open_group_err(EBUSY, 0);
	tu_remove_err(EINVAL, c, 1ull << 40);
	ck_assert_str_eq(tu_errname(-EINVAL), "EINVAL");
	ck_assert_int_eq(spapr_close(-1), -1);
	ck_assert_int_eq(errno, EBADF);
	tu_close_ok(gfd);
	tu_close_ok(c);
	tu_assert_clean();
}
END_TEST

} // namespace

int main()
{
	Suite *s = suite_create("cxx");
	TCase *tc = tcase_create("public headers from C++");

	tcase_add_test(tc, test_v2_dma_round_trip);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
