/* SPDX-License-Identifier: MIT */
/*
 * spaprtce/testing.h: the test-support library, for tests (Check suites)
 * of programs that use spapr-tce, and for spapr-tce's own suites.
 *
 * Concepts
 *   three forms  Every request helper comes three ways: tu_X(...) returns
 *                what the request returned as a layer call does (0 or a
 *                positive result, else -errno) and asserts nothing;
 *                tu_X_ok(...) asserts success; tu_X_err(ERRNO, ...) asserts
 *                that exact errno (its first argument).  The _ok and _err
 *                forms are macros, so a failure names the caller's line and
 *                call text, with errno names ("returned -22 (EINVAL)").
 *   probe        spaprtce/probe.h (included): tu_state_get(),
 *                tu_window_charge(), tu_default_window_charge() and the
 *                tu_fail_nth_*() controls, part of libspaprtce itself (they
 *                read its internals) and usable without Check; everything
 *                declared here is in libspaprtce-testing.a and uses Check.
 *   clean state  tu_assert_clean(): nothing registered, nothing charged to
 *                locked_vm, nothing pinned, no TCE table memory, and the
 *                invariant checkers pass.  A fixture's teardown calls it
 *                after closing every fd.
 *   charge       What a window costs in locked_vm (system pages), with the
 *                kernel's table-size formula (hardware table plus its
 *                shadow).  A container's default 32-bit window is charged
 *                too, when the first MAP_DMA, UNMAP_DMA, TCE_CREATE or guest
 *                attach materialises it (a TCE_REMOVE of it before that
 *                drops it uncharged): see tu_default_window_charge().
 *   sweep        tu_sweep() runs a scenario once clean, then once per
 *                failure point with that point failing (fail-nth).  The
 *                failure points exist only in the fault-injection build of
 *                the library: link libspaprtce-fi (pkg-config spaprtce-fi)
 *                instead of libspaprtce; tu_sweep() fails the test otherwise.
 *
 * Link: pkg-config --cflags --libs spaprtce-testing spaprtce (or spaprtce-fi).
 *
 * Check's fork mode (the default): each test runs in a child process, and a
 * container belongs to the process that first registered memory or created a
 * window in it.  A container set up in an unchecked fixture (run once in the
 * parent) therefore answers every request of the forked test with EPERM, as
 * the kernel does for a forked child.  Open containers in the test itself or
 * in a checked fixture (tcase_add_checked_fixture), which runs in the child.
 */
#ifndef SPAPRTCE_TESTING_H
#define SPAPRTCE_TESTING_H

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "probe.h"
#include "spapr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------- assertions (libspaprtce-testing.a) */

/* "EINVAL" for -22 or 22; "0"; the number for an errno it does not know. */
const char *tu_errname(long rc);

/* Asserts rc == 0, naming the call and the errno otherwise. */
#define TU_OK(expr)                                                                            \
	do {                                                                                   \
		long tu_rc_ = (long)(expr);                                                    \
		ck_assert_msg(tu_rc_ == 0, "%s returned %ld (%s)", #expr, tu_rc_,              \
			      tu_errname(tu_rc_));                                             \
	} while (0)

/* Asserts rc == -err (the rc forms return negative errnos). */
#define TU_ERR(expr, err)                                                                      \
	do {                                                                                   \
		long tu_rc_ = (long)(expr);                                                    \
		ck_assert_msg(tu_rc_ == -(long)(err), "%s returned %ld (%s), expected -%s",    \
			      #expr, tu_rc_, tu_errname(tu_rc_), tu_errname(-(long)(err)));    \
	} while (0)

/* Host memory, locked_vm and regions are as at the start (see clean state above). */
void tu_assert_clean(void);
/* The host-memory half alone: nothing pinned, no table memory, checker passes. */
void tu_assert_emu_clean(void);

/* ------------------------------------------- requests, three forms */

/* spapr_ioctl as a layer call: its result, or -errno. */
int tu_ioctl(int fd, unsigned long req, void *arg);

/* A container fd, or -errno. */
int tu_open_container(void);
int tu_open_container_ok(void);
#define tu_open_container_err(err) TU_ERR(tu_open_container(), err)

/* A group fd, or -errno. */
int tu_open_group(int group);
int tu_open_group_ok(int group);
#define tu_open_group_err(err, group) TU_ERR(tu_open_group(group), err)

/* spapr_close: 0 or -errno. */
int tu_close(int fd);
#define tu_close_ok(...) TU_OK(tu_close(__VA_ARGS__))
#define tu_close_err(err, ...) TU_ERR(tu_close(__VA_ARGS__), err)

/* VFIO_GROUP_SET_CONTAINER. */
int tu_attach(int group_fd, int container_fd);
#define tu_attach_ok(...) TU_OK(tu_attach(__VA_ARGS__))
#define tu_attach_err(err, ...) TU_ERR(tu_attach(__VA_ARGS__), err)

/* VFIO_SET_IOMMU with @type (VFIO_SPAPR_TCE_v2_IOMMU...). */
int tu_set_iommu(int container_fd, unsigned long type);
#define tu_set_iommu_ok(...) TU_OK(tu_set_iommu(__VA_ARGS__))
#define tu_set_iommu_err(err, ...) TU_ERR(tu_set_iommu(__VA_ARGS__), err)

/*
 * A v2 container with group @group attached: the container fd, or -errno
 * with nothing left open.  *gfd gets the group's fd.
 */
int tu_open_v2_rc(int group, int *gfd);
int tu_open_v2(int group, int *gfd);
#define tu_open_v2_ok tu_open_v2
#define tu_open_v2_err(err, group, gfd) TU_ERR(tu_open_v2_rc(group, gfd), err)

/* VFIO_IOMMU_SPAPR_REGISTER_MEMORY / UNREGISTER_MEMORY of [p, p + size). */
int tu_register(int c, const void *p, uint64_t size);
#define tu_register_ok(...) TU_OK(tu_register(__VA_ARGS__))
#define tu_register_err(err, ...) TU_ERR(tu_register(__VA_ARGS__), err)
int tu_unregister(int c, const void *p, uint64_t size);
#define tu_unregister_ok(...) TU_OK(tu_unregister(__VA_ARGS__))
#define tu_unregister_err(err, ...) TU_ERR(tu_unregister(__VA_ARGS__), err)

/* VFIO_IOMMU_MAP_DMA (@flags: VFIO_DMA_MAP_FLAG_READ | _WRITE) / UNMAP_DMA. */
int tu_map_dma(int c, const void *p, uint64_t iova, uint64_t size, uint32_t flags);
#define tu_map_dma_ok(...) TU_OK(tu_map_dma(__VA_ARGS__))
#define tu_map_dma_err(err, ...) TU_ERR(tu_map_dma(__VA_ARGS__), err)
int tu_unmap_dma(int c, uint64_t iova, uint64_t size);
#define tu_unmap_dma_ok(...) TU_OK(tu_unmap_dma(__VA_ARGS__))
#define tu_unmap_dma_err(err, ...) TU_ERR(tu_unmap_dma(__VA_ARGS__), err)

/* VFIO_IOMMU_SPAPR_TCE_CREATE; *start (if not NULL) gets the window's bus address. */
int tu_create(int c, unsigned shift, uint64_t size, unsigned levels, uint64_t *start);
#define tu_create_ok(...) TU_OK(tu_create(__VA_ARGS__))
#define tu_create_err(err, ...) TU_ERR(tu_create(__VA_ARGS__), err)
/* VFIO_IOMMU_SPAPR_TCE_REMOVE of the window at bus address @start. */
int tu_remove(int c, uint64_t start);
#define tu_remove_ok(...) TU_OK(tu_remove(__VA_ARGS__))
#define tu_remove_err(err, ...) TU_ERR(tu_remove(__VA_ARGS__), err)

/* -------------------------------------------------------------- misc */

/* Anonymous read-write memory of @npages 4 KiB pages, not yet touched (asserting). */
void *tu_map(uint64_t npages);
/* Same, at an address aligned to 2^@align_shift bytes. */
void *tu_map_aligned(uint64_t npages, unsigned align_shift);
void tu_unmap(void *p, uint64_t npages);

/* Runs @s in Check's normal mode and frees it; EXIT_SUCCESS when no test failed (a suite's main). */
int tu_run(Suite *s);

/* --------------------------------------------------------- fail-nth */

/* Most failure points a sweep visits before it fails the test. */
#define TU_SWEEP_MAX 2000

/*
 * Fail-nth sweep.  @run performs the scenario and returns 0 or a negative
 * errno (an injected failure is expected to surface as one); @check runs
 * after every run, the clean one included, and asserts that state is back
 * where it started (tu_assert_clean(), the user's own invariants).  @ctx is
 * passed to both.  Returns the number of failure points swept.  Fails the
 * test when the library is not the fault-injection build, when the clean
 * run fails, and when the sweep does not end within TU_SWEEP_MAX points.
 */
unsigned tu_sweep(int (*run)(void *ctx), void (*check)(void *ctx, int rc), void *ctx);

#ifdef __cplusplus
}
#endif

#endif
